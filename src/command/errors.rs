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
pub const CURSOR: &str = "ERR invalid cursor";
pub const EXPIRE_NX_XX_GT_LT: &str = "ERR NX and XX, GT or LT options at the same time are not compatible";
pub const EXPIRE_GT_LT: &str = "ERR GT and LT options at the same time are not compatible";
pub const LCS_IDX_LEN: &str = "ERR If you want both the length and indexes, please just use IDX.";
pub const OOM: &str = "OOM command not allowed when used memory > 'maxmemory'.";
pub const IDLETIME_UNDER_LFU: &str = "ERR An LFU maxmemory policy is selected, idle time not tracked. Please note that when switching between policies at runtime LRU and LFU data will take some time to adjust.";
pub const LFU_NOT_SELECTED: &str = "ERR An LFU maxmemory policy is not selected, access frequency not tracked. Please note that when switching between policies at runtime LRU and LFU data will take some time to adjust.";
pub const DEBUG_UNKNOWN: &str = "ERR unknown subcommand or wrong number of arguments for";

pub const DEBUG_NOT_ALLOWED: &str = "ERR DEBUG command not allowed. If the enable-debug-command option is set to \"local\", you can run it from a local connection, otherwise you need to set this option in the configuration file, and then restart the server.";
pub const RESP2_NOT_SUPPORTED: &str = "ERR RESP2 is not supported by this command";
pub const DEBUG_PROTOCOL_TYPE: &str = "ERR Wrong protocol type name. Please use one of the following: string|integer|double|bignum|null|array|set|map|attrib|push|verbatim|true|false";
pub const GETKEYS_INVALID_COMMAND: &str = "ERR Invalid command specified";
pub const GETKEYS_NO_KEYS: &str = "ERR The command has no key arguments";
pub const GETKEYS_ARITY: &str = "ERR Invalid number of arguments specified for command";
pub const GETKEYS_INVALID_ARGS: &str = "ERR Invalid arguments specified for command";
pub const NO_SHUTDOWN: &str = "ERR No shutdown in progress.";
pub const SHUTDOWN_FAILED: &str = "ERR Errors trying to SHUTDOWN. Check logs.";
pub const INVALID_FIRST_DB: &str = "ERR invalid first DB index";
pub const INVALID_SECOND_DB: &str = "ERR invalid second DB index";
pub const INVALID_CLIENT_ID: &str = "ERR Invalid client ID";
pub const CLIENT_ID_POSITIVE: &str = "ERR client-id should be greater than 0";
pub const MAXAGE_NOT_INTEGER: &str = "ERR maxage is not an integer or out of range";
pub const MAXAGE_POSITIVE: &str = "ERR maxage should be greater than 0";
pub const DECREMENT_OVERFLOW: &str = "ERR decrement would overflow";
pub const LCS_NOT_STRINGS: &str = "ERR The specified keys must contain string values";
pub const LCS_TOO_BIG: &str = "ERR Insufficient memory, transient memory for LCS exceeds proto-max-bulk-len";
pub const UNBLOCK_REASON: &str = "ERR CLIENT UNBLOCK reason should be TIMEOUT or ERROR";
pub const MUST_BE_POSITIVE: &str = "ERR value is out of range, must be positive";
pub const NUMKEYS_POSITIVE: &str = "ERR numkeys should be greater than 0";
pub const COUNT_GT_ZERO: &str = "ERR count should be greater than 0";
pub const OUT_OF_RANGE: &str = "ERR value is out of range";
pub const LIMIT_NEGATIVE: &str = "ERR LIMIT can't be negative";
/// Redis's getRangeLongFromObjectOrReply(-LONG_MAX, LONG_MAX) error (LPOS
/// RANK, the RANDMEMBER/RANDFIELD counts).
pub const LONG_RANGE: &str =
    "ERR value is out of range, value must between -9223372036854775807 and 9223372036854775807";
pub const CROSSSLOT: &str = "CROSSSLOT Keys in request don't hash to the same slot";
pub const HELLO_NOAUTH: &str = "NOAUTH HELLO must be called with the client already authenticated, otherwise the HELLO <proto> AUTH <user> <pass> option can be used to authenticate the client and select the RESP protocol version at the same time";

/// `ERR CONFIG SET failed (possibly related to argument '<name>') - <why>`
pub fn config_set_failed(name: &str, why: &str) -> String {
    format!(
        "ERR CONFIG SET failed (possibly related to argument '{}') - {}",
        name, why
    )
}

/// `ERR Protocol error: <what>` (the reply before closing on bad framing).
pub fn protocol_error(what: &str) -> String {
    format!("ERR Protocol error: {}", what)
}

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

/// `ERR unknown subcommand or wrong number of arguments for '<sub>'. Try <CMD> HELP.`
pub fn subcommand_syntax(sub: &[u8], cmd: &str) -> Vec<u8> {
    let mut v = with_arg("ERR unknown subcommand or wrong number of arguments for '", sub, "'");
    v.extend_from_slice(format!(". Try {} HELP.", cmd.to_ascii_uppercase()).as_bytes());
    v
}

pub const CACHING_NEEDS_OPT: &str =
    "ERR CLIENT CACHING can be called only when the client is in tracking mode with OPTIN or OPTOUT mode enabled";
pub const CACHING_YES_NEEDS_OPTIN: &str =
    "ERR CLIENT CACHING YES is only valid when tracking is enabled in OPTIN mode.";
pub const CACHING_NO_NEEDS_OPTOUT: &str =
    "ERR CLIENT CACHING NO is only valid when tracking is enabled in OPTOUT mode.";
pub const TRACKING_REDIRECT_MISSING: &str = "ERR The client ID you want redirect to does not exist";
pub const TRACKING_PREFIX_NEEDS_BCAST: &str = "ERR PREFIX option requires BCAST mode to be enabled";
pub const TRACKING_SWITCH_BCAST: &str = "ERR You can't switch BCAST mode on/off before disabling tracking for this client, and then re-enabling it with a different mode.";
pub const TRACKING_BCAST_OPT: &str = "ERR OPTIN and OPTOUT are not compatible with BCAST";
pub const TRACKING_OPTIN_OPTOUT: &str = "ERR You can't specify both OPTIN mode and OPTOUT mode";
pub const TRACKING_SWITCH_OPT: &str = "ERR You can't switch OPTIN/OPTOUT mode before disabling tracking for this client, and then re-enabling it with a different mode.";
pub const SSUBSCRIBE_DENY_BLOCKING: &str = "ERR SSUBSCRIBE isn't allowed for a DENY BLOCKING client";

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
pub const CLIENT_PAUSE_MODE: &str = "ERR CLIENT PAUSE mode must be WRITE or ALL";
pub const TIMEOUT_OUT_OF_RANGE: &str = "ERR timeout is out of range";

// DUMP / RESTORE.
pub const BUSYKEY: &str = "BUSYKEY Target key name already exists.";
pub const DUMP_PAYLOAD: &str = "ERR DUMP payload version or checksum are wrong";
pub const BAD_DATA_FORMAT: &str = "ERR Bad data format";
pub const INVALID_TTL: &str = "ERR Invalid TTL value, must be >= 0";
pub const INVALID_IDLETIME: &str = "ERR Invalid IDLETIME value, must be >= 0";
pub const INVALID_FREQ: &str = "ERR Invalid FREQ value, must be >= 0 and <= 255";
