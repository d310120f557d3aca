//! Every error reply text, defined once, byte for byte as Redis sends them
//! (without the leading `-` and trailing CRLF).

pub const WRONGTYPE: &str = "WRONGTYPE Operation against a key holding the wrong kind of value";
pub const SYNTAX: &str = "ERR syntax error";
pub const NOT_INTEGER: &str = "ERR value is not an integer or out of range";
pub const NOT_FLOAT: &str = "ERR value is not a valid float";
pub const OVERFLOW: &str = "ERR increment or decrement would overflow";
pub const INCR_NAN_INF: &str = "ERR increment would produce NaN or Infinity";
pub const NO_SUCH_KEY: &str = "ERR no such key";
pub const DB_INDEX: &str = "ERR DB index is out of range";
pub const INT_RANGE: &str = "ERR value is out of range, value must between -2147483648 and 2147483647";
pub const INVALID_DB_INDEX: &str = "ERR invalid DB index";
pub const SAME_OBJECT: &str = "ERR source and destination objects are the same";
pub const STRING_TOO_LONG: &str = "ERR string exceeds maximum allowed size (proto-max-bulk-len)";
pub const OFFSET_RANGE: &str = "ERR offset is out of range";
pub const BIT_OFFSET: &str = "ERR bit offset is not an integer or out of range";
pub const BIT_VALUE: &str = "ERR bit is not an integer or out of range";
pub const NOAUTH: &str = "NOAUTH Authentication required.";
pub const WRONGPASS: &str = "WRONGPASS invalid username-password pair or user is disabled.";
pub const AUTH_NOT_CONFIGURED: &str = "ERR AUTH <password> called without any password configured for the default user. Are you sure your configuration is correct?";
pub const NOPROTO: &str = "NOPROTO unsupported protocol version";
pub const PROTOCOL_VERSION_NOT_INT: &str = "ERR Protocol version is not an integer or out of range";
pub const CLIENT_NAME_SPACES: &str = "ERR Client names cannot contain spaces, newlines or special characters.";
pub const NO_SUCH_CLIENT: &str = "ERR No such client";
pub const TIMEOUT_NEGATIVE: &str = "ERR timeout is negative";
pub const TIMEOUT_NOT_FLOAT: &str = "ERR timeout is not a float or out of range";
pub const CURSOR: &str = "ERR invalid cursor";
pub const EXPIRE_NX_XX_GT_LT: &str =
    "ERR NX and XX, GT or LT options at the same time are not compatible";
pub const EXPIRE_GT_LT: &str = "ERR GT and LT options at the same time are not compatible";
pub const LCS_IDX_LEN: &str =
    "ERR If you want both the length and indexes, please just use IDX.";
pub const GETEX_PERSIST: &str = "ERR syntax error";
pub const LFU_NOT_SELECTED: &str = "ERR An LFU maxmemory policy is not selected, access frequency not tracked. Please note that when switching between policies at runtime LRU and LFU data will take some time to adjust.";
pub const LRU_NOT_SELECTED: &str = "ERR An LRU maxmemory policy is selected, idle time not tracked. Please note that when switching between policies at runtime LRU and LFU data will take some time to adjust.";
pub const DEBUG_UNKNOWN: &str = "ERR unknown subcommand or wrong number of arguments for";

/// `ERR wrong number of arguments for '<name>' command`
pub fn arity(name: &str) -> String {
    format!("ERR wrong number of arguments for '{}' command", name)
}

/// `ERR invalid expire time in '<name>' command`
pub fn invalid_expire(name: &str) -> String {
    format!("ERR invalid expire time in '{}' command", name)
}

/// The bytes of `arg` as C's `%s` would print them: up to the first NUL.
fn c_str(arg: &[u8]) -> &[u8] {
    match arg.iter().position(|&b| b == 0) {
        Some(n) => &arg[..n],
        None => arg,
    }
}

/// `prefix` + `arg` (as `%s`) + `suffix`, as raw bytes: Redis copies
/// argument bytes into errors unchanged.
pub fn with_arg(prefix: &str, arg: &[u8], suffix: &str) -> Vec<u8> {
    let mut v = prefix.as_bytes().to_vec();
    v.extend_from_slice(c_str(arg));
    v.extend_from_slice(suffix.as_bytes());
    v
}

/// `ERR unknown subcommand '<sub>'. Try <CMD> HELP.`
pub fn unknown_subcommand(sub: &[u8], cmd: &str) -> Vec<u8> {
    let sub = c_str(sub);
    let mut v = b"ERR unknown subcommand '".to_vec();
    v.extend_from_slice(&sub[..sub.len().min(128)]);
    v.extend_from_slice(format!("'. Try {} HELP.", cmd.to_ascii_uppercase()).as_bytes());
    v
}

/// The unknown-command error with its "args beginning with" tail.
pub fn unknown_command(name: &[u8], rest: &mut dyn Iterator<Item = &[u8]>) -> Vec<u8> {
    let name = c_str(name);
    let mut tail: Vec<u8> = Vec::new();
    for a in rest {
        if tail.len() >= 128 {
            break;
        }
        let room = 128 - tail.len();
        let a = c_str(a);
        tail.push(b'\'');
        tail.extend_from_slice(&a[..a.len().min(room)]);
        tail.extend_from_slice(b"' ");
    }
    let mut v = b"ERR unknown command '".to_vec();
    v.extend_from_slice(&name[..name.len().min(128)]);
    v.extend_from_slice(b"', with args beginning with: ");
    v.extend_from_slice(&tail);
    v
}
