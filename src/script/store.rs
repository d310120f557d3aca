//! Process-wide sources of scripts (EVAL / SCRIPT LOAD) and function
//! libraries. Each thread compiles them into its own VM; these stores are
//! the truth that VMs follow.
//!
//! Locks guard the stores, but a thread that already compiled what it runs
//! takes none: it compares a generation counter (one atomic load) with the
//! one it last synced at, and resyncs lazily when another thread removed or
//! changed something.

use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

use super::ScriptFlags;

/// Scripts EVAL caches beyond this many are evicted, least recently used
/// first (SCRIPT LOAD scripts are never evicted).
pub const EVAL_LRU_LIMIT: usize = 500;

/// A cached script.
#[derive(Debug)]
pub struct Script {
    /// Lowercase hex SHA1 of the body.
    pub sha: [u8; 40],
    pub body: Vec<u8>,
    pub flags: ScriptFlags,
    /// Created by EVAL: subject to LRU eviction.
    pub evictable: bool,
    /// Last use, on [`tick`]'s clock.
    pub last_used: AtomicU64,
}

#[derive(Default)]
pub struct Scripts {
    pub map: HashMap<[u8; 40], Arc<Script>>,
    /// The scripts EVAL created (at most EVAL_LRU_LIMIT).
    evictable: std::collections::HashSet<[u8; 40]>,
    /// Bytes of sha + bodies (INFO used_memory_scripts_eval).
    pub bytes: usize,
}

static SCRIPTS: Mutex<Option<Scripts>> = Mutex::new(None);
/// Bumped whenever a script leaves the store (eviction, flush).
static SCRIPT_GEN: AtomicU64 = AtomicU64::new(0);
/// Bumped on SCRIPT FLUSH: threads rebuild their eval VM.
static SCRIPT_EPOCH: AtomicU64 = AtomicU64::new(0);
static EVICTED: AtomicU64 = AtomicU64::new(0);
static TICK: AtomicU64 = AtomicU64::new(1);

/// A use-order clock for the LRU.
#[inline]
pub fn tick() -> u64 {
    TICK.fetch_add(1, Ordering::Relaxed)
}

/// The scripts store, locked.
pub fn scripts() -> ScriptsGuard {
    let mut g = SCRIPTS.lock().unwrap_or_else(|p| p.into_inner());
    if g.is_none() {
        *g = Some(Scripts::default());
    }
    ScriptsGuard(g)
}

pub struct ScriptsGuard(MutexGuard<'static, Option<Scripts>>);

impl std::ops::Deref for ScriptsGuard {
    type Target = Scripts;
    fn deref(&self) -> &Scripts {
        self.0.as_ref().expect("initialised in scripts()")
    }
}

impl std::ops::DerefMut for ScriptsGuard {
    fn deref_mut(&mut self) -> &mut Scripts {
        self.0.as_mut().expect("initialised in scripts()")
    }
}

/// The current (generation, flush epoch) of the scripts store.
#[inline]
pub fn script_gen() -> u64 {
    SCRIPT_GEN.load(Ordering::Acquire)
}

pub fn script_epoch() -> u64 {
    SCRIPT_EPOCH.load(Ordering::Acquire)
}

impl Scripts {
    /// Adds a script (the caller checked it is absent), evicting the least
    /// recently used EVAL scripts first when `evictable` and the LRU is full.
    /// Returns the new entry and whether anything was evicted.
    pub fn insert(&mut self, sha: [u8; 40], body: Vec<u8>, flags: ScriptFlags, evictable: bool) -> (Arc<Script>, bool) {
        let mut evicted = false;
        if evictable {
            while self.evictable.len() >= EVAL_LRU_LIMIT {
                let oldest = self
                    .evictable
                    .iter()
                    .filter_map(|sha| self.map.get(sha))
                    .min_by_key(|s| s.last_used.load(Ordering::Relaxed))
                    .map(|s| s.sha);
                match oldest {
                    Some(sha) => {
                        self.remove(&sha);
                        EVICTED.fetch_add(1, Ordering::Relaxed);
                        evicted = true;
                    }
                    None => break,
                }
            }
            self.evictable.insert(sha);
        }
        self.bytes += 40 + body.len();
        let s = Arc::new(Script {
            sha,
            body,
            flags,
            evictable,
            last_used: AtomicU64::new(tick()),
        });
        self.map.insert(sha, s.clone());
        if evicted {
            SCRIPT_GEN.fetch_add(1, Ordering::Release);
        }
        (s, evicted)
    }

    fn remove(&mut self, sha: &[u8; 40]) {
        if let Some(s) = self.map.remove(sha) {
            if s.evictable {
                self.evictable.remove(sha);
            }
            self.bytes -= 40 + s.body.len();
        }
    }

    /// SCRIPT FLUSH.
    pub fn flush(&mut self) {
        self.map.clear();
        self.evictable.clear();
        self.bytes = 0;
        SCRIPT_EPOCH.fetch_add(1, Ordering::Release);
        SCRIPT_GEN.fetch_add(1, Ordering::Release);
    }
}

/// Scripts evicted from the EVAL LRU since start (INFO evicted_scripts).
pub fn evicted_scripts() -> u64 {
    EVICTED.load(Ordering::Relaxed)
}

/// CONFIG RESETSTAT.
pub fn reset_evicted_scripts() {
    EVICTED.store(0, Ordering::Relaxed);
}

/// One function of a library, as registered at load.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FunctionMeta {
    pub name: Vec<u8>,
    pub desc: Option<Vec<u8>>,
    /// Flag bits (see `shebang::FLAG_NAMES`).
    pub flags: u8,
}

/// A loaded library.
#[derive(Debug)]
pub struct Library {
    /// Unique for the process lifetime: a thread compares ids to know
    /// whether its compiled copy is current.
    pub id: u64,
    pub name: Vec<u8>,
    /// The full code as given to FUNCTION LOAD (shebang included).
    pub code: Vec<u8>,
    pub functions: Vec<FunctionMeta>,
}

#[derive(Default)]
pub struct Libraries {
    /// By id, which is creation order (FUNCTION LIST / DUMP order).
    pub by_id: BTreeMap<u64, Arc<Library>>,
    /// Library name (case-sensitive) → id.
    pub by_name: HashMap<Vec<u8>, u64>,
    /// Lowercase function name → library id.
    pub functions: HashMap<Vec<u8>, u64>,
}

static LIBRARIES: Mutex<Option<Libraries>> = Mutex::new(None);
/// Bumped on every library change.
static LIB_GEN: AtomicU64 = AtomicU64::new(0);
/// Bumped on FUNCTION FLUSH / RESTORE FLUSH: threads rebuild their VM.
static LIB_EPOCH: AtomicU64 = AtomicU64::new(0);
static LIB_ID: AtomicU64 = AtomicU64::new(1);

pub struct LibrariesGuard(MutexGuard<'static, Option<Libraries>>);

impl std::ops::Deref for LibrariesGuard {
    type Target = Libraries;
    fn deref(&self) -> &Libraries {
        self.0.as_ref().expect("initialised in libraries()")
    }
}

impl std::ops::DerefMut for LibrariesGuard {
    fn deref_mut(&mut self) -> &mut Libraries {
        self.0.as_mut().expect("initialised in libraries()")
    }
}

/// The libraries store, locked.
pub fn libraries() -> LibrariesGuard {
    let mut g = LIBRARIES.lock().unwrap_or_else(|p| p.into_inner());
    if g.is_none() {
        *g = Some(Libraries::default());
    }
    LibrariesGuard(g)
}

#[inline]
pub fn lib_gen() -> u64 {
    LIB_GEN.load(Ordering::Acquire)
}

pub fn lib_epoch() -> u64 {
    LIB_EPOCH.load(Ordering::Acquire)
}

/// A fresh library id.
pub fn next_lib_id() -> u64 {
    LIB_ID.fetch_add(1, Ordering::Relaxed)
}

/// Lowercase copy (function names are case-insensitive).
pub fn lower(name: &[u8]) -> Vec<u8> {
    name.to_ascii_lowercase()
}

impl Libraries {
    pub fn get(&self, name: &[u8]) -> Option<&Arc<Library>> {
        self.by_name.get(name).and_then(|id| self.by_id.get(id))
    }

    /// Adds a library (names already checked), bumping the generation.
    pub fn link(&mut self, lib: Arc<Library>) {
        for f in &lib.functions {
            self.functions.entry(lower(&f.name)).or_insert(lib.id);
        }
        self.by_name.insert(lib.name.clone(), lib.id);
        self.by_id.insert(lib.id, lib);
        LIB_GEN.fetch_add(1, Ordering::Release);
    }

    /// Removes a library, bumping the generation.
    pub fn unlink(&mut self, name: &[u8]) -> Option<Arc<Library>> {
        let id = self.by_name.remove(name)?;
        let lib = self.by_id.remove(&id)?;
        for f in &lib.functions {
            let key = lower(&f.name);
            if self.functions.get(&key) == Some(&id) {
                self.functions.remove(&key);
            }
        }
        LIB_GEN.fetch_add(1, Ordering::Release);
        Some(lib)
    }

    /// Removes everything (FUNCTION FLUSH).
    pub fn flush(&mut self) {
        self.by_id.clear();
        self.by_name.clear();
        self.functions.clear();
        LIB_EPOCH.fetch_add(1, Ordering::Release);
        LIB_GEN.fetch_add(1, Ordering::Release);
    }

    /// Total functions (FUNCTION STATS functions_count).
    pub fn function_count(&self) -> usize {
        self.by_id.values().map(|l| l.functions.len()).sum()
    }
}

/// Counts for INFO: (cached scripts, script bytes, libraries, functions).
pub fn counts() -> (usize, usize, usize, usize) {
    let (n, bytes) = {
        let s = scripts();
        (s.map.len(), s.bytes)
    };
    let l = libraries();
    (n, bytes, l.by_id.len(), l.function_count())
}
