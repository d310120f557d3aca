//! FUNCTION DUMP / RESTORE payloads, byte for byte as Redis 7.4 writes them.
//!
//! ```text
//! payload  = { 0xF5 (RDB_OPCODE_FUNCTION2) rdb-string(library code) }*
//!            rdb-version (2 bytes, little endian: 12)
//!            crc64 (8 bytes, little endian; CRC-64/Jones over all bytes before it)
//! rdb-string = length-encoded raw bytes, or 0xC3 clen ulen <LZF data> when
//!              the code is longer than 20 bytes and LZF saves at least 4
//!              (rdbcompression yes), or an integer encoding (0xC0..0xC2) that
//!              RESTORE accepts but DUMP never writes for library code.
//! length   = 00xxxxxx | 01xxxxxx xxxxxxxx | 0x80 + 4 bytes BE | 0x81 + 8 bytes BE
//! ```

/// RDB_VERSION of Redis 7.4: payloads from newer versions are refused.
pub const RDB_VERSION: u16 = 12;
const OPCODE_FUNCTION2: u8 = 245;
const OPCODE_FUNCTION_PRE_GA: u8 = 246;
const ENC_INT8: u8 = 0;
const ENC_INT16: u8 = 1;
const ENC_INT32: u8 = 2;
const ENC_LZF: u8 = 3;

/// Error texts of FUNCTION RESTORE (without the `ERR ` prefix).
pub const BAD_PAYLOAD: &str = "DUMP payload version or checksum are wrong";

fn crc64_table() -> &'static [u64; 256] {
    static TABLE: std::sync::OnceLock<[u64; 256]> = std::sync::OnceLock::new();
    TABLE.get_or_init(|| {
        // CRC-64/Jones, reflected: polynomial 0xad93d23594c935a9 bit-reversed.
        const POLY: u64 = 0x95ac_9329_ac4b_c9b5;
        let mut t = [0u64; 256];
        for (i, slot) in t.iter_mut().enumerate() {
            let mut c = i as u64;
            for _ in 0..8 {
                c = if c & 1 != 0 { (c >> 1) ^ POLY } else { c >> 1 };
            }
            *slot = c;
        }
        t
    })
}

/// Redis's crc64(0, data): CRC-64/Jones, reflected, no final xor.
pub fn crc64(mut crc: u64, data: &[u8]) -> u64 {
    let t = crc64_table();
    for &b in data {
        crc = t[((crc ^ b as u64) & 0xff) as usize] ^ (crc >> 8);
    }
    crc
}

/// LZF-compresses `input` into at most `max_out` bytes exactly as Redis's
/// liblzf build does (HLOG 16, VERY_FAST), or None when it does not fit.
pub fn lzf_compress(input: &[u8], max_out: usize) -> Option<Vec<u8>> {
    const HSIZE: usize = 1 << 16;
    const MAX_LIT: usize = 1 << 5;
    const MAX_OFF: usize = 1 << 13;
    const MAX_REF: usize = (1 << 8) + (1 << 3);
    let in_len = input.len();
    if in_len == 0 || max_out == 0 {
        return None;
    }
    let idx = |h: u32| -> usize { ((h >> (3 * 8 - 16)).wrapping_sub(h.wrapping_mul(5)) as usize) & (HSIZE - 1) };
    let frst = |p: usize| -> u32 { ((input[p] as u32) << 8) | input[p + 1] as u32 };
    let next = |v: u32, p: usize| -> u32 { (v << 8) | input[p + 2] as u32 };
    // Positions + 1, 0 meaning empty (Redis leaves the table uninitialised
    // and relies on its range checks; an empty slot never matches).
    let mut htab = vec![0u32; HSIZE];
    let mut out = vec![0u8; max_out];
    let mut op = 0usize;
    let mut ip = 0usize;
    let mut lit: usize = 0;
    op += 1; // start run
    let mut hval: u32 = if in_len >= 2 { frst(0) } else { 0 };
    while in_len > 2 && ip < in_len - 2 {
        hval = next(hval, ip);
        let slot = idx(hval);
        let r = htab[slot];
        htab[slot] = ip as u32 + 1;
        let matched = if r != 0 {
            let rf = (r - 1) as usize;
            let off = ip.wrapping_sub(rf).wrapping_sub(1);
            rf < ip
                && off < MAX_OFF
                && rf > 0
                && input[rf + 2] == input[ip + 2]
                && input[rf] == input[ip]
                && input[rf + 1] == input[ip + 1]
        } else {
            false
        };
        if matched {
            let rf = (r - 1) as usize;
            let off = ip - rf - 1;
            let mut len = 2usize;
            let maxlen = (in_len - ip - len).min(MAX_REF);
            if op + 3 + 1 >= max_out && op - (lit == 0) as usize + 3 + 1 >= max_out {
                return None;
            }
            out[op - lit - 1] = (lit as u8).wrapping_sub(1); // stop run
            op -= (lit == 0) as usize; // undo run if length is zero
                                       // As liblzf: 16 unrolled steps without the maxlen test when
                                       // maxlen > 16, then one step at a time.
            'scan: {
                if maxlen > 16 {
                    for _ in 0..16 {
                        len += 1;
                        if input[rf + len] != input[ip + len] {
                            break 'scan;
                        }
                    }
                }
                loop {
                    len += 1;
                    if !(len < maxlen && input[rf + len] == input[ip + len]) {
                        break;
                    }
                }
            }
            len -= 2; // len is now #octets - 1
            ip += 1;
            if len < 7 {
                out[op] = ((off >> 8) + (len << 5)) as u8;
                op += 1;
            } else {
                out[op] = ((off >> 8) + (7 << 5)) as u8;
                out[op + 1] = (len - 7) as u8;
                op += 2;
            }
            out[op] = off as u8;
            op += 1;
            lit = 0;
            op += 1; // start run
            ip += len + 1;
            if ip >= in_len - 2 {
                break;
            }
            // VERY_FAST: re-hash the last two positions of the match.
            ip -= 2;
            hval = frst(ip);
            hval = next(hval, ip);
            htab[idx(hval)] = ip as u32 + 1;
            ip += 1;
            hval = next(hval, ip);
            htab[idx(hval)] = ip as u32 + 1;
            ip += 1;
        } else {
            if op >= max_out {
                return None;
            }
            lit += 1;
            out[op] = input[ip];
            op += 1;
            ip += 1;
            if lit == MAX_LIT {
                out[op - lit - 1] = (lit - 1) as u8;
                lit = 0;
                op += 1;
            }
        }
    }
    if op + 3 > max_out {
        return None;
    }
    while ip < in_len {
        lit += 1;
        out[op] = input[ip];
        op += 1;
        ip += 1;
        if lit == MAX_LIT {
            out[op - lit - 1] = (lit - 1) as u8;
            lit = 0;
            op += 1;
        }
    }
    out[op - lit - 1] = (lit as u8).wrapping_sub(1); // end run
    op -= (lit == 0) as usize;
    out.truncate(op);
    Some(out)
}

/// Decompresses LZF data that must expand to exactly `out_len` bytes.
pub fn lzf_decompress(data: &[u8], out_len: usize) -> Option<Vec<u8>> {
    let mut out = Vec::with_capacity(out_len);
    let mut ip = 0;
    while ip < data.len() {
        let ctrl = data[ip] as usize;
        ip += 1;
        if ctrl < 32 {
            let n = ctrl + 1;
            if ip + n > data.len() || out.len() + n > out_len {
                return None;
            }
            out.extend_from_slice(&data[ip..ip + n]);
            ip += n;
        } else {
            let mut len = ctrl >> 5;
            if len == 7 {
                len += *data.get(ip)? as usize;
                ip += 1;
            }
            let back = ((ctrl & 0x1f) << 8) + *data.get(ip)? as usize + 1;
            ip += 1;
            len += 2;
            if back > out.len() || out.len() + len > out_len {
                return None;
            }
            let start = out.len() - back;
            for k in 0..len {
                let b = out[start + k];
                out.push(b);
            }
        }
    }
    (out.len() == out_len).then_some(out)
}

fn put_len(out: &mut Vec<u8>, len: u64) {
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

/// rdbSaveRawString for a library's code: LZF when longer than 20 bytes and
/// at least 4 bytes shorter compressed, else raw. (Integer encoding applies
/// only to strings of at most 11 bytes that are integers, never to code that
/// starts with `#!`, but it is checked for fidelity.)
fn put_string(out: &mut Vec<u8>, s: &[u8]) {
    if s.len() <= 11 {
        if let Some(v) = std::str::from_utf8(s).ok().and_then(|t| t.parse::<i64>().ok()) {
            if v.to_string().as_bytes() == s {
                if let Ok(b) = i8::try_from(v) {
                    out.push(0xC0 | ENC_INT8);
                    out.push(b as u8);
                    return;
                } else if let Ok(b) = i16::try_from(v) {
                    out.push(0xC0 | ENC_INT16);
                    out.extend_from_slice(&b.to_le_bytes());
                    return;
                } else if let Ok(b) = i32::try_from(v) {
                    out.push(0xC0 | ENC_INT32);
                    out.extend_from_slice(&b.to_le_bytes());
                    return;
                }
            }
        }
    }
    if s.len() > 20 {
        if let Some(c) = lzf_compress(s, s.len() - 4) {
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

/// The FUNCTION DUMP payload of libraries given by their full code.
pub fn dump<'a>(codes: impl Iterator<Item = &'a [u8]>) -> Vec<u8> {
    let mut out = Vec::new();
    for code in codes {
        out.push(OPCODE_FUNCTION2);
        put_string(&mut out, code);
    }
    out.extend_from_slice(&RDB_VERSION.to_le_bytes());
    let crc = crc64(0, &out);
    out.extend_from_slice(&crc.to_le_bytes());
    out
}

struct Reader<'a> {
    data: &'a [u8],
    pos: usize,
}

impl<'a> Reader<'a> {
    fn byte(&mut self) -> Option<u8> {
        let b = *self.data.get(self.pos)?;
        self.pos += 1;
        Some(b)
    }

    fn take(&mut self, n: usize) -> Option<&'a [u8]> {
        let end = self.pos.checked_add(n)?;
        let s = self.data.get(self.pos..end)?;
        self.pos = end;
        Some(s)
    }

    /// A length, or Err(encoding) for the special 11xxxxxx forms.
    fn len(&mut self) -> Option<Result<u64, u8>> {
        let b = self.byte()?;
        Some(match b >> 6 {
            0 => Ok((b & 0x3f) as u64),
            1 => Ok((((b & 0x3f) as u64) << 8) | self.byte()? as u64),
            2 => match b {
                0x80 => Ok(u32::from_be_bytes(self.take(4)?.try_into().ok()?) as u64),
                0x81 => Ok(u64::from_be_bytes(self.take(8)?.try_into().ok()?)),
                _ => return None,
            },
            _ => Err(b & 0x3f),
        })
    }

    fn string(&mut self) -> Option<Vec<u8>> {
        match self.len()? {
            Ok(n) => Some(self.take(usize::try_from(n).ok()?)?.to_vec()),
            Err(ENC_INT8) => Some((self.byte()? as i8).to_string().into_bytes()),
            Err(ENC_INT16) => Some(
                i16::from_le_bytes(self.take(2)?.try_into().ok()?)
                    .to_string()
                    .into_bytes(),
            ),
            Err(ENC_INT32) => Some(
                i32::from_le_bytes(self.take(4)?.try_into().ok()?)
                    .to_string()
                    .into_bytes(),
            ),
            Err(ENC_LZF) => {
                let clen = usize::try_from(self.len()?.ok()?).ok()?;
                let ulen = usize::try_from(self.len()?.ok()?).ok()?;
                let c = self.take(clen)?;
                lzf_decompress(c, ulen)
            }
            Err(_) => None,
        }
    }
}

/// The libraries' code in a FUNCTION RESTORE payload, in order; `Err` holds
/// Redis's message without the `ERR ` prefix.
pub fn parse(data: &[u8]) -> Result<Vec<Vec<u8>>, String> {
    if data.len() < 10 {
        return Err(BAD_PAYLOAD.into());
    }
    let footer = &data[data.len() - 10..];
    let ver = u16::from_le_bytes([footer[0], footer[1]]);
    if ver > RDB_VERSION {
        return Err(BAD_PAYLOAD.into());
    }
    let crc = crc64(0, &data[..data.len() - 8]);
    if crc.to_le_bytes() != footer[2..] {
        return Err(BAD_PAYLOAD.into());
    }
    let mut r = Reader { data, pos: 0 };
    let mut codes = Vec::new();
    while data.len() - r.pos > 10 {
        let t = r.byte().ok_or("can not read data type")?;
        if t == OPCODE_FUNCTION_PRE_GA {
            return Err("Pre-GA function format not supported".into());
        }
        if t != OPCODE_FUNCTION2 {
            return Err("given type is not a function".into());
        }
        codes.push(r.string().ok_or("Failed loading library payload")?);
    }
    Ok(codes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn crc64_jones() {
        assert_eq!(crc64(0, b"123456789"), 0xe9c6d914c4b8d9ca);
        assert_eq!(crc64(0, b""), 0);
    }

    #[test]
    fn lzf_round_trip() {
        let text = b"#!lua name=lib2\nredis.register_function{function_name='f2', callback=function(k, a) error('boom') end, flags={'no-writes', 'allow-stale'}, description='d'}".repeat(3);
        let c = lzf_compress(&text, text.len() - 4).unwrap();
        assert!(c.len() < text.len());
        assert_eq!(lzf_decompress(&c, text.len()).unwrap(), text);
        assert!(lzf_compress(b"abcdefghijklmnopqrstuvwxyz", 22).is_none());
        let zeros = vec![0u8; 1000];
        let c = lzf_compress(&zeros, 996).unwrap();
        assert_eq!(lzf_decompress(&c, 1000).unwrap(), zeros);
        assert!(lzf_decompress(&c, 999).is_none());
    }

    /// Payloads recorded from redis-server 7.0.15 (RDB version 10; the
    /// framing is the same in 7.4, whose version is 12).
    #[test]
    fn matches_redis_dump_bytes() {
        let lib2 = b"#!lua name=lib2\nredis.register_function{function_name='f2', callback=function(k, a) error('boom') end, flags={'no-writes', 'allow-stale'}, description='d'}";
        let lib = b"#!lua name=lib\nredis.register_function('f1', function() return 1 end)";
        let redis: &[u8] = b"\xf5\xc3@\x90@\x9b\x1f#!lua name=lib2\nredis.register_f\x07unction{\xc0\x08\x00_`*\x0e'f2', callback=\xc0\x1c\x12(k, a) error('boom' \r\x14nd, flags={'no-writes >\x00' >\x12ow-stale'}, descrip@n\x04='d'}\xf5@E#!lua name=lib\nredis.register_function('f1', function() return 1 end)";
        let mut body = Vec::new();
        for code in [&lib2[..], &lib[..]] {
            body.push(OPCODE_FUNCTION2);
            put_string(&mut body, code);
        }
        assert_eq!(body, redis);
        let full = dump([&lib2[..], &lib[..]].into_iter());
        assert_eq!(&full[..body.len()], redis);
        assert_eq!(&full[body.len()..body.len() + 2], &[12, 0]);
        assert_eq!(parse(&full).unwrap(), vec![lib2.to_vec(), lib.to_vec()]);
        // The 7.0 payload itself (version 10) restores too.
        let mut v10 = redis.to_vec();
        v10.extend_from_slice(b"\n\x00\xee\xd7x\xc6a\xb0\n\x1d");
        assert_eq!(parse(&v10).unwrap(), vec![lib2.to_vec(), lib.to_vec()]);
    }

    /// A FUNCTION DUMP of six libraries (2.5-5 KB of code each) recorded
    /// from redis-server 7.0.15: every library's encoding, LZF included, is
    /// byte for byte ours.
    #[test]
    fn matches_a_large_redis_dump() {
        let dump = include_bytes!("testdata/function-dump-redis-7.0.bin");
        let libs = include_bytes!("testdata/function-dump-libraries.txt");
        let mut total = 10;
        for code in libs.split(|&c| c == 0) {
            let mut enc = vec![OPCODE_FUNCTION2];
            put_string(&mut enc, code);
            assert!(enc.len() < code.len() / 2, "compressed");
            assert!(dump.windows(enc.len()).any(|w| w == enc.as_slice()));
            total += enc.len();
        }
        assert_eq!(total, dump.len());
        let mut codes = parse(dump).unwrap();
        let mut want: Vec<Vec<u8>> = libs.split(|&c| c == 0).map(|c| c.to_vec()).collect();
        codes.sort();
        want.sort();
        assert_eq!(codes, want);
    }

    #[test]
    fn bad_payloads() {
        assert_eq!(parse(b"bad_payload").unwrap_err(), BAD_PAYLOAD);
        assert_eq!(parse(b"short").unwrap_err(), BAD_PAYLOAD);
        let mut p = dump(std::iter::once(&b"#!lua name=x\n"[..]));
        let n = p.len();
        p[n - 1] ^= 1;
        assert_eq!(parse(&p).unwrap_err(), BAD_PAYLOAD);
        let with = |body: &[u8], ver: u16| {
            let mut v = body.to_vec();
            v.extend_from_slice(&ver.to_le_bytes());
            let c = crc64(0, &v);
            v.extend_from_slice(&c.to_le_bytes());
            v
        };
        assert_eq!(parse(&with(b"\xf5\x01a", 13)).unwrap_err(), BAD_PAYLOAD);
        assert_eq!(
            parse(&with(b"\x00\x01a", 12)).unwrap_err(),
            "given type is not a function"
        );
        assert_eq!(
            parse(&with(b"\xf6\x01a", 12)).unwrap_err(),
            "Pre-GA function format not supported"
        );
        // As in Redis, a string may run into the footer (the library then
        // fails to load); past the end it is a load failure.
        assert_eq!(parse(&with(b"\xf5\x05a", 12)).unwrap().len(), 1);
        assert_eq!(
            parse(&with(b"\xf5\x3fa", 12)).unwrap_err(),
            "Failed loading library payload"
        );
        assert_eq!(parse(&with(b"\xf5\xc0\x05", 12)).unwrap(), vec![b"5".to_vec()]);
        assert_eq!(parse(&with(b"", 12)).unwrap(), Vec::<Vec<u8>>::new());
    }
}
