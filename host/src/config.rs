//! `flow.yaml` → raw serde structs → a validated [`Config`]: durations,
//! wildcards, duplicate names, unknown keys, executables and the job order.
//!
//! The only YAML reader. Every problem becomes a located [`Diagnostic`], and
//! validation keeps going so that `flow check` reports all of them at once.
//! Never touches the processing folders or the state.

mod hook;
mod locate;
mod slurm;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Deserialize;
use serde_yaml::Value;

use crate::diag::{ConfigError, Diagnostic, SourceFile, Span, did_you_mean};
use crate::error::Error;
use crate::pattern::{Pattern, PatternError, is_identifier};
use hook::Place;
pub(crate) use hook::{Hook, Hooks};
use locate::Locator;
use slurm::Owner;
pub(crate) use slurm::{ExecutorKind, SlurmOptions};

pub(crate) const FILE_NAME: &str = "flow.yaml";
const TOP_KEYS: [&str; 11] = [
    "settle",
    "retries",
    "timeout",
    "grace",
    "parallel",
    "keep",
    "on_error",
    "on_success",
    "executor",
    "slurm",
    "jobs",
];
const JOB_KEYS: [&str; 12] = [
    "name",
    "run",
    "source",
    "target",
    "inputs",
    "args",
    "timeout",
    "retries",
    "parallel",
    "on_error",
    "on_success",
    "executor",
];
/// Option names the host passes itself; an input or arg may not take them.
const RESERVED: [&str; 2] = ["input", "output"];

const DEFAULT_SETTLE: Duration = Duration::from_secs(2);
const DEFAULT_RETRIES: u32 = 3;
const DEFAULT_TIMEOUT: Duration = Duration::from_secs(60 * 60);
const DEFAULT_GRACE: Duration = Duration::from_secs(5);
const DEFAULT_KEEP: Duration = Duration::from_secs(30 * 24 * 60 * 60);
/// Jobs in flight at once when the flow runs on a cluster.
const DEFAULT_SLURM_PARALLEL: usize = 100;

/// The flow folder as the user named it (for messages) and as an absolute path.
#[derive(Debug, Clone)]
pub(crate) struct FlowDir {
    pub(crate) shown: PathBuf,
    pub(crate) path: PathBuf,
}

impl FlowDir {
    pub(crate) fn new(shown: PathBuf) -> Result<Self, Error> {
        // canonical where possible, so that FLOW_DIR and the paths handed to
        // jobs are the same whichever way the folder was named
        let path = std::fs::canonicalize(&shown)
            .or_else(|_| std::path::absolute(&shown))
            .map_err(|source| Error::Io {
                action: "resolve the flow folder",
                path: shown.clone(),
                source,
            })?;
        Ok(Self { shown, path })
    }

    /// `dir/file` as the user would write it, without a leading `./`.
    pub(crate) fn show(&self, file: &str) -> String {
        if self.shown.as_os_str().is_empty() || self.shown == Path::new(".") {
            file.to_owned()
        } else {
            self.shown.join(file).display().to_string()
        }
    }

    pub(crate) fn holds_flow(dir: &Path) -> bool {
        dir.join(FILE_NAME).is_file()
    }
}

/// A validated flow: settings and the jobs in the order they must run.
#[derive(Debug, Clone)]
pub(crate) struct Config {
    pub(crate) dir: FlowDir,
    pub(crate) settle: Duration,
    pub(crate) grace: Duration,
    pub(crate) parallel: usize,
    /// How long run records and their logs are kept; `None` keeps them all.
    pub(crate) keep: Option<Duration>,
    /// What `sbatch` is asked for, for the jobs run by Slurm.
    pub(crate) slurm: SlurmOptions,
    pub(crate) jobs: Vec<Job>,
}

#[derive(Debug, Clone)]
pub(crate) struct Job {
    pub(crate) name: String,
    pub(crate) program: PathBuf,
    pub(crate) source: Pattern,
    pub(crate) inputs: Vec<(String, Pattern)>,
    pub(crate) target: Pattern,
    pub(crate) args: Vec<(String, String)>,
    pub(crate) timeout: Duration,
    pub(crate) retries: u32,
    /// At most this many runs of this job at once, within the flow's `parallel`.
    pub(crate) parallel: Option<usize>,
    /// How many jobs feed this one, transitively, on its longest chain: 0
    /// for a job reading only what no job writes. Later stages run first.
    pub(crate) stage: usize,
    pub(crate) hooks: Hooks,
    pub(crate) executor: ExecutorKind,
}

#[derive(Deserialize)]
struct RawConfig {
    settle: Option<Value>,
    retries: Option<u32>,
    timeout: Option<Value>,
    grace: Option<Value>,
    parallel: Option<usize>,
    keep: Option<Value>,
    on_error: Option<Value>,
    on_success: Option<Value>,
    executor: Option<Value>,
    slurm: Option<Value>,
    #[serde(default)]
    jobs: Vec<RawJob>,
}

#[derive(Deserialize)]
struct RawJob {
    name: String,
    run: String,
    source: String,
    target: String,
    #[serde(default)]
    inputs: serde_yaml::Mapping,
    #[serde(default)]
    args: serde_yaml::Mapping,
    timeout: Option<Value>,
    retries: Option<u32>,
    parallel: Option<usize>,
    on_error: Option<Value>,
    on_success: Option<Value>,
    executor: Option<Value>,
}

/// How an executable named in `run:` is found; injected so tests need no PATH.
pub(crate) struct Finder {
    pub(crate) beside: Option<PathBuf>,
    pub(crate) path: Vec<PathBuf>,
}

impl Finder {
    pub(crate) fn from_env() -> Self {
        Self {
            beside: std::env::current_exe()
                .ok()
                .and_then(|exe| exe.parent().map(Path::to_path_buf)),
            path: std::env::var_os("PATH")
                .map(|path| std::env::split_paths(&path).collect())
                .unwrap_or_default(),
        }
    }

    fn find(&self, run: &str, flow_dir: &Path) -> Result<PathBuf, (String, String)> {
        if run.contains('/') {
            let candidate = flow_dir.join(run);
            return match executable(&candidate) {
                Some(true) => Ok(candidate),
                Some(false) => Err((
                    format!("`{run}` is not executable"),
                    format!("make it executable: `chmod +x {run}`"),
                )),
                None => Err((
                    format!("executable `{run}` does not exist"),
                    "a path in `run` is relative to the flow folder; check the name".into(),
                )),
            };
        }
        let places = self.beside.iter().chain(self.path.iter());
        for folder in places {
            let candidate = folder.join(run);
            if executable(&candidate) == Some(true) {
                return Ok(candidate);
            }
        }
        let hint = if run.contains(' ') {
            "`run` names one executable; put its options under `args`".to_owned()
        } else if flow_dir.join(run).is_file() {
            format!("`{run}` is in the flow folder; write `./{run}`")
        } else {
            format!(
                "put `{run}` beside the `flow` binary or on PATH, \
                 or give a path relative to the flow folder such as `./{run}`"
            )
        };
        Err((format!("executable `{run}` not found"), hint))
    }
}

/// `Some(is_executable)` for a file, `None` when there is no such file.
fn executable(path: &Path) -> Option<bool> {
    use std::os::unix::fs::PermissionsExt as _;
    let meta = std::fs::metadata(path).ok()?;
    Some(meta.is_file() && meta.permissions().mode() & 0o111 != 0)
}

impl Config {
    pub(crate) fn load(dir: FlowDir) -> Result<Self, Error> {
        let path = dir.path.join(FILE_NAME);
        let text = std::fs::read_to_string(&path).map_err(|source| Error::NoConfig {
            path: PathBuf::from(dir.show(FILE_NAME)),
            source,
        })?;
        let file = SourceFile {
            display: dir.show(FILE_NAME),
            text,
        };
        Self::parse(dir, file, &Finder::from_env()).map_err(Error::Config)
    }

    pub(crate) fn parse(
        dir: FlowDir,
        file: SourceFile,
        finder: &Finder,
    ) -> Result<Self, ConfigError> {
        let mut check = Checker {
            locate: Locator::new(&file.text),
            diagnostics: Vec::new(),
        };
        let result = check.config(dir, &file.text, finder);
        // in file order, as a reader fixes them; unlocated ones last
        check.diagnostics.sort_by_key(|diagnostic| {
            diagnostic
                .span
                .map_or((usize::MAX, 0), |span| (span.line, span.col))
        });
        match result {
            Some(config) if check.diagnostics.is_empty() => Ok(config),
            _ => Err(ConfigError {
                diagnostics: check.diagnostics,
                file,
            }),
        }
    }
}

/// What a job takes from the top level unless it says otherwise.
struct Defaults {
    timeout: Duration,
    retries: u32,
    hooks: Hooks,
    executor: ExecutorKind,
}

struct Checker<'a> {
    locate: Locator<'a>,
    diagnostics: Vec<Diagnostic>,
}

impl Checker<'_> {
    fn push(&mut self, diagnostic: Diagnostic) {
        self.diagnostics.push(diagnostic);
    }

    fn config(&mut self, dir: FlowDir, text: &str, finder: &Finder) -> Option<Config> {
        let raw: RawConfig = match serde_yaml::from_str(text) {
            Ok(raw) => raw,
            Err(error) => {
                self.push(syntax(&error));
                return None;
            }
        };
        // serde ignores unknown keys; a second, untyped read lists them
        if let Ok(Value::Mapping(top)) = serde_yaml::from_str::<Value>(text) {
            self.unknown_keys(&top);
        }
        let settle = self.duration(raw.settle.as_ref(), "settle", None, DEFAULT_SETTLE);
        let timeout = self.duration(raw.timeout.as_ref(), "timeout", None, DEFAULT_TIMEOUT);
        let grace = self.duration(raw.grace.as_ref(), "grace", None, DEFAULT_GRACE);
        let executor = self.executor(raw.executor.as_ref(), Owner::Top, ExecutorKind::Local);
        let slurm = self.slurm_options(raw.slurm.as_ref());
        let (retries, parallel) = self.counts(&raw, executor);
        let keep = self.duration(raw.keep.as_ref(), "keep", None, DEFAULT_KEEP);
        let defaults = Defaults {
            timeout,
            retries,
            executor,
            hooks: Hooks {
                on_error: self.hook(
                    raw.on_error.as_ref(),
                    "on_error",
                    Place::Top,
                    (&dir, finder),
                ),
                on_success: self.hook(
                    raw.on_success.as_ref(),
                    "on_success",
                    Place::Top,
                    (&dir, finder),
                ),
            },
        };
        let mut jobs = Vec::new();
        let mut first_line: BTreeMap<String, usize> = BTreeMap::new();
        for (n, raw_job) in raw.jobs.iter().enumerate() {
            if let Some(job) = self.job(n, raw_job, &dir, finder, &defaults) {
                if let Some(line) = first_line.get(&job.name) {
                    let span = self.locate.job_value(n, None, "name");
                    self.push(
                        Diagnostic::new(format!("job name `{}` is used twice", job.name), span)
                            .hint(format!("rename one of them; the first is on line {line}")),
                    );
                } else {
                    let line = self.locate.job(n).map_or(0, |span| span.line);
                    first_line.insert(job.name.clone(), line);
                }
                // a duplicate stays in, so that a cycle through it is reported too
                jobs.push((n, job));
            }
        }
        self.slurm_reachable(&raw, &jobs, finder);
        let jobs = self.order(jobs)?;
        Some(Config {
            dir,
            settle,
            grace,
            parallel,
            keep: (!keep.is_zero()).then_some(keep),
            slurm,
            jobs,
        })
    }

    /// When a job runs on Slurm, `sbatch` must be found; said once, at
    /// the first place that asks for it.
    fn slurm_reachable(&mut self, raw: &RawConfig, jobs: &[(usize, Job)], finder: &Finder) {
        let owner = if raw.executor.as_ref().and_then(Value::as_str) == Some("slurm") {
            Owner::Top
        } else if let Some((n, job)) = jobs
            .iter()
            .find(|(_, job)| job.executor == ExecutorKind::Slurm)
        {
            Owner::Job(*n, &job.name)
        } else {
            return;
        };
        self.sbatch_on_path(finder, owner);
    }

    /// The top level's `retries` and `parallel`, each at least 1; a flow
    /// on a cluster runs more at once by default.
    fn counts(&mut self, raw: &RawConfig, executor: ExecutorKind) -> (u32, usize) {
        let retries = raw.retries.unwrap_or(DEFAULT_RETRIES);
        if retries == 0 {
            let span = self.locate.top_value("retries");
            self.push(Diagnostic::new("`retries` must be at least 1", span).hint(
                "`retries` counts attempts, the first included: write `retries: 1` for no retry",
            ));
        }
        let parallel = raw.parallel.unwrap_or_else(|| match executor {
            ExecutorKind::Slurm => DEFAULT_SLURM_PARALLEL,
            ExecutorKind::Local => crate::threads::cpus(),
        });
        if parallel == 0 {
            let span = self.locate.top_value("parallel");
            self.push(Diagnostic::new("`parallel` must be at least 1", span).hint(
                "write the number of job runs at once, or leave it out for the number of CPUs",
            ));
        }
        (retries, parallel)
    }

    fn unknown_keys(&mut self, top: &serde_yaml::Mapping) {
        for key in top.keys().filter_map(Value::as_str) {
            if !TOP_KEYS.contains(&key) {
                let span = self.locate.top_key(key);
                self.push(unknown_key(key, "at the top level", &TOP_KEYS, span));
            }
        }
        let Some(Value::Sequence(jobs)) = top.get("jobs") else {
            return;
        };
        for (n, job) in jobs.iter().enumerate() {
            let Value::Mapping(job) = job else { continue };
            for key in job.keys().filter_map(Value::as_str) {
                if !JOB_KEYS.contains(&key) {
                    let span = self.locate.job_key(n, key);
                    self.push(unknown_key(key, "in a job", &JOB_KEYS, span));
                }
            }
        }
    }

    fn duration(
        &mut self,
        value: Option<&Value>,
        key: &str,
        job: Option<(usize, &str)>,
        default: Duration,
    ) -> Duration {
        let Some(value) = value else { return default };
        let text = match value {
            Value::String(text) => text.clone(),
            Value::Number(number) => number.to_string(),
            other => format!("{other:?}"),
        };
        match parse_duration(&text) {
            Ok(duration) => duration,
            Err(hint) => {
                let (span, owner) = match job {
                    Some((n, name)) => (
                        self.locate.job_value(n, None, key),
                        format!("job `{name}`: "),
                    ),
                    None => (self.locate.top_value(key), String::new()),
                };
                let message = format!("{owner}`{key}` is not a duration: `{text}`");
                self.push(Diagnostic::new(message, span).hint(hint));
                default
            }
        }
    }

    fn job(
        &mut self,
        n: usize,
        raw: &RawJob,
        dir: &FlowDir,
        finder: &Finder,
        defaults: &Defaults,
    ) -> Option<Job> {
        self.job_name(n, raw);
        let job_timeout = self.duration(
            raw.timeout.as_ref(),
            "timeout",
            Some((n, &raw.name)),
            defaults.timeout,
        );
        let hooks = self.job_hooks(n, raw, (dir, finder), &defaults.hooks);
        let source = self.pattern(n, None, "source", Pattern::parse(&raw.source));
        let target = source.as_ref().and_then(|source| {
            self.pattern(
                n,
                None,
                "target",
                Pattern::parse_target(&raw.target, source),
            )
        });
        let inputs = self.inputs(n, raw);
        let args = self.args(n, raw);
        if let Some(source) = &source {
            self.wildcards_defined(n, raw, source, target.as_ref(), &inputs);
        }
        let program = self.program(n, raw, dir, finder);
        let source = source?;
        let inputs = inputs
            .into_iter()
            .map(|(role, pattern)| (role, pattern.sharing_names_of(&source)))
            .collect();
        Some(Job {
            name: raw.name.clone(),
            // a missing executable is already reported; keep the job for the cycle check
            program: program.unwrap_or_default(),
            source,
            inputs,
            target: target?,
            args,
            timeout: job_timeout,
            retries: raw.retries.unwrap_or(defaults.retries),
            parallel: self.job_parallel(n, raw),
            stage: 0,
            hooks,
            executor: self.executor(
                raw.executor.as_ref(),
                Owner::Job(n, &raw.name),
                defaults.executor,
            ),
        })
    }

    /// The job's hooks: each its own where it has one, else the top level's.
    fn job_hooks(
        &mut self,
        n: usize,
        raw: &RawJob,
        context: (&FlowDir, &Finder),
        top: &Hooks,
    ) -> Hooks {
        let place = Place::Job(n, &raw.name);
        let on_error = self.hook(raw.on_error.as_ref(), "on_error", place, context);
        let on_success = self.hook(raw.on_success.as_ref(), "on_success", place, context);
        Hooks {
            on_error: on_error.or_else(|| top.on_error.clone()),
            on_success: on_success.or_else(|| top.on_success.clone()),
        }
    }

    fn job_name(&mut self, n: usize, raw: &RawJob) {
        let name_ok = !raw.name.is_empty()
            && raw
                .name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
        if !name_ok {
            let span = self.locate.job_value(n, None, "name");
            self.push(
                Diagnostic::new(format!("job name `{}` is not valid", raw.name), span)
                    .hint("use letters, digits, `-` and `_` only"),
            );
        }
    }

    fn inputs(&mut self, n: usize, raw: &RawJob) -> Vec<(String, Pattern)> {
        let mut inputs = Vec::new();
        for (key, value) in &raw.inputs {
            let (Some(name), Some(text)) = (key.as_str(), value.as_str()) else {
                let span = self.locate.job_value(n, None, "inputs");
                self.push(
                    Diagnostic::new(
                        format!("job `{}`: every input must be `name: path`", raw.name),
                        span,
                    )
                    .hint("write `inputs: { right: folder/{name}.{ext} }`"),
                );
                continue;
            };
            self.option_name(n, "inputs", name, &raw.name);
            if let Some(pattern) = self.pattern(n, Some("inputs"), name, Pattern::parse(text)) {
                inputs.push((name.to_owned(), pattern));
            }
        }
        inputs
    }

    /// Every wildcard of the target and the extra inputs must be one the
    /// source binds.
    fn wildcards_defined(
        &mut self,
        n: usize,
        raw: &RawJob,
        source: &Pattern,
        target: Option<&Pattern>,
        inputs: &[(String, Pattern)],
    ) {
        let mut defined: Vec<&str> = Vec::new();
        for wildcard in source.wildcards() {
            if !defined.contains(&wildcard) {
                defined.push(wildcard);
            }
        }
        let uses = target
            .map(|target| (None, "target", target))
            .into_iter()
            .chain(
                inputs
                    .iter()
                    .map(|(name, pattern)| (Some("inputs"), name.as_str(), pattern)),
            );
        for (parent, key, pattern) in uses {
            for wildcard in pattern.wildcards() {
                if !defined.contains(&wildcard) {
                    self.unknown_wildcard(n, &raw.name, parent, key, wildcard, &defined);
                }
            }
        }
    }

    fn program(
        &mut self,
        n: usize,
        raw: &RawJob,
        dir: &FlowDir,
        finder: &Finder,
    ) -> Option<PathBuf> {
        match finder.find(&raw.run, &dir.path) {
            Ok(program) => Some(program),
            Err((message, hint)) => {
                let span = self.locate.job_value(n, None, "run");
                self.push(
                    Diagnostic::new(format!("job `{}`: {message}", raw.name), span).hint(hint),
                );
                None
            }
        }
    }

    fn job_parallel(&mut self, n: usize, raw: &RawJob) -> Option<usize> {
        if raw.parallel == Some(0) {
            let span = self.locate.job_value(n, None, "parallel");
            self.push(
                Diagnostic::new(
                    format!("job `{}`: `parallel` must be at least 1", raw.name),
                    span,
                )
                .hint("write how many runs of this job may run at once, or leave it out"),
            );
        }
        raw.parallel
    }

    fn unknown_wildcard(
        &mut self,
        n: usize,
        job: &str,
        parent: Option<&str>,
        key: &str,
        wildcard: &str,
        defined: &[&str],
    ) {
        let token = format!("{{{wildcard}}}");
        let span = self
            .locate
            .job_value(n, parent, key)
            .map(|span| self.locate.narrow(span, &token));
        let listed: Vec<String> = defined.iter().map(|name| format!("{{{name}}}")).collect();
        let mut hint = if listed.is_empty() {
            "`source` is a folder and defines no wildcard; write `source` as a pattern such as `folder/{name}.{ext}`".to_owned()
        } else {
            format!("`source` defines {}", join_and(&listed))
        };
        if let Some(near) = did_you_mean(wildcard, defined.iter().copied()) {
            hint.push_str(&format!("; did you mean {{{near}}}?"));
        }
        self.push(
            Diagnostic::new(format!("job `{job}` uses unknown wildcard `{token}`"), span)
                .hint(hint),
        );
    }

    fn pattern(
        &mut self,
        n: usize,
        parent: Option<&str>,
        key: &str,
        parsed: Result<Pattern, PatternError>,
    ) -> Option<Pattern> {
        match parsed {
            Ok(pattern) => Some(pattern),
            Err(error) => {
                let span = self.locate.job_value(n, parent, key).map(|span| Span {
                    line: span.line,
                    col: span.col + error.offset,
                    len: error.len,
                });
                self.push(Diagnostic::new(error.message, span).hint(error.hint));
                None
            }
        }
    }

    fn option_name(&mut self, n: usize, parent: &str, name: &str, job: &str) {
        if !is_identifier(&name.replace('-', "_")) || RESERVED.contains(&name) {
            let span = self.locate.job_value(n, Some(parent), name);
            self.push(
                Diagnostic::new(
                    format!("job `{job}`: `{name}` cannot be an option name"),
                    span,
                )
                .hint(
                    "use letters, digits, `-` and `_`; `input` and `output` are passed by the host",
                ),
            );
        }
    }

    fn args(&mut self, n: usize, raw: &RawJob) -> Vec<(String, String)> {
        let mut args = Vec::new();
        for (key, value) in &raw.args {
            let Some(name) = key.as_str() else { continue };
            self.option_name(n, "args", name, &raw.name);
            let text = match value {
                Value::String(text) => text.clone(),
                Value::Number(number) => number.to_string(),
                Value::Bool(flag) => flag.to_string(),
                _ => {
                    let span = self.locate.job_value(n, Some("args"), name);
                    self.push(
                        Diagnostic::new(
                            format!("job `{}`: arg `{name}` must be a single value", raw.name),
                            span,
                        )
                        .hint("write a string, a number or true/false"),
                    );
                    continue;
                }
            };
            args.push((name.to_owned(), text));
        }
        args
    }

    /// Orders jobs so that a job runs after the jobs writing the folders it
    /// reads; a cycle is reported at each job on it.
    fn order(&mut self, jobs: Vec<(usize, Job)>) -> Option<Vec<Job>> {
        let links: Vec<Links> = jobs
            .iter()
            .map(|(_, job)| Links {
                reads: std::iter::once(&job.source)
                    .chain(job.inputs.iter().map(|(_, pattern)| pattern))
                    .map(Reach::of)
                    .collect(),
                writes: Reach::of(&job.target),
            })
            .collect();
        match order_jobs(&links) {
            Ok(order) => {
                let stages = stages(&links, &order);
                let mut slots: Vec<Option<Job>> =
                    jobs.into_iter().map(|(_, job)| Some(job)).collect();
                let ordered = order.into_iter().filter_map(|i| {
                    let mut job = slots[i].take()?;
                    job.stage = stages[i];
                    Some(job)
                });
                Some(ordered.collect())
            }
            Err(cycle) => {
                let names: Vec<String> = cycle
                    .iter()
                    .map(|&i| format!("`{}`", jobs[i].1.name))
                    .collect();
                let mut chain = names.clone();
                chain.push(names[0].clone());
                let first = cycle[0];
                let span = self.locate.job_value(jobs[first].0, None, "source");
                let message = if cycle.len() == 1 {
                    format!("job {} reads the folder it writes", names[0])
                } else {
                    format!(
                        "jobs form a cycle through their folders: {}",
                        chain.join(" -> ")
                    )
                };
                self.push(Diagnostic::new(message, span).hint(
                    "a job must not read, directly or through other jobs, the folder it writes: \
                     give one of them another `target` folder",
                ));
                None
            }
        }
    }
}

/// The paths a pattern can name: below `root`, exactly `depth` segments
/// deep counted from the flow folder.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Reach {
    pub(crate) root: String,
    pub(crate) depth: usize,
}

impl Reach {
    fn of(pattern: &Pattern) -> Self {
        let root_depth = pattern
            .root
            .split('/')
            .filter(|part| !part.is_empty())
            .count();
        Self {
            root: pattern.root.clone(),
            depth: root_depth + pattern.segments().len(),
        }
    }

    /// Whether a path could be named by both: as deep, and one root inside
    /// the other.
    fn overlaps(&self, other: &Self) -> bool {
        let inside = |inner: &str, outer: &str| {
            outer.is_empty()
                || inner == outer
                || inner
                    .strip_prefix(outer)
                    .is_some_and(|rest| rest.starts_with('/'))
        };
        self.depth == other.depth
            && (inside(&self.root, &other.root) || inside(&other.root, &self.root))
    }
}

/// What a job reads and what it writes.
#[derive(Debug, Clone)]
pub(crate) struct Links {
    pub(crate) reads: Vec<Reach>,
    pub(crate) writes: Reach,
}

impl Links {
    fn feeds(&self, reader: &Self) -> bool {
        reader.reads.iter().any(|read| read.overlaps(&self.writes))
    }
}

/// Each job's stage, by index: one more than the highest stage feeding it.
fn stages(links: &[Links], order: &[usize]) -> Vec<usize> {
    let mut stages = vec![0; links.len()];
    for (position, &job) in order.iter().enumerate() {
        stages[job] = order[..position]
            .iter()
            .filter(|&&feeder| links[feeder].feeds(&links[job]))
            .map(|&feeder| stages[feeder] + 1)
            .max()
            .unwrap_or(0);
    }
    stages
}

/// Topological order (stable: declaration order among ready jobs), or the
/// jobs of one cycle in the order they feed each other.
pub(crate) fn order_jobs(links: &[Links]) -> Result<Vec<usize>, Vec<usize>> {
    let feeds = |from: usize, to: usize| links[from].feeds(&links[to]);
    let mut done = vec![false; links.len()];
    let mut order = Vec::new();
    while order.len() < links.len() {
        let ready = (0..links.len())
            .find(|&j| !done[j] && (0..links.len()).all(|i| done[i] || !feeds(i, j)));
        match ready {
            Some(j) => {
                done[j] = true;
                order.push(j);
            }
            None => {
                // every remaining job has a remaining feeder: walk back to a cycle
                let mut path = vec![(0..links.len()).find(|&j| !done[j]).unwrap_or(0)];
                loop {
                    let current = path[path.len() - 1];
                    let feeder = (0..links.len())
                        .find(|&i| !done[i] && feeds(i, current))
                        .unwrap_or(current);
                    if let Some(at) = path.iter().position(|&p| p == feeder) {
                        let mut cycle: Vec<usize> = path[at..].to_vec();
                        cycle.reverse();
                        // start at the first declared job so the message is stable
                        let first = (0..cycle.len()).min_by_key(|&k| cycle[k]).unwrap_or(0);
                        cycle.rotate_left(first);
                        return Err(cycle);
                    }
                    path.push(feeder);
                }
            }
        }
    }
    Ok(order)
}

fn unknown_key(key: &str, place: &str, known: &[&str], span: Option<Span>) -> Diagnostic {
    let hint = match did_you_mean(key, known.iter().copied()) {
        Some(near) => format!("did you mean `{near}`?"),
        None => format!("the keys allowed {place} are {}", join_and(&quote(known))),
    };
    Diagnostic::new(format!("unknown key `{key}` {place}"), span).hint(hint)
}

fn syntax(error: &serde_yaml::Error) -> Diagnostic {
    let mut message = error.to_string();
    if let Some(at) = message.find(" at line ") {
        message.truncate(at);
    }
    let span = error.location().map(|location| Span {
        line: location.line(),
        col: location.column(),
        len: 1,
    });
    let hint = if message.contains("missing field") {
        "add the missing key; every job needs `name`, `run`, `source` and `target`"
    } else if message.contains("invalid type") {
        "give this key the kind of value named after `expected`"
    } else if message.contains("expected ',' or '}'") {
        // `{name}` reads as a nested mapping inside `{ ... }`
        "inside `{ }` a pattern with wildcards must be quoted, as in `{ right: \"in/{name}.{ext}\" }`"
    } else {
        "check the indentation and the `key: value` layout at this place"
    };
    Diagnostic::new(message, span).hint(hint)
}

/// Parses `2s`, `10m`, `1h 30m`; a bare `0` is zero.
pub(crate) fn parse_duration(text: &str) -> Result<Duration, String> {
    let text = text.trim();
    if text == "0" {
        return Ok(Duration::ZERO);
    }
    if let Ok(number) = text.parse::<f64>() {
        return Err(format!(
            "add a unit: `{number}s`, `{number}m` or `{number}h`"
        ));
    }
    humantime::parse_duration(text)
        .map_err(|_| "write a number and a unit, such as `2s`, `10m` or `1h 30m`".to_owned())
}

fn quote(words: &[&str]) -> Vec<String> {
    words.iter().map(|word| format!("`{word}`")).collect()
}

fn join_and(words: &[String]) -> String {
    match words {
        [] => String::new(),
        [one] => one.clone(),
        [rest @ .., last] => format!("{} and {last}", rest.join(", ")),
    }
}

/// `text` as the `flow.yaml` of the folder `path`, with executables looked
/// up in `/bin` and `/usr/bin` only: what the unit tests parse.
#[cfg(test)]
pub(crate) fn parse_text(path: &Path, text: &str) -> Result<Config, ConfigError> {
    let dir = FlowDir {
        shown: PathBuf::from("."),
        path: path.to_path_buf(),
    };
    let file = SourceFile {
        display: FILE_NAME.into(),
        text: text.into(),
    };
    let finder = Finder {
        beside: None,
        path: vec!["/bin".into(), "/usr/bin".into()],
    };
    Config::parse(dir, file, &finder)
}

#[cfg(test)]
mod tests;
