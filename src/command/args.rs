//! A zero-copy view of one command's arguments, and the number parsers
//! Redis applies to them.

use crate::protocol::parser::parse_i64_strict;

/// Arguments of one command: ranges into a buffer (the connection's read
/// buffer, an inline scratch buffer, or a batch shipped to another shard).
/// `get(0)` is the command name.
#[derive(Clone, Copy)]
pub struct Args<'a> {
    buf: &'a [u8],
    ranges: &'a [(u32, u32)],
}

/// Commands with their arguments copied into one buffer: a batch bound for
/// another shard, a MULTI queue, a script's call shipped elsewhere. The
/// one copy a command pays when it cannot run where its bytes were read.
#[derive(Default)]
pub struct ArgsBuf {
    data: Vec<u8>,
    ranges: Vec<(u32, u32)>,
    /// Per command: first range and argument count.
    cmds: Vec<(u32, u32)>,
}

impl ArgsBuf {
    /// Appends a copy of `args` as the next command.
    pub fn push(&mut self, args: &Args) {
        let start = self.ranges.len() as u32;
        for a in args.iter() {
            self.ranges.push((self.data.len() as u32, a.len() as u32));
            self.data.extend_from_slice(a);
        }
        self.cmds.push((start, args.len() as u32));
    }

    /// Bytes the buffer holds allocated (client memory accounting).
    pub fn mem(&self) -> usize {
        self.data.capacity()
            + self.ranges.capacity() * std::mem::size_of::<(u32, u32)>()
            + self.cmds.capacity() * std::mem::size_of::<(u32, u32)>()
    }

    /// Number of commands.
    pub fn len(&self) -> usize {
        self.cmds.len()
    }

    pub fn is_empty(&self) -> bool {
        self.cmds.is_empty()
    }

    /// The arguments of command `i`.
    pub fn get(&self, i: usize) -> Args<'_> {
        let (start, argc) = self.cmds[i];
        Args::new(&self.data, &self.ranges[start as usize..(start + argc) as usize])
    }
}

impl<'a> Args<'a> {
    pub fn new(buf: &'a [u8], ranges: &'a [(u32, u32)]) -> Self {
        Args { buf, ranges }
    }

    #[inline]
    pub fn len(&self) -> usize {
        self.ranges.len()
    }

    #[inline]
    pub fn is_empty(&self) -> bool {
        self.ranges.is_empty()
    }

    #[inline]
    pub fn get(&self, i: usize) -> &'a [u8] {
        let (o, l) = self.ranges[i];
        &self.buf[o as usize..(o + l) as usize]
    }

    pub fn iter(&self) -> impl Iterator<Item = &'a [u8]> + '_ {
        (0..self.len()).map(move |i| self.get(i))
    }

    /// Whether argument `i` equals `word`, ignoring ASCII case.
    #[inline]
    pub fn is(&self, i: usize, word: &str) -> bool {
        self.get(i).eq_ignore_ascii_case(word.as_bytes())
    }

    pub fn ranges(&self) -> &'a [(u32, u32)] {
        self.ranges
    }

    pub fn buf(&self) -> &'a [u8] {
        self.buf
    }
}

/// Parses an i64 argument (Redis's getLongLongFromObject).
#[inline]
pub fn parse_i64(b: &[u8]) -> Option<i64> {
    parse_i64_strict(b)
}

/// Parses a float argument the way Redis's strtold-based parsers do: no
/// surrounding spaces, no NaN; "inf"/"-inf" accepted.
pub fn parse_f64(b: &[u8]) -> Option<f64> {
    if b.is_empty() || b[0].is_ascii_whitespace() || b[b.len() - 1].is_ascii_whitespace() {
        return None;
    }
    let s = std::str::from_utf8(b).ok()?;
    let lower = s.to_ascii_lowercase();
    let v = match lower.as_str() {
        "inf" | "+inf" | "infinity" | "+infinity" => f64::INFINITY,
        "-inf" | "-infinity" => f64::NEG_INFINITY,
        _ => {
            if lower.contains("nan") || lower.contains("inf") {
                return None;
            }
            // Rust's parser accepts forms strtold accepts except hex floats,
            // which Redis users do not send; it rejects "1." no: it accepts.
            s.parse::<f64>().ok()?
        }
    };
    if v.is_nan() {
        None
    } else {
        Some(v)
    }
}

/// Parses `numkeys key [key ...] <first | second> [COUNT count]` from
/// argument `at` (LMPOP, ZMPOP and their blocking forms, with their words
/// LEFT/RIGHT or MIN/MAX): the key indices, whether `second` was given, and
/// the count (1 by default). Errors as Redis.
pub fn parse_mpop(
    args: &Args,
    at: usize,
    first: &str,
    second: &str,
) -> Result<(std::ops::Range<usize>, bool, usize), &'static str> {
    use super::errors as err;
    let numkeys = match parse_i64(args.get(at)) {
        Some(n) if n > 0 => n as u64,
        _ => return Err(err::NUMKEYS_POSITIVE),
    };
    let where_at = at as u64 + numkeys + 1;
    if where_at >= args.len() as u64 {
        return Err(err::SYNTAX);
    }
    let where_at = where_at as usize;
    let is_second = if args.is(where_at, first) {
        false
    } else if args.is(where_at, second) {
        true
    } else {
        return Err(err::SYNTAX);
    };
    let mut count = None;
    let mut j = where_at + 1;
    while j < args.len() {
        if count.is_none() && args.is(j, "count") && j + 1 < args.len() {
            match parse_i64(args.get(j + 1)) {
                Some(n) if n > 0 => count = Some(n as usize),
                _ => return Err(err::COUNT_GT_ZERO),
            }
            j += 2;
        } else {
            return Err(err::SYNTAX);
        }
    }
    Ok((at + 1..where_at, is_second, count.unwrap_or(1)))
}

/// Test support: the buffer and ranges of an [`Args`] over `words`.
#[cfg(test)]
pub fn args_of(words: &[&str]) -> (Vec<u8>, Vec<(u32, u32)>) {
    let mut buf = Vec::new();
    let mut ranges = Vec::new();
    for w in words {
        ranges.push((buf.len() as u32, w.len() as u32));
        buf.extend_from_slice(w.as_bytes());
    }
    (buf, ranges)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn floats() {
        assert_eq!(parse_f64(b"1.5"), Some(1.5));
        assert_eq!(parse_f64(b"-inf"), Some(f64::NEG_INFINITY));
        assert_eq!(parse_f64(b" 1"), None);
        assert_eq!(parse_f64(b"nan"), None);
        assert_eq!(parse_f64(b"abc"), None);
        assert_eq!(parse_f64(b"5e3"), Some(5000.0));
    }
}
