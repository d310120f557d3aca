//! `bit`: 32-bit bit operations for scripts (LuaBitOp 1.0.x, as Redis
//! bundles it, with the 7.4.1 `tohex` fix).
//!
//! Arguments are Lua numbers (or strings that convert) reduced to 32 bits
//! the LuaBitOp way: add 2^52 + 2^51 and keep the low word of the double,
//! which rounds fractions to even and wraps modulo 2^32. Results are signed
//! 32-bit values as numbers.

use std::ffi::{c_int, CStr};

use mlua::ffi;

use super::lua_api::{finish, push_bytes, type_error, LuaResult, State};

/// Creates the `bit` table and stores it in the global `bit`.
///
/// # Safety
/// `state` is a valid Lua state with a few free stack slots.
pub(crate) unsafe fn open(state: State) {
    let functions: [(&CStr, ffi::lua_CFunction); 12] = [
        (c"tobit", bit_tobit),
        (c"bnot", bit_bnot),
        (c"band", bit_band),
        (c"bor", bit_bor),
        (c"bxor", bit_bxor),
        (c"lshift", bit_lshift),
        (c"rshift", bit_rshift),
        (c"arshift", bit_arshift),
        (c"rol", bit_rol),
        (c"ror", bit_ror),
        (c"bswap", bit_bswap),
        (c"tohex", bit_tohex),
    ];
    // Sized as luaL_register sizes it, so that pairs(bit) walks it in Redis's order.
    ffi::lua_createtable(state, 0, functions.len() as c_int);
    for (name, function) in functions {
        ffi::lua_pushcclosure(state, function, 0);
        ffi::lua_setfield(state, -2, name.as_ptr());
    }
    ffi::lua_setfield(state, ffi::LUA_GLOBALSINDEX, c"bit".as_ptr());
}

/// A number reduced to 32 bits as LuaBitOp does it.
pub(crate) fn to_bits(number: f64) -> u32 {
    (number + 6_755_399_441_055_744.0).to_bits() as u32
}

/// Argument `index` as 32 bits; anything but a number (or a string that
/// converts) is an error.
unsafe fn barg(state: State, index: c_int) -> LuaResult<u32> {
    let bits = to_bits(ffi::lua_tonumber(state, index));
    if bits == 0 && ffi::lua_isnumber(state, index) == 0 {
        return Err(type_error(state, index, "number"));
    }
    Ok(bits)
}

unsafe fn push_bits(state: State, bits: u32) -> LuaResult<c_int> {
    ffi::lua_pushnumber(state, bits as i32 as f64);
    Ok(1)
}

/// Defines a one-argument operation: `bit.<name>(x)`.
macro_rules! unary {
    ($name:ident, |$bits:ident| $result:expr) => {
        unsafe extern "C-unwind" fn $name(state: State) -> c_int {
            unsafe fn body(state: State) -> LuaResult<c_int> {
                let $bits = barg(state, 1)?;
                push_bits(state, $result)
            }
            finish(state, body(state))
        }
    };
}

/// Defines a fold over all arguments: `bit.<name>(x1, x2, ...)`. Like
/// LuaBitOp, the arguments after the first are read last to second.
macro_rules! fold {
    ($name:ident, $operator:tt) => {
        unsafe extern "C-unwind" fn $name(state: State) -> c_int {
            unsafe fn body(state: State) -> LuaResult<c_int> {
                let mut bits = barg(state, 1)?;
                let mut index = ffi::lua_gettop(state);
                while index > 1 {
                    bits $operator barg(state, index)?;
                    index -= 1;
                }
                push_bits(state, bits)
            }
            finish(state, body(state))
        }
    };
}

/// Defines a shift or rotation: `bit.<name>(x, n)`, n taken modulo 32.
macro_rules! shift {
    ($name:ident, |$bits:ident, $count:ident| $result:expr) => {
        unsafe extern "C-unwind" fn $name(state: State) -> c_int {
            unsafe fn body(state: State) -> LuaResult<c_int> {
                let $bits = barg(state, 1)?;
                let $count = barg(state, 2)? & 31;
                push_bits(state, $result)
            }
            finish(state, body(state))
        }
    };
}

unary!(bit_tobit, |bits| bits);
unary!(bit_bnot, |bits| !bits);
unary!(bit_bswap, |bits| bits.swap_bytes());
fold!(bit_band, &=);
fold!(bit_bor, |=);
fold!(bit_bxor, ^=);
shift!(bit_lshift, |bits, count| bits << count);
shift!(bit_rshift, |bits, count| bits >> count);
shift!(bit_arshift, |bits, count| ((bits as i32) >> count) as u32);
shift!(bit_rol, |bits, count| bits.rotate_left(count));
shift!(bit_ror, |bits, count| bits.rotate_right(count));

unsafe extern "C-unwind" fn bit_tohex(state: State) -> c_int {
    finish(state, tohex(state))
}

/// `bit.tohex(x[, n])` → the low |n| hex digits of x (default 8, at most
/// 8), upper case when n is negative.
unsafe fn tohex(state: State) -> LuaResult<c_int> {
    let mut bits = barg(state, 1)?;
    let mut count = if ffi::lua_isnone(state, 2) != 0 {
        8
    } else {
        barg(state, 2)? as i32
    };
    // The 7.4.1 fix (CVE-2024-31449): -INT32_MIN would overflow.
    if count == i32::MIN {
        count = i32::MIN + 1;
    }
    let digits: &[u8; 16] = if count < 0 {
        count = -count;
        b"0123456789ABCDEF"
    } else {
        b"0123456789abcdef"
    };
    let count = count.min(8) as usize;
    let mut buffer = [0u8; 8];
    for slot in buffer[..count].iter_mut().rev() {
        *slot = digits[(bits & 15) as usize];
        bits >>= 4;
    }
    push_bytes(state, &buffer[..count]);
    Ok(1)
}

#[cfg(test)]
mod tests {
    use super::super::tests::{eval, eval_err, lua};
    use super::to_bits;

    // Expected values below were produced by redis-server 7.0.15 (same
    // library code as 7.4, except the tohex fix) with `EVAL "<script>" 0`.

    #[test]
    fn reduces_numbers_like_luabitop() {
        assert_eq!(to_bits(1437217655.0), 1437217655);
        let lua = lua();
        assert_eq!(
            eval(
                &lua,
                "return {bit.tobit(2^32+5), bit.tobit(-1), bit.tobit(2^31), bit.tobit(1.5), bit.tobit(2.5), \
                 bit.tobit(-1.5), bit.tobit(2^52+3), bit.tobit(2^60+7), bit.tobit('0x10'), bit.tobit(0/0), bit.tobit(1/0)}"
            ),
            "[5, -1, -2147483648, 2, 2, -2, 2, 0, 16, 0, 0]"
        );
    }

    #[test]
    fn operations() {
        let lua = lua();
        assert_eq!(
            eval(
                &lua,
                "return {bit.bnot(0), bit.band(0xff,0x0f,0x3), bit.bor(1,2), bit.bxor(5,3), bit.lshift(1,31), \
                 bit.lshift(1,32), bit.rshift(-1, 28), bit.arshift(-256, 4), bit.rol(0x12345678, 4), \
                 bit.ror(0x12345678, 4), bit.bswap(0x12345678), bit.rol(1,-1)}"
            ),
            "[-1, 3, 3, 6, -2147483648, 1, 15, -16, 591751041, -2128394905, 2018915346, -2147483648]"
        );
        assert_eq!(
            eval(&lua, "return {bit.rol(5, 0), bit.ror(5, 32), bit.band(-1), bit.bor(0)}"),
            "[5, 5, -1, 0]"
        );
    }

    #[test]
    fn tohex() {
        let lua = lua();
        assert_eq!(
            eval(
                &lua,
                "return {bit.tohex(255), bit.tohex(255, 2), bit.tohex(255, -4), bit.tohex(-1), bit.tohex(1, 12), \
                 bit.tohex(0x12345678, 0)}"
            ),
            "[\"000000ff\", \"ff\", \"00FF\", \"ffffffff\", \"00000001\", \"\"]"
        );
        // "lua bit.tohex bug" from Redis's unit/scripting.tcl.
        assert_eq!(eval(&lua, "return bit.tohex(65535, -2147483648)"), "0000FFFF");
    }

    #[test]
    fn argument_errors() {
        let lua = lua();
        assert_eq!(
            eval_err(&lua, "return bit.tobit()"),
            "t:1: bad argument #1 to 'tobit' (number expected, got no value)"
        );
        assert_eq!(
            eval_err(&lua, "return bit.band(1, 2, 'x', {})"),
            "t:1: bad argument #4 to 'band' (number expected, got table)"
        );
        assert_eq!(
            eval_err(&lua, "return bit.tohex(1, nil)"),
            "t:1: bad argument #2 to 'tohex' (number expected, got nil)"
        );
        assert_eq!(
            eval_err(&lua, "return bit.lshift(1)"),
            "t:1: bad argument #2 to 'lshift' (number expected, got no value)"
        );
    }

    /// "EVAL - Verify minimal bitop functionality" and "EVAL - Numerical
    /// sanity check from bitop" from Redis's unit/scripting.tcl.
    #[test]
    fn redis_bitop_checks() {
        let lua = lua();
        eval(
            &lua,
            "assert(0x7fffffff == 2147483647, 'broken hex literals'); \
             assert(0xffffffff == -1 or 0xffffffff == 2^32-1, 'broken hex literals'); \
             assert(tostring(-1) == '-1', 'broken tostring()'); \
             assert(tostring(0xffffffff) == '-1' or tostring(0xffffffff) == '4294967295', 'broken tostring()'); \
             assert(bit.tobit(1) == 1); assert(bit.band(1) == 1); assert(bit.bxor(1,2) == 3); \
             assert(bit.bor(1,2,4,8,16,32,64,128) == 255) return 1",
        );
    }
}
