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

/// Below this much work for each thread, work stays on the calling thread:
/// starting threads would cost more than they share.
pub(crate) const LEAST_SHARE: usize = 2_048;

/// `work` done on `items` in contiguous parts, one per CPU when `weight`
/// (what the items cost, in files or items) is enough to share, and the
/// results put back in the items' order.
pub(crate) fn share<T: Sync, R: Send>(
    items: &[T],
    weight: usize,
    work: impl Fn(&[T]) -> Vec<R> + Sync,
) -> Vec<R> {
    let threads = cpus().min(weight / LEAST_SHARE).min(items.len());
    if threads < 2 {
        return work(items);
    }
    let work = &work;
    std::thread::scope(|scope| {
        let part = items.len().div_ceil(threads);
        let workers = items
            .chunks(part)
            .map(|part| scope.spawn(move || work(part)))
            .collect();
        gather(workers)
    })
}
