//! `flow check` and configuration errors: the full text of each error, all
//! errors reported at once, and exit code 2 from every command.

use flow_tests::{Flow, Output};

/// Checks `yaml` in a flow folder holding an executable `job.sh`.
fn check(yaml: &str) -> Output {
    let flow = Flow::new().yaml(yaml).script("job.sh", "#!/bin/sh\n");
    let output = flow.run(&["check"]);
    output.assert_code(2);
    assert_eq!(output.stdout, "");
    output
}

const VALID: &str = "jobs:
  - name: first
    run: ./job.sh
    source: in/{name}.{ext}
    target: mid/{name}.{ext}
  - name: second
    run: ./job.sh
    source: mid
    target: out
";

#[test]
fn a_valid_flow_is_reported_with_its_order() {
    let flow = Flow::new().yaml(VALID).script("job.sh", "#!/bin/sh\n");
    let output = flow.run(&["check"]);
    output.assert_code(0);
    assert_eq!(
        output.stdout,
        "flow.yaml: 2 jobs, run in this order: first -> second; every executable found\n"
    );
}

#[test]
fn unknown_wildcard_in_a_target() {
    let output = check(&VALID.replace("mid/{name}.{ext}", "mid/{nmae}.{ext}"));
    assert_eq!(
        output.stderr,
        "error: job `first` uses unknown wildcard `{nmae}`
 --> flow.yaml:5:17
  |
5 |     target: mid/{nmae}.{ext}
  |                 ^^^^^^
hint: `source` defines {name} and {ext}; did you mean {name}?
"
    );
}

#[test]
fn cycle_through_folders() {
    let output = check(&VALID.replace("target: out", "target: in"));
    assert_eq!(
        output.stderr,
        "error: jobs form a cycle through their folders: `first` -> `second` -> `first`
 --> flow.yaml:4:13
  |
4 |     source: in/{name}.{ext}
  |             ^^^^^^^^^^^^^^^
hint: a job must not read, directly or through other jobs, the folder it writes: give one of them another `target` folder
"
    );
}

#[test]
fn duplicate_job_name() {
    let output = check(&VALID.replace("name: second", "name: first"));
    assert_eq!(
        output.stderr,
        "error: job name `first` is used twice
 --> flow.yaml:6:11
  |
6 |   - name: first
  |           ^^^^^
hint: rename one of them; the first is on line 2
"
    );
}

#[test]
fn missing_executable() {
    let output = check(&VALID.replace(
        "run: ./job.sh\n    source: mid",
        "run: job-nowhere\n    source: mid",
    ));
    assert_eq!(
        output.stderr,
        "error: job `second`: executable `job-nowhere` not found
 --> flow.yaml:7:10
  |
7 |     run: job-nowhere
  |          ^^^^^^^^^^^
hint: put `job-nowhere` beside the `flow` binary or on PATH, or give a path relative to the flow folder such as `./job-nowhere`
"
    );
}

#[test]
fn script_in_the_flow_folder_named_without_a_path() {
    let output = check(&VALID.replace(
        "run: ./job.sh\n    source: mid",
        "run: job.sh\n    source: mid",
    ));
    assert_eq!(
        output.stderr,
        "error: job `second`: executable `job.sh` not found
 --> flow.yaml:7:10
  |
7 |     run: job.sh
  |          ^^^^^^
hint: `job.sh` is in the flow folder; write `./job.sh`
"
    );
}

#[test]
fn malformed_duration() {
    let output = check(&format!("settle: 2 parsecs\n{VALID}"));
    assert_eq!(
        output.stderr,
        "error: `settle` is not a duration: `2 parsecs`
 --> flow.yaml:1:9
  |
1 | settle: 2 parsecs
  |         ^^^^^^^^^
hint: write a number and a unit, such as `2s`, `10m` or `1h 30m`
"
    );
    let output = check(&VALID.replace("target: out\n", "target: out\n    timeout: 10\n"));
    assert_eq!(
        output.stderr,
        "error: job `second`: `timeout` is not a duration: `10`
  --> flow.yaml:10:14
   |
10 |     timeout: 10
   |              ^^
hint: add a unit: `10s`, `10m` or `10h`
"
    );
}

#[test]
fn unknown_key() {
    let output = check(&VALID.replace("target: out", "target: out\n    retires: 2"));
    assert_eq!(
        output.stderr,
        "error: unknown key `retires` in a job
  --> flow.yaml:10:5
   |
10 |     retires: 2
   |     ^^^^^^^
hint: did you mean `retries`?
"
    );
}

#[test]
fn yaml_syntax_error() {
    let output = check("jobs:\n  - name: a: b\n");
    assert_eq!(
        output.stderr,
        "error: mapping values are not allowed in this context
 --> flow.yaml:2:12
  |
2 |   - name: a: b
  |            ^
hint: check the indentation and the `key: value` layout at this place
"
    );
}

#[test]
fn value_of_the_wrong_type() {
    let output = check("retries: [3]\njobs: []\n");
    assert_eq!(
        output.stderr,
        "error: retries: invalid type: sequence, expected u32
 --> flow.yaml:1:10
  |
1 | retries: [3]
  |          ^
hint: give this key the kind of value named after `expected`
"
    );
}

#[test]
fn unquoted_wildcards_in_a_flow_mapping() {
    let output = check(&VALID.replace(
        "target: out",
        "target: out\n    inputs: { right: in/{name}.{ext} }",
    ));
    assert!(
        output.stderr.ends_with(
            "hint: inside `{ }` a pattern with wildcards must be quoted, as in `{ right: \"in/{name}.{ext}\" }`\n"
        ),
        "{}",
        output.stderr
    );
}

#[test]
fn missing_key() {
    let output = check("jobs:\n  - name: first\n    source: in\n    target: out\n");
    assert_eq!(
        output.stderr,
        "error: jobs[0]: missing field `run`
 --> flow.yaml:2:5
  |
2 |   - name: first
  |     ^
hint: add the missing key; every job needs `name`, `run`, `source` and `target`
"
    );
}

#[test]
fn every_error_is_reported_at_once_and_run_exits_2() {
    let yaml = "settle: soon
jobs:
  - name: first
    run: job-nowhere
    source: in/{name}.{ext}
    target: mid/{nmae}.{ext}
  - name: first
    run: ./job.sh
    source: mid
    target: out
    colour: red
";
    let output = check(yaml);
    let headlines: Vec<&str> = output
        .stderr
        .lines()
        .filter(|line| line.starts_with("error:"))
        .collect();
    assert_eq!(
        headlines,
        [
            "error: `settle` is not a duration: `soon`",
            "error: job `first`: executable `job-nowhere` not found",
            "error: job `first` uses unknown wildcard `{nmae}`",
            "error: job name `first` is used twice",
            "error: unknown key `colour` in a job",
            "error: flow.yaml has 5 errors",
        ]
    );
    let flow = Flow::new()
        .yaml(yaml)
        .script("job.sh", "#!/bin/sh\n")
        .file("in/a.txt", "a\n");
    let run = flow.run(&["run"]);
    run.assert_code(2);
    assert_eq!(run.stderr, output.stderr);
    assert!(
        !flow.exists(".flow/state.db"),
        "nothing runs on an invalid configuration"
    );
}

#[test]
fn a_folder_without_flow_yaml() {
    let flow = Flow::new();
    let output = flow.run(&["run", "nowhere"]);
    output.assert_code(2);
    assert!(
        output
            .stderr
            .starts_with("error: no flow.yaml at `nowhere/flow.yaml`\ncaused by: "),
        "{}",
        output.stderr
    );
}
