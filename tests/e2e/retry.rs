//! `flow retry`: an item that used up its attempts stays in error until
//! re-armed.

use crate::single;

#[test]
fn retries_are_exhausted_then_flow_retry_rearms_the_item() {
    let fragile = r#"if [ ! -e "$FLOW_DIR/.fixed" ]; then
  echo "$in: column nav, row 17: \"abc\" is not a number" >&2
  exit 3
fi"#;
    let flow = single("settle: 0s\nretries: 2", fragile).file("in/bad.csv", "nav\nabc\n");
    flow.run(&["run"]).assert_code(1);
    let item = flow.item("work", "bad.csv");
    assert_eq!(
        (item["status"].as_str(), item["attempts"].as_u64()),
        (Some("error"), Some(1))
    );
    flow.run(&["run"]).assert_code(1);
    let third = flow.run(&["run"]);
    third.assert_code(0);
    assert_eq!(
        third.stderr, "",
        "a pass with nothing to run is silent, for crontab"
    );
    assert_eq!(flow.calls().len(), 2, "no third attempt with `retries: 2`");
    let item = flow.item("work", "bad.csv");
    assert_eq!(item["status"], "error");
    assert!(
        item["detail"]
            .as_str()
            .is_some_and(|d| d.contains("gave up after 2 attempts")),
        "{item:#}"
    );
    assert!(item["log_tail"].to_string().contains("row 17"), "{item:#}");

    flow.write(".fixed", "");
    let output = flow.run(&["retry", "work", "bad"]);
    output.assert_code(0);
    assert!(
        output
            .stdout
            .contains("re-armed 1 item(s) of `work`: bad.csv"),
        "{}",
        output.stdout
    );
    assert_eq!(flow.item("work", "bad.csv")["status"], "preliminary");
    flow.run(&["run"]).assert_code(0);
    assert_eq!(flow.read("out/bad.csv"), "nav\nabc\nby work\n");
}

#[test]
fn a_changed_input_rearms_an_item_in_error() {
    let strict = r#"grep -q '^good' "$in" || exit 3"#;
    let flow = single("settle: 0s\nretries: 1", strict).file("in/a.txt", "bad\n");
    flow.run(&["run"]).assert_code(1);
    flow.run(&["run"]).assert_code(0);
    assert_eq!(flow.calls().len(), 1);
    flow.write("in/a.txt", "good now\n");
    flow.run(&["run"]).assert_code(0);
    assert_eq!(flow.item("work", "a.txt")["status"], "success");
}
