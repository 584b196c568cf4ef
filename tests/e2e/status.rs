//! `flow status`: counts per job and last run, then the items that are not
//! a success with the tail of their log; `--json` is the same model.

use crate::single;

#[test]
fn status_text_shows_counts_and_failed_items_with_their_log_tail() {
    let fail = r#"if [ "$FLOW_ITEM" = bad.txt ]; then echo "bad.txt: row 3: duplicate key" >&2; exit 3; fi"#;
    let flow = single("settle: 0s\nretries: 2", fail)
        .file("in/bad.txt", "x\n")
        .file("in/good.txt", "g\n");
    flow.run(&["run"]).assert_code(1);
    let output = flow.run(&["status"]);
    output.assert_code(0);
    let text = &output.stdout;
    assert!(
        text.contains("│ work ┆ 1       ┆ 0           ┆ 0       ┆ 1     ┆"),
        "{text}"
    );
    assert!(
        text.contains("error work bad.txt: exited with code 3; attempt 2 of 2 on the next run"),
        "{text}"
    );
    assert!(text.contains("  attempts 1 of 2, log "), "{text}");
    assert!(
        text.contains("  | bad.txt: row 3: duplicate key\n  | [flow] exited with code 3\n"),
        "{text}"
    );
    assert!(
        !text.contains("work good.txt"),
        "successful items are only counted: {text}"
    );

    let status = flow.status();
    assert_eq!(status["schema"], 1);
    assert_eq!(status["run_in_progress"], false);
    let job = &status["jobs"][0];
    assert_eq!(
        job["counts"],
        serde_json::json!({"success": 1, "preliminary": 0, "running": 0, "error": 1})
    );
    assert_eq!(job["items"].as_array().map(Vec::len), Some(2));
}

#[test]
fn status_before_any_run_shows_preliminary_items() {
    let flow = single("settle: 0s", "").file("in/a.txt", "a\n");
    let item = flow.item("work", "a.txt");
    assert_eq!(item["status"], "preliminary");
    assert_eq!(item["detail"], "will run: not run yet");
    assert_eq!(item["last_run"], serde_json::Value::Null);
}

#[test]
fn the_flow_folder_comes_from_an_argument_dash_c_or_flow_dir() {
    let flow = single("settle: 0s", "").file("in/a.txt", "a\n");
    let root = flow.root().display().to_string();
    let elsewhere = std::env::temp_dir();
    let mut by_env = flow.command(&["run"]);
    by_env.current_dir(&elsewhere).env("FLOW_DIR", &root);
    assert_eq!(by_env.output().expect("run flow").status.code(), Some(0));
    assert!(flow.exists("out/a.txt"));
    for args in [
        vec!["status", "--json", &root],
        vec!["-C", &root, "status", "--json"],
    ] {
        let mut command = flow.command(&args);
        command.current_dir(&elsewhere);
        let output = command.output().expect("run flow");
        let status: serde_json::Value = serde_json::from_slice(&output.stdout).expect("json");
        assert_eq!(status["jobs"][0]["counts"]["success"], 1, "{args:?}");
    }
}
