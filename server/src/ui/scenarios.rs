//! The catalog by domain, and a scenario's page: description, tags, parameters, variants, its YAML
//! and its pass rate across the latest candidates with the variants whose verdict changed.

use std::collections::BTreeMap;

use axum::extract::{Path, State};
use maud::html;

use super::format::{self, rate, status};
use super::{layout, PageError, PageResult, Section};
use crate::api::Shared;
use crate::usecases::{browse, UseCaseError};

/// Candidates a scenario's history goes back.
const HISTORY: i64 = 10;

/// Variants listed on a scenario's page.
const VARIANTS_SHOWN: usize = 200;

/// `GET /scenarios`.
pub async fn list(State(state): State<Shared>) -> PageResult {
    let catalog = state.farm.catalog.catalog();
    let mut by_domain: BTreeMap<&str, Vec<_>> = BTreeMap::new();
    for s in &catalog.scenarios {
        by_domain.entry(s.template().metadata.domain.as_str()).or_default().push(s);
    }
    let body = html! {
        h1 { "Scenarios" }
        p { (catalog.scenarios.len()) " scenarios, " (catalog.scenarios.iter().map(|s| s.variants().len()).sum::<usize>()) " variants." }
        @for (domain, list) in &by_domain {
            section id={ "domain-" (domain) } {
                h2 { (domain) " (" (list.len()) ")" }
                table.list.sortable {
                    thead { tr { th scope="col" { "Scenario" } th scope="col" { "Title" } th scope="col" { "Severity" } th scope="col" { "Tags" } th scope="col" { "Variants" } th scope="col" { "File" } } }
                    tbody {
                        @for s in list {
                            @let m = &s.template().metadata;
                            tr {
                                td { a href={ "/scenarios/" (s.id()) } { (s.id()) } }
                                td { (m.title) } td { (m.severity.as_str()) } td { (m.tags.join(", ")) }
                                td { (s.variants().len()) } td { code { (s.file()) } }
                            }
                        }
                    }
                }
            }
        }
    };
    Ok(layout("Scenarios", Section::Scenarios, body))
}

/// `GET /scenarios/{id}`.
pub async fn page(State(state): State<Shared>, Path(id): Path<String>) -> PageResult {
    let index = &state.farm.catalog;
    let Some(s) = index.catalog().scenarios.iter().find(|s| s.id() == id) else {
        return Err(PageError::from(UseCaseError::not_found(format!("scenario `{id}` in the loaded catalog"))));
    };
    let history = browse::scenario_history(&state.farm, s.id(), HISTORY).await?;
    let m = &s.template().metadata;
    let t = s.template();
    let body = html! {
        p.crumbs { a href="/scenarios" { "Scenarios" } " › " (m.domain.as_str()) }
        h1 { (m.title) }
        p { code { (s.id()) } " · " (m.domain.as_str()) " · severity " (m.severity.as_str()) " · owner " (m.owner) }
        p.description { (m.description) }
        p { "Tags: " @for tag in m.all_tags() { span.tag { (tag) } " " } }
        section #history {
            h2 { "History across the latest candidates" }
            @if history.points.is_empty() { p.muted { "No candidate has run this scenario yet." } } @else {
                table.list {
                    thead { tr { th scope="col" { "Candidate (newest first)" } th scope="col" { "Pass rate [95 % CI]" } } }
                    tbody {
                        @for pnt in &history.points {
                            tr { td { a href={ "/candidates/" (pnt.candidate_id) } { (pnt.candidate_name) } } td { (rate(&pnt.rate)) (format::bar(pnt.rate.rate)) } }
                        }
                    }
                }
                h3 { "Variants whose verdict changed (" (history.changed.len()) ")" }
                @if history.changed.is_empty() { p.muted { "Every variant had the same verdict in every candidate." } } @else {
                    table.list #changed {
                        thead { tr { th scope="col" { "Variant" } @for pnt in &history.points { th scope="col" { (pnt.candidate_name) } } } }
                        tbody {
                            @for v in &history.changed {
                                tr {
                                    td { code { (v.variant_key.get(..12).unwrap_or(&v.variant_key)) } }
                                    @for o in &v.outcomes {
                                        td { @match o { Some((st, run)) => a href={ "/runs/" (run) } { (status(*st)) }, None => span.muted { "not run" } } }
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
        section #parameters {
            h2 { "Parameters" }
            @if t.parameters.is_empty() { p.muted { "None: the scenario has one variant per seed." } } @else {
                dl.grid { @for (name, p) in &t.parameters { dt { (name) } dd { code { (serde_json::to_string(p).unwrap_or_default()) } } } }
            }
        }
        section #variants {
            h2 { "Variants (" (s.variants().len()) ")" }
            table.list.sortable {
                thead { tr { th scope="col" { "#" } th scope="col" { "Key" } th scope="col" { "Parameters" } th scope="col" { "Seed" } } }
                tbody {
                    @for v in s.variants().iter().take(VARIANTS_SHOWN) {
                        tr {
                            td { (v.index) } td { code { (v.key) } }
                            td { (v.params.iter().map(|(k, x)| format!("{k}={x}")).collect::<Vec<_>>().join(", ")) }
                            td { (v.seed) }
                        }
                    }
                }
            }
            @if s.variants().len() > VARIANTS_SHOWN { p.muted { "First " (VARIANTS_SHOWN) " shown; " code { "farm variants " (s.file()) } " lists all." } }
        }
        section #yaml {
            h2 { "YAML " code { (s.file()) } }
            pre.yaml { code { (index.source(s).unwrap_or("(source not loaded)")) } }
        }
    };
    Ok(layout(&m.title, Section::Scenarios, body))
}
