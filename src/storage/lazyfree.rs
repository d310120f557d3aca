//! Freeing big values off the shard threads (UNLINK, FLUSHALL ASYNC, the
//! lazyfree-lazy-* options).
//!
//! A value whose destruction takes many frees (a big hash, set, sorted
//! set, list or stream) is sent to one freeing thread instead of being
//! dropped where it was removed, so the shard that removed it goes on
//! serving. Small values are dropped on the spot: sending costs more than
//! freeing them (Redis's threshold: 64 allocations). Whole databases of a
//! flush go the same way.
//!
//! The memory accounting stays exact: the freeing thread's frees are
//! counted on its own counter (`crate::memory`), which the total includes.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc;
use std::sync::OnceLock;

use super::{Db, Value};

/// Values needing more frees than this go to the freeing thread.
const THRESHOLD: usize = 64;

/// Objects handed over and not freed yet (INFO lazyfree_pending_objects).
static PENDING: AtomicU64 = AtomicU64::new(0);
/// Objects freed by the freeing thread (INFO lazyfreed_objects).
static FREED: AtomicU64 = AtomicU64::new(0);

enum Job {
    Value(Value),
    /// Flushed databases and their key count; `done` is called when freed.
    Dbs(Vec<Db>, u64, Option<Box<dyn FnOnce() + Send>>),
}

// The sender is cloned once per thread; the Mutex guards only that clone.
static SENDER: OnceLock<std::sync::Mutex<mpsc::Sender<Job>>> = OnceLock::new();

thread_local! {
    static MY_SENDER: std::cell::OnceCell<mpsc::Sender<Job>> = const { std::cell::OnceCell::new() };
}

fn send(job: Job) {
    let job = MY_SENDER.with(|s| {
        let tx = s.get_or_init(|| {
            SENDER
                .get_or_init(|| std::sync::Mutex::new(spawn_freer()))
                .lock()
                .expect("lazyfree sender lock")
                .clone()
        });
        tx.send(job)
    });
    // The freeing thread never exits; should it be gone, free here.
    if let Err(mpsc::SendError(job)) = job {
        run(job);
    }
}

fn spawn_freer() -> mpsc::Sender<Job> {
    let (tx, rx) = mpsc::channel::<Job>();
    std::thread::Builder::new()
        .name("lazyfree".into())
        .spawn(move || {
            for job in rx {
                run(job);
            }
        })
        .expect("start the lazyfree thread");
    tx
}

fn run(job: Job) {
    match job {
        Job::Value(v) => {
            drop(v);
            FREED.fetch_add(1, Ordering::Relaxed);
            PENDING.fetch_sub(1, Ordering::Relaxed);
        }
        Job::Dbs(dbs, keys, done) => {
            drop(dbs);
            FREED.fetch_add(keys, Ordering::Relaxed);
            PENDING.fetch_sub(keys, Ordering::Relaxed);
            if let Some(done) = done {
                done();
            }
        }
    }
}

/// How many frees destroying `v` takes, roughly (Redis's free effort).
pub fn free_effort(v: &Value) -> usize {
    match v {
        Value::Int(_) | Value::Str(_) => 1,
        Value::List(l) => l.len(),
        Value::Hash(h) if h.encoding() == "hashtable" => h.len(),
        Value::Set(s) if s.encoding() == "hashtable" => s.len(),
        Value::ZSet(z) if z.encoding() == "skiplist" => z.len(),
        Value::Stream(s) => s.free_effort(),
        _ => 1,
    }
}

/// Frees `v` on the freeing thread if that is worth it, here otherwise.
/// Returns whether it was handed over.
pub fn drop_value(v: Value) -> bool {
    if free_effort(&v) <= THRESHOLD {
        drop(v);
        return false;
    }
    PENDING.fetch_add(1, Ordering::Relaxed);
    send(Job::Value(v));
    true
}

/// Frees flushed databases holding `keys` keys on the freeing thread;
/// `done` runs there once they are freed.
pub fn drop_dbs(dbs: Vec<Db>, keys: u64, done: Option<Box<dyn FnOnce() + Send>>) {
    PENDING.fetch_add(keys, Ordering::Relaxed);
    send(Job::Dbs(dbs, keys, done));
}

/// INFO lazyfree_pending_objects.
pub fn pending() -> u64 {
    PENDING.load(Ordering::Relaxed)
}

/// INFO lazyfreed_objects.
pub fn freed() -> u64 {
    FREED.load(Ordering::Relaxed)
}

/// CONFIG RESETSTAT.
pub fn reset_stats() {
    FREED.store(0, Ordering::Relaxed);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn big_values_go_to_the_freeing_thread() {
        let mut s = crate::storage::set::Set::default();
        let lim = crate::config::Limits::default();
        for i in 0..1000 {
            s.add(format!("m{i}").as_bytes(), &lim);
        }
        let before = freed();
        assert!(drop_value(Value::Set(Box::new(s))));
        assert!(!drop_value(Value::Int(3)));
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
        while freed() == before && std::time::Instant::now() < deadline {
            std::thread::yield_now();
        }
        assert!(freed() > before);
    }
}
