//! The `farm lint`, `farm variants` and `farm schema` commands as a user runs them: exit codes,
//! compiler-style output, JSON reports, and the committed catalog and schema.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap().to_path_buf()
}

fn farm(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_farm")).args(args).current_dir(root()).output().unwrap()
}

fn stdout(o: &Output) -> String {
    String::from_utf8(o.stdout.clone()).unwrap()
}

fn fixtures() -> &'static str {
    "scenario-dsl/tests/fixtures"
}

#[test]
fn lint_prints_compiler_style_errors_and_fails() {
    let file = format!("{}/invalid/unknown_actor.yaml", fixtures());
    let out = farm(&["lint", &file]);
    assert_eq!(out.status.code(), Some(1));
    let text = stdout(&out);
    assert!(
        text.contains(&format!(
            "error[E0302]: trigger refers to unknown actor `laed`\n  --> {file}:22:41\n   |\n22 |       - when: {{ actor_reached: {{ actor: laed, s: 100 }} }}\n   |                                         ^\n  = help: did you mean `lead`?\n"
        )),
        "{text}"
    );
    assert!(text.ends_with("0 scenarios valid, 0 variants; 1 error, 0 warnings\n"), "{text}");
}

#[test]
fn lint_json_lists_every_diagnostic_with_its_position() {
    let out = farm(&["lint", "--json", &format!("{}/invalid", fixtures()), &format!("{}/valid", fixtures())]);
    assert_eq!(out.status.code(), Some(1));
    let report: serde_json::Value = serde_json::from_str(&stdout(&out)).unwrap();
    assert_eq!(report["scenarios"], 2, "the two valid fixtures");
    assert_eq!(report["variants"], 73);
    let diags = report["diagnostics"].as_array().unwrap();
    assert!(diags.len() >= 20);
    for d in diags {
        for field in ["file", "line", "column", "code", "severity", "message"] {
            assert!(!d[field].is_null(), "{field} missing in {d}");
        }
    }
    let wrong_sign = diags.iter().find(|d| d["file"].as_str().unwrap().ends_with("wrong_sign.yaml")).unwrap();
    assert_eq!((wrong_sign["line"].as_u64(), wrong_sign["column"].as_u64()), (Some(21), Some(31)));
    assert_eq!(wrong_sign["code"], "E0304");
}

#[test]
fn lint_accepts_a_clean_file_and_reports_counts() {
    let out = farm(&["lint", &format!("{}/valid/sweep.yaml", fixtures())]);
    assert_eq!(out.status.code(), Some(0));
    assert_eq!(stdout(&out), "1 scenario valid, 72 variants; 0 errors, 0 warnings\n");
}

#[test]
fn the_catalog_is_clean_large_and_has_a_smoke_set() {
    let out = farm(&["lint", "--json", "catalog"]);
    let report: serde_json::Value = serde_json::from_str(&stdout(&out)).unwrap();
    assert_eq!(report["diagnostics"], serde_json::json!([]), "farm lint catalog/ must be clean");
    assert_eq!(out.status.code(), Some(0));
    assert!(report["scenarios"].as_u64().unwrap() >= 30, "{report}");
    assert!(report["variants"].as_u64().unwrap() >= 2000, "{report}");

    let mut files = Vec::new();
    let mut smoke = 0;
    let mut domains = std::collections::BTreeSet::new();
    collect_yaml(&root().join("catalog"), &mut files);
    for f in &files {
        let text = std::fs::read_to_string(f).unwrap();
        let rel = f.strip_prefix(root().join("catalog")).unwrap();
        let depth = rel.components().count() - 1;
        let schema_line = format!("# yaml-language-server: $schema={}schema/scenario.schema.json", "../".repeat(depth));
        assert!(text.starts_with(&schema_line), "{} must start with `{schema_line}`", f.display());
        let parsed = scenario_dsl::parse("f.yaml", &text).scenario.unwrap();
        let meta = &parsed.template().metadata;
        smoke += usize::from(meta.tags.iter().any(|t| t == "smoke"));
        domains.insert(meta.domain);
        assert!(meta.description.split_whitespace().count() >= 15, "{}: say what it tests and why", f.display());
    }
    assert!((8..=14).contains(&smoke), "about 10 smoke scenarios, found {smoke}");
    assert_eq!(domains.len(), 3);
}

fn collect_yaml(dir: &Path, out: &mut Vec<PathBuf>) {
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        let name = p.file_name().unwrap().to_str().unwrap().to_owned();
        if p.is_dir() && name != "stacks" && name != "schema" {
            collect_yaml(&p, out);
        } else if name.ends_with(".yaml")
            && name != "odd.yaml"
            && name != "gate.yaml"
            && name != "known_failures.yaml"
            && p.parent().unwrap() != dir.join("stacks")
        {
            out.push(p);
        }
    }
}

#[test]
fn variants_json_gives_key_params_seed_and_coverage_cell() {
    let out = farm(&["variants", "--json", "catalog/highway/cut_in.yaml"]);
    assert_eq!(out.status.code(), Some(0));
    let rows: Vec<serde_json::Value> = serde_json::from_str(&stdout(&out)).unwrap();
    assert_eq!(rows.len(), 24);
    let first = &rows[0];
    assert_eq!(first["scenario"], "highway.cut_in");
    assert_eq!(first["index"], 0);
    assert_eq!(first["key"].as_str().unwrap().len(), 32);
    assert_eq!(first["params"]["cut_gap"], 8.0);
    assert_eq!(first["cell"]["domain"], "highway");
    assert_eq!(first["cell"]["ego_speed"], "[15, 25)");
    assert!(first["seed"].is_u64());
}

#[test]
fn the_junction_a_map_route_passes_is_read_from_the_map_and_one_outside_the_bins_is_named() {
    // Fabriksgatan's junction 4, where roads 0-3 meet: the right turn passes a crossroads.
    let out = farm(&["variants", "--json", "catalog/junctions/route_right_turn.yaml"]);
    assert_eq!(out.status.code(), Some(0));
    let rows: Vec<serde_json::Value> = serde_json::from_str(&stdout(&out)).unwrap();
    assert!(rows.iter().all(|r| r["cell"]["junction"] == "crossroads"), "{rows:?}");
    let out = farm(&["variants", "--json", "catalog/highway/cut_in.yaml"]);
    let rows: Vec<serde_json::Value> = serde_json::from_str(&stdout(&out)).unwrap();
    assert!(rows.iter().all(|r| r["cell"]["junction"] == "none"), "{rows:?}");

    // An ODD without a crossroads bin: lint names the first variant and points at the route.
    let dir = tempfile::tempdir().unwrap();
    let odd = std::fs::read_to_string(root().join("catalog/odd.yaml")).unwrap();
    let narrow = odd.replace("bins: [none, t_junction, crossroads, complex]", "bins: [none, t_junction, complex]");
    let narrow: String =
        narrow.lines().filter(|l| !l.contains("junction: crossroads")).map(|l| format!("{l}\n")).collect();
    let odd_path = dir.path().join("odd.yaml");
    std::fs::write(&odd_path, narrow).unwrap();
    let file = "catalog/junctions/route_right_turn.yaml";
    let out = farm(&["lint", "--odd", odd_path.to_str().unwrap(), file]);
    assert_eq!(out.status.code(), Some(1));
    let text = stdout(&out);
    let first = &rows_of(file)[0];
    assert!(
        text.contains(&format!(
            "error[E0309]: variant {} has junction = crossroads, outside every bin of the ODD\n  --> {file}:24:7\n",
            first["key"].as_str().unwrap()
        )),
        "{text}"
    );
}

/// `farm variants --json FILE`'s rows.
fn rows_of(file: &str) -> Vec<serde_json::Value> {
    serde_json::from_str(&stdout(&farm(&["variants", "--json", file]))).unwrap()
}

#[test]
fn variants_refuses_an_invalid_scenario() {
    let out = farm(&["variants", &format!("{}/invalid/wrong_sign.yaml", fixtures())]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("error[E0304]"));
}

#[test]
fn the_committed_schemas_match_the_generated_ones() {
    for (args, file) in [
        (vec!["schema"], "catalog/schema/scenario.schema.json"),
        (vec!["schema", "--odd"], "catalog/schema/odd.schema.json"),
    ] {
        let generated = stdout(&farm(&args));
        let committed = std::fs::read_to_string(root().join(file)).unwrap();
        assert!(
            generated == committed,
            "{file} is stale: run `cargo run -p server -- {} --out {file}`",
            args.join(" ")
        );
    }
}

/// The external validator editors and CI use (`pip install check-jsonschema`; `.ci/run` installs it).
fn check_jsonschema(schema: &str, files: &[PathBuf]) -> Output {
    Command::new("check-jsonschema")
        .arg("--schemafile")
        .arg(schema)
        .args(files)
        .current_dir(root())
        .output()
        .expect("check-jsonschema is not installed: `pip install check-jsonschema` (see README)")
}

#[test]
fn the_catalog_validates_against_the_committed_schema_with_an_external_validator() {
    let mut files = Vec::new();
    collect_yaml(&root().join("catalog"), &mut files);
    files.push(root().join(fixtures()).join("valid/sweep.yaml"));
    let out = check_jsonschema("catalog/schema/scenario.schema.json", &files);
    assert!(out.status.success(), "{}{}", stdout(&out), String::from_utf8_lossy(&out.stderr));
    let out = check_jsonschema("catalog/schema/odd.schema.json", &[root().join("catalog/odd.yaml")]);
    assert!(out.status.success(), "{}", stdout(&out));
    // The schema is as strict as the parser: a misspelt field fails there too.
    let out = check_jsonschema(
        "catalog/schema/scenario.schema.json",
        &[root().join(fixtures()).join("invalid/unknown_field.yaml")],
    );
    assert!(!out.status.success());
    assert!(stdout(&out).contains("'sped' was unexpected"), "{}", stdout(&out));
}

#[test]
fn lint_names_the_map_file_a_scenario_cannot_use() {
    let dir = tempfile::tempdir().unwrap();
    let scenario = |map: &str| {
        format!(
            "version: 1
metadata: {{ id: t.{id}, title: t, description: d, owner: qa, domain: urban, severity: major }}
world:
  map:
    file: {map}
    route: [{{ road: \"2\", lane: -1, s: 240 }}, {{ road: \"3\", lane: 1, s: 60 }}]
    speed_limit: 11
ego: {{ start: {{ lane: 0, s: 0 }}, speed: 5, goal: {{ distance: 50 }} }}
criteria: [{{ no_collision: {{}} }}]
duration: 20
",
            id = map.replace(['.', '/'], "_")
        )
    };
    std::fs::write(dir.path().join("missing.yaml"), scenario("maps/missing.xodr")).unwrap();
    std::fs::write(dir.path().join("broken.yaml"), scenario("broken.xodr")).unwrap();
    std::fs::write(dir.path().join("broken.xodr"), "<OpenDRIVE><road id=").unwrap();
    std::fs::write(
        dir.path().join("real.yaml"),
        scenario(&root().join("catalog/maps/fabriksgatan.xodr").display().to_string()),
    )
    .unwrap();
    let d = dir.path().display().to_string();
    let out = farm(&["lint", &d]);
    assert_eq!(out.status.code(), Some(1));
    let text = stdout(&out);
    assert!(
        text.contains(&format!("error[E0402]: cannot read map {d}/maps/missing.xodr (named by `world.map.file`)")),
        "{text}"
    );
    assert!(text.contains(&format!("  --> {d}/missing.yaml:5:11\n")), "{text}");
    assert!(
        text.contains(&format!("error[E0402]: map {d}/broken.xodr cannot be read: invalid OpenDRIVE XML")),
        "{text}"
    );
    // The real map loads and its route resolves, so that scenario is valid.
    assert!(text.ends_with("1 scenario valid, 1 variants; 2 errors, 0 warnings\n"), "{text}");
}
