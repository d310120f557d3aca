//! DUMP / RESTORE payloads and DEBUG DIGEST, as Redis computes them.

use super::codec::LoadError;
use super::crc64::crc64;
use super::rdb_write::RDB_VERSION_MAX;
use crate::config::Limits;
use crate::storage::Value;

pub use super::rdb_write::dump_payload;

/// Why a payload cannot be restored.
#[derive(Debug, PartialEq)]
pub enum PayloadError {
    /// "DUMP payload version or checksum are wrong".
    VersionOrChecksum,
    /// "Bad data format".
    BadFormat,
}

/// The type byte and body of a DUMP payload whose footer (version <= 12,
/// CRC64) checks out.
pub fn verify(p: &[u8]) -> Result<(u8, &[u8]), PayloadError> {
    if p.len() < 10 {
        return Err(PayloadError::VersionOrChecksum);
    }
    let f = &p[p.len() - 10..];
    let ver = u16::from_le_bytes([f[0], f[1]]);
    if ver > RDB_VERSION_MAX {
        return Err(PayloadError::VersionOrChecksum);
    }
    let crc = crc64(0, &p[..p.len() - 8]);
    if crc.to_le_bytes() != f[2..] {
        return Err(PayloadError::VersionOrChecksum);
    }
    if p.len() == 10 {
        return Err(PayloadError::BadFormat);
    }
    Ok((p[0], &p[1..p.len() - 10]))
}

/// The value of a RESTORE payload; `deep` validates listpacks etc. fully
/// (sanitize-dump-payload).
pub fn restore_value(p: &[u8], limits: &Limits, deep: bool) -> Result<Value, PayloadError> {
    let (t, body) = verify(p)?;
    super::rdb_read::value_from_checked(t, body, limits, deep).map_err(|_: LoadError| PayloadError::BadFormat)
}

// ------------------------------------------------------------ DEBUG DIGEST

/// `d ^= sha1(bytes)`.
pub fn xor_digest(d: &mut [u8; 20], bytes: &[u8]) {
    let h = sha1_smol::Sha1::from(bytes).digest().bytes();
    for i in 0..20 {
        d[i] ^= h[i];
    }
}

/// `d ^= sha1(bytes); d = sha1(d)`.
pub fn mix_digest(d: &mut [u8; 20], bytes: &[u8]) {
    xor_digest(d, bytes);
    *d = sha1_smol::Sha1::from(&d[..]).digest().bytes();
}

fn type_code(v: &Value) -> u32 {
    match v {
        Value::Int(_) | Value::Str(_) => 0,
        Value::List(_) => 1,
        Value::Set(_) => 2,
        Value::ZSet(_) => 3,
        Value::Hash(_) => 4,
        Value::Stream(_) => 6,
    }
}

/// Redis's xorObjectDigest: folds value `v` (and whether it has an
/// expiry) into `d`.
pub fn value_digest(d: &mut [u8; 20], v: &Value, has_expire: bool) {
    mix_digest(d, &type_code(v).to_be_bytes());
    match v {
        Value::Int(_) | Value::Str(_) => {
            crate::storage::value::with_str_bytes(v, |b| mix_digest(d, b));
        }
        Value::List(l) => {
            for e in l.items.iter() {
                mix_digest(d, e);
            }
        }
        Value::Set(s) => {
            for e in s.iter() {
                e.with_bytes(|b| xor_digest(d, b));
            }
        }
        Value::ZSet(z) => {
            z.for_each(|m, s| {
                let mut e = [0u8; 20];
                mix_digest(&mut e, m);
                mix_digest(&mut e, super::codec::fmt_g17(s).as_bytes());
                xor_digest(d, &e);
            });
        }
        Value::Hash(h) => {
            for (f, val) in h.iter() {
                let mut e = [0u8; 20];
                mix_digest(&mut e, f);
                mix_digest(&mut e, val);
                xor_digest(d, &e);
            }
        }
        Value::Stream(s) => {
            s.range(
                crate::storage::stream::StreamId::MIN,
                crate::storage::stream::StreamId::MAX,
                false,
                |e| {
                    mix_digest(d, format!("{}.{}", e.id.ms, e.id.seq).as_bytes());
                    for (f, val) in e.pairs() {
                        mix_digest(d, f);
                        mix_digest(d, val);
                    }
                    true
                },
            );
        }
    }
    if has_expire {
        xor_digest(d, b"!!expire!!");
    }
}

/// What a key xors into DEBUG DIGEST's result: the SHA1 of its digest
/// (its name mixed in, then its value).
pub fn key_digest(key: &[u8], v: &Value, has_expire: bool) -> [u8; 20] {
    let mut d = [0u8; 20];
    mix_digest(&mut d, key);
    value_digest(&mut d, v, has_expire);
    sha1_smol::Sha1::from(&d[..]).digest().bytes()
}

/// 40 lowercase hex digits.
pub fn hex(d: &[u8; 20]) -> String {
    d.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::persist::rdb_write::WriteOpts;

    fn payload(body: &[u8], ver: u16) -> Vec<u8> {
        let mut v = body.to_vec();
        v.extend_from_slice(&ver.to_le_bytes());
        let c = crc64(0, &v);
        v.extend_from_slice(&c.to_le_bytes());
        v
    }

    #[test]
    fn redis_dump_vectors() {
        let o = WriteOpts::default();
        assert_eq!(
            dump_payload(&Value::from_bytes(b"hello"), &o),
            b"\x00\x05hello\x0a\x00\x63\x72\xdf\x76\x65\x34\x20\x0a"
        );
        assert_eq!(
            dump_payload(&Value::from_bytes(b"v"), &o),
            b"\x00\x01v\x0a\x00\x91\x08\xce\xb2\x19\x38\x8a\xce"
        );
        assert_eq!(&dump_payload(&Value::from_bytes(b"12345"), &o)[..3], b"\x00\xc1\x39");
        let l = Limits::default();
        let v = restore_value(b"\x00\x05hello\x0a\x00\x63\x72\xdf\x76\x65\x34\x20\x0a", &l, true).unwrap();
        assert_eq!(v, Value::from_bytes(b"hello"));
        let ss = restore_value(b"\x02\x02\x01a\x01b\x0a\x00\xfe\x64\x21\x25\xeb\x03\x3d\x0d", &l, true).unwrap();
        assert_eq!(ss.type_name(), "set");
    }

    #[test]
    fn bad_payloads() {
        let l = Limits::default();
        assert_eq!(restore_value(b"bad", &l, false), Err(PayloadError::VersionOrChecksum));
        assert_eq!(
            restore_value(&payload(b"\x00\x01x", 13), &l, false),
            Err(PayloadError::VersionOrChecksum)
        );
        assert!(restore_value(&payload(b"\x00\x01x", 9), &l, false).is_ok());
        assert!(restore_value(&payload(b"\x00\x01xJUNK", 10), &l, false).is_ok());
        assert_eq!(
            restore_value(&payload(b"\x14\x01x", 10), &l, false),
            Err(PayloadError::BadFormat)
        );
        assert_eq!(
            restore_value(&payload(b"\x12\x00", 10), &l, false),
            Err(PayloadError::BadFormat)
        );
        assert_eq!(
            restore_value(&payload(b"\x63", 10), &l, false),
            Err(PayloadError::BadFormat)
        );
        let mut p = payload(b"\x00\x01x", 10);
        let n = p.len();
        p[n - 1] ^= 1;
        assert_eq!(restore_value(&p, &l, false), Err(PayloadError::VersionOrChecksum));
        // Truncations and bit flips of a rich payload never panic.
        let mut s = crate::storage::stream::Stream::new();
        for i in 1..50u64 {
            let v = i.to_string();
            let fv: [&[u8]; 4] = [b"f", v.as_bytes(), b"g", b"x"];
            s.append(crate::storage::stream::StreamId::new(i, 0), 4, |k| fv[k], 4096, 100)
                .unwrap();
        }
        let good = dump_payload(&Value::Stream(Box::new(s)), &WriteOpts::default());
        assert!(restore_value(&good, &l, true).is_ok());
        let body = &good[..good.len() - 10];
        for i in 0..body.len() {
            let _ = restore_value(&payload(&body[..i], 10), &l, true);
            let mut b = body.to_vec();
            b[i] ^= 0x55;
            let _ = restore_value(&payload(&b, 10), &l, true);
        }
    }
}
