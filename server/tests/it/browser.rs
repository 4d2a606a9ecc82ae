//! The web UI in real Chromium, driven through chromedriver (both started here, on free ports, with
//! a fresh profile), against a real `farm serve` seeded with a baseline and a weaker candidate. The
//! journeys are what an engineer does: (1) from the candidates list to a candidate whose gate and
//! regressions show; (2) a regression's run page plays its replay, and "jump to failure" puts the
//! replay and the plots' cursor at the failure's time; (3) the baseline's and the candidate's runs
//! side by side, in lockstep; (4) a scenario's page shows its history; (5) no page logs a console
//! error, and a candidate's page follows it live from posted to decided. Each journey saves a screenshot under `target/tmp/ui-screenshots/`.
//!
//! Chromium and chromedriver are required (Debian: `apt-get install chromium chromium-driver`;
//! `.ci/run` installs them): without them this test fails saying so, it never skips.

use crate::ui_support;

use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use fantoccini::{Client, ClientBuilder, Locator};
use serde_json::{json, Value};

use ui_support::{seeded_farm, Killed, SeededFarm};

/// Where a program is on PATH (or one of the Debian locations), or a failure naming the package.
fn require(program: &str, package: &str) -> PathBuf {
    let found = std::env::var_os("PATH")
        .map(|p| std::env::split_paths(&p).map(|d| d.join(program)).find(|f| f.is_file()))
        .unwrap_or_default()
        .or_else(|| {
            [format!("/usr/bin/{program}"), format!("/usr/lib/chromium/{program}")]
                .map(PathBuf::from)
                .into_iter()
                .find(|f| f.is_file())
        });
    found.unwrap_or_else(|| {
        panic!("`{program}` is not installed: the browser tests need it (Debian: `apt-get install -y {package}`; .ci/run does this)")
    })
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

/// chromedriver on a free port, ready for sessions.
fn chromedriver() -> (Killed, String) {
    let driver = require("chromedriver", "chromium-driver");
    let port = free_port();
    let child = Killed(
        Command::new(driver)
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("cannot start chromedriver"),
    );
    let url = format!("http://127.0.0.1:{port}");
    let deadline = Instant::now() + Duration::from_secs(30);
    while ureq::get(&format!("{url}/status")).call().is_err() {
        assert!(Instant::now() < deadline, "chromedriver did not answer on {url}");
        std::thread::sleep(Duration::from_millis(100));
    }
    (child, url)
}

async fn browser(driver: &str, profile: &std::path::Path) -> Client {
    let chromium = require("chromium", "chromium");
    let mut caps = serde_json::Map::new();
    caps.insert(
        "goog:chromeOptions".into(),
        json!({
            "binary": chromium,
            "args": [
                "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                "--disable-component-update", "--disable-sync", "--no-first-run", "--window-size=1280,1100",
                format!("--user-data-dir={}", profile.display()),
            ],
        }),
    );
    caps.insert("goog:loggingPrefs".into(), json!({ "browser": "ALL" }));
    ClientBuilder::new(hyper_util::client::legacy::connect::HttpConnector::new())
        .capabilities(caps)
        .connect(driver)
        .await
        .unwrap_or_else(|e| panic!("cannot open a Chromium session through chromedriver: {e}"))
}

/// The browser's console entries since the last call, as `LEVEL message` (chromedriver's log
/// endpoint; fantoccini has no call for it).
async fn console(client: &Client, driver: &str) -> Vec<String> {
    let session = client.session_id().await.unwrap().unwrap();
    let url = format!("{driver}/session/{session}/se/log");
    let logs: Value = tokio::task::spawn_blocking(move || {
        ureq::post(&url).send_json(json!({ "type": "browser" })).unwrap().into_json::<Value>().unwrap()
    })
    .await
    .unwrap();
    logs["value"]
        .as_array()
        .unwrap_or(&Vec::new())
        .iter()
        .map(|e| format!("{} {}", e["level"].as_str().unwrap_or("?"), e["message"].as_str().unwrap_or("")))
        .collect()
}

fn screenshot_dir() -> PathBuf {
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("ui-screenshots");
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

async fn screenshot(client: &Client, name: &str) {
    let png = client.screenshot().await.unwrap();
    std::fs::write(screenshot_dir().join(name), png).unwrap();
}

async fn text(client: &Client, css: &str) -> String {
    client
        .wait()
        .for_element(Locator::Css(css))
        .await
        .unwrap_or_else(|e| panic!("no `{css}`: {e}"))
        .text()
        .await
        .unwrap()
}

async fn js(client: &Client, script: &str) -> Value {
    client.execute(script, vec![]).await.unwrap_or_else(|e| panic!("script `{script}`: {e}"))
}

async fn replay_ready(client: &Client) {
    client
        .wait()
        .at_most(Duration::from_secs(120))
        .for_element(Locator::Css("#replay[data-ready='yes']"))
        .await
        .unwrap_or_else(|e| panic!("the replay did not load its trace: {e}"));
}

async fn canvas(client: &Client, id: &str) -> String {
    js(client, &format!("return document.getElementById('{id}').toDataURL();")).await.as_str().unwrap().to_owned()
}

/// Journey 1: the list leads to the candidate; its gate and its regressions show.
async fn candidate_with_gate_and_regressions(client: &Client, farm: &SeededFarm) -> usize {
    client.goto(&farm.addr).await.unwrap();
    assert_eq!(text(client, "h1").await, "Candidates");
    let list = text(client, "#candidates").await;
    assert!(list.contains("rc0") && list.contains("rc1"), "{list}");
    client.find(Locator::LinkText("rc1")).await.unwrap().click().await.unwrap();
    assert_eq!(text(client, "h1").await, "Candidate rc1");
    let gate = text(client, "#gate").await;
    assert!(gate.contains("gate failed") || gate.contains("gate passed"), "the gate is said in words: {gate}");
    let expected = ui_support::regressions(farm);
    assert!(!expected.is_empty(), "the weak stack regresses against the default one");
    let heading = text(client, "#regressions").await;
    assert_eq!(heading, format!("Regressions ({})", expected.len()));
    let comparison = text(client, "#comparison").await;
    assert!(comparison.contains("Baseline rc0"), "{comparison}");
    for r in &expected {
        let scenario = r["scenario"].as_str().unwrap();
        assert!(comparison.contains(scenario), "regression in {scenario} not shown:\n{comparison}");
    }
    if gate.contains("gate failed") {
        assert!(
            !client.find_all(Locator::Css("#gate ul.reasons li")).await.unwrap().is_empty(),
            "a failed gate lists its reasons"
        );
    }
    screenshot(client, "1-candidate.png").await;
    // Lower on the page: pass rates, latency against the budgets, the coverage heatmap.
    let latency = text(client, "#latency").await;
    assert!(latency.contains("planning") && latency.contains("within"), "{latency}");
    let coverage = text(client, "#coverage").await;
    assert!(coverage.contains("cells exercised"), "{coverage}");
    js(client, "document.getElementById('latency').scrollIntoView();").await;
    screenshot(client, "1-candidate-lower.png").await;
    expected.len()
}

/// Journey 2: a regression's run plays, and "jump to failure" moves replay and plots to it.
async fn regression_replay_and_failure(client: &Client, farm: &SeededFarm) {
    // From the candidate page, the first regression's run.
    let link = client.find(Locator::Css("#regressions + table a[href^='/runs/']")).await.unwrap();
    let href = link.attr("href").await.unwrap().unwrap();
    link.click().await.unwrap();
    replay_ready(client).await;
    let run_id = href.trim_start_matches("/runs/").to_owned();
    let run: Value = ureq::get(&format!("{}/api/v1/runs/{run_id}", farm.addr)).call().unwrap().into_json().unwrap();
    assert!(text(client, "h1").await.contains("failed"), "the verdict is said in words");
    let repro = text(client, "#repro").await;
    assert!(repro.contains(&format!("farm run --variant {}", run["variant_key"].as_str().unwrap())), "{repro}");
    assert!(repro.contains("--stack-config"), "{repro}");

    // Playing changes the picture.
    let before = canvas(client, "scene-0").await;
    client.find(Locator::Id("play")).await.unwrap().click().await.unwrap();
    tokio::time::sleep(Duration::from_millis(900)).await;
    let during = canvas(client, "scene-0").await;
    assert_ne!(before, during, "the canvas did not change while playing");
    assert!(js(client, "return window.farmReplay.time();").await.as_f64().unwrap() > 0.0);
    // Keyboard: space pauses.
    client.find(Locator::Css("body")).await.unwrap().send_keys(" ").await.unwrap();
    assert_eq!(js(client, "return window.farmReplay.playing();").await, json!(false), "space pauses");

    // The failure's time from the run's own result: its first collision, or its min TTC moment.
    let m = &run["result"]["metrics"];
    let expected = m["collisions"][0]["time"]
        .as_f64()
        .or_else(|| m["min_ttc"]["time"].as_f64())
        .unwrap_or_else(|| panic!("{run}"));
    client.find(Locator::Id("jump-failure")).await.unwrap().click().await.unwrap();
    let t: f64 =
        client.find(Locator::Id("replay")).await.unwrap().attr("data-t").await.unwrap().unwrap().parse().unwrap();
    let cursor: f64 =
        client.find(Locator::Id("plots")).await.unwrap().attr("data-cursor-t").await.unwrap().unwrap().parse().unwrap();
    assert!((t - expected).abs() < 0.011, "replay at {t} s, failure at {expected} s");
    assert!((cursor - expected).abs() < 0.011, "plot cursor at {cursor} s, failure at {expected} s");
    let shown = text(client, "#replay-time").await;
    assert!(shown.starts_with(&format!("t = {expected:.2} s")), "{shown}");
    assert_eq!(client.find_all(Locator::Css("#plots canvas")).await.unwrap().len(), 6, "six plots");
    // A click on a plot moves the replay there (its left end: t = 0).
    js(client, "var c = document.querySelector('#plots canvas'); var r = c.getBoundingClientRect(); \
                c.dispatchEvent(new MouseEvent('click', {clientX: r.left + 45 * r.width / c.width, clientY: r.top + 10, bubbles: true}));").await;
    let t: f64 =
        client.find(Locator::Id("replay")).await.unwrap().attr("data-t").await.unwrap().unwrap().parse().unwrap();
    assert!(t < 0.2, "clicking the plot's start moved the replay to {t} s");
    client.find(Locator::Id("jump-failure")).await.unwrap().click().await.unwrap();
    screenshot(client, "2-run-replay.png").await;
}

/// Journey 3: baseline and candidate side by side, moving together.
async fn side_by_side(client: &Client) {
    client.find(Locator::Css("a[href$='/side-by-side']")).await.unwrap().click().await.unwrap();
    replay_ready(client).await;
    let captions = text(client, "#replay .views").await;
    assert!(captions.contains("baseline rc0") && captions.contains("candidate rc1"), "{captions}");
    assert!(captions.contains("passed") && captions.contains("failed"), "both verdicts in words: {captions}");
    let (a0, b0) = (canvas(client, "scene-0").await, canvas(client, "scene-1").await);
    client.find(Locator::Id("play")).await.unwrap().click().await.unwrap();
    tokio::time::sleep(Duration::from_millis(900)).await;
    client.find(Locator::Id("play")).await.unwrap().click().await.unwrap();
    let (a1, b1) = (canvas(client, "scene-0").await, canvas(client, "scene-1").await);
    assert_ne!(a0, a1, "the baseline's replay did not move");
    assert_ne!(b0, b1, "the candidate's replay did not move");
    client.find(Locator::Id("jump-failure")).await.unwrap().click().await.unwrap();
    screenshot(client, "3-side-by-side.png").await;
}

/// Journey 4: a scenario's page shows its history across both candidates.
async fn scenario_history(client: &Client, farm: &SeededFarm) {
    client.goto(&format!("{}/scenarios", farm.addr)).await.unwrap();
    let scenario = ui_support::regressions(farm)[0]["scenario"].as_str().unwrap().to_owned();
    client.find(Locator::LinkText(&scenario)).await.unwrap().click().await.unwrap();
    let history = text(client, "#history").await;
    assert!(history.contains("rc1") && history.contains("rc0"), "{history}");
    assert!(history.contains("Variants whose verdict changed ("), "{history}");
    let changed = client.find_all(Locator::Css("#changed tbody tr")).await.unwrap();
    assert!(!changed.is_empty(), "the regressed variants show as changed");
    assert!(text(client, "#yaml").await.contains(&format!("id: {scenario}")));
    screenshot(client, "4-scenario.png").await;
}

/// A candidate's page follows it while it runs: opened at once after posting, it says the
/// candidate is queued or running, and turns into the finished page with its gate by itself.
async fn live_progress(client: &Client, farm: &SeededFarm) {
    let body = json!({ "name": "rc2", "suite": { "scenarios": ["warehouse.forklift.crossing_main_aisle"] } });
    let (addr, token) = (farm.addr.clone(), farm.token.clone());
    let id = tokio::task::spawn_blocking(move || ui_support::post(&addr, &token, &body)).await.unwrap();
    client.goto(&format!("{}/candidates/{id}", farm.addr)).await.unwrap();
    let first = text(client, "#progress-status").await;
    assert!(first == "queued" || first == "running", "a just-posted candidate is {first}");
    client
        .wait()
        .at_most(Duration::from_secs(180))
        .for_element(Locator::Css("#progress[data-status='done']"))
        .await
        .unwrap_or_else(|e| panic!("the page did not follow the candidate to its end: {e}"));
    let gate = text(client, "#gate").await;
    assert!(gate.contains("gate passed") || gate.contains("gate failed"), "{gate}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_engineer_finds_a_regression_and_watches_it() {
    require("chromium", "chromium");
    let (_driver, driver_url) = chromedriver();
    let farm = tokio::task::spawn_blocking(seeded_farm).await.unwrap();
    let profile = tempfile::tempdir().unwrap();
    let client = browser(&driver_url, profile.path()).await;
    let mut errors = Vec::new();
    let mut check_console = |journey: &str, logs: Vec<String>| {
        errors.extend(logs.into_iter().filter(|l| l.starts_with("SEVERE")).map(|l| format!("{journey}: {l}")));
    };

    candidate_with_gate_and_regressions(&client, &farm).await;
    check_console("candidate", console(&client, &driver_url).await);
    regression_replay_and_failure(&client, &farm).await;
    check_console("run", console(&client, &driver_url).await);
    side_by_side(&client).await;
    check_console("side by side", console(&client, &driver_url).await);
    scenario_history(&client, &farm).await;
    check_console("scenario", console(&client, &driver_url).await);
    // Journey 5: the remaining page types (an open area's replay among them), then no console
    // error anywhere.
    let failed: Value = ureq::get(&format!(
        "{}/api/v1/candidates/{}/runs?status=failed&scenario=warehouse.forklift.crossing_main_aisle",
        farm.addr, farm.candidate
    ))
    .call()
    .unwrap()
    .into_json()
    .unwrap();
    let warehouse_run = failed["runs"][0]["id"].as_str().unwrap_or_else(|| panic!("{failed}")).to_owned();
    client.goto(&format!("{}/runs/{warehouse_run}", farm.addr)).await.unwrap();
    replay_ready(&client).await;
    client.find(Locator::Id("jump-failure")).await.unwrap().click().await.unwrap();
    screenshot(&client, "5-warehouse-replay.png").await;
    check_console("warehouse run", console(&client, &driver_url).await);
    for (page, shot) in [("/farm", "5-farm.png"), ("/scenarios", "5-scenarios.png"), ("/", "5-candidates.png")] {
        client.goto(&format!("{}{page}", farm.addr)).await.unwrap();
        text(&client, "h1").await;
        screenshot(&client, shot).await;
        check_console(page, console(&client, &driver_url).await);
    }
    client.goto(&format!("{}/candidates/{}", farm.addr, farm.baseline)).await.unwrap();
    text(&client, "h1").await;
    check_console("baseline", console(&client, &driver_url).await);
    live_progress(&client, &farm).await;
    check_console("live progress", console(&client, &driver_url).await);
    client.close().await.unwrap();
    assert!(errors.is_empty(), "console errors:\n{}", errors.join("\n"));
}
