//! How the pages say things: statuses and gate verdicts as badges with a symbol and a word (never
//! colour alone), rates with their intervals, times, numbers.

use maud::{html, Markup};

use crate::domain::gate::Gate;
use crate::domain::run::RunStatus;
use crate::domain::significance::Rate;

/// A run status as a badge: symbol, word, and a class for colour.
pub fn status(s: RunStatus) -> Markup {
    let symbol = match s {
        RunStatus::Passed => "✔",
        RunStatus::Failed => "✘",
        RunStatus::Error => "⚠",
        RunStatus::Timeout => "◔",
        RunStatus::Inconclusive => "?",
        RunStatus::Queued => "…",
        RunStatus::Running => "▶",
    };
    html! { span class={ "badge s-" (s.as_str()) } { (symbol) " " (s.as_str()) } }
}

/// A run that failed once and waits for its confirmation re-run.
pub fn awaiting() -> Markup {
    html! { span class="badge s-awaiting" title="failed once; counts only when a re-run confirms it" { "↻ awaiting confirmation" } }
}

/// A gate verdict badge (or "pending" while runs are outstanding).
pub fn gate(g: Option<&Gate>) -> Markup {
    match g {
        Some(g) if g.passed() => html! { span class="badge gate-pass" { "✔ gate passed" } },
        Some(_) => html! { span class="badge gate-fail" { "✘ gate failed" } },
        None => html! { span class="badge gate-pending" { "… gate pending" } },
    }
}

/// A fraction as a percentage.
pub fn pct(x: f64) -> String {
    format!("{:.1} %", x * 100.0)
}

/// A pass rate with its 95 % interval and counts.
pub fn rate(r: &Rate) -> Markup {
    if r.total == 0 {
        return html! { span.muted { "no result yet" } };
    }
    html! {
        span.rate {
            strong { (pct(r.rate)) }
            " "
            span.ci title="95 % Wilson interval" { "[" (format!("{:.1}", r.low * 100.0)) "–" (format!("{:.1}", r.high * 100.0)) " %]" }
            " "
            span.muted { (r.passed) "/" (r.total) }
        }
    }
}

/// A small bar for a rate (decoration beside the number, which carries the meaning).
pub fn bar(x: f64) -> Markup {
    let w = (x.clamp(0.0, 1.0) * 100.0).round();
    html! { span.bar aria-hidden="true" { span.fill style={ "width:" (w) "%" } {} } }
}

/// Milliseconds since the epoch as `YYYY-MM-DD HH:MM:SS UTC`.
pub fn time(ms: i64) -> String {
    let secs = ms.div_euclid(1000);
    let (days, rem) = (secs.div_euclid(86_400), secs.rem_euclid(86_400));
    // Civil date from days since 1970-01-01 (Howard Hinnant's algorithm).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!("{y:04}-{m:02}-{d:02} {:02}:{:02}:{:02} UTC", rem / 3600, rem % 3600 / 60, rem % 60)
}

/// A duration in ms as "12 s ago"-style text relative to `now`.
pub fn ago(then: i64, now: i64) -> String {
    let s = (now - then).max(0) / 1000;
    match s {
        0..=59 => format!("{s} s ago"),
        60..=3599 => format!("{} min ago", s / 60),
        _ => format!("{} h ago", s / 3600),
    }
}

/// A number with up to `digits` decimals.
pub fn num(x: f64, digits: usize) -> String {
    if x.is_finite() {
        format!("{x:.digits$}")
    } else {
        "—".to_owned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_are_civil_utc() {
        assert_eq!(time(0), "1970-01-01 00:00:00 UTC");
        assert_eq!(time(1_796_031_623_000), "2026-11-30 09:40:23 UTC");
    }
}
