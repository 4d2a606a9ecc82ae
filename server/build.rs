//! Build script: rebuild when migrations change (`sqlx::migrate!` embeds them), and record the git
//! commit the binary is built from as `FARM_GIT_SHA` (provenance, `farm --version`, `/healthz`).
//! An image build without `.git` passes it as an environment variable.

use std::process::Command;

fn main() {
    println!("cargo:rerun-if-changed=../migrations");
    println!("cargo:rerun-if-env-changed=FARM_GIT_SHA");
    let sha = std::env::var("FARM_GIT_SHA").ok().filter(|s| !s.trim().is_empty()).or_else(|| {
        let out = Command::new("git").args(["rev-parse", "HEAD"]).output().ok()?;
        let sha = String::from_utf8(out.stdout).ok()?.trim().to_owned();
        (out.status.success() && !sha.is_empty()).then_some(sha)
    });
    // Rebuild when HEAD moves, so the recorded commit stays true (HEAD lives in the worktree's git
    // dir, branch refs in the common one).
    for (flag, names) in [("--git-dir", &["HEAD"][..]), ("--git-common-dir", &["refs/heads", "packed-refs"][..])] {
        let Ok(out) = Command::new("git").args(["rev-parse", flag]).output() else { continue };
        let dir = String::from_utf8_lossy(&out.stdout).trim().to_owned();
        if !out.status.success() || dir.is_empty() {
            continue;
        }
        for name in names {
            let path = std::path::Path::new(&dir).join(name);
            if path.exists() {
                println!("cargo:rerun-if-changed={}", path.display());
            }
        }
    }
    let sha = sha.unwrap_or_else(|| {
        println!("cargo:warning=no FARM_GIT_SHA and no git checkout: provenance will say `unknown`");
        "unknown".to_owned()
    });
    println!("cargo:rustc-env=FARM_GIT_SHA={sha}");
}
