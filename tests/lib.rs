//! Helpers shared by the end-to-end tests: a [`Flow`] builder (a temporary
//! flow folder with `flow.yaml`, input files and fake jobs written as shell
//! scripts) that runs the real `flow` binary and reads back stdout, stderr,
//! the exit code, files and `flow status --json`.
//!
//! Binaries come from the target folder these tests were built into; the
//! first use in a test process has cargo bring them up to date there, so
//! an edit of the host or a job is never tested against a stale binary.

use std::fs;
use std::os::unix::fs::PermissionsExt as _;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;
use serde_json::Value;

/// Longest any single `flow` command may take in a test before it is killed
/// and the test fails: a hang must fail, not stall CI.
pub const COMMAND_DEADLINE: Duration = Duration::from_secs(120);

/// A job that copies `--input` to `--output`, then appends a line naming the
/// job and each extra input; each call is logged in `$FLOW_DIR/.calls`.
/// `{before}` runs after the options are parsed, before the copy.
const JOB: &str = r#"#!/bin/sh
# fake job for the tests: honours the flow job contract
while [ $# -gt 0 ]; do
  case "$1" in
    --input) in="$2" ;;
    --output) out="$2" ;;
    --right) right="$2" ;;
  esac
  shift 2
done
echo "$FLOW_JOB $FLOW_ITEM" >> "$FLOW_DIR/.calls"
{before}
cat "$in" > "$out"
if [ -n "$right" ]; then cat "$right" >> "$out"; fi
echo "by $FLOW_JOB" >> "$out"
"#;

/// The target folder holding the built binaries (`target/<profile>/`),
/// rebuilt by cargo once per test process.
pub fn bin_dir() -> PathBuf {
    static BUILT: OnceLock<PathBuf> = OnceLock::new();
    BUILT
        .get_or_init(|| {
            let exe = std::env::current_exe().expect("the test binary has a path");
            // target/<profile>/deps/e2e-<hash>
            let dir = exe
                .parent()
                .and_then(Path::parent)
                .expect("the test binary lives in target/<profile>/deps")
                .to_path_buf();
            build_binaries(&dir);
            dir
        })
        .clone()
}

/// `cargo build --workspace --bins` into the profile folder `dir`.
fn build_binaries(dir: &Path) {
    let name = dir.file_name().and_then(|name| name.to_str());
    let profile = match name {
        Some("debug") | None => "dev",
        Some(other) => other,
    };
    let target = dir
        .parent()
        .expect("a profile folder lies in a target folder");
    let status = Command::new(env!("CARGO"))
        .args([
            "build",
            "--workspace",
            "--bins",
            "--quiet",
            "--profile",
            profile,
        ])
        .arg("--target-dir")
        .arg(target)
        .current_dir(Path::new(env!("CARGO_MANIFEST_DIR")).join(".."))
        .stdin(Stdio::null())
        .status()
        .expect("run cargo build");
    assert!(
        status.success(),
        "cargo build --workspace --bins failed: the binaries under test would be stale"
    );
}

pub fn flow_bin() -> PathBuf {
    bin_dir().join("flow")
}

/// Fails the test unless the shipped jobs are built beside `flow`.
pub fn require_jobs() {
    for job in ["job-timestamp", "job-zscore", "job-merge"] {
        assert!(
            bin_dir().join(job).is_file(),
            "no `{job}` in {}: run `cargo build --workspace` first",
            bin_dir().display()
        );
    }
}

/// What a finished `flow` command left.
#[derive(Debug)]
pub struct Output {
    pub code: Option<i32>,
    pub stdout: String,
    pub stderr: String,
}

impl Output {
    #[track_caller]
    pub fn assert_code(&self, code: i32) -> &Self {
        assert_eq!(
            self.code,
            Some(code),
            "unexpected exit code\n--- stdout\n{}\n--- stderr\n{}",
            self.stdout,
            self.stderr
        );
        self
    }
}

/// A temporary flow folder.
pub struct Flow {
    dir: tempfile::TempDir,
    /// Variables every `flow` command of this flow gets (such as the
    /// `AWS_*` settings of a test's S3 server).
    env: Vec<(String, String)>,
}

impl Default for Flow {
    fn default() -> Self {
        Self::new()
    }
}

impl Flow {
    pub fn new() -> Self {
        Self {
            dir: tempfile::Builder::new()
                .prefix("flow-e2e-")
                .tempdir()
                .expect("create a temporary folder"),
            env: Vec::new(),
        }
    }

    /// Sets `name` to `value` for every `flow` command run on this flow.
    #[must_use]
    pub fn env(mut self, name: &str, value: &str) -> Self {
        self.env.retain(|(known, _)| known != name);
        self.env.push((name.to_owned(), value.to_owned()));
        self
    }

    pub fn root(&self) -> &Path {
        self.dir.path()
    }

    pub fn path(&self, rel: &str) -> PathBuf {
        self.root().join(rel)
    }

    /// Writes `flow.yaml`.
    pub fn yaml(self, text: &str) -> Self {
        self.write("flow.yaml", text);
        self
    }

    /// Writes a file (creating its folders).
    pub fn file(self, rel: &str, content: &str) -> Self {
        self.write(rel, content);
        self
    }

    /// Writes an executable script.
    pub fn script(self, rel: &str, text: &str) -> Self {
        self.write(rel, text);
        let path = self.path(rel);
        fs::set_permissions(&path, fs::Permissions::from_mode(0o755)).expect("chmod the script");
        self
    }

    /// Writes the copying fake job at `rel`, running `before` first.
    pub fn job(self, rel: &str, before: &str) -> Self {
        self.script(rel, &JOB.replace("{before}", before))
    }

    pub fn write(&self, rel: &str, content: &str) {
        let path = self.path(rel);
        if let Some(parent) = path.parent() {
            fs::create_dir_all(parent).expect("create folders");
        }
        fs::write(&path, content).expect("write a file");
    }

    pub fn read(&self, rel: &str) -> String {
        fs::read_to_string(self.path(rel)).unwrap_or_else(|error| panic!("read {rel}: {error}"))
    }

    pub fn exists(&self, rel: &str) -> bool {
        self.path(rel).exists()
    }

    /// Files in a folder, names starting with `.` included, sorted.
    pub fn list(&self, rel: &str) -> Vec<String> {
        let mut names: Vec<String> = fs::read_dir(self.path(rel))
            .map(|entries| {
                entries
                    .filter_map(Result::ok)
                    .map(|entry| entry.file_name().to_string_lossy().into_owned())
                    .collect()
            })
            .unwrap_or_default();
        names.sort();
        names
    }

    /// `job item` lines, one per job run, as the fake jobs logged them.
    pub fn calls(&self) -> Vec<String> {
        fs::read_to_string(self.path(".calls"))
            .unwrap_or_default()
            .lines()
            .map(str::to_owned)
            .collect()
    }

    /// `flow` with `args`, run inside the flow folder.
    pub fn command(&self, args: &[&str]) -> Command {
        let mut command = Command::new(flow_bin());
        command
            .args(args)
            .current_dir(self.root())
            .env_remove("FLOW_DIR")
            .env("FLOW_LOG", "info")
            .envs(self.env.iter().map(|(name, value)| (name, value)))
            .stdin(Stdio::null());
        command
    }

    pub fn spawn(&self, args: &[&str]) -> Child {
        self.command(args)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start flow")
    }

    /// Runs `flow args` to completion (failing the test past the deadline).
    pub fn run(&self, args: &[&str]) -> Output {
        finish(self.spawn(args), COMMAND_DEADLINE)
    }

    /// `flow status --json`, parsed.
    pub fn status(&self) -> Value {
        let output = self.run(&["status", "--json"]);
        output.assert_code(0);
        serde_json::from_str(&output.stdout)
            .unwrap_or_else(|error| panic!("status --json: {error}\n{}", output.stdout))
    }

    /// The status entry of one item.
    pub fn item(&self, job: &str, item: &str) -> Value {
        let status = self.status();
        find_item(&status, job, item)
            .unwrap_or_else(|| panic!("no item {job}/{item} in {status:#}"))
    }

    /// Reads a pid a fake job wrote into `rel`.
    pub fn pid(&self, rel: &str) -> i32 {
        self.read(rel)
            .trim()
            .parse()
            .unwrap_or_else(|error| panic!("pid in {rel}: {error}"))
    }
}

pub fn find_item(status: &Value, job: &str, item: &str) -> Option<Value> {
    status["jobs"]
        .as_array()?
        .iter()
        .find(|entry| entry["name"] == job)?["items"]
        .as_array()?
        .iter()
        .find(|entry| entry["item"] == item)
        .cloned()
}

/// Waits for `child` to exit and collects its output, reading its pipes
/// meanwhile so that a large output never blocks it; kills it and fails the
/// test after `deadline`.
pub fn finish(child: Child, deadline: Duration) -> Output {
    let pid = child.id();
    let (sender, receiver) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let _ = sender.send(child.wait_with_output());
    });
    let output = match receiver.recv_timeout(deadline) {
        Ok(output) => output.expect("collect flow output"),
        Err(_) => {
            send(pid, Signal::SIGKILL);
            let output = receiver
                .recv_timeout(Duration::from_secs(10))
                .ok()
                .and_then(Result::ok);
            panic!(
                "flow did not finish within {deadline:?}\n--- stderr\n{}",
                output.map_or_else(String::new, |output| {
                    String::from_utf8_lossy(&output.stderr).into_owned()
                })
            );
        }
    };
    Output {
        code: output.status.code(),
        stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
    }
}

/// Polls `condition` until it holds; fails the test after `timeout`.
#[track_caller]
pub fn wait_for(what: &str, timeout: Duration, mut condition: impl FnMut() -> bool) {
    let until = Instant::now() + timeout;
    while !condition() {
        assert!(Instant::now() < until, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Whether a process runs (a zombie waiting to be reaped does not count).
pub fn alive(pid: i32) -> bool {
    match fs::read_to_string(format!("/proc/{pid}/stat")) {
        // the state follows the parenthesised command name
        Ok(stat) => stat
            .rsplit_once(')')
            .and_then(|(_, rest)| rest.split_whitespace().next())
            .is_some_and(|state| state != "Z" && state != "X"),
        Err(_) => false,
    }
}

pub fn send(pid: u32, signal: Signal) {
    kill(Pid::from_raw(i32::try_from(pid).expect("pid fits")), signal).expect("send a signal");
}

/// A running `flow serve` on a free loopback port, stopped when dropped.
pub struct Served {
    child: Child,
    /// `127.0.0.1:PORT`, as the server reported it.
    pub addr: String,
}

impl Served {
    /// Starts `flow serve` on the flow folder with `--addr 127.0.0.1:0` and
    /// waits for the line that names the port the kernel chose.
    pub fn start(flow: &Flow) -> Self {
        use std::io::BufRead as _;
        let mut child = flow.spawn(&["serve", "--addr", "127.0.0.1:0"]);
        let stderr = child.stderr.take().expect("piped stderr");
        let (found, seen) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            // keep draining, so that the server never blocks on a full pipe
            for line in std::io::BufReader::new(stderr)
                .lines()
                .map_while(Result::ok)
            {
                if let Some(rest) = line.split_once(" on http://").map(|(_, rest)| rest) {
                    let _ = found.send(rest.split('/').next().unwrap_or_default().to_owned());
                }
            }
        });
        let addr = seen
            .recv_timeout(Duration::from_secs(20))
            .unwrap_or_else(|_| {
                let _ = child.kill();
                panic!("flow serve did not report its address within 20 s")
            });
        Self { child, addr }
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    /// `GET target` sent as written (no normalisation of `..`).
    pub fn get(&self, target: &str) -> Reply {
        http_get(&self.addr, target)
    }

    /// The server's process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }
}

impl Drop for Served {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// An HTTP response, read whole.
#[derive(Debug)]
pub struct Reply {
    pub status: u16,
    pub head: String,
    pub body: String,
}

impl Reply {
    /// The body as JSON.
    #[track_caller]
    pub fn json(&self) -> Value {
        serde_json::from_str(&self.body)
            .unwrap_or_else(|error| panic!("not JSON ({error}): {}", self.body))
    }
}

/// One HTTP/1.0 GET over a fresh connection: the target goes on the wire
/// exactly as given, which is what a traversal test needs.
pub fn http_get(addr: &str, target: &str) -> Reply {
    use std::io::{Read as _, Write as _};
    let mut stream = std::net::TcpStream::connect(addr).expect("connect to flow serve");
    stream
        .set_read_timeout(Some(Duration::from_secs(30)))
        .expect("set a timeout");
    write!(stream, "GET {target} HTTP/1.0\r\nHost: {addr}\r\n\r\n").expect("send a request");
    let mut raw = Vec::new();
    stream.read_to_end(&mut raw).expect("read the response");
    let text = String::from_utf8_lossy(&raw).into_owned();
    let (head, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
    let status = head
        .split_whitespace()
        .nth(1)
        .and_then(|code| code.parse().ok())
        .unwrap_or_else(|| panic!("no status line in {head:?}"));
    Reply {
        status,
        head: head.to_owned(),
        body: body.to_owned(),
    }
}

/// Debian's Chromium; its absence fails the test with the fix.
pub fn chromium() -> PathBuf {
    let path = PathBuf::from("/usr/bin/chromium");
    assert!(
        path.is_file(),
        "no browser at {}: run `apt-get install chromium` (the browser tests never skip)",
        path.display()
    );
    path
}

/// Runs Chromium headless, as this machine runs it (no sandbox as root,
/// no network beyond the page, a new profile each time), with `args`; its
/// stdout. Output goes to files, not pipes: a large DOM must not fill a
/// pipe nobody reads until the browser exits.
fn headless(args: &[String]) -> String {
    let profile = tempfile::tempdir().expect("a browser profile folder");
    let out = profile.path().join("stdout");
    let err = profile.path().join("stderr");
    let child = Command::new(chromium())
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            // let the page's script fetch the API and render before the dump
            "--virtual-time-budget=3000",
        ])
        .arg(format!(
            "--user-data-dir={}",
            profile.path().join("profile").display()
        ))
        .args(args)
        .stdin(Stdio::null())
        .stdout(fs::File::create(&out).expect("a file for stdout"))
        .stderr(fs::File::create(&err).expect("a file for stderr"))
        .spawn()
        .expect("start chromium");
    let output = finish(child, COMMAND_DEADLINE);
    let stderr = fs::read_to_string(&err).unwrap_or_default();
    assert_eq!(output.code, Some(0), "chromium failed\n{stderr}");
    fs::read_to_string(&out).unwrap_or_default()
}

/// The DOM of `url` after its script ran.
pub fn rendered_dom(url: &str) -> String {
    headless(&["--dump-dom".to_owned(), url.to_owned()])
}
