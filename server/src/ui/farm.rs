//! The operator's page: the queue by status, workers with when they were last seen and what they
//! hold, throughput, and the latest runs in `error`.

use axum::extract::State;
use maud::html;

use super::format::{self, status};
use super::{layout, PageResult, Section};
use crate::api::Shared;
use crate::domain::run::RunStatus;
use crate::usecases::browse;

/// A worker unseen for this long is shown as gone, ms.
const GONE_AFTER_MS: i64 = 60_000;

/// `GET /farm`.
pub async fn page(State(state): State<Shared>) -> PageResult {
    let f = browse::farm_state(&state.farm).await?;
    let body = html! {
        h1 { "Farm" }
        section #queue {
            h2 { "Queue by status" }
            table.list {
                thead { tr { th scope="col" { "Status" } th scope="col" { "Runs" } } }
                tbody {
                    @for st in RunStatus::ALL {
                        tr { td { (status(st)) } td { (f.queue.iter().find(|(s, _)| *s == st).map_or(0, |(_, n)| *n)) } }
                    }
                }
            }
        }
        section #throughput {
            h2 { "Throughput" }
            p { (f.finished_last_minute) " results in the last minute · " (f.finished_last_hour) " in the last hour (" (format::num(f.finished_last_hour as f64 / 60.0, 1)) " per minute)" }
        }
        section #workers {
            h2 { "Workers" }
            @if f.workers.is_empty() { p.muted { "No worker has claimed a run yet." } } @else {
                table.list {
                    thead { tr { th scope="col" { "Worker" } th scope="col" { "Version" } th scope="col" { "Started" } th scope="col" { "Last seen" } th scope="col" { "Runs in flight" } th scope="col" { "State" } } }
                    tbody {
                        @for w in &f.workers {
                            tr {
                                td { code { (w.id) } } td { (w.version) } td { (format::time(w.started_at)) }
                                td { (format::ago(w.last_seen_at, f.now)) } td { (w.in_flight) }
                                td { @if f.now - w.last_seen_at > GONE_AFTER_MS { "✘ gone" } @else { "✔ live" } }
                            }
                        }
                    }
                }
            }
        }
        section #errors {
            h2 { "Recent errors" }
            @if f.errors.is_empty() { p.muted { "No run ended in error." } } @else {
                table.list {
                    thead { tr { th scope="col" { "When" } th scope="col" { "Scenario" } th scope="col" { "Run" } th scope="col" { "Why" } } }
                    tbody {
                        @for e in &f.errors {
                            tr {
                                td { @if let Some(t) = e.finished_at { (format::time(t)) } @else { "—" } }
                                td { (e.scenario_id) }
                                td { a href={ "/runs/" (e.run_id) } { "run" } " of " a href={ "/candidates/" (e.candidate_id) } { "candidate" } }
                                td { (e.reason.as_deref().unwrap_or("")) }
                            }
                        }
                    }
                }
            }
        }
        p.muted { "Read at " (format::time(f.now)) ". Prometheus metrics: " a href="/metrics" { "/metrics" } "." }
    };
    Ok(layout("Farm", Section::Farm, body))
}
