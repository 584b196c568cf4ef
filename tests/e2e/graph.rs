//! One graph of items: partitioned trees carried through stages, a slow
//! item that holds back no other file's later stages, per-job caps, and
//! `plan` and `status` telling the same story.

use std::collections::BTreeMap;
use std::time::{Duration, SystemTime};

use flow_tests::{Flow, finish, wait_for};

use crate::THREE_STAGES;

const PARTITIONED: &str = "settle: 0s
jobs:
  - name: load
    run: ./jobs/copy.sh
    source: clean/{day}/{HH}_{name}.csv
    target: loaded/day={day}/{name}-{HH}.txt
  - name: clean
    run: ./jobs/copy.sh
    source: landing/{yyyy}/{mm}/{dd}/{HH}/{name}.csv
    target: clean/{yyyy}-{mm}-{dd}/{HH}_{name}.csv
";

const DROPS: [&str; 6] = [
    "2026/11/30/22/a.csv",
    "2026/11/30/23/a.csv",
    "2026/11/30/23/b.csv",
    "2026/12/01/00/a.csv",
    "2026/12/01/00/b.csv",
    "2026/12/01/00/part-0001.csv",
];

fn partitioned() -> Flow {
    let mut flow = Flow::new().yaml(PARTITIONED).job("jobs/copy.sh", "");
    for drop in DROPS {
        flow = flow.file(&format!("landing/{drop}"), &format!("{drop}\n"));
    }
    flow.file("landing/2026/11/30/23/.partial.csv", "half\n")
        .file("landing/2026/.tmp/01/00/x.csv", "hidden\n")
        .file("landing/2026/11/30/notes.csv", "too shallow\n")
}

#[test]
fn a_partitioned_tree_is_carried_through_two_stages_into_another_shape() {
    let flow = partitioned();
    flow.run(&["run"]).assert_code(0);
    let expected = [
        ("2026-11-30", "a-22", "2026/11/30/22/a.csv"),
        ("2026-11-30", "a-23", "2026/11/30/23/a.csv"),
        ("2026-11-30", "b-23", "2026/11/30/23/b.csv"),
        ("2026-12-01", "a-00", "2026/12/01/00/a.csv"),
        ("2026-12-01", "b-00", "2026/12/01/00/b.csv"),
        ("2026-12-01", "part-0001-00", "2026/12/01/00/part-0001.csv"),
    ];
    for (day, name, drop) in expected {
        let target = format!("loaded/day={day}/{name}.txt");
        assert_eq!(
            flow.read(&target),
            format!("{drop}\nby clean\nby load\n"),
            "{target}"
        );
    }
    assert_eq!(
        flow.list("loaded"),
        [".flow-staging", "day=2026-11-30", "day=2026-12-01"]
    );
    assert_eq!(
        flow.list("clean"),
        [".flow-staging", "2026-11-30", "2026-12-01"]
    );
    let calls = flow.calls();
    assert_eq!(calls.len(), 12, "{calls:?}");
    assert!(
        calls.contains(&"clean 2026/12/01/00/part-0001.csv".to_owned()),
        "items are named by their path below the root: {calls:?}"
    );
    assert!(
        !calls
            .iter()
            .any(|call| call.contains("partial") || call.contains("x.csv"))
    );

    flow.run(&["run"]).assert_code(0);
    assert_eq!(flow.calls().len(), 12, "a second run does nothing");

    let log = flow.run(&["logs", "clean", "2026/12/01/00/part-0001.csv"]);
    log.assert_code(0);
    assert_eq!(log.stdout, "[flow] exited with code 0\n");
    let item = flow.item("load", "2026-12-01/00_part-0001.csv");
    assert_eq!(item["status"], "success");
    assert_eq!(item["target"], "loaded/day=2026-12-01/part-0001-00.txt");
}

/// The first stage of `slow.txt` waits until the test creates `release`.
const HOLD_SLOW: &str = r#"if [ "$FLOW_JOB $FLOW_ITEM" = "s1 slow.txt" ]; then
  while [ ! -e "$FLOW_DIR/release" ]; do sleep 0.05; done
fi"#;

#[test]
fn a_slow_item_holds_back_no_other_files_later_stages() {
    let mut flow = Flow::new()
        .yaml(&format!("parallel: 2\n{THREE_STAGES}"))
        .job("jobs/copy.sh", HOLD_SLOW)
        .file("in/slow.txt", "slow\n");
    // the oldest input: among ready items of one stage it starts first
    let file = std::fs::File::options()
        .write(true)
        .open(flow.path("in/slow.txt"))
        .expect("open");
    file.set_modified(SystemTime::now() - Duration::from_secs(3600))
        .expect("backdate");
    for n in 0..10 {
        flow = flow.file(&format!("in/q{n}.txt"), &format!("q{n}\n"));
    }
    let child = flow.spawn(&["run"]);
    wait_for(
        "the ten quick files in the last stage",
        Duration::from_secs(90),
        || (0..10).all(|n| flow.exists(&format!("s3/q{n}.txt"))),
    );
    assert!(
        !flow.exists("s1/slow.txt"),
        "the slow item is still in its first stage"
    );
    assert!(
        flow.calls().contains(&"s1 slow.txt".to_owned()),
        "it started"
    );
    flow.write("release", "");
    finish(child, Duration::from_secs(90)).assert_code(0);
    assert_eq!(flow.read("s3/slow.txt"), "slow\nby s1\nby s2\nby s3\n");
    assert_eq!(flow.calls().len(), 33);
}

#[test]
fn a_job_runs_no_more_than_its_own_parallel_at_once() {
    let overlap = r#"if ! mkdir "$FLOW_DIR/.busy" 2>/dev/null; then echo "$FLOW_ITEM" >> "$FLOW_DIR/.overlap"; else
  sleep 0.2; rmdir "$FLOW_DIR/.busy"; fi"#;
    let mut flow = Flow::new()
        .yaml(
            "settle: 0s
parallel: 4
jobs:
  - name: one
    run: ./jobs/copy.sh
    source: in
    target: out
    parallel: 1
",
        )
        .job("jobs/copy.sh", overlap);
    for n in 0..6 {
        flow = flow.file(&format!("in/f{n}.txt"), "x\n");
    }
    flow.run(&["run"]).assert_code(0);
    assert_eq!(
        flow.list("out").len(),
        7,
        "six targets and the staging area"
    );
    assert!(!flow.exists(".overlap"), "{}", flow.read(".overlap"));
}

/// `flow plan` lines by job and item: the verb and what follows the colon.
fn plan_lines(stdout: &str) -> BTreeMap<(String, String), (String, String)> {
    stdout
        .lines()
        .filter(|line| !line.starts_with(' '))
        .filter_map(|line| {
            let (head, rest) = line.split_once(": ")?;
            let mut words = head.split(' ');
            let verb = words.next()?.to_owned();
            let job = words.next()?.to_owned();
            let item = words.next()?.to_owned();
            Some(((job, item), (verb, rest.to_owned())))
        })
        .collect()
}

#[test]
fn plan_and_status_agree_on_every_item_of_a_fresh_chain() {
    let flow = partitioned().file("landing/2026/12/01/01/young.csv", "y\n");
    let plan = flow.run(&["plan"]);
    plan.assert_code(0);
    assert!(
        plan.stdout
            .contains("wait load 2026-11-30/22_a.csv: upstream clean\n"),
        "{}",
        plan.stdout
    );
    assert!(
        plan.stdout
            .ends_with("7 to run, 7 after upstream jobs, 0 waiting, 0 in error, 0 up to date\n")
    );
    let lines = plan_lines(&plan.stdout);
    let status = flow.status();
    let mut seen = 0;
    for job in status["jobs"].as_array().expect("jobs") {
        for item in job["items"].as_array().expect("items") {
            let key = (
                job["name"].as_str().expect("name").to_owned(),
                item["item"].as_str().expect("id").to_owned(),
            );
            let (verb, rest) = lines
                .get(&key)
                .unwrap_or_else(|| panic!("{key:?} not in plan"));
            assert_eq!(item["status"], "preliminary", "{key:?}");
            match verb.as_str() {
                "run" => assert_eq!(item["reason"], "will_run", "{key:?}"),
                "wait" => {
                    assert_eq!(item["reason"], "upstream", "{key:?}");
                    assert_eq!(item["upstream"], serde_json::json!(["clean"]));
                    assert_eq!(rest, "upstream clean");
                }
                other => panic!("unexpected `{other}` for {key:?}"),
            }
            seen += 1;
        }
    }
    assert_eq!(seen, lines.len());
    assert!(
        flow.calls().is_empty(),
        "neither plan nor status runs a job"
    );
}
