//! The scripting engine of one thread: EVAL / EVALSHA / FCALL, SCRIPT and
//! FUNCTION, with Redis 7.4's replies and errors.
//!
//! Each thread owns two Lua VMs (created on first use): one for EVAL
//! scripts, one for function libraries, as Redis has one of each. Script
//! and library sources live in process-wide stores (`store.rs`); a thread
//! compiles what it runs into its VM and keeps it, noticing removals made
//! elsewhere through generation counters, so a cached script runs without
//! taking a lock.

use std::cell::RefCell;
use std::collections::HashMap;
use std::ffi::c_int;
use std::sync::Arc;

use super::runstate;
use super::shebang;
use super::store::{self, Library};
use super::vm::{Flavour, Registered, RunCtx, RunEnd, Vm};
use super::{Backend, Kind, Outcome, ScriptFlags};
use crate::command::errors;
use crate::protocol::Reply;

/// FUNCTION LOAD's time limit for the library's top-level code.
const LOAD_TIMEOUT_MS: u64 = 500;

const NOSCRIPT: &str = "NOSCRIPT No matching script. Please use EVAL.";
const FUNCTION_NOT_FOUND: &str = "ERR Function not found";
const BAD_LIBRARY_NAME: &str =
    "ERR Library names can only contain letters, numbers, or underscores(_) and must be at least one character long";

/// A compiled EVAL script of this thread.
struct LocalScript {
    fnref: c_int,
    flags: ScriptFlags,
    entry: Arc<store::Script>,
}

struct EvalState {
    vm: Vm,
    scripts: HashMap<[u8; 40], LocalScript>,
    seen_gen: u64,
    seen_epoch: u64,
}

/// A function of a library compiled on this thread.
struct LocalFunction {
    fnref: c_int,
    flags: ScriptFlags,
    name: Vec<u8>,
}

struct FuncState {
    vm: Vm,
    /// Library id → its functions (name, registry ref, flags bits).
    libs: HashMap<u64, Vec<(Vec<u8>, c_int, u8)>>,
    /// Lowercase function name → function.
    functions: HashMap<Vec<u8>, LocalFunction>,
    seen_gen: u64,
    seen_epoch: u64,
}

/// The Lua engine of one thread (`mlua::Lua` is !Send).
pub struct Engine {
    slot: Option<usize>,
    eval: Option<EvalState>,
    func: Option<FuncState>,
    last_counted: bool,
    name_buf: Vec<u8>,
}

thread_local! {
    static ENGINE: RefCell<Option<Engine>> = const { RefCell::new(None) };
}

/// Whether a script has been running longer than busy-reply-threshold on
/// some thread; Some(kind) tells which BUSY text to use. One relaxed atomic
/// load when nothing is busy.
#[inline]
pub fn busy() -> Option<Kind> {
    runstate::busy()
}

/// The BUSY error text for a kind (without '-' / CRLF).
pub fn busy_error(kind: Kind) -> &'static str {
    runstate::busy_error(kind)
}

/// The backend calls this after a write command ran for the current script
/// (SCRIPT KILL then answers UNKILLABLE).
pub fn note_write() {
    runstate::note_write()
}

/// busy-reply-threshold / lua-time-limit in ms (CONFIG SET; default 5000).
pub fn set_busy_threshold_ms(ms: u64) {
    runstate::set_threshold_ms(ms)
}

/// Counts for INFO.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Stats {
    /// number_of_cached_scripts
    pub cached_scripts: usize,
    /// used_memory_scripts_eval (bodies and hashes)
    pub scripts_bytes: usize,
    /// evicted_scripts
    pub evicted_scripts: u64,
    /// functions / libraries (INFO memory `number_of_functions`, `number_of_libraries`)
    pub libraries: usize,
    pub functions: usize,
}

/// Process-wide script counts.
pub fn stats() -> Stats {
    let (cached_scripts, scripts_bytes, libraries, functions) = store::counts();
    Stats {
        cached_scripts,
        scripts_bytes,
        evicted_scripts: store::evicted_scripts(),
        libraries,
        functions,
    }
}

/// CONFIG RESETSTAT: zeroes evicted_scripts.
pub fn reset_stats() {
    store::reset_evicted_scripts()
}

fn sha1_hex(body: &[u8]) -> [u8; 40] {
    let d = sha1_smol::Sha1::from(body).digest().bytes();
    let mut out = [0u8; 40];
    const HEX: &[u8; 16] = b"0123456789abcdef";
    for (i, b) in d.iter().enumerate() {
        out[2 * i] = HEX[(b >> 4) as usize];
        out[2 * i + 1] = HEX[(b & 15) as usize];
    }
    out
}

fn sha_key(sha: &[u8]) -> Option<[u8; 40]> {
    let arr: [u8; 40] = sha.try_into().ok()?;
    Some(arr.map(|c| c.to_ascii_lowercase()))
}

fn error(out: &mut Vec<u8>, resp3: bool, msg: &[u8]) {
    Reply::new(out, resp3).error_bytes(msg);
}

fn err_with(prefix: &str, msg: &[u8]) -> Vec<u8> {
    let mut v = prefix.as_bytes().to_vec();
    v.extend_from_slice(msg);
    v
}

/// addReplyErrorFormat's cleanup: CR/LF trimmed from both ends.
fn trimmed(mut s: &[u8]) -> &[u8] {
    while let [b'\r' | b'\n', rest @ ..] = s {
        s = rest;
    }
    while let [rest @ .., b'\r' | b'\n'] = s {
        s = rest;
    }
    s
}

impl EvalState {
    fn new() -> Result<EvalState, String> {
        Ok(EvalState {
            vm: Vm::new(Flavour::Eval)?,
            scripts: HashMap::new(),
            seen_gen: store::script_gen(),
            seen_epoch: store::script_epoch(),
        })
    }

    /// Follows removals made by any thread (eviction, SCRIPT FLUSH).
    fn sync(&mut self) -> Result<(), String> {
        let gen = store::script_gen();
        if gen == self.seen_gen {
            return Ok(());
        }
        let epoch = store::script_epoch();
        if epoch != self.seen_epoch {
            // SCRIPT FLUSH resets the VM, as Redis does.
            *self = EvalState::new()?;
            self.seen_gen = gen;
            self.seen_epoch = epoch;
            return Ok(());
        }
        let s = store::scripts();
        let vm = &mut self.vm;
        self.scripts.retain(|sha, l| match s.map.get(sha) {
            Some(e) if Arc::ptr_eq(e, &l.entry) => true,
            _ => {
                vm.release(l.fnref);
                false
            }
        });
        self.seen_gen = gen;
        Ok(())
    }

    /// Compiles a stored script into this VM.
    fn adopt(&mut self, entry: Arc<store::Script>) -> Result<&LocalScript, Vec<u8>> {
        let (flags, skip) = shebang::eval_shebang(&entry.body).map_err(|m| err_with("ERR ", &m))?;
        let fnref = self
            .vm
            .compile(&entry.body[skip..], b"@user_script")
            .map_err(|m| err_with("ERR Error compiling script (new function): ", &m))?;
        let sha = entry.sha;
        self.scripts.insert(sha, LocalScript { fnref, flags, entry });
        Ok(&self.scripts[&sha])
    }

    /// Finds or creates the script of `body` (luaCreateFunction): from this
    /// VM, else the store, else compiled and stored. Err holds the error
    /// reply text.
    fn create(&mut self, body: &[u8], sha: [u8; 40], evictable: bool) -> Result<&LocalScript, Vec<u8>> {
        if self.scripts.contains_key(&sha) {
            return Ok(&self.scripts[&sha]);
        }
        let stored = store::scripts().map.get(&sha).cloned();
        if let Some(entry) = stored {
            return self.adopt(entry);
        }
        let (flags, skip) = shebang::eval_shebang(body).map_err(|m| err_with("ERR ", &m))?;
        let fnref = self
            .vm
            .compile(&body[skip..], b"@user_script")
            .map_err(|m| err_with("ERR Error compiling script (new function): ", &m))?;
        let entry = {
            let mut s = store::scripts();
            match s.map.get(&sha) {
                Some(e) => e.clone(),
                None => s.insert(sha, body.to_vec(), flags, evictable).0,
            }
        };
        self.scripts.insert(sha, LocalScript { fnref, flags, entry });
        Ok(&self.scripts[&sha])
    }
}

impl FuncState {
    fn new() -> Result<FuncState, String> {
        Ok(FuncState {
            vm: Vm::new(Flavour::Function)?,
            libs: HashMap::new(),
            functions: HashMap::new(),
            seen_gen: u64::MAX,
            seen_epoch: store::lib_epoch(),
        })
    }

    /// Follows library changes made by any thread.
    fn sync(&mut self) -> Result<(), String> {
        let gen = store::lib_gen();
        if gen == self.seen_gen {
            return Ok(());
        }
        let epoch = store::lib_epoch();
        let snapshot: Vec<Arc<Library>> = store::libraries().by_id.values().cloned().collect();
        if epoch != self.seen_epoch {
            *self = FuncState::new()?;
        }
        let live: std::collections::HashSet<u64> = snapshot.iter().map(|l| l.id).collect();
        let gone: Vec<u64> = self.libs.keys().filter(|id| !live.contains(id)).copied().collect();
        for id in gone {
            for (_, r, _) in self.libs.remove(&id).unwrap_or_default() {
                self.vm.release(r);
            }
        }
        for lib in &snapshot {
            if self.libs.contains_key(&lib.id) {
                continue;
            }
            let start = shebang::library_meta(&lib.code).map(|m| m.code_start).unwrap_or(0);
            match self.vm.load_library(&lib.code[start..], 0) {
                Ok(fs) => {
                    self.libs
                        .insert(lib.id, fs.into_iter().map(|f| (f.name, f.fnref, f.flags)).collect());
                }
                Err(m) => crate::server::log::warning(&format!(
                    "Failed loading library {} on this thread: {}",
                    String::from_utf8_lossy(&lib.name),
                    String::from_utf8_lossy(&m)
                )),
            }
        }
        self.functions.clear();
        for lib in &snapshot {
            if let Some(fs) = self.libs.get(&lib.id) {
                for (name, r, bits) in fs {
                    self.functions.entry(store::lower(name)).or_insert(LocalFunction {
                        fnref: *r,
                        flags: shebang::to_flags(*bits),
                        name: name.clone(),
                    });
                }
            }
        }
        self.seen_gen = gen;
        self.seen_epoch = epoch;
        Ok(())
    }

    /// Records a library this thread loaded and committed; `in_sync` when
    /// no other change happened in between (then the function table is
    /// updated here, else the next sync rebuilds it).
    fn adopt(&mut self, id: u64, replaced: Option<u64>, fs: Vec<Registered>, in_sync: Option<u64>) {
        if let Some(old) = replaced {
            self.forget(old);
        }
        let entries: Vec<(Vec<u8>, c_int, u8)> = fs.into_iter().map(|f| (f.name, f.fnref, f.flags)).collect();
        if let Some(gen) = in_sync {
            for (name, r, bits) in &entries {
                self.functions.entry(store::lower(name)).or_insert(LocalFunction {
                    fnref: *r,
                    flags: shebang::to_flags(*bits),
                    name: name.clone(),
                });
            }
            self.seen_gen = gen;
        }
        self.libs.insert(id, entries);
    }

    /// Drops a library this thread had compiled.
    fn forget(&mut self, id: u64) {
        for (name, r, _) in self.libs.remove(&id).unwrap_or_default() {
            self.functions.remove(&store::lower(&name));
            self.vm.release(r);
        }
    }

    fn release_all(&mut self, fs: Vec<Registered>) {
        for f in fs {
            self.vm.release(f.fnref);
        }
    }
}

/// What a load validated: the library and its compiled functions.
struct Validated {
    lib: Library,
    fs: Vec<Registered>,
}

fn metas(fs: &[Registered]) -> Vec<store::FunctionMeta> {
    fs.iter()
        .map(|f| store::FunctionMeta {
            name: f.name.clone(),
            desc: f.desc.clone(),
            flags: f.flags,
        })
        .collect()
}

/// Runs one compiled script or function.
#[allow(clippy::too_many_arguments)]
fn run(
    vm: &mut Vm,
    slot: Option<usize>,
    kind: Kind,
    flags: ScriptFlags,
    fnref: c_int,
    name: &[u8],
    keys: &[&[u8]],
    args: &[&[u8]],
    read_only: bool,
    resp3: bool,
    backend: &mut dyn Backend,
    out: &mut Vec<u8>,
) -> (Outcome, bool) {
    if let Err(msg) = backend.begin(kind, flags, read_only) {
        error(out, resp3, &msg);
        return (Outcome::Done, false);
    }
    if let Some(s) = slot {
        runstate::start(s, kind);
    }
    let mut ctx = RunCtx::new(backend, kind, slot, name, keys, args, read_only);
    let end = vm.run(fnref, keys, args, &mut ctx, name, out, resp3);
    if let Some(s) = slot {
        runstate::finish(s, kind);
    }
    match end {
        RunEnd::Aborted => (Outcome::Aborted, false),
        RunEnd::Done { counted } => (Outcome::Done, counted),
    }
}

impl Drop for Engine {
    fn drop(&mut self) {
        if let Some(s) = self.slot {
            runstate::release(s);
        }
    }
}

impl Engine {
    fn new() -> Engine {
        Engine {
            slot: runstate::claim(),
            eval: None,
            func: None,
            last_counted: false,
            name_buf: Vec::new(),
        }
    }

    /// Runs `f` with this thread's engine (created on first use). Must not
    /// be re-entered from inside a script (the backend never runs EVAL or
    /// FCALL for a script: they are not allowed from scripts).
    pub fn with<R>(f: impl FnOnce(&mut Engine) -> R) -> R {
        ENGINE.with(|cell| {
            let mut g = cell.borrow_mut();
            let e = g.get_or_insert_with(Engine::new);
            f(e)
        })
    }

    /// Whether the error reply the last eval/evalsha/fcall wrote came from a
    /// command the script called (already counted in errorstats then, so
    /// the caller should not count it again).
    pub fn last_error_counted(&self) -> bool {
        self.last_counted
    }

    /// Bytes used by this thread's Lua VMs (eval, functions).
    pub fn lua_memory(&self) -> (usize, usize) {
        (
            self.eval.as_ref().map_or(0, |s| s.vm.memory()),
            self.func.as_ref().map_or(0, |s| s.vm.memory()),
        )
    }

    fn eval_state(&mut self) -> Result<&mut EvalState, String> {
        if self.eval.is_none() {
            self.eval = Some(EvalState::new()?);
        }
        let st = self.eval.as_mut().expect("just set");
        st.sync()?;
        Ok(st)
    }

    fn func_state(&mut self) -> Result<&mut FuncState, String> {
        if self.func.is_none() {
            self.func = Some(FuncState::new()?);
        }
        let st = self.func.as_mut().expect("just set");
        st.sync()?;
        Ok(st)
    }

    /// EVAL / EVAL_RO: compiles (and caches by SHA1, also in the global
    /// store so EVALSHA on any thread finds it) then runs.
    #[allow(clippy::too_many_arguments)]
    pub fn eval(
        &mut self,
        body: &[u8],
        keys: &[&[u8]],
        args: &[&[u8]],
        read_only: bool,
        resp3: bool,
        backend: &mut dyn Backend,
        out: &mut Vec<u8>,
    ) -> Outcome {
        self.last_counted = false;
        let sha = sha1_hex(body);
        let slot = self.slot;
        let st = match self.eval_state() {
            Ok(st) => st,
            Err(e) => {
                error(out, resp3, err_with("ERR ", e.as_bytes()).as_slice());
                return Outcome::Done;
            }
        };
        let (fnref, flags) = match st.create(body, sha, true) {
            Ok(l) => {
                if l.entry.evictable {
                    l.entry
                        .last_used
                        .store(store::tick(), std::sync::atomic::Ordering::Relaxed);
                }
                (l.fnref, l.flags)
            }
            Err(m) => {
                error(out, resp3, trimmed(&m));
                return Outcome::Done;
            }
        };
        let (o, counted) = run(
            &mut st.vm,
            slot,
            Kind::Eval,
            flags,
            fnref,
            &sha,
            keys,
            args,
            read_only,
            resp3,
            backend,
            out,
        );
        self.last_counted = counted;
        o
    }

    /// EVALSHA / EVALSHA_RO (sha case-insensitive; NOSCRIPT when unknown).
    #[allow(clippy::too_many_arguments)]
    pub fn evalsha(
        &mut self,
        sha: &[u8],
        keys: &[&[u8]],
        args: &[&[u8]],
        read_only: bool,
        resp3: bool,
        backend: &mut dyn Backend,
        out: &mut Vec<u8>,
    ) -> Outcome {
        self.last_counted = false;
        let Some(key) = sha_key(sha) else {
            error(out, resp3, NOSCRIPT.as_bytes());
            return Outcome::Done;
        };
        let slot = self.slot;
        let st = match self.eval_state() {
            Ok(st) => st,
            Err(e) => {
                error(out, resp3, err_with("ERR ", e.as_bytes()).as_slice());
                return Outcome::Done;
            }
        };
        let found = if st.scripts.contains_key(&key) {
            Ok(&st.scripts[&key])
        } else {
            let stored = store::scripts().map.get(&key).cloned();
            match stored {
                Some(entry) => st.adopt(entry),
                None => Err(NOSCRIPT.as_bytes().to_vec()),
            }
        };
        let (fnref, flags) = match found {
            Ok(l) => {
                if l.entry.evictable {
                    l.entry
                        .last_used
                        .store(store::tick(), std::sync::atomic::Ordering::Relaxed);
                }
                (l.fnref, l.flags)
            }
            Err(m) => {
                error(out, resp3, &m);
                return Outcome::Done;
            }
        };
        let (o, counted) = run(
            &mut st.vm,
            slot,
            Kind::Eval,
            flags,
            fnref,
            &key,
            keys,
            args,
            read_only,
            resp3,
            backend,
            out,
        );
        self.last_counted = counted;
        o
    }

    /// FCALL / FCALL_RO.
    #[allow(clippy::too_many_arguments)]
    pub fn fcall(
        &mut self,
        name: &[u8],
        keys: &[&[u8]],
        args: &[&[u8]],
        read_only: bool,
        resp3: bool,
        backend: &mut dyn Backend,
        out: &mut Vec<u8>,
    ) -> Outcome {
        self.last_counted = false;
        let slot = self.slot;
        let mut key = std::mem::take(&mut self.name_buf);
        key.clear();
        key.extend(name.iter().map(|c| c.to_ascii_lowercase()));
        let st = match self.func_state() {
            Ok(st) => st,
            Err(e) => {
                self.name_buf = key;
                error(out, resp3, err_with("ERR ", e.as_bytes()).as_slice());
                return Outcome::Done;
            }
        };
        let Some(f) = st.functions.get(&key) else {
            self.name_buf = key;
            error(out, resp3, FUNCTION_NOT_FOUND.as_bytes());
            return Outcome::Done;
        };
        let (o, counted) = run(
            &mut st.vm,
            slot,
            Kind::Function,
            f.flags,
            f.fnref,
            &f.name,
            keys,
            args,
            read_only,
            resp3,
            backend,
            out,
        );
        self.name_buf = key;
        self.last_counted = counted;
        o
    }

    /// The flags of what `eval(body)` would run: the cached script's, else
    /// its shebang's (None when the shebang is invalid: the run reports it).
    /// Like Redis, a script that does not compile still has flags here.
    pub fn eval_flags(&mut self, body: &[u8]) -> Option<ScriptFlags> {
        let sha = sha1_hex(body);
        if let Ok(st) = self.eval_state() {
            if let Some(l) = st.scripts.get(&sha) {
                return Some(l.flags);
            }
        }
        if let Some(e) = store::scripts().map.get(&sha) {
            return Some(e.flags);
        }
        shebang::eval_shebang(body).ok().map(|(f, _)| f)
    }

    /// The flags of the cached script `sha` (None when unknown).
    pub fn evalsha_flags(&mut self, sha: &[u8]) -> Option<ScriptFlags> {
        let key = sha_key(sha)?;
        if let Ok(st) = self.eval_state() {
            if let Some(l) = st.scripts.get(&key) {
                return Some(l.flags);
            }
        }
        store::scripts().map.get(&key).map(|e| e.flags)
    }

    /// The flags of function `name` (None when there is none).
    pub fn fcall_flags(&mut self, name: &[u8]) -> Option<ScriptFlags> {
        let st = self.func_state().ok()?;
        st.functions.get(&store::lower(name)).map(|f| f.flags)
    }

    /// SCRIPT <sub> (LOAD, EXISTS, FLUSH [ASYNC|SYNC], KILL, DEBUG, HELP;
    /// args[0] is "SCRIPT"): the full reply into `out`.
    pub fn script_command(&mut self, args: &[&[u8]], resp3: bool, out: &mut Vec<u8>) {
        let mut r = Reply::new(out, resp3);
        if args.len() < 2 {
            r.error(&errors::arity("script"));
            return;
        }
        let sub = args[1].to_ascii_lowercase();
        let arity: i32 = match sub.as_slice() {
            b"load" => 3,
            b"exists" => -3,
            b"flush" => -2,
            b"kill" => 2,
            b"help" => 2,
            b"debug" => 3,
            _ => {
                r.error_bytes(&errors::unknown_subcommand(args[1], "SCRIPT"));
                return;
            }
        };
        let n = args.len() as i32;
        if (arity > 0 && n != arity) || n < -arity {
            r.error(&errors::arity(&format!("script|{}", String::from_utf8_lossy(&sub))));
            return;
        }
        match sub.as_slice() {
            b"help" => help(&mut r, "SCRIPT", SCRIPT_HELP),
            b"flush" => {
                if n == 3 && !args[2].eq_ignore_ascii_case(b"sync") && !args[2].eq_ignore_ascii_case(b"async") || n > 3
                {
                    r.error("ERR SCRIPT FLUSH only support SYNC|ASYNC option");
                    return;
                }
                store::scripts().flush();
                r.ok();
            }
            b"exists" => {
                let s = store::scripts();
                r.array_len(args.len() - 2);
                for sha in &args[2..] {
                    let found = sha_key(sha).is_some_and(|k| s.map.contains_key(&k));
                    r.int(found as i64);
                }
            }
            b"load" => {
                let body = args[2];
                let sha = sha1_hex(body);
                if store::scripts().map.contains_key(&sha) {
                    r.bulk(&sha);
                    return;
                }
                let st = match self.eval_state() {
                    Ok(st) => st,
                    Err(e) => {
                        r.error_bytes(&err_with("ERR ", e.as_bytes()));
                        return;
                    }
                };
                match st.create(body, sha, false) {
                    Ok(_) => r.bulk(&sha),
                    Err(m) => r.error_bytes(trimmed(&m)),
                }
            }
            b"kill" => match runstate::kill(Kind::Eval) {
                Ok(()) => r.ok(),
                Err(e) => r.error(e),
            },
            _ => {
                // DEBUG: Spindle has no Lua debugger.
                if args[2].eq_ignore_ascii_case(b"no") {
                    r.ok();
                } else if args[2].eq_ignore_ascii_case(b"yes") || args[2].eq_ignore_ascii_case(b"sync") {
                    r.error("ERR SCRIPT DEBUG is not supported: this server has no Lua debugger");
                } else {
                    r.error("ERR Use SCRIPT DEBUG YES/SYNC/NO");
                }
            }
        }
    }

    /// FUNCTION <sub> (LOAD [REPLACE], DELETE, FLUSH [ASYNC|SYNC], LIST
    /// [LIBRARYNAME pattern] [WITHCODE], DUMP, RESTORE payload
    /// [FLUSH|APPEND|REPLACE], STATS, KILL, HELP): the full reply into `out`.
    pub fn function_command(&mut self, args: &[&[u8]], resp3: bool, out: &mut Vec<u8>) {
        let mut r = Reply::new(out, resp3);
        if args.len() < 2 {
            r.error(&errors::arity("function"));
            return;
        }
        let sub = args[1].to_ascii_lowercase();
        let arity: i32 = match sub.as_slice() {
            b"load" => -3,
            b"delete" => 3,
            b"flush" => -2,
            b"list" => -2,
            b"dump" => 2,
            b"restore" => -3,
            b"stats" => 2,
            b"kill" => 2,
            b"help" => 2,
            _ => {
                r.error_bytes(&errors::unknown_subcommand(args[1], "FUNCTION"));
                return;
            }
        };
        let n = args.len() as i32;
        if (arity > 0 && n != arity) || n < -arity {
            r.error(&errors::arity(&format!("function|{}", String::from_utf8_lossy(&sub))));
            return;
        }
        match sub.as_slice() {
            b"help" => help(&mut r, "FUNCTION", FUNCTION_HELP),
            b"kill" => match runstate::kill(Kind::Function) {
                Ok(()) => r.ok(),
                Err(e) => r.error(e),
            },
            b"stats" => function_stats(&mut r),
            b"list" => function_list(&mut r, &args[2..]),
            b"dump" => {
                let libs = store::libraries();
                let payload = super::payload::dump(libs.by_id.values().map(|l| l.code.as_slice()));
                r.bulk(&payload);
            }
            b"delete" => {
                if store::libraries().unlink(args[2]).is_some() {
                    r.ok();
                } else {
                    r.error("ERR Library not found");
                }
            }
            b"flush" => {
                if n > 3 {
                    r.error_bytes(&syntax_error(args));
                    return;
                }
                if n == 3 && !args[2].eq_ignore_ascii_case(b"sync") && !args[2].eq_ignore_ascii_case(b"async") {
                    r.error("ERR FUNCTION FLUSH only supports SYNC|ASYNC option");
                    return;
                }
                store::libraries().flush();
                r.ok();
            }
            b"load" => match self.function_load(&args[2..]) {
                Ok(name) => r.bulk(&name),
                Err(e) => r.error_bytes(&e),
            },
            _ => {
                if n > 4 {
                    r.error_bytes(&syntax_error(args));
                    return;
                }
                match self.function_restore(args[2], args.get(3).copied()) {
                    Ok(()) => r.ok(),
                    Err(e) => r.error_bytes(&e),
                }
            }
        }
    }

    /// Validates one library's code on this thread's function VM
    /// (functionsCreateWithLibraryCtx up to the engine run). `exists`
    /// answers whether a library of that name is already there.
    fn validate(
        &mut self,
        code: &[u8],
        timeout_ms: u64,
        exists: impl FnOnce(&[u8]) -> bool,
    ) -> Result<Validated, Vec<u8>> {
        let meta = shebang::library_meta(code).map_err(|m| err_with("ERR ", &m))?;
        if !shebang::valid_name(&meta.name) {
            return Err(BAD_LIBRARY_NAME.as_bytes().to_vec());
        }
        if !meta.engine.eq_ignore_ascii_case(b"LUA") {
            let mut e = b"ERR Engine '".to_vec();
            e.extend_from_slice(&meta.engine);
            e.extend_from_slice(b"' not found");
            return Err(e);
        }
        if exists(&meta.name) {
            let mut e = b"ERR Library '".to_vec();
            e.extend_from_slice(&meta.name);
            e.extend_from_slice(b"' already exists");
            return Err(e);
        }
        let st = self.func_state().map_err(|e| err_with("ERR ", e.as_bytes()))?;
        let fs = st
            .vm
            .load_library(&code[meta.code_start..], timeout_ms)
            .map_err(|m| err_with("ERR ", trimmed(&m)))?;
        if fs.is_empty() {
            return Err(b"ERR No functions registered".to_vec());
        }
        let lib = Library {
            id: store::next_lib_id(),
            name: meta.name,
            code: code.to_vec(),
            functions: metas(&fs),
        };
        Ok(Validated { lib, fs })
    }

    /// FUNCTION LOAD [REPLACE] code: the library name, or the error text.
    fn function_load(&mut self, args: &[&[u8]]) -> Result<Vec<u8>, Vec<u8>> {
        let mut replace = false;
        for a in &args[..args.len() - 1] {
            if a.eq_ignore_ascii_case(b"replace") {
                replace = true;
            } else {
                return Err(err_with("ERR Unknown option given: ", shebang::c_str(a)));
            }
        }
        let code = args[args.len() - 1];
        let v = self.validate(code, LOAD_TIMEOUT_MS, |name| {
            !replace && store::libraries().get(name).is_some()
        })?;
        let st = self.func.as_mut().expect("validate created it");
        let (replaced, in_sync) = {
            let mut libs = store::libraries();
            let old = libs.get(&v.lib.name).map(|l| l.id);
            if old.is_some() && !replace {
                drop(libs);
                let mut e = b"ERR Library '".to_vec();
                e.extend_from_slice(&v.lib.name);
                e.extend_from_slice(b"' already exists");
                st.release_all(v.fs);
                return Err(e);
            }
            for f in &v.lib.functions {
                if let Some(owner) = libs.functions.get(&store::lower(&f.name)) {
                    if Some(*owner) != old {
                        drop(libs);
                        let e = function_exists(&f.name);
                        st.release_all(v.fs);
                        return Err(e);
                    }
                }
            }
            let before = store::lib_gen();
            if old.is_some() {
                libs.unlink(&v.lib.name);
            }
            libs.link(Arc::new(Library {
                id: v.lib.id,
                name: v.lib.name.clone(),
                code: v.lib.code,
                functions: v.lib.functions,
            }));
            (old, (before == st.seen_gen).then(store::lib_gen))
        };
        st.adopt(v.lib.id, replaced, v.fs, in_sync);
        Ok(v.lib.name)
    }

    /// FUNCTION RESTORE payload [FLUSH|APPEND|REPLACE].
    fn function_restore(&mut self, payload: &[u8], policy: Option<&[u8]>) -> Result<(), Vec<u8>> {
        #[derive(PartialEq)]
        enum Policy {
            Flush,
            Append,
            Replace,
        }
        let policy = match policy {
            None => Policy::Append,
            Some(p) if p.eq_ignore_ascii_case(b"append") => Policy::Append,
            Some(p) if p.eq_ignore_ascii_case(b"replace") => Policy::Replace,
            Some(p) if p.eq_ignore_ascii_case(b"flush") => Policy::Flush,
            Some(_) => {
                return Err(
                    b"ERR Wrong restore policy given, value should be either FLUSH, APPEND or REPLACE.".to_vec(),
                )
            }
        };
        let codes = super::payload::parse(payload).map_err(|m| err_with("ERR ", m.as_bytes()))?;
        // Load every library into a scratch set first (as Redis loads into
        // a fresh context), so nothing changes unless all of them load.
        let mut loaded: Vec<Validated> = Vec::new();
        let fail = |this: &mut Engine, loaded: Vec<Validated>, e: Vec<u8>| -> Result<(), Vec<u8>> {
            if let Some(st) = this.func.as_mut() {
                for v in loaded {
                    st.release_all(v.fs);
                }
            }
            Err(e)
        };
        for code in &codes {
            let names: Vec<Vec<u8>> = loaded.iter().map(|v| v.lib.name.clone()).collect();
            match self.validate(code, 0, |name| names.iter().any(|n| n == name)) {
                Ok(v) => {
                    let clash = v.lib.functions.iter().find(|f| {
                        loaded
                            .iter()
                            .any(|o| o.lib.functions.iter().any(|g| g.name.eq_ignore_ascii_case(&f.name)))
                    });
                    if let Some(f) = clash {
                        let e = function_exists(&f.name);
                        let fs = v.fs;
                        if let Some(st) = self.func.as_mut() {
                            st.release_all(fs);
                        }
                        return fail(self, loaded, e);
                    }
                    loaded.push(v);
                }
                Err(e) => return fail(self, loaded, e),
            }
        }
        let st = self.func.as_mut().expect("validate created it");
        let mut libs = store::libraries();
        let before = store::lib_gen();
        let mut removed: Vec<Arc<Library>> = Vec::new();
        if policy == Policy::Flush {
            let names: Vec<Vec<u8>> = libs.by_name.keys().cloned().collect();
            for n in names {
                removed.extend(libs.unlink(&n));
            }
        } else {
            for v in &loaded {
                if libs.get(&v.lib.name).is_some() {
                    if policy == Policy::Append {
                        drop(libs);
                        let mut e = b"ERR Library ".to_vec();
                        e.extend_from_slice(&v.lib.name);
                        e.extend_from_slice(b" already exists");
                        return fail(self, loaded, e);
                    }
                    removed.extend(libs.unlink(&v.lib.name));
                }
            }
            let clash = loaded
                .iter()
                .flat_map(|v| v.lib.functions.iter())
                .find(|f| libs.functions.contains_key(&store::lower(&f.name)))
                .map(|f| f.name.clone());
            if let Some(name) = clash {
                for lib in removed {
                    libs.link(lib);
                }
                drop(libs);
                return fail(self, loaded, function_exists(&name));
            }
        }
        for v in &loaded {
            libs.link(Arc::new(Library {
                id: v.lib.id,
                name: v.lib.name.clone(),
                code: v.lib.code.clone(),
                functions: v.lib.functions.clone(),
            }));
        }
        let in_sync = (before == st.seen_gen).then(store::lib_gen);
        drop(libs);
        if in_sync.is_some() {
            for lib in &removed {
                st.forget(lib.id);
            }
        }
        for v in loaded {
            st.adopt(v.lib.id, None, v.fs, in_sync);
        }
        Ok(())
    }
}

#[cfg(test)]
#[path = "engine_tests.rs"]
mod tests;

fn function_exists(name: &[u8]) -> Vec<u8> {
    let mut e = b"ERR Function ".to_vec();
    e.extend_from_slice(shebang::c_str(name));
    e.extend_from_slice(b" already exists");
    e
}

/// addReplySubcommandSyntaxError.
fn syntax_error(args: &[&[u8]]) -> Vec<u8> {
    let sub = shebang::c_str(args[1]);
    let mut e = b"ERR unknown subcommand or wrong number of arguments for '".to_vec();
    e.extend_from_slice(&sub[..sub.len().min(128)]);
    e.extend_from_slice(b"'. Try ");
    e.extend_from_slice(&args[0].to_ascii_uppercase());
    e.extend_from_slice(b" HELP.");
    e
}

const SCRIPT_HELP: &[&str] = &[
    "DEBUG (YES|SYNC|NO)",
    "    Set the debug mode for subsequent scripts executed.",
    "EXISTS <sha1> [<sha1> ...]",
    "    Return information about the existence of the scripts in the script cache.",
    "FLUSH [ASYNC|SYNC]",
    "    Flush the Lua scripts cache. Very dangerous on replicas.",
    "    When called without the optional mode argument, the behavior is determined by the",
    "    lazyfree-lazy-user-flush configuration directive. Valid modes are:",
    "    * ASYNC: Asynchronously flush the scripts cache.",
    "    * SYNC: Synchronously flush the scripts cache.",
    "KILL",
    "    Kill the currently executing Lua script.",
    "LOAD <script>",
    "    Load a script into the scripts cache without executing it.",
];

const FUNCTION_HELP: &[&str] = &[
    "LOAD [REPLACE] <FUNCTION CODE>",
    "    Create a new library with the given library name and code.",
    "DELETE <LIBRARY NAME>",
    "    Delete the given library.",
    "LIST [LIBRARYNAME PATTERN] [WITHCODE]",
    "    Return general information on all the libraries:",
    "    * Library name",
    "    * The engine used to run the Library",
    "    * Functions list",
    "    * Library code (if WITHCODE is given)",
    "    It also possible to get only function that matches a pattern using LIBRARYNAME argument.",
    "STATS",
    "    Return information about the current function running:",
    "    * Function name",
    "    * Command used to run the function",
    "    * Duration in MS that the function is running",
    "    If no function is running, return nil",
    "    In addition, returns a list of available engines.",
    "KILL",
    "    Kill the current running function.",
    "FLUSH [ASYNC|SYNC]",
    "    Delete all the libraries.",
    "    When called without the optional mode argument, the behavior is determined by the",
    "    lazyfree-lazy-user-flush configuration directive. Valid modes are:",
    "    * ASYNC: Asynchronously flush the libraries.",
    "    * SYNC: Synchronously flush the libraries.",
    "DUMP",
    "    Return a serialized payload representing the current libraries, can be restored using FUNCTION RESTORE command",
    "RESTORE <PAYLOAD> [FLUSH|APPEND|REPLACE]",
    "    Restore the libraries represented by the given payload, it is possible to give a restore policy to",
    "    control how to handle existing libraries (default APPEND):",
    "    * FLUSH: delete all existing libraries.",
    "    * APPEND: appends the restored libraries to the existing libraries. On collision, abort.",
    "    * REPLACE: appends the restored libraries to the existing libraries, On collision, replace the old",
    "      libraries with the new libraries (notice that even on this option there is a chance of failure",
    "      in case of functions name collision with another library).",
];

/// addReplyHelp.
fn help(r: &mut Reply, cmd: &str, lines: &[&str]) {
    r.array_len(lines.len() + 3);
    r.simple(&format!(
        "{} <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
        cmd
    ));
    for l in lines {
        r.simple(l);
    }
    r.simple("HELP");
    r.simple("    Print this help.");
}

/// FUNCTION STATS (also answered by a busy thread for its own clients).
pub fn function_stats(r: &mut Reply) {
    let running = runstate::running();
    if running == runstate::Running::Eval {
        r.error(runstate::busy_error(Kind::Eval));
        return;
    }
    r.map_len(2);
    r.bulk(b"running_script");
    match running {
        runstate::Running::Function(info, ms) => {
            r.map_len(3);
            r.bulk(b"name");
            r.bulk(&info.name);
            r.bulk(b"command");
            r.array_len(info.command.len());
            for a in &info.command {
                r.bulk(a);
            }
            r.bulk(b"duration_ms");
            r.int(ms as i64);
        }
        _ => r.null(),
    }
    let libs = store::libraries();
    r.bulk(b"engines");
    r.map_len(1);
    r.bulk(b"LUA");
    r.map_len(2);
    r.bulk(b"libraries_count");
    r.int(libs.by_id.len() as i64);
    r.bulk(b"functions_count");
    r.int(libs.function_count() as i64);
}

fn function_list(r: &mut Reply, args: &[&[u8]]) {
    let mut with_code = false;
    let mut pattern: Option<&[u8]> = None;
    let mut i = 0;
    while i < args.len() {
        let a = args[i];
        if !with_code && a.eq_ignore_ascii_case(b"withcode") {
            with_code = true;
            i += 1;
            continue;
        }
        if pattern.is_none() && a.eq_ignore_ascii_case(b"libraryname") {
            if i + 1 >= args.len() {
                r.error("ERR library name argument was not given");
                return;
            }
            pattern = Some(args[i + 1]);
            i += 2;
            continue;
        }
        r.error_bytes(&err_with("ERR Unknown argument ", shebang::c_str(a)));
        return;
    }
    let libs = store::libraries();
    let chosen: Vec<&Arc<Library>> = libs
        .by_id
        .values()
        .filter(|l| pattern.is_none_or(|p| crate::util::glob_match(p, &l.name, true)))
        .collect();
    r.array_len(chosen.len());
    for lib in chosen {
        r.map_len(if with_code { 4 } else { 3 });
        r.bulk(b"library_name");
        r.bulk(&lib.name);
        r.bulk(b"engine");
        r.bulk(b"LUA");
        r.bulk(b"functions");
        r.array_len(lib.functions.len());
        for f in &lib.functions {
            r.map_len(3);
            r.bulk(b"name");
            r.bulk(&f.name);
            r.bulk(b"description");
            match &f.desc {
                Some(d) => r.bulk(d),
                None => r.null(),
            }
            r.bulk(b"flags");
            let set: Vec<&str> = shebang::FLAG_NAMES
                .iter()
                .filter(|(_, b)| f.flags & b != 0)
                .map(|(n, _)| *n)
                .collect();
            r.set_len(set.len());
            for s in set {
                r.simple(s);
            }
        }
        if with_code {
            r.bulk(b"library_code");
            r.bulk(&lib.code);
        }
    }
}
