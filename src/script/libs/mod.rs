//! The libraries Redis gives Lua scripts: `cjson`, `cmsgpack`, `bit` and
//! `struct`, with the behaviour (results, limits, error texts) of the C
//! libraries bundled with Redis 7.4.
//!
//! Each is a set of Lua C functions written in Rust against the Lua C API
//! (see `lua_api.rs` for how errors are raised safely), so that scripts see
//! plain string errors prefixed with their own position, exactly as with
//! Redis: `user_script:1: Expected value but found invalid token at character 1`.

mod bit;
mod cjson;
mod cmsgpack;
mod lua_api;
mod structlib;

/// Installs the global tables `cjson`, `cmsgpack`, `bit` and `struct` in
/// `lua`. The tables are ordinary (writable) tables; making globals
/// read-only is the caller's business.
pub fn register(lua: &mlua::Lua) -> mlua::Result<()> {
    // SAFETY: each `open` pushes one table and pops it into a global,
    // leaving the stack as it found it; `exec_raw` runs them protected.
    unsafe {
        lua.exec_raw::<()>((), |state| {
            cjson::open(state);
            cmsgpack::open(state);
            bit::open(state);
            structlib::open(state);
        })
    }
}

#[cfg(test)]
pub(crate) mod tests {
    //! A small harness: run a chunk named `t` (so errors read "t:1: ...")
    //! and render its result.

    use mlua::{Lua, Value};

    use super::lua_api::format_g;

    pub(crate) fn lua() -> Lua {
        let lua = Lua::new();
        super::register(&lua).expect("register");
        lua
    }

    fn run(lua: &Lua, code: &str) -> mlua::Result<Value> {
        lua.load(code).set_name("=t").eval::<Value>()
    }

    /// Lua helpers for binary formats: `hex(s)` and `B(hex)` (bytes from hex).
    const HEX_HELPERS: &str = "local function hex(s) local h = '' for i = 1, #s do h = h .. string.format('%02x', s:byte(i)) end return h end \
         local function B(h) return (h:gsub('..', function(x) return string.char(tonumber(x, 16)) end)) end ";

    /// [`eval`] on a fresh state, with the hex helpers in scope.
    pub(crate) fn run_hex(code: &str) -> String {
        eval(&lua(), &format!("{HEX_HELPERS}{code}"))
    }

    /// [`eval_err`] on a fresh state, with the hex helpers in scope.
    pub(crate) fn run_hex_err(code: &str) -> String {
        eval_err(&lua(), &format!("{HEX_HELPERS}{code}"))
    }

    /// The result of `code`: strings as they are (lossy UTF-8), numbers as
    /// Lua's `tostring` prints them, arrays as `[a, "b", true]`.
    pub(crate) fn eval(lua: &Lua, code: &str) -> String {
        match run(lua, code) {
            Ok(Value::String(text)) => String::from_utf8_lossy(&text.as_bytes()).into_owned(),
            Ok(value) => render(&value),
            Err(error) => panic!("script failed: {error}\n{code}"),
        }
    }

    /// The exact bytes of the string `code` returns.
    pub(crate) fn eval_bytes(lua: &Lua, code: &str) -> Vec<u8> {
        match run(lua, code) {
            Ok(Value::String(text)) => text.as_bytes().to_vec(),
            Ok(value) => panic!("not a string: {}", render(&value)),
            Err(error) => panic!("script failed: {error}\n{code}"),
        }
    }

    /// The message of the error `code` raises; it must be a plain Lua
    /// string (what Redis's error handler sees), not a wrapped Rust error.
    pub(crate) fn eval_err(lua: &Lua, code: &str) -> String {
        match run(lua, code) {
            Ok(value) => panic!("script succeeded with {}\n{code}", render(&value)),
            // mlua appends a traceback when it runs a chunk; Lua's message
            // is what precedes it.
            Err(mlua::Error::RuntimeError(message)) => match message.find("\nstack traceback:") {
                Some(end) => message[..end].to_string(),
                None => message,
            },
            Err(error) => panic!("not a plain Lua error: {error:?}"),
        }
    }

    fn render_number(number: f64) -> String {
        let mut out = Vec::new();
        format_g(&mut out, number, 14);
        String::from_utf8(out).expect("ascii")
    }

    fn render(value: &Value) -> String {
        match value {
            Value::Nil => "nil".to_string(),
            Value::Boolean(flag) => flag.to_string(),
            Value::Integer(integer) => render_number(*integer as f64),
            Value::Number(number) => render_number(*number),
            Value::String(text) => format!("\"{}\"", String::from_utf8_lossy(&text.as_bytes())),
            Value::Table(table) => {
                let items: Vec<String> = (1..=table.raw_len())
                    .map(|index| render(&table.raw_get::<Value>(index).expect("element")))
                    .collect();
                format!("[{}]", items.join(", "))
            }
            Value::LightUserData(pointer) if pointer.0.is_null() => "null".to_string(),
            other => other.type_name().to_string(),
        }
    }

    #[test]
    fn register_installs_the_four_tables() {
        let lua = lua();
        for name in ["cjson", "cmsgpack", "bit", "struct"] {
            assert_eq!(eval(&lua, &format!("return type({name})")), "table", "{name}");
        }
    }

    #[test]
    fn tables_iterate_in_redis_order() {
        // pairs() order as redis-server 7.0 walks the same tables.
        let lua = lua();
        assert_eq!(
            eval(
                &lua,
                "local o = '' for _, lib in ipairs({cjson, cmsgpack, bit, struct}) do \
                 for k in pairs(lib) do o = o .. k .. ',' end o = o .. '|' end return o"
            ),
            "_NAME,encode,decode_max_depth,_VERSION,decode_invalid_numbers,encode_keep_buffer,null,\
             encode_number_precision,new,encode_max_depth,encode_invalid_numbers,decode,encode_sparse_array,|\
             _DESCRIPTION,pack,_NAME,unpack,_COPYRIGHT,_VERSION,unpack_one,unpack_limit,|\
             band,rshift,bor,bnot,bswap,bxor,tobit,ror,lshift,tohex,rol,arshift,|pack,size,unpack,|"
        );
    }

    #[test]
    fn errors_are_plain_strings_with_the_callers_position() {
        let lua = lua();
        assert_eq!(
            eval(
                &lua,
                "local ok, e = pcall(function() return bit.tobit({}) end) return {ok, type(e), e}"
            ),
            "[false, \"string\", \"t:1: bad argument #1 to 'tobit' (number expected, got table)\"]"
        );
        // Called straight from pcall (a C function) there is no position,
        // and no name for the function.
        assert_eq!(
            eval(&lua, "local ok, e = pcall(bit.tobit) return e"),
            "bad argument #1 to '?' (number expected, got no value)"
        );
        // Method calls do not count `self`, as lauxlib does.
        assert_eq!(
            eval_err(&lua, "return bit:tobit()"),
            "t:1: calling 'tobit' on bad self (number expected, got table)"
        );
    }
}
