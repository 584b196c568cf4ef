//! What can be checked of the Docker image without a Docker engine: the
//! crontab line parses, every path the Dockerfile copies exists, every binary
//! it ships is a workspace binary, and the command cron runs in the image
//! carries the sample flow through when started directly on this machine,
//! with none of the caller's environment but the saved file the entry point
//! writes. scripts/docker-test builds and runs the image itself.

use std::path::{Path, PathBuf};
use std::process::Command;

use flow_tests::bin_dir;

use crate::sample_flow::sample;

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn read(name: &str) -> String {
    std::fs::read_to_string(repo().join(name))
        .unwrap_or_else(|error| panic!("read {name}: {error}"))
}

/// The schedule lines of a cron.d file: neither comments nor variables.
fn schedule_lines(crontab: &str) -> Vec<&str> {
    crontab
        .lines()
        .map(str::trim)
        .filter(|line| !line.is_empty() && !line.starts_with('#'))
        .filter(|line| {
            !line
                .split_whitespace()
                .next()
                .is_some_and(|word| word.contains('='))
        })
        .collect()
}

/// Whether `field` is a valid cron time field with values in `low..=high`:
/// `*`, numbers, ranges, lists and steps.
fn valid_cron_field(field: &str, low: u32, high: u32) -> bool {
    field.split(',').all(|part| {
        let (range, step) = part.split_once('/').unwrap_or((part, "1"));
        let step_ok = step.parse::<u32>().is_ok_and(|step| step > 0);
        let in_range = |text: &str| text.parse::<u32>().is_ok_and(|n| (low..=high).contains(&n));
        let range_ok = range == "*"
            || in_range(range)
            || range
                .split_once('-')
                .is_some_and(|(a, b)| in_range(a) && in_range(b));
        step_ok && range_ok
    })
}

/// The sources of every `COPY` in the Dockerfile that copies from the build
/// context, and the files of every `COPY --from=build`, continuation lines joined.
fn copies(dockerfile: &str) -> (Vec<String>, Vec<String>) {
    let joined = dockerfile.replace("\\\n", " ");
    let (mut context, mut built) = (Vec::new(), Vec::new());
    for line in joined
        .lines()
        .map(str::trim)
        .filter(|line| line.starts_with("COPY "))
    {
        let words: Vec<&str> = line.split_whitespace().skip(1).collect();
        let from_build = words
            .first()
            .is_some_and(|word| word.starts_with("--from="));
        let paths: Vec<&str> = words
            .iter()
            .copied()
            .filter(|word| !word.starts_with("--"))
            .collect();
        let sources = paths.split_last().map_or(&[][..], |(_, sources)| sources);
        let list = if from_build { &mut built } else { &mut context };
        list.extend(sources.iter().map(|source| (*source).to_string()));
    }
    (context, built)
}

fn workspace_binaries() -> Vec<String> {
    let output = Command::new(env!("CARGO"))
        .args(["metadata", "--no-deps", "--format-version", "1"])
        .current_dir(repo())
        .output()
        .expect("cargo metadata runs");
    let metadata: serde_json::Value =
        serde_json::from_slice(&output.stdout).expect("metadata is JSON");
    metadata["packages"]
        .as_array()
        .into_iter()
        .flatten()
        .flat_map(|package| package["targets"].as_array().into_iter().flatten())
        .filter(|target| {
            target["kind"]
                .as_array()
                .is_some_and(|kinds| kinds.iter().any(|kind| kind == "bin"))
        })
        .filter_map(|target| target["name"].as_str().map(str::to_string))
        .collect()
}

/// The shell command of the crontab's one schedule line.
fn cron_command(crontab: &str) -> String {
    let line = schedule_lines(crontab)[0];
    line.split_whitespace()
        .skip(6)
        .collect::<Vec<_>>()
        .join(" ")
}

#[test]
fn the_crontab_runs_flow_every_minute_as_user_flow() {
    let crontab = read("crontab");
    let lines = schedule_lines(&crontab);
    assert_eq!(lines.len(), 1, "one schedule line expected: {lines:?}");
    let fields: Vec<&str> = lines[0].split_whitespace().collect();
    let limits = [(0, 59), (0, 23), (1, 31), (1, 12), (0, 7)];
    for (field, (low, high)) in fields.iter().zip(limits) {
        assert!(
            valid_cron_field(field, low, high),
            "bad cron field {field:?} in {:?}",
            lines[0]
        );
    }
    assert_eq!(&fields[..5], ["*"; 5], "flow must run every minute");
    assert_eq!(fields[5], "flow", "the cron.d user field");
    let command = cron_command(&crontab);
    assert!(
        command.starts_with("{ . /run/flow/env && "),
        "a pass first reads the container's environment: {command}"
    );
    assert!(
        command.contains(r#"/usr/local/bin/flow run "$FLOW_DIR""#),
        "a pass runs the folder FLOW_DIR names: {command}"
    );
    let entrypoint = read("docker/entrypoint");
    for path in ["$run/env", "$run/stdout"] {
        assert!(
            entrypoint.contains(path) && entrypoint.contains("run=/run/flow"),
            "the entry point makes {path}, which the crontab uses"
        );
    }
}

#[test]
fn every_path_the_dockerfile_copies_exists() {
    let (context, _) = copies(&read("Dockerfile"));
    assert!(context.len() >= 5, "{context:?}");
    for source in context {
        assert!(
            repo().join(&source).exists(),
            "the Dockerfile copies `{source}`, which does not exist"
        );
    }
}

#[test]
fn every_binary_the_image_ships_is_a_workspace_binary() {
    let (_, built) = copies(&read("Dockerfile"));
    let binaries = workspace_binaries();
    assert!(built.len() >= 5, "{built:?}");
    for path in built {
        let name = path
            .strip_prefix("/src/target/release/")
            .unwrap_or_else(|| panic!("`{path}` is not a release binary"));
        assert!(
            binaries.iter().any(|binary| binary == name),
            "`{name}` is not a binary of the workspace: {binaries:?}"
        );
    }
    for shipped in [
        "flow",
        "job-timestamp",
        "job-zscore",
        "job-merge",
        "db-export",
    ] {
        assert!(
            read("Dockerfile").contains(&format!("/src/target/release/{shipped}")),
            "the image lacks {shipped}"
        );
    }
}

#[test]
fn the_command_cron_runs_in_the_image_carries_the_sample_flow_through() {
    let command = cron_command(&read("crontab"));
    let flow = sample();
    // What the entry point saves: here only FLOW_DIR, so the pass can know
    // its folder from that file alone (cron passes no environment on).
    let env_file = flow.path("env");
    std::fs::write(
        &env_file,
        format!("export FLOW_DIR='{}'\n", flow.root().display()),
    )
    .expect("write the saved environment");
    let command = command
        .replace(
            "/usr/local/bin/flow",
            &bin_dir().join("flow").display().to_string(),
        )
        .replace("/run/flow/env", &env_file.display().to_string())
        .replace(
            "/run/flow/stdout",
            &flow.path("cron.log").display().to_string(),
        );
    let status = Command::new("sh")
        .arg("-c")
        .arg(&command)
        .env_clear()
        .env("PATH", "/usr/local/bin:/usr/bin:/bin")
        .status()
        .expect("sh runs");
    assert!(status.success(), "`{command}` failed");
    assert!(flow.exists("merged/File.xlsx"), "{}", flow.read("cron.log"));
    let log = flow.read("cron.log");
    assert!(
        log.contains("run finished job=merge"),
        "the log of the pass is kept: {log}"
    );
}
