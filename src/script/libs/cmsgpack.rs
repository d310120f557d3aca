//! `cmsgpack`: MessagePack for scripts, as Redis bundles it (lua-cmsgpack
//! 0.4.0).
//!
//! Behaviour kept from the C library, all of it visible to scripts:
//! - a number with an integral value that fits in 64 bits packs as the
//!   smallest integer encoding; any other number as float32 when that is
//!   exact (inf included), else float64;
//! - a table whose keys are exactly 1..n (n ≥ 0, so `{}` too) packs as an
//!   array, any other as a map; tables nested 16 deep pack as nil, so
//!   circular references terminate;
//! - functions, userdata and threads pack as nil;
//! - strings use fixstr/str8/str16/str32 (never bin);
//! - unpacking: uint64 values of 2^63 and more come back negative (the C
//!   library goes through a signed integer), bin/ext/fixext are "Bad data
//!   format", a map key of nil or NaN is Lua's "table index is ..." error,
//!   and the Lua stack bounds how many values and how deep (8000 slots).

use std::ffi::{c_int, CStr};

use mlua::ffi;

use super::lua_api::{
    check_bytes, check_integer, check_stack, finish, opt_integer, push_bytes, set_string_field, to_bytes, LuaResult,
    Raise, State,
};

/// Tables nested this deep (the top-level value being 0) pack as nil.
const MAX_NESTING: c_int = 16;

/// Creates the `cmsgpack` table and stores it in the global `cmsgpack`.
///
/// # Safety
/// `state` is a valid Lua state with a few free stack slots.
pub(crate) unsafe fn open(state: State) {
    let functions: [(&CStr, ffi::lua_CFunction); 4] = [
        (c"pack", mp_pack),
        (c"unpack", mp_unpack),
        (c"unpack_one", mp_unpack_one),
        (c"unpack_limit", mp_unpack_limit),
    ];
    // Built as the C library builds it (empty table, same field order), so
    // that pairs(cmsgpack) walks it in Redis's order.
    ffi::lua_createtable(state, 0, 0);
    for (name, function) in functions {
        ffi::lua_pushcclosure(state, function, 0);
        ffi::lua_setfield(state, -2, name.as_ptr());
    }
    set_string_field(state, c"_NAME", "cmsgpack");
    set_string_field(state, c"_VERSION", "lua-cmsgpack 0.4.0");
    set_string_field(state, c"_COPYRIGHT", "Copyright (C) 2012, Salvatore Sanfilippo");
    set_string_field(state, c"_DESCRIPTION", "MessagePack C implementation for Lua");
    ffi::lua_setfield(state, ffi::LUA_GLOBALSINDEX, c"cmsgpack".as_ptr());
}

// ===== Encoding =====

fn encode_bytes(out: &mut Vec<u8>, bytes: &[u8]) {
    let len = bytes.len();
    if len < 32 {
        out.push(0xa0 | len as u8);
    } else if len <= 0xff {
        out.extend_from_slice(&[0xd9, len as u8]);
    } else if len <= 0xffff {
        out.push(0xda);
        out.extend_from_slice(&(len as u16).to_be_bytes());
    } else {
        out.push(0xdb);
        out.extend_from_slice(&(len as u32).to_be_bytes());
    }
    out.extend_from_slice(bytes);
}

fn encode_double(out: &mut Vec<u8>, number: f64) {
    let single = number as f32;
    if single as f64 == number {
        out.push(0xca);
        out.extend_from_slice(&single.to_be_bytes());
    } else {
        out.push(0xcb);
        out.extend_from_slice(&number.to_be_bytes());
    }
}

fn encode_int(out: &mut Vec<u8>, n: i64) {
    if n >= 0 {
        if n <= 127 {
            out.push(n as u8);
        } else if n <= 0xff {
            out.extend_from_slice(&[0xcc, n as u8]);
        } else if n <= 0xffff {
            out.push(0xcd);
            out.extend_from_slice(&(n as u16).to_be_bytes());
        } else if n <= 0xffff_ffff {
            out.push(0xce);
            out.extend_from_slice(&(n as u32).to_be_bytes());
        } else {
            out.push(0xcf);
            out.extend_from_slice(&(n as u64).to_be_bytes());
        }
    } else if n >= -32 {
        out.push(n as i8 as u8);
    } else if n >= -128 {
        out.extend_from_slice(&[0xd0, n as i8 as u8]);
    } else if n >= -32768 {
        out.push(0xd1);
        out.extend_from_slice(&(n as i16).to_be_bytes());
    } else if n >= -2_147_483_648 {
        out.push(0xd2);
        out.extend_from_slice(&(n as i32).to_be_bytes());
    } else {
        out.push(0xd3);
        out.extend_from_slice(&n.to_be_bytes());
    }
}

/// Writes a container header: fix form, 16-bit or 32-bit count.
fn encode_header(out: &mut Vec<u8>, count: u64, fix: u8, code16: u8, code32: u8) {
    if count <= 15 {
        out.push(fix | count as u8);
    } else if count <= 65535 {
        out.push(code16);
        out.extend_from_slice(&(count as u16).to_be_bytes());
    } else {
        out.push(code32);
        out.extend_from_slice(&(count as u32).to_be_bytes());
    }
}

/// Whether the number has an integral value that fits an `int64_t`.
fn is_int64(number: f64) -> bool {
    number.is_finite()
        && (-9_223_372_036_854_775_808.0..9_223_372_036_854_775_808.0).contains(&number)
        && number.trunc() == number
}

/// Whether the number has an integral value that fits an `int`.
fn is_int(number: f64) -> bool {
    number.is_finite() && (-2_147_483_648.0..2_147_483_648.0).contains(&number) && number.trunc() == number
}

/// Whether the table on top of the stack has exactly the keys 1..n.
unsafe fn table_is_an_array(state: State) -> LuaResult<bool> {
    let top = ffi::lua_gettop(state);
    let mut count: c_int = 0;
    let mut max: c_int = 0;
    check_stack(state, 2, "in function table_is_an_array")?;
    ffi::lua_pushnil(state);
    while ffi::lua_next(state, -2) != 0 {
        ffi::lua_settop(state, -2);
        let key = ffi::lua_tonumber(state, -1);
        if ffi::lua_type(state, -1) != ffi::LUA_TNUMBER || key <= 0.0 || !is_int(key) {
            ffi::lua_settop(state, top);
            return Ok(false);
        }
        max = max.max(key as c_int);
        count = count.wrapping_add(1);
    }
    ffi::lua_settop(state, top);
    // No key is below 1 and none repeats: count == max means 1..max all there.
    Ok(max == count)
}

/// Packs the value on top of the stack and pops it.
unsafe fn encode_value(state: State, out: &mut Vec<u8>, level: c_int) -> LuaResult<()> {
    let mut kind = ffi::lua_type(state, -1);
    if kind == ffi::LUA_TTABLE && level == MAX_NESTING {
        kind = ffi::LUA_TNIL;
    }
    match kind {
        ffi::LUA_TSTRING => encode_bytes(out, to_bytes(state, -1)),
        ffi::LUA_TBOOLEAN => out.push(if ffi::lua_toboolean(state, -1) != 0 { 0xc3 } else { 0xc2 }),
        ffi::LUA_TNUMBER => {
            let number = ffi::lua_tonumber(state, -1);
            if is_int64(number) {
                encode_int(out, number as i64);
            } else {
                encode_double(out, number);
            }
        }
        ffi::LUA_TTABLE => {
            if table_is_an_array(state)? {
                encode_array(state, out, level)?;
            } else {
                encode_map(state, out, level)?;
            }
        }
        _ => out.push(0xc0),
    }
    ffi::lua_settop(state, -2);
    Ok(())
}

unsafe fn encode_array(state: State, out: &mut Vec<u8>, level: c_int) -> LuaResult<()> {
    let len = ffi::lua_objlen(state, -1);
    encode_header(out, len as u64, 0x90, 0xdc, 0xdd);
    check_stack(state, 1, "in function mp_encode_lua_table_as_array")?;
    for index in 1..=len {
        // Every key 1..len is present: a raw read is what a plain read gives.
        ffi::lua_rawgeti_(state, -1, index as c_int);
        encode_value(state, out, level + 1)?;
    }
    Ok(())
}

unsafe fn encode_map(state: State, out: &mut Vec<u8>, level: c_int) -> LuaResult<()> {
    check_stack(state, 3, "in function mp_encode_lua_table_as_map")?;
    let mut len: u64 = 0;
    ffi::lua_pushnil(state);
    while ffi::lua_next(state, -2) != 0 {
        ffi::lua_settop(state, -2);
        len += 1;
    }
    encode_header(out, len, 0x80, 0xde, 0xdf);
    ffi::lua_pushnil(state);
    while ffi::lua_next(state, -2) != 0 {
        // Stack: table, key, value. Pack a copy of the key, then the value;
        // the key stays for lua_next.
        ffi::lua_pushvalue(state, -2);
        encode_value(state, out, level + 1)?;
        encode_value(state, out, level + 1)?;
    }
    Ok(())
}

unsafe extern "C-unwind" fn mp_pack(state: State) -> c_int {
    finish(state, pack(state))
}

/// `cmsgpack.pack(v1, v2, ...)` → the encodings of the arguments, one after
/// the other.
unsafe fn pack(state: State) -> LuaResult<c_int> {
    let nargs = ffi::lua_gettop(state);
    if nargs == 0 {
        return Err(Raise::arg(0, "MessagePack pack needs input."));
    }
    if ffi::lua_checkstack(state, nargs) == 0 {
        return Err(Raise::arg(0, "Too many arguments for MessagePack pack."));
    }
    let mut out = Vec::new();
    for arg in 1..=nargs {
        check_stack(state, 1, "in function mp_check")?;
        ffi::lua_pushvalue(state, arg);
        encode_value(state, &mut out, 0)?;
        push_bytes(state, &out);
        out.clear();
    }
    ffi::lua_concat(state, nargs);
    Ok(1)
}

// ===== Decoding =====

/// Why decoding stopped.
enum DecodeError {
    /// The input ends inside a value.
    MissingBytes,
    /// A type byte this library does not know.
    BadFormat,
    Raise(Raise),
}

impl From<Raise> for DecodeError {
    fn from(raise: Raise) -> Self {
        DecodeError::Raise(raise)
    }
}

/// A table being filled: the elements (or pairs) still to read; arrays
/// also carry the index of the next element, maps whether the next value
/// read is a key.
enum Container {
    Array { left: usize, index: c_int },
    Map { left: usize, reading_key: bool },
}

struct Cursor<'a> {
    data: &'a [u8],
    position: usize,
}

impl Cursor<'_> {
    fn left(&self) -> usize {
        self.data.len() - self.position
    }

    fn need(&self, len: usize) -> Result<(), DecodeError> {
        if self.left() < len {
            Err(DecodeError::MissingBytes)
        } else {
            Ok(())
        }
    }

    fn at(&self, offset: usize) -> u8 {
        self.data[self.position + offset]
    }

    fn be(&self, offset: usize, len: usize) -> u64 {
        let start = self.position + offset;
        self.data[start..start + len]
            .iter()
            .fold(0u64, |value, &byte| (value << 8) | byte as u64)
    }

    /// Pushes the string of `len` bytes after a header of `header` bytes.
    unsafe fn push_string(&mut self, state: State, header: usize, len: usize) -> Result<(), DecodeError> {
        self.need(header.saturating_add(len))?;
        let start = self.position + header;
        push_bytes(state, &self.data[start..start + len]);
        self.position = start + len;
        Ok(())
    }

    /// Reads one item: pushes a scalar (returns None) or pushes a new table
    /// and returns its container.
    unsafe fn item(&mut self, state: State) -> Result<Option<Container>, DecodeError> {
        self.need(1)?;
        check_stack(
            state,
            1,
            "too many return values at once; use unpack_one or unpack_limit instead.",
        )?;
        let code = self.at(0);
        // 64-bit integers reach Lua as C's lua_pushinteger does it: through
        // a signed integer converted to a double.
        match code {
            0xcc => {
                self.need(2)?;
                ffi::lua_pushnumber(state, self.at(1) as f64);
                self.position += 2;
            }
            0xd0 => {
                self.need(2)?;
                ffi::lua_pushnumber(state, self.at(1) as i8 as f64);
                self.position += 2;
            }
            0xcd => {
                self.need(3)?;
                ffi::lua_pushnumber(state, self.be(1, 2) as f64);
                self.position += 3;
            }
            0xd1 => {
                self.need(3)?;
                ffi::lua_pushnumber(state, self.be(1, 2) as u16 as i16 as f64);
                self.position += 3;
            }
            0xce => {
                self.need(5)?;
                ffi::lua_pushnumber(state, self.be(1, 4) as f64);
                self.position += 5;
            }
            0xd2 => {
                self.need(5)?;
                ffi::lua_pushnumber(state, self.be(1, 4) as u32 as i32 as f64);
                self.position += 5;
            }
            0xcf | 0xd3 => {
                self.need(9)?;
                ffi::lua_pushnumber(state, self.be(1, 8) as i64 as f64);
                self.position += 9;
            }
            0xc0 => {
                ffi::lua_pushnil(state);
                self.position += 1;
            }
            0xc3 | 0xc2 => {
                ffi::lua_pushboolean(state, (code == 0xc3) as c_int);
                self.position += 1;
            }
            0xca => {
                self.need(5)?;
                ffi::lua_pushnumber(state, f32::from_bits(self.be(1, 4) as u32) as f64);
                self.position += 5;
            }
            0xcb => {
                self.need(9)?;
                ffi::lua_pushnumber(state, f64::from_bits(self.be(1, 8)));
                self.position += 9;
            }
            0xd9 => {
                self.need(2)?;
                let len = self.at(1) as usize;
                self.push_string(state, 2, len)?;
            }
            0xda => {
                self.need(3)?;
                let len = self.be(1, 2) as usize;
                self.push_string(state, 3, len)?;
            }
            0xdb => {
                self.need(5)?;
                let len = self.be(1, 4) as usize;
                self.push_string(state, 5, len)?;
            }
            0xdc | 0xde => {
                self.need(3)?;
                let len = self.be(1, 2) as usize;
                self.position += 3;
                return self.open_container(state, code == 0xdc, len).map(Some);
            }
            0xdd | 0xdf => {
                self.need(5)?;
                let len = self.be(1, 4) as usize;
                self.position += 5;
                return self.open_container(state, code == 0xdd, len).map(Some);
            }
            _ if code & 0x80 == 0 => {
                ffi::lua_pushnumber(state, code as f64);
                self.position += 1;
            }
            _ if code & 0xe0 == 0xe0 => {
                ffi::lua_pushnumber(state, code as i8 as f64);
                self.position += 1;
            }
            _ if code & 0xe0 == 0xa0 => {
                self.push_string(state, 1, (code & 0x1f) as usize)?;
            }
            _ if code & 0xf0 == 0x90 || code & 0xf0 == 0x80 => {
                self.position += 1;
                return self
                    .open_container(state, code & 0xf0 == 0x90, (code & 0x0f) as usize)
                    .map(Some);
            }
            _ => return Err(DecodeError::BadFormat),
        }
        Ok(None)
    }

    unsafe fn open_container(&mut self, state: State, array: bool, left: usize) -> Result<Container, DecodeError> {
        ffi::lua_createtable(state, 0, 0);
        if array {
            check_stack(state, 1, "in function mp_decode_to_lua_array")?;
            Ok(Container::Array { left, index: 1 })
        } else {
            Ok(Container::Map {
                left,
                reading_key: true,
            })
        }
    }

    /// Decodes one top-level value onto the stack. Iterative: the depth is
    /// bounded by Lua's stack, not by Rust's.
    unsafe fn value(&mut self, state: State) -> Result<(), DecodeError> {
        let mut containers: Vec<Container> = Vec::new();
        loop {
            // `item` pushed a value or opened a container: find what to
            // read next, storing finished values into their tables.
            let mut finished = match self.item(state)? {
                Some(container) => {
                    containers.push(container);
                    false
                }
                None => true,
            };
            loop {
                let Some(container) = containers.last_mut() else {
                    return Ok(());
                };
                match container {
                    Container::Array { left, index } => {
                        if finished {
                            // Stack: table, index, value.
                            ffi::lua_rawset(state, -3);
                        }
                        if *left == 0 {
                            containers.pop();
                            finished = true;
                            continue;
                        }
                        *left -= 1;
                        ffi::lua_pushnumber(state, *index as f64);
                        *index += 1;
                        break;
                    }
                    Container::Map { left, reading_key } => {
                        if finished {
                            if *reading_key {
                                // The key is read: now its value.
                                *reading_key = false;
                                break;
                            }
                            store_pair(state)?;
                            *reading_key = true;
                        }
                        if *left == 0 {
                            containers.pop();
                            finished = true;
                            continue;
                        }
                        *left -= 1;
                        break;
                    }
                }
            }
        }
    }
}

/// Stack: table, key, value → table with key = value (what `lua_settable`
/// does to a plain table, with its errors).
unsafe fn store_pair(state: State) -> LuaResult<()> {
    match ffi::lua_type(state, -2) {
        ffi::LUA_TNIL => return Err(Raise::Plain(b"table index is nil".to_vec())),
        ffi::LUA_TNUMBER if ffi::lua_tonumber(state, -2).is_nan() => {
            return Err(Raise::Plain(b"table index is NaN".to_vec()))
        }
        _ => {}
    }
    ffi::lua_rawset(state, -3);
    Ok(())
}

/// Decodes up to `limit` values of the string at index 1 from `offset`;
/// with limit and offset 0, all values and no offset result. Otherwise the
/// first result is the offset of what is left, -1 when nothing is.
unsafe fn unpack_full(state: State, limit: i64, offset: i64) -> LuaResult<c_int> {
    let data = check_bytes(state, 1)?;
    let len = data.len();
    if offset < 0 || limit < 0 {
        // The C library reports the input length as the limit.
        return Err(Raise::error(format!(
            "Invalid request to unpack with offset of {} and limit of {}.",
            offset as c_int, len as c_int
        )));
    }
    if offset as u64 > len as u64 {
        return Err(Raise::error(format!(
            "Start offset {} greater than input length {}.",
            offset as c_int, len as c_int
        )));
    }
    let decode_all = limit == 0 && offset == 0;
    let limit = if decode_all { c_int::MAX as i64 } else { limit };
    let mut cursor = Cursor {
        data,
        position: offset as usize,
    };
    let mut count: c_int = 0;
    while cursor.left() > 0 && (count as i64) < limit {
        match cursor.value(state) {
            Ok(()) => {}
            Err(DecodeError::MissingBytes) => return Err(Raise::error("Missing bytes in input.")),
            Err(DecodeError::BadFormat) => return Err(Raise::error("Bad data format in input.")),
            Err(DecodeError::Raise(raise)) => return Err(raise),
        }
        count += 1;
    }
    if !decode_all {
        check_stack(state, 1, "in function mp_unpack_full")?;
        let next = if cursor.left() == 0 {
            -1
        } else {
            cursor.position as ffi::lua_Integer
        };
        ffi::lua_pushinteger(state, next);
        ffi::lua_insert(state, 2);
        count += 1;
    }
    Ok(count)
}

unsafe extern "C-unwind" fn mp_unpack(state: State) -> c_int {
    finish(state, unpack_full(state, 0, 0))
}

unsafe extern "C-unwind" fn mp_unpack_one(state: State) -> c_int {
    finish(state, unpack_one(state))
}

/// `cmsgpack.unpack_one(data[, offset])` → next offset (or -1), value.
unsafe fn unpack_one(state: State) -> LuaResult<c_int> {
    let offset = opt_integer(state, 2, 0)?;
    ffi::lua_settop(state, 1);
    unpack_full(state, 1, offset)
}

unsafe extern "C-unwind" fn mp_unpack_limit(state: State) -> c_int {
    finish(state, unpack_limit(state))
}

/// `cmsgpack.unpack_limit(data, limit[, offset])` → next offset (or -1),
/// values.
unsafe fn unpack_limit(state: State) -> LuaResult<c_int> {
    let limit = check_integer(state, 2)?;
    let offset = opt_integer(state, 3, 0)?;
    ffi::lua_settop(state, 1);
    unpack_full(state, limit, offset)
}

#[cfg(test)]
mod tests {
    use super::super::tests::{run_hex as run, run_hex_err as run_err};

    // Expected values below were produced by redis-server 7.0.15 (same
    // library code as 7.4) with `EVAL "<script>" 0`.

    #[test]
    fn packs_numbers_in_the_smallest_form() {
        assert_eq!(run("return hex(cmsgpack.pack(0.1))"), "cb3fb999999999999a");
        assert_eq!(run("return hex(cmsgpack.pack(-1099511627776))"), "d3ffffff0000000000");
        assert_eq!(
            run("return hex(cmsgpack.pack(0/0, 1/0, -1/0, 2^63, -2^63, 2^64, 1.5, -0.0, 0.1))"),
            "cbfff8000000000000ca7f800000caff800000ca5f000000d38000000000000000ca5f800000ca3fc0000000cb3fb999999999999a"
        );
        assert_eq!(
            run("return hex(cmsgpack.pack(0, 127, 128, 255, 256, 65535, 65536, 2^32-1, 2^32, -1, -32, -33, -128, -129, -32768, -32769, -2^31, -2^31-1))"),
            "007fcc80ccffcd0100cdffffce00010000ceffffffffcf0000000100000000ffe0d0dfd080d1ff7fd18000d2ffff7fffd280000000d3ffffffff7fffffff"
        );
    }

    #[test]
    fn packs_strings_booleans_nil_and_tables() {
        assert_eq!(
            run("return hex(cmsgpack.pack(nil, true, false, 'abc', string.rep('x',32), {1,2}, {a=1}, type))"),
            "c0c3c2a3616263d920787878787878787878787878787878787878787878787878787878787878787892010281a16101c0"
        );
        assert_eq!(run("return hex(cmsgpack.pack({}))"), "90");
        assert_eq!(run("return hex(cmsgpack.pack({[2]=1}))"), "810201");
        assert_eq!(run("return hex(cmsgpack.pack({[1]=1, [3]=3}))"), "8201010303");
        assert_eq!(run("return hex(cmsgpack.pack({[1.5]=1}))"), "81ca3fc0000001");
        assert_eq!(
            run("return hex(cmsgpack.pack(string.rep('x', 256)):sub(1, 6))"),
            "da0100787878"
        );
        assert_eq!(
            run("return hex(cmsgpack.pack(string.rep('x', 65536)):sub(1, 5))"),
            "db00010000"
        );
        assert_eq!(
            run("local t = {} for i = 1, 16 do t[i] = i end return hex(cmsgpack.pack(t)):sub(1, 6)"),
            "dc0010"
        );
        assert_eq!(
            run("local t = {} for i = 1, 65536 do t[i] = 0 end return hex(cmsgpack.pack(t)):sub(1, 10)"),
            "dd00010000"
        );
        assert_eq!(
            run("local t = {} for i = 1, 16 do t['k'..i] = i end return hex(cmsgpack.pack(t)):sub(1, 6)"),
            "de0010"
        );
        // Bytes that are not UTF-8 pass through.
        assert_eq!(run("return hex(cmsgpack.pack('\\255\\0'))"), "a2ff00");
    }

    #[test]
    fn nesting_deeper_than_sixteen_packs_as_nil() {
        assert_eq!(
            run("local t = {} for i = 1, 3000 do t = {t} end return #cmsgpack.pack(t)"),
            "17"
        );
        assert_eq!(
            run("local t = {} for i = 1, 3000 do t = {t} end return hex(cmsgpack.pack(t)):sub(-4)"),
            "91c0"
        );
    }

    #[test]
    fn pack_needs_input() {
        assert_eq!(
            run_err("return cmsgpack.pack()"),
            "t:1: bad argument #0 to 'pack' (MessagePack pack needs input.)"
        );
    }

    #[test]
    fn unpacks_every_type() {
        assert_eq!(run("return {cmsgpack.unpack(B('cfffffffffffffffff'))}"), "[-1]");
        assert_eq!(
            run("return tostring(cmsgpack.unpack(B('cf8000000000000001')))"),
            "-9.2233720368548e+18"
        );
        assert_eq!(
            run("return tostring(cmsgpack.unpack(B('d38000000000000001')))"),
            "-9.2233720368548e+18"
        );
        assert_eq!(
            run("return {cmsgpack.unpack((B('007fcc80d080cdffffd1ff7fceffffffffd2ffff7fffe0ff')))}"),
            "[0, 127, 128, -128, 65535, -129, 4294967295, -32769, -32, -1]"
        );
        assert_eq!(
            run("local t = {cmsgpack.unpack(B('c0c3c2ca3fc00000cb3fb999999999999aa161d90162da000162db0000000162'))} return {t[1] == nil, t[2], t[3], t[4], t[5], t[6], t[7], t[8], t[9]}"),
            "[true, true, false, 1.5, 0.1, \"a\", \"b\", \"b\", \"b\"]"
        );
        assert_eq!(
            run("local t = cmsgpack.unpack(B('83a161920102a162c0a163dc0001c3')) return {t.a[1], t.a[2], t.b == nil, t.c[1]}"),
            "[1, 2, true, true]"
        );
        assert_eq!(
            run("local s = B('dd00000000df00000000') return {type((cmsgpack.unpack(s))), select('#', cmsgpack.unpack(s))}"),
            "[\"table\", 2]"
        );
    }

    #[test]
    fn reports_invalid_input() {
        assert_eq!(
            run_err("return cmsgpack.unpack(B('c1'))"),
            "t:1: Bad data format in input."
        );
        assert_eq!(
            run_err("return cmsgpack.unpack(B('c4'))"),
            "t:1: Bad data format in input."
        );
        assert_eq!(
            run_err("return cmsgpack.unpack(B('d4'))"),
            "t:1: Bad data format in input."
        );
        assert_eq!(
            run_err("return cmsgpack.unpack(B('cd01'))"),
            "t:1: Missing bytes in input."
        );
        assert_eq!(
            run_err("return cmsgpack.unpack(B('a5616263'))"),
            "t:1: Missing bytes in input."
        );
        assert_eq!(
            run_err("return cmsgpack.unpack(B('db7fffffff61'))"),
            "t:1: Missing bytes in input."
        );
        assert_eq!(
            run_err("return cmsgpack.unpack(B('9301'))"),
            "t:1: Missing bytes in input."
        );
        assert_eq!(
            run_err("return cmsgpack.unpack(B('dcffff'))"),
            "t:1: Missing bytes in input."
        );
        assert_eq!(run_err("return cmsgpack.unpack(B('81c001'))"), "table index is nil");
        assert_eq!(
            run_err("return cmsgpack.unpack(B('81cb7ff800000000000101'))"),
            "table index is NaN"
        );
        assert_eq!(
            run_err("return cmsgpack.unpack()"),
            "t:1: bad argument #1 to 'unpack' (string expected, got no value)"
        );
        assert_eq!(
            run_err("return cmsgpack.unpack_limit('a')"),
            "t:1: bad argument #2 to 'unpack_limit' (number expected, got no value)"
        );
        assert_eq!(
            run_err("return cmsgpack.unpack_one('a', 'x')"),
            "t:1: bad argument #2 to 'unpack_one' (number expected, got string)"
        );
    }

    #[test]
    fn offsets_and_limits() {
        assert_eq!(
            run_err("return cmsgpack.unpack_one(B('0102'), -1)"),
            "t:1: Invalid request to unpack with offset of -1 and limit of 2."
        );
        assert_eq!(
            run_err("return cmsgpack.unpack_one(B('0102'), 3)"),
            "t:1: Start offset 3 greater than input length 2."
        );
        assert_eq!(run("return {cmsgpack.unpack_one(B('0102'), 2)}"), "[-1]");
        assert_eq!(run("return {cmsgpack.unpack_one(B('0102'), 1)}"), "[-1, 2]");
        assert_eq!(run("return {cmsgpack.unpack_one(B('0102'))}"), "[1, 1]");
        assert_eq!(run("return {cmsgpack.unpack_limit(B('010203'), 0, 0)}"), "[1, 2, 3]");
        assert_eq!(run("return {cmsgpack.unpack_limit(B('010203'), 2)}"), "[2, 1, 2]");
        assert_eq!(run("return {cmsgpack.unpack_limit(B('010203'), 0, 1)}"), "[1]");
        assert_eq!(
            run_err("return {cmsgpack.unpack_limit(B('010203'), -1)}"),
            "t:1: Invalid request to unpack with offset of 0 and limit of 3."
        );
        assert_eq!(run("return {cmsgpack.unpack_one('')}"), "[-1]");
        assert_eq!(run("return select('#', cmsgpack.unpack(''))"), "0");
    }

    #[test]
    fn lua_stack_bounds_results_and_depth() {
        // Same limits as redis-server: 7999 results fit, 8000 do not;
        // 3999 nested arrays fit, 4000 do not.
        assert_eq!(
            run("return select('#', cmsgpack.unpack(string.rep(B('01'), 7999)))"),
            "7999"
        );
        assert_eq!(
            run_err("return cmsgpack.unpack(string.rep(B('01'), 8000))"),
            "t:1: stack overflow (too many return values at once; use unpack_one or unpack_limit instead.)"
        );
        assert_eq!(
            run("local t = cmsgpack.unpack(string.rep(B('91'), 3999)..B('01')) return 1"),
            "1"
        );
        assert_eq!(
            run_err("return cmsgpack.unpack(string.rep(B('91'), 4000)..B('01'))"),
            "t:1: stack overflow (in function mp_decode_to_lua_array)"
        );
    }

    #[test]
    fn module_fields() {
        assert_eq!(
            run("return {cmsgpack._NAME, cmsgpack._VERSION, cmsgpack._COPYRIGHT, cmsgpack._DESCRIPTION}"),
            "[\"cmsgpack\", \"lua-cmsgpack 0.4.0\", \"Copyright (C) 2012, Salvatore Sanfilippo\", \"MessagePack C implementation for Lua\"]"
        );
    }

    /// "EVAL - cmsgpack pack/unpack smoke test" from Redis's unit/scripting.tcl.
    #[test]
    fn redis_pack_unpack_smoke_test() {
        run(r#"
            local str_lt_32 = string.rep("x", 30)
            local str_lt_255 = string.rep("x", 250)
            local str_lt_65535 = string.rep("x", 65530)
            local str_long = string.rep("x", 100000)
            local array_lt_15 = {1, 2, 3, 4, 5}
            local array_lt_65535 = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18}
            local array_big = {}
            for i=1, 100000 do array_big[i] = i end
            local map_lt_15 = {a=1, b=2}
            local map_big = {}
            for i=1, 100000 do map_big[tostring(i)] = i end
            local some_map = {
                s1=str_lt_32, s2=str_lt_255, s3=str_lt_65535, s4=str_long,
                d1=0.1, i1=1, i2=250, i3=65530, i4=100000, i5=2^40, i6=-1, i7=-120, i8=-32000,
                i9=-100000, i10=-3147483648, a1=array_lt_15, a2=array_lt_65535, a3=array_big,
                m1=map_lt_15, m2=map_big, b1=false, b2=true, n=nil
            }
            local encoded = cmsgpack.pack(some_map)
            local decoded = cmsgpack.unpack(encoded)
            assert(table.concat(some_map) == table.concat(decoded))
            local offset, decoded_one = cmsgpack.unpack_one(encoded, 0)
            assert(table.concat(some_map) == table.concat(decoded_one))
            assert(offset == -1)
            -- Beyond the Tcl test: the values really survive the round trip.
            assert(decoded.s4 == str_long and decoded.d1 == 0.1 and decoded.i5 == 2^40)
            assert(decoded.i10 == -3147483648 and decoded.b1 == false and decoded.b2 == true)
            assert(#decoded.a3 == 100000 and decoded.a3[100000] == 100000 and decoded.m2["99999"] == 99999)

            local encoded_multiple = cmsgpack.pack(str_lt_32, str_lt_255, str_lt_65535, str_long)
            local offset, obj = cmsgpack.unpack_limit(encoded_multiple, 1, 0)
            assert(obj == str_lt_32)
            offset, obj = cmsgpack.unpack_limit(encoded_multiple, 1, offset)
            assert(obj == str_lt_255)
            offset, obj = cmsgpack.unpack_limit(encoded_multiple, 1, offset)
            assert(obj == str_lt_65535)
            offset, obj = cmsgpack.unpack_limit(encoded_multiple, 1, offset)
            assert(obj == str_long)
            assert(offset == -1)
            return 1
        "#);
    }

    /// "EVAL - cmsgpack can pack and unpack circular references?" from
    /// Redis's unit/scripting.tcl.
    #[test]
    fn redis_circular_references() {
        assert_eq!(
            run(r#"
                local a = {x=nil,y=5}
                local b = {x=a}
                a['x'] = b
                local encoded = cmsgpack.pack(a)
                local re = cmsgpack.unpack(encoded)
                assert(re)
                assert(re.x)
                assert(re.x.x.y == re.y)
                assert(re.x.x.x.x.y == re.y)
                assert(re.x.x.x.x.x.x.y == re.y)
                assert(re.x.x.x.x.x.x.x.x.x.x.y == re.y)
                assert(re.x.x.x.x.x.x.x.x.x.x.x.x.x.x.y == re.y)
                assert(re.x.x.x.x.x.x.x.x.x.x.x.x.x.x.x)
                assert(re.x.x.x.x.x.x.x.x.x.x.x.x.x.x.x.x == nil)
                return {hex(encoded), re.x.x.x.x.x.x.x.x.y == re.y, re.y == 5}
            "#),
            "[\"82a17905a17881a17882a17905a17881a17882a17905a17881a17882a17905a17881a17882a17905a17881a17882a17905a17881a17882a17905a17881a17882a17905a17881a178c0\", true, true]"
        );
    }
}
