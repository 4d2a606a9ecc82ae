//! `farm bench`: simulation speed over the catalog, one core. For each scenario's default variant:
//! simulated seconds per wall second, and where the time goes (physics, sensors, the stack by module,
//! criteria). Reported, never asserted: wall-clock numbers belong in benchmarks, not tests.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::Args;
use serde::Serialize;

use crate::domain::catalog::Suite;
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
}

#[derive(Debug, Serialize)]
struct ScenarioSpeed {
    scenario: String,
    sim_s: f64,
    wall_s: f64,
    realtime_factor: f64,
}

#[derive(Debug, Serialize)]
struct BenchReport {
    scenarios: Vec<ScenarioSpeed>,
    median_realtime_factor: f64,
    worst: String,
    worst_realtime_factor: f64,
    split_percent: BTreeMap<String, f64>,
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
    for s in scenarios {
        let Some(v) = s.variants().first() else { continue };
        let mut best: Option<(f64, sim_core::RunResult)> = None;
        for _ in 0..args.repeat.max(1) {
            let (r, wall) = simulate_one(v, &config);
            if best.as_ref().is_none_or(|(w, _)| wall < *w) {
                best = Some((wall, r));
            }
        }
        let Some((wall, r)) = best else { continue };
        let stack_total: f64 = r.latency.values().map(|l| l.total).sum::<f64>() * 1e3;
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
            realtime_factor: r.sim_s / wall,
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
    let report = BenchReport {
        median_realtime_factor: median,
        worst_realtime_factor: factors[0],
        worst,
        split_percent,
        scenarios: speeds,
    };

    let mut out = std::io::stdout().lock();
    for s in &report.scenarios {
        writeln!(out, "{:>8.0}x  {:>6.1} s sim  {:>7.3} s wall  {}", s.realtime_factor, s.sim_s, s.wall_s, s.scenario)?;
    }
    writeln!(
        out,
        "\nsimulated seconds per wall second, one core: median {:.0}x, worst {:.0}x ({})",
        report.median_realtime_factor, report.worst_realtime_factor, report.worst
    )?;
    writeln!(out, "where the time goes:")?;
    for (k, v) in &report.split_percent {
        writeln!(out, "  {v:>5.1} %  {k}")?;
    }
    if let Some(path) = &args.json {
        std::fs::write(path, serde_json::to_vec_pretty(&report)?)?;
    }
    Ok(ExitCode::SUCCESS)
}
