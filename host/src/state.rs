//! The state database `<flow>/.flow/state.db`: runs, attempts, exit codes,
//! durations, input fingerprints and log paths. All SQL lives here, behind
//! typed functions, and the schema moves forward by numbered migrations.
//!
//! Knows nothing of processes or folders; callers hand it plain values.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Arc;

use rusqlite::types::{FromSql, FromSqlError, FromSqlResult, ToSql, ToSqlOutput, ValueRef};
use rusqlite::{Connection, OptionalExtension as _, Row, params};

use crate::config::ExecutorKind;
use crate::error::Error;
use crate::layout::Layout;
pub(crate) use crate::outcome::Outcome;

/// The schema version this build writes: the number of [`MIGRATIONS`].
pub(crate) const SCHEMA_VERSION: i64 = MIGRATIONS.len() as i64;

/// Applied in order; `PRAGMA user_version` counts how many have run.
const MIGRATIONS: [&str; 5] = [
    "
    CREATE TABLE runs (
        id           INTEGER PRIMARY KEY,
        job          TEXT NOT NULL,
        item         TEXT NOT NULL,
        attempt      INTEGER NOT NULL,
        started_at   TEXT NOT NULL,
        ended_at     TEXT,
        duration_ms  INTEGER,
        outcome      TEXT NOT NULL,
        exit_code    INTEGER,
        signal       INTEGER,
        inputs       TEXT NOT NULL,
        log          TEXT NOT NULL,
        staging      TEXT NOT NULL,
        pid          INTEGER
    );
    CREATE INDEX runs_item ON runs (job, item, id);
    CREATE TABLE items (
        job          TEXT NOT NULL,
        item         TEXT NOT NULL,
        status       TEXT NOT NULL,
        attempts     INTEGER NOT NULL,
        inputs       TEXT NOT NULL,
        last_run     INTEGER NOT NULL REFERENCES runs (id),
        target       TEXT NOT NULL,
        target_size  INTEGER,
        target_mtime INTEGER,
        PRIMARY KEY (job, item)
    );
",
    // every pass looks for runs a dead host left `running`; without this
    // index that look reads the whole history, which only grows
    "CREATE INDEX runs_running ON runs (id) WHERE outcome = 'running';",
    // recovery finds a dead host's processes by their FLOW_RUN_ID, never by
    // a pid the kernel may have handed to another process since
    "ALTER TABLE runs DROP COLUMN pid;",
    // `flow rerun` marks items; a hook that failed is shown with its run;
    // retention looks runs up by their end
    "
    ALTER TABLE items ADD COLUMN rerun INTEGER NOT NULL DEFAULT 0;
    ALTER TABLE runs ADD COLUMN hook_error TEXT;
    CREATE INDEX runs_ended ON runs (ended_at);
",
    // a run submitted to Slurm: where it runs, the cluster's job id (NULL
    // while `sbatch` is being called) and the state Slurm last reported,
    // so that a later pass adopts the job instead of running it again
    "
    ALTER TABLE runs ADD COLUMN executor TEXT NOT NULL DEFAULT 'local';
    ALTER TABLE runs ADD COLUMN slurm_job_id TEXT;
    ALTER TABLE runs ADD COLUMN slurm_state TEXT;
",
];

/// `runs.slurm_state` of a run recorded before `sbatch` is called.
pub(crate) const SUBMITTING: &str = "SUBMITTING";

/// `items.status` of an item `flow retry` re-armed.
const REARMED: &str = "retry";

/// Outcomes are stored by name; a name no version wrote is an error, never
/// taken for some other outcome.
impl ToSql for Outcome {
    fn to_sql(&self) -> rusqlite::Result<ToSqlOutput<'_>> {
        Ok(ToSqlOutput::from(self.as_str()))
    }
}

impl FromSql for Outcome {
    fn column_result(value: ValueRef<'_>) -> FromSqlResult<Self> {
        let text = value.as_str()?;
        Self::from_name(text).ok_or_else(|| unknown_text(text))
    }
}

impl ToSql for ExecutorKind {
    fn to_sql(&self) -> rusqlite::Result<ToSqlOutput<'_>> {
        Ok(ToSqlOutput::from(self.as_str()))
    }
}

impl FromSql for ExecutorKind {
    fn column_result(value: ValueRef<'_>) -> FromSqlResult<Self> {
        let text = value.as_str()?;
        Self::from_name(text).ok_or_else(|| unknown_text(text))
    }
}

fn unknown_text(text: &str) -> FromSqlError {
    FromSqlError::Other(format!("unknown status `{text}` in the state database").into())
}

/// An item's stored status: its last run's outcome, or re-armed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum ItemStatus {
    Ran(Outcome),
    Rearmed,
}

impl ToSql for ItemStatus {
    fn to_sql(&self) -> rusqlite::Result<ToSqlOutput<'_>> {
        Ok(ToSqlOutput::from(match self {
            Self::Ran(outcome) => outcome.as_str(),
            Self::Rearmed => REARMED,
        }))
    }
}

impl FromSql for ItemStatus {
    fn column_result(value: ValueRef<'_>) -> FromSqlResult<Self> {
        match value.as_str()? {
            REARMED => Ok(Self::Rearmed),
            text => Outcome::from_name(text)
                .map(Self::Ran)
                .ok_or_else(|| unknown_text(text)),
        }
    }
}

/// The state of an item as its last run left it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ItemRecord {
    /// Shared by the records of one job read together: a flow has a few
    /// jobs and may have a million items.
    pub(crate) job: Arc<str>,
    pub(crate) item: String,
    pub(crate) outcome: Outcome,
    /// Attempts that count against `retries` since the inputs last changed.
    pub(crate) attempts: u32,
    pub(crate) inputs: String,
    pub(crate) last_run: i64,
    pub(crate) target: String,
    /// Size and mtime of the target this host promoted, if it did.
    pub(crate) produced: Option<(u64, i64)>,
    /// Set by `flow retry`: run again even though attempts are used up.
    pub(crate) rearmed: bool,
    /// Set by `flow rerun`: run again though the target is up to date,
    /// until a run succeeds.
    pub(crate) rerun: bool,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct RunRecord {
    pub(crate) id: i64,
    pub(crate) job: String,
    pub(crate) item: String,
    pub(crate) attempt: u32,
    pub(crate) started_at: String,
    pub(crate) ended_at: Option<String>,
    pub(crate) duration_ms: Option<u64>,
    pub(crate) outcome: Outcome,
    pub(crate) exit_code: Option<i32>,
    pub(crate) signal: Option<i32>,
    pub(crate) log: PathBuf,
    pub(crate) staging: PathBuf,
    /// What went wrong with the hook run after this run, if anything.
    pub(crate) hook_error: Option<String>,
    /// Where it ran, and for a Slurm run its job.
    pub(crate) executor: ExecutorKind,
    pub(crate) cluster: Option<ClusterJob>,
}

/// A run's job on the cluster, as last recorded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ClusterJob {
    /// `None` while it is being submitted.
    pub(crate) job_id: Option<String>,
    /// Slurm's state (`PENDING`, `RUNNING`, `COMPLETED`...) or [`SUBMITTING`].
    pub(crate) state: String,
}

/// What a new run starts with.
pub(crate) struct NewRun<'a> {
    pub(crate) job: &'a str,
    pub(crate) item: &'a str,
    pub(crate) attempt: u32,
    pub(crate) started_at: &'a str,
    pub(crate) inputs: &'a str,
    pub(crate) target: &'a str,
}

/// Where a run's output goes while it runs, and its log.
pub(crate) struct RunPaths {
    pub(crate) log: PathBuf,
    pub(crate) staging: PathBuf,
}

/// What a finished run ends with.
pub(crate) struct RunEnd<'a> {
    pub(crate) outcome: Outcome,
    pub(crate) ended_at: &'a str,
    pub(crate) duration_ms: u64,
    pub(crate) exit_code: Option<i32>,
    pub(crate) signal: Option<i32>,
    /// Size and mtime of the promoted target, on success.
    pub(crate) produced: Option<(u64, i64)>,
}

pub(crate) struct State {
    conn: Connection,
    path: PathBuf,
}

const RUN_COLUMNS: &str = "id, job, item, attempt, started_at, ended_at, duration_ms, outcome, \
     exit_code, signal, log, staging, hook_error, executor, slurm_job_id, slurm_state";
const ITEM_COLUMNS: &str =
    "job, item, status, attempts, inputs, last_run, target, target_size, target_mtime, rerun";

/// How long opening the state waits for other processes that hold it.
const OPEN_PATIENCE: std::time::Duration = std::time::Duration::from_secs(10);

impl State {
    /// Opens (creating and migrating) the database in the `.flow` folder.
    pub(crate) fn open(layout: &Layout) -> Result<Self, Error> {
        let dot_flow = layout.dot_flow();
        std::fs::create_dir_all(dot_flow).map_err(|source| Error::Io {
            action: "create",
            path: dot_flow.to_path_buf(),
            source,
        })?;
        let path = layout.state_db();
        let conn = Connection::open(&path).map_err(|source| Error::State {
            path: path.clone(),
            source,
        })?;
        let state = Self { conn, path };
        state
            .setup_when_free()
            .map_err(|source| state.error(source))?;
        Ok(state)
    }

    /// [`State::setup`], tried again while another process holds the
    /// database: two processes opening a new state at once (`flow status`
    /// beside the first `flow run`) both switch it to WAL, and SQLite
    /// answers one of them "database is locked" at once, without waiting,
    /// where waiting could deadlock.
    fn setup_when_free(&self) -> rusqlite::Result<()> {
        let until = std::time::Instant::now() + OPEN_PATIENCE;
        loop {
            match self.setup() {
                Err(error)
                    if error.sqlite_error_code() == Some(rusqlite::ErrorCode::DatabaseBusy)
                        && std::time::Instant::now() < until =>
                {
                    std::thread::sleep(std::time::Duration::from_millis(20));
                }
                done => return done,
            }
        }
    }

    fn setup(&self) -> rusqlite::Result<()> {
        // concurrent readers (`flow status`) must not block a run, and a
        // writer waits for another instead of failing at once
        self.conn.busy_timeout(std::time::Duration::from_secs(10))?;
        self.conn.pragma_update(None, "journal_mode", "WAL")?;
        // in WAL mode, NORMAL syncs at checkpoints, not at every commit: a
        // crash of `flow` loses nothing, a power loss at most the last runs'
        // records, whose items then run again or are adopted by their targets
        self.conn.pragma_update(None, "synchronous", "NORMAL")?;
        let version: i64 = self
            .conn
            .pragma_query_value(None, "user_version", |row| row.get(0))?;
        let done = usize::try_from(version).unwrap_or(0);
        if done >= MIGRATIONS.len() {
            return Ok(());
        }
        // one transaction for all of them: a reader beside the first run
        // (`flow serve`) sees no tables or the whole schema, never a part;
        // taken for writing at once, and the version read again inside it,
        // so that a second process opening a new state (`flow status`
        // beside the first `flow run`) waits and finds the work done
        let tx = rusqlite::Transaction::new_unchecked(
            &self.conn,
            rusqlite::TransactionBehavior::Immediate,
        )?;
        let version: i64 = tx.pragma_query_value(None, "user_version", |row| row.get(0))?;
        let done = usize::try_from(version).unwrap_or(0);
        if done >= MIGRATIONS.len() {
            return Ok(());
        }
        for migration in &MIGRATIONS[done..] {
            tx.execute_batch(migration)?;
        }
        tx.pragma_update(None, "user_version", SCHEMA_VERSION)?;
        tx.commit()
    }

    fn error(&self, source: rusqlite::Error) -> Error {
        Error::State {
            path: self.path.clone(),
            source,
        }
    }

    /// Records a run as started and the item as running, in one commit with
    /// the log and staging paths that `paths` makes of the new run's id;
    /// returns the id and those paths.
    pub(crate) fn begin_run(
        &self,
        run: &NewRun<'_>,
        paths: impl FnOnce(i64) -> RunPaths,
    ) -> Result<(i64, RunPaths), Error> {
        let result = (|| {
            let tx = self.conn.unchecked_transaction()?;
            tx.prepare_cached(
                "INSERT INTO runs (job, item, attempt, started_at, outcome, inputs, log, staging)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, '', '')",
            )?
            .execute(params![
                run.job,
                run.item,
                run.attempt,
                run.started_at,
                Outcome::Running,
                run.inputs
            ])?;
            let id = tx.last_insert_rowid();
            let paths = paths(id);
            tx.prepare_cached("UPDATE runs SET log = ?2, staging = ?3 WHERE id = ?1")?
                .execute(params![
                    id,
                    paths.log.to_string_lossy(),
                    paths.staging.to_string_lossy()
                ])?;
            tx.prepare_cached(
                "INSERT INTO items (job, item, status, attempts, inputs, last_run, target)
                 VALUES (?1, ?2, ?7, ?3, ?4, ?5, ?6)
                 ON CONFLICT (job, item) DO UPDATE SET status = ?7, attempts = ?3,
                     inputs = ?4, last_run = ?5, target = ?6",
            )?
            .execute(params![
                run.job,
                run.item,
                run.attempt,
                run.inputs,
                id,
                run.target,
                ItemStatus::Ran(Outcome::Running)
            ])?;
            tx.commit()?;
            Ok((id, paths))
        })();
        result.map_err(|source| self.error(source))
    }

    /// Records that run `id` runs on Slurm: its job id once known, and the
    /// state Slurm reported (or [`SUBMITTING`] before `sbatch` is called).
    pub(crate) fn set_cluster(&self, id: i64, job: &ClusterJob) -> Result<(), Error> {
        self.conn
            .prepare_cached(
                "UPDATE runs SET executor = ?2, slurm_job_id = ?3, slurm_state = ?4 WHERE id = ?1",
            )
            .and_then(|mut statement| {
                statement.execute(params![id, ExecutorKind::Slurm, job.job_id, job.state])
            })
            .map(drop)
            .map_err(|source| self.error(source))
    }

    pub(crate) fn finish_run(&self, id: i64, end: &RunEnd<'_>) -> Result<(), Error> {
        let result = (|| {
            let tx = self.conn.unchecked_transaction()?;
            tx.prepare_cached(
                "UPDATE runs SET outcome = ?2, ended_at = ?3, duration_ms = ?4, exit_code = ?5,
                     signal = ?6 WHERE id = ?1",
            )?
            .execute(params![
                id,
                end.outcome,
                end.ended_at,
                to_sql_int(end.duration_ms),
                end.exit_code,
                end.signal
            ])?;
            let (size, mtime) = end
                .produced
                .map(|(size, mtime)| (to_sql_int(size), mtime))
                .unzip();
            let uncounted = i32::from(!end.outcome.counts_as_attempt());
            // the item is found by its key through the run (an index lookup);
            // `last_run` alone would scan every item at every run's end
            tx.prepare_cached(
                "UPDATE items SET status = ?2, target_size = ?3, target_mtime = ?4,
                     attempts = MAX(attempts - ?5, 0), rerun = rerun AND ?6 = 0
                 WHERE job = (SELECT job FROM runs WHERE id = ?1)
                     AND item = (SELECT item FROM runs WHERE id = ?1) AND last_run = ?1",
            )?
            .execute(params![
                id,
                ItemStatus::Ran(end.outcome),
                size,
                mtime,
                uncounted,
                end.outcome == Outcome::Success
            ])?;
            tx.commit()
        })();
        result.map_err(|source| self.error(source))
    }

    /// Runs still marked running; called with the lock held, so none is live.
    pub(crate) fn running_runs(&self) -> Result<Vec<RunRecord>, Error> {
        // spelled out, not bound: only a literal lets SQLite use the partial
        // index `runs_running`
        self.runs_where("outcome = 'running'", [])
    }

    pub(crate) fn item(&self, job: &str, item: &str) -> Result<Option<ItemRecord>, Error> {
        self.conn
            .query_row(
                &format!("SELECT {ITEM_COLUMNS} FROM items WHERE job = ?1 AND item = ?2"),
                params![job, item],
                |row| item_record(row, &mut Jobs::default()),
            )
            .optional()
            .map_err(|source| self.error(source))
    }

    /// Every item.
    pub(crate) fn items(&self) -> Result<Vec<ItemRecord>, Error> {
        let result = (|| -> rusqlite::Result<Vec<ItemRecord>> {
            let mut statement = self
                .conn
                .prepare(&format!("SELECT {ITEM_COLUMNS} FROM items"))?;
            let mut jobs = Jobs::default();
            let rows = statement.query_map([], |row| item_record(row, &mut jobs))?;
            rows.collect()
        })();
        result.map_err(|source| self.error(source))
    }

    pub(crate) fn run(&self, id: i64) -> Result<Option<RunRecord>, Error> {
        Ok(self.runs_where("id = ?1", [id])?.pop())
    }

    /// The last run of every job, keyed by job name.
    pub(crate) fn last_runs(&self) -> Result<HashMap<String, RunRecord>, Error> {
        let runs = self.runs_where("id IN (SELECT MAX(id) FROM runs GROUP BY job)", [])?;
        Ok(runs.into_iter().map(|run| (run.job.clone(), run)).collect())
    }

    fn runs_where<P: rusqlite::Params>(
        &self,
        filter: &str,
        params: P,
    ) -> Result<Vec<RunRecord>, Error> {
        let result = (|| -> rusqlite::Result<Vec<RunRecord>> {
            let mut statement = self.conn.prepare(&format!(
                "SELECT {RUN_COLUMNS} FROM runs WHERE {filter} ORDER BY id"
            ))?;
            let rows = statement.query_map(params, run_record)?;
            rows.collect()
        })();
        result.map_err(|source| self.error(source))
    }

    /// Re-arms the items of `job` (all, or those named) that ended in error;
    /// returns the items re-armed.
    pub(crate) fn retry(&self, job: &str, items: Option<&[String]>) -> Result<Vec<String>, Error> {
        let result = (|| {
            let tx = self.conn.unchecked_transaction()?;
            let mut rearmed = Vec::new();
            {
                let mut statement = tx.prepare(
                    "SELECT item FROM items WHERE job = ?1 AND status NOT IN (?2, ?3, ?4)",
                )?;
                let found = statement.query_map(
                    params![
                        job,
                        ItemStatus::Ran(Outcome::Success),
                        ItemStatus::Ran(Outcome::Running),
                        ItemStatus::Rearmed
                    ],
                    |row| row.get::<_, String>(0),
                )?;
                for item in found {
                    let item = item?;
                    if items.is_none_or(|wanted| wanted.contains(&item)) {
                        rearmed.push(item);
                    }
                }
            }
            for item in &rearmed {
                tx.execute(
                    "UPDATE items SET status = ?3, attempts = 0 WHERE job = ?1 AND item = ?2",
                    params![job, item, ItemStatus::Rearmed],
                )?;
            }
            tx.commit()?;
            Ok(rearmed)
        })();
        result.map_err(|source| self.error(source))
    }
}

/// Asking for work again, and forgetting old work.
impl State {
    /// Marks the items of `job` (all, or those named) to run again though
    /// their targets are up to date; returns the items marked.
    pub(crate) fn rerun(&self, job: &str, items: Option<&[String]>) -> Result<Vec<String>, Error> {
        let result = (|| {
            let tx = self.conn.unchecked_transaction()?;
            let mut marked = Vec::new();
            {
                let mut statement =
                    tx.prepare("SELECT item FROM items WHERE job = ?1 ORDER BY item")?;
                for item in statement.query_map([job], |row| row.get::<_, String>(0))? {
                    let item = item?;
                    if items.is_none_or(|wanted| wanted.contains(&item)) {
                        marked.push(item);
                    }
                }
            }
            for item in &marked {
                tx.execute(
                    "UPDATE items SET rerun = 1, attempts = 0 WHERE job = ?1 AND item = ?2",
                    params![job, item],
                )?;
            }
            tx.commit()?;
            Ok(marked)
        })();
        result.map_err(|source| self.error(source))
    }

    /// Notes that the hook run after run `id` failed, and how.
    pub(crate) fn set_hook_error(&self, id: i64, error: &str) -> Result<(), Error> {
        self.conn
            .prepare_cached("UPDATE runs SET hook_error = ?2 WHERE id = ?1")
            .and_then(|mut statement| statement.execute(params![id, error]))
            .map(drop)
            .map_err(|source| self.error(source))
    }

    /// Deletes up to `limit` finished runs that ended before `before`
    /// (RFC 3339), never an item's last run; returns their log paths.
    pub(crate) fn prune(&self, before: &str, limit: u32) -> Result<Vec<PathBuf>, Error> {
        let result = (|| {
            let tx = self.conn.unchecked_transaction()?;
            let logs = {
                let mut statement = tx.prepare(
                    "DELETE FROM runs WHERE id IN (
                         SELECT id FROM runs WHERE ended_at < ?1 AND outcome != ?2
                             AND id NOT IN (SELECT last_run FROM items)
                         ORDER BY ended_at LIMIT ?3)
                     RETURNING log",
                )?;
                let rows = statement
                    .query_map(params![before, Outcome::Running, limit], |row| {
                        row.get::<_, String>(0)
                    })?;
                rows.map(|row| row.map(PathBuf::from))
                    .collect::<rusqlite::Result<Vec<_>>>()?
            };
            tx.commit()?;
            Ok(logs)
        })();
        result.map_err(|source| self.error(source))
    }
}

/// Which runs `State::recent_runs` returns: newest first, at most `limit`.
#[derive(Debug, Clone, Default)]
pub(crate) struct RunQuery<'a> {
    pub(crate) job: Option<&'a str>,
    pub(crate) item: Option<&'a str>,
    pub(crate) limit: u32,
}

/// Finished runs of one job, counted into cumulative duration buckets.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct DurationStats {
    pub(crate) job: String,
    /// Runs whose duration is at most the bucket bound, per bound given.
    pub(crate) buckets: Vec<u64>,
    pub(crate) count: u64,
    pub(crate) sum_ms: u64,
}

/// Read-only queries for `flow serve`. They never write, so a connection
/// opened with [`State::open_read_only`] serves them beside a running `flow run`.
impl State {
    /// Opens an existing database without creating, migrating or locking
    /// anything; a missing database is an error the caller reports.
    pub(crate) fn open_read_only(layout: &Layout) -> Result<Self, Error> {
        use rusqlite::OpenFlags;
        let path = layout.state_db();
        let flags = OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX;
        let conn = Connection::open_with_flags(&path, flags).map_err(|source| Error::State {
            path: path.clone(),
            source,
        })?;
        let state = Self { conn, path };
        // a run commits quickly; wait for it rather than fail the request
        state
            .conn
            .busy_timeout(std::time::Duration::from_secs(2))
            .map_err(|source| state.error(source))?;
        Ok(state)
    }

    /// Reads the schema version: proves the file is a readable database.
    pub(crate) fn schema_version(&self) -> Result<i64, Error> {
        self.conn
            .pragma_query_value(None, "user_version", |row| row.get(0))
            .map_err(|source| self.error(source))
    }

    /// A number that changes whenever another connection, another `flow`
    /// process, commits to the state, and never for this one's own
    /// commits: what tells a watch its records are still current.
    pub(crate) fn data_version(&self) -> Result<i64, Error> {
        self.conn
            .pragma_query_value(None, "data_version", |row| row.get(0))
            .map_err(|source| self.error(source))
    }

    /// Run history, newest first.
    pub(crate) fn recent_runs(&self, query: &RunQuery<'_>) -> Result<Vec<RunRecord>, Error> {
        let result = (|| -> rusqlite::Result<Vec<RunRecord>> {
            let mut statement = self.conn.prepare(&format!(
                "SELECT {RUN_COLUMNS} FROM runs WHERE (?1 IS NULL OR job = ?1)
                 AND (?2 IS NULL OR item = ?2) ORDER BY id DESC LIMIT ?3"
            ))?;
            let rows =
                statement.query_map(params![query.job, query.item, query.limit], run_record)?;
            rows.collect()
        })();
        result.map_err(|source| self.error(source))
    }

    /// Per job: finished runs counted at or under each bound (milliseconds),
    /// their number and total duration. Aggregated in SQL so that a long
    /// history costs the server one row per job.
    pub(crate) fn duration_stats(&self, bounds_ms: &[u64]) -> Result<Vec<DurationStats>, Error> {
        let buckets: String = bounds_ms
            .iter()
            .map(|bound| format!("SUM(duration_ms <= {}), ", to_sql_int(*bound)))
            .collect();
        let sql = format!(
            "SELECT job, {buckets}COUNT(*), SUM(duration_ms) FROM runs
             WHERE duration_ms IS NOT NULL GROUP BY job ORDER BY job"
        );
        let result = (|| -> rusqlite::Result<Vec<DurationStats>> {
            let mut statement = self.conn.prepare(&sql)?;
            let rows = statement.query_map([], |row| {
                let count = |index: usize| -> rusqlite::Result<u64> {
                    Ok(from_sql_int(row.get::<_, Option<i64>>(index)?.unwrap_or(0)))
                };
                Ok(DurationStats {
                    job: row.get(0)?,
                    buckets: (1..=bounds_ms.len()).map(count).collect::<Result<_, _>>()?,
                    count: count(bounds_ms.len() + 1)?,
                    sum_ms: count(bounds_ms.len() + 2)?,
                })
            })?;
            rows.collect()
        })();
        result.map_err(|source| self.error(source))
    }

    /// The end time (RFC 3339) of the last successful run of every job.
    pub(crate) fn last_successes(&self) -> Result<Vec<(String, String)>, Error> {
        let result = (|| -> rusqlite::Result<Vec<(String, String)>> {
            let mut statement = self.conn.prepare(
                "SELECT job, MAX(ended_at) FROM runs WHERE outcome = ?1
                 AND ended_at IS NOT NULL GROUP BY job ORDER BY job",
            )?;
            let rows =
                statement.query_map([Outcome::Success], |row| Ok((row.get(0)?, row.get(1)?)))?;
            rows.collect()
        })();
        result.map_err(|source| self.error(source))
    }
}

/// SQLite integers are signed; sizes and durations never reach 2^63.
fn to_sql_int(value: u64) -> i64 {
    i64::try_from(value).unwrap_or(i64::MAX)
}

fn from_sql_int(value: i64) -> u64 {
    u64::try_from(value).unwrap_or(0)
}

/// The job names read so far, each kept once.
#[derive(Default)]
struct Jobs(Vec<Arc<str>>);

impl Jobs {
    fn named(&mut self, name: &str) -> Arc<str> {
        if let Some(known) = self.0.iter().find(|known| ***known == *name) {
            return Arc::clone(known);
        }
        let new: Arc<str> = name.into();
        self.0.push(Arc::clone(&new));
        new
    }
}

fn item_record(row: &Row<'_>, jobs: &mut Jobs) -> rusqlite::Result<ItemRecord> {
    let status: ItemStatus = row.get(2)?;
    let size: Option<i64> = row.get(7)?;
    let mtime: Option<i64> = row.get(8)?;
    Ok(ItemRecord {
        job: jobs.named(row.get_ref(0)?.as_str()?),
        item: row.get(1)?,
        // a re-armed item's last run failed: that is why it was re-armed
        outcome: match status {
            ItemStatus::Ran(outcome) => outcome,
            ItemStatus::Rearmed => Outcome::Failed,
        },
        attempts: row.get(3)?,
        inputs: row.get(4)?,
        last_run: row.get(5)?,
        target: row.get(6)?,
        produced: size.map(from_sql_int).zip(mtime),
        rearmed: status == ItemStatus::Rearmed,
        rerun: row.get(9)?,
    })
}

fn run_record(row: &Row<'_>) -> rusqlite::Result<RunRecord> {
    let log: String = row.get(10)?;
    let staging: String = row.get(11)?;
    Ok(RunRecord {
        id: row.get(0)?,
        job: row.get(1)?,
        item: row.get(2)?,
        attempt: row.get(3)?,
        started_at: row.get(4)?,
        ended_at: row.get(5)?,
        duration_ms: row.get::<_, Option<i64>>(6)?.map(from_sql_int),
        outcome: row.get(7)?,
        exit_code: row.get(8)?,
        signal: row.get(9)?,
        log: PathBuf::from(log),
        staging: PathBuf::from(staging),
        hook_error: row.get(12)?,
        executor: row.get(13)?,
        cluster: row
            .get::<_, Option<String>>(15)?
            .map(|state| -> rusqlite::Result<ClusterJob> {
                Ok(ClusterJob {
                    job_id: row.get(14)?,
                    state,
                })
            })
            .transpose()?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// For runs whose log and staging paths a test never reads.
    fn no_paths(_id: i64) -> RunPaths {
        RunPaths {
            log: PathBuf::new(),
            staging: PathBuf::new(),
        }
    }

    #[test]
    fn every_outcome_and_item_status_round_trips_and_unknown_text_is_an_error() {
        let conn = Connection::open_in_memory().expect("open");
        let statuses = Outcome::ALL
            .into_iter()
            .map(ItemStatus::Ran)
            .chain([ItemStatus::Rearmed]);
        for status in statuses {
            let back: ItemStatus = conn
                .query_row("SELECT ?1", [status], |row| row.get(0))
                .expect("round trip");
            assert_eq!(back, status);
        }
        for outcome in Outcome::ALL {
            let back: Outcome = conn
                .query_row("SELECT ?1", [outcome], |row| row.get(0))
                .expect("round trip");
            assert_eq!(back, outcome);
        }
        let unknown = conn.query_row("SELECT 'exploded'", [], |row| row.get::<_, Outcome>(0));
        assert!(
            unknown.is_err_and(|error| error.to_string().contains("unknown status `exploded`"))
        );
        let rearmed = conn.query_row("SELECT 'retry'", [], |row| row.get::<_, Outcome>(0));
        assert!(
            rearmed.is_err(),
            "`retry` is an item status, not a run outcome"
        );
    }

    #[test]
    fn records_runs_and_rearms_errors() {
        let dir = tempfile::tempdir().expect("tempdir");
        let state = State::open(&Layout::new(dir.path())).expect("open");
        let new = NewRun {
            job: "a",
            item: "x.csv",
            attempt: 1,
            started_at: "t0",
            inputs: "fp",
            target: "out/x.csv",
        };
        let (id, _) = state.begin_run(&new, no_paths).expect("begin");
        assert_eq!(state.running_runs().expect("runs").len(), 1);
        let end = RunEnd {
            outcome: Outcome::Failed,
            ended_at: "t1",
            duration_ms: 5,
            exit_code: Some(3),
            signal: None,
            produced: None,
        };
        state.finish_run(id, &end).expect("finish");
        let item = state.item("a", "x.csv").expect("query").expect("item");
        assert_eq!((item.outcome, item.attempts), (Outcome::Failed, 1));
        assert_eq!(state.retry("a", None).expect("retry"), ["x.csv"]);
        let item = state.item("a", "x.csv").expect("query").expect("item");
        assert!(item.rearmed);
        assert_eq!(item.attempts, 0);
        // reopening applies no migration twice
        drop(state);
        let state = State::open(&Layout::new(dir.path())).expect("reopen");
        assert_eq!(
            state.run(id).expect("run").map(|run| run.exit_code),
            Some(Some(3))
        );
    }

    #[test]
    fn read_only_queries_filter_limit_and_aggregate() {
        let dir = tempfile::tempdir().expect("tempdir");
        let state = State::open(&Layout::new(dir.path())).expect("open");
        for (job, item, ms, outcome) in [
            ("a", "x", 50, Outcome::Success),
            ("a", "y", 700, Outcome::Failed),
            ("b", "x", 3000, Outcome::Success),
        ] {
            let new = NewRun {
                job,
                item,
                attempt: 1,
                started_at: "2026-01-01T00:00:00.000Z",
                inputs: "fp",
                target: "t",
            };
            let (id, _) = state.begin_run(&new, no_paths).expect("begin");
            let end = RunEnd {
                outcome,
                ended_at: "2026-01-01T00:00:01.000Z",
                duration_ms: ms,
                exit_code: Some(0),
                signal: None,
                produced: None,
            };
            state.finish_run(id, &end).expect("finish");
        }
        drop(state);
        let state = State::open_read_only(&Layout::new(dir.path())).expect("open read-only");
        assert_eq!(
            state.schema_version().expect("version"),
            i64::try_from(MIGRATIONS.len()).expect("few migrations")
        );
        let all = state.recent_runs(&RunQuery {
            limit: 10,
            ..RunQuery::default()
        });
        let ids: Vec<i64> = all.expect("runs").iter().map(|run| run.id).collect();
        assert_eq!(ids, [3, 2, 1]);
        let query = RunQuery {
            job: Some("a"),
            item: None,
            limit: 1,
        };
        let last_a = state.recent_runs(&query).expect("runs");
        assert_eq!((last_a.len(), last_a[0].item.as_str()), (1, "y"));
        let stats = state.duration_stats(&[100, 1000]).expect("stats");
        assert_eq!(stats[0].buckets, [1, 2]);
        assert_eq!((stats[0].count, stats[0].sum_ms), (2, 750));
        assert_eq!(stats[1].buckets, [0, 0]);
        let successes = state.last_successes().expect("successes");
        assert_eq!(successes.len(), 2);
        assert!(State::open_read_only(&Layout::new(&dir.path().join("none"))).is_err());
    }

    #[test]
    fn interruption_does_not_count_as_an_attempt() {
        let dir = tempfile::tempdir().expect("tempdir");
        let state = State::open(&Layout::new(dir.path())).expect("open");
        let new = NewRun {
            job: "a",
            item: "x",
            attempt: 2,
            started_at: "t0",
            inputs: "fp",
            target: "out/x",
        };
        let (id, _) = state.begin_run(&new, no_paths).expect("begin");
        let end = RunEnd {
            outcome: Outcome::Interrupted,
            ended_at: "t1",
            duration_ms: 1,
            exit_code: None,
            signal: Some(9),
            produced: None,
        };
        state.finish_run(id, &end).expect("finish");
        let item = state.item("a", "x").expect("query").expect("item");
        assert_eq!(item.attempts, 1);
    }

    #[test]
    fn a_slurm_run_is_recorded_submitting_then_with_its_job_id_and_stays_running() {
        let dir = tempfile::tempdir().expect("tempdir");
        let state = State::open(&Layout::new(dir.path())).expect("open");
        let new = NewRun {
            job: "a",
            item: "x",
            attempt: 1,
            started_at: "2026-01-01T00:00:00.000Z",
            inputs: "fp",
            target: "t",
        };
        let (id, _) = state.begin_run(&new, no_paths).expect("begin");
        let local = state.run(id).expect("read").expect("the run");
        assert_eq!((local.executor, local.cluster), (ExecutorKind::Local, None));
        let submitting = ClusterJob {
            job_id: None,
            state: SUBMITTING.into(),
        };
        state.set_cluster(id, &submitting).expect("submitting");
        assert_eq!(
            state.running_runs().expect("running")[0].cluster,
            Some(submitting)
        );
        let known = ClusterJob {
            job_id: Some("42".into()),
            state: "RUNNING".into(),
        };
        state.set_cluster(id, &known).expect("job id");
        let run = state.run(id).expect("read").expect("the run");
        assert_eq!(
            (run.executor, run.cluster),
            (ExecutorKind::Slurm, Some(known))
        );
    }

    fn finished(state: &State, item: &str, outcome: Outcome, ended_at: &str) -> i64 {
        let new = NewRun {
            job: "a",
            item,
            attempt: 1,
            started_at: ended_at,
            inputs: "fp",
            target: "t",
        };
        let (id, _) = state
            .begin_run(&new, |id| RunPaths {
                log: format!("/logs/{id}").into(),
                staging: "/s".into(),
            })
            .expect("begin");
        let end = RunEnd {
            outcome,
            ended_at,
            duration_ms: 1,
            exit_code: Some(0),
            signal: None,
            produced: None,
        };
        state.finish_run(id, &end).expect("finish");
        id
    }

    #[test]
    fn rerun_marks_until_a_success_and_pruning_keeps_every_last_run() {
        let dir = tempfile::tempdir().expect("tempdir");
        let state = State::open(&Layout::new(dir.path())).expect("open");
        let old = finished(&state, "x", Outcome::Failed, "2026-01-01T00:00:00.000Z");
        finished(&state, "x", Outcome::Success, "2026-01-02T00:00:00.000Z");
        finished(&state, "y", Outcome::Success, "2026-01-01T00:00:00.000Z");
        assert_eq!(
            state.rerun("a", Some(&["x".to_owned()])).expect("rerun"),
            ["x"]
        );
        assert!(state.item("a", "x").expect("query").expect("item").rerun);
        assert!(!state.item("a", "y").expect("query").expect("item").rerun);
        finished(&state, "x", Outcome::Failed, "2026-01-03T00:00:00.000Z");
        assert!(
            state.item("a", "x").expect("query").expect("item").rerun,
            "a failure keeps it"
        );
        finished(&state, "x", Outcome::Success, "2026-01-04T00:00:00.000Z");
        assert!(!state.item("a", "x").expect("query").expect("item").rerun);

        let pruned = state.prune("2026-01-03T12:00:00.000Z", 10).expect("prune");
        assert_eq!(pruned.len(), 3, "{pruned:?}");
        assert!(pruned.contains(&PathBuf::from(format!("/logs/{old}"))));
        assert!(state.run(old).expect("run").is_none());
        let left: Vec<String> = state
            .recent_runs(&RunQuery {
                limit: 10,
                ..RunQuery::default()
            })
            .expect("runs")
            .into_iter()
            .map(|run| run.item)
            .collect();
        assert_eq!(left, ["x", "y"], "the last run of each item stays");
        state
            .set_hook_error(old + 4, "exited with code 1")
            .expect("hook error");
    }

    #[test]
    fn a_state_of_an_older_flow_is_upgraded_in_one_step_keeping_its_runs() {
        let dir = tempfile::tempdir().expect("tempdir");
        let layout = Layout::new(dir.path());
        std::fs::create_dir_all(layout.dot_flow()).expect("mkdir");
        let old = Connection::open(layout.state_db()).expect("create");
        old.execute_batch(MIGRATIONS[0]).expect("first schema");
        old.execute_batch(
            "INSERT INTO runs (job, item, attempt, started_at, outcome, inputs, log, staging)
             VALUES ('zscore', 'X_A.txt', 1, '2026-01-01T00:00:00.000Z', 'success', '', '', '');
             PRAGMA user_version = 1;",
        )
        .expect("old run");
        drop(old);

        let reader = State::open_read_only(&layout).expect("read-only");
        assert_eq!(reader.schema_version().expect("version"), 1);
        drop(reader);
        let state = State::open(&layout).expect("upgrade");
        assert_eq!(state.schema_version().expect("version"), SCHEMA_VERSION);
        let runs = state
            .recent_runs(&RunQuery {
                limit: 10,
                ..RunQuery::default()
            })
            .expect("runs read with the new columns");
        assert_eq!(runs.len(), 1);
        assert_eq!(runs[0].hook_error, None);
    }

    #[test]
    fn connections_opening_a_new_state_at_once_all_open_it() {
        for _ in 0..20 {
            let dir = tempfile::tempdir().expect("tempdir");
            let layout = Layout::new(dir.path());
            let start = std::sync::Barrier::new(6);
            std::thread::scope(|scope| {
                let opened: Vec<_> = (0..6)
                    .map(|_| {
                        scope.spawn(|| {
                            start.wait();
                            State::open(&layout).map(|_| ())
                        })
                    })
                    .collect();
                for open in opened {
                    let result = open.join().expect("no panic");
                    assert!(result.is_ok(), "{:?}", result.err().map(|e| e.to_string()));
                }
            });
        }
    }
}
