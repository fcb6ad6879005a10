//! Independent jobs (columns, mostly) run on scoped threads, one per core, their results kept in
//! job order.

use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};

/// `f(j)` for every job `j` in `order` (each once), on up to `threads` threads that take the next
/// job as they finish one, so jobs listed first start first; the results indexed by job, for jobs
/// `0..=max(order)`. A panic in a job is raised again here.
pub(crate) fn map_jobs<T: Send>(
    order: &[usize],
    threads: usize,
    f: impl Fn(usize) -> T + Sync,
) -> Vec<T> {
    let jobs = order.iter().max().map_or(0, |&j| j + 1);
    let done: Vec<Mutex<Option<T>>> = (0..jobs).map(|_| Mutex::new(None)).collect();
    let next = AtomicUsize::new(0);
    let run = || {
        while let Some(&j) = order.get(next.fetch_add(1, Ordering::Relaxed)) {
            let out = f(j);
            *done[j].lock().expect("unpoisoned") = Some(out);
        }
    };
    std::thread::scope(|scope| {
        for _ in 1..threads.clamp(1, order.len().max(1)) {
            scope.spawn(run);
        }
        run();
    });
    done.into_iter()
        .map(|d| d.into_inner().expect("unpoisoned").expect("every job run"))
        .collect()
}

/// [`map_jobs`] over jobs `0..jobs` in order, one thread per core.
pub(crate) fn map_on_every_core<T: Send>(jobs: usize, f: impl Fn(usize) -> T + Sync) -> Vec<T> {
    let order: Vec<usize> = (0..jobs).collect();
    map_jobs(&order, crate::scan::partitions_per_core(), f)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn results_are_in_job_order_whatever_the_run_order() {
        let order = [3, 0, 2, 1];
        for threads in [1, 2, 8] {
            assert_eq!(map_jobs(&order, threads, |j| j * 10), vec![0, 10, 20, 30]);
        }
        assert_eq!(map_on_every_core(0, |j| j), Vec::<usize>::new());
        assert_eq!(map_on_every_core(5, |j| j + 1), vec![1, 2, 3, 4, 5]);
    }
}
