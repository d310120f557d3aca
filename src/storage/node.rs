//! A slot's key table, keyed by thin pointers to nodes.
//!
//! A node is one allocation holding a key's [`Entry`], the key's length and
//! the key's bytes. The table's buckets hold only the node pointer (8
//! bytes), so a bucket left empty by the table's load factor costs 8 bytes
//! instead of a whole entry, and a key costs one allocation instead of two.
//! Measured with 300 k string keys of 100-1000 bytes: 677 bytes of
//! used_memory per key, against 740 with `HashMap<Box<[u8]>, Entry>`
//! (64-byte buckets at about 57 % load, plus the key's own allocation) and
//! 687 for Redis 7.0.
//!
//! The table hashes with 16 bits kept in each node pointer, so resizing
//! never reads the nodes: that is what lets slot tables shrink back
//! eagerly under eviction churn (see `db::release_if_empty`).
//!
//! A lookup touches the bucket, then the node (key compare and entry), then
//! the value: the same number of cache lines as the old layout, which read
//! the entry from the bucket and the key from its own allocation.

use std::alloc::{alloc, dealloc, handle_alloc_error, Layout};
use std::hash::BuildHasher;
use std::sync::OnceLock;

use hashbrown::hash_table::Entry as Slot;
use hashbrown::HashTable;

use super::value::Entry;

/// Offset of the key length (u32) in a node; the key bytes follow it.
const LEN_AT: usize = std::mem::size_of::<Entry>();
const KEY_AT: usize = LEN_AT + 4;
/// A node's bytes besides the key's (MEMORY STATS counts them as overhead).
pub const HEADER_BYTES: usize = KEY_AT;

/// An owned key and its entry, in one allocation (see the module docs).
///
/// The pointer's top 16 bits, which x86-64 and AArch64 user-space
/// addresses leave zero, carry 16 bits of the key's hash. The table hashes
/// with only those bits (see [`spread`]), so growing, shrinking or
/// rebuilding a table moves pointers without reading a single node.
pub struct Node(usize);

/// Bits of a node's address; the hash tag sits above them.
const ADDR_BITS: u32 = 48;
const ADDR_MASK: usize = (1 << ADDR_BITS) - 1;

// A node owns its entry and key outright, as a `(Box<[u8]>, Entry)` would;
// whole databases move to the lazy-free thread.
unsafe impl Send for Node {}

impl Node {
    fn layout(key_len: usize) -> Layout {
        // The length fits: the protocol caps a bulk string at 512 MB.
        Layout::from_size_align(KEY_AT + key_len, std::mem::align_of::<Entry>()).expect("node layout")
    }

    pub fn new(key: &[u8], entry: Entry, tag: u16) -> Node {
        let len = u32::try_from(key.len()).expect("key longer than 4 GiB");
        let layout = Node::layout(key.len());
        // SAFETY: the layout has a non-zero size (an Entry at least). The
        // entry is written at offset 0, which is aligned for Entry; the
        // length at LEN_AT (a multiple of 8, so aligned for u32); the key
        // bytes after it, within the allocation.
        unsafe {
            let p = alloc(layout);
            if p.is_null() {
                handle_alloc_error(layout)
            }
            assert!(p as usize & !ADDR_MASK == 0, "heap address above 2^48");
            p.cast::<Entry>().write(entry);
            p.add(LEN_AT).cast::<u32>().write(len);
            std::ptr::copy_nonoverlapping(key.as_ptr(), p.add(KEY_AT), key.len());
            Node(p as usize | (tag as usize) << ADDR_BITS)
        }
    }

    #[inline]
    fn ptr(&self) -> *mut u8 {
        (self.0 & ADDR_MASK) as *mut u8
    }

    /// The 16 hash bits the node was filed with.
    #[inline]
    fn tag(&self) -> u16 {
        (self.0 >> ADDR_BITS) as u16
    }

    #[inline]
    fn key_len(&self) -> usize {
        // SAFETY: written by `new`, never changed.
        unsafe { self.ptr().add(LEN_AT).cast::<u32>().read() as usize }
    }

    #[inline]
    pub fn key(&self) -> &[u8] {
        // SAFETY: `new` wrote key_len bytes at KEY_AT.
        unsafe { std::slice::from_raw_parts(self.ptr().add(KEY_AT), self.key_len()) }
    }

    #[inline]
    pub fn entry(&self) -> &Entry {
        // SAFETY: a live Entry sits at offset 0 until the node is dropped
        // or taken apart.
        unsafe { &*self.ptr().cast::<Entry>() }
    }

    #[inline]
    pub fn entry_mut(&mut self) -> &mut Entry {
        // SAFETY: as in `entry`; `&mut self` makes the borrow unique.
        unsafe { &mut *self.ptr().cast::<Entry>() }
    }

    /// Frees the node and hands back its entry.
    pub fn into_entry(self) -> Entry {
        let layout = Node::layout(self.key_len());
        let p = self.ptr();
        std::mem::forget(self);
        // SAFETY: the entry is moved out exactly once, and the allocation is
        // freed with the layout it was made with; `forget` keeps Drop from
        // doing either again.
        unsafe {
            let e = p.cast::<Entry>().read();
            dealloc(p, layout);
            e
        }
    }
}

impl Drop for Node {
    fn drop(&mut self) {
        let layout = Node::layout(self.key_len());
        // SAFETY: as in `into_entry`, once.
        unsafe {
            std::ptr::drop_in_place(self.ptr().cast::<Entry>());
            dealloc(self.ptr(), layout);
        }
    }
}

impl std::fmt::Debug for Node {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_tuple("Node").field(&self.key()).field(self.entry()).finish()
    }
}

/// The key hasher shared by every slot table of the process: one
/// `RandomState` per table would cost 32 bytes in each of 16384 tables per
/// database.
fn hasher() -> &'static hashbrown::hash_map::DefaultHashBuilder {
    static H: OnceLock<hashbrown::hash_map::DefaultHashBuilder> = OnceLock::new();
    H.get_or_init(Default::default)
}

/// The 16-bit tag of `key`: the top bits of its full hash.
#[inline]
fn tag_of(key: &[u8]) -> u16 {
    (hasher().hash_one(key) >> 48) as u16
}

/// The table hash of a tag. Multiplying by an odd constant keeps the
/// low bits (the bucket index) as random as the tag's and fills the top
/// seven bits (hashbrown's per-bucket filter byte) from all 16. A slot
/// table never nears 65536 buckets, where 16 bits would start to crowd.
#[inline]
fn spread(tag: u16) -> u64 {
    (tag as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15)
}

#[inline]
fn rehash(n: &Node) -> u64 {
    spread(n.tag())
}

/// The keys of one hash slot of one database.
#[derive(Default)]
pub struct Table {
    nodes: HashTable<Node>,
}

impl Table {
    #[inline]
    pub fn len(&self) -> usize {
        self.nodes.len()
    }

    #[inline]
    pub fn is_empty(&self) -> bool {
        self.nodes.is_empty()
    }

    #[inline]
    pub fn capacity(&self) -> usize {
        self.nodes.capacity()
    }

    #[inline]
    pub fn get(&self, key: &[u8]) -> Option<&Entry> {
        self.nodes
            .find(spread(tag_of(key)), |n| n.key() == key)
            .map(Node::entry)
    }

    #[inline]
    pub fn get_mut(&mut self, key: &[u8]) -> Option<&mut Entry> {
        self.nodes
            .find_mut(spread(tag_of(key)), |n| n.key() == key)
            .map(Node::entry_mut)
    }

    /// The entry of `key` for reading or removal in place.
    #[inline]
    pub fn find_entry(&mut self, key: &[u8]) -> Option<Found<'_>> {
        self.nodes
            .find_entry(spread(tag_of(key)), |n| n.key() == key)
            .ok()
            .map(Found)
    }

    /// Stores `entry` under `key`; returns the entry it replaced.
    #[inline]
    pub fn insert(&mut self, key: &[u8], entry: Entry) -> Option<Entry> {
        let tag = tag_of(key);
        match self.nodes.entry(spread(tag), |n| n.key() == key, rehash) {
            Slot::Occupied(mut o) => Some(std::mem::replace(o.get_mut().entry_mut(), entry)),
            Slot::Vacant(v) => {
                v.insert(Node::new(key, entry, tag));
                None
            }
        }
    }

    #[inline]
    pub fn remove(&mut self, key: &[u8]) -> Option<Entry> {
        self.find_entry(key).map(Found::remove)
    }

    /// Keeps the keys for which `keep` says true; the rest are freed.
    pub fn retain(&mut self, mut keep: impl FnMut(&[u8], &mut Entry) -> bool) {
        self.nodes.retain(|n| {
            // The key is copied out of the borrow only by pointer: split
            // the node's key and entry borrows by hand.
            let key: *const [u8] = n.key();
            // SAFETY: the key bytes and the entry do not overlap, and the
            // node outlives this call.
            keep(unsafe { &*key }, n.entry_mut())
        });
    }

    pub fn iter(&self) -> impl Iterator<Item = (&[u8], &Entry)> {
        self.nodes.iter().map(|n| (n.key(), n.entry()))
    }

    /// The `n`-th key in bucket order. Only that key's node is read (the
    /// buckets skipped are not dereferenced): eviction sampling uses it.
    pub fn nth(&self, n: usize) -> Option<(&[u8], &Entry)> {
        self.nodes.iter().nth(n).map(|n| (n.key(), n.entry()))
    }

    pub fn keys(&self) -> impl Iterator<Item = &[u8]> {
        self.nodes.iter().map(Node::key)
    }

    /// Shrinks the bucket array to fit at least `min` keys.
    pub fn shrink_to(&mut self, min: usize) {
        self.nodes.shrink_to(min, rehash);
    }
}

/// A key found in a [`Table`], removable without a second lookup.
pub struct Found<'a>(hashbrown::hash_table::OccupiedEntry<'a, Node>);

impl<'a> Found<'a> {
    #[inline]
    pub fn get(&self) -> &Entry {
        self.0.get().entry()
    }

    #[inline]
    pub fn into_mut(self) -> &'a mut Entry {
        self.0.into_mut().entry_mut()
    }

    #[inline]
    pub fn remove(self) -> Entry {
        self.0.remove().0.into_entry()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::storage::Value;

    fn entry(v: i64) -> Entry {
        Entry {
            value: Value::Int(v),
            expire_at: 0,
            access: 0,
            lfu: 0,
        }
    }

    #[test]
    fn a_node_keeps_its_key_and_entry() {
        for key in [&b""[..], b"k", b"a-key-of-some-length", &[7u8; 1000][..]] {
            let mut n = Node::new(key, entry(1), 0xBEEF);
            assert_eq!(n.tag(), 0xBEEF);
            assert_eq!(n.key(), key);
            n.entry_mut().value = Value::string(b"hello".to_vec());
            assert_eq!(n.key(), key);
            assert!(matches!(&n.entry().value, Value::Str(data) if data == b"hello"));
            let e = n.into_entry();
            assert!(matches!(e.value, Value::Str(_)));
        }
    }

    #[test]
    fn table_inserts_replaces_removes_and_shrinks() {
        let mut t = Table::default();
        for i in 0..1000i64 {
            assert!(t.insert(format!("k{i}").as_bytes(), entry(i)).is_none());
        }
        assert_eq!(t.len(), 1000);
        let old = t.insert(b"k5", entry(-5)).unwrap();
        assert_eq!(old.value, Value::Int(5));
        assert_eq!(t.get(b"k5").unwrap().value, Value::Int(-5));
        assert!(t.get(b"nope").is_none());
        assert_eq!(t.remove(b"k6").unwrap().value, Value::Int(6));
        assert!(t.remove(b"k6").is_none());
        t.retain(|k, e| {
            if let Value::Int(i) = &mut e.value {
                *i += 1;
            }
            k.len() < 3
        });
        // k0..k9 minus k6 stay, each bumped once.
        assert_eq!(t.len(), 9);
        assert_eq!(t.get(b"k0").unwrap().value, Value::Int(1));
        t.shrink_to(9);
        assert!(t.capacity() < 100);
        let mut keys: Vec<_> = t.keys().map(|k| k.to_vec()).collect();
        keys.sort();
        assert_eq!(keys.len(), 9);
        let mut nth: Vec<_> = (0..9).map(|i| t.nth(i).unwrap().0.to_vec()).collect();
        nth.sort();
        assert_eq!(nth, keys);
        assert!(t.nth(9).is_none());
        assert!(t.find_entry(b"k1").map(Found::remove).is_some());
        assert_eq!(t.iter().count(), 8);
    }
}
