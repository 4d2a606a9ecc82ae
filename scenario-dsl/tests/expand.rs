//! Expansion: variant counts, order, evaluated values, seeds, and the stability of variant keys.

use std::path::Path;

use scenario_dsl::model::StartPose;
use scenario_dsl::{parse, Variant};

fn fixture(name: &str) -> String {
    std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/valid").join(name)).unwrap()
}

fn variants(text: &str) -> Vec<Variant> {
    let parsed = parse("f.yaml", text);
    assert!(parsed.diagnostics.is_empty(), "{:#?}", parsed.diagnostics);
    scenario_dsl::expand(&parsed.scenario.unwrap())
}

fn params(v: &Variant) -> Vec<(String, f64)> {
    v.params.iter().map(|(k, v)| (k.clone(), *v)).collect()
}

#[test]
fn grid_is_the_cartesian_product_in_name_order_with_repeats_innermost() {
    let vs = variants(&fixture("sweep.yaml"));
    // gap 3 x noise 2 x speed 3 x walk 2, each with 2 seeds.
    assert_eq!(vs.len(), 3 * 2 * 3 * 2 * 2);
    assert!(vs.iter().enumerate().all(|(i, v)| v.index == i));
    let p = |v: &Variant| params(v).into_iter().map(|(_, x)| x).collect::<Vec<_>>();
    // Repeats of a point are adjacent and differ only in seed.
    assert_eq!(p(&vs[0]), p(&vs[1]));
    assert_ne!(vs[0].seed, vs[1].seed);
    // The last parameter (walk) varies fastest, the first (gap) slowest.
    assert_eq!(vs[0].params["walk"], vs[4].params["walk"]);
    assert_ne!(vs[0].params["walk"], vs[2].params["walk"]);
    assert_eq!(vs[0].params["gap"], 10.0);
    assert_eq!(vs[24].params["gap"], 15.0);
    assert_eq!(vs[48].params["gap"], 20.0);
    assert_eq!(vs[0].params["speed"], 8.0);
    assert_eq!(vs[4].params["speed"], 10.0);
}

#[test]
fn expressions_are_evaluated_per_variant() {
    for v in variants(&fixture("sweep.yaml")) {
        let s = &v.scenario;
        assert_eq!(s.ego.speed, v.params["speed"]);
        match s.actors[0].start.pose() {
            Some(StartPose::Lane { s, offset, .. }) => {
                assert_eq!(s, v.params["gap"] + 30.0);
                assert_eq!(offset, -2.5);
            }
            other => panic!("unexpected start {other:?}"),
        }
        assert_eq!(s.environment.detector.position_noise, v.params["noise"]);
        assert!(v.params["noise"] >= 0.0, "normal samples are clamped at min 0");
        assert!((1.0..2.0).contains(&v.params["walk"]));
    }
}

#[test]
fn variant_keys_are_unique_and_pinned() {
    let vs = variants(&fixture("sweep.yaml"));
    let mut keys: Vec<_> = vs.iter().map(|v| v.key.to_string()).collect();
    keys.sort();
    keys.dedup();
    assert_eq!(keys.len(), vs.len());
    // Golden keys: these must never change for this file. If an intended change to the key recipe
    // breaks them, that is a breaking change for every stored result: bump the recipe version instead.
    let golden = [
        (0, "337d13effeee73cc70e83fbd0c6090ba"),
        (1, "68e8a688d3ead3be5b80acc6d44857a2"),
        (71, "4bfebf804fda5c5c19aaf615faee7c0a"),
    ];
    for (i, key) in golden {
        assert_eq!(vs[i].key.as_str(), key, "variant {i} of sweep.yaml ({:?}, seed {})", params(&vs[i]), vs[i].seed);
    }
    let minimal = variants(&fixture("minimal.yaml"));
    assert_eq!(minimal.len(), 1);
    assert_eq!(minimal[0].seed, 0);
    assert_eq!(minimal[0].key.as_str(), "8a760367239f008a3e43601484b13e8e");
}

#[test]
fn keys_survive_line_endings_but_not_content_changes() {
    let text = fixture("sweep.yaml");
    let lf = variants(&text);
    let crlf = variants(&text.replace('\n', "\r\n"));
    assert_eq!(lf.iter().map(|v| &v.key).collect::<Vec<_>>(), crlf.iter().map(|v| &v.key).collect::<Vec<_>>());
    let edited = variants(&text.replace("duration: 40", "duration: 41"));
    assert!(lf.iter().zip(&edited).all(|(a, b)| a.key != b.key));
}

#[test]
fn random_sweep_draws_distinct_points_deterministically_in_grid_order() {
    let text = fixture("sweep.yaml").replace(
        "seed: { policy: per_variant, base: 42, repeats: 2 }",
        "sweep: { random: { count: 10 } }\nseed: { policy: fixed, base: 9 }",
    );
    let a = variants(&text);
    let b = variants(&text);
    assert_eq!(a.len(), 10);
    assert_eq!(a, b);
    let mut points: Vec<_> = a.iter().map(|v| format!("{:?}", params(v))).collect();
    points.dedup();
    assert_eq!(points.len(), 10, "points are distinct");
    assert!(a.iter().all(|v| v.seed == 9), "fixed policy gives every point the base seed");
    let grid = variants(&text.replace("sweep: { random: { count: 10 } }\n", ""));
    assert_eq!(grid.len(), 36);
    let positions: Vec<usize> = a.iter().map(|v| grid.iter().position(|g| g.params == v.params).unwrap()).collect();
    assert!(positions.windows(2).all(|w| w[0] < w[1]), "drawn points come in grid order: {positions:?}");
    // More points requested than exist: the whole grid, once.
    let all = variants(&text.replace("count: 10", "count: 100000"));
    assert_eq!(all.len(), 36);
}

#[test]
fn a_choices_parameter_chooses_an_enum_field_per_variant() {
    let text = "version: 1
metadata: { id: x.choice, title: t, description: d, owner: qa, domain: urban, severity: minor }
parameters:
  side: { choices: [left, right] }
  who: { choices: [pedestrian, cyclist] }
world:
  road: { lanes: 1, length: 300, speed_limit: 14 }
ego:
  start: { lane: 0, s: 10 }
  goal: { distance: 200 }
actors:
  - id: w
    kind: \"${who}\"
    start: { lane: 0, s: 60, offset: \"${3 - 6 * side}\" }
    behaviour:
      - do: { cross_road: { direction: \"${side}\" } }
criteria:
  - no_collision: {}
duration: 20
";
    let parsed = scenario_dsl::parse("c.yaml", text);
    assert!(parsed.diagnostics.is_empty(), "{:?}", parsed.diagnostics);
    let variants = parsed.scenario.unwrap().variants().to_vec();
    let seen: Vec<(f64, f64, String, String, f64)> = variants
        .iter()
        .map(|v| {
            let a = &v.scenario.actors[0];
            let direction = match &a.behaviour[0].action {
                scenario_dsl::model::Manoeuvre::CrossRoad { direction, .. } => format!("{direction:?}"),
                other => panic!("{other:?}"),
            };
            (v.params["side"], v.params["who"], a.kind.as_str().to_owned(), direction, a.start.offset.unwrap())
        })
        .collect();
    assert_eq!(
        seen,
        [
            (0.0, 0.0, "pedestrian".into(), "Left".into(), 3.0),
            (0.0, 1.0, "cyclist".into(), "Left".into(), 3.0),
            (1.0, 0.0, "pedestrian".into(), "Right".into(), -3.0),
            (1.0, 1.0, "cyclist".into(), "Right".into(), -3.0),
        ]
    );
    // A name the field does not take is reported where the field is.
    let bad = text.replace("[pedestrian, cyclist]", "[pedestrian, bus]");
    let parsed = scenario_dsl::parse("c.yaml", &bad);
    let rendered: Vec<String> = parsed
        .diagnostics
        .iter()
        .map(|d| format!("{}:{} {} {}", d.line, d.column, d.code.as_str(), d.message))
        .collect();
    assert_eq!(rendered, ["13:11 E0104 unknown value `bus`"], "{rendered:?}");
}
