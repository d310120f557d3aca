//! The list type's storage: a ring buffer of elements.
//!
//! Both ends push and pop in O(1) and any index is reached in O(1) (LINDEX,
//! LSET, LRANGE windows), where Redis's quicklist walks nodes. Each element
//! is one exact-size allocation.

use std::collections::VecDeque;

use crate::config::Limits;

/// Bytes Redis's listpack spends on an element besides its payload (encoding
/// header and back-length), used to mirror its listpack/quicklist switch.
const LISTPACK_ENTRY_OVERHEAD: usize = 2;
const LISTPACK_HEADER: usize = 7;

/// A list value. Never empty while stored.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct List {
    pub items: VecDeque<Box<[u8]>>,
    /// Whether Redis would hold this list as a quicklist (OBJECT ENCODING).
    /// Decided on growth, and back to listpack when it shrinks to half the
    /// limit, like Redis's conversion hysteresis.
    quick: bool,
    /// Estimated listpack size of the elements (kept by push/pop; bulk
    /// edits call [`List::recount`]).
    bytes: usize,
}

fn entry_bytes(e: &[u8]) -> usize {
    e.len() + LISTPACK_ENTRY_OVERHEAD + (e.len() >= 64) as usize * 2
}

/// Which end of a list.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum End {
    Left,
    Right,
}

impl End {
    /// `LEFT` / `RIGHT`, case-insensitive.
    pub fn parse(arg: &[u8]) -> Option<End> {
        if arg.eq_ignore_ascii_case(b"left") {
            Some(End::Left)
        } else if arg.eq_ignore_ascii_case(b"right") {
            Some(End::Right)
        } else {
            None
        }
    }
}

impl List {
    pub fn new() -> List {
        List::default()
    }

    #[inline]
    pub fn len(&self) -> usize {
        self.items.len()
    }

    #[inline]
    pub fn is_empty(&self) -> bool {
        self.items.is_empty()
    }

    /// Approximate heap bytes used (MEMORY USAGE).
    pub fn heap_bytes(&self) -> usize {
        self.items.iter().map(|e| e.len().next_multiple_of(8)).sum::<usize>() + self.items.capacity() * 16
    }

    /// [`List::heap_bytes`] with a quicklist's elements estimated from the
    /// first `samples` (MEMORY USAGE ... SAMPLES).
    pub fn heap_bytes_sampled(&self, samples: usize) -> usize {
        if !self.quick {
            return self.heap_bytes();
        }
        let elems = self.items.iter().map(|e| e.len().next_multiple_of(8));
        self.items.capacity() * 16 + super::memsample::scaled(self.items.len(), samples, elems)
    }

    pub fn encoding(&self) -> &'static str {
        if self.quick {
            "quicklist"
        } else {
            "listpack"
        }
    }

    pub fn push(&mut self, end: End, v: &[u8]) {
        self.bytes += entry_bytes(v);
        let b: Box<[u8]> = v.into();
        match end {
            End::Left => self.items.push_front(b),
            End::Right => self.items.push_back(b),
        }
    }

    pub fn pop(&mut self, end: End) -> Option<Box<[u8]>> {
        let v = match end {
            End::Left => self.items.pop_front(),
            End::Right => self.items.pop_back(),
        }?;
        self.bytes -= entry_bytes(&v);
        Some(v)
    }

    /// Recomputes the size estimate after edits made through `items`.
    pub fn recount(&mut self) {
        self.bytes = self.items.iter().map(|e| entry_bytes(e)).sum();
    }

    /// Resolves a Redis index (negative from the end) to a position.
    pub fn index(&self, i: i64) -> Option<usize> {
        let len = self.len() as i64;
        let i = if i < 0 { len + i } else { i };
        (0..len).contains(&i).then_some(i as usize)
    }

    /// Clamps a `start stop` range (negative from the end, inclusive) to
    /// positions; `None` when empty.
    pub fn range(&self, start: i64, stop: i64) -> Option<(usize, usize)> {
        let len = self.len() as i64;
        let mut start = if start < 0 { len + start } else { start };
        let mut stop = if stop < 0 { len + stop } else { stop };
        if start < 0 {
            start = 0;
        }
        if start > stop || start >= len {
            return None;
        }
        if stop >= len {
            stop = len - 1;
        }
        Some((start as usize, stop as usize))
    }

    /// Re-evaluates the reported encoding after a change, as Redis converts
    /// between listpack and quicklist.
    pub fn update_encoding(&mut self, limits: &Limits) {
        let fill = limits.list_max_listpack_size;
        if !self.quick {
            if self.exceeds(fill, 1) {
                self.quick = true;
            }
        } else if self.len() <= 1 || !self.exceeds(fill, 2) {
            // Redis converts back only when the list fits in half a node.
            self.quick = false;
        }
    }

    /// Whether the list exceeds `fill` (Redis's list-max-listpack-size)
    /// divided by `div`.
    fn exceeds(&self, fill: i64, div: usize) -> bool {
        if fill >= 0 {
            return self.len() > (fill as usize).max(1) / div;
        }
        let limit = match fill {
            -1 => 4096,
            -2 => 8192,
            -3 => 16384,
            -4 => 32768,
            _ => 65536,
        };
        LISTPACK_HEADER + self.bytes > limit / div
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges_like_redis() {
        let mut l = List::new();
        for v in [b"a", b"b", b"c"] {
            l.push(End::Right, v);
        }
        assert_eq!(l.range(0, -1), Some((0, 2)));
        assert_eq!(l.range(-100, 100), Some((0, 2)));
        assert_eq!(l.range(2, 1), None);
        assert_eq!(l.range(5, 10), None);
        assert_eq!(l.index(-1), Some(2));
        assert_eq!(l.index(3), None);
        assert_eq!(l.index(-4), None);
    }

    #[test]
    fn encoding_switches_with_hysteresis() {
        let limits = Limits {
            list_max_listpack_size: 4,
            ..Limits::default()
        };
        let mut l = List::new();
        for _ in 0..5 {
            l.push(End::Right, b"x");
            l.update_encoding(&limits);
        }
        assert_eq!(l.encoding(), "quicklist");
        l.pop(End::Left);
        l.pop(End::Left);
        l.update_encoding(&limits);
        assert_eq!(l.encoding(), "quicklist");
        l.pop(End::Left);
        l.update_encoding(&limits);
        assert_eq!(l.encoding(), "listpack");
    }
}
