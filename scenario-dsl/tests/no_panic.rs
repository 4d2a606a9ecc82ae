//! Nothing panics on any input: arbitrary bytes, arbitrary YAML documents built from the language's
//! own vocabulary, and random edits of a valid scenario. Every rejection carries a located error.

use proptest::prelude::*;

const SWEEP: &str = include_str!("fixtures/valid/sweep.yaml");

const WORDS: &[&str] = &[
    "version",
    "metadata",
    "id",
    "world",
    "road",
    "area",
    "lanes",
    "length",
    "ego",
    "start",
    "lane",
    "s",
    "x",
    "y",
    "goal",
    "distance",
    "actors",
    "kind",
    "car",
    "behaviour",
    "do",
    "when",
    "keep_lane",
    "speed",
    "brake",
    "decel",
    "criteria",
    "no_collision",
    "min_ttc",
    "threshold",
    "parameters",
    "values",
    "range",
    "from",
    "to",
    "step",
    "uniform",
    "normal",
    "samples",
    "sweep",
    "random",
    "count",
    "seed",
    "duration",
    "environment",
    "lidar",
    "${speed}",
    "${a - 1}",
    "${",
    "~",
    "-1",
    "0",
    "1e308",
    ".nan",
    "true",
    "&a",
    "*a",
    "!!str",
    "'q'",
    "\"d\"",
];

fn yaml_value() -> impl Strategy<Value = String> {
    let leaf = prop_oneof![
        proptest::sample::select(WORDS).prop_map(str::to_owned),
        any::<f64>().prop_map(|f| f.to_string()),
        any::<i64>().prop_map(|i| i.to_string()),
    ];
    leaf.prop_recursive(6, 64, 6, |inner| {
        prop_oneof![
            proptest::collection::vec(inner.clone(), 0..6).prop_map(|v| format!("[{}]", v.join(", "))),
            proptest::collection::vec((proptest::sample::select(WORDS), inner), 0..6).prop_map(|kv| {
                format!("{{{}}}", kv.iter().map(|(k, v)| format!("{k}: {v}")).collect::<Vec<_>>().join(", "))
            }),
        ]
    })
}

fn assert_sane(text: &str) {
    let parsed = scenario_dsl::parse("p.yaml", text);
    if parsed.scenario.is_none() {
        assert!(parsed.diagnostics.iter().any(|d| d.is_error()), "rejected without an error: {text:?}");
    }
    for d in &parsed.diagnostics {
        assert!(d.line >= 1 && d.column >= 1, "{d:?}");
        let _ = d.render(Some(text));
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 2000, ..ProptestConfig::default() })]

    #[test]
    fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..2048)) {
        assert_sane(&String::from_utf8_lossy(&bytes));
    }

    #[test]
    fn arbitrary_yaml_never_panics(doc in yaml_value()) {
        assert_sane(&doc);
    }

    #[test]
    fn arbitrary_top_level_mappings_never_panic(
        entries in proptest::collection::vec((proptest::sample::select(WORDS), yaml_value()), 0..12)
    ) {
        let doc: String = entries.iter().map(|(k, v)| format!("{k}: {v}\n")).collect();
        assert_sane(&doc);
    }

    #[test]
    fn random_edits_of_a_valid_scenario_never_panic(
        edits in proptest::collection::vec((0..SWEEP.len(), proptest::sample::select(WORDS)), 1..4)
    ) {
        let mut text = SWEEP.to_owned();
        for (at, word) in edits {
            let mut at = at.min(text.len());
            while !text.is_char_boundary(at) {
                at -= 1;
            }
            text.insert_str(at, word);
        }
        assert_sane(&text);
    }
}

#[test]
fn oversized_input_is_rejected_before_parsing() {
    let huge = "a: 1\n".repeat(300_000);
    let parsed = scenario_dsl::parse("big.yaml", &huge);
    assert_eq!(parsed.diagnostics.len(), 1);
    assert_eq!(parsed.diagnostics[0].code.as_str(), "E0002");
}
