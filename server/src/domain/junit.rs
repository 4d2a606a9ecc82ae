//! JUnit XML as Jenkins' xUnit plugin reads it (junit-10.xsd): one testsuite per scenario, one
//! testcase per variant. A failed verdict or a timeout is a `<failure>` (the stack under test), an
//! `error` verdict is an `<error>` (the simulation could not complete): never mixed up.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use sim_core::Verdict;

use super::report::RunRecord;
use super::run::Run;

/// What one JUnit testcase needs to know about a run.
#[derive(Debug, Clone, PartialEq)]
pub struct Case {
    /// Scenario id (the testsuite).
    pub scenario: String,
    /// Index of the variant in its scenario.
    pub index: usize,
    /// Variant key.
    pub key: String,
    /// Parameters, `name=value` each.
    pub params: Vec<String>,
    /// Seed.
    pub seed: u64,
    /// Verdict.
    pub verdict: Verdict,
    /// Why it did not pass.
    pub reason: Option<String>,
    /// The first failed criterion, if any.
    pub failed_criterion: Option<String>,
    /// Trace digest.
    pub digest: String,
    /// Simulated seconds.
    pub sim_s: f64,
    /// Wall seconds.
    pub wall_s: f64,
    /// Points earned and available under the scenario's `scoring`.
    pub score: Option<(f64, f64)>,
}

impl From<&RunRecord> for Case {
    fn from(r: &RunRecord) -> Self {
        Case {
            scenario: r.scenario.clone(),
            index: r.index,
            key: r.key.clone(),
            params: r.params.iter().map(|(k, v)| format!("{k}={v}")).collect(),
            seed: r.seed,
            verdict: r.verdict,
            reason: r.reason.clone(),
            failed_criterion: r.criteria.iter().find(|c| !c.passed).map(|c| c.criterion.clone()),
            digest: r.digest.clone(),
            sim_s: r.sim_s,
            wall_s: r.wall_s,
            score: r.score.as_ref().map(|s| (s.points, s.max)),
        }
    }
}

impl From<&Run> for Case {
    /// A stored run's case: from its result when the simulation finished, else (an infrastructure
    /// error) from what the queue knows.
    fn from(r: &Run) -> Self {
        let verdict = r.status.verdict().unwrap_or(Verdict::Error);
        match &r.result {
            Some(record) => Case {
                verdict,
                reason: r.reason.clone(),
                digest: r.digest.clone().unwrap_or_default(),
                ..Case::from(record)
            },
            None => Case {
                scenario: r.scenario_id.clone(),
                index: usize::try_from(r.ord).unwrap_or(0),
                key: r.variant_key.to_string(),
                params: Vec::new(),
                seed: 0,
                verdict,
                reason: r.reason.clone(),
                failed_criterion: None,
                digest: r.digest.clone().unwrap_or_default(),
                sim_s: 0.0,
                wall_s: 0.0,
                score: None,
            },
        }
    }
}

/// The JUnit XML document of a candidate's finished runs.
pub fn render_runs(name: &str, runs: &[Run]) -> String {
    let cases: Vec<Case> = runs.iter().filter(|r| r.status.is_finished()).map(Case::from).collect();
    render_cases(name, &cases)
}

/// Escapes text for XML attributes and content.
fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            // XML 1.0 forbids most control characters even when escaped.
            c if (c as u32) < 0x20 && !matches!(c, '\t' | '\n' | '\r') => out.push(' '),
            c => out.push(c),
        }
    }
    out
}

/// The JUnit XML document for the results of a local run.
pub fn render(name: &str, records: &[RunRecord]) -> String {
    render_cases(name, &records.iter().map(Case::from).collect::<Vec<_>>())
}

/// The JUnit XML document for `records`, named `name`.
pub fn render_cases(name: &str, records: &[Case]) -> String {
    let mut suites: BTreeMap<&str, Vec<&Case>> = BTreeMap::new();
    for r in records {
        suites.entry(&r.scenario).or_default().push(r);
    }
    // An inconclusive run is a failure to CI (never a pass), reported with its own type.
    let failures = |rs: &[&Case]| {
        rs.iter().filter(|r| matches!(r.verdict, Verdict::Failed | Verdict::Timeout | Verdict::Inconclusive)).count()
    };
    let errors = |rs: &[&Case]| rs.iter().filter(|r| r.verdict == Verdict::Error).count();
    let time = |rs: &[&Case]| rs.iter().map(|r| r.wall_s).sum::<f64>();
    let all: Vec<&Case> = records.iter().collect();
    let mut x = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    let _ = writeln!(
        x,
        "<testsuites name=\"{}\" tests=\"{}\" failures=\"{}\" errors=\"{}\" time=\"{:.3}\">",
        escape(name),
        all.len(),
        failures(&all),
        errors(&all),
        time(&all)
    );
    for (scenario, rs) in &suites {
        let _ = writeln!(
            x,
            "  <testsuite name=\"{}\" tests=\"{}\" failures=\"{}\" errors=\"{}\" skipped=\"0\" time=\"{:.3}\">",
            escape(scenario),
            rs.len(),
            failures(rs),
            errors(rs),
            time(rs)
        );
        // Scored scenarios carry their points as the suite's properties: the total and each
        // variant's (junit-10.xsd gives testcases no properties).
        let scored: Vec<(usize, (f64, f64))> = rs.iter().filter_map(|r| r.score.map(|s| (r.index, s))).collect();
        if !scored.is_empty() {
            let (p, m) = scored.iter().fold((0.0, 0.0), |a, (_, s)| (a.0 + s.0, a.1 + s.1));
            x.push_str("    <properties>\n");
            let _ = writeln!(x, "      <property name=\"score\" value=\"{p:.3}\"/>");
            let _ = writeln!(x, "      <property name=\"score_max\" value=\"{m:.3}\"/>");
            for (i, (p, _)) in &scored {
                let _ = writeln!(x, "      <property name=\"score#{i}\" value=\"{p:.3}\"/>");
            }
            x.push_str("    </properties>\n");
        }
        for r in rs {
            let case = format!("{}#{} [{}] seed={} {}", r.scenario, r.index, r.params.join(" "), r.seed, r.key);
            let _ = write!(
                x,
                "    <testcase name=\"{}\" classname=\"{}\" time=\"{:.3}\"",
                escape(&case),
                escape(&r.scenario),
                r.wall_s
            );
            let reason = escape(r.reason.as_deref().unwrap_or(""));
            let body = format!("variant {}\ndigest {}\nsimulated {:.2} s", r.key, r.digest, r.sim_s);
            match r.verdict {
                Verdict::Passed => x.push_str("/>\n"),
                Verdict::Failed | Verdict::Timeout | Verdict::Inconclusive => {
                    let kind = match r.verdict {
                        Verdict::Timeout | Verdict::Inconclusive => r.verdict.as_str().to_owned(),
                        _ => r.failed_criterion.clone().unwrap_or_else(|| "failed".into()),
                    };
                    let _ = write!(
                        x,
                        ">\n      <failure type=\"{}\" message=\"{reason}\">{}</failure>\n    </testcase>\n",
                        escape(&kind),
                        escape(&body)
                    );
                }
                Verdict::Error => {
                    let _ = write!(
                        x,
                        ">\n      <error type=\"simulation\" message=\"{reason}\">{}</error>\n    </testcase>\n",
                        escape(&body)
                    );
                }
            }
        }
        x.push_str("  </testsuite>\n");
    }
    x.push_str("</testsuites>\n");
    x
}
