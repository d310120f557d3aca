//! Per-shard data: the logical databases, values and their encodings, expiry.
//!
//! Everything here is owned by one shard's executor and touched by that
//! thread alone; no type in this module is `Send` across shards by design.

pub mod db;
pub mod hash;
pub mod list;
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
}
