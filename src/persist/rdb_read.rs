//! Reads the RDB format: a streaming, validating file reader and the value
//! decoder shared with RESTORE. Bad input gives an error, never a panic.
//! Values are built with Spindle's encoding rules (the limits in force), so
//! OBJECT ENCODING after a load is what Redis 7.4 reports.

use std::io::Read;
use std::sync::Arc;

use super::codec::{bad, intset_members, listpack_elems, ziplist_elems, Elem, LoadError, Slice, Src};
use super::crc64::crc64;
use super::rdb_write::*;
use crate::config::Limits;
use crate::storage::hash::Hash;
use crate::storage::list::{End, List};
use crate::storage::set::Set;
use crate::storage::stream::{Consumer, Group, Nack, Stream, StreamId};
use crate::storage::zset::{cmp_entry, ZSet};
use crate::storage::Value;

/// One item of an RDB file.
#[derive(Debug)]
pub enum Item {
    Aux(Vec<u8>, Vec<u8>),
    SelectDb(usize),
    ResizeDb(u64, u64),
    /// A function library's full code.
    Function(Vec<u8>),
    Key(KeyRecord),
    /// End of file, checksum verified.
    Eof,
}

#[derive(Debug)]
pub struct KeyRecord {
    pub key: Vec<u8>,
    /// Absolute unix ms.
    pub expire_ms: Option<u64>,
    /// Seconds idle (written under an LRU policy).
    pub idle: Option<u64>,
    /// LFU counter (written under an LFU policy).
    pub freq: Option<u8>,
    pub value: Value,
}

/// A streaming reader of an RDB file: checks the magic and version (1..=12)
/// and the CRC64 at EOF (a stored 0 means not checked).
pub struct Reader<R: Read> {
    r: std::io::BufReader<R>,
    crc: u64,
    read: u64,
    version: u16,
    limits: Limits,
    deep: bool,
    done: bool,
}

impl<R: Read> Src for Reader<R> {
    fn byte(&mut self) -> Result<u8, LoadError> {
        let mut b = [0u8];
        self.fill(&mut b)?;
        Ok(b[0])
    }

    fn fill(&mut self, buf: &mut [u8]) -> Result<(), LoadError> {
        match self.r.read_exact(buf) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => return bad("Unexpected EOF reading RDB file"),
            Err(e) => return Err(e.into()),
        }
        if self.version >= 5 {
            self.crc = crc64(self.crc, buf);
        }
        self.read += buf.len() as u64;
        Ok(())
    }
}

impl<R: Read> Reader<R> {
    pub fn new(r: R) -> Result<Self, LoadError> {
        Reader::with_limits(r, Limits::default())
    }

    /// A reader that builds values under `limits`.
    pub fn with_limits(r: R, limits: Limits) -> Result<Self, LoadError> {
        let mut rd = Reader {
            r: std::io::BufReader::with_capacity(64 * 1024, r),
            crc: 0,
            read: 0,
            version: 5,
            limits,
            deep: false,
            done: false,
        };
        let magic: [u8; 9] = rd.array()?;
        if &magic[..5] != b"REDIS" {
            return bad("Wrong signature trying to load DB from file");
        }
        let digits = &magic[5..];
        let ver: u16 = std::str::from_utf8(digits)
            .ok()
            .filter(|d| d.bytes().all(|c| c.is_ascii_digit()))
            .and_then(|d| d.parse().ok())
            .unwrap_or(0);
        if !(1..=RDB_VERSION_MAX).contains(&ver) {
            return bad(format!("Can't handle RDB format version {ver}"));
        }
        if ver < 5 {
            rd.crc = 0;
        }
        rd.version = ver;
        Ok(rd)
    }

    /// Validates listpacks etc. deeply (sanitize-dump-payload yes).
    pub fn deep_checks(mut self, on: bool) -> Self {
        self.deep = on;
        self
    }

    pub fn version(&self) -> u16 {
        self.version
    }

    pub fn bytes_read(&self) -> u64 {
        self.read
    }

    /// The next item; after [`Item::Eof`] nothing more is read.
    #[allow(clippy::should_implement_trait)]
    pub fn next(&mut self) -> Result<Item, LoadError> {
        if self.done {
            return Ok(Item::Eof);
        }
        let mut expire_ms = None;
        let mut idle = None;
        let mut freq = None;
        loop {
            let t = self.byte()?;
            match t {
                OP_EXPIRETIME_MS => expire_ms = Some(self.u64le()?),
                OP_EXPIRETIME => expire_ms = Some(u32::from_le_bytes(self.array()?) as u64 * 1000),
                OP_IDLE => idle = Some(self.len()?),
                OP_FREQ => freq = Some(self.byte()?),
                OP_SELECTDB => {
                    let db = self.len()?;
                    return Ok(Item::SelectDb(usize::try_from(db).unwrap_or(usize::MAX)));
                }
                OP_RESIZEDB => {
                    let a = self.len()?;
                    let b = self.len()?;
                    return Ok(Item::ResizeDb(a, b));
                }
                OP_SLOT_INFO => {
                    self.len()?;
                    self.len()?;
                    self.len()?;
                }
                OP_AUX => {
                    let k = self.string()?;
                    let v = self.string()?;
                    return Ok(Item::Aux(k, v));
                }
                OP_MODULE_AUX => return bad("The RDB file contains AUX module data I can't load: no matching module"),
                OP_FUNCTION2 => return Ok(Item::Function(self.string()?)),
                OP_FUNCTION_PRE_GA => {
                    let name = self.string()?;
                    let engine = self.string()?;
                    if self.len()? != 0 {
                        self.string()?;
                    }
                    let body = self.string()?;
                    let mut code = b"#!".to_vec();
                    code.extend_from_slice(&engine.to_ascii_lowercase());
                    code.extend_from_slice(b" name=");
                    code.extend_from_slice(&name);
                    code.push(b'\n');
                    code.extend_from_slice(&body);
                    return Ok(Item::Function(code));
                }
                OP_EOF => {
                    let computed = self.crc;
                    self.done = true;
                    if self.version >= 5 {
                        let mut stored = [0u8; 8];
                        match self.r.read_exact(&mut stored) {
                            Ok(()) => self.read += 8,
                            Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => {
                                return bad("Unexpected EOF reading RDB file")
                            }
                            Err(e) => return Err(e.into()),
                        }
                        let stored = u64::from_le_bytes(stored);
                        if stored != 0 && stored != computed {
                            return bad("Wrong RDB checksum. Aborting now.");
                        }
                    }
                    return Ok(Item::Eof);
                }
                t => {
                    let key = self.string()?;
                    let limits = self.limits;
                    let deep = self.deep;
                    let value = read_value(self, t, &limits, deep)?;
                    return Ok(Item::Key(KeyRecord {
                        key,
                        expire_ms,
                        idle,
                        freq,
                        value,
                    }));
                }
            }
        }
    }
}

/// Decodes a DUMP payload's value (type byte and body, version and CRC
/// already checked and removed). Trailing bytes are ignored, as in Redis.
pub fn value_from(type_byte: u8, payload: &[u8], limits: &Limits) -> Result<Value, LoadError> {
    value_from_checked(type_byte, payload, limits, false)
}

/// [`value_from`] with deep validation on request (sanitize-dump-payload).
pub fn value_from_checked(type_byte: u8, payload: &[u8], limits: &Limits, deep: bool) -> Result<Value, LoadError> {
    let mut s = Slice::new(payload);
    read_value(&mut s, type_byte, limits, deep)
}

/// Zset members with their scores.
type ZsetEntries = Vec<(f64, Box<[u8]>)>;

/// Hash fields: (field, value, absolute TTL or 0).
type HashPairs = Vec<(Vec<u8>, Vec<u8>, u64)>;

fn elems_to_bytes(v: Vec<Elem>) -> Vec<Vec<u8>> {
    v.into_iter().map(Elem::into_bytes).collect()
}

fn build_list(items: Vec<Vec<u8>>, limits: &Limits) -> Result<Value, LoadError> {
    if items.is_empty() {
        return bad("empty list");
    }
    let mut l = List::new();
    for i in &items {
        l.push(End::Right, i);
    }
    l.update_encoding(limits);
    Ok(Value::List(Box::new(l)))
}

fn build_set(members: Vec<Vec<u8>>, limits: &Limits) -> Result<Value, LoadError> {
    let Some(first) = members.first() else {
        return bad("empty set");
    };
    let mut s = Set::for_first(first, members.len(), limits);
    for m in &members {
        if !s.add(m, limits) {
            return bad("Duplicate set members detected");
        }
    }
    Ok(Value::Set(Box::new(s)))
}

fn build_zset(mut entries: Vec<(f64, Box<[u8]>)>, limits: &Limits) -> Result<Value, LoadError> {
    if entries.is_empty() {
        return bad("empty zset");
    }
    if entries.iter().any(|(s, _)| s.is_nan()) {
        return bad("Zset with NAN score detected");
    }
    entries.sort_by(|a, b| cmp_entry(a.0, &a.1, b.0, &b.1));
    {
        let mut seen = hashbrown::HashSet::with_capacity(entries.len());
        if !entries.iter().all(|(_, m)| seen.insert(&**m)) {
            return bad("Duplicate zset fields detected");
        }
    }
    Ok(Value::ZSet(Box::new(ZSet::from_sorted(entries, limits.into()))))
}

/// Builds a hash of (field, value, absolute TTL or 0).
fn build_hash(pairs: HashPairs, limits: &Limits) -> Result<Value, LoadError> {
    if pairs.is_empty() {
        return bad("empty hash");
    }
    let mut h = Hash::new();
    h.prepare_for(
        pairs.len(),
        pairs.iter().flat_map(|(f, v, _)| [f.len(), v.len()]),
        limits,
    );
    let mut any_ttl = false;
    for (f, v, ttl) in &pairs {
        if !h.set(f, v, false, limits) {
            return bad("Duplicate hash fields detected");
        }
        if *ttl != 0 {
            any_ttl = true;
            h.set_ttl(f, *ttl);
        }
    }
    if any_ttl && h.is_compact() {
        h.mark_ex();
    }
    Ok(Value::Hash(Box::new(h)))
}

fn pairs_of(v: Vec<Vec<u8>>) -> Result<HashPairs, LoadError> {
    if !v.len().is_multiple_of(2) {
        return bad("odd number of hash elements");
    }
    let mut it = v.into_iter();
    let mut out = Vec::new();
    while let (Some(f), Some(val)) = (it.next(), it.next()) {
        out.push((f, val, 0));
    }
    Ok(out)
}

fn zset_pairs(v: Vec<Elem>) -> Result<ZsetEntries, LoadError> {
    if !v.len().is_multiple_of(2) {
        return bad("odd number of zset elements");
    }
    let mut it = v.into_iter();
    let mut out = Vec::new();
    while let (Some(m), Some(s)) = (it.next(), it.next()) {
        let score = match s {
            Elem::Int(i) => i as f64,
            Elem::Str(t) => match parse_score(&t) {
                Some(d) => d,
                None => return bad("bad zset score"),
            },
        };
        out.push((score, m.into_bytes().into_boxed_slice()));
    }
    Ok(out)
}

fn parse_score(t: &[u8]) -> Option<f64> {
    let s = std::str::from_utf8(t).ok()?;
    match s {
        "inf" | "+inf" => Some(f64::INFINITY),
        "-inf" => Some(f64::NEG_INFINITY),
        _ => s.parse::<f64>().ok().filter(|d| !d.is_nan()),
    }
}

fn read_id<S: Src + ?Sized>(s: &mut S) -> Result<StreamId, LoadError> {
    let ms = s.len()?;
    let seq = s.len()?;
    Ok(StreamId::new(ms, seq))
}

fn read_raw_id<S: Src + ?Sized>(s: &mut S) -> Result<StreamId, LoadError> {
    let b: [u8; 16] = s.array()?;
    Ok(StreamId::new(
        u64::from_be_bytes(b[..8].try_into().expect("8")),
        u64::from_be_bytes(b[8..].try_into().expect("8")),
    ))
}

/// Decodes one type-`t` value from `s`.
pub fn read_value<S: Src + ?Sized>(s: &mut S, t: u8, limits: &Limits, deep: bool) -> Result<Value, LoadError> {
    match t {
        TYPE_STRING => {
            let b = s.string()?;
            Ok(if b.len() <= 20 && super::codec::canonical_int(&b).is_some() {
                Value::from_bytes(&b)
            } else {
                Value::string(b)
            })
        }
        TYPE_LIST => {
            let n = s.len()?;
            let mut items = Vec::new();
            for _ in 0..n {
                items.push(s.string()?);
            }
            build_list(items, limits)
        }
        TYPE_SET => {
            let n = s.len()?;
            let mut items = Vec::new();
            for _ in 0..n {
                items.push(s.string()?);
            }
            build_set(items, limits)
        }
        TYPE_ZSET | TYPE_ZSET_2 => {
            let n = s.len()?;
            let mut entries = Vec::new();
            for _ in 0..n {
                let m = s.string()?;
                let score = if t == TYPE_ZSET_2 {
                    f64::from_le_bytes(s.array()?)
                } else {
                    let l = s.byte()?;
                    match l {
                        253 => f64::NAN,
                        254 => f64::INFINITY,
                        255 => f64::NEG_INFINITY,
                        _ => {
                            let b = s.take(l as u64)?;
                            parse_score(&b).unwrap_or(f64::NAN)
                        }
                    }
                };
                entries.push((score, m.into_boxed_slice()));
            }
            build_zset(entries, limits)
        }
        TYPE_HASH => {
            let n = s.len()?;
            let mut pairs = Vec::new();
            for _ in 0..n {
                let f = s.string()?;
                let v = s.string()?;
                pairs.push((f, v, 0));
            }
            build_hash(pairs, limits)
        }
        TYPE_SET_INTSET => {
            let b = s.string()?;
            let members = intset_members(&b)?;
            build_set(members.iter().map(|i| i.to_string().into_bytes()).collect(), limits)
        }
        TYPE_SET_LISTPACK => {
            let b = s.string()?;
            build_set(elems_to_bytes(listpack_elems(&b, deep)?), limits)
        }
        TYPE_LIST_ZIPLIST => {
            let b = s.string()?;
            build_list(elems_to_bytes(ziplist_elems(&b)?), limits)
        }
        TYPE_ZSET_ZIPLIST => {
            let b = s.string()?;
            build_zset(zset_pairs(ziplist_elems(&b)?)?, limits)
        }
        TYPE_ZSET_LISTPACK => {
            let b = s.string()?;
            build_zset(zset_pairs(listpack_elems(&b, deep)?)?, limits)
        }
        TYPE_HASH_ZIPLIST => {
            let b = s.string()?;
            build_hash(pairs_of(elems_to_bytes(ziplist_elems(&b)?))?, limits)
        }
        TYPE_HASH_LISTPACK => {
            let b = s.string()?;
            build_hash(pairs_of(elems_to_bytes(listpack_elems(&b, deep)?))?, limits)
        }
        TYPE_HASH_ZIPMAP => {
            let b = s.string()?;
            build_hash(zipmap_pairs(&b)?, limits)
        }
        TYPE_LIST_QUICKLIST | TYPE_LIST_QUICKLIST_2 => {
            let n = s.len()?;
            let mut items = Vec::new();
            for _ in 0..n {
                let container = if t == TYPE_LIST_QUICKLIST_2 { s.len()? } else { 2 };
                let b = s.string()?;
                match container {
                    1 => {
                        if b.is_empty() {
                            return bad("empty plain node");
                        }
                        items.push(b);
                    }
                    2 => {
                        let e = if t == TYPE_LIST_QUICKLIST {
                            ziplist_elems(&b)?
                        } else {
                            listpack_elems(&b, deep)?
                        };
                        items.extend(elems_to_bytes(e));
                    }
                    _ => {
                        return bad(format!(
                            "Quicklist integrity check failed: unknown container {container}"
                        ))
                    }
                }
            }
            build_list(items, limits)
        }
        TYPE_HASH_METADATA | TYPE_HASH_METADATA_PRE_GA => {
            let min = if t == TYPE_HASH_METADATA { s.u64le()? } else { 0 };
            let n = s.len()?;
            let mut pairs = Vec::new();
            for _ in 0..n {
                let ttl = s.len()?;
                let f = s.string()?;
                let v = s.string()?;
                let abs = if ttl == 0 {
                    0
                } else if t == TYPE_HASH_METADATA {
                    ttl + min - 1
                } else {
                    ttl
                };
                pairs.push((f, v, abs));
            }
            build_hash(pairs, limits)
        }
        TYPE_HASH_LISTPACK_EX | TYPE_HASH_LISTPACK_EX_PRE_GA => {
            if t == TYPE_HASH_LISTPACK_EX {
                s.u64le()?;
            }
            let b = s.string()?;
            let e = listpack_elems(&b, deep)?;
            if e.len() % 3 != 0 {
                return bad("bad listpackex triplets");
            }
            let mut it = e.into_iter();
            let mut pairs = Vec::new();
            while let (Some(f), Some(v), Some(ttl)) = (it.next(), it.next(), it.next()) {
                let Some(ttl) = ttl.as_int().filter(|&x| x >= 0) else {
                    return bad("bad field ttl");
                };
                pairs.push((f.into_bytes(), v.into_bytes(), ttl as u64));
            }
            build_hash(pairs, limits)
        }
        TYPE_STREAM_LISTPACKS | TYPE_STREAM_LISTPACKS_2 | TYPE_STREAM_LISTPACKS_3 => read_stream(s, t, limits, deep),
        TYPE_MODULE_PRE_GA | TYPE_MODULE_2 => {
            bad("The RDB file contains module data I can't load: no matching module type")
        }
        _ => bad(format!("Unknown RDB encoding type {t}")),
    }
}

fn zipmap_pairs(b: &[u8]) -> Result<HashPairs, LoadError> {
    let mut p = 1usize;
    let mut out = Vec::new();
    let get = |p: usize| {
        b.get(p)
            .copied()
            .ok_or_else(|| LoadError::Format("corrupt zipmap".into()))
    };
    let len_at = |p: &mut usize| -> Result<usize, LoadError> {
        let c = get(*p)?;
        if c < 254 {
            *p += 1;
            Ok(c as usize)
        } else if c == 254 {
            let d = b
                .get(*p + 1..*p + 5)
                .ok_or_else(|| LoadError::Format("corrupt zipmap".into()))?;
            *p += 5;
            Ok(u32::from_le_bytes(d.try_into().expect("4")) as usize)
        } else {
            bad("corrupt zipmap")
        }
    };
    loop {
        if get(p)? == 255 {
            break;
        }
        let fl = len_at(&mut p)?;
        let f = b
            .get(p..p + fl)
            .ok_or_else(|| LoadError::Format("corrupt zipmap".into()))?
            .to_vec();
        p += fl;
        let vl = len_at(&mut p)?;
        let free = get(p)? as usize;
        p += 1;
        let v = b
            .get(p..p + vl)
            .ok_or_else(|| LoadError::Format("corrupt zipmap".into()))?
            .to_vec();
        p += vl + free;
        out.push((f, v, 0));
    }
    Ok(out)
}

/// One node's entries: (id, deleted, pairs).
type NodeEntries = Vec<(StreamId, bool, Vec<(Vec<u8>, Vec<u8>)>)>;

fn stream_node_entries(master: StreamId, lp: &[u8], deep: bool) -> Result<NodeEntries, LoadError> {
    let e = listpack_elems(lp, deep)?;
    let corrupt = || LoadError::Format("Stream node listpack corrupted".into());
    let mut it = e.into_iter();
    let int = |it: &mut std::vec::IntoIter<Elem>| -> Result<i64, LoadError> {
        it.next().and_then(|x| x.as_int()).ok_or_else(corrupt)
    };
    let live = int(&mut it)?;
    let deleted = int(&mut it)?;
    let nf = int(&mut it)?;
    if live < 0 || deleted < 0 || !(0..=1 << 30).contains(&nf) {
        return Err(corrupt());
    }
    let mut fields = Vec::new();
    for _ in 0..nf {
        fields.push(it.next().ok_or_else(corrupt)?.into_bytes());
    }
    if int(&mut it)? != 0 {
        return Err(corrupt());
    }
    let mut out = Vec::new();
    while it.len() > 0 {
        let flags = int(&mut it)?;
        let dms = int(&mut it)?;
        let dseq = int(&mut it)?;
        let id = StreamId::new(master.ms.wrapping_add(dms as u64), master.seq.wrapping_add(dseq as u64));
        let mut pairs = Vec::new();
        if flags & 2 != 0 {
            for f in &fields {
                pairs.push((f.clone(), it.next().ok_or_else(corrupt)?.into_bytes()));
            }
        } else {
            let n = int(&mut it)?;
            if !(0..=1 << 30).contains(&n) {
                return Err(corrupt());
            }
            for _ in 0..n {
                let f = it.next().ok_or_else(corrupt)?.into_bytes();
                let v = it.next().ok_or_else(corrupt)?.into_bytes();
                pairs.push((f, v));
            }
        }
        let _lp_count = int(&mut it)?;
        if out.last().is_some_and(|(prev, _, _)| *prev >= id) || id < master {
            return Err(corrupt());
        }
        out.push((id, flags & 1 != 0, pairs));
    }
    let (nl, nd) = out
        .iter()
        .fold((0, 0), |(l, d), e| if e.1 { (l, d + 1) } else { (l + 1, d) });
    if deep && (nl != live || nd != deleted) {
        return Err(corrupt());
    }
    Ok(out)
}

fn read_stream<S: Src + ?Sized>(s: &mut S, t: u8, limits: &Limits, deep: bool) -> Result<Value, LoadError> {
    let nodes = s.len()?;
    let mut st = Stream::new();
    let mut prev_master: Option<StreamId> = None;
    for _ in 0..nodes {
        let key = s.string()?;
        if key.len() != 16 {
            return bad("Stream node key entry is not the size of a stream ID");
        }
        let master = StreamId::new(
            u64::from_be_bytes(key[..8].try_into().expect("8")),
            u64::from_be_bytes(key[8..].try_into().expect("8")),
        );
        if prev_master.is_some_and(|p| p >= master) {
            return bad("Stream nodes out of order");
        }
        prev_master = Some(master);
        let lp = s.string()?;
        let entries = stream_node_entries(master, &lp, deep)?;
        if entries.is_empty() {
            return bad("Empty listpack inside stream");
        }
        let mut tomb = Vec::new();
        for (id, deleted, pairs) in &entries {
            let flat: Vec<&[u8]> = pairs.iter().flat_map(|(f, v)| [&f[..], &v[..]]).collect();
            if st
                .append(
                    *id,
                    flat.len(),
                    |i| flat[i],
                    limits.stream_node_max_bytes,
                    limits.stream_node_max_entries,
                )
                .is_err()
            {
                return bad("Stream entries out of order");
            }
            if *deleted {
                tomb.push(*id);
            }
        }
        st.delete(&tomb);
    }
    let length = s.len()?;
    if length != st.len() {
        return bad("Stream length inconsistent");
    }
    let last = read_id(s)?;
    if t >= TYPE_STREAM_LISTPACKS_2 {
        st.first_id = read_id(s)?;
        st.max_deleted = read_id(s)?;
        st.entries_added = s.len()?;
    } else {
        st.max_deleted = StreamId::MIN;
        st.entries_added = length;
        st.first_id = st.first_live_id().unwrap_or_default();
    }
    st.last_id = last;
    let ngroups = s.len()?;
    for _ in 0..ngroups {
        let name = s.string()?;
        let glast = read_id(s)?;
        let entries_read = if t >= TYPE_STREAM_LISTPACKS_2 {
            s.len()? as i64
        } else {
            st.estimate_distance(glast).map(|d| d as i64).unwrap_or(-1)
        };
        let mut g = Group::new(glast, entries_read);
        let npel = s.len()?;
        for _ in 0..npel {
            let id = read_raw_id(s)?;
            let delivery_time = s.u64le()?;
            let delivery_count = s.len()?;
            let prev = g.pel.insert(
                id,
                Nack {
                    delivery_time,
                    delivery_count,
                    consumer: Arc::from(&b""[..]),
                },
            );
            if prev.is_some() {
                return bad("Duplicated global PEL entry loading stream consumer group");
            }
        }
        let ncons = s.len()?;
        for _ in 0..ncons {
            let cname = s.string()?;
            let seen = s.u64le()?;
            let active = if t == TYPE_STREAM_LISTPACKS_3 {
                s.u64le()? as i64
            } else {
                seen as i64
            };
            let mut c = Consumer::new(&cname, seen);
            c.active_time = active;
            let n = s.len()?;
            for _ in 0..n {
                let id = read_raw_id(s)?;
                match g.pel.get_mut(&id) {
                    Some(nack) => nack.consumer = c.name.clone(),
                    None => return bad("Consumer entry not found in group global PEL"),
                }
                if !c.pel.insert(id) {
                    return bad("Duplicated consumer PEL entry loading a stream consumer group");
                }
            }
            if g.consumers.insert(cname, c).is_some() {
                return bad("Duplicated consumer name loading a stream consumer group");
            }
        }
        if deep && g.pel.values().any(|n| n.consumer.is_empty()) {
            return bad("Stream PEL entry without a consumer");
        }
        if st.groups.insert(name, g).is_some() {
            return bad("Duplicated consumer group name");
        }
    }
    Ok(Value::Stream(Box::new(st)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::persist::rdb_write::{self as w, WriteOpts};
    use crate::storage::Entry;

    fn sample_values() -> Vec<(&'static str, Value)> {
        let l = Limits::default();
        let mut out = vec![
            ("int", Value::Int(12345)),
            ("big", Value::Int(1234567890123)),
            ("str", Value::from_bytes(b"hello")),
            ("lzf", Value::string(vec![b'a'; 100])),
        ];
        let mut list = List::new();
        for x in [&b"a"[..], b"b", b"1", b"-2", b"300"] {
            list.push(End::Right, x);
        }
        list.update_encoding(&l);
        out.push(("list", Value::List(Box::new(list))));
        let mut big = List::new();
        for i in 0..2000 {
            big.push(End::Right, format!("element-{i}").as_bytes());
        }
        big.update_encoding(&l);
        out.push(("biglist", Value::List(Box::new(big))));
        for (name, members) in [("intset", 0..3), ("bigset", 0..1000)] {
            let mut s = Set::for_first(b"1", members.len(), &l);
            for i in members {
                s.add(i.to_string().as_bytes(), &l);
            }
            out.push((name, Value::Set(Box::new(s))));
        }
        let mut s = Set::for_first(b"a", 2, &l);
        s.add(b"a", &l);
        s.add(b"b", &l);
        out.push(("lpset", Value::Set(Box::new(s))));
        let z: Vec<(f64, Box<[u8]>)> = vec![
            (1.0, (*b"a").into()),
            (2.5, (*b"b").into()),
            (f64::INFINITY, (*b"c").into()),
        ];
        out.push(("zset", Value::ZSet(Box::new(ZSet::from_sorted(z, (&l).into())))));
        let z: Vec<(f64, Box<[u8]>)> = (0..300)
            .map(|i| (i as f64 / 3.0, format!("m{i:04}").into_bytes().into()))
            .collect();
        out.push(("bigzset", Value::ZSet(Box::new(ZSet::from_sorted(z, (&l).into())))));
        let mut h = Hash::new();
        h.set(b"f", b"v", false, &l);
        h.set(b"n", b"7", false, &l);
        out.push(("hash", Value::Hash(Box::new(h))));
        let mut h = Hash::new();
        for i in 0..600 {
            h.set(format!("f{i}").as_bytes(), format!("v{i}").as_bytes(), false, &l);
        }
        out.push(("bighash", Value::Hash(Box::new(h))));
        let mut st = Stream::new();
        let fv1: [&[u8]; 4] = [b"a", b"1", b"b", b"x"];
        st.append(StreamId::new(1, 1), 4, |i| fv1[i], 4096, 100).unwrap();
        let fv2: [&[u8]; 4] = [b"a", b"2", b"b", b"y"];
        st.append(StreamId::new(1, 2), 4, |i| fv2[i], 4096, 100).unwrap();
        let fv3: [&[u8]; 2] = [b"c", b"3"];
        st.append(StreamId::new(2, 0), 2, |i| fv3[i], 4096, 100).unwrap();
        let mut g = Group::new(StreamId::new(1, 1), 1);
        // Type 19 has no active time: loading sets it to the seen time.
        g.consumer(b"alice", 1000).0.active_time = 1000;
        g.assign(StreamId::new(1, 1), b"alice", 1000).delivery_count = 1;
        st.groups.insert(b"g".to_vec(), g);
        st.groups.insert(b"g2".to_vec(), Group::new(StreamId::new(2, 0), -1));
        out.push(("stream", Value::Stream(Box::new(st))));
        out
    }

    #[test]
    fn every_type_round_trips_through_a_file() {
        let opts = WriteOpts::default();
        let mut f = Vec::new();
        w::header(
            &mut f,
            w::RDB_VERSION,
            &[
                ("redis-ver", w::AuxValue::Str(b"7.0.15")),
                ("redis-bits", w::AuxValue::Int(64)),
            ],
        );
        w::function(
            &mut f,
            b"#!lua name=x\nredis.register_function('f', function() return 1 end)",
            true,
        );
        w::select_db(&mut f, 0);
        let vals = sample_values();
        w::resize_db(&mut f, vals.len() as u64, 1);
        for (i, (name, v)) in vals.iter().enumerate() {
            let mut e = Entry {
                value: v.clone(),
                expire_at: 0,
                access: 0,
                lfu: 0,
            };
            if i == 0 {
                e.expire_at = 1795923530717;
            }
            w::key(&mut f, name.as_bytes(), &e, &opts);
        }
        w::eof(&mut f);
        let crc = crate::persist::crc64::crc64(0, &f);
        f.extend_from_slice(&crc.to_le_bytes());
        assert_eq!(crate::persist::crc64::crc64(0, &f), 0);
        let mut r = Reader::new(&f[..]).unwrap().deep_checks(true);
        assert!(matches!(r.next().unwrap(), Item::Aux(k, v) if k == b"redis-ver" && v == b"7.0.15"));
        assert!(matches!(r.next().unwrap(), Item::Aux(k, v) if k == b"redis-bits" && v == b"64"));
        assert!(matches!(r.next().unwrap(), Item::Function(_)));
        assert!(matches!(r.next().unwrap(), Item::SelectDb(0)));
        assert!(matches!(r.next().unwrap(), Item::ResizeDb(_, 1)));
        for (i, (name, v)) in vals.iter().enumerate() {
            let Item::Key(k) = r.next().unwrap() else {
                panic!("key expected")
            };
            assert_eq!(k.key, name.as_bytes());
            assert_eq!(k.expire_ms, (i == 0).then_some(1795923530717));
            assert_eq!(k.value.encoding(), v.encoding(), "{name}");
            let mut d1 = [0u8; 20];
            let mut d2 = [0u8; 20];
            crate::persist::dump::value_digest(&mut d1, v, false);
            crate::persist::dump::value_digest(&mut d2, &k.value, false);
            assert_eq!(d1, d2, "{name}");
            if let (Value::Stream(a), Value::Stream(b)) = (v, &k.value) {
                assert_eq!(a.groups, b.groups);
                assert_eq!(
                    (a.first_id, a.last_id, a.max_deleted, a.entries_added),
                    (b.first_id, b.last_id, b.max_deleted, b.entries_added)
                );
            }
        }
        assert!(matches!(r.next().unwrap(), Item::Eof));
        assert_eq!(r.bytes_read(), f.len() as u64);
        // A damaged byte fails the checksum (or the parse), never panics.
        for i in 9..f.len() {
            let mut g = f.clone();
            g[i] ^= 0x20;
            let mut ok = true;
            if let Ok(mut r) = Reader::new(&g[..]) {
                loop {
                    match r.next() {
                        Ok(Item::Eof) => break,
                        Ok(_) => {}
                        Err(_) => {
                            ok = false;
                            break;
                        }
                    }
                }
            }
            assert!(!ok, "damage at {i} went unnoticed");
        }
        assert!(Reader::new(&b"REDIS0013"[..]).is_err());
        assert!(Reader::new(&b"RUDIS0010"[..]).is_err());
    }

    /// Bytes recorded from redis-server 7.0.15 (memo 3.3-3.7).
    #[test]
    fn redis_value_vectors() {
        let vals = sample_values();
        let get = |n: &str| &vals.iter().find(|(k, _)| *k == n).unwrap().1;
        let opts = WriteOpts::default();
        let enc = |v: &Value| {
            let mut o = Vec::new();
            let t = w::value(&mut o, v, &opts);
            (t, o)
        };
        assert_eq!(
            enc(get("list")),
            (
                18,
                b"\x01\x02\x15\x15\x00\x00\x00\x05\x00\x81a\x02\x81b\x02\x01\x01\xdf\xfe\x02\xc1\x2c\x02\xff".to_vec()
            )
        );
        assert_eq!(
            enc(get("intset")),
            (
                11,
                b"\x0e\x02\x00\x00\x00\x03\x00\x00\x00\x00\x00\x01\x00\x02\x00".to_vec()
            )
        );
        assert_eq!(
            enc(get("hash")),
            (
                16,
                b"\x12\x12\x00\x00\x00\x04\x00\x81f\x02\x81v\x02\x81n\x02\x07\x01\xff".to_vec()
            )
        );
        let l = Limits::default();
        let z: Vec<(f64, Box<[u8]>)> = vec![(1.0, (*b"a").into()), (2.5, (*b"b").into())];
        let z = Value::ZSet(Box::new(ZSet::from_sorted(z, (&l).into())));
        assert_eq!(
            enc(&z),
            (
                17,
                b"\x14\x14\x00\x00\x00\x04\x00\x81a\x02\x01\x01\x81b\x02\x832.5\x04\xff".to_vec()
            )
        );
        // The stream of memo 3.7 (LZF form aside): check the parts after
        // the node, and the decoded node.
        let (t, o) = enc(get("stream"));
        assert_eq!(t, 19);
        let tail = b"\x03\x02\x00\x01\x01\x00\x00\x03\x02\x01g\x01\x01\x01\x01";
        assert!(o.windows(tail.len()).any(|x| x == tail));
        assert!(o.ends_with(b"\x02g2\x02\x00\x81\xff\xff\xff\xff\xff\xff\xff\xff\x00\x00"));
    }
}
