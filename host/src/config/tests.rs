//! Configuration errors rendered in full, durations and job ordering.

use super::*;

fn parse(text: &str) -> Result<Config, ConfigError> {
    parse_text(Path::new("/nonexistent-flow"), text)
}

fn errors(text: &str) -> String {
    match parse(text) {
        Ok(_) => panic!("expected errors"),
        Err(error) => error.render(),
    }
}

const CHAIN: &str = "settle: 1s
jobs:
  - name: merge
    run: sh
    source: mid/{name}_A.{ext}
    inputs:
      right: in/{name}_B.{ext}
    target: out/{name}.{ext}
    args: { on: isin }
  - name: first
    run: sh
    source: in
    target: mid
    timeout: 5s
";

#[test]
fn valid_config_orders_jobs_by_folders() {
    let config = parse(CHAIN).expect("valid");
    let names: Vec<&str> = config.jobs.iter().map(|job| job.name.as_str()).collect();
    assert_eq!(names, ["first", "merge"]);
    assert_eq!(config.settle, Duration::from_secs(1));
    assert_eq!(config.jobs[0].timeout, Duration::from_secs(5));
    assert_eq!(config.jobs[1].timeout, DEFAULT_TIMEOUT);
    assert_eq!(config.jobs[1].args, [("on".to_owned(), "isin".to_owned())]);
    assert_eq!(config.jobs[1].inputs[0].0, "right");
}

#[test]
fn unknown_wildcard_points_at_it() {
    let text = CHAIN.replace("out/{name}.{ext}", "out/{nmae}.{ext}");
    assert_eq!(
        errors(&text),
        "error: job `merge` uses unknown wildcard `{nmae}`
 --> flow.yaml:8:17
  |
8 |     target: out/{nmae}.{ext}
  |                 ^^^^^^
hint: `source` defines {name} and {ext}; did you mean {name}?
"
    );
}

#[test]
fn bad_duration_unknown_key_and_cycle_are_all_reported() {
    let text = "settle: 2 parsecs
colour: red
jobs:
  - name: a
    run: sh
    source: x
    target: y
    retires: 2
  - name: b
    run: sh
    source: y
    target: x
";
    assert_eq!(
        errors(text),
        "error: `settle` is not a duration: `2 parsecs`
 --> flow.yaml:1:9
  |
1 | settle: 2 parsecs
  |         ^^^^^^^^^
hint: write a number and a unit, such as `2s`, `10m` or `1h 30m`

error: unknown key `colour` at the top level
 --> flow.yaml:2:1
  |
2 | colour: red
  | ^^^^^^
hint: the keys allowed at the top level are `settle`, `retries`, `timeout`, `grace`, `parallel`, `keep`, `on_error`, `on_success`, `executor`, `slurm` and `jobs`

error: jobs form a cycle through their folders: `a` -> `b` -> `a`
 --> flow.yaml:6:13
  |
6 |     source: x
  |             ^
hint: a job must not read, directly or through other jobs, the folder it writes: give one of them another `target` folder

error: unknown key `retires` in a job
 --> flow.yaml:8:5
  |
8 |     retires: 2
  |     ^^^^^^^
hint: did you mean `retries`?

error: flow.yaml has 4 errors
"
    );
}

#[test]
fn duplicate_name_and_missing_executable() {
    let text = "jobs:
  - name: a
    run: job-nowhere
    source: x
    target: y
  - name: a
    run: sh
    source: y
    target: z
";
    assert_eq!(
        errors(text),
        "error: job `a`: executable `job-nowhere` not found
 --> flow.yaml:3:10
  |
3 |     run: job-nowhere
  |          ^^^^^^^^^^^
hint: put `job-nowhere` beside the `flow` binary or on PATH, or give a path relative to the flow folder such as `./job-nowhere`

error: job name `a` is used twice
 --> flow.yaml:6:11
  |
6 |   - name: a
  |           ^
hint: rename one of them; the first is on line 2

error: flow.yaml has 2 errors
"
    );
}

#[test]
fn syntax_error_has_a_location() {
    let rendered = errors("jobs:\n  - name: a\n    run: [sh\n");
    assert!(rendered.starts_with("error: "), "{rendered}");
    assert!(rendered.contains("--> flow.yaml:"), "{rendered}");
    let rendered = errors("jobs:\n  - name: a\n    source: x\n    target: y\n");
    assert!(rendered.contains("missing field `run`"), "{rendered}");
}

#[test]
fn parses_durations() {
    assert_eq!(parse_duration("2s"), Ok(Duration::from_secs(2)));
    assert_eq!(parse_duration("1h 30m"), Ok(Duration::from_secs(5400)));
    assert_eq!(parse_duration("0"), Ok(Duration::ZERO));
    assert!(parse_duration("10").is_err_and(|hint| hint.contains("`10s`")));
    assert!(parse_duration("soon").is_err());
}

#[test]
fn cycle_detection_finds_the_cycle() {
    let reach = |root: &str| Reach {
        root: root.to_owned(),
        depth: 2,
    };
    let link = |reads: &[&str], writes: &str| Links {
        reads: reads.iter().map(|root| reach(root)).collect(),
        writes: reach(writes),
    };
    let chain = [link(&["b"], "c"), link(&["a"], "b"), link(&["c", "a"], "d")];
    assert_eq!(order_jobs(&chain), Ok(vec![1, 0, 2]));
    let cycle = [link(&["in"], "x"), link(&["x"], "y"), link(&["y"], "in")];
    assert_eq!(order_jobs(&cycle), Err(vec![0, 1, 2]));
    assert_eq!(order_jobs(&[link(&["x"], "x")]), Err(vec![0]));
}

#[test]
fn jobs_link_through_patterns_as_deep_as_each_other_with_nested_roots() {
    let config = parse(
        "jobs:
  - name: clean
    run: sh
    source: landing/{yyyy}/{mm}/{name}.csv
    target: clean/{yyyy}-{mm}/{name}.csv
  - name: load
    run: sh
    source: clean/{day}/{name}.csv
    target: loaded
  - name: side
    run: sh
    source: \"{name}.csv\"
    target: side
",
    )
    .expect("valid");
    let stages: Vec<(&str, usize)> = config
        .jobs
        .iter()
        .map(|job| (job.name.as_str(), job.stage))
        .collect();
    assert_eq!(stages, [("clean", 0), ("load", 1), ("side", 0)]);
}

#[test]
fn a_hook_must_be_a_list_of_words_naming_an_executable() {
    let text = "on_error: notify everyone
jobs:
  - name: a
    run: sh
    source: in
    target: out
    on_success: [\"no-such-hook\", \"--loud\"]
";
    let rendered = errors(text);
    assert!(
        rendered.contains("error: `on_error` must be a list of words\n --> flow.yaml:1:11"),
        "{rendered}"
    );
    assert!(
        rendered.contains("error: job `a`: `on_success`: executable `no-such-hook` not found"),
        "{rendered}"
    );
    let config = parse(
        "on_error: [sh, -c, \"exit 0\"]
keep: 0
jobs:
  - { name: a, run: sh, source: in, target: out }
  - { name: b, run: sh, source: out, target: done, on_error: [true] }
",
    )
    .expect("valid");
    let top = config.jobs[0]
        .hooks
        .on_error
        .as_ref()
        .expect("the top level's");
    assert_eq!(top.args, ["-c", "exit 0"]);
    let own = config.jobs[1].hooks.on_error.as_ref().expect("its own");
    assert!(
        own.program.ends_with("true"),
        "a job's own replaces the top level's"
    );
    assert_eq!(config.keep, None, "keep: 0 keeps everything");
}

#[test]
fn s3_bucket_errors_point_at_the_bucket_and_name_the_aws_variables() {
    let text = CHAIN.replace("source: in\n", "source: s3://{b}/in/{name}.csv\n");
    assert_eq!(
        errors(&text),
        "error: the bucket of an `s3://` pattern cannot hold a wildcard
  --> flow.yaml:12:18
   |
12 |     source: s3://{b}/in/{name}.csv
   |                  ^^^
hint: name the bucket itself and put wildcards in the key, as in `s3://drops/landing/{name}.csv`; \
the endpoint and keys come from AWS_ENDPOINT_URL, AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY and \
AWS_REGION (or ~/.aws), never from flow.yaml
"
    );
    let bad = CHAIN.replace("source: in\n", "source: s3://Drops/in\n");
    assert!(errors(&bad).contains("error: `Drops` is not a valid bucket name"));
    let good = CHAIN.replace("source: in\n", "source: s3://drops/in\n");
    assert_eq!(
        parse(&good).expect("valid").jobs[0].source.root,
        "s3://drops/in"
    );
}

const SLURM_FLOW: &str = "executor: slurm
slurm:
  partition: batch
  cpus: 2
  mem: 2G
  args: [\"--qos=normal\"]
jobs:
  - { name: a, run: sh, source: in, target: out }
  - { name: b, run: sh, source: out, target: done, executor: local }
";

#[test]
fn the_slurm_block_and_executors_are_read_with_their_defaults() {
    let config = parse(SLURM_FLOW).expect("valid");
    assert_eq!(config.jobs[0].executor, ExecutorKind::Slurm);
    assert_eq!(config.jobs[1].executor, ExecutorKind::Local);
    assert_eq!(config.parallel, DEFAULT_SLURM_PARALLEL);
    assert_eq!(
        config.slurm,
        SlurmOptions {
            partition: Some("batch".into()),
            account: None,
            cpus: Some(2),
            mem: Some("2G".into()),
            args: vec!["--qos=normal".into()],
        }
    );
}

#[test]
fn slurm_errors_name_the_line_and_the_fix() {
    let text = "executor: slurm
slurm:
  partition: batch
  memory: 2G
  mem: 2GB
jobs:
  - { name: a, run: sh, source: in, target: out, executor: cloud }
";
    let rendered = errors(text);
    let expected = [
        "error: unknown key `memory` in `slurm`\n --> flow.yaml:4:3",
        "hint: the keys allowed in `slurm` are `partition`, `account`, `cpus`, `mem` and `args`",
        "error: `slurm.mem` is not a memory size: `2GB`\n --> flow.yaml:5:8",
        "hint: write a number and a unit K, M, G or T, such as `512M` or `2G` (no unit means megabytes)",
        "error: job `a`: unknown executor `cloud`",
        "hint: write `executor: local` (the default) or `executor: slurm`",
    ];
    for part in expected {
        assert!(rendered.contains(part), "missing {part:?} in\n{rendered}");
    }
}

#[test]
fn a_slurm_job_needs_sbatch_on_path() {
    let dir = FlowDir {
        shown: PathBuf::from("."),
        path: PathBuf::from("/nonexistent-flow"),
    };
    let file = SourceFile {
        display: FILE_NAME.into(),
        // `sh` is not found either: the finder has an empty PATH
        text: "jobs:\n  - name: a\n    run: sh\n    source: in\n    target: out\n    executor: slurm\n"
            .into(),
    };
    let finder = Finder {
        beside: None,
        path: Vec::new(),
    };
    let Err(error) = Config::parse(dir, file, &finder) else {
        panic!("expected an error");
    };
    let rendered = error.render();
    assert!(
        rendered.contains(
            "error: `sbatch` not found on PATH, and a job runs with `executor: slurm`\n --> flow.yaml:6:15"
        ),
        "{rendered}"
    );
    assert!(
        rendered.contains("hint: install Slurm's client commands"),
        "{rendered}"
    );
}
