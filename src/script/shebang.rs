//! The first line of scripts and libraries: `#!lua flags=no-writes,...` on
//! EVAL bodies, `#!lua name=<lib>` on FUNCTION LOAD code, split the way
//! Redis splits them (sdssplitargs: quotes, escapes).

use super::ScriptFlags;

/// Flag bits, in the order Redis lists them (FUNCTION LIST, shebang names).
pub const NO_WRITES: u8 = 1;
pub const ALLOW_OOM: u8 = 2;
pub const ALLOW_STALE: u8 = 4;
pub const NO_CLUSTER: u8 = 8;
pub const ALLOW_CROSS_SLOT: u8 = 16;

/// Flag names and bits in Redis's declaration order.
pub const FLAG_NAMES: [(&str, u8); 5] = [
    ("no-writes", NO_WRITES),
    ("allow-oom", ALLOW_OOM),
    ("allow-stale", ALLOW_STALE),
    ("no-cluster", NO_CLUSTER),
    ("allow-cross-slot-keys", ALLOW_CROSS_SLOT),
];

/// The flag bit named `name` (exact match, as shebangs compare).
pub fn flag_bit(name: &[u8]) -> Option<u8> {
    FLAG_NAMES.iter().find(|(n, _)| n.as_bytes() == name).map(|&(_, b)| b)
}

/// The flag bit named `name`, ignoring case (as register_function compares).
pub fn flag_bit_nocase(name: &[u8]) -> Option<u8> {
    FLAG_NAMES
        .iter()
        .find(|(n, _)| n.as_bytes().eq_ignore_ascii_case(name))
        .map(|&(_, b)| b)
}

/// Declared flags from bits.
pub fn to_flags(bits: u8) -> ScriptFlags {
    ScriptFlags {
        declared: true,
        no_writes: bits & NO_WRITES != 0,
        allow_oom: bits & ALLOW_OOM != 0,
        allow_stale: bits & ALLOW_STALE != 0,
        no_cluster: bits & NO_CLUSTER != 0,
        allow_cross_slot_keys: bits & ALLOW_CROSS_SLOT != 0,
    }
}

/// The bytes a C string function would see: up to the first NUL.
pub fn c_str(b: &[u8]) -> &[u8] {
    match b.iter().position(|&c| c == 0) {
        Some(n) => &b[..n],
        None => b,
    }
}

fn is_space(c: u8) -> bool {
    matches!(c, b' ' | b'\t' | b'\n' | b'\r' | 0x0b | 0x0c)
}

fn hex_val(c: u8) -> Option<u8> {
    match c {
        b'0'..=b'9' => Some(c - b'0'),
        b'a'..=b'f' => Some(c - b'a' + 10),
        b'A'..=b'F' => Some(c - b'A' + 10),
        _ => None,
    }
}

/// Splits `line` into arguments like Redis's sdssplitargs: spaces separate,
/// "double quotes" take \n \r \t \b \a \xHH escapes, 'single quotes' take
/// \'; a closing quote must be followed by a space or the end. None on
/// unbalanced quotes. A NUL ends the input, as in C.
pub fn split_args(line: &[u8]) -> Option<Vec<Vec<u8>>> {
    let s = c_str(line);
    let at = |i: usize| -> u8 { s.get(i).copied().unwrap_or(0) };
    let mut out = Vec::new();
    let mut p = 0;
    loop {
        while p < s.len() && is_space(s[p]) {
            p += 1;
        }
        if p >= s.len() {
            return Some(out);
        }
        let (mut inq, mut insq, mut done) = (false, false, false);
        let mut cur = Vec::new();
        while !done {
            let c = at(p);
            if inq {
                if c == b'\\' && at(p + 1) == b'x' && hex_val(at(p + 2)).is_some() && hex_val(at(p + 3)).is_some() {
                    cur.push(hex_val(at(p + 2)).unwrap_or(0) * 16 + hex_val(at(p + 3)).unwrap_or(0));
                    p += 3;
                } else if c == b'\\' && at(p + 1) != 0 {
                    p += 1;
                    cur.push(match at(p) {
                        b'n' => b'\n',
                        b'r' => b'\r',
                        b't' => b'\t',
                        b'b' => 8,
                        b'a' => 7,
                        other => other,
                    });
                } else if c == b'"' {
                    if at(p + 1) != 0 && !is_space(at(p + 1)) {
                        return None;
                    }
                    done = true;
                } else if c == 0 {
                    return None;
                } else {
                    cur.push(c);
                }
            } else if insq {
                if c == b'\\' && at(p + 1) == b'\'' {
                    p += 1;
                    cur.push(b'\'');
                } else if c == b'\'' {
                    if at(p + 1) != 0 && !is_space(at(p + 1)) {
                        return None;
                    }
                    done = true;
                } else if c == 0 {
                    return None;
                } else {
                    cur.push(c);
                }
            } else {
                match c {
                    b' ' | b'\n' | b'\r' | b'\t' | 0 => done = true,
                    b'"' => inq = true,
                    b'\'' => insq = true,
                    _ => cur.push(c),
                }
            }
            if at(p) != 0 {
                p += 1;
            }
        }
        out.push(cur);
    }
}

fn msg(prefix: &str, arg: &[u8]) -> Vec<u8> {
    let mut v = prefix.as_bytes().to_vec();
    v.extend_from_slice(arg);
    v
}

/// The flags of an EVAL body and the length of its shebang line (0 when it
/// has none: then `declared` is false). `Err` holds Redis's message
/// without the `ERR ` prefix.
pub fn eval_shebang(body: &[u8]) -> Result<(ScriptFlags, usize), Vec<u8>> {
    if !body.starts_with(b"#!") {
        return Ok((ScriptFlags::default(), 0));
    }
    let line_end = match c_str(body).iter().position(|&c| c == b'\n') {
        Some(n) => n,
        None => return Err(b"Invalid script shebang".to_vec()),
    };
    let parts = match split_args(&body[..line_end]) {
        Some(p) if !p.is_empty() => p,
        _ => return Err(b"Invalid engine in script shebang".to_vec()),
    };
    if parts[0] != b"#!lua" {
        return Err(msg("Unexpected engine in script shebang: ", &parts[0]));
    }
    let mut bits = 0u8;
    for part in &parts[1..] {
        if let Some(list) = part.strip_prefix(b"flags=") {
            if list.is_empty() {
                continue;
            }
            for flag in list.split(|&c| c == b',') {
                match flag_bit(flag) {
                    Some(b) => bits |= b,
                    None => return Err(msg("Unexpected flag in script shebang: ", flag)),
                }
            }
        } else {
            return Err(msg("Unknown lua shebang option: ", part));
        }
    }
    Ok((to_flags(bits), line_end))
}

/// What the first line of FUNCTION LOAD code declares.
#[derive(Debug, PartialEq, Eq)]
pub struct LibraryMeta {
    /// The engine named after `#!` (not yet checked).
    pub engine: Vec<u8>,
    pub name: Vec<u8>,
    /// Where the code handed to the engine starts: at the newline that ends
    /// the first line, so line numbers stay those of the full text.
    pub code_start: usize,
}

/// Parses `#!<engine> name=<lib>`; `Err` holds Redis's message without the
/// `ERR ` prefix.
pub fn library_meta(code: &[u8]) -> Result<LibraryMeta, Vec<u8>> {
    if !code.starts_with(b"#!") {
        return Err(b"Missing library metadata".to_vec());
    }
    let line_end = match c_str(code).iter().position(|&c| c == b'\n') {
        Some(n) => n,
        None => return Err(b"Invalid library metadata".to_vec()),
    };
    let parts = match split_args(&code[..line_end]) {
        Some(p) if !p.is_empty() => p,
        _ => return Err(b"Invalid library metadata".to_vec()),
    };
    let engine = parts[0].get(2..).unwrap_or_default().to_vec();
    let mut name: Option<Vec<u8>> = None;
    for part in &parts[1..] {
        if part.len() >= 5 && part[..5].eq_ignore_ascii_case(b"name=") {
            if name.is_some() {
                return Err(b"Invalid metadata value, name argument was given multiple times".to_vec());
            }
            name = Some(part[5..].to_vec());
            continue;
        }
        return Err(msg("Invalid metadata value given: ", part));
    }
    match name {
        Some(name) => Ok(LibraryMeta {
            engine,
            name,
            code_start: line_end,
        }),
        None => Err(b"Library name was not given".to_vec()),
    }
}

/// Library and function names: letters, digits and underscores, at least one.
pub fn valid_name(name: &[u8]) -> bool {
    !name.is_empty() && name.iter().all(|&c| c.is_ascii_alphanumeric() || c == b'_')
}

#[cfg(test)]
mod tests {
    use super::*;

    fn split(s: &str) -> Option<Vec<String>> {
        split_args(s.as_bytes()).map(|v| v.into_iter().map(|a| String::from_utf8(a).unwrap()).collect())
    }

    #[test]
    fn splits_like_sdssplitargs() {
        assert_eq!(
            split("#!lua  flags=a,b "),
            Some(vec!["#!lua".into(), "flags=a,b".into()])
        );
        assert_eq!(split("#!\"lua\" x"), Some(vec!["#!lua".into(), "x".into()]));
        assert_eq!(split("name=\"foo\""), Some(vec!["name=foo".into()]));
        assert_eq!(split("\"a\\x41\\n\""), Some(vec!["aA\n".into()]));
        assert_eq!(split("'it\\'s'"), Some(vec!["it's".into()]));
        assert_eq!(split("\"ab\"c"), None);
        assert_eq!(split("\"ab"), None);
        assert_eq!(split("   "), Some(vec![]));
        assert_eq!(split(""), Some(vec![]));
    }

    #[test]
    fn eval_shebangs() {
        assert_eq!(eval_shebang(b"return 1"), Ok((ScriptFlags::default(), 0)));
        let (f, n) = eval_shebang(b"#!lua flags=no-writes,allow-oom\nreturn 1").unwrap();
        assert_eq!(n, 31);
        assert!(f.declared && f.no_writes && f.allow_oom && !f.allow_stale);
        let (f, _) = eval_shebang(b"#!lua\nreturn 1").unwrap();
        assert_eq!(f, to_flags(0));
        assert_eq!(eval_shebang(b"#!lua flags=\nreturn 1").unwrap().0, to_flags(0));
        let e = |s: &str| String::from_utf8(eval_shebang(s.as_bytes()).unwrap_err()).unwrap();
        assert_eq!(e("#!lua flags=no-writes,bad"), "Invalid script shebang");
        assert_eq!(e("#!lua"), "Invalid script shebang");
        assert_eq!(e("#!lua x=y\nreturn 1"), "Unknown lua shebang option: x=y");
        assert_eq!(e("#!luax\nreturn 1"), "Unexpected engine in script shebang: #!luax");
        assert_eq!(e("#!\nreturn 1"), "Unexpected engine in script shebang: #!");
        assert_eq!(e("#! lua\nreturn 1"), "Unexpected engine in script shebang: #!");
        assert_eq!(
            e("#!lua flags=allow-oom,what?\n"),
            "Unexpected flag in script shebang: what?"
        );
        assert_eq!(e("#!lua flags=a,,b\n"), "Unexpected flag in script shebang: a");
        assert_eq!(e("#!\"lua\n"), "Invalid engine in script shebang");
    }

    #[test]
    fn library_metadata() {
        let m = library_meta(b"#!lua name=lib\nredis.register_function()").unwrap();
        assert_eq!(m.engine, b"lua");
        assert_eq!(m.name, b"lib");
        assert_eq!(m.code_start, 14);
        assert_eq!(library_meta(b"#!LUA NAME=\"foo\"\nx").unwrap().name, b"foo");
        let e = |s: &str| String::from_utf8(library_meta(s.as_bytes()).unwrap_err()).unwrap();
        assert_eq!(e("lua name=x\n"), "Missing library metadata");
        assert_eq!(e("#!lua name=x"), "Invalid library metadata");
        assert_eq!(e("#!lua\nx"), "Library name was not given");
        assert_eq!(e("#!lua name=test foo=bar\nx"), "Invalid metadata value given: foo=bar");
        assert_eq!(
            e("#!lua name=foo name=bar\nx"),
            "Invalid metadata value, name argument was given multiple times"
        );
        assert_eq!(library_meta(b"#! name=test\nx").unwrap().engine, b"");
    }

    #[test]
    fn names() {
        assert!(valid_name(b"lib_1"));
        assert!(!valid_name(b""));
        assert!(!valid_name(b"a-b"));
        assert!(!valid_name(b"a\0b"));
        assert_eq!(flag_bit_nocase(b"NO-WRITES"), Some(NO_WRITES));
        assert_eq!(flag_bit(b"NO-WRITES"), None);
    }
}
