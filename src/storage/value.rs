//! Values and their compact encodings.

/// Longest string Redis stores as `embstr` (reported by OBJECT ENCODING).
pub const EMBSTR_MAX: usize = 44;

/// A stored value. Every command checks the variant and answers WRONGTYPE
/// on a mismatch. Collections are boxed so that a value stays three words
/// whatever its type (the tag lives in the string's capacity niche); an
/// empty collection is never stored (the command that empties it deletes
/// the key).
#[derive(Debug, PartialEq)]
pub enum Value {
    /// A string that holds a canonical decimal i64 ("int" encoding).
    Int(i64),
    /// Any other string. Build it with [`Value::string`] or
    /// [`Value::raw_string`]: a short string modified in place (APPEND,
    /// SETRANGE, SETBIT), which Redis then reports as "raw" rather than
    /// "embstr", is marked by spare capacity (see [`Value::is_raw`]). A
    /// separate flag would make every value, and so every key, 8 bytes
    /// bigger.
    Str(Vec<u8>),
    List(Box<super::list::List>),
    Hash(Box<super::hash::Hash>),
    Set(Box<super::set::Set>),
    ZSet(Box<super::zset::ZSet>),
    Stream(Box<super::stream::Stream>),
}

impl Value {
    /// Builds a string value, choosing the int encoding when the bytes are a
    /// canonical integer (as Redis's tryObjectEncoding does).
    pub fn from_bytes(b: &[u8]) -> Value {
        if b.len() <= 20 {
            if let Some(v) = crate::protocol::parser::parse_i64_strict(b) {
                return Value::Int(v);
            }
        }
        Value::Str(b.to_vec())
    }

    /// A string value reported as "embstr" when short enough: the capacity
    /// is trimmed to the length (that is what marks it not raw).
    pub fn string(mut data: Vec<u8>) -> Value {
        if data.len() <= EMBSTR_MAX && data.capacity() != data.len() {
            data.shrink_to_fit();
        }
        Value::Str(data)
    }

    /// A string value reported as "raw" whatever its length (a result of
    /// an in-place modification).
    pub fn raw_string(mut data: Vec<u8>) -> Value {
        mark_raw(&mut data);
        Value::Str(data)
    }

    /// Whether a Str value reports the "raw" encoding: longer than an
    /// embstr, or built or modified as raw (capacity beyond its length).
    pub fn is_raw(data: &Vec<u8>) -> bool {
        data.len() > EMBSTR_MAX || data.capacity() > data.len()
    }

    /// The name TYPE reports.
    pub fn type_name(&self) -> &'static str {
        match self {
            Value::Int(_) | Value::Str(_) => "string",
            Value::List(_) => "list",
            Value::Hash(_) => "hash",
            Value::Set(_) => "set",
            Value::ZSet(_) => "zset",
            Value::Stream(_) => "stream",
        }
    }

    /// The name OBJECT ENCODING reports.
    pub fn encoding(&self) -> &'static str {
        match self {
            Value::Int(_) => "int",
            Value::Str(data) => {
                if Value::is_raw(data) {
                    "raw"
                } else {
                    "embstr"
                }
            }
            Value::List(l) => l.encoding(),
            Value::Hash(h) => h.encoding(),
            Value::Set(s) => s.encoding(),
            Value::ZSet(z) => z.encoding(),
            Value::Stream(s) => s.encoding(),
        }
    }

    /// Approximate bytes the value occupies, its header included (MEMORY
    /// USAGE).
    pub fn memory_usage(&self) -> usize {
        let own = std::mem::size_of::<Value>();
        own + match self {
            Value::Int(_) => 0,
            Value::Str(data) => data.capacity(),
            Value::List(l) => std::mem::size_of::<super::list::List>() + l.heap_bytes(),
            Value::Hash(h) => std::mem::size_of::<super::hash::Hash>() + h.heap_bytes(),
            Value::Set(s) => std::mem::size_of::<super::set::Set>() + s.heap_bytes(),
            Value::ZSet(z) => std::mem::size_of::<super::zset::ZSet>() + z.heap_bytes(),
            Value::Stream(s) => std::mem::size_of::<super::stream::Stream>() + s.heap_bytes(),
        }
    }

    pub fn is_string(&self) -> bool {
        matches!(self, Value::Int(_) | Value::Str(_))
    }

    /// The string bytes of an Int or Str value, taken by value. Callers
    /// check [`Value::is_string`] first; other types give nothing.
    pub fn into_bytes(self) -> Vec<u8> {
        match self {
            Value::Int(i) => {
                let mut tmp = [0u8; 20];
                crate::protocol::reply::fmt_i64(&mut tmp, i).to_vec()
            }
            Value::Str(data) => data,
            _ => Vec::new(),
        }
    }
}

impl Clone for Value {
    /// A clone keeps the string encoding (COPY of a raw string is raw),
    /// which a plain `Vec` clone would lose with the spare capacity.
    fn clone(&self) -> Value {
        match self {
            Value::Int(i) => Value::Int(*i),
            Value::Str(data) if Value::is_raw(data) => Value::raw_string(data.clone()),
            Value::Str(data) => Value::Str(data.clone()),
            Value::List(l) => Value::List(l.clone()),
            Value::Hash(h) => Value::Hash(h.clone()),
            Value::Set(s) => Value::Set(s.clone()),
            Value::ZSet(z) => Value::ZSet(z.clone()),
            Value::Stream(s) => Value::Stream(s.clone()),
        }
    }
}

/// Marks a string modified in place as raw (see [`Value::is_raw`]): a
/// short one gets one byte of spare capacity if it has none.
pub fn mark_raw(data: &mut Vec<u8>) {
    if data.len() <= EMBSTR_MAX && data.capacity() == data.len() {
        data.reserve_exact(1);
    }
}

/// Calls `f` with the string bytes of an Int or Str value.
#[inline]
pub fn with_str_bytes<R>(v: &Value, f: impl FnOnce(&[u8]) -> R) -> Option<R> {
    match v {
        Value::Int(i) => {
            let mut tmp = [0u8; 20];
            Some(f(crate::protocol::reply::fmt_i64(&mut tmp, *i)))
        }
        Value::Str(data) => Some(f(data)),
        _ => None,
    }
}

/// A key's slot in a database: its value, absolute expiry and access clock.
#[derive(Debug, Clone)]
pub struct Entry {
    pub value: Value,
    /// Absolute unix time in ms; 0 = no expiry. Changed only through `Db`
    /// so that the per-slot volatile counts stay right.
    pub(crate) expire_at: u64,
    /// Seconds clock of the last access (OBJECT IDLETIME, LRU eviction).
    pub access: u32,
    /// LFU state: minutes clock of the last decay (16 bits) and the
    /// logarithmic access counter (8 bits), kept only under an LFU policy.
    /// The top 8 bits are the snapshot epoch (see [`Entry::snap_epoch`]).
    pub lfu: u32,
}

/// The bits of [`Entry::lfu`] that hold the snapshot epoch.
const EPOCH_BITS: u32 = 0xFF00_0000;

impl Entry {
    /// Records an access at `clock` (a command read or wrote the key).
    #[inline]
    pub fn touch(&mut self, clock: u32) {
        self.access = clock;
        if let Some(p) = crate::shard::evict::lfu_params() {
            self.set_lfu(crate::shard::evict::lfu_bump(self.lfu, clock, p));
        }
    }

    /// Replaces the LFU word (24 bits), keeping the snapshot epoch.
    #[inline]
    pub fn set_lfu(&mut self, word: u32) {
        self.lfu = (self.lfu & EPOCH_BITS) | (word & !EPOCH_BITS);
    }

    /// The epoch of the last snapshot walk that wrote this entry (or that
    /// was running when it was stored): an entry whose epoch differs from
    /// its database's while a walk runs has not been written yet.
    #[inline]
    pub fn snap_epoch(&self) -> u8 {
        (self.lfu >> 24) as u8
    }

    #[inline]
    pub fn set_snap_epoch(&mut self, epoch: u8) {
        self.lfu = (self.lfu & !EPOCH_BITS) | (epoch as u32) << 24;
    }

    #[inline]
    pub fn expire_at(&self) -> u64 {
        self.expire_at
    }

    #[inline]
    pub fn is_expired(&self, now_ms: u64) -> bool {
        self.expire_at != 0 && self.expire_at <= now_ms
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encodings_like_redis() {
        assert_eq!(Value::from_bytes(b"123").encoding(), "int");
        assert_eq!(Value::from_bytes(b"0123").encoding(), "embstr");
        assert_eq!(Value::from_bytes(&[b'a'; 44]).encoding(), "embstr");
        assert_eq!(Value::from_bytes(&[b'a'; 45]).encoding(), "raw");
        assert_eq!(Value::raw_string(b"a".to_vec()).encoding(), "raw");
        assert_eq!(Value::from_bytes(b"-9223372036854775808"), Value::Int(i64::MIN));
        let mut grown = b"ab".to_vec();
        grown.reserve(10);
        assert_eq!(Value::string(grown.clone()).encoding(), "embstr");
        assert_eq!(Value::raw_string(grown).clone().encoding(), "raw");
        let mut short = Value::from_bytes(b"xy");
        if let Value::Str(d) = &mut short {
            mark_raw(d);
        }
        assert_eq!(short.clone().encoding(), "raw");
        assert_eq!(std::mem::size_of::<Value>(), 24);
        assert_eq!(std::mem::size_of::<Entry>(), 40);
    }
}
