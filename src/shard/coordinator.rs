//! The coordinator: the one place where work crosses shards.
//!
//! - [`submit`] / [`run_on`]: run a closure on one shard and get its result
//!   (inline when the shard is the caller's own; one message otherwise).
//! - [`Tx`]: a cross-shard transaction. It locks, shard by shard in
//!   ascending order, the keys it touches (or whole shards), runs per-shard
//!   parts, and releases everything at the end (strict two-phase locking). Ascending order makes deadlock
//!   impossible; holding every lock until the end makes the whole command
//!   serializable. MULTI/EXEC and scripts reuse it.
//! - [`broadcast`] / [`broadcast_locked`]: fan a closure out to every shard,
//!   without or with atomicity.
//!
//! Command code never sends messages itself: it hands closures that see a
//! single shard to these functions.

use std::rc::Rc;

use futures_channel::oneshot;

use super::{Job, KeyId, Lock, Msg, Shard, TxId};

/// A result that will arrive from another shard (or is already here).
pub enum Pending<T> {
    Ready(T),
    Remote(oneshot::Receiver<T>),
    /// Once batch `.0` of this shard's log is on disk (appendfsync
    /// always), `.1()`.
    Log(u64, fn() -> T),
}

/// How long a cross-shard wait trusts its wake-up before looking again.
/// glommio 0.9 can lose a wake-up sent from another thread; re-polling
/// bounds such a loss to this interval instead of a hang.
pub const REPOLL: std::time::Duration = std::time::Duration::from_millis(5);

impl<T> Pending<T> {
    pub async fn wait(self) -> T {
        match self {
            Pending::Ready(v) => v,
            Pending::Log(batch, make) => {
                crate::persist::aof::wait_durable(batch).await;
                make()
            }
            Pending::Remote(mut r) => loop {
                if let Some(v) = crate::util::within(REPOLL, &mut r).await {
                    return v.expect("a shard dropped a reply: the peer executor stopped");
                }
            },
        }
    }
}

/// Sends `f` to shard `target` and returns a handle on its result without
/// waiting, so that batches to several shards travel in parallel. On the
/// caller's own shard `f` runs at once (after taking `lock`, or waiting for
/// the shard to be open).
pub async fn submit<T, F>(origin: &Rc<Shard>, target: usize, tx: TxId, lock: Lock, f: F) -> Pending<T>
where
    F: FnOnce(&Rc<Shard>) -> T + Send + 'static,
    T: Send + 'static,
{
    // A transaction's part: what it propagates waits for the commit.
    use crate::persist::propagate::tagged;
    if target == origin.id {
        origin.gate.take(tx, &lock, origin.gate.ticket()).await;
        return Pending::Ready(tagged(tx, || f(origin)));
    }
    let (s, r) = oneshot::channel();
    let job: Job = Box::new(move |shard| {
        let _ = s.send(tagged(tx, || f(shard)));
    });
    origin.send(target, Msg::Run { tx, lock, job }).await;
    Pending::Remote(r)
}

/// Where a deferred job delivers its result.
pub struct Responder<T>(oneshot::Sender<T>);

impl<T> Responder<T> {
    pub fn send(self, v: T) {
        let _ = self.0.send(v);
    }
}

/// Like [`submit`] for ordinary work (no transaction), but `f` decides when
/// to answer: it may wait on the target shard (for key locks to clear)
/// before calling the responder.
pub async fn submit_deferred<T, F>(origin: &Rc<Shard>, target: usize, f: F) -> Pending<T>
where
    F: FnOnce(&Rc<Shard>, Responder<T>) + Send + 'static,
    T: Send + 'static,
{
    let (s, r) = oneshot::channel();
    if target == origin.id {
        origin.gate.wait_open(0).await;
        f(origin, Responder(s));
    } else {
        let job: Job = Box::new(move |shard| f(shard, Responder(s)));
        origin
            .send(
                target,
                Msg::Run {
                    tx: 0,
                    lock: Lock::None,
                    job,
                },
            )
            .await;
    }
    Pending::Remote(r)
}

/// Runs `job` on `target` as ordinary work (no transaction), in one piece,
/// once `blocked(shard, &job)` no longer holds there — that is, once no
/// cross-shard transaction holds what the job touches. The pipelined
/// batches of a connection, a single-shard EXEC and a script's fast path
/// all go through here.
pub async fn submit_when_free<J, T, B, F>(origin: &Rc<Shard>, target: usize, job: J, blocked: B, run: F) -> Pending<T>
where
    J: Send + 'static,
    T: Send + 'static,
    B: Fn(&Shard, &J) -> bool + Send + 'static,
    F: FnOnce(&Rc<Shard>, J) -> T + Send + 'static,
{
    submit_deferred(origin, target, move |sh, reply| {
        if !blocked(sh, &job) {
            return reply.send(run(sh, job));
        }
        let sh = sh.clone();
        glommio::spawn_local(async move {
            while blocked(&sh, &job) {
                sh.gate.changed().await;
            }
            reply.send(run(&sh, job));
        })
        .detach();
    })
    .await
}

/// [`submit_when_free`] for work that may write the log, waited for at
/// once: what the origin's reply must wait for on `target` (the log's
/// fsync under appendfsync always) comes back with the result and is
/// waited for like the origin's own ([`wait_before_reply`]).
pub async fn run_when_free<J, T, B, F>(origin: &Rc<Shard>, target: usize, job: J, blocked: B, run: F) -> T
where
    J: Send + 'static,
    T: Send + 'static,
    B: Fn(&Shard, &J) -> bool + Send + 'static,
    F: FnOnce(&Rc<Shard>, J) -> T + Send + 'static,
{
    let here = origin.id;
    let (v, acks) = submit_when_free(origin, target, job, blocked, move |sh, j| {
        let v = run(sh, j);
        // Taken here even on the origin: a job that had to wait runs in
        // a task of its own, and another connection could take them.
        let acks = if !has_acks() {
            Vec::new()
        } else if sh.id != here {
            take_acks_for_remote()
        } else {
            take_acks()
        };
        (v, acks)
    })
    .await
    .wait()
    .await;
    for a in acks {
        wait_before_reply(a);
    }
    v
}

/// Runs `f` on `target` without waiting for anything there (no lock is
/// taken or waited for) and without waiting for it here: fire and forget,
/// callable from synchronous code. Posts from one shard to another run in
/// the order they were posted. For work that never touches the keyspace
/// (pub/sub deliveries and registrations). On the caller's own shard `f`
/// runs at once.
pub fn post<F>(origin: &Rc<Shard>, target: usize, f: F)
where
    F: FnOnce(&Rc<Shard>) + Send + 'static,
{
    if target == origin.id {
        return f(origin);
    }
    let msg = Msg::Post(Box::new(f));
    if origin.draining[target].get() {
        origin.outbox.borrow_mut()[target].push_back(msg);
        return;
    }
    match origin.try_send(target, msg) {
        Ok(()) => return,
        Err(msg) => origin.outbox.borrow_mut()[target].push_back(msg),
    }
    // The channel is full: a task sends the rest in order, waiting for
    // room; later posts queue behind it. No borrow of the outbox may be
    // held here: glommio runs a spawned task at once, and it takes one.
    origin.draining[target].set(true);
    let origin = origin.clone();
    glommio::spawn_local(async move {
        loop {
            let next = origin.outbox.borrow_mut()[target].pop_front();
            match next {
                Some(msg) => origin.send(target, msg).await,
                None => break,
            }
        }
        origin.draining[target].set(false);
    })
    .detach();
}

/// Runs `f` on `target` like [`post`] (at once, whatever locks are held)
/// and gives its result.
pub fn call<T, F>(origin: &Rc<Shard>, target: usize, f: F) -> Pending<T>
where
    F: FnOnce(&Rc<Shard>) -> T + Send + 'static,
    T: Send + 'static,
{
    if target == origin.id {
        return Pending::Ready(f(origin));
    }
    let (s, r) = oneshot::channel();
    post(origin, target, move |sh| {
        let _ = s.send(f(sh));
    });
    Pending::Remote(r)
}

thread_local! {
    /// Acknowledgements of [`post_acked`] messages sent by the commands run
    /// since the last [`take_acks`].
    static ACKS: std::cell::RefCell<Vec<Pending<()>>> = const { std::cell::RefCell::new(Vec::new()) };
}

/// [`post`] whose arrival the running command's connection waits for
/// before it replies (see [`take_acks`]): for deliveries a client must have
/// by the time the command that caused them is acknowledged (pub/sub
/// messages, invalidations), as with Redis's single thread.
pub fn post_acked<F>(origin: &Rc<Shard>, target: usize, f: F)
where
    F: FnOnce(&Rc<Shard>) + Send + 'static,
{
    if target == origin.id {
        return f(origin);
    }
    let ack = call(origin, target, f);
    ACKS.with(|a| a.borrow_mut().push(ack));
}

/// Makes the running command's connection wait for `ack` before it
/// replies (the log's fsync under appendfsync always).
pub fn wait_before_reply(ack: Pending<()>) {
    ACKS.with(|a| {
        let mut a = a.borrow_mut();
        // The commands of one batch of the log share its fsync.
        if let (Pending::Log(b, _), Some(Pending::Log(last, _))) = (&ack, a.last()) {
            if b == last {
                return;
            }
        }
        a.push(ack)
    });
}

/// Whether [`post_acked`] messages await acknowledgement.
#[inline]
pub fn has_acks() -> bool {
    ACKS.with(|a| !a.borrow().is_empty())
}

/// Takes the acknowledgements to wait for before replying.
pub fn take_acks() -> Vec<Pending<()>> {
    ACKS.with(|a| std::mem::take(&mut *a.borrow_mut()))
}

/// [`take_acks`] for a connection of another shard: waits on this shard's
/// log become messages.
pub fn take_acks_for_remote() -> Vec<Pending<()>> {
    take_acks()
        .into_iter()
        .map(|p| match p {
            Pending::Log(batch, _) => Pending::Remote(crate::persist::aof::durable_receiver(batch)),
            p => p,
        })
        .collect()
}

/// Forgets acknowledgements already received that nobody took (posts made
/// outside any connection's command: timers, other shards' jobs), so the
/// list stays bounded.
pub fn prune_acks() {
    ACKS.with(|a| {
        a.borrow_mut().retain_mut(|p| match p {
            Pending::Ready(_) => false,
            Pending::Remote(r) => matches!(r.try_recv(), Ok(None)),
            Pending::Log(batch, _) => !crate::persist::aof::is_durable(*batch),
        })
    });
}

/// Runs `f` on every shard with [`call`] and waits for all the results, in
/// shard order.
pub async fn call_all<T, F>(origin: &Rc<Shard>, f: F) -> Vec<T>
where
    F: Fn(&Rc<Shard>) -> T + Send + Clone + 'static,
    T: Send + 'static,
{
    let pending: Vec<Pending<T>> = (0..origin.count).map(|s| call(origin, s, f.clone())).collect();
    let mut out = Vec::with_capacity(pending.len());
    for p in pending {
        out.push(p.wait().await);
    }
    out
}

/// Runs `f` on shard `target` and waits for its result.
pub async fn run_on<T, F>(origin: &Rc<Shard>, target: usize, f: F) -> T
where
    F: FnOnce(&Rc<Shard>) -> T + Send + 'static,
    T: Send + 'static,
{
    run_on_in(origin, 0, target, f).await
}

/// [`run_on`] from inside transaction `tx` (0: none).
pub async fn run_on_in<T, F>(origin: &Rc<Shard>, tx: TxId, target: usize, f: F) -> T
where
    F: FnOnce(&Rc<Shard>) -> T + Send + 'static,
    T: Send + 'static,
{
    submit(origin, target, tx, Lock::None, f).await.wait().await
}

/// Runs `f` on shard `target` and blocks this thread until it answers.
///
/// Only for a transaction `tx` that holds every shard whole (a script in
/// its global mode, which runs synchronously inside Lua): no other
/// transaction can then be waiting on this thread, and `target` runs the job
/// at once, so blocking cannot deadlock. Costs one message and one wake-up
/// each way, like an ordinary hop.
pub fn run_blocking<T, F>(origin: &Rc<Shard>, tx: TxId, target: usize, f: F) -> T
where
    F: FnOnce(&Rc<Shard>) -> T + Send + 'static,
    T: Send + 'static,
{
    use crate::persist::propagate::tagged;
    if target == origin.id {
        return tagged(tx, || f(origin));
    }
    let (s, r) = std::sync::mpsc::sync_channel(1);
    let job: Job = Box::new(move |shard| {
        let _ = s.send(tagged(tx, || f(shard)));
    });
    let mut msg = Msg::Run {
        tx,
        lock: Lock::None,
        job,
    };
    loop {
        match origin.try_send(target, msg) {
            Ok(()) => break,
            Err(back) => {
                // The channel is full: the target drains it on its own thread.
                msg = back;
                std::thread::yield_now();
            }
        }
    }
    loop {
        match r.recv_timeout(REPOLL) {
            Ok(v) => return v,
            Err(std::sync::mpsc::RecvTimeoutError::Timeout) => continue,
            Err(std::sync::mpsc::RecvTimeoutError::Disconnected) => {
                panic!("a shard dropped a reply: the peer executor stopped")
            }
        }
    }
}

/// A cross-shard transaction: ordered locking, per-shard work, release.
pub struct Tx {
    id: TxId,
    origin: Rc<Shard>,
    held: Vec<usize>,
    /// Runs inside an enclosing transaction (EXEC, a script) that already
    /// holds what this one needs: it locks nothing new and releases nothing.
    nested: bool,
    /// The log's tagged-part count at the start (see
    /// `persist::propagate::commit`).
    mark: u64,
}

impl Tx {
    pub fn new(origin: &Rc<Shard>) -> Tx {
        Tx {
            id: origin.new_tx_id(),
            origin: origin.clone(),
            held: Vec::new(),
            nested: false,
            mark: crate::persist::propagate::parts_mark(),
        }
    }

    /// A transaction for work done inside transaction `outer` (0: none, and
    /// then this is [`Tx::new`]). The outer transaction has locked every key
    /// or shard the inner one will ask for, so the inner one shares its id
    /// (locks are re-entrant per id) and leaves the release to it.
    pub fn within(origin: &Rc<Shard>, outer: TxId) -> Tx {
        if outer == 0 {
            return Tx::new(origin);
        }
        Tx {
            id: outer,
            origin: origin.clone(),
            held: Vec::new(),
            nested: true,
            mark: 0,
        }
    }

    pub fn id(&self) -> TxId {
        self.id
    }

    /// Locks the keys `ids` on `target` and runs `f` there. Shards must be
    /// locked in strictly ascending order; running again on a shard already
    /// locked is [`Tx::run`].
    pub async fn lock_keys_run<T, F>(&mut self, target: usize, ids: Vec<KeyId>, f: F) -> T
    where
        F: FnOnce(&Rc<Shard>) -> T + Send + 'static,
        T: Send + 'static,
    {
        self.note_lock(target);
        submit(&self.origin, target, self.id, Lock::Keys(ids), f)
            .await
            .wait()
            .await
    }

    /// Locks the whole shard `target` (for keyspace-wide work).
    pub async fn lock_shard(&mut self, target: usize) {
        self.note_lock(target);
        submit(&self.origin, target, self.id, Lock::Shard, |_| ())
            .await
            .wait()
            .await
    }

    fn note_lock(&mut self, target: usize) {
        if self.nested {
            return;
        }
        assert!(
            self.held.last().map_or(true, |&last| last < target),
            "shards must be locked in ascending order"
        );
        self.held.push(target);
    }

    /// Runs `f` on a shard this transaction already holds.
    pub async fn run<T, F>(&self, target: usize, f: F) -> T
    where
        F: FnOnce(&Rc<Shard>) -> T + Send + 'static,
        T: Send + 'static,
    {
        debug_assert!(self.nested || self.held.contains(&target));
        submit(&self.origin, target, self.id, Lock::None, f).await.wait().await
    }

    /// Releases every shard. Must be called on every path. What the parts
    /// propagated goes to the shards' logs first, while every lock is
    /// still held (`persist::propagate::commit_part`); under `appendfsync
    /// always` the locks go only once every part is on disk, so nothing
    /// that depends on this transaction can be acknowledged before all of
    /// it is durable.
    pub async fn finish(self) {
        if self.nested {
            return;
        }
        if crate::persist::propagate::needs_commit(self.mark) {
            // Which shards hold a part (a read-only transaction may have
            // run beside others that made some: it writes nothing).
            let id = self.id;
            let mut asks = Vec::with_capacity(self.held.len());
            for &s in &self.held {
                asks.push((
                    s,
                    submit(&self.origin, s, id, Lock::None, move |_| {
                        crate::persist::propagate::holds_part(id)
                    })
                    .await,
                ));
            }
            let mut with = Vec::with_capacity(asks.len());
            for (s, p) in asks {
                if p.wait().await {
                    with.push(s);
                }
            }
            let parts = with.len();
            let mut pending = Vec::with_capacity(parts);
            for s in with {
                pending.push(
                    submit(&self.origin, s, self.id, Lock::None, move |_| {
                        crate::persist::propagate::commit_part(id, parts)
                    })
                    .await,
                );
            }
            for p in pending {
                if let Some(ack) = p.wait().await {
                    // Fired by a log writer's thread: look again now and then.
                    let _ = crate::util::repolled(REPOLL, ack).await;
                }
            }
        }
        for &s in &self.held {
            if s == self.origin.id {
                self.origin.gate.release(self.id);
            } else {
                self.origin.send(s, Msg::Release { tx: self.id }).await;
            }
        }
    }
}

/// Runs `f` on every shard (in parallel, no atomicity across shards) and
/// returns the results indexed by shard.
pub async fn broadcast<T, F>(origin: &Rc<Shard>, f: F) -> Vec<T>
where
    F: Fn(&Rc<Shard>) -> T + Send + Clone + 'static,
    T: Send + 'static,
{
    broadcast_in(origin, 0, f).await
}

/// [`broadcast`] from inside transaction `tx` (0: none), which may hold
/// shards whole.
pub async fn broadcast_in<T, F>(origin: &Rc<Shard>, tx: TxId, f: F) -> Vec<T>
where
    F: Fn(&Rc<Shard>) -> T + Send + Clone + 'static,
    T: Send + 'static,
{
    let mut pending = Vec::with_capacity(origin.count);
    for s in 0..origin.count {
        if s == origin.id {
            continue;
        }
        pending.push((s, submit(origin, s, tx, Lock::None, f.clone()).await));
    }
    let mut out: Vec<Option<T>> = (0..origin.count).map(|_| None).collect();
    out[origin.id] = Some(submit(origin, origin.id, tx, Lock::None, f).await.wait().await);
    for (s, p) in pending {
        out[s] = Some(p.wait().await);
    }
    out.into_iter().map(|v| v.expect("every shard answered")).collect()
}

/// Runs `f` on every shard as one atomic step: all shards are locked in
/// order, so no other command observes some shards done and others not.
pub async fn broadcast_locked<T, F>(origin: &Rc<Shard>, f: F) -> Vec<T>
where
    F: Fn(&Rc<Shard>) -> T + Send + Clone + 'static,
    T: Send + 'static,
{
    broadcast_locked_in(origin, 0, f).await
}

/// [`broadcast_locked`] from inside transaction `outer` (0: none).
pub async fn broadcast_locked_in<T, F>(origin: &Rc<Shard>, outer: TxId, f: F) -> Vec<T>
where
    F: Fn(&Rc<Shard>) -> T + Send + Clone + 'static,
    T: Send + 'static,
{
    let mut tx = Tx::within(origin, outer);
    let mut out = Vec::with_capacity(origin.count);
    if origin.count == 1 {
        tx.lock_shard(0).await;
        out.push(tx.run(0, f).await);
    } else {
        // Lock all first, then run in parallel: one hop per shard for the
        // locks (they must be ordered), one parallel round for the work.
        for s in 0..origin.count {
            tx.lock_shard(s).await;
        }
        let mut pending = Vec::with_capacity(origin.count);
        for s in 0..origin.count {
            pending.push(submit(origin, s, tx.id, Lock::None, f.clone()).await);
        }
        for p in pending {
            out.push(p.wait().await);
        }
    }
    tx.finish().await;
    out
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use glommio::channels::shared_channel;

    /// Cross-shard waits re-poll their receivers (see [`REPOLL`]); an idle
    /// receiver polled tens of thousands of times must not pile up wakers
    /// until glommio's task reference count overflows (vendor/glommio
    /// SPINDLE-PATCH.md, third change).
    #[test]
    fn idle_shards_survive_many_repolls() {
        let (tx, rx) = shared_channel::new_bounded::<u32>(4);
        let receiver = glommio::LocalExecutorBuilder::default()
            .spawn(move || async move {
                let rx = rx.connect().await;
                for _ in 0..40_000 {
                    assert!(futures_lite::future::poll_once(rx.recv()).await.is_none());
                }
                rx.recv().await
            })
            .expect("receiver executor");
        let sender = glommio::LocalExecutorBuilder::default()
            .spawn(move || async move {
                let tx = tx.connect().await;
                glommio::timer::sleep(Duration::from_millis(300)).await;
                tx.send(7).await.expect("send");
            })
            .expect("sender executor");
        assert_eq!(receiver.join().expect("receiver"), Some(7));
        sender.join().expect("sender");
    }
}
