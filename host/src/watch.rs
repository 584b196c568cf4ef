//! `flow watch`: passes in one resident process until a signal.

use std::time::Duration;

use crate::config::{Config, FlowDir};
use crate::error::{Error, exit};
use crate::exec::Executor;
use crate::run::run_pass;
use crate::signals::Shutdown;

/// Passes until a signal; `flow.yaml` is read again before each pass, and an
/// invalid edit keeps the last good configuration.
pub(crate) fn watch(
    dir: FlowDir,
    interval: Duration,
    executor: &dyn Executor,
    shutdown: &Shutdown,
) -> Result<i32, Error> {
    let mut config = Config::load(dir.clone())?;
    tracing::info!(flow = %dir.shown.display(), interval = %humantime::format_duration(interval), "watching");
    loop {
        match Config::load(dir.clone()) {
            Ok(fresh) => config = fresh,
            Err(error) => tracing::warn!(
                "{}flow: keeping the last valid configuration",
                error.report()
            ),
        }
        let summary = run_pass(&config, executor, shutdown)?;
        if summary.lock_held.is_some() {
            tracing::info!("another run holds the lock; skipping this pass");
        }
        if shutdown.signal().is_none() {
            shutdown.sleep(interval);
        }
        if let Some(signal) = shutdown.signal() {
            tracing::info!(signal = signal.as_str(), "stopping");
            return Ok(exit::SIGNAL_BASE + signal as i32);
        }
    }
}
