//! Maps end to end: every committed real OpenDRIVE map loads, the ego drives a route through a
//! real junction to its goal, an actor follows its own route through it, and a map that cannot be
//! used ends the run as an `error` that names the file and what is wrong.

use std::path::{Path, PathBuf};

use autonomy_stack::{FrozenClock, StackConfig};
use scenario_dsl::{MapSource, Variant};
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
