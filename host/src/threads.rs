//! Work shared out to scoped threads, one per CPU at most, and gathered
//! back in order; a worker's panic goes on in the caller.

use std::thread::ScopedJoinHandle;

/// The CPUs this process may use, at least one.
pub(crate) fn cpus() -> usize {
    std::thread::available_parallelism().map_or(1, usize::from)
}

/// What one worker returned.
pub(crate) fn join<T>(worker: ScopedJoinHandle<'_, T>) -> T {
    worker
        .join()
        .unwrap_or_else(|panic| std::panic::resume_unwind(panic))
}

/// What `workers` returned, one after the other in their order.
pub(crate) fn gather<T>(workers: Vec<ScopedJoinHandle<'_, Vec<T>>>) -> Vec<T> {
    workers.into_iter().flat_map(join).collect()
}
