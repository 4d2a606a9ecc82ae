//! Build script: list the migrations the binary embeds (`$OUT_DIR/migrations.rs`, see
//! `infra::store::migrations`), and record the git commit the binary is built from as
//! `FARM_GIT_SHA` (provenance, `farm --version`, `/healthz`). An image build without `.git`
//! passes it as an environment variable.

use std::process::Command;

fn main() {
    println!("cargo:rerun-if-changed=../migrations");
    embed_migrations();
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

/// Writes one `(version, description, sql)` table per dialect, with the SQL `include_str!`'d, so
/// the binary carries its migrations without sqlx's `migrate!` macro (whose proc-macro pulls a
/// second build of sqlx's drivers and tokio onto the host; ADR 0032). Names follow sqlx's rule:
/// `<version>_<description>.sql`; anything else in the folder is a build error, not skipped.
fn embed_migrations() {
    let manifest =
        std::path::PathBuf::from(std::env::var("CARGO_MANIFEST_DIR").expect("cargo sets CARGO_MANIFEST_DIR"));
    let mut out = String::new();
    for dialect in ["sqlite", "postgres"] {
        let dir = manifest.join("..").join("migrations").join(dialect);
        println!("cargo:rerun-if-changed={}", dir.display());
        let mut files: Vec<_> = std::fs::read_dir(&dir)
            .unwrap_or_else(|e| panic!("cannot read {}: {e}", dir.display()))
            .map(|entry| entry.expect("readable directory entry").path())
            .collect();
        files.sort();
        out.push_str(&format!("pub(super) const {}: &[(i64, &str, &str)] = &[\n", dialect.to_uppercase()));
        for path in files {
            let name = path.file_name().and_then(|n| n.to_str()).unwrap_or_default().to_owned();
            let (version, rest) =
                name.split_once('_').unwrap_or_else(|| panic!("{name}: expected <version>_<description>.sql"));
            let version: i64 =
                version.parse().unwrap_or_else(|_| panic!("{name}: the version prefix is not an integer"));
            let description =
                rest.strip_suffix(".sql").unwrap_or_else(|| panic!("{name}: expected a .sql file")).replace('_', " ");
            let path = path.canonicalize().expect("migration path");
            out.push_str(&format!(
                "    ({version}, {description:?}, include_str!({:?})),\n",
                path.display().to_string()
            ));
        }
        out.push_str("];\n");
    }
    let dest = std::path::PathBuf::from(std::env::var("OUT_DIR").expect("cargo sets OUT_DIR")).join("migrations.rs");
    std::fs::write(&dest, out).unwrap_or_else(|e| panic!("cannot write {}: {e}", dest.display()));
}
