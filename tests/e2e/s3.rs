//! Sources and targets in S3-compatible buckets, on a real server
//! (SeaweedFS, `scripts/s3-throwaway`): an hourly-partitioned bucket through
//! local and back into a bucket, re-uploaded objects, refused keys, a
//! missing bucket, a server that dies mid-pass, and `kill -9` of `flow`
//! during an upload.
//!
//! The server comes from `FLOW_TEST_S3_*` (printed by the script; `scripts/test`
//! starts one). Without it the tests are skipped, saying so, unless `CI` is
//! set: then they fail. Objects are put and read with `curl --aws-sigv4`,
//! not with the host's own client.

use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use flow_tests::{COMMAND_DEADLINE, Flow, Output, find_item, require_jobs, send, wait_for};
use nix::sys::signal::Signal;

/// An S3 server and the keys it accepts.
struct Server {
    endpoint: String,
    access_key: String,
    secret: String,
    region: String,
    /// The folder of a server this test started itself, stopped on drop.
    own: Option<String>,
}

/// The shared test server; `None` (skipped, said so) outside CI without one.
fn server() -> Option<Server> {
    let read = |name: &str| std::env::var(name).ok().filter(|value| !value.is_empty());
    let how = "run `scripts/test`, which starts one, or `eval \"$(scripts/s3-throwaway)\"` \
               and run the tests again";
    let Some(endpoint) = read("FLOW_TEST_S3_ENDPOINT") else {
        let in_ci =
            std::env::var("CI").is_ok_and(|ci| !ci.is_empty() && ci != "false" && ci != "0");
        assert!(
            !in_ci,
            "FLOW_TEST_S3_ENDPOINT is not set and CI is, so this test cannot run: {how}"
        );
        eprintln!("skipped: FLOW_TEST_S3_ENDPOINT is not set; {how}");
        return None;
    };
    Some(Server {
        endpoint,
        access_key: read("FLOW_TEST_S3_ACCESS_KEY_ID").expect("FLOW_TEST_S3_ACCESS_KEY_ID"),
        secret: read("FLOW_TEST_S3_SECRET_ACCESS_KEY").expect("FLOW_TEST_S3_SECRET_ACCESS_KEY"),
        region: read("FLOW_TEST_S3_REGION").unwrap_or_else(|| "us-east-1".into()),
        own: None,
    })
}

fn script() -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../scripts/s3-throwaway")
}

impl Server {
    /// A server of this test's own, to stop in the middle of a pass.
    fn start_own() -> Self {
        let output = Command::new(script())
            .arg("start")
            .stderr(Stdio::inherit())
            .output()
            .expect("run scripts/s3-throwaway");
        assert!(output.status.success(), "scripts/s3-throwaway start failed");
        let text = String::from_utf8_lossy(&output.stdout);
        let value = |name: &str| {
            text.lines()
                .find_map(|line| line.strip_prefix(&format!("export {name}=")))
                .unwrap_or_else(|| panic!("s3-throwaway printed no {name}"))
                .to_owned()
        };
        Self {
            endpoint: value("FLOW_TEST_S3_ENDPOINT"),
            access_key: value("FLOW_TEST_S3_ACCESS_KEY_ID"),
            secret: value("FLOW_TEST_S3_SECRET_ACCESS_KEY"),
            region: value("FLOW_TEST_S3_REGION"),
            own: Some(value("FLOW_TEST_S3_DIR")),
        }
    }

    /// The pid of a server this test started.
    fn own_pid(&self) -> i32 {
        let dir = self.own.as_ref().expect("a server of the test's own");
        std::fs::read_to_string(format!("{dir}/pid"))
            .expect("the server's pid file")
            .trim()
            .parse()
            .expect("a pid")
    }

    /// `flow` settings for this server, with `secret` as the secret key.
    fn flow_with_secret(&self, flow: Flow, secret: &str) -> Flow {
        flow.env("AWS_ENDPOINT_URL", &self.endpoint)
            .env("AWS_ACCESS_KEY_ID", &self.access_key)
            .env("AWS_SECRET_ACCESS_KEY", secret)
            .env("AWS_REGION", &self.region)
    }

    fn flow(&self, flow: Flow) -> Flow {
        self.flow_with_secret(flow, &self.secret)
    }

    /// One signed request; the status code and the body.
    fn request(&self, method: &str, path: &str, body: Option<&[u8]>) -> (u16, Vec<u8>) {
        let mut command = Command::new("curl");
        command
            .args(["-sS", "-X", method, "-w", "\n%{http_code}"])
            .args(["--aws-sigv4", &format!("aws:amz:{}:s3", self.region)])
            .args(["-u", &format!("{}:{}", self.access_key, self.secret)])
            .args(["-H", "x-amz-content-sha256: UNSIGNED-PAYLOAD"])
            .arg(format!("{}/{path}", self.endpoint))
            .stdout(Stdio::piped());
        if body.is_some() {
            command.args(["--data-binary", "@-"]).stdin(Stdio::piped());
        }
        let mut child = command.spawn().expect("run curl");
        if let Some(body) = body {
            use std::io::Write as _;
            let mut stdin = child.stdin.take().expect("curl's stdin");
            stdin.write_all(body).expect("write to curl");
        }
        let output = child.wait_with_output().expect("curl ends");
        let text = output.stdout;
        let split = text
            .iter()
            .rposition(|&b| b == b'\n')
            .expect("curl's status line");
        let code = String::from_utf8_lossy(&text[split + 1..])
            .trim()
            .parse()
            .expect("an HTTP status");
        (code, text[..split].to_vec())
    }

    fn create_bucket(&self, bucket: &str) {
        let (code, body) = self.request("PUT", bucket, None);
        assert_eq!(
            code,
            200,
            "create bucket {bucket}: {}",
            String::from_utf8_lossy(&body)
        );
    }

    fn put(&self, bucket: &str, key: &str, content: &[u8]) {
        let (code, body) = self.request("PUT", &format!("{bucket}/{key}"), Some(content));
        assert_eq!(
            code,
            200,
            "put {bucket}/{key}: {}",
            String::from_utf8_lossy(&body)
        );
    }

    fn get(&self, bucket: &str, key: &str) -> Option<Vec<u8>> {
        let (code, body) = self.request("GET", &format!("{bucket}/{key}"), None);
        (code == 200).then_some(body)
    }

    /// Every key in `bucket` under `prefix`, with its size.
    fn keys(&self, bucket: &str, prefix: &str) -> Vec<(String, u64)> {
        let (code, body) = self.request(
            "GET",
            &format!("{bucket}?list-type=2&prefix={prefix}"),
            None,
        );
        assert_eq!(code, 200, "list {bucket}");
        let text = String::from_utf8_lossy(&body).into_owned();
        text.split("<Contents>")
            .skip(1)
            .map(|entry| {
                let tag = |name: &str| {
                    let start = entry.find(&format!("<{name}>")).expect("a tag") + name.len() + 2;
                    let end = start + entry[start..].find('<').expect("a closing tag");
                    entry[start..end].to_owned()
                };
                (tag("Key"), tag("Size").parse().expect("a size"))
            })
            .collect()
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if let Some(dir) = &self.own {
            let _ = Command::new(script()).args(["stop", dir]).status();
        }
    }
}

/// A bucket name no other test (or earlier run) uses.
fn bucket(what: &str) -> String {
    static NEXT: AtomicUsize = AtomicUsize::new(0);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |since| since.subsec_nanos());
    format!(
        "flow-{what}-{}-{}-{nanos}",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::Relaxed)
    )
}

/// Runs `flow args` on `flow`, keeping every output for the secret check.
fn run(flow: &Flow, args: &[&str], seen: &mut String) -> Output {
    let output = flow.run(args);
    seen.push_str(&output.stdout);
    seen.push_str(&output.stderr);
    output
}

/// Fails if the secret key is in anything the flow printed or kept.
#[track_caller]
fn assert_no_secret(flow: &Flow, server: &Server, seen: &str) {
    assert!(
        !seen.contains(&server.secret),
        "the secret key was printed:\n{seen}"
    );
    let status = flow.run(&["status", "--json"]);
    assert!(
        !status.stdout.contains(&server.secret),
        "the secret key is in the status"
    );
    for entry in walk(flow.root()) {
        if let Ok(text) = std::fs::read(&entry) {
            let text = String::from_utf8_lossy(&text);
            assert!(
                !text.contains(&server.secret),
                "the secret key is in {}",
                entry.display()
            );
        }
    }
}

fn walk(folder: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut files = Vec::new();
    for entry in std::fs::read_dir(folder).into_iter().flatten().flatten() {
        let path = entry.path();
        if path.is_dir() {
            files.extend(walk(&path));
        } else {
            files.push(path);
        }
    }
    files
}

const HOURS: [&str; 6] = [
    "2026/11/30/21",
    "2026/11/30/22",
    "2026/11/30/23",
    "2026/12/01/00",
    "2026/12/01/01",
    "2026/12/01/02",
];

/// `landing` with one CSV an hour, a hidden key, a folder placeholder and
/// an emptied partition's placeholder.
fn fill_landing(server: &Server, drops: &str) {
    server.create_bucket(drops);
    for (n, hour) in HOURS.iter().enumerate() {
        let csv = format!("isin,nav\nA{n},{n}.5\n");
        server.put(drops, &format!("landing/{hour}/part-1.csv"), csv.as_bytes());
    }
    server.put(
        drops,
        "landing/2026/11/30/21/.part-2.csv",
        b"isin,nav\nhidden,1\n",
    );
    server.put(
        drops,
        "landing/.staging/2026/11/30/21/x.csv",
        b"isin,nav\nhidden,2\n",
    );
    server.put(drops, "landing/2026/", b"");
    server.put(drops, "landing/2026/11/29/", b"");
}

/// stamp (bucket → local, the real job-timestamp), up (local → bucket),
/// back (that bucket → local, in the same pass).
fn hourly_yaml(drops: &str, out: &str, stamp: &str) -> String {
    format!(
        "settle: 0s
parallel: 2
jobs:
  - name: stamp
    run: {stamp}
    source: s3://{drops}/landing/{{yyyy}}/{{mm}}/{{dd}}/{{HH}}/{{name}}.csv
    target: stamped/{{yyyy}}-{{mm}}-{{dd}}-{{HH}}_{{name}}.csv
    {args}
  - name: up
    run: ./jobs/copy.sh
    source: stamped/{{day}}_{{name}}.csv
    target: s3://{out}/copied/{{day}}/{{name}}.csv
  - name: back
    run: ./jobs/copy.sh
    source: s3://{out}/copied/{{day}}/{{name}}.csv
    target: back/{{day}}/{{name}}.csv
",
        args = if stamp == "job-timestamp" {
            "args: { at: \"2026-12-01T12:00:00Z\" }"
        } else {
            ""
        }
    )
}

fn day(hour: &str) -> String {
    hour.replace('/', "-")
}

#[test]
fn an_hourly_bucket_goes_through_local_folders_and_back_into_a_bucket() {
    let Some(server) = server() else { return };
    require_jobs();
    let (drops, out) = (bucket("drops"), bucket("out"));
    fill_landing(&server, &drops);
    server.create_bucket(&out);
    let flow = server.flow(
        Flow::new()
            .yaml(&hourly_yaml(&drops, &out, "job-timestamp"))
            .job("jobs/copy.sh", ""),
    );
    let mut seen = String::new();
    run(&flow, &["check"], &mut seen).assert_code(0);
    let first = run(&flow, &["run"], &mut seen);
    first.assert_code(0);
    // the copying jobs note their calls (job-timestamp does not)
    assert_eq!(
        flow.calls().len(),
        12,
        "six hours through the two copying jobs:\n{}",
        first.stderr
    );

    for (n, hour) in HOURS.iter().enumerate() {
        let stamped = flow.read(&format!("stamped/{}_part-1.csv", day(hour)));
        assert!(
            stamped.starts_with("isin,nav,time_started\n")
                && stamped.contains(&format!("A{n},{n}.5,")),
            "{hour}: {stamped}"
        );
        let object = server
            .get(&out, &format!("copied/{}/part-1.csv", day(hour)))
            .unwrap_or_else(|| panic!("no object for {hour}"));
        assert_eq!(
            String::from_utf8_lossy(&object),
            format!("{stamped}by up\n")
        );
        // the downstream job saw the uploaded object in the same pass
        let back = flow.read(&format!("back/{}/part-1.csv", day(hour)));
        assert_eq!(back, format!("{stamped}by up\nby back\n"));
    }
    let keys: Vec<String> = server
        .keys(&out, "")
        .into_iter()
        .map(|(key, _)| key)
        .collect();
    assert_eq!(keys.len(), 6, "only the six targets: {keys:?}");
    assert!(!flow.exists(".flow/transfers") || flow.list(".flow/transfers").is_empty());

    // items are named by key, in the status and for `flow logs`
    let status = flow.status();
    for hour in HOURS {
        let item = find_item(&status, "stamp", &format!("{hour}/part-1.csv"))
            .unwrap_or_else(|| panic!("no stamp item {hour}/part-1.csv"));
        assert_eq!(item["status"], "success", "{item}");
    }
    let logs = run(
        &flow,
        &["logs", "back", "2026-11-30-21/part-1.csv"],
        &mut seen,
    );
    logs.assert_code(0);
    assert!(
        logs.stdout.contains("exited with code 0"),
        "{}",
        logs.stdout
    );

    let second = run(&flow, &["run"], &mut seen);
    second.assert_code(0);
    assert_eq!(
        flow.calls().len(),
        12,
        "a second pass does nothing:\n{}",
        second.stderr
    );
    let plan = run(&flow, &["plan"], &mut seen);
    assert!(
        plan.stdout
            .contains("0 to run, 0 after upstream jobs, 0 waiting, 0 in error, 18 up to date"),
        "{}",
        plan.stdout
    );
    assert_no_secret(&flow, &server, &seen);
}

#[test]
fn a_reuploaded_object_reruns_its_item_and_its_downstream() {
    let Some(server) = server() else { return };
    let (drops, out) = (bucket("drops"), bucket("out"));
    fill_landing(&server, &drops);
    server.create_bucket(&out);
    let flow = server.flow(
        Flow::new()
            .yaml(&hourly_yaml(&drops, &out, "./jobs/copy.sh"))
            .job("jobs/copy.sh", ""),
    );
    flow.run(&["run"]).assert_code(0);
    assert_eq!(flow.calls().len(), 18);

    // the same bytes again: the same ETag, nothing to do
    server.put(
        &drops,
        "landing/2026/11/30/22/part-1.csv",
        b"isin,nav\nA1,1.5\n",
    );
    flow.run(&["run"]).assert_code(0);
    assert_eq!(flow.calls().len(), 18, "an identical upload is no change");

    server.put(
        &drops,
        "landing/2026/11/30/22/part-1.csv",
        b"isin,nav\nNEW,9\n",
    );
    let pass = flow.run(&["run"]);
    pass.assert_code(0);
    assert_eq!(
        flow.calls()[18..],
        [
            "stamp 2026/11/30/22/part-1.csv",
            "up 2026-11-30-22_part-1.csv",
            "back 2026-11-30-22/part-1.csv"
        ],
        "{}",
        pass.stderr
    );
    let object = server
        .get(&out, "copied/2026-11-30-22/part-1.csv")
        .expect("the target object");
    assert_eq!(
        String::from_utf8_lossy(&object),
        "isin,nav\nNEW,9\nby stamp\nby up\n"
    );
}

/// A local job beside one reading a bucket.
fn mixed_yaml(drops: &str) -> String {
    format!(
        "settle: 0s
jobs:
  - name: local
    run: ./jobs/copy.sh
    source: in
    target: out
  - name: remote
    run: ./jobs/copy.sh
    source: s3://{drops}/landing/{{yyyy}}/{{mm}}/{{dd}}/{{HH}}/{{name}}.csv
    target: stamped/{{yyyy}}-{{mm}}-{{dd}}-{{HH}}_{{name}}.csv
"
    )
}

#[test]
fn a_refused_key_or_a_missing_bucket_names_the_bucket_and_local_jobs_still_run() {
    let Some(server) = server() else { return };
    let drops = bucket("drops");
    fill_landing(&server, &drops);
    let mut seen = String::new();

    let wrong = server.flow_with_secret(
        Flow::new()
            .yaml(&mixed_yaml(&drops))
            .job("jobs/copy.sh", "")
            .file("in/a.txt", "a\n"),
        "not-the-secret",
    );
    let refused = run(&wrong, &["run"], &mut seen);
    refused.assert_code(1);
    assert!(
        refused.stderr.contains(&format!("bucket `{drops}`"))
            && refused.stderr.contains("SignatureDoesNotMatch")
            && refused
                .stderr
                .contains("check AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY"),
        "{}",
        refused.stderr
    );
    assert_eq!(wrong.read("out/a.txt"), "a\nby local\n");
    assert_eq!(wrong.calls(), ["local a.txt"]);

    let missing = bucket("missing");
    let flow = server.flow(
        Flow::new()
            .yaml(&mixed_yaml(&missing))
            .job("jobs/copy.sh", "")
            .file("in/a.txt", "a\n"),
    );
    let absent = run(&flow, &["run"], &mut seen);
    absent.assert_code(1);
    assert!(
        absent.stderr.contains(&format!("bucket `{missing}`"))
            && absent
                .stderr
                .contains(&format!("check that bucket `{missing}` exists")),
        "{}",
        absent.stderr
    );
    assert_eq!(flow.read("out/a.txt"), "a\nby local\n");
    assert_no_secret(&wrong, &server, &seen);
    assert_no_secret(&flow, &server, &seen);
}

#[test]
fn a_stopped_server_fails_the_listing_after_the_stall_limit_and_local_jobs_still_run() {
    if server().is_none() {
        return;
    }
    let server = Server::start_own();
    let drops = bucket("drops");
    fill_landing(&server, &drops);
    let flow = server.flow(
        Flow::new()
            .yaml(&mixed_yaml(&drops))
            .job("jobs/copy.sh", "")
            .file("in/a.txt", "a\n"),
    );
    let pid = u32::try_from(server.own_pid()).expect("a pid");
    // stopped, not dead: the kernel still accepts connections, nobody answers
    send(pid, Signal::SIGSTOP);
    let pass = flow.run(&["run"]);
    send(pid, Signal::SIGCONT);
    pass.assert_code(1);
    assert!(
        pass.stderr.contains(&format!(
            "bucket `{drops}`: could not list `landing/`: no data came from the server for 30s"
        )),
        "{}",
        pass.stderr
    );
    assert_eq!(flow.read("out/a.txt"), "a\nby local\n");
    assert_eq!(flow.calls(), ["local a.txt"]);
}

#[test]
fn a_server_that_dies_mid_pass_fails_its_items_and_records_no_success() {
    if server().is_none() {
        return;
    }
    let server = Server::start_own();
    let (drops, out) = (bucket("drops"), bucket("out"));
    fill_landing(&server, &drops);
    server.create_bucket(&out);
    // the first run of `up` kills the server before it exits: its upload,
    // and the downloads of the runs after it, meet a dead endpoint
    let flow = server.flow(
        Flow::new()
            .yaml(&format!(
                "settle: 0s
parallel: 1
retries: 1
jobs:
  - name: local
    run: ./jobs/copy.sh
    source: in
    target: out
  - name: up
    run: ./jobs/killer.sh
    source: s3://{drops}/landing/{{yyyy}}/{{mm}}/{{dd}}/{{HH}}/{{name}}.csv
    target: s3://{out}/copied/{{yyyy}}-{{mm}}-{{dd}}-{{HH}}_{{name}}.csv
"
            ))
            .job("jobs/copy.sh", "")
            .job(
                "jobs/killer.sh",
                &format!("kill -9 {} 2>/dev/null; sleep 0.2", server.own_pid()),
            )
            .file("in/a.txt", "a\n"),
    );
    let mut seen = String::new();
    let pass = run(&flow, &["run"], &mut seen);
    pass.assert_code(1);
    assert_eq!(flow.read("out/a.txt"), "a\nby local\n", "{}", pass.stderr);
    assert!(
        pass.stderr
            .contains(&format!("bucket `{out}`: could not upload"))
            && pass
                .stderr
                .contains("check AWS_ENDPOINT_URL and that the server answers there"),
        "{}",
        pass.stderr
    );
    assert!(
        pass.stderr
            .contains(&format!("bucket `{drops}`: could not download")),
        "{}",
        pass.stderr
    );
    let status = flow.status();
    let items = status["jobs"][1]["items"]
        .as_array()
        .expect("items")
        .clone();
    assert_eq!(items.len(), HOURS.len(), "{status}");
    for item in &items {
        assert_ne!(item["status"], "success", "{item}");
    }
    assert!(!flow.exists(".flow/transfers") || flow.list(".flow/transfers").is_empty());
    assert_no_secret(&flow, &server, &seen);
}

#[test]
fn kill_9_during_an_upload_leaves_no_object_and_the_next_pass_uploads_once() {
    let Some(server) = server() else { return };
    let (drops, out) = (bucket("drops"), bucket("out"));
    server.create_bucket(&drops);
    server.create_bucket(&out);
    server.put(&drops, "in/big.csv", b"isin,nav\nA,1\n");
    // 200 MB of output: an upload in parts that takes a while on loopback
    let flow = server.flow(
        Flow::new()
            .yaml(&format!(
                "settle: 0s
jobs:
  - name: big
    run: ./jobs/big.sh
    source: s3://{drops}/in
    target: s3://{out}/big
"
            ))
            .script(
                "jobs/big.sh",
                "#!/bin/sh\nwhile [ $# -gt 0 ]; do [ \"$1\" = --output ] && out=\"$2\"; shift 2; done\n\
                 head -c 200000000 /dev/urandom > \"$out\"\n",
            ),
    );
    let child = flow.spawn(&["run"]);
    let logs = flow.path(".flow/logs");
    wait_for("the upload to start", COMMAND_DEADLINE, || {
        walk(&logs).iter().any(|log| {
            std::fs::read_to_string(log).is_ok_and(|text| text.contains("uploading the output"))
        })
    });
    send(child.id(), Signal::SIGKILL);
    let _ = flow_tests::finish(child, Duration::from_secs(10));
    assert!(
        server.keys(&out, "big").is_empty(),
        "a partial upload is visible under the target key"
    );

    let again = flow.run(&["run"]);
    again.assert_code(0);
    assert_eq!(
        server.keys(&out, "big"),
        [("big/big.csv".to_owned(), 200_000_000)]
    );
    let item = flow.item("big", "big.csv");
    assert_eq!(item["status"], "success", "{item}");
    assert!(!flow.exists(".flow/transfers") || flow.list(".flow/transfers").is_empty());
}

#[test]
fn keys_and_endpoint_may_come_from_the_profile_files() {
    let Some(server) = server() else { return };
    let drops = bucket("drops");
    fill_landing(&server, &drops);
    let flow = Flow::new()
        .yaml(&mixed_yaml(&drops))
        .job("jobs/copy.sh", "")
        .file(
            "aws/credentials",
            &format!(
                "[default]\naws_access_key_id = wrong\n\n[tests]\naws_access_key_id = {}\naws_secret_access_key = {}\n",
                server.access_key, server.secret
            ),
        )
        .file(
            "aws/config",
            &format!(
                "[profile tests]\nregion = {}\nendpoint_url = {}\n",
                server.region, server.endpoint
            ),
        );
    let credentials = flow.path("aws/credentials").display().to_string();
    let config = flow.path("aws/config").display().to_string();
    let flow = flow
        .env("AWS_PROFILE", "tests")
        .env("AWS_SHARED_CREDENTIALS_FILE", &credentials)
        .env("AWS_CONFIG_FILE", &config);
    let mut seen = String::new();
    let pass = run(&flow, &["run"], &mut seen);
    pass.assert_code(0);
    assert_eq!(flow.calls().len(), HOURS.len(), "{}", pass.stderr);
    assert!(!seen.contains(&server.secret));
}

#[test]
fn a_download_that_stalls_fails_its_item_and_no_job_sees_a_partial_input() {
    if server().is_none() {
        return;
    }
    let server = Server::start_own();
    let drops = bucket("drops");
    server.create_bucket(&drops);
    server.put(&drops, "in/big.bin", &vec![7; 300_000_000]);
    let flow = server.flow(
        Flow::new()
            .yaml(&format!(
                "settle: 0s
jobs:
  - name: copy
    run: ./jobs/copy.sh
    source: s3://{drops}/in
    target: out
"
            ))
            .job("jobs/copy.sh", ""),
    );
    let child = flow.spawn(&["run"]);
    let transfers = flow.path(".flow/transfers");
    wait_for("the download to start", COMMAND_DEADLINE, || {
        walk(&transfers).iter().any(|file| {
            file.to_string_lossy().ends_with(".big.bin.part")
                && std::fs::metadata(file).is_ok_and(|meta| meta.len() > 0)
        })
    });
    let pid = u32::try_from(server.own_pid()).expect("a pid");
    send(pid, Signal::SIGSTOP);
    let pass = flow_tests::finish(child, COMMAND_DEADLINE);
    send(pid, Signal::SIGCONT);
    pass.assert_code(1);
    assert!(
        pass.stderr.contains(&format!(
            "bucket `{drops}`: could not download `in/big.bin`: no data came from the server for 30s"
        )),
        "{}",
        pass.stderr
    );
    assert!(flow.calls().is_empty(), "a job ran on a partial download");
    assert!(!flow.exists("out/big.bin"));
    assert!(walk(&transfers).is_empty(), "the partial download is left");
    assert_eq!(flow.item("copy", "big.bin")["status"], "error");
}
