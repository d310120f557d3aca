//! The set type's storage, in Redis 7.2+'s three encodings:
//!
//! - `intset`: every member a canonical decimal i64, at most
//!   `set-max-intset-entries` of them, kept sorted (SMEMBERS then answers in
//!   ascending order, as Redis does);
//! - `listpack`: a small set (at most `set-max-listpack-entries` members of at
//!   most `set-max-listpack-value` bytes), kept in insertion order and
//!   searched linearly;
//! - `hashtable`: anything bigger, a vector of members plus a hash index of
//!   positions into it ([`Members`]), so that a random member is one random
//!   index (SPOP, SRANDMEMBER in O(1)) and removal is a swap with the last
//!   member.
//!
//! Conversions follow Redis's `t_set.c` rules: a set only moves up
//! (intset → listpack → hashtable) while it is modified in place; commands
//! that build a new set (SINTERSTORE, SPOP of most members) may pick a
//! smaller encoding for the result.

use hashbrown::hash_map::DefaultHashBuilder;
use hashbrown::HashTable;
use std::hash::BuildHasher;

use crate::config::Limits;
use crate::protocol::parser::parse_i64_strict;

/// One member as an encoding holds it: an integer of an intset, or bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Elem<'a> {
    Int(i64),
    Bytes(&'a [u8]),
}

impl Elem<'_> {
    /// Calls `f` with the member's bytes (integers in canonical decimal).
    #[inline]
    pub fn with_bytes<R>(self, f: impl FnOnce(&[u8]) -> R) -> R {
        match self {
            Elem::Int(i) => {
                let mut tmp = [0u8; 20];
                f(crate::protocol::reply::fmt_i64(&mut tmp, i))
            }
            Elem::Bytes(b) => f(b),
        }
    }

    pub fn to_vec(self) -> Vec<u8> {
        self.with_bytes(|b| b.to_vec())
    }
}

/// The integer a member stands for when it is a canonical decimal i64
/// (Redis's string2ll: no sign on zero, no leading zeros, no spaces).
#[inline]
pub fn as_int(m: &[u8]) -> Option<i64> {
    if m.is_empty() || m.len() > 20 {
        return None;
    }
    parse_i64_strict(m)
}

/// Characters of `v` in decimal, sign included (Redis's sdigits10).
fn digits10(v: i64) -> usize {
    let mut n = if v < 0 { 2 } else { 1 };
    let mut u = v.unsigned_abs();
    while u >= 10 {
        u /= 10;
        n += 1;
    }
    n
}

/// The hashtable encoding: members in a vector, a hash index of their
/// positions. Removal moves the last member into the hole, which keeps
/// random picks O(1) and lets SSCAN walk positions from the end down without
/// missing a member that stays in the set (see [`Set::scan`]).
#[derive(Clone)]
pub struct Members {
    items: Vec<Box<[u8]>>,
    index: HashTable<u32>,
    hasher: DefaultHashBuilder,
}

impl std::fmt::Debug for Members {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_list().entries(self.items.iter()).finish()
    }
}

impl PartialEq for Members {
    /// Same members in the same positions: what the cross-shard write-back
    /// needs to tell an untouched value from a changed one.
    fn eq(&self, other: &Self) -> bool {
        self.items == other.items
    }
}

impl Members {
    pub fn with_capacity(n: usize) -> Members {
        Members {
            items: Vec::with_capacity(n),
            index: HashTable::with_capacity(n),
            hasher: DefaultHashBuilder::default(),
        }
    }

    #[inline]
    pub fn len(&self) -> usize {
        self.items.len()
    }

    #[inline]
    pub fn is_empty(&self) -> bool {
        self.items.is_empty()
    }

    #[inline]
    fn hash(&self, m: &[u8]) -> u64 {
        self.hasher.hash_one(m)
    }

    /// Position of `m`, if a member.
    pub fn position(&self, m: &[u8]) -> Option<usize> {
        let items = &self.items;
        self.index
            .find(self.hash(m), |&i| &*items[i as usize] == m)
            .map(|&i| i as usize)
    }

    pub fn contains(&self, m: &[u8]) -> bool {
        self.position(m).is_some()
    }

    /// Adds `m`; false when it was already a member.
    pub fn insert(&mut self, m: &[u8]) -> bool {
        let h = self.hash(m);
        let items = &self.items;
        if self.index.find(h, |&i| &*items[i as usize] == m).is_some() {
            return false;
        }
        self.push_new(h, m.into());
        true
    }

    /// Appends a member known to be absent.
    fn push_new(&mut self, h: u64, m: Box<[u8]>) {
        let pos = self.items.len() as u32;
        self.items.push(m);
        let (items, hasher) = (&self.items, &self.hasher);
        self.index
            .insert_unique(h, pos, |&i| hasher.hash_one(&*items[i as usize]));
    }

    /// Removes `m`; false when it was not a member.
    pub fn remove(&mut self, m: &[u8]) -> bool {
        match self.position(m) {
            Some(p) => {
                self.remove_at(p);
                true
            }
            None => false,
        }
    }

    /// Removes the member at `pos`, moving the last member into its place.
    pub fn remove_at(&mut self, pos: usize) -> Box<[u8]> {
        let last = self.items.len() - 1;
        let h = self.hash(&self.items[pos]);
        if let Ok(e) = self.index.find_entry(h, |&i| i as usize == pos) {
            e.remove();
        }
        if pos != last {
            let hl = self.hash(&self.items[last]);
            if let Some(slot) = self.index.find_mut(hl, |&i| i as usize == last) {
                *slot = pos as u32;
            }
        }
        let m = self.items.swap_remove(pos);
        if self.items.len() * 4 < self.items.capacity() && self.items.capacity() > 16 {
            self.items.shrink_to(self.items.len() * 2);
            let (items, hasher) = (&self.items, &self.hasher);
            self.index
                .shrink_to(items.len() * 2, |&i| hasher.hash_one(&*items[i as usize]));
        }
        m
    }

    #[inline]
    pub fn get(&self, pos: usize) -> &[u8] {
        &self.items[pos]
    }

    pub fn iter(&self) -> impl Iterator<Item = &[u8]> + '_ {
        self.items.iter().map(|b| &**b)
    }
}

#[derive(Debug, Clone, PartialEq)]
enum Repr {
    Intset(Vec<i64>),
    Listpack(Vec<Box<[u8]>>),
    Hashtable(Members),
}

/// A set value. Never empty while stored.
#[derive(Debug, Clone, PartialEq)]
pub struct Set {
    repr: Repr,
}

impl Default for Set {
    fn default() -> Self {
        Set::new_intset()
    }
}

/// `set-max-intset-entries`, capped as Redis caps it (1G entries).
fn intset_max(limits: &Limits) -> usize {
    limits.set_max_intset_entries.min(1 << 30)
}

impl Set {
    /// Approximate heap bytes used (MEMORY USAGE).
    pub fn heap_bytes(&self) -> usize {
        match &self.repr {
            Repr::Intset(v) => v.capacity() * 8,
            Repr::Listpack(v) => v.iter().map(|m| m.len().next_multiple_of(8)).sum::<usize>() + v.capacity() * 16,
            Repr::Hashtable(m) => {
                m.items.iter().map(|x| x.len().next_multiple_of(8)).sum::<usize>()
                    + m.items.capacity() * 16
                    + m.index.capacity() * 5
            }
        }
    }

    /// [`Set::heap_bytes`] with a hashtable's members estimated from the
    /// first `samples` (MEMORY USAGE ... SAMPLES).
    pub fn heap_bytes_sampled(&self, samples: usize) -> usize {
        match &self.repr {
            Repr::Hashtable(m) => {
                let elems = m.items.iter().map(|x| x.len().next_multiple_of(8));
                super::memsample::scaled(m.items.len(), samples, elems)
                    + m.items.capacity() * 16
                    + m.index.capacity() * 5
            }
            _ => self.heap_bytes(),
        }
    }

    pub fn new_intset() -> Set {
        Set {
            repr: Repr::Intset(Vec::new()),
        }
    }

    pub fn new_listpack() -> Set {
        Set {
            repr: Repr::Listpack(Vec::new()),
        }
    }

    /// An empty set able to hold `first`, sized for about `size_hint`
    /// members (Redis's setTypeCreate).
    pub fn for_first(first: &[u8], size_hint: usize, limits: &Limits) -> Set {
        if as_int(first).is_some() && size_hint <= limits.set_max_intset_entries {
            return Set::new_intset();
        }
        if size_hint <= limits.set_max_listpack_entries {
            return Set::new_listpack();
        }
        Set {
            repr: Repr::Hashtable(Members::with_capacity(size_hint)),
        }
    }

    pub fn len(&self) -> usize {
        match &self.repr {
            Repr::Intset(v) => v.len(),
            Repr::Listpack(v) => v.len(),
            Repr::Hashtable(m) => m.len(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The name OBJECT ENCODING reports.
    pub fn encoding(&self) -> &'static str {
        match &self.repr {
            Repr::Intset(_) => "intset",
            Repr::Listpack(_) => "listpack",
            Repr::Hashtable(_) => "hashtable",
        }
    }

    pub fn is_intset(&self) -> bool {
        matches!(self.repr, Repr::Intset(_))
    }

    pub fn is_hashtable(&self) -> bool {
        matches!(self.repr, Repr::Hashtable(_))
    }

    /// Converts to a hashtable ahead of adding about `size_hint` members
    /// when they could not fit the current encoding (setTypeMaybeConvert).
    pub fn reserve_for(&mut self, size_hint: usize, limits: &Limits) {
        let convert = match &self.repr {
            Repr::Intset(_) => size_hint > limits.set_max_intset_entries,
            Repr::Listpack(_) => size_hint > limits.set_max_listpack_entries,
            Repr::Hashtable(_) => false,
        };
        if convert {
            self.convert_to_hashtable(size_hint);
        }
    }

    /// Re-encodes as a hashtable with room for `cap` members.
    fn convert_to_hashtable(&mut self, cap: usize) {
        let mut m = Members::with_capacity(cap.max(self.len()));
        for e in self.iter() {
            e.with_bytes(|b| {
                let h = m.hash(b);
                m.push_new(h, b.into());
            });
        }
        self.repr = Repr::Hashtable(m);
    }

    /// Adds a member given as bytes; false when already present.
    pub fn add(&mut self, m: &[u8], limits: &Limits) -> bool {
        match &mut self.repr {
            Repr::Hashtable(h) => h.insert(m),
            Repr::Listpack(v) => {
                if v.iter().any(|x| &**x == m) {
                    return false;
                }
                if v.len() < limits.set_max_listpack_entries && m.len() <= limits.set_max_listpack_value {
                    v.push(m.into());
                } else {
                    let n = v.len() + 1;
                    self.convert_to_hashtable(n);
                    self.add(m, limits);
                }
                true
            }
            Repr::Intset(v) => {
                if let Some(i) = as_int(m) {
                    return self.add_int(i, limits);
                }
                // A non-integer: listpack when everything fits, else hashtable.
                let maxlen = match (v.first(), v.last()) {
                    (Some(&a), Some(&b)) => digits10(a).max(digits10(b)),
                    _ => 0,
                };
                let n = v.len() + 1;
                if v.len() < limits.set_max_listpack_entries
                    && m.len() <= limits.set_max_listpack_value
                    && maxlen <= limits.set_max_listpack_value
                {
                    let mut lp: Vec<Box<[u8]>> = Vec::with_capacity(n);
                    for &i in v.iter() {
                        lp.push(Elem::Int(i).to_vec().into());
                    }
                    lp.push(m.into());
                    self.repr = Repr::Listpack(lp);
                } else {
                    self.convert_to_hashtable(n);
                    self.add(m, limits);
                }
                true
            }
        }
    }

    /// Adds an integer member; false when already present.
    pub fn add_int(&mut self, i: i64, limits: &Limits) -> bool {
        match &mut self.repr {
            Repr::Intset(v) => match v.binary_search(&i) {
                Ok(_) => false,
                Err(p) => {
                    v.insert(p, i);
                    if v.len() > intset_max(limits) {
                        let n = v.len();
                        self.convert_to_hashtable(n);
                    }
                    true
                }
            },
            _ => Elem::Int(i).with_bytes(|b| self.add(b, limits)),
        }
    }

    /// Adds a member of another set.
    pub fn add_elem(&mut self, e: Elem, limits: &Limits) -> bool {
        match e {
            Elem::Int(i) => self.add_int(i, limits),
            Elem::Bytes(b) => self.add(b, limits),
        }
    }

    /// Removes a member; false when it was not present.
    pub fn remove(&mut self, m: &[u8]) -> bool {
        match &mut self.repr {
            Repr::Hashtable(h) => h.remove(m),
            Repr::Listpack(v) => match v.iter().position(|x| &**x == m) {
                Some(p) => {
                    v.remove(p);
                    true
                }
                None => false,
            },
            Repr::Intset(v) => match as_int(m).map(|i| v.binary_search(&i)) {
                Some(Ok(p)) => {
                    v.remove(p);
                    true
                }
                _ => false,
            },
        }
    }

    pub fn remove_elem(&mut self, e: Elem) -> bool {
        match (&mut self.repr, e) {
            (Repr::Intset(v), Elem::Int(i)) => match v.binary_search(&i) {
                Ok(p) => {
                    v.remove(p);
                    true
                }
                Err(_) => false,
            },
            (_, e) => e.with_bytes(|b| self.remove(b)),
        }
    }

    pub fn contains(&self, m: &[u8]) -> bool {
        match &self.repr {
            Repr::Hashtable(h) => h.contains(m),
            Repr::Listpack(v) => v.iter().any(|x| &**x == m),
            Repr::Intset(v) => as_int(m).is_some_and(|i| v.binary_search(&i).is_ok()),
        }
    }

    pub fn contains_elem(&self, e: Elem) -> bool {
        match (&self.repr, e) {
            (Repr::Intset(v), Elem::Int(i)) => v.binary_search(&i).is_ok(),
            (_, e) => e.with_bytes(|b| self.contains(b)),
        }
    }

    /// The member at position `i` (0 ≤ i < len) in iteration order: O(1) in
    /// every encoding, which is what random picks rely on.
    #[inline]
    pub fn nth(&self, i: usize) -> Elem<'_> {
        match &self.repr {
            Repr::Intset(v) => Elem::Int(v[i]),
            Repr::Listpack(v) => Elem::Bytes(&v[i]),
            Repr::Hashtable(h) => Elem::Bytes(h.get(i)),
        }
    }

    /// Removes the member at position `i` and returns its bytes.
    pub fn remove_nth(&mut self, i: usize) -> Vec<u8> {
        match &mut self.repr {
            Repr::Intset(v) => Elem::Int(v.remove(i)).to_vec(),
            Repr::Listpack(v) => v.remove(i).into_vec(),
            Repr::Hashtable(h) => h.remove_at(i).into_vec(),
        }
    }

    /// Members in iteration order (ascending for an intset, insertion order
    /// for a listpack).
    pub fn iter(&self) -> impl Iterator<Item = Elem<'_>> + '_ {
        let (a, b, c) = match &self.repr {
            Repr::Intset(v) => (Some(v.iter().map(|&i| Elem::Int(i))), None, None),
            Repr::Listpack(v) => (None, Some(v.iter().map(|x| Elem::Bytes(x))), None),
            Repr::Hashtable(h) => (None, None, Some(h.iter().map(Elem::Bytes))),
        };
        a.into_iter()
            .flatten()
            .chain(b.into_iter().flatten())
            .chain(c.into_iter().flatten())
    }

    /// Whether every member is an integer (for intsets trivially so).
    pub fn only_integers(&self) -> bool {
        match &self.repr {
            Repr::Intset(_) => true,
            _ => self.iter().all(|e| matches!(e, Elem::Bytes(b) if as_int(b).is_some())),
        }
    }

    /// Re-encodes as an intset when every member is an integer and there are
    /// few enough (Redis's maybeConvertToIntset).
    pub fn maybe_to_intset(&mut self, limits: &Limits) {
        if self.is_intset() || self.len() > intset_max(limits) || !self.only_integers() {
            return;
        }
        let mut v: Vec<i64> = self
            .iter()
            .filter_map(|e| match e {
                Elem::Int(i) => Some(i),
                Elem::Bytes(b) => as_int(b),
            })
            .collect();
        v.sort_unstable();
        self.repr = Repr::Intset(v);
    }

    /// Re-encodes a hashtable as a listpack when every member fits one (a
    /// new set built from the members, as SPOP's "keep the few" path does).
    pub fn maybe_to_listpack(&mut self, limits: &Limits) {
        let Repr::Hashtable(h) = &self.repr else {
            return;
        };
        if h.len() > limits.set_max_listpack_entries || h.iter().any(|m| m.len() > limits.set_max_listpack_value) {
            return;
        }
        let v = h.iter().map(|m| m.into()).collect();
        self.repr = Repr::Listpack(v);
    }

    /// One SSCAN step. Intsets and listpacks answer everything at once
    /// (cursor 0 back). A hashtable is walked by position from the end down:
    /// cursor 0 starts at the last member, cursor c continues below position
    /// c. Since a removal moves the last member into the hole, a member that
    /// stays in the set throughout a scan is never skipped (it may come
    /// twice). Returns the members of up to `count` visited positions that
    /// pass `keep`, and the next cursor (0 when done).
    pub fn scan(&self, cursor: u64, count: usize, mut keep: impl FnMut(&[u8]) -> bool) -> (Vec<Vec<u8>>, u64) {
        let mut out = Vec::new();
        match &self.repr {
            Repr::Hashtable(h) => {
                let len = h.len() as u64;
                let hi = if cursor == 0 || cursor > len { len } else { cursor } as usize;
                let lo = hi.saturating_sub(count);
                for p in (lo..hi).rev() {
                    let m = h.get(p);
                    if keep(m) {
                        out.push(m.to_vec());
                    }
                }
                (out, lo as u64)
            }
            _ => {
                for e in self.iter() {
                    e.with_bytes(|b| {
                        if keep(b) {
                            out.push(b.to_vec());
                        }
                    });
                }
                (out, 0)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limits() -> Limits {
        Limits::default()
    }

    #[test]
    fn encodings_follow_redis_rules() {
        let l = limits();
        let mut s = Set::for_first(b"1", 1, &l);
        assert_eq!(s.encoding(), "intset");
        assert!(s.add(b"1", &l));
        assert!(s.add(b"3", &l));
        assert!(s.add(b"-2", &l));
        assert!(!s.add(b"3", &l));
        let all: Vec<Vec<u8>> = s.iter().map(|e| e.to_vec()).collect();
        assert_eq!(all, vec![b"-2".to_vec(), b"1".to_vec(), b"3".to_vec()]);
        assert!(s.add(b"a", &l));
        assert_eq!(s.encoding(), "listpack");
        assert!(s.contains(b"1") && s.contains(b"a") && !s.contains(b"b"));
        assert!(s.add(&[b'x'; 65], &l));
        assert_eq!(s.encoding(), "hashtable");
        assert_eq!(s.len(), 5);
        let mut big = Set::for_first(b"1", 1, &l);
        for i in 0..512 {
            big.add_int(i, &l);
        }
        assert_eq!(big.encoding(), "intset");
        big.add_int(600, &l);
        assert_eq!(big.encoding(), "hashtable");
        let mut t = Set::for_first(b"1", 1, &l);
        for i in 0..200 {
            t.add_int(i, &l);
        }
        t.add(b"x", &l);
        assert_eq!(t.encoding(), "hashtable");
        assert_eq!(Set::for_first(b"1", 600, &l).encoding(), "hashtable");
        assert_eq!(Set::for_first(b"a", 100, &l).encoding(), "listpack");
        assert_eq!(Set::for_first(b"a", 129, &l).encoding(), "hashtable");
        assert_eq!(Set::for_first(b"01", 1, &l).encoding(), "listpack");
    }

    #[test]
    fn hashtable_removal_keeps_index_right() {
        let mut m = Members::with_capacity(0);
        for i in 0..1000 {
            assert!(m.insert(format!("m{i}").as_bytes()));
        }
        assert!(!m.insert(b"m5"));
        for i in (0..1000).step_by(3) {
            assert!(m.remove(format!("m{i}").as_bytes()));
        }
        for i in 0..1000 {
            assert_eq!(m.contains(format!("m{i}").as_bytes()), i % 3 != 0, "m{i}");
        }
        for p in 0..m.len() {
            assert_eq!(m.position(m.get(p)), Some(p));
        }
        while !m.is_empty() {
            m.remove_at(0);
        }
        assert!(!m.contains(b"m1"));
    }

    #[test]
    fn hashtable_scan_misses_nothing_under_removal() {
        let l = limits();
        let mut s = Set::for_first(b"a", 1000, &l);
        for i in 0..1000 {
            s.add(format!("k{i}").as_bytes(), &l);
        }
        let mut seen = std::collections::HashSet::new();
        let mut cursor = 0;
        let mut round = 0;
        loop {
            let (got, next) = s.scan(cursor, 10, |_| true);
            seen.extend(got);
            round += 1;
            if round == 5 {
                for i in 500..1000 {
                    s.remove(format!("k{i}").as_bytes());
                }
            }
            if next == 0 {
                break;
            }
            cursor = next;
        }
        for i in 0..500 {
            assert!(seen.contains(format!("k{i}").as_bytes()), "k{i} missed");
        }
    }
}
