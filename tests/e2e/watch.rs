//! `flow watch`: passes in one process, and shutdown by signal: the signal
//! is forwarded to running jobs, a second one escalates to SIGKILL.

use std::time::Duration;

use flow_tests::{alive, finish, send, wait_for};
use nix::sys::signal::Signal;

use crate::single;

#[test]
fn watch_picks_up_new_files_and_stops_on_sigterm() {
    let flow = single("settle: 0s", "").file("in/a.txt", "a\n");
    let child = flow.spawn(&["watch", "--interval", "200ms"]);
    wait_for("the first pass", Duration::from_secs(60), || {
        flow.exists("out/a.txt")
    });
    flow.write("in/b.txt", "b\n");
    wait_for("a later pass", Duration::from_secs(60), || {
        flow.exists("out/b.txt")
    });
    send(child.id(), Signal::SIGTERM);
    let output = finish(child, Duration::from_secs(30));
    output.assert_code(128 + 15);
    assert_eq!(flow.calls(), ["work a.txt", "work b.txt"]);
}

#[test]
fn ctrl_c_is_forwarded_to_the_job_and_a_second_one_escalates() {
    // the job survives SIGINT (it traps it), so only the escalation stops it;
    // a long grace makes sure it is the second Ctrl-C that does
    // the trap is set before the pid appears, and the pid file appears
    // whole (by rename), so the test never acts on a job not yet ready
    let stubborn = r#"trap 'echo got INT' INT
echo $$ > "$FLOW_DIR/.job.part" && mv "$FLOW_DIR/.job.part" "$FLOW_DIR/.job"
while :; do sleep 0.1; done"#;
    let flow = single("settle: 0s\ngrace: 10m", stubborn).file("in/a.txt", "a\n");
    let child = flow.spawn(&["watch", "--interval", "1s"]);
    wait_for("the job to start", Duration::from_secs(60), || {
        flow.exists(".job")
    });
    let job = flow.pid(".job");
    send(child.id(), Signal::SIGINT);
    let log = flow.path(".flow/logs/1-work-a.txt.log");
    wait_for("the job to see SIGINT", Duration::from_secs(30), || {
        std::fs::read_to_string(&log).is_ok_and(|text| text.contains("got INT"))
    });
    std::thread::sleep(Duration::from_millis(300));
    assert!(alive(job), "the job traps SIGINT and keeps running");
    send(child.id(), Signal::SIGINT);
    let output = finish(child, Duration::from_secs(30));
    output.assert_code(128 + 2);
    assert!(!alive(job), "the second Ctrl-C must kill the job");
    let item = flow.item("work", "a.txt");
    assert_eq!(item["last_run"]["outcome"], "interrupted", "{item:#}");
    assert_eq!(
        item["status"], "preliminary",
        "an interrupted item runs again"
    );
    assert_eq!(item["attempts"], 0, "an interruption is not an attempt");
}

#[test]
fn ctrl_c_stops_flow_run_and_the_next_run_redoes_the_item() {
    let slow = r#"if [ ! -e "$FLOW_DIR/.once" ]; then
  touch "$FLOW_DIR/.once"
  echo $$ > "$FLOW_DIR/.job.part" && mv "$FLOW_DIR/.job.part" "$FLOW_DIR/.job"
  sleep 300
fi"#;
    let flow = single("settle: 0s", slow).file("in/a.txt", "a\n");
    let child = flow.spawn(&["run"]);
    wait_for("the job to start", Duration::from_secs(60), || {
        flow.exists(".job")
    });
    send(child.id(), Signal::SIGINT);
    finish(child, Duration::from_secs(30)).assert_code(128 + 2);
    assert!(!alive(flow.pid(".job")), "Ctrl-C reaches the job");
    assert!(!flow.exists("out/a.txt"));
    assert_eq!(
        flow.item("work", "a.txt")["last_run"]["outcome"],
        "interrupted"
    );
    flow.run(&["run"]).assert_code(0);
    assert_eq!(flow.read("out/a.txt"), "a\nby work\n");
}
