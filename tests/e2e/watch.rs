//! `flow watch`: passes in one process on file-system events, the interval
//! as the full rescan, `flow.yaml` edits without a restart, no CPU while
//! idle, and shutdown by signal: the signal is forwarded to running jobs, a
//! second one escalates to SIGKILL.

use std::io::Write as _;
use std::time::{Duration, Instant};

use flow_tests::{Flow, alive, finish, send, wait_for};
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

/// Far below the hour of `--interval 1h`: only an event explains a pick-up
/// this soon, however loaded the machine.
const SOON: Duration = Duration::from_secs(15);

/// Stops a watch with SIGTERM and checks that it exits as it should.
fn stop(child: std::process::Child) -> flow_tests::Output {
    send(child.id(), Signal::SIGTERM);
    let output = finish(child, Duration::from_secs(30));
    output.assert_code(128 + 15);
    output
}

#[test]
fn ten_files_written_one_after_another_are_each_processed_without_a_rescan() {
    let flow = single("settle: 1s", "");
    let child = flow.spawn(&["watch", "--interval", "1h"]);
    for index in 0..10 {
        flow.write(&format!("in/f{index}.txt"), &format!("{index}\n"));
        let target = format!("out/f{index}.txt");
        wait_for(&target, SOON, || flow.exists(&target));
    }
    stop(child);
    let expected: Vec<String> = (0..10).map(|index| format!("work f{index}.txt")).collect();
    assert_eq!(flow.calls(), expected, "each once, in the order written");
    assert_eq!(flow.read("out/f9.txt"), "9\nby work\n");
}

#[test]
fn a_file_that_keeps_growing_is_not_taken_before_it_settles() {
    let flow = single("settle: 1s", "");
    let child = flow.spawn(&["watch", "--interval", "1h"]);
    let path = flow.path("in/big.txt");
    std::fs::create_dir_all(flow.path("in")).expect("mkdir in");
    let mut file = std::fs::File::create(&path).expect("create the input");
    let mut expected = String::new();
    let until = Instant::now() + Duration::from_secs(5);
    while Instant::now() < until {
        let line = format!("line {}\n", expected.len());
        file.write_all(line.as_bytes()).expect("append");
        expected.push_str(&line);
        std::thread::sleep(Duration::from_millis(200));
        assert!(!flow.exists("out/big.txt"), "taken while still growing");
    }
    drop(file);
    wait_for("the settled file", SOON, || flow.exists("out/big.txt"));
    stop(child);
    assert_eq!(flow.read("out/big.txt"), format!("{expected}by work\n"));
    assert_eq!(flow.calls(), ["work big.txt"], "one run, on the whole file");
}

#[test]
fn a_file_in_a_partition_folder_made_after_the_watch_started_is_picked_up() {
    let flow = Flow::new()
        .yaml(
            "settle: 1s
jobs:
  - name: work
    run: ./job.sh
    source: landing/{yyyy}/{mm}/{dd}/{HH}/{name}.txt
    target: out/{yyyy}-{mm}-{dd}-{HH}-{name}.txt
",
        )
        .job("job.sh", "")
        .file("landing/2026/11/30/23/a.txt", "a\n");
    let child = flow.spawn(&["watch", "--interval", "1h"]);
    wait_for("the first file", SOON, || {
        flow.exists("out/2026-11-30-23-a.txt")
    });
    flow.write("landing/2026/12/01/07/b.txt", "b\n");
    wait_for("the file in the new folders", SOON, || {
        flow.exists("out/2026-12-01-07-b.txt")
    });
    stop(child);
    assert_eq!(flow.read("out/2026-12-01-07-b.txt"), "b\nby work\n");
}

#[test]
fn an_edit_of_flow_yaml_takes_effect_without_a_restart_and_a_bad_one_is_ignored() {
    let flow = single("settle: 0s", "").file("in/a.txt", "a\n");
    let child = flow.spawn(&["watch", "--interval", "1h"]);
    wait_for("the first job", SOON, || flow.exists("out/a.txt"));
    flow.write(
        "flow.yaml",
        "settle: 0s
jobs:
  - name: work
    run: ./job.sh
    source: in
    target: out
  - name: more
    run: ./job.sh
    source: out
    target: more
",
    );
    wait_for("the job added", SOON, || flow.exists("more/a.txt"));
    flow.write("flow.yaml", "jobs: [unclosed\n");
    std::thread::sleep(Duration::from_millis(300));
    flow.write("in/b.txt", "b\n");
    wait_for("both jobs under the last valid configuration", SOON, || {
        flow.exists("more/b.txt")
    });
    let output = stop(child);
    assert!(
        output
            .stderr
            .contains("keeping the last valid configuration"),
        "{}",
        output.stderr
    );
    assert_eq!(flow.read("more/b.txt"), "b\nby work\nby more\n");
}

/// CPU time (user + system, in clock ticks) and context switches of every
/// thread of a process.
fn usage(pid: u32) -> (u64, u64) {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).expect("read stat");
    let fields: Vec<u64> = stat
        .rsplit_once(')')
        .map(|(_, rest)| {
            rest.split_whitespace()
                .map(|f| f.parse().unwrap_or(0))
                .collect()
        })
        .unwrap_or_default();
    // after the name: state is field 3, utime 14, stime 15
    let ticks = fields.get(11).copied().unwrap_or(0) + fields.get(12).copied().unwrap_or(0);
    let mut switches = 0;
    let tasks = std::fs::read_dir(format!("/proc/{pid}/task")).expect("read tasks");
    for task in tasks.filter_map(Result::ok) {
        let status = std::fs::read_to_string(task.path().join("status")).unwrap_or_default();
        switches += status
            .lines()
            .filter(|line| line.contains("ctxt_switches:"))
            .filter_map(|line| line.split_whitespace().last()?.parse::<u64>().ok())
            .sum::<u64>();
    }
    (ticks, switches)
}

#[test]
fn an_idle_watch_uses_no_cpu_and_does_not_wake_up() {
    let flow = single("settle: 0s", "").file("in/a.txt", "a\n");
    let child = flow.spawn(&["watch", "--interval", "1h"]);
    wait_for("the first pass", SOON, || flow.exists("out/a.txt"));
    std::thread::sleep(Duration::from_secs(1));
    let (ticks, switches) = usage(child.id());
    std::thread::sleep(Duration::from_secs(3));
    let (ticks_after, switches_after) = usage(child.id());
    stop(child);
    // /proc counts in USER_HZ, 100 a second on Linux: 20 ticks are 0.2 s
    assert!(
        ticks_after - ticks < 20,
        "{} ticks of CPU in 3 s",
        ticks_after - ticks
    );
    // a 50 ms poll would switch 60 times; an idle watch none but by chance
    assert!(
        switches_after - switches < 15,
        "{} context switches in 3 s",
        switches_after - switches
    );
}

#[test]
fn poll_finds_new_files_on_the_interval_alone() {
    let flow = single("settle: 0s", "").file("in/a.txt", "a\n");
    let child = flow.spawn(&["watch", "--poll", "--interval", "300ms"]);
    wait_for("the first pass", SOON, || flow.exists("out/a.txt"));
    flow.write("in/b.txt", "b\n");
    wait_for("a later pass", SOON, || flow.exists("out/b.txt"));
    stop(child);
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

#[test]
fn a_source_folder_replaced_by_another_is_watched_again() {
    let flow = single("settle: 0s", "").file("in/a.txt", "a\n");
    let child = flow.spawn(&["watch", "--interval", "1h"]);
    wait_for("the first file", SOON, || flow.exists("out/a.txt"));
    // what a deploy that swaps folders does: the old one moved away, a new
    // one made in its place, then files land in the new one
    std::fs::rename(flow.path("in"), flow.path("in-old")).expect("move the folder away");
    std::fs::create_dir(flow.path("in")).expect("make the new folder");
    flow.write("in/b.txt", "b\n");
    wait_for("the file in the new folder", SOON, || {
        flow.exists("out/b.txt")
    });
    stop(child);
    assert_eq!(flow.calls(), ["work a.txt", "work b.txt"]);
}

#[test]
fn a_flow_run_beside_a_watch_says_so_and_exits_0_without_running_anything() {
    // the job holds the watch's pass until the test lets it go
    let held = r#"touch "$FLOW_DIR/.started"
while [ ! -e "$FLOW_DIR/.go" ]; do sleep 0.05; done"#;
    let flow = single("settle: 0s", held).file("in/a.txt", "a\n");
    let child = flow.spawn(&["watch", "--interval", "1h"]);
    wait_for("the watch's job to start", SOON, || flow.exists(".started"));
    let beside = flow.run(&["run"]);
    beside.assert_code(0);
    assert!(
        beside
            .stderr
            .contains(&format!("another run (pid {}) holds the lock", child.id())),
        "{}",
        beside.stderr
    );
    flow.write(".go", "");
    wait_for("the watch's run to end", SOON, || flow.exists("out/a.txt"));
    stop(child);
    assert_eq!(flow.calls(), ["work a.txt"], "one run, by the watch");
}

/// The `decided` and `folders` figures of each plan a watch logged.
fn plan_costs(stderr: &str) -> Vec<(usize, usize)> {
    let figure = |line: &str, name: &str| -> Option<usize> {
        let start = line.find(&format!("{name}="))? + name.len() + 1;
        let digits: String = line[start..]
            .chars()
            .take_while(char::is_ascii_digit)
            .collect();
        digits.parse().ok()
    };
    stderr
        .lines()
        .filter(|line| line.contains("planned"))
        .filter_map(|line| Some((figure(line, "decided")?, figure(line, "folders")?)))
        .collect()
}

#[test]
fn an_event_decides_only_the_items_it_touches_and_lists_no_folder_again() {
    let mut flow = Flow::new()
        .yaml(
            "settle: 1s
jobs:
  - name: work
    run: ./job.sh
    source: in/{day}/{name}.txt
    target: out/{day}/{name}.txt
",
        )
        .job("job.sh", "")
        .env("FLOW_LOG", "flow=debug");
    for day in 0..20 {
        for file in 0..10 {
            flow = flow.file(&format!("in/d{day:02}/f{file}.txt"), "x\n");
        }
    }
    let child = flow.spawn(&["watch", "--interval", "1h"]);
    wait_for("the first pass", SOON, || flow.list("out/d19").len() == 10);
    // the folders the first pass made send their events: let that pass go by
    std::thread::sleep(Duration::from_secs(2));
    flow.write("in/d07/late.txt", "late\n");
    wait_for("the late file", SOON, || flow.exists("out/d07/late.txt"));
    let output = stop(child);
    let costs = plan_costs(&output.stderr);
    assert!(
        costs.first().is_some_and(|&(decided, _)| decided == 200),
        "the first pass decides every item: {costs:?}"
    );
    let last_pass = &costs[costs.len().saturating_sub(2)..];
    assert!(
        last_pass
            .iter()
            .all(|&(decided, folders)| decided == 1 && folders == 0),
        "the late file's pass decides its one item and lists nothing: {costs:?}\n{}",
        output.stderr
    );
    assert_eq!(flow.calls().len(), 201, "every item once");
}
