//! Reply encoder: writes RESP2 or RESP3 straight into an output buffer.
//!
//! Handlers describe replies by shape (`int`, `bulk`, `null`, `map_len`...);
//! the encoder picks the wire form for the connection's protocol version, so
//! no handler ever branches on RESP2 vs RESP3.

/// Writes replies for one connection into `buf`.
pub struct Reply<'a> {
    pub buf: &'a mut Vec<u8>,
    pub resp3: bool,
}

impl<'a> Reply<'a> {
    pub fn new(buf: &'a mut Vec<u8>, resp3: bool) -> Self {
        Reply { buf, resp3 }
    }

    #[inline]
    pub fn raw(&mut self, bytes: &[u8]) {
        self.buf.extend_from_slice(bytes);
    }

    #[inline]
    pub fn ok(&mut self) {
        self.raw(b"+OK\r\n");
    }

    /// `+<s>\r\n`; `s` must not contain CR or LF.
    pub fn simple(&mut self, s: &str) {
        self.buf.push(b'+');
        self.buf.extend_from_slice(s.as_bytes());
        self.buf.extend_from_slice(b"\r\n");
    }

    /// An error reply. `msg` is the full text after `-`, such as
    /// `ERR syntax error` or `WRONGTYPE Operation against ...`. Newlines in
    /// the message are replaced by spaces, as Redis does.
    pub fn error(&mut self, msg: &str) {
        self.error_bytes(msg.as_bytes());
    }

    /// An error reply from raw bytes (messages that quote arguments).
    pub fn error_bytes(&mut self, msg: &[u8]) {
        self.buf.push(b'-');
        for &c in msg {
            self.buf.push(if c == b'\r' || c == b'\n' { b' ' } else { c });
        }
        self.buf.extend_from_slice(b"\r\n");
    }

    #[inline]
    pub fn int(&mut self, v: i64) {
        match v {
            0 => self.raw(b":0\r\n"),
            1 => self.raw(b":1\r\n"),
            _ => {
                self.buf.push(b':');
                push_int(self.buf, v);
                self.buf.extend_from_slice(b"\r\n");
            }
        }
    }

    #[inline]
    pub fn bulk(&mut self, data: &[u8]) {
        self.buf.push(b'$');
        push_int(self.buf, data.len() as i64);
        self.buf.extend_from_slice(b"\r\n");
        self.buf.extend_from_slice(data);
        self.buf.extend_from_slice(b"\r\n");
    }

    /// A bulk string holding the decimal form of `v`.
    pub fn bulk_int(&mut self, v: i64) {
        let mut tmp = itoa_buf();
        let s = fmt_i64(&mut tmp, v);
        self.bulk(s);
    }

    /// The null bulk string (`$-1` in RESP2, `_` in RESP3).
    #[inline]
    pub fn null(&mut self) {
        if self.resp3 {
            self.raw(b"_\r\n");
        } else {
            self.raw(b"$-1\r\n");
        }
    }

    /// The null array (`*-1` in RESP2, `_` in RESP3).
    pub fn null_array(&mut self) {
        if self.resp3 {
            self.raw(b"_\r\n");
        } else {
            self.raw(b"*-1\r\n");
        }
    }

    pub fn array_len(&mut self, n: usize) {
        self.header(b'*', n);
    }

    /// A map of `n` pairs (RESP3 `%`, RESP2 flat array of 2n).
    pub fn map_len(&mut self, n: usize) {
        if self.resp3 {
            self.header(b'%', n);
        } else {
            self.header(b'*', n * 2);
        }
    }

    /// A set of `n` elements (RESP3 `~`, RESP2 array).
    pub fn set_len(&mut self, n: usize) {
        self.header(if self.resp3 { b'~' } else { b'*' }, n);
    }

    /// A push message of `n` elements (RESP3 `>`, RESP2 array).
    pub fn push_len(&mut self, n: usize) {
        self.header(if self.resp3 { b'>' } else { b'*' }, n);
    }

    /// A double (RESP3 `,`, RESP2 bulk string), formatted as Redis does.
    pub fn double(&mut self, v: f64) {
        let s = format_double(v);
        if self.resp3 {
            self.buf.push(b',');
            self.buf.extend_from_slice(s.as_bytes());
            self.buf.extend_from_slice(b"\r\n");
        } else {
            self.bulk(s.as_bytes());
        }
    }

    /// A boolean (RESP3 `#t`/`#f`, RESP2 integer 1/0).
    pub fn boolean(&mut self, v: bool) {
        if self.resp3 {
            self.raw(if v { b"#t\r\n" } else { b"#f\r\n" });
        } else {
            self.int(v as i64);
        }
    }

    /// Verbatim text (RESP3 `=` with the `txt:` format, RESP2 bulk).
    pub fn verbatim(&mut self, text: &[u8]) {
        if self.resp3 {
            self.buf.push(b'=');
            push_int(self.buf, text.len() as i64 + 4);
            self.buf.extend_from_slice(b"\r\ntxt:");
            self.buf.extend_from_slice(text);
            self.buf.extend_from_slice(b"\r\n");
        } else {
            self.bulk(text);
        }
    }

    fn header(&mut self, kind: u8, n: usize) {
        self.buf.push(kind);
        push_int(self.buf, n as i64);
        self.buf.extend_from_slice(b"\r\n");
    }
}

fn itoa_buf() -> [u8; 20] {
    [0u8; 20]
}

/// Formats `v` into `tmp` and returns the digits.
pub fn fmt_i64(tmp: &mut [u8; 20], v: i64) -> &[u8] {
    let mut n = v.unsigned_abs();
    let mut i = tmp.len();
    loop {
        i -= 1;
        tmp[i] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    if v < 0 {
        // 20 digits fit an i64 magnitude, and a negative one has at most 19.
        i -= 1;
        tmp[i] = b'-';
    }
    &tmp[i..]
}

/// Appends the decimal form of `v`.
#[inline]
pub fn push_int(buf: &mut Vec<u8>, v: i64) {
    if (0..10).contains(&v) {
        buf.push(b'0' + v as u8);
        return;
    }
    let mut tmp = [0u8; 20];
    buf.extend_from_slice(fmt_i64(&mut tmp, v));
}

/// Formats a double as Redis does for replies (`%.17g` then trimmed to the
/// shortest form that round-trips; `inf`, `-inf`, `nan`).
pub fn format_double(v: f64) -> String {
    if v.is_nan() {
        return "nan".to_string();
    }
    if v.is_infinite() {
        return if v > 0.0 { "inf".to_string() } else { "-inf".to_string() };
    }
    // Rust's shortest round-trip formatting matches Redis 7's use of
    // fpconv_dtoa for integral and ordinary values, except that Rust writes
    // exponents as `1e21` where Redis writes `1e+21`.
    let s = format!("{}", v);
    if v != 0.0 && (v.abs() >= 1e17 || v.abs() < 1e-4) {
        let e = format!("{:e}", v);
        return fix_exponent(&e);
    }
    s
}

fn fix_exponent(s: &str) -> String {
    match s.find('e') {
        Some(p) => {
            let (m, e) = s.split_at(p);
            let e = &e[1..];
            if let Some(stripped) = e.strip_prefix('-') {
                format!("{}e-{:0>2}", m, stripped)
            } else {
                format!("{}e+{:0>2}", m, e)
            }
        }
        None => s.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn enc(resp3: bool, f: impl FnOnce(&mut Reply)) -> Vec<u8> {
        let mut b = Vec::new();
        let mut r = Reply::new(&mut b, resp3);
        f(&mut r);
        b
    }

    #[test]
    fn shapes_by_protocol() {
        assert_eq!(enc(false, |r| r.null()), b"$-1\r\n");
        assert_eq!(enc(true, |r| r.null()), b"_\r\n");
        assert_eq!(enc(false, |r| r.map_len(2)), b"*4\r\n");
        assert_eq!(enc(true, |r| r.map_len(2)), b"%2\r\n");
        assert_eq!(enc(false, |r| r.double(1.5)), b"$3\r\n1.5\r\n");
        assert_eq!(enc(true, |r| r.double(1.5)), b",1.5\r\n");
        assert_eq!(enc(false, |r| r.int(-123)), b":-123\r\n");
        assert_eq!(enc(false, |r| r.int(i64::MIN)), b":-9223372036854775808\r\n");
        assert_eq!(enc(false, |r| r.bulk(b"")), b"$0\r\n\r\n");
        assert_eq!(enc(false, |r| r.error("ERR a\nb")), b"-ERR a b\r\n");
    }

    #[test]
    fn doubles_like_redis() {
        assert_eq!(format_double(3.0), "3");
        assert_eq!(format_double(10.5), "10.5");
        assert_eq!(format_double(-0.1), "-0.1");
        assert_eq!(format_double(f64::INFINITY), "inf");
        assert_eq!(format_double(1e21), "1e+21");
        assert_eq!(format_double(1.5e-7), "1.5e-07");
    }
}
