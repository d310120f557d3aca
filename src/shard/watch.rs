//! WATCH: which clients watch which keys of this shard.
//!
//! A client's WATCH shares one [`WatchFlag`] among all the keys it watches;
//! each key's shard files that flag under the key. Whatever changes a
//! watched key (a write command, a blocked client served from it, a
//! cross-shard write-back, FLUSHDB, SWAPDB) sets the flag, and EXEC, which
//! checks it under the locks of every watched key, then fails. The flag is
//! the only thing shared between shards here; it is written by the key's
//! shard and read by the client's.
//!
//! Nobody deregisters: a client drops its flag (UNWATCH, EXEC, DISCARD,
//! disconnection) and the shard forgets flags it alone still holds when it
//! next meets them or at the housekeeping tick.
//!
//! A write command touches a watched key only if the key's value or expiry
//! differs afterwards (compared only when the key is watched), so failed
//! conditional writes (SET NX on an existing key, DEL of a missing one) do
//! not fail a transaction, as in Redis. Rewriting a key with an identical
//! value and expiry is the one case Redis counts and Spindle does not.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use hashbrown::{Equivalent, HashMap};

use crate::storage::{Entry, Keyspace, Value};

/// A borrowed (db, key), to look the map up without building an owned key.
/// Hashes exactly as `(usize, Vec<u8>)` does.
#[derive(Hash)]
struct KeyRef<'a>(usize, &'a [u8]);

impl Equivalent<(usize, Vec<u8>)> for KeyRef<'_> {
    fn equivalent(&self, k: &(usize, Vec<u8>)) -> bool {
        self.0 == k.0 && self.1 == k.1.as_slice()
    }
}

/// Set when a watched key changed; one per client WATCH session.
#[derive(Debug, Default)]
pub struct WatchFlag {
    dirty: AtomicBool,
}

impl WatchFlag {
    pub fn is_dirty(&self) -> bool {
        self.dirty.load(Ordering::Acquire)
    }

    fn set(&self) {
        self.dirty.store(true, Ordering::Release);
    }
}

/// The watched keys of one shard: (db, key) → flags of the clients
/// watching it.
#[derive(Default)]
pub struct Watches {
    keys: HashMap<(usize, Vec<u8>), Vec<Arc<WatchFlag>>>,
}

/// A watched key's state before a write, to tell whether the write changed it.
pub type Snapshot = Vec<(usize, Vec<u8>, Option<(Value, u64)>)>;

impl Watches {
    #[inline]
    pub fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }

    pub fn add(&mut self, db: usize, key: &[u8], flag: &Arc<WatchFlag>) {
        let v = self.keys.entry((db, key.to_vec())).or_default();
        v.retain(|f| Arc::strong_count(f) > 1);
        if !v.iter().any(|f| Arc::ptr_eq(f, flag)) {
            v.push(flag.clone());
        }
    }

    pub fn is_watched(&self, db: usize, key: &[u8]) -> bool {
        !self.keys.is_empty() && self.keys.contains_key(&KeyRef(db, key))
    }

    /// Marks every client watching `key` of `db` (and forgets the ones gone).
    pub fn touch(&mut self, db: usize, key: &[u8]) {
        if self.keys.is_empty() {
            return;
        }
        if let Some(v) = self.keys.remove(&KeyRef(db, key)) {
            for f in &v {
                f.set();
            }
            // A dirty flag stays dirty: nothing more to learn from this key
            // until someone watches it again.
        }
    }

    /// Marks the watchers of every key of `db` for which `changed` holds.
    pub fn touch_where(&mut self, mut changed: impl FnMut(usize, &[u8]) -> bool) {
        self.keys.retain(|(db, key), flags| {
            if changed(*db, key) {
                for f in flags.iter() {
                    f.set();
                }
                false
            } else {
                true
            }
        });
    }

    /// Forgets flags no client holds any more.
    pub fn prune(&mut self) {
        self.keys.retain(|_, v| {
            v.retain(|f| Arc::strong_count(f) > 1);
            !v.is_empty()
        });
    }

    /// The watched keys among `keys` (in `db`, or in every database when
    /// `all_dbs`) with their current state.
    pub fn snapshot<'k>(
        &self,
        ks: &mut Keyspace,
        db: usize,
        keys: impl Iterator<Item = &'k [u8]>,
        all_dbs: bool,
        now_ms: u64,
    ) -> Snapshot {
        let mut snap = Vec::new();
        for key in keys {
            let dbs = if all_dbs { 0..ks.dbs.len() } else { db..db + 1 };
            for d in dbs {
                if self.is_watched(d, key) {
                    let state = state_of(ks, d, key, now_ms);
                    snap.push((d, key.to_vec(), state));
                }
            }
        }
        snap
    }

    /// Touches the keys of `snap` whose state changed.
    pub fn touch_changed(&mut self, ks: &mut Keyspace, snap: Snapshot, now_ms: u64) {
        for (db, key, before) in snap {
            if state_of(ks, db, &key, now_ms) != before {
                self.touch(db, &key);
            }
        }
    }
}

/// A key's logical state: value and expiry, or None when missing or expired.
pub fn state_of(ks: &mut Keyspace, db: usize, key: &[u8], now_ms: u64) -> Option<(Value, u64)> {
    ks.dbs[db]
        .lookup(key, now_ms)
        .map(|e: &mut Entry| (e.value.clone(), e.expire_at()))
}

/// Whether `key` of `db` exists (not expired) now.
pub fn exists(ks: &mut Keyspace, db: usize, key: &[u8], now_ms: u64) -> bool {
    ks.dbs[db].lookup(key, now_ms).is_some()
}
