//! Which threads run a script, which of those are busy (past
//! busy-reply-threshold), and the kill requests SCRIPT KILL / FUNCTION KILL
//! leave for them.
//!
//! Each thread that runs scripts claims one slot of a fixed array of
//! atomics. Atomics cross threads here on purpose: KILL and the BUSY check
//! arrive on any shard while the script runs on another. The hot path of a
//! script run touches only its own slot (relaxed stores, no contention), and
//! `busy()` is one relaxed load of a global counter that is 0 unless some
//! script is past the threshold.

use std::sync::atomic::{AtomicBool, AtomicU64, AtomicU8, Ordering::Relaxed};
use std::sync::{Mutex, OnceLock};
use std::time::Instant;

use super::Kind;

const SLOTS: usize = 1024;

const IDLE: u8 = 0;
const RUN_EVAL: u8 = 1;
const RUN_FUNCTION: u8 = 2;

/// What FUNCTION STATS shows of a busy function.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RunInfo {
    pub name: Vec<u8>,
    pub command: Vec<Vec<u8>>,
}

struct Slot {
    claimed: AtomicBool,
    state: AtomicU8,
    busy: AtomicBool,
    kill: AtomicBool,
    dirty: AtomicBool,
    start_us: AtomicU64,
    /// Filled when the run becomes busy (never on the fast path).
    info: Mutex<Option<RunInfo>>,
}

#[allow(clippy::declare_interior_mutable_const)]
const SLOT: Slot = Slot {
    claimed: AtomicBool::new(false),
    state: AtomicU8::new(IDLE),
    busy: AtomicBool::new(false),
    kill: AtomicBool::new(false),
    dirty: AtomicBool::new(false),
    start_us: AtomicU64::new(0),
    info: Mutex::new(None),
};

static SLOT_ARRAY: [Slot; SLOTS] = [SLOT; SLOTS];

/// Busy runs: eval count in the low 32 bits, function count in the high 32.
static BUSY: AtomicU64 = AtomicU64::new(0);
const FUNCTION_UNIT: u64 = 1 << 32;

/// busy-reply-threshold (lua-time-limit) in milliseconds.
static THRESHOLD_MS: AtomicU64 = AtomicU64::new(5000);

thread_local! {
    static MY_SLOT: std::cell::Cell<Option<usize>> = const { std::cell::Cell::new(None) };
}

fn epoch() -> Instant {
    static E: OnceLock<Instant> = OnceLock::new();
    *E.get_or_init(Instant::now)
}

/// Microseconds on a process-wide monotonic clock.
pub fn mono_us() -> u64 {
    epoch().elapsed().as_micros() as u64
}

/// Claims a slot for the calling thread (None when all are taken: that
/// thread's scripts then never show as busy and cannot be killed).
pub fn claim() -> Option<usize> {
    for (i, s) in SLOT_ARRAY.iter().enumerate() {
        if s.claimed.compare_exchange(false, true, Relaxed, Relaxed).is_ok() {
            MY_SLOT.with(|c| c.set(Some(i)));
            return Some(i);
        }
    }
    None
}

/// Gives the slot back (the thread's engine is going away).
pub fn release(slot: usize) {
    let s = &SLOT_ARRAY[slot];
    s.state.store(IDLE, Relaxed);
    s.claimed.store(false, Relaxed);
    let _ = MY_SLOT.try_with(|c| {
        if c.get() == Some(slot) {
            c.set(None)
        }
    });
}

/// Marks the start of a run on `slot`.
pub fn start(slot: usize, kind: Kind) {
    let s = &SLOT_ARRAY[slot];
    s.kill.store(false, Relaxed);
    s.dirty.store(false, Relaxed);
    s.busy.store(false, Relaxed);
    s.start_us.store(mono_us(), Relaxed);
    s.state
        .store(if kind == Kind::Eval { RUN_EVAL } else { RUN_FUNCTION }, Relaxed);
}

/// Marks the end of the run on `slot`.
pub fn finish(slot: usize, kind: Kind) {
    let s = &SLOT_ARRAY[slot];
    if s.busy.swap(false, Relaxed) {
        BUSY.fetch_sub(unit(kind), Relaxed);
        if let Ok(mut g) = s.info.lock() {
            *g = None;
        }
    }
    s.state.store(IDLE, Relaxed);
    s.kill.store(false, Relaxed);
}

fn unit(kind: Kind) -> u64 {
    if kind == Kind::Eval {
        1
    } else {
        FUNCTION_UNIT
    }
}

/// Whether a kill was requested for the run on `slot`.
#[inline]
pub fn kill_requested(slot: usize) -> bool {
    SLOT_ARRAY[slot].kill.load(Relaxed)
}

/// Marks the run on `slot` busy (it passed the threshold); `info` is what
/// FUNCTION STATS will show.
pub fn mark_busy(slot: usize, kind: Kind, info: RunInfo) {
    let s = &SLOT_ARRAY[slot];
    if let Ok(mut g) = s.info.lock() {
        *g = Some(info);
    }
    if !s.busy.swap(true, Relaxed) {
        BUSY.fetch_add(unit(kind), Relaxed);
    }
}

/// busy-reply-threshold in ms.
#[inline]
pub fn threshold_ms() -> u64 {
    THRESHOLD_MS.load(Relaxed)
}

/// Sets busy-reply-threshold / lua-time-limit (ms).
pub fn set_threshold_ms(ms: u64) {
    THRESHOLD_MS.store(ms, Relaxed);
}

/// Some(kind) when a script has been running longer than the threshold on
/// some thread (eval first when both kinds are).
#[inline]
pub fn busy() -> Option<Kind> {
    let b = BUSY.load(Relaxed);
    if b == 0 {
        None
    } else if b & (FUNCTION_UNIT - 1) != 0 {
        Some(Kind::Eval)
    } else {
        Some(Kind::Function)
    }
}

/// The calling thread's run wrote (SCRIPT KILL then answers UNKILLABLE).
pub fn note_write() {
    if let Some(i) = MY_SLOT.try_with(|c| c.get()).ok().flatten() {
        SLOT_ARRAY[i].dirty.store(true, Relaxed);
    }
}

/// The BUSY error text for a kind.
pub fn busy_error(kind: Kind) -> &'static str {
    match kind {
        Kind::Eval => "BUSY Redis is busy running a script. You can only call SCRIPT KILL or SHUTDOWN NOSAVE.",
        Kind::Function => "BUSY Redis is busy running a script. You can only call FUNCTION KILL or SHUTDOWN NOSAVE.",
    }
}

pub const NOTBUSY: &str = "NOTBUSY No scripts in execution right now.";
pub const UNKILLABLE: &str = "UNKILLABLE Sorry the script already executed write commands against the dataset. You can either wait the script termination or kill the server in a hard way using the SHUTDOWN NOSAVE command.";

/// SCRIPT KILL (`kind` Eval) or FUNCTION KILL (Function): flags every busy
/// run of that kind that has not written; Ok, or the error text to reply.
/// With one busy script this answers exactly as Redis: NOTBUSY when none is
/// busy, UNKILLABLE when it wrote, BUSY when it is of the other kind.
pub fn kill(kind: Kind) -> Result<(), &'static str> {
    let want = if kind == Kind::Eval { RUN_EVAL } else { RUN_FUNCTION };
    let (mut any, mut killed, mut dirty, mut other) = (false, false, false, false);
    for s in SLOT_ARRAY.iter() {
        if !s.claimed.load(Relaxed) || !s.busy.load(Relaxed) {
            continue;
        }
        let state = s.state.load(Relaxed);
        if state == IDLE {
            continue;
        }
        any = true;
        if s.dirty.load(Relaxed) {
            dirty = true;
        } else if state != want {
            other = true;
        } else {
            s.kill.store(true, Relaxed);
            killed = true;
        }
    }
    if killed {
        Ok(())
    } else if !any {
        Err(NOTBUSY)
    } else if dirty {
        Err(UNKILLABLE)
    } else if other {
        Err(busy_error(if kind == Kind::Eval { Kind::Function } else { Kind::Eval }))
    } else {
        Err(NOTBUSY)
    }
}

/// What FUNCTION STATS reports as running.
#[derive(Debug, PartialEq, Eq)]
pub enum Running {
    Nothing,
    /// A busy function: its info and duration in ms.
    Function(RunInfo, u64),
    /// An eval script is busy (STATS then answers BUSY).
    Eval,
}

/// The busy run FUNCTION STATS shows.
pub fn running() -> Running {
    if BUSY.load(Relaxed) == 0 {
        return Running::Nothing;
    }
    if busy() == Some(Kind::Eval) {
        return Running::Eval;
    }
    for s in SLOT_ARRAY.iter() {
        if s.busy.load(Relaxed) && s.state.load(Relaxed) == RUN_FUNCTION {
            let info = s.info.lock().ok().and_then(|g| g.clone());
            if let Some(info) = info {
                let ms = mono_us().saturating_sub(s.start_us.load(Relaxed)) / 1000;
                return Running::Function(info, ms);
            }
        }
    }
    Running::Nothing
}

/// Called from a busy script's instruction hook (about every 100k
/// instructions) so the server can answer the other clients of the busy
/// thread (BUSY, SCRIPT KILL, FUNCTION KILL): set once at start-up.
static BUSY_POLLER: OnceLock<fn()> = OnceLock::new();

pub fn set_busy_poller(f: fn()) {
    let _ = BUSY_POLLER.set(f);
}

/// Runs the busy poller, if any.
pub fn poll_busy() {
    if let Some(f) = BUSY_POLLER.get() {
        f();
    }
}
