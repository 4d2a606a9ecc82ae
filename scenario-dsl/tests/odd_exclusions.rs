//! The ODD can exclude combinations that cannot occur: coverage leaves their cells out, a variant
//! in one is an error naming the reason, and a wrong exclusion is reported with its line.

use scenario_dsl::{Catalog, Odd, SourceFile};

const ODD: &str = "version: 1
dimensions:
  - { name: domain, source: domain, bins: [highway, urban, warehouse] }
  - { name: layout, source: layout, bins: [straight, curved, road_network, open_area] }
  - { name: ego_speed, source: ego_speed, edges: [0, 3, 8, 40] }
exclude:
  - bins: { domain: highway, layout: open_area }
    reason: a highway is a road, never an open area
  - bins: { layout: open_area, ego_speed: '[8, 40]' }
    reason: nothing drives that fast in an open area
";

#[test]
fn excluded_combinations_are_not_declared_cells() {
    let (odd, diags) = Odd::parse("odd.yaml", ODD);
    assert!(diags.is_empty(), "{diags:?}");
    let odd = odd.unwrap();
    // 3 domains x 4 layouts x 3 speeds = 36; highway x open area takes 3 cells, open area at
    // [8, 40] another 3, one of them (highway) counted already: 31 remain.
    assert_eq!(odd.cells().len(), 31);
    assert!(odd.cells().iter().all(|c| !c.to_string().contains("domain=highway layout=open_area")));
}

#[test]
fn a_variant_in_an_excluded_combination_is_an_error_naming_the_reason() {
    let scenario = "version: 1
metadata: { id: x.fast_robot, title: t, description: d, owner: qa, domain: warehouse, severity: minor }
world:
  area: { bounds: { min_x: 0, min_y: 0, max_x: 100, max_y: 20 }, speed_limit: 12 }
ego:
  start: { x: 2, y: 2 }
  speed: 10
  goal: { position: { x: 90, y: 2 } }
criteria:
  - no_collision: {}
duration: 30
";
    let files = [SourceFile { name: "x.yaml".into(), text: scenario.into() }];
    let odd = SourceFile { name: "odd.yaml".into(), text: ODD.into() };
    let catalog = Catalog::load(&files, Some(&odd));
    let rendered: Vec<String> = catalog.diagnostics.iter().map(|d| d.render(None)).collect();
    assert_eq!(catalog.diagnostics.len(), 1, "{rendered:?}");
    assert!(
        rendered[0].contains("falls in a combination the ODD excludes: nothing drives that fast in an open area"),
        "{}",
        rendered[0]
    );
    assert_eq!((catalog.diagnostics[0].code.as_str(), catalog.diagnostics[0].line), ("E0309", 2));
}

#[test]
fn an_exclusion_of_an_unknown_dimension_or_bin_is_located() {
    let bad = ODD
        .replace("bins: { domain: highway, layout: open_area }", "bins: { domian: highway, layout: open_area }")
        .replace("ego_speed: '[8, 40]'", "ego_speed: '[8, 41]'");
    let (odd, diags) = Odd::parse("odd.yaml", &bad);
    assert!(odd.is_none());
    let got: Vec<(u32, String)> = diags.iter().map(|d| (d.line, d.message.clone())).collect();
    assert_eq!(
        got,
        [
            (7, "an exclusion names unknown dimension `domian` (did you mean `domain`?)".to_owned()),
            (9, "dimension `ego_speed` has no bin `[8, 41]`; its bins are `[0, 3)`, `[3, 8)`, `[8, 40]`".to_owned()),
        ]
    );
}
