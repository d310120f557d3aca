//! One Lua 5.1 VM with Redis 7.4's sandbox, `redis.*` API, error formats
//! and type conversions. Two flavours: the EVAL VM (globals hold KEYS and
//! ARGV) and the FUNCTION VM (libraries are loaded with a restricted
//! `redis` table, and run with the full one).
//!
//! Written against the Lua C API (`mlua::ffi`) so errors are the values
//! Redis raises (tables with `err`), hooks can raise on every line, and
//! error positions match `luaL_error`. `mlua::Lua` owns the state and hosts
//! the cjson/cmsgpack/bit/struct libraries.
//!
//! Read-only tables. Redis patches Lua with a read-only flag on tables; the
//! stock VM has none, so every table reachable from the globals is replaced
//! by an empty proxy whose metatable reads through to the real table and
//! raises "Attempt to modify a readonly table" on writes. The functions that
//! could see past a proxy (rawget, rawset, next, pairs, ipairs,
//! getmetatable, setmetatable, table.insert, table.remove) are replaced by
//! native versions that know proxies; the real tables are reachable only
//! from the registry. The strings' metatable is shown read-only too, and
//! getfenv/setfenv/newproxy are absent, as in Redis 7.4.6+.
//!
//! Library functions written in Rust (mlua callbacks: cjson, cmsgpack, bit,
//! struct) are wrapped so their failures are raised as luaL_error would:
//! the message string, prefixed with the calling script's position.
//!
//! Safety: C functions here raise Lua errors with `lua_error` (a longjmp).
//! They push everything they need onto the Lua stack and drop their Rust
//! values before raising, so no destructor is skipped.

#![allow(clippy::missing_safety_doc)]

use std::cell::Cell;
use std::ffi::{c_char, c_int, CStr};
use std::ptr;
use std::time::Instant;

use mlua::ffi::{self, lua_State};

use super::resp::{self, Item};
use super::runstate;
use super::shebang;
use super::{Abort, Backend, Kind};
use crate::protocol::Reply;

type L = *mut lua_State;

const COUNT_HOOK_INSTRUCTIONS: c_int = 100_000;

/// Redis version the `redis` table reports.
pub const REDIS_VERSION: &str = "7.4.1";
pub const REDIS_VERSION_NUM: u32 = 0x0007_0401;

const KILLED_MSG: &[u8] = b"Script killed by user with SCRIPT KILL...";
const ABORTED_MSG: &[u8] = b"Script aborted: the server runs it again another way";
const RO_MSG: &[u8] = b"Attempt to modify a readonly table";

/// State of the script running on this thread, reachable from the C
/// functions through a thread-local pointer set only while `lua_pcall`
/// runs the script. `'a` ties it to the backend and arguments it points to.
pub struct RunCtx<'a> {
    _borrows: std::marker::PhantomData<&'a mut ()>,
    backend: *mut (dyn Backend + 'static),
    /// redis.setresp(3) was called.
    pub resp3: bool,
    pub kind: Kind,
    pub aborted: bool,
    pub killed: bool,
    pub busy: bool,
    pub slot: Option<usize>,
    pub start: Instant,
    /// Replication flags from redis.set_repl (kept; Spindle has no replicas).
    pub repl: u8,
    in_call: bool,
    /// The VM's main thread (the script may run in a coroutine).
    main: L,
    reply: Vec<u8>,
    nums: Vec<u8>,
    spans: Vec<(bool, usize, usize)>,
    /// Name (sha or function) and the command, for logs and FUNCTION STATS.
    name: *const [u8],
    keys: *const [&'static [u8]],
    args: *const [&'static [u8]],
    read_only: bool,
}

impl<'a> RunCtx<'a> {
    /// A context for one run (kept as raw pointers while the script runs;
    /// `'a` keeps the borrows alive as long as the context).
    pub fn new(
        backend: &'a mut dyn Backend,
        kind: Kind,
        slot: Option<usize>,
        name: &'a [u8],
        keys: &'a [&'a [u8]],
        args: &'a [&'a [u8]],
        read_only: bool,
    ) -> RunCtx<'a> {
        let backend: *mut (dyn Backend + 'a) = backend;
        // SAFETY: only the lifetime is erased; the context that holds the
        // pointer cannot outlive 'a.
        let backend: *mut (dyn Backend + 'static) = unsafe { std::mem::transmute(backend) };
        RunCtx {
            _borrows: std::marker::PhantomData,
            backend,
            resp3: false,
            kind,
            aborted: false,
            killed: false,
            busy: false,
            slot,
            start: Instant::now(),
            repl: 3,
            in_call: false,
            main: ptr::null_mut(),
            reply: Vec::new(),
            nums: Vec::new(),
            spans: Vec::new(),
            name: name as *const [u8],
            // SAFETY (both): lifetime erasure only, read during the run.
            keys: unsafe { std::mem::transmute::<*const [&[u8]], *const [&'static [u8]]>(keys) },
            args: unsafe { std::mem::transmute::<*const [&[u8]], *const [&'static [u8]]>(args) },
            read_only,
        }
    }

    fn info(&self) -> runstate::RunInfo {
        // SAFETY: set from live references in `new`, read during the run.
        let (name, keys, args) = unsafe { (&*self.name, &*self.keys, &*self.args) };
        let mut command: Vec<Vec<u8>> = Vec::with_capacity(3 + keys.len() + args.len());
        if self.kind == Kind::Function {
            command.push(if self.read_only {
                b"fcall_ro".to_vec()
            } else {
                b"fcall".to_vec()
            });
            command.push(name.to_vec());
            command.push(keys.len().to_string().into_bytes());
            command.extend(keys.iter().map(|k| k.to_vec()));
            command.extend(args.iter().map(|a| a.to_vec()));
        }
        runstate::RunInfo {
            name: name.to_vec(),
            command,
        }
    }
}

/// A library load in progress (FUNCTION LOAD / RESTORE / resync).
pub struct LoadCtx {
    pub functions: Vec<Registered>,
    start: Instant,
    timeout_ms: u64,
}

/// A function registered by a library's load code.
#[derive(Debug)]
pub struct Registered {
    pub name: Vec<u8>,
    pub desc: Option<Vec<u8>>,
    pub flags: u8,
    /// Registry reference of the callback.
    pub fnref: c_int,
}

thread_local! {
    static RUN: Cell<*mut RunCtx<'static>> = const { Cell::new(ptr::null_mut()) };
    static LOAD: Cell<*mut LoadCtx> = const { Cell::new(ptr::null_mut()) };
    /// lrand48 state (Redis keeps one per process; here one per thread).
    static RAND48: Cell<u64> = const { Cell::new(0x1234_ABCD_330E) };
}

fn run_ctx() -> *mut RunCtx<'static> {
    RUN.with(|c| c.get())
}

/// How a run ended.
#[derive(Debug, PartialEq, Eq)]
pub enum RunEnd {
    /// The reply is in `out`; `counted` when it is an error Redis would not
    /// count again in errorstats (it came from a command's error reply).
    Done { counted: bool },
    /// The backend aborted: nothing was written.
    Aborted,
}

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Flavour {
    Eval,
    Function,
}

/// A Lua VM with Redis's environment.
pub struct Vm {
    l: L,
    flavour: Flavour,
    /// Registry references.
    refs: Refs,
    gc_count: u32,
    /// Buffers lent to each run (reply bytes, number arguments, argv spans).
    bufs: RunBufs,
    lua: mlua::Lua,
}

/// Buffers a run borrows: reply bytes, number arguments, argument spans
/// (is-number, start or pointer, end or length).
type RunBufs = (Vec<u8>, Vec<u8>, Vec<(bool, usize, usize)>);

#[derive(Clone, Copy, Default)]
struct Refs {
    handler: c_int,
    /// The real globals table (KEYS and ARGV go there).
    globals: c_int,
    /// Its read-only proxy.
    globals_proxy: c_int,
    /// The thread's globals while scripts run: the proxy (EVAL) or the
    /// function environment (FUNCTION).
    env: c_int,
    /// Function VM: the environment's metatable, whose __index switches
    /// between the load-time API and the run-time globals.
    env_mt: c_int,
    /// Function VM: the load-time API (`redis.register_function` ...).
    lib_api: c_int,
}

// ---------------------------------------------------------------------
// Small stack helpers.

unsafe fn push_bytes(l: L, b: &[u8]) {
    ffi::lua_pushlstring(l, b.as_ptr() as *const c_char, b.len());
}

unsafe fn push_cstr(l: L, s: &CStr) {
    ffi::lua_pushstring(l, s.as_ptr());
}

/// lua_tolstring: strings and numbers (converted in place), else None.
unsafe fn to_bytes<'a>(l: L, idx: c_int) -> Option<&'a [u8]> {
    let mut len = 0usize;
    let p = ffi::lua_tolstring(l, idx, &mut len);
    if p.is_null() {
        None
    } else {
        Some(std::slice::from_raw_parts(p as *const u8, len))
    }
}

unsafe fn is_string_or_number(l: L, idx: c_int) -> bool {
    ffi::lua_isstring(l, idx) != 0
}

unsafe fn set_field(l: L, idx: c_int, key: &CStr) {
    ffi::lua_setfield(l, idx, key.as_ptr());
}

unsafe fn rawset_str(l: L, tbl: c_int, key: &[u8]) {
    // value on top; tbl is an absolute index
    push_bytes(l, key);
    ffi::lua_insert(l, -2);
    ffi::lua_rawset(l, tbl);
}

unsafe fn rawget_str(l: L, tbl: c_int, key: &[u8]) -> c_int {
    push_bytes(l, key);
    ffi::lua_rawget(l, tbl);
    ffi::lua_type(l, -1)
}

/// Pushes the error table Redis builds in luaPushErrorBuff: `-CODE msg`
/// keeps CODE (ERR when there is no space), a text without `-` gets ERR;
/// CR/LF are trimmed from both ends of the message.
unsafe fn push_error_buff(l: L, buf: &[u8]) {
    let buf = shebang::c_str(buf);
    let (code, msg): (&[u8], &[u8]) = match buf.strip_prefix(b"-") {
        Some(rest) => match rest.iter().position(|&c| c == b' ') {
            Some(sp) => (&rest[..sp], &rest[sp + 1..]),
            None => (b"ERR", rest),
        },
        None => (b"ERR", buf),
    };
    let msg = trim_crlf(msg);
    ffi::lua_createtable(l, 0, 2);
    push_bytes(l, b"err");
    push_bytes(l, code);
    push_bytes(l, b" ");
    push_bytes(l, msg);
    ffi::lua_concat(l, 3);
    ffi::lua_rawset(l, -3);
}

fn trim_crlf(mut s: &[u8]) -> &[u8] {
    while let [b'\r' | b'\n', rest @ ..] = s {
        s = rest;
    }
    while let [rest @ .., b'\r' | b'\n'] = s {
        s = rest;
    }
    s
}

/// Raises `msg` prefixed with the position of the Lua code that called the
/// running C function, as luaL_error does.
unsafe fn raise_here(l: L, parts: &[&[u8]]) -> ! {
    ffi::luaL_where(l, 1);
    for p in parts {
        push_bytes(l, p);
    }
    ffi::lua_concat(l, parts.len() as c_int + 1);
    ffi::lua_error(l)
}

/// Raises the plain string `msg` (no position, as luaG_runerror from C).
unsafe fn raise_plain(l: L, msg: &[u8]) -> ! {
    push_bytes(l, msg);
    ffi::lua_error(l)
}

/// Raises the error table for `msg` (luaPushError + luaError).
unsafe fn raise_error_table(l: L, msg: &[u8]) -> ! {
    push_error_buff(l, msg);
    ffi::lua_error(l)
}

unsafe fn registry_get(l: L, r: c_int) {
    ffi::lua_rawgeti(l, ffi::LUA_REGISTRYINDEX, r as ffi::lua_Integer);
}

const REG_RO: &CStr = c"spindle.ro";
const REG_P2R: &CStr = c"spindle.p2r";
const REG_R2P: &CStr = c"spindle.r2p";
const REG_VIS: &CStr = c"spindle.vis";
const REG_ERRMSG: &CStr = c"spindle.errmsg";
const REG_PROBE: &CStr = c"spindle.probe";

unsafe fn reg_table(l: L, name: &CStr) {
    ffi::lua_getfield(l, ffi::LUA_REGISTRYINDEX, name.as_ptr());
}

/// Whether the table at `idx` may be read-only: its metatable's
/// __newindex is ro_newindex (ordinary tables fail this at the first test).
unsafe fn maybe_readonly(l: L, idx: c_int) -> bool {
    if ffi::lua_type(l, idx) != ffi::LUA_TTABLE || ffi::lua_getmetatable(l, idx) == 0 {
        return false;
    }
    push_bytes(l, b"__newindex");
    ffi::lua_rawget(l, -2);
    let f = ffi::lua_tocfunction(l, -1);
    ffi::lua_pop(l, 2);
    f.map(|f| f as usize) == Some(ro_newindex as ffi::lua_CFunction as usize)
}

/// Whether the table at `idx` is read-only (a proxy or a protected env).
unsafe fn is_readonly(l: L, idx: c_int) -> bool {
    if !maybe_readonly(l, idx) {
        return false;
    }
    let idx = ffi::lua_absindex(l, idx);
    reg_table(l, REG_RO);
    ffi::lua_pushvalue(l, idx);
    ffi::lua_rawget(l, -2);
    let ro = ffi::lua_toboolean(l, -1) != 0;
    ffi::lua_pop(l, 2);
    ro
}

/// Replaces the table at `idx` by the real table behind it when it is a
/// proxy.
unsafe fn unproxy(l: L, idx: c_int) {
    if !maybe_readonly(l, idx) {
        return;
    }
    let idx = ffi::lua_absindex(l, idx);
    reg_table(l, REG_P2R);
    ffi::lua_pushvalue(l, idx);
    ffi::lua_rawget(l, -2);
    if ffi::lua_type(l, -1) == ffi::LUA_TTABLE {
        ffi::lua_replace(l, idx);
        ffi::lua_pop(l, 1);
    } else {
        ffi::lua_pop(l, 2);
    }
}

// ---------------------------------------------------------------------
// Read-only protection.

unsafe extern "C-unwind" fn ro_newindex(l: L) -> c_int {
    raise_here(l, &[RO_MSG])
}

/// __index of the globals: reading an undeclared global is an error.
unsafe extern "C-unwind" fn protected_index(l: L) -> c_int {
    let argc = ffi::lua_gettop(l);
    if argc != 2 {
        crate::server::log::warning("malicious code trying to call luaProtectedTableError with wrong arguments");
        raise_here(l, &[b"Wrong number of arguments to luaProtectedTableError"]);
    }
    if !is_string_or_number(l, -1) {
        raise_here(
            l,
            &[b"Second argument to luaProtectedTableError must be a string or number"],
        );
    }
    let name = shebang::c_str(to_bytes(l, -1).unwrap_or_default());
    raise_here(
        l,
        &[b"Script attempted to access nonexistent global variable '", name, b"'"],
    )
}

/// Pushes the read-only proxy of the table at `idx`, creating it (and
/// protecting every table reachable from it, metatables included) once.
unsafe fn protect(l: L, idx: c_int) {
    let idx = ffi::lua_absindex(l, idx);
    if is_readonly(l, idx) {
        ffi::lua_pushvalue(l, idx);
        return;
    }
    reg_table(l, REG_R2P);
    ffi::lua_pushvalue(l, idx);
    ffi::lua_rawget(l, -2);
    if ffi::lua_type(l, -1) == ffi::LUA_TTABLE {
        ffi::lua_remove(l, -2);
        return;
    }
    ffi::lua_pop(l, 2);
    ffi::luaL_checkstack(l, 8, ptr::null());
    // proxy with {__index = real, __newindex = ro_newindex}
    ffi::lua_createtable(l, 0, 0);
    let proxy = ffi::lua_gettop(l);
    ffi::lua_createtable(l, 0, 2);
    ffi::lua_pushvalue(l, idx);
    set_field(l, -2, c"__index");
    ffi::lua_pushcfunction(l, ro_newindex);
    set_field(l, -2, c"__newindex");
    ffi::lua_setmetatable(l, proxy);
    for (name, key, val) in [(REG_R2P, idx, proxy), (REG_P2R, proxy, idx)] {
        reg_table(l, name);
        ffi::lua_pushvalue(l, key);
        ffi::lua_pushvalue(l, val);
        ffi::lua_rawset(l, -3);
        ffi::lua_pop(l, 1);
    }
    reg_table(l, REG_RO);
    ffi::lua_pushvalue(l, proxy);
    ffi::lua_pushboolean(l, 1);
    ffi::lua_rawset(l, -3);
    ffi::lua_pop(l, 1);
    // Protect the tables inside and swap them for their proxies.
    ffi::lua_pushnil(l);
    while ffi::lua_next(l, idx) != 0 {
        if ffi::lua_type(l, -1) == ffi::LUA_TTABLE {
            protect(l, -1);
            // key, value, proxy
            ffi::lua_pushvalue(l, -3);
            ffi::lua_insert(l, -2);
            ffi::lua_rawset(l, idx);
        }
        ffi::lua_pop(l, 1);
    }
    // The metatable is protected too, and is what getmetatable shows.
    if ffi::lua_getmetatable(l, idx) != 0 {
        protect(l, -1);
        reg_table(l, REG_VIS);
        ffi::lua_pushvalue(l, proxy);
        ffi::lua_pushvalue(l, -3);
        ffi::lua_rawset(l, -3);
        ffi::lua_pop(l, 3);
    }
}

// ---------------------------------------------------------------------
// Base functions that must see through (or stop at) proxies.

unsafe extern "C-unwind" fn lua_rawget_fn(l: L) -> c_int {
    ffi::luaL_checktype(l, 1, ffi::LUA_TTABLE);
    ffi::luaL_checkany(l, 2);
    ffi::lua_settop(l, 2);
    unproxy(l, 1);
    ffi::lua_rawget(l, 1);
    1
}

unsafe extern "C-unwind" fn lua_rawset_fn(l: L) -> c_int {
    ffi::luaL_checktype(l, 1, ffi::LUA_TTABLE);
    ffi::luaL_checkany(l, 2);
    ffi::luaL_checkany(l, 3);
    ffi::lua_settop(l, 3);
    if is_readonly(l, 1) {
        raise_plain(l, RO_MSG);
    }
    ffi::lua_rawset(l, 1);
    1
}

unsafe extern "C-unwind" fn lua_next_fn(l: L) -> c_int {
    ffi::luaL_checktype(l, 1, ffi::LUA_TTABLE);
    ffi::lua_settop(l, 2);
    unproxy(l, 1);
    if ffi::lua_next(l, 1) != 0 {
        2
    } else {
        ffi::lua_pushnil(l);
        1
    }
}

unsafe extern "C-unwind" fn lua_pairs_fn(l: L) -> c_int {
    ffi::luaL_checktype(l, 1, ffi::LUA_TTABLE);
    ffi::lua_pushvalue(l, ffi::lua_upvalueindex(1));
    ffi::lua_pushvalue(l, 1);
    ffi::lua_pushnil(l);
    3
}

unsafe extern "C-unwind" fn lua_ipairs_aux(l: L) -> c_int {
    let i = ffi::luaL_checkinteger(l, 2) as c_int;
    ffi::luaL_checktype(l, 1, ffi::LUA_TTABLE);
    let i = i.wrapping_add(1);
    ffi::lua_pushinteger(l, i as ffi::lua_Integer);
    unproxy(l, 1);
    ffi::lua_rawgeti(l, 1, i as ffi::lua_Integer);
    if ffi::lua_type(l, -1) == ffi::LUA_TNIL {
        0
    } else {
        2
    }
}

unsafe extern "C-unwind" fn lua_ipairs_fn(l: L) -> c_int {
    ffi::luaL_checktype(l, 1, ffi::LUA_TTABLE);
    ffi::lua_pushvalue(l, ffi::lua_upvalueindex(1));
    ffi::lua_pushvalue(l, 1);
    ffi::lua_pushinteger(l, 0);
    3
}

unsafe extern "C-unwind" fn lua_setmetatable_fn(l: L) -> c_int {
    let t = ffi::lua_type(l, 2);
    ffi::luaL_checktype(l, 1, ffi::LUA_TTABLE);
    ffi::luaL_argcheck(
        l,
        (t == ffi::LUA_TNIL || t == ffi::LUA_TTABLE) as c_int,
        2,
        c"nil or table expected".as_ptr(),
    );
    if ffi::luaL_getmetafield(l, 1, c"__metatable".as_ptr()) != 0 {
        ffi::luaL_error(l, c"cannot change a protected metatable".as_ptr());
    }
    ffi::lua_settop(l, 2);
    if is_readonly(l, 1) {
        raise_plain(l, RO_MSG);
    }
    ffi::lua_setmetatable(l, 1);
    1
}

unsafe extern "C-unwind" fn lua_getmetatable_fn(l: L) -> c_int {
    ffi::luaL_checkany(l, 1);
    if is_readonly(l, 1) {
        reg_table(l, REG_VIS);
        ffi::lua_pushvalue(l, 1);
        ffi::lua_rawget(l, -2);
        return 1;
    }
    if ffi::lua_getmetatable(l, 1) == 0 {
        ffi::lua_pushnil(l);
        return 1;
    }
    if ffi::luaL_getmetafield(l, 1, c"__metatable".as_ptr()) != 0 {
        return 1;
    }
    // A protected metatable (the strings') is shown as its proxy.
    reg_table(l, REG_R2P);
    ffi::lua_pushvalue(l, -2);
    ffi::lua_rawget(l, -2);
    if ffi::lua_type(l, -1) == ffi::LUA_TTABLE {
        return 1;
    }
    ffi::lua_pop(l, 2);
    1
}

/// table.insert, as Lua 5.1's, refusing read-only tables where it writes.
unsafe extern "C-unwind" fn table_insert(l: L) -> c_int {
    ffi::luaL_checktype(l, 1, ffi::LUA_TTABLE);
    let mut e = ffi::lua_objlen(l, 1) as c_int + 1;
    let pos = match ffi::lua_gettop(l) {
        2 => e,
        3 => {
            let pos = ffi::luaL_checkinteger(l, 2) as c_int;
            if pos > e {
                e = pos;
            }
            if e > pos && is_readonly(l, 1) {
                raise_plain(l, RO_MSG);
            }
            let mut i = e;
            while i > pos {
                ffi::lua_rawgeti(l, 1, (i - 1) as ffi::lua_Integer);
                ffi::lua_rawseti(l, 1, i as ffi::lua_Integer);
                i -= 1;
            }
            pos
        }
        _ => {
            ffi::luaL_error(l, c"wrong number of arguments to 'insert'".as_ptr());
            return 0;
        }
    };
    if is_readonly(l, 1) {
        raise_plain(l, RO_MSG);
    }
    ffi::lua_rawseti(l, 1, pos as ffi::lua_Integer);
    0
}

/// table.remove, as Lua 5.1's, refusing read-only tables where it writes.
unsafe extern "C-unwind" fn table_remove(l: L) -> c_int {
    ffi::luaL_checktype(l, 1, ffi::LUA_TTABLE);
    let e = ffi::lua_objlen(l, 1) as c_int;
    let mut pos = ffi::luaL_optinteger(l, 2, e as ffi::lua_Integer) as c_int;
    if !(1 <= pos && pos <= e) {
        return 0;
    }
    ffi::lua_rawgeti(l, 1, pos as ffi::lua_Integer);
    if is_readonly(l, 1) {
        raise_plain(l, RO_MSG);
    }
    while pos < e {
        ffi::lua_rawgeti(l, 1, (pos + 1) as ffi::lua_Integer);
        ffi::lua_rawseti(l, 1, pos as ffi::lua_Integer);
        pos += 1;
    }
    ffi::lua_pushnil(l);
    ffi::lua_rawseti(l, 1, e as ffi::lua_Integer);
    1
}

/// luaO_chunkid for `[string "..."]` sources.
fn chunk_id(source: &[u8]) -> Vec<u8> {
    let source = shebang::c_str(source);
    match source.first() {
        Some(b'=') | Some(b'@') => source[1..source.len().min(60)].to_vec(),
        _ => {
            let max = 60 - " [string \"...\"] ".len();
            let mut n = source.len().min(max);
            if let Some(nl) = source.iter().position(|&c| c == b'\n') {
                n = n.min(nl);
            }
            let mut v = b"[string \"".to_vec();
            v.extend_from_slice(&source[..n]);
            if n < source.len() {
                v.extend_from_slice(b"...");
            }
            v.extend_from_slice(b"\"]");
            v
        }
    }
}

/// Compiles source text; binary chunks are refused with the error Redis's
/// text-only parser gives them.
unsafe fn load_text(l: L, code: &[u8], chunkname: &[u8]) -> c_int {
    if code.first() == Some(&0x1b) {
        let mut msg = chunk_id(chunkname);
        msg.extend_from_slice(b":1: unexpected symbol near 'char(27)'");
        push_bytes(l, &msg);
        return ffi::LUA_ERRSYNTAX;
    }
    let mut name = shebang::c_str(chunkname).to_vec();
    name.push(0);
    ffi::luaL_loadbuffer(
        l,
        code.as_ptr() as *const c_char,
        code.len(),
        name.as_ptr() as *const c_char,
    )
}

unsafe extern "C-unwind" fn lua_loadstring_fn(l: L) -> c_int {
    let mut len = 0usize;
    let s = ffi::luaL_checklstring(l, 1, &mut len);
    let name = ffi::luaL_optlstring(l, 2, s, ptr::null_mut());
    let code = std::slice::from_raw_parts(s as *const u8, len);
    let name = CStr::from_ptr(name).to_bytes();
    let status = load_text(l, code, name);
    if status == 0 {
        1
    } else {
        ffi::lua_pushnil(l);
        ffi::lua_insert(l, -2);
        2
    }
}

unsafe extern "C-unwind" fn lua_load_fn(l: L) -> c_int {
    let name_ptr = ffi::luaL_optlstring(l, 2, c"=(load)".as_ptr(), ptr::null_mut());
    ffi::luaL_checktype(l, 1, ffi::LUA_TFUNCTION);
    ffi::lua_settop(l, 2);
    // Gather the pieces the reader returns, then compile them as one text.
    let mut n = 0;
    loop {
        ffi::luaL_checkstack(l, 2, ptr::null());
        ffi::lua_pushvalue(l, 1);
        if ffi::lua_pcall(l, 0, 1, 0) != 0 {
            ffi::lua_pushnil(l);
            ffi::lua_insert(l, -2);
            return 2;
        }
        if ffi::lua_type(l, -1) == ffi::LUA_TNIL {
            ffi::lua_pop(l, 1);
            break;
        }
        if !is_string_or_number(l, -1) {
            ffi::lua_settop(l, 0);
            ffi::lua_pushnil(l);
            push_bytes(l, b"reader function must return a string");
            return 2;
        }
        ffi::lua_tolstring(l, -1, ptr::null_mut());
        if ffi::lua_objlen(l, -1) == 0 {
            ffi::lua_pop(l, 1);
            break;
        }
        n += 1;
        if n > 1 {
            ffi::lua_concat(l, 2);
            n = 1;
        }
    }
    if n == 0 {
        push_bytes(l, b"");
    }
    let code = to_bytes(l, -1).unwrap_or_default();
    let name = CStr::from_ptr(name_ptr).to_bytes();
    let status = load_text(l, code, name);
    if status == 0 {
        1
    } else {
        ffi::lua_pushnil(l);
        ffi::lua_insert(l, -2);
        2
    }
}

/// pcall as Redis 7 overrides it: an error table with a string `err` field
/// is replaced by that string.
unsafe extern "C-unwind" fn lua_redis_pcall(l: L) -> c_int {
    let argc = ffi::lua_gettop(l);
    if argc == 0 {
        ffi::lua_pushboolean(l, 0);
        push_bytes(l, b"attempt to call a boolean value");
        return 2;
    }
    ffi::lua_pushboolean(l, 1);
    ffi::lua_insert(l, 1);
    if ffi::lua_pcall(l, argc - 1, ffi::LUA_MULTRET, 0) != 0 {
        ffi::lua_remove(l, 1);
        if ffi::lua_type(l, -1) == ffi::LUA_TTABLE {
            ffi::lua_getfield(l, -1, c"err".as_ptr());
            if is_string_or_number(l, -1) {
                ffi::lua_replace(l, -2);
            }
        }
        ffi::lua_pushboolean(l, 0);
        ffi::lua_insert(l, 1);
    }
    ffi::lua_gettop(l)
}

// ---------------------------------------------------------------------
// math.random with Redis's lrand48.

fn lrand48() -> i32 {
    RAND48.with(|s| {
        let x = s.get().wrapping_mul(0x5_DEEC_E66D).wrapping_add(0xB) & ((1 << 48) - 1);
        s.set(x);
        (x >> 17) as i32
    })
}

fn srand48(seed: i32) {
    RAND48.with(|s| s.set(((seed as u32 as u64) << 16) | 0x330E));
}

unsafe extern "C-unwind" fn math_random(l: L) -> c_int {
    let r = (lrand48() % i32::MAX) as f64 / i32::MAX as f64;
    match ffi::lua_gettop(l) {
        0 => ffi::lua_pushnumber(l, r),
        1 => {
            let u = ffi::luaL_checkinteger(l, 1) as c_int;
            ffi::luaL_argcheck(l, (1 <= u) as c_int, 1, c"interval is empty".as_ptr());
            ffi::lua_pushnumber(l, (r * u as f64).floor() + 1.0);
        }
        2 => {
            let lo = ffi::luaL_checkinteger(l, 1) as c_int;
            let up = ffi::luaL_checkinteger(l, 2) as c_int;
            ffi::luaL_argcheck(l, (lo <= up) as c_int, 2, c"interval is empty".as_ptr());
            ffi::lua_pushnumber(l, (r * (up as f64 - lo as f64 + 1.0)).floor() + lo as f64);
        }
        _ => {
            ffi::luaL_error(l, c"wrong number of arguments".as_ptr());
        }
    }
    1
}

unsafe extern "C-unwind" fn math_randomseed(l: L) -> c_int {
    srand48(ffi::luaL_checkinteger(l, 1) as c_int);
    0
}

// ---------------------------------------------------------------------
// The redis.* API.

/// Collects redis.call-style arguments (strings and numbers) into
/// `ctx.nums`/`ctx.spans`; false when one is of another type.
unsafe fn collect_args(l: L, ctx: &mut RunCtx<'_>, argc: c_int) -> bool {
    ctx.nums.clear();
    ctx.spans.clear();
    for j in 1..=argc {
        if ffi::lua_type(l, j) == ffi::LUA_TNUMBER {
            let start = ctx.nums.len();
            resp::arg_number(ffi::lua_tonumber(l, j), &mut ctx.nums);
            ctx.spans.push((true, start, ctx.nums.len()));
        } else {
            let mut len = 0usize;
            let p = ffi::lua_tolstring(l, j, &mut len);
            if p.is_null() {
                return false;
            }
            ctx.spans.push((false, p as usize, len));
        }
    }
    true
}

/// The collected arguments as slices (Lua strings stay on the stack).
unsafe fn argv_of<'c>(ctx: &'c RunCtx<'_>) -> Vec<&'c [u8]> {
    ctx.spans
        .iter()
        .map(|&(num, a, b)| {
            if num {
                &ctx.nums[a..b]
            } else {
                std::slice::from_raw_parts(a as *const u8, b)
            }
        })
        .collect()
}

/// Body of redis.call / redis.pcall: returns the number of results, or -1
/// to raise the error on top of the stack.
unsafe fn generic_command(l: L, raise: bool) -> c_int {
    let ctx = run_ctx();
    if ctx.is_null() {
        push_error_buff(l, b"redis.call and redis.pcall can only be used while a script runs");
        return -1;
    }
    let ctx = &mut *ctx;
    if ctx.aborted {
        push_error_buff(l, ABORTED_MSG);
        return -1;
    }
    if ctx.killed {
        push_error_buff(l, KILLED_MSG);
        return -1;
    }
    let argc = ffi::lua_gettop(l);
    if argc == 0 {
        push_error_buff(l, b"Please specify at least one argument for this redis lib call");
        return if raise { -1 } else { 1 };
    }
    if !collect_args(l, ctx, argc) {
        ffi::lua_settop(l, 0);
        push_error_buff(l, b"Lua redis lib command arguments must be strings or integers");
        return if raise { -1 } else { 1 };
    }
    if ctx.in_call {
        let w = b"luaRedisGenericCommand() recursive call detected. Are you doing funny stuff with Lua debug hooks?";
        crate::server::log::warning(std::str::from_utf8(w).unwrap_or_default());
        push_error_buff(l, w);
        return 1;
    }
    ctx.in_call = true;
    let mut reply = std::mem::take(&mut ctx.reply);
    reply.clear();
    let res = {
        let backend = ctx.backend;
        let argv = argv_of(ctx);
        let backend = &mut *backend;
        backend.call(&argv, ctx.resp3, &mut reply)
    };
    ffi::lua_settop(l, 0);
    if let Err(Abort) = res {
        ctx.aborted = true;
        ctx.in_call = false;
        ctx.reply = reply;
        stop_everything(l, ctx);
        push_error_buff(l, ABORTED_MSG);
        return -1;
    }
    let is_error = reply.first() == Some(&b'-');
    let ok = push_reply(l, &reply);
    ctx.reply = reply;
    ctx.in_call = false;
    if !ok {
        ffi::lua_settop(l, 0);
        push_error_buff(l, b"Spindle: malformed reply from a command called by a script");
        return -1;
    }
    if raise && is_error {
        return -1;
    }
    1
}

unsafe extern "C-unwind" fn redis_call(l: L) -> c_int {
    let n = generic_command(l, true);
    if n < 0 {
        ffi::lua_error(l);
    }
    n
}

unsafe extern "C-unwind" fn redis_pcall(l: L) -> c_int {
    let n = generic_command(l, false);
    if n < 0 {
        ffi::lua_error(l);
    }
    n
}

/// Pushes a reply (RESP2 or RESP3 bytes) as a Lua value; false when the
/// bytes are malformed or nest too deep.
unsafe fn push_reply(l: L, bytes: &[u8]) -> bool {
    let mut r = resp::Reader::new(bytes);
    push_item(l, &mut r, 0)
}

unsafe fn push_item(l: L, r: &mut resp::Reader, depth: usize) -> bool {
    if depth > 1000 || ffi::lua_checkstack(l, 5) == 0 {
        return false;
    }
    let item = match r.item() {
        Some(i) => i,
        None => return false,
    };
    match item {
        Item::Int(v) => ffi::lua_pushnumber(l, v as f64),
        Item::Bulk(s) => push_bytes(l, s),
        Item::NullBulk | Item::NullArray => ffi::lua_pushboolean(l, 0),
        Item::Simple(s) => {
            ffi::lua_createtable(l, 0, 1);
            push_bytes(l, b"ok");
            push_bytes(l, s);
            ffi::lua_rawset(l, -3);
        }
        Item::Error(s) => {
            let mut e = Vec::with_capacity(s.len() + 1);
            e.push(b'-');
            e.extend_from_slice(s);
            push_error_buff(l, &e);
            drop(e);
            push_bytes(l, b"ignore_error_stats_update");
            ffi::lua_pushboolean(l, 1);
            ffi::lua_rawset(l, -3);
        }
        Item::Array(n) | Item::Push(n) => {
            ffi::lua_createtable(l, n.min(1 << 16) as c_int, 0);
            for j in 1..=n {
                if !push_item(l, r, depth + 1) {
                    return false;
                }
                ffi::lua_rawseti(l, -2, j as ffi::lua_Integer);
            }
        }
        Item::Map(n) => {
            ffi::lua_createtable(l, 0, 1);
            push_bytes(l, b"map");
            ffi::lua_createtable(l, 0, n.min(1 << 16) as c_int);
            for _ in 0..n {
                if !push_item(l, r, depth + 1) || !push_item(l, r, depth + 1) {
                    return false;
                }
                ffi::lua_settable(l, -3);
            }
            ffi::lua_rawset(l, -3);
        }
        Item::Set(n) => {
            ffi::lua_createtable(l, 0, 1);
            push_bytes(l, b"set");
            ffi::lua_createtable(l, 0, n.min(1 << 16) as c_int);
            for _ in 0..n {
                if !push_item(l, r, depth + 1) {
                    return false;
                }
                ffi::lua_pushboolean(l, 1);
                ffi::lua_settable(l, -3);
            }
            ffi::lua_rawset(l, -3);
        }
        Item::Attribute(n) => {
            // Attributes are not shown to scripts: skip them.
            for _ in 0..2 * n {
                if !push_item(l, r, depth + 1) {
                    return false;
                }
                ffi::lua_pop(l, 1);
            }
            return push_item(l, r, depth + 1);
        }
        Item::Null => ffi::lua_pushnil(l),
        Item::Bool(b) => ffi::lua_pushboolean(l, b as c_int),
        Item::Double(d) => {
            ffi::lua_createtable(l, 0, 1);
            push_bytes(l, b"double");
            ffi::lua_pushnumber(l, d);
            ffi::lua_rawset(l, -3);
        }
        Item::BigNumber(s) => {
            ffi::lua_createtable(l, 0, 1);
            push_bytes(l, b"big_number");
            push_bytes(l, s);
            ffi::lua_rawset(l, -3);
        }
        Item::Verbatim(fmt, s) => {
            ffi::lua_createtable(l, 0, 1);
            push_bytes(l, b"verbatim_string");
            ffi::lua_createtable(l, 0, 2);
            push_bytes(l, b"string");
            push_bytes(l, s);
            ffi::lua_rawset(l, -3);
            push_bytes(l, b"format");
            push_bytes(l, fmt);
            ffi::lua_rawset(l, -3);
            ffi::lua_rawset(l, -3);
        }
    }
    true
}

unsafe extern "C-unwind" fn redis_sha1hex(l: L) -> c_int {
    if ffi::lua_gettop(l) != 1 {
        raise_error_table(l, b"wrong number of arguments");
    }
    let s = to_bytes(l, 1).unwrap_or_default();
    let hex = sha1_smol::Sha1::from(s).digest().to_string();
    push_bytes(l, hex.as_bytes());
    1
}

unsafe extern "C-unwind" fn redis_error_reply(l: L) -> c_int {
    if ffi::lua_gettop(l) != 1 || ffi::lua_type(l, -1) != ffi::LUA_TSTRING {
        push_error_buff(l, b"wrong number or type of arguments");
        return 1;
    }
    let e = shebang::c_str(to_bytes(l, -1).unwrap_or_default());
    if e.first() == Some(&b'-') {
        push_error_buff(l, e);
    } else {
        let mut v = Vec::with_capacity(e.len() + 1);
        v.push(b'-');
        v.extend_from_slice(e);
        push_error_buff(l, &v);
    }
    1
}

unsafe extern "C-unwind" fn redis_status_reply(l: L) -> c_int {
    if ffi::lua_gettop(l) != 1 || ffi::lua_type(l, -1) != ffi::LUA_TSTRING {
        push_error_buff(l, b"wrong number or type of arguments");
        return 1;
    }
    ffi::lua_createtable(l, 0, 1);
    push_bytes(l, b"ok");
    ffi::lua_pushvalue(l, -3);
    ffi::lua_rawset(l, -3);
    1
}

unsafe extern "C-unwind" fn redis_log(l: L) -> c_int {
    let argc = ffi::lua_gettop(l);
    if argc < 2 {
        raise_error_table(l, b"redis.log() requires two arguments or more.");
    }
    if ffi::lua_isnumber(l, -argc) == 0 {
        raise_error_table(l, b"First argument must be a number (log level).");
    }
    let level = ffi::lua_tonumber(l, -argc) as c_int;
    if !(0..=3).contains(&level) {
        raise_error_table(l, b"Invalid log level.");
    }
    let mut msg = Vec::new();
    for j in 1..argc {
        if let Some(s) = to_bytes(l, -argc + j) {
            if j != 1 {
                msg.push(b' ');
            }
            msg.extend_from_slice(s);
        }
    }
    let text = String::from_utf8_lossy(&msg);
    match level {
        0 => crate::server::log::debug(&text),
        1 => crate::server::log::verbose(&text),
        2 => crate::server::log::notice(&text),
        _ => crate::server::log::warning(&text),
    }
    0
}

unsafe extern "C-unwind" fn redis_setresp(l: L) -> c_int {
    let argc = ffi::lua_gettop(l);
    if argc != 1 {
        raise_error_table(l, b"redis.setresp() requires one argument.");
    }
    let resp = ffi::lua_tonumber(l, -argc) as c_int;
    if resp != 2 && resp != 3 {
        raise_error_table(l, b"RESP version must be 2 or 3.");
    }
    let ctx = run_ctx();
    if !ctx.is_null() {
        (*ctx).resp3 = resp == 3;
    }
    0
}

unsafe extern "C-unwind" fn redis_set_repl(l: L) -> c_int {
    if ffi::lua_gettop(l) != 1 {
        raise_error_table(l, b"redis.set_repl() requires one argument.");
    }
    let flags = ffi::lua_tonumber(l, -1) as c_int;
    if flags & !3 != 0 {
        raise_error_table(
            l,
            b"Invalid replication flags. Use REPL_AOF, REPL_REPLICA, REPL_ALL or REPL_NONE.",
        );
    }
    let ctx = run_ctx();
    if !ctx.is_null() {
        (*ctx).repl = flags as u8;
    }
    0
}

/// Whether a command (and its subcommand, for container commands) exists.
fn command_exists(argv: &[&[u8]]) -> bool {
    let Some(spec) = crate::command::lookup(argv[0]) else {
        return false;
    };
    if spec.subcommands.is_empty() || argv.len() < 2 {
        return true;
    }
    let mut full = spec.name.as_bytes().to_vec();
    full.push(b'|');
    full.extend(argv[1].iter().map(|c| c.to_ascii_lowercase()));
    spec.subcommands.iter().any(|s| s.name.as_bytes() == full)
}

unsafe fn acl_check(l: L) -> c_int {
    let ctx = run_ctx();
    if ctx.is_null() {
        push_error_buff(l, b"redis.acl_check_cmd can only be used while a script runs");
        return -1;
    }
    let ctx = &mut *ctx;
    let argc = ffi::lua_gettop(l);
    if argc == 0 {
        push_error_buff(l, b"Please specify at least one argument for this redis lib call");
        return -1;
    }
    if !collect_args(l, ctx, argc) {
        ffi::lua_settop(l, 0);
        push_error_buff(l, b"Lua redis lib command arguments must be strings or integers");
        return -1;
    }
    let argv = argv_of(ctx);
    let exists = command_exists(&argv);
    let permitted = exists && (*ctx.backend).permits(&argv);
    ffi::lua_settop(l, 0);
    if !exists {
        push_error_buff(l, b"Invalid command passed to redis.acl_check_cmd()");
        return -1;
    }
    ffi::lua_pushboolean(l, permitted as c_int);
    1
}

unsafe extern "C-unwind" fn redis_acl_check_cmd(l: L) -> c_int {
    let n = acl_check(l);
    if n < 0 {
        ffi::lua_error(l);
    }
    n
}

unsafe extern "C-unwind" fn redis_breakpoint(l: L) -> c_int {
    ffi::lua_pushboolean(l, 0);
    1
}

unsafe extern "C-unwind" fn redis_debug(_l: L) -> c_int {
    0
}

unsafe extern "C-unwind" fn redis_replicate_commands(l: L) -> c_int {
    ffi::lua_pushboolean(l, 1);
    1
}

// ---------------------------------------------------------------------
// redis.register_function (FUNCTION LOAD only).

fn load_ctx() -> *mut LoadCtx {
    LOAD.with(|c| c.get())
}

unsafe fn string_arg(l: L, idx: c_int) -> Option<Vec<u8>> {
    if !is_string_or_number(l, idx) {
        return None;
    }
    to_bytes(l, idx).map(|s| s.to_vec())
}

/// Reads the flags table on top of the stack.
unsafe fn read_flags(l: L) -> Option<u8> {
    let mut bits = 0u8;
    let mut j = 1;
    loop {
        ffi::lua_pushnumber(l, j as f64);
        j += 1;
        ffi::lua_gettable(l, -2);
        if ffi::lua_type(l, -1) == ffi::LUA_TNIL {
            ffi::lua_pop(l, 1);
            return Some(bits);
        }
        if !is_string_or_number(l, -1) {
            ffi::lua_pop(l, 1);
            return None;
        }
        let found = shebang::flag_bit_nocase(shebang::c_str(to_bytes(l, -1).unwrap_or_default()));
        ffi::lua_pop(l, 1);
        bits |= found?;
    }
}

/// Parses register_function's arguments; Err(message) with the callback
/// reference already released.
unsafe fn register_args(l: L) -> Result<Registered, &'static [u8]> {
    let argc = ffi::lua_gettop(l);
    if !(1..=2).contains(&argc) {
        return Err(b"wrong number of arguments to redis.register_function");
    }
    if argc == 2 {
        let Some(name) = string_arg(l, 1) else {
            return Err(b"first argument to redis.register_function must be a string");
        };
        if ffi::lua_isfunction(l, 2) == 0 {
            return Err(b"second argument to redis.register_function must be a function");
        }
        let fnref = ffi::luaL_ref(l, ffi::LUA_REGISTRYINDEX);
        return Ok(Registered {
            name,
            desc: None,
            flags: 0,
            fnref,
        });
    }
    if ffi::lua_type(l, 1) != ffi::LUA_TTABLE {
        return Err(b"calling redis.register_function with a single argument is only applicable to Lua table (representing named arguments).");
    }
    let (mut name, mut desc, mut fnref, mut flags) = (None, None, None::<c_int>, 0u8);
    let release = |fnref: Option<c_int>| {
        if let Some(r) = fnref {
            ffi::luaL_unref(l, ffi::LUA_REGISTRYINDEX, r);
        }
    };
    ffi::lua_pushnil(l);
    while ffi::lua_next(l, -2) != 0 {
        if !is_string_or_number(l, -2) {
            release(fnref);
            return Err(b"named argument key given to redis.register_function is not a string");
        }
        let key = shebang::c_str(to_bytes(l, -2).unwrap_or_default());
        if key.eq_ignore_ascii_case(b"function_name") {
            match string_arg(l, -1) {
                Some(n) => name = Some(n),
                None => {
                    release(fnref);
                    return Err(b"function_name argument given to redis.register_function must be a string");
                }
            }
        } else if key.eq_ignore_ascii_case(b"description") {
            match string_arg(l, -1) {
                Some(d) => desc = Some(d),
                None => {
                    release(fnref);
                    return Err(b"description argument given to redis.register_function must be a string");
                }
            }
        } else if key.eq_ignore_ascii_case(b"callback") {
            if ffi::lua_isfunction(l, -1) == 0 {
                release(fnref);
                return Err(b"callback argument given to redis.register_function must be a function");
            }
            release(fnref);
            fnref = Some(ffi::luaL_ref(l, ffi::LUA_REGISTRYINDEX));
            continue;
        } else if key.eq_ignore_ascii_case(b"flags") {
            if ffi::lua_type(l, -1) != ffi::LUA_TTABLE {
                release(fnref);
                return Err(b"flags argument to redis.register_function must be a table representing function flags");
            }
            match read_flags(l) {
                Some(b) => flags = b,
                None => {
                    release(fnref);
                    return Err(b"unknown flag given");
                }
            }
        } else {
            release(fnref);
            return Err(b"unknown argument given to redis.register_function");
        }
        ffi::lua_pop(l, 1);
    }
    let Some(name) = name else {
        release(fnref);
        return Err(b"redis.register_function must get a function name argument");
    };
    let Some(fnref) = fnref else {
        return Err(b"redis.register_function must get a callback argument");
    };
    Ok(Registered {
        name,
        desc,
        flags,
        fnref,
    })
}

unsafe fn register_function(l: L) -> bool {
    let ctx = load_ctx();
    if ctx.is_null() {
        push_error_buff(
            l,
            b"redis.register_function can only be called on FUNCTION LOAD command",
        );
        return false;
    }
    let f = match register_args(l) {
        Ok(f) => f,
        Err(msg) => {
            push_error_buff(l, msg);
            return false;
        }
    };
    let ctx = &mut *ctx;
    let err: &[u8] = if !shebang::valid_name(&f.name) {
        b"Library names can only contain letters, numbers, or underscores(_) and must be at least one character long"
    } else if ctx.functions.iter().any(|g| g.name == f.name) {
        b"Function already exists in the library"
    } else {
        ctx.functions.push(f);
        return true;
    };
    ffi::luaL_unref(l, ffi::LUA_REGISTRYINDEX, f.fnref);
    drop(f);
    push_error_buff(l, err);
    false
}

unsafe extern "C-unwind" fn redis_register_function(l: L) -> c_int {
    if !register_function(l) {
        ffi::lua_error(l);
    }
    0
}

// ---------------------------------------------------------------------
// Hook, error handler.

/// After an abort nothing may run: the hook fires on every instruction, on
/// the running thread and on the main one (a coroutine may be running).
unsafe fn stop_everything(l: L, ctx: &RunCtx<'_>) {
    ffi::lua_sethook(l, Some(hook), ffi::LUA_MASKLINE | ffi::LUA_MASKCOUNT, 1);
    if !ctx.main.is_null() && ctx.main != l {
        ffi::lua_sethook(ctx.main, Some(hook), ffi::LUA_MASKLINE | ffi::LUA_MASKCOUNT, 1);
    }
}

/// After a kill, as Redis: the hook fires on every line (of the running
/// thread and of the main one), so pcall cannot swallow it.
unsafe fn kill_everything(l: L, ctx: &RunCtx<'_>) {
    ffi::lua_sethook(l, Some(hook), ffi::LUA_MASKLINE, 0);
    if !ctx.main.is_null() && ctx.main != l {
        ffi::lua_sethook(ctx.main, Some(hook), ffi::LUA_MASKLINE, 0);
    }
}

/// The number of entries of the table at `idx` (all keys, not just the
/// array part).
unsafe fn count_entries(l: L, idx: c_int) -> usize {
    let mut n = 0;
    ffi::lua_pushnil(l);
    while ffi::lua_next(l, idx) != 0 {
        ffi::lua_pop(l, 1);
        n += 1;
    }
    n
}

/// Count hook (and line hook once the script must stop): kill requests,
/// the busy threshold, the FUNCTION LOAD timeout, aborts.
unsafe extern "C-unwind" fn hook(l: L, _ar: *mut ffi::lua_Debug) {
    if hook_check(l) {
        ffi::lua_error(l);
    }
}

unsafe fn hook_check(l: L) -> bool {
    let load = load_ctx();
    if !load.is_null() {
        let load = &*load;
        if load.timeout_ms > 0 && load.start.elapsed().as_millis() as u64 > load.timeout_ms {
            ffi::lua_sethook(l, Some(hook), ffi::LUA_MASKLINE, 0);
            push_error_buff(l, b"FUNCTION LOAD timeout");
            return true;
        }
        return false;
    }
    let ctx = run_ctx();
    if ctx.is_null() {
        return false;
    }
    let ctx = &mut *ctx;
    if ctx.aborted {
        stop_everything(l, ctx);
        push_error_buff(l, ABORTED_MSG);
        return true;
    }
    if ctx.killed {
        kill_everything(l, ctx);
        push_error_buff(l, KILLED_MSG);
        return true;
    }
    let Some(slot) = ctx.slot else {
        return false;
    };
    if runstate::kill_requested(slot) {
        ctx.killed = true;
        crate::server::log::notice("Lua script killed by user with SCRIPT KILL.");
        kill_everything(l, ctx);
        push_error_buff(l, KILLED_MSG);
        return true;
    }
    if !ctx.busy {
        let elapsed = ctx.start.elapsed().as_millis() as u64;
        if elapsed >= runstate::threshold_ms() {
            ctx.busy = true;
            let info = ctx.info();
            crate::server::log::warning(&format!(
                "Slow script detected: still in execution after {} milliseconds. You can try killing the script using the {} command. Script name is: {}.",
                elapsed,
                if ctx.kind == Kind::Eval { "SCRIPT KILL" } else { "FUNCTION KILL" },
                String::from_utf8_lossy(&info.name)
            ));
            runstate::mark_busy(slot, ctx.kind, info);
        }
    }
    if ctx.busy {
        // Let the server answer this thread's other clients meanwhile; a
        // SCRIPT KILL among them is seen at the next hook.
        runstate::poll_busy();
    }
    false
}

/// The message of an mlua error value (a Rust callback failed), if the
/// value at `idx` is one.
unsafe fn mlua_error_message(l: L, idx: c_int) -> Option<Vec<u8>> {
    let idx = ffi::lua_absindex(l, idx);
    reg_table(l, REG_ERRMSG);
    if ffi::lua_type(l, -1) != ffi::LUA_TFUNCTION {
        ffi::lua_pop(l, 1);
        return None;
    }
    ffi::lua_pushvalue(l, idx);
    if ffi::lua_pcall(l, 1, 1, 0) != 0 {
        ffi::lua_pop(l, 1);
        return None;
    }
    let m = if ffi::lua_type(l, -1) == ffi::LUA_TSTRING {
        to_bytes(l, -1).map(|s| s.to_vec())
    } else {
        None
    };
    ffi::lua_pop(l, 1);
    m
}

/// Calls a Rust (mlua) library function, upvalue 1, with all arguments;
/// its failure becomes a string error positioned like luaL_error's, so
/// scripts see what Redis's C libraries raise (pcall gets the message).
unsafe extern "C-unwind" fn rust_lib_call(l: L) -> c_int {
    let n = ffi::lua_gettop(l);
    ffi::luaL_checkstack(l, 2, ptr::null());
    ffi::lua_pushvalue(l, ffi::lua_upvalueindex(1));
    ffi::lua_insert(l, 1);
    if ffi::lua_pcall(l, n, ffi::LUA_MULTRET, 0) == 0 {
        return ffi::lua_gettop(l);
    }
    if let Some(msg) = mlua_error_message(l, -1) {
        ffi::lua_settop(l, 0);
        ffi::luaL_where(l, 1);
        push_bytes(l, &msg);
        drop(msg);
        ffi::lua_concat(l, 2);
    }
    ffi::lua_error(l)
}

/// The C entry point mlua gives every Rust function.
unsafe fn rust_entry(l: L) -> Option<ffi::lua_CFunction> {
    reg_table(l, REG_PROBE);
    let f = ffi::lua_tocfunction(l, -1);
    ffi::lua_pop(l, 1);
    f
}

/// Wraps the Rust functions of table `tbl` (and of the tables in it, one
/// level down) in [`rust_lib_call`].
unsafe fn wrap_rust_functions(l: L, tbl: c_int, entry: ffi::lua_CFunction, depth: u32) {
    ffi::luaL_checkstack(l, 6, ptr::null());
    ffi::lua_pushnil(l);
    while ffi::lua_next(l, tbl) != 0 {
        match ffi::lua_type(l, -1) {
            ffi::LUA_TFUNCTION if ffi::lua_tocfunction(l, -1).map(|f| f as usize) == Some(entry as usize) => {
                ffi::lua_pushcclosure(l, rust_lib_call, 1);
                ffi::lua_pushvalue(l, -2);
                ffi::lua_insert(l, -2);
                ffi::lua_rawset(l, tbl);
                continue;
            }
            ffi::LUA_TTABLE if depth > 0 => {
                let inner = ffi::lua_gettop(l);
                wrap_rust_functions(l, inner, entry, depth - 1);
            }
            _ => {}
        }
        ffi::lua_pop(l, 1);
    }
}

/// tostring() of the value at `idx`, pushed.
unsafe fn push_tostring(l: L, idx: c_int) {
    let idx = ffi::lua_absindex(l, idx);
    if ffi::luaL_callmeta(l, idx, c"__tostring".as_ptr()) != 0 {
        return;
    }
    match ffi::lua_type(l, idx) {
        ffi::LUA_TNUMBER | ffi::LUA_TSTRING => {
            ffi::lua_pushvalue(l, idx);
            ffi::lua_tolstring(l, -1, ptr::null_mut());
        }
        ffi::LUA_TBOOLEAN => push_bytes(
            l,
            if ffi::lua_toboolean(l, idx) != 0 {
                b"true"
            } else {
                b"false"
            },
        ),
        ffi::LUA_TNIL => push_bytes(l, b"nil"),
        t => {
            let name = CStr::from_ptr(ffi::lua_typename(l, t)).to_bytes();
            let s = format!("{}: {:p}", String::from_utf8_lossy(name), ffi::lua_topointer(l, idx));
            push_bytes(l, s.as_bytes());
        }
    }
}

/// The error handler every run uses (Redis's __redis__err__handler): turns
/// the error into a table with `err` and records where it happened.
unsafe extern "C-unwind" fn error_handler(l: L) -> c_int {
    ffi::lua_settop(l, 1);
    let mut ar: ffi::lua_Debug = std::mem::zeroed();
    let mut found = false;
    if ffi::lua_getstack(l, 1, &mut ar) != 0 {
        ffi::lua_getinfo(l, c"nSl".as_ptr(), &mut ar);
        found = true;
        if !ar.what.is_null() && CStr::from_ptr(ar.what).to_bytes() == b"C" {
            found = ffi::lua_getstack(l, 2, &mut ar) != 0;
            if found {
                ffi::lua_getinfo(l, c"nSl".as_ptr(), &mut ar);
            }
        }
    }
    if ffi::lua_type(l, 1) != ffi::LUA_TTABLE {
        ffi::lua_createtable(l, 0, 3);
        push_bytes(l, b"err");
        push_bytes(l, b"ERR ");
        let mut parts = 2;
        let from_rust = if ffi::lua_type(l, 1) == ffi::LUA_TUSERDATA {
            mlua_error_message(l, 1)
        } else {
            None
        };
        match from_rust {
            Some(msg) => {
                // luaL_error would have prefixed the caller's position.
                if found && ar.currentline > 0 {
                    let src = CStr::from_ptr(ar.short_src.as_ptr()).to_bytes();
                    let mut pos = src.to_vec();
                    pos.extend_from_slice(format!(":{}: ", ar.currentline).as_bytes());
                    if !msg.starts_with(&pos) {
                        push_bytes(l, &pos);
                        parts += 1;
                    }
                }
                push_bytes(l, &msg);
            }
            None => push_tostring(l, 1),
        }
        ffi::lua_concat(l, parts);
        ffi::lua_rawset(l, -3);
        ffi::lua_replace(l, 1);
    }
    if found {
        if !ar.source.is_null() {
            push_cstr(l, CStr::from_ptr(ar.source));
            rawset_str(l, 1, b"source");
        }
        ffi::lua_pushnumber(l, ar.currentline as f64);
        rawset_str(l, 1, b"line");
    }
    1
}

// ---------------------------------------------------------------------
// Lua result → RESP.

enum Task {
    Value,
    Array { tbl: c_int, j: i64, n: i64 },
    Map { tbl: c_int },
    Set { tbl: c_int },
}

/// The error of an `{err=...}` table (C-string semantics, as Redis reads it).
unsafe fn err_field(l: L, tbl: c_int) -> Option<Vec<u8>> {
    let t = rawget_str(l, tbl, b"err");
    let v = if t == ffi::LUA_TSTRING || t == ffi::LUA_TNUMBER {
        to_bytes(l, -1).map(|s| shebang::c_str(s).to_vec())
    } else {
        None
    };
    ffi::lua_pop(l, 1);
    v
}

unsafe fn bool_field(l: L, tbl: c_int, key: &[u8]) -> bool {
    let t = rawget_str(l, tbl, key);
    let v = t == ffi::LUA_TBOOLEAN && ffi::lua_toboolean(l, -1) != 0;
    ffi::lua_pop(l, 1);
    v
}

fn map_crlf(s: &[u8]) -> Vec<u8> {
    s.iter()
        .map(|&c| if c == b'\r' || c == b'\n' { b' ' } else { c })
        .collect()
}

fn write_double(r: &mut Reply, d: f64) {
    let s = resp::d2string(d);
    if r.resp3 {
        r.buf.push(b',');
        r.buf.extend_from_slice(s.as_bytes());
        r.buf.extend_from_slice(b"\r\n");
    } else {
        r.bulk(s.as_bytes());
    }
}

/// Writes the value on top of the stack (consumed) as the script's reply.
/// Returns whether the top-level reply is an error already counted.
unsafe fn write_result(l: L, out: &mut Vec<u8>, client_resp3: bool, lua_resp3: bool) -> bool {
    let mut r = Reply::new(out, client_resp3);
    let mut tasks = vec![Task::Value];
    let mut top_level = true;
    let mut counted = false;
    while let Some(task) = tasks.pop() {
        match task {
            Task::Array { tbl, j, n } => {
                if j > n {
                    ffi::lua_pop(l, 1);
                } else {
                    ffi::lua_rawgeti(l, tbl, j as ffi::lua_Integer);
                    tasks.push(Task::Array { tbl, j: j + 1, n });
                    tasks.push(Task::Value);
                }
            }
            Task::Map { tbl } => {
                if ffi::lua_next(l, tbl) == 0 {
                    ffi::lua_pop(l, 2);
                } else {
                    ffi::lua_pushvalue(l, -2);
                    tasks.push(Task::Map { tbl });
                    tasks.push(Task::Value);
                    tasks.push(Task::Value);
                }
            }
            Task::Set { tbl } => {
                if ffi::lua_next(l, tbl) == 0 {
                    ffi::lua_pop(l, 2);
                } else {
                    ffi::lua_pop(l, 1);
                    ffi::lua_pushvalue(l, -1);
                    tasks.push(Task::Set { tbl });
                    tasks.push(Task::Value);
                }
            }
            Task::Value => {
                let first = std::mem::replace(&mut top_level, false);
                if ffi::lua_checkstack(l, 4) == 0 {
                    r.error("ERR reached lua stack limit");
                    ffi::lua_pop(l, 1);
                    continue;
                }
                match ffi::lua_type(l, -1) {
                    ffi::LUA_TSTRING => {
                        r.bulk(to_bytes(l, -1).unwrap_or_default());
                        ffi::lua_pop(l, 1);
                    }
                    ffi::LUA_TBOOLEAN => {
                        let b = ffi::lua_toboolean(l, -1) != 0;
                        if !lua_resp3 {
                            if b {
                                r.int(1);
                            } else {
                                r.null();
                            }
                        } else {
                            r.boolean(b);
                        }
                        ffi::lua_pop(l, 1);
                    }
                    ffi::LUA_TNUMBER => {
                        r.int(resp::lua_number_to_int(ffi::lua_tonumber(l, -1)));
                        ffi::lua_pop(l, 1);
                    }
                    ffi::LUA_TTABLE => {
                        let tbl = ffi::lua_gettop(l);
                        if rawget_str(l, tbl, b"err") == ffi::LUA_TSTRING {
                            ffi::lua_pop(l, 1);
                            let msg = err_field(l, tbl).unwrap_or_default();
                            if first {
                                counted = bool_field(l, tbl, b"ignore_error_stats_update");
                            }
                            let mut m: &[u8] = &msg;
                            while let [rest @ .., b'\r' | b'\n'] = m {
                                m = rest;
                            }
                            r.error_bytes(m);
                            ffi::lua_pop(l, 1);
                            continue;
                        }
                        ffi::lua_pop(l, 1);
                        if rawget_str(l, tbl, b"ok") == ffi::LUA_TSTRING {
                            let s = map_crlf(shebang::c_str(to_bytes(l, -1).unwrap_or_default()));
                            r.buf.push(b'+');
                            r.buf.extend_from_slice(&s);
                            r.buf.extend_from_slice(b"\r\n");
                            ffi::lua_pop(l, 2);
                            continue;
                        }
                        ffi::lua_pop(l, 1);
                        if rawget_str(l, tbl, b"double") == ffi::LUA_TNUMBER {
                            write_double(&mut r, ffi::lua_tonumber(l, -1));
                            ffi::lua_pop(l, 2);
                            continue;
                        }
                        ffi::lua_pop(l, 1);
                        if rawget_str(l, tbl, b"big_number") == ffi::LUA_TSTRING {
                            let s = map_crlf(to_bytes(l, -1).unwrap_or_default());
                            if r.resp3 {
                                r.buf.push(b'(');
                                r.buf.extend_from_slice(&s);
                                r.buf.extend_from_slice(b"\r\n");
                            } else {
                                r.bulk(&s);
                            }
                            ffi::lua_pop(l, 2);
                            continue;
                        }
                        ffi::lua_pop(l, 1);
                        if rawget_str(l, tbl, b"verbatim_string") == ffi::LUA_TTABLE {
                            let v = ffi::lua_gettop(l);
                            let ft = rawget_str(l, v, b"format");
                            let st = rawget_str(l, v, b"string");
                            if ft == ffi::LUA_TSTRING && st == ffi::LUA_TSTRING {
                                let fmt = shebang::c_str(to_bytes(l, -2).unwrap_or_default());
                                let s = to_bytes(l, -1).unwrap_or_default();
                                if r.resp3 {
                                    r.buf.push(b'=');
                                    r.buf.extend_from_slice((s.len() + 4).to_string().as_bytes());
                                    r.buf.extend_from_slice(b"\r\n");
                                    for i in 0..3 {
                                        r.buf.push(*fmt.get(i).unwrap_or(&b' '));
                                    }
                                    r.buf.push(b':');
                                    r.buf.extend_from_slice(s);
                                    r.buf.extend_from_slice(b"\r\n");
                                } else {
                                    r.bulk(s);
                                }
                                ffi::lua_pop(l, 4);
                                continue;
                            }
                            ffi::lua_pop(l, 2);
                        }
                        ffi::lua_pop(l, 1);
                        if rawget_str(l, tbl, b"map") == ffi::LUA_TTABLE {
                            let inner = ffi::lua_gettop(l);
                            r.map_len(count_entries(l, inner));
                            ffi::lua_pushnil(l);
                            tasks.push(Task::Map { tbl: inner });
                            continue;
                        }
                        ffi::lua_pop(l, 1);
                        if rawget_str(l, tbl, b"set") == ffi::LUA_TTABLE {
                            let inner = ffi::lua_gettop(l);
                            r.set_len(count_entries(l, inner));
                            ffi::lua_pushnil(l);
                            tasks.push(Task::Set { tbl: inner });
                            continue;
                        }
                        ffi::lua_pop(l, 1);
                        let mut n = 0i64;
                        loop {
                            ffi::lua_rawgeti(l, tbl, n + 1);
                            let nil = ffi::lua_type(l, -1) == ffi::LUA_TNIL;
                            ffi::lua_pop(l, 1);
                            if nil {
                                break;
                            }
                            n += 1;
                        }
                        r.array_len(n as usize);
                        tasks.push(Task::Array { tbl, j: 1, n });
                    }
                    _ => {
                        r.null();
                        ffi::lua_pop(l, 1);
                    }
                }
            }
        }
    }
    counted
}

/// Writes the error a failed run left on top of the stack (consumed).
unsafe fn write_run_error(l: L, name: &[u8], out: &mut Vec<u8>, client_resp3: bool) -> bool {
    let mut r = Reply::new(out, client_resp3);
    if ffi::lua_type(l, -1) != ffi::LUA_TTABLE {
        let msg = if is_string_or_number(l, -1) {
            to_bytes(l, -1).unwrap_or_default().to_vec()
        } else {
            b"execution failure".to_vec()
        };
        let msg = shebang::c_str(&msg);
        let mut e = b"ERR Error running script ".to_vec();
        e.extend_from_slice(shebang::c_str(name));
        e.extend_from_slice(b", ");
        e.extend_from_slice(&msg[..msg.len().min(100)]);
        r.error_bytes(trim_crlf(&e));
        ffi::lua_pop(l, 1);
        return false;
    }
    let tbl = ffi::lua_gettop(l);
    let msg = err_field(l, tbl).unwrap_or_else(|| b"ERR unknown error".to_vec());
    let field = |key: &[u8]| -> Option<Vec<u8>> {
        let t = rawget_str(l, tbl, key);
        let v = if t == ffi::LUA_TSTRING || t == ffi::LUA_TNUMBER {
            to_bytes(l, -1).map(|s| shebang::c_str(s).to_vec())
        } else {
            None
        };
        ffi::lua_pop(l, 1);
        v
    };
    let source = field(b"source");
    let line = field(b"line");
    let counted = bool_field(l, tbl, b"ignore_error_stats_update");
    let mut e = msg;
    if let (Some(source), Some(line)) = (source, line) {
        e.extend_from_slice(b" script: ");
        e.extend_from_slice(shebang::c_str(name));
        e.extend_from_slice(b", on ");
        e.extend_from_slice(&source);
        e.push(b':');
        e.extend_from_slice(&line);
        e.push(b'.');
    }
    r.error_bytes(&e);
    ffi::lua_pop(l, 1);
    counted
}

// ---------------------------------------------------------------------
// Building the VM.

unsafe fn set_fn(l: L, tbl: c_int, name: &[u8], f: ffi::lua_CFunction) {
    ffi::lua_pushcfunction(l, f);
    rawset_str(l, tbl, name);
}

unsafe fn set_num(l: L, tbl: c_int, name: &[u8], v: f64) {
    ffi::lua_pushnumber(l, v);
    rawset_str(l, tbl, name);
}

/// redis.log and the LOG_* levels.
unsafe fn register_log(l: L, tbl: c_int) {
    set_fn(l, tbl, b"log", redis_log);
    for (i, name) in [&b"LOG_DEBUG"[..], b"LOG_VERBOSE", b"LOG_NOTICE", b"LOG_WARNING"]
        .iter()
        .enumerate()
    {
        set_num(l, tbl, name, i as f64);
    }
}

unsafe fn register_version(l: L, tbl: c_int) {
    set_num(l, tbl, b"REDIS_VERSION_NUM", REDIS_VERSION_NUM as f64);
    push_bytes(l, REDIS_VERSION.as_bytes());
    rawset_str(l, tbl, b"REDIS_VERSION");
}

/// The globals Redis keeps (anything else the libraries added goes).
/// getfenv, setfenv and newproxy are left out as Redis does since its
/// October 2025 security releases (7.4.6, CVE-2025-46818).
#[rustfmt::skip]
const ALLOWED_GLOBALS: &[&[u8]] = &[
    b"string", b"cjson", b"bit", b"cmsgpack", b"math", b"table", b"struct", b"os", b"redis", b"xpcall", b"tostring",
    b"setmetatable", b"next", b"assert", b"tonumber", b"rawequal", b"collectgarbage", b"getmetatable",
    b"rawset", b"pcall", b"coroutine", b"type", b"_G", b"select", b"unpack", b"gcinfo", b"pairs", b"rawget",
    b"loadstring", b"ipairs", b"_VERSION", b"load", b"error",
];

/// Sets up the globals and the `redis` table; `g` is the absolute index of
/// the real globals table.
unsafe fn setup_globals(l: L, g: c_int, flavour: Flavour) {
    // Registry tables for proxies.
    for name in [REG_RO, REG_P2R, REG_R2P, REG_VIS] {
        ffi::lua_createtable(l, 0, 0);
        ffi::lua_setfield(l, ffi::LUA_REGISTRYINDEX, name.as_ptr());
    }
    // Drop globals that Redis does not have.
    let mut drop_keys = Vec::new();
    ffi::lua_pushnil(l);
    while ffi::lua_next(l, g) != 0 {
        ffi::lua_pop(l, 1);
        let keep =
            ffi::lua_type(l, -1) == ffi::LUA_TSTRING && ALLOWED_GLOBALS.contains(&to_bytes(l, -1).unwrap_or_default());
        if !keep {
            ffi::lua_pushvalue(l, -1);
            drop_keys.push(ffi::luaL_ref(l, ffi::LUA_REGISTRYINDEX));
        }
    }
    for r in drop_keys {
        registry_get(l, r);
        ffi::lua_pushnil(l);
        ffi::lua_rawset(l, g);
        ffi::luaL_unref(l, ffi::LUA_REGISTRYINDEX, r);
    }
    // os: only clock.
    ffi::lua_createtable(l, 0, 1);
    push_bytes(l, b"os");
    ffi::lua_rawget(l, g);
    if ffi::lua_type(l, -1) == ffi::LUA_TTABLE {
        ffi::lua_getfield(l, -1, c"clock".as_ptr());
        set_field(l, -3, c"clock");
    }
    ffi::lua_pop(l, 1);
    rawset_str(l, g, b"os");
    // math.random / randomseed.
    push_bytes(l, b"math");
    ffi::lua_rawget(l, g);
    if ffi::lua_type(l, -1) == ffi::LUA_TTABLE {
        let m = ffi::lua_gettop(l);
        set_fn(l, m, b"random", math_random);
        set_fn(l, m, b"randomseed", math_randomseed);
    }
    ffi::lua_pop(l, 1);
    push_bytes(l, b"table");
    ffi::lua_rawget(l, g);
    if ffi::lua_type(l, -1) == ffi::LUA_TTABLE {
        let t = ffi::lua_gettop(l);
        set_fn(l, t, b"insert", table_insert);
        set_fn(l, t, b"remove", table_remove);
    }
    ffi::lua_pop(l, 1);
    // Base functions that know proxies.
    set_fn(l, g, b"pcall", lua_redis_pcall);
    set_fn(l, g, b"rawget", lua_rawget_fn);
    set_fn(l, g, b"rawset", lua_rawset_fn);
    set_fn(l, g, b"setmetatable", lua_setmetatable_fn);
    set_fn(l, g, b"getmetatable", lua_getmetatable_fn);
    set_fn(l, g, b"loadstring", lua_loadstring_fn);
    set_fn(l, g, b"load", lua_load_fn);
    ffi::lua_pushcfunction(l, lua_next_fn);
    ffi::lua_pushvalue(l, -1);
    rawset_str(l, g, b"next");
    ffi::lua_pushcclosure(l, lua_pairs_fn, 1);
    rawset_str(l, g, b"pairs");
    ffi::lua_pushcfunction(l, lua_ipairs_aux);
    ffi::lua_pushcclosure(l, lua_ipairs_fn, 1);
    rawset_str(l, g, b"ipairs");
    // The redis table.
    ffi::lua_createtable(l, 0, 32);
    let t = ffi::lua_gettop(l);
    set_fn(l, t, b"call", redis_call);
    set_fn(l, t, b"pcall", redis_pcall);
    register_log(l, t);
    register_version(l, t);
    set_fn(l, t, b"setresp", redis_setresp);
    set_fn(l, t, b"sha1hex", redis_sha1hex);
    set_fn(l, t, b"error_reply", redis_error_reply);
    set_fn(l, t, b"status_reply", redis_status_reply);
    set_fn(l, t, b"set_repl", redis_set_repl);
    for (name, v) in [
        (&b"REPL_NONE"[..], 0.0),
        (b"REPL_AOF", 1.0),
        (b"REPL_SLAVE", 2.0),
        (b"REPL_REPLICA", 2.0),
        (b"REPL_ALL", 3.0),
    ] {
        set_num(l, t, name, v);
    }
    set_fn(l, t, b"acl_check_cmd", redis_acl_check_cmd);
    if flavour == Flavour::Eval {
        set_fn(l, t, b"breakpoint", redis_breakpoint);
        set_fn(l, t, b"debug", redis_debug);
        set_fn(l, t, b"replicate_commands", redis_replicate_commands);
    }
    rawset_str(l, g, b"redis");
    if flavour == Flavour::Eval {
        set_fn(l, g, b"__redis__err__handler", error_handler);
    }
    // Reading an undeclared global raises.
    ffi::lua_createtable(l, 0, 1);
    ffi::lua_pushcfunction(l, protected_index);
    set_field(l, -2, c"__index");
    ffi::lua_setmetatable(l, g);
}

/// A table whose missing keys raise (luaSetErrorMetatable), pushed.
unsafe fn push_error_metatable(l: L) {
    ffi::lua_createtable(l, 0, 1);
    ffi::lua_pushcfunction(l, protected_index);
    set_field(l, -2, c"__index");
}

unsafe fn make_ref(l: L, idx: c_int) -> c_int {
    ffi::lua_pushvalue(l, idx);
    ffi::luaL_ref(l, ffi::LUA_REGISTRYINDEX)
}

/// Builds the environment on a fresh state; the stack is left as found.
unsafe fn build(l: L, flavour: Flavour) -> Refs {
    let base = ffi::lua_gettop(l);
    ffi::luaL_checkstack(l, 16, ptr::null());
    ffi::lua_pushvalue(l, ffi::LUA_GLOBALSINDEX);
    let g = ffi::lua_gettop(l);
    setup_globals(l, g, flavour);
    if let Some(entry) = rust_entry(l) {
        wrap_rust_functions(l, g, entry, 1);
    }
    let mut refs = Refs::default();
    ffi::lua_pushcfunction(l, error_handler);
    refs.handler = ffi::luaL_ref(l, ffi::LUA_REGISTRYINDEX);
    refs.globals = make_ref(l, g);
    protect(l, g);
    let pg = ffi::lua_gettop(l);
    refs.globals_proxy = make_ref(l, pg);
    // Methods of strings read the protected string table, and scripts see
    // the strings' metatable read-only (as Redis since 7.4.6), so no script
    // can change string methods for the next one.
    push_bytes(l, b"");
    if ffi::lua_getmetatable(l, -1) != 0 {
        rawget_str(l, g, b"string");
        set_field(l, -2, c"__index");
        protect(l, -1);
        ffi::lua_pop(l, 2);
    }
    ffi::lua_pop(l, 1);
    match flavour {
        Flavour::Eval => refs.env = refs.globals_proxy,
        Flavour::Function => {
            // The load-time API: {redis = {register_function, log, ...}}.
            ffi::lua_createtable(l, 0, 1);
            let lib = ffi::lua_gettop(l);
            ffi::lua_createtable(l, 0, 8);
            let r = ffi::lua_gettop(l);
            set_fn(l, r, b"register_function", redis_register_function);
            register_log(l, r);
            register_version(l, r);
            push_error_metatable(l);
            ffi::lua_setmetatable(l, r);
            rawset_str(l, lib, b"redis");
            push_error_metatable(l);
            ffi::lua_setmetatable(l, lib);
            protect(l, lib);
            refs.lib_api = make_ref(l, -1);
            ffi::lua_pop(l, 2);
            // The environment: an empty read-only table reading through
            // its metatable (to the globals while functions run).
            ffi::lua_createtable(l, 0, 0);
            let env = ffi::lua_gettop(l);
            ffi::lua_createtable(l, 0, 2);
            let mt = ffi::lua_gettop(l);
            ffi::lua_pushvalue(l, pg);
            set_field(l, mt, c"__index");
            ffi::lua_pushcfunction(l, ro_newindex);
            set_field(l, mt, c"__newindex");
            ffi::lua_pushvalue(l, mt);
            ffi::lua_setmetatable(l, env);
            refs.env_mt = make_ref(l, mt);
            reg_table(l, REG_RO);
            ffi::lua_pushvalue(l, env);
            ffi::lua_pushboolean(l, 1);
            ffi::lua_rawset(l, -3);
            ffi::lua_pop(l, 1);
            protect(l, mt);
            reg_table(l, REG_VIS);
            ffi::lua_pushvalue(l, env);
            ffi::lua_pushvalue(l, -3);
            ffi::lua_rawset(l, -3);
            ffi::lua_pop(l, 2);
            refs.env = make_ref(l, env);
        }
    }
    registry_get(l, refs.env);
    ffi::lua_replace(l, ffi::LUA_GLOBALSINDEX);
    ffi::lua_settop(l, base);
    refs
}

impl Vm {
    /// Creates a VM: `Eval` for EVAL scripts, `Function` for libraries.
    pub fn new(flavour: Flavour) -> Result<Vm, String> {
        Vm::with_libs(flavour, super::libs::register)
    }

    /// Creates a VM whose extra libraries are registered by `libs` (as
    /// globals, before the sandbox is sealed).
    pub fn with_libs(flavour: Flavour, libs: fn(&mlua::Lua) -> mlua::Result<()>) -> Result<Vm, String> {
        let lua = mlua::Lua::new_with(
            mlua::StdLib::TABLE | mlua::StdLib::STRING | mlua::StdLib::MATH | mlua::StdLib::OS,
            mlua::LuaOptions::default(),
        )
        .map_err(|e| e.to_string())?;
        libs(&lua).map_err(|e| e.to_string())?;
        let errmsg = lua
            .create_function(|_, v: mlua::Value| {
                Ok(match v {
                    mlua::Value::Error(e) => Some(root_message(&e)),
                    _ => None,
                })
            })
            .map_err(|e| e.to_string())?;
        lua.set_named_registry_value(std::str::from_utf8(REG_ERRMSG.to_bytes()).unwrap_or_default(), errmsg)
            .map_err(|e| e.to_string())?;
        // Any mlua function: its C entry point identifies Rust callbacks.
        let probe = lua.create_function(|_, ()| Ok(())).map_err(|e| e.to_string())?;
        lua.set_named_registry_value(std::str::from_utf8(REG_PROBE.to_bytes()).unwrap_or_default(), probe)
            .map_err(|e| e.to_string())?;
        let mut refs = Refs::default();
        let mut state: L = ptr::null_mut();
        // SAFETY: the closure runs inside mlua's protected call on this
        // VM's main state and leaves the stack balanced.
        unsafe {
            lua.exec_raw::<()>((), |l| {
                state = l;
                refs = build(l, flavour);
            })
        }
        .map_err(|e| e.to_string())?;
        Ok(Vm {
            l: state,
            flavour,
            refs,
            gc_count: 0,
            bufs: Default::default(),
            lua,
        })
    }

    /// Compiles `code` (chunk name `@user_script` or `@user_function`);
    /// Ok(registry ref of the function) or Err(Lua's message).
    pub fn compile(&mut self, code: &[u8], chunkname: &[u8]) -> Result<c_int, Vec<u8>> {
        let l = self.l;
        // SAFETY: balanced stack use on this VM's main state.
        unsafe {
            if load_text(l, code, chunkname) != 0 {
                let m = to_bytes(l, -1).unwrap_or_default().to_vec();
                ffi::lua_pop(l, 1);
                return Err(m);
            }
            Ok(ffi::luaL_ref(l, ffi::LUA_REGISTRYINDEX))
        }
    }

    /// Releases a compiled function.
    pub fn release(&mut self, r: c_int) {
        // SAFETY: `r` came from luaL_ref on this VM.
        unsafe { ffi::luaL_unref(self.l, ffi::LUA_REGISTRYINDEX, r) }
    }

    #[allow(clippy::too_many_arguments)]
    /// Runs the compiled function `fnref`: as an EVAL script (KEYS/ARGV
    /// globals) or as a function (keys and args as its two arguments). The
    /// reply (result or error) goes to `out` in the client's protocol.
    pub fn run(
        &mut self,
        fnref: c_int,
        keys: &[&[u8]],
        args: &[&[u8]],
        ctx: &mut RunCtx<'_>,
        name: &[u8],
        out: &mut Vec<u8>,
        client_resp3: bool,
    ) -> RunEnd {
        let l = self.l;
        // SAFETY: the run context outlives the pcall; the thread-local
        // pointer is cleared before returning.
        unsafe {
            let base = ffi::lua_gettop(l);
            ffi::luaL_checkstack(l, 8, ptr::null());
            // A script may have replaced the thread's globals (setfenv(0)).
            registry_get(l, self.refs.env);
            ffi::lua_replace(l, ffi::LUA_GLOBALSINDEX);
            registry_get(l, self.refs.handler);
            registry_get(l, fnref);
            let nargs = if self.flavour == Flavour::Eval {
                registry_get(l, self.refs.globals);
                push_array(l, keys);
                rawset_str(l, ffi::lua_gettop(l) - 1, b"KEYS");
                push_array(l, args);
                rawset_str(l, ffi::lua_gettop(l) - 1, b"ARGV");
                ffi::lua_pop(l, 1);
                0
            } else {
                push_array(l, keys);
                push_array(l, args);
                2
            };
            std::mem::swap(&mut ctx.reply, &mut self.bufs.0);
            std::mem::swap(&mut ctx.nums, &mut self.bufs.1);
            std::mem::swap(&mut ctx.spans, &mut self.bufs.2);
            ctx.main = l;
            let erased: *mut RunCtx<'static> = (ctx as *mut RunCtx<'_>).cast();
            RUN.with(|c| c.set(erased));
            if runstate::threshold_ms() > 0 {
                ffi::lua_sethook(l, Some(hook), ffi::LUA_MASKCOUNT, COUNT_HOOK_INSTRUCTIONS);
            }
            let status = ffi::lua_pcall(l, nargs, 1, base + 1);
            ffi::lua_sethook(l, None, 0, 0);
            RUN.with(|c| c.set(ptr::null_mut()));
            std::mem::swap(&mut ctx.reply, &mut self.bufs.0);
            std::mem::swap(&mut ctx.nums, &mut self.bufs.1);
            std::mem::swap(&mut ctx.spans, &mut self.bufs.2);
            registry_get(l, self.refs.env);
            ffi::lua_replace(l, ffi::LUA_GLOBALSINDEX);
            let end = if ctx.aborted {
                RunEnd::Aborted
            } else if status != 0 {
                RunEnd::Done {
                    counted: write_run_error(l, name, out, client_resp3),
                }
            } else {
                RunEnd::Done {
                    counted: write_result(l, out, client_resp3, ctx.resp3),
                }
            };
            ffi::lua_settop(l, base);
            self.gc_step();
            end
        }
    }

    fn gc_step(&mut self) {
        self.gc_count += 1;
        if self.gc_count >= 50 {
            // SAFETY: plain GC call on this VM.
            unsafe { ffi::lua_gc(self.l, ffi::LUA_GCSTEP, 50) };
            self.gc_count = 0;
        }
    }

    /// Runs a library's code (from the newline that ends its first line) so
    /// it registers functions; `timeout_ms` 0 means none. Err holds Redis's
    /// message without the `ERR ` prefix.
    pub fn load_library(&mut self, code: &[u8], timeout_ms: u64) -> Result<Vec<Registered>, Vec<u8>> {
        let l = self.l;
        // SAFETY: balanced stack; the load context is cleared before return.
        unsafe {
            let base = ffi::lua_gettop(l);
            registry_get(l, self.refs.env);
            ffi::lua_replace(l, ffi::LUA_GLOBALSINDEX);
            // Library globals during load: only the load API.
            registry_get(l, self.refs.env_mt);
            registry_get(l, self.refs.lib_api);
            set_field(l, -2, c"__index");
            ffi::lua_pop(l, 1);
            let result = if load_text(l, code, b"@user_function") != 0 {
                let mut m = b"Error compiling function: ".to_vec();
                m.extend_from_slice(to_bytes(l, -1).unwrap_or_default());
                Err(m)
            } else {
                let mut ctx = LoadCtx {
                    functions: Vec::new(),
                    start: Instant::now(),
                    timeout_ms,
                };
                LOAD.with(|c| c.set(&mut ctx as *mut LoadCtx));
                ffi::lua_sethook(l, Some(hook), ffi::LUA_MASKCOUNT, COUNT_HOOK_INSTRUCTIONS);
                let status = ffi::lua_pcall(l, 0, 0, 0);
                ffi::lua_sethook(l, None, 0, 0);
                LOAD.with(|c| c.set(ptr::null_mut()));
                if status != 0 {
                    for f in &ctx.functions {
                        ffi::luaL_unref(l, ffi::LUA_REGISTRYINDEX, f.fnref);
                    }
                    let mut m = b"Error registering functions: ".to_vec();
                    m.extend_from_slice(&load_error_message(l));
                    Err(m)
                } else {
                    Ok(ctx.functions)
                }
            };
            registry_get(l, self.refs.env_mt);
            registry_get(l, self.refs.globals_proxy);
            set_field(l, -2, c"__index");
            ffi::lua_pop(l, 1);
            registry_get(l, self.refs.env);
            ffi::lua_replace(l, ffi::LUA_GLOBALSINDEX);
            ffi::lua_settop(l, base);
            self.gc_step();
            result
        }
    }

    /// Lua's memory use in bytes.
    pub fn memory(&self) -> usize {
        // SAFETY: read-only GC query.
        unsafe {
            ffi::lua_gc(self.l, ffi::LUA_GCCOUNT, 0) as usize * 1024
                + ffi::lua_gc(self.l, ffi::LUA_GCCOUNTB, 0) as usize
        }
    }

    /// The mlua handle (for tests and libraries).
    pub fn lua(&self) -> &mlua::Lua {
        &self.lua
    }
}

/// What luaExtractErrorInformation reads of a load error.
unsafe fn load_error_message(l: L) -> Vec<u8> {
    if is_string_or_number(l, -1) {
        let mut m = b"ERR ".to_vec();
        m.extend_from_slice(shebang::c_str(to_bytes(l, -1).unwrap_or_default()));
        return m;
    }
    if ffi::lua_type(l, -1) == ffi::LUA_TTABLE {
        let tbl = ffi::lua_gettop(l);
        if let Some(m) = err_field(l, tbl) {
            return m;
        }
    }
    if let Some(m) = mlua_error_message(l, -1) {
        let mut v = b"ERR ".to_vec();
        v.extend_from_slice(&m);
        return v;
    }
    b"(null)".to_vec()
}

fn root_message(e: &mlua::Error) -> String {
    match e {
        mlua::Error::CallbackError { cause, .. } => root_message(cause),
        mlua::Error::RuntimeError(m) => m.clone(),
        other => other.to_string(),
    }
}

unsafe fn push_array(l: L, items: &[&[u8]]) {
    ffi::lua_createtable(l, items.len().min(1 << 20) as c_int, 0);
    for (i, s) in items.iter().enumerate() {
        push_bytes(l, s);
        ffi::lua_rawseti(l, -2, i as ffi::lua_Integer + 1);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Echo;

    impl Backend for Echo {
        fn begin(&mut self, _: Kind, _: crate::script::ScriptFlags, _: bool) -> Result<(), Vec<u8>> {
            Ok(())
        }

        fn call(&mut self, argv: &[&[u8]], _: bool, out: &mut Vec<u8>) -> Result<(), Abort> {
            out.extend_from_slice(format!("${}\r\n", argv[0].len()).as_bytes());
            out.extend_from_slice(argv[0]);
            out.extend_from_slice(b"\r\n");
            Ok(())
        }
    }

    /// A stand-in for the libraries branch: Rust functions in a global
    /// table, failing the way a library reports bad input.
    fn fake_libs(lua: &mlua::Lua) -> mlua::Result<()> {
        let t = lua.create_table()?;
        t.set(
            "decode",
            lua.create_function(|_, s: mlua::String| -> mlua::Result<mlua::String> {
                if s.as_bytes().starts_with(b"\"") {
                    Ok(s)
                } else {
                    Err(mlua::Error::RuntimeError(
                        "Expected value but found invalid token at character 1".into(),
                    ))
                }
            })?,
        )?;
        t.set("pair", lua.create_function(|_, ()| Ok((1, 2)))?)?;
        lua.globals().set("cjson", t)?;
        lua.globals().set("notallowed", 1)?;
        Ok(())
    }

    fn run(vm: &mut Vm, body: &str) -> String {
        let f = vm.compile(body.as_bytes(), b"@user_script").unwrap();
        let mut be = Echo;
        let mut ctx = RunCtx::new(&mut be, Kind::Eval, None, b"NAME", &[], &[], false);
        let mut out = Vec::new();
        assert_eq!(
            vm.run(f, &[], &[], &mut ctx, b"NAME", &mut out, false),
            RunEnd::Done { counted: false }
        );
        vm.release(f);
        String::from_utf8_lossy(&out).into_owned()
    }

    #[test]
    fn rust_library_errors_look_like_lual_error() {
        let mut vm = Vm::with_libs(Flavour::Eval, fake_libs).unwrap();
        assert_eq!(
            run(&mut vm, "return cjson.decode('x')"),
            "-ERR user_script:1: Expected value but found invalid token at character 1 script: NAME, on @user_script:1.\r\n"
        );
        assert_eq!(
            run(&mut vm, "return {pcall(cjson.decode, 'x')}"),
            "*2\r\n$-1\r\n$53\r\nExpected value but found invalid token at character 1\r\n"
        );
        assert_eq!(
            run(
                &mut vm,
                "local ok, e = pcall(function() return cjson.decode('x') end) return e"
            ),
            "$68\r\nuser_script:1: Expected value but found invalid token at character 1\r\n"
        );
        assert_eq!(run(&mut vm, "return cjson.decode('\"a\"')"), "$3\r\n\"a\"\r\n");
        assert_eq!(run(&mut vm, "return {cjson.pair()}"), "*2\r\n:1\r\n:2\r\n");
        assert_eq!(
            run(&mut vm, "cjson.decode = 1"),
            "-ERR user_script:1: Attempt to modify a readonly table script: NAME, on @user_script:1.\r\n"
        );
        assert_eq!(
            run(&mut vm, "return notallowed"),
            "-ERR user_script:1: Script attempted to access nonexistent global variable 'notallowed' script: NAME, on @user_script:1.\r\n"
        );
        assert_eq!(run(&mut vm, "return redis.call('ping')"), "$4\r\nping\r\n");
    }

    #[test]
    fn vm_memory_is_reported() {
        let vm = Vm::new(Flavour::Function).unwrap();
        assert!(vm.memory() > 10_000);
    }
}
