//! The OpenAPI document and the server agree: schemathesis (PyPI) generates requests from
//! `/openapi.json` against a farm this test starts, and every response must conform (status,
//! content type, headers, body schema, problem documents), no request may get a 5xx, and requests
//! that violate the schema must be refused. Positive-data acceptance is left out: whether a
//! schema-valid suite is runnable depends on the loaded catalog (an unknown tag is a 422).

use std::process::{Command, Stdio};

use crate::common;

use common::root;

#[test]
fn schemathesis_finds_no_mismatch_between_the_document_and_the_server() {
    let version = Command::new("schemathesis").arg("--version").output();
    assert!(
        version.as_ref().is_ok_and(|o| o.status.success()),
        "schemathesis is not installed: `python3 -m pip install schemathesis` (.ci/run does it)"
    );
    let dir = tempfile::tempdir().unwrap();
    let catalog = dir.path().join("catalog");
    std::fs::create_dir(&catalog).unwrap();
    for f in ["minimal.yaml", "sweep.yaml"] {
        std::fs::copy(root().join("scenario-dsl/tests/fixtures/valid").join(f), catalog.join(f)).unwrap();
    }
    let db = format!("sqlite://{}", dir.path().join("farm.db").display());
    let token = Command::new(env!("CARGO_BIN_EXE_farm"))
        .args(["token", "create", "--role", "admin", "--database-url", &db])
        .output()
        .unwrap();
    assert!(token.status.success(), "{}", String::from_utf8_lossy(&token.stderr));
    let token = String::from_utf8(token.stdout).unwrap().trim().to_owned();
    let key = dir.path().join("key");
    let (_serve, addr) = common::farm_serve(
        &[
            "--database-url",
            &db,
            "--workers",
            "0",
            "--catalog",
            catalog.to_str().unwrap(),
            "--signing-key",
            key.to_str().unwrap(),
        ],
        Stdio::inherit(),
    );
    let out = Command::new("schemathesis")
        .args(["run", &format!("{addr}/openapi.json")])
        .args(["-H", &format!("Authorization: Bearer {token}")])
        .args(["--checks", "all", "--exclude-checks", "positive_data_acceptance"])
        .args(["--max-examples", "15", "--generation-deterministic", "--no-color"])
        .current_dir(dir.path())
        .output()
        .unwrap();
    let report = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "schemathesis found mismatches:\n{report}\n{}", String::from_utf8_lossy(&out.stderr));
    assert!(report.contains("passed"), "{report}");
}
