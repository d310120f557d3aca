//! Persistence: Redis-format snapshots (RDB), DUMP/RESTORE payloads and the
//! append-only log.
//!
//! What every part shares lives here: the change counter. Each shard
//! counts the changes its commands make (Redis's `dirty`: one per key or
//! element changed, as each command defines it); the save rules, INFO's
//! `rdb_changes_since_last_save` and the log's "did this command write
//! anything" test all read it.

pub mod snapshot;
pub mod walk;

use crate::shard::Shard;

/// Changes made on `shard` since it started (never reset: a save records
/// the figure it covered and the rules compare against that).
#[inline]
pub fn changes(shard: &Shard) -> u64 {
    shard.dirty.get() + LOCAL_CHANGES.with(|c| c.get())
}

thread_local! {
    /// Changes recorded by code that holds a database but not its shard
    /// (the `op_*` helpers shared by plain, cross-shard and blocked-client
    /// paths). A shard owns its thread, so this is the running shard's;
    /// [`changes`] adds it in.
    static LOCAL_CHANGES: std::cell::Cell<u64> = const { std::cell::Cell::new(0) };
}

/// Records `n` changes on the shard running on this thread (for helpers
/// that have no [`Shard`] at hand).
#[inline]
pub fn bump(n: u64) {
    LOCAL_CHANGES.with(|c| c.set(c.get() + n));
}

/// Records `n` changes on `shard`.
#[inline]
pub fn changed(shard: &Shard, n: u64) {
    shard.dirty.set(shard.dirty.get() + n);
}

pub mod aof;
// The AOF base in command form (aof-use-rdb-preamble no).
pub mod aof_base;
pub mod propagate;
// The RDB codec (see ARCHITECTURE.md, "Persistence: the RDB codec"):
// crc64 (checksum + combine), lzf, codec (lengths, strings, listpacks,
// intsets, ziplists), rdb_write (pure serializer: header, select_db,
// resize_db, function, key, value, needs_v12, eof, dump_payload),
// rdb_read (streaming Reader<R: Read> yielding Items, value_from for
// RESTORE), dump (DUMP/RESTORE/DEBUG DIGEST helpers).
pub mod codec;
pub mod crc64;
pub mod dump;
pub mod lzf;
pub mod rdb_read;
pub mod rdb_write;
