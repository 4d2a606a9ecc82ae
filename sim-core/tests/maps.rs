//! Maps end to end: every committed real OpenDRIVE map loads, the ego drives a route through a
//! real junction to its goal, an actor follows its own route through it, a map that cannot be
//! used ends the run as an `error` that names the file and what is wrong, and the junctions a
//! route passes (what the ODD's `junction` dimension bins) are read from the map.

use std::path::{Path, PathBuf};

use autonomy_stack::{FrozenClock, StackConfig};
use scenario_dsl::{JunctionKind, MapSource, RouteJunction, Variant};
use sim_core::map::RoadNetworkMap;
use sim_core::{run_variant, Verdict};

fn maps_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../catalog/maps")
}

fn fabriksgatan() -> MapSource {
    let path = maps_dir().join("fabriksgatan.xodr");
    MapSource { file: "catalog/maps/fabriksgatan.xodr".into(), text: std::fs::read_to_string(path).unwrap().into() }
}

/// The first variant of a scenario on a map, with `map` attached (or none).
fn variant(world: &str, actors: &str, map: Option<MapSource>) -> Variant {
    let text = format!(
        r#"
version: 1
metadata: {{ id: test.map, title: t, description: d, owner: qa, domain: urban, severity: critical }}
world:
{world}
ego:
  start: {{ lane: 0, s: 0 }}
  speed: 8
  goal: {{ distance: 100 }}
{actors}
criteria:
  - no_collision: {{}}
  - stay_in_drivable_area: {{}}
  - reach_goal: {{ within: 30 }}
duration: 40
"#
    );
    let parsed = scenario_dsl::parse("t.yaml", &text);
    assert!(parsed.diagnostics.iter().all(|d| !d.is_error()), "{:?}", parsed.diagnostics);
    let mut s = parsed.scenario.unwrap();
    if let Some(m) = map {
        s.attach_map(m);
    }
    s.variants()[0].clone()
}

const RIGHT_TURN: &str = "  map:
    file: ../maps/fabriksgatan.xodr
    route: [{ road: 2, lane: -1, s: 240 }, { road: 3, lane: 1, s: 60 }]
    speed_limit: 11.1";

#[test]
fn every_committed_real_map_loads_with_driving_lanes() {
    let mut found = 0;
    for entry in std::fs::read_dir(maps_dir()).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().and_then(|e| e.to_str()) != Some("xodr") {
            continue;
        }
        let text = std::fs::read_to_string(&path).unwrap();
        let map = RoadNetworkMap::load(&path.display().to_string(), &text)
            .unwrap_or_else(|e| panic!("{} does not load: {e}", path.display()));
        let lanes = map.network().driving_lanes().count();
        assert!(lanes >= 2, "{}: {lanes} driving lanes", path.display());
        assert!(!map.drawn_lanes().is_empty());
        found += 1;
    }
    assert!(found >= 2, "expected the committed esmini maps, found {found}");
}

#[test]
fn the_ego_turns_right_through_a_real_junction_to_its_goal_in_its_lane() {
    let v = variant(RIGHT_TURN, "", Some(fabriksgatan()));
    let r = run_variant(&v, &StackConfig::default(), &mut FrozenClock);
    assert_eq!(r.verdict, Verdict::Passed, "{:?}", r.reason);
    assert_eq!(r.metrics.max_offroad.max(0.0), 0.0);
    // It left southbound on road 2 (x about 20, y above 10) and arrived westbound on road 3.
    let first = r.trace.ticks.first().unwrap().ego;
    let last = r.trace.ticks.last().unwrap().ego;
    assert!(first[1] > 40.0, "start {first:?}");
    assert!(last[0] < 0.0 && last[1] < -5.0, "end {last:?}");
    let heading = last[2].rem_euclid(std::f64::consts::TAU);
    assert!((heading - std::f64::consts::PI).abs() < 0.5, "heading at the goal {heading}");
    // The trace draws the map's lanes and the route, not a straight road from the origin.
    let map = r.trace.world.map.as_ref().expect("the trace carries the map");
    assert!(r.trace.world.road.is_none());
    assert!(map.lanes.iter().filter(|l| l.driving).count() >= 8 && map.route.len() > 50);
    assert_eq!(map.file, "catalog/maps/fabriksgatan.xodr");
    // The same variant gives the same digest.
    let again = run_variant(&v, &StackConfig::default(), &mut FrozenClock);
    assert_eq!(r.digest, again.digest);
}

#[test]
fn an_actor_placed_by_road_and_lane_follows_its_route_across_the_junction() {
    let actors = "actors:
  - id: crossing_car
    kind: car
    start: { map: { road: 3, lane: -1, s: 100 } }
    behaviour:
      - do: { follow_route: { to: { road: 1, lane: -1, s: 14 }, speed: 6 } }";
    let world = "  map:
    file: ../maps/fabriksgatan.xodr
    route: [{ road: 2, lane: -1, s: 150 }, { road: 0, lane: -1, s: 40 }]
    speed_limit: 11.1";
    let v = variant(world, actors, Some(fabriksgatan()));
    let r = run_variant(&v, &StackConfig::default(), &mut FrozenClock);
    let first = r.trace.ticks.first().unwrap().actors[0];
    let last = r.trace.ticks.last().unwrap().actors[0];
    // From the west arm heading east, to the east arm: it crossed the junction.
    assert!(first[0] < 10.0 && first[2].cos() > 0.9, "start {first:?}");
    assert!(last[0] > 30.0, "end {last:?}");
    assert_eq!(r.verdict, Verdict::Passed, "{:?}", r.reason);
}

#[test]
fn a_map_that_cannot_be_used_is_an_error_run_naming_the_file() {
    let config = StackConfig::default();
    let reason = |v: &Variant| {
        let r = run_variant(v, &config, &mut FrozenClock);
        assert_eq!(r.verdict, Verdict::Error);
        r.reason.unwrap()
    };
    // Not read by the caller.
    let why = reason(&variant(RIGHT_TURN, "", None));
    assert!(why.contains("../maps/fabriksgatan.xodr") && why.contains("not loaded"), "{why}");
    // Malformed XML.
    let broken = MapSource { file: "maps/broken.xodr".into(), text: "<OpenDRIVE><road".into() };
    let why = reason(&variant(RIGHT_TURN, "", Some(broken)));
    assert!(why.starts_with("map maps/broken.xodr cannot be read"), "{why}");
    // An unknown road, and a lane the road does not have.
    let why = reason(&variant(&RIGHT_TURN.replace("road: 3", "road: 99"), "", Some(fabriksgatan())));
    assert!(why.contains("catalog/maps/fabriksgatan.xodr has no road `99`"), "{why}");
    let why = reason(&variant(&RIGHT_TURN.replace("lane: 1,", "lane: 4,"), "", Some(fabriksgatan())));
    assert!(why.contains("road 3 has no lane 4 at s = 60 m (lanes there: -3, -2, -1, 1, 2, 3)"), "{why}");
    // Road 2's lane 1 drives away from the junction: nothing leads back into it.
    let why = reason(&variant(
        &RIGHT_TURN.replace("{ road: 3, lane: 1, s: 60 }", "{ road: 2, lane: 1, s: 250 }"),
        "",
        Some(fabriksgatan()),
    ));
    assert!(why.contains("road 2 lane 1 s 250 cannot be reached from road 2 lane -1 s 240"), "{why}");
}

/// The text of `tag` blocks (`<road ` ... `</road>`, `<connection ` ... `</connection>`) kept by
/// `keep`, which sees each block's opening tag; everything else unchanged.
fn filter_blocks(text: &str, tag: &str, keep: impl Fn(&str) -> bool) -> String {
    let (open, close) = (format!("<{tag} "), format!("</{tag}>"));
    let mut out = String::new();
    let mut rest = text;
    while let Some(i) = rest.find(&open) {
        let end = i + rest[i..].find(&close).expect("every block is closed") + close.len();
        let head = &rest[i..i + rest[i..].find('>').expect("the opening tag ends")];
        out.push_str(&rest[..i]);
        if keep(head) {
            out.push_str(&rest[i..end]);
        }
        rest = &rest[end..];
    }
    out.push_str(rest);
    out
}

/// The value of attribute `name` in an opening tag.
fn attr<'a>(head: &'a str, name: &str) -> &'a str {
    let key = format!(" {name}=\"");
    let at = head.find(&key).map(|i| i + key.len()).expect("the attribute is there");
    &head[at..at + head[at..].find('"').expect("the value is quoted")]
}

/// Fabriksgatan's four-way junction made a T: its road 3 leg, the connecting roads to and from
/// it (7, 10, 11, 12, 13, 16) and the junction's connections through them cut from the file.
fn fabriksgatan_without_road_3() -> String {
    let gone = ["3", "7", "10", "11", "12", "13", "16"];
    let text = fabriksgatan().text.to_string();
    let roads = filter_blocks(&text, "road", |head| !gone.contains(&attr(head, "id")));
    filter_blocks(&roads, "connection", |head| {
        !gone.contains(&attr(head, "incomingRoad")) && !gone.contains(&attr(head, "connectingRoad"))
    })
}

/// The route a scenario's `world.map` gives, parsed as a scenario would.
fn route(yaml: &str) -> Vec<scenario_dsl::model::MapPoint<f64>> {
    let v = variant(&format!("  map:\n    file: m.xodr\n    route: {yaml}\n    speed_limit: 11"), "", None);
    v.scenario.world.map.expect("a map world").route
}

#[test]
fn a_route_through_a_junction_passes_it_and_counts_the_roads_that_meet_there() {
    let map = RoadNetworkMap::load("fabriksgatan.xodr", &fabriksgatan().text).unwrap();
    assert_eq!(map.junction_legs("4"), 4);
    let right = map.route_junctions(&route(r#"[{ road: 2, lane: -1, s: 240 }, { road: 3, lane: 1, s: 60 }]"#));
    assert_eq!(right.unwrap(), vec![RouteJunction { id: "4".into(), legs: 4 }]);
    // A route that stays on road 2, short of the junction, passes none.
    let short = map.route_junctions(&route(r#"[{ road: 2, lane: -1, s: 200 }, { road: 2, lane: -1, s: 290 }]"#));
    assert_eq!(short.unwrap(), vec![]);

    // One leg cut off: the same junction is a T, straight on from road 2 to road 0.
    let t = RoadNetworkMap::load("fabriksgatan_t.xodr", &fabriksgatan_without_road_3()).unwrap();
    assert_eq!(t.junction_legs("4"), 3);
    let through = t.route_junctions(&route(r#"[{ road: 2, lane: -1, s: 240 }, { road: 0, lane: -1, s: 40 }]"#));
    let through = through.unwrap();
    assert_eq!(through, vec![RouteJunction { id: "4".into(), legs: 3 }]);
    assert_eq!(JunctionKind::of_route(&through), JunctionKind::TJunction);
}

#[test]
fn a_route_along_a_map_without_junctions_passes_none() {
    let text = std::fs::read_to_string(maps_dir().join("jolengatan.xodr")).unwrap();
    let map = RoadNetworkMap::load("jolengatan.xodr", &text).unwrap();
    let along = map.route_junctions(&route(r#"[{ road: 1, lane: -1, s: 20 }, { road: 1, lane: -1, s: 700 }]"#));
    let along = along.unwrap();
    assert_eq!(along, vec![]);
    assert_eq!(JunctionKind::of_route(&along), JunctionKind::None);
}

/// Every catalog scenario on a map, and the junction kind its route gets read from that map. A
/// scenario added on a map must be added here, with what its route should meet.
#[test]
fn each_catalog_scenario_on_a_map_passes_the_junction_its_route_crosses() {
    let expected: &[(&str, JunctionKind)] = &[
        // Fabriksgatan: roads 0-3 meet in junction 4. Straight on from road 2 to road 0.
        ("junctions/all_way_stop.yaml", JunctionKind::Crossroads),
        ("junctions/crossing_straight_path.yaml", JunctionKind::Crossroads),
        ("junctions/red_light_runner.yaml", JunctionKind::Crossroads),
        ("junctions/signalised_stop_and_go.yaml", JunctionKind::Crossroads),
        ("junctions/stop_sign.yaml", JunctionKind::Crossroads),
        ("protocols/ncap_cccscp.yaml", JunctionKind::Crossroads),
        // Right from road 2 into road 3.
        ("junctions/route_right_turn.yaml", JunctionKind::Crossroads),
        ("protocols/ncap_cpta.yaml", JunctionKind::Crossroads),
        // Left from road 2 into road 1.
        ("junctions/unprotected_left_turn.yaml", JunctionKind::Crossroads),
        ("protocols/ncap_ccftap.yaml", JunctionKind::Crossroads),
        ("protocols/ncap_cpta_farside.yaml", JunctionKind::Crossroads),
    ];
    let catalog = Path::new(env!("CARGO_MANIFEST_DIR")).join("../catalog");
    let mut on_maps = Vec::new();
    for dir in ["highway", "urban", "warehouse", "degraded", "junctions", "protocols"] {
        for entry in std::fs::read_dir(catalog.join(dir)).unwrap() {
            let path = entry.unwrap().path();
            if path.extension().and_then(|e| e.to_str()) != Some("yaml") {
                continue;
            }
            let text = std::fs::read_to_string(&path).unwrap();
            let parsed = scenario_dsl::parse(&path.display().to_string(), &text);
            let Some(s) = parsed.scenario else { panic!("{} does not parse", path.display()) };
            let Some(file) = s.map_file() else { continue };
            let name = format!("{dir}/{}", path.file_name().unwrap().to_string_lossy());
            let kind = expected.iter().find(|(f, _)| *f == name).map(|(_, k)| *k);
            let kind = kind.unwrap_or_else(|| panic!("{name} is on a map: add what its route meets to this test"));
            let map_path = path.parent().unwrap().join(file);
            let map = RoadNetworkMap::load(file, &std::fs::read_to_string(map_path).unwrap()).unwrap();
            for v in s.variants() {
                let junctions = map.route_junctions(&v.scenario.world.map.as_ref().unwrap().route).unwrap();
                assert_eq!(JunctionKind::of_route(&junctions), kind, "{name} {:?}: {junctions:?}", v.params);
            }
            on_maps.push(name);
        }
    }
    assert_eq!(on_maps.len(), expected.len(), "on maps: {on_maps:?}");
}
