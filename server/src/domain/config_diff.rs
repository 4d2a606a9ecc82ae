//! What changed between two stack configurations: every leaf key (dotted path) whose value differs,
//! with both values, in key order. Shown on a candidate's page against its baseline.

use std::collections::BTreeMap;

use serde_json::Value;

/// One changed key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigChange {
    /// Dotted path, e.g. `safety.aeb_ttc`.
    pub key: String,
    /// The baseline's value (`None`: absent there).
    pub baseline: Option<String>,
    /// The candidate's value (`None`: absent here).
    pub candidate: Option<String>,
}

fn flatten(prefix: &str, v: &Value, out: &mut BTreeMap<String, String>) {
    match v {
        Value::Object(map) => {
            for (k, v) in map {
                let key = if prefix.is_empty() { k.clone() } else { format!("{prefix}.{k}") };
                flatten(&key, v, out);
            }
        }
        other => {
            out.insert(prefix.to_owned(), other.to_string());
        }
    }
}

/// The leaves that differ between `baseline` and `candidate` (any serialisable configuration).
pub fn diff(baseline: &Value, candidate: &Value) -> Vec<ConfigChange> {
    let (mut a, mut b) = (BTreeMap::new(), BTreeMap::new());
    flatten("", baseline, &mut a);
    flatten("", candidate, &mut b);
    let keys: std::collections::BTreeSet<&String> = a.keys().chain(b.keys()).collect();
    keys.into_iter()
        .filter(|k| a.get(*k) != b.get(*k))
        .map(|k| ConfigChange { key: k.clone(), baseline: a.get(k).cloned(), candidate: b.get(k).cloned() })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_changed_leaves_are_listed_with_both_values() {
        let a = serde_json::json!({"safety": {"aeb_ttc": 1.5, "on": true}, "planning": {"x": 1}});
        let b = serde_json::json!({"safety": {"aeb_ttc": 1.8, "on": true}, "planning": {"x": 1, "y": 2}});
        let d = diff(&a, &b);
        assert_eq!(d.len(), 2);
        assert_eq!(d[0], ConfigChange { key: "planning.y".into(), baseline: None, candidate: Some("2".into()) });
        assert_eq!(d[1].key, "safety.aeb_ttc");
        assert_eq!(d[1].baseline.as_deref(), Some("1.5"));
    }
}
