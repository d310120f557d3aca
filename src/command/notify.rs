//! Keyspace notifications: which events are on (`notify-keyspace-events`)
//! and the queue commands fill as they change keys.
//!
//! Command code calls [`notify`] with the event's class and Redis's event
//! name; when the class is off (the default) that costs one thread-local
//! read. Events are queued and published after the command that raised
//! them ([`take`]), so a handler never publishes while it holds the
//! keyspace.

use std::cell::{Cell, RefCell};

/// Event classes, as the letters of `notify-keyspace-events`.
pub mod class {
    pub const KEYSPACE: u32 = 1 << 0; // K
    pub const KEYEVENT: u32 = 1 << 1; // E
    pub const GENERIC: u32 = 1 << 2; // g
    pub const STRING: u32 = 1 << 3; // $
    pub const LIST: u32 = 1 << 4; // l
    pub const SET: u32 = 1 << 5; // s
    pub const HASH: u32 = 1 << 6; // h
    pub const ZSET: u32 = 1 << 7; // z
    pub const EXPIRED: u32 = 1 << 8; // x
    pub const EVICTED: u32 = 1 << 9; // e
    pub const STREAM: u32 = 1 << 10; // t
    pub const KEY_MISS: u32 = 1 << 11; // m
    pub const MODULE: u32 = 1 << 12; // d
    pub const NEW: u32 = 1 << 13; // n
    /// `A`: every class but key-miss and new-key.
    pub const ALL: u32 = GENERIC | STRING | LIST | SET | HASH | ZSET | EXPIRED | EVICTED | STREAM | MODULE;
}

/// The classes behind each letter, in the order CONFIG GET prints them.
const LETTERS: &[(u8, u32)] = &[
    (b'g', class::GENERIC),
    (b'$', class::STRING),
    (b'l', class::LIST),
    (b's', class::SET),
    (b'h', class::HASH),
    (b'z', class::ZSET),
    (b'x', class::EXPIRED),
    (b'e', class::EVICTED),
    (b't', class::STREAM),
    (b'd', class::MODULE),
    (b'n', class::NEW),
];

/// Parses a `notify-keyspace-events` value; None on an unknown letter.
pub fn parse(s: &str) -> Option<u32> {
    let mut flags = 0;
    for c in s.bytes() {
        flags |= match c {
            b'A' => class::ALL,
            b'K' => class::KEYSPACE,
            b'E' => class::KEYEVENT,
            b'm' => class::KEY_MISS,
            _ => LETTERS.iter().find(|(l, _)| *l == c)?.1,
        };
    }
    Some(flags)
}

/// The value CONFIG GET reports for `flags` (Redis's canonical form: `A`
/// when every class of it is on, then K, E and m).
pub fn format(flags: u32) -> String {
    let mut s = String::new();
    if flags & class::ALL == class::ALL {
        s.push('A');
    } else {
        for &(l, c) in LETTERS {
            if flags & c != 0 {
                s.push(l as char);
            }
        }
    }
    for (l, c) in [('K', class::KEYSPACE), ('E', class::KEYEVENT), ('m', class::KEY_MISS)] {
        if flags & c != 0 {
            s.push(l);
        }
    }
    s
}

/// One event waiting to be published.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Event {
    pub db: usize,
    pub name: &'static str,
    pub key: Vec<u8>,
}

thread_local! {
    /// This shard's `notify-keyspace-events` flags (mirrored from its
    /// config whenever that changes).
    static FLAGS: Cell<u32> = const { Cell::new(0) };
    static PENDING: RefCell<Vec<Event>> = const { RefCell::new(Vec::new()) };
}

/// Sets this thread's flags (shard start-up, CONFIG SET).
pub fn set_flags(flags: u32) {
    FLAGS.with(|f| f.set(flags));
}

/// Whether events of `class` are published at all.
#[inline]
pub fn enabled(class: u32) -> bool {
    let f = FLAGS.with(|f| f.get());
    f & class != 0 && f & (class::KEYSPACE | class::KEYEVENT) != 0
}

/// Raises event `name` of `class` on `key` of `db`: queued when the class
/// is on, published after the running command.
#[inline]
pub fn notify(class: u32, name: &'static str, db: usize, key: &[u8]) {
    if enabled(class) {
        PENDING.with(|p| {
            p.borrow_mut().push(Event {
                db,
                name,
                key: key.to_vec(),
            })
        });
        super::mark_outgoing();
    }
}

/// A read lookup of `key` found nothing (Redis's lookupKeyRead; writes
/// never raise it): raises `keymiss`.
#[inline]
pub fn key_miss(db: usize, key: &[u8]) {
    notify(class::KEY_MISS, "keymiss", db, key);
}

/// Puts back events taken with [`take`] (ahead of any queued since), to be
/// published later: a cross-shard command holds its events until its
/// writes have landed.
pub fn put_back(mut events: Vec<Event>) {
    if events.is_empty() {
        return;
    }
    PENDING.with(|p| {
        let mut p = p.borrow_mut();
        events.append(&mut p);
        *p = events;
    });
    super::mark_outgoing();
}

/// Whether events wait to be published (the shard tracks this with
/// `command::mark_outgoing`; tests look here).
#[cfg(test)]
fn pending() -> bool {
    FLAGS.with(|f| f.get()) != 0 && PENDING.with(|p| !p.borrow().is_empty())
}

/// Takes the queued events, oldest first.
pub fn take() -> Vec<Event> {
    PENDING.with(|p| std::mem::take(&mut *p.borrow_mut()))
}

/// The two channels an event goes to, when on: `__keyspace@<db>__:<key>`
/// (message: the event name) and `__keyevent@<db>__:<event>` (message: the
/// key).
pub fn channels(flags: u32, ev: &Event) -> (Option<Vec<u8>>, Option<Vec<u8>>) {
    let space = (flags & class::KEYSPACE != 0).then(|| {
        let mut c = format!("__keyspace@{}__:", ev.db).into_bytes();
        c.extend_from_slice(&ev.key);
        c
    });
    let event = (flags & class::KEYEVENT != 0).then(|| format!("__keyevent@{}__:{}", ev.db, ev.name).into_bytes());
    (space, event)
}

/// This thread's flags.
pub fn flags() -> u32 {
    FLAGS.with(|f| f.get())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_and_format_like_redis() {
        assert_eq!(parse("Q"), None);
        assert_eq!(parse(""), Some(0));
        assert_eq!(format(parse("Kx").unwrap()), "xK");
        assert_eq!(format(parse("KEA").unwrap()), "AKE");
        assert_eq!(format(parse("g$lshzxetd").unwrap()), "A");
        assert_eq!(format(parse("KEAmn").unwrap()), "AKEm");
        assert_eq!(format(parse("KEmn").unwrap()), "nKEm");
        assert_eq!(format(parse("Ed").unwrap()), "dE");
        assert_eq!(format(parse("g$lshzxetn").unwrap()), "g$lshzxetn");
    }

    #[test]
    fn events_queue_only_when_on() {
        set_flags(0);
        notify(class::GENERIC, "del", 0, b"k");
        assert!(!pending());
        set_flags(parse("Eg").unwrap());
        notify(class::STRING, "set", 0, b"k");
        assert!(!pending());
        notify(class::GENERIC, "del", 3, b"k");
        assert!(pending());
        let evs = take();
        assert_eq!(evs.len(), 1);
        let (space, event) = channels(flags(), &evs[0]);
        assert_eq!(space, None);
        assert_eq!(event.as_deref(), Some(&b"__keyevent@3__:del"[..]));
        set_flags(0);
    }

    #[test]
    fn key_miss_needs_m_and_put_back_goes_first() {
        set_flags(parse("KEA").unwrap());
        key_miss(0, b"k");
        assert!(!pending());
        set_flags(parse("Km").unwrap());
        key_miss(0, b"k");
        let held = take();
        notify(class::KEY_MISS, "keymiss", 0, b"later");
        put_back(held);
        let keys: Vec<Vec<u8>> = take().into_iter().map(|e| e.key).collect();
        assert_eq!(keys, [b"k".to_vec(), b"later".to_vec()]);
        set_flags(0);
    }
}
