//! Per-shard data: the logical databases, values and their encodings, expiry.
//!
//! Everything here is owned by one shard's executor and touched by that
//! thread alone; no type in this module is `Send` across shards by design.

pub mod db;
pub mod geohash;
pub mod hash;
pub mod lazyfree;
pub mod list;
pub mod memsample;
pub mod node;
pub mod set;
pub mod stream;
pub mod value;
pub mod varint;
pub mod zset;

pub use db::Db;
pub use value::{Entry, Value};

/// All logical databases of one shard (SELECT 0..databases-1).
pub struct Keyspace {
    pub dbs: Vec<Db>,
}

impl Keyspace {
    pub fn new(databases: usize) -> Keyspace {
        Keyspace {
            dbs: (0..databases).map(Db::with_index).collect(),
        }
    }

    /// The keyspace of shard `shard` of `shards`: its databases hold the
    /// shard's own slot range.
    pub fn for_shard(databases: usize, shard: usize, shards: usize) -> Keyspace {
        let owned = |slot: usize| crate::shard::slot::slot_shard(slot as u16, shards) == shard;
        let lo = (0..crate::shard::slot::SLOTS).find(|&s| owned(s)).unwrap_or(0);
        let span = (lo..crate::shard::slot::SLOTS).take_while(|&s| owned(s)).count();
        Keyspace {
            dbs: (0..databases).map(|i| Db::with_range(i, lo, span)).collect(),
        }
    }

    #[inline]
    pub fn db(&mut self, index: usize) -> &mut Db {
        &mut self.dbs[index]
    }

    /// SWAPDB on this shard's part of the keyspace.
    pub fn swap(&mut self, a: usize, b: usize) {
        self.dbs.swap(a, b);
        self.dbs[a].index = a;
        self.dbs[b].index = b;
    }

    pub fn flush_all(&mut self) {
        for db in &mut self.dbs {
            db.clear();
        }
    }

    /// Empties the databases `which`, handing back their old contents (to
    /// be freed elsewhere) and how many keys they held.
    pub fn take(&mut self, which: &[usize]) -> (Vec<Db>, u64) {
        let mut keys = 0;
        let old = which
            .iter()
            .map(|&i| {
                keys += self.dbs[i].len() as u64;
                let fresh = self.dbs[i].emptied();
                let old = std::mem::replace(&mut self.dbs[i], fresh);
                if old.walk_mark().is_some() {
                    // A snapshot walk still writes these keys: it frees
                    // them once done.
                    crate::persist::walk::adopt(old);
                    return self.dbs[i].emptied();
                }
                old
            })
            .collect();
        (old, keys)
    }
}
