//! The snapshot walk: how a shard writes its keys as they stood at the cut
//! while it keeps serving (no fork, no copy of the data set).
//!
//! At the cut (all shards locked for a moment) each shard raises its
//! snapshot epoch and marks its databases ([`Db::begin_walk`]). From then
//! on an entry whose epoch differs from its database's has not been
//! written yet. It gets written exactly once, whichever comes first:
//! - the walk reaches it: the file writer asks each shard in turn for its
//!   next slice ([`step`]), a bounded number of entries, so a shard never
//!   stops serving for long;
//! - it is about to change or leave (a write command, expiry, eviction,
//!   a flush): `Db` calls [`keep`] first, which serializes it as it stands
//!   into this shard's early buffer, drained by the next slice.
//!
//! Entries stored after the cut carry the new epoch and are never written.
//! Read-only commands do not write entries early ([`reading`]): only what
//! changes costs memory, and only once per entry.
//!
//! A flushed database under a walk is adopted by it ([`adopt`]) and
//! written from there, then freed off the shard. Every slice begins with
//! a `SELECTDB`, so slices of all shards can follow one another in the
//! file in any order.
//!
//! Entries are written as RDB records ([`super::rdb_write`]) or, for an
//! AOF base in command form, as the commands that rebuild them
//! ([`super::aof_base`]), as [`Form`] says.

use std::cell::{Cell, RefCell};
use std::rc::Rc;

use super::rdb_write::{self, WriteOpts};
use crate::shard::Shard;
use crate::storage::{Db, Entry};

/// How a walk writes its entries.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Form {
    /// RDB records (a snapshot, an AOF base with the RDB preamble).
    Rdb,
    /// RESP commands (an AOF base with `aof-use-rdb-preamble no`).
    Commands,
}

impl Form {
    /// Switches to database `number` (`SELECTDB` / `SELECT`).
    fn select_db(self, out: &mut Vec<u8>, number: usize) {
        match self {
            Form::Rdb => rdb_write::select_db(out, number),
            Form::Commands => super::aof_base::select_db(out, number),
        }
    }

    /// Writes one entry.
    fn key(self, out: &mut Vec<u8>, key: &[u8], e: &Entry, opts: &WriteOpts) {
        match self {
            Form::Rdb => rdb_write::key(out, key, e, opts),
            Form::Commands => super::aof_base::key(out, key, e),
        }
    }
}

/// One shard's running walk.
struct Walk {
    /// Keys expired at the cut are left out.
    now: u64,
    form: Form,
    opts: WriteOpts,
    checksum: bool,
    /// Entries written before they changed, not yet handed out.
    early: Vec<u8>,
    /// The database the last record of `early` belongs to.
    early_db: Option<usize>,
    early_keys: u64,
    /// Databases flushed while the walk had entries of theirs to write.
    adopted: Vec<Db>,
}

thread_local! {
    static WALK: RefCell<Option<Walk>> = const { RefCell::new(None) };
    /// The epoch of the latest walk on this shard.
    static EPOCH: Cell<u8> = const { Cell::new(0) };
    /// Set while a read-only command runs.
    static READING: Cell<bool> = const { Cell::new(false) };
}

/// Whether the running command only reads (its lookups need not write
/// entries early).
#[inline]
pub fn reading() -> bool {
    READING.with(|r| r.get())
}

/// Marks the command about to run as read-only or not; returns the
/// previous mark, to restore with [`end_command`].
#[inline]
pub fn begin_command(read_only: bool) -> bool {
    READING.with(|r| r.replace(read_only))
}

#[inline]
pub fn end_command(previous: bool) {
    READING.with(|r| r.set(previous));
}

/// Whether a walk runs on this shard.
pub fn running() -> bool {
    WALK.with(|w| w.borrow().is_some())
}

/// What one shard reports at the cut.
pub struct Cut {
    /// Keys and keys with an expiry per database number (for RESIZEDB).
    pub sizes: Vec<(u64, u64)>,
    /// The change counter covered by this snapshot.
    pub dirty: u64,
    /// Whether a hash with field TTLs may be written (RDB 12 needed).
    pub needs_v12: bool,
}

/// Starts a walk on `shard` (called inside the cut, every shard locked).
pub fn begin(shard: &Shard, now: u64, form: Form, opts: WriteOpts, checksum: bool) -> Cut {
    assert!(!running(), "a snapshot walk is already running on this shard");
    // Epoch 0 is what entries stored before any walk carry.
    let epoch = EPOCH.with(|e| {
        let next = e.get().wrapping_add(1).max(1);
        e.set(next);
        next
    });
    let mut ks = shard.ks.borrow_mut();
    let mut sizes = Vec::with_capacity(ks.dbs.len());
    let mut needs_v12 = false;
    for db in ks.dbs.iter_mut() {
        sizes.push((db.len() as u64, db.volatile() as u64));
        needs_v12 |= db.hash_ttl_keys() > 0;
        db.begin_walk(epoch);
    }
    WALK.with(|w| {
        *w.borrow_mut() = Some(Walk {
            now,
            form,
            opts,
            checksum,
            early: Vec::new(),
            early_db: None,
            early_keys: 0,
            adopted: Vec::new(),
        })
    });
    Cut {
        sizes,
        dirty: super::changes(shard),
        needs_v12,
    }
}

/// Writes `e` (of database `number` at the cut) now, before it changes.
pub fn keep(number: usize, key: &[u8], e: &Entry) {
    WALK.with(|w| {
        let mut w = w.borrow_mut();
        let Some(w) = w.as_mut() else {
            return;
        };
        if e.is_expired(w.now) {
            return;
        }
        if w.early_db != Some(number) {
            w.form.select_db(&mut w.early, number);
            w.early_db = Some(number);
        }
        w.form.key(&mut w.early, key, e, &w.opts);
        w.early_keys += 1;
    });
}

/// Takes over a database flushed while the walk still had entries of it
/// to write.
pub fn adopt(db: Db) {
    WALK.with(|w| {
        if let Some(w) = w.borrow_mut().as_mut() {
            w.adopted.push(db);
        }
    });
}

/// One slice of a shard's part of the snapshot.
pub struct Slice {
    pub bytes: Vec<u8>,
    /// CRC-64 of `bytes` (0 without checksums).
    pub crc: u64,
    pub keys: u64,
    /// The walk on this shard is over (no more slices).
    pub done: bool,
    /// Time the slice took on its shard.
    pub took: std::time::Duration,
}

/// Entries looked at per slice: bounds the time a slice holds the shard.
const SLICE_ENTRIES: usize = 256;
/// Bytes per slice, beyond which the walk stops for this slice.
const SLICE_BYTES: usize = 32 << 10;

/// A slice being filled.
struct SliceOut<'a> {
    bytes: Vec<u8>,
    keys: u64,
    /// Entries looked at.
    seen: usize,
    /// The database the last record belongs to.
    current: Option<usize>,
    now: u64,
    form: Form,
    opts: &'a WriteOpts,
    budget: usize,
    max_keys: Option<usize>,
}

impl SliceOut<'_> {
    fn full(&self) -> bool {
        self.bytes.len() >= SLICE_BYTES
            || self.seen >= self.budget
            || self.max_keys.is_some_and(|m| self.keys as usize >= m)
    }

    /// Walks `db` on until the slice is full; true if its walk is over.
    fn walk(&mut self, db: &mut Db) -> bool {
        while let Some(mark) = db.walk_mark() {
            if self.full() {
                return false;
            }
            let left = self.budget.saturating_sub(self.seen).max(1);
            let room = SLICE_BYTES.saturating_sub(self.bytes.len()).max(1);
            let before = self.keys;
            db.walk_next(left, room, |k, e| self.write(mark.number, k, e));
            self.seen += (self.keys - before) as usize + 1;
        }
        true
    }

    /// Writes one entry (of database `number` at the cut) unless it had
    /// expired at the cut; returns the bytes written.
    fn write(&mut self, number: usize, k: &[u8], e: &Entry) -> usize {
        if e.is_expired(self.now) {
            return 0;
        }
        let at = self.bytes.len();
        if self.current != Some(number) {
            self.form.select_db(&mut self.bytes, number);
            self.current = Some(number);
        }
        self.form.key(&mut self.bytes, k, e, self.opts);
        self.keys += 1;
        self.bytes.len() - at
    }
}

/// The next slice of this shard's walk: what was written early, then the
/// walk's next entries (at most `max_keys` of them, if given).
pub fn step(shard: &Rc<Shard>, max_keys: Option<usize>) -> Slice {
    let started = std::time::Instant::now();
    let taken = WALK.with(|w| {
        w.borrow_mut().as_mut().map(|w| {
            w.early_db = None;
            (
                std::mem::take(&mut w.early),
                std::mem::take(&mut w.early_keys),
                w.now,
                w.form,
                w.opts.clone(),
                w.checksum,
                std::mem::take(&mut w.adopted),
            )
        })
    });
    let Some((mut bytes, keys, now, form, opts, checksum, mut adopted)) = taken else {
        return Slice {
            bytes: Vec::new(),
            crc: 0,
            keys: 0,
            done: true,
            took: started.elapsed(),
        };
    };
    let mut out = SliceOut {
        bytes: std::mem::take(&mut bytes),
        keys,
        seen: 0,
        current: None,
        now,
        form,
        opts: &opts,
        budget: max_keys.unwrap_or(SLICE_ENTRIES),
        max_keys,
    };
    // Databases in place first, then adopted ones.
    for db in shard.ks.borrow_mut().dbs.iter_mut() {
        out.walk(db);
    }
    let mut finished = Vec::new();
    while let Some(mut db) = adopted.pop() {
        if !out.walk(&mut db) {
            adopted.push(db);
            break;
        }
        finished.push(db);
    }
    if !finished.is_empty() {
        crate::storage::lazyfree::drop_dbs(finished, 0, None);
    }
    let SliceOut { bytes, keys, .. } = out;
    let in_place_left = shard.ks.borrow().dbs.iter().any(|d| d.walk_mark().is_some());
    let done = WALK.with(|w| {
        let mut slot = w.borrow_mut();
        let w = slot.as_mut().expect("the walk is running");
        w.adopted.append(&mut adopted);
        let done = !in_place_left && w.adopted.is_empty() && w.early.is_empty();
        if done {
            *slot = None;
        }
        done
    });
    let crc = if checksum { super::crc64::crc64(0, &bytes) } else { 0 };
    Slice {
        bytes,
        crc,
        keys,
        done,
        took: started.elapsed(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::storage::Value;

    fn opts() -> WriteOpts {
        WriteOpts::default()
    }

    /// Reads a stream of slices back: (db, key, value) in file order.
    fn read_back(bytes: &[u8]) -> Vec<(usize, Vec<u8>, Value)> {
        use super::super::rdb_read::{Item, Reader};
        let mut file = Vec::new();
        rdb_write::header(&mut file, rdb_write::RDB_VERSION, &[]);
        file.extend_from_slice(bytes);
        rdb_write::eof(&mut file);
        file.extend_from_slice(&0u64.to_le_bytes());
        let mut r = Reader::with_limits(file.as_slice(), Default::default()).unwrap();
        let mut db = 0;
        let mut out = Vec::new();
        loop {
            match r.next().unwrap() {
                Item::SelectDb(n) => db = n,
                Item::Key(k) => out.push((db, k.key.to_vec(), k.value)),
                Item::Eof => break,
                _ => {}
            }
        }
        out
    }

    /// A slot holding more keys than a slice takes is walked in several
    /// calls, each making progress, whatever the budget.
    #[test]
    fn a_big_slot_is_walked_across_calls() {
        for budget in [1, 2, 256] {
            let mut db = Db::with_index(0);
            for i in 0..600 {
                db.insert_silent(format!("{{tag}}:{i}").as_bytes(), Value::Int(i), 0, 0);
            }
            db.begin_walk(3);
            let mut seen = std::collections::HashSet::new();
            let mut calls = 0;
            while db.walk_mark().is_some() {
                calls += 1;
                assert!(calls < 10_000, "the walk makes no progress");
                db.walk_next(budget, usize::MAX, |k, _| {
                    assert!(seen.insert(k.to_vec()), "written twice");
                    1
                });
            }
            assert_eq!(seen.len(), 600);
        }
    }

    fn walk_db(db: &mut Db, number: usize) -> Vec<u8> {
        let mut out = Vec::new();
        while db.walk_mark().is_some() {
            db.walk_next(3, usize::MAX, |k, e| {
                if e.is_expired(1000) {
                    return 0;
                }
                rdb_write::select_db(&mut out, number);
                rdb_write::key(&mut out, k, e, &opts());
                1
            });
        }
        out
    }

    /// The point-in-time rule on one database: what changed after the cut
    /// is written as it was, what came after is not written, and nothing
    /// is written twice.
    #[test]
    fn a_walk_writes_the_data_as_it_was_at_the_cut() {
        WALK.with(|w| {
            *w.borrow_mut() = Some(Walk {
                now: 1000,
                form: Form::Rdb,
                opts: opts(),
                checksum: false,
                early: Vec::new(),
                early_db: None,
                early_keys: 0,
                adopted: Vec::new(),
            })
        });
        let mut db = Db::with_index(2);
        for i in 0..50 {
            db.insert_silent(format!("k{i}").as_bytes(), Value::Int(i), 0, 0);
        }
        db.insert_silent(b"gone-before", Value::Int(1), 500, 0);
        db.begin_walk(7);
        // Changes after the cut.
        db.insert_silent(b"k1", Value::Int(100), 0, 0);
        db.remove(b"k2");
        db.set_expire(b"k3", 5000);
        db.insert_silent(b"new", Value::Int(1), 0, 0);
        let begin = begin_command(true);
        if let Some(e) = db.lookup(b"k4", 0) {
            e.value = Value::Int(-4); // a read-only command never does this
        }
        end_command(begin);
        let early = WALK.with(|w| std::mem::take(&mut w.borrow_mut().as_mut().unwrap().early));
        let mut all = read_back(&early);
        all.extend(read_back(&walk_db(&mut db, 2)));
        WALK.with(|w| *w.borrow_mut() = None);
        let mut keys: Vec<&[u8]> = all.iter().map(|(_, k, _)| k.as_slice()).collect();
        keys.sort();
        keys.dedup();
        assert_eq!(keys.len(), all.len(), "a key was written twice");
        assert_eq!(all.len(), 50, "the keys live at the cut");
        let get = |k: &[u8]| all.iter().find(|(_, kk, _)| kk == k).map(|(d, _, v)| (*d, v.clone()));
        assert_eq!(get(b"k1"), Some((2, Value::Int(1))));
        assert_eq!(get(b"k2"), Some((2, Value::Int(2))));
        assert_eq!(get(b"k4"), Some((2, Value::Int(-4))));
        assert!(get(b"new").is_none());
        // A second walk writes everything present again, once.
        db.begin_walk(8);
        let again = read_back(&walk_db(&mut db, 2));
        // (`gone-before` is expired but still stored.)
        assert_eq!(again.len(), db.len() - 1);
    }
}
