//! Evidence packs: one zip per candidate that a release manager can open with any zip tool — summary,
//! a self-contained HTML report with SVG charts, JUnit, runs, coverage, comparison, failures with
//! traces and top-down plots, provenance — plus `manifest.sha256` over every file and `manifest.sig`,
//! an Ed25519 signature of the manifest by the farm's key. Building the pack of the same candidate
//! twice gives the same bytes (sorted entries, fixed timestamps, no clocks).

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::io::{Cursor, Read, Write};

use ed25519_dalek::{Signature, Signer, SigningKey, Verifier, VerifyingKey};
use sha2::{Digest, Sha256};

use autonomy_stack::StackConfig;

use super::candidate::Candidate;
use super::compare::Comparison;
use super::coverage::Coverage;
use super::gate::{Gate, GatePolicy};
use super::run::{Run, RunStatus, ScenarioVersion};
use super::stats::CandidateStats;

/// Errors building or verifying a pack.
#[derive(Debug, thiserror::Error)]
pub enum EvidenceError {
    /// The zip could not be written or read.
    #[error("zip: {0}")]
    Zip(#[from] zip::result::ZipError),
    /// I/O.
    #[error("i/o: {0}")]
    Io(#[from] std::io::Error),
    /// The pack is not valid.
    #[error("{0}")]
    Invalid(String),
}

/// A public key the farm signed packs with before a key rotation, as it is published beside the
/// current one (`GET /api/v1/keys`), so packs signed before the rotation stay verifiable.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct PastKey {
    /// The Ed25519 public key, 64 hex digits.
    pub ed25519: String,
    /// What the operator wrote beside it, e.g. "in use until 2026-11-30".
    pub note: String,
}

/// Parses the list of retired public keys: one per line, 64 hex digits then an optional note;
/// blank lines and lines starting with `#` are ignored. A line that is not an Ed25519 public key is
/// an error naming its line, never skipped.
pub fn parse_past_keys(text: &str) -> Result<Vec<PastKey>, EvidenceError> {
    let mut keys = Vec::new();
    for (i, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let (hex_key, note) = line.split_once(char::is_whitespace).unwrap_or((line, ""));
        public_key(hex_key).map_err(|e| EvidenceError::Invalid(format!("line {}: {e}", i + 1)))?;
        keys.push(PastKey { ed25519: hex_key.to_ascii_lowercase(), note: note.trim().to_owned() });
    }
    Ok(keys)
}

/// An Ed25519 public key from 64 hex digits.
pub fn public_key(hex_key: &str) -> Result<VerifyingKey, EvidenceError> {
    let bytes: [u8; 32] = hex::decode(hex_key.trim())
        .ok()
        .and_then(|b| b.try_into().ok())
        .ok_or_else(|| EvidenceError::Invalid(format!("`{hex_key}` is not an Ed25519 public key (64 hex digits)")))?;
    VerifyingKey::from_bytes(&bytes)
        .map_err(|_| EvidenceError::Invalid(format!("`{hex_key}` is not a valid Ed25519 public key")))
}

/// Writes `files` into a zip with sorted entries and fixed timestamps, then adds the manifest and
/// its signature.
pub fn seal(mut files: BTreeMap<String, Vec<u8>>, key: &SigningKey) -> Result<Vec<u8>, EvidenceError> {
    let mut manifest = String::new();
    for (name, body) in &files {
        let _ = writeln!(manifest, "{}  {name}", hex::encode(Sha256::digest(body)));
    }
    let signature = key.sign(manifest.as_bytes());
    files.insert("manifest.sha256".into(), manifest.into_bytes());
    files.insert("manifest.sig".into(), format!("{}\n", hex::encode(signature.to_bytes())).into_bytes());
    let mut zip = zip::ZipWriter::new(Cursor::new(Vec::new()));
    let options = zip::write::SimpleFileOptions::default()
        .compression_method(zip::CompressionMethod::Deflated)
        .last_modified_time(zip::DateTime::default())
        .unix_permissions(0o644);
    for (name, body) in &files {
        zip.start_file(name.as_str(), options)?;
        zip.write_all(body)?;
    }
    Ok(zip.finish()?.into_inner())
}

/// Most entries a pack may have.
pub const MAX_ENTRIES: usize = 100_000;
/// Largest decompressed entry, bytes.
pub const MAX_ENTRY_BYTES: u64 = 64 << 20;
/// Largest decompressed pack, bytes.
pub const MAX_TOTAL_BYTES: u64 = 512 << 20;

/// What verification found.
#[derive(Debug, Clone, PartialEq)]
pub struct Verified {
    /// Files covered by the manifest.
    pub files: usize,
    /// Every file, by name.
    pub contents: BTreeMap<String, Vec<u8>>,
}

/// Checks every hash and the signature, in memory (nothing is extracted), rejecting entries with
/// `..` or absolute paths.
pub fn verify(bytes: &[u8], key: &VerifyingKey) -> Result<Verified, EvidenceError> {
    let mut zip = zip::ZipArchive::new(Cursor::new(bytes))?;
    if zip.len() > MAX_ENTRIES {
        return Err(EvidenceError::Invalid(format!("the pack has {} entries, more than {MAX_ENTRIES}", zip.len())));
    }
    let mut contents = BTreeMap::new();
    let mut total: u64 = 0;
    for i in 0..zip.len() {
        let mut f = zip.by_index(i)?;
        let name = f.name().to_owned();
        if name.starts_with('/')
            || name.starts_with('\\')
            || name.split(['/', '\\']).any(|p| p == "..")
            || name.contains(':')
        {
            return Err(EvidenceError::Invalid(format!("unsafe path in pack: `{name}`")));
        }
        // Sizes are checked before anything is decompressed (the declared size), and while
        // decompressing (a header may lie): a small pack cannot make verification use much memory.
        let declared = f.size();
        if declared > MAX_ENTRY_BYTES {
            return Err(EvidenceError::Invalid(format!(
                "`{name}` would decompress to {declared} bytes, more than the {MAX_ENTRY_BYTES} a pack entry may hold"
            )));
        }
        total += declared;
        if total > MAX_TOTAL_BYTES {
            return Err(EvidenceError::Invalid(format!(
                "the pack would decompress to more than {MAX_TOTAL_BYTES} bytes"
            )));
        }
        let mut body = Vec::new();
        (&mut f).take(MAX_ENTRY_BYTES + 1).read_to_end(&mut body)?;
        if body.len() as u64 > declared {
            return Err(EvidenceError::Invalid(format!("`{name}` is larger than its header says")));
        }
        if contents.insert(name.clone(), body).is_some() {
            return Err(EvidenceError::Invalid(format!("`{name}` appears twice")));
        }
    }
    let manifest =
        contents.get("manifest.sha256").ok_or_else(|| EvidenceError::Invalid("no manifest.sha256".into()))?;
    let sig_hex = contents.get("manifest.sig").ok_or_else(|| EvidenceError::Invalid("no manifest.sig".into()))?;
    let sig_bytes: [u8; 64] = hex::decode(String::from_utf8_lossy(sig_hex).trim())
        .ok()
        .and_then(|b| b.try_into().ok())
        .ok_or_else(|| EvidenceError::Invalid("manifest.sig is not a hex Ed25519 signature".into()))?;
    key.verify(manifest, &Signature::from_bytes(&sig_bytes))
        .map_err(|_| EvidenceError::Invalid("the manifest's signature does not match this farm's key".into()))?;
    let text =
        String::from_utf8(manifest.clone()).map_err(|_| EvidenceError::Invalid("manifest is not text".into()))?;
    let mut listed = 0;
    for line in text.lines() {
        let (hash, name) =
            line.split_once("  ").ok_or_else(|| EvidenceError::Invalid(format!("bad manifest line `{line}`")))?;
        let body = contents
            .get(name)
            .ok_or_else(|| EvidenceError::Invalid(format!("`{name}` is in the manifest but not in the pack")))?;
        if hex::encode(Sha256::digest(body)) != hash {
            return Err(EvidenceError::Invalid(format!("`{name}` does not match its hash in the manifest")));
        }
        listed += 1;
    }
    if listed + 2 != contents.len() {
        return Err(EvidenceError::Invalid("the pack holds files the manifest does not cover".into()));
    }
    Ok(Verified { files: listed, contents })
}

/// A top-down SVG plot of a trace: the ego's path, each actor's path, and the moment of failure.
pub fn plot(trace: &sim_core::Trace, failure_time: Option<f64>) -> String {
    let mut xs = Vec::new();
    let mut ys = Vec::new();
    for t in &trace.ticks {
        xs.push(t.ego[0]);
        ys.push(t.ego[1]);
        for a in &t.actors {
            xs.push(a[0]);
            ys.push(a[1]);
        }
    }
    let (x0, x1) =
        (xs.iter().copied().fold(f64::INFINITY, f64::min), xs.iter().copied().fold(f64::NEG_INFINITY, f64::max));
    let (y0, y1) =
        (ys.iter().copied().fold(f64::INFINITY, f64::min), ys.iter().copied().fold(f64::NEG_INFINITY, f64::max));
    let (w, h, pad) = (800.0, 400.0, 20.0);
    let scale = ((w - 2.0 * pad) / (x1 - x0).max(1.0)).min((h - 2.0 * pad) / (y1 - y0).max(1.0));
    let px = |x: f64| pad + (x - x0) * scale;
    let py = |y: f64| h - pad - (y - y0) * scale;
    let mut svg = format!(
        r#"<svg xmlns="http://www.w3.org/2000/svg" width="{w}" height="{h}" viewBox="0 0 {w} {h}"><rect width="100%" height="100%" fill="white"/>"#
    );
    let path = |points: Vec<(f64, f64)>, colour: &str| {
        let d: Vec<String> = points.iter().map(|(x, y)| format!("{:.1},{:.1}", px(*x), py(*y))).collect();
        format!(r#"<polyline fill="none" stroke="{colour}" stroke-width="2" points="{}"/>"#, d.join(" "))
    };
    if let Some(map) = &trace.world.map {
        // The map's lanes under the paths, each a band of its width (those near the paths only).
        let near = |p: &[f64; 2]| p[0] >= x0 - 30.0 && p[0] <= x1 + 30.0 && p[1] >= y0 - 30.0 && p[1] <= y1 + 30.0;
        for lane in map.lanes.iter().filter(|l| l.centre.iter().any(near)) {
            let d: Vec<String> = lane.centre.iter().map(|p| format!("{:.1},{:.1}", px(p[0]), py(p[1]))).collect();
            let _ = write!(
                svg,
                r#"<polyline fill="none" stroke="{}" stroke-width="{:.1}" stroke-linejoin="round" points="{}"/>"#,
                if lane.driving { "#cfd3d6" } else { "#ecebe4" },
                (lane.width * scale).max(1.0),
                d.join(" ")
            );
        }
    }
    svg.push_str(&path(trace.ticks.iter().map(|t| (t.ego[0], t.ego[1])).collect(), "#1f77b4"));
    for (i, a) in trace.actors.iter().enumerate() {
        svg.push_str(&path(
            trace.ticks.iter().filter_map(|t| t.actors.get(i).map(|p| (p[0], p[1]))).collect(),
            "#ff7f0e",
        ));
        if let Some(last) = trace.ticks.last().and_then(|t| t.actors.get(i)) {
            let _ = write!(
                svg,
                r#"<text x="{:.1}" y="{:.1}" font-size="12">{}</text>"#,
                px(last[0]),
                py(last[1]) - 4.0,
                xml(&a.id)
            );
        }
    }
    let at = failure_time.and_then(|ft| trace.ticks.iter().find(|t| t.t >= ft - 1e-9)).or(trace.ticks.last());
    if let Some(t) = at {
        let _ = write!(
            svg,
            r#"<circle cx="{:.1}" cy="{:.1}" r="8" fill="none" stroke="red" stroke-width="3"/><text x="{:.1}" y="{:.1}" font-size="12" fill="red">t={:.2} s</text>"#,
            px(t.ego[0]),
            py(t.ego[1]),
            px(t.ego[0]) + 10.0,
            py(t.ego[1]) + 16.0,
            t.t
        );
    }
    svg.push_str("</svg>\n");
    svg
}

/// Escapes text for XML and HTML.
pub fn xml(s: &str) -> String {
    s.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;")
}

/// One bar of a chart: its label, value, colour and, when it has one, the limit it is judged by.
#[derive(Debug, Clone, PartialEq)]
pub struct Bar {
    /// Label.
    pub label: String,
    /// Value.
    pub value: f64,
    /// Fill colour (CSS).
    pub colour: String,
    /// A limit drawn as a line across the bar's track (a budget, a floor).
    pub limit: Option<f64>,
}

/// Red at 0, amber at 0.5, green at 1: the colour of a pass rate.
pub fn rate_colour(rate: f64) -> String {
    let r = rate.clamp(0.0, 1.0);
    let (red, green) = if r < 0.5 { (214.0, 40.0 + 300.0 * r) } else { (214.0 - 340.0 * (r - 0.5), 190.0) };
    format!("rgb({},{},60)", red.clamp(0.0, 255.0) as u8, green.clamp(0.0, 255.0) as u8)
}

/// A horizontal bar chart as inline SVG: each bar on a grey track (so a bar at 0 still shows where
/// it would be), its value written beside it, and its limit as a dark line.
pub fn bar_chart(title: &str, rows: &[Bar], max: f64, unit: &str) -> String {
    let h = 24.0 * rows.len() as f64 + 30.0;
    let scale = |v: f64| if max > 0.0 { 380.0 * (v / max).clamp(0.0, 1.0) } else { 0.0 };
    let mut svg = format!(
        r#"<svg xmlns="http://www.w3.org/2000/svg" width="680" height="{h}"><text x="0" y="16" font-weight="bold">{}</text>"#,
        xml(title)
    );
    for (i, b) in rows.iter().enumerate() {
        let y = 26.0 + 24.0 * i as f64;
        let len = scale(b.value);
        let _ = write!(
            svg,
            r##"<text x="0" y="{:.0}" font-size="12">{}</text><rect x="200" y="{y:.0}" width="380" height="16" fill="#eeeeee"/><rect x="200" y="{y:.0}" width="{len:.1}" height="16" fill="{}"/><text x="{:.0}" y="{:.0}" font-size="12">{:.1}{unit}</text>"##,
            y + 12.0,
            xml(&b.label),
            xml(&b.colour),
            590.0,
            y + 12.0,
            b.value
        );
        if let Some(limit) = b.limit {
            let x = 200.0 + scale(limit);
            let _ = write!(
                svg,
                r##"<line x1="{x:.1}" x2="{x:.1}" y1="{:.0}" y2="{:.0}" stroke="#222" stroke-width="2"/>"##,
                y - 2.0,
                y + 18.0
            );
        }
    }
    svg.push_str("</svg>");
    svg
}

/// Everything a candidate's pack is made of.
pub struct PackInput<'a> {
    /// The candidate.
    pub candidate: &'a Candidate,
    /// Its effective stack configuration.
    pub stack_config: &'a StackConfig,
    /// Its runs, in queue order.
    pub runs: &'a [Run],
    /// Its statistics.
    pub stats: &'a CandidateStats,
    /// The gate verdict (when done).
    pub gate: Option<&'a Gate>,
    /// The gate policy used.
    pub policy: &'a GatePolicy,
    /// The comparison with the baseline.
    pub comparison: Option<&'a Comparison>,
    /// ODD coverage.
    pub coverage: Option<&'a Coverage>,
    /// Scenario versions the runs used.
    pub scenarios: Vec<ScenarioVersion>,
    /// Traces of the runs that did not pass, by variant key.
    pub traces: Vec<(String, sim_core::Trace)>,
    /// The farm's public key, hex.
    pub public_key: String,
}

fn json<T: serde::Serialize>(v: &T) -> Vec<u8> {
    let mut b = serde_json::to_vec_pretty(v).unwrap_or_default();
    b.push(b'\n');
    b
}

fn csv_field(s: &str) -> String {
    if s.contains([',', '"', '\n']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s.to_owned()
    }
}

/// The pack's files (before sealing).
pub fn assemble(input: &PackInput<'_>) -> BTreeMap<String, Vec<u8>> {
    let c = input.candidate;
    let mut files = BTreeMap::new();
    files.insert(
        "summary.json".to_owned(),
        json(&serde_json::json!({
            "candidate": { "id": c.id, "name": c.name, "git_sha": c.git_sha, "baseline": c.baseline, "created_at": c.created_at },
            "verdict": input.gate.map(|g| g.verdict.as_str()),
            "reasons": input.gate.map(|g| g.reasons.clone()),
            "kpis": input.stats,
            "gate_policy": input.policy,
            "scores": scores_json(input.runs),
        })),
    );
    files.insert("junit.xml".to_owned(), super::junit::render_runs(&c.name, input.runs).into_bytes());
    let mut csv = String::from("variant_key,scenario,status,attempt,digest,reason\n");
    for r in input.runs {
        let _ = writeln!(
            csv,
            "{},{},{},{},{},{}",
            r.variant_key,
            csv_field(&r.scenario_id),
            r.status.as_str(),
            r.attempt,
            r.digest.as_deref().unwrap_or(""),
            csv_field(r.reason.as_deref().unwrap_or(""))
        );
    }
    files.insert("runs.csv".to_owned(), csv.into_bytes());
    if let Some(cov) = input.coverage {
        files.insert("coverage.json".to_owned(), json(cov));
    }
    if let Some(cmp) = input.comparison {
        files.insert("comparison.json".to_owned(), json(cmp));
    }
    for (key, trace) in &input.traces {
        let failure_time =
            input.runs.iter().find(|r| r.variant_key.as_str() == key).and_then(|r| r.result.as_ref()).map(|result| {
                // The moment the first failed criterion was decided (its peak, its minimum, the
                // collision), else the first collision, else the end of the run.
                let decided = result.criteria.iter().find(|c| !c.passed).and_then(|c| c.decided_at);
                decided.or_else(|| result.metrics.collisions.first().map(|c| c.time)).unwrap_or(result.sim_s)
            });
        files.insert(format!("failures/{key}.json"), json(trace));
        files.insert(format!("failures/{key}.svg"), plot(trace, failure_time).into_bytes());
    }
    for v in &input.scenarios {
        files.insert(format!("scenarios/{}.yaml", v.content_hash), v.body.clone().into_bytes());
    }
    files.insert(
        "provenance.json".to_owned(),
        json(&serde_json::json!({
            "farm_version": super::provenance::VERSION,
            "farm_git_sha": super::provenance::GIT_SHA,
            "metric_definitions": "v1 (docs/adr/0006-run-semantics.md)",
            "variant_key_recipe": "v1 (docs/adr/0003-variant-keys.md)",
            "stack_config": input.stack_config,
            "stack_config_sha256": c.config_hash,
            "scenarios": input.scenarios.iter().map(|v| serde_json::json!({"content_hash": v.content_hash, "file": v.file})).collect::<Vec<_>>(),
            "public_key_ed25519": input.public_key,
        })),
    );
    files.insert("report.html".to_owned(), report_html(input).into_bytes());
    files
}

/// Points per scenario and for the suite, for the scenarios that are scored (`null` when none is).
fn scores_json(runs: &[Run]) -> serde_json::Value {
    let (by_scenario, suite) = super::report::run_score_totals(runs);
    if by_scenario.is_empty() {
        return serde_json::Value::Null;
    }
    let entry = |(p, m): (f64, f64)| serde_json::json!({ "points": p, "max": m });
    serde_json::json!({
        "suite": entry(suite),
        "by_scenario": by_scenario.iter().map(|(id, t)| ((*id).to_owned(), entry(*t))).collect::<serde_json::Map<_, _>>(),
    })
}

/// The report's scores table (empty when no scenario is scored).
fn scores_html(runs: &[Run]) -> String {
    let (by_scenario, suite) = super::report::run_score_totals(runs);
    if by_scenario.is_empty() {
        return String::new();
    }
    let pct = |(p, m): (f64, f64)| if m > 0.0 { 100.0 * p / m } else { 0.0 };
    let mut h = String::from("<h2>Scores</h2><table><tr><th>Scenario</th><th>Points</th><th>Of</th><th>%</th></tr>");
    for (id, t) in &by_scenario {
        let _ = write!(h, "<tr><td>{}</td><td>{:.2}</td><td>{:.2}</td><td>{:.1}</td></tr>", xml(id), t.0, t.1, pct(*t));
    }
    let _ = write!(
        h,
        "<tr><th>suite</th><th>{:.2}</th><th>{:.2}</th><th>{:.1}</th></tr></table>",
        suite.0,
        suite.1,
        pct(suite)
    );
    h
}

fn report_html(input: &PackInput<'_>) -> String {
    let c = input.candidate;
    let s = input.stats;
    let mut h = format!(
        "<!doctype html><html><head><meta charset=\"utf-8\"><title>Evidence: {name}</title><style>body{{font-family:sans-serif;max-width:960px;margin:2em auto}}td,th{{padding:2px 8px;text-align:left}}</style></head><body><h1>Evidence pack: {name}</h1>",
        name = xml(&c.name)
    );
    if let Some(g) = input.gate {
        let _ = write!(h, "<h2>Gate: {}</h2><ul>", g.verdict.as_str());
        for r in &g.reasons {
            let _ = write!(h, "<li>{}</li>", xml(r));
        }
        h.push_str("</ul>");
    }
    let _ = write!(
        h,
        "<p>{} runs, pass rate {:.1} %, deadline-miss rate {:.3} %.</p>",
        c.runs_total,
        s.pass_rate * 100.0,
        s.deadline_miss_rate * 100.0
    );
    h.push_str(&scores_html(input.runs));
    let policy = input.policy;
    let tags: Vec<Bar> = s
        .pass_rate_by_tag
        .iter()
        .map(|(t, r)| Bar {
            label: t.clone(),
            value: r * 100.0,
            colour: rate_colour(*r),
            limit: policy.min_pass_rate_by_tag.get(t).map(|m| m * 100.0),
        })
        .collect();
    h.push_str(&bar_chart("Pass rate by tag (line: the gate's floor)", &tags, 100.0, " %"));
    let lat: Vec<Bar> = s
        .latency
        .iter()
        .map(|(m, l)| {
            let budget = policy.latency_budget_us.get(m).copied();
            let over = budget.is_some_and(|b| l.p99 > b);
            Bar {
                label: format!("{m} p99{}", if over { " (over budget)" } else { "" }),
                value: l.p99,
                colour: if over { "#d62728" } else { "#2ca02c" }.to_owned(),
                limit: budget,
            }
        })
        .collect();
    let max = lat.iter().flat_map(|b| [b.value, b.limit.unwrap_or(0.0)]).fold(0.0, f64::max) * 1.1;
    h.push_str(&bar_chart("CPU time by module, µs (line: the gate's budget)", &lat, max, " µs"));
    if let Some(cov) = input.coverage {
        let _ = write!(
            h,
            "<h2>Coverage</h2><p>{} of {} ODD cells exercised ({:.1} %), {} passed, {} holes.</p>",
            cov.exercised,
            cov.declared,
            cov.exercised_share * 100.0,
            cov.passed,
            cov.holes_total
        );
        if let Some(hm) = &cov.heatmap {
            let _ = write!(
                h,
                "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{}\" height=\"{}\">",
                140 + 90 * hm.x_bins.len(),
                30 + 30 * hm.y_bins.len()
            );
            for (i, xb) in hm.x_bins.iter().enumerate() {
                let _ = write!(h, "<text x=\"{}\" y=\"14\" font-size=\"11\">{}</text>", 140 + 90 * i, xml(xb));
            }
            for (j, (yb, row)) in hm.y_bins.iter().zip(&hm.cells).enumerate() {
                let _ = write!(h, "<text x=\"0\" y=\"{}\" font-size=\"11\">{}</text>", 40 + 30 * j, xml(yb));
                for (i, cell) in row.iter().enumerate() {
                    let fill = cell.rate.map_or("#eeeeee".to_owned(), |r| {
                        format!("rgb({},{},80)", (255.0 * (1.0 - r)) as u8, (200.0 * r) as u8)
                    });
                    let _ = write!(h, "<rect x=\"{}\" y=\"{}\" width=\"86\" height=\"26\" fill=\"{fill}\"/><text x=\"{}\" y=\"{}\" font-size=\"11\">{}/{}</text>", 140 + 90 * i, 22 + 30 * j, 144 + 90 * i, 40 + 30 * j, cell.passed, cell.runs);
                }
            }
            h.push_str("</svg>");
        }
    }
    if let Some(cmp) = input.comparison {
        let _ = write!(
            h,
            "<h2>Against {}</h2><p>{} paired, {} regressions, {} fixes, {} still failing, {} new. Pass rate {:.1} % [{:.1}, {:.1}] vs {:.1} %; McNemar p = {:.4}{}.</p>",
            xml(&cmp.baseline_name),
            cmp.paired,
            cmp.overall.regressions,
            cmp.overall.fixes,
            cmp.still_failing,
            cmp.new_variants,
            cmp.overall.candidate.rate * 100.0,
            cmp.overall.candidate.low * 100.0,
            cmp.overall.candidate.high * 100.0,
            cmp.overall.baseline.rate * 100.0,
            cmp.overall.p_value,
            if cmp.overall.significant_regression { " (significant regression)" } else { "" }
        );
    }
    h.push_str("<h2>Failures</h2><table><tr><th>scenario</th><th>variant</th><th>status</th><th>reason</th><th>drawing</th></tr>");
    for r in input.runs.iter().filter(|r| r.status.is_finished() && r.status != RunStatus::Passed) {
        let key = r.variant_key.as_str();
        let drawing = if input.traces.iter().any(|(k, _)| k == key) {
            format!("<a href=\"failures/{key}.svg\">top-down view</a>")
        } else {
            "no trace".to_owned()
        };
        let _ = write!(
            h,
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{drawing}</td></tr>",
            xml(&r.scenario_id),
            r.variant_key,
            r.status,
            xml(r.reason.as_deref().unwrap_or(""))
        );
    }
    h.push_str("</table><p>Every file of this pack is listed with its SHA-256 in manifest.sha256, signed by the farm in manifest.sig. Verify with <code>farm evidence verify PACK.zip --public-key KEY</code>.</p></body></html>\n");
    h
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_pack_carries_points_per_scenario_and_for_the_suite() {
        let runs =
            crate::domain::report::scored_runs(&[("p.ccrs", 1.0, 1.0), ("p.ccrs", 0.5, 1.0), ("p.cpna", 0.25, 2.0)]);
        let json = super::scores_json(&runs);
        assert_eq!(
            json,
            serde_json::json!({
                "suite": { "points": 1.75, "max": 4.0 },
                "by_scenario": { "p.ccrs": { "points": 1.5, "max": 2.0 }, "p.cpna": { "points": 0.25, "max": 2.0 } },
            })
        );
        let html = super::scores_html(&runs);
        assert!(html.contains("<tr><td>p.ccrs</td><td>1.50</td><td>2.00</td><td>75.0</td></tr>"), "{html}");
        assert!(html.contains("<tr><th>suite</th><th>1.75</th><th>4.00</th><th>43.8</th></tr>"), "{html}");
        // Nothing scored: no section, and `scores` is null.
        let mut unscored = runs;
        unscored.iter_mut().for_each(|r| r.result.as_mut().into_iter().for_each(|rec| rec.score = None));
        assert_eq!(
            (super::scores_json(&unscored), super::scores_html(&unscored)),
            (serde_json::Value::Null, String::new())
        );
    }

    #[test]
    fn the_top_down_view_draws_the_lanes_of_a_map_near_the_paths() {
        use sim_core::trace::{TraceLane, TraceMap, TraceTick, TraceWorld};
        let lane = |x: f64, driving: bool| TraceLane { centre: vec![[x, -50.0], [x, 50.0]], width: 3.5, driving };
        let tick = |t: f64, y: f64| TraceTick {
            t,
            ego: [1.75, y, 1.57, 5.0, 0.0, 0.0],
            command: [0.0; 2],
            mode: autonomy_stack::Mode::Nominal,
            events: vec![],
            actors: vec![],
            ttc: None,
            nearest: None,
        };
        let map = TraceMap {
            file: "m.xodr".into(),
            // A driving lane under the path, a sidewalk beside it, and a lane far away.
            lanes: vec![lane(1.75, true), lane(5.0, false), lane(900.0, true)],
            route: vec![],
        };
        let trace = sim_core::Trace {
            world: TraceWorld { map: Some(map), ..TraceWorld::default() },
            ticks: vec![tick(0.0, -20.0), tick(1.0, 20.0)],
            ..sim_core::Trace::default()
        };
        let svg = super::plot(&trace, None);
        assert_eq!(svg.matches(r##"stroke="#cfd3d6""##).count(), 1, "{svg}");
        assert_eq!(svg.matches(r##"stroke="#ecebe4""##).count(), 1, "{svg}");
        // Lanes go under the paths.
        assert!(svg.find("#cfd3d6").unwrap() < svg.find("#1f77b4").unwrap());
    }

    #[test]
    fn a_bar_at_zero_still_shows_and_a_limit_is_drawn() {
        let rows = [
            super::Bar { label: "vru".into(), value: 0.0, colour: super::rate_colour(0.0), limit: Some(100.0) },
            super::Bar { label: "smoke".into(), value: 100.0, colour: super::rate_colour(1.0), limit: None },
        ];
        let svg = super::bar_chart("Pass rate", &rows, 100.0, " %");
        // Each bar has its grey track; the 0 % bar is red and empty, the full one green; the
        // floor of the first is a line at the track's end.
        assert_eq!(svg.matches(r##"fill="#eeeeee""##).count(), 2);
        assert!(svg.contains(r#"width="0.0" height="16" fill="rgb(214,40,60)""#), "{svg}");
        assert!(svg.contains(r#"width="380.0" height="16" fill="rgb(44,190,60)""#), "{svg}");
        assert!(svg.contains(r#"<line x1="580.0""#), "{svg}");
        assert!(svg.contains(">0.0 %<") && svg.contains(">100.0 %<"));
    }

    use super::*;

    fn key() -> SigningKey {
        SigningKey::from_bytes(&[7; 32])
    }

    fn pack() -> Vec<u8> {
        let files: BTreeMap<String, Vec<u8>> = [
            ("summary.json".to_owned(), b"{\"verdict\":\"pass\"}".to_vec()),
            ("failures/a.json".to_owned(), b"{}".to_vec()),
        ]
        .into();
        seal(files, &key()).unwrap()
    }

    #[test]
    fn a_sealed_pack_verifies_and_is_byte_identical_when_rebuilt() {
        let (a, b) = (pack(), pack());
        assert_eq!(a, b);
        let v = verify(&a, &key().verifying_key()).unwrap();
        assert_eq!(v.files, 2);
        assert!(String::from_utf8_lossy(&v.contents["manifest.sha256"]).contains("  failures/a.json\n"));
    }

    #[test]
    fn no_flipped_byte_goes_unnoticed_and_another_key_fails() {
        let good = pack();
        let original = verify(&good, &key().verifying_key()).unwrap().contents;
        let mut caught = 0;
        for i in 0..good.len() {
            let mut bad = good.clone();
            bad[i] ^= 0x01;
            match verify(&bad, &key().verifying_key()) {
                // A flip in zip bookkeeping (a timestamp, an attribute) may leave every file intact;
                // what must never happen is a changed file that still verifies.
                Ok(v) => assert_eq!(v.contents, original, "byte {i} changed a file without failing verification"),
                Err(_) => caught += 1,
            }
        }
        assert!(caught > good.len() / 2, "{caught} of {} flips caught", good.len());
        // Tampering with a file and re-zipping it with the original manifest and signature fails.
        let mut files = original.clone();
        files.insert("summary.json".into(), b"{\"verdict\":\"fail\"}".to_vec());
        let mut zip = zip::ZipWriter::new(Cursor::new(Vec::new()));
        for (name, body) in &files {
            zip.start_file(name.as_str(), zip::write::SimpleFileOptions::default()).unwrap();
            zip.write_all(body).unwrap();
        }
        let forged = zip.finish().unwrap().into_inner();
        let e = verify(&forged, &key().verifying_key()).unwrap_err().to_string();
        assert!(e.contains("`summary.json` does not match its hash"), "{e}");
        let other = SigningKey::from_bytes(&[8; 32]);
        let e = verify(&good, &other.verifying_key()).unwrap_err().to_string();
        assert!(e.contains("signature does not match"), "{e}");
    }

    #[test]
    fn packs_with_escaping_paths_are_rejected() {
        for evil in ["../etc/passwd", "/abs/file", "a/../../b"] {
            let files: BTreeMap<String, Vec<u8>> = [(evil.to_owned(), b"x".to_vec())].into();
            let e = verify(&seal(files, &key()).unwrap(), &key().verifying_key()).unwrap_err().to_string();
            assert!(e.contains("unsafe path"), "{evil}: {e}");
        }
    }

    #[test]
    fn past_keys_parse_with_notes_and_name_a_bad_line() {
        let a = hex::encode(SigningKey::from_bytes(&[1; 32]).verifying_key().to_bytes());
        let text = format!("# retired keys\n\n{a}  in use until 2026-11-30\n{}\n", a.to_uppercase());
        let keys = parse_past_keys(&text).unwrap();
        assert_eq!(keys.len(), 2);
        assert_eq!(keys[0], PastKey { ed25519: a.clone(), note: "in use until 2026-11-30".into() });
        assert_eq!(keys[1].ed25519, a);
        let e = parse_past_keys(&format!("{a}\nnot-a-key old\n")).unwrap_err().to_string();
        assert_eq!(e, "line 2: `not-a-key` is not an Ed25519 public key (64 hex digits)");
    }
}
