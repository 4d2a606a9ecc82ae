//! Data-driven diagnostics tests: every file in `fixtures/invalid/` is parsed and its rendered
//! diagnostics must equal the `.expected` file beside it. Run with `BLESS=1` to re-mint them after an
//! intended change, then review the diff.

use std::path::Path;

fn render_all(name: &str, text: &str) -> String {
    let parsed = scenario_dsl::parse(name, text);
    parsed.diagnostics.iter().map(|d| d.render(Some(text))).collect::<Vec<_>>().join("\n")
}

#[test]
fn invalid_fixtures_render_their_expected_diagnostics() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/invalid");
    let bless = std::env::var_os("BLESS").is_some();
    let mut paths: Vec<_> = std::fs::read_dir(&dir).unwrap().map(|e| e.unwrap().path()).collect();
    paths.sort();
    let mut failures = Vec::new();
    let mut checked = 0;
    for path in paths.iter().filter(|p| p.extension().is_some_and(|e| e == "yaml")) {
        let name = path.file_name().unwrap().to_str().unwrap();
        let text = std::fs::read_to_string(path).unwrap();
        let parsed = scenario_dsl::parse(name, &text);
        assert!(parsed.scenario.is_none(), "{name} should be rejected");
        assert!(parsed.diagnostics.iter().any(|d| d.is_error()), "{name} should have an error");
        let actual = render_all(name, &text);
        let expected_path = path.with_extension("expected");
        if bless {
            std::fs::write(&expected_path, &actual).unwrap();
        } else {
            let expected = std::fs::read_to_string(&expected_path).unwrap_or_default();
            if expected != actual {
                failures.push(format!("--- {name}: expected\n{expected}\n--- actual\n{actual}"));
            }
        }
        checked += 1;
    }
    assert!(checked >= 19, "only {checked} fixtures found");
    assert!(
        failures.is_empty(),
        "{}\n(re-mint with BLESS=1 cargo test -p scenario-dsl --test diagnostics)",
        failures.join("\n")
    );
}

#[test]
fn valid_fixtures_have_no_diagnostics() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/valid");
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        let text = std::fs::read_to_string(&path).unwrap();
        let parsed = scenario_dsl::parse("f.yaml", &text);
        assert_eq!(render_all("f.yaml", &text), "", "{}", path.display());
        assert!(parsed.scenario.is_some());
    }
}

#[test]
fn every_diagnostic_names_file_line_and_column_in_json() {
    let text = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/invalid/unknown_field.yaml"),
    )
    .unwrap();
    let parsed = scenario_dsl::parse("catalog/x.yaml", &text);
    let json = serde_json::to_value(&parsed.diagnostics).unwrap();
    assert_eq!(
        json,
        serde_json::json!([{
            "file": "catalog/x.yaml", "line": 13, "column": 3, "code": "E0101", "severity": "error",
            "message": "unknown field `sped`", "help": "did you mean `speed`?"
        }])
    );
}

#[test]
fn a_traffic_block_and_a_reactive_actor_with_swept_numbers_are_valid() {
    // Kept out of `fixtures/valid/`, which the server's tests load as a catalog of known size.
    let text = std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/traffic_valid.yaml")).unwrap();
    let parsed = scenario_dsl::parse("f.yaml", &text);
    assert_eq!(render_all("f.yaml", &text), "");
    let variants = parsed.scenario.unwrap().variants().to_vec();
    let densities: Vec<f64> = variants.iter().map(|v| v.scenario.traffic.as_ref().unwrap().density).collect();
    assert_eq!(densities, [5.0, 20.0]);
    assert!(variants[0].scenario.actors[0].drive.is_some());
}

#[test]
fn mistakes_in_a_traffic_block_name_their_line_and_column() {
    let text = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/invalid/traffic_unknown_field.yaml"),
    )
    .unwrap();
    let parsed = scenario_dsl::parse("catalog/x.yaml", &text);
    let found: Vec<(u32, u32, &str, Option<&str>)> =
        parsed.diagnostics.iter().map(|d| (d.line, d.column, d.message.as_str(), d.help.as_deref())).collect();
    assert_eq!(
        found,
        vec![
            (18, 27, "unknown field `politness`", Some("did you mean `politeness`?")),
            (19, 3, "unknown field `truck_shar`", Some("did you mean `truck_share`?")),
        ]
    );
}

#[test]
fn every_code_the_tool_prints_is_documented_with_its_name_and_no_other() {
    let doc =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("../docs/scenario-language.md")).unwrap();
    let documented: Vec<(String, String)> = doc
        .lines()
        .filter_map(|l| {
            let cells: Vec<&str> = l.split('|').map(str::trim).collect();
            let code = cells.get(1)?;
            let is_code = code.len() == 5 && (code.starts_with('E') || code.starts_with('W'));
            is_code.then(|| (code.to_string(), cells[2].to_string()))
        })
        .collect();
    let actual: Vec<(String, String)> =
        scenario_dsl::Code::ALL.iter().map(|c| (c.as_str().to_owned(), c.name().to_owned())).collect();
    assert_eq!(documented, actual, "docs/scenario-language.md's table of diagnostics and `Code` disagree");
}

#[test]
fn all_decoding_mistakes_of_a_file_come_in_one_pass_with_their_lines() {
    let text = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/invalid/many_mistakes.yaml"),
    )
    .unwrap();
    let parsed = scenario_dsl::parse("many.yaml", &text);
    let found: Vec<(u32, &str)> = parsed.diagnostics.iter().map(|d| (d.line, d.code.as_str())).collect();
    assert_eq!(
        found,
        [
            (9, "E0101"),
            (11, "E0101"),
            (14, "E0101"),
            (18, "E0104"),
            (24, "E0104"),
            (26, "E0104"),
            (28, "E0104"),
            (29, "E0102")
        ]
    );
}

/// Every test-protocol form in one file (kept apart from `valid/`, whose size other suites count).
#[test]
fn the_protocol_forms_fixture_is_valid_and_expands() {
    let text =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/forms/protocol.yaml"))
            .unwrap();
    let parsed = scenario_dsl::parse("protocol.yaml", &text);
    assert_eq!(render_all("protocol.yaml", &text), "");
    let variants = parsed.scenario.unwrap().variants().to_vec();
    assert_eq!(variants.len(), 2);
    // `${min(v, 10)}` and `${v <= 10}` evaluated per variant.
    let lead_speed: Vec<f64> = variants.iter().map(|v| v.scenario.actors[0].speed).collect();
    assert_eq!(lead_speed, [8.3, 10.0]);
    let avoid: Vec<f64> = variants.iter().map(|v| v.scenario.expected.as_ref().unwrap().avoid).collect();
    assert_eq!(avoid, [1.0, 0.0]);
}
