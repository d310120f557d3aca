//! `struct`: binary packing for scripts (Roberto Ierusalimschy's struct
//! library as Redis bundles it, with Redis's bounds checks).
//!
//! Format options:
//! - `>` big endian, `<` little endian (the default: x86-64's), `![n]`
//!   alignment n (default 8, a power of 2), ` ` ignored;
//! - `b`/`B` char, `h`/`H` short, `l`/`L` long, `T` size_t, `i[n]`/`I[n]`
//!   int of n bytes (default 4, at most 32), lower case signed;
//! - `f` float, `d` double, `x` one zero byte of padding;
//! - `c[n]` n bytes (default 1; `c0`: the whole string when packing, the
//!   previous number as the length when unpacking), `s` a zero-terminated
//!   string.
//!
//! Integers are C longs: wider `i` sizes pack zeros (not sign) above 64
//! bits, and numbers convert to integers as C does on x86-64.

use std::ffi::{c_int, CStr};

use mlua::ffi;

use super::lua_api::{
    arg_check, c_double_to_i64, c_double_to_u64, check_bytes, check_number, check_stack, finish, opt_integer,
    push_bytes, until_nul, LuaResult, Raise, State,
};

/// The largest `i`/`I` size.
const MAX_INT_SIZE: usize = 32;
/// The default of `!`: the alignment of a double after a char on x86-64.
const MAX_ALIGN: c_int = 8;

/// Creates the `struct` table and stores it in the global `struct`.
///
/// # Safety
/// `state` is a valid Lua state with a few free stack slots.
pub(crate) unsafe fn open(state: State) {
    let functions: [(&CStr, ffi::lua_CFunction); 3] = [
        (c"pack", struct_pack),
        (c"unpack", struct_unpack),
        (c"size", struct_size),
    ];
    // Sized as luaL_register sizes it, so that pairs(struct) walks it in Redis's order.
    ffi::lua_createtable(state, 0, functions.len() as c_int);
    for (name, function) in functions {
        ffi::lua_pushcclosure(state, function, 0);
        ffi::lua_setfield(state, -2, name.as_ptr());
    }
    ffi::lua_setfield(state, ffi::LUA_GLOBALSINDEX, c"struct".as_ptr());
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Endian {
    Big,
    Little,
}

/// The current byte order and alignment.
struct Header {
    endian: Endian,
    align: usize,
}

impl Header {
    fn new() -> Header {
        Header {
            endian: Endian::Little,
            align: 1,
        }
    }
}

/// The format string being read.
struct Format<'a> {
    bytes: &'a [u8],
    position: usize,
}

impl Format<'_> {
    fn next_option(&mut self) -> Option<u8> {
        let option = *self.bytes.get(self.position)?;
        self.position += 1;
        Some(option)
    }

    /// The number written here, or `default` when there is none.
    fn number(&mut self, default: c_int) -> LuaResult<c_int> {
        if !self.bytes.get(self.position).is_some_and(u8::is_ascii_digit) {
            return Ok(default);
        }
        let mut value: c_int = 0;
        while let Some(&digit) = self.bytes.get(self.position).filter(|byte| byte.is_ascii_digit()) {
            let digit = (digit - b'0') as c_int;
            if value > c_int::MAX / 10 || value * 10 > c_int::MAX - digit {
                return Err(Raise::error("integral size overflow"));
            }
            value = value * 10 + digit;
            self.position += 1;
        }
        Ok(value)
    }

    /// The size of `option` (reading its count when it takes one); 0 for
    /// options that need no alignment.
    fn size(&mut self, option: u8) -> LuaResult<usize> {
        Ok(match option {
            b'B' | b'b' => 1,
            b'H' | b'h' => 2,
            b'L' | b'l' | b'T' => 8,
            b'f' => 4,
            b'd' => 8,
            b'x' => 1,
            b'c' => self.number(1)? as usize,
            b'i' | b'I' => {
                let size = self.number(4)?;
                if size as usize > MAX_INT_SIZE {
                    return Err(Raise::error(format!(
                        "integral size {size} is larger than limit of {MAX_INT_SIZE}"
                    )));
                }
                size as usize
            }
            _ => 0,
        })
    }

    /// Applies a control option (or rejects an unknown one).
    fn control(&mut self, option: u8, header: &mut Header) -> LuaResult<()> {
        match option {
            b' ' => {}
            b'>' => header.endian = Endian::Big,
            b'<' => header.endian = Endian::Little,
            b'!' => {
                let align = self.number(MAX_ALIGN)?;
                if align <= 0 || align & (align - 1) != 0 {
                    return Err(Raise::error(format!("alignment {align} is not a power of 2")));
                }
                header.align = align as usize;
            }
            _ => {
                let mut message = b"invalid format option '".to_vec();
                message.push(option);
                message.push(b'\'');
                return Err(Raise::Arg(1, message));
            }
        }
        Ok(())
    }
}

/// Padding needed before an item of `size` bytes at offset `len`.
fn padding(len: usize, header: &Header, option: u8, size: usize) -> usize {
    if size == 0 || option == b'c' {
        return 0;
    }
    let size = size.min(header.align);
    (size.wrapping_sub(len & size.wrapping_sub(1))) & size.wrapping_sub(1)
}

/// The format (argument 1) up to its first NUL, as the C library reads it.
unsafe fn format_arg<'a>(state: State) -> LuaResult<Format<'a>> {
    Ok(Format {
        bytes: until_nul(check_bytes(state, 1)?),
        position: 0,
    })
}

unsafe extern "C-unwind" fn struct_pack(state: State) -> c_int {
    finish(state, pack(state))
}

/// `struct.pack(format, v1, v2, ...)` → the packed string.
unsafe fn pack(state: State) -> LuaResult<c_int> {
    let mut format = format_arg(state)?;
    let mut header = Header::new();
    let mut arg: c_int = 2;
    let mut total: usize = 0;
    let mut out: Vec<u8> = Vec::new();
    // The C library marks the end of the arguments with a nil (a missing
    // argument reads "got nil", not "got no value").
    ffi::lua_pushnil(state);
    while let Some(option) = format.next_option() {
        let mut size = format.size(option)?;
        let align = padding(total, &header, option, size);
        total += align;
        out.resize(out.len() + align, 0);
        match option {
            b'b' | b'B' | b'h' | b'H' | b'l' | b'L' | b'T' | b'i' | b'I' => {
                let number = check_number(state, arg)?;
                arg += 1;
                let mut value = if number < 0.0 {
                    c_double_to_i64(number) as u64
                } else {
                    c_double_to_u64(number)
                };
                let mut bytes = [0u8; MAX_INT_SIZE];
                for byte in bytes[..size].iter_mut() {
                    *byte = value as u8;
                    value = value.checked_shr(8).unwrap_or(0);
                }
                if header.endian == Endian::Big {
                    bytes[..size].reverse();
                }
                out.extend_from_slice(&bytes[..size]);
            }
            b'x' => out.push(0),
            b'f' => {
                let number = check_number(state, arg)? as f32;
                arg += 1;
                out.extend_from_slice(&match header.endian {
                    Endian::Big => number.to_be_bytes(),
                    Endian::Little => number.to_le_bytes(),
                });
            }
            b'd' => {
                let number = check_number(state, arg)?;
                arg += 1;
                out.extend_from_slice(&match header.endian {
                    Endian::Big => number.to_be_bytes(),
                    Endian::Little => number.to_le_bytes(),
                });
            }
            b'c' | b's' => {
                let text = check_bytes(state, arg)?;
                arg += 1;
                if size == 0 {
                    size = text.len();
                }
                // The C library names the argument after the string.
                arg_check(text.len() >= size, arg, "string too short")?;
                out.extend_from_slice(&text[..size]);
                if option == b's' {
                    out.push(0);
                    size += 1;
                }
            }
            _ => format.control(option, &mut header)?,
        }
        total += size;
    }
    push_bytes(state, &out);
    Ok(1)
}

/// Reads an integer of `bytes.len()` bytes; a signed one is sign-extended
/// from its top bit, which for sizes over 8 is bit 63 (C shifts by the
/// size in bits minus one, modulo 64).
fn get_integer(bytes: &[u8], endian: Endian, signed: bool) -> f64 {
    let mut value: u64 = 0;
    let mut take = |byte: &u8| value = (value << 8) | *byte as u64;
    match endian {
        Endian::Big => bytes.iter().for_each(&mut take),
        Endian::Little => bytes.iter().rev().for_each(&mut take),
    }
    if !signed {
        return value as f64;
    }
    let shift = ((bytes.len() as i32) * 8 - 1) & 63;
    let mask = u64::MAX << shift;
    if value & mask != 0 {
        value |= mask;
    }
    value as i64 as f64
}

unsafe extern "C-unwind" fn struct_unpack(state: State) -> c_int {
    finish(state, unpack(state))
}

/// `struct.unpack(format, data[, offset])` → the values, then the offset
/// after them (1-based).
unsafe fn unpack(state: State) -> LuaResult<c_int> {
    let mut format = format_arg(state)?;
    let data = check_bytes(state, 2)?;
    let len = data.len();
    // A negative offset wraps to a huge one, as C's size_t does, and then
    // fails the bounds check.
    let mut position = opt_integer(state, 3, 1)? as usize;
    arg_check(position > 0, 3, "offset must be 1 or greater")?;
    position -= 1;
    let mut header = Header::new();
    let mut results: c_int = 0;
    while let Some(option) = format.next_option() {
        let mut size = format.size(option)?;
        position = position.wrapping_add(padding(position, &header, option, size));
        arg_check(size <= len && position <= len - size, 2, "data string too short")?;
        // Room for this item and the final offset.
        check_stack(state, 2, "too many results")?;
        match option {
            b'b' | b'B' | b'h' | b'H' | b'l' | b'L' | b'T' | b'i' | b'I' => {
                let signed = option.is_ascii_lowercase();
                ffi::lua_pushnumber(
                    state,
                    get_integer(&data[position..position + size], header.endian, signed),
                );
                results += 1;
            }
            b'x' => {}
            b'f' => {
                let bytes: [u8; 4] = data[position..position + 4].try_into().expect("4 bytes");
                let number = match header.endian {
                    Endian::Big => f32::from_be_bytes(bytes),
                    Endian::Little => f32::from_le_bytes(bytes),
                };
                ffi::lua_pushnumber(state, number as f64);
                results += 1;
            }
            b'd' => {
                let bytes: [u8; 8] = data[position..position + 8].try_into().expect("8 bytes");
                let number = match header.endian {
                    Endian::Big => f64::from_be_bytes(bytes),
                    Endian::Little => f64::from_le_bytes(bytes),
                };
                ffi::lua_pushnumber(state, number);
                results += 1;
            }
            b'c' => {
                if size == 0 {
                    if results == 0 || ffi::lua_isnumber(state, -1) == 0 {
                        return Err(Raise::error("format 'c0' needs a previous size"));
                    }
                    size = c_double_to_u64(ffi::lua_tonumber(state, -1)) as usize;
                    ffi::lua_settop(state, -2);
                    results -= 1;
                    arg_check(size <= len && position <= len - size, 2, "data string too short")?;
                }
                push_bytes(state, &data[position..position + size]);
                results += 1;
            }
            b's' => {
                let Some(end) = memchr::memchr(0, &data[position..]) else {
                    return Err(Raise::error("unfinished string in data"));
                };
                push_bytes(state, &data[position..position + end]);
                size = end + 1;
                results += 1;
            }
            _ => format.control(option, &mut header)?,
        }
        position += size;
    }
    ffi::lua_pushinteger(state, position.wrapping_add(1) as ffi::lua_Integer);
    Ok(results + 1)
}

unsafe extern "C-unwind" fn struct_size(state: State) -> c_int {
    finish(state, size(state))
}

/// `struct.size(format)` → the size of the packed data. Unknown letters
/// and digits count as nothing here (they fail pack and unpack).
unsafe fn size(state: State) -> LuaResult<c_int> {
    let mut format = format_arg(state)?;
    let mut header = Header::new();
    let mut position: usize = 0;
    while let Some(option) = format.next_option() {
        let size = format.size(option)?;
        position = position.wrapping_add(padding(position, &header, option, size));
        if option == b's' {
            return Err(Raise::arg(1, "option 's' has no fixed size"));
        } else if option == b'c' && size == 0 {
            return Err(Raise::arg(1, "option 'c0' has no fixed size"));
        }
        if !option.is_ascii_alphanumeric() {
            format.control(option, &mut header)?;
        }
        position = position.wrapping_add(size);
    }
    ffi::lua_pushinteger(state, position as ffi::lua_Integer);
    Ok(1)
}

#[cfg(test)]
mod tests {
    use super::super::tests::{run_hex as run, run_hex_err as run_err};

    // Expected values below were produced by redis-server 7.0.15 (same
    // library code as 7.4) with `EVAL "<script>" 0`.

    #[test]
    fn packs_integers() {
        assert_eq!(
            run("return hex(struct.pack('>bBhHlLTiI', -1, 255, -2, 65535, -3, 7, 9, -4, 5))"),
            "fffffffefffffffffffffffffffd00000000000000070000000000000009fffffffc00000005"
        );
        assert_eq!(
            run("return hex(struct.pack('<i3I16i16', -1, 1, -1))"),
            "ffffff01000000000000000000000000000000ffffffffffffffff0000000000000000"
        );
        assert_eq!(
            run("return hex(struct.pack('>L', 0/0))..' '..hex(struct.pack('>L', 2^64))..' '..hex(struct.pack('>l', -2^64))..' '..hex(struct.pack('>L', 2^63+2^12))..' '..hex(struct.pack('>L', 1e300))..' '..hex(struct.pack('>l', -1/0))"),
            "8000000000000000 0000000000000000 8000000000000000 8000000000001000 0000000000000000 8000000000000000"
        );
        assert_eq!(run("return hex(struct.pack('i0b', 7, 1))"), "01");
    }

    #[test]
    fn packs_with_alignment_floats_and_strings() {
        assert_eq!(run("return hex(struct.pack('!4bi', 1, 2))"), "0100000002000000");
        assert_eq!(
            run("return hex(struct.pack('!bd', 1, 1.5))"),
            "0100000000000000000000000000f83f"
        );
        assert_eq!(
            run("return hex(struct.pack('>fd', 1.5, -0.1))"),
            "3fc00000bfb999999999999a"
        );
        assert_eq!(
            run("return hex(struct.pack('c5sc0x', 'abcdefg', 'hi', 'xyz'))"),
            "616263646568690078797a00"
        );
        assert_eq!(run("return hex(struct.pack('s', 'a\\0b'))"), "61006200");
        assert_eq!(run("return hex(struct.pack('b\\0b', 1, 2))"), "01");
    }

    #[test]
    fn pack_errors() {
        assert_eq!(
            run_err("return struct.pack('c5', 'ab')"),
            "t:1: bad argument #3 to 'pack' (string too short)"
        );
        assert_eq!(
            run_err("return struct.pack('q', 1)"),
            "t:1: bad argument #1 to 'pack' (invalid format option 'q')"
        );
        assert_eq!(
            run_err("return struct.pack('z', 1)"),
            "t:1: bad argument #1 to 'pack' (invalid format option 'z')"
        );
        assert_eq!(
            run_err("return struct.pack('i33', 1)"),
            "t:1: integral size 33 is larger than limit of 32"
        );
        assert_eq!(
            run_err("return struct.pack('!3i', 1)"),
            "t:1: alignment 3 is not a power of 2"
        );
        assert_eq!(
            run_err("return struct.pack('!0i', 1)"),
            "t:1: alignment 0 is not a power of 2"
        );
        assert_eq!(
            run_err("return struct.pack('i99999999999', 1)"),
            "t:1: integral size overflow"
        );
        assert_eq!(
            run_err("return struct.pack('i', 'x')"),
            "t:1: bad argument #2 to 'pack' (number expected, got string)"
        );
        assert_eq!(
            run_err("return struct.pack('i')"),
            "t:1: bad argument #2 to 'pack' (number expected, got nil)"
        );
        assert_eq!(
            run_err("return struct.pack('bs', 1)"),
            "t:1: bad argument #3 to 'pack' (string expected, got nil)"
        );
        assert_eq!(
            run_err("return struct.pack()"),
            "t:1: bad argument #1 to 'pack' (string expected, got no value)"
        );
    }

    #[test]
    fn sizes() {
        assert_eq!(
            run("return {struct.size('bhilqz'), struct.size('!8bd'), struct.size('c10'), struct.size('>!4bhi')}"),
            "[15, 16, 10, 8]"
        );
        assert_eq!(
            run_err("return struct.size('s')"),
            "t:1: bad argument #1 to 'size' (option 's' has no fixed size)"
        );
        assert_eq!(
            run_err("return struct.size('c0')"),
            "t:1: bad argument #1 to 'size' (option 'c0' has no fixed size)"
        );
        assert_eq!(
            run_err("return struct.size('-')"),
            "t:1: bad argument #1 to 'size' (invalid format option '-')"
        );
    }

    #[test]
    fn unpacks_values() {
        assert_eq!(
            run("return {struct.unpack('>bBhHlLi', B('ff' .. 'ff' .. 'fffe' .. 'ffff' .. 'fffffffffffffffd' .. 'ffffffffffffffff' .. '80000000'))}"),
            "[-1, 255, -2, 65535, -3, 1.844674407371e+19, -2147483648, 27]"
        );
        assert_eq!(
            run("return tostring(struct.unpack('<L', B('ffffffffffffffff')))"),
            "1.844674407371e+19"
        );
        assert_eq!(
            run("return {struct.unpack('<i16', B('ffffffffffffffff0000000000000000'))}"),
            "[-1, 17]"
        );
        assert_eq!(run("return {struct.unpack('<I0', '')}"), "[0, 1]");
        assert_eq!(run("return {struct.unpack('<i0', '')}"), "[0, 1]");
        assert_eq!(run("return {struct.unpack('>f', B('3fc00000'))}"), "[1.5, 5]");
        assert_eq!(run("return {struct.unpack('<d', B('9a9999999999b93f'))}"), "[0.1, 9]");
        assert_eq!(run("return {struct.unpack('bc0', B('03')..'abcd')}"), "[\"abc\", 5]");
        assert_eq!(
            run("return {struct.unpack('s s', 'ab'..B('00')..'cd'..B('00'))}"),
            "[\"ab\", \"cd\", 7]"
        );
        assert_eq!(
            run("return {struct.unpack('!4bi', B('01000000')..B('02000000'))}"),
            "[1, 2, 9]"
        );
        assert_eq!(run("return {struct.unpack('bxb', B('010203'))}"), "[1, 3, 4]");
        assert_eq!(run("return {struct.unpack('b', 'abc', 3)}"), "[99, 4]");
        assert_eq!(
            run("return {struct.unpack('c2', '\\255\\0\\1')}"),
            "[\"\u{fffd}\u{0}\", 3]"
        );
        assert_eq!(
            run("return select('#', struct.unpack(string.rep('b', 5000), string.rep('a', 5000)))"),
            "5001"
        );
    }

    #[test]
    fn unpack_bounds_and_errors() {
        assert_eq!(
            run_err("return struct.unpack('c0', 'abc')"),
            "t:1: format 'c0' needs a previous size"
        );
        assert_eq!(
            run_err("return struct.unpack('c0', '')"),
            "t:1: format 'c0' needs a previous size"
        );
        assert_eq!(
            run_err("return struct.unpack('s', 'abc')"),
            "t:1: unfinished string in data"
        );
        assert_eq!(
            run_err("return struct.unpack('i', 'abc')"),
            "t:1: bad argument #2 to 'unpack' (data string too short)"
        );
        assert_eq!(
            run_err("return struct.unpack('b', 'abc', 0)"),
            "t:1: bad argument #3 to 'unpack' (offset must be 1 or greater)"
        );
        assert_eq!(
            run_err("return struct.unpack('b', 'abc', -1)"),
            "t:1: bad argument #2 to 'unpack' (data string too short)"
        );
        assert_eq!(
            run_err("return struct.unpack('b', 'abc', 4)"),
            "t:1: bad argument #2 to 'unpack' (data string too short)"
        );
        assert_eq!(
            run_err("return struct.unpack('b', 'abc', 2^53)"),
            "t:1: bad argument #2 to 'unpack' (data string too short)"
        );
        assert_eq!(
            run_err("return struct.unpack('z', 'abc')"),
            "t:1: bad argument #1 to 'unpack' (invalid format option 'z')"
        );
        assert_eq!(
            run_err("return struct.unpack('c0', B('05')..'abc')"),
            "t:1: format 'c0' needs a previous size"
        );
        assert_eq!(
            run_err("return struct.unpack('bc0', B('ff')..'abc')"),
            "t:1: bad argument #2 to 'unpack' (data string too short)"
        );
        assert_eq!(
            run_err("return struct.unpack('bc0', B('05')..'abc')"),
            "t:1: bad argument #2 to 'unpack' (data string too short)"
        );
        assert_eq!(
            run_err("return struct.unpack('b')"),
            "t:1: bad argument #2 to 'unpack' (string expected, got no value)"
        );
        assert_eq!(
            run_err("return struct.unpack('b', 'a', 'x')"),
            "t:1: bad argument #3 to 'unpack' (number expected, got string)"
        );
    }

    #[test]
    fn round_trips() {
        assert_eq!(
            run("local s = struct.pack('>!4bIhds', -5, 4000000000, -300, 2.25, 'tail') return {struct.size('>!4bIhd'), #s, struct.unpack('>!4bIhds', s)}"),
            "[20, 25, -5, 4000000000, -300, 2.25, \"tail\", 26]"
        );
    }
}
