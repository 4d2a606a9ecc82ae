//! A run's page (verdict, criteria, metrics, parameters, the reproduction command, the scenario's
//! YAML, and the replay with its plots) and the side-by-side replay of the baseline's run of the
//! same variant beside the candidate's, in lockstep. The replay itself is `assets/ui.js`; it reads
//! the run's trace from `GET /api/v1/runs/{id}/trace`.

use axum::extract::{Path, State};
use maud::{html, Markup, PreEscaped};
use serde_json::json;

use super::format::{self, status};
use super::{layout, parse_id, PageResult, Section};
use crate::api::Shared;
use crate::domain::ids::RunId;
use crate::domain::run::{Run, RunStatus};
use crate::usecases::browse::{self, RunPage};

/// When the run failed, and what: the moment its first failed criterion was decided (results
/// carry it since criteria have `decided_at`), else for older results the collision or the minimum
/// TTC or distance, `null` when the trace must say (a peak of deceleration, jerk or lateral
/// acceleration: the replay finds the peak), or the end of the run.
fn failure(run: &Run) -> Option<serde_json::Value> {
    let r = run.result.as_ref()?;
    let first = r.criteria.iter().find(|c| !c.passed);
    let (criterion, t) = match first {
        Some(c) if c.decided_at.is_some() => (c.criterion.clone(), c.decided_at),
        _ => legacy_failure(run, first.map(|c| c.criterion.as_str()))?,
    };
    let label =
        first.map_or_else(|| r.reason.clone().unwrap_or_default(), |c| format!("{}: {}", c.criterion, c.message));
    Some(json!({ "criterion": criterion, "t": t, "label": label }))
}

/// The failure's moment in results stored before criteria carried `decided_at`.
fn legacy_failure(run: &Run, first: Option<&str>) -> Option<(String, Option<f64>)> {
    let r = run.result.as_ref()?;
    let m = &r.metrics;
    let collision = m.collisions.first();
    let (criterion, t) = match first {
        Some("no_collision") => ("no_collision", collision.map(|c| c.time)),
        Some("min_ttc") => ("min_ttc", m.min_ttc.as_ref().map(|e| e.time)),
        Some("min_distance") => ("min_distance", m.min_distance.as_ref().map(|e| e.time)),
        Some(c @ ("max_decel" | "max_jerk" | "max_lateral_accel")) => (c, None),
        Some(c) => (c, Some(r.sim_s)),
        None => match collision {
            Some(c) => ("collision", Some(c.time)),
            None if run.status.is_failure() => ("timeout", Some(r.sim_s)),
            None => return None,
        },
    };
    Some((criterion.to_owned(), t))
}

/// Moments worth a jump besides the trace's own events: collisions.
fn marks(run: &Run) -> Vec<serde_json::Value> {
    run.result.as_ref().map_or_else(Vec::new, |r| {
        r.metrics
            .collisions
            .iter()
            .map(|c| json!({ "t": c.time, "label": format!("collision with {}", c.with) }))
            .collect()
    })
}

/// The data island the replay script reads (JSON inside a `<script>`; `<` escaped so no text can
/// close the element).
fn replay_data(traces: &[(&Run, String)]) -> Markup {
    let value = json!({
        "traces": traces.iter().map(|(run, label)| json!({
            "url": format!("/api/v1/runs/{}/trace", run.id),
            "label": label,
            "status": run.status.as_str(),
            "failure": failure(run).unwrap_or(serde_json::Value::Null),
            "marks": marks(run),
        })).collect::<Vec<_>>(),
    });
    let text = value.to_string().replace('<', "\\u003c");
    html! { script #replay-data type="application/json" { (PreEscaped(text)) } }
}

/// The replay's canvas(es), controls and plots; the script fills them in.
fn replay(traces: &[(&Run, String)]) -> Markup {
    html! {
        section #replay aria-label="Replay" {
            (replay_data(traces))
            div.views {
                @for (i, (run, label)) in traces.iter().enumerate() {
                    figure.view {
                        canvas.scene id={ "scene-" (i) } width="640" height="360" aria-label={ "Top-down replay of " (label) } {}
                        figcaption { (label) " · " (status(run.status)) " · " span.source id={ "source-" (i) } { "loading trace…" } }
                    }
                }
            }
            div.controls role="group" aria-label="Replay controls" {
                button #play type="button" title="Play or pause (space)" { "▶ play" }
                button #step-back type="button" title="One tick back (←)" { "◀ tick" }
                button #step-fwd type="button" title="One tick forward (→)" { "tick ▶" }
                label for="speed" { "speed" }
                select #speed {
                    @for s in ["0.25", "0.5", "1", "2", "4", "8"] { option value=(s) selected[s == "1"] { (s) "×" } }
                }
                button #jump-failure type="button" { "⚑ jump to failure" }
                input #scrub type="range" min="0" max="0" value="0" step="1" aria-label="Time";
                output #replay-time for="scrub" { "t = 0.00 s" }
            }
            div #events role="group" aria-label="Jump to an event" {}
            div #plots {}
            p.muted { "Keys: space plays or pauses, ← and → step one tick (with shift: one second). Click a plot to move the replay there." }
        }
    }
}

/// `GET /runs/{id}`.
pub async fn page(State(state): State<Shared>, Path(id): Path<String>) -> PageResult {
    let id = parse_id(&id, RunId::parse, "run")?;
    let p = browse::run_page(&state.farm, &id).await?;
    let r = &p.run;
    let label = format!("{} · {}", p.candidate.name, r.scenario_id);
    let body = html! {
        p.crumbs { a href={ "/candidates/" (p.candidate.id) } { "Candidate " (p.candidate.name) } " › run" }
        h1 { "Run of " a href={ "/scenarios/" (r.scenario_id) } { (r.scenario_id) } " " (status(r.status)) }
        @if let Some(reason) = &r.reason { p.reason { (reason) } }
        @if p.baseline_run.is_some() {
            p { a href={ "/runs/" (r.id) "/side-by-side" } { "Side by side with the baseline's run of this variant" } }
        }
        @if p.has_trace {
            (replay(&[(r, label)]))
        } @else {
            p.muted { "No replay: the run has no trace (it is " (r.status) "; traces exist for runs that passed or failed)." }
        }
        (details(&p))
    };
    Ok(layout(&format!("Run {}", r.scenario_id), Section::Candidates, body))
}

/// `GET /runs/{id}/side-by-side`.
pub async fn side_by_side(State(state): State<Shared>, Path(id): Path<String>) -> PageResult {
    let id = parse_id(&id, RunId::parse, "run")?;
    let p = browse::run_page(&state.farm, &id).await?;
    let r = &p.run;
    let body = html! {
        p.crumbs { a href={ "/candidates/" (p.candidate.id) } { "Candidate " (p.candidate.name) } " › " a href={ "/runs/" (r.id) } { "run" } " › side by side" }
        h1 { "Side by side: " (r.scenario_id) }
        p { "Variant " code { (r.variant_key) } ". Both replays move together; the plots draw the candidate solid and the baseline dashed." }
        @match (&p.baseline, &p.baseline_run) {
            (Some(_), Some(br)) if !p.has_trace || !(br.status == RunStatus::Passed || br.status.is_failure()) => {
                p.muted { "No side-by-side replay: one of the two runs has no trace (" (br.status) " and " (r.status) ")." }
            }
            (Some(b), Some(br)) => {
                (replay(&[(br, format!("baseline {}", b.name)), (r, format!("candidate {}", p.candidate.name))]))
            }
            (Some(b), None) => p.muted { "The baseline " (b.name) " did not run this variant." },
            _ => p.muted { "This candidate has no baseline (none named, and no earlier candidate passed its gate)." },
        }
    };
    Ok(layout(&format!("Side by side {}", r.scenario_id), Section::Candidates, body))
}

fn details(p: &RunPage) -> Markup {
    let r = &p.run;
    let file = p.scenario.as_ref().map_or("catalog/", |s| s.file.as_str());
    let command = format!(
        "curl -so stack-config.json http://HOST/candidates/{}/stack-config.json\nfarm run --variant {} --stack-config stack-config.json {}",
        p.candidate.id, r.variant_key, file
    );
    html! {
        section #reproduce {
            h2 { "Reproduce locally, bit for bit" }
            pre.command { code #repro { (command) } }
            p.muted { "Same binary, variant and configuration give the same digest: " code { (r.digest.as_deref().unwrap_or("—")) } }
        }
        @if let Some(res) = &r.result {
            section #criteria {
                h2 { "Criteria" }
                table.list {
                    thead { tr { th scope="col" { "Criterion" } th scope="col" { "Severity" } th scope="col" { "Outcome" } th scope="col" { "Measured" } th scope="col" { "Threshold" } th scope="col" { "At" } th scope="col" { "What happened" } } }
                    tbody {
                        @for c in &res.criteria {
                            tr {
                                td { (c.criterion) } td { (format!("{:?}", c.severity).to_lowercase()) }
                                td { @if c.passed { span class="badge s-passed" { "✔ held" } } @else { span class="badge s-failed" { "✘ failed" } } }
                                td { @if let Some(v) = c.value { (format::num(v, 3)) } @else { "—" } }
                                td { @if let Some(v) = c.threshold { (format::num(v, 3)) } @else { "—" } }
                                td.nowrap { @if let Some(t) = c.decided_at { "t=" (format::num(t, 2)) " s" } @else { "—" } }
                                td { (c.message) }
                            }
                        }
                    }
                }
            }
            @if let Some(sc) = &res.score {
                section #score {
                    h2 { "Score" }
                    p { strong { (format::num(sc.points, 2)) " of " (format::num(sc.max, 2)) " points" } ": " (sc.outcome) }
                }
            }
            section #metrics {
                h2 { "Metrics" }
                @let m = &res.metrics;
                dl.grid {
                    dt { "Collisions" } dd { @if m.collisions.is_empty() { "none" } @else { @for c in &m.collisions { (c.with) " at t=" (format::num(c.time, 2)) " s, " (format::num(c.relative_speed, 1)) " m/s relative; " } } }
                    dt { "Min TTC" } dd { @if let Some(e) = &m.min_ttc { (format::num(e.value, 2)) " s at t=" (format::num(e.time, 2)) " s" @if let Some(a) = &e.actor { " with " (a) } } @else { "never on a collision course" } }
                    dt { "Min distance" } dd { @if let Some(e) = &m.min_distance { (format::num(e.value, 2)) " m at t=" (format::num(e.time, 2)) " s" @if let Some(a) = &e.actor { " to " (a) } } @else { "—" } }
                    dt { "Max deceleration" } dd { (format::num(m.max_decel, 2)) " m/s²" }
                    dt { "Max jerk" } dd { (format::num(m.max_jerk, 2)) " m/s³" }
                    dt { "Max lateral acceleration" } dd { (format::num(m.max_lateral_accel, 2)) " m/s²" }
                    dt { "Time to goal" } dd { @if let Some(t) = m.time_to_goal { (format::num(t, 2)) " s" } @else { "not reached (" (format::pct(m.progress)) " of the way)" } }
                    dt { "Guardrail activations" } dd { @if m.guardrail_activations.is_empty() { "none" } @else { @for (k, n) in &m.guardrail_activations { (k) " ×" (n) "; " } } }
                    dt { "Fallback engagements" } dd { (m.fallback_engagements) }
                    dt { "Deadline misses" } dd { (m.deadline_misses) }
                    dt { "Simulated" } dd { (format::num(res.sim_s, 2)) " s in " (format::num(res.wall_s, 3)) " s wall" }
                }
            }
            section #params {
                h2 { "Variant" }
                dl.grid {
                    dt { "Key" } dd { code { (r.variant_key) } }
                    dt { "Seed" } dd { code { (res.seed) } }
                    dt { "Digest" } dd { code { (res.digest) } }
                    @for (k, v) in &res.params { dt { (k) } dd { (v) } }
                    @for (k, v) in &r.cell { dt { "ODD " (k) } dd { (v) } }
                }
            }
            @if !res.latency.is_empty() {
                section #run-latency {
                    h2 { "Latency (µs)" }
                    table.list {
                        thead { tr { th scope="col" { "Module" } th scope="col" { "CPU p50" } th scope="col" { "CPU p99" } th scope="col" { "Wall p50" } th scope="col" { "Wall p99" } th scope="col" { "Wall max" } } }
                        tbody {
                            @for (m, l) in &res.latency {
                                @let cpu = res.cpu_latency.get(m);
                                tr {
                                    td { (m) }
                                    td { @if let Some(c) = cpu { (format::num(c.p50, 1)) } @else { "—" } }
                                    td { @if let Some(c) = cpu { (format::num(c.p99, 1)) } @else { "—" } }
                                    td { (format::num(l.p50, 1)) } td { (format::num(l.p99, 1)) } td { (format::num(l.max, 1)) }
                                }
                            }
                        }
                    }
                }
            }
        }
        @if let Some(s) = &p.scenario {
            section #yaml {
                h2 { "Scenario " code { (s.file) } }
                pre.yaml { code { (s.body) } }
            }
        }
    }
}
