//! Thin helpers over the Lua 5.1 C API shared by the script libraries.
//!
//! The libraries are C functions written in Rust (`extern "C-unwind"`), so
//! that they see the Lua stack exactly as Redis's C libraries do: the same
//! stack limits, table traversal order and error texts.
//!
//! Raising a Lua error is a `longjmp`, which must never skip a Rust frame
//! that still owns something with a destructor. So a library body returns
//! a [`LuaResult`]; only the outermost frame ([`finish`]) turns an `Err`
//! into a Lua error, after the message has been moved onto the Lua stack
//! and every Rust value is gone.
//!
//! Only the raw `lua_*` entry points of Lua 5.1 are used (`lua_rawgeti_`,
//! `lua_pushlstring_`, ...): mlua-sys's compatibility wrappers of the same
//! names behave like Lua 5.3 and would change limits and conversions.

use std::ffi::{c_char, c_int, CStr};

use mlua::ffi;

/// The Lua state a C function runs on.
pub(crate) type State = *mut ffi::lua_State;

/// A Lua error to raise once the Rust frames that built it are gone.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Raise {
    /// As `luaL_error`: the message gets the caller's `chunk:line:` prefix.
    Error(Vec<u8>),
    /// As `luaL_argerror(narg, message)`: "bad argument #n to 'f' (message)".
    Arg(c_int, Vec<u8>),
    /// Raised as is, as the Lua VM raises its own errors from inside a C
    /// function (no position prefix), e.g. "table index is nil".
    Plain(Vec<u8>),
}

impl Raise {
    pub(crate) fn error(message: impl Into<Vec<u8>>) -> Raise {
        Raise::Error(message.into())
    }

    pub(crate) fn arg(narg: c_int, message: impl Into<Vec<u8>>) -> Raise {
        Raise::Arg(narg, message.into())
    }
}

pub(crate) type LuaResult<T> = Result<T, Raise>;

/// Ends a C function: the number of results on success, else raises the
/// error (never returns then).
///
/// # Safety
/// `state` is the state the C function was called with.
pub(crate) unsafe fn finish(state: State, result: LuaResult<c_int>) -> c_int {
    match result {
        Ok(results) => results,
        Err(raise) => throw(state, raise),
    }
}

unsafe fn throw(state: State, raise: Raise) -> ! {
    // The stack may be full (a failed stack check is one of the errors);
    // what the function pushed is discarded by the error anyway, and the
    // message is owned by `raise`, so drop it all to make room.
    ffi::lua_settop(state, 0);
    // `push_message` consumes the error: nothing with a destructor is alive
    // in this frame when the longjmp happens.
    match push_message(state, raise) {
        Some(narg) => {
            ffi::luaL_argerror(state, narg, ffi::lua_tostring(state, -1));
            unreachable!("luaL_argerror returned")
        }
        None => ffi::lua_error(state),
    }
}

/// Pushes the final error message; returns the argument number when the
/// error is an argument error (the message then is luaL_argerror's extra text).
unsafe fn push_message(state: State, raise: Raise) -> Option<c_int> {
    match raise {
        Raise::Error(message) => {
            ffi::luaL_where(state, 1);
            push_bytes(state, &message);
            ffi::lua_concat(state, 2);
            None
        }
        Raise::Arg(narg, message) => {
            push_bytes(state, &message);
            Some(narg)
        }
        Raise::Plain(message) => {
            push_bytes(state, &message);
            None
        }
    }
}

/// Pushes a byte string.
///
/// # Safety
/// One free stack slot is needed.
pub(crate) unsafe fn push_bytes(state: State, bytes: &[u8]) {
    ffi::lua_pushlstring_(state, bytes.as_ptr() as *const c_char, bytes.len());
}

/// `luaL_checkstack`: makes room for `extra` slots or fails with
/// "stack overflow (message)".
pub(crate) unsafe fn check_stack(state: State, extra: c_int, message: &str) -> LuaResult<()> {
    if ffi::lua_checkstack(state, extra) != 0 {
        Ok(())
    } else {
        Err(Raise::error(format!("stack overflow ({message})")))
    }
}

/// `luaL_argcheck`.
pub(crate) fn arg_check(condition: bool, narg: c_int, message: &str) -> LuaResult<()> {
    if condition {
        Ok(())
    } else {
        Err(Raise::arg(narg, message))
    }
}

/// The name of the type of the value at `index` ("no value" when absent).
pub(crate) unsafe fn type_name(state: State, index: c_int) -> &'static str {
    let name = CStr::from_ptr(ffi::lua_typename(state, ffi::lua_type(state, index)));
    name.to_str().unwrap_or("?")
}

/// `luaL_typerror`: "<expected> expected, got <type>".
pub(crate) unsafe fn type_error(state: State, narg: c_int, expected: &str) -> Raise {
    Raise::arg(narg, format!("{expected} expected, got {}", type_name(state, narg)))
}

/// `luaL_checknumber`.
pub(crate) unsafe fn check_number(state: State, narg: c_int) -> LuaResult<f64> {
    let number = ffi::lua_tonumber(state, narg);
    if number == 0.0 && ffi::lua_isnumber(state, narg) == 0 {
        return Err(type_error(state, narg, "number"));
    }
    Ok(number)
}

/// `luaL_checkinteger` (Lua 5.1: the number truncated as C truncates it).
pub(crate) unsafe fn check_integer(state: State, narg: c_int) -> LuaResult<i64> {
    let integer = ffi::lua_tointeger_(state, narg);
    if integer == 0 && ffi::lua_isnumber(state, narg) == 0 {
        return Err(type_error(state, narg, "number"));
    }
    Ok(integer as i64)
}

/// `luaL_optinteger`.
pub(crate) unsafe fn opt_integer(state: State, narg: c_int, default: i64) -> LuaResult<i64> {
    if ffi::lua_isnoneornil(state, narg) != 0 {
        Ok(default)
    } else {
        check_integer(state, narg)
    }
}

/// `luaL_checklstring`: the bytes of a string argument (a number argument
/// is converted in place, as Lua does).
///
/// # Safety
/// The slice borrows the Lua string at `narg`: it is valid while that value
/// stays on the stack.
pub(crate) unsafe fn check_bytes<'a>(state: State, narg: c_int) -> LuaResult<&'a [u8]> {
    let mut len = 0usize;
    let data = ffi::lua_tolstring(state, narg, &mut len);
    if data.is_null() {
        return Err(type_error(state, narg, "string"));
    }
    Ok(std::slice::from_raw_parts(data as *const u8, len))
}

/// The bytes of the string at `index` including Lua's terminating NUL,
/// for parsers written against NUL-terminated C strings.
///
/// # Safety
/// The value at `index` must be a string; same lifetime rule as [`check_bytes`].
pub(crate) unsafe fn bytes_with_nul<'a>(state: State, index: c_int) -> &'a [u8] {
    let mut len = 0usize;
    let data = ffi::lua_tolstring(state, index, &mut len);
    std::slice::from_raw_parts(data as *const u8, len + 1)
}

/// The bytes of the string at `index` (a number is converted in place).
///
/// # Safety
/// The value at `index` must be a string or a number; same lifetime rule
/// as [`check_bytes`].
pub(crate) unsafe fn to_bytes<'a>(state: State, index: c_int) -> &'a [u8] {
    let mut len = 0usize;
    let data = ffi::lua_tolstring(state, index, &mut len);
    std::slice::from_raw_parts(data as *const u8, len)
}

/// A C string as a format argument sees it: the bytes before the first NUL.
pub(crate) fn until_nul(bytes: &[u8]) -> &[u8] {
    match memchr::memchr(0, bytes) {
        Some(end) => &bytes[..end],
        None => bytes,
    }
}

/// Lua 5.2's `luaL_setfuncs`: stores each function in the table that sits
/// right below the top `upvalues` values, as a C closure over copies of
/// those values, then pops them.
pub(crate) unsafe fn set_functions(state: State, functions: &[(&CStr, ffi::lua_CFunction)], upvalues: c_int) {
    for (name, function) in functions {
        for _ in 0..upvalues {
            ffi::lua_pushvalue(state, -upvalues);
        }
        ffi::lua_pushcclosure(state, *function, upvalues);
        ffi::lua_setfield(state, -(upvalues + 2), name.as_ptr());
    }
    ffi::lua_settop(state, -upvalues - 1);
}

/// Sets a string field of the table on top of the stack.
pub(crate) unsafe fn set_string_field(state: State, name: &CStr, value: &str) {
    push_bytes(state, value.as_bytes());
    ffi::lua_setfield(state, -2, name.as_ptr());
}

/// Writes `number` as C's `printf("%.<precision>g")` does (precision
/// 1..=14, as cjson allows; others are clamped).
pub(crate) fn format_g(out: &mut Vec<u8>, number: f64, precision: c_int) {
    const FORMATS: [&CStr; 14] = [
        c"%.1g", c"%.2g", c"%.3g", c"%.4g", c"%.5g", c"%.6g", c"%.7g", c"%.8g", c"%.9g", c"%.10g", c"%.11g", c"%.12g",
        c"%.13g", c"%.14g",
    ];
    let format = FORMATS[precision.clamp(1, 14) as usize - 1];
    let mut buffer = [0u8; 32];
    // SAFETY: the format is NUL-terminated and takes exactly one double;
    // snprintf never writes past the given size.
    let written = unsafe {
        libc::snprintf(
            buffer.as_mut_ptr() as *mut c_char,
            buffer.len(),
            format.as_ptr() as *const c_char,
            number,
        )
    };
    let written = (written.max(0) as usize).min(buffer.len() - 1);
    out.extend_from_slice(&buffer[..written]);
}

/// C's conversion of a double to `int` on x86-64 (`cvttsd2si`): truncation
/// when in range, `INT_MIN` otherwise (NaN included).
pub(crate) fn c_double_to_int(value: f64) -> i32 {
    if value > -2_147_483_649.0 && value < 2_147_483_648.0 {
        value as i32
    } else {
        i32::MIN
    }
}

/// C's conversion of a double to a signed 64-bit integer on x86-64:
/// truncation when in range, `INT64_MIN` otherwise (NaN included).
pub(crate) fn c_double_to_i64(value: f64) -> i64 {
    if (-9_223_372_036_854_775_808.0..9_223_372_036_854_775_808.0).contains(&value) {
        value as i64
    } else {
        i64::MIN
    }
}

/// C's conversion of a double to an unsigned 64-bit integer as GCC emits it
/// on x86-64: values below 2^63 (and NaN) go through the signed conversion,
/// larger ones are reduced by 2^63 first and get the top bit flipped back.
pub(crate) fn c_double_to_u64(value: f64) -> u64 {
    const TWO_POW_63: f64 = 9_223_372_036_854_775_808.0;
    if value >= TWO_POW_63 {
        (c_double_to_i64(value - TWO_POW_63) as u64) ^ (1 << 63)
    } else {
        c_double_to_i64(value) as u64
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn double_conversions_follow_x86() {
        assert_eq!(c_double_to_int(1.9), 1);
        assert_eq!(c_double_to_int(-1.9), -1);
        assert_eq!(c_double_to_int(2_147_483_648.0), i32::MIN);
        assert_eq!(c_double_to_int(1e10), i32::MIN);
        assert_eq!(c_double_to_int(f64::NAN), i32::MIN);
        assert_eq!(c_double_to_i64(-1.5), -1);
        assert_eq!(c_double_to_i64(9_223_372_036_854_775_808.0), i64::MIN);
        assert_eq!(c_double_to_i64(f64::NEG_INFINITY), i64::MIN);
        // Values observed from redis-server's struct.pack('>L', x).
        assert_eq!(c_double_to_u64(f64::NAN), 0x8000_0000_0000_0000);
        assert_eq!(c_double_to_u64(18_446_744_073_709_551_616.0), 0);
        assert_eq!(c_double_to_u64(1e300), 0);
        assert_eq!(
            c_double_to_u64(9_223_372_036_854_775_808.0 + 4096.0),
            0x8000_0000_0000_1000
        );
        assert_eq!(c_double_to_u64(7.0), 7);
    }

    #[test]
    fn until_nul_stops_at_the_first_nul() {
        assert_eq!(until_nul(b"ab\0cd"), b"ab");
        assert_eq!(until_nul(b"abc"), b"abc");
    }
}
