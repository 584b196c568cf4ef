//! `flow watch`: one resident process that runs a pass when something
//! changed. It blocks on one channel, fed by file-system events (notify:
//! inotify on Linux) and by the signal thread, until the first deadline
//! due: a file seen changing settles, the full rescan of `--interval`, or a
//! retry while another run holds the lock. Idle, it sleeps: no wake-up but
//! those deadlines.
//!
//! An event also says *what* the pass looks at: the watch carries the
//! records and listings of its last pass (`run::Carry`), an event updates
//! the one file or folder it names, and the pass (`run::run_pass`) decides
//! the items those touch and those the last pass left open, starting the
//! items downstream of what it promotes at once. A rescan, an edit of
//! `flow.yaml` or another process's commit to the state make it plan the
//! whole graph again. Holds no SQL and starts no job itself.

mod settling;
mod subscriptions;

use std::path::{Component, Path};
use std::sync::mpsc::{self, Receiver, Sender};
use std::time::{Duration, Instant};

use notify::event::{AccessKind, AccessMode, CreateKind};
use notify::{Event, EventKind};

use crate::config::{self, Config, FlowDir};
use crate::error::{Error, exit};
use crate::exec::Executor;
use crate::run::{Carry, run_pass};
use crate::signals::Shutdown;
use settling::{Settling, modified};
use subscriptions::Subscriptions;

/// How long a watch waits before trying again when a `flow run` holds the
/// lock: a due timer, not a poll, and only while the other run lasts.
const LOCK_RETRY: Duration = Duration::from_secs(1);

/// How a watch finds changes.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Options {
    /// Time between full rescans (every pass is one).
    pub(crate) interval: Duration,
    /// File-system events on; off (`--poll`), the interval alone.
    pub(crate) events: bool,
}

/// What wakes the watch besides its deadlines.
enum Wake {
    Event(notify::Result<Event>),
    Signal,
}

/// What the next wake-up has to do, gathered from everything that woke it.
#[derive(Debug, Default)]
struct Todo {
    reload: bool,
    resubscribe: bool,
    pass: bool,
}

/// A watch's state between wake-ups.
struct Watch<'a> {
    dir: FlowDir,
    config: Config,
    /// The text `config` was read from: an unchanged file is not reloaded.
    text: Option<String>,
    options: Options,
    executor: &'a dyn Executor,
    shutdown: &'a Shutdown,
    subscriptions: Option<Subscriptions>,
    carry: Carry,
    settling: Settling,
    todo: Todo,
    rescan_at: Instant,
    retry_at: Option<Instant>,
}

/// Passes until a signal: at once, then whenever an event, a settling file,
/// the interval or an edit of `flow.yaml` calls for one. An invalid edit
/// keeps the last valid configuration.
pub(crate) fn watch(
    dir: FlowDir,
    options: Options,
    executor: &dyn Executor,
    shutdown: &Shutdown,
) -> Result<i32, Error> {
    let text = read_config_text(&dir);
    let config = Config::load(dir.clone())?;
    tracing::info!(flow = %dir.shown.display(), interval = %humantime::format_duration(options.interval), events = options.events, "watching");
    // the loop keeps `sender`, so the channel never disconnects
    let (sender, receiver) = mpsc::channel();
    let subscriptions = subscribe(options, shutdown, &sender);
    let mut watch = Watch {
        dir,
        config,
        text,
        options,
        executor,
        shutdown,
        subscriptions,
        carry: Carry::default(),
        settling: Settling::default(),
        todo: Todo {
            reload: false,
            resubscribe: true,
            pass: true,
        },
        rescan_at: Instant::now() + options.interval,
        retry_at: None,
    };
    loop {
        if let Some(signal) = shutdown.signal() {
            tracing::info!(signal = signal.as_str(), "stopping");
            drop(sender);
            return Ok(exit::SIGNAL_BASE + signal as i32);
        }
        watch.catch_up()?;
        if shutdown.count() == 0 {
            watch.wait(&receiver);
        }
    }
}

/// Feeds `sender` from the signal thread and, with events on, from notify.
fn subscribe(
    options: Options,
    shutdown: &Shutdown,
    sender: &Sender<Wake>,
) -> Option<Subscriptions> {
    let signals = sender.clone();
    shutdown.on_signal(move || {
        let _ = signals.send(Wake::Signal);
    });
    if !options.events {
        return None;
    }
    let events = sender.clone();
    Subscriptions::new(move |event| {
        let _ = events.send(Wake::Event(event));
    })
}

impl Watch<'_> {
    /// Does what the wake-ups since the last one asked for, in order.
    fn catch_up(&mut self) -> Result<(), Error> {
        let todo = std::mem::take(&mut self.todo);
        if todo.reload {
            self.reload();
        }
        if let Some(subscriptions) = self.subscriptions.as_mut()
            && (todo.resubscribe || todo.reload)
        {
            subscriptions.update(&self.config);
        }
        if todo.pass {
            self.pass()?;
        }
        Ok(())
    }

    /// Reads `flow.yaml` again if its text changed. An empty file is one
    /// an editor or `>` has just truncated: its text is on the way, with
    /// an event of its own.
    fn reload(&mut self) {
        let text = read_config_text(&self.dir);
        if text.is_some() && text == self.text {
            return;
        }
        if text.as_deref().is_some_and(|text| text.trim().is_empty()) {
            tracing::debug!("flow.yaml is empty: waiting for its text");
            return;
        }
        match Config::load(self.dir.clone()) {
            Ok(fresh) => {
                tracing::info!("flow.yaml changed: using the new configuration");
                self.carry.forget();
                self.config = fresh;
                self.text = text;
            }
            Err(error) => tracing::warn!(
                "{}flow: keeping the last valid configuration",
                error.report()
            ),
        }
    }

    /// One pass, then the files it left settling, to wake up for them:
    /// files that landed during the pass, or before a folder was
    /// subscribed to.
    fn pass(&mut self) -> Result<(), Error> {
        let summary = run_pass(&self.config, self.executor, self.shutdown, &mut self.carry)?;
        self.rescan_at = Instant::now() + self.options.interval;
        self.retry_at = None;
        if summary.lock_held.is_some() {
            tracing::info!("another run holds the lock; trying again shortly");
            self.retry_at = Some(Instant::now() + LOCK_RETRY);
        }
        summary.log();
        let base = &self.config.dir.path;
        for path in summary.settling.iter().map(|path| base.join(path)) {
            if let Some(mtime) = modified(&path) {
                self.settling.note(&path, mtime);
            }
        }
        Ok(())
    }

    /// Blocks until a wake-up or the first deadline, then notes what is due.
    fn wait(&mut self, receiver: &Receiver<Wake>) {
        let timeout = self.deadline().saturating_duration_since(Instant::now());
        if let Ok(wake) = receiver.recv_timeout(timeout) {
            self.take(wake);
            while let Ok(wake) = receiver.try_recv() {
                self.take(wake);
            }
        }
        self.due();
    }

    fn deadline(&self) -> Instant {
        let settle = self.settling.next(self.config.settle);
        [Some(self.rescan_at), self.retry_at, settle]
            .into_iter()
            .flatten()
            .min()
            .unwrap_or(self.rescan_at)
    }

    /// The deadlines that have passed: a settled file, the lock retry, the
    /// full rescan (which also subscribes afresh: a folder replaced).
    fn due(&mut self) {
        let now = Instant::now();
        if self.settling.take_settled(self.config.settle) {
            self.todo.pass = true;
        }
        if self.retry_at.is_some_and(|at| at <= now) {
            self.todo.pass = true;
        }
        if self.rescan_at <= now {
            self.rescan();
        }
    }

    /// Everything again: the configuration, the subscriptions, a pass.
    fn rescan(&mut self) {
        if let Some(subscriptions) = self.subscriptions.as_mut() {
            subscriptions.forget(&self.config.dir.path);
        }
        self.carry.forget();
        self.todo = Todo {
            reload: true,
            resubscribe: true,
            pass: true,
        };
    }

    fn take(&mut self, wake: Wake) {
        match wake {
            Wake::Signal => {}
            Wake::Event(Err(error)) => {
                tracing::warn!(%error, "file-system events failed; rescanning");
                self.rescan();
            }
            Wake::Event(Ok(event)) if event.need_rescan() => {
                tracing::warn!("the file-system event queue overflowed; rescanning every folder");
                self.rescan();
            }
            Wake::Event(Ok(event)) if changes(&event.kind) => {
                for path in &event.paths {
                    self.changed(path);
                }
            }
            Wake::Event(Ok(_)) => {}
        }
    }

    /// One path an event names: `flow.yaml` is reloaded, a folder
    /// (re)subscribed to and listed again, a file that is news settles,
    /// and what vanished calls for a pass.
    fn changed(&mut self, path: &Path) {
        let Ok(relative) = path.strip_prefix(&self.config.dir.path) else {
            return;
        };
        if relative == Path::new(config::FILE_NAME) {
            self.todo.reload = true;
            self.todo.pass = true;
            return;
        }
        // names that are not UTF-8 are never listed, so never an item
        let Some(key) = relative.to_str() else {
            return;
        };
        if relative.components().any(hidden) {
            return;
        }
        match std::fs::metadata(path) {
            Ok(meta) if meta.is_file() => {
                if let Ok(mtime) = meta.modified()
                    && self.carry.file_changed(key)
                {
                    self.settling.note(path, mtime);
                }
            }
            Ok(_) => self.folder_changed(path, key),
            Err(_) => {
                if self.subscriptions.as_ref().is_some_and(|s| s.watches(path)) {
                    self.folder_changed(path, key);
                } else if self.carry.file_changed(key) {
                    self.todo.pass = true;
                }
            }
        }
    }

    fn folder_changed(&mut self, path: &Path, key: &str) {
        if let Some(subscriptions) = self.subscriptions.as_mut() {
            subscriptions.forget(path);
        }
        self.carry.folder_changed(key);
        self.todo.resubscribe = true;
        self.todo.pass = true;
    }
}

/// Whether an event kind can change what a plan sees: opening a file or
/// folder cannot (and the host's own listings open folders), and neither
/// can a file's creation, which its first write and its close follow (a
/// plan at the creation would find it empty). A link made in place sends
/// nothing more: the rescan finds it.
fn changes(kind: &EventKind) -> bool {
    match kind {
        EventKind::Access(AccessKind::Close(AccessMode::Write)) => true,
        EventKind::Access(_) | EventKind::Create(CreateKind::File) => false,
        _ => true,
    }
}

/// Names starting with `.` are never scanned: the host's own `.flow` and
/// `.flow-staging`, and the temporary files of careful writers.
fn hidden(component: Component<'_>) -> bool {
    component.as_os_str().to_string_lossy().starts_with('.')
}

fn read_config_text(dir: &FlowDir) -> Option<String> {
    std::fs::read_to_string(dir.path.join(config::FILE_NAME)).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn opening_a_folder_or_creating_a_file_is_no_change_but_a_closed_write_is() {
        use notify::event::{AccessKind, ModifyKind};
        assert!(!changes(&EventKind::Access(AccessKind::Open(
            AccessMode::Any
        ))));
        assert!(changes(&EventKind::Access(AccessKind::Close(
            AccessMode::Write
        ))));
        assert!(!changes(&EventKind::Create(CreateKind::File)));
        assert!(changes(&EventKind::Create(CreateKind::Folder)));
        assert!(changes(&EventKind::Modify(ModifyKind::Any)));
    }

    #[test]
    fn hidden_names_are_the_hosts_own() {
        let path = Path::new("out/.flow-staging/1-a.csv");
        assert!(path.components().any(hidden));
        assert!(!Path::new("in/2026/a.csv").components().any(hidden));
    }
}
