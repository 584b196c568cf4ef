//! The command line: clap definitions, flow-folder resolution, and dispatch
//! of each verb to the module that does it. The only place that prints a
//! command's result and chooses the exit code.

use std::path::PathBuf;
use std::time::Duration;

use clap::{Parser, Subcommand};

use crate::config::{Config, FlowDir};
use crate::error::{Error, exit};
use crate::exec::LocalExecutor;
use crate::items;
use crate::layout::Layout;
use crate::plan::{self, Known};
use crate::run::{Carry, Summary, run_pass};
use crate::scan::nanos_since_epoch;
use crate::signals::Shutdown;
use crate::state::State;
use crate::status;

#[derive(Debug, Parser)]
#[command(
    name = "flow",
    version,
    about = "Runs jobs on the files that appear in folders"
)]
pub(crate) struct Cli {
    /// Use DIR as the flow folder (before any command, as in make and git).
    #[arg(short = 'C', global = true, value_name = "DIR")]
    directory: Option<PathBuf>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// One pass: scan, run what is needed in dependency order, exit.
    Run { dir: Option<PathBuf> },
    /// The same as `run`, resident: a pass as soon as a file settles.
    Watch {
        dir: Option<PathBuf>,
        /// Time between full rescans, which catch what events miss.
        #[arg(long, default_value = "60s", value_parser = parse_interval)]
        interval: Duration,
        /// No file-system events: a pass every interval only.
        #[arg(long)]
        poll: bool,
    },
    /// Every job and item with its status and last run.
    Status {
        dir: Option<PathBuf>,
        /// The same model as JSON (see docs/status-json.md).
        #[arg(long)]
        json: bool,
    },
    /// What `run` would do now, without doing it.
    Plan { dir: Option<PathBuf> },
    /// Validate the configuration and the executables; report every error.
    Check { dir: Option<PathBuf> },
    /// Re-arm items that ended in error: `[FLOW_DIR] JOB [ITEM]...`.
    Retry {
        #[arg(required = true, num_args = 1.., value_name = "[FLOW_DIR] JOB [ITEM]")]
        words: Vec<String>,
    },
    /// Run items again though their targets exist, and what follows from
    /// them: `[FLOW_DIR] JOB ITEM...`, `[FLOW_DIR] JOB --all` or `[FLOW_DIR] --all`.
    Rerun {
        #[arg(value_name = "[FLOW_DIR] JOB [ITEM]")]
        words: Vec<String>,
        /// Every item of JOB, or of every job when no job is named.
        #[arg(long)]
        all: bool,
    },
    /// Print the log of an item's last run: `[FLOW_DIR] JOB ITEM`.
    Logs {
        #[arg(required = true, num_args = 2..=3, value_name = "[FLOW_DIR] JOB ITEM")]
        words: Vec<String>,
    },
    /// Status page, JSON API and metrics over HTTP, read-only (see docs/serve.md).
    Serve {
        dir: Option<PathBuf>,
        /// Address to listen on; loopback unless told otherwise.
        #[arg(long, default_value = "127.0.0.1:8000")]
        addr: std::net::SocketAddr,
    },
    /// A new flow folder: commented flow.yaml, its folders, sample inputs.
    Init { dir: PathBuf },
}

fn parse_interval(text: &str) -> Result<Duration, String> {
    crate::config::parse_duration(text)
}

/// Parses the command line, runs it, and returns the exit code.
pub fn main() -> i32 {
    let cli = Cli::parse();
    init_tracing();
    match cli.execute() {
        Ok(code) => code,
        Err(error) => {
            eprint!("{}", error.report());
            error.exit_code()
        }
    }
}

fn init_tracing() {
    let mut filter = tracing_subscriber::EnvFilter::try_from_env("FLOW_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    // object_store tells of every retry at info; the host reports the end
    let asked_for_it = std::env::var("FLOW_LOG").is_ok_and(|text| text.contains("object_store"));
    if let (false, Ok(quiet)) = (asked_for_it, "object_store=warn".parse()) {
        filter = filter.add_directive(quiet);
    }
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .with_env_filter(filter)
        .with_target(false)
        .init();
}

impl Cli {
    fn execute(self) -> Result<i32, Error> {
        let base = self.directory.clone();
        match self.command {
            Command::Run { dir } => {
                let shutdown = Shutdown::install();
                let config = Config::load(flow_dir(base, dir)?)?;
                let mut carry = Carry::default();
                let summary = run_pass(&config, &LocalExecutor, &shutdown, &mut carry)?;
                carry.exit();
                Ok(report_pass(&config, &summary, &shutdown))
            }
            Command::Watch {
                dir,
                interval,
                poll,
            } => {
                let shutdown = Shutdown::install();
                let options = crate::watch::Options {
                    interval,
                    events: !poll,
                };
                crate::watch::watch(flow_dir(base, dir)?, options, &LocalExecutor, &shutdown)
            }
            Command::Status { dir, json } => {
                let config = Config::load(flow_dir(base, dir)?)?;
                let report = status::collect(&config)?;
                if json {
                    emit(status::render_json(&report));
                } else {
                    emit(status::render_text(&report));
                }
                Ok(exit::SUCCESS)
            }
            Command::Plan { dir } => {
                let config = Config::load(flow_dir(base, dir)?)?;
                let state = State::open(&Layout::new(&config.dir.path))?;
                let known = Known::new(state.items()?);
                let mut scan = plan::new_scan(&config);
                let now = nanos_since_epoch(std::time::SystemTime::now());
                let plan = plan::plan(
                    &config,
                    &mut scan,
                    &known,
                    now,
                    &Default::default(),
                    plan::Scope::Everything,
                    plan::Keep::Every,
                );
                scan.report_failures();
                emit(plan::render(&config, &plan));
                Ok(exit::SUCCESS)
            }
            Command::Check { dir } => {
                let config = Config::load(flow_dir(base, dir)?)?;
                let order: Vec<&str> = config.jobs.iter().map(|job| job.name.as_str()).collect();
                emit(format!(
                    "{}: {} jobs, run in this order: {}; every executable found\n",
                    config.dir.show(crate::config::FILE_NAME),
                    order.len(),
                    order.join(" -> ")
                ));
                Ok(exit::SUCCESS)
            }
            Command::Retry { words } => {
                let (dir, rest) = split_flow_dir(base, &words, 1)?;
                emit(rearmed_text(&items::retry(&Config::load(dir)?, rest)?));
                Ok(exit::SUCCESS)
            }
            Command::Rerun { words, all } => {
                let needed = if all { 0 } else { 2 };
                let (dir, rest) = split_flow_dir(base, &words, needed)?;
                emit(marked_text(&items::rerun(&Config::load(dir)?, rest, all)?));
                Ok(exit::SUCCESS)
            }
            Command::Logs { words } => {
                let (dir, rest) = split_flow_dir(base, &words, 2)?;
                emit(items::logs(&Config::load(dir)?, rest)?);
                Ok(exit::SUCCESS)
            }
            Command::Serve { dir, addr } => crate::serve::serve(flow_dir(base, dir)?, addr),
            Command::Init { dir } => {
                let dir = base.map_or_else(|| dir.clone(), |base| base.join(&dir));
                emit(crate::init::init(&dir)?);
                Ok(exit::SUCCESS)
            }
        }
    }
}

fn rearmed_text(rearmed: &items::Rearmed) -> String {
    if rearmed.items.is_empty() {
        format!(
            "nothing to re-arm: no item of `{}` is in error\n",
            rearmed.job
        )
    } else {
        format!(
            "re-armed {} item(s) of `{}`: {}; the next `flow run` runs them\n",
            rearmed.items.len(),
            rearmed.job,
            rearmed.items.join(", ")
        )
    }
}

fn marked_text(marked: &items::Marked) -> String {
    let mut text = String::new();
    for (job, items) in marked {
        if items.is_empty() {
            text.push_str(&format!(
                "`{job}` has no item that ran yet; nothing to rerun\n"
            ));
        } else {
            text.push_str(&format!(
                "marked {} item(s) of `{job}` to run again: {}\n",
                items.len(),
                items.join(", ")
            ));
        }
    }
    text.push_str(
        "the next `flow run` runs them, then what follows from them; each target stays until its new one is made\n",
    );
    text
}

/// Writes to stdout; a reader that went away (`flow status | head`) is not
/// an error worth a panic.
fn emit(text: impl AsRef<[u8]>) {
    use std::io::Write as _;
    let _ = std::io::stdout().lock().write_all(text.as_ref());
}

/// Positional folder, else `-C`, else `$FLOW_DIR`, else the current folder.
/// A positional folder is relative to `-C` when both are given.
fn flow_dir(base: Option<PathBuf>, dir: Option<PathBuf>) -> Result<FlowDir, Error> {
    let shown = match (base, dir) {
        (Some(base), Some(dir)) => base.join(dir),
        (None, Some(dir)) | (Some(dir), None) => dir,
        (None, None) => {
            std::env::var_os("FLOW_DIR").map_or_else(|| PathBuf::from("."), PathBuf::from)
        }
    };
    FlowDir::new(shown)
}

/// For `retry` and `logs`: a first word naming a folder with `flow.yaml`
/// is the flow folder, when enough words remain after it.
fn split_flow_dir(
    base: Option<PathBuf>,
    words: &[String],
    needed: usize,
) -> Result<(FlowDir, &[String]), Error> {
    if let Some((first, rest)) = words.split_first() {
        let candidate = base
            .as_deref()
            .map_or_else(|| PathBuf::from(first), |base| base.join(first));
        if rest.len() >= needed && FlowDir::holds_flow(&candidate) {
            return Ok((FlowDir::new(candidate)?, rest));
        }
    }
    Ok((flow_dir(base, None)?, words))
}

fn report_pass(config: &Config, summary: &Summary, shutdown: &Shutdown) -> i32 {
    if let Some(pid) = summary.lock_held {
        let holder = pid.map_or_else(String::new, |pid| format!(" (pid {pid})"));
        eprintln!(
            "flow: another run{holder} holds the lock on {}; nothing to do",
            config.dir.shown.display()
        );
        return exit::SUCCESS;
    }
    summary.log();
    if summary.gave_up > 0 {
        tracing::debug!(
            items = summary.gave_up,
            "items stay in error after using up their attempts; see `flow status`, then `flow retry`"
        );
    }
    if let Some(signal) = shutdown.signal() {
        return exit::SIGNAL_BASE + signal as i32;
    }
    if summary.failed > 0 || summary.unreachable > 0 {
        exit::ITEMS_FAILED
    } else {
        exit::SUCCESS
    }
}
