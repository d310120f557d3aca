//! The hash type's storage.
//!
//! Two forms, as Redis has:
//! - compact ("listpack", or "listpackex" once a field TTL was set): all
//!   pairs in one buffer, `[len][field][len][value]` with LEB128 lengths, in
//!   insertion order, searched linearly; used while the hash is within
//!   hash-max-listpack-entries / hash-max-listpack-value;
//! - indexed ("hashtable"): a vector of pairs, each pair one allocation
//!   (`[field length: u32 LE][field][value]`), plus a hashbrown
//!   `HashTable<u32>` of positions found by a hash of the field. That costs
//!   one pair allocation, 16 bytes of vector and ~5-10 bytes of index per
//!   field, and gives O(1) lookups, O(1) uniform random picks (a random
//!   position) for HRANDFIELD, and positional SCAN cursors.
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

/// Appends `v` as LEB128.
fn put_varint(buf: &mut Vec<u8>, v: usize) {
    super::varint::put(buf, v as u64)
}

/// Reads a LEB128 number at `*at`, advancing it.
#[inline]
fn get_varint(buf: &[u8], at: &mut usize) -> usize {
    super::varint::get(buf, at) as usize
}

fn varint_len(mut v: usize) -> usize {
    let mut n = 1;
    while v >= 0x80 {
        v >>= 7;
        n += 1;
    }
    n
}

/// The compact form: every pair in one buffer, `[len][field][len][value]`
/// with LEB128 lengths, in order (Redis's listpack, in spirit).
#[derive(Debug, Clone, Default)]
struct Compact {
    buf: Vec<u8>,
    len: usize,
}

/// One entry of a compact buffer: its byte range and its parts.
struct Slot {
    start: usize,
    end: usize,
    field: (usize, usize),
    value: (usize, usize),
}

impl Compact {
    #[inline]
    fn slot_at(&self, start: usize) -> Slot {
        let mut at = start;
        let fl = get_varint(&self.buf, &mut at);
        let field = (at, at + fl);
        at += fl;
        let vl = get_varint(&self.buf, &mut at);
        let value = (at, at + vl);
        Slot {
            start,
            end: at + vl,
            field,
            value,
        }
    }

    fn slots(&self) -> impl Iterator<Item = Slot> + '_ {
        let mut at = 0;
        std::iter::from_fn(move || {
            if at >= self.buf.len() {
                return None;
            }
            let s = self.slot_at(at);
            at = s.end;
            Some(s)
        })
    }

    fn find(&self, field: &[u8]) -> Option<(usize, Slot)> {
        self.slots()
            .enumerate()
            .find(|(_, s)| &self.buf[s.field.0..s.field.1] == field)
    }

    fn nth(&self, i: usize) -> Slot {
        self.slots().nth(i).expect("position below len")
    }

    fn parts(&self, s: &Slot) -> (&[u8], &[u8]) {
        (&self.buf[s.field.0..s.field.1], &self.buf[s.value.0..s.value.1])
    }

    fn encode(field: &[u8], value: &[u8]) -> Vec<u8> {
        let mut e = Vec::with_capacity(varint_len(field.len()) + field.len() + varint_len(value.len()) + value.len());
        put_varint(&mut e, field.len());
        e.extend_from_slice(field);
        put_varint(&mut e, value.len());
        e.extend_from_slice(value);
        e
    }

    /// Replaces bytes `start..end` with `with`, growing the buffer by no
    /// more than needed (a compact hash is small; exact sizes save memory).
    fn splice(&mut self, start: usize, end: usize, with: &[u8]) {
        let grow = with.len().saturating_sub(end - start);
        if grow > 0 {
            self.buf.reserve_exact(grow);
        }
        self.buf.splice(start..end, with.iter().copied());
        if self.buf.capacity() > self.buf.len() * 2 + 64 {
            self.buf.shrink_to_fit();
        }
    }
}

/// The indexed form ("hashtable").
#[derive(Debug, Clone, Default)]
struct Indexed {
    pairs: Vec<Pair>,
    /// Positions into `pairs`, found by the hash of the field.
    index: HashTable<u32>,
}

#[derive(Debug, Clone)]
enum Repr {
    Compact(Compact),
    Indexed(Box<Indexed>),
}

impl Default for Repr {
    fn default() -> Self {
        Repr::Compact(Compact::default())
    }
}

/// A hash value. Never empty while stored.
#[derive(Debug, Clone, Default)]
pub struct Hash {
    repr: Repr,
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

/// Iterator over a hash's pairs in position order.
pub struct Iter<'a> {
    hash: &'a Hash,
    at: usize,
}

impl<'a> Iterator for Iter<'a> {
    type Item = (&'a [u8], &'a [u8]);

    fn next(&mut self) -> Option<Self::Item> {
        match &self.hash.repr {
            Repr::Compact(c) => {
                if self.at >= c.buf.len() {
                    return None;
                }
                let s = c.slot_at(self.at);
                self.at = s.end;
                Some(c.parts(&s))
            }
            Repr::Indexed(ix) => {
                let p = ix.pairs.get(self.at)?;
                self.at += 1;
                Some((pair_field(p), pair_value(p)))
            }
        }
    }
}

impl Hash {
    pub fn new() -> Hash {
        Hash::default()
    }

    /// Number of stored fields, expired ones not yet reclaimed included (as
    /// Redis's HLEN).
    pub fn len(&self) -> usize {
        match &self.repr {
            Repr::Compact(c) => c.len,
            Repr::Indexed(ix) => ix.pairs.len(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The name OBJECT ENCODING reports.
    pub fn encoding(&self) -> &'static str {
        match &self.repr {
            Repr::Indexed(_) => "hashtable",
            Repr::Compact(_) if self.ex => "listpackex",
            Repr::Compact(_) => "listpack",
        }
    }

    /// Whether the hash is in its compact form.
    pub fn is_compact(&self) -> bool {
        matches!(self.repr, Repr::Compact(_))
    }

    /// Position of `field`.
    pub fn position(&self, field: &[u8]) -> Option<usize> {
        match &self.repr {
            Repr::Compact(c) => c.find(field).map(|(i, _)| i),
            Repr::Indexed(ix) => {
                let pairs = &ix.pairs;
                ix.index
                    .find(hash_of(field), |&i| pair_field(&pairs[i as usize]) == field)
                    .map(|&i| i as usize)
            }
        }
    }

    /// The value of `field`, expired or not.
    pub fn get(&self, field: &[u8]) -> Option<&[u8]> {
        match &self.repr {
            Repr::Compact(c) => c.find(field).map(|(_, s)| &c.buf[s.value.0..s.value.1]),
            Repr::Indexed(ix) => self.position(field).map(|i| pair_value(&ix.pairs[i])),
        }
    }

    /// The field and value at position `i` (< len). O(i) in the compact
    /// form, O(1) in the indexed one.
    pub fn at(&self, i: usize) -> (&[u8], &[u8]) {
        match &self.repr {
            Repr::Compact(c) => {
                let s = c.nth(i);
                c.parts(&s)
            }
            Repr::Indexed(ix) => {
                let p = &ix.pairs[i];
                (pair_field(p), pair_value(p))
            }
        }
    }

    /// All pairs in position order, expired ones included.
    pub fn iter(&self) -> Iter<'_> {
        Iter { hash: self, at: 0 }
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
            None => self.len(),
            Some(t) => {
                let expired = t.by_time.iter().take_while(|(at, _)| *at < now).count();
                self.len() - expired
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
        if !self.is_compact() {
            return;
        }
        if new_fields > limits.hash_max_listpack_entries {
            self.convert(self.len() + new_fields);
            return;
        }
        for l in lens {
            if l > limits.hash_max_listpack_value {
                self.convert(self.len() + new_fields);
                return;
            }
        }
    }

    /// Builds the index (the "hashtable" encoding), keeping positions.
    pub fn convert(&mut self, capacity: usize) {
        let Repr::Compact(c) = &self.repr else {
            return;
        };
        let mut ix = Indexed {
            pairs: Vec::with_capacity(capacity.max(c.len)),
            index: HashTable::with_capacity(capacity.max(c.len)),
        };
        for s in c.slots() {
            let (f, v) = c.parts(&s);
            ix.pairs.push(pair_new(f, v));
        }
        let pairs = &ix.pairs;
        for (i, p) in pairs.iter().enumerate() {
            ix.index.insert_unique(hash_of(pair_field(p)), i as u32, |&j| {
                hash_of(pair_field(&pairs[j as usize]))
            });
        }
        self.repr = Repr::Indexed(Box::new(ix));
    }

    /// Sets `field` to `value`. Returns true when the field is new. A field
    /// that existed loses its TTL unless `keep_ttl`. Converts to the indexed
    /// form when the compact limits are exceeded.
    pub fn set(&mut self, field: &[u8], value: &[u8], keep_ttl: bool, limits: &crate::config::Limits) -> bool {
        if self.is_compact()
            && (field.len() > limits.hash_max_listpack_value || value.len() > limits.hash_max_listpack_value)
        {
            self.convert(self.len() + 1);
        }
        let had_ttl = self.ttl_of(field) != 0;
        let existed = match &mut self.repr {
            Repr::Compact(c) => match c.find(field) {
                Some((_, s)) => {
                    let vstart = s.value.0 - varint_len(s.value.1 - s.value.0);
                    let mut e = Vec::with_capacity(varint_len(value.len()) + value.len());
                    put_varint(&mut e, value.len());
                    e.extend_from_slice(value);
                    c.splice(vstart, s.end, &e);
                    true
                }
                None => {
                    let e = Compact::encode(field, value);
                    let end = c.buf.len();
                    c.splice(end, end, &e);
                    c.len += 1;
                    false
                }
            },
            Repr::Indexed(ix) => {
                let pairs = &ix.pairs;
                let h = hash_of(field);
                match ix.index.find(h, |&i| pair_field(&pairs[i as usize]) == field) {
                    Some(&i) => {
                        ix.pairs[i as usize] = pair_new(field, value);
                        true
                    }
                    None => {
                        let pos = ix.pairs.len();
                        ix.pairs.push(pair_new(field, value));
                        let pairs = &ix.pairs;
                        ix.index
                            .insert_unique(h, pos as u32, |&j| hash_of(pair_field(&pairs[j as usize])));
                        false
                    }
                }
            }
        };
        if existed {
            if !keep_ttl && had_ttl {
                self.set_ttl(field, 0);
            }
        } else if self.is_compact() && self.len() > limits.hash_max_listpack_entries {
            self.convert(self.len());
        }
        !existed
    }

    /// Removes `field` (expired or not). Returns whether it existed.
    pub fn remove(&mut self, field: &[u8]) -> bool {
        if let Some(ttls) = &mut self.ttls {
            if let Some(at) = ttls.by_field.remove(field) {
                ttls.by_time.remove(&(at, Box::from(field)));
            }
        }
        match &mut self.repr {
            Repr::Compact(c) => match c.find(field) {
                None => false,
                Some((_, s)) => {
                    c.splice(s.start, s.end, &[]);
                    c.len -= 1;
                    true
                }
            },
            Repr::Indexed(ix) => {
                let pairs = &ix.pairs;
                let h = hash_of(field);
                let Ok(e) = ix.index.find_entry(h, |&i| pair_field(&pairs[i as usize]) == field) else {
                    return false;
                };
                let (pos, _) = e.remove();
                let pos = pos as usize;
                let last = ix.pairs.len() - 1;
                ix.pairs.swap_remove(pos);
                if pos != last {
                    let h = hash_of(pair_field(&ix.pairs[pos]));
                    if let Some(slot) = ix.index.find_mut(h, |&i| i as usize == last) {
                        *slot = pos as u32;
                    }
                }
                // Give memory back when a big hash shrank a lot.
                if ix.pairs.capacity() > 64 && ix.pairs.len() < ix.pairs.capacity() / 4 {
                    ix.pairs.shrink_to(ix.pairs.len() * 2);
                    let pairs = &ix.pairs;
                    ix.index
                        .shrink_to(pairs.len(), |&j| hash_of(pair_field(&pairs[j as usize])));
                }
                true
            }
        }
    }

    /// Sets (`at` > 0) or clears (`at` = 0) the TTL of an existing field.
    /// Returns false when the field does not exist.
    pub fn set_ttl(&mut self, field: &[u8], at: u64) -> bool {
        if self.position(field).is_none() {
            return false;
        }
        let key: Box<[u8]> = field.into();
        let ttls = self.ttls.get_or_insert_with(Default::default);
        if let Some(old) = ttls.by_field.remove(&key) {
            ttls.by_time.remove(&(old, key.clone()));
        }
        if at != 0 {
            ttls.by_field.insert(key.clone(), at);
            ttls.by_time.insert((at, key));
        }
        if ttls.by_field.is_empty() {
            self.ttls = None;
        }
        if self.is_compact() {
            // listpackex keeps fields with a TTL first, ordered by expiry,
            // then the others in insertion order: move the entry.
            self.ex = true;
            let Repr::Compact(c) = &self.repr else { unreachable!() };
            let (_, s) = c.find(field).expect("field found above");
            let entry = c.buf[s.start..s.end].to_vec();
            let mut c = std::mem::take(match &mut self.repr {
                Repr::Compact(c) => c,
                Repr::Indexed(_) => unreachable!(),
            });
            c.buf.drain(s.start..s.end);
            let dest = if at == 0 {
                c.buf.len()
            } else {
                c.slots()
                    .find(|q| {
                        let t = self.ttl_of(&c.buf[q.field.0..q.field.1]);
                        t == 0 || t >= at
                    })
                    .map_or(c.buf.len(), |q| q.start)
            };
            c.buf.splice(dest..dest, entry);
            self.repr = Repr::Compact(c);
        }
        true
    }

    /// Marks a compact hash as "listpackex" (Redis converts on the first
    /// field-expiry command against it, even one that changes nothing).
    pub fn mark_ex(&mut self) {
        if self.is_compact() {
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
        match &self.repr {
            Repr::Compact(c) => c.buf.capacity(),
            Repr::Indexed(ix) => {
                let pairs: usize = ix.pairs.iter().map(|p| p.len().next_multiple_of(8)).sum();
                pairs + ix.pairs.capacity() * std::mem::size_of::<Pair>() + ix.index.capacity() * 5
            }
        }
    }

    /// [`Hash::heap_bytes`] with a hashtable's pairs estimated from the
    /// first `samples` (MEMORY USAGE ... SAMPLES).
    pub fn heap_bytes_sampled(&self, samples: usize) -> usize {
        match &self.repr {
            Repr::Compact(_) => self.heap_bytes(),
            Repr::Indexed(ix) => {
                let elems = ix.pairs.iter().map(|p| p.len().next_multiple_of(8));
                super::memsample::scaled(ix.pairs.len(), samples, elems)
                    + ix.pairs.capacity() * std::mem::size_of::<Pair>()
                    + ix.index.capacity() * 5
            }
        }
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
    fn compact_buffer_handles_long_values_and_overwrites() {
        let l = Limits {
            hash_max_listpack_entries: 128,
            hash_max_listpack_value: 100_000,
            ..Limits::default()
        };
        let mut h = Hash::new();
        let long = vec![b'x'; 300];
        let longer = vec![b'y'; 20_000];
        assert!(h.set(b"a", &long, false, &l));
        assert!(h.set(&long, b"short", false, &l));
        assert!(h.set(b"c", b"", false, &l));
        assert!(!h.set(b"a", &longer, false, &l));
        assert!(!h.set(b"c", b"now-longer", false, &l));
        assert_eq!(h.encoding(), "listpack");
        assert_eq!(h.get(b"a"), Some(&longer[..]));
        assert_eq!(h.get(&long), Some(&b"short"[..]));
        assert_eq!(h.get(b"c"), Some(&b"now-longer"[..]));
        let order: Vec<&[u8]> = h.iter().map(|(f, _)| f).collect();
        assert_eq!(order, vec![&b"a"[..], &long[..], b"c"]);
        assert_eq!(h.at(1).1, b"short");
        assert!(h.remove(&long));
        assert_eq!(h.len(), 2);
        assert_eq!(h.at(1), (&b"c"[..], &b"now-longer"[..]));
        h.convert(0);
        assert_eq!(h.encoding(), "hashtable");
        assert_eq!(h.get(b"a"), Some(&longer[..]));
        assert_eq!(h.get(b"c"), Some(&b"now-longer"[..]));
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
