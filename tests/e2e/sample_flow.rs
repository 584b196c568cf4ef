//! The shipped sample flow (`flow-config/`) with the real jobs
//! `job-timestamp`, `job-zscore` and `job-merge`, run in a copy.

use std::path::Path;

use flow_tests::{Flow, require_jobs};

/// A copy of `flow-config` without outputs or state, settling at once.
pub(crate) fn sample() -> Flow {
    require_jobs();
    let flow = Flow::new();
    let original = Path::new(env!("CARGO_MANIFEST_DIR")).join("../flow-config");
    let yaml =
        std::fs::read_to_string(original.join("flow.yaml")).expect("read flow-config/flow.yaml");
    // copies are new files: without this they would wait two seconds to settle
    let yaml = yaml.replace("settle: 2s", "settle: 0s");
    assert!(
        yaml.contains("settle: 0s"),
        "flow-config/flow.yaml no longer sets `settle: 2s`"
    );
    flow.write("flow.yaml", &yaml);
    for entry in std::fs::read_dir(original.join("source")).expect("flow-config/source") {
        let entry = entry.expect("entry");
        let name = entry.file_name().to_string_lossy().into_owned();
        if !name.starts_with('.') {
            std::fs::create_dir_all(flow.path("source")).expect("mkdir");
            std::fs::copy(entry.path(), flow.path(&format!("source/{name}")))
                .expect("copy an input");
        }
    }
    flow
}

#[test]
fn sample_flow_runs_the_full_chain_to_the_merged_file_in_one_run() {
    let flow = sample();
    let root = flow.root().display().to_string();
    let check = flow.run(&["check", &root]);
    check.assert_code(0);
    assert!(
        check
            .stdout
            .contains("timestamp -> zscore -> merge; every executable found"),
        "{}",
        check.stdout
    );
    let output = flow.run(&["run", &root]);
    output.assert_code(0);
    assert!(
        flow.exists("merged/File.xlsx"),
        "no merged/File.xlsx\n{}",
        output.stderr
    );
    assert!(flow.exists("timestamped/File_B.xlsx"));
    assert!(flow.exists("zscored/File_A.xlsx"));
    let status = flow.status();
    for job in status["jobs"].as_array().expect("jobs") {
        assert_eq!(job["counts"]["error"], 0, "{job:#}");
        assert_eq!(job["counts"]["preliminary"], 0, "{job:#}");
        assert!(job["counts"]["success"].as_u64() >= Some(1), "{job:#}");
    }
    let text = flow.run(&["status", &root]);
    assert!(text.stdout.contains("merge"), "{}", text.stdout);
}

#[test]
fn sample_flow_second_run_does_nothing() {
    let flow = sample();
    flow.run(&["run"]).assert_code(0);
    let before = flow.status();
    flow.run(&["run"]).assert_code(0);
    let after = flow.status();
    for (old, new) in before["jobs"]
        .as_array()
        .into_iter()
        .flatten()
        .zip(after["jobs"].as_array().into_iter().flatten())
    {
        assert_eq!(
            old["last_run"]["id"], new["last_run"]["id"],
            "a second run ran {}",
            new["name"]
        );
    }
}
