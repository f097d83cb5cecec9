//! The HTML report (`run --html`, `runner report html`), loaded in a real browser: Debian's
//! `chromium`, headless, from `file://`. The page records what it drew on
//! `<html data-rendered=...>` (rows, sparklines, DAG nodes, errors, network resources); the
//! tests read that from the dumped DOM, and keep a screenshot (under `$RUNNER_TEST_ARTIFACTS`
//! when set, as .ci/run does, for CI to upload).

use std::path::{Path, PathBuf};
use std::time::Duration;

use serde_json::Value;

use crate::harness::Repo;

/// The browser: `$RUNNER_TEST_CHROMIUM`, else `chromium` (or `chromium-browser`,
/// `google-chrome`) on PATH. Panics when there is none: these tests are `#[ignore]`d, and CI,
/// which runs them, installs it.
fn chromium() -> PathBuf {
    if let Some(p) = std::env::var_os("RUNNER_TEST_CHROMIUM") {
        return PathBuf::from(p);
    }
    let path = std::env::var_os("PATH").unwrap_or_default();
    for name in ["chromium", "chromium-browser", "google-chrome"] {
        for dir in std::env::split_paths(&path) {
            let candidate = dir.join(name);
            if candidate.is_file() {
                return candidate;
            }
        }
    }
    panic!("no chromium on PATH (apt-get install chromium, or set RUNNER_TEST_CHROMIUM)");
}

/// Run headless chromium on a page with `args` (bounded), in a throwaway profile.
fn browse(page: &Path, args: &[&str]) -> String {
    let profile = tempfile::tempdir().expect("profile dir");
    let out = assert_cmd::Command::new(chromium())
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--no-first-run",
            "--disable-extensions",
            "--virtual-time-budget=5000",
        ])
        .arg(format!("--user-data-dir={}", profile.path().display()))
        .args(args)
        .arg(format!("file://{}", page.display()))
        .env("HOME", profile.path())
        .timeout(Duration::from_secs(120))
        .output()
        .expect("run chromium");
    assert!(
        out.status.success(),
        "chromium failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// What the page says it drew, read from the DOM after its scripts ran.
pub(crate) fn rendered(page: &Path) -> Value {
    let dom = browse(page, &["--dump-dom"]);
    let start = dom
        .find("data-rendered=\"")
        .unwrap_or_else(|| panic!("the page did not finish drawing:\n{dom}"))
        + "data-rendered=\"".len();
    let end = start + dom[start..].find('"').expect("attribute end");
    let json = dom[start..end]
        .replace("&quot;", "\"")
        .replace("&amp;", "&");
    serde_json::from_str(&json).expect("data-rendered is JSON")
}

/// A screenshot of the page, kept under `$RUNNER_TEST_ARTIFACTS` (else beside the page).
pub(crate) fn screenshot(page: &Path, name: &str) -> PathBuf {
    let dir = std::env::var_os("RUNNER_TEST_ARTIFACTS").map_or_else(
        || page.parent().expect("parent").to_path_buf(),
        PathBuf::from,
    );
    std::fs::create_dir_all(&dir).expect("artifacts dir");
    let png = dir.join(name);
    let _ = std::fs::remove_file(&png);
    browse(
        page,
        &[
            &format!("--screenshot={}", png.display()),
            "--window-size=1280,1600",
        ],
    );
    let bytes = std::fs::read(&png).expect("screenshot written");
    assert!(
        bytes.starts_with(b"\x89PNG") && bytes.len() > 10_000,
        "not a screenshot of a drawn page: {} bytes",
        bytes.len()
    );
    png
}

/// Pass, blocking failure, observational failure, skip and not-run, with a chain of needs.
fn mixed() -> Repo {
    Repo::new().gates(
        r#"
[gates.build]
run = "echo built > out.txt"
artifacts = ["out.txt"]
description = "Compile everything"

[gates.test]
run = "echo 'assertion failed: left == right' ; exit 1"
needs = ["build"]

[gates.package]
run = "true"
needs = ["test"]

[gates.bench]
run = "echo '{\"p95_ms\": 12.5}' > bench.json"
needs = ["build"]
artifacts = ["bench.json"]
thresholds = { p95_ms = "<= 50" }

[gates.smoke]
run = "echo '{\"p95_ms\": 80}' > smoke.json"
mode = "observational"
artifacts = ["smoke.json"]
thresholds = { p95_ms = "<= 30" }

[gates.deploy-check]
run = "true"
skip_unless_env = { DEPLOY_TOKEN = "1" }
"#,
    )
}

#[test]
#[ignore = "needs chromium (Debian chromium); .ci/run installs it"]
fn a_run_with_every_status_draws_every_gate_without_errors_or_network() {
    let repo = mixed();
    let out = repo.run(&["run", "--html", "out/report.html"]);
    out.expect_code(1);
    let page = repo.path("out/report.html");
    let html = std::fs::read_to_string(&page).expect("--html wrote the page");
    assert!(html.contains("Content-Security-Policy"), "no CSP");
    let seen = rendered(&page);
    assert_eq!(seen["errors"], 0, "{seen}");
    assert_eq!(seen["resources"], 0, "the page loaded something: {seen}");
    assert_eq!(seen["rows"], 6, "one row per gate: {seen}");
    assert_eq!(seen["nodes"], 6, "one DAG node per gate: {seen}");
    // The run recorded where each gate ran: the timeline draws those lanes (at most the two
    // workers of -j 2 and the scheduler).
    assert_eq!(seen["timeline"]["measured"], true, "{seen}");
    let lanes = seen["timeline"]["lanes"].as_u64().unwrap_or(0);
    assert!((1..=3).contains(&lanes), "{seen}");
    let report: serde_json::Value =
        serde_json::from_str(&repo.read("cache/report.json")).expect("report");
    for g in report["gates"].as_array().expect("gates") {
        let ran = &g["ran"];
        assert!(ran["lane"].is_string(), "{g}");
        assert!(ran["start_ms"].as_u64() <= ran["end_ms"].as_u64(), "{g}");
    }
    screenshot(&page, "html-report-mixed.png");

    // `runner report html` draws the last run's report the same way.
    repo.run(&["report", "html", "--out", "out/again.html"])
        .expect_code(0);
    let seen = rendered(&repo.path("out/again.html"));
    assert_eq!(
        (seen["rows"].clone(), seen["errors"].clone()),
        (6.into(), 0.into())
    );
}

#[test]
#[ignore = "needs chromium (Debian chromium); .ci/run installs it"]
fn the_self_check_sees_a_script_error_and_a_loaded_resource() {
    // The checks above would pass vacuously if the page could not report a problem: break it
    // on purpose, twice, and see each counted.
    let repo = mixed();
    repo.run(&["run", "--html", "out/report.html"])
        .expect_code(1);
    let html = repo.read("out/report.html");

    let broken = html.replacen(
        "var data = JSON.parse(",
        "undefinedFunction(); var data = JSON.parse(",
        1,
    );
    assert_ne!(broken, html);
    repo.write("out/broken.html", &broken);
    let seen = rendered(&repo.path("out/broken.html"));
    assert!(seen["errors"].as_u64() > Some(0), "{seen}");
    assert_eq!(seen["rows"], 0, "{seen}");

    // Without its Content-Security-Policy, a page may load from the network (here a server on
    // 127.0.0.1): the count sees it, and so does the server.
    let server = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = server.local_addr().expect("addr").port();
    let served = std::thread::spawn(move || {
        use std::io::{Read as _, Write as _};
        server.set_nonblocking(true).expect("nonblocking");
        let deadline = std::time::Instant::now() + Duration::from_secs(60);
        let mut requests = 0;
        while std::time::Instant::now() < deadline && requests == 0 {
            match server.accept() {
                Ok((mut conn, _)) => {
                    conn.set_nonblocking(false).expect("blocking");
                    conn.set_read_timeout(Some(Duration::from_secs(5)))
                        .expect("timeout");
                    let mut buf = [0u8; 4096];
                    let _ = conn.read(&mut buf);
                    let body = "<svg xmlns='http://www.w3.org/2000/svg'/>";
                    let _ = write!(
                        conn,
                        "HTTP/1.1 200 OK\r\nContent-Type: image/svg+xml\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                        body.len()
                    );
                    requests += 1;
                }
                Err(_) => std::thread::sleep(Duration::from_millis(20)),
            }
        }
        requests
    });
    let csp_start = html
        .find("<meta http-equiv=\"Content-Security-Policy\"")
        .expect("csp");
    let csp_end = csp_start + html[csp_start..].find('>').expect("end") + 1;
    let loading = format!(
        "{}<img src=\"http://127.0.0.1:{port}/pixel.svg\">{}",
        &html[..csp_start],
        &html[csp_end..]
    );
    repo.write("out/loading.html", &loading);
    let seen = rendered(&repo.path("out/loading.html"));
    assert!(seen["resources"].as_u64() > Some(0), "{seen}");
    assert_eq!(served.join().expect("server"), 1);
}

#[test]
#[ignore = "needs chromium (Debian chromium); .ci/run installs it"]
fn a_large_report_stays_small_and_draws_every_row() {
    // 2,000 gates in a chain of 20 layers: the page stays a few MB and draws every gate.
    let mut toml = String::new();
    for i in 0..2000 {
        toml.push_str(&format!("[gates.g{i}]\nrun = \"true\"\n"));
        if i >= 100 {
            toml.push_str(&format!("needs = [\"g{}\"]\n", i - 100));
        }
    }
    let repo = Repo::new().gates(&toml);
    repo.run(&["run", "-q", "--html", "out/report.html"])
        .expect_code(0);
    let page = repo.path("out/report.html");
    let size = std::fs::metadata(&page).expect("page").len();
    assert!(size < 4 * 1024 * 1024, "{size} bytes for 2,000 gates");
    let seen = rendered(&page);
    assert_eq!(seen["rows"], 2000, "{seen}");
    assert_eq!(seen["nodes"], 2000, "{seen}");
    assert_eq!(seen["errors"], 0, "{seen}");
}

#[test]
#[ignore = "needs chromium (Debian chromium); .ci/run installs it"]
fn metrics_over_runs_draw_sparklines_and_the_baseline() {
    let repo = Repo::new().gates(
        r#"
[gates.bench]
run = "printf '{\"p95_ms\": %s, \"ratio\": 0.5}' \"$(cat value.txt)\" > bench.json"
inputs = ["value.txt"]
artifacts = ["bench.json"]
cache = false
thresholds = { p95_ms = "<= baseline * 1.10", ratio = ">= 0.4" }
"#,
    );
    for v in ["100", "104", "98", "101"] {
        repo.write("value.txt", v);
        repo.run(&["run", "-q"]).expect_code(0);
    }
    repo.write("value.txt", "140");
    repo.run(&["run", "-q", "--html", "out/report.html"])
        .expect_code(0);
    let page = repo.path("out/report.html");
    let html = std::fs::read_to_string(&page).expect("page");
    assert!(
        html.contains(r#""expr":"\u003c= baseline * 1.1""#),
        "the baseline is in the data"
    );
    let seen = rendered(&page);
    // Two metrics with five recorded values each: two sparklines.
    assert_eq!(seen["sparklines"], 2, "{seen}");
    assert_eq!(seen["errors"], 0, "{seen}");
    screenshot(&page, "html-report-sparklines.png");
}

#[test]
fn a_run_writing_the_page_records_why_each_gate_ran() {
    // No browser needed: the reasons are in report.json and in the page's data.
    let repo = Repo::new().gates(
        r#"
[gates.build]
run = "cat src.txt > out.txt"
inputs = ["src.txt"]
artifacts = ["out.txt"]

[gates.bench]
run = "echo '{\"p95_ms\": 1}' > b.json"
artifacts = ["b.json"]
cache = false
"#,
    );
    repo.write("src.txt", "one");
    repo.run(&["run", "--html", "out/r.html"]).expect_code(0);
    assert_eq!(repo.gate("build")["why"], "cache miss: never stored");
    assert_eq!(repo.gate("bench")["why"], "cache = false");
    repo.write("src.txt", "two");
    repo.run(&["run", "--html", "out/r.html"]).expect_code(0);
    let why = repo.gate("build")["why"].as_str().unwrap_or("").to_owned();
    assert!(
        why.starts_with("cache miss: input changed: src.txt"),
        "{why}"
    );
    assert!(repo.read("out/r.html").contains(&why), "the page shows it");
    // Replayed: nothing to explain. Without --html, nothing is recorded.
    repo.run(&["run", "--html", "out/r.html"]).expect_code(0);
    assert_eq!(repo.gate("build")["cached"], true);
    assert_eq!(repo.gate("build").get("why"), None);
    repo.run(&["run", "--no-cache"]).expect_code(0);
    assert_eq!(repo.gate("build").get("why"), None);
}

#[test]
fn the_page_says_what_the_replays_saved_from_their_last_timed_runs() {
    // No browser needed: the figure is in the page's data. `slow` takes at least 300 ms when
    // it runs; replayed, it saves what its last run took (from the history), not the replay's
    // own few milliseconds.
    let repo = Repo::new().gates(
        r#"
[gates.slow]
run = "sleep 0.3; cat src.txt > out.txt"
inputs = ["src.txt"]
artifacts = ["out.txt"]

[gates.fresh]
run = "true"
cache = false
"#,
    );
    repo.write("src.txt", "one");
    repo.run(&["run", "--html", "out/r.html"]).expect_code(0);
    let saved = |page: &str| -> serde_json::Value {
        let start = page
            .find(r#""time_saved":"#)
            .expect("time_saved in the page")
            + 13;
        let end = start + page[start..].find('}').expect("its end") + 1;
        serde_json::from_str(&page[start..end]).expect("JSON")
    };
    // Nothing replayed yet.
    let first = saved(&repo.read("out/r.html"));
    assert_eq!(first["replayed"], 0, "{first}");
    repo.run(&["run", "--html", "out/r.html"]).expect_code(0);
    assert_eq!(repo.gate("slow")["cached"], true);
    let second = saved(&repo.read("out/r.html"));
    assert_eq!(
        (second["replayed"].as_u64(), second["known"].as_u64()),
        (Some(1), Some(1))
    );
    let ms = second["ms"].as_u64().unwrap_or(0);
    assert!(ms >= 300, "the replay saved its last run's time: {second}");
    assert!(
        repo.gate("slow")["duration_ms"]
            .as_u64()
            .unwrap_or(u64::MAX)
            < ms,
        "not the replay's own duration"
    );
}
