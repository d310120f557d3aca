//! The sorted set type: members with float scores, ordered by (score, member).
//!
//! Two encodings, chosen as Redis chooses them:
//! - `listpack`: a sorted `Vec` of (score, member), for up to
//!   `zset-max-listpack-entries` members no longer than
//!   `zset-max-listpack-value` bytes. Every operation is a linear scan or a
//!   binary search over a few cache lines.
//! - `skiplist`: an order-statistic treap whose nodes live in one arena
//!   (`Vec<Node>`, `u32` links, subtree sizes for ranks), plus a hash index
//!   of member → node (`HashTable<u32>`, four bytes a slot). A member costs
//!   one 40-byte node, its bytes on the heap and about ten bytes of index,
//!   and rank, select, insert and delete are O(log n).
//!
//! Scores are never NaN while stored, so ordering is total.

use std::cmp::Ordering;
use std::hash::BuildHasher;

use hashbrown::hash_map::DefaultHashBuilder;
use hashbrown::HashTable;

/// Encoding thresholds: (max entries, max member length) of the listpack.
#[derive(Debug, Clone, Copy)]
pub struct PackLimits {
    pub entries: usize,
    pub value: usize,
}

impl From<&crate::config::Limits> for PackLimits {
    fn from(l: &crate::config::Limits) -> Self {
        PackLimits {
            entries: l.zset_max_listpack_entries,
            value: l.zset_max_listpack_value,
        }
    }
}

/// Orders two (score, member) pairs as Redis does: by score, then by member
/// bytes (memcmp, shorter first on a common prefix).
#[inline]
pub fn cmp_entry(s1: f64, m1: &[u8], s2: f64, m2: &[u8]) -> Ordering {
    match s1.partial_cmp(&s2) {
        Some(Ordering::Equal) | None => m1.cmp(m2),
        Some(o) => o,
    }
}

/// A zset value. Never empty while stored.
#[derive(Clone)]
pub struct ZSet {
    repr: Repr,
}

#[derive(Clone)]
enum Repr {
    /// Sorted by (score, member).
    Pack(Vec<(f64, Box<[u8]>)>),
    Tree(Box<Tree>),
}

impl Default for ZSet {
    fn default() -> Self {
        ZSet {
            repr: Repr::Pack(Vec::new()),
        }
    }
}

impl std::fmt::Debug for ZSet {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mut l = f.debug_list();
        self.for_each(|m, s| {
            l.entry(&(String::from_utf8_lossy(m), s));
        });
        l.finish()
    }
}

impl PartialEq for ZSet {
    fn eq(&self, other: &Self) -> bool {
        // Same encoding, members and score bits (the encoding and the sign
        // of a zero count: a gathered command that only re-encodes a value
        // or turns -0 into 0 must still write it back); compares borrowed
        // entries, copying no member.
        self.len() == other.len()
            && self.encoding() == other.encoding()
            && self
                .entries()
                .iter()
                .zip(other.entries().iter())
                .all(|((m1, s1), (m2, s2))| m1 == m2 && s1.to_bits() == s2.to_bits())
    }
}

impl ZSet {
    /// An empty zset in the encoding Redis's zsetTypeCreate picks for
    /// `size_hint` members of at most `len_hint` bytes.
    pub fn with_hint(size_hint: usize, len_hint: usize, lim: PackLimits) -> ZSet {
        if size_hint <= lim.entries && len_hint <= lim.value {
            ZSet {
                repr: Repr::Pack(Vec::with_capacity(size_hint.min(16))),
            }
        } else {
            ZSet {
                repr: Repr::Tree(Box::new(Tree::with_capacity(size_hint.min(1 << 16)))),
            }
        }
    }

    /// A zset of entries sorted by (score, member) with unique members, in
    /// the encoding Redis gives a stored result of that shape
    /// (zsetConvertToListpackIfNeeded).
    pub fn from_sorted(entries: Vec<(f64, Box<[u8]>)>, lim: PackLimits) -> ZSet {
        let maxlen = entries.iter().map(|(_, m)| m.len()).max().unwrap_or(0);
        if entries.len() <= lim.entries && maxlen <= lim.value {
            let mut entries = entries;
            entries.iter_mut().for_each(|e| e.0 = pack_score(e.0));
            ZSet {
                repr: Repr::Pack(entries),
            }
        } else {
            let mut t = Tree::with_capacity(entries.len());
            t.build_sorted(entries);
            ZSet {
                repr: Repr::Tree(Box::new(t)),
            }
        }
    }

    pub fn len(&self) -> usize {
        match &self.repr {
            Repr::Pack(v) => v.len(),
            Repr::Tree(t) => t.len,
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The name OBJECT ENCODING reports.
    pub fn encoding(&self) -> &'static str {
        match &self.repr {
            Repr::Pack(_) => "listpack",
            Repr::Tree(_) => "skiplist",
        }
    }

    /// Converts a listpack to the skiplist encoding when `size_hint` members
    /// would not fit it (zsetTypeMaybeConvert, which looks at the count only).
    pub fn maybe_convert(&mut self, size_hint: usize, lim: PackLimits) {
        if matches!(self.repr, Repr::Pack(_)) && size_hint > lim.entries {
            self.convert_to_tree();
        }
    }

    fn convert_to_tree(&mut self) {
        if let Repr::Pack(v) = &mut self.repr {
            let v = std::mem::take(v);
            let mut t = Tree::with_capacity(v.len());
            t.build_sorted(v);
            self.repr = Repr::Tree(Box::new(t));
        }
    }

    /// The score of `member`.
    pub fn score(&self, member: &[u8]) -> Option<f64> {
        match &self.repr {
            Repr::Pack(v) => v.iter().find(|(_, m)| &m[..] == member).map(|(s, _)| *s),
            Repr::Tree(t) => t.find(member).map(|i| t.nodes[i as usize].score),
        }
    }

    /// Sets `member`'s score, adding it when absent. Returns true when it was
    /// added. Converts to the skiplist encoding when the listpack would
    /// outgrow `lim`.
    pub fn insert(&mut self, member: &[u8], score: f64, lim: PackLimits) -> bool {
        debug_assert!(!score.is_nan());
        if let Repr::Pack(v) = &mut self.repr {
            let score = pack_score(score);
            if let Some(i) = v.iter().position(|(_, m)| &m[..] == member) {
                if v[i].0 == score {
                    return false;
                }
                v.remove(i);
                let at = pack_search(v, score, member).unwrap_or_else(|e| e);
                v.insert(at, (score, member.into()));
                return false;
            }
            if v.len() < lim.entries && member.len() <= lim.value {
                let at = pack_search(v, score, member).unwrap_or_else(|e| e);
                v.insert(at, (score, member.into()));
                return true;
            }
            self.convert_to_tree();
        }
        match &mut self.repr {
            Repr::Tree(t) => t.insert(member, score),
            Repr::Pack(_) => unreachable!("converted above"),
        }
    }

    /// Removes `member`; returns whether it was there.
    pub fn remove(&mut self, member: &[u8]) -> bool {
        match &mut self.repr {
            Repr::Pack(v) => match v.iter().position(|(_, m)| &m[..] == member) {
                Some(i) => {
                    v.remove(i);
                    true
                }
                None => false,
            },
            Repr::Tree(t) => t.remove(member),
        }
    }

    /// The 0-based rank of `member` in ascending order, with its score.
    pub fn rank(&self, member: &[u8]) -> Option<(usize, f64)> {
        match &self.repr {
            Repr::Pack(v) => v.iter().position(|(_, m)| &m[..] == member).map(|i| (i, v[i].0)),
            Repr::Tree(t) => {
                let i = t.find(member)?;
                let n = &t.nodes[i as usize];
                Some((t.rank_of(n.score, &n.member), n.score))
            }
        }
    }

    /// How many members satisfy `before`, a predicate that holds for a
    /// prefix of the ascending order (e.g. "score < min").
    pub fn count_prefix(&self, before: impl Fn(f64, &[u8]) -> bool) -> usize {
        match &self.repr {
            Repr::Pack(v) => v.partition_point(|(s, m)| before(*s, m)),
            Repr::Tree(t) => t.count_prefix(&before),
        }
    }

    /// Calls `f` for the members of ranks `start..end` (ascending ranks),
    /// in ascending order, or descending when `rev`.
    pub fn for_range(&self, start: usize, end: usize, rev: bool, mut f: impl FnMut(&[u8], f64)) {
        let end = end.min(self.len());
        if start >= end {
            return;
        }
        match &self.repr {
            Repr::Pack(v) => {
                let part = &v[start..end];
                if rev {
                    part.iter().rev().for_each(|(s, m)| f(m, *s));
                } else {
                    part.iter().for_each(|(s, m)| f(m, *s));
                }
            }
            Repr::Tree(t) => {
                let mut it = if rev {
                    t.iter_from(end - 1, true)
                } else {
                    t.iter_from(start, false)
                };
                for _ in start..end {
                    let Some(i) = it.next(t) else { break };
                    let n = &t.nodes[i as usize];
                    f(&n.member, n.score);
                }
            }
        }
    }

    /// Calls `f` for every member in ascending order.
    pub fn for_each(&self, f: impl FnMut(&[u8], f64)) {
        self.for_range(0, self.len(), false, f)
    }

    /// Every (score, member) in ascending order.
    pub fn to_vec(&self) -> Vec<(f64, Box<[u8]>)> {
        let mut out = Vec::with_capacity(self.len());
        self.for_each(|m, s| out.push((s, m.into())));
        out
    }

    /// Every (member, score) in ascending order, borrowed.
    pub fn entries(&self) -> Vec<(&[u8], f64)> {
        match &self.repr {
            Repr::Pack(v) => v.iter().map(|(s, m)| (&m[..], *s)).collect(),
            Repr::Tree(t) => {
                let mut out = Vec::with_capacity(t.len);
                if t.len > 0 {
                    let mut it = t.iter_from(0, false);
                    while let Some(i) = it.next(t) {
                        let n = &t.nodes[i as usize];
                        out.push((&n.member[..], n.score));
                    }
                }
                out
            }
        }
    }

    /// The member of ascending rank `rank`.
    pub fn get_by_rank(&self, rank: usize) -> Option<(&[u8], f64)> {
        match &self.repr {
            Repr::Pack(v) => v.get(rank).map(|(s, m)| (&m[..], *s)),
            Repr::Tree(t) => {
                let i = t.select(rank)?;
                let n = &t.nodes[i as usize];
                Some((&n.member, n.score))
            }
        }
    }

    /// Removes the members of ranks `start..end`; returns how many.
    pub fn remove_range(&mut self, start: usize, end: usize) -> usize {
        let end = end.min(self.len());
        if start >= end {
            return 0;
        }
        match &mut self.repr {
            Repr::Pack(v) => {
                v.drain(start..end);
            }
            Repr::Tree(t) if start == 0 && end == t.len => {
                **t = Tree::with_capacity(0);
            }
            Repr::Tree(_) => {
                let mut gone: Vec<Box<[u8]>> = Vec::with_capacity(end - start);
                self.for_range(start, end, false, |m, _| gone.push(m.into()));
                if let Repr::Tree(t) = &mut self.repr {
                    for m in &gone {
                        t.remove(m);
                    }
                }
            }
        }
        end - start
    }

    /// Pops up to `count` members with the lowest scores (or the highest
    /// when `max`), in pop order.
    pub fn pop(&mut self, max: bool, count: usize) -> Vec<(Vec<u8>, f64)> {
        let n = count.min(self.len());
        let mut out = Vec::with_capacity(n);
        if n == 0 {
            return out;
        }
        let len = self.len();
        let (start, end) = if max { (len - n, len) } else { (0, n) };
        self.for_range(start, end, max, |m, s| out.push((m.to_vec(), s)));
        self.remove_range(start, end);
        out
    }

    /// SCAN over the members: `(next cursor, members)`. A listpack answers in
    /// one call (cursor 0). A skiplist walks its arena: the cursor is a slot
    /// index, and a member that stays in the set keeps its slot, so it is
    /// returned exactly once by a full scan.
    pub fn scan(&self, cursor: u64, count: usize, mut f: impl FnMut(&[u8], f64)) -> u64 {
        match &self.repr {
            Repr::Pack(v) => {
                v.iter().for_each(|(s, m)| f(m, *s));
                0
            }
            Repr::Tree(t) => {
                let mut i = cursor as usize;
                let mut seen = 0;
                while i < t.nodes.len() && seen < count.max(1) {
                    let n = &t.nodes[i];
                    if n.size != 0 {
                        f(&n.member, n.score);
                        seen += 1;
                    }
                    i += 1;
                }
                if i >= t.nodes.len() {
                    0
                } else {
                    i as u64
                }
            }
        }
    }

    /// Approximate heap bytes used (MEMORY USAGE, tests).
    pub fn heap_bytes(&self) -> usize {
        match &self.repr {
            Repr::Pack(v) => v.capacity() * 24 + v.iter().map(|(_, m)| m.len()).sum::<usize>(),
            Repr::Tree(t) => {
                t.nodes.capacity() * std::mem::size_of::<Node>()
                    + t.index.capacity() * 5
                    + t.nodes.iter().map(|n| n.member.len()).sum::<usize>()
            }
        }
    }

    /// [`ZSet::heap_bytes`] with a skiplist's members estimated from the
    /// first `samples` (MEMORY USAGE ... SAMPLES).
    pub fn heap_bytes_sampled(&self, samples: usize) -> usize {
        match &self.repr {
            Repr::Pack(_) => self.heap_bytes(),
            Repr::Tree(t) => {
                let elems = t.nodes.iter().map(|n| n.member.len());
                t.nodes.capacity() * std::mem::size_of::<Node>()
                    + t.index.capacity() * 5
                    + super::memsample::scaled(t.nodes.len(), samples, elems)
            }
        }
    }
}

/// A score as a listpack keeps it: Redis stores integral scores as
/// integers there, so -0 comes back as 0 (a skiplist keeps -0).
#[inline]
fn pack_score(s: f64) -> f64 {
    if s == 0.0 {
        0.0
    } else {
        s
    }
}

/// Binary search of a listpack for (score, member).
fn pack_search(v: &[(f64, Box<[u8]>)], score: f64, member: &[u8]) -> Result<usize, usize> {
    v.binary_search_by(|(s, m)| cmp_entry(*s, m, score, member))
}

// ---------------------------------------------------------------- treap

const NIL: u32 = u32::MAX;

#[derive(Clone)]
struct Node {
    member: Box<[u8]>,
    score: f64,
    left: u32,
    right: u32,
    /// Nodes in this subtree; 0 marks a free arena slot.
    size: u32,
    /// Heap priority (max at the root).
    prio: u32,
}

/// An order-statistic treap over arena nodes, with a member index.
#[derive(Clone)]
struct Tree {
    nodes: Vec<Node>,
    /// Free arena slots, chained through `left`.
    free: u32,
    root: u32,
    len: usize,
    index: HashTable<u32>,
    hasher: DefaultHashBuilder,
    seed: u32,
}

/// In-order iteration state: the pending nodes.
struct TreeIter {
    stack: Vec<u32>,
    rev: bool,
}

impl TreeIter {
    fn next(&mut self, t: &Tree) -> Option<u32> {
        let x = self.stack.pop()?;
        let n = &t.nodes[x as usize];
        let mut c = if self.rev { n.left } else { n.right };
        while c != NIL {
            self.stack.push(c);
            let cn = &t.nodes[c as usize];
            c = if self.rev { cn.right } else { cn.left };
        }
        Some(x)
    }
}

impl Tree {
    fn with_capacity(n: usize) -> Tree {
        Tree {
            nodes: Vec::with_capacity(n),
            free: NIL,
            root: NIL,
            len: 0,
            index: HashTable::with_capacity(n),
            hasher: DefaultHashBuilder::default(),
            seed: 0x9E37_79B9,
        }
    }

    #[inline]
    fn size(&self, t: u32) -> usize {
        if t == NIL {
            0
        } else {
            self.nodes[t as usize].size as usize
        }
    }

    #[inline]
    fn update(&mut self, t: u32) {
        let n = &self.nodes[t as usize];
        let s = 1 + self.size(n.left) + self.size(n.right);
        self.nodes[t as usize].size = s as u32;
    }

    fn next_prio(&mut self) -> u32 {
        let mut x = self.seed;
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        self.seed = x;
        x
    }

    #[inline]
    fn hash(&self, m: &[u8]) -> u64 {
        self.hasher.hash_one(m)
    }

    fn find(&self, member: &[u8]) -> Option<u32> {
        let h = self.hash(member);
        self.index
            .find(h, |&i| &self.nodes[i as usize].member[..] == member)
            .copied()
    }

    fn alloc(&mut self, member: Box<[u8]>, score: f64) -> u32 {
        let prio = self.next_prio();
        let node = Node {
            member,
            score,
            left: NIL,
            right: NIL,
            size: 1,
            prio,
        };
        if self.free != NIL {
            let i = self.free;
            self.free = self.nodes[i as usize].left;
            self.nodes[i as usize] = node;
            i
        } else {
            assert!(self.nodes.len() < NIL as usize, "zset too large");
            self.nodes.push(node);
            (self.nodes.len() - 1) as u32
        }
    }

    fn release(&mut self, i: u32) -> Box<[u8]> {
        let n = &mut self.nodes[i as usize];
        let m = std::mem::take(&mut n.member);
        n.size = 0;
        n.left = self.free;
        n.right = NIL;
        self.free = i;
        m
    }

    #[inline]
    fn less(&self, a: u32, b: u32) -> bool {
        let (x, y) = (&self.nodes[a as usize], &self.nodes[b as usize]);
        cmp_entry(x.score, &x.member, y.score, &y.member) == Ordering::Less
    }

    /// Builds the tree from entries sorted by (score, member) in O(n).
    fn build_sorted(&mut self, entries: Vec<(f64, Box<[u8]>)>) {
        let ids: Vec<u32> = entries.into_iter().map(|(s, m)| self.alloc(m, s)).collect();
        for &i in &ids {
            let h = self.hash(&self.nodes[i as usize].member);
            let nodes = &self.nodes;
            let hasher = &self.hasher;
            self.index
                .insert_unique(h, i, |&j| hasher.hash_one(&nodes[j as usize].member[..]));
        }
        self.len = ids.len();
        // A Cartesian tree of the random priorities, built with a stack of
        // the right spine in O(n).
        let mut spine: Vec<u32> = Vec::new();
        for &i in &ids {
            let mut last = NIL;
            while let Some(&top) = spine.last() {
                if self.nodes[top as usize].prio < self.nodes[i as usize].prio {
                    last = top;
                    spine.pop();
                } else {
                    break;
                }
            }
            self.nodes[i as usize].left = last;
            if let Some(&top) = spine.last() {
                self.nodes[top as usize].right = i;
            }
            spine.push(i);
        }
        self.root = spine.first().copied().unwrap_or(NIL);
        self.fix_sizes(self.root);
    }

    fn fix_sizes(&mut self, t: u32) -> usize {
        if t == NIL {
            return 0;
        }
        let (l, r) = (self.nodes[t as usize].left, self.nodes[t as usize].right);
        let s = 1 + self.fix_sizes(l) + self.fix_sizes(r);
        self.nodes[t as usize].size = s as u32;
        s
    }

    /// Splits subtree `t` into (nodes ordered before node `k`, the rest).
    fn split(&mut self, t: u32, k: u32) -> (u32, u32) {
        if t == NIL {
            return (NIL, NIL);
        }
        if self.less(t, k) {
            let (l, r) = self.split(self.nodes[t as usize].right, k);
            self.nodes[t as usize].right = l;
            self.update(t);
            (t, r)
        } else {
            let (l, r) = self.split(self.nodes[t as usize].left, k);
            self.nodes[t as usize].left = r;
            self.update(t);
            (l, t)
        }
    }

    /// Joins two subtrees, every node of `a` ordered before those of `b`.
    fn merge(&mut self, a: u32, b: u32) -> u32 {
        if a == NIL {
            return b;
        }
        if b == NIL {
            return a;
        }
        if self.nodes[a as usize].prio > self.nodes[b as usize].prio {
            let r = self.merge(self.nodes[a as usize].right, b);
            self.nodes[a as usize].right = r;
            self.update(a);
            a
        } else {
            let l = self.merge(a, self.nodes[b as usize].left);
            self.nodes[b as usize].left = l;
            self.update(b);
            b
        }
    }

    fn link(&mut self, t: u32, n: u32) -> u32 {
        if t == NIL {
            return n;
        }
        if self.nodes[n as usize].prio > self.nodes[t as usize].prio {
            let (l, r) = self.split(t, n);
            let node = &mut self.nodes[n as usize];
            node.left = l;
            node.right = r;
            self.update(n);
            return n;
        }
        if self.less(n, t) {
            let c = self.link(self.nodes[t as usize].left, n);
            self.nodes[t as usize].left = c;
        } else {
            let c = self.link(self.nodes[t as usize].right, n);
            self.nodes[t as usize].right = c;
        }
        self.update(t);
        t
    }

    /// Removes node `n` (present) from subtree `t`.
    fn unlink(&mut self, t: u32, n: u32) -> u32 {
        if t == n {
            let node = &self.nodes[n as usize];
            let (l, r) = (node.left, node.right);
            return self.merge(l, r);
        }
        if self.less(n, t) {
            let c = self.unlink(self.nodes[t as usize].left, n);
            self.nodes[t as usize].left = c;
        } else {
            let c = self.unlink(self.nodes[t as usize].right, n);
            self.nodes[t as usize].right = c;
        }
        self.update(t);
        t
    }

    fn insert(&mut self, member: &[u8], score: f64) -> bool {
        if let Some(i) = self.find(member) {
            if self.nodes[i as usize].score == score {
                return false;
            }
            self.root = self.unlink(self.root, i);
            let n = &mut self.nodes[i as usize];
            n.score = score;
            n.left = NIL;
            n.right = NIL;
            n.size = 1;
            self.root = self.link(self.root, i);
            return false;
        }
        let i = self.alloc(member.into(), score);
        let h = self.hash(member);
        let nodes = &self.nodes;
        let hasher = &self.hasher;
        self.index
            .insert_unique(h, i, |&j| hasher.hash_one(&nodes[j as usize].member[..]));
        self.root = self.link(self.root, i);
        self.len += 1;
        true
    }

    fn remove(&mut self, member: &[u8]) -> bool {
        let h = self.hash(member);
        let nodes = &self.nodes;
        let Ok(entry) = self.index.find_entry(h, |&i| &nodes[i as usize].member[..] == member) else {
            return false;
        };
        let (i, _) = entry.remove();
        self.root = self.unlink(self.root, i);
        self.release(i);
        self.len -= 1;
        if self.len == 0 {
            // Keep no dead arena behind a set that may grow again.
            self.nodes.clear();
            self.free = NIL;
        }
        true
    }

    /// Number of nodes ordered before (score, member).
    fn rank_of(&self, score: f64, member: &[u8]) -> usize {
        self.count_prefix(&|s: f64, m: &[u8]| cmp_entry(s, m, score, member) == Ordering::Less)
    }

    fn count_prefix(&self, before: &dyn Fn(f64, &[u8]) -> bool) -> usize {
        let mut t = self.root;
        let mut acc = 0;
        while t != NIL {
            let n = &self.nodes[t as usize];
            if before(n.score, &n.member) {
                acc += self.size(n.left) + 1;
                t = n.right;
            } else {
                t = n.left;
            }
        }
        acc
    }

    fn select(&self, mut rank: usize) -> Option<u32> {
        if rank >= self.len {
            return None;
        }
        let mut t = self.root;
        while t != NIL {
            let n = &self.nodes[t as usize];
            let ls = self.size(n.left);
            match rank.cmp(&ls) {
                Ordering::Less => t = n.left,
                Ordering::Equal => return Some(t),
                Ordering::Greater => {
                    rank -= ls + 1;
                    t = n.right;
                }
            }
        }
        None
    }

    /// An iterator starting at ascending rank `rank`, going up (or down
    /// when `rev`).
    fn iter_from(&self, mut rank: usize, rev: bool) -> TreeIter {
        let mut stack = Vec::with_capacity(48);
        let mut t = self.root;
        while t != NIL {
            let n = &self.nodes[t as usize];
            let ls = self.size(n.left);
            match rank.cmp(&ls) {
                Ordering::Less => {
                    if !rev {
                        stack.push(t);
                    }
                    t = n.left;
                }
                Ordering::Equal => {
                    stack.push(t);
                    break;
                }
                Ordering::Greater => {
                    if rev {
                        stack.push(t);
                    }
                    rank -= ls + 1;
                    t = n.right;
                }
            }
        }
        TreeIter { stack, rev }
    }

    #[cfg(test)]
    fn check(&self) {
        fn walk(t: &Tree, x: u32, out: &mut Vec<u32>) -> usize {
            if x == NIL {
                return 0;
            }
            let n = &t.nodes[x as usize];
            for c in [n.left, n.right] {
                if c != NIL {
                    assert!(t.nodes[c as usize].prio <= n.prio, "heap order");
                }
            }
            let l = walk(t, n.left, out);
            out.push(x);
            let r = walk(t, n.right, out);
            assert_eq!(n.size as usize, l + r + 1, "size");
            l + r + 1
        }
        let mut order = Vec::new();
        assert_eq!(walk(self, self.root, &mut order), self.len);
        for w in order.windows(2) {
            assert!(self.less(w[0], w[1]), "order");
        }
        assert_eq!(self.index.len(), self.len);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SMALL: PackLimits = PackLimits { entries: 4, value: 8 };

    #[test]
    fn listpack_converts_past_limits() {
        let mut z = ZSet::with_hint(1, 1, SMALL);
        for (i, m) in ["a", "b", "c", "d"].iter().enumerate() {
            assert!(z.insert(m.as_bytes(), i as f64, SMALL));
        }
        assert_eq!(z.encoding(), "listpack");
        assert!(!z.insert(b"a", 10.0, SMALL));
        assert_eq!(z.get_by_rank(3), Some((&b"a"[..], 10.0)));
        assert!(z.insert(b"e", 0.5, SMALL));
        assert_eq!(z.encoding(), "skiplist");
        assert_eq!(z.rank(b"e"), Some((0, 0.5)));
        let mut y = ZSet::with_hint(1, 1, SMALL);
        y.insert(b"0123456789", 1.0, SMALL);
        assert_eq!(y.encoding(), "skiplist");
    }

    #[test]
    fn pop_in_order() {
        let lim = PackLimits { entries: 0, value: 0 };
        let mut z = ZSet::with_hint(10, 1, lim);
        for i in 0..10 {
            z.insert(format!("m{i}").as_bytes(), i as f64, lim);
        }
        let got = z.pop(true, 3);
        assert_eq!(got[0], (b"m9".to_vec(), 9.0));
        assert_eq!(got[2], (b"m7".to_vec(), 7.0));
        let got = z.pop(false, 2);
        assert_eq!(got[1], (b"m1".to_vec(), 1.0));
        assert_eq!(z.len(), 5);
    }

    /// The treap against a sorted Vec model, under random operations.
    #[test]
    fn randomized_against_model() {
        let mut rng = crate::util::Rng::new(42);
        for round in 0..6 {
            let lim = if round % 2 == 0 {
                PackLimits { entries: 0, value: 0 }
            } else {
                PackLimits { entries: 16, value: 64 }
            };
            let mut z = ZSet::with_hint(1, 1, lim);
            let mut model: Vec<(f64, Vec<u8>)> = Vec::new();
            let space = [10u64, 100, 2000][round % 3];
            for step in 0..6000 {
                let r = rng.next_u64();
                let member = format!("m{}", r % space).into_bytes();
                let score = ((r >> 20) % 50) as f64 / 2.0 - 10.0;
                match (r >> 40) % 10 {
                    0..=5 => {
                        let added = z.insert(&member, score, lim);
                        let was = model.iter().position(|(_, m)| *m == member);
                        assert_eq!(added, was.is_none());
                        if let Some(p) = was {
                            model.remove(p);
                        }
                        model.push((score, member.clone()));
                        model.sort_by(|a, b| cmp_entry(a.0, &a.1, b.0, &b.1));
                    }
                    6 | 7 => {
                        let was = model.iter().position(|(_, m)| *m == member);
                        assert_eq!(z.remove(&member), was.is_some());
                        if let Some(p) = was {
                            model.remove(p);
                        }
                    }
                    8 => {
                        let n = (r >> 50) as usize % 4;
                        let max = r & 1 == 1;
                        let got = z.pop(max, n);
                        let k = n.min(model.len());
                        let want: Vec<(Vec<u8>, f64)> = if max {
                            model.drain(model.len() - k..).rev().map(|(s, m)| (m, s)).collect()
                        } else {
                            model.drain(..k).map(|(s, m)| (m, s)).collect()
                        };
                        assert_eq!(got, want);
                    }
                    _ => {
                        if !model.is_empty() {
                            let a = (r >> 45) as usize % model.len();
                            let b = a + (r >> 55) as usize % 5;
                            z.remove_range(a, b);
                            model.drain(a..b.min(model.len()));
                        }
                    }
                }
                assert_eq!(z.len(), model.len());
                if let Repr::Tree(t) = &z.repr {
                    if step % 97 == 0 {
                        t.check();
                    }
                }
                if step % 13 == 0 && !model.is_empty() {
                    let k = (r >> 33) as usize % model.len();
                    let (s, m) = &model[k];
                    assert_eq!(z.rank(m), Some((k, *s)));
                    assert_eq!(z.get_by_rank(k), Some((&m[..], *s)));
                    assert_eq!(z.score(m), Some(*s));
                    let below = z.count_prefix(|x, _| x < *s);
                    assert_eq!(below, model.iter().filter(|(x, _)| x < s).count());
                    let end = (k + 7).min(model.len());
                    let mut fwd = Vec::new();
                    z.for_range(k, end, false, |m, s| fwd.push((s, m.to_vec())));
                    assert_eq!(fwd, model[k..end].to_vec());
                    let mut back = Vec::new();
                    z.for_range(k, end, true, |m, s| back.push((s, m.to_vec())));
                    back.reverse();
                    assert_eq!(back, model[k..end].to_vec());
                }
            }
            let all: Vec<(f64, Vec<u8>)> = z.to_vec().into_iter().map(|(s, m)| (s, m.into_vec())).collect();
            assert_eq!(all, model);
            // A full scan returns each member once.
            let mut seen = Vec::new();
            let mut c = 0;
            loop {
                c = z.scan(c, 7, |m, _| seen.push(m.to_vec()));
                if c == 0 {
                    break;
                }
            }
            seen.sort();
            let mut want: Vec<Vec<u8>> = model.iter().map(|(_, m)| m.clone()).collect();
            want.sort();
            assert_eq!(seen, want);
        }
    }

    #[test]
    fn from_sorted_builds_a_valid_tree() {
        let lim = PackLimits { entries: 2, value: 64 };
        let entries: Vec<(f64, Box<[u8]>)> = (0..1000)
            .map(|i| (i as f64, format!("{i:04}").into_bytes().into()))
            .collect();
        let mut z = ZSet::from_sorted(entries, lim);
        assert_eq!(z.encoding(), "skiplist");
        if let Repr::Tree(t) = &z.repr {
            t.check();
        }
        assert_eq!(z.rank(b"0500"), Some((500, 500.0)));
        z.insert(b"x", 499.5, lim);
        assert_eq!(z.rank(b"0500"), Some((501, 500.0)));
        if let Repr::Tree(t) = &z.repr {
            t.check();
        }
    }

    #[test]
    fn node_is_forty_bytes() {
        assert_eq!(std::mem::size_of::<Node>(), 40);
    }
}
