//! House rules enforced under `cargo test`: every source file opens with a `//!` doc, and nothing in
//! `src/` reaches for non-determinism (hash maps, wall clocks, thread RNG) or `.unwrap()`.

use std::fs;
use std::path::{Path, PathBuf};

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let mut entries: Vec<_> = fs::read_dir(dir).unwrap().map(|e| e.unwrap().path()).collect();
    entries.sort();
    for p in entries {
        if p.is_dir() {
            rust_files(&p, out);
        } else if p.extension().is_some_and(|e| e == "rs") {
            out.push(p);
        }
    }
}

#[test]
fn every_file_opens_with_a_module_doc() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut files = Vec::new();
    for dir in ["src", "tests", "benches", "examples"] {
        if root.join(dir).is_dir() {
            rust_files(&root.join(dir), &mut files);
        }
    }
    assert!(files.len() > 10);
    for f in files {
        let text = fs::read_to_string(&f).unwrap();
        assert!(text.starts_with("//!"), "{} does not open with a `//!` doc line", f.display());
    }
}

#[test]
fn src_stays_deterministic_and_panic_free() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut files = Vec::new();
    rust_files(&root.join("src"), &mut files);
    let banned = ["HashMap", "HashSet", "Instant", "SystemTime", "thread_rng", "rand::"];
    for f in files {
        let text = fs::read_to_string(&f).unwrap();
        // Only the code before the unit tests is held to the rules.
        let code = text.split("#[cfg(test)]").next().unwrap_or("");
        for word in banned {
            assert!(!code.contains(word), "{} uses `{word}`", f.display());
        }
        assert!(!code.contains(".unwrap()"), "{} unwraps outside tests", f.display());
        for method in [".sin()", ".cos()", ".atan2(", ".exp()", ".tan()", ".hypot("] {
            assert!(!code.contains(method), "{} uses std's `{method}`: use libm", f.display());
        }
    }
}
