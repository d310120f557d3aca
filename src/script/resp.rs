//! The RESP side of script conversions: a reader for the reply bytes a
//! [`Backend`](super::Backend) writes (both protocols), and Redis 7.4's
//! number formats (d2string / fpconv_dtoa / double2ll).

/// One RESP item header (aggregates give their element count; the
/// elements follow).
#[derive(Debug, PartialEq)]
pub enum Item<'a> {
    Simple(&'a [u8]),
    Error(&'a [u8]),
    Int(i64),
    Bulk(&'a [u8]),
    /// `$-1`
    NullBulk,
    Array(usize),
    /// `*-1`
    NullArray,
    Map(usize),
    Set(usize),
    Attribute(usize),
    Push(usize),
    /// RESP3 `_`
    Null,
    Bool(bool),
    Double(f64),
    BigNumber(&'a [u8]),
    /// (format: 3 bytes, text)
    Verbatim(&'a [u8], &'a [u8]),
}

/// Reads items one at a time from a buffer holding whole replies.
pub struct Reader<'a> {
    buf: &'a [u8],
    pos: usize,
}

impl<'a> Reader<'a> {
    pub fn new(buf: &'a [u8]) -> Self {
        Reader { buf, pos: 0 }
    }

    fn line(&mut self) -> Option<&'a [u8]> {
        let rest = &self.buf[self.pos..];
        let n = memchr::memchr(b'\r', rest)?;
        if rest.get(n + 1) != Some(&b'\n') {
            return None;
        }
        self.pos += n + 2;
        Some(&rest[..n])
    }

    fn num(line: &[u8]) -> Option<i64> {
        std::str::from_utf8(line).ok()?.parse().ok()
    }

    fn blob(&mut self, len: usize) -> Option<&'a [u8]> {
        let end = self.pos.checked_add(len)?;
        if self.buf.get(end..end + 2)? != b"\r\n" {
            return None;
        }
        let s = &self.buf[self.pos..end];
        self.pos = end + 2;
        Some(s)
    }

    /// The next item header, None on malformed or truncated input.
    pub fn item(&mut self) -> Option<Item<'a>> {
        let kind = *self.buf.get(self.pos)?;
        self.pos += 1;
        let line = self.line()?;
        let count = |l: &[u8]| -> Option<usize> { usize::try_from(Self::num(l)?).ok() };
        Some(match kind {
            b'+' => Item::Simple(line),
            b'-' => Item::Error(line),
            b':' => Item::Int(Self::num(line)?),
            b'$' => {
                if line == b"-1" {
                    Item::NullBulk
                } else {
                    Item::Bulk(self.blob(count(line)?)?)
                }
            }
            b'*' => {
                if line == b"-1" {
                    Item::NullArray
                } else {
                    Item::Array(count(line)?)
                }
            }
            b'%' => Item::Map(count(line)?),
            b'~' => Item::Set(count(line)?),
            b'|' => Item::Attribute(count(line)?),
            b'>' => Item::Push(count(line)?),
            b'_' => Item::Null,
            b'#' => match line {
                b"t" => Item::Bool(true),
                b"f" => Item::Bool(false),
                _ => return None,
            },
            b',' => Item::Double(std::str::from_utf8(line).ok()?.parse().ok()?),
            b'(' => Item::BigNumber(line),
            b'=' => {
                let s = self.blob(count(line)?)?;
                if s.len() < 4 {
                    return None;
                }
                Item::Verbatim(&s[..3], &s[4..])
            }
            _ => return None,
        })
    }
}

/// Redis's double2ll: the integer a double holds exactly, when it lies
/// within ±LLONG_MAX/2.
pub fn double2ll(d: f64) -> Option<i64> {
    const HALF: f64 = (i64::MAX / 2) as f64;
    if !(-HALF..=HALF).contains(&d) {
        return None;
    }
    let ll = d as i64;
    (ll as f64 == d).then_some(ll)
}

/// Redis's fpconv_dtoa: shortest round-trip digits, plain notation for
/// moderate exponents, else `d.ddde±X` with the exponent unpadded.
pub fn fpconv_dtoa(d: f64) -> String {
    let mut s = String::new();
    if d.is_sign_negative() {
        s.push('-');
    }
    if d == 0.0 {
        s.push('0');
        return s;
    }
    if d.is_nan() {
        s.push_str("nan");
        return s;
    }
    if d.is_infinite() {
        s.push_str("inf");
        return s;
    }
    // `{:e}` gives the shortest digits that round-trip: "d.ddde-X".
    let e = format!("{:e}", d.abs());
    let (mant, exp) = e.split_once('e').unwrap_or((&e, "0"));
    let digits: String = mant.chars().filter(|c| *c != '.').collect();
    let exp10: i32 = exp.parse().unwrap_or(0);
    let nd = digits.len() as i32;
    let k = exp10 - (nd - 1);
    let expo = (k + nd - 1).abs();
    if k >= 0 && expo < nd + 7 {
        s.push_str(&digits);
        for _ in 0..k {
            s.push('0');
        }
        return s;
    }
    if k < 0 && (k > -7 || expo < 4) {
        let offset = nd - k.abs();
        if offset <= 0 {
            s.push_str("0.");
            for _ in 0..-offset {
                s.push('0');
            }
            s.push_str(&digits);
        } else {
            s.push_str(&digits[..offset as usize]);
            s.push('.');
            s.push_str(&digits[offset as usize..]);
        }
        return s;
    }
    let neg = d.is_sign_negative() as usize;
    let nd = (nd as usize).min(18 - neg);
    s.push_str(&digits[..1]);
    if nd > 1 {
        s.push('.');
        s.push_str(&digits[1..nd]);
    }
    s.push('e');
    s.push(if k + nd as i32 - 1 < 0 { '-' } else { '+' });
    s.push_str(&expo.to_string());
    s
}

/// Redis's d2string (double replies): nan, inf, -inf, 0, -0, integers,
/// else fpconv.
pub fn d2string(d: f64) -> String {
    if d.is_nan() {
        "nan".into()
    } else if d.is_infinite() {
        if d < 0.0 { "-inf" } else { "inf" }.into()
    } else if d == 0.0 {
        if d.is_sign_negative() { "-0" } else { "0" }.into()
    } else if let Some(ll) = double2ll(d) {
        ll.to_string()
    } else {
        fpconv_dtoa(d)
    }
}

/// How redis.call turns a Lua number into an argument.
pub fn arg_number(d: f64, out: &mut Vec<u8>) {
    match double2ll(d) {
        Some(ll) => out.extend_from_slice(ll.to_string().as_bytes()),
        None => out.extend_from_slice(fpconv_dtoa(d).as_bytes()),
    }
}

/// C's `(long long)d` on x86-64: truncation, INT64_MIN when out of range
/// or NaN (a script returning 1e300 gets -9223372036854775808, as in Redis).
pub fn lua_number_to_int(d: f64) -> i64 {
    const TWO_63: f64 = (1u64 << 63) as f64;
    if d.is_nan() || !(-TWO_63..TWO_63).contains(&d) {
        i64::MIN
    } else {
        d as i64
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_both_protocols() {
        let buf = b"*3\r\n:1\r\n$3\r\nabc\r\n$-1\r\n%1\r\n+ok\r\n-ERR x\r\n~1\r\n#t\r\n,1.5\r\n(123\r\n=8\r\ntxt:abcd\r\n_\r\n|1\r\n+a\r\n:2\r\n*-1\r\n";
        let mut r = Reader::new(buf);
        let items: Vec<Item> = std::iter::from_fn(|| r.item()).collect();
        assert_eq!(
            items,
            vec![
                Item::Array(3),
                Item::Int(1),
                Item::Bulk(b"abc"),
                Item::NullBulk,
                Item::Map(1),
                Item::Simple(b"ok"),
                Item::Error(b"ERR x"),
                Item::Set(1),
                Item::Bool(true),
                Item::Double(1.5),
                Item::BigNumber(b"123"),
                Item::Verbatim(b"txt", b"abcd"),
                Item::Null,
                Item::Attribute(1),
                Item::Simple(b"a"),
                Item::Int(2),
                Item::NullArray,
            ]
        );
        assert_eq!(Reader::new(b"$5\r\nab\r\n").item(), None);
        assert_eq!(Reader::new(b":x\r\n").item(), None);
        assert_eq!(Reader::new(b",inf\r\n").item(), Some(Item::Double(f64::INFINITY)));
    }

    #[test]
    fn numbers_like_redis_7_4() {
        assert_eq!(fpconv_dtoa(0.1), "0.1");
        assert_eq!(fpconv_dtoa(1e-7), "1e-7");
        assert_eq!(fpconv_dtoa(1.5e-7), "1.5e-7");
        assert_eq!(fpconv_dtoa(1e20), "1e+20");
        assert_eq!(fpconv_dtoa(1.5), "1.5");
        assert_eq!(fpconv_dtoa(-2.5e-5), "-0.000025");
        assert_eq!(fpconv_dtoa(123456.789), "123456.789");
        assert_eq!(fpconv_dtoa(1e300), "1e+300");
        assert_eq!(fpconv_dtoa(1.7976931348623157e308), "1.7976931348623157e+308");
        assert_eq!(fpconv_dtoa(f64::INFINITY), "inf");
        assert_eq!(fpconv_dtoa(f64::NEG_INFINITY), "-inf");
        assert_eq!(fpconv_dtoa(12300000.0), "12300000");
        assert_eq!(d2string(3.0), "3");
        assert_eq!(d2string(-0.0), "-0");
        assert_eq!(d2string(f64::NAN), "nan");
        assert_eq!(d2string(1e17), "100000000000000000");
        let mut v = Vec::new();
        arg_number(123456789012345678.0, &mut v);
        assert_eq!(v, b"123456789012345680");
        v.clear();
        arg_number(-0.0, &mut v);
        assert_eq!(v, b"0");
        assert_eq!(lua_number_to_int(100.5), 100);
        assert_eq!(lua_number_to_int(-3.99), -3);
        assert_eq!(lua_number_to_int(1e300), i64::MIN);
        assert_eq!(lua_number_to_int(f64::NAN), i64::MIN);
        assert_eq!(double2ll(4.0e18), Some(4_000_000_000_000_000_000));
        assert_eq!(double2ll(5.0e18), None);
    }
}
