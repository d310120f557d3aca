//! `cjson`: JSON for scripts, as Redis bundles it (lua-cjson 2.1.0 with
//! Redis's patches).
//!
//! Behaviour kept from the C library, all of it visible to scripts:
//! - numbers are printed with `%.14g` (`encode_number_precision` 1..14) and
//!   parsed with C's `strtod` (so `0x10`, `inf`, `nan`, `+1` decode while
//!   `decode_invalid_numbers` is on, the default);
//! - `/` is escaped as `\/`, control bytes and 0x7f as `\u00XX`; other bytes
//!   (invalid UTF-8 too) pass through untouched;
//! - a table is an array when its keys are all positive integers and it is
//!   not "excessively sparse", else an object; `{}` encodes as `{}`;
//! - `null` decodes to `cjson.null`, a NULL lightuserdata;
//! - the decoder stops at a NUL byte, as the C parser does;
//! - nesting limits default to 1000 both ways and Lua's stack limit still
//!   applies beyond them;
//! - each configuration function returns the current setting(s); the
//!   settings belong to the module table (`cjson.new()` makes another).
//!
//! Error texts are the C library's ("Cannot serialise ...", "Expected value
//! but found invalid token at character 1", ...).

use std::ffi::{c_char, c_int, CStr};

use mlua::ffi;

use super::lua_api::{
    arg_check, bytes_with_nul, c_double_to_int, check_bytes, check_integer, finish, format_g, push_bytes,
    set_functions, set_string_field, to_bytes, type_name, until_nul, LuaResult, Raise, State,
};

const MODULE_NAME: &str = "cjson";
const MODULE_VERSION: &str = "2.1.0";

/// Settings of one cjson module table, kept in a userdata that every
/// function of the table has as its first upvalue.
#[repr(C)]
#[derive(Clone, Copy)]
struct Config {
    encode_sparse_convert: c_int,
    encode_sparse_ratio: c_int,
    encode_sparse_safe: c_int,
    encode_max_depth: c_int,
    /// 0: refuse NaN/Inf, 1: write them (`nan`, `inf`), 2: write `null`.
    encode_invalid_numbers: c_int,
    encode_number_precision: c_int,
    encode_keep_buffer: c_int,
    decode_invalid_numbers: c_int,
    decode_max_depth: c_int,
}

const DEFAULT_CONFIG: Config = Config {
    encode_sparse_convert: 0,
    encode_sparse_ratio: 2,
    encode_sparse_safe: 10,
    encode_max_depth: 1000,
    encode_invalid_numbers: 0,
    encode_number_precision: 14,
    encode_keep_buffer: 1,
    decode_invalid_numbers: 1,
    decode_max_depth: 1000,
};

/// Creates the `cjson` table and stores it in the global `cjson`.
///
/// # Safety
/// `state` is a valid Lua state with a few free stack slots.
pub(crate) unsafe fn open(state: State) {
    push_module(state);
    ffi::lua_setfield(state, ffi::LUA_GLOBALSINDEX, c"cjson".as_ptr());
}

/// Pushes a new module table with its own configuration.
unsafe fn push_module(state: State) {
    let functions: [(&CStr, ffi::lua_CFunction); 10] = [
        (c"encode", json_encode),
        (c"decode", json_decode),
        (c"encode_sparse_array", json_cfg_encode_sparse_array),
        (c"encode_max_depth", json_cfg_encode_max_depth),
        (c"decode_max_depth", json_cfg_decode_max_depth),
        (c"encode_number_precision", json_cfg_encode_number_precision),
        (c"encode_keep_buffer", json_cfg_encode_keep_buffer),
        (c"encode_invalid_numbers", json_cfg_encode_invalid_numbers),
        (c"decode_invalid_numbers", json_cfg_decode_invalid_numbers),
        (c"new", json_new),
    ];
    // Built as the C library builds it (empty table, same field order), so
    // that pairs(cjson) walks it in Redis's order.
    ffi::lua_createtable(state, 0, 0);
    let config = ffi::lua_newuserdata(state, std::mem::size_of::<Config>()) as *mut Config;
    config.write(DEFAULT_CONFIG);
    set_functions(state, &functions, 1);
    ffi::lua_pushlightuserdata(state, std::ptr::null_mut());
    ffi::lua_setfield(state, -2, c"null".as_ptr());
    set_string_field(state, c"_NAME", MODULE_NAME);
    set_string_field(state, c"_VERSION", MODULE_VERSION);
}

/// The configuration of the running function's module table.
unsafe fn config(state: State) -> *mut Config {
    ffi::lua_touserdata(state, ffi::lua_upvalueindex(1)) as *mut Config
}

unsafe extern "C-unwind" fn json_new(state: State) -> c_int {
    push_module(state);
    1
}

// ===== Configuration =====

/// Checks the argument count, pads missing arguments with nil.
unsafe fn arg_init(state: State, args: c_int) -> LuaResult<*mut Config> {
    arg_check(ffi::lua_gettop(state) <= args, args + 1, "found too many arguments")?;
    while ffi::lua_gettop(state) < args {
        ffi::lua_pushnil(state);
    }
    Ok(config(state))
}

/// Sets `setting` from an integer argument in `min..=max` (when not nil),
/// then pushes it. Range errors name argument 1 whatever `index` is, as the
/// C library does.
unsafe fn integer_option(state: State, index: c_int, setting: *mut c_int, min: c_int, max: c_int) -> LuaResult<()> {
    if ffi::lua_isnil(state, index) == 0 {
        let value = check_integer(state, index)? as c_int;
        arg_check(
            min <= value && value <= max,
            1,
            &format!("expected integer between {min} and {max}"),
        )?;
        *setting = value;
    }
    ffi::lua_pushinteger(state, *setting as ffi::lua_Integer);
    Ok(())
}

const BOOL_OPTIONS: [&str; 2] = ["off", "on"];

/// Sets `setting` from a boolean or one of `options` (when not nil), then
/// pushes it: as a boolean when it is 0 or `bool_true`, else as its name.
unsafe fn enum_option(
    state: State,
    index: c_int,
    setting: *mut c_int,
    options: &[&str],
    bool_true: c_int,
) -> LuaResult<()> {
    if ffi::lua_isnil(state, index) == 0 {
        if bool_true != 0 && ffi::lua_isboolean(state, index) != 0 {
            *setting = ffi::lua_toboolean(state, index) * bool_true;
        } else {
            *setting = check_option(state, index, options)?;
        }
    }
    if bool_true != 0 && (*setting == 0 || *setting == bool_true) {
        ffi::lua_pushboolean(state, *setting);
    } else {
        push_bytes(state, options[*setting as usize].as_bytes());
    }
    Ok(())
}

/// `luaL_checkoption` without a default.
unsafe fn check_option(state: State, index: c_int, options: &[&str]) -> LuaResult<c_int> {
    let name = until_nul(check_bytes(state, index)?);
    match options.iter().position(|option| option.as_bytes() == name) {
        Some(position) => Ok(position as c_int),
        None => {
            let mut message = b"invalid option '".to_vec();
            message.extend_from_slice(name);
            message.push(b'\'');
            Err(Raise::Arg(index, message))
        }
    }
}

unsafe extern "C-unwind" fn json_cfg_encode_sparse_array(state: State) -> c_int {
    finish(state, cfg_encode_sparse_array(state))
}

/// `cjson.encode_sparse_array([convert[, ratio[, safe]]])` → convert, ratio, safe.
unsafe fn cfg_encode_sparse_array(state: State) -> LuaResult<c_int> {
    let config = arg_init(state, 3)?;
    enum_option(state, 1, &raw mut (*config).encode_sparse_convert, &BOOL_OPTIONS, 1)?;
    integer_option(state, 2, &raw mut (*config).encode_sparse_ratio, 0, c_int::MAX)?;
    integer_option(state, 3, &raw mut (*config).encode_sparse_safe, 0, c_int::MAX)?;
    Ok(3)
}

unsafe extern "C-unwind" fn json_cfg_encode_max_depth(state: State) -> c_int {
    finish(
        state,
        cfg_integer(state, |config| &raw mut (*config).encode_max_depth, 1, c_int::MAX),
    )
}

unsafe extern "C-unwind" fn json_cfg_decode_max_depth(state: State) -> c_int {
    finish(
        state,
        cfg_integer(state, |config| &raw mut (*config).decode_max_depth, 1, c_int::MAX),
    )
}

unsafe extern "C-unwind" fn json_cfg_encode_number_precision(state: State) -> c_int {
    finish(
        state,
        cfg_integer(state, |config| &raw mut (*config).encode_number_precision, 1, 14),
    )
}

/// A one-argument integer setting: `cjson.encode_max_depth([depth])` → depth.
unsafe fn cfg_integer(
    state: State,
    field: unsafe fn(*mut Config) -> *mut c_int,
    min: c_int,
    max: c_int,
) -> LuaResult<c_int> {
    let config = arg_init(state, 1)?;
    integer_option(state, 1, field(config), min, max)?;
    Ok(1)
}

unsafe extern "C-unwind" fn json_cfg_encode_keep_buffer(state: State) -> c_int {
    // The setting is kept and reported; the encoder always builds its text
    // in a fresh buffer, which is what "off" means and is invisible to scripts.
    finish(state, cfg_bool(state, |config| &raw mut (*config).encode_keep_buffer))
}

unsafe extern "C-unwind" fn json_cfg_decode_invalid_numbers(state: State) -> c_int {
    finish(
        state,
        cfg_bool(state, |config| &raw mut (*config).decode_invalid_numbers),
    )
}

/// A one-argument on/off setting → the setting as a boolean.
unsafe fn cfg_bool(state: State, field: unsafe fn(*mut Config) -> *mut c_int) -> LuaResult<c_int> {
    let config = arg_init(state, 1)?;
    enum_option(state, 1, field(config), &BOOL_OPTIONS, 1)?;
    Ok(1)
}

unsafe extern "C-unwind" fn json_cfg_encode_invalid_numbers(state: State) -> c_int {
    finish(state, cfg_encode_invalid_numbers(state))
}

/// `cjson.encode_invalid_numbers([true|false|"on"|"off"|"null"])` → the
/// setting (a boolean, or "null").
unsafe fn cfg_encode_invalid_numbers(state: State) -> LuaResult<c_int> {
    let config = arg_init(state, 1)?;
    enum_option(
        state,
        1,
        &raw mut (*config).encode_invalid_numbers,
        &["off", "on", "null"],
        1,
    )?;
    Ok(1)
}

// ===== Encoding =====

/// Escapes of the bytes that cannot appear as themselves in a JSON string.
fn escape(byte: u8) -> Option<&'static [u8]> {
    const CONTROL: [&[u8]; 32] = [
        b"\\u0000", b"\\u0001", b"\\u0002", b"\\u0003", b"\\u0004", b"\\u0005", b"\\u0006", b"\\u0007", b"\\b", b"\\t",
        b"\\n", b"\\u000b", b"\\f", b"\\r", b"\\u000e", b"\\u000f", b"\\u0010", b"\\u0011", b"\\u0012", b"\\u0013",
        b"\\u0014", b"\\u0015", b"\\u0016", b"\\u0017", b"\\u0018", b"\\u0019", b"\\u001a", b"\\u001b", b"\\u001c",
        b"\\u001d", b"\\u001e", b"\\u001f",
    ];
    match byte {
        0..=31 => Some(CONTROL[byte as usize]),
        b'"' => Some(b"\\\""),
        b'/' => Some(b"\\/"),
        b'\\' => Some(b"\\\\"),
        127 => Some(b"\\u007f"),
        _ => None,
    }
}

fn append_string(out: &mut Vec<u8>, bytes: &[u8]) {
    out.reserve(bytes.len() + 2);
    out.push(b'"');
    let mut start = 0;
    for (position, &byte) in bytes.iter().enumerate() {
        if let Some(escaped) = escape(byte) {
            out.extend_from_slice(&bytes[start..position]);
            out.extend_from_slice(escaped);
            start = position + 1;
        }
    }
    out.extend_from_slice(&bytes[start..]);
    out.push(b'"');
}

fn encode_exception(type_name: &str, reason: &str) -> Raise {
    Raise::error(format!("Cannot serialise {type_name}: {reason}"))
}

/// Writes the number at `index`, or refuses NaN/Inf as configured.
unsafe fn append_number(state: State, config: &Config, out: &mut Vec<u8>, index: c_int) -> LuaResult<()> {
    let number = ffi::lua_tonumber(state, index);
    match config.encode_invalid_numbers {
        0 => {
            if number.is_infinite() || number.is_nan() {
                return Err(encode_exception(type_name(state, index), "must not be NaN or Inf"));
            }
        }
        1 => {
            // Written apart: some C libraries print NaN as "-nan".
            if number.is_nan() {
                out.extend_from_slice(b"nan");
                return Ok(());
            }
        }
        _ => {
            if number.is_infinite() || number.is_nan() {
                out.extend_from_slice(b"null");
                return Ok(());
            }
        }
    }
    format_g(out, number, config.encode_number_precision);
    Ok(())
}

/// For the table on top of the stack: its array length when all its keys
/// are positive integers, 0 when empty, -1 when it must be an object.
/// Refuses (or turns into an object) an excessively sparse array.
unsafe fn array_length(state: State, config: &Config) -> LuaResult<c_int> {
    let mut max: c_int = 0;
    let mut items: c_int = 0;
    ffi::lua_pushnil(state);
    while ffi::lua_next(state, -2) != 0 {
        if ffi::lua_type(state, -2) == ffi::LUA_TNUMBER {
            let key = ffi::lua_tonumber(state, -2);
            if key != 0.0 && key.floor() == key && key >= 1.0 {
                if key > max as f64 {
                    max = c_double_to_int(key);
                }
                items = items.wrapping_add(1);
                ffi::lua_settop(state, -2);
                continue;
            }
        }
        ffi::lua_settop(state, -3);
        return Ok(-1);
    }
    if config.encode_sparse_ratio > 0
        && max > items.wrapping_mul(config.encode_sparse_ratio)
        && max > config.encode_sparse_safe
    {
        if config.encode_sparse_convert == 0 {
            return Err(encode_exception(type_name(state, -1), "excessively sparse array"));
        }
        return Ok(-1);
    }
    Ok(max)
}

/// A table being written. Its Lua stack layout: the table, then (objects)
/// the key of the current entry, then the value being written.
enum EncodeFrame {
    Array { length: c_int, next: c_int },
    Object { first: bool },
}

/// Where the encoder is.
enum EncodeStep {
    /// The value on top of the stack is to be written.
    Start,
    /// The value on top of the stack has been written.
    Done,
    /// The table on top of the stack (objects: below its current key)
    /// continues with its next entry.
    Next,
}

/// Writes the value on top of the stack as JSON. Iterative rather than
/// recursive: nesting may go as deep as Lua's stack allows.
unsafe fn encode_value(state: State, config: &Config, out: &mut Vec<u8>) -> LuaResult<()> {
    let mut frames: Vec<EncodeFrame> = Vec::new();
    let mut depth: c_int = 0;
    let mut step = EncodeStep::Start;
    loop {
        step = match step {
            EncodeStep::Start => match ffi::lua_type(state, -1) {
                ffi::LUA_TSTRING => {
                    append_string(out, to_bytes(state, -1));
                    EncodeStep::Done
                }
                ffi::LUA_TNUMBER => {
                    append_number(state, config, out, -1)?;
                    EncodeStep::Done
                }
                ffi::LUA_TBOOLEAN => {
                    let text: &[u8] = if ffi::lua_toboolean(state, -1) != 0 {
                        b"true"
                    } else {
                        b"false"
                    };
                    out.extend_from_slice(text);
                    EncodeStep::Done
                }
                ffi::LUA_TNIL => {
                    out.extend_from_slice(b"null");
                    EncodeStep::Done
                }
                ffi::LUA_TLIGHTUSERDATA if ffi::lua_touserdata(state, -1).is_null() => {
                    out.extend_from_slice(b"null");
                    EncodeStep::Done
                }
                ffi::LUA_TTABLE => {
                    depth += 1;
                    // Room to walk the table (key, value) plus an error message.
                    if depth > config.encode_max_depth || ffi::lua_checkstack(state, 3) == 0 {
                        return Err(Raise::error(format!("Cannot serialise, excessive nesting ({depth})")));
                    }
                    let length = array_length(state, config)?;
                    if length > 0 {
                        out.push(b'[');
                        frames.push(EncodeFrame::Array { length, next: 1 });
                    } else {
                        out.push(b'{');
                        ffi::lua_pushnil(state);
                        frames.push(EncodeFrame::Object { first: true });
                    }
                    EncodeStep::Next
                }
                _ => return Err(encode_exception(type_name(state, -1), "type not supported")),
            },
            EncodeStep::Done => {
                if frames.is_empty() {
                    return Ok(());
                }
                ffi::lua_settop(state, -2);
                EncodeStep::Next
            }
            EncodeStep::Next => match frames.last_mut() {
                Some(EncodeFrame::Array { length, next }) => {
                    if *next > *length {
                        out.push(b']');
                        frames.pop();
                        depth -= 1;
                        EncodeStep::Done
                    } else {
                        if *next > 1 {
                            out.push(b',');
                        }
                        ffi::lua_rawgeti_(state, -1, *next);
                        *next += 1;
                        EncodeStep::Start
                    }
                }
                Some(EncodeFrame::Object { first }) => {
                    if ffi::lua_next(state, -2) == 0 {
                        out.push(b'}');
                        frames.pop();
                        depth -= 1;
                        EncodeStep::Done
                    } else {
                        if !*first {
                            out.push(b',');
                        }
                        *first = false;
                        match ffi::lua_type(state, -2) {
                            ffi::LUA_TNUMBER => {
                                out.push(b'"');
                                append_number(state, config, out, -2)?;
                                out.extend_from_slice(b"\":");
                            }
                            ffi::LUA_TSTRING => {
                                append_string(out, to_bytes(state, -2));
                                out.push(b':');
                            }
                            _ => {
                                return Err(encode_exception(
                                    type_name(state, -2),
                                    "table key must be a number or string",
                                ))
                            }
                        }
                        EncodeStep::Start
                    }
                }
                None => unreachable!("a table step without a table"),
            },
        };
    }
}

unsafe extern "C-unwind" fn json_encode(state: State) -> c_int {
    finish(state, encode(state))
}

/// `cjson.encode(value)` → the JSON text.
unsafe fn encode(state: State) -> LuaResult<c_int> {
    let config = *config(state);
    arg_check(ffi::lua_gettop(state) == 1, 1, "expected 1 argument")?;
    let mut out = Vec::new();
    encode_value(state, &config, &mut out)?;
    push_bytes(state, &out);
    Ok(1)
}

// ===== Decoding =====

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum TokenType {
    ObjBegin,
    ObjEnd,
    ArrBegin,
    ArrEnd,
    String,
    Number,
    Boolean,
    Null,
    Colon,
    Comma,
    End,
    Whitespace,
    Error,
    Unknown,
}

impl TokenType {
    fn name(self) -> &'static str {
        match self {
            TokenType::ObjBegin => "T_OBJ_BEGIN",
            TokenType::ObjEnd => "T_OBJ_END",
            TokenType::ArrBegin => "T_ARR_BEGIN",
            TokenType::ArrEnd => "T_ARR_END",
            TokenType::String => "T_STRING",
            TokenType::Number => "T_NUMBER",
            TokenType::Boolean => "T_BOOLEAN",
            TokenType::Null => "T_NULL",
            TokenType::Colon => "T_COLON",
            TokenType::Comma => "T_COMMA",
            TokenType::End => "T_END",
            TokenType::Whitespace => "T_WHITESPACE",
            TokenType::Error => "T_ERROR",
            TokenType::Unknown => "T_UNKNOWN",
        }
    }

    /// The token a byte starts; `Unknown` needs a closer look.
    fn of(byte: u8) -> TokenType {
        match byte {
            b'{' => TokenType::ObjBegin,
            b'}' => TokenType::ObjEnd,
            b'[' => TokenType::ArrBegin,
            b']' => TokenType::ArrEnd,
            b',' => TokenType::Comma,
            b':' => TokenType::Colon,
            0 => TokenType::End,
            b' ' | b'\t' | b'\n' | b'\r' => TokenType::Whitespace,
            b'f' | b'i' | b'I' | b'n' | b'N' | b't' | b'"' | b'+' | b'-' | b'0'..=b'9' => TokenType::Unknown,
            _ => TokenType::Error,
        }
    }
}

#[derive(Clone, Copy)]
struct Token {
    kind: TokenType,
    /// 0-based offset, reported 1-based.
    index: usize,
    number: f64,
    boolean: bool,
    /// What went wrong, for `TokenType::Error`.
    error: &'static str,
}

/// The byte a simple escape stands for; 'u' asks for a \uXXXX escape, 0 is invalid.
fn unescape(byte: u8) -> u8 {
    match byte {
        b'"' => b'"',
        b'\\' => b'\\',
        b'/' => b'/',
        b'b' => 8,
        b't' => b'\t',
        b'n' => b'\n',
        b'f' => 12,
        b'r' => b'\r',
        b'u' => b'u',
        _ => 0,
    }
}

fn hex_digit(byte: u8) -> Option<u32> {
    match byte {
        b'0'..=b'9' => Some((byte - b'0') as u32),
        _ => match byte | 0x20 {
            lower @ b'a'..=b'f' => Some((lower - b'a' + 10) as u32),
            _ => None,
        },
    }
}

fn push_utf8(out: &mut Vec<u8>, codepoint: u32) {
    if codepoint <= 0x7f {
        out.push(codepoint as u8);
    } else if codepoint <= 0x7ff {
        out.extend_from_slice(&[(codepoint >> 6) as u8 | 0xc0, (codepoint & 0x3f) as u8 | 0x80]);
    } else if codepoint <= 0xffff {
        out.extend_from_slice(&[
            (codepoint >> 12) as u8 | 0xe0,
            ((codepoint >> 6) & 0x3f) as u8 | 0x80,
            (codepoint & 0x3f) as u8 | 0x80,
        ]);
    } else {
        out.extend_from_slice(&[
            (codepoint >> 18) as u8 | 0xf0,
            ((codepoint >> 12) & 0x3f) as u8 | 0x80,
            ((codepoint >> 6) & 0x3f) as u8 | 0x80,
            (codepoint & 0x3f) as u8 | 0x80,
        ]);
    }
}

/// The tokenizer over the JSON text, which ends with a NUL byte (Lua keeps
/// one after every string); the first NUL ends the text.
struct Parser<'a> {
    data: &'a [u8],
    position: usize,
    /// The decoded text of the last string token.
    text: Vec<u8>,
    depth: c_int,
    config: Config,
}

impl Parser<'_> {
    fn byte(&self, at: usize) -> u8 {
        self.data.get(at).copied().unwrap_or(0)
    }

    fn token(&self, kind: TokenType) -> Token {
        Token {
            kind,
            index: self.position,
            number: 0.0,
            boolean: false,
            error: "",
        }
    }

    fn error_token(&self, error: &'static str) -> Token {
        Token {
            error,
            ..self.token(TokenType::Error)
        }
    }

    fn next_token(&mut self) -> Token {
        let mut kind;
        loop {
            kind = TokenType::of(self.byte(self.position));
            if kind != TokenType::Whitespace {
                break;
            }
            self.position += 1;
        }
        match kind {
            TokenType::Error => return self.error_token("invalid token"),
            TokenType::End => return self.token(kind),
            TokenType::Unknown => {}
            _ => {
                let token = self.token(kind);
                self.position += 1;
                return token;
            }
        }
        let byte = self.byte(self.position);
        if byte == b'"' {
            self.string_token()
        } else if byte == b'-' || byte.is_ascii_digit() {
            if self.config.decode_invalid_numbers == 0 && self.is_invalid_number() {
                return self.error_token("invalid number");
            }
            self.number_token()
        } else if self.data[self.position..].starts_with(b"true") {
            let token = Token {
                boolean: true,
                ..self.token(TokenType::Boolean)
            };
            self.position += 4;
            token
        } else if self.data[self.position..].starts_with(b"false") {
            let token = Token {
                boolean: false,
                ..self.token(TokenType::Boolean)
            };
            self.position += 5;
            token
        } else if self.data[self.position..].starts_with(b"null") {
            let token = self.token(TokenType::Null);
            self.position += 4;
            token
        } else if self.config.decode_invalid_numbers != 0 && self.is_invalid_number() {
            // Only what strtod takes but JSON does not (inf, nan, hex, +1):
            // anything else keeps the "invalid token" error.
            self.number_token()
        } else {
            self.error_token("invalid token")
        }
    }

    /// Whether the number here is one that `strtod` accepts but JSON does
    /// not: a leading '+', hex, leading zeros, inf or nan.
    fn is_invalid_number(&self) -> bool {
        let mut at = self.position;
        if self.byte(at) == b'+' {
            return true;
        }
        if self.byte(at) == b'-' {
            at += 1;
        }
        let byte = self.byte(at);
        if byte == b'0' {
            let next = self.byte(at + 1);
            return next | 0x20 == b'x' || next.is_ascii_digit();
        }
        // C compares a signed char: bytes from 0x80 count as "ordinary".
        if (byte as i8) <= b'9' as i8 {
            return false;
        }
        let rest = &self.data[at..];
        rest.len() >= 3 && (rest[..3].eq_ignore_ascii_case(b"inf") || rest[..3].eq_ignore_ascii_case(b"nan"))
    }

    fn number_token(&mut self) -> Token {
        let start = self.position;
        let mut end: *mut c_char = std::ptr::null_mut();
        // SAFETY: the text is NUL-terminated; strtod reads no further.
        let number = unsafe {
            let begin = self.data.as_ptr().add(start) as *const c_char;
            let number = libc::strtod(begin, &mut end);
            self.position = start + (end as usize - begin as usize);
            number
        };
        if self.position == start {
            return self.error_token("invalid number");
        }
        Token {
            kind: TokenType::Number,
            index: start,
            number,
            boolean: false,
            error: "",
        }
    }

    fn string_token(&mut self) -> Token {
        let start = self.position;
        self.position += 1;
        self.text.clear();
        loop {
            let mut byte = self.byte(self.position);
            if byte == b'"' {
                break;
            }
            if byte == 0 {
                return self.error_token("unexpected end of string");
            }
            if byte == b'\\' {
                byte = unescape(self.byte(self.position + 1));
                if byte == b'u' {
                    if self.unicode_escape() {
                        continue;
                    }
                    return self.error_token("invalid unicode escape code");
                }
                if byte == 0 {
                    return self.error_token("invalid escape code");
                }
                self.position += 1;
            }
            self.text.push(byte);
            self.position += 1;
        }
        self.position += 1;
        Token {
            kind: TokenType::String,
            index: start,
            number: 0.0,
            boolean: false,
            error: "",
        }
    }

    /// Four hex digits at `at`; reading stops at the first non-digit, so
    /// never past the terminating NUL.
    fn hex4(&self, at: usize) -> Option<u32> {
        let mut value = 0;
        for offset in 0..4 {
            value = (value << 4) | hex_digit(self.byte(at + offset))?;
        }
        Some(value)
    }

    /// Decodes the \uXXXX escape (or surrogate pair) here into UTF-8.
    fn unicode_escape(&mut self) -> bool {
        let Some(mut codepoint) = self.hex4(self.position + 2) else {
            return false;
        };
        let mut escape_len = 6;
        if codepoint & 0xf800 == 0xd800 {
            // A low surrogate first is an error.
            if codepoint & 0x400 != 0 {
                return false;
            }
            if self.byte(self.position + 6) != b'\\' || self.byte(self.position + 7) != b'u' {
                return false;
            }
            let Some(low) = self.hex4(self.position + 8) else {
                return false;
            };
            if low & 0xfc00 != 0xdc00 {
                return false;
            }
            codepoint = (((codepoint & 0x3ff) << 10) | (low & 0x3ff)) + 0x10000;
            escape_len = 12;
        }
        push_utf8(&mut self.text, codepoint);
        self.position += escape_len;
        true
    }
}

fn parse_error(expected: &str, token: &Token) -> Raise {
    let found = if token.kind == TokenType::Error {
        token.error
    } else {
        token.kind.name()
    };
    Raise::error(format!(
        "Expected {expected} but found {found} at character {}",
        token.index + 1
    ))
}

/// A table being filled: an array with the index of its next element, or
/// an object (its current key is on the Lua stack above it).
enum DecodeFrame {
    Array(c_int),
    Object,
}

impl Parser<'_> {
    /// Enters a nested array or object needing `slots` free stack slots.
    unsafe fn descend(&mut self, state: State, slots: c_int) -> LuaResult<()> {
        self.depth += 1;
        if self.depth <= self.config.decode_max_depth && ffi::lua_checkstack(state, slots) != 0 {
            return Ok(());
        }
        Err(Raise::error(format!(
            "Found too many nested data structures ({}) at character {}",
            self.depth, self.position
        )))
    }

    /// After `{` or `,` in an object: reads `"key":`, pushes the key and
    /// returns the token that starts its value.
    unsafe fn object_key(&mut self, state: State, token: Token) -> LuaResult<Token> {
        if token.kind != TokenType::String {
            return Err(parse_error("object key string", &token));
        }
        push_bytes(state, &self.text);
        let token = self.next_token();
        if token.kind != TokenType::Colon {
            return Err(parse_error("colon", &token));
        }
        Ok(self.next_token())
    }

    /// Pushes the value that starts with `token`. Iterative rather than
    /// recursive: nesting may go as deep as Lua's stack allows.
    unsafe fn value(&mut self, state: State, mut token: Token) -> LuaResult<()> {
        let mut frames: Vec<DecodeFrame> = Vec::new();
        loop {
            // Push the value that starts with `token`, or open its container.
            let mut complete = true;
            match token.kind {
                TokenType::String => push_bytes(state, &self.text),
                TokenType::Number => ffi::lua_pushnumber(state, token.number),
                TokenType::Boolean => ffi::lua_pushboolean(state, token.boolean as c_int),
                TokenType::Null => ffi::lua_pushlightuserdata(state, std::ptr::null_mut()),
                TokenType::ObjBegin => {
                    // Table, key, value.
                    self.descend(state, 3)?;
                    ffi::lua_createtable(state, 0, 0);
                    let next = self.next_token();
                    if next.kind == TokenType::ObjEnd {
                        self.depth -= 1;
                    } else {
                        token = self.object_key(state, next)?;
                        frames.push(DecodeFrame::Object);
                        complete = false;
                    }
                }
                TokenType::ArrBegin => {
                    // Table, value.
                    self.descend(state, 2)?;
                    ffi::lua_createtable(state, 0, 0);
                    let next = self.next_token();
                    if next.kind == TokenType::ArrEnd {
                        self.depth -= 1;
                    } else {
                        token = next;
                        frames.push(DecodeFrame::Array(1));
                        complete = false;
                    }
                }
                _ => return Err(parse_error("value", &token)),
            }
            if !complete {
                continue;
            }
            // Store the finished value in its container, closing every
            // container that ends here, until one wants another value.
            loop {
                match frames.last_mut() {
                    None => return Ok(()),
                    Some(DecodeFrame::Array(index)) => {
                        ffi::lua_rawseti_(state, -2, *index);
                        let next = self.next_token();
                        if next.kind == TokenType::ArrEnd {
                            self.depth -= 1;
                            frames.pop();
                            continue;
                        }
                        if next.kind != TokenType::Comma {
                            return Err(parse_error("comma or array end", &next));
                        }
                        *index += 1;
                        token = self.next_token();
                        break;
                    }
                    Some(DecodeFrame::Object) => {
                        ffi::lua_rawset(state, -3);
                        let next = self.next_token();
                        if next.kind == TokenType::ObjEnd {
                            self.depth -= 1;
                            frames.pop();
                            continue;
                        }
                        if next.kind != TokenType::Comma {
                            return Err(parse_error("comma or object end", &next));
                        }
                        let next = self.next_token();
                        token = self.object_key(state, next)?;
                        break;
                    }
                }
            }
        }
    }
}

unsafe extern "C-unwind" fn json_decode(state: State) -> c_int {
    finish(state, decode(state))
}

/// `cjson.decode(text)` → the Lua value.
unsafe fn decode(state: State) -> LuaResult<c_int> {
    arg_check(ffi::lua_gettop(state) == 1, 1, "expected 1 argument")?;
    let config = *config(state);
    let text = check_bytes(state, 1)?;
    // Only the first bytes can tell UTF-16/32 apart: any JSON text starts
    // with an ASCII character.
    if text.len() >= 2 && (text[0] == 0 || text[1] == 0) {
        return Err(Raise::error("JSON parser does not support UTF-16 or UTF-32"));
    }
    let data = bytes_with_nul(state, 1);
    let mut parser = Parser {
        data,
        position: 0,
        text: Vec::new(),
        depth: 0,
        config,
    };
    let token = parser.next_token();
    parser.value(state, token)?;
    let token = parser.next_token();
    if token.kind != TokenType::End {
        return Err(parse_error("the end", &token));
    }
    Ok(1)
}

#[cfg(test)]
mod tests {
    use super::super::tests::{eval, eval_bytes, eval_err, lua};

    // Expected values below were produced by redis-server 7.0.15 (same
    // library code as 7.4) with `EVAL "<script>" 0`.

    #[test]
    fn encodes_scalars_arrays_and_objects() {
        let lua = lua();
        assert_eq!(eval(&lua, "return cjson.encode({1,2,3,{a=1}})"), "[1,2,3,{\"a\":1}]");
        assert_eq!(eval(&lua, "return cjson.encode({})"), "{}");
        assert_eq!(eval(&lua, "return cjson.encode('a/b')"), "\"a\\/b\"");
        assert_eq!(eval(&lua, "return cjson.encode(true)"), "true");
        assert_eq!(eval(&lua, "return cjson.encode(false)"), "false");
        assert_eq!(eval(&lua, "return cjson.encode(nil)"), "null");
        assert_eq!(eval(&lua, "return cjson.encode(cjson.null)"), "null");
        assert_eq!(eval(&lua, "return cjson.encode({[1.5]=1})"), "{\"1.5\":1}");
        assert_eq!(eval(&lua, "return cjson.encode({[1e10]=1})"), "{\"10000000000\":1}");
        assert_eq!(
            eval(&lua, "return cjson.encode({[10]=1})"),
            "[null,null,null,null,null,null,null,null,null,1]"
        );
        assert_eq!(eval(&lua, "return cjson.encode({[0]=1})"), "{\"0\":1}");
        assert_eq!(eval(&lua, "return cjson.encode({[-1]=1})"), "{\"-1\":1}");
        assert_eq!(eval(&lua, "return cjson.encode({{}, {{}}})"), "[{},[{}]]");
    }

    #[test]
    fn encodes_numbers_with_fourteen_significant_digits() {
        let lua = lua();
        assert_eq!(
            eval(
                &lua,
                "return cjson.encode({0.1, 1/3, 1e300, -0.0, 100, 2^53, 123456789012345})"
            ),
            "[0.1,0.33333333333333,1e+300,-0,100,9.007199254741e+15,1.2345678901234e+14]"
        );
        assert_eq!(
            eval(
                &lua,
                "cjson.encode_number_precision(3) local s = cjson.encode({1/3, 12345}) \
                 cjson.encode_number_precision(14) return s"
            ),
            "[0.333,1.23e+04]"
        );
    }

    #[test]
    fn escapes_control_bytes_quotes_slash_and_del_but_not_high_bytes() {
        let lua = lua();
        assert_eq!(
            eval_bytes(
                &lua,
                "return cjson.encode(string.char(0,1,8,9,10,11,12,13,31,34,47,92,127,128,255))"
            ),
            b"\"\\u0000\\u0001\\b\\t\\n\\u000b\\f\\r\\u001f\\\"\\/\\\\\\u007f\x80\xff\""
        );
    }

    #[test]
    fn refuses_what_cannot_be_serialised() {
        let lua = lua();
        assert_eq!(
            eval_err(&lua, "return cjson.encode({[11]=1})"),
            "t:1: Cannot serialise table: excessively sparse array"
        );
        assert_eq!(
            eval_err(&lua, "return cjson.encode(1/0)"),
            "t:1: Cannot serialise number: must not be NaN or Inf"
        );
        assert_eq!(
            eval_err(&lua, "return cjson.encode({x=0/0})"),
            "t:1: Cannot serialise number: must not be NaN or Inf"
        );
        assert_eq!(
            eval_err(&lua, "return cjson.encode(function() end)"),
            "t:1: Cannot serialise function: type not supported"
        );
        assert_eq!(
            eval_err(&lua, "return cjson.encode({[true]=1})"),
            "t:1: Cannot serialise boolean: table key must be a number or string"
        );
        assert_eq!(
            eval_err(&lua, "return cjson.encode({coroutine.create(function() end)})"),
            "t:1: Cannot serialise thread: type not supported"
        );
        assert_eq!(
            eval_err(&lua, "return cjson.encode()"),
            "t:1: bad argument #1 to 'encode' (expected 1 argument)"
        );
        assert_eq!(
            eval_err(&lua, "return cjson.encode(1, 2)"),
            "t:1: bad argument #1 to 'encode' (expected 1 argument)"
        );
        assert_eq!(
            eval(&lua, "local ok, e = pcall(cjson.encode) return e"),
            "bad argument #1 to '?' (expected 1 argument)"
        );
    }

    #[test]
    fn encode_nesting_is_limited() {
        let lua = lua();
        assert_eq!(
            eval_err(&lua, "local t = {} t[1] = t return cjson.encode(t)"),
            "t:1: Cannot serialise, excessive nesting (1001)"
        );
        assert_eq!(
            eval(
                &lua,
                "local t = {} for i = 1, 999 do t = {t} end return #cjson.encode(t)"
            ),
            "2000"
        );
        assert_eq!(
            eval_err(&lua, "cjson.encode_max_depth(2) local ok, e = pcall(cjson.encode, {{{}}}) cjson.encode_max_depth(1000) error(e, 0)"),
            "Cannot serialise, excessive nesting (3)"
        );
        // Past the configured limit, Lua's stack is the limit (redis-server
        // gives the same lengths).
        assert_eq!(
            eval(
                &lua,
                "cjson.encode_max_depth(100000) local t = {} for i = 1, 4100 do t = {t} end \
                 local n = #cjson.encode(t) cjson.encode_max_depth(1000) return n"
            ),
            "8202"
        );
        assert_eq!(
            eval(
                &lua,
                "cjson.encode_max_depth(100000) local t = {} t[1] = t \
                 local ok, e = pcall(cjson.encode, t) cjson.encode_max_depth(1000) return e"
            ),
            "Cannot serialise, excessive nesting (7998)"
        );
    }

    #[test]
    fn sparse_arrays_follow_ratio_and_safe_limits() {
        let lua = lua();
        assert_eq!(eval(&lua, "return {cjson.encode_sparse_array()}"), "[false, 2, 10]");
        assert_eq!(
            eval(
                &lua,
                "local r = {cjson.encode_sparse_array(true)} local s = cjson.encode({[20]=1}) \
                 cjson.encode_sparse_array(false) return tostring(r[1]) .. s"
            ),
            "true{\"20\":1}"
        );
        // Ratio 0 allows any sparseness.
        assert_eq!(
            eval(&lua, "cjson.encode_sparse_array(false, 0) local s = cjson.encode({[3]=1}) cjson.encode_sparse_array(false, 2) return s"),
            "[null,null,1]"
        );
        assert_eq!(
            eval(&lua, "cjson.encode_sparse_array(false, 2, 0) local ok, e = pcall(cjson.encode, {[3]=1}) cjson.encode_sparse_array(false, 2, 10) return e"),
            "Cannot serialise table: excessively sparse array"
        );
        assert_eq!(
            eval_err(&lua, "return cjson.encode_sparse_array(true, -1)"),
            "t:1: bad argument #1 to 'encode_sparse_array' (expected integer between 0 and 2147483647)"
        );
        assert_eq!(
            eval_err(&lua, "return cjson.encode_sparse_array(1)"),
            "t:1: bad argument #1 to 'encode_sparse_array' (invalid option '1')"
        );
        assert_eq!(
            eval_err(&lua, "return cjson.encode_sparse_array(true, 1, 1, 1)"),
            "t:1: bad argument #4 to 'encode_sparse_array' (found too many arguments)"
        );
    }

    #[test]
    fn configuration_functions_report_and_check_their_settings() {
        let lua = lua();
        assert_eq!(
            eval(
                &lua,
                "return {cjson.encode_max_depth(), cjson.decode_max_depth(), cjson.encode_number_precision(), \
                 cjson.encode_keep_buffer(), cjson.encode_invalid_numbers(), cjson.decode_invalid_numbers()}"
            ),
            "[1000, 1000, 14, true, false, true]"
        );
        assert_eq!(
            eval_err(&lua, "return cjson.encode_max_depth(0)"),
            "t:1: bad argument #1 to 'encode_max_depth' (expected integer between 1 and 2147483647)"
        );
        assert_eq!(
            eval_err(&lua, "return cjson.decode_max_depth('x')"),
            "t:1: bad argument #1 to 'decode_max_depth' (number expected, got string)"
        );
        assert_eq!(
            eval_err(&lua, "return cjson.encode_number_precision(15)"),
            "t:1: bad argument #1 to 'encode_number_precision' (expected integer between 1 and 14)"
        );
        assert_eq!(
            eval_err(&lua, "return cjson.encode_invalid_numbers('foo')"),
            "t:1: bad argument #1 to 'encode_invalid_numbers' (invalid option 'foo')"
        );
        assert_eq!(
            eval_err(&lua, "return cjson.encode_invalid_numbers(1, 2)"),
            "t:1: bad argument #2 to 'encode_invalid_numbers' (found too many arguments)"
        );
        assert_eq!(
            eval(
                &lua,
                "local r = {cjson.encode_keep_buffer(false), cjson.encode_keep_buffer('on')} return r"
            ),
            "[false, true]"
        );
        assert_eq!(
            eval(
                &lua,
                "local r = cjson.encode_invalid_numbers('null') local s = cjson.encode({0/0, 1/0}) \
                 local r2 = cjson.encode_invalid_numbers(true) local s2 = cjson.encode({0/0, 1/0, -1/0}) \
                 cjson.encode_invalid_numbers(false) return {r, s, r2, s2}"
            ),
            "[\"null\", \"[null,null]\", true, \"[nan,inf,-inf]\"]"
        );
        assert_eq!(
            eval(&lua, "cjson.encode_invalid_numbers('on') local s = cjson.encode({[1/0]=1}) cjson.encode_invalid_numbers('off') return s"),
            "{\"inf\":1}"
        );
    }

    #[test]
    fn new_makes_an_independent_module() {
        let lua = lua();
        assert_eq!(
            eval(
                &lua,
                "local n = cjson.new() n.encode_max_depth(1) \
                 return {cjson.encode_max_depth(), n.encode_max_depth(), n._NAME, n._VERSION, n.null == cjson.null}"
            ),
            "[1000, 1, \"cjson\", \"2.1.0\", true]"
        );
        assert_eq!(
            eval(&lua, "return {cjson._NAME, cjson._VERSION, type(cjson.null)}"),
            "[\"cjson\", \"2.1.0\", \"userdata\"]"
        );
    }

    #[test]
    fn decodes_values() {
        let lua = lua();
        assert_eq!(
            eval(
                &lua,
                "return table.concat(cjson.decode('[0.0, -5e3, -1, 0.3e-3, 1023.2, 0e10]'), ' ')"
            ),
            "0 -5000 -1 0.0003 1023.2 0"
        );
        assert_eq!(
            eval(
                &lua,
                "local d = cjson.decode('{\"keya\": \"a\", \"keyb\": \"b\"}') return {d.keya, d.keyb}"
            ),
            "[\"a\", \"b\"]"
        );
        assert_eq!(
            eval(
                &lua,
                "return cjson.decode('{\"a\":[1,{\"b\":null}],\"c\":true}').a[2].b == cjson.null"
            ),
            "true"
        );
        assert_eq!(eval(&lua, "return #cjson.decode('  \\t\\n[ ]  ')"), "0");
        assert_eq!(eval(&lua, "return cjson.decode(' 0x1p4 ')"), "16");
        assert_eq!(eval(&lua, "return tostring(cjson.decode('nan'))"), "nan");
        assert_eq!(eval(&lua, "return cjson.decode('0x10')"), "16");
        assert_eq!(eval(&lua, "return cjson.decode('+1')"), "1");
        assert_eq!(eval(&lua, "return tostring(cjson.decode('-Infinity'))"), "-inf");
        assert_eq!(eval(&lua, "return cjson.decode('\"a\\001b\"')"), "a\u{1}b");
        assert_eq!(eval(&lua, "return cjson.decode(12)"), "12");
        assert_eq!(eval(&lua, "return cjson.decode('12\\0garbage')"), "12");
        assert_eq!(eval(&lua, "return cjson.decode('[false, true]')[1]"), "false");
        // Escapes and UTF-16 surrogate pairs become UTF-8.
        assert_eq!(
            eval(
                &lua,
                "return cjson.decode('\"\\\\u00e9\\\\ud83d\\\\ude00\\\\/\\\\b\\\\\"\"')"
            ),
            "é😀/\u{8}\""
        );
        assert_eq!(eval(&lua, "return #cjson.decode('\"\\\\u0000\"')"), "1");
        // Bytes that are not UTF-8 pass through.
        assert_eq!(
            eval(&lua, "return cjson.decode('\"\\255\\254\"') == '\\255\\254'"),
            "true"
        );
        assert_eq!(
            eval_err(&lua, "return cjson.encode(cjson.decode('[1e400]'))"),
            "t:1: Cannot serialise number: must not be NaN or Inf"
        );
    }

    #[test]
    fn reports_decode_errors_with_their_position() {
        let lua = lua();
        let cases = [
            ("x", "Expected value but found invalid token at character 1"),
            (
                "\"abc",
                "Expected value but found unexpected end of string at character 5",
            ),
            ("[1,2", "Expected comma or array end but found T_END at character 5"),
            ("{\"a\" 1}", "Expected colon but found T_NUMBER at character 6"),
            (
                "\"\\\\q\"",
                "Expected value but found invalid escape code at character 2",
            ),
            (
                "\"\\\\u12\"",
                "Expected value but found invalid unicode escape code at character 2",
            ),
            (
                "\"\\\\ud83d\"",
                "Expected value but found invalid unicode escape code at character 2",
            ),
            (
                "\"\\\\ude00\"",
                "Expected value but found invalid unicode escape code at character 2",
            ),
            ("1 2", "Expected the end but found T_NUMBER at character 3"),
            ("", "Expected value but found T_END at character 1"),
            ("[1,2,]", "Expected value but found T_ARR_END at character 6"),
            (
                "{\"a\":1,}",
                "Expected object key string but found T_OBJ_END at character 8",
            ),
            ("{1:2}", "Expected object key string but found T_NUMBER at character 2"),
            (
                "{\"a\":1 \"b\"}",
                "Expected comma or object end but found T_STRING at character 8",
            ),
            ("tru", "Expected value but found invalid token at character 1"),
            ("]", "Expected value but found T_ARR_END at character 1"),
            ("-", "Expected value but found invalid number at character 1"),
            ("a\\0b", "JSON parser does not support UTF-16 or UTF-32"),
        ];
        for (text, expected) in cases {
            assert_eq!(
                eval_err(&lua, &format!("return cjson.decode('{text}')")),
                format!("t:1: {expected}"),
                "{text}"
            );
        }
        assert_eq!(
            eval(&lua, "cjson.decode_invalid_numbers(false) local ok, e = pcall(cjson.decode, '0x10') cjson.decode_invalid_numbers(true) return e"),
            "Expected value but found invalid number at character 1"
        );
        assert_eq!(
            eval(&lua, "cjson.decode_invalid_numbers(false) local ok, e = pcall(cjson.decode, 'nan') cjson.decode_invalid_numbers(true) return e"),
            "Expected value but found invalid token at character 1"
        );
        assert_eq!(
            eval_err(&lua, "return cjson.decode({})"),
            "t:1: bad argument #1 to 'decode' (string expected, got table)"
        );
        assert_eq!(
            eval_err(&lua, "return cjson.decode()"),
            "t:1: bad argument #1 to 'decode' (expected 1 argument)"
        );
    }

    #[test]
    fn decode_nesting_is_limited() {
        let lua = lua();
        assert_eq!(
            eval(
                &lua,
                "return #cjson.decode(string.rep('[', 1000)..string.rep(']', 1000))"
            ),
            "1"
        );
        assert_eq!(
            eval_err(&lua, "return cjson.decode(string.rep('[', 1001))"),
            "t:1: Found too many nested data structures (1001) at character 1001"
        );
        assert_eq!(
            eval_err(&lua, "return cjson.decode(string.rep('{\"a\":', 1001))"),
            "t:1: Found too many nested data structures (1001) at character 5001"
        );
        // Past the configured limit, Lua's stack is the limit (same numbers
        // as redis-server).
        assert_eq!(
            eval(
                &lua,
                "cjson.decode_max_depth(100000) local t = cjson.decode(string.rep('[', 7998)..string.rep(']', 7998)) \
                 cjson.decode_max_depth(1000) return #t"
            ),
            "1"
        );
        assert_eq!(
            eval(
                &lua,
                "cjson.decode_max_depth(100000) local ok, e = pcall(cjson.decode, string.rep('[', 7999)..string.rep(']', 7999)) \
                 cjson.decode_max_depth(1000) return e"
            ),
            "Found too many nested data structures (7999) at character 7999"
        );
        assert_eq!(
            eval(
                &lua,
                "cjson.decode_max_depth(100000) local ok, e = pcall(cjson.decode, string.rep('{\"a\":', 4000)..'1'..string.rep('}', 4000)) \
                 cjson.decode_max_depth(1000) return e"
            ),
            "Found too many nested data structures (4000) at character 19996"
        );
    }

    /// The cjson part of "EVAL - JSON smoke test" in Redis's unit/scripting.tcl.
    #[test]
    fn redis_json_smoke_test() {
        let lua = lua();
        eval(
            &lua,
            r#"
            local some_map = {s1="Some string", n1=100, a1={"Some","String","Array"}, nil1=nil, b1=true, b2=false}
            local encoded = cjson.encode(some_map)
            local decoded = cjson.decode(encoded)
            assert(table.concat(some_map) == table.concat(decoded))
            cjson.encode_keep_buffer(false)
            encoded = cjson.encode(some_map)
            decoded = cjson.decode(encoded)
            assert(table.concat(some_map) == table.concat(decoded))
            local table1 = {one="one", [1]="one"}
            encoded = cjson.encode(table1)
            decoded = cjson.decode(encoded)
            assert(decoded["one"] == table1["one"])
            assert(decoded["1"] == table1[1])
            local array1 = {[1]="one", [2]="two"}
            encoded = cjson.encode(array1)
            decoded = cjson.decode(encoded)
            assert(table.concat(array1) == table.concat(decoded))
            local invalid_map = {}
            invalid_map[false] = "false"
            local ok, encoded = pcall(cjson.encode, invalid_map)
            assert(ok == false)
            cjson.encode_max_depth(1)
            ok, encoded = pcall(cjson.encode, some_map)
            assert(ok == false)
            cjson.decode_max_depth(1)
            ok, decoded = pcall(cjson.decode, '{"obj": {"array": [1,2,3,4]}}')
            assert(ok == false)
            ok, encoded = pcall(cjson.encode, {num1=0/0})
            assert(ok == false)
            cjson.encode_invalid_numbers(true)
            ok, encoded = pcall(cjson.encode, {num1=0/0})
            assert(ok == true)
            cjson.decode_max_depth(1000)
            cjson.encode_max_depth(1000)
            cjson.encode_invalid_numbers(false)
            return 1
            "#,
        );
    }
}
