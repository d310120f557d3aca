//! Serializes values and files in Redis's RDB format (pure, no I/O): shared
//! by DUMP, snapshots and the AOF base. Writes what redis-server 7.0 writes
//! (RDB 10) byte for byte where the encodings match; only a hash with field
//! TTLs needs 7.4's types 24/25 and so version 12.

use super::codec::{put_int_string, put_len, put_string, Listpack};
use crate::config::Limits;
use crate::storage::hash::Hash;
use crate::storage::list::List;
use crate::storage::set::Set;
use crate::storage::stream::{NodeView, Stream, StreamId};
use crate::storage::zset::ZSet;
use crate::storage::{Entry, Value};

/// Version written unless a value needs 12 ([`needs_v12`]).
pub const RDB_VERSION: u16 = 10;
/// Newest version read (Redis 7.4's).
pub const RDB_VERSION_MAX: u16 = 12;

pub const TYPE_STRING: u8 = 0;
pub const TYPE_LIST: u8 = 1;
pub const TYPE_SET: u8 = 2;
pub const TYPE_ZSET: u8 = 3;
pub const TYPE_HASH: u8 = 4;
pub const TYPE_ZSET_2: u8 = 5;
pub const TYPE_MODULE_PRE_GA: u8 = 6;
pub const TYPE_MODULE_2: u8 = 7;
pub const TYPE_HASH_ZIPMAP: u8 = 9;
pub const TYPE_LIST_ZIPLIST: u8 = 10;
pub const TYPE_SET_INTSET: u8 = 11;
pub const TYPE_ZSET_ZIPLIST: u8 = 12;
pub const TYPE_HASH_ZIPLIST: u8 = 13;
pub const TYPE_LIST_QUICKLIST: u8 = 14;
pub const TYPE_STREAM_LISTPACKS: u8 = 15;
pub const TYPE_HASH_LISTPACK: u8 = 16;
pub const TYPE_ZSET_LISTPACK: u8 = 17;
pub const TYPE_LIST_QUICKLIST_2: u8 = 18;
pub const TYPE_STREAM_LISTPACKS_2: u8 = 19;
pub const TYPE_SET_LISTPACK: u8 = 20;
pub const TYPE_STREAM_LISTPACKS_3: u8 = 21;
pub const TYPE_HASH_METADATA_PRE_GA: u8 = 22;
pub const TYPE_HASH_LISTPACK_EX_PRE_GA: u8 = 23;
pub const TYPE_HASH_METADATA: u8 = 24;
pub const TYPE_HASH_LISTPACK_EX: u8 = 25;

pub const OP_SLOT_INFO: u8 = 244;
pub const OP_FUNCTION2: u8 = 245;
pub const OP_FUNCTION_PRE_GA: u8 = 246;
pub const OP_MODULE_AUX: u8 = 247;
pub const OP_IDLE: u8 = 248;
pub const OP_FREQ: u8 = 249;
pub const OP_AUX: u8 = 250;
pub const OP_RESIZEDB: u8 = 251;
pub const OP_EXPIRETIME_MS: u8 = 252;
pub const OP_EXPIRETIME: u8 = 253;
pub const OP_SELECTDB: u8 = 254;
pub const OP_EOF: u8 = 255;

const QUICKLIST_NODE_PLAIN: u64 = 1;
const QUICKLIST_NODE_PACKED: u64 = 2;

/// How values are written.
#[derive(Debug, Clone)]
pub struct WriteOpts {
    /// `rdbcompression`: LZF for strings longer than 20 bytes.
    pub compress: bool,
    /// Encoding limits (list node sizes).
    pub limits: Limits,
    /// Under an LRU policy: the current seconds clock, to write IDLE.
    pub lru_clock: Option<u32>,
    /// Under an LFU policy: the current minutes clock and decay time, to
    /// write FREQ.
    pub lfu: Option<(u32, u32)>,
}

impl Default for WriteOpts {
    fn default() -> Self {
        WriteOpts {
            compress: true,
            limits: Limits::default(),
            lru_clock: None,
            lfu: None,
        }
    }
}

/// An AUX field's value.
pub enum AuxValue<'a> {
    Str(&'a [u8]),
    Int(i64),
}

/// `REDIS00vv` and the AUX fields.
pub fn header(out: &mut Vec<u8>, version: u16, aux: &[(&str, AuxValue)]) {
    out.extend_from_slice(format!("REDIS{:04}", version).as_bytes());
    for (k, v) in aux {
        out.push(OP_AUX);
        put_string(out, k.as_bytes(), false);
        match v {
            AuxValue::Str(s) => put_string(out, s, false),
            AuxValue::Int(i) => put_int_string(out, *i),
        }
    }
}

pub fn select_db(out: &mut Vec<u8>, db: usize) {
    out.push(OP_SELECTDB);
    put_len(out, db as u64);
}

pub fn resize_db(out: &mut Vec<u8>, keys: u64, expires: u64) {
    out.push(OP_RESIZEDB);
    put_len(out, keys);
    put_len(out, expires);
}

/// One function library (its full code, shebang line included).
pub fn function(out: &mut Vec<u8>, library_code: &[u8], compress: bool) {
    out.push(OP_FUNCTION2);
    put_string(out, library_code, compress);
}

/// The EOF opcode (the 8-byte CRC after it is the caller's).
pub fn eof(out: &mut Vec<u8>) {
    out.push(OP_EOF);
}

/// One key record: its expiry, IDLE or FREQ per policy, type, name, value.
pub fn key(out: &mut Vec<u8>, key: &[u8], e: &Entry, opts: &WriteOpts) {
    if e.expire_at() != 0 {
        out.push(OP_EXPIRETIME_MS);
        out.extend_from_slice(&e.expire_at().to_le_bytes());
    }
    if let Some(clock) = opts.lru_clock {
        out.push(OP_IDLE);
        put_len(out, clock.wrapping_sub(e.access) as u64 & 0xffff_ffff);
    } else if let Some((clock, decay)) = opts.lfu {
        out.push(OP_FREQ);
        out.push(crate::shard::evict::lfu_decayed(e.lfu, clock, decay) as u8);
    }
    let at = out.len();
    out.push(0);
    put_string(out, key, opts.compress);
    let t = value(out, &e.value, opts);
    out[at] = t;
}

/// Whether `v` needs RDB 12 (a hash with field TTLs).
pub fn needs_v12(v: &Value) -> bool {
    matches!(v, Value::Hash(h) if h.has_ttls())
}

/// Appends the serialized value and returns its type byte.
pub fn value(out: &mut Vec<u8>, v: &Value, opts: &WriteOpts) -> u8 {
    match v {
        Value::Int(i) => {
            put_int_string(out, *i);
            TYPE_STRING
        }
        Value::Str(s) => {
            put_string(out, s, opts.compress);
            TYPE_STRING
        }
        Value::List(l) => list(out, l, opts),
        Value::Set(s) => set(out, s, opts),
        Value::ZSet(z) => zset(out, z, opts),
        Value::Hash(h) => hash(out, h, opts),
        Value::Stream(s) => stream(out, s, opts),
    }
}

/// Whether a quicklist node of `count` entries and `bytes` listpack bytes
/// may take one more element of `sz` bytes (7.0's _quicklistNodeAllowInsert:
/// an 8-byte overestimate per entry, size classes for negative fills, an
/// 8 KiB safety limit with counts for positive ones).
fn node_allows(fill: i64, count: usize, bytes: usize, sz: usize) -> bool {
    let new_sz = bytes + sz + 8;
    if fill < 0 {
        let limit = match fill {
            -1 => 4096,
            -2 => 8192,
            -3 => 16384,
            -4 => 32768,
            -5 => 65536,
            _ => 0,
        };
        if new_sz <= limit {
            return true;
        }
    }
    new_sz <= 8192 && (count as i64) < fill
}

/// Elements at least this long go into PLAIN nodes (Redis's default
/// packed threshold, 1 GiB).
const PACKED_THRESHOLD: usize = 1 << 30;

fn list(out: &mut Vec<u8>, l: &List, opts: &WriteOpts) -> u8 {
    let fill = opts.limits.list_max_listpack_size;
    let mut nodes: Vec<(u64, Vec<u8>)> = Vec::new();
    let mut cur = Listpack::new();
    for item in l.items.iter() {
        if item.len() >= PACKED_THRESHOLD {
            if cur.count() > 0 {
                nodes.push((QUICKLIST_NODE_PACKED, std::mem::take(&mut cur).finish()));
            }
            nodes.push((QUICKLIST_NODE_PLAIN, item.to_vec()));
            continue;
        }
        if cur.count() > 0 && !node_allows(fill, cur.count(), cur.bytes(), item.len()) {
            nodes.push((QUICKLIST_NODE_PACKED, std::mem::take(&mut cur).finish()));
        }
        cur.push(item);
    }
    if cur.count() > 0 {
        nodes.push((QUICKLIST_NODE_PACKED, cur.finish()));
    }
    put_len(out, nodes.len() as u64);
    for (container, bytes) in nodes {
        put_len(out, container);
        put_string(out, &bytes, opts.compress);
    }
    TYPE_LIST_QUICKLIST_2
}

fn set(out: &mut Vec<u8>, s: &Set, opts: &WriteOpts) -> u8 {
    if s.is_intset() {
        let mut v: Vec<i64> = s
            .iter()
            .filter_map(|e| e.with_bytes(super::codec::canonical_int))
            .collect();
        v.sort_unstable();
        put_string(out, &super::codec::intset(&v), opts.compress);
        return TYPE_SET_INTSET;
    }
    put_len(out, s.len() as u64);
    for e in s.iter() {
        e.with_bytes(|b| put_string(out, b, opts.compress));
    }
    TYPE_SET
}

/// A listpack zset score as 7.0 stores it (d2string, then lpAppend).
fn push_score(lp: &mut Listpack, d: f64) {
    if d > -4503599627370495.0 && d < 4503599627370496.0 && d == (d as i64) as f64 {
        lp.push_int(d as i64);
    } else {
        lp.push(super::codec::fmt_g17(d).as_bytes());
    }
}

fn zset(out: &mut Vec<u8>, z: &ZSet, opts: &WriteOpts) -> u8 {
    if z.encoding() == "listpack" {
        let mut lp = Listpack::new();
        z.for_each(|m, s| {
            lp.push(m);
            push_score(&mut lp, s);
        });
        put_string(out, &lp.finish(), opts.compress);
        return TYPE_ZSET_LISTPACK;
    }
    let entries = z.entries();
    put_len(out, entries.len() as u64);
    for (m, s) in entries.iter().rev() {
        put_string(out, m, opts.compress);
        out.extend_from_slice(&s.to_le_bytes());
    }
    TYPE_ZSET_2
}

fn hash(out: &mut Vec<u8>, h: &Hash, opts: &WriteOpts) -> u8 {
    let ttls = h.has_ttls();
    if h.is_compact() {
        let mut lp = Listpack::new();
        for (f, v) in h.iter() {
            lp.push(f);
            lp.push(v);
            if ttls {
                lp.push_int(h.ttl_of(f) as i64);
            }
        }
        if ttls {
            out.extend_from_slice(&h.min_expire().unwrap_or(0).to_le_bytes());
        }
        put_string(out, &lp.finish(), opts.compress);
        return if ttls {
            TYPE_HASH_LISTPACK_EX
        } else {
            TYPE_HASH_LISTPACK
        };
    }
    let min = h.min_expire().unwrap_or(0);
    if ttls {
        out.extend_from_slice(&min.to_le_bytes());
    }
    put_len(out, h.len() as u64);
    for (f, v) in h.iter() {
        if ttls {
            let t = h.ttl_of(f);
            put_len(out, if t == 0 { 0 } else { t - min + 1 });
        }
        put_string(out, f, opts.compress);
        put_string(out, v, opts.compress);
    }
    if ttls {
        TYPE_HASH_METADATA
    } else {
        TYPE_HASH
    }
}

fn put_id(out: &mut Vec<u8>, id: StreamId) {
    put_len(out, id.ms);
    put_len(out, id.seq);
}

fn raw_id(out: &mut Vec<u8>, id: StreamId) {
    out.extend_from_slice(&id.ms.to_be_bytes());
    out.extend_from_slice(&id.seq.to_be_bytes());
}

/// One stream node as Redis's listpack: the master entry, then every entry
/// with its ID as deltas from the master.
fn stream_node(n: &NodeView) -> Vec<u8> {
    let mut lp = Listpack::new();
    lp.push_int(n.live() as i64);
    lp.push_int(n.deleted() as i64);
    lp.push_int(n.fields().len() as i64);
    for f in n.fields() {
        lp.push(f);
    }
    lp.push_int(0);
    for e in n.entries() {
        let same = NodeView::same_fields(&e);
        let flags = (e.deleted as i64) | if same { 2 } else { 0 };
        lp.push_int(flags);
        lp.push_int(e.id.ms.wrapping_sub(n.master.ms) as i64);
        lp.push_int(e.id.seq.wrapping_sub(n.master.seq) as i64);
        if !same {
            lp.push_int(e.count as i64);
            for (f, v) in e.pairs() {
                lp.push(f);
                lp.push(v);
            }
            lp.push_int(3 + 1 + 2 * e.count as i64);
        } else {
            for (_, v) in e.pairs() {
                lp.push(v);
            }
            lp.push_int(3 + e.count as i64);
        }
    }
    lp.finish()
}

fn stream(out: &mut Vec<u8>, s: &Stream, opts: &WriteOpts) -> u8 {
    let nodes: Vec<NodeView> = s.node_views().collect();
    put_len(out, nodes.len() as u64);
    for n in &nodes {
        let mut key = Vec::with_capacity(16);
        raw_id(&mut key, n.master);
        put_string(out, &key, opts.compress);
        put_string(out, &stream_node(n), opts.compress);
    }
    put_len(out, s.len());
    put_id(out, s.last_id);
    put_id(out, s.first_id);
    put_id(out, s.max_deleted);
    put_len(out, s.entries_added);
    put_len(out, s.groups.len() as u64);
    for (name, g) in &s.groups {
        put_string(out, name, opts.compress);
        put_id(out, g.last_id);
        put_len(out, g.entries_read as u64);
        put_len(out, g.pel.len() as u64);
        for (id, nack) in &g.pel {
            raw_id(out, *id);
            out.extend_from_slice(&nack.delivery_time.to_le_bytes());
            put_len(out, nack.delivery_count);
        }
        put_len(out, g.consumers.len() as u64);
        for (cname, c) in &g.consumers {
            put_string(out, cname, opts.compress);
            out.extend_from_slice(&c.seen_time.to_le_bytes());
            put_len(out, c.pel.len() as u64);
            for id in &c.pel {
                raw_id(out, *id);
            }
        }
    }
    TYPE_STREAM_LISTPACKS_2
}

/// A DUMP payload: type, value, version (10, or 12 when needed), CRC.
pub fn dump_payload(v: &Value, opts: &WriteOpts) -> Vec<u8> {
    let mut out = vec![0];
    out[0] = value(&mut out, v, opts);
    let ver = if needs_v12(v) { RDB_VERSION_MAX } else { RDB_VERSION };
    out.extend_from_slice(&ver.to_le_bytes());
    let crc = super::crc64::crc64(0, &out);
    out.extend_from_slice(&crc.to_le_bytes());
    out
}
