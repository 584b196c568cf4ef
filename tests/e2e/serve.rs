//! `flow serve`: the page in a real browser (headless Chromium), the API
//! against `flow status --json`, health and metrics, path traversal,
//! escaping and password hiding, and that serving never holds the run lock.

use flow_tests::{Flow, Served, rendered_dom};
use serde_json::Value;

use crate::sample_flow::sample;
use crate::{chain, single};

/// The sample flow with the real jobs and one pair whose `nav` does not
/// parse, so `zscore` fails on `Bad_A.csv`; run once.
fn sample_with_a_failure() -> Flow {
    let flow = sample()
        .file("source/Bad_A.csv", "isin,nav\nUS0001,10.5\nUS0002,abc\n")
        .file("source/Bad_B.csv", "isin,subscriptions\nUS0001,3\n");
    flow.run(&["run"]).assert_code(1);
    flow
}

#[test]
fn the_page_in_a_browser_shows_jobs_the_failed_item_and_the_graph() {
    let flow = sample_with_a_failure();
    let served = Served::start(&flow);
    let dom = rendered_dom(&served.url("/"));
    for job in ["timestamp", "zscore", "merge"] {
        assert!(
            dom.contains(&format!("id=\"job-{job}\"")),
            "no row for job {job}\n{dom}"
        );
    }
    assert!(dom.contains("<svg"), "no graph\n{dom}");
    assert!(
        dom.contains("node job state-error"),
        "zscore is not coloured as failing\n{dom}"
    );
    assert!(
        dom.contains(">Bad_A.csv</a>"),
        "the failed item is not listed\n{dom}"
    );
    assert!(dom.contains("exited with code 3"), "{dom}");
    assert!(
        dom.contains("\"abc\" is not a number"),
        "no log tail\n{dom}"
    );
    assert!(
        dom.contains("class=\"tl-bar failed\""),
        "no failed run on the timeline\n{dom}"
    );
}

/// A one-job flow whose job fails on every item, printing `line` first.
fn failing(line: &str) -> Flow {
    single(
        "settle: 0s\nretries: 2",
        &format!("printf '%s\\n' '{line}' >&2; exit 3"),
    )
}

#[test]
fn file_names_and_log_lines_are_shown_not_run_and_passwords_are_hidden() {
    let name = "<img src=x onerror=document.body.dataset.pwned=1>.txt";
    let flow =
        failing("<script>document.body.dataset.pwned=2</script> postgres://flow:hunter2@db/x")
            .file(&format!("in/{name}"), "x\n");
    flow.run(&["run"]).assert_code(1);
    let served = Served::start(&flow);
    let dom = rendered_dom(&served.url("/"));
    assert!(
        dom.contains("&lt;img src=x onerror=document.body.dataset.pwned=1&gt;.txt"),
        "the file name is not shown as text\n{dom}"
    );
    assert!(
        dom.contains("&lt;script&gt;document.body.dataset.pwned=2&lt;/script&gt;"),
        "the log line is not shown as text\n{dom}"
    );
    assert!(!dom.contains("data-pwned"), "markup from a name ran\n{dom}");
    assert!(!dom.contains("<img src"), "{dom}");
    let item = format!("/jobs/work/items/{}", encode(name));
    let page = served.get(&item);
    assert_eq!(page.status, 200, "{}", page.body);
    assert!(
        page.body
            .contains("<h1>&lt;img src=x onerror=document.body.dataset.pwned=1&gt;.txt")
    );
    assert!(
        page.body
            .contains("&lt;script&gt;document.body.dataset.pwned=2&lt;/script&gt;")
    );
    assert!(!page.body.contains("<script>"), "{}", page.body);
    let log = served.get(&format!("{item}/log"));
    assert_eq!(log.status, 200);
    for reply in [&page, &log, &served.get("/api/status")] {
        assert!(
            !reply.body.contains("hunter2"),
            "a password is shown\n{}",
            reply.body
        );
        assert!(
            reply.body.contains("postgres://flow:***@db/x"),
            "{}",
            reply.body
        );
    }
    assert!(
        page.head
            .contains("Content-Security-Policy: default-src 'self'"),
        "{}",
        page.head
    );
}

/// Percent-encodes everything but unreserved characters.
fn encode(text: &str) -> String {
    text.bytes()
        .map(|byte| {
            if byte.is_ascii_alphanumeric() || b"-_.~".contains(&byte) {
                char::from(byte).to_string()
            } else {
                format!("%{byte:02X}")
            }
        })
        .collect()
}

#[test]
fn paths_outside_the_routes_are_not_found_in_any_encoding() {
    let flow = failing("boom").file("in/a.txt", "a\n");
    flow.run(&["run"]).assert_code(1);
    let served = Served::start(&flow);
    assert_eq!(served.get("/jobs/work/items/a.txt").status, 200);
    for target in [
        "/jobs/../../etc/passwd",
        "/jobs/work/items/../../../../etc/passwd",
        "/jobs/work/items/..%2f..%2f..%2f..%2fetc%2fpasswd",
        "/jobs/work/items/%2e%2e%2f%2e%2e%2fetc%2fpasswd",
        "/jobs/work/items/%2E%2E/log",
        "/jobs/work/items/..%252f..%252fetc%252fpasswd",
        "/jobs/work/items/..%5c..%5cetc%5cpasswd",
        "/jobs/work/items/a.txt%00",
        "/jobs/%2e%2e/items/a.txt",
        "/assets/..%2f..%2fflow.yaml",
        "/assets/../.flow/state.db",
        "/.flow/state.db",
        "/flow.yaml",
        "/in/a.txt",
        "/etc/passwd",
        "//etc/passwd",
        "/jobs/nope/items/a.txt",
        "/jobs/work/items/missing.txt",
    ] {
        let reply = served.get(target);
        assert_eq!(reply.status, 404, "{target}: {}", reply.body);
        assert!(!reply.body.contains("root:"), "{target}: {}", reply.body);
    }
}

#[test]
fn api_status_is_the_status_json_model() {
    let flow = failing("boom").file("in/a.txt", "a\n");
    flow.run(&["run"]).assert_code(1);
    let served = Served::start(&flow);
    let reply = served.get("/api/status");
    assert_eq!(reply.status, 200);
    assert!(
        reply.head.contains("Content-Type: application/json"),
        "{}",
        reply.head
    );
    let mut api = reply.json();
    let mut cli = flow.status();
    for document in [&mut api, &mut cli] {
        document["generated_at"] = Value::Null;
    }
    assert_eq!(api, cli);
    assert_eq!(api["jobs"][0]["items"][0]["log_tail"][0], "boom");
}

#[test]
fn api_runs_lists_history_newest_first_by_job_and_limit() {
    let flow = chain();
    flow.run(&["run"]).assert_code(0);
    let served = Served::start(&flow);
    let ids = |target: &str| -> Vec<(u64, String)> {
        let reply = served.get(target);
        assert_eq!(reply.status, 200, "{target}: {}", reply.body);
        reply.json()["runs"]
            .as_array()
            .expect("runs")
            .iter()
            .map(|run| {
                (
                    run["id"].as_u64().expect("id"),
                    run["job"].as_str().expect("job").to_owned(),
                )
            })
            .collect()
    };
    let all = ids("/api/runs");
    assert_eq!(all.len(), 4, "{all:?}");
    assert!(all.windows(2).all(|pair| pair[0].0 > pair[1].0), "{all:?}");
    assert_eq!(all[0].1, "merge");
    assert_eq!(ids("/api/runs?limit=2"), all[..2]);
    let zscore = ids("/api/runs?job=zscore");
    assert_eq!(zscore.len(), 1);
    assert_eq!(zscore[0].1, "zscore");
    assert_eq!(ids("/api/runs?job=timestamp&limit=1").len(), 1);
    assert!(ids("/api/runs?job=nope").is_empty());
    let run = &served.get("/api/runs?limit=1").json()["runs"][0];
    for key in [
        "item",
        "attempt",
        "started_at",
        "ended_at",
        "duration_ms",
        "outcome",
        "exit_code",
        "log",
    ] {
        assert!(run.get(key).is_some(), "no {key} in {run}");
    }
    assert_eq!(served.get("/api/runs?limit=0").status, 400);
    assert_eq!(served.get("/api/runs?limit=x").status, 400);
    assert_eq!(served.get("/api/runs?jobs=a").status, 400);
}

#[test]
fn healthz_is_200_while_the_state_reads_and_503_with_the_reason_otherwise() {
    let flow = single("settle: 0s", "").file("in/a.txt", "a\n");
    let served = Served::start(&flow);
    let before = served.get("/healthz");
    assert_eq!(before.status, 503, "{}", before.body);
    assert!(before.body.contains("no state database"), "{}", before.body);
    // the page works before the first run: every item is new
    let status = served.get("/api/status").json();
    assert_eq!(status["jobs"][0]["items"][0]["status"], "preliminary");
    flow.run(&["run"]).assert_code(0);
    let ok = served.get("/healthz");
    assert_eq!(ok.status, 200, "{}", ok.body);
    assert!(ok.body.starts_with("ok: "), "{}", ok.body);
    for leftover in ["state.db-wal", "state.db-shm"] {
        let _ = std::fs::remove_file(flow.path(&format!(".flow/{leftover}")));
    }
    flow.write(
        ".flow/state.db",
        "this is not a database, and it is long enough to look like one\n",
    );
    let broken = served.get("/healthz");
    assert_eq!(broken.status, 503, "{}", broken.body);
    assert!(broken.body.contains("unhealthy: "), "{}", broken.body);
    assert!(broken.body.contains("state.db"), "{}", broken.body);
    assert_eq!(served.get("/api/status").status, 503);
}

#[test]
fn metrics_count_items_histogram_durations_and_last_success() {
    let fail = r#"if [ "$FLOW_ITEM" = bad.txt ]; then exit 3; fi"#;
    let flow = single("settle: 0s", fail)
        .file("in/bad.txt", "x\n")
        .file("in/good.txt", "g\n");
    flow.run(&["run"]).assert_code(1);
    let served = Served::start(&flow);
    let reply = served.get("/metrics");
    assert_eq!(reply.status, 200);
    assert!(
        reply.head.contains("text/plain; version=0.0.4"),
        "{}",
        reply.head
    );
    let text = &reply.body;
    for line in [
        "# TYPE flow_items gauge",
        "flow_items{job=\"work\",status=\"success\"} 1",
        "flow_items{job=\"work\",status=\"error\"} 1",
        "flow_items{job=\"work\",status=\"preliminary\"} 0",
        "# TYPE flow_run_duration_seconds histogram",
        "flow_run_duration_seconds_bucket{job=\"work\",le=\"+Inf\"} 2",
        "flow_run_duration_seconds_count{job=\"work\"} 2",
        "flow_run_in_progress 0",
    ] {
        assert!(
            text.lines().any(|got| got == line),
            "no `{line}` in\n{text}"
        );
    }
    let last = text
        .lines()
        .find_map(|line| line.strip_prefix("flow_last_success_timestamp_seconds{job=\"work\"} "))
        .unwrap_or_else(|| panic!("no last success in\n{text}"));
    let seconds: f64 = last.parse().expect("a number");
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("after 1970")
        .as_secs_f64();
    assert!((now - seconds).abs() < 120.0, "{seconds} vs {now}");
}

#[test]
fn serving_never_holds_the_run_lock_while_runs_go_on() {
    let flow = single("settle: 0s\nparallel: 1", "sleep 0.5").file("in/a.txt", "a\n");
    let served = Served::start(&flow);
    let addr = served.addr.clone();
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let poller = {
        let stop = std::sync::Arc::clone(&stop);
        std::thread::spawn(move || {
            let mut saw_running = false;
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                for target in ["/api/status", "/metrics", "/", "/api/runs"] {
                    let reply = flow_tests::http_get(&addr, target);
                    assert_eq!(reply.status, 200, "{target}: {}", reply.body);
                    saw_running |= reply.body.contains("\"run_in_progress\": true");
                }
            }
            saw_running
        })
    };
    for round in 0..4 {
        flow.write(&format!("in/r{round}.txt"), "r\n");
        let output = flow.run(&["run"]);
        output.assert_code(0);
        assert!(
            !output.stderr.contains("holds the lock"),
            "round {round}: the server looked like a run\n{}",
            output.stderr
        );
    }
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    let saw_running = poller.join().expect("the poller");
    assert!(saw_running, "the page never showed a run in progress");
    assert_eq!(flow.status()["jobs"][0]["counts"]["success"], 5);
    let locks = std::fs::read_to_string("/proc/locks").unwrap_or_default();
    let pid = format!(" {} ", served.pid());
    assert!(
        !locks.lines().any(|line| line.contains(&pid)),
        "flow serve holds a lock\n{locks}"
    );
}
