//! The stream type: an append-only log of entries with IDs, plus consumer
//! groups.
//!
//! Entries are packed into *nodes* of at most `stream-node-max-entries`
//! entries and about `stream-node-max-bytes` bytes, kept in a `BTreeMap`
//! keyed by the ID of the node's first entry (its *master* ID). A node
//! stores the field names of its first entry once; each entry is then
//!
//! ```text
//! head:varint  [ms-delta:varint]  [seq:varint]  values...                (same fields)
//! head:varint  [ms-delta:varint]  [seq:varint]  n:varint  (field value)*n  (others)
//! ```
//!
//! `head` holds four flag bits (deleted, same fields, millisecond changed,
//! long sequence) under a small sequence number. IDs are relative to the
//! previous entry of the node (the first entry's is the node's key): in the
//! same millisecond the sequence is stored as the step minus one, after a
//! millisecond change as is, with the millisecond delta after the head. So
//! the entries `XADD *` makes cost one byte for their ID, or two when the
//! clock moved. Strings are a varint length and their bytes. A deleted
//! entry keeps its bytes with the `DELETED` flag set (a tombstone, as in
//! Redis's listpacks) until its whole node goes; entries are always read
//! from the node's start, which is what makes the relative IDs cheap.
//!
//! Node boundaries follow Redis's rules (a new node when the tail holds
//! `stream-node-max-entries` entries, live or deleted, or would pass
//! `stream-node-max-bytes`), so approximate trimming (`MAXLEN ~`) removes
//! the same entries Redis would.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use super::varint::{get as get_varint, put as put_varint};

/// An entry ID: milliseconds and a sequence number.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct StreamId {
    pub ms: u64,
    pub seq: u64,
}

impl StreamId {
    pub const MIN: StreamId = StreamId { ms: 0, seq: 0 };
    pub const MAX: StreamId = StreamId {
        ms: u64::MAX,
        seq: u64::MAX,
    };

    pub const fn new(ms: u64, seq: u64) -> StreamId {
        StreamId { ms, seq }
    }

    pub fn is_zero(&self) -> bool {
        *self == StreamId::MIN
    }

    /// The next ID, or None past the last possible one.
    pub fn incr(self) -> Option<StreamId> {
        if self.seq < u64::MAX {
            Some(StreamId::new(self.ms, self.seq + 1))
        } else if self.ms < u64::MAX {
            Some(StreamId::new(self.ms + 1, 0))
        } else {
            None
        }
    }

    /// The previous ID, or None before 0-0.
    pub fn decr(self) -> Option<StreamId> {
        if self.seq > 0 {
            Some(StreamId::new(self.ms, self.seq - 1))
        } else if self.ms > 0 {
            Some(StreamId::new(self.ms - 1, u64::MAX))
        } else {
            None
        }
    }

    /// `<ms>-<seq>` into `buf`, returning the written bytes.
    pub fn format<'b>(&self, buf: &'b mut [u8; 41]) -> &'b [u8] {
        let mut at = 0;
        for (i, part) in [self.ms, self.seq].into_iter().enumerate() {
            if i == 1 {
                buf[at] = b'-';
                at += 1;
            }
            let mut tmp = [0u8; 20];
            let mut n = part;
            let mut len = 0;
            loop {
                tmp[19 - len] = b'0' + (n % 10) as u8;
                len += 1;
                n /= 10;
                if n == 0 {
                    break;
                }
            }
            buf[at..at + len].copy_from_slice(&tmp[20 - len..]);
            at += len;
        }
        &buf[..at]
    }

    pub fn to_vec(&self) -> Vec<u8> {
        let mut buf = [0u8; 41];
        self.format(&mut buf).to_vec()
    }
}

const DELETED: u8 = 1;
const SAME_FIELDS: u8 = 2;
/// The millisecond differs from the previous entry's: its delta follows.
const MS_CHANGED: u64 = 4;
/// The sequence does not fit under the flags: a varint of its own follows.
const LONG_SEQ: u64 = 8;
const FLAG_BITS: u32 = 4;

#[inline]
fn get_str<'a>(buf: &'a [u8], at: &mut usize) -> &'a [u8] {
    let n = get_varint(buf, at) as usize;
    let s = &buf[*at..*at + n];
    *at += n;
    s
}

/// One node: a run of consecutive entries sharing a master ID and the
/// field names of their first entry.
#[derive(Debug, Clone, PartialEq)]
struct Node {
    fields: Vec<Box<[u8]>>,
    buf: Vec<u8>,
    live: u32,
    deleted: u32,
    /// ID of the node's last entry, deleted or not.
    last: StreamId,
    /// Offset of that entry in `buf`.
    last_at: u32,
}

impl Node {
    /// What Redis counts as the node's size when deciding to open a new one:
    /// about a listpack's bytes (header, master entry, entries).
    fn packed_bytes(&self) -> usize {
        let master: usize = self.fields.iter().map(|f| f.len() + 2).sum();
        7 + 8 + master + self.buf.len()
    }

    /// Decodes the entry at `at` whose predecessor in the node has ID
    /// `prev` (None for the first entry, whose ID is the master's).
    fn entry_at<'a>(&'a self, master: StreamId, prev: Option<StreamId>, at: usize) -> EntryRef<'a> {
        let buf = &self.buf;
        let mut p = at;
        let head = get_varint(buf, &mut p);
        let flags = (head & 3) as u8;
        let ms_delta = if head & MS_CHANGED != 0 {
            get_varint(buf, &mut p)
        } else {
            0
        };
        let seq = if head & LONG_SEQ != 0 {
            get_varint(buf, &mut p)
        } else {
            head >> FLAG_BITS
        };
        let id = match prev {
            None => master,
            Some(prev) if ms_delta == 0 => StreamId::new(prev.ms, prev.seq + seq + 1),
            Some(prev) => StreamId::new(prev.ms + ms_delta, seq),
        };
        let body = p;
        let count = if flags & SAME_FIELDS != 0 {
            for _ in 0..self.fields.len() {
                get_str(buf, &mut p);
            }
            self.fields.len()
        } else {
            let n = get_varint(buf, &mut p) as usize;
            for _ in 0..2 * n {
                get_str(buf, &mut p);
            }
            n
        };
        EntryRef {
            id,
            deleted: flags & DELETED != 0,
            at,
            end: p,
            body,
            same: flags & SAME_FIELDS != 0,
            count,
            node: self,
        }
    }

    /// Every entry of the node in order, tombstones included.
    fn entries(&self, master: StreamId) -> impl Iterator<Item = EntryRef<'_>> {
        let mut at = 0;
        let mut prev = None;
        std::iter::from_fn(move || {
            if at >= self.buf.len() {
                return None;
            }
            let e = self.entry_at(master, prev, at);
            at = e.end;
            prev = Some(e.id);
            Some(e)
        })
    }

    /// Appends the head and ID of entry `id` (flags `flags`) after the
    /// node's last entry, or as its first.
    fn put_id(&mut self, id: StreamId, flags: u64) {
        let first = self.live + self.deleted == 0;
        let (ms_delta, seq) = if first {
            (0, 0)
        } else if id.ms == self.last.ms {
            (0, id.seq - self.last.seq - 1)
        } else {
            (id.ms - self.last.ms, id.seq)
        };
        let changed = if ms_delta != 0 { MS_CHANGED } else { 0 };
        let buf = &mut self.buf;
        if seq < 1 << (64 - FLAG_BITS) {
            put_varint(buf, (seq << FLAG_BITS) | changed | flags);
        } else {
            put_varint(buf, LONG_SEQ | changed | flags);
        }
        if ms_delta != 0 {
            put_varint(buf, ms_delta);
        }
        if seq >= 1 << (64 - FLAG_BITS) {
            put_varint(buf, seq);
        }
    }

    fn mark_deleted(&mut self, at: usize) {
        self.buf[at] |= DELETED;
        self.live -= 1;
        self.deleted += 1;
    }
}

/// A view of one entry inside its node.
#[derive(Clone, Copy)]
pub struct EntryRef<'a> {
    pub id: StreamId,
    pub deleted: bool,
    at: usize,
    end: usize,
    body: usize,
    same: bool,
    /// Number of field-value pairs.
    pub count: usize,
    node: &'a Node,
}

impl<'a> EntryRef<'a> {
    /// The entry's (field, value) pairs in order.
    pub fn pairs(&self) -> impl Iterator<Item = (&'a [u8], &'a [u8])> + 'a {
        let node = self.node;
        let buf = &node.buf;
        let mut p = self.body;
        let same = self.same;
        if !same {
            get_varint(buf, &mut p);
        }
        (0..self.count).map(move |i| {
            if same {
                (&*node.fields[i], get_str(buf, &mut p))
            } else {
                let f = get_str(buf, &mut p);
                (f, get_str(buf, &mut p))
            }
        })
    }
}

/// A node seen from outside (see [`Stream::node_views`]).
pub struct NodeView<'a> {
    pub master: StreamId,
    node: &'a Node,
}

impl<'a> NodeView<'a> {
    pub fn fields(&self) -> &'a [Box<[u8]>] {
        &self.node.fields
    }

    pub fn live(&self) -> u32 {
        self.node.live
    }

    pub fn deleted(&self) -> u32 {
        self.node.deleted
    }

    /// Whether entry `e` of this node has the master's field names.
    pub fn same_fields(e: &EntryRef<'_>) -> bool {
        e.same
    }

    pub fn entries(&self) -> impl Iterator<Item = EntryRef<'a>> + 'a {
        self.node.entries(self.master)
    }
}

/// How to trim.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Trim {
    MaxLen(u64),
    MinId(StreamId),
}

/// A pending entry: delivered to a consumer of a group, not acknowledged.
#[derive(Debug, Clone, PartialEq)]
pub struct Nack {
    /// Unix ms of the last delivery.
    pub delivery_time: u64,
    pub delivery_count: u64,
    pub consumer: Arc<[u8]>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Consumer {
    pub name: Arc<[u8]>,
    /// Unix ms of the last attempted interaction (read, claim).
    pub seen_time: u64,
    /// Unix ms of the last successful interaction; -1 before any.
    pub active_time: i64,
    /// IDs pending for this consumer (their details live in the group's PEL).
    pub pel: BTreeSet<StreamId>,
}

impl Consumer {
    pub fn new(name: &[u8], now: u64) -> Consumer {
        Consumer {
            name: Arc::from(name),
            seen_time: now,
            active_time: -1,
            pel: BTreeSet::new(),
        }
    }
}

/// `entries_read` when unknown.
pub const ENTRIES_READ_INVALID: i64 = -1;

#[derive(Debug, Clone, PartialEq)]
pub struct Group {
    pub last_id: StreamId,
    /// Logical read counter of `last_id`, or [`ENTRIES_READ_INVALID`].
    pub entries_read: i64,
    pub pel: BTreeMap<StreamId, Nack>,
    pub consumers: BTreeMap<Vec<u8>, Consumer>,
}

impl Group {
    pub fn new(last_id: StreamId, entries_read: i64) -> Group {
        Group {
            last_id,
            entries_read,
            pel: BTreeMap::new(),
            consumers: BTreeMap::new(),
        }
    }

    /// The consumer `name`, created if absent (true when created).
    pub fn consumer(&mut self, name: &[u8], now: u64) -> (&mut Consumer, bool) {
        let created = !self.consumers.contains_key(name);
        if created {
            self.consumers.insert(name.to_vec(), Consumer::new(name, now));
        }
        (self.consumers.get_mut(name).expect("present"), created)
    }

    /// Removes `id` from the PEL and its consumer's list. True if pending.
    pub fn ack(&mut self, id: StreamId) -> bool {
        match self.pel.remove(&id) {
            Some(n) => {
                if let Some(c) = self.consumers.get_mut(&*n.consumer) {
                    c.pel.remove(&id);
                }
                true
            }
            None => false,
        }
    }

    /// Makes `id` pending for `consumer` (which must exist): moved from its
    /// previous owner if it had one. Returns the entry.
    pub fn assign(&mut self, id: StreamId, consumer: &[u8], now: u64) -> &mut Nack {
        let owner = self.consumers.get(consumer).expect("consumer exists").name.clone();
        let prev = match self.pel.get_mut(&id) {
            Some(n) => Some(std::mem::replace(&mut n.consumer, owner.clone())),
            None => {
                self.pel.insert(
                    id,
                    Nack {
                        delivery_time: now,
                        delivery_count: 0,
                        consumer: owner.clone(),
                    },
                );
                None
            }
        };
        if let Some(p) = prev {
            if *p != *owner {
                if let Some(c) = self.consumers.get_mut(&*p) {
                    c.pel.remove(&id);
                }
            }
        }
        self.consumers
            .get_mut(consumer)
            .expect("consumer exists")
            .pel
            .insert(id);
        self.pel.get_mut(&id).expect("inserted")
    }
}

/// A stream value. Unlike other collections a stream may be empty while
/// stored (XDEL of every entry, XGROUP CREATE ... MKSTREAM).
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Stream {
    nodes: BTreeMap<StreamId, Node>,
    len: u64,
    pub last_id: StreamId,
    /// First live entry's ID (0-0 when empty), as Redis records it.
    pub first_id: StreamId,
    pub max_deleted: StreamId,
    pub entries_added: u64,
    /// Consumer groups by name, in byte order (as Redis lists them).
    pub groups: BTreeMap<Vec<u8>, Group>,
}

/// Outcome of an append.
#[derive(Debug, PartialEq, Eq)]
pub enum AddError {
    /// The ID is not greater than the last one.
    IdTooSmall,
    /// Field and value bytes together exceed what one node may hold.
    TooLarge,
}

/// Largest total of field and value bytes in one entry (as Redis's
/// listpack limit).
const MAX_ENTRY_BYTES: usize = (1 << 30) - 1;

impl Stream {
    pub fn new() -> Stream {
        Stream::default()
    }

    pub fn len(&self) -> u64 {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    pub fn encoding(&self) -> &'static str {
        "stream"
    }

    /// Number of nodes (XINFO's radix-tree-keys).
    pub fn node_count(&self) -> usize {
        self.nodes.len()
    }

    /// How many frees destroying the stream takes, roughly: its nodes, its
    /// groups and their pending entries (lazy freeing's threshold).
    pub fn free_effort(&self) -> usize {
        let groups: usize = self.groups.values().map(|g| 1 + g.pel.len()).sum();
        self.nodes.len() + groups
    }

    /// Approximate heap bytes (MEMORY USAGE).
    pub fn heap_bytes(&self) -> usize {
        let nodes: usize = self
            .nodes
            .values()
            .map(|n| 64 + n.buf.capacity() + n.fields.iter().map(|f| 16 + f.len()).sum::<usize>())
            .sum();
        let groups: usize = self
            .groups
            .iter()
            .map(|(name, g)| {
                96 + name.len()
                    + g.pel.len() * 64
                    + g.consumers
                        .iter()
                        .map(|(n, c)| 96 + 2 * n.len() + c.pel.len() * 24)
                        .sum::<usize>()
            })
            .sum();
        nodes + groups
    }

    /// The ID `XADD *` would give at `now_ms`, or None when the last
    /// possible ID was used.
    pub fn next_auto_id(&self, now_ms: u64) -> Option<StreamId> {
        if now_ms > self.last_id.ms {
            Some(StreamId::new(now_ms, 0))
        } else {
            self.last_id.incr()
        }
    }

    /// Appends an entry with `id` and the (field, value) pairs of `fv`
    /// (alternating). `id` must be greater than the last ID.
    pub fn append<'a>(
        &mut self,
        id: StreamId,
        len: usize,
        fv: impl Fn(usize) -> &'a [u8],
        max_bytes: usize,
        max_entries: usize,
    ) -> Result<(), AddError> {
        if id <= self.last_id {
            return Err(AddError::IdTooSmall);
        }
        let total: usize = (0..len).map(|k| fv(k).len()).sum();
        if total > MAX_ENTRY_BYTES {
            return Err(AddError::TooLarge);
        }
        let max_bytes = if max_bytes == 0 || max_bytes > MAX_ENTRY_BYTES {
            MAX_ENTRY_BYTES
        } else {
            max_bytes
        };
        let pairs = len / 2;
        let open_new = match self.nodes.last_key_value() {
            None => true,
            Some((_, n)) => {
                n.packed_bytes() + total >= max_bytes
                    || (max_entries != 0 && (n.live + n.deleted) as usize >= max_entries)
            }
        };
        if open_new {
            if let Some(mut last) = self.nodes.last_entry() {
                // Seal the full node in an allocation of its size: a
                // shrinking realloc may keep the grown block.
                let buf = &mut last.get_mut().buf;
                *buf = buf.as_slice().to_vec();
            }
            let fields = (0..pairs).map(|i| Box::from(fv(2 * i))).collect();
            self.nodes.insert(
                id,
                Node {
                    fields,
                    buf: Vec::with_capacity(64),
                    live: 0,
                    deleted: 0,
                    last: id,
                    last_at: 0,
                },
            );
        }
        let (_, node) = self.nodes.iter_mut().next_back().expect("a node exists");
        let same = node.fields.len() == pairs && (0..pairs).all(|i| *node.fields[i] == *fv(2 * i));
        node.last_at = node.buf.len() as u32;
        node.put_id(id, if same { SAME_FIELDS as u64 } else { 0 });
        let buf = &mut node.buf;
        if same {
            for i in 0..pairs {
                let v = fv(2 * i + 1);
                put_varint(buf, v.len() as u64);
                buf.extend_from_slice(v);
            }
        } else {
            put_varint(buf, pairs as u64);
            for s in (0..len).map(&fv) {
                put_varint(buf, s.len() as u64);
                buf.extend_from_slice(s);
            }
        }
        node.live += 1;
        node.last = id;
        if self.len == 0 {
            self.first_id = id;
        }
        self.len += 1;
        self.last_id = id;
        self.entries_added += 1;
        Ok(())
    }

    /// Calls `f` for each live entry with `start <= id <= end`, ascending
    /// (or descending with `rev`), until it returns false.
    pub fn range(&self, start: StreamId, end: StreamId, rev: bool, mut f: impl FnMut(&EntryRef) -> bool) {
        if start > end || self.len == 0 {
            return;
        }
        if !rev {
            // The node holding `start` begins at or before it.
            let from = self
                .nodes
                .range(..=start)
                .next_back()
                .map(|(k, _)| *k)
                .unwrap_or(StreamId::MIN);
            for (&master, node) in self.nodes.range(from..=end) {
                if node.last < start {
                    continue;
                }
                for e in node.entries(master) {
                    if e.id > end {
                        return;
                    }
                    if e.deleted || e.id < start {
                        continue;
                    }
                    if !f(&e) {
                        return;
                    }
                }
            }
        } else {
            let mut offsets: Vec<(usize, StreamId)> = Vec::new();
            for (&master, node) in self.nodes.range(..=end).rev() {
                if node.last < start {
                    return;
                }
                offsets.clear();
                offsets.extend(node.entries(master).map(|e| (e.at, e.id)));
                for k in (0..offsets.len()).rev() {
                    let prev = k.checked_sub(1).map(|p| offsets[p].1);
                    let e = node.entry_at(master, prev, offsets[k].0);
                    if e.id < start {
                        return;
                    }
                    if e.deleted || e.id > end {
                        continue;
                    }
                    if !f(&e) {
                        return;
                    }
                }
            }
        }
    }

    /// The live entry `id`.
    pub fn get(&self, id: StreamId) -> Option<EntryRef<'_>> {
        let (&master, node) = self.nodes.range(..=id).next_back()?;
        if node.last < id {
            return None;
        }
        node.entries(master)
            .find(|e| e.id >= id)
            .filter(|e| e.id == id && !e.deleted)
    }

    pub fn contains(&self, id: StreamId) -> bool {
        self.get(id).is_some()
    }

    /// Deletes the live entry `id` (XDEL's low level): true if it was there.
    /// `first_id` and `max_deleted` are the caller's to update.
    fn delete_one(&mut self, id: StreamId) -> bool {
        let Some((&master, node)) = self.nodes.range_mut(..=id).next_back() else {
            return false;
        };
        if node.last < id {
            return false;
        }
        let Some(at) = node.entries(master).find(|e| e.id == id && !e.deleted).map(|e| e.at) else {
            return false;
        };
        node.mark_deleted(at);
        if node.live == 0 {
            self.nodes.remove(&master);
        }
        self.len -= 1;
        true
    }

    /// XDEL: deletes the given IDs, keeping first/max-deleted IDs as Redis
    /// does. Returns how many were deleted.
    pub fn delete(&mut self, ids: &[StreamId]) -> u64 {
        let mut deleted = 0;
        let mut first_gone = false;
        for &id in ids {
            if self.delete_one(id) {
                if id == self.first_id {
                    first_gone = true;
                }
                if id > self.max_deleted {
                    self.max_deleted = id;
                }
                deleted += 1;
            }
        }
        if deleted > 0 {
            if self.len == 0 {
                self.first_id = StreamId::MIN;
            } else if first_gone {
                self.first_id = self.first_live_id().unwrap_or_default();
            }
        }
        deleted
    }

    /// Every node in ID order (RDB serialization): its master ID, the
    /// master entry's field names, live and deleted counts, and entries
    /// (tombstones included).
    pub fn node_views(&self) -> impl Iterator<Item = NodeView<'_>> + '_ {
        self.nodes.iter().map(|(&master, node)| NodeView { master, node })
    }

    /// The first live entry's ID.
    pub fn first_live_id(&self) -> Option<StreamId> {
        let mut found = None;
        self.range(StreamId::MIN, StreamId::MAX, false, |e| {
            found = Some(e.id);
            false
        });
        found
    }

    /// The last live entry's ID.
    pub fn last_live_id(&self) -> Option<StreamId> {
        // Usually the last entry written: one flag to look at.
        let (_, tail) = self.nodes.last_key_value()?;
        if tail.buf[tail.last_at as usize] & DELETED == 0 {
            return Some(tail.last);
        }
        let mut found = None;
        self.range(StreamId::MIN, StreamId::MAX, true, |e| {
            found = Some(e.id);
            false
        });
        found
    }

    /// Trims by length or minimum ID. `approx` removes whole nodes only;
    /// `limit` (0 = none) caps the entries removed. Returns how many went.
    pub fn trim(&mut self, how: Trim, approx: bool, limit: u64) -> u64 {
        let mut deleted = 0u64;
        loop {
            if let Trim::MaxLen(max) = how {
                if self.len <= max {
                    break;
                }
            }
            let Some(mut first) = self.nodes.first_entry() else {
                break;
            };
            let master = *first.key();
            let live = first.get().live as u64;
            if limit != 0 && deleted + live > limit {
                break;
            }
            let whole = match how {
                Trim::MaxLen(max) => self.len - live >= max,
                Trim::MinId(min) => first.get().last < min,
            };
            if whole {
                first.remove();
                self.len -= live;
                deleted += live;
                continue;
            }
            if approx {
                break;
            }
            // Mark entries of this node deleted one by one.
            let node = first.get_mut();
            let mut marks = Vec::new();
            let mut len = self.len;
            for e in node.entries(master) {
                let stop = match how {
                    Trim::MaxLen(max) => len <= max,
                    Trim::MinId(min) => e.id >= min,
                };
                if stop {
                    break;
                }
                if !e.deleted {
                    marks.push(e.at);
                    len -= 1;
                }
            }
            for at in &marks {
                node.mark_deleted(*at);
            }
            deleted += marks.len() as u64;
            self.len = len;
            break;
        }
        if self.len == 0 {
            self.first_id = StreamId::MIN;
        } else if deleted > 0 {
            self.first_id = self.first_live_id().unwrap_or_default();
        }
        deleted
    }

    /// The first ID of the first node, tombstones included (what a
    /// rewritten `MINID ~` would name).
    pub fn first_node_id(&self) -> StreamId {
        self.nodes.first_key_value().map(|(k, _)| *k).unwrap_or_default()
    }

    /// Whether a tombstone may lie in `start..=end` (Redis's conservative
    /// test on the largest deleted ID).
    pub fn range_has_tombstones(&self, start: StreamId, end: StreamId) -> bool {
        if self.len == 0 || self.max_deleted.is_zero() || self.first_id > self.max_deleted {
            return false;
        }
        start <= self.max_deleted && self.max_deleted <= end
    }

    /// The logical read counter of `id` (entries from the first ever added
    /// up to it), when it can be known.
    pub fn estimate_distance(&self, id: StreamId) -> Option<u64> {
        if self.entries_added == 0 {
            return Some(0);
        }
        if self.len == 0 && id <= self.last_id {
            return Some(self.entries_added);
        }
        if id == self.last_id {
            return Some(self.entries_added);
        }
        if id > self.last_id {
            return None;
        }
        if self.max_deleted.is_zero() || self.max_deleted < self.first_id {
            if id < self.first_id {
                return Some(self.entries_added - self.len);
            }
            if id == self.first_id {
                return Some(self.entries_added - self.len + 1);
            }
        }
        None
    }

    /// A group's lag: entries not yet delivered to it, when it can be known.
    /// Signed, as Redis computes it: a group set ahead with ENTRIESREAD
    /// shows a negative lag.
    pub fn lag(&self, g: &Group) -> Option<i64> {
        if self.entries_added == 0 {
            return Some(0);
        }
        let added = self.entries_added as i64;
        if g.entries_read != ENTRIES_READ_INVALID && !self.range_has_tombstones(g.last_id, StreamId::MAX) {
            return Some(added.wrapping_sub(g.entries_read));
        }
        self.estimate_distance(g.last_id)
            .map(|read| added.wrapping_sub(read as i64))
    }

    /// Delivers to `consumer` of `group` the entries after the group's last
    /// delivered ID (XREADGROUP `>`), at most `count` (0 = all), adding them
    /// to the PEL unless `noack`. Calls `f` with each entry.
    pub fn deliver_new(
        &mut self,
        group: &[u8],
        consumer: &[u8],
        count: usize,
        noack: bool,
        now: u64,
        mut f: impl FnMut(&EntryRef),
    ) -> usize {
        let Some(start) = self.groups.get(group).and_then(|g| g.last_id.incr()) else {
            return 0;
        };
        let mut ids = Vec::new();
        self.range(start, StreamId::MAX, false, |e| {
            f(e);
            ids.push(e.id);
            count == 0 || ids.len() < count
        });
        for &id in &ids {
            // The counter steps by one while no tombstone lies ahead;
            // otherwise it is estimated (only then is the estimate needed).
            let counting = self.groups[group].entries_read != ENTRIES_READ_INVALID
                && !self.range_has_tombstones(id, StreamId::MAX);
            let estimate = (!counting && self.entries_added > 0)
                .then(|| self.estimate_distance(id).map_or(ENTRIES_READ_INVALID, |v| v as i64));
            let g = self.groups.get_mut(group).expect("group checked");
            if counting {
                g.entries_read = g.entries_read.wrapping_add(1);
            } else if let Some(e) = estimate {
                g.entries_read = e;
            }
            g.last_id = id;
            if !noack {
                let nack = g.assign(id, consumer, now);
                nack.delivery_count = 1;
                nack.delivery_time = now;
            }
        }
        if !noack && !ids.is_empty() {
            if let Some(c) = self.groups.get_mut(group).and_then(|g| g.consumers.get_mut(consumer)) {
                c.active_time = now as i64;
            }
        }
        ids.len()
    }
}

/// Parses a stream ID argument. `missing_seq` fills an absent sequence;
/// `strict` refuses `-` and `+`.
pub fn parse_id(arg: &[u8], missing_seq: u64, strict: bool) -> Option<StreamId> {
    parse_id_ext(arg, missing_seq, strict, false).map(|(id, _)| id)
}

/// [`parse_id`] with `<ms>-*` support: returns the ID and whether its
/// sequence was given.
pub fn parse_id_ext(arg: &[u8], missing_seq: u64, strict: bool, seq_star: bool) -> Option<(StreamId, bool)> {
    if arg.len() > 127 {
        return None;
    }
    if arg == b"-" || arg == b"+" {
        if strict {
            return None;
        }
        return Some((if arg == b"-" { StreamId::MIN } else { StreamId::MAX }, true));
    }
    let (ms_part, seq_part) = match memchr::memchr(b'-', arg) {
        Some(i) => (&arg[..i], Some(&arg[i + 1..])),
        None => (arg, None),
    };
    let ms = parse_u64(ms_part)?;
    match seq_part {
        None => Some((StreamId::new(ms, missing_seq), true)),
        Some(b"*") if seq_star => Some((StreamId::new(ms, 0), false)),
        Some(s) => Some((StreamId::new(ms, parse_u64(s)?), true)),
    }
}

/// An unsigned 64-bit decimal as Redis's string2ull reads it: plain
/// digits, or what strtoull accepts (leading blanks, a `+`) for values past
/// i64; never a negative number.
fn parse_u64(s: &[u8]) -> Option<u64> {
    if let Some(v) = crate::protocol::parser::parse_i64_strict(s) {
        return (v >= 0).then_some(v as u64);
    }
    let mut i = 0;
    while i < s.len() && matches!(s[i], b' ' | b'\t' | b'\n' | b'\r' | 0x0b | 0x0c) {
        i += 1;
    }
    if i < s.len() && s[i] == b'+' {
        i += 1;
    }
    if i >= s.len() {
        return None;
    }
    let mut v: u64 = 0;
    for &c in &s[i..] {
        if !c.is_ascii_digit() {
            return None;
        }
        v = v.checked_mul(10)?.checked_add((c - b'0') as u64)?;
    }
    Some(v)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn id(ms: u64, seq: u64) -> StreamId {
        StreamId::new(ms, seq)
    }

    fn add(s: &mut Stream, i: StreamId, fv: &[&str], max_entries: usize) {
        let fv: Vec<&[u8]> = fv.iter().map(|x| x.as_bytes()).collect();
        s.append(i, fv.len(), |k| fv[k], 4096, max_entries).unwrap();
    }

    fn ids(s: &Stream, rev: bool) -> Vec<StreamId> {
        let mut v = Vec::new();
        s.range(StreamId::MIN, StreamId::MAX, rev, |e| {
            v.push(e.id);
            true
        });
        v
    }

    #[test]
    fn ids_format_and_parse() {
        let mut b = [0u8; 41];
        assert_eq!(id(1526919030474, 55).format(&mut b), b"1526919030474-55");
        assert_eq!(StreamId::MAX.to_vec(), b"18446744073709551615-18446744073709551615");
        assert_eq!(parse_id(b"5", 0, true), Some(id(5, 0)));
        assert_eq!(parse_id(b"5", u64::MAX, true), Some(id(5, u64::MAX)));
        assert_eq!(parse_id(b"5-3", 0, true), Some(id(5, 3)));
        assert_eq!(parse_id(b"-", 0, true), None);
        assert_eq!(parse_id(b"+", 0, false), Some(StreamId::MAX));
        assert_eq!(parse_id(b"-1", 0, true), None);
        assert_eq!(parse_id(b"5-x", 0, true), None);
        assert_eq!(parse_id(b"18446744073709551615-0", 0, true), Some(id(u64::MAX, 0)));
        assert_eq!(parse_id(b"18446744073709551616", 0, true), None);
        assert_eq!(parse_id_ext(b"7-*", 0, true, true), Some((id(7, 0), false)));
        assert_eq!(parse_id(b"7-*", 0, true), None);
        assert_eq!(id(1, u64::MAX).incr(), Some(id(2, 0)));
        assert_eq!(StreamId::MAX.incr(), None);
        assert_eq!(id(2, 0).decr(), Some(id(1, u64::MAX)));
        assert_eq!(StreamId::MIN.decr(), None);
    }

    #[test]
    fn entries_round_trip_in_both_directions() {
        let mut s = Stream::new();
        for i in 1..=250u64 {
            if i % 7 == 0 {
                add(&mut s, id(i * 3, i), &["other", "x", "more", &i.to_string()], 100);
            } else {
                add(&mut s, id(i * 3, i), &["a", &i.to_string(), "b", "y"], 100);
            }
        }
        assert_eq!(s.len(), 250);
        assert_eq!(s.node_count(), 3);
        let fwd = ids(&s, false);
        let mut back = ids(&s, true);
        back.reverse();
        assert_eq!(fwd, back);
        assert_eq!(fwd.len(), 250);
        let e = s.get(id(21, 7)).unwrap();
        let pairs: Vec<_> = e.pairs().collect();
        assert_eq!(pairs, vec![(&b"other"[..], &b"x"[..]), (&b"more"[..], &b"7"[..])]);
        let e = s.get(id(24, 8)).unwrap();
        assert_eq!(
            e.pairs().collect::<Vec<_>>(),
            vec![(&b"a"[..], &b"8"[..]), (&b"b"[..], &b"y"[..])]
        );
        assert!(s.get(id(24, 9)).is_none());
        // A range starting inside a node.
        let mut v = Vec::new();
        s.range(id(300, 0), id(306, 102), false, |e| {
            v.push(e.id);
            true
        });
        assert_eq!(v, vec![id(300, 100), id(303, 101), id(306, 102)]);
    }

    #[test]
    fn long_sequences_and_tombstones_round_trip() {
        let mut s = Stream::new();
        let want = [
            id(5, 3),
            id(5, 1 << 61),
            id(5, u64::MAX - 1),
            id(6, u64::MAX),
            id(7, 31),
            id(7, 32),
        ];
        for i in want {
            add(&mut s, i, &["f", "v"], 100);
        }
        assert_eq!(ids(&s, false), want.to_vec());
        assert_eq!(s.delete(&[id(5, u64::MAX - 1), id(7, 32)]), 2);
        assert_eq!(
            ids(&s, true),
            vec![id(7, 31), id(6, u64::MAX), id(5, 1 << 61), id(5, 3)]
        );
        assert_eq!(s.last_live_id(), Some(id(7, 31)));
        assert_eq!(
            s.get(id(6, u64::MAX)).unwrap().pairs().collect::<Vec<_>>(),
            vec![(&b"f"[..], &b"v"[..])]
        );
    }

    #[test]
    fn delete_and_trim_like_redis() {
        let mut s = Stream::new();
        for i in 1..=1000u64 {
            add(&mut s, id(i, 0), &["f", "v"], 100);
        }
        assert_eq!(s.delete(&[id(1, 0), id(1, 0), id(5000, 0)]), 1);
        assert_eq!(s.first_id, id(2, 0));
        assert_eq!(s.max_deleted, id(1, 0));
        // Approximate: whole nodes only.
        assert_eq!(s.trim(Trim::MaxLen(555), true, 0), 399);
        assert_eq!(s.len(), 600);
        assert_eq!(s.first_id, id(401, 0));
        // Exact.
        assert_eq!(s.trim(Trim::MaxLen(550), false, 0), 50);
        assert_eq!(s.first_id, id(451, 0));
        assert_eq!(s.trim(Trim::MinId(id(460, 0)), false, 0), 9);
        assert_eq!(s.first_id, id(460, 0));
        assert_eq!(s.len(), 541);
        // Limit stops before a node that would pass it.
        assert_eq!(s.trim(Trim::MaxLen(0), true, 50), 41);
        assert_eq!(s.len(), 500);
        assert_eq!(s.trim(Trim::MaxLen(0), false, 0), 500);
        assert!(s.is_empty());
        assert_eq!(s.first_id, StreamId::MIN);
        assert_eq!(s.node_count(), 0);
        assert_eq!(s.last_id, id(1000, 0));
    }

    #[test]
    fn groups_deliver_and_count_reads() {
        let mut s = Stream::new();
        for i in 1..=5u64 {
            add(&mut s, id(i, 0), &["f", "v"], 100);
        }
        s.groups.insert(b"g".to_vec(), Group::new(StreamId::MIN, 0));
        s.groups.get_mut(&b"g"[..]).unwrap().consumer(b"alice", 10);
        let n = s.deliver_new(b"g", b"alice", 2, false, 10, |_| {});
        assert_eq!(n, 2);
        let g = &s.groups[&b"g"[..]];
        assert_eq!(g.last_id, id(2, 0));
        assert_eq!(g.entries_read, 2);
        assert_eq!(s.lag(g), Some(3));
        assert_eq!(g.pel.len(), 2);
        let g = s.groups.get_mut(&b"g"[..]).unwrap();
        g.consumer(b"bob", 20);
        g.assign(id(1, 0), b"bob", 20);
        assert_eq!(g.consumers[&b"alice"[..]].pel.len(), 1);
        assert_eq!(g.consumers[&b"bob"[..]].pel.len(), 1);
        assert!(g.ack(id(1, 0)));
        assert!(!g.ack(id(1, 0)));
        assert_eq!(g.consumers[&b"bob"[..]].pel.len(), 0);
    }
}
