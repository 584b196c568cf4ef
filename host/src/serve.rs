//! `flow serve`: the status page, the JSON API, `/healthz` and `/metrics`
//! of one flow folder over HTTP (tiny_http, a few worker threads).
//!
//! Read-only by construction: the state database is opened read-only per
//! request, the run lock is only looked at through `/proc/locks` (never
//! locked), and nothing on disk is named by a request: jobs and items are
//! looked up in the configuration and the state, and logs are read only
//! from paths the state recorded inside `<flow>/.flow/logs/`. Every body
//! it sends has URL passwords hidden. Must not write anything.

mod graph;
mod metrics;
mod page;
mod routes;
mod text;

use std::borrow::Cow;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, PoisonError};

use serde::Serialize;

use crate::config::{Config, FlowDir};
use crate::error::Error;
use crate::layout::Layout;
use crate::lock::Lock;
use crate::state::{RunQuery, SCHEMA_VERSION, State};
use crate::status::{self, Report, RunView};
use routes::{Asset, Refusal, Route};

/// Requests handled at once: a slow client must not stall the page.
const WORKERS: usize = 4;
/// Log lines on an item's page.
const ITEM_LOG_LINES: usize = 200;
/// Runs listed on an item's page.
const ITEM_RUNS: u32 = 20;
/// The most of a log `/jobs/J/items/I/log` sends: its end.
const LOG_BYTES: usize = 2 << 20;

/// Serves `dir` on `addr` until the process is stopped.
pub(crate) fn serve(dir: FlowDir, addr: SocketAddr) -> Result<i32, Error> {
    let config = Config::load(dir.clone())?;
    let server = tiny_http::Server::http(addr).map_err(|error| Error::Usage {
        message: format!("cannot listen on {addr}: {error}"),
        hint: "choose another address with `--addr`, as in `--addr 127.0.0.1:8080`".into(),
    })?;
    let bound = server.server_addr().to_ip().unwrap_or(addr);
    eprintln!(
        "flow: serving {} on http://{bound}/ (read-only; Ctrl-C stops)",
        dir.shown.display()
    );
    if !bound.ip().is_loopback() {
        eprintln!(
            "flow: warning: {bound} is reachable from other machines; anyone who can reach it sees the status and the run logs"
        );
    }
    let site = Arc::new(Site {
        dir,
        config: Mutex::new(config),
    });
    let server = Arc::new(server);
    let workers: Vec<_> = (0..WORKERS)
        .map(|_| {
            let (server, site) = (Arc::clone(&server), Arc::clone(&site));
            std::thread::spawn(move || {
                while let Ok(request) = server.recv() {
                    site.answer(request);
                }
            })
        })
        .collect();
    for worker in workers {
        let _ = worker.join();
    }
    Ok(crate::error::exit::SUCCESS)
}

struct Site {
    dir: FlowDir,
    /// The last valid configuration: an invalid edit of `flow.yaml` keeps
    /// the page up, as it keeps `flow watch` running.
    config: Mutex<Config>,
}

/// A response before it is sent.
struct Reply {
    status: u16,
    kind: &'static str,
    body: Cow<'static, str>,
}

impl Reply {
    fn new(status: u16, kind: &'static str, body: impl Into<Cow<'static, str>>) -> Self {
        Self {
            status,
            kind,
            body: body.into(),
        }
    }

    fn text(status: u16, body: impl Into<Cow<'static, str>>) -> Self {
        Self::new(status, "text/plain; charset=utf-8", body)
    }

    fn html(body: String) -> Self {
        Self::new(200, "text/html; charset=utf-8", body)
    }

    fn json(body: String) -> Self {
        Self::new(200, "application/json", body)
    }

    fn not_found() -> Self {
        Self::text(404, "not found\n")
    }

    /// A failure of the host (the state database, mostly) as a response.
    fn failure(error: &Error) -> Self {
        let status = if matches!(error, Error::State { .. }) {
            503
        } else {
            500
        };
        Self::text(status, error.report())
    }
}

const SECURITY_HEADERS: [(&str, &str); 4] = [
    // the page loads only its own script and stylesheet; no inline script runs
    (
        "Content-Security-Policy",
        "default-src 'self'; img-src 'self' data:; object-src 'none'; base-uri 'none'; frame-ancestors 'none'",
    ),
    ("X-Content-Type-Options", "nosniff"),
    ("Referrer-Policy", "no-referrer"),
    ("Cache-Control", "no-store"),
];

impl Site {
    fn answer(&self, request: tiny_http::Request) {
        let reply = match routes::route(request.method().as_str(), request.url()) {
            Ok(route) => self
                .handle(route)
                .unwrap_or_else(|error| Reply::failure(&error)),
            Err(Refusal::NotFound) => Reply::not_found(),
            Err(Refusal::Method) => Reply::text(405, "flow serve only reads: use GET\n"),
            Err(Refusal::BadQuery(message)) => Reply::text(400, format!("{message}\n")),
        };
        let body = text::redact(&reply.body).into_owned();
        let mut response = tiny_http::Response::from_string(body).with_status_code(reply.status);
        for (name, value) in [("Content-Type", reply.kind)]
            .iter()
            .chain(&SECURITY_HEADERS)
        {
            if let Ok(header) = tiny_http::Header::from_bytes(name.as_bytes(), value.as_bytes()) {
                response.add_header(header);
            }
        }
        // a client that went away is its own business
        let _ = request.respond(response);
    }

    fn handle(&self, route: Route) -> Result<Reply, Error> {
        match route {
            Route::Page => {
                let config = self.config();
                Ok(Reply::html(page::index(&self.name(), &graph::svg(&config))))
            }
            Route::Asset(Asset::Style) => Ok(Reply::new(
                200,
                "text/css; charset=utf-8",
                include_str!("../assets/style.css"),
            )),
            Route::Asset(Asset::Script) => Ok(Reply::new(
                200,
                "text/javascript; charset=utf-8",
                include_str!("../assets/app.js"),
            )),
            Route::Status => Ok(Reply::json(status::render_json(
                &self.report(&self.config())?,
            ))),
            Route::Runs { job, limit } => self.runs(job.as_deref(), limit),
            Route::Health => Ok(self.health()),
            Route::Metrics => self.metrics(),
            Route::Item { job, item } => self.item(&job, &item),
            Route::ItemLog { job, item } => self.item_log(&job, &item),
        }
    }

    /// `flow.yaml` as it is now, or the last valid one.
    fn config(&self) -> Config {
        let mut last = self.config.lock().unwrap_or_else(PoisonError::into_inner);
        match Config::load(self.dir.clone()) {
            Ok(fresh) => *last = fresh,
            Err(error) => tracing::warn!(
                "flow.yaml is invalid; serving the last valid configuration\n{}",
                error.report()
            ),
        }
        last.clone()
    }

    /// The flow's name on the page: the folder as given, or its own name
    /// when it was given as `.` (served from inside it).
    fn name(&self) -> String {
        let shown = &self.dir.shown;
        let here = shown.as_os_str().is_empty() || shown == Path::new(".");
        match self.dir.path.file_name() {
            Some(name) if here => name.to_string_lossy().into_owned(),
            _ => shown.display().to_string(),
        }
    }

    fn layout(&self) -> Layout {
        Layout::new(&self.dir.path)
    }

    /// The state opened read-only; `None` before the first run made it,
    /// while that run is still creating its tables, and while a state of an
    /// older flow waits for the next run to upgrade it (serve never writes).
    fn state(&self) -> Result<Option<State>, Error> {
        let layout = self.layout();
        if !layout.state_db().is_file() {
            return Ok(None);
        }
        let state = State::open_read_only(&layout)?;
        Ok((state.schema_version()? >= SCHEMA_VERSION).then_some(state))
    }

    fn report(&self, config: &Config) -> Result<Report, Error> {
        let holder = Lock::holder(&self.layout());
        status::collect_from(config, self.state()?.as_ref(), holder)
    }

    fn runs(&self, job: Option<&str>, limit: u32) -> Result<Reply, Error> {
        #[derive(Serialize)]
        struct Entry {
            job: String,
            #[serde(flatten)]
            run: RunView,
        }
        #[derive(Serialize)]
        struct Runs {
            runs: Vec<Entry>,
        }
        let query = RunQuery {
            job,
            item: None,
            limit,
        };
        let runs = match self.state()? {
            Some(state) => state.recent_runs(&query)?,
            None => Vec::new(),
        };
        let runs = runs
            .iter()
            .map(|run| Entry {
                job: run.job.clone(),
                run: RunView::of(run),
            })
            .collect();
        let mut body = serde_json::to_string_pretty(&Runs { runs })
            .unwrap_or_else(|error| format!("{{\"error\": \"{error}\"}}"));
        body.push('\n');
        Ok(Reply::json(body))
    }

    /// 200 while the state database can be read, 503 with the reason.
    fn health(&self) -> Reply {
        let db = self.layout().state_db();
        if !db.is_file() {
            return Reply::text(
                503,
                format!(
                    "unhealthy: no state database at {} yet; the first `flow run` creates it\n",
                    db.display()
                ),
            );
        }
        match State::open_read_only(&self.layout()).and_then(|state| state.schema_version()) {
            Ok(version) => Reply::text(
                200,
                format!("ok: {} is readable (schema {version})\n", db.display()),
            ),
            Err(error) => Reply::text(503, format!("unhealthy: {}", error.report())),
        }
    }

    fn metrics(&self) -> Result<Reply, Error> {
        let report = self.report(&self.config())?;
        let history = match self.state()? {
            Some(state) => metrics::History {
                durations: state.duration_stats(&metrics::BUCKETS_MS)?,
                last_successes: state.last_successes()?,
            },
            None => metrics::History {
                durations: Vec::new(),
                last_successes: Vec::new(),
            },
        };
        Ok(Reply::new(
            200,
            "text/plain; version=0.0.4; charset=utf-8",
            metrics::render(&report, &history),
        ))
    }

    fn item(&self, job: &str, item: &str) -> Result<Reply, Error> {
        let config = self.config();
        let report = self.report(&config)?;
        let Some(found) = find_item(&report, job, item) else {
            return Ok(Reply::not_found());
        };
        let runs = match self.state()? {
            Some(state) => state.recent_runs(&RunQuery {
                job: Some(job),
                item: Some(item),
                limit: ITEM_RUNS,
            })?,
            None => Vec::new(),
        };
        let runs: Vec<RunView> = runs.iter().map(RunView::of).collect();
        let log = self
            .log_of(found)
            .map(|path| status::tail(&path, ITEM_LOG_LINES))
            .unwrap_or_default();
        Ok(Reply::html(page::item(&page::ItemPage {
            flow: &report.flow,
            job,
            item: found,
            runs: &runs,
            log: &log,
        })))
    }

    fn item_log(&self, job: &str, item: &str) -> Result<Reply, Error> {
        let report = self.report(&self.config())?;
        let Some(path) = find_item(&report, job, item).and_then(|found| self.log_of(found)) else {
            return Ok(Reply::not_found());
        };
        let Ok(bytes) = std::fs::read(&path) else {
            return Ok(Reply::not_found());
        };
        let start = bytes.len().saturating_sub(LOG_BYTES);
        Ok(Reply::text(
            200,
            String::from_utf8_lossy(&bytes[start..]).into_owned(),
        ))
    }

    /// The log of the item's last run, if the state recorded one inside
    /// `<flow>/.flow/logs/`: a path outside it is never read.
    fn log_of(&self, item: &status::ItemReport) -> Option<PathBuf> {
        let run = item.last_run.as_ref()?;
        let logs = self.layout().logs().canonicalize().ok()?;
        inside(Path::new(&run.log), &logs)
    }
}

/// `path`, resolved, when it lies inside the folder `root` (resolved).
fn inside(path: &Path, root: &Path) -> Option<PathBuf> {
    let resolved = path.canonicalize().ok()?;
    (resolved.starts_with(root) && resolved != root).then_some(resolved)
}

fn find_item<'a>(report: &'a Report, job: &str, item: &str) -> Option<&'a status::ItemReport> {
    report
        .jobs
        .iter()
        .find(|entry| entry.name == job)?
        .items
        .iter()
        .find(|entry| entry.item == item)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_log_outside_the_logs_folder_is_never_read() {
        let dir = tempfile::tempdir().expect("tempdir");
        let logs = dir.path().join("logs");
        std::fs::create_dir_all(&logs).expect("mkdir");
        std::fs::write(logs.join("1-a-x.log"), "x").expect("write");
        std::fs::write(dir.path().join("secret"), "s").expect("write");
        let root = logs.canonicalize().expect("canonical");
        assert!(inside(&logs.join("1-a-x.log"), &root).is_some());
        assert!(inside(&logs.join("../secret"), &root).is_none());
        assert!(inside(Path::new("/etc/passwd"), &root).is_none());
    }
}
