//! The shard gate: the lock a cross-shard transaction holds on a shard.
//!
//! A shard runs one task at a time, so every command that touches only its
//! data is atomic by construction. A command spanning shards takes the gate
//! of each shard it touches, in ascending shard order (so no cycle of waits
//! can form), runs its per-shard parts, then releases them all. While a gate
//! is held, other work on that shard (inline commands of local connections,
//! batches from other shards) waits; the holder's own messages pass.
//!
//! The gate costs the single-shard path one `Cell` read.

use std::cell::{Cell, RefCell};
use std::future::poll_fn;
use std::task::{Poll, Waker};

/// Transaction ids: 0 means "no transaction".
pub type TxId = u64;

#[derive(Default)]
pub struct Gate {
    holder: Cell<TxId>,
    waiters: RefCell<Vec<Waker>>,
}

impl Gate {
    /// Whether work outside transaction `tx` (0 for none) may run now.
    #[inline]
    pub fn is_open_for(&self, tx: TxId) -> bool {
        let h = self.holder.get();
        h == 0 || h == tx
    }

    pub fn holder(&self) -> TxId {
        self.holder.get()
    }

    /// Waits until the gate is open for `tx`.
    pub async fn wait_open(&self, tx: TxId) {
        poll_fn(|cx| {
            if self.is_open_for(tx) {
                Poll::Ready(())
            } else {
                self.waiters.borrow_mut().push(cx.waker().clone());
                Poll::Pending
            }
        })
        .await
    }

    /// Takes the gate for `tx` if it is free.
    pub fn try_acquire(&self, tx: TxId) -> bool {
        debug_assert!(tx != 0);
        if self.holder.get() == 0 {
            self.holder.set(tx);
            true
        } else {
            self.holder.get() == tx
        }
    }

    /// Takes the gate for `tx`, waiting for the current holder to release.
    pub async fn acquire(&self, tx: TxId) {
        loop {
            if self.try_acquire(tx) {
                return;
            }
            poll_fn(|cx| {
                if self.holder.get() == 0 {
                    Poll::Ready(())
                } else {
                    self.waiters.borrow_mut().push(cx.waker().clone());
                    Poll::Pending
                }
            })
            .await;
        }
    }

    /// Releases the gate held by `tx` and wakes everyone waiting.
    pub fn release(&self, tx: TxId) {
        if self.holder.get() == tx {
            self.holder.set(0);
            let waiters = std::mem::take(&mut *self.waiters.borrow_mut());
            for w in waiters {
                w.wake();
            }
        }
    }
}
