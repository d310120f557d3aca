//! CLIENT PAUSE on one shard.
//!
//! CLIENT PAUSE sets the same deadline and mode on every shard (through the
//! coordinator) before it answers; each shard then holds its own clients'
//! commands: a connection checks [`Pause::holds`] before running a command
//! (one `Cell` read when no pause is on) and, if held, waits on
//! [`Pause::changed`]. The shard's housekeeping tick ends an expired pause;
//! CLIENT UNPAUSE ends it at once. Waiting connections are woken in the
//! order they started to wait, so they resume in order.
//!
//! While writes are paused (WRITE or ALL), keys are neither expired (lazily
//! or actively) nor evicted: [`Pause::writes_paused`] is the check, also
//! kept in a thread-local for the storage layer's lazy expiry.

use std::cell::{Cell, RefCell};
use std::task::Waker;

/// What a pause holds back.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum Mode {
    #[default]
    Off,
    /// Commands that may write or replicate (CLIENT PAUSE ... WRITE).
    Write,
    /// Every command (CLIENT PAUSE ... ALL).
    All,
}

/// One shard's pause state.
#[derive(Default)]
pub struct Pause {
    mode: Cell<Mode>,
    /// Unix ms at which the pause ends.
    end_ms: Cell<u64>,
    /// Bumped when the pause ends or becomes less strict: waiters look again.
    generation: Cell<u64>,
    waiters: RefCell<Vec<Waker>>,
    /// Connections of this shard waiting for the pause to end (INFO
    /// blocked_clients counts them, as Redis does).
    pub held: Cell<usize>,
}

impl Pause {
    /// The current mode (`Off` when none).
    #[inline]
    pub fn mode(&self) -> Mode {
        self.mode.get()
    }

    /// Whether keys must not be deleted by expiry or eviction now.
    #[inline]
    pub fn writes_paused(&self) -> bool {
        self.mode.get() != Mode::Off
    }

    /// Whether a command must wait: `may_write` is asked only while a
    /// WRITE pause is on.
    #[inline]
    pub fn holds(&self, may_write: impl FnOnce() -> bool) -> bool {
        match self.mode.get() {
            Mode::Off => false,
            Mode::All => true,
            Mode::Write => may_write(),
        }
    }

    /// CLIENT PAUSE: the later deadline and the stricter mode win, as in
    /// Redis.
    pub fn set(&self, end_ms: u64, all: bool) {
        let mode = if all || self.mode.get() == Mode::All {
            Mode::All
        } else {
            Mode::Write
        };
        self.mode.set(mode);
        if self.end_ms.get() < end_ms {
            self.end_ms.set(end_ms);
        }
        set_expiry_paused(true);
        // A pause that already ended (timeout 0) ends at the next tick.
    }

    /// CLIENT UNPAUSE, or the deadline passed: every held client looks
    /// again, in the order it started waiting.
    pub fn clear(&self) {
        if self.mode.get() == Mode::Off {
            return;
        }
        self.mode.set(Mode::Off);
        self.end_ms.set(0);
        set_expiry_paused(false);
        self.generation.set(self.generation.get() + 1);
        for w in self.waiters.borrow_mut().drain(..) {
            w.wake();
        }
    }

    /// The housekeeping tick: ends a pause whose deadline passed.
    pub fn tick(&self, now_ms: u64) {
        if self.mode.get() != Mode::Off && now_ms >= self.end_ms.get() {
            self.clear();
        }
    }

    /// Resolves when the pause ends (or changes).
    pub fn changed(&self) -> impl std::future::Future<Output = ()> + '_ {
        let start = self.generation.get();
        std::future::poll_fn(move |cx| {
            if self.generation.get() != start || self.mode.get() == Mode::Off {
                std::task::Poll::Ready(())
            } else {
                self.waiters.borrow_mut().push(cx.waker().clone());
                std::task::Poll::Pending
            }
        })
    }
}

fn set_expiry_paused(on: bool) {
    crate::storage::db::EXPIRY_PAUSED.with(|c| c.set(on));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stricter_mode_and_later_deadline_win() {
        let p = Pause::default();
        assert!(!p.holds(|| true));
        p.set(1000, true);
        p.set(500, false);
        assert_eq!(p.mode(), Mode::All);
        p.tick(600);
        assert!(p.holds(|| false));
        p.tick(1000);
        assert_eq!(p.mode(), Mode::Off);
        p.set(2000, false);
        assert!(p.holds(|| true));
        assert!(!p.holds(|| false));
        p.clear();
        assert!(!p.writes_paused());
    }
}
