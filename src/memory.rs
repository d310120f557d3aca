//! Memory accounting: the process's global allocator counts the bytes it
//! hands out, which is what INFO's `used_memory` reports and what
//! `maxmemory` limits.
//!
//! Every allocation and free adds or subtracts its size class (mimalloc's
//! `mi_good_size`, the bytes the block really occupies) to a counter of the
//! thread doing it. A shard thread owns one counter and updates it with a
//! plain load and store (no atomic read-modify-write, no shared cache line
//! written by two threads); other threads share one atomic counter. The sum
//! of all counters is exact whichever thread frees what another allocated:
//! a value built on one shard and dropped on another moves bytes from one
//! counter to the other, never out of the sum.
//!
//! Reading the sum touches every shard's counter line. A shard that checks
//! the limit on each write keeps its own counter exact and refreshes its
//! view of the others at most once per millisecond ([`used_view`]), so the
//! check costs no cross-core traffic on the request path. The cached part
//! can be stale in either direction (a block allocated here and freed on
//! another shard since leaves this counter high until the view is
//! refreshed), so a view over the limit is read again before anything is
//! evicted or refused.

use std::alloc::{GlobalAlloc, Layout};
use std::cell::Cell;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};

/// mimalloc's options, set before the first allocation (from the ELF
/// constructor list, which runs before Rust's runtime allocates anything).
///
/// Arenas are not committed eagerly: with eager commit, freed pages are
/// only reset (`MADV_FREE`), which leaves them counted in RSS until the
/// kernel needs the memory. Measured with bench/cache (256 MB maxmemory,
/// `--shards 1`): 3.6 MiB less RSS at start and a peak RSS of 1.050x
/// maxmemory instead of 1.062x, at the same used_memory.
extern "C" fn allocator_options() {
    // `mi_option_arena_eager_commit` in mimalloc.h (v2 and v3); the sys
    // crate does not name it.
    const MI_OPTION_ARENA_EAGER_COMMIT: libmimalloc_sys::mi_option_t = 4;
    // SAFETY: plain integer options, set before any allocation.
    unsafe {
        libmimalloc_sys::mi_option_set(MI_OPTION_ARENA_EAGER_COMMIT, 0);
    }
}

#[used]
#[link_section = ".init_array"]
static ALLOCATOR_OPTIONS: extern "C" fn() = allocator_options;

/// Counter slots: slot 0 is shared by threads that are not shards.
const SLOTS: usize = 257;

#[repr(align(64))]
struct Slot(AtomicI64);

#[allow(clippy::declare_interior_mutable_const)]
const ZERO: Slot = Slot(AtomicI64::new(0));
static COUNTERS: [Slot; SLOTS] = [ZERO; SLOTS];

/// `used()` once the server was up (INFO used_memory_startup).
static STARTUP: AtomicU64 = AtomicU64::new(0);

/// Records the memory the server uses before any client did anything.
pub fn mark_startup() {
    STARTUP.store(used(), Ordering::Relaxed);
}

/// INFO used_memory_startup.
pub fn startup() -> u64 {
    STARTUP.load(Ordering::Relaxed)
}

/// Slots in use: 1 + the highest shard slot registered (only these are
/// summed).
static IN_USE: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(1);

/// Highest `used_memory` seen (INFO's used_memory_peak), updated when read.
static PEAK: AtomicU64 = AtomicU64::new(0);

thread_local! {
    /// This thread's counter slot (0: the shared one).
    static MY_SLOT: Cell<usize> = const { Cell::new(0) };
    /// A shard's view of the other counters: (ms of the refresh, their sum).
    static OTHERS: Cell<(u64, i64)> = const { Cell::new((u64::MAX, 0)) };
}

/// mimalloc, counting.
pub struct Counting;

#[inline]
fn charge(bytes: i64) {
    let slot = MY_SLOT.with(|s| s.get());
    let c = &COUNTERS[slot].0;
    if slot == 0 {
        c.fetch_add(bytes, Ordering::Relaxed);
    } else {
        // Only this thread writes its slot.
        c.store(c.load(Ordering::Relaxed) + bytes, Ordering::Relaxed);
    }
}

#[inline]
fn class_size(size: usize) -> i64 {
    // SAFETY: mi_good_size is a pure size computation.
    unsafe { libmimalloc_sys::mi_good_size(size) as i64 }
}

// SAFETY: every method forwards to mimalloc, which upholds GlobalAlloc's
// contract; the counting around it touches no allocation.
unsafe impl GlobalAlloc for Counting {
    #[inline]
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let p = mimalloc::MiMalloc.alloc(layout);
        if !p.is_null() {
            charge(class_size(layout.size()));
        }
        p
    }

    #[inline]
    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        let p = mimalloc::MiMalloc.alloc_zeroed(layout);
        if !p.is_null() {
            charge(class_size(layout.size()));
        }
        p
    }

    #[inline]
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        mimalloc::MiMalloc.dealloc(ptr, layout);
        charge(-class_size(layout.size()));
    }

    #[inline]
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        let p = mimalloc::MiMalloc.realloc(ptr, layout, new_size);
        if !p.is_null() {
            charge(class_size(new_size) - class_size(layout.size()));
        }
        p
    }
}

fn in_use() -> &'static [Slot] {
    &COUNTERS[..IN_USE.load(Ordering::Relaxed)]
}

/// Gives the calling thread (shard `index`) its own counter.
pub fn register_shard_thread(index: usize) {
    let slot = 1 + index % (SLOTS - 1);
    IN_USE.fetch_max(slot + 1, Ordering::Relaxed);
    MY_SLOT.with(|s| s.set(slot));
}

/// Bytes allocated and not yet freed, by every thread (0 when the counting
/// allocator is not the global one, as in unit tests).
pub fn used() -> u64 {
    let sum: i64 = in_use().iter().map(|c| c.0.load(Ordering::Relaxed)).sum();
    let used = sum.max(0) as u64;
    PEAK.fetch_max(used, Ordering::Relaxed);
    used
}

/// `used()` as the calling shard sees it for the maxmemory check: its own
/// counter exact, the others as read at most one millisecond ago (`now_ms`
/// is the caller's batch clock).
#[inline]
pub fn used_view(now_ms: u64) -> u64 {
    let slot = MY_SLOT.with(|s| s.get());
    let own = COUNTERS[slot].0.load(Ordering::Relaxed);
    let others = OTHERS.with(|o| {
        let (at, sum) = o.get();
        if at == now_ms {
            return sum;
        }
        let sum: i64 = in_use()
            .iter()
            .enumerate()
            .filter(|(i, _)| *i != slot)
            .map(|(_, c)| c.0.load(Ordering::Relaxed))
            .sum();
        o.set((now_ms, sum));
        sum
    });
    (own + others).max(0) as u64
}

/// Forgets the cached view of other shards' counters (after this shard
/// freed memory for them to see, or when exactness matters more than cost).
pub fn refresh_view() {
    OTHERS.with(|o| o.set((u64::MAX, 0)));
}

/// This thread's own counter: what it allocated minus what it freed.
#[inline]
pub fn local() -> i64 {
    let slot = MY_SLOT.with(|s| s.get());
    COUNTERS[slot].0.load(Ordering::Relaxed)
}

/// The highest `used()` seen so far.
pub fn peak() -> u64 {
    PEAK.load(Ordering::Relaxed).max(used())
}

/// Starts peak tracking over from the current figure (MEMORY STATS and
/// CONFIG RESETSTAT do not, but tests may).
pub fn reset_peak() {
    PEAK.store(used(), Ordering::Relaxed);
}
