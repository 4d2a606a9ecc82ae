//! `farm seed-scale`: seeds a database with many candidates whose runs all have results (real
//! catalog variants, a real simulated result as the stored record, a deterministic share of
//! failures), decides their gates, then measures what the web UI asks of it at that scale: the p95
//! of a candidate's page and of a filtered run list. A benchmark that prints, not a timed test.

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Instant;

use anyhow::Context;
use clap::Args;

use crate::domain::candidate::NewCandidate;
use crate::domain::catalog::Suite;
use crate::domain::gate::GatePolicy;
use crate::domain::ids::CandidateId;
use crate::domain::report::RunRecord;
use crate::domain::run::RunStatus;
use crate::infra::catalog_files::load_index;
use crate::infra::store::runs::RunFilter;
use crate::infra::store::{candidates as store, seed, Store};
use crate::usecases::{browse, candidates, Farm};

/// Arguments of `farm seed-scale`.
#[derive(Debug, Args)]
pub struct SeedScaleArgs {
    /// The database to seed (Postgres for the scale it is meant for; SQLite works too).
    #[arg(long, env = "FARM_DATABASE_URL")]
    pub database_url: String,
    /// Candidates to have in the database (existing ones count).
    #[arg(long, default_value_t = 1000)]
    pub candidates: usize,
    /// Runs per candidate (the first N variants of the catalog).
    #[arg(long, default_value_t = 1000)]
    pub runs: usize,
    /// The catalog folder the runs' variants come from.
    #[arg(long, env = "FARM_CATALOG", default_value = "catalog")]
    pub catalog: PathBuf,
    /// Page loads to time per measurement.
    #[arg(long, default_value_t = 40)]
    pub samples: usize,
}

pub(super) fn run(args: SeedScaleArgs) -> anyhow::Result<ExitCode> {
    let _exporting = crate::cli::init_tracing("farm-seed-scale")?;
    let runtime = tokio::runtime::Runtime::new().context("cannot start the async runtime")?;
    runtime.block_on(seed_and_measure(args))
}

fn p95(mut ms: Vec<f64>) -> f64 {
    ms.sort_by(f64::total_cmp);
    ms.get(((ms.len() as f64 * 0.95).ceil() as usize).saturating_sub(1)).copied().unwrap_or(0.0)
}

async fn seed_and_measure(args: SeedScaleArgs) -> anyhow::Result<ExitCode> {
    let catalog = Arc::new(load_index(std::slice::from_ref(&args.catalog), None)?);
    let store = Store::open(&args.database_url).await.context("cannot open the database")?;
    let (versions, mut planned) = catalog.plan(&Suite::default()).map_err(|e| anyhow::anyhow!("{e}"))?;
    planned.truncate(args.runs);
    let first = catalog.catalog().scenarios.first().and_then(|s| s.variants().first()).context("empty catalog")?;
    let simulated =
        sim_core::run_variant(first, &autonomy_stack::StackConfig::default(), &mut autonomy_stack::FrozenClock);
    let mut record = RunRecord::new(first, Vec::new(), None, &simulated, 0.01);
    let passed = serde_json::to_string(&record)?;
    record.verdict = sim_core::Verdict::Failed;
    record.reason = Some("no_collision: synthetic failure".into());
    let failed = serde_json::to_string(&record)?;
    let farm = Farm {
        store: store.clone(),
        catalog: catalog.clone(),
        gate: GatePolicy::default(),
        signing_key: ed25519_dalek::SigningKey::from_bytes(&[7; 32]),
        past_keys: Vec::new(),
    };

    let existing = store::list(&store, i64::MAX).await?.len();
    let started = Instant::now();
    for i in existing..args.candidates {
        let config = autonomy_stack::StackConfig::default();
        let new = NewCandidate::new(&format!("scale-{i:05}"), None, config, Suite::default());
        let now = 1_700_000_000_000 + i as i64 * 60_000;
        let (c, _) = store::create(&store, &new, &CandidateId::random(), now).await?;
        store::enqueue(&store, &c.id, &versions, &planned, now).await?;
        // About 3 % failures, on different variants for different candidates.
        seed::finish_all(&store, &c.id, (&passed, &failed), (33, (i % 33) as i64), &simulated.digest, now + 30_000)
            .await?;
        if (i + 1) % 50 == 0 {
            println!("seeded {} candidates ({:.0} s)", i + 1, started.elapsed().as_secs_f64());
        }
    }
    if existing < args.candidates {
        seed::analyze(&store).await?;
    }
    let decided = candidates::decide_finished(&farm).await?;
    println!(
        "{} candidates with {} runs each; {decided} gates decided now",
        args.candidates.max(existing),
        planned.len()
    );

    let page = store::list(&store, args.samples as i64).await?;
    let mut page_ms = Vec::new();
    let mut list_ms = Vec::new();
    for c in &page {
        let t = Instant::now();
        browse::candidate_page(&farm, &c.id, None).await?;
        page_ms.push(t.elapsed().as_secs_f64() * 1000.0);
        let t = Instant::now();
        let filter = RunFilter { status: Some(RunStatus::Failed), limit: 50, ..RunFilter::default() };
        candidates::runs_page(&farm, &c.id, filter).await?;
        let tag = RunFilter { tag: Some("critical".into()), limit: 50, ..RunFilter::default() };
        candidates::runs_page(&farm, &c.id, tag).await?;
        list_ms.push(t.elapsed().as_secs_f64() * 1000.0 / 2.0);
    }
    let mut list_pages = Vec::new();
    let mut cursor = None;
    for _ in 0..args.samples {
        let t = Instant::now();
        let (_, next) = browse::candidates_page(&farm, None, cursor.as_ref(), 25).await?;
        list_pages.push(t.elapsed().as_secs_f64() * 1000.0);
        cursor = next;
    }
    println!(
        "candidate page (stats, gate, comparison, coverage): p95 {:.1} ms over {} candidates",
        p95(page_ms),
        page.len()
    );
    println!("filtered run list (status=failed, tag=critical; 50 per page): p95 {:.1} ms", p95(list_ms));
    println!("candidates list (25 per page, paging back): p95 {:.1} ms over {} pages", p95(list_pages), args.samples);
    Ok(ExitCode::SUCCESS)
}
