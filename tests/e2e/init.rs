//! `flow init DIR`: a new flow folder that runs as it is with the real
//! jobs, and never overwrites an existing flow.

use flow_tests::{Flow, require_jobs};

#[test]
fn init_then_run_carries_the_sample_inputs_to_the_merged_file() {
    require_jobs();
    let flow = Flow::new();
    let init = flow.run(&["init", "new-flow"]);
    init.assert_code(0);
    assert!(init.stdout.contains("created new-flow"), "{}", init.stdout);
    assert!(init.stdout.contains("flow run new-flow"), "{}", init.stdout);
    let yaml = flow.read("new-flow/flow.yaml");
    assert!(
        yaml.contains("# settle") || yaml.contains("settle: 2s        #"),
        "{yaml}"
    );
    for folder in ["source", "timestamped", "zscored", "merged"] {
        assert!(
            flow.path(&format!("new-flow/{folder}")).is_dir(),
            "no {folder}/"
        );
    }
    assert_eq!(flow.list("new-flow/source"), ["File_A.xlsx", "File_B.xlsx"]);
    // settle stays 2s: init dates the inputs in the past, so one run does all
    let run = flow.run(&["run", "new-flow"]);
    run.assert_code(0);
    assert!(
        flow.exists("new-flow/merged/File.xlsx"),
        "no merged/File.xlsx\n{}",
        run.stderr
    );
    let check = flow.run(&["check", "new-flow"]);
    check.assert_code(0);
}

#[test]
fn init_refuses_a_folder_that_holds_a_flow() {
    let flow = Flow::new().file("old/flow.yaml", "jobs: []\n");
    let output = flow.run(&["init", "old"]);
    output.assert_code(2);
    assert_eq!(
        output.stderr,
        "error: `old/flow.yaml` already exists; `flow init` never overwrites a flow\n\
         hint: name a new folder (`flow init NEW_DIR`), or check this one with `flow check old`\n"
    );
    assert_eq!(flow.read("old/flow.yaml"), "jobs: []\n");
    assert!(!flow.exists("old/source"));
}
