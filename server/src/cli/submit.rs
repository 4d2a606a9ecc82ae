//! `farm submit`: the line a CI pipeline adds. Posts a candidate, optionally waits for it, prints the
//! gate verdict with its reasons, writes JUnit, and exits 0 on pass, 1 on a failed gate, 2 on any
//! error (unreachable server, bad configuration, rejected request).

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::{anyhow, Context};
use clap::Args;
use serde_json::{json, Value};

/// Arguments of `farm submit`.
#[derive(Debug, Args)]
pub struct SubmitArgs {
    /// The farm, e.g. http://farm.internal:8080.
    #[arg(long, env = "FARM_SERVER")]
    pub server: String,
    /// A token with the `ci` role.
    #[arg(long, env = "FARM_TOKEN", hide_env_values = true)]
    pub token: String,
    /// Release candidate name.
    #[arg(long)]
    pub name: String,
    /// Git commit of the stack.
    #[arg(long, env = "GIT_COMMIT")]
    pub git_sha: Option<String>,
    /// Stack configuration override (YAML or JSON).
    #[arg(long)]
    pub stack_config: Option<PathBuf>,
    /// Only scenarios with this tag; repeatable.
    #[arg(long = "tag")]
    pub tags: Vec<String>,
    /// Only this scenario; repeatable.
    #[arg(long = "scenario")]
    pub scenarios: Vec<String>,
    /// Compare against this candidate.
    #[arg(long)]
    pub baseline: Option<String>,
    /// Wait for the verdict.
    #[arg(long)]
    pub wait: bool,
    /// Write the candidate's JUnit XML here (with --wait).
    #[arg(long)]
    pub junit: Option<PathBuf>,
    /// Seconds between progress polls.
    #[arg(long, default_value_t = 2)]
    pub poll_seconds: u64,
}

fn problem(e: ureq::Error) -> anyhow::Error {
    match e {
        ureq::Error::Status(code, resp) => {
            let body: Value = resp.into_json().unwrap_or_default();
            anyhow!(
                "the farm refused the request ({code} {}): {}",
                body["code"].as_str().unwrap_or("?"),
                body["detail"].as_str().unwrap_or("")
            )
        }
        ureq::Error::Transport(t) => anyhow!("cannot reach the farm: {t}"),
    }
}

pub(super) fn run(args: SubmitArgs) -> anyhow::Result<ExitCode> {
    match submit(&args) {
        Ok(code) => Ok(code),
        Err(e) => {
            eprintln!("error: {e:#}");
            Ok(ExitCode::from(2))
        }
    }
}

fn submit(args: &SubmitArgs) -> anyhow::Result<ExitCode> {
    let base = args.server.trim_end_matches('/');
    let stack_config: Value = match &args.stack_config {
        Some(p) => {
            let text = std::fs::read_to_string(p).with_context(|| format!("cannot read {}", p.display()))?;
            let yaml: serde_yaml::Value =
                serde_yaml::from_str(&text).with_context(|| format!("{} is not YAML or JSON", p.display()))?;
            serde_json::to_value(yaml)?
        }
        None => json!({}),
    };
    let body = json!({
        "name": args.name,
        "git_sha": args.git_sha,
        "stack_config": if stack_config.is_null() { json!({}) } else { stack_config },
        "suite": { "tags": args.tags, "scenarios": args.scenarios },
        "baseline": args.baseline,
    });
    let agent = ureq::AgentBuilder::new().timeout(Duration::from_secs(60)).build();
    let key = uuid::Uuid::new_v4().to_string();
    let auth = format!("Bearer {}", args.token);
    // Retried with the same Idempotency-Key: a lost answer never creates a second candidate.
    let mut created: Option<Value> = None;
    let mut last_error = None;
    for attempt in 0..3 {
        match agent
            .post(&format!("{base}/api/v1/candidates"))
            .set("Authorization", &auth)
            .set("Idempotency-Key", &key)
            .send_json(&body)
        {
            Ok(resp) => {
                created = Some(resp.into_json()?);
                break;
            }
            Err(ureq::Error::Transport(t)) if attempt < 2 => {
                last_error = Some(t.to_string());
                std::thread::sleep(Duration::from_secs(2));
            }
            Err(e) => return Err(problem(e)),
        }
    }
    let created = created.ok_or_else(|| anyhow!("cannot reach the farm: {}", last_error.unwrap_or_default()))?;
    let id = created["id"].as_str().ok_or_else(|| anyhow!("unexpected answer: {created}"))?.to_owned();
    println!("candidate {} ({id}): {} runs", args.name, created["runs_total"]);
    println!("{base}/api/v1/candidates/{id}");
    if !args.wait {
        return Ok(ExitCode::SUCCESS);
    }
    let detail = loop {
        let d: Value = agent.get(&format!("{base}/api/v1/candidates/{id}")).call().map_err(problem)?.into_json()?;
        let total = d["runs_total"].as_i64().unwrap_or(0);
        let counts = d["counts"].as_object().cloned().unwrap_or_default();
        let pending: i64 =
            ["queued", "running"].iter().map(|s| counts.get(*s).and_then(Value::as_i64).unwrap_or(0)).sum();
        // A run that failed once is queued again for its confirmation re-run: it is neither done
        // nor a pass, and the progress line says so rather than flatter the pass rate.
        let awaiting = d["awaiting_confirmation"].as_i64().unwrap_or(0);
        let finished = total - pending;
        eprintln!(
            "{finished}/{total} runs done, pass rate {:.1} % of those; {awaiting} failed once and await their confirmation re-run",
            d["pass_rate"].as_f64().unwrap_or(0.0) * 100.0
        );
        if d["status"] == "done" {
            break d;
        }
        std::thread::sleep(Duration::from_secs(args.poll_seconds.max(1)));
    };
    if let Some(path) = &args.junit {
        let xml =
            agent.get(&format!("{base}/api/v1/candidates/{id}/junit.xml")).call().map_err(problem)?.into_string()?;
        std::fs::write(path, xml).with_context(|| format!("cannot write {}", path.display()))?;
    }
    let gate = &detail["gate"];
    let mut out = std::io::stdout().lock();
    // The comparison with the baseline, when there is one (404 when none is named and none passed).
    if let Ok(resp) = agent.get(&format!("{base}/api/v1/candidates/{id}/compare")).call() {
        let c: Value = resp.into_json()?;
        let o = &c["overall"];
        writeln!(
            out,
            "against {}: {} regressions, {} fixes, {} still failing, {} new variants; pass rate {:.1} % (95 % CI {:.1}-{:.1}) vs {:.1} %; McNemar p = {:.4}{}",
            c["baseline_name"].as_str().unwrap_or("?"),
            o["regressions"],
            o["fixes"],
            c["still_failing"],
            c["new_variants"],
            o["candidate"]["rate"].as_f64().unwrap_or(0.0) * 100.0,
            o["candidate"]["low"].as_f64().unwrap_or(0.0) * 100.0,
            o["candidate"]["high"].as_f64().unwrap_or(0.0) * 100.0,
            o["baseline"]["rate"].as_f64().unwrap_or(0.0) * 100.0,
            o["p_value"].as_f64().unwrap_or(1.0),
            if o["significant_regression"] == true { " (significant regression)" } else { "" }
        )?;
        for r in c["regressions"].as_array().into_iter().flatten().take(10) {
            writeln!(
                out,
                "  regression: {} {} ({})",
                r["scenario"].as_str().unwrap_or(""),
                r["variant_key"].as_str().unwrap_or(""),
                r["reason"].as_str().unwrap_or("")
            )?;
        }
    }
    writeln!(out, "gate: {}", gate["verdict"].as_str().unwrap_or("unknown"))?;
    for r in gate["reasons"].as_array().into_iter().flatten() {
        writeln!(out, "  - {}", r.as_str().unwrap_or_default())?;
    }
    Ok(if gate["verdict"] == "pass" { ExitCode::SUCCESS } else { ExitCode::FAILURE })
}
