//! The hash type's storage.
//!
//! A hash is a vector of field/value pairs, each pair one allocation
//! (`[field length: u32 LE][field][value]`), plus, once it outgrows the
//! compact thresholds, an index: a hashbrown `HashTable<u32>` of positions
//! into the vector, found by a hash of the field. That gives:
//! - small hashes with no index at all, searched linearly and kept in
//!   insertion order, as Redis's listpack (OBJECT ENCODING "listpack", or
//!   "listpackex" once a field TTL was set);
//! - large hashes ("hashtable") at one pair allocation, 16 bytes of vector
//!   and ~5-10 bytes of index per field, with O(1) lookups, O(1) uniform
//!   random picks (a random position) for HRANDFIELD, and positional SCAN
//!   cursors.
//!
//! Indexed hashes delete by swapping the last pair into the hole. SCAN walks
//! positions from the last one down, so a swap only ever moves an element
//! that was already returned: every element present for the whole scan is
//! returned at least once.
//!
//! Field TTLs (Redis 7.4 hash field expiration) live beside the pairs, in a
//! map field → expiry and an ordered set (expiry, field) that gives the
//! earliest expiry and the fields due, for active reclamation. Expired
//! fields stay stored until a command or the active cycle removes them;
//! readers skip them (see [`Hash::is_expired_at`]).

use std::collections::BTreeSet;
use std::hash::BuildHasher;
use std::sync::OnceLock;

use hashbrown::HashTable;

thread_local! {
    /// Hash fields deleted because they expired (lazily, actively, or by a
    /// TTL set in the past), for INFO's expired_subkeys. A thread is a
    /// shard, so this is shard-local state.
    pub static EXPIRED_FIELDS: std::cell::Cell<u64> = const { std::cell::Cell::new(0) };
}

/// Counts `n` hash fields deleted on expiry.
pub fn count_expired_fields(n: usize) {
    EXPIRED_FIELDS.with(|c| c.set(c.get() + n as u64));
}

/// One field/value pair in a single allocation.
type Pair = Box<[u8]>;

fn pair_new(field: &[u8], value: &[u8]) -> Pair {
    let mut v = Vec::with_capacity(4 + field.len() + value.len());
    v.extend_from_slice(&(field.len() as u32).to_le_bytes());
    v.extend_from_slice(field);
    v.extend_from_slice(value);
    v.into_boxed_slice()
}

#[inline]
fn pair_field(p: &[u8]) -> &[u8] {
    let n = u32::from_le_bytes([p[0], p[1], p[2], p[3]]) as usize;
    &p[4..4 + n]
}

#[inline]
fn pair_value(p: &[u8]) -> &[u8] {
    let n = u32::from_le_bytes([p[0], p[1], p[2], p[3]]) as usize;
    &p[4 + n..]
}

/// The field hasher shared by every hash of the process (its seeds are
/// fixed once; one `RandomState` per hash would cost 32 bytes each).
fn hasher() -> &'static hashbrown::hash_map::DefaultHashBuilder {
    static H: OnceLock<hashbrown::hash_map::DefaultHashBuilder> = OnceLock::new();
    H.get_or_init(Default::default)
}

#[inline]
fn hash_of(field: &[u8]) -> u64 {
    hasher().hash_one(field)
}

/// Field TTLs of one hash.
#[derive(Debug, Clone, Default, PartialEq)]
struct Ttls {
    by_field: hashbrown::HashMap<Box<[u8]>, u64>,
    by_time: BTreeSet<(u64, Box<[u8]>)>,
}

/// A hash value. Never empty while stored.
#[derive(Debug, Clone, Default)]
pub struct Hash {
    pairs: Vec<Pair>,
    /// Positions into `pairs`; `None` while the hash is compact.
    index: Option<HashTable<u32>>,
    ttls: Option<Box<Ttls>>,
    /// A compact hash that had a field TTL set reports "listpackex" (Redis
    /// converts listpack to listpackex then and never back).
    ex: bool,
}

impl PartialEq for Hash {
    fn eq(&self, other: &Hash) -> bool {
        self.len() == other.len()
            && self.iter().all(|(f, v)| other.get(f) == Some(v))
            && self.ttls.as_deref().map(|t| &t.by_field) == other.ttls.as_deref().map(|t| &t.by_field)
    }
}

impl Hash {
    pub fn new() -> Hash {
        Hash::default()
    }

    /// Number of stored fields, expired ones not yet reclaimed included (as
    /// Redis's HLEN).
    pub fn len(&self) -> usize {
        self.pairs.len()
    }

    pub fn is_empty(&self) -> bool {
        self.pairs.is_empty()
    }

    /// The name OBJECT ENCODING reports.
    pub fn encoding(&self) -> &'static str {
        if self.index.is_some() {
            "hashtable"
        } else if self.ex {
            "listpackex"
        } else {
            "listpack"
        }
    }

    /// Whether the hash is in its compact form.
    pub fn is_compact(&self) -> bool {
        self.index.is_none()
    }

    /// Position of `field`.
    pub fn position(&self, field: &[u8]) -> Option<usize> {
        match &self.index {
            None => self.pairs.iter().position(|p| pair_field(p) == field),
            Some(t) => {
                let pairs = &self.pairs;
                t.find(hash_of(field), |&i| pair_field(&pairs[i as usize]) == field)
                    .map(|&i| i as usize)
            }
        }
    }

    /// The value of `field`, expired or not.
    pub fn get(&self, field: &[u8]) -> Option<&[u8]> {
        self.position(field).map(|i| pair_value(&self.pairs[i]))
    }

    /// The field and value at position `i` (< len).
    pub fn at(&self, i: usize) -> (&[u8], &[u8]) {
        let p = &self.pairs[i];
        (pair_field(p), pair_value(p))
    }

    /// All pairs in position order, expired ones included.
    pub fn iter(&self) -> impl Iterator<Item = (&[u8], &[u8])> {
        self.pairs.iter().map(|p| (pair_field(p), pair_value(p)))
    }

    /// Whether any field has a TTL.
    pub fn has_ttls(&self) -> bool {
        self.ttls.as_ref().is_some_and(|t| !t.by_field.is_empty())
    }

    /// The TTL (absolute ms) of `field`, 0 when it has none.
    #[inline]
    pub fn ttl_of(&self, field: &[u8]) -> u64 {
        match &self.ttls {
            None => 0,
            Some(t) => t.by_field.get(field).copied().unwrap_or(0),
        }
    }

    /// Whether `field` (stored) has expired at `now`: its expiry is strictly
    /// before `now`, as Redis's hfieldIsExpired.
    #[inline]
    pub fn is_expired_at(&self, field: &[u8], now: u64) -> bool {
        let t = self.ttl_of(field);
        t != 0 && t < now
    }

    /// The earliest field expiry, if any field has a TTL.
    pub fn min_expire(&self) -> Option<u64> {
        self.ttls.as_ref().and_then(|t| t.by_time.first().map(|(at, _)| *at))
    }

    /// Number of live (not expired) fields.
    pub fn live_len(&self, now: u64) -> usize {
        match &self.ttls {
            None => self.pairs.len(),
            Some(t) => {
                let expired = t.by_time.iter().take_while(|(at, _)| *at < now).count();
                self.pairs.len() - expired
            }
        }
    }

    /// Converts to the indexed form when `new_fields` pairs are about to be
    /// added or any of `lens` (field and value lengths) is too long for the
    /// compact form (Redis's hashTypeTryConversion).
    pub fn prepare_for(
        &mut self,
        new_fields: usize,
        lens: impl Iterator<Item = usize>,
        limits: &crate::config::Limits,
    ) {
        if self.index.is_some() {
            return;
        }
        if new_fields > limits.hash_max_listpack_entries {
            self.convert(self.pairs.len() + new_fields);
            return;
        }
        for l in lens {
            if l > limits.hash_max_listpack_value {
                self.convert(self.pairs.len() + new_fields);
                return;
            }
        }
    }

    /// Builds the index (the "hashtable" encoding).
    pub fn convert(&mut self, capacity: usize) {
        if self.index.is_some() {
            return;
        }
        let mut t = HashTable::with_capacity(capacity.max(self.pairs.len()));
        let pairs = &self.pairs;
        for (i, p) in pairs.iter().enumerate() {
            t.insert_unique(hash_of(pair_field(p)), i as u32, |&j| {
                hash_of(pair_field(&pairs[j as usize]))
            });
        }
        self.index = Some(t);
    }

    /// Sets `field` to `value`. Returns true when the field is new. A field
    /// that existed loses its TTL unless `keep_ttl`. Converts to the indexed
    /// form when the compact limits are exceeded.
    pub fn set(&mut self, field: &[u8], value: &[u8], keep_ttl: bool, limits: &crate::config::Limits) -> bool {
        if self.index.is_none()
            && (field.len() > limits.hash_max_listpack_value || value.len() > limits.hash_max_listpack_value)
        {
            self.convert(self.pairs.len() + 1);
        }
        if let Some(i) = self.position(field) {
            self.pairs[i] = pair_new(field, value);
            if !keep_ttl && self.ttl_of(field) != 0 {
                self.set_ttl_at(i, 0);
            }
            return false;
        }
        let pos = self.pairs.len();
        self.pairs.push(pair_new(field, value));
        if let Some(t) = &mut self.index {
            let pairs = &self.pairs;
            t.insert_unique(hash_of(field), pos as u32, |&j| hash_of(pair_field(&pairs[j as usize])));
        } else if self.pairs.len() > limits.hash_max_listpack_entries {
            self.convert(self.pairs.len());
        }
        true
    }

    /// Removes `field` (expired or not). Returns whether it existed.
    pub fn remove(&mut self, field: &[u8]) -> bool {
        let Some(pos) = self.position(field) else {
            return false;
        };
        self.remove_at(pos);
        true
    }

    /// Removes the pair at `pos` and its TTL.
    fn remove_at(&mut self, pos: usize) {
        if let Some(ttls) = &mut self.ttls {
            let field = pair_field(&self.pairs[pos]);
            if let Some(at) = ttls.by_field.remove(field) {
                ttls.by_time.remove(&(at, Box::from(field)));
            }
        }
        match &mut self.index {
            None => {
                self.pairs.remove(pos);
            }
            Some(t) => {
                let last = self.pairs.len() - 1;
                let h = hash_of(pair_field(&self.pairs[pos]));
                if let Ok(e) = t.find_entry(h, |&i| i as usize == pos) {
                    e.remove();
                }
                self.pairs.swap_remove(pos);
                if pos != last {
                    let h = hash_of(pair_field(&self.pairs[pos]));
                    if let Some(slot) = t.find_mut(h, |&i| i as usize == last) {
                        *slot = pos as u32;
                    }
                }
                // Give memory back when a big hash shrank a lot.
                if self.pairs.capacity() > 64 && self.pairs.len() < self.pairs.capacity() / 4 {
                    self.pairs.shrink_to(self.pairs.len() * 2);
                    let pairs = &self.pairs;
                    t.shrink_to(pairs.len(), |&j| hash_of(pair_field(&pairs[j as usize])));
                }
            }
        }
    }

    /// Sets (`at` > 0) or clears (`at` = 0) the TTL of an existing field.
    /// Returns false when the field does not exist.
    pub fn set_ttl(&mut self, field: &[u8], at: u64) -> bool {
        match self.position(field) {
            None => false,
            Some(i) => {
                self.set_ttl_at(i, at);
                true
            }
        }
    }

    fn set_ttl_at(&mut self, pos: usize, at: u64) {
        let field: Box<[u8]> = pair_field(&self.pairs[pos]).into();
        let ttls = self.ttls.get_or_insert_with(Default::default);
        if let Some(old) = ttls.by_field.remove(&field) {
            ttls.by_time.remove(&(old, field.clone()));
        }
        if at != 0 {
            ttls.by_field.insert(field.clone(), at);
            ttls.by_time.insert((at, field));
        }
        if ttls.by_field.is_empty() {
            self.ttls = None;
        }
        if self.index.is_none() {
            // listpackex keeps fields with a TTL first, ordered by expiry,
            // then the others in insertion order.
            self.ex = true;
            let p = self.pairs.remove(pos);
            let at_pos = if at == 0 {
                self.pairs.len()
            } else {
                self.pairs
                    .iter()
                    .position(|q| {
                        let t = self.ttl_of(pair_field(q));
                        t == 0 || t >= at
                    })
                    .unwrap_or(self.pairs.len())
            };
            self.pairs.insert(at_pos, p);
        }
    }

    /// Marks a compact hash as "listpackex" (Redis converts on the first
    /// field-expiry command against it, even one that changes nothing).
    pub fn mark_ex(&mut self) {
        if self.index.is_none() {
            self.ex = true;
        }
    }

    /// Removes every expired field. Returns how many.
    pub fn remove_expired(&mut self, now: u64) -> usize {
        self.expire_due(now, usize::MAX)
    }

    /// Removes up to `budget` fields whose expiry is before `now`, earliest
    /// first. Returns how many.
    pub fn expire_due(&mut self, now: u64, budget: usize) -> usize {
        let mut n = 0;
        while n < budget {
            let due = match &self.ttls {
                Some(t) => match t.by_time.first() {
                    Some((at, f)) if *at < now => f.clone(),
                    _ => break,
                },
                None => break,
            };
            self.remove(&due);
            n += 1;
        }
        count_expired_fields(n);
        n
    }

    /// Approximate heap bytes used, for MEMORY USAGE style estimates.
    pub fn heap_bytes(&self) -> usize {
        let pairs: usize = self.pairs.iter().map(|p| p.len().next_multiple_of(8)).sum();
        let vec = self.pairs.capacity() * std::mem::size_of::<Pair>();
        let index = self.index.as_ref().map_or(0, |t| t.capacity() * 5);
        pairs + vec + index
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Limits;

    fn small() -> Limits {
        Limits {
            hash_max_listpack_entries: 4,
            hash_max_listpack_value: 8,
            ..Limits::default()
        }
    }

    #[test]
    fn compact_then_indexed() {
        let l = small();
        let mut h = Hash::new();
        assert!(h.set(b"a", b"1", false, &l));
        assert!(!h.set(b"a", b"2", false, &l));
        assert_eq!(h.get(b"a"), Some(&b"2"[..]));
        assert_eq!(h.encoding(), "listpack");
        for f in [b"b", b"c", b"d"] {
            h.set(f, b"x", false, &l);
        }
        assert_eq!(h.encoding(), "listpack");
        h.set(b"e", b"x", false, &l);
        assert_eq!(h.encoding(), "hashtable");
        assert_eq!(h.len(), 5);
        for f in [&b"a"[..], b"b", b"c", b"d", b"e"] {
            assert!(h.position(f).is_some());
        }
        assert!(h.remove(b"a"));
        assert!(!h.remove(b"a"));
        for f in [&b"b"[..], b"c", b"d", b"e"] {
            assert!(h.get(f).is_some(), "{:?}", f);
        }
        let mut g = Hash::new();
        g.set(b"f", b"a-long-value", false, &l);
        assert_eq!(g.encoding(), "hashtable");
    }

    #[test]
    fn many_fields_and_deletes_keep_index_consistent() {
        let l = Limits::default();
        let mut h = Hash::new();
        for i in 0..5000 {
            h.set(format!("f{i}").as_bytes(), format!("v{i}").as_bytes(), false, &l);
        }
        for i in (0..5000).step_by(3) {
            assert!(h.remove(format!("f{i}").as_bytes()));
        }
        for i in 0..5000 {
            let got = h.get(format!("f{i}").as_bytes());
            if i % 3 == 0 {
                assert!(got.is_none());
            } else {
                assert_eq!(got, Some(format!("v{i}").as_bytes()));
            }
        }
    }

    #[test]
    fn ttls_order_compact_and_expire() {
        let l = Limits::default();
        let mut h = Hash::new();
        for f in [b"a", b"b", b"c", b"d"] {
            h.set(f, b"v", false, &l);
        }
        h.set_ttl(b"c", 200);
        h.set_ttl(b"d", 100);
        assert_eq!(h.encoding(), "listpackex");
        let order: Vec<&[u8]> = h.iter().map(|(f, _)| f).collect();
        assert_eq!(order, vec![&b"d"[..], b"c", b"a", b"b"]);
        assert_eq!(h.min_expire(), Some(100));
        assert!(h.is_expired_at(b"d", 101));
        assert!(!h.is_expired_at(b"d", 100));
        assert_eq!(h.live_len(150), 3);
        assert_eq!(h.expire_due(150, 10), 1);
        assert_eq!(h.len(), 3);
        // Overwriting clears the TTL unless asked to keep it.
        h.set(b"c", b"w", true, &l);
        assert_eq!(h.ttl_of(b"c"), 200);
        h.set(b"c", b"w", false, &l);
        assert_eq!(h.ttl_of(b"c"), 0);
        assert!(!h.has_ttls());
        assert_eq!(h.encoding(), "listpackex");
    }
}
