//! The ODD's `junction` dimension: the kind of junction a route passes comes from the junctions the
//! caller derived from the map, a world without a map has none, a map whose junctions were not
//! derived is never silently binned, and a variant outside the bins is named.

use scenario_dsl::{Catalog, Diagnostic, JunctionKind, RouteJunction, SourceFile, ValidScenario};

const ODD: &str = "version: 1
dimensions:
  - { name: layout, source: layout, bins: [straight, curved, road_network, open_area] }
  - { name: junction, source: junction, bins: [none, t_junction, crossroads, complex] }
exclude:
  - bins: { layout: straight, junction: crossroads }
    reason: a single road has no junction
";

const ON_A_MAP: &str = "version: 1
metadata: { id: j.left_turn, title: t, description: d, owner: qa, domain: urban, severity: major }
world:
  map:
    file: ../maps/town.xodr
    route: [{ road: '2', lane: -1, s: 240 }, { road: '1', lane: -1, s: 14 }]
    speed_limit: 11
ego: { start: { lane: 0, s: 0 }, speed: 8, goal: { distance: 50 } }
criteria: [{ no_collision: {} }]
duration: 20
";

const ON_A_ROAD: &str = "version: 1
metadata: { id: j.straight, title: t, description: d, owner: qa, domain: urban, severity: major }
world:
  road: { lanes: 2, lane_width: 3.5, length: 300, speed_limit: 14 }
ego: { start: { lane: 0, s: 0 }, speed: 8, goal: { distance: 50 } }
criteria: [{ no_collision: {} }]
duration: 20
";

fn files() -> Vec<SourceFile> {
    vec![
        SourceFile { name: "map.yaml".into(), text: ON_A_MAP.into() },
        SourceFile { name: "road.yaml".into(), text: ON_A_ROAD.into() },
    ]
}

fn odd(text: &str) -> SourceFile {
    SourceFile { name: "odd.yaml".into(), text: text.into() }
}

/// What a caller that read the map would attach: the route passes one junction with `legs` legs.
fn junction_with(legs: usize) -> impl FnMut(&mut ValidScenario) -> Result<(), Diagnostic> {
    move |s| s.attach_route_junctions(|_| Ok(vec![RouteJunction { id: "4".into(), legs }]))
}

fn junction_bin(catalog: &Catalog, id: &str) -> String {
    let s = catalog.scenarios.iter().find(|s| s.id() == id).unwrap_or_else(|| panic!("{id} was dropped"));
    let cell = catalog.odd.as_ref().unwrap().cell(&s.variants()[0]).unwrap();
    cell.0.iter().find(|(d, _)| d == "junction").unwrap().1.clone()
}

#[test]
fn a_junction_is_binned_by_the_roads_that_meet_there_and_a_route_by_its_most_complex() {
    let kinds: Vec<&str> = (0..7).map(|legs| JunctionKind::of_legs(legs).as_str()).collect();
    assert_eq!(kinds, ["none", "none", "none", "t_junction", "crossroads", "complex", "complex"]);
    let j = |legs| RouteJunction { id: format!("j{legs}"), legs };
    assert_eq!(JunctionKind::of_route(&[]), JunctionKind::None);
    assert_eq!(JunctionKind::of_route(&[j(3), j(4), j(3)]), JunctionKind::Crossroads);
    assert_eq!(JunctionKind::of_route(&[j(2), j(3)]), JunctionKind::TJunction);
}

#[test]
fn a_route_gets_the_kind_of_the_junction_the_caller_read_and_a_road_none() {
    for (legs, bin) in [(3, "t_junction"), (4, "crossroads"), (6, "complex"), (2, "none")] {
        let catalog = Catalog::load_with(&files(), Some(&odd(ODD)), junction_with(legs));
        assert!(!catalog.has_errors(), "{:?}", catalog.diagnostics);
        assert_eq!(junction_bin(&catalog, "j.left_turn"), bin);
        assert_eq!(junction_bin(&catalog, "j.straight"), "none");
    }
}

#[test]
fn a_map_whose_junctions_were_not_derived_is_outside_the_odd_at_its_route() {
    let catalog = Catalog::load(&files(), Some(&odd(ODD)));
    let errors: Vec<String> = catalog.diagnostics.iter().map(|d| d.render(None)).collect();
    assert_eq!(errors.len(), 1, "{errors:?}");
    assert!(errors[0].contains("junction = unknown (the junctions of its map were not derived)"), "{}", errors[0]);
    let d = &catalog.diagnostics[0];
    assert_eq!((d.code.as_str(), d.file.as_str(), d.line), ("E0309", "map.yaml", 6));
    assert_eq!(catalog.scenarios.iter().map(|s| s.id()).collect::<Vec<_>>(), ["j.straight"]);
}

#[test]
fn a_variant_whose_junction_kind_has_no_bin_is_named() {
    let narrow = ODD.replace("bins: [none, t_junction, crossroads, complex]", "bins: [none, t_junction]");
    let narrow = &narrow[..narrow.find("exclude:").unwrap()];
    let catalog = Catalog::load_with(&files(), Some(&odd(narrow)), junction_with(4));
    let key = {
        let parsed = scenario_dsl::parse("map.yaml", ON_A_MAP);
        parsed.scenario.unwrap().variants()[0].key.to_string()
    };
    let errors: Vec<String> = catalog.diagnostics.iter().map(|d| d.render(None)).collect();
    assert_eq!(errors.len(), 1, "{errors:?}");
    assert!(
        errors[0].contains(&format!("variant {key} has junction = crossroads, outside every bin of the ODD")),
        "{}",
        errors[0]
    );
    assert_eq!(catalog.diagnostics[0].line, 6);
}
