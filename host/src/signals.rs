//! SIGINT and SIGTERM become shutdown events that job runners poll and a
//! resident loop can be woken by; the choice of signal to send a job's
//! process group is one pure function.
//!
//! signal-hook installs handlers (not a blocked mask, which children would
//! inherit and which would keep TERM from ever reaching a job) and a thread
//! turns them into a counter and calls the wakers: nothing here polls. Jobs run in their own process groups and so
//! miss the terminal's Ctrl-C: the runners forward it, and a second one
//! escalates to SIGKILL.

use std::sync::atomic::{AtomicI32, AtomicU32, Ordering};
use std::sync::{Arc, Mutex, PoisonError};

use nix::sys::signal::Signal;

/// Called on every shutdown signal, from the signal thread.
type Waker = Box<dyn Fn() + Send>;

/// Counts shutdown signals received; shared by every runner thread.
#[derive(Default)]
pub(crate) struct Shutdown {
    count: AtomicU32,
    last: AtomicI32,
    wakers: Mutex<Vec<Waker>>,
}

impl std::fmt::Debug for Shutdown {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter
            .debug_struct("Shutdown")
            .field("count", &self.count)
            .field("last", &self.last)
            .finish_non_exhaustive()
    }
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
        let wakers = self.wakers.lock().unwrap_or_else(PoisonError::into_inner);
        for wake in wakers.iter() {
            wake();
        }
    }

    /// Calls `wake` on every later signal, so that a loop blocked on a
    /// channel wakes up without polling the counter.
    pub(crate) fn on_signal(&self, wake: impl Fn() + Send + 'static) {
        let mut wakers = self.wakers.lock().unwrap_or_else(PoisonError::into_inner);
        wakers.push(Box::new(wake));
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
    fn a_signal_calls_the_wakers() {
        let shutdown = Shutdown::default();
        let (sender, receiver) = std::sync::mpsc::channel();
        shutdown.on_signal(move || {
            let _ = sender.send(());
        });
        shutdown.notify(Signal::SIGTERM);
        assert!(receiver.try_recv().is_ok(), "the waker ran at once");
        assert_eq!(shutdown.signal(), Some(Signal::SIGTERM));
        assert_eq!(shutdown.count(), 1);
    }
}
