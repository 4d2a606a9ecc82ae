//! `farm bench`: simulation speed over the catalog, one core. For each scenario's default variant:
//! simulated seconds per wall second, and where the time goes (physics, sensors, the stack by module,
//! criteria). With `--actors 5,10,...` also a tick's cost against the number of actors, measured
//! on the first selected scenario with a `traffic` block (its density scaled to each count).
//! Reported, never asserted: wall-clock numbers belong in benchmarks, not tests.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::Args;
use serde::Serialize;

use autonomy_stack::Clock;

use crate::domain::catalog::Suite;
use crate::infra::clock::MonotonicClock;
use crate::usecases::local::simulate_one;

/// Arguments of `farm bench`.
#[derive(Debug, Args)]
pub struct BenchArgs {
    /// Scenario files or folders (default: catalog/).
    pub paths: Vec<PathBuf>,
    /// Only scenarios with this tag; repeatable.
    #[arg(long = "tag")]
    pub tags: Vec<String>,
    /// Runs of each scenario's default variant (the fastest counts, to shed noise).
    #[arg(long, default_value_t = 3)]
    pub repeat: usize,
    /// Stack configuration override.
    #[arg(long)]
    pub stack_config: Option<PathBuf>,
    /// Also write the numbers as JSON.
    #[arg(long)]
    pub json: Option<PathBuf>,
    /// Actor counts for the tick-cost table (e.g. `5,10,25,50,100,200`), measured on the first
    /// selected scenario with a `traffic` block.
    #[arg(long, value_delimiter = ',')]
    pub actors: Vec<usize>,
}

/// One row of the tick-cost table.
#[derive(Debug, Serialize)]
struct ScalingRow {
    requested: usize,
    actors: usize,
    ticks: u64,
    realtime_factor: f64,
    tick_us: f64,
    actors_us: f64,
    physics_us: f64,
    sensors_us: f64,
    stack_us: f64,
    criteria_us: f64,
}

#[derive(Debug, Serialize)]
struct ScenarioSpeed {
    scenario: String,
    sim_s: f64,
    wall_s: f64,
    /// The simulating thread's CPU seconds: a core's worth of work, whatever else the machine ran.
    cpu_s: f64,
    /// Simulated seconds per CPU second of the simulating thread (per core).
    realtime_factor: f64,
}

#[derive(Debug, Serialize)]
struct BenchReport {
    scenarios: Vec<ScenarioSpeed>,
    median_realtime_factor: f64,
    worst: String,
    worst_realtime_factor: f64,
    split_percent: BTreeMap<String, f64>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    scaling: Vec<ScalingRow>,
}

pub(super) fn run(args: BenchArgs) -> anyhow::Result<ExitCode> {
    let Some((catalog, config)) = super::local_inputs(&args.paths, None, args.stack_config.as_deref())? else {
        return Ok(ExitCode::from(2));
    };
    let suite = Suite { tags: args.tags.clone(), scenarios: Vec::new() };
    let scenarios = match catalog.select(&suite) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("error: {e}");
            return Ok(ExitCode::from(2));
        }
    };
    let mut speeds = Vec::new();
    let mut split: BTreeMap<String, f64> = BTreeMap::new();
    let traffic_variant =
        scenarios.iter().filter_map(|s| s.variants().first()).find(|v| v.scenario.traffic.is_some()).cloned();
    for s in scenarios {
        let Some(v) = s.variants().first() else { continue };
        // The fastest of the repeats by the thread's CPU time: on a shared machine wall time also
        // counts the time the thread waited for a core.
        let mut best: Option<(f64, f64, sim_core::RunResult)> = None;
        let mut clock = MonotonicClock::default();
        for _ in 0..args.repeat.max(1) {
            let cpu_before = clock.thread_cpu_ns();
            let (r, wall) = simulate_one(v, &config);
            let cpu = clock.thread_cpu_ns().saturating_sub(cpu_before) as f64 * 1e-9;
            if best.as_ref().is_none_or(|(c, _, _)| cpu < *c) {
                best = Some((cpu, wall, r));
            }
        }
        let Some((cpu, wall, r)) = best else { continue };
        let stack_total: f64 = r.latency.values().map(|l| l.total).sum::<f64>() * 1e3;
        *split.entry("actors".into()).or_default() += r.split.actors_ns as f64;
        *split.entry("physics".into()).or_default() += r.split.physics_ns as f64;
        *split.entry("sensors".into()).or_default() += r.split.sensors_ns as f64;
        *split.entry("criteria".into()).or_default() += r.split.criteria_ns as f64;
        // The stack's share, divided by module in proportion to what each module measured itself.
        for (module, l) in &r.latency {
            let share = if stack_total > 0.0 { l.total * 1e3 / stack_total } else { 0.0 };
            *split.entry(format!("stack.{module}")).or_default() += r.split.stack_ns as f64 * share;
        }
        speeds.push(ScenarioSpeed {
            scenario: s.id().to_owned(),
            sim_s: r.sim_s,
            wall_s: wall,
            cpu_s: cpu,
            realtime_factor: r.sim_s / cpu.max(1e-9),
        });
    }
    if speeds.is_empty() {
        eprintln!("no scenario matches");
        return Ok(ExitCode::from(2));
    }
    let mut factors: Vec<f64> = speeds.iter().map(|s| s.realtime_factor).collect();
    factors.sort_by(f64::total_cmp);
    let median = if factors.len() % 2 == 1 {
        factors[factors.len() / 2]
    } else {
        0.5 * (factors[factors.len() / 2 - 1] + factors[factors.len() / 2])
    };
    let worst = speeds
        .iter()
        .min_by(|a, b| a.realtime_factor.total_cmp(&b.realtime_factor))
        .map_or_else(String::new, |s| s.scenario.clone());
    let total: f64 = split.values().sum();
    let split_percent: BTreeMap<String, f64> =
        split.into_iter().map(|(k, v)| (k, 100.0 * v / total.max(1.0))).collect();
    let scaling = match (&traffic_variant, args.actors.is_empty()) {
        (_, true) => Vec::new(),
        (Some(v), false) => args.actors.iter().map(|n| scaling_row(v, *n, &config, args.repeat)).collect(),
        (None, false) => {
            eprintln!("--actors needs a selected scenario with a `traffic` block (e.g. --tag perf)");
            return Ok(ExitCode::from(2));
        }
    };
    let report = BenchReport {
        median_realtime_factor: median,
        worst_realtime_factor: factors[0],
        worst,
        split_percent,
        scenarios: speeds,
        scaling,
    };

    let mut out = std::io::stdout().lock();
    for s in &report.scenarios {
        writeln!(
            out,
            "{:>8.0}x  {:>6.1} s sim  {:>7.3} s CPU  {:>7.3} s wall  {}",
            s.realtime_factor, s.sim_s, s.cpu_s, s.wall_s, s.scenario
        )?;
    }
    writeln!(
        out,
        "\nsimulated seconds per CPU second of the simulating thread (one core): median {:.0}x, worst {:.0}x ({})",
        report.median_realtime_factor, report.worst_realtime_factor, report.worst
    )?;
    writeln!(out, "where the time goes:")?;
    for (k, v) in &report.split_percent {
        writeln!(out, "  {v:>5.1} %  {k}")?;
    }
    if let (Some(v), false) = (&traffic_variant, report.scaling.is_empty()) {
        writeln!(
            out,
            "\na tick's wall time against the number of actors ({}, one core, microseconds):",
            v.scenario_id
        )?;
        writeln!(
            out,
            "{:>7} {:>7} {:>9} {:>9} {:>9} {:>9} {:>9} {:>9} {:>9}",
            "actors", "ticks", "realtime", "tick", "actors", "physics", "sensors", "stack", "criteria"
        )?;
        for r in &report.scaling {
            writeln!(
                out,
                "{:>7} {:>7} {:>8.0}x {:>9.1} {:>9.1} {:>9.1} {:>9.1} {:>9.1} {:>9.1}",
                r.actors,
                r.ticks,
                r.realtime_factor,
                r.tick_us,
                r.actors_us,
                r.physics_us,
                r.sensors_us,
                r.stack_us,
                r.criteria_us
            )?;
        }
    }
    if let Some(path) = &args.json {
        std::fs::write(path, serde_json::to_vec_pretty(&report)?)?;
    }
    Ok(ExitCode::SUCCESS)
}

/// The traffic variant with its density scaled so that its `traffic` block places about `n`
/// vehicles, run `repeat` times (the fastest counts).
fn scaling_row(v: &scenario_dsl::Variant, n: usize, config: &autonomy_stack::StackConfig, repeat: usize) -> ScalingRow {
    let mut v = v.clone();
    if let (Some(t), Some(road)) = (v.scenario.traffic.as_mut(), v.scenario.world.road.as_ref()) {
        let lanes = if t.lanes.is_empty() { road.lanes as usize } else { t.lanes.len() };
        let span_km = (t.to.unwrap_or(road.length) - t.from).max(1.0) / 1000.0;
        t.density = n as f64 / (lanes as f64 * span_km);
    }
    let (mut r, mut wall) = simulate_one(&v, config);
    for _ in 1..repeat.max(1) {
        let (again, w) = simulate_one(&v, config);
        if w < wall {
            (r, wall) = (again, w);
        }
    }
    let ticks = r.ticks.max(1);
    let per_tick = |ns: u64| ns as f64 / 1e3 / ticks as f64;
    ScalingRow {
        requested: n,
        actors: r.trace.actors.len(),
        ticks: r.ticks,
        realtime_factor: r.sim_s / wall.max(1e-9),
        tick_us: wall * 1e6 / ticks as f64,
        actors_us: per_tick(r.split.actors_ns),
        physics_us: per_tick(r.split.physics_ns),
        sensors_us: per_tick(r.split.sensors_ns),
        stack_us: per_tick(r.split.stack_ns),
        criteria_us: per_tick(r.split.criteria_ns),
    }
}
