//! RDB primitives: lengths, strings (integer and LZF forms), listpacks,
//! intsets and ziplists, with bounds-checked readers that never panic.

use super::lzf;

pub const ENC_INT8: u8 = 0;
pub const ENC_INT16: u8 = 1;
pub const ENC_INT32: u8 = 2;
pub const ENC_LZF: u8 = 3;

/// Appends an RDB length (shortest form; 14/32/64-bit forms big endian).
pub fn put_len(out: &mut Vec<u8>, len: u64) {
    if len < (1 << 6) {
        out.push(len as u8);
    } else if len < (1 << 14) {
        out.push(((len >> 8) as u8) | 0x40);
        out.push(len as u8);
    } else if len <= u32::MAX as u64 {
        out.push(0x80);
        out.extend_from_slice(&(len as u32).to_be_bytes());
    } else {
        out.push(0x81);
        out.extend_from_slice(&len.to_be_bytes());
    }
}

/// The integer a string stores canonically (Redis's string2ll), if any.
pub fn canonical_int(s: &[u8]) -> Option<i64> {
    if s.is_empty() || s.len() > 20 {
        return None;
    }
    crate::protocol::parser::parse_i64_strict(s)
}

/// Appends an integer string in the smallest int form, or false when it
/// does not fit 32 bits.
fn put_int_form(out: &mut Vec<u8>, v: i64) -> bool {
    if let Ok(b) = i8::try_from(v) {
        out.extend_from_slice(&[0xC0 | ENC_INT8, b as u8]);
    } else if let Ok(b) = i16::try_from(v) {
        out.push(0xC0 | ENC_INT16);
        out.extend_from_slice(&b.to_le_bytes());
    } else if let Ok(b) = i32::try_from(v) {
        out.push(0xC0 | ENC_INT32);
        out.extend_from_slice(&b.to_le_bytes());
    } else {
        return false;
    }
    true
}

/// Appends an RDB string as rdbSaveRawString: int form for short canonical
/// integers, LZF when `compress` and longer than 20 bytes and it saves at
/// least 4 bytes, else raw.
pub fn put_string(out: &mut Vec<u8>, s: &[u8], compress: bool) {
    if s.len() <= 11 {
        if let Some(v) = canonical_int(s) {
            if put_int_form(out, v) {
                return;
            }
        }
    }
    if compress && s.len() > 20 {
        if let Some(c) = lzf::lzf_compress(s, s.len() - 4) {
            out.push(0xC0 | ENC_LZF);
            put_len(out, c.len() as u64);
            put_len(out, s.len() as u64);
            out.extend_from_slice(&c);
            return;
        }
    }
    put_len(out, s.len() as u64);
    out.extend_from_slice(s);
}

/// Appends an integer as an RDB string (rdbSaveLongLongAsStringObject).
pub fn put_int_string(out: &mut Vec<u8>, v: i64) {
    if !put_int_form(out, v) {
        let t = v.to_string();
        put_len(out, t.len() as u64);
        out.extend_from_slice(t.as_bytes());
    }
}

/// A failure to decode: Redis's wording where it has one.
#[derive(Debug)]
pub enum LoadError {
    Io(std::io::Error),
    Format(String),
}

impl std::fmt::Display for LoadError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            LoadError::Io(e) => write!(f, "{e}"),
            LoadError::Format(s) => f.write_str(s),
        }
    }
}

impl From<std::io::Error> for LoadError {
    fn from(e: std::io::Error) -> Self {
        LoadError::Io(e)
    }
}

pub fn bad<T>(msg: impl Into<String>) -> Result<T, LoadError> {
    Err(LoadError::Format(msg.into()))
}

/// Longest single allocation a length read from input may ask for at once
/// (bigger ones grow as bytes actually arrive).
const PREALLOC_MAX: usize = 1 << 20;

/// A byte source for the decoders: a slice (RESTORE) or a stream (a file).
#[allow(clippy::len_without_is_empty)]
pub trait Src {
    fn byte(&mut self) -> Result<u8, LoadError>;
    fn fill(&mut self, buf: &mut [u8]) -> Result<(), LoadError>;

    fn take(&mut self, n: u64) -> Result<Vec<u8>, LoadError> {
        let n = usize::try_from(n).or_else(|_| bad("length out of range"))?;
        let mut v = Vec::with_capacity(n.min(PREALLOC_MAX));
        while v.len() < n {
            let step = (n - v.len()).min(PREALLOC_MAX);
            let at = v.len();
            v.resize(at + step, 0);
            self.fill(&mut v[at..])?;
        }
        Ok(v)
    }

    fn array<const N: usize>(&mut self) -> Result<[u8; N], LoadError> {
        let mut a = [0u8; N];
        self.fill(&mut a)?;
        Ok(a)
    }

    fn u64le(&mut self) -> Result<u64, LoadError> {
        Ok(u64::from_le_bytes(self.array()?))
    }

    /// A length, or Err(encoding) for the 11xxxxxx string encodings.
    fn len_or_enc(&mut self) -> Result<Result<u64, u8>, LoadError> {
        let b = self.byte()?;
        Ok(match b >> 6 {
            0 => Ok((b & 0x3f) as u64),
            1 => Ok((((b & 0x3f) as u64) << 8) | self.byte()? as u64),
            2 => match b {
                0x80 => Ok(u32::from_be_bytes(self.array()?) as u64),
                0x81 => Ok(u64::from_be_bytes(self.array()?)),
                _ => return bad(format!("Unknown length encoding {b} in rdbLoadLen()")),
            },
            _ => Err(b & 0x3f),
        })
    }

    fn len(&mut self) -> Result<u64, LoadError> {
        match self.len_or_enc()? {
            Ok(n) => Ok(n),
            Err(_) => bad("unexpected string encoding where a length belongs"),
        }
    }

    /// An RDB string in any form.
    fn string(&mut self) -> Result<Vec<u8>, LoadError> {
        match self.len_or_enc()? {
            Ok(n) => self.take(n),
            Err(ENC_INT8) => Ok((self.byte()? as i8).to_string().into_bytes()),
            Err(ENC_INT16) => Ok(i16::from_le_bytes(self.array()?).to_string().into_bytes()),
            Err(ENC_INT32) => Ok(i32::from_le_bytes(self.array()?).to_string().into_bytes()),
            Err(ENC_LZF) => {
                let clen = self.len()?;
                let ulen = self.len()?;
                if ulen == 0 || ulen > (1 << 40) {
                    return bad("Invalid LZF compressed string");
                }
                let c = self.take(clen)?;
                match lzf::lzf_decompress(&c, ulen as usize) {
                    Some(v) => Ok(v),
                    None => bad("Invalid LZF compressed string"),
                }
            }
            Err(e) => bad(format!("Unknown RDB string encoding type {e}")),
        }
    }
}

/// A bounds-checked cursor over a byte slice.
pub struct Slice<'a> {
    pub data: &'a [u8],
    pub pos: usize,
}

impl<'a> Slice<'a> {
    pub fn new(data: &'a [u8]) -> Slice<'a> {
        Slice { data, pos: 0 }
    }
}

impl Src for Slice<'_> {
    fn byte(&mut self) -> Result<u8, LoadError> {
        let b = *self
            .data
            .get(self.pos)
            .ok_or_else(|| LoadError::Format("Unexpected EOF".into()))?;
        self.pos += 1;
        Ok(b)
    }

    fn fill(&mut self, buf: &mut [u8]) -> Result<(), LoadError> {
        let end = self.pos.checked_add(buf.len()).filter(|&e| e <= self.data.len());
        let Some(end) = end else {
            return bad("Unexpected EOF");
        };
        buf.copy_from_slice(&self.data[self.pos..end]);
        self.pos = end;
        Ok(())
    }

    fn take(&mut self, n: u64) -> Result<Vec<u8>, LoadError> {
        let end = usize::try_from(n)
            .ok()
            .and_then(|n| self.pos.checked_add(n))
            .filter(|&e| e <= self.data.len());
        let Some(end) = end else {
            return bad("Unexpected EOF");
        };
        let v = self.data[self.pos..end].to_vec();
        self.pos = end;
        Ok(v)
    }
}

// ---------------------------------------------------------------- listpack

/// Builds a listpack with Redis's encoding choices (lpAppend).
pub struct Listpack {
    buf: Vec<u8>,
    count: usize,
}

impl Default for Listpack {
    fn default() -> Self {
        Listpack::new()
    }
}

fn put_backlen(buf: &mut Vec<u8>, l: usize) {
    if l <= 127 {
        buf.push(l as u8);
    } else if l < 16383 {
        buf.push((l >> 7) as u8);
        buf.push((l & 127) as u8 | 128);
    } else if l < 2097151 {
        buf.push((l >> 14) as u8);
        buf.push(((l >> 7) & 127) as u8 | 128);
        buf.push((l & 127) as u8 | 128);
    } else if l < 268435455 {
        buf.push((l >> 21) as u8);
        buf.push(((l >> 14) & 127) as u8 | 128);
        buf.push(((l >> 7) & 127) as u8 | 128);
        buf.push((l & 127) as u8 | 128);
    } else {
        buf.push((l >> 28) as u8);
        buf.push(((l >> 21) & 127) as u8 | 128);
        buf.push(((l >> 14) & 127) as u8 | 128);
        buf.push(((l >> 7) & 127) as u8 | 128);
        buf.push((l & 127) as u8 | 128);
    }
}

impl Listpack {
    pub fn new() -> Listpack {
        Listpack {
            buf: vec![0; 6],
            count: 0,
        }
    }

    pub fn count(&self) -> usize {
        self.count
    }

    /// Bytes the finished listpack would take.
    pub fn bytes(&self) -> usize {
        self.buf.len() + 1
    }

    pub fn push_int(&mut self, v: i64) {
        let start = self.buf.len();
        let b = &mut self.buf;
        if (0..=127).contains(&v) {
            b.push(v as u8);
        } else if (-4096..=4095).contains(&v) {
            let u = (v as u64) & 0x1fff;
            b.push(0xC0 | (u >> 8) as u8);
            b.push(u as u8);
        } else if let Ok(x) = i16::try_from(v) {
            b.push(0xF1);
            b.extend_from_slice(&x.to_le_bytes());
        } else if (-(1 << 23)..(1 << 23)).contains(&v) {
            b.push(0xF2);
            b.extend_from_slice(&(v as i32).to_le_bytes()[..3]);
        } else if let Ok(x) = i32::try_from(v) {
            b.push(0xF3);
            b.extend_from_slice(&x.to_le_bytes());
        } else {
            b.push(0xF4);
            b.extend_from_slice(&v.to_le_bytes());
        }
        let l = b.len() - start;
        put_backlen(b, l);
        self.count += 1;
    }

    /// Appends an element given as bytes: an integer when canonical.
    pub fn push(&mut self, s: &[u8]) {
        if let Some(v) = canonical_int(s) {
            return self.push_int(v);
        }
        self.push_str(s);
    }

    /// Appends bytes always in a string form.
    pub fn push_str(&mut self, s: &[u8]) {
        let start = self.buf.len();
        let b = &mut self.buf;
        let n = s.len();
        if n < 64 {
            b.push(0x80 | n as u8);
        } else if n < 4096 {
            b.push(0xE0 | (n >> 8) as u8);
            b.push(n as u8);
        } else {
            b.push(0xF0);
            b.extend_from_slice(&(n as u32).to_le_bytes());
        }
        b.extend_from_slice(s);
        let l = b.len() - start;
        put_backlen(b, l);
        self.count += 1;
    }

    pub fn finish(mut self) -> Vec<u8> {
        self.buf.push(0xFF);
        let total = self.buf.len() as u32;
        self.buf[0..4].copy_from_slice(&total.to_le_bytes());
        let n = self.count.min(65535) as u16;
        self.buf[4..6].copy_from_slice(&n.to_le_bytes());
        self.buf
    }
}

/// One decoded listpack or ziplist element.
#[derive(Debug, Clone, PartialEq)]
pub enum Elem {
    Int(i64),
    Str(Vec<u8>),
}

impl Elem {
    pub fn into_bytes(self) -> Vec<u8> {
        match self {
            Elem::Int(i) => i.to_string().into_bytes(),
            Elem::Str(s) => s,
        }
    }

    pub fn as_int(&self) -> Option<i64> {
        match self {
            Elem::Int(i) => Some(*i),
            Elem::Str(s) => canonical_int(s),
        }
    }
}

fn corrupt<T>(what: &str) -> Result<T, LoadError> {
    bad(format!("corrupt {what}"))
}

/// Decodes every element of a listpack, checking its header, each entry's
/// encoding, bounds and back-length (`deep`), and the terminator.
pub fn listpack_elems(lp: &[u8], deep: bool) -> Result<Vec<Elem>, LoadError> {
    if lp.len() < 7 || u32::from_le_bytes([lp[0], lp[1], lp[2], lp[3]]) as usize != lp.len() {
        return corrupt("listpack header");
    }
    if lp[lp.len() - 1] != 0xFF {
        return corrupt("listpack terminator");
    }
    let declared = u16::from_le_bytes([lp[4], lp[5]]) as usize;
    let end = lp.len() - 1;
    let mut p = 6;
    let mut out = Vec::new();
    let get = |a: usize, n: usize| -> Result<&[u8], LoadError> {
        match a.checked_add(n) {
            Some(e) if e <= end => Ok(&lp[a..e]),
            _ => corrupt("listpack entry"),
        }
    };
    while p < end {
        let b = lp[p];
        let (elem, hdr_and_data) = if b & 0x80 == 0 {
            (Elem::Int((b & 0x7f) as i64), 1)
        } else if b & 0xC0 == 0x80 {
            let n = (b & 0x3f) as usize;
            (Elem::Str(get(p + 1, n)?.to_vec()), 1 + n)
        } else if b & 0xE0 == 0xC0 {
            let lo = get(p + 1, 1)?[0];
            let u = (((b & 0x1f) as u16) << 8) | lo as u16;
            let v = ((u << 3) as i16 >> 3) as i64;
            (Elem::Int(v), 2)
        } else if b & 0xF0 == 0xE0 {
            let lo = get(p + 1, 1)?[0] as usize;
            let n = (((b & 0x0f) as usize) << 8) | lo;
            (Elem::Str(get(p + 2, n)?.to_vec()), 2 + n)
        } else {
            match b {
                0xF0 => {
                    let l = get(p + 1, 4)?;
                    let n = u32::from_le_bytes([l[0], l[1], l[2], l[3]]) as usize;
                    (Elem::Str(get(p + 5, n)?.to_vec()), 5 + n)
                }
                0xF1 => {
                    let d = get(p + 1, 2)?;
                    (Elem::Int(i16::from_le_bytes([d[0], d[1]]) as i64), 3)
                }
                0xF2 => {
                    let d = get(p + 1, 3)?;
                    (Elem::Int((i32::from_le_bytes([0, d[0], d[1], d[2]]) >> 8) as i64), 4)
                }
                0xF3 => {
                    let d = get(p + 1, 4)?;
                    (Elem::Int(i32::from_le_bytes([d[0], d[1], d[2], d[3]]) as i64), 5)
                }
                0xF4 => {
                    let d = get(p + 1, 8)?;
                    (Elem::Int(i64::from_le_bytes(d.try_into().expect("8 bytes"))), 9)
                }
                _ => return corrupt("listpack encoding"),
            }
        };
        let bl = match hdr_and_data {
            0..=127 => 1,
            128..=16382 => 2,
            16383..=2097150 => 3,
            2097151..=268435454 => 4,
            _ => 5,
        };
        let back = get(p + hdr_and_data, bl)?;
        if deep {
            let mut want = Vec::with_capacity(5);
            put_backlen(&mut want, hdr_and_data);
            if want != back {
                return corrupt("listpack backlen");
            }
        }
        p += hdr_and_data + bl;
        out.push(elem);
    }
    if p != end || (declared != 65535 && declared != out.len()) {
        return corrupt("listpack count");
    }
    Ok(out)
}

// ------------------------------------------------------------------ intset

/// An intset blob of ascending `members` (Redis's layout).
pub fn intset(members: &[i64]) -> Vec<u8> {
    let width: u32 = if members.iter().all(|&v| i16::try_from(v).is_ok()) {
        2
    } else if members.iter().all(|&v| i32::try_from(v).is_ok()) {
        4
    } else {
        8
    };
    let mut b = Vec::with_capacity(8 + members.len() * width as usize);
    b.extend_from_slice(&width.to_le_bytes());
    b.extend_from_slice(&(members.len() as u32).to_le_bytes());
    for &v in members {
        b.extend_from_slice(&v.to_le_bytes()[..width as usize]);
    }
    b
}

/// Decodes an intset blob, checking its size and order.
pub fn intset_members(b: &[u8]) -> Result<Vec<i64>, LoadError> {
    if b.len() < 8 {
        return corrupt("intset");
    }
    let width = u32::from_le_bytes([b[0], b[1], b[2], b[3]]) as usize;
    let n = u32::from_le_bytes([b[4], b[5], b[6], b[7]]) as usize;
    if !matches!(width, 2 | 4 | 8) || n == 0 || b.len() != 8 + n * width {
        return corrupt("intset");
    }
    let mut out = Vec::with_capacity(n);
    for c in b[8..].chunks(width) {
        let v = match width {
            2 => i16::from_le_bytes([c[0], c[1]]) as i64,
            4 => i32::from_le_bytes([c[0], c[1], c[2], c[3]]) as i64,
            _ => i64::from_le_bytes(c.try_into().expect("8 bytes")),
        };
        if out.last().is_some_and(|&l| l >= v) {
            return corrupt("intset order");
        }
        out.push(v);
    }
    Ok(out)
}

// ----------------------------------------------------------------- ziplist

/// Decodes a ziplist (files from Redis <= 6.2).
pub fn ziplist_elems(z: &[u8]) -> Result<Vec<Elem>, LoadError> {
    if z.len() < 11 || u32::from_le_bytes([z[0], z[1], z[2], z[3]]) as usize != z.len() || z[z.len() - 1] != 0xFF {
        return corrupt("ziplist header");
    }
    let end = z.len() - 1;
    let get = |a: usize, n: usize| -> Result<&[u8], LoadError> {
        match a.checked_add(n) {
            Some(e) if e <= end => Ok(&z[a..e]),
            _ => corrupt("ziplist entry"),
        }
    };
    let mut p = 10;
    let mut out = Vec::new();
    while p < end {
        p += if z[p] < 254 { 1 } else { 5 };
        let b = get(p, 1)?[0];
        let (e, n) = match b >> 6 {
            0 => {
                let n = (b & 0x3f) as usize;
                (Elem::Str(get(p + 1, n)?.to_vec()), 1 + n)
            }
            1 => {
                let n = (((b & 0x3f) as usize) << 8) | get(p + 1, 1)?[0] as usize;
                (Elem::Str(get(p + 2, n)?.to_vec()), 2 + n)
            }
            2 => {
                let l = get(p + 1, 4)?;
                let n = u32::from_be_bytes([l[0], l[1], l[2], l[3]]) as usize;
                (Elem::Str(get(p + 5, n)?.to_vec()), 5 + n)
            }
            _ => match b {
                0xC0 => (
                    Elem::Int(i16::from_le_bytes(get(p + 1, 2)?.try_into().expect("2")) as i64),
                    3,
                ),
                0xD0 => (
                    Elem::Int(i32::from_le_bytes(get(p + 1, 4)?.try_into().expect("4")) as i64),
                    5,
                ),
                0xE0 => (Elem::Int(i64::from_le_bytes(get(p + 1, 8)?.try_into().expect("8"))), 9),
                0xF0 => {
                    let d = get(p + 1, 3)?;
                    (Elem::Int((i32::from_le_bytes([0, d[0], d[1], d[2]]) >> 8) as i64), 4)
                }
                0xFE => (Elem::Int(get(p + 1, 1)?[0] as i8 as i64), 2),
                0xF1..=0xFD => (Elem::Int((b & 0x0f) as i64 - 1), 1),
                _ => return corrupt("ziplist encoding"),
            },
        };
        out.push(e);
        p += n;
    }
    if p != end {
        return corrupt("ziplist end");
    }
    Ok(out)
}

/// Redis's `%.17g` (DEBUG DIGEST and 7.0's listpack zset scores).
pub fn fmt_g17(d: f64) -> String {
    if d.is_nan() {
        return "nan".into();
    }
    if d.is_infinite() {
        return if d > 0.0 { "inf" } else { "-inf" }.into();
    }
    if d == 0.0 {
        return if d.is_sign_negative() { "-0" } else { "0" }.into();
    }
    let e = format!("{:.16e}", d);
    let (mant, exp) = e.split_at(e.find('e').expect("exponent"));
    let exp: i32 = exp[1..].parse().expect("exponent digits");
    if !(-5..17).contains(&exp) {
        let mut m = mant.to_string();
        if m.contains('.') {
            while m.ends_with('0') {
                m.pop();
            }
            if m.ends_with('.') {
                m.pop();
            }
        }
        let sign = if exp < 0 { '-' } else { '+' };
        return format!("{m}e{sign}{:02}", exp.abs());
    }
    let prec = (16 - exp).max(0) as usize;
    let mut s = format!("{:.*}", prec, d);
    if s.contains('.') {
        while s.ends_with('0') {
            s.pop();
        }
        if s.ends_with('.') {
            s.pop();
        }
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lp(items: &[&[u8]]) -> Vec<u8> {
        let mut l = Listpack::new();
        for i in items {
            l.push(i);
        }
        l.finish()
    }

    #[test]
    fn listpack_bytes_like_redis() {
        // RPUSH l a b 1 -2 300 (memo 3.3).
        assert_eq!(
            lp(&[b"a", b"b", b"1", b"-2", b"300"]),
            b"\x15\x00\x00\x00\x05\x00\x81a\x02\x81b\x02\x01\x01\xdf\xfe\x02\xc1\x2c\x02\xff"
        );
        // HSET h f v n 7.
        assert_eq!(
            lp(&[b"f", b"v", b"n", b"7"]),
            b"\x12\x00\x00\x00\x04\x00\x81f\x02\x81v\x02\x81n\x02\x07\x01\xff"
        );
    }

    #[test]
    fn listpack_boundaries_round_trip() {
        let ints = [
            0i64,
            127,
            128,
            -1,
            4095,
            4096,
            -4096,
            -4097,
            32767,
            32768,
            -32769,
            (1 << 23) - 1,
            1 << 23,
            -(1 << 23),
            -(1 << 23) - 1,
            i32::MAX as i64,
            i32::MAX as i64 + 1,
            i32::MIN as i64,
            i64::MAX,
            i64::MIN,
        ];
        let strs: Vec<Vec<u8>> = [0usize, 1, 63, 64, 127, 128, 4095, 4096, 16382, 16383, 20000]
            .iter()
            .map(|&n| vec![b'x'; n])
            .collect();
        let mut l = Listpack::new();
        for &i in &ints {
            l.push_int(i);
        }
        for s in &strs {
            l.push(s);
        }
        let b = l.finish();
        let got = listpack_elems(&b, true).unwrap();
        let mut want: Vec<Elem> = ints.iter().map(|&i| Elem::Int(i)).collect();
        want.extend(strs.iter().map(|s| Elem::Str(s.clone())));
        assert_eq!(got, want);
        let mut bl = Vec::new();
        put_backlen(&mut bl, 200);
        assert_eq!(bl, [0x01, 0xc8]);
        // Damage is reported, never a panic.
        for cut in 0..b.len().min(300) {
            let _ = listpack_elems(&b[..cut], true);
        }
    }

    #[test]
    fn strings_and_lengths() {
        let mut o = Vec::new();
        put_string(&mut o, b"12345", true);
        put_string(&mut o, b"-100", true);
        put_string(&mut o, b"1234567890123", true);
        put_string(&mut o, &[b'a'; 100], true);
        assert_eq!(
            o,
            b"\xc1\x39\x30\xc0\x9c\x0d1234567890123\xc3\x09\x40\x64\x01aa\xe0\x57\x00\x01aa".to_vec()
        );
        let mut s = Slice::new(&o);
        assert_eq!(s.string().unwrap(), b"12345");
        assert_eq!(s.string().unwrap(), b"-100");
        assert_eq!(s.string().unwrap(), b"1234567890123");
        assert_eq!(s.string().unwrap(), vec![b'a'; 100]);
        for n in [0u64, 63, 64, 16383, 16384, u32::MAX as u64, u64::MAX] {
            let mut b = Vec::new();
            put_len(&mut b, n);
            assert_eq!(Slice::new(&b).len().unwrap(), n);
        }
        assert!(Slice::new(b"\x82").len().is_err());
    }

    #[test]
    fn intsets() {
        let b = intset(&[1, 2, 3]);
        assert_eq!(b, b"\x02\x00\x00\x00\x03\x00\x00\x00\x01\x00\x02\x00\x03\x00");
        assert_eq!(intset_members(&b).unwrap(), vec![1, 2, 3]);
        assert!(intset_members(&intset(&[3, 1])).is_err());
        assert_eq!(intset_members(&intset(&[-1, 1 << 40])).unwrap(), vec![-1, 1 << 40]);
    }

    #[test]
    fn g17() {
        assert_eq!(fmt_g17(1.0), "1");
        assert_eq!(fmt_g17(2.5), "2.5");
        assert_eq!(fmt_g17(0.1), "0.10000000000000001");
        assert_eq!(fmt_g17(1e20), "1e+20");
        assert_eq!(fmt_g17(1.5e-7), "1.4999999999999999e-07");
        assert_eq!(fmt_g17(123456789012345678.0), "1.2345678901234568e+17");
        assert_eq!(fmt_g17(-3.25), "-3.25");
    }
}
