//! The candidates list (newest first, filter by name, keyset pages) and a candidate's page: gate
//! and reasons, live progress, pass rates by tag and scenario, the comparison with its baseline,
//! the configuration diff, coverage, latency against the budgets, downloads.

use std::collections::BTreeMap;

use axum::extract::{Path, Query, State};
use axum::response::{IntoResponse, Response};
use axum::Json;
use maud::{html, Markup};
use serde::Deserialize;

use super::format::{self, pct, rate, status};
use super::{layout, parse_id, PageError, PageResult, Section};
use crate::api::Shared;
use crate::domain::compare::Flip;
use crate::domain::ids::CandidateId;
use crate::domain::run::RunStatus;
use crate::usecases::browse::{self, CandidatePage, Cursor, GroupRate, RunListQuery};

/// Candidates per page.
const PAGE: i64 = 25;

/// The list's query string.
#[derive(Debug, Deserialize)]
pub struct ListQuery {
    /// Part of a name.
    q: Option<String>,
    /// The previous page's cursor.
    before: Option<String>,
}

/// `GET /`: the candidates.
pub async fn list(State(state): State<Shared>, Query(query): Query<ListQuery>) -> PageResult {
    let name = query.q.as_deref().map(str::trim).filter(|q| !q.is_empty());
    let before = query.before.as_deref().and_then(Cursor::decode);
    let (rows, next) = browse::candidates_page(&state.farm, name, before.as_ref(), PAGE).await?;
    let body = html! {
        h1 { "Candidates" }
        form.filter method="get" action="/" role="search" {
            label for="q" { "Name contains" }
            input #q type="search" name="q" value=(name.unwrap_or("")) placeholder="e.g. rc1";
            button type="submit" { "Filter" }
            @if name.is_some() { a href="/" { "clear" } }
        }
        @if rows.is_empty() {
            p.muted { "No candidate yet. Post one with " code { "farm submit" } " or " code { "POST /api/v1/candidates" } "." }
        } @else {
            table.list #candidates {
                thead { tr {
                    th scope="col" { "Candidate" } th scope="col" { "Posted" } th scope="col" { "Progress" }
                    th scope="col" { "Gate" } th scope="col" { "Pass rate [95 % CI]" } th scope="col" { "Runs" } th scope="col" { "Baseline" }
                } }
                tbody {
                    @for r in &rows {
                        @let finished = r.finished();
                        @let total = r.total();
                        tr {
                            td { a href={ "/candidates/" (r.candidate.id) } { (r.candidate.name) } }
                            td.nowrap { (format::time(r.candidate.created_at)) }
                            td {
                                @if total > 0 && finished == total { "done" } @else if finished == 0 && !r.counts.contains_key(&RunStatus::Running) { "queued" } @else { "running" }
                                " " (finished) "/" (total)
                                (format::bar(if total > 0 { finished as f64 / total as f64 } else { 0.0 }))
                            }
                            td { (format::gate(r.candidate.gate.as_ref())) }
                            td { (rate(&r.rate)) }
                            td.counts {
                                @for (s, n) in &r.counts { span.count { (status(*s)) " " (n) } " " }
                            }
                            td { (r.candidate.baseline.as_deref().unwrap_or("last passed")) }
                        }
                    }
                }
            }
        }
        nav.pages aria-label="Pages" {
            @if before.is_some() { a href={ "/" @if let Some(q) = name { "?q=" (q) } } { "⇤ newest" } " " }
            @if let Some(n) = next {
                a rel="next" href={ "/?before=" (n.encode()) @if let Some(q) = name { "&q=" (q) } } { "older →" }
            }
        }
    };
    Ok(layout("Candidates", Section::Candidates, body))
}

/// The candidate page's query string.
#[derive(Debug, Deserialize)]
pub struct PageQuery {
    /// Heatmap x dimension.
    x: Option<String>,
    /// Heatmap y dimension.
    y: Option<String>,
}

/// `GET /candidates/{id}/stack-config.json`: the configuration to reproduce runs locally.
pub async fn stack_config(State(state): State<Shared>, Path(id): Path<String>) -> Result<Response, PageError> {
    let id = parse_id(&id, CandidateId::parse, "candidate")?;
    let config = browse::stack_config(&state.farm, &id).await?;
    Ok(Json(config).into_response())
}

/// `GET /candidates/{id}`.
pub async fn page(State(state): State<Shared>, Path(id): Path<String>, Query(query): Query<PageQuery>) -> PageResult {
    let id = parse_id(&id, CandidateId::parse, "candidate")?;
    let axes = query.x.as_deref().zip(query.y.as_deref());
    let p = browse::candidate_page(&state.farm, &id, axes).await?;
    let c = &p.view.candidate;
    let body = html! {
        h1 { "Candidate " (c.name) }
        p.meta {
            "Posted " (format::time(c.created_at))
            @if let Some(sha) = &c.git_sha { " · commit " code { (sha) } }
            " · configuration " code title="SHA-256 of the stack configuration" { (c.config_hash.get(..12).unwrap_or(&c.config_hash)) }
            " · suite "
            @if c.suite.tags.is_empty() && c.suite.scenarios.is_empty() { "whole catalog" }
            @else { (c.suite.tags.iter().chain(&c.suite.scenarios).cloned().collect::<Vec<_>>().join(", ")) }
        }
        (gate_section(&p))
        (progress_section(&p))
        (downloads(&id))
        (comparison_section(&p))
        (config_section(&p))
        (scores_section(&p.runs))
        (rates_section("Pass rate by tag", "by-tag", &browse::group_rates(&p.runs, true), false))
        (rates_section("Pass rate by scenario", "by-scenario", &browse::group_rates(&p.runs, false), true))
        (latency_section(&p, &state.farm.gate.latency_budget_us))
        (coverage_section(&p, &id))
        (failing_runs(&p))
    };
    Ok(layout(&format!("Candidate {}", c.name), Section::Candidates, body))
}

fn gate_section(p: &CandidatePage) -> Markup {
    let gate = p.view.gate.as_ref();
    html! {
        section #gate aria-labelledby="gate-h" {
            h2 #gate-h { "Gate " (format::gate(gate)) }
            @match gate {
                Some(g) if g.reasons.is_empty() => p { "Every rule of the gate policy held." },
                Some(g) => ul.reasons { @for r in &g.reasons { li { "✘ " (r) } } },
                None => p.muted { "The gate is decided once, when the last run has its result." },
            }
        }
    }
}

fn progress_section(p: &CandidatePage) -> Markup {
    let s = &p.view.stats;
    let total: i64 = s.counts.values().sum();
    let queued = s.counts.get("queued").copied().unwrap_or(0);
    let running = s.counts.get("running").copied().unwrap_or(0);
    let finished = total - queued - running;
    let awaiting = p.awaiting_confirmation.len();
    html! {
        section #progress data-candidate=(p.view.candidate.id) data-status=(s.status) aria-live="polite" {
            h2 { "Progress" }
            p {
                strong #progress-status { (s.status) } " · "
                span #progress-count { (finished) "/" (total) " runs have their result" }
                (format::bar(if total > 0 { finished as f64 / total as f64 } else { 0.0 }))
            }
            ul.counts {
                @for st in RunStatus::ALL {
                    @let n = s.counts.get(st.as_str()).copied().unwrap_or(0);
                    @if n > 0 { li { (status(st)) " " span data-count=(st.as_str()) { (n) } } }
                }
                @if awaiting > 0 {
                    li { (format::awaiting()) " " (awaiting) " (failed once, queued for a confirmation re-run; not counted as passed or failed)" }
                }
            }
            p { "Overall pass rate: " (pct(s.pass_rate)) " of finished runs · deadline-miss rate " (format::num(s.deadline_miss_rate * 100.0, 2)) " %" }
            @if s.status != "done" { p.muted { "This page follows the candidate while it runs." } }
        }
    }
}

fn downloads(id: &CandidateId) -> Markup {
    html! {
        section #downloads {
            h2 { "Downloads" }
            ul.links {
                li { a href={ "/api/v1/candidates/" (id) "/junit.xml" } { "JUnit XML" } }
                li { a href={ "/api/v1/candidates/" (id) } { "JSON (status, pass rates, gate)" } }
                li { a href={ "/api/v1/candidates/" (id) "/compare" } { "Comparison JSON" } }
                li { a href={ "/api/v1/candidates/" (id) "/evidence" } { "Evidence pack" } " (needs a release token)" }
                li { a href={ "/candidates/" (id) "/stack-config.json" } { "Stack configuration" } }
            }
        }
    }
}

fn flips(title: &str, id: &str, list: &[Flip], runs: &BTreeMap<String, String>) -> Markup {
    html! {
        h3 #(id) { (title) " (" (list.len()) ")" }
        @if list.is_empty() { p.muted { "None." } } @else {
            table.list {
                thead { tr { th scope="col" { "Scenario" } th scope="col" { "Variant" } th scope="col" { "Baseline" } th scope="col" { "Now" } th scope="col" { "Why" } th scope="col" { "Open" } } }
                tbody {
                    @for f in list {
                        tr {
                            td { a href={ "/scenarios/" (f.scenario) } { (f.scenario) } }
                            td { code { (f.variant_key.get(..12).unwrap_or(&f.variant_key)) } }
                            td { (badge_of(&f.baseline)) }
                            td { (badge_of(&f.candidate)) }
                            td { (f.reason.as_deref().unwrap_or("")) }
                            td.nowrap {
                                @if let Some(run) = runs.get(&f.variant_key) {
                                    a href={ "/runs/" (run) } { "run" } " · "
                                    a href={ "/runs/" (run) "/side-by-side" } { "side by side" }
                                }
                            }
                        }
                    }
                }
            }
        }
    }
}

fn badge_of(s: &str) -> Markup {
    match s.parse::<RunStatus>() {
        Ok(st) => status(st),
        Err(_) => html! { (s) },
    }
}

fn comparison_section(p: &CandidatePage) -> Markup {
    let runs: BTreeMap<String, String> = p.runs.iter().map(|r| (r.variant_key.to_string(), r.id.to_string())).collect();
    html! {
        section #comparison {
            h2 { "Against the baseline" }
            @match &p.comparison {
                Err(why) => p.muted { (why) },
                Ok(c) => {
                    p {
                        "Baseline " a href={ "/candidates/" (c.baseline_id) } { (c.baseline_name) } ": "
                        (c.paired) " variants paired · "
                        strong { (c.regressions.len()) " regressions" } " · " (c.fixes.len()) " fixes · "
                        (c.still_failing) " still failing · " (c.new_variants) " new variants"
                        @if c.dropped_variants > 0 { " · " (c.dropped_variants) " no longer run" }
                    }
                    p {
                        "Pass rate now " (rate(&c.overall.candidate)) ", baseline " (rate(&c.overall.baseline)) ". "
                        "Exact McNemar p = " (format::num(c.overall.p_value, 4)) " at level " (c.level) ": "
                        @if c.overall.significant_regression { strong.bad { "✘ significant regression" } } @else { "✔ no significant regression" }
                    }
                    (flips("Regressions", "regressions", &c.regressions, &runs))
                    (flips("Fixes", "fixes", &c.fixes, &runs))
                    (flips("Still failing", "still-failing", &c.still_failing_runs, &runs))
                    (flips("New variants that do not pass", "new-failures", &c.new_failures, &runs))
                    @if !c.by_tag.is_empty() {
                        h3 { "By tag" }
                        table.list.sortable {
                            thead { tr { th scope="col" { "Tag" } th scope="col" { "Now" } th scope="col" { "Baseline" } th scope="col" { "Regressions" } th scope="col" { "Fixes" } th scope="col" { "p" } th scope="col" { "Significant?" } } }
                            tbody {
                                @for (tag, g) in &c.by_tag {
                                    tr {
                                        td { (tag) } td data-sort=(g.candidate.rate) { (rate(&g.candidate)) } td data-sort=(g.baseline.rate) { (rate(&g.baseline)) }
                                        td { (g.regressions) } td { (g.fixes) } td { (format::num(g.p_value, 4)) }
                                        td { @if g.significant_regression { "✘ yes" } @else { "no" } }
                                    }
                                }
                            }
                        }
                    }
                    @if !c.metric_deltas.is_empty() {
                        h3 { "Metric deltas (mean over paired runs)" }
                        table.list.sortable {
                            thead { tr { th scope="col" { "Scenario" } th scope="col" { "Metric" } th scope="col" { "Baseline" } th scope="col" { "Now" } th scope="col" { "Δ" } th scope="col" { "Pairs" } } }
                            tbody {
                                @for (scenario, metrics) in &c.metric_deltas {
                                    @for (metric, d) in metrics {
                                        @if d.delta.abs() > 1e-9 {
                                            tr {
                                                td { (scenario) } td { (metric) } td { (format::num(d.baseline, 3)) } td { (format::num(d.candidate, 3)) }
                                                td data-sort=(d.delta) { @if d.delta > 0.0 { "+" } (format::num(d.delta, 3)) } td { (d.pairs) }
                                            }
                                        }
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
    }
}

fn config_section(p: &CandidatePage) -> Markup {
    html! {
        @if let Some(b) = &p.baseline {
            section #config {
                h2 { "Configuration against " (b.name) }
                @if p.config_changes.is_empty() { p { "Same stack configuration as the baseline." } } @else {
                    table.list {
                        thead { tr { th scope="col" { "Key" } th scope="col" { "Baseline" } th scope="col" { "Now" } } }
                        tbody { @for ch in &p.config_changes { tr { td { code { (ch.key) } } td { (ch.baseline.as_deref().unwrap_or("—")) } td { (ch.candidate.as_deref().unwrap_or("—")) } } } }
                    }
                }
            }
        }
    }
}

/// Points per scored scenario (protocols score as they do) and for the suite; nothing when no
/// scenario of the candidate is scored.
fn scores_section(runs: &[crate::domain::run::Run]) -> Markup {
    let (by_scenario, suite) = crate::domain::report::run_score_totals(runs);
    let share = |(p, m): (f64, f64)| if m > 0.0 { p / m } else { 0.0 };
    html! {
        @if !by_scenario.is_empty() {
            section #scores {
                h2 { "Scores" }
                p { "Suite: " strong { (format::num(suite.0, 2)) " of " (format::num(suite.1, 2)) " points" } " (" (pct(share(suite))) ")" }
                table.list.sortable {
                    thead { tr { th scope="col" { "Scenario" } th scope="col" { "Points" } th scope="col" { "Of" } th scope="col" { "Share" } } }
                    tbody {
                        @for (id, t) in &by_scenario {
                            tr {
                                td { a href={ "/scenarios/" (id) } { (id) } }
                                td data-sort=(t.0) { (format::num(t.0, 2)) }
                                td { (format::num(t.1, 2)) }
                                td data-sort=(share(*t)) { (pct(share(*t))) (format::bar(share(*t))) }
                            }
                        }
                    }
                }
            }
        }
    }
}

fn rates_section(title: &str, id: &str, rates: &[GroupRate], scenario_links: bool) -> Markup {
    html! {
        section id=(id) {
            h2 { (title) }
            table.list.sortable {
                thead { tr { th scope="col" { "Name" } th scope="col" { "Pass rate [95 % CI]" } th scope="col" { "Finished" } th scope="col" { "Pending" } } }
                tbody {
                    @for g in rates {
                        tr {
                            td { @if scenario_links { a href={ "/scenarios/" (g.name) } { (g.name) } } @else { (g.name) } }
                            td data-sort=(if g.rate.total > 0 { g.rate.rate } else { -1.0 }) { (rate(&g.rate)) (format::bar(g.rate.rate)) }
                            td { (g.rate.total) } td { (g.pending) }
                        }
                    }
                }
            }
        }
    }
}

fn latency_section(p: &CandidatePage, budgets: &BTreeMap<String, f64>) -> Markup {
    html! {
        section #latency {
            h2 { "Latency per module (µs)" }
            p.muted { "Budgets judge the thread's CPU time, which is the same on a busy and an idle farm; wall time is shown beside it." }
            @if p.view.stats.latency.is_empty() { p.muted { "No run has reported CPU-time latency yet." } } @else {
                table.list {
                    thead { tr { th scope="col" { "Module" } th scope="col" { "CPU p50" } th scope="col" { "CPU p99" } th scope="col" { "Wall p99" } th scope="col" { "Budget (CPU p99)" } th scope="col" { "Within budget?" } } }
                    tbody {
                        @for (module, l) in &p.view.stats.latency {
                            @let budget = budgets.get(module);
                            tr {
                                td { (module) } td { (format::num(l.p50, 1)) } td { (format::num(l.p99, 1)) }
                                td { @if let Some(w) = p.view.stats.wall_latency.get(module) { (format::num(w.p99, 1)) } @else { "—" } }
                                td { @if let Some(b) = budget { (format::num(*b, 0)) } @else { "—" } }
                                td { @match budget { Some(b) if l.p99 > *b => span.bad { "✘ over by " (format::num(l.p99 - b, 1)) }, Some(_) => "✔ within", None => "no budget" } }
                            }
                        }
                    }
                }
            }
        }
    }
}

fn coverage_section(p: &CandidatePage, id: &CandidateId) -> Markup {
    let Some(cov) = &p.coverage else { return html! {} };
    html! {
        section #coverage {
            h2 { "ODD coverage" }
            p { (cov.exercised) " of " (cov.declared) " cells exercised (" (pct(cov.exercised_share)) "), " (cov.passed) " with every run passing; " (cov.holes_total) " holes." }
            @if let Some(h) = &cov.heatmap {
                form.filter method="get" action={ "/candidates/" (id) } {
                    label for="hx" { "x" }
                    select #hx name="x" { @for d in &cov.dimensions { option value=(d) selected[*d == h.x] { (d) } } }
                    label for="hy" { "y" }
                    select #hy name="y" { @for d in &cov.dimensions { option value=(d) selected[*d == h.y] { (d) } } }
                    button type="submit" { "Show" }
                }
                table.heatmap {
                    caption { "Pass rate per cell: " (h.y) " (rows) by " (h.x) " (columns); “hole” marks a cell no run exercised" }
                    thead { tr { th scope="col" { (h.y) " \\ " (h.x) } @for xb in &h.x_bins { th scope="col" { (xb) } } } }
                    tbody {
                        @for (yi, yb) in h.y_bins.iter().enumerate() {
                            tr {
                                th scope="row" { (yb) }
                                @for xi in 0..h.x_bins.len() {
                                    @let cell = h.cells.get(yi).and_then(|row| row.get(xi));
                                    @match cell {
                                        Some(c) if c.runs > 0 => {
                                            @let r = c.rate.unwrap_or(0.0);
                                            td style={ "background:hsl(" (format::num(r * 120.0, 0)) ",60%,85%)" } { (c.passed) "/" (c.runs) br; span.muted { (pct(r)) } }
                                        }
                                        _ => td.hole { "hole" },
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
    }
}

fn failing_runs(p: &CandidatePage) -> Markup {
    let awaiting: std::collections::BTreeSet<&str> = p.awaiting_confirmation.iter().map(|r| r.as_str()).collect();
    let shown: Vec<_> =
        p.runs.iter().filter(|r| r.status != RunStatus::Passed || awaiting.contains(r.id.as_str())).take(200).collect();
    html! {
        section #runs {
            h2 { "Runs that did not pass" }
            p { a href={ "/candidates/" (p.view.candidate.id) "/runs" } { "All runs, filtered by status, tag or scenario →" } }
            @if shown.is_empty() { p.muted { "None." } } @else {
                table.list.sortable {
                    thead { tr { th scope="col" { "Scenario" } th scope="col" { "Variant" } th scope="col" { "Status" } th scope="col" { "Why" } } }
                    tbody {
                        @for r in shown {
                            tr {
                                td { a href={ "/scenarios/" (r.scenario_id) } { (r.scenario_id) } }
                                td { a href={ "/runs/" (r.id) } { code { (r.variant_key.as_str().get(..12).unwrap_or("")) } } }
                                td { @if awaiting.contains(r.id.as_str()) { (format::awaiting()) } @else { (status(r.status)) } }
                                td { (r.reason.as_deref().unwrap_or("")) }
                            }
                        }
                    }
                }
            }
        }
    }
}

/// Runs per page of the run list.
const RUNS_PAGE: i64 = 100;

/// The run list's query string.
#[derive(Debug, Deserialize)]
pub struct RunsQuery {
    /// Status.
    status: Option<String>,
    /// Tag.
    tag: Option<String>,
    /// Scenario id.
    scenario: Option<String>,
    /// The previous page's cursor.
    after: Option<i64>,
}

/// `GET /candidates/{id}/runs`: a candidate's runs, filtered, a page at a time.
pub async fn runs(State(state): State<Shared>, Path(id): Path<String>, Query(q): Query<RunsQuery>) -> PageResult {
    let id = parse_id(&id, CandidateId::parse, "candidate")?;
    let nonempty = |s: &Option<String>| s.as_deref().map(str::trim).filter(|s| !s.is_empty()).map(str::to_owned);
    let wanted =
        match nonempty(&q.status) {
            Some(s) => Some(s.parse::<RunStatus>().map_err(|e| {
                PageError::from(crate::usecases::UseCaseError::invalid("invalid_status", e.to_string()))
            })?),
            None => None,
        };
    let (tag, scenario) = (nonempty(&q.tag), nonempty(&q.scenario));
    let query = RunListQuery { status: wanted, tag: tag.clone(), scenario: scenario.clone(), after: q.after };
    let (rows, next) = browse::run_list(&state.farm, &id, query, RUNS_PAGE).await?;
    let filters = |after: &str| {
        let mut parts = Vec::new();
        if let Some(s) = wanted {
            parts.push(format!("status={s}"));
        }
        if let Some(t) = &tag {
            parts.push(format!("tag={t}"));
        }
        if let Some(s) = &scenario {
            parts.push(format!("scenario={s}"));
        }
        if !after.is_empty() {
            parts.push(format!("after={after}"));
        }
        parts.join("&")
    };
    let body = html! {
        p.crumbs { a href={ "/candidates/" (id) } { "Candidate" } " › runs" }
        h1 { "Runs" }
        form.filter method="get" action={ "/candidates/" (id) "/runs" } {
            label for="status" { "Status" }
            select #status name="status" {
                option value="" selected[wanted.is_none()] { "any" }
                @for st in RunStatus::ALL { option value=(st.as_str()) selected[wanted == Some(st)] { (st.as_str()) } }
            }
            label for="tag" { "Tag" }
            input #tag type="text" name="tag" value=(tag.as_deref().unwrap_or(""));
            label for="scenario" { "Scenario" }
            input #scenario type="text" name="scenario" value=(scenario.as_deref().unwrap_or(""));
            button type="submit" { "Filter" }
        }
        @if rows.is_empty() { p.muted { "No run matches." } } @else {
            table.list #run-list {
                thead { tr { th scope="col" { "#" } th scope="col" { "Scenario" } th scope="col" { "Variant" } th scope="col" { "Status" } th scope="col" { "Why" } } }
                tbody {
                    @for r in &rows {
                        tr {
                            td { (r.ord) }
                            td { a href={ "/scenarios/" (r.scenario_id) } { (r.scenario_id) } }
                            td { a href={ "/runs/" (r.id) } { code { (r.variant_key.as_str().get(..12).unwrap_or("")) } } }
                            td { (status(r.status)) }
                            td { (r.reason.as_deref().unwrap_or("")) }
                        }
                    }
                }
            }
        }
        nav.pages aria-label="Pages" {
            @if q.after.is_some() { a href={ "/candidates/" (id) "/runs?" (filters("")) } { "⇤ first" } " " }
            @if let Some(n) = next { a rel="next" href={ "/candidates/" (id) "/runs?" (filters(&n)) } { "next →" } }
        }
    };
    Ok(layout("Runs", Section::Candidates, body))
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_candidate_page_shows_points_per_scenario_and_for_the_suite() {
        let runs = crate::domain::report::scored_runs(&[("p.ccrs", 1.0, 1.0), ("p.cpna", 0.5, 2.0)]);
        let html = super::scores_section(&runs).into_string();
        assert!(html.contains("Suite: <strong>1.50 of 3.00 points</strong>"), "{html}");
        assert!(html.contains(r#"<a href="/scenarios/p.cpna">p.cpna</a>"#), "{html}");
        assert_eq!(super::scores_section(&[]).into_string(), "");
    }
}
