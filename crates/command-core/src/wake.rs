//! The engine's wake-up primitives: a flag, a one-slot mailbox and the UART lock, each with
//! exactly one registered waker per waiter (`style.md` 14).
//!
//! Why not `embassy_sync`'s `Signal`, `Channel` and `Mutex`: their single waker slot wakes the
//! waker it replaces whenever the new one is not `will_wake`-equal to it. Two waiters on one
//! slot then wake each other forever, and so does a single waiter on an executor whose waker
//! is not `will_wake`-equal to its own clone (tokio's `block_on` waker is such a waker: every
//! poll of a pending `Signal::wait` woke the task again, a core at 100 % while idle). Here a
//! slot belongs to one waiter, so a new waker simply replaces the old one: the old one can
//! only belong to the same waiter, which is being polled right now.
//!
//! Everything here is `!Sync` and lives inside the engine's one future.

use core::cell::{Cell, RefCell, RefMut};
use core::future::{poll_fn, Future};
use core::ops::{Deref, DerefMut};
use core::pin::Pin;
use core::task::{Context, Poll, Waker};

/// The registered waker of one waiter.
#[derive(Default)]
pub(crate) struct WakerSlot(Cell<Option<Waker>>);

impl WakerSlot {
    pub(crate) const fn new() -> Self {
        WakerSlot(Cell::new(None))
    }

    /// Remembers `waker`, replacing (never waking) the previous one of the same waiter.
    pub(crate) fn register(&self, waker: &Waker) {
        let kept = match self.0.take() {
            Some(stored) if stored.will_wake(waker) => stored,
            _ => waker.clone(),
        };
        self.0.set(Some(kept));
    }

    /// Wakes the waiter, if one is registered.
    pub(crate) fn wake(&self) {
        if let Some(waker) = self.0.take() {
            waker.wake();
        }
    }
}

/// A flag raised by anyone and awaited by one waiter.
#[derive(Default)]
pub(crate) struct Flag {
    raised: Cell<bool>,
    waiter: WakerSlot,
}

impl Flag {
    pub(crate) const fn new() -> Self {
        Flag {
            raised: Cell::new(false),
            waiter: WakerSlot::new(),
        }
    }

    /// Raises the flag and wakes the waiter.
    pub(crate) fn raise(&self) {
        self.raised.set(true);
        self.waiter.wake();
    }

    /// Completes once the flag is raised, and lowers it.
    pub(crate) fn wait(&self) -> impl Future<Output = ()> + '_ {
        poll_fn(move |context| {
            if self.raised.replace(false) {
                Poll::Ready(())
            } else {
                self.waiter.register(context.waker());
                Poll::Pending
            }
        })
    }
}

/// One value handed from one side to one waiter on the other.
pub(crate) struct Mailbox<T> {
    value: Cell<Option<T>>,
    waiter: WakerSlot,
}

impl<T> Mailbox<T> {
    pub(crate) const fn new() -> Self {
        Mailbox {
            value: Cell::new(None),
            waiter: WakerSlot::new(),
        }
    }

    /// Leaves `value` for the waiter (replacing one it has not taken) and wakes it.
    pub(crate) fn put(&self, value: T) {
        self.value.set(Some(value));
        self.waiter.wake();
    }

    /// Forgets a value nobody took.
    pub(crate) fn clear(&self) {
        self.value.set(None);
    }

    /// Completes with the next value.
    pub(crate) fn take(&self) -> impl Future<Output = T> + '_ {
        poll_fn(move |context| match self.value.take() {
            Some(value) => Poll::Ready(value),
            None => {
                self.waiter.register(context.waker());
                Poll::Pending
            }
        })
    }
}

/// Who waits for the UART; the order is the priority when several wait at once.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Contender {
    /// Command blocks: an AT line is answered before the next URC (bounded latency).
    Executor = 0,
    /// The URC writer: URCs, asynchronous results and `[BUSY]` replies.
    Writer = 1,
}

const CONTENDERS: usize = 2;

/// The UART: one holder at a time, one waker slot per contender.
pub(crate) struct UartLock<T> {
    value: RefCell<T>,
    /// Bit per contender whose lock future is pending.
    waiting: Cell<u8>,
    waiters: [WakerSlot; CONTENDERS],
}

impl<T> UartLock<T> {
    pub(crate) const fn new(value: T) -> Self {
        UartLock {
            value: RefCell::new(value),
            waiting: Cell::new(0),
            waiters: [WakerSlot::new(), WakerSlot::new()],
        }
    }

    /// Completes with the UART once it is free and no contender of higher priority waits.
    pub(crate) fn lock(&self, contender: Contender) -> Locking<'_, T> {
        Locking {
            lock: self,
            contender,
        }
    }

    fn set_waiting(&self, contender: Contender, waiting: bool) {
        let bit = 1u8 << contender as u8;
        let bits = self.waiting.get();
        self.waiting
            .set(if waiting { bits | bit } else { bits & !bit });
    }
}

/// The future of [`UartLock::lock`]; dropping it withdraws the contender.
pub(crate) struct Locking<'a, T> {
    lock: &'a UartLock<T>,
    contender: Contender,
}

impl<'a, T> Future for Locking<'a, T> {
    type Output = UartGuard<'a, T>;

    fn poll(self: Pin<&mut Self>, context: &mut Context<'_>) -> Poll<UartGuard<'a, T>> {
        let lock = self.lock;
        let ahead = (1u8 << self.contender as u8) - 1;
        if lock.waiting.get() & ahead == 0 {
            if let Ok(value) = lock.value.try_borrow_mut() {
                lock.set_waiting(self.contender, false);
                return Poll::Ready(UartGuard {
                    value: Some(value),
                    lock,
                });
            }
        }
        lock.set_waiting(self.contender, true);
        lock.waiters[self.contender as usize].register(context.waker());
        Poll::Pending
    }
}

impl<T> Drop for Locking<'_, T> {
    fn drop(&mut self) {
        // A contender that gave up (its branch lost a select) must not keep others waiting.
        if self.lock.waiting.get() & (1 << self.contender as u8) != 0 {
            self.lock.set_waiting(self.contender, false);
            for waiter in &self.lock.waiters {
                waiter.wake();
            }
        }
    }
}

/// The held UART; released (and the waiting contenders woken) on drop.
pub(crate) struct UartGuard<'a, T> {
    value: Option<RefMut<'a, T>>,
    lock: &'a UartLock<T>,
}

impl<T> Deref for UartGuard<'_, T> {
    type Target = T;

    fn deref(&self) -> &T {
        // Present until drop.
        self.value.as_deref().unwrap_or_else(|| unreachable!())
    }
}

impl<T> DerefMut for UartGuard<'_, T> {
    fn deref_mut(&mut self) -> &mut T {
        self.value.as_deref_mut().unwrap_or_else(|| unreachable!())
    }
}

impl<T> Drop for UartGuard<'_, T> {
    fn drop(&mut self) {
        self.value = None;
        for waiter in &self.lock.waiters {
            waiter.wake();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::Arc;
    use std::task::Wake;

    struct Counting(AtomicUsize);

    impl Wake for Counting {
        fn wake(self: Arc<Self>) {
            self.0.fetch_add(1, Ordering::Relaxed);
        }
    }

    /// A fresh waker per poll: never `will_wake`-equal to the one before.
    fn poll_fresh<F: Future>(future: Pin<&mut F>, counter: &Arc<AtomicUsize>) -> Poll<F::Output> {
        let wakes = Arc::new(Counting(AtomicUsize::new(0)));
        let waker = Waker::from(wakes.clone());
        let result = future.poll(&mut Context::from_waker(&waker));
        counter.fetch_add(wakes.0.load(Ordering::Relaxed), Ordering::Relaxed);
        result
    }

    #[test]
    fn a_pending_flag_polled_with_changing_wakers_wakes_nobody() {
        let flag = Flag::new();
        let wakes = Arc::new(AtomicUsize::new(0));
        let mut wait = core::pin::pin!(flag.wait());
        for _ in 0..10 {
            assert!(poll_fresh(wait.as_mut(), &wakes).is_pending());
        }
        assert_eq!(wakes.load(Ordering::Relaxed), 0);
        flag.raise();
        assert!(poll_fresh(wait.as_mut(), &wakes).is_ready());
    }

    #[test]
    fn the_uart_goes_to_the_waiting_executor_before_the_urc_writer() {
        let lock = UartLock::new(0u8);
        let wakes = Arc::new(AtomicUsize::new(0));
        let held = lock.lock(Contender::Writer);
        let mut first = core::pin::pin!(held);
        let Poll::Ready(guard) = poll_fresh(first.as_mut(), &wakes) else {
            panic!("a free lock is taken at once");
        };
        let mut executor = core::pin::pin!(lock.lock(Contender::Executor));
        assert!(poll_fresh(executor.as_mut(), &wakes).is_pending());
        drop(guard);
        let mut writer = core::pin::pin!(lock.lock(Contender::Writer));
        assert!(
            poll_fresh(writer.as_mut(), &wakes).is_pending(),
            "executor first"
        );
        assert!(poll_fresh(executor.as_mut(), &wakes).is_ready());
    }
}
