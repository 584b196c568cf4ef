//! SIGINT and SIGTERM become shutdown events that job runners poll; the
//! choice of signal to send a job's process group is one pure function.
//!
//! signal-hook installs handlers (not a blocked mask, which children would
//! inherit and which would keep TERM from ever reaching a job) and a thread
//! turns them into a counter. Jobs run in their own process groups and so
//! miss the terminal's Ctrl-C: the runners forward it, and a second one
//! escalates to SIGKILL.

use std::sync::Arc;
use std::sync::atomic::{AtomicI32, AtomicU32, Ordering};
use std::time::{Duration, Instant};

use nix::sys::signal::Signal;

/// Counts shutdown signals received; shared by every runner thread.
#[derive(Debug, Default)]
pub(crate) struct Shutdown {
    count: AtomicU32,
    last: AtomicI32,
}

impl Shutdown {
    /// Starts taking SIGINT and SIGTERM instead of dying of them.
    pub(crate) fn install() -> Arc<Self> {
        let shutdown = Arc::new(Self::default());
        let signals =
            signal_hook::iterator::Signals::new([Signal::SIGINT as i32, Signal::SIGTERM as i32]);
        let Ok(mut signals) = signals else {
            // without handlers the default action (exit) still stops flow
            return shutdown;
        };
        let notify = Arc::clone(&shutdown);
        std::thread::spawn(move || {
            for number in signals.forever() {
                if let Ok(signal) = Signal::try_from(number) {
                    notify.notify(signal);
                }
            }
        });
        shutdown
    }

    pub(crate) fn notify(&self, signal: Signal) {
        self.last.store(signal as i32, Ordering::SeqCst);
        self.count.fetch_add(1, Ordering::SeqCst);
    }

    /// How many shutdown signals arrived so far.
    pub(crate) fn count(&self) -> u32 {
        self.count.load(Ordering::SeqCst)
    }

    /// The last shutdown signal, once one arrived.
    pub(crate) fn signal(&self) -> Option<Signal> {
        if self.count() == 0 {
            return None;
        }
        Signal::try_from(self.last.load(Ordering::SeqCst)).ok()
    }

    /// Sleeps up to `duration`, waking early on a shutdown signal.
    pub(crate) fn sleep(&self, duration: Duration) {
        let until = Instant::now() + duration;
        let seen = self.count();
        while Instant::now() < until && self.count() == seen {
            std::thread::sleep(Duration::from_millis(50).min(until - Instant::now()));
        }
    }
}

/// Why a job's process group is being signalled.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kill {
    /// The run exceeded its `timeout`.
    Timeout,
    /// The job outlived the grace period after a TERM or forwarded signal.
    GraceOver,
    /// `flow` received `signal`, for the `count`th time.
    Forwarded { signal: Signal, count: u32 },
    /// The job's main process exited; what is left of its group is stray.
    Leftovers,
}

/// The signal to send for `kill`: TERM on timeout so the job may clean up,
/// a forwarded signal as it came, and KILL once patience is over.
pub(crate) fn signal_for(kill: Kill) -> Signal {
    match kill {
        Kill::Timeout => Signal::SIGTERM,
        Kill::Forwarded { signal, count: 1 } => signal,
        Kill::Forwarded { .. } | Kill::GraceOver | Kill::Leftovers => Signal::SIGKILL,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chooses_term_then_kill_and_escalates_a_second_signal() {
        assert_eq!(signal_for(Kill::Timeout), Signal::SIGTERM);
        assert_eq!(signal_for(Kill::GraceOver), Signal::SIGKILL);
        let first = Kill::Forwarded {
            signal: Signal::SIGINT,
            count: 1,
        };
        assert_eq!(signal_for(first), Signal::SIGINT);
        let second = Kill::Forwarded {
            signal: Signal::SIGINT,
            count: 2,
        };
        assert_eq!(signal_for(second), Signal::SIGKILL);
        assert_eq!(signal_for(Kill::Leftovers), Signal::SIGKILL);
    }

    #[test]
    fn sleep_wakes_on_a_signal() {
        let shutdown = Arc::new(Shutdown::default());
        let notify = Arc::clone(&shutdown);
        let waker = std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(100));
            notify.notify(Signal::SIGTERM);
        });
        let started = Instant::now();
        shutdown.sleep(Duration::from_secs(30));
        assert!(started.elapsed() < Duration::from_secs(20));
        assert_eq!(shutdown.signal(), Some(Signal::SIGTERM));
        let _ = waker.join();
    }
}
