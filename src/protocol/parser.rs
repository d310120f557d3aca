//! Incremental RESP request parser.
//!
//! A request is either a multibulk (`*<n>\r\n$<len>\r\n<bytes>\r\n...`) or an
//! inline command (`SET k v\r\n`, as typed in telnet). The parser never copies
//! multibulk arguments: it records `(offset, len)` ranges into the caller's
//! read buffer. Inline arguments may carry quotes and escapes, so they are
//! unescaped into a scratch buffer and the ranges point there instead.
//!
//! The parser is re-entrant over partial input: when a frame is incomplete it
//! answers [`Parsed::Incomplete`] and the caller reads more and calls again
//! from the same start offset.

use memchr::memchr;

/// Largest inline request, and largest `*<n>` / `$<n>` header line, before the
/// request is rejected (Redis's PROTO_INLINE_MAX_SIZE).
pub const INLINE_MAX_SIZE: usize = 64 * 1024;
/// Multibulk element count limit for any client.
pub const MULTIBULK_MAX: i64 = i32::MAX as i64;
/// Limits applied to clients that have not authenticated yet.
pub const UNAUTH_MULTIBULK_MAX: i64 = 10;
pub const UNAUTH_BULK_MAX: i64 = 16384;

/// Where the argument ranges of a parsed command point.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ArgSource {
    /// Ranges index the read buffer passed to [`parse`].
    Input,
    /// Ranges index the scratch buffer (an inline command).
    Scratch,
}

/// Outcome of one [`parse`] call.
#[derive(Debug, PartialEq, Eq)]
pub enum Parsed {
    /// A whole command: `consumed` bytes of input; its arguments were
    /// appended to the range vector (argc may be 0 for an empty line or
    /// `*0`, which callers skip).
    Command {
        consumed: usize,
        argc: usize,
        source: ArgSource,
    },
    /// More bytes are needed. `hint` is the buffer size that would hold the
    /// whole frame when known (a big bulk), so the caller can grow once.
    Incomplete { hint: usize },
}

/// A framing error: the caller replies `-ERR Protocol error: <msg>` and
/// closes the connection, as Redis does.
#[derive(Debug, PartialEq, Eq, Clone, Copy)]
pub struct ProtocolError(pub &'static str);

impl ProtocolError {
    pub fn message(&self) -> &'static str {
        self.0
    }
}

/// Per-connection limits consulted while parsing.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    pub max_bulk_len: i64,
    pub authenticated: bool,
}

/// Where an incomplete multibulk stopped, so the next call resumes there
/// instead of re-reading every header (which would make a frame arriving in
/// many small reads cost quadratic time).
#[derive(Debug, Default, Clone, Copy)]
pub struct Resume {
    active: bool,
    count: i64,
    pos: usize,
    /// Offset in the frame of the first byte not yet taken in as a header
    /// or a whole argument (the pending bulk's data, once its header is in).
    held_from: usize,
}

impl Resume {
    /// Whether a frame is half parsed (its ranges must be kept).
    pub fn active(&self) -> bool {
        self.active
    }

    /// Bytes at the start of a half-parsed frame already taken in as
    /// headers and whole arguments: Redis has moved them out of its query
    /// buffer (into argv), so CLIENT LIST's qbuf leaves them out. 0 when no
    /// frame is half parsed.
    pub fn taken_in(&self) -> usize {
        if self.active {
            self.held_from
        } else {
            0
        }
    }
}

/// Parses one command starting at `input[0]`.
pub fn parse(
    input: &[u8],
    limits: Limits,
    ranges: &mut Vec<(u32, u32)>,
    scratch: &mut Vec<u8>,
) -> Result<Parsed, ProtocolError> {
    parse_from(input, limits, ranges, scratch, &mut Resume::default())
}

/// Like [`parse`], resuming a multibulk frame where the last call left it.
/// `ranges` must hold what that call pushed (callers keep them while
/// `resume.active()`), and `input` must start at the same frame.
pub fn parse_from(
    input: &[u8],
    limits: Limits,
    ranges: &mut Vec<(u32, u32)>,
    scratch: &mut Vec<u8>,
    resume: &mut Resume,
) -> Result<Parsed, ProtocolError> {
    if input.is_empty() {
        return Ok(Parsed::Incomplete { hint: 0 });
    }
    if input[0] == b'*' {
        let r = parse_multibulk(input, limits, ranges, resume);
        if !matches!(r, Ok(Parsed::Incomplete { .. })) {
            *resume = Resume::default();
        }
        r
    } else {
        parse_inline(input, ranges, scratch)
    }
}

/// Reads a `<prefix><integer>\r\n` line at `pos`; returns (value, next pos).
fn read_header(input: &[u8], pos: usize) -> Option<Result<(i64, usize), ()>> {
    let nl = memchr(b'\r', &input[pos..])?;
    let end = pos + nl;
    if end + 1 >= input.len() {
        return None;
    }
    match parse_i64_strict(&input[pos + 1..end]) {
        Some(v) => Some(Ok((v, end + 2))),
        None => Some(Err(())),
    }
}

fn parse_multibulk(
    input: &[u8],
    limits: Limits,
    ranges: &mut Vec<(u32, u32)>,
    resume: &mut Resume,
) -> Result<Parsed, ProtocolError> {
    if resume.active {
        let (count, pos) = (resume.count, resume.pos);
        return parse_bulks(input, limits, ranges, resume, count, pos);
    }
    let (count, pos) = match read_header(input, 0) {
        None => {
            if input.len() > INLINE_MAX_SIZE {
                return Err(ProtocolError("too big mbulk count string"));
            }
            return Ok(Parsed::Incomplete { hint: 0 });
        }
        Some(Err(())) => return Err(ProtocolError("invalid multibulk length")),
        Some(Ok(v)) => v,
    };
    if count > MULTIBULK_MAX {
        return Err(ProtocolError("invalid multibulk length"));
    }
    if count > UNAUTH_MULTIBULK_MAX && !limits.authenticated {
        return Err(ProtocolError("unauthenticated multibulk length"));
    }
    if count <= 0 {
        return Ok(Parsed::Command {
            consumed: pos,
            argc: 0,
            source: ArgSource::Input,
        });
    }
    parse_bulks(input, limits, ranges, resume, count, pos)
}

/// Reads the remaining `$<len>` elements of a multibulk of `count`, the
/// first `ranges.len() - first` of which are already parsed; on running out
/// of input records where to resume.
fn parse_bulks(
    input: &[u8],
    limits: Limits,
    ranges: &mut Vec<(u32, u32)>,
    resume: &mut Resume,
    count: i64,
    mut pos: usize,
) -> Result<Parsed, ProtocolError> {
    let done_before = if resume.active { ranges.len() } else { 0 };
    let first = ranges.len() - done_before;
    let mut pause = |ranges: &mut Vec<(u32, u32)>, pos: usize, held_from: usize, hint: usize| {
        let _ = ranges;
        *resume = Resume {
            active: true,
            count,
            pos,
            held_from,
        };
        Ok(Parsed::Incomplete { hint })
    };
    while ((ranges.len() - first) as i64) < count {
        if pos >= input.len() {
            return pause(ranges, pos, pos, 0);
        }
        if input[pos] != b'$' {
            ranges.truncate(first);
            return Err(ProtocolError(expected_dollar_message(input[pos])));
        }
        let (len, data) = match read_header(input, pos) {
            None => {
                if input.len() - pos > INLINE_MAX_SIZE {
                    ranges.truncate(first);
                    return Err(ProtocolError("too big bulk count string"));
                }
                return pause(ranges, pos, pos, 0);
            }
            Some(Err(())) => {
                ranges.truncate(first);
                return Err(ProtocolError("invalid bulk length"));
            }
            Some(Ok(v)) => v,
        };
        if len < 0 || len > limits.max_bulk_len {
            ranges.truncate(first);
            return Err(ProtocolError("invalid bulk length"));
        }
        if len > UNAUTH_BULK_MAX && !limits.authenticated {
            ranges.truncate(first);
            return Err(ProtocolError("unauthenticated bulk length"));
        }
        let len = len as usize;
        let end = data + len;
        if end + 2 > input.len() {
            return pause(ranges, pos, data, end + 2);
        }
        // Redis does not verify the trailing CRLF of a bulk; it skips two bytes.
        ranges.push((data as u32, len as u32));
        pos = end + 2;
    }
    Ok(Parsed::Command {
        consumed: pos,
        argc: count as usize,
        source: ArgSource::Input,
    })
}

/// Redis's message for a multibulk element that does not start with `$`.
fn expected_dollar_message(got: u8) -> &'static str {
    // The message embeds the offending character; keep a static table of the
    // printable ASCII ones and fall back to a generic text for the rest.
    const TABLE: [&str; 95] = [
        "expected '$', got ' '",
        "expected '$', got '!'",
        "expected '$', got '\"'",
        "expected '$', got '#'",
        "expected '$', got '$'",
        "expected '$', got '%'",
        "expected '$', got '&'",
        "expected '$', got '''",
        "expected '$', got '('",
        "expected '$', got ')'",
        "expected '$', got '*'",
        "expected '$', got '+'",
        "expected '$', got ','",
        "expected '$', got '-'",
        "expected '$', got '.'",
        "expected '$', got '/'",
        "expected '$', got '0'",
        "expected '$', got '1'",
        "expected '$', got '2'",
        "expected '$', got '3'",
        "expected '$', got '4'",
        "expected '$', got '5'",
        "expected '$', got '6'",
        "expected '$', got '7'",
        "expected '$', got '8'",
        "expected '$', got '9'",
        "expected '$', got ':'",
        "expected '$', got ';'",
        "expected '$', got '<'",
        "expected '$', got '='",
        "expected '$', got '>'",
        "expected '$', got '?'",
        "expected '$', got '@'",
        "expected '$', got 'A'",
        "expected '$', got 'B'",
        "expected '$', got 'C'",
        "expected '$', got 'D'",
        "expected '$', got 'E'",
        "expected '$', got 'F'",
        "expected '$', got 'G'",
        "expected '$', got 'H'",
        "expected '$', got 'I'",
        "expected '$', got 'J'",
        "expected '$', got 'K'",
        "expected '$', got 'L'",
        "expected '$', got 'M'",
        "expected '$', got 'N'",
        "expected '$', got 'O'",
        "expected '$', got 'P'",
        "expected '$', got 'Q'",
        "expected '$', got 'R'",
        "expected '$', got 'S'",
        "expected '$', got 'T'",
        "expected '$', got 'U'",
        "expected '$', got 'V'",
        "expected '$', got 'W'",
        "expected '$', got 'X'",
        "expected '$', got 'Y'",
        "expected '$', got 'Z'",
        "expected '$', got '['",
        "expected '$', got '\\'",
        "expected '$', got ']'",
        "expected '$', got '^'",
        "expected '$', got '_'",
        "expected '$', got '`'",
        "expected '$', got 'a'",
        "expected '$', got 'b'",
        "expected '$', got 'c'",
        "expected '$', got 'd'",
        "expected '$', got 'e'",
        "expected '$', got 'f'",
        "expected '$', got 'g'",
        "expected '$', got 'h'",
        "expected '$', got 'i'",
        "expected '$', got 'j'",
        "expected '$', got 'k'",
        "expected '$', got 'l'",
        "expected '$', got 'm'",
        "expected '$', got 'n'",
        "expected '$', got 'o'",
        "expected '$', got 'p'",
        "expected '$', got 'q'",
        "expected '$', got 'r'",
        "expected '$', got 's'",
        "expected '$', got 't'",
        "expected '$', got 'u'",
        "expected '$', got 'v'",
        "expected '$', got 'w'",
        "expected '$', got 'x'",
        "expected '$', got 'y'",
        "expected '$', got 'z'",
        "expected '$', got '{'",
        "expected '$', got '|'",
        "expected '$', got '}'",
        "expected '$', got '~'",
    ];
    if (b' '..=b'~').contains(&got) {
        TABLE[(got - b' ') as usize]
    } else {
        "expected '$', got something else"
    }
}

fn parse_inline(input: &[u8], ranges: &mut Vec<(u32, u32)>, scratch: &mut Vec<u8>) -> Result<Parsed, ProtocolError> {
    let nl = match memchr(b'\n', input) {
        Some(n) => n,
        None => {
            if input.len() > INLINE_MAX_SIZE {
                return Err(ProtocolError("too big inline request"));
            }
            return Ok(Parsed::Incomplete { hint: 0 });
        }
    };
    let mut line = &input[..nl];
    if line.last() == Some(&b'\r') {
        line = &line[..line.len() - 1];
    }
    let first = ranges.len();
    if split_args(line, ranges, scratch).is_err() {
        ranges.truncate(first);
        return Err(ProtocolError("unbalanced quotes in request"));
    }
    Ok(Parsed::Command {
        consumed: nl + 1,
        argc: ranges.len() - first,
        source: ArgSource::Scratch,
    })
}

/// Splits a line into arguments with redis-cli's quoting rules: `"..."` with
/// `\n \r \t \b \a \\ \" \xHH` escapes, `'...'` with only `\'`; a closing
/// quote must be followed by a space or the end of the line.
pub fn split_args(line: &[u8], ranges: &mut Vec<(u32, u32)>, out: &mut Vec<u8>) -> Result<(), ()> {
    let mut i = 0;
    // Redis reads the line as a C string: a NUL byte ends it.
    let n = memchr(0, line).unwrap_or(line.len());
    loop {
        while i < n && line[i].is_ascii_whitespace() {
            i += 1;
        }
        if i >= n {
            return Ok(());
        }
        let start = out.len();
        let mut in_dq = false;
        let mut in_sq = false;
        loop {
            if in_dq {
                if i >= n {
                    return Err(());
                }
                let c = line[i];
                if c == b'\\' && i + 3 < n && line[i + 1] == b'x' && is_hex(line[i + 2]) && is_hex(line[i + 3]) {
                    out.push(hex_val(line[i + 2]) * 16 + hex_val(line[i + 3]));
                    i += 4;
                    continue;
                } else if c == b'\\' && i + 1 < n {
                    i += 1;
                    out.push(match line[i] {
                        b'n' => b'\n',
                        b'r' => b'\r',
                        b't' => b'\t',
                        b'b' => 8,
                        b'a' => 7,
                        other => other,
                    });
                } else if c == b'"' {
                    i = after_closing_quote(line, i, n)?;
                    break;
                } else {
                    out.push(c);
                }
                i += 1;
            } else if in_sq {
                if i >= n {
                    return Err(());
                }
                let c = line[i];
                if c == b'\\' && i + 1 < n && line[i + 1] == b'\'' {
                    out.push(b'\'');
                    i += 2;
                    continue;
                } else if c == b'\'' {
                    i = after_closing_quote(line, i, n)?;
                    break;
                } else {
                    out.push(c);
                }
                i += 1;
            } else {
                if i >= n {
                    break;
                }
                match line[i] {
                    b' ' | b'\n' | b'\r' | b'\t' | 0 => break,
                    b'"' => in_dq = true,
                    b'\'' => in_sq = true,
                    c => out.push(c),
                }
                i += 1;
            }
        }
        ranges.push((start as u32, (out.len() - start) as u32));
    }
}

/// A closing quote at `i` must end the line or be followed by a space;
/// returns the index after it.
fn after_closing_quote(line: &[u8], i: usize, n: usize) -> Result<usize, ()> {
    if i + 1 < n && !line[i + 1].is_ascii_whitespace() {
        return Err(());
    }
    Ok(i + 1)
}

fn is_hex(c: u8) -> bool {
    c.is_ascii_hexdigit()
}

fn hex_val(c: u8) -> u8 {
    match c {
        b'0'..=b'9' => c - b'0',
        b'a'..=b'f' => c - b'a' + 10,
        _ => c - b'A' + 10,
    }
}

/// Parses a signed decimal the way Redis's string2ll does: no spaces, no
/// leading `+`, no leading zeros (except "0"), within i64.
pub fn parse_i64_strict(s: &[u8]) -> Option<i64> {
    if s.is_empty() || s.len() > 20 {
        return None;
    }
    let (neg, digits) = if s[0] == b'-' { (true, &s[1..]) } else { (false, s) };
    if digits.is_empty() {
        return None;
    }
    if digits[0] == b'0' && (digits.len() > 1 || neg) {
        return None;
    }
    let mut v: u64 = 0;
    for &c in digits {
        if !c.is_ascii_digit() {
            return None;
        }
        v = v.checked_mul(10)?.checked_add((c - b'0') as u64)?;
    }
    if neg {
        if v > i64::MAX as u64 + 1 {
            None
        } else {
            Some((v as i64).wrapping_neg())
        }
    } else if v > i64::MAX as u64 {
        None
    } else {
        Some(v as i64)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const L: Limits = Limits {
        max_bulk_len: 512 * 1024 * 1024,
        authenticated: true,
    };

    fn run(input: &[u8]) -> (Result<Parsed, ProtocolError>, Vec<Vec<u8>>) {
        let mut r = Vec::new();
        let mut s = Vec::new();
        let p = parse(input, L, &mut r, &mut s);
        let args = match &p {
            Ok(Parsed::Command { source, .. }) => {
                let b = if *source == ArgSource::Input { input } else { &s[..] };
                r.iter()
                    .map(|&(o, l)| b[o as usize..(o + l) as usize].to_vec())
                    .collect()
            }
            _ => vec![],
        };
        (p, args)
    }

    #[test]
    fn multibulk_whole() {
        let (p, a) = run(b"*2\r\n$3\r\nGET\r\n$1\r\nk\r\n");
        assert_eq!(
            p,
            Ok(Parsed::Command {
                consumed: 20,
                argc: 2,
                source: ArgSource::Input
            })
        );
        assert_eq!(a, vec![b"GET".to_vec(), b"k".to_vec()]);
    }

    #[test]
    fn multibulk_every_prefix_is_incomplete() {
        let full = b"*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$5\r\nhello\r\n";
        for cut in 0..full.len() {
            let (p, _) = run(&full[..cut]);
            assert!(matches!(p, Ok(Parsed::Incomplete { .. })), "cut {cut}: {p:?}");
        }
    }

    #[test]
    fn resumed_parse_matches_whole_parse() {
        let full = b"*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$5\r\nhello\r\n";
        for cut in 1..full.len() {
            let mut r = Vec::new();
            let mut s = Vec::new();
            let mut resume = Resume::default();
            let p = parse_from(&full[..cut], L, &mut r, &mut s, &mut resume).unwrap();
            assert!(matches!(p, Parsed::Incomplete { .. }));
            let p = parse_from(full, L, &mut r, &mut s, &mut resume).unwrap();
            assert_eq!(
                p,
                Parsed::Command {
                    consumed: full.len(),
                    argc: 3,
                    source: ArgSource::Input
                }
            );
            assert_eq!(r, vec![(8, 3), (17, 1), (24, 5)]);
            assert!(!resume.active());
        }
    }

    #[test]
    fn big_bulk_hints_size() {
        let (p, _) = run(b"*1\r\n$100000\r\nabc");
        assert_eq!(p, Ok(Parsed::Incomplete { hint: 100015 }));
    }

    #[test]
    fn protocol_errors() {
        assert_eq!(run(b"*x\r\n").0, Err(ProtocolError("invalid multibulk length")));
        assert_eq!(run(b"*1\r\n+x\r\n").0, Err(ProtocolError("expected '$', got '+'")));
        assert_eq!(run(b"*1\r\n$-5\r\n").0, Err(ProtocolError("invalid bulk length")));
        assert_eq!(run(b"*1\r\n$x\r\n").0, Err(ProtocolError("invalid bulk length")));
        let unauth = Limits {
            max_bulk_len: 1 << 29,
            authenticated: false,
        };
        let mut r = Vec::new();
        let mut s = Vec::new();
        assert_eq!(
            parse(b"*20\r\n", unauth, &mut r, &mut s),
            Err(ProtocolError("unauthenticated multibulk length"))
        );
        assert_eq!(run(b"\"foo\r\n").0, Err(ProtocolError("unbalanced quotes in request")));
    }

    #[test]
    fn inline_with_quotes() {
        let (p, a) = run(b"set k \"a\\x41 b\"\r\n");
        assert!(matches!(
            p,
            Ok(Parsed::Command {
                consumed: 17,
                argc: 3,
                source: ArgSource::Scratch
            })
        ));
        assert_eq!(a, vec![b"set".to_vec(), b"k".to_vec(), b"aA b".to_vec()]);
        let (p, a) = run(b"\n");
        assert!(matches!(p, Ok(Parsed::Command { argc: 0, .. })));
        assert!(a.is_empty());
        let (_, a) = run(b"PING 'it\\'s'\n");
        assert_eq!(a, vec![b"PING".to_vec(), b"it's".to_vec()]);
    }

    #[test]
    fn nul_ends_an_inline_line() {
        let (p, a) = run(b"\0\n");
        assert!(matches!(p, Ok(Parsed::Command { argc: 0, .. })));
        assert!(a.is_empty());
        let (_, a) = run(b"PING a\0b\r\n");
        assert_eq!(a, vec![b"PING".to_vec(), b"a".to_vec()]);
    }

    #[test]
    fn strict_integers() {
        assert_eq!(parse_i64_strict(b"0"), Some(0));
        assert_eq!(parse_i64_strict(b"-9223372036854775808"), Some(i64::MIN));
        assert_eq!(parse_i64_strict(b"9223372036854775808"), None);
        assert_eq!(parse_i64_strict(b"01"), None);
        assert_eq!(parse_i64_strict(b"+1"), None);
        assert_eq!(parse_i64_strict(b" 1"), None);
        assert_eq!(parse_i64_strict(b"-0"), None);
    }
}
