//! FUNCTION DUMP / RESTORE payloads, byte for byte as Redis 7.0 writes them.
//!
//! ```text
//! payload  = { 0xF5 (RDB_OPCODE_FUNCTION2) rdb-string(library code) }*
//!            rdb-version (2 bytes, little endian: 10, as 7.0; up to 12 accepted)
//!            crc64 (8 bytes, little endian; CRC-64/Jones over all bytes before it)
//! rdb-string = length-encoded raw bytes, or 0xC3 clen ulen <LZF data> when
//!              the code is longer than 20 bytes and LZF saves at least 4
//!              (rdbcompression yes), or an integer encoding (0xC0..0xC2) that
//!              RESTORE accepts but DUMP never writes for library code.
//! length   = 00xxxxxx | 01xxxxxx xxxxxxxx | 0x80 + 4 bytes BE | 0x81 + 8 bytes BE
//! ```

use crate::persist::codec::{Slice, Src};
use crate::persist::crc64::crc64;
use crate::persist::rdb_write::{OP_FUNCTION2 as OPCODE_FUNCTION2, OP_FUNCTION_PRE_GA as OPCODE_FUNCTION_PRE_GA};

/// Version written: Redis 7.0's, so that 7.0 restores the payload.
pub const RDB_VERSION: u16 = crate::persist::rdb_write::RDB_VERSION;
/// Newest version accepted (Redis 7.4's).
const RDB_VERSION_MAX: u16 = crate::persist::rdb_write::RDB_VERSION_MAX;

/// Error texts of FUNCTION RESTORE (without the `ERR ` prefix).
pub const BAD_PAYLOAD: &str = "DUMP payload version or checksum are wrong";

/// The FUNCTION DUMP payload of libraries given by their full code.
pub fn dump<'a>(codes: impl Iterator<Item = &'a [u8]>) -> Vec<u8> {
    let mut out = Vec::new();
    for code in codes {
        out.push(OPCODE_FUNCTION2);
        crate::persist::codec::put_string(&mut out, code, true);
    }
    out.extend_from_slice(&RDB_VERSION.to_le_bytes());
    let crc = crc64(0, &out);
    out.extend_from_slice(&crc.to_le_bytes());
    out
}

/// The libraries' code in a FUNCTION RESTORE payload, in order; `Err` holds
/// Redis's message without the `ERR ` prefix.
pub fn parse(data: &[u8]) -> Result<Vec<Vec<u8>>, String> {
    if data.len() < 10 {
        return Err(BAD_PAYLOAD.into());
    }
    let footer = &data[data.len() - 10..];
    let ver = u16::from_le_bytes([footer[0], footer[1]]);
    if ver > RDB_VERSION_MAX {
        return Err(BAD_PAYLOAD.into());
    }
    let crc = crc64(0, &data[..data.len() - 8]);
    if crc.to_le_bytes() != footer[2..] {
        return Err(BAD_PAYLOAD.into());
    }
    let mut r = Slice::new(data);
    let mut codes = Vec::new();
    while data.len() - r.pos > 10 {
        let t = r.byte().map_err(|_| "can not read data type")?;
        if t == OPCODE_FUNCTION_PRE_GA {
            return Err("Pre-GA function format not supported".into());
        }
        if t != OPCODE_FUNCTION2 {
            return Err("given type is not a function".into());
        }
        codes.push(r.string().map_err(|_| "Failed loading library payload")?);
    }
    Ok(codes)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Payloads recorded from redis-server 7.0.15 (RDB version 10, which
    /// Spindle writes too so that 7.0 restores its payloads).
    #[test]
    fn matches_redis_dump_bytes() {
        let lib2 = b"#!lua name=lib2\nredis.register_function{function_name='f2', callback=function(k, a) error('boom') end, flags={'no-writes', 'allow-stale'}, description='d'}";
        let lib = b"#!lua name=lib\nredis.register_function('f1', function() return 1 end)";
        let redis: &[u8] = b"\xf5\xc3@\x90@\x9b\x1f#!lua name=lib2\nredis.register_f\x07unction{\xc0\x08\x00_`*\x0e'f2', callback=\xc0\x1c\x12(k, a) error('boom' \r\x14nd, flags={'no-writes >\x00' >\x12ow-stale'}, descrip@n\x04='d'}\xf5@E#!lua name=lib\nredis.register_function('f1', function() return 1 end)";
        let mut body = Vec::new();
        for code in [&lib2[..], &lib[..]] {
            body.push(OPCODE_FUNCTION2);
            crate::persist::codec::put_string(&mut body, code, true);
        }
        assert_eq!(body, redis);
        let full = dump([&lib2[..], &lib[..]].into_iter());
        assert_eq!(&full[..body.len()], redis);
        assert_eq!(&full[body.len()..body.len() + 2], &[10, 0]);
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
            crate::persist::codec::put_string(&mut enc, code, true);
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
