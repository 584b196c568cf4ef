//! `flow run`: the chain in one pass, idempotence, new and deleted files,
//! crash recovery, the lock, timeouts, settling and the job contract.

use std::time::{Duration, Instant};

use flow_tests::{Flow, alive, finish, send, wait_for};
use nix::sys::signal::Signal;

use crate::{chain, single};

fn sorted(mut calls: Vec<String>) -> Vec<String> {
    calls.sort();
    calls
}

#[test]
fn full_chain_in_one_run_then_a_second_run_does_nothing() {
    let flow = chain();
    let output = flow.run(&["run"]);
    output.assert_code(0);
    assert_eq!(
        flow.read("merged/X.txt"),
        "left X\nby timestamp\nby zscore\nright X\nby timestamp\nby merge\n"
    );
    assert_eq!(
        sorted(flow.calls()),
        [
            "merge X_A.txt",
            "timestamp X_A.txt",
            "timestamp X_B.txt",
            "zscore X_A.txt"
        ]
    );
    assert!(output.stderr.contains("run started"), "{}", output.stderr);
    assert!(
        output.stderr.contains("outcome=\"success\""),
        "{}",
        output.stderr
    );
    let status = flow.status();
    for job in status["jobs"].as_array().expect("jobs") {
        let counts = &job["counts"];
        assert_eq!(counts["error"], 0, "{job:#}");
        assert_eq!(counts["preliminary"], 0, "{job:#}");
        assert!(counts["success"].as_u64() >= Some(1), "{job:#}");
    }

    let second = flow.run(&["run"]);
    second.assert_code(0);
    assert_eq!(
        (second.stdout.as_str(), second.stderr.as_str()),
        ("", ""),
        "cron mails any output"
    );
    assert_eq!(flow.calls().len(), 4, "a second run must not run anything");
    assert_eq!(flow.list("merged"), [".flow-staging", "X.txt"]);
    assert!(
        flow.list("merged/.flow-staging").is_empty(),
        "nothing stays staged after a run"
    );
}

#[test]
fn a_new_input_is_processed_alone() {
    let flow = chain();
    flow.run(&["run"]).assert_code(0);
    flow.write("source/Y_A.txt", "left Y\n");
    flow.write("source/Y_B.txt", "right Y\n");
    flow.run(&["run"]).assert_code(0);
    let new: Vec<String> = flow.calls().split_off(4);
    assert_eq!(
        sorted(new),
        [
            "merge Y_A.txt",
            "timestamp Y_A.txt",
            "timestamp Y_B.txt",
            "zscore Y_A.txt"
        ]
    );
    assert!(flow.read("merged/Y.txt").starts_with("left Y\n"));
}

#[test]
fn a_deleted_target_is_rebuilt_and_nothing_else() {
    let flow = chain();
    flow.run(&["run"]).assert_code(0);
    std::fs::remove_file(flow.path("merged/X.txt")).expect("delete the target");
    assert_eq!(flow.item("merge", "X_A.txt")["status"], "preliminary");
    flow.run(&["run"]).assert_code(0);
    assert_eq!(flow.calls()[4..], ["merge X_A.txt"]);
    assert!(flow.exists("merged/X.txt"));
}

#[test]
fn a_changed_input_runs_again_downstream() {
    let flow = chain();
    flow.run(&["run"]).assert_code(0);
    flow.write("source/X_B.txt", "right X, corrected\n");
    flow.run(&["run"]).assert_code(0);
    assert_eq!(
        sorted(flow.calls()[4..].to_vec()),
        ["merge X_A.txt", "timestamp X_B.txt"]
    );
    assert!(flow.read("merged/X.txt").contains("right X, corrected"));
}

#[test]
fn kill_9_mid_run_then_the_next_run_redoes_only_the_interrupted_item() {
    // b.txt hangs on its first attempt after writing half an output
    let hang = r#"if [ "$FLOW_ITEM" = b.txt ] && [ ! -e "$FLOW_DIR/.b-started" ]; then
  echo $$ > "$FLOW_DIR/.b-started"
  echo partial > "$out"
  sleep 300 &
  echo $! > "$FLOW_DIR/.b-grandchild.part" && mv "$FLOW_DIR/.b-grandchild.part" "$FLOW_DIR/.b-grandchild"
  wait
fi"#;
    let flow = single("settle: 0s\nparallel: 1", hang)
        .file("in/a.txt", "a\n")
        .file("in/b.txt", "b\n");
    let child = flow.spawn(&["run"]);
    wait_for("the hanging job to start", Duration::from_secs(60), || {
        flow.exists(".b-grandchild")
    });
    send(child.id(), Signal::SIGKILL);
    let _ = finish(child, Duration::from_secs(30));
    assert!(flow.exists("out/a.txt"));
    assert!(
        !flow.exists("out/b.txt"),
        "a half-written target must never be visible"
    );

    flow.run(&["run"]).assert_code(0);
    assert_eq!(
        flow.calls(),
        ["work a.txt", "work b.txt", "work b.txt"],
        "a.txt must not run again"
    );
    assert_eq!(flow.read("out/b.txt"), "b\nby work\n");
    assert_eq!(
        flow.list("out/.flow-staging"),
        Vec::<String>::new(),
        "staging files are discarded"
    );
    assert!(
        !alive(flow.pid(".b-grandchild")),
        "the dead run's processes are stopped"
    );
    let item = flow.item("work", "b.txt");
    assert_eq!(item["status"], "success");
}

#[test]
fn a_second_concurrent_run_says_the_lock_is_held_and_exits_0() {
    let wait = r#"touch "$FLOW_DIR/.started"
while [ ! -e "$FLOW_DIR/.release" ]; do sleep 0.05; done"#;
    let flow = single("settle: 0s", wait).file("in/a.txt", "a\n");
    let first = flow.spawn(&["run"]);
    wait_for("the first run's job", Duration::from_secs(60), || {
        flow.exists(".started")
    });
    let second = flow.run(&["run"]);
    second.assert_code(0);
    assert!(
        second.stderr.contains("holds the lock")
            && second.stderr.contains(&format!("pid {}", first.id())),
        "{}",
        second.stderr
    );
    let status = flow.status();
    assert_eq!(status["run_in_progress"], true);
    assert_eq!(status["jobs"][0]["counts"]["running"], 1, "{status:#}");
    flow.write(".release", "");
    finish(first, Duration::from_secs(60)).assert_code(0);
    assert_eq!(flow.calls(), ["work a.txt"]);
}

#[test]
fn a_job_past_its_timeout_is_killed_with_its_whole_process_group() {
    // `stubborn` ignores TERM (as does its grandchild), so only KILL after
    // the grace period stops it; `polite` dies of the TERM
    let hang = r#"if [ "$FLOW_ITEM" = stubborn.txt ]; then trap '' TERM; fi
sleep 300 &
echo $! > "$FLOW_DIR/.grandchild-$FLOW_ITEM"
wait
sleep 300"#;
    let flow = single("settle: 0s\nparallel: 2\ntimeout: 1s\ngrace: 1s", hang)
        .file("in/polite.txt", "p\n")
        .file("in/stubborn.txt", "s\n");
    let started = Instant::now();
    flow.run(&["run"]).assert_code(1);
    assert!(
        started.elapsed() < Duration::from_secs(60),
        "the timeout must stop the run"
    );
    for (item, signal) in [("polite.txt", 15), ("stubborn.txt", 9)] {
        let grandchild = flow.pid(&format!(".grandchild-{item}"));
        assert!(!alive(grandchild), "grandchild of {item} survived");
        let status = flow.item("work", item);
        assert_eq!(status["status"], "error", "{status:#}");
        assert_eq!(status["last_run"]["outcome"], "timeout", "{status:#}");
        assert_eq!(status["last_run"]["signal"], signal, "{status:#}");
        let tail = status["log_tail"].to_string();
        assert!(tail.contains("timed out after 1s"), "{tail}");
    }
    assert!(!flow.exists("out/polite.txt"));
}

#[test]
fn a_grandchild_holding_stdout_does_not_hang_the_host() {
    let holder = r#"sleep 300 &
echo $! > "$FLOW_DIR/.holder""#;
    let flow = single("settle: 0s", holder).file("in/a.txt", "a\n");
    flow.run(&["run"]).assert_code(0);
    assert_eq!(flow.read("out/a.txt"), "a\nby work\n");
    assert!(
        !alive(flow.pid(".holder")),
        "what a job leaves in its group is stopped"
    );
}

#[test]
fn one_failing_item_never_stops_the_others_and_exit_0_without_output_is_an_error() {
    let fail = r#"case "$FLOW_ITEM" in
  bad.txt) echo "bad.txt: column nav, row 2: not a number" >&2; exit 3 ;;
  empty.txt) exit 0 ;;
esac"#;
    let flow = single("settle: 0s\nparallel: 1", fail)
        .file("in/bad.txt", "x\n")
        .file("in/empty.txt", "x\n")
        .file("in/good.txt", "g\n");
    flow.run(&["run"]).assert_code(1);
    assert_eq!(flow.read("out/good.txt"), "g\nby work\n");
    let bad = flow.item("work", "bad.txt");
    assert_eq!(
        (
            bad["status"].as_str(),
            bad["last_run"]["exit_code"].as_i64()
        ),
        (Some("error"), Some(3))
    );
    let empty = flow.item("work", "empty.txt");
    assert_eq!(empty["status"], "error");
    assert_eq!(empty["last_run"]["outcome"], "no_output");
    assert!(!flow.exists("out/empty.txt"));
}

#[test]
fn a_plugin_written_as_a_shell_script_gets_the_contract() {
    let flow = Flow::new()
        .yaml(
            "settle: 0s
jobs:
  - name: inspect
    run: ./inspect.sh
    source: in/{name}_A.{ext}
    inputs: { right: \"in/{name}_B.{ext}\" }
    target: out/{name}.{ext}
    args: { column: nav, ddof: 1 }
",
        )
        .script(
            "inspect.sh",
            r#"#!/bin/sh
for arg in "$@"; do echo "arg $arg"; done > "$FLOW_DIR/.seen"
env | grep -E '^FLOW_(DIR|ITEM|JOB|RUN_ID)=' | sort >> "$FLOW_DIR/.seen"
while [ $# -gt 0 ]; do [ "$1" = --output ] && out="$2"; shift; done
echo "cwd $(pwd)" >> "$FLOW_DIR/.seen"
echo done > "$out"
"#,
        )
        .file("in/P_A.csv", "a\n")
        .file("in/P_B.csv", "b\n")
        .file("in/.P_A.csv.swp", "editor file, never an input\n");
    flow.run(&["run"]).assert_code(0);
    let root = flow.root().canonicalize().expect("canonical");
    let dir = root.display();
    let seen = flow.read(".seen");
    let expected = format!(
        "arg --input\narg {dir}/in/P_A.csv\narg --right\narg {dir}/in/P_B.csv\narg --output\n\
         arg {dir}/out/.flow-staging/1-P.csv\narg --column\narg nav\narg --ddof\narg 1\n\
         FLOW_DIR={dir}\nFLOW_ITEM=P_A.csv\nFLOW_JOB=inspect\nFLOW_RUN_ID=1\ncwd {dir}\n"
    );
    assert_eq!(seen, expected);
    assert_eq!(flow.read("out/P.csv"), "done\n");
    let status = flow.status();
    assert_eq!(status["jobs"][0]["items"].as_array().map(Vec::len), Some(1));
}

#[test]
fn a_file_still_growing_is_not_picked_up_until_it_settles() {
    // settle far above a write's 300 ms gap: a loaded machine that starves
    // the writer or delays a pass must not make the file look settled
    let flow = single("settle: 8s", "").file("in/grow.txt", "");
    let path = flow.path("in/grow.txt");
    let writer = std::thread::spawn(move || {
        use std::io::Write as _;
        for line in 0..12 {
            let mut file = std::fs::OpenOptions::new()
                .append(true)
                .open(&path)
                .expect("open");
            writeln!(file, "line {line}").expect("append");
            std::thread::sleep(Duration::from_millis(300));
        }
    });
    while !writer.is_finished() {
        flow.run(&["run"]).assert_code(0);
        assert!(
            !flow.exists("out/grow.txt"),
            "picked up while still being written"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
    writer.join().expect("writer");
    flow.run(&["run"]).assert_code(0);
    assert!(!flow.exists("out/grow.txt"), "picked up before it settled");
    let item = flow.item("work", "grow.txt");
    assert_eq!(item["status"], "preliminary");
    assert!(
        item["detail"]
            .as_str()
            .is_some_and(|d| d.contains("settle")),
        "{item:#}"
    );
    std::thread::sleep(Duration::from_secs(9));
    flow.run(&["run"]).assert_code(0);
    let expected: String = (0..12).map(|line| format!("line {line}\n")).collect();
    assert_eq!(flow.read("out/grow.txt"), format!("{expected}by work\n"));
}

#[test]
fn fresh_outputs_of_upstream_jobs_do_not_wait_to_settle() {
    let flow = chain();
    flow.write(
        "flow.yaml",
        &crate::CHAIN.replace("settle: 0s", "settle: 1s"),
    );
    // only the sources have to be older than `settle`; what the host promoted
    // downstream is complete by construction
    std::thread::sleep(Duration::from_millis(1500));
    flow.run(&["run"]).assert_code(0);
    assert!(
        flow.exists("merged/X.txt"),
        "the chain must finish in one run"
    );
    assert_eq!(flow.calls().len(), 4);
}
