//! Decisions per item: new, settling, up to date, changed, deleted,
//! retried, given up, and a chain planned in one graph.

use std::path::Path;

use super::*;

const SEC: i64 = 1_000_000_000;

struct Setup {
    dir: tempfile::TempDir,
    config: Config,
}

fn setup(yaml: &str) -> Setup {
    let dir = tempfile::tempdir().expect("tempdir");
    let config = crate::config::parse_text(dir.path(), yaml).expect("valid config");
    Setup { dir, config }
}

impl Setup {
    fn write(&self, rel: &str) -> FileMeta {
        let path = self.dir.path().join(rel);
        std::fs::create_dir_all(path.parent().expect("parent")).expect("mkdir");
        std::fs::write(&path, rel).expect("write");
        FileMeta::of(&path).expect("a file")
    }

    fn planned(&self, known: &Known, now_ns: i64, keep: Keep) -> Vec<Planned> {
        let mut scan = new_scan(&self.config);
        plan(
            &self.config,
            &mut scan,
            known,
            now_ns,
            &HashSet::new(),
            Scope::Everything,
            keep,
        )
        .items
    }

    /// Every item decided; the plan a pass makes, which finds the items up
    /// to date on its own path (`Paths::up_to_date`), must be the same less
    /// those.
    fn plan(&self, known: &Known, now_ns: i64) -> Vec<(String, String, Decision)> {
        let every = self.planned(known, now_ns, Keep::Every);
        let actionable: Vec<Planned> = every
            .iter()
            .filter(|planned| planned.decision != Decision::UpToDate)
            .cloned()
            .collect();
        assert_eq!(self.planned(known, now_ns, Keep::Actionable), actionable);
        every
            .into_iter()
            .map(|planned| {
                let job = self.config.jobs[planned.item.job].name.clone();
                (job, planned.item.id, planned.decision)
            })
            .collect()
    }

    fn fingerprint_of(&self, known: &Known, now_ns: i64) -> String {
        self.planned(known, now_ns, Keep::Every)[0].fingerprint()
    }

    fn remove(&self, rel: &str) {
        std::fs::remove_file(self.dir.path().join(rel)).expect("remove");
    }

    fn path(&self) -> &Path {
        self.dir.path()
    }
}

const ONE: &str = "settle: 2s
retries: 2
jobs:
  - name: j
    run: sh
    source: in
    target: out
";

fn record(setup: &Setup, fingerprint: &str, outcome: Outcome, attempts: u32) -> Known {
    let produced = (outcome == Outcome::Success)
        .then(|| FileMeta::of(&setup.path().join("out/a.csv")))
        .flatten()
        .map(|meta| (meta.size, meta.mtime_ns));
    Known::new(vec![ItemRecord {
        job: "j".into(),
        item: "a.csv".into(),
        outcome,
        attempts,
        inputs: fingerprint.into(),
        last_run: 1,
        target: "out/a.csv".into(),
        produced,
        rearmed: false,
        rerun: false,
    }])
}

fn run(attempt: u32, reason: Reason) -> Decision {
    Decision::Run { attempt, reason }
}

#[test]
fn a_new_settled_input_runs_and_a_young_one_waits() {
    let setup = setup(ONE);
    let meta = setup.write("in/a.csv");
    let settled = meta.mtime_ns + 3 * SEC;
    let decided = setup.plan(&Known::default(), settled);
    assert_eq!(decided, [("j".into(), "a.csv".into(), run(1, Reason::New))]);
    let young = meta.mtime_ns + SEC;
    let decided = setup.plan(&Known::default(), young);
    assert_eq!(decided[0].2, Decision::Settling(vec!["in/a.csv".into()]));
}

/// `in/a.csv` run with success to `out/a.csv`, and a time it has settled by.
fn a_done(setup: &Setup) -> (Known, i64) {
    let meta = setup.write("in/a.csv");
    let now = meta.mtime_ns + 10 * SEC;
    let fingerprint = setup.fingerprint_of(&Known::default(), now);
    setup.write("out/a.csv");
    (record(setup, &fingerprint, Outcome::Success, 1), now)
}

#[test]
fn a_done_item_is_up_to_date_until_its_target_goes_or_its_input_changes() {
    let setup = setup(ONE);
    let (known, now) = a_done(&setup);
    assert_eq!(setup.plan(&known, now)[0].2, Decision::UpToDate);
    setup.remove("out/a.csv");
    assert_eq!(setup.plan(&known, now)[0].2, run(1, Reason::TargetMissing));
    let known = record(&setup, "input=in/a.csv:1:1", Outcome::Success, 1);
    assert_eq!(setup.plan(&known, now)[0].2, run(1, Reason::InputChanged));
}

#[test]
fn a_plan_for_acting_leaves_out_the_items_up_to_date() {
    let setup = setup(ONE);
    let (known, now) = a_done(&setup);
    setup.write("in/b.csv");
    let ids = |keep| -> Vec<String> {
        let planned = setup.planned(&known, now, keep);
        planned.into_iter().map(|planned| planned.item.id).collect()
    };
    assert_eq!(ids(Keep::Every), ["a.csv", "b.csv"]);
    assert_eq!(ids(Keep::Actionable), ["b.csv"]);
}

/// More items than one thread checks alone: the pass's check is shared
/// between threads, and must find what the full decision finds.
#[test]
fn a_large_job_checked_on_several_threads_keeps_exactly_the_items_to_act_on() {
    let setup = setup(ONE);
    let count = 3 * crate::threads::LEAST_SHARE;
    let names: Vec<String> = (0..count).map(|n| format!("{n:05}.csv")).collect();
    let newest = names
        .iter()
        .map(|name| setup.write(&format!("in/{name}")).mtime_ns)
        .max()
        .expect("inputs");
    let now = newest + 10 * SEC;
    let records = setup.planned(&Known::default(), now, Keep::Every);
    let records = records.iter().map(|planned| {
        let target = setup.write(&planned.item.target);
        ItemRecord {
            job: "j".into(),
            item: planned.item.id.clone(),
            outcome: Outcome::Success,
            attempts: 1,
            inputs: planned.fingerprint(),
            last_run: 1,
            target: planned.item.target.clone(),
            produced: Some((target.size, target.mtime_ns)),
            rearmed: false,
            rerun: false,
        }
    });
    let known = Known::new(records.collect());
    // a target gone and a new input, among thousands up to date
    setup.remove(&format!("out/{}", names[7]));
    let added = setup.write(&format!("in/{}.csv", count + 1));
    let now = now.max(added.mtime_ns + 10 * SEC);
    let decided = setup.plan(&known, now);
    assert_eq!(decided.len(), count + 1);
    let to_act: Vec<(&str, &Decision)> = decided
        .iter()
        .filter(|(_, _, decision)| *decision != Decision::UpToDate)
        .map(|(_, id, decision)| (id.as_str(), decision))
        .collect();
    let missing = run(1, Reason::TargetMissing);
    let new = run(1, Reason::New);
    let added = format!("{}.csv", count + 1);
    assert_eq!(
        to_act,
        [(names[7].as_str(), &missing), (added.as_str(), &new)]
    );
}

#[test]
fn failures_retry_until_the_attempts_are_used_then_rearm() {
    let setup = setup(ONE);
    let meta = setup.write("in/a.csv");
    let now = meta.mtime_ns + 10 * SEC;
    let fingerprint = setup.fingerprint_of(&Known::default(), now);
    let known = record(&setup, &fingerprint, Outcome::Failed, 1);
    assert_eq!(setup.plan(&known, now)[0].2, run(2, Reason::Retry));
    let known = record(&setup, &fingerprint, Outcome::Failed, 2);
    assert_eq!(
        setup.plan(&known, now)[0].2,
        Decision::GaveUp { attempts: 2 }
    );
    let known = record(&setup, &fingerprint, Outcome::Interrupted, 1);
    assert_eq!(setup.plan(&known, now)[0].2, run(2, Reason::Interrupted));
    let mut known = record(&setup, &fingerprint, Outcome::Failed, 0);
    let mut rearmed = known.record("j", "a.csv").cloned().expect("recorded");
    rearmed.rearmed = true;
    known.update(rearmed);
    assert_eq!(setup.plan(&known, now)[0].2, run(1, Reason::Rearmed));
}

#[test]
fn a_rerun_runs_an_up_to_date_item_until_it_succeeds_or_uses_its_attempts() {
    let setup = setup(ONE);
    let meta = setup.write("in/a.csv");
    let now = meta.mtime_ns + 10 * SEC;
    let fingerprint = setup.fingerprint_of(&Known::default(), now);
    setup.write("out/a.csv");
    let mut known = record(&setup, &fingerprint, Outcome::Success, 0);
    let mut marked = known.record("j", "a.csv").cloned().expect("recorded");
    marked.rerun = true;
    known.update(marked.clone());
    assert_eq!(setup.plan(&known, now)[0].2, run(1, Reason::Rerun));
    marked.outcome = Outcome::Failed;
    marked.attempts = 2;
    known.update(marked);
    assert_eq!(
        setup.plan(&known, now)[0].2,
        Decision::GaveUp { attempts: 2 }
    );
}

const CHAIN: &str = "settle: 2s
jobs:
  - name: merge
    run: sh
    source: mid/{name}_A.{ext}
    inputs:
      right: in/{name}_B.{ext}
    target: out/{name}.{ext}
  - name: first
    run: sh
    source: in
    target: mid
";

#[test]
fn a_chain_is_one_graph_whose_later_stages_wait_for_their_upstream_job() {
    let setup = setup(CHAIN);
    setup.write("in/X_A.csv");
    let meta = setup.write("in/X_B.csv");
    let now = meta.mtime_ns + 10 * SEC;
    let upstream = Decision::Upstream {
        jobs: vec!["first".into()],
        paths: vec!["mid/X_A.csv".into()],
    };
    assert_eq!(
        setup.plan(&Known::default(), now),
        [
            ("first".into(), "X_A.csv".into(), run(1, Reason::New)),
            ("first".into(), "X_B.csv".into(), run(1, Reason::New)),
            ("merge".into(), "X_A.csv".into(), upstream),
        ]
    );
}

#[test]
fn a_fresh_output_of_the_host_needs_no_settling_but_a_foreign_one_does() {
    let setup = setup(CHAIN);
    let right = setup.write("in/X_B.csv");
    let mid = setup.write("mid/X_A.csv");
    let now = mid.mtime_ns.max(right.mtime_ns) + SEC;
    let decided = setup.plan(&Known::default(), now);
    assert_eq!(
        decided[1].2,
        Decision::Settling(vec!["mid/X_A.csv".into(), "in/X_B.csv".into()])
    );
    let ours = ItemRecord {
        job: "first".into(),
        item: "X_A.csv".into(),
        outcome: Outcome::Success,
        attempts: 1,
        inputs: String::new(),
        last_run: 1,
        target: "mid/X_A.csv".into(),
        produced: Some((mid.size, mid.mtime_ns)),
        rearmed: false,
        rerun: false,
    };
    let known = Known::new(vec![ours]);
    let decided = setup.plan(&known, right.mtime_ns + 3 * SEC);
    assert_eq!(decided[1].2, run(1, Reason::New));
}

#[test]
fn a_missing_extra_input_that_no_job_writes_waits() {
    let setup = setup(CHAIN);
    let meta = setup.write("mid/X_A.csv");
    let decided = setup.plan(&Known::default(), meta.mtime_ns + 10 * SEC);
    assert_eq!(
        decided,
        [(
            "merge".into(),
            "X_A.csv".into(),
            Decision::MissingInput("in/X_B.csv".into())
        )]
    );
}

#[test]
fn partitioned_items_are_named_by_their_path_below_the_root() {
    let setup = setup(
        "settle: 0s
jobs:
  - name: clean
    run: sh
    source: landing/{yyyy}/{mm}/{name}.csv
    target: clean/{yyyy}-{mm}/{name}.parquet
  - name: load
    run: sh
    source: clean/{month}/{name}.parquet
    target: loaded/{month}_{name}.txt
",
    );
    setup.write("landing/2026/11/a.csv");
    let meta = setup.write("landing/2026/12/b.csv");
    let decided = setup.plan(&Known::default(), meta.mtime_ns + SEC);
    let named: Vec<(String, String)> = decided
        .iter()
        .map(|(job, id, _)| (job.clone(), id.clone()))
        .collect();
    assert_eq!(
        named,
        [
            ("clean".into(), "2026/11/a.csv".into()),
            ("clean".into(), "2026/12/b.csv".into()),
            ("load".into(), "2026-11/a.parquet".into()),
            ("load".into(), "2026-12/b.parquet".into()),
        ]
    );
    let mut scan = Scan::new(setup.path());
    let plan = plan(
        &setup.config,
        &mut scan,
        &Known::default(),
        meta.mtime_ns + SEC,
        &HashSet::new(),
        Scope::Everything,
        Keep::Every,
    );
    assert_eq!(plan.items[2].item.target, "loaded/2026-11_a.txt");
}

#[test]
fn a_recorded_fingerprint_is_compared_without_being_made() {
    let inputs = [
        ("input".to_owned(), "in/a.csv".to_owned()),
        ("right".to_owned(), "s3://drops/b.csv".to_owned()),
        ("left".to_owned(), "in/c.csv".to_owned()),
    ];
    let metas = [
        Some(FileMeta {
            size: 10,
            mtime_ns: 5,
            etag: None,
        }),
        Some(FileMeta {
            size: 3,
            mtime_ns: 0,
            etag: Some(0xab),
        }),
        None,
    ];
    let inputs = || {
        inputs
            .iter()
            .map(|(role, path)| (role.as_str(), path.as_str()))
    };
    let mut made = String::new();
    write_fingerprint(&mut made, inputs(), &metas).expect("written");
    assert_eq!(
        made,
        "input=in/a.csv:10:5;right=s3://drops/b.csv:3:etag=00000000000000ab;left=in/c.csv:0:0"
    );
    assert!(fingerprint_is(&made, inputs(), &metas));
    for other in [
        "input=in/a.csv:10:5",
        &format!("{made};"),
        "input=in/a.csv:11:5;right=s3://drops/b.csv:3:etag=00000000000000ab;left=in/c.csv:0:0",
        "",
    ] {
        assert!(!fingerprint_is(other, inputs(), &metas), "{other:?}");
    }
}

fn scoped(setup: &Setup, touched: &Touched, now_ns: i64) -> (usize, Vec<(String, String)>) {
    let mut scan = Scan::new(setup.path());
    let plan = plan(
        &setup.config,
        &mut scan,
        &Known::default(),
        now_ns,
        &HashSet::new(),
        Scope::Touched(touched),
        Keep::Every,
    );
    let items = plan.items.into_iter().map(|planned| {
        let job = setup.config.jobs[planned.item.job].name.clone();
        (job, planned.item.id)
    });
    (plan.decided, items.collect())
}

const TWO_INPUTS: &str = "settle: 0s
jobs:
  - name: j
    run: sh
    source: in/{day}/{name}.csv
    inputs:
      rates: rates/{day}.csv
    target: out/x/{name}.csv
";

#[test]
fn a_scoped_plan_decides_the_touched_sources_and_the_open_items_only() {
    let setup = setup(TWO_INPUTS);
    for rel in ["in/d1/a.csv", "in/d1/b.csv", "in/d2/c.csv", "rates/d1.csv"] {
        setup.write(rel);
    }
    let meta = setup.write("in/d2/d.csv");
    let touched = Touched {
        files: ["in/d1/b.csv", "in/d9/gone.csv"]
            .map(str::to_owned)
            .into_iter()
            .collect(),
        folders: Vec::new(),
        open: [(0, "d2/c.csv".to_owned())].into(),
    };
    let (decided, items) = scoped(&setup, &touched, meta.mtime_ns + SEC);
    assert_eq!(decided, 2, "a vanished source is no item");
    assert_eq!(
        items,
        [
            ("j".into(), "d1/b.csv".into()),
            ("j".into(), "d2/c.csv".into())
        ]
    );
}

#[test]
fn a_change_where_an_extra_input_or_a_folder_is_plans_the_job_whole() {
    let setup = setup(TWO_INPUTS);
    let meta = setup.write("in/d1/a.csv");
    setup.write("in/d2/c.csv");
    let by_input = Touched {
        files: std::iter::once("rates/d1.csv".to_owned()).collect(),
        ..Touched::default()
    };
    assert_eq!(scoped(&setup, &by_input, meta.mtime_ns + SEC).0, 2);
    let by_folder = Touched {
        folders: vec!["in/d2".to_owned()],
        ..Touched::default()
    };
    assert_eq!(scoped(&setup, &by_folder, meta.mtime_ns + SEC).0, 2);
    let elsewhere = Touched {
        folders: vec!["other".to_owned()],
        ..Touched::default()
    };
    assert_eq!(scoped(&setup, &elsewhere, meta.mtime_ns + SEC).0, 0);
}

#[test]
fn only_targets_no_pattern_reads_are_listed_without_stats() {
    let setup = setup(
        "jobs:
  - name: first
    run: /bin/true
    source: in/{name}.csv
    target: mid/{name}.csv
  - name: second
    run: /bin/true
    source: mid/{name}.csv
    inputs:
      extra: side/{name}.csv
    target: out/x/{name}.csv
  - name: third
    run: /bin/true
    source: in
    target: in/done
",
    );
    assert_eq!(unread_targets(&setup.config), ["out/x"]);
}
