//! Decisions per item: new, settling, up to date, changed, deleted,
//! retried, given up, and the chain planned in one pass.

use super::*;
use crate::pattern::Pattern;

const SEC: i64 = 1_000_000_000;
const NOW: i64 = 1_000 * SEC;

fn job(source: &str, target: &str, inputs: &[(&str, &str)]) -> Job {
    let source = Pattern::parse(source).expect("source");
    let target = Pattern::parse_target(target, &source).expect("target");
    Job {
        name: "j".into(),
        program: "/bin/true".into(),
        source,
        inputs: inputs
            .iter()
            .map(|(name, pattern)| ((*name).to_owned(), Pattern::parse(pattern).expect("input")))
            .collect(),
        target,
        args: Vec::new(),
        timeout: Duration::from_secs(60),
        retries: 2,
    }
}

fn meta(age_secs: i64) -> FileMeta {
    FileMeta {
        size: 10,
        mtime_ns: NOW - age_secs * SEC,
    }
}

fn record(fingerprint: &str, outcome: Outcome, attempts: u32) -> ItemRecord {
    ItemRecord {
        job: "j".into(),
        item: "a.csv".into(),
        outcome,
        attempts,
        inputs: fingerprint.into(),
        last_run: 1,
        target: "out/a.csv".into(),
        produced: None,
        rearmed: false,
    }
}

fn decide_one(scan: &Scan, records: &HashMap<(String, String), ItemRecord>) -> Planned {
    let known = Known::new(records);
    let mut planned = plan_job(
        &job("in", "out", &[]),
        scan,
        &known,
        Duration::from_secs(2),
        NOW,
    );
    assert_eq!(planned.len(), 1);
    planned.remove(0)
}

fn with(entries: &[(&str, FileMeta)]) -> Scan {
    let mut scan = Scan::default();
    for (path, meta) in entries {
        scan.insert(path, *meta);
    }
    scan
}

fn keyed(record: ItemRecord) -> HashMap<(String, String), ItemRecord> {
    HashMap::from([(("j".to_owned(), "a.csv".to_owned()), record)])
}

#[test]
fn new_settled_input_runs_and_young_one_waits() {
    let planned = decide_one(&with(&[("in/a.csv", meta(5))]), &HashMap::new());
    let run = Decision::Run {
        attempt: 1,
        reason: Reason::New,
    };
    assert_eq!(planned.decision, run);
    assert_eq!(planned.item.target, "out/a.csv");
    let planned = decide_one(&with(&[("in/a.csv", meta(1))]), &HashMap::new());
    assert_eq!(
        planned.decision,
        Decision::Settling(vec!["in/a.csv".into()])
    );
}

#[test]
fn done_item_is_up_to_date_until_target_deleted_or_input_changed() {
    let scan = with(&[("in/a.csv", meta(5)), ("out/a.csv", meta(4))]);
    let fingerprint = decide_one(&scan, &HashMap::new()).fingerprint;
    let records = keyed(record(&fingerprint, Outcome::Success, 1));
    assert_eq!(decide_one(&scan, &records).decision, Decision::UpToDate);
    let deleted = with(&[("in/a.csv", meta(5))]);
    assert!(matches!(
        decide_one(&deleted, &records).decision,
        Decision::Run {
            reason: Reason::TargetMissing,
            ..
        }
    ));
    let changed = with(&[("in/a.csv", meta(3)), ("out/a.csv", meta(4))]);
    assert!(matches!(
        decide_one(&changed, &records).decision,
        Decision::Run {
            reason: Reason::InputChanged,
            attempt: 1
        }
    ));
}

#[test]
fn failures_retry_until_attempts_are_used_then_rearm() {
    let scan = with(&[("in/a.csv", meta(5))]);
    let fingerprint = decide_one(&scan, &HashMap::new()).fingerprint;
    let once = keyed(record(&fingerprint, Outcome::Failed, 1));
    assert_eq!(
        decide_one(&scan, &once).decision,
        Decision::Run {
            attempt: 2,
            reason: Reason::Retry
        }
    );
    let twice = keyed(record(&fingerprint, Outcome::TimedOut, 2));
    assert_eq!(
        decide_one(&scan, &twice).decision,
        Decision::GaveUp { attempts: 2 }
    );
    let mut rearmed = record(&fingerprint, Outcome::Failed, 0);
    rearmed.rearmed = true;
    assert!(matches!(
        decide_one(&scan, &keyed(rearmed)).decision,
        Decision::Run {
            reason: Reason::Rearmed,
            ..
        }
    ));
}

#[test]
fn own_fresh_outputs_need_not_settle_and_chain_in_one_plan() {
    let first = job("in", "mid", &[]);
    let mut second = job(
        "mid/{name}.{ext}",
        "out/{name}.{ext}",
        &[("right", "in/{name}.{ext}")],
    );
    second.name = "k".into();
    let scan = with(&[("in/a.csv", meta(5))]);
    let records = HashMap::new();
    let known = Known::new(&records);
    let config = Config {
        dir: crate::config::FlowDir {
            shown: ".".into(),
            path: "/x".into(),
        },
        settle: Duration::from_secs(2),
        grace: Duration::from_secs(1),
        parallel: 1,
        jobs: vec![first, second],
    };
    let plans = plan_all(&config, &scan, &known, NOW);
    assert_eq!(plans.len(), 2);
    let downstream = &plans[1].1[0];
    assert!(
        matches!(downstream.decision, Decision::Run { .. }),
        "{downstream:?}"
    );
    assert_eq!(
        downstream.item.inputs[1],
        ("right".to_owned(), "in/a.csv".to_owned())
    );
    assert_eq!(downstream.item.target, "out/a.csv");
}

#[test]
fn missing_extra_input_waits() {
    let second = job(
        "mid/{name}_A.{ext}",
        "out/{name}.{ext}",
        &[("right", "mid/{name}_B.{ext}")],
    );
    let scan = with(&[("mid/x_A.csv", meta(9))]);
    let records = HashMap::new();
    let planned = plan_job(&second, &scan, &Known::new(&records), Duration::ZERO, NOW);
    assert_eq!(
        planned[0].decision,
        Decision::MissingInput("mid/x_B.csv".into())
    );
}

#[test]
fn parallel_listing_equals_listing_job_by_job_and_skips_hidden_and_config() {
    let dir = tempfile::tempdir().expect("tempdir");
    let root = dir.path();
    for path in [
        "in/b.csv",
        "in/a.csv",
        "in/.partial",
        "mid/a.csv",
        "flow.yaml",
        "top.csv",
    ] {
        let path = root.join(path);
        std::fs::create_dir_all(path.parent().expect("parent")).expect("mkdir");
        std::fs::write(&path, "x").expect("write");
    }
    std::fs::create_dir_all(root.join("in/sub")).expect("mkdir");
    let mut top = job(".", "out", &[]);
    top.name = "t".into();
    let config = Config {
        dir: crate::config::FlowDir {
            shown: ".".into(),
            path: root.to_path_buf(),
        },
        settle: Duration::from_secs(2),
        grace: Duration::from_secs(1),
        parallel: 1,
        jobs: vec![job("in", "mid", &[]), job("mid", "out", &[]), top],
    };
    let jobs: Vec<&Job> = config.jobs.iter().collect();
    let one_by_one = Scan::read(&config, &jobs);
    let parallel = Scan::read_parallel(&config, &config.jobs);
    for folder in ["in", "mid", "out", ""] {
        assert_eq!(
            parallel.folder(folder),
            one_by_one.folder(folder),
            "{folder}"
        );
    }
    let names: Vec<&str> = parallel.folder("in").keys().map(String::as_str).collect();
    assert_eq!(
        names,
        ["a.csv", "b.csv"],
        "sorted, no hidden file, no folder"
    );
    let top: Vec<&str> = parallel.folder("").keys().map(String::as_str).collect();
    assert_eq!(top, ["top.csv"], "the configuration is never an item");
}
