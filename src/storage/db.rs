//! One logical database of one shard.
//!
//! Keys are kept in one table per hash slot (see [`super::node`]). That costs one extra
//! indirection per lookup but buys three things: SCAN cursors that are slot
//! numbers and therefore survive any rehashing, an active expiry cycle that
//! skips slots without volatile keys, and (later) slot migration for cluster
//! mode. The per-slot vector is allocated on the first write to the database.

use hashbrown::HashMap;

use super::value::{Entry, Value};
use crate::command::notify::{class, notify};
use crate::shard::slot::{key_slot, SLOTS};

pub use super::node::Table;

pub struct Db {
    /// This database's number (SELECT), for keyspace events.
    pub index: usize,
    /// The hash slots this database holds keys of: `lo..lo + span`. A
    /// shard's databases cover its own slot range only, so an empty table
    /// per slot (36 bytes) is paid once per slot across the process, not
    /// once per shard.
    lo: usize,
    span: usize,
    /// The tables of slots `lo..lo + span` (empty until the first write).
    slots: Vec<Table>,
    /// Number of keys with an expiry, per slot.
    slot_volatile: Vec<u32>,
    keys: usize,
    volatile: usize,
    /// Hashes with field TTLs, by their earliest field expiry (see
    /// [`Db::expire_hash_fields_slice`]).
    hash_ttls: HashTtlRegistry,
    /// The epoch of the latest snapshot walk on this shard: entries stored
    /// now are stamped with it (see [`Entry::snap_epoch`]).
    epoch: u8,
    /// The running snapshot walk over this database, if any.
    walk: Option<WalkMark>,
}

/// Where a snapshot walk over one database stands. It travels with the
/// keys (SWAPDB swaps it along), so a walk always writes a database's
/// contents under the number they had at the cut.
#[derive(Clone, Copy, Debug)]
pub struct WalkMark {
    /// The database number at the cut.
    pub number: usize,
    /// The next table to walk.
    next: usize,
}

/// Before an entry of a database under a snapshot walk changes or leaves:
/// if the walk has not written it yet, it is written now, as it stands
/// (the point-in-time rule). One branch while no walk runs.
#[inline]
fn keep_for_walk(walk: Option<WalkMark>, epoch: u8, key: &[u8], e: &mut Entry) {
    if let Some(m) = walk {
        if e.snap_epoch() != epoch {
            e.set_snap_epoch(epoch);
            crate::persist::walk::keep(m.number, key, e);
        }
    }
}

/// Keys whose hash value has field TTLs, ordered by a lower bound of their
/// earliest field expiry. A key leaves when it is deleted, expires or is
/// overwritten; a filing may still be early (fields persisted, deleted or
/// reclaimed by a command): the reclamation slice checks the key and drops
/// or re-files it. The one rule: a hash with field TTLs is filed at or
/// before its earliest field expiry.
#[derive(Default)]
struct HashTtlRegistry {
    by_time: std::collections::BTreeSet<(u64, Box<[u8]>)>,
    by_key: HashMap<Box<[u8]>, u64>,
}

impl HashTtlRegistry {
    /// Forgets `key` (deleted, or no longer a hash with field TTLs). Costs
    /// one emptiness check while no hash has field TTLs.
    #[inline]
    fn unfile(&mut self, key: &[u8]) {
        if self.by_key.is_empty() {
            return;
        }
        if let Some(at) = self.by_key.remove(key) {
            self.by_time.remove(&(at, Box::from(key)));
        }
    }
}

/// Outcome of one slice of the active expiry cycle.
#[derive(Debug, Default, Clone, Copy)]
pub struct ExpireSlice {
    pub examined: usize,
    pub expired: usize,
    /// Slot to resume from; `None` when the pass reached the last slot.
    pub next: Option<usize>,
}

impl Default for Db {
    fn default() -> Db {
        Db {
            index: 0,
            lo: 0,
            span: SLOTS,
            slots: Vec::new(),
            slot_volatile: Vec::new(),
            keys: 0,
            volatile: 0,
            hash_ttls: HashTtlRegistry::default(),
            epoch: 0,
            walk: None,
        }
    }
}

impl Db {
    pub fn new() -> Db {
        Db::default()
    }

    /// A database numbered `index` holding keys of slots `lo..lo + span`
    /// (a shard's own range; a key outside it widens the database to all
    /// slots rather than fail).
    pub fn with_range(index: usize, lo: usize, span: usize) -> Db {
        Db {
            index,
            lo,
            span,
            ..Db::default()
        }
    }

    /// The table index of `slot`, if its table exists.
    #[inline]
    fn idx(&self, slot: usize) -> Option<usize> {
        slot.checked_sub(self.lo).filter(|&i| i < self.slots.len())
    }

    /// Makes the database cover every slot (a key from outside its range
    /// arrived).
    #[cold]
    fn widen(&mut self) {
        let mut slots: Vec<Table> = (0..SLOTS).map(|_| Table::default()).collect();
        let mut volatile = vec![0; SLOTS];
        for (i, t) in std::mem::take(&mut self.slots).into_iter().enumerate() {
            slots[self.lo + i] = t;
            volatile[self.lo + i] = self.slot_volatile[i];
        }
        self.slots = slots;
        self.slot_volatile = volatile;
        self.lo = 0;
        self.span = SLOTS;
    }

    /// A database numbered `index` (keyspace events name it).
    pub fn with_index(index: usize) -> Db {
        Db { index, ..Db::default() }
    }

    #[inline]
    pub fn len(&self) -> usize {
        self.keys
    }

    /// Bytes of this database's key tables (the per-slot vector, the hash
    /// tables' bucket arrays and each key's node header, as Redis counts
    /// its dict entries) and of its expiry bookkeeping (per-slot counts;
    /// expiry times live in the entries), for MEMORY STATS.
    pub fn table_bytes(&self) -> (usize, usize) {
        let bucket = std::mem::size_of::<super::node::Node>() + 1;
        let tables: usize = self.slots.iter().map(|t| t.capacity() * bucket).sum();
        let nodes = self.keys * super::node::HEADER_BYTES;
        let main = self.slots.capacity() * std::mem::size_of::<Table>() + tables + nodes;
        (main, self.slot_volatile.capacity() * 4)
    }

    #[inline]
    pub fn is_empty(&self) -> bool {
        self.keys == 0
    }

    #[inline]
    pub fn volatile(&self) -> usize {
        self.volatile
    }

    fn ensure_slots(&mut self) {
        if self.slots.is_empty() {
            self.slots = (0..self.span).map(|_| Table::default()).collect();
            self.slot_volatile = vec![0; self.span];
        }
    }

    /// Finds a live key; an expired one is deleted on the spot (raising
    /// `expired`) and reported as absent.
    #[inline]
    pub fn lookup(&mut self, key: &[u8], now_ms: u64) -> Option<&mut Entry> {
        self.lookup_slot(key_slot(key), key, now_ms)
    }

    pub fn lookup_slot(&mut self, slot: u16, key: &[u8], now_ms: u64) -> Option<&mut Entry> {
        if self.keys == 0 {
            return None;
        }
        let slot = self.idx(slot as usize)?;
        let (walk, epoch) = (self.walk, self.epoch);
        let table = &mut self.slots[slot];
        match table.find_entry(key) {
            None => None,
            Some(o) => {
                if o.get().is_expired(now_ms) {
                    if EXPIRY_PAUSED.with(|c| c.get()) {
                        // CLIENT PAUSE: logically gone, deleted later.
                        return None;
                    }
                    let mut gone = o.remove();
                    keep_for_walk(walk, epoch, key, &mut gone);
                    crate::shard::tracking::key_expired(key);
                    crate::shard::blocking::key_expired(self.index, key);
                    self.hash_ttls.unfile(key);
                    self.keys -= 1;
                    self.volatile -= 1;
                    self.slot_volatile[slot] -= 1;
                    EXPIRED_LAZILY.with(|c| c.set(c.get() + 1));
                    notify(class::EXPIRED, "expired", self.index, key);
                    crate::persist::propagate::deleted(self.index, key);
                    None
                } else {
                    let e = o.into_mut();
                    if walk.is_some() && !crate::persist::walk::reading() {
                        keep_for_walk(walk, epoch, key, e);
                    }
                    Some(e)
                }
            }
        }
    }

    /// The entry of `key`, expired or not, without touching anything.
    pub fn peek(&self, key: &[u8]) -> Option<&Entry> {
        if self.keys == 0 {
            return None;
        }
        self.slots[self.idx(key_slot(key) as usize)?].get(key)
    }

    /// Whether a live key exists (deleting it if it has expired).
    pub fn contains(&mut self, key: &[u8], now_ms: u64) -> bool {
        self.lookup(key, now_ms).is_some()
    }

    /// Stores `value` under `key` with the given expiry (0 = none), replacing
    /// any previous value and expiry. Returns the previous entry. A key that
    /// did not exist raises `new` (as Redis's dbAdd does).
    #[inline]
    pub fn insert(&mut self, key: &[u8], value: Value, expire_at: u64, clock: u32) -> Option<Entry> {
        let old = self.insert_silent(key, value, expire_at, clock);
        if old.is_none() {
            notify(class::NEW, "new", self.index, key);
        }
        old
    }

    /// Puts back a recorded entry (None: the key absent) without raising
    /// events: an undo log, a cross-shard write-back, a borrowed entry
    /// returned.
    pub fn put_silent(&mut self, key: &[u8], entry: Option<Entry>) {
        match entry {
            Some(e) => {
                self.insert_entry_silent(key, e);
            }
            None => {
                self.remove(key);
            }
        }
    }

    /// [`Db::insert`] without the `new` event: for entries that only move
    /// (a cross-shard write-back, a scratch keyspace being filled), whose
    /// events the command already raised.
    pub fn insert_silent(&mut self, key: &[u8], value: Value, expire_at: u64, clock: u32) -> Option<Entry> {
        let entry = Entry {
            value,
            expire_at,
            access: clock,
            lfu: crate::shard::evict::lfu_new(clock),
        };
        self.insert_entry_silent(key, entry)
    }

    /// [`Db::insert_silent`] of a whole entry, its access history included.
    pub fn insert_entry_silent(&mut self, key: &[u8], mut entry: Entry) -> Option<Entry> {
        self.ensure_slots();
        // Stored after the cut: not part of a running walk's snapshot.
        entry.set_snap_epoch(self.epoch);
        let slot = match self.idx(key_slot(key) as usize) {
            Some(i) => i,
            None => {
                self.widen();
                key_slot(key) as usize
            }
        };
        let expire_at = entry.expire_at;
        // A hash arriving whole (RENAME, COPY, MOVE, a gathered write-back)
        // brings its field TTLs along.
        let hash_min = match &entry.value {
            Value::Hash(h) => h.min_expire(),
            _ => None,
        };
        let table = &mut self.slots[slot];
        let mut old = table.insert(key, entry);
        if let Some(o) = old.as_mut() {
            keep_for_walk(self.walk, self.epoch, key, o);
        }
        match &old {
            Some(o) => {
                if o.expire_at != 0 {
                    self.volatile -= 1;
                    self.slot_volatile[slot] -= 1;
                }
            }
            None => self.keys += 1,
        }
        if expire_at != 0 {
            self.volatile += 1;
            self.slot_volatile[slot] += 1;
        }
        match hash_min {
            Some(at) => self.note_hash_ttl(key, at),
            // Only a replaced hash can have been filed: a SET over a string
            // never pays a registry lookup.
            None if matches!(&old, Some(o) if matches!(o.value, Value::Hash(_))) => self.hash_ttls.unfile(key),
            None => {}
        }
        old
    }

    /// Files `key` (a hash with field TTLs) for active reclamation at `at`,
    /// its earliest field expiry, unless it is filed earlier already.
    pub fn note_hash_ttl(&mut self, key: &[u8], at: u64) {
        let r = &mut self.hash_ttls;
        if let Some(&cur) = r.by_key.get(key) {
            if cur <= at {
                return;
            }
            r.by_time.remove(&(cur, Box::from(key)));
        }
        r.by_key.insert(key.into(), at);
        r.by_time.insert((at, key.into()));
    }

    /// Number of keys filed as hashes with field TTLs (an upper bound).
    pub fn hash_ttl_keys(&self) -> usize {
        self.hash_ttls.by_key.len()
    }

    /// One bounded slice of active field expiry: for hashes filed with an
    /// earliest expiry before `now`, deletes their expired fields (a hash
    /// left empty is deleted), at most `budget` fields in all. Returns the
    /// number of fields removed.
    pub fn expire_hash_fields_slice(&mut self, now: u64, budget: usize) -> usize {
        let mut removed = 0;
        while removed < budget {
            let key = match self.hash_ttls.by_time.first() {
                Some((at, k)) if *at < now => k.clone(),
                _ => break,
            };
            let at = self.hash_ttls.by_key.remove(&key).unwrap_or(0);
            self.hash_ttls.by_time.remove(&(at, key.clone()));
            let (gone, empty, next) = match self.lookup(&key, now) {
                Some(Entry {
                    value: Value::Hash(h), ..
                }) => {
                    let n = h.expire_due(now, budget - removed);
                    (n, h.is_empty(), h.min_expire())
                }
                _ => continue,
            };
            removed += gone;
            if gone > 0 {
                notify(class::HASH, "hexpired", self.index, &key);
            }
            if empty {
                self.remove(&key);
                notify(class::GENERIC, "del", self.index, &key);
            } else if let Some(at) = next {
                self.note_hash_ttl(&key, at);
            }
        }
        removed
    }

    /// Removes a key, live or expired. Returns the removed entry.
    pub fn remove(&mut self, key: &[u8]) -> Option<Entry> {
        if self.keys == 0 {
            return None;
        }
        let slot = self.idx(key_slot(key) as usize)?;
        let mut old = self.slots[slot].remove(key)?;
        keep_for_walk(self.walk, self.epoch, key, &mut old);
        release_if_empty(&mut self.slots[slot]);
        self.hash_ttls.unfile(key);
        self.keys -= 1;
        if old.expire_at != 0 {
            self.volatile -= 1;
            self.slot_volatile[slot] -= 1;
        }
        Some(old)
    }

    /// Removes a live key; an expired one counts as absent.
    pub fn remove_live(&mut self, key: &[u8], now_ms: u64) -> Option<Entry> {
        if EXPIRY_PAUSED.with(|c| c.get())
            && self
                .idx(key_slot(key) as usize)
                .and_then(|i| self.slots[i].get(key))
                .is_some_and(|e| e.is_expired(now_ms))
        {
            return None;
        }
        let e = self.remove(key)?;
        if e.is_expired(now_ms) {
            EXPIRED_LAZILY.with(|c| c.set(c.get() + 1));
            notify(class::EXPIRED, "expired", self.index, key);
            crate::persist::propagate::deleted(self.index, key);
            crate::shard::tracking::key_expired(key);
            crate::shard::blocking::key_expired(self.index, key);
            None
        } else {
            Some(e)
        }
    }

    /// Sets or clears (`at` = 0) the expiry of an existing key. Returns false
    /// when the key does not exist.
    pub fn set_expire(&mut self, key: &[u8], at: u64) -> bool {
        if self.keys == 0 {
            return false;
        }
        let Some(slot) = self.idx(key_slot(key) as usize) else {
            return false;
        };
        let Some(e) = self.slots[slot].get_mut(key) else {
            return false;
        };
        keep_for_walk(self.walk, self.epoch, key, e);
        let was = e.expire_at != 0;
        e.expire_at = at;
        match (was, at != 0) {
            (false, true) => {
                self.volatile += 1;
                self.slot_volatile[slot] += 1;
            }
            (true, false) => {
                self.volatile -= 1;
                self.slot_volatile[slot] -= 1;
            }
            _ => {}
        }
        true
    }

    /// An empty database numbered like this one, with its slot tables in
    /// place if this one had them: a database in use keeps its fixed cost
    /// across a flush, so the first write after it does not allocate the
    /// tables (and make used_memory jump) again.
    pub fn emptied(&self) -> Db {
        let mut db = Db::with_range(self.index, self.lo, self.span);
        db.epoch = self.epoch;
        if !self.slots.is_empty() {
            db.ensure_slots();
        }
        db
    }

    /// Allocates the slot tables now (they are otherwise allocated on the
    /// database's first write).
    pub fn prepare(&mut self) {
        self.ensure_slots();
    }

    /// Drops every key (a walk still writing them takes them over).
    pub fn clear(&mut self) {
        let old = std::mem::replace(self, self.emptied());
        if old.walk.is_some() {
            crate::persist::walk::adopt(old);
        }
    }

    /// Starts a snapshot walk at `epoch` (a number no entry of this shard
    /// carries yet): every entry now stored is to be written once, by the
    /// walk ([`Db::walk_next`]) or before it changes.
    pub fn begin_walk(&mut self, epoch: u8) {
        self.epoch = epoch;
        self.walk = (self.keys > 0).then_some(WalkMark {
            number: self.index,
            next: 0,
        });
    }

    /// Writes `key`'s entry for a running snapshot walk now, if it was
    /// not written yet: for a read-only command about to change it in
    /// place (a hash read reclaiming expired fields). One branch while no
    /// walk runs.
    #[inline]
    pub fn keep_for_walk(&mut self, key: &[u8]) {
        if self.walk.is_none() {
            return;
        }
        let (walk, epoch) = (self.walk, self.epoch);
        if let Some(i) = self.idx(key_slot(key) as usize) {
            if let Some(e) = self.slots[i].get_mut(key) {
                keep_for_walk(walk, epoch, key, e);
            }
        }
    }

    /// The running walk's mark, if a walk has entries of this database
    /// still to write.
    pub fn walk_mark(&self) -> Option<WalkMark> {
        self.walk
    }

    /// Walks on: hands `f` each entry not yet written, table by table,
    /// until it handed out `max_entries` entries or `f` reported
    /// `max_cost` (its return values summed), stopping inside a table if
    /// need be. Returns whether the walk over this database is finished.
    pub fn walk_next(
        &mut self,
        max_entries: usize,
        max_cost: usize,
        mut f: impl FnMut(&[u8], &Entry) -> usize,
    ) -> bool {
        let Some(mut mark) = self.walk else {
            return true;
        };
        let epoch = self.epoch;
        // Only entries handed out count against the limits (written ones
        // met again in a table left midway do not), so every call makes
        // progress; `tables` bounds a run over empty tables.
        let (mut taken, mut cost, mut tables) = (0, 0, 0);
        while mark.next < self.slots.len() && taken < max_entries && cost < max_cost && tables < 1024 {
            let table = &mut self.slots[mark.next];
            let mut whole = true;
            table.retain(|k, e| {
                if e.snap_epoch() != epoch {
                    if taken >= max_entries || cost >= max_cost {
                        // A big table is left midway: the next call looks
                        // at it again and skips what was written.
                        whole = false;
                        return true;
                    }
                    e.set_snap_epoch(epoch);
                    cost += f(k, e);
                    taken += 1;
                }
                true
            });
            tables += 1;
            if whole {
                mark.next += 1;
            }
        }
        let done = mark.next >= self.slots.len();
        self.walk = (!done).then_some(mark);
        done
    }

    /// Calls `f` for every live key of `slot`.
    pub fn for_each_in_slot(&self, slot: usize, now_ms: u64, mut f: impl FnMut(&[u8], &Entry)) {
        if let Some(t) = self.idx(slot).map(|i| &self.slots[i]) {
            for (k, e) in t.iter() {
                if !e.is_expired(now_ms) {
                    f(k, e);
                }
            }
        }
    }

    /// Deletes the expired keys of slots `from..to` that `keep` selects,
    /// raising `expired` for each: what SCAN does to the keys it meets, as
    /// Redis's does. Returns how many.
    pub fn reap_expired(&mut self, from: usize, to: usize, now_ms: u64, keep: impl Fn(&[u8]) -> bool) -> usize {
        if self.volatile == 0 || self.slots.is_empty() || EXPIRY_PAUSED.with(|c| c.get()) {
            return 0;
        }
        let mut n = 0;
        let end = to.min(SLOTS).saturating_sub(self.lo).min(self.slots.len());
        for slot in from.saturating_sub(self.lo)..end {
            if self.slot_volatile[slot] == 0 {
                continue;
            }
            let gone: Vec<Box<[u8]>> = self.slots[slot]
                .iter()
                .filter(|(k, e)| e.is_expired(now_ms) && keep(k))
                .map(|(k, _)| Box::from(k))
                .collect();
            for k in gone {
                self.remove(&k);
                crate::shard::tracking::key_expired(&k);
                crate::shard::blocking::key_expired(self.index, &k);
                EXPIRED_LAZILY.with(|c| c.set(c.get() + 1));
                notify(class::EXPIRED, "expired", self.index, &k);
                crate::persist::propagate::deleted(self.index, &k);
                n += 1;
            }
        }
        n
    }

    /// One bounded slice of the active expiry cycle: walks slots from
    /// `start`, deleting expired keys, until `max_examined` entries were
    /// looked at or the last slot was done. Slots without volatile keys are
    /// skipped without being touched.
    pub fn expire_slice(&mut self, start: usize, now_ms: u64, max_examined: usize) -> ExpireSlice {
        let mut out = ExpireSlice::default();
        if self.volatile == 0 || self.slots.is_empty() {
            return out;
        }
        let mut slot = start.saturating_sub(self.lo);
        let len = self.slots.len();
        while slot < len {
            if self.slot_volatile[slot] > 0 {
                let table = &mut self.slots[slot];
                out.examined += table.len();
                let before = table.len();
                let filed = &mut self.hash_ttls;
                let index = self.index;
                let (walk, epoch) = (self.walk, self.epoch);
                table.retain(|k, e| {
                    let keep = !e.is_expired(now_ms);
                    if !keep {
                        keep_for_walk(walk, epoch, k, e);
                        filed.unfile(k);
                        notify(class::EXPIRED, "expired", index, k);
                        crate::persist::propagate::deleted(index, k);
                        crate::shard::tracking::key_expired(k);
                        crate::shard::blocking::key_expired(index, k);
                    }
                    keep
                });
                let gone = before - table.len();
                release_if_empty(table);
                if gone > 0 {
                    out.expired += gone;
                    self.keys -= gone;
                    self.volatile -= gone;
                    self.slot_volatile[slot] -= gone as u32;
                }
                if out.examined >= max_examined {
                    out.next = if slot + 1 < len { Some(self.lo + slot + 1) } else { None };
                    return out;
                }
            }
            slot += 1;
        }
        out
    }

    /// Calls `f` with up to `n` keys taken from random places, for
    /// eviction: one key from each non-empty slot (only volatile keys when
    /// `volatile_only`) walking on from a random slot, at most one lap. Keys
    /// land in slots by CRC16, so neighbouring slots hold unrelated keys.
    pub fn sample(&self, n: usize, volatile_only: bool, r: u64, mut f: impl FnMut(&[u8], &Entry)) {
        if self.slots.is_empty() || self.keys == 0 || (volatile_only && self.volatile == 0) {
            return;
        }
        let len = self.slots.len();
        let start = (r % len as u64) as usize;
        let mut pick = r >> 14;
        let mut taken = 0;
        for i in 0..len {
            let slot = (start + i) % len;
            let table = &self.slots[slot];
            if table.is_empty() || (volatile_only && self.slot_volatile[slot] == 0) {
                continue;
            }
            let len = if volatile_only {
                self.slot_volatile[slot] as usize
            } else {
                table.len()
            };
            let nth = (pick % len as u64) as usize;
            pick = pick.rotate_right(7) ^ (slot as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15);
            // Without the volatile filter only the chosen node is read:
            // skipping buckets does not touch the nodes they point to.
            let chosen = if volatile_only {
                table.iter().filter(|(_, e)| e.expire_at != 0).nth(nth)
            } else {
                table.nth(nth)
            };
            if let Some((k, e)) = chosen {
                f(k, e);
                taken += 1;
                if taken >= n {
                    return;
                }
            }
        }
    }

    /// A uniformly chosen slot (among non-empty ones, weighted by size) and
    /// an element in it, for RANDOMKEY. `r` is a random number.
    pub fn random_key(&self, mut r: u64) -> Option<&[u8]> {
        if self.keys == 0 {
            return None;
        }
        // Pick the n-th key across slots: O(slots + slot size), fine for a
        // command Redis also documents as O(1) only on average.
        let mut n = (r % self.keys as u64) as usize;
        for t in &self.slots {
            if n < t.len() {
                r = n as u64;
                return t.nth(r as usize).map(|(k, _)| k);
            }
            n -= t.len();
        }
        None
    }
}

/// Keeps a slot table dense after deletions. A table never shrinks on its
/// own, and under steady insert/delete churn (a full cache evicting) it
/// grows past its keys: a slot's key count wanders above the capacity of
/// its bucket array and back, and deleted-slot markers use up room. A
/// table its last key left is freed; one under half full is rebuilt to
/// fit its keys. Resizing moves node pointers without reading the nodes
/// (see `node.rs`), so this costs little. Measured with bench/cache (LRU,
/// 256 MB): 682 bytes of used_memory per key held with rebuilds under a
/// third full, 678 with this rule (Redis 7.0: 677).
#[inline]
fn release_if_empty(table: &mut Table) {
    let (len, cap) = (table.len(), table.capacity());
    if len == 0 {
        if cap > 0 {
            *table = Table::default();
        }
    } else if cap > 8 && len * 2 < cap {
        table.shrink_to(len);
    }
}

thread_local! {
    /// Keys deleted by a lazy expiry check on this thread, drained into the
    /// shard's stats (a thread is a shard, so this is shard-local state).
    pub static EXPIRED_LAZILY: std::cell::Cell<u64> = const { std::cell::Cell::new(0) };
    /// Set while CLIENT PAUSE holds writes on this thread's shard: expired
    /// keys read as absent but are not deleted (as in Redis).
    pub static EXPIRY_PAUSED: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_ranged_database_holds_its_slots_and_widens_for_others() {
        let (a, b) = (b"a".as_slice(), b"b".as_slice());
        let (sa, sb) = (key_slot(a) as usize, key_slot(b) as usize);
        let mut db = Db::with_range(0, sa, 1);
        db.insert(a, Value::Int(1), 5, 0);
        assert_eq!(db.slots.len(), 1);
        let mut seen = Vec::new();
        db.for_each_in_slot(sa, 0, |k, _| seen.push(k.to_vec()));
        assert_eq!(seen, vec![a.to_vec()]);
        assert!(db.peek(b).is_none() && db.remove(b).is_none() && !db.set_expire(b, 9));
        let s = db.expire_slice(0, 10, 100);
        assert_eq!((s.expired, s.next), (1, None));
        db.insert(b, Value::Int(2), 0, 0);
        assert_eq!(db.slots.len(), SLOTS);
        assert_eq!(db.lookup(b, 0).unwrap().value, Value::Int(2));
        let mut seen = Vec::new();
        db.for_each_in_slot(sb, 0, |k, _| seen.push(k.to_vec()));
        assert_eq!(seen, vec![b.to_vec()]);
        assert_eq!(db.emptied().span, SLOTS);
    }

    #[test]
    fn insert_lookup_expire() {
        let mut db = Db::new();
        assert!(db.insert(b"a", Value::Int(1), 0, 0).is_none());
        assert!(db.insert(b"b", Value::Int(2), 100, 0).is_none());
        assert_eq!(db.len(), 2);
        assert_eq!(db.volatile(), 1);
        assert!(db.lookup(b"b", 99).is_some());
        assert!(db.lookup(b"b", 100).is_none());
        assert_eq!(db.len(), 1);
        assert_eq!(db.volatile(), 0);
        assert!(db.set_expire(b"a", 50));
        assert_eq!(db.volatile(), 1);
        let old = db.insert(b"a", Value::Int(3), 0, 0).unwrap();
        assert_eq!(old.expire_at(), 50);
        assert_eq!(db.volatile(), 0);
    }

    /// The events raised on this thread while `f` runs, as (db, name, key).
    fn events(f: impl FnOnce()) -> Vec<(usize, &'static str, Vec<u8>)> {
        use crate::command::notify;
        notify::set_flags(notify::parse("KEAn").unwrap());
        drop(notify::take());
        f();
        let evs = notify::take().into_iter().map(|e| (e.db, e.name, e.key)).collect();
        notify::set_flags(0);
        evs
    }

    #[test]
    fn new_keys_and_expiries_raise_their_events() {
        let mut db = Db::with_index(3);
        let evs = events(|| {
            db.insert(b"a", Value::Int(1), 0, 0);
            db.insert(b"a", Value::Int(2), 0, 0);
            db.insert_silent(b"b", Value::Int(1), 100, 0);
            assert!(db.lookup(b"b", 100).is_none());
            db.insert(b"c", Value::Int(1), 100, 0);
            assert!(db.remove_live(b"c", 200).is_none());
            db.insert_silent(b"d", Value::Int(1), 100, 0);
            db.expire_slice(0, 200, 1000);
        });
        let want: Vec<(usize, &str, Vec<u8>)> = vec![
            (3, "new", b"a".to_vec()),
            (3, "expired", b"b".to_vec()),
            (3, "new", b"c".to_vec()),
            (3, "expired", b"c".to_vec()),
            (3, "expired", b"d".to_vec()),
        ];
        assert_eq!(evs, want);
    }

    #[test]
    fn reclaimed_hash_fields_raise_hexpired_then_del() {
        let mut db = Db::with_index(0);
        let mut h = crate::storage::hash::Hash::default();
        let lim = crate::config::Limits::default();
        h.set(b"f", b"1", false, &lim);
        h.set(b"g", b"1", false, &lim);
        h.set_ttl(b"f", 10);
        h.set_ttl(b"g", 20);
        db.insert_silent(b"h", Value::Hash(Box::new(h)), 0, 0);
        let evs = events(|| {
            db.expire_hash_fields_slice(15, 100);
            db.expire_hash_fields_slice(25, 100);
        });
        let names: Vec<&str> = evs.iter().map(|e| e.1).collect();
        assert_eq!(names, ["hexpired", "hexpired", "del"]);
        assert!(db.is_empty());
    }

    #[test]
    fn swapped_databases_keep_their_numbers() {
        let mut ks = crate::storage::Keyspace::new(4);
        ks.swap(1, 3);
        assert_eq!(ks.dbs.iter().map(|d| d.index).collect::<Vec<_>>(), [0, 1, 2, 3]);
    }

    #[test]
    fn active_expiry_reclaims_untouched_keys() {
        let mut db = Db::new();
        for i in 0..20_000 {
            db.insert(format!("k{i}").as_bytes(), Value::Int(i), 10, 0);
        }
        db.insert(b"keep", Value::Int(0), 0, 0);
        let mut start = 0;
        loop {
            let s = db.expire_slice(start, 11, 1000);
            match s.next {
                Some(n) => start = n,
                None => break,
            }
        }
        assert_eq!(db.len(), 1);
        assert_eq!(db.volatile(), 0);
    }
}
