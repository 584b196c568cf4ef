//! Operations: `flow rerun` and what follows from it, the `on_error` and
//! `on_success` hooks (the README's webhook and mail examples among them),
//! and retention of old runs and their logs.

use std::io::{BufRead as _, BufReader, Read as _, Write as _};
use std::net::TcpListener;
use std::path::Path;
use std::time::{Duration, SystemTime};

use flow_tests::Flow;

use crate::THREE_STAGES;

/// The first stage fails while `$FLOW_DIR/fail` exists.
const FAIL_S1: &str =
    r#"if [ -e "$FLOW_DIR/fail" ] && [ "$FLOW_JOB" = s1 ]; then echo "s1 refused" >&2; exit 4; fi"#;

fn chain() -> Flow {
    Flow::new()
        .yaml(THREE_STAGES)
        .job("jobs/copy.sh", FAIL_S1)
        .file("in/a.txt", "a\n")
        .file("in/b.txt", "b\n")
}

/// The calls since the `from`th.
fn calls_since(flow: &Flow, from: usize) -> Vec<String> {
    let mut calls = flow.calls().split_off(from);
    calls.sort();
    calls
}

#[test]
fn rerun_runs_an_item_and_its_downstream_items_only() {
    let flow = chain();
    flow.run(&["run"]).assert_code(0);
    assert_eq!(flow.calls().len(), 6);

    let marked = flow.run(&["rerun", "s1", "a.txt"]);
    marked.assert_code(0);
    assert!(
        marked
            .stdout
            .starts_with("marked 1 item(s) of `s1` to run again: a.txt\n"),
        "{}",
        marked.stdout
    );
    assert_eq!(flow.calls().len(), 6, "rerun only marks; the pass runs");
    flow.run(&["run"]).assert_code(0);
    assert_eq!(calls_since(&flow, 6), ["s1 a.txt", "s2 a.txt", "s3 a.txt"]);
    flow.run(&["run"]).assert_code(0);
    assert_eq!(flow.calls().len(), 9, "a rerun is done once");

    flow.run(&["rerun", "s2", "--all"]).assert_code(0);
    flow.run(&["run"]).assert_code(0);
    assert_eq!(
        calls_since(&flow, 9),
        ["s2 a.txt", "s2 b.txt", "s3 a.txt", "s3 b.txt"]
    );

    flow.run(&["rerun", "--all"]).assert_code(0);
    flow.run(&["run"]).assert_code(0);
    assert_eq!(calls_since(&flow, 13).len(), 6, "every item of every job");
}

#[test]
fn rerun_of_an_unknown_job_or_item_exits_2_with_a_suggestion() {
    let flow = chain();
    flow.run(&["run"]).assert_code(0);
    let job = flow.run(&["rerun", "s4", "a.txt"]);
    job.assert_code(2);
    assert_eq!(
        job.stderr,
        "error: no job named `s4` in flow.yaml\nhint: did you mean `s1`?\n"
    );
    let item = flow.run(&["rerun", "s1", "c.txt"]);
    item.assert_code(2);
    assert!(
        item.stderr
            .starts_with("error: no run of `s1` for item `c.txt`\nhint: did you mean `a.txt`?"),
        "{}",
        item.stderr
    );
    let nothing = flow.run(&["rerun", "s1"]);
    nothing.assert_code(2);
    assert!(
        nothing.stderr.contains("`flow rerun s1 --all`"),
        "{}",
        nothing.stderr
    );
}

#[test]
fn a_failed_rerun_keeps_the_previous_target_and_says_so() {
    let flow = chain();
    flow.run(&["run"]).assert_code(0);
    flow.write("fail", "");
    flow.run(&["rerun", "s1", "a.txt"]).assert_code(0);
    flow.run(&["run"]).assert_code(1);
    assert_eq!(
        flow.read("s1/a.txt"),
        "a\nby s1\n",
        "the previous target stays"
    );
    let item = flow.item("s1", "a.txt");
    assert_eq!(item["status"], "error");
    let detail = item["detail"].as_str().expect("detail");
    assert!(detail.contains("exited with code 4"), "{detail}");
    assert!(detail.contains("the previous target is kept"), "{detail}");
    // the rerun is retried by the next pass, and what follows waits for it
    assert_eq!(flow.item("s3", "a.txt")["reason"], "upstream");
    assert_eq!(flow.read("s3/a.txt"), "a\nby s1\nby s2\nby s3\n");
}

/// A hook that logs its arguments and environment in `$FLOW_DIR/.hooks`.
const RECORD_HOOK: &str = r#"#!/bin/sh
log=no; [ -r "$FLOW_LOG" ] && log=readable
target=no; [ -e "$FLOW_TARGET" ] && target=exists
echo "$1 $FLOW_JOB $FLOW_ITEM $FLOW_OUTCOME ${FLOW_EXIT_CODE:--} $FLOW_ATTEMPTS log=$log target=$target" >> "$FLOW_DIR/.hooks"
"#;

fn hooked(settings: &str, hook: &str) -> Flow {
    Flow::new()
        .yaml(&format!(
            "settle: 0s
retries: 2
{settings}
jobs:
  - name: work
    run: ./job.sh
    source: in
    target: out
"
        ))
        .job(
            "job.sh",
            r#"if [ "$FLOW_ITEM" = bad.txt ]; then exit 7; fi"#,
        )
        .script("hook.sh", hook)
        .file("in/good.txt", "g\n")
        .file("in/bad.txt", "b\n")
}

fn hook_lines(flow: &Flow) -> Vec<String> {
    let mut lines: Vec<String> = std::fs::read_to_string(flow.path(".hooks"))
        .unwrap_or_default()
        .lines()
        .map(str::to_owned)
        .collect();
    lines.sort();
    lines
}

#[test]
fn on_error_runs_once_after_the_last_attempt_and_on_success_once_per_target() {
    let flow = hooked(
        "on_error: [\"./hook.sh\", \"error\"]\non_success: [\"./hook.sh\", \"success\"]",
        RECORD_HOOK,
    );
    flow.run(&["run"]).assert_code(1);
    assert_eq!(
        hook_lines(&flow),
        ["success work good.txt success 0 1 log=readable target=exists"],
        "no on_error before the last attempt"
    );
    flow.run(&["run"]).assert_code(1);
    flow.run(&["run"]).assert_code(0);
    assert_eq!(
        hook_lines(&flow),
        [
            "error work bad.txt failed 7 2 log=readable target=no",
            "success work good.txt success 0 1 log=readable target=exists",
        ]
    );
}

#[test]
fn a_failing_hook_is_shown_and_changes_nothing() {
    let flow = hooked(
        "on_success: [\"./hook.sh\"]",
        "#!/bin/sh\necho 'no route to chat' >&2\nexit 1\n",
    );
    let output = flow.run(&["run"]);
    output.assert_code(1);
    assert!(
        output.stderr.contains("no route to chat"),
        "the hook's output is in the pass's log:\n{}",
        output.stderr
    );
    let item = flow.item("work", "good.txt");
    assert_eq!(item["status"], "success");
    let detail = item["detail"].as_str().expect("detail");
    assert!(
        detail.contains("on_success hook `hook.sh` exited with code 1"),
        "{detail}"
    );
}

#[test]
fn a_hanging_hook_is_stopped_at_its_timeout_and_the_pass_goes_on() {
    let flow = hooked(
        "grace: 1s\non_success: [\"./hook.sh\"]",
        "#!/bin/sh\nsleep 600\n",
    );
    let output = flow.run(&["run"]);
    output.assert_code(1);
    let item = flow.item("work", "good.txt");
    assert_eq!(item["status"], "success");
    let detail = item["detail"].as_str().expect("detail");
    assert!(
        detail.contains("on_success hook `hook.sh` timed out after 30s"),
        "{detail}"
    );
}

fn repo() -> &'static Path {
    Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/.."))
}

/// The README shows the example hooks as they are shipped.
fn shipped_hook(name: &str) -> String {
    let text =
        std::fs::read_to_string(repo().join("scripts/hooks").join(name)).expect("a shipped hook");
    let readme = std::fs::read_to_string(repo().join("README.md")).expect("README");
    assert!(
        readme.contains(&text),
        "README.md must show scripts/hooks/{name} as it is"
    );
    text
}

/// Answers one HTTP request with 200 and hands back what it received.
fn one_request(listener: TcpListener) -> std::thread::JoinHandle<String> {
    std::thread::spawn(move || {
        let (stream, _) = listener.accept().expect("a request");
        let mut reader = BufReader::new(stream);
        let mut head = String::new();
        let mut length = 0;
        loop {
            let mut line = String::new();
            reader.read_line(&mut line).expect("a header line");
            if let Some(value) = line.to_ascii_lowercase().strip_prefix("content-length:") {
                length = value.trim().parse().expect("a length");
            }
            head.push_str(&line);
            if line == "\r\n" || line.is_empty() {
                break;
            }
        }
        let mut body = vec![0; length];
        reader.read_exact(&mut body).expect("the body");
        let mut stream = reader.into_inner();
        stream
            .write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
            .expect("answer");
        head + &String::from_utf8_lossy(&body)
    })
}

#[test]
fn the_readme_webhook_and_mail_hooks_send_what_failed() {
    let listener = TcpListener::bind("127.0.0.1:0").expect("a loopback port");
    let url = format!("http://{}/hook", listener.local_addr().expect("address"));
    let server = one_request(listener);
    // the job's own on_error replaces the top level's: one request only
    let flow = hooked("", "#!/bin/sh\n./hooks/webhook && ./hooks/mail\n")
        .yaml(
            "settle: 0s
retries: 1
on_error: [\"hooks/webhook\"]
jobs:
  - name: work
    run: ./job.sh
    source: in
    target: out
    on_error: [\"./hook.sh\"]
",
        )
        .script("hooks/webhook", &shipped_hook("webhook"))
        .script("hooks/mail", &shipped_hook("mail"))
        .script("bin/sendmail", "#!/bin/sh\ncat > \"$FLOW_DIR/.mail\"\n");
    let path = format!(
        "{}:{}",
        flow.path("bin").display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let output = flow
        .command(&["run"])
        .env("PATH", path)
        .env("FLOW_WEBHOOK_URL", &url)
        .env("FLOW_MAIL_TO", "ops@example.com")
        .output()
        .expect("run flow");
    assert_eq!(
        output.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let request = server.join().expect("the server thread");
    assert!(request.starts_with("POST /hook HTTP/1.1\r\n"), "{request}");
    assert!(request.contains("application/json"), "{request}");
    assert!(
        request.contains("\"text\": \"flow: work bad.txt ended failed (exit 7, attempt 1); log: "),
        "{request}"
    );
    let mail = flow.read(".mail");
    assert!(
        mail.starts_with("To: ops@example.com\nSubject: flow: work bad.txt ended failed\n"),
        "{mail}"
    );
    assert!(mail.contains("[flow] exited with code 7"), "{mail}");
}

/// Sets every run's recorded times `days` back, and its log's mtime.
fn age_runs(flow: &Flow, days: u64) {
    let db = rusqlite::Connection::open(flow.path(".flow/state.db")).expect("open the state");
    let then = SystemTime::now() - Duration::from_secs(days * 24 * 3600);
    let stamp = chrono::DateTime::<chrono::Utc>::from(then)
        .to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
    db.execute("UPDATE runs SET started_at = ?1, ended_at = ?1", [&stamp])
        .expect("age the runs");
    for entry in std::fs::read_dir(flow.path(".flow/logs")).expect("logs") {
        let file = std::fs::File::options()
            .write(true)
            .open(entry.expect("an entry").path())
            .expect("a log");
        file.set_modified(then).expect("age a log");
    }
}

#[test]
fn runs_older_than_keep_are_pruned_with_their_logs_but_never_an_items_last_run() {
    let noisy = r#"head -c 200000 /dev/zero | tr '\0' x; echo"#;
    let flow = Flow::new()
        .yaml("settle: 0s\nkeep: 30d\njobs:\n  - name: work\n    run: ./job.sh\n    source: in\n    target: out\n")
        .job("job.sh", noisy)
        .file("in/a.txt", "a1\n")
        .file("in/b.txt", "b\n");
    flow.run(&["run"]).assert_code(0);
    for text in ["a2\n", "a33\n"] {
        flow.write("in/a.txt", text);
        flow.run(&["run"]).assert_code(0);
    }
    assert_eq!(flow.list(".flow/logs").len(), 4);
    age_runs(&flow, 40);
    let before = flow.status()["state_bytes"].as_u64().expect("state_bytes");
    flow.run(&["run"]).assert_code(0);
    assert_eq!(
        flow.list(".flow/logs").len(),
        2,
        "{:?}",
        flow.list(".flow/logs")
    );
    let after = flow.status()["state_bytes"].as_u64().expect("state_bytes");
    assert!(after + 300_000 < before, "{before} -> {after}");
    for item in ["a.txt", "b.txt"] {
        let log = flow.run(&["logs", "work", item]);
        log.assert_code(0);
        assert!(log.stdout.ends_with("[flow] exited with code 0\n"));
    }
    let text = flow.run(&["status"]);
    assert!(text.stdout.contains("state: "), "{}", text.stdout);
}
