//! House rules enforced by `cargo test`, not by review: dependencies point one way, every module
//! says what it holds, and nothing that feeds a trace can read a clock, a global RNG or hash order.

use std::path::{Path, PathBuf};

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap().to_path_buf()
}

const CRATES: &[&str] = &["server", "sim-core", "autonomy-stack", "scenario-dsl"];

fn dependencies(krate: &str) -> Vec<String> {
    let text = std::fs::read_to_string(root().join(krate).join("Cargo.toml")).unwrap();
    let manifest: toml::Table = text.parse().unwrap();
    manifest.get("dependencies").and_then(|d| d.as_table()).map(|t| t.keys().cloned().collect()).unwrap_or_default()
}

#[test]
fn dependencies_point_one_way() {
    // server -> sim-core -> {scenario-dsl, autonomy-stack}; the two leaves know nothing of each other.
    let allowed: &[(&str, &[&str])] = &[
        ("server", &["sim-core", "scenario-dsl", "autonomy-stack"]),
        ("sim-core", &["scenario-dsl", "autonomy-stack"]),
        ("scenario-dsl", &[]),
        ("autonomy-stack", &[]),
    ];
    for (krate, ok) in allowed {
        for dep in dependencies(krate).iter().filter(|d| CRATES.contains(&d.as_str())) {
            assert!(ok.contains(&dep.as_str()), "{krate} must not depend on {dep}");
        }
    }
    // Only the server knows about the network, the database, async and metrics.
    let server_only = ["tokio", "axum", "sqlx", "hyper", "tower", "tower-http", "reqwest", "prometheus"];
    for krate in ["sim-core", "autonomy-stack", "scenario-dsl"] {
        for dep in dependencies(krate) {
            assert!(!server_only.contains(&dep.as_str()), "{krate} must not depend on {dep}: only server does I/O");
        }
    }
    // The system under test never sees the simulator's physics or the scenario language.
    for dep in dependencies("autonomy-stack") {
        assert!(
            !["rapier3d", "nalgebra-rapier", "serde_yaml", "yaml-rust2"].contains(&dep.as_str()),
            "autonomy-stack must not depend on {dep}"
        );
    }
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else { return };
    for e in entries {
        let p = e.unwrap().path();
        if p.is_dir() {
            rust_files(&p, out);
        } else if p.extension().is_some_and(|x| x == "rs") {
            out.push(p);
        }
    }
}

#[test]
fn every_module_opens_with_a_doc_comment() {
    let mut files = Vec::new();
    for krate in CRATES {
        rust_files(&root().join(krate).join("src"), &mut files);
    }
    assert!(files.len() > 10);
    let undocumented: Vec<_> = files
        .iter()
        .filter(|f| !std::fs::read_to_string(f).unwrap().trim_start().starts_with("//!"))
        .map(|f| f.strip_prefix(root()).unwrap().display().to_string())
        .collect();
    assert!(undocumented.is_empty(), "modules without a `//!` line saying what they hold: {undocumented:?}");
}

/// Every `needle` found in the code (not the comments) of the library crates' sources, as
/// `file:line: label`.
fn find_in_library_code(needles: &[(String, String)]) -> Vec<String> {
    let mut files = Vec::new();
    for krate in ["sim-core", "autonomy-stack", "scenario-dsl"] {
        rust_files(&root().join(krate).join("src"), &mut files);
    }
    let mut hits = Vec::new();
    for f in &files {
        let text = std::fs::read_to_string(f).unwrap();
        for (n, line) in text.lines().enumerate() {
            let code = line.split("//").next().unwrap_or_default();
            for (_, label) in needles.iter().filter(|(needle, _)| code.contains(needle.as_str())) {
                hits.push(format!("{}:{}: {label}", f.strip_prefix(root()).unwrap().display(), n + 1));
            }
        }
    }
    hits
}

#[test]
fn nothing_nondeterministic_in_the_simulation_or_the_stack() {
    let banned = ["HashMap", "HashSet", "Instant::now", "SystemTime", "thread_rng", "rand::random", "println!"];
    let hits = find_in_library_code(&banned.map(|b| (b.to_owned(), b.to_owned())));
    assert!(hits.is_empty(), "wall clock, global RNG, hash order or printing in library code:\n{}", hits.join("\n"));
}

#[test]
fn transcendental_maths_goes_through_libm() {
    // std's sin, cos, exp, powi... may differ across targets and compiler versions; libm's are the
    // same bits everywhere, which a digest that must match on every machine needs. sqrt, abs, min,
    // max and the basic operators are exact IEEE operations and fine.
    let methods = [
        "sin", "cos", "tan", "asin", "acos", "atan", "atan2", "exp", "exp_m1", "ln", "ln_1p", "log", "log2", "log10",
        "powf", "powi", "hypot", "cbrt", "sinh", "cosh", "tanh", "sin_cos",
    ];
    let hits = find_in_library_code(&methods.map(|m| (format!(".{m}("), format!(".{m}() (use libm::{m})"))));
    assert!(hits.is_empty(), "{}", hits.join("\n"));
}

/// The layers of the server crate, lowest first, and what each folder may not name: a lower layer
/// never imports a higher one, and only the layers that need them see the async runtime, the
/// database, HTTP or the file system.
#[test]
fn server_layers_import_only_downwards() {
    let layers: &[(&str, &[&str])] = &[
        (
            "domain",
            &[
                "crate::infra",
                "crate::usecases",
                "crate::api",
                "crate::cli",
                "tokio",
                "sqlx",
                "axum",
                "prometheus",
                "std::fs",
                "std::net",
                "std::env",
                "Instant::now",
                "SystemTime",
            ],
        ),
        ("infra", &["crate::usecases", "crate::api", "crate::cli", "axum"]),
        ("usecases", &["crate::api", "crate::cli", "axum", "sqlx::"]),
        ("api", &["crate::cli", "sqlx::"]),
        // The web UI is a transport like the API: it reads through use cases, never the store.
        ("ui", &["crate::cli", "crate::infra", "sqlx::"]),
    ];
    let src = root().join("server/src");
    let mut hits = Vec::new();
    for (folder, banned) in layers {
        let mut files = Vec::new();
        rust_files(&src.join(folder), &mut files);
        assert!(!files.is_empty(), "server/src/{folder} is gone: update this test and ARCHITECTURE.md");
        for f in &files {
            let text = std::fs::read_to_string(f).unwrap();
            for (n, line) in text.lines().enumerate() {
                let code = line.split("//").next().unwrap_or_default();
                for b in banned.iter().filter(|b| code.contains(**b)) {
                    hits.push(format!(
                        "{}:{}: `{b}` in the {folder} layer",
                        f.strip_prefix(root()).unwrap().display(),
                        n + 1
                    ));
                }
            }
        }
    }
    assert!(hits.is_empty(), "layering broken (domain < infra < usecases < api/ui/cli):\n{}", hits.join("\n"));
    // Every module of the crate lives in a layer's folder: nothing flat beside them.
    let top: Vec<String> = std::fs::read_dir(&src)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| !["lib.rs", "main.rs", "domain", "infra", "usecases", "api", "ui", "cli"].contains(&n.as_str()))
        .collect();
    assert!(top.is_empty(), "modules outside the layers' folders: {top:?}");
}

#[test]
fn the_stored_result_is_parsed_in_one_place() {
    // Every consumer reads the typed `Run`; the store decodes a row once (`RawRun::decode`).
    let mut files = Vec::new();
    rust_files(&root().join("server/src"), &mut files);
    let parsers: Vec<String> = files
        .iter()
        .filter(|f| {
            let text = std::fs::read_to_string(f).unwrap();
            text.contains("from_json(\"runs.result\"") || text.contains("from_str::<RunRecord>")
        })
        .map(|f| f.strip_prefix(root()).unwrap().display().to_string())
        .collect();
    assert_eq!(parsers, ["server/src/infra/store/runs.rs"], "the stored result is parsed outside the store");
}

/// The server's integration tests are modules of one test binary (`server/tests/it`, ADR 0018):
/// each binary of its own links the whole server again, which on two cores costs CI about ten
/// seconds of CPU a file. A module file that `main.rs` does not name would never compile or run.
#[test]
fn server_integration_tests_are_modules_of_one_binary() {
    let tests = root().join("server/tests");
    let names = |dir: &Path| -> Vec<String> {
        let mut names: Vec<String> = std::fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().path())
            .filter(|p| p.extension().is_some_and(|x| x == "rs"))
            .map(|p| p.file_stem().unwrap().to_string_lossy().into_owned())
            .collect();
        names.sort();
        names
    };
    let binaries = names(&tests);
    assert!(
        binaries.is_empty(),
        "server/tests/{{{}}}.rs: each is a test binary of its own; move it to server/tests/it/, add `mod NAME;` to \
         server/tests/it/main.rs, and write `use crate::common;` for `mod common;` (drop it where only \
         `on_both_databases!` uses it)",
        binaries.join(",")
    );
    let main = std::fs::read_to_string(tests.join("it/main.rs")).unwrap();
    let unnamed: Vec<String> = names(&tests.join("it"))
        .into_iter()
        .filter(|n| n != "main" && !main.lines().any(|l| l.trim() == format!("mod {n};")))
        .collect();
    assert!(unnamed.is_empty(), "server/tests/it/main.rs does not name these modules, so they never run: {unnamed:?}");
}
