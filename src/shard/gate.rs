//! The shard gate: the locks cross-shard transactions hold on a shard.
//!
//! A shard runs one task at a time, so every command that touches only its
//! data is atomic by construction. A command spanning shards locks, on each
//! shard it touches and in ascending shard order, either the keys it uses
//! (intent locks: commands on other keys go on) or, for keyspace-wide work
//! (FLUSHALL, SWAPDB, KEYS...), the whole shard. It runs its per-shard
//! parts and releases everything at the end (strict two-phase locking).
//!
//! Work outside transactions waits while it would touch a locked key or the
//! shard is locked whole. Lock requests are served in arrival order between
//! the two kinds: every request draws a ticket; a whole-shard lock waits for
//! the key locks granted before it, and key requests that arrive after a
//! waiting whole-shard lock queue behind it. Neither kind can starve the
//! other. The single-shard path pays a `Cell` read and an emptiness check.

use std::cell::{Cell, RefCell};
use std::future::poll_fn;
use std::task::{Poll, Waker};

use hashbrown::HashMap;

use super::Lock;

/// Transaction ids: 0 means "no transaction".
pub type TxId = u64;

/// A lock identity for a key: its database and bytes.
pub type KeyId = Vec<u8>;

/// The lock identity of `key` in database `db`.
pub fn key_id(db: usize, key: &[u8]) -> KeyId {
    let mut id = Vec::with_capacity(key.len() + 4);
    id.extend_from_slice(&(db as u32).to_le_bytes());
    id.extend_from_slice(key);
    id
}

#[derive(Default)]
pub struct Gate {
    /// Transaction holding the whole shard.
    holder: Cell<TxId>,
    /// Tickets of whole-shard lock requests still waiting.
    exclusive_waiting: RefCell<Vec<u64>>,
    /// Next ticket: the arrival order of lock requests.
    next_ticket: Cell<u64>,
    /// Locked keys and their transaction.
    keys: RefCell<HashMap<KeyId, TxId>>,
    waiters: RefCell<Vec<Waker>>,
}

impl Gate {
    /// Whether work outside transaction `tx` (0 for none) may run now,
    /// as far as the whole-shard lock goes.
    #[inline]
    pub fn is_open_for(&self, tx: TxId) -> bool {
        let h = self.holder.get();
        h == 0 || h == tx
    }

    /// Whether any key is locked at all (the fast check).
    #[inline]
    pub fn has_key_locks(&self) -> bool {
        !self.keys.borrow().is_empty()
    }

    /// Whether `key` of `db` is locked by a transaction.
    pub fn key_locked(&self, db: usize, key: &[u8]) -> bool {
        let keys = self.keys.borrow();
        !keys.is_empty() && keys.contains_key(&key_id(db, key))
    }

    /// Waits for the next release of any lock on this shard.
    pub async fn changed(&self) {
        let mut registered = false;
        poll_fn(|cx| {
            if registered {
                Poll::Ready(())
            } else {
                registered = true;
                self.waiters.borrow_mut().push(cx.waker().clone());
                Poll::Pending
            }
        })
        .await
    }

    /// Waits until the whole-shard lock is open for `tx`.
    pub async fn wait_open(&self, tx: TxId) {
        while !self.is_open_for(tx) {
            self.changed().await;
        }
    }

    /// A place in the arrival order of lock requests.
    pub fn ticket(&self) -> u64 {
        let t = self.next_ticket.get();
        self.next_ticket.set(t + 1);
        t
    }

    fn exclusive_before(&self, ticket: u64) -> bool {
        self.exclusive_waiting.borrow().iter().any(|&t| t < ticket)
    }

    fn keys_available(&self, tx: TxId, ids: &[KeyId]) -> bool {
        let keys = self.keys.borrow();
        ids.iter().all(|id| keys.get(id).map_or(true, |&t| t == tx))
    }

    /// Whether `tx` already holds every key of `ids` (a re-entrant request
    /// from inside the transaction must not queue behind later arrivals).
    fn all_held_by(&self, tx: TxId, ids: &[KeyId]) -> bool {
        let keys = self.keys.borrow();
        !keys.is_empty() && ids.iter().all(|id| keys.get(id) == Some(&tx))
    }

    /// Locks `ids` for `tx` (a request that drew `ticket`) if none is held
    /// by another transaction, the shard is not locked whole, and no
    /// whole-shard request that arrived earlier is waiting.
    pub fn try_lock_keys(&self, tx: TxId, ids: &[KeyId], ticket: u64) -> bool {
        debug_assert!(tx != 0);
        let h = self.holder.get();
        if h == tx || self.all_held_by(tx, ids) {
            return true;
        }
        if h != 0 || self.exclusive_before(ticket) || !self.keys_available(tx, ids) {
            return false;
        }
        let mut keys = self.keys.borrow_mut();
        for id in ids {
            keys.insert(id.clone(), tx);
        }
        true
    }

    /// Takes `lock` for `tx` now if possible (a request that drew `ticket`);
    /// `Lock::None` only checks that the shard is open for `tx`.
    pub fn try_take(&self, tx: TxId, lock: &Lock, ticket: u64) -> bool {
        match lock {
            Lock::None => self.is_open_for(tx),
            Lock::Keys(ids) => self.try_lock_keys(tx, ids, ticket),
            Lock::Shard => self.try_acquire(tx),
        }
    }

    /// Takes `lock` for `tx`, waiting as needed.
    pub async fn take(&self, tx: TxId, lock: &Lock, ticket: u64) {
        match lock {
            Lock::None => self.wait_open(tx).await,
            Lock::Keys(ids) => self.lock_keys(tx, ids, ticket).await,
            Lock::Shard => self.acquire(tx).await,
        }
    }

    /// Locks `ids` for `tx` (a request that drew `ticket`), waiting as needed.
    async fn lock_keys(&self, tx: TxId, ids: &[KeyId], ticket: u64) {
        while !self.try_lock_keys(tx, ids, ticket) {
            self.changed().await;
        }
    }

    /// Takes the whole shard for `tx` if it is free and no key is locked by
    /// another transaction.
    pub fn try_acquire(&self, tx: TxId) -> bool {
        debug_assert!(tx != 0);
        let h = self.holder.get();
        if h == tx {
            return true;
        }
        if h != 0 || self.keys.borrow().values().any(|&t| t != tx) {
            return false;
        }
        self.holder.set(tx);
        true
    }

    /// Takes the whole shard for `tx`, waiting for the current holder and
    /// for key locks of other transactions to be released.
    pub async fn acquire(&self, tx: TxId) {
        if self.try_acquire(tx) {
            return;
        }
        let ticket = self.ticket();
        self.exclusive_waiting.borrow_mut().push(ticket);
        while !self.try_acquire(tx) {
            self.changed().await;
        }
        self.exclusive_waiting.borrow_mut().retain(|&t| t != ticket);
        // Key requests queued behind this one may now compare against the
        // next waiter; they are woken by this holder's release.
    }

    /// Releases every lock `tx` holds here and wakes everyone waiting.
    pub fn release(&self, tx: TxId) {
        if self.holder.get() == tx {
            self.holder.set(0);
        }
        {
            let mut keys = self.keys.borrow_mut();
            if !keys.is_empty() {
                keys.retain(|_, t| *t != tx);
            }
        }
        let waiters = std::mem::take(&mut *self.waiters.borrow_mut());
        for w in waiters {
            w.wake();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_locks_and_whole_shard_lock_exclude_each_other() {
        let g = Gate::default();
        let a = vec![key_id(0, b"a")];
        let b = vec![key_id(0, b"b")];
        assert!(g.try_lock_keys(1, &a, g.ticket()));
        assert!(g.try_lock_keys(2, &b, g.ticket()));
        assert!(!g.try_lock_keys(2, &a, g.ticket()));
        assert!(g.key_locked(0, b"a"));
        assert!(!g.key_locked(1, b"a"));
        assert!(!g.try_acquire(3));
        g.release(1);
        assert!(!g.try_acquire(3));
        g.release(2);
        assert!(g.try_acquire(3));
        assert!(!g.try_lock_keys(1, &a, g.ticket()));
        assert!(!g.is_open_for(0));
        g.release(3);
        assert!(g.is_open_for(0) && !g.has_key_locks());
    }
}
