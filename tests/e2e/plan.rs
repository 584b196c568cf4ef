//! `flow plan`: what `run` would do now, without doing it.

use crate::chain;

#[test]
fn plan_lists_the_whole_chain_without_running_it() {
    let flow = chain();
    let output = flow.run(&["plan"]);
    output.assert_code(0);
    assert_eq!(
        output.stdout,
        "run timestamp X_A.txt: not run yet (attempt 1)
      source/X_A.txt -> timestamped/X_A.txt
run timestamp X_B.txt: not run yet (attempt 1)
      source/X_B.txt -> timestamped/X_B.txt
wait zscore X_A.txt: upstream timestamp
      timestamped/X_A.txt -> zscored/X_A.txt
wait merge X_A.txt: upstream zscore, timestamp
      zscored/X_A.txt + timestamped/X_B.txt -> merged/X.txt
2 to run, 2 after upstream jobs, 0 waiting, 0 in error, 0 up to date
"
    );
    assert!(flow.calls().is_empty(), "plan must not run jobs");
    flow.run(&["run"]).assert_code(0);
    let output = flow.run(&["plan"]);
    assert_eq!(
        output.stdout,
        "0 to run, 0 after upstream jobs, 0 waiting, 0 in error, 4 up to date\n"
    );
}

#[test]
fn plan_shows_an_item_waiting_for_its_other_input() {
    let flow = chain();
    std::fs::remove_file(flow.path("source/X_B.txt")).expect("remove");
    flow.run(&["run"]).assert_code(0);
    let output = flow.run(&["plan"]);
    assert_eq!(
        output.stdout,
        "wait merge X_A.txt: missing input timestamped/X_B.txt\n0 to run, 0 after upstream jobs, 1 waiting, 0 in error, 2 up to date\n"
    );
}
