//! `executor: slurm` on a real single-node cluster (`scripts/slurm-throwaway`,
//! named by `FLOW_TEST_SLURM_CONF`): the sample flow, the job ids and
//! states on the page and in `/metrics`, a failing job, a
//! timeout, a job over its memory, a job `squeue` no longer lists,
//! `kill -9` and SIGTERM of `flow run` (adopted jobs: never run twice, new
//! items beside them, their timeouts from their recorded starts), an
//! `sbatch` the controller did not answer, and one `squeue` per poll. In CI a missing cluster fails these tests; by
//! hand, each says it is skipped.

use std::os::unix::fs::PermissionsExt as _;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use flow_tests::{Flow, Output, Served, finish, send, wait_for};
use nix::sys::signal::Signal;

use crate::sample_flow::sample;
use crate::single;

/// Long enough for any of these flows on a loaded two-core machine.
const DEADLINE: Duration = Duration::from_secs(180);

/// The cluster's `slurm.conf`; `None` (the test is skipped, and says so)
/// outside CI without one; a failure in CI, where every test must run.
fn cluster() -> Option<String> {
    if let Ok(conf) = std::env::var("FLOW_TEST_SLURM_CONF")
        && !conf.is_empty()
    {
        return Some(conf);
    }
    let how = "run `scripts/test`, which starts a throwaway cluster, or start one with \
               `eval \"$(scripts/slurm-throwaway)\"` (needs root and `apt-get install -y slurm-wlm munge`)";
    let in_ci = std::env::var("CI").is_ok_and(|ci| !ci.is_empty() && ci != "false" && ci != "0");
    assert!(
        !in_ci,
        "FLOW_TEST_SLURM_CONF is not set and CI is, so this test cannot run: {how}"
    );
    eprintln!("skipped: FLOW_TEST_SLURM_CONF is not set; {how}");
    None
}

/// `flow args` in `flow`'s folder, talking to the cluster of `conf`.
fn flow_command(flow: &Flow, conf: &str, args: &[&str]) -> Command {
    let mut command = flow.command(args);
    command
        .env("SLURM_CONF", conf)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    command
}

fn run(flow: &Flow, conf: &str, args: &[&str]) -> Output {
    finish(
        flow_command(flow, conf, args).spawn().expect("start flow"),
        DEADLINE,
    )
}

/// A one-job Slurm flow `work: in -> out` whose job runs `before` first.
fn on_cluster(settings: &str, before: &str) -> Flow {
    single(&format!("settle: 0s\nexecutor: slurm\n{settings}"), before)
}

/// The job ids of the flow's runs, from `status --json`.
fn job_ids(flow: &Flow, job: &str) -> Vec<String> {
    let status = flow.status();
    let jobs = status["jobs"].as_array().expect("jobs");
    let entry = jobs
        .iter()
        .find(|entry| entry["name"] == job)
        .expect("the job");
    entry["items"]
        .as_array()
        .expect("items")
        .iter()
        .map(|item| {
            let executor = &item["last_run"]["executor"];
            assert_eq!(executor["kind"], "slurm", "{item:#}");
            executor["job_id"]
                .as_str()
                .unwrap_or_else(|| panic!("no job id in {item:#}"))
                .to_owned()
        })
        .collect()
}

/// Waits until `count` items of the flow's one job show a Slurm job id in
/// `status --json`; past [`DEADLINE`], stops `flow` and fails with each
/// item's state and `flow`'s messages, which tell why one was not submitted.
fn wait_for_submissions(flow: &Flow, mut child: Child, count: usize) -> Child {
    let until = Instant::now() + DEADLINE;
    let submitted = |items: &[serde_json::Value]| {
        items.len() == count
            && items
                .iter()
                .all(|item| item["last_run"]["executor"]["job_id"].is_string())
    };
    loop {
        let status = flow.status();
        let items = status["jobs"][0]["items"]
            .as_array()
            .cloned()
            .unwrap_or_default();
        if submitted(&items) {
            return child;
        }
        if Instant::now() >= until {
            let _ = child.kill();
            let stderr = finish(child, DEADLINE).stderr;
            let states: Vec<String> = items
                .iter()
                .map(|item| {
                    format!(
                        "{}: {} {} {}",
                        item["item"],
                        item["status"],
                        item["last_run"]["outcome"],
                        item["last_run"]["executor"]
                    )
                })
                .collect();
            panic!(
                "timed out waiting for {count} submitted jobs\n--- items\n{}\n--- flow's stderr\n{stderr}",
                states.join("\n")
            );
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Whether Slurm still has job `id` queued or running.
fn still_queued(conf: &str, id: &str) -> bool {
    let output = Command::new("squeue")
        .args([
            "-h",
            "-t",
            "PENDING,RUNNING,COMPLETING,CONFIGURING,SUSPENDED",
            "-j",
            id,
        ])
        .env("SLURM_CONF", conf)
        .output()
        .expect("run squeue");
    !String::from_utf8_lossy(&output.stdout).trim().is_empty()
}

#[test]
fn the_sample_flow_runs_every_target_on_the_cluster() {
    let Some(conf) = cluster() else { return };
    let flow = sample();
    let yaml = flow.read("flow.yaml");
    flow.write("flow.yaml", &format!("executor: slurm\n{yaml}"));
    run(&flow, &conf, &["run"]).assert_code(0);
    for target in [
        "timestamped/File_A.xlsx",
        "zscored/File_A.xlsx",
        "merged/File.xlsx",
    ] {
        assert!(flow.exists(target), "no {target}");
    }
    for job in ["timestamp", "zscore", "merge"] {
        let ids = job_ids(&flow, job);
        assert!(!ids.is_empty(), "no run of {job}");
        let status = flow.status();
        let entry = status["jobs"]
            .as_array()
            .and_then(|jobs| jobs.iter().find(|entry| entry["name"] == job).cloned())
            .expect("job");
        assert_eq!(entry["counts"]["error"], 0, "{entry:#}");
        for item in entry["items"].as_array().expect("items") {
            assert_completed(item);
        }
    }
}

#[test]
fn the_page_and_metrics_show_each_runs_slurm_job_id_and_state() {
    let Some(conf) = cluster() else { return };
    let flow = on_cluster("", "").file("in/a.txt", "a\n");
    run(&flow, &conf, &["run"]).assert_code(0);
    let id = job_ids(&flow, "work").remove(0);
    let served = Served::start(&flow);
    let page = served.get("/jobs/work/items/a.txt");
    assert_eq!(page.status, 200, "{page:?}");
    assert!(
        page.body
            .contains(&format!("<dt>slurm job</dt><dd>{id} COMPLETED</dd>")),
        "no Slurm job {id} on the item page\n{}",
        page.body
    );
    let metrics = served.get("/metrics");
    let series = format!(
        "flow_slurm_job_info{{job=\"work\",item=\"a.txt\",job_id=\"{id}\",state=\"COMPLETED\"}} 1"
    );
    assert!(
        metrics.body.lines().any(|line| line == series),
        "no `{series}` in\n{}",
        metrics.body
    );
}

#[test]
fn a_job_exiting_3_is_an_error_with_its_code_and_log_tail() {
    let Some(conf) = cluster() else { return };
    let flow = on_cluster("", "echo 'column nav missing' >&2; exit 3").file("in/a.txt", "a\n");
    run(&flow, &conf, &["run"]).assert_code(1);
    let item = flow.item("work", "a.txt");
    assert_eq!(item["status"], "error", "{item:#}");
    assert_eq!(item["last_run"]["exit_code"], 3, "{item:#}");
    assert_eq!(item["last_run"]["executor"]["state"], "FAILED", "{item:#}");
    let tail = item["log_tail"].to_string();
    assert!(tail.contains("column nav missing"), "{tail}");
    let logs = run(&flow, &conf, &["logs", "work", "a.txt"]);
    assert!(
        logs.stdout.contains("column nav missing"),
        "{}",
        logs.stdout
    );
}

#[test]
fn a_job_past_its_timeout_is_cancelled_and_recorded_timeout() {
    let Some(conf) = cluster() else { return };
    let flow = on_cluster("timeout: 2s", "sleep 120").file("in/a.txt", "a\n");
    run(&flow, &conf, &["run"]).assert_code(1);
    let item = flow.item("work", "a.txt");
    assert_eq!(item["last_run"]["outcome"], "timeout", "{item:#}");
    for id in job_ids(&flow, "work") {
        assert!(!still_queued(&conf, &id), "job {id} is still in squeue");
    }
}

#[test]
fn a_job_over_its_memory_is_an_error_with_the_reason() {
    let Some(conf) = cluster() else { return };
    let flow = on_cluster(
        "slurm: { mem: 60M }",
        "python3 -c 'import time; b = bytearray(400 * 2**20); time.sleep(2)'",
    )
    .file("in/a.txt", "a\n");
    run(&flow, &conf, &["run"]).assert_code(1);
    let item = flow.item("work", "a.txt");
    assert_eq!(item["status"], "error", "{item:#}");
    let cgroups = Path::new(&conf).with_file_name("cgroup.conf").is_file();
    if cgroups {
        let tail = item["log_tail"].to_string();
        assert!(tail.contains("out of memory"), "{tail}");
        assert_eq!(
            item["last_run"]["executor"]["state"], "OUT_OF_MEMORY",
            "{item:#}"
        );
    } else {
        eprintln!("this cluster has no cgroup memory limits: the job is killed, not OUT_OF_MEMORY");
    }
}

#[test]
fn a_job_neither_squeue_nor_sacct_lists_is_followed_by_scontrol() {
    let Some(conf) = cluster() else { return };
    // runs well past the grace after which a job Slurm forgot is lost
    let flow = on_cluster("", "sleep 40").file("in/a.txt", "a\n");
    let child = flow_command(&flow, &conf, &["run"])
        .spawn()
        .expect("start flow");
    let child = wait_for_submissions(&flow, child, 1);
    let id = job_ids(&flow, "work").remove(0);
    wait_for("the job to run", DEADLINE, || {
        flow.item("work", "a.txt")["last_run"]["executor"]["state"] == "RUNNING"
    });
    // `squeue --name` no longer lists it, and the cluster keeps no accounting
    let renamed = Command::new("scontrol")
        .args(["update", &format!("JobId={id}"), "JobName=renamed-by-admin"])
        .env("SLURM_CONF", &conf)
        .status()
        .expect("run scontrol");
    assert!(renamed.success(), "scontrol update failed");
    finish(child, DEADLINE).assert_code(0);
    assert_completed(&flow.item("work", "a.txt"));
}

/// An item of `status --json` whose last run succeeded as a Slurm job
/// the cluster says COMPLETED.
fn assert_completed(item: &serde_json::Value) {
    assert_eq!(item["status"], "success", "{item:#}");
    assert_eq!(
        item["last_run"]["executor"]["state"], "COMPLETED",
        "{item:#}"
    );
}

#[test]
fn kill_9_of_flow_loses_no_job_and_runs_none_twice() {
    let Some(conf) = cluster() else { return };
    let count = r#"echo ran >> "$FLOW_DIR/count-$FLOW_ITEM"; sleep 4"#;
    let flow = on_cluster("", count)
        .file("in/a.txt", "a\n")
        .file("in/b.txt", "b\n");
    let child = flow_command(&flow, &conf, &["run"])
        .spawn()
        .expect("start flow");
    wait_for("both jobs to run", DEADLINE, || {
        flow.exists("count-a.txt") && flow.exists("count-b.txt")
    });
    send(child.id(), Signal::SIGKILL);
    let _ = finish(child, DEADLINE);
    run(&flow, &conf, &["run"]).assert_code(0);
    for item in ["a.txt", "b.txt"] {
        assert_eq!(flow.item("work", item)["status"], "success");
        assert_eq!(
            flow.read(&format!("count-{item}")),
            "ran\n",
            "{item} ran twice"
        );
        assert!(flow.exists(&format!("out/{item}")));
    }
}

/// Starts `flow run` and `kill -9`s it once `flag` is in the flow folder.
fn kill_9_once(flow: &Flow, conf: &str, flag: &str) {
    let child = flow_command(flow, conf, &["run"])
        .spawn()
        .expect("start flow");
    wait_for(flag, DEADLINE, || flow.exists(flag));
    send(child.id(), Signal::SIGKILL);
    let _ = finish(child, DEADLINE);
}

#[test]
fn new_items_run_beside_the_jobs_adopted_from_a_killed_flow() {
    let Some(conf) = cluster() else { return };
    let script = r#"echo ran >> "$FLOW_DIR/count-$FLOW_ITEM"
if [ "$FLOW_ITEM" = a.txt ]; then sleep 20; fi"#;
    let flow = on_cluster("", script).file("in/a.txt", "a\n");
    kill_9_once(&flow, &conf, "count-a.txt");
    let flow = flow.file("in/b.txt", "b\n");
    run(&flow, &conf, &["run"]).assert_code(0);
    let (a, b) = (flow.item("work", "a.txt"), flow.item("work", "b.txt"));
    for item in [&a, &b] {
        assert_eq!(item["status"], "success", "{item:#}");
    }
    assert_eq!(flow.read("count-a.txt"), "ran\n", "a.txt ran twice");
    // when b.txt's job runs is the cluster's choice; flow's is to submit it
    let at =
        |item: &serde_json::Value, what: &str| item["last_run"][what].as_str().map(str::to_owned);
    assert!(
        at(&b, "started_at") < at(&a, "ended_at"),
        "b.txt waited for the adopted a.txt\n{a:#}\n{b:#}"
    );
}

#[test]
fn an_adopted_job_times_out_counted_from_its_recorded_start() {
    let Some(conf) = cluster() else { return };
    let flow = on_cluster("timeout: 20s", r#"touch "$FLOW_DIR/started"; sleep 120"#)
        .file("in/a.txt", "a\n");
    kill_9_once(&flow, &conf, "started");
    // the timeout is over by the time the next pass adopts the job
    std::thread::sleep(Duration::from_secs(22));
    let began = Instant::now();
    run(&flow, &conf, &["run"]).assert_code(1);
    let took = began.elapsed();
    let item = flow.item("work", "a.txt");
    assert_eq!(item["last_run"]["outcome"], "timeout", "{item:#}");
    // counted from the adoption, it would run 20 s more
    assert!(
        took < Duration::from_secs(15),
        "the pass that adopted the job took {took:?}\n{item:#}"
    );
    for id in job_ids(&flow, "work") {
        assert!(!still_queued(&conf, &id), "job {id} is still in squeue");
    }
}

#[test]
fn sigterm_of_flow_cancels_queued_and_running_jobs_and_the_next_pass_runs_them() {
    let Some(conf) = cluster() else { return };
    // two CPUs, one per job: two run, the others wait in the queue
    let slow = r#"if [ -e "$FLOW_DIR/slow" ]; then sleep 120; fi"#;
    let mut flow = on_cluster("slurm: { cpus: 1 }", slow).file("slow", "");
    for name in ["a", "b", "c", "d"] {
        flow = flow.file(&format!("in/{name}.txt"), "x\n");
    }
    let child = flow_command(&flow, &conf, &["run"])
        .spawn()
        .expect("start flow");
    let child = wait_for_submissions(&flow, child, 4);
    let ids = job_ids(&flow, "work");
    send(child.id(), Signal::SIGTERM);
    let stopped = finish(child, DEADLINE);
    for item in ["a.txt", "b.txt", "c.txt", "d.txt"] {
        let entry = flow.item("work", item);
        assert_eq!(
            entry["last_run"]["outcome"], "interrupted",
            "{entry:#}\n{}",
            stopped.stderr
        );
    }
    for id in &ids {
        assert!(!still_queued(&conf, id), "job {id} is still in squeue");
    }
    std::fs::remove_file(flow.path("slow")).expect("remove the slow flag");
    run(&flow, &conf, &["run"]).assert_code(0);
    for item in ["a.txt", "b.txt", "c.txt", "d.txt"] {
        assert_eq!(flow.item("work", item)["status"], "success");
    }
}

/// A folder of wrappers named `program`, each running `script` (which
/// finds the real program in `$REAL`), and the PATH that puts it first.
fn wrapped(flow: &Flow, program: &str, script: &str) -> String {
    let wrappers = flow.path(".bin");
    std::fs::create_dir_all(&wrappers).expect("mkdir");
    let wrapper = wrappers.join(program);
    let real = which(program);
    std::fs::write(&wrapper, format!("#!/bin/sh\nREAL='{real}'\n{script}"))
        .expect("write the wrapper");
    std::fs::set_permissions(&wrapper, std::fs::Permissions::from_mode(0o755)).expect("chmod");
    format!(
        "{}:{}",
        wrappers.display(),
        std::env::var("PATH").unwrap_or_default()
    )
}

#[test]
fn a_submission_the_controller_did_not_answer_is_tried_again_never_twice() {
    let Some(conf) = cluster() else { return };
    let flow = on_cluster("", "").file("in/a.txt", "a\n");
    // the first call is refused unanswered; the second is taken, but its
    // answer lost; the third would submit the run a second time
    let lost =
        "sbatch: error: Batch job submission failed: Socket timed out on send/recv operation";
    let calls = flow.path(".sbatch-calls");
    let path = wrapped(
        &flow,
        "sbatch",
        &format!(
            r#"echo call >> '{calls}'
case $(wc -l < '{calls}') in
  1) echo '{lost}' >&2; exit 1 ;;
  2) "$REAL" "$@" > /dev/null; echo '{lost}' >&2; exit 1 ;;
esac
exec "$REAL" "$@"
"#,
            calls = calls.display()
        ),
    );
    let output = finish(
        flow_command(&flow, &conf, &["run"])
            .env("PATH", path)
            .spawn()
            .expect("start flow"),
        DEADLINE,
    );
    output.assert_code(0);
    let item = flow.item("work", "a.txt");
    assert_eq!(item["status"], "success", "{item:#}");
    assert_eq!(
        flow.read(".sbatch-calls").lines().count(),
        2,
        "sbatch was called again after the job was taken\n{}",
        output.stderr
    );
    assert!(output.stderr.contains("trying again"), "{}", output.stderr);
}

#[test]
fn one_squeue_call_per_poll_whatever_the_number_of_jobs() {
    let Some(conf) = cluster() else { return };
    let mut flow = on_cluster("slurm: { cpus: 1 }", "sleep 1");
    for n in 0..6 {
        flow = flow.file(&format!("in/{n}.txt"), "x\n");
    }
    let counter = flow.path(".squeue-calls");
    let path = wrapped(
        &flow,
        "squeue",
        &format!(
            "echo call >> '{}'\nexec \"$REAL\" \"$@\"\n",
            counter.display()
        ),
    );
    let output = finish(
        flow_command(&flow, &conf, &["run"])
            .env("PATH", path)
            .env("FLOW_LOG", "flow=debug")
            .spawn()
            .expect("start flow"),
        DEADLINE,
    );
    output.assert_code(0);
    let calls = std::fs::read_to_string(&counter)
        .unwrap_or_default()
        .lines()
        .count();
    let polls: Vec<usize> = output
        .stderr
        .lines()
        .filter(|line| line.contains("polled Slurm"))
        .filter_map(|line| {
            line.split("jobs=")
                .nth(1)?
                .split_whitespace()
                .next()?
                .parse()
                .ok()
        })
        .collect();
    assert_eq!(
        calls,
        polls.len(),
        "squeue calls and polls differ\n{}",
        output.stderr
    );
    assert!(
        polls.iter().any(|&jobs| jobs > 1),
        "no poll covered several jobs: {polls:?}"
    );
}

/// The path of `program` on PATH.
fn which(program: &str) -> String {
    std::env::var_os("PATH")
        .and_then(|path| {
            std::env::split_paths(&path)
                .map(|folder| folder.join(program))
                .find(|candidate| candidate.is_file())
        })
        .unwrap_or_else(|| panic!("no `{program}` on PATH"))
        .display()
        .to_string()
}
