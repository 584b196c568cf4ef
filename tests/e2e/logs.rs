//! `flow logs`: the log of an item's last run, with the flow folder named
//! by its first word, by `-C`, or by the current folder.

use crate::single;

#[test]
fn logs_prints_the_last_run_of_an_item() {
    let flow = single("settle: 0s", r#"echo "hello from $FLOW_ITEM""#).file("in/a.txt", "a\n");
    flow.run(&["run"]).assert_code(0);
    let here = flow.run(&["logs", "work", "a.txt"]);
    here.assert_code(0);
    assert_eq!(here.stdout, "hello from a.txt\n[flow] exited with code 0\n");

    let root = flow.root().display().to_string();
    let by_word = flow.run(&["logs", &root, "work", "a"]);
    assert_eq!(by_word.stdout, here.stdout);
    let by_option = flow.run(&["-C", &root, "logs", "work", "a.txt"]);
    assert_eq!(by_option.stdout, here.stdout);

    let unknown = flow.run(&["logs", "work", "b.txt"]);
    unknown.assert_code(2);
    assert_eq!(
        unknown.stderr,
        "error: no run of `work` for item `b.txt`\nhint: did you mean `a.txt`?\n"
    );
    let typo = flow.run(&["logs", "wrok", "a.txt"]);
    typo.assert_code(2);
    assert_eq!(
        typo.stderr,
        "error: no job named `wrok` in flow.yaml\nhint: did you mean `work`?\n"
    );
}
