//! The path from command line to reply: arbitrary bytes, split into arbitrary reads, go through
//! the real engine (framer, queue, parser, table, handlers, storage on the NOR flash mock)
//! until it is idle. Checks: no panic, the banner comes first, every block the engine writes
//! (the bytes up to a flush) ends with CR LF, and a reboot always leaves a flash that boots again.
#![no_main]

use core::convert::Infallible;
use core::future::Future;
use core::pin::pin;
use core::sync::atomic::{AtomicBool, Ordering};
use core::task::{Context, Poll, Waker};
use std::collections::VecDeque;
use std::sync::Arc;
use std::task::Wake;

use command_core::{Association, BoardInfo, Exit, JoinError, Module, Profile, Wifi};
use embedded_io_async::{ErrorType, Read, Write};
use libfuzzer_sys::fuzz_target;
use storage::mock::MockFlash;
use storage::Settings;

struct Chunks(VecDeque<Vec<u8>>);

impl ErrorType for Chunks {
    type Error = Infallible;
}

impl Read for Chunks {
    async fn read(&mut self, buffer: &mut [u8]) -> Result<usize, Infallible> {
        match self.0.pop_front() {
            Some(mut chunk) => {
                let count = chunk.len().min(buffer.len());
                buffer[..count].copy_from_slice(&chunk[..count]);
                if count < chunk.len() {
                    self.0.push_front(chunk.split_off(count));
                }
                Ok(count)
            }
            None => core::future::pending().await,
        }
    }
}

/// The engine's output as blocks: the bytes written between two flushes. A block may take
/// several writes (the engine copies through a small piece buffer); its flush ends it.
#[derive(Default)]
struct Blocks {
    done: Vec<Vec<u8>>,
    open: Vec<u8>,
}

impl ErrorType for Blocks {
    type Error = Infallible;
}

impl Write for Blocks {
    async fn write(&mut self, bytes: &[u8]) -> Result<usize, Infallible> {
        self.open.extend_from_slice(bytes);
        Ok(bytes.len())
    }

    async fn flush(&mut self) -> Result<(), Infallible> {
        if !self.open.is_empty() {
            self.done.push(core::mem::take(&mut self.open));
        }
        Ok(())
    }
}

struct NoAccessPoint;

impl Wifi for NoAccessPoint {
    async fn join(&mut self, _: &[u8], _: &[u8], _: Option<[u8; 6]>) -> Result<(), JoinError> {
        Err(JoinError::NotFound)
    }

    async fn leave(&mut self) -> bool {
        false
    }

    fn association(&self) -> Option<Association> {
        None
    }
}

struct Flag(AtomicBool);

impl Wake for Flag {
    fn wake(self: Arc<Self>) {
        self.0.store(true, Ordering::SeqCst);
    }
}

/// Polls until the future completes or stops making progress (pending with no wake-up).
fn run_until_idle<F: Future>(future: F) -> Option<F::Output> {
    let flag = Arc::new(Flag(AtomicBool::new(true)));
    let waker = Waker::from(flag.clone());
    let mut context = Context::from_waker(&waker);
    let mut future = pin!(future);
    while flag.0.swap(false, Ordering::SeqCst) {
        if let Poll::Ready(output) = future.as_mut().poll(&mut context) {
            return Some(output);
        }
    }
    None
}

fuzz_target!(|data: &[u8]| {
    // The first byte chooses the read size, so the same lines arrive in different splits.
    let Some((&split, input)) = data.split_first() else {
        return;
    };
    let size = usize::from(split % 64) + 1;
    let mut rx = Chunks(input.chunks(size).map(<[u8]>::to_vec).collect());
    let mut settings = Settings::new(MockFlash::new(64 * 1024), 0..64 * 1024);
    let board = BoardInfo {
        board: "LINUX",
        version: "3.0.0",
        git_hash: "0000000",
        build_time: "Sep  3 2020 11:43:26",
        vendor: "Tencent Technology Co. Ltd.",
        mac: [2, 0, 0, 0, 0, 1],
        profile: if split & 0x80 == 0 {
            Profile::Full
        } else {
            Profile::Esp8266
        },
        free_ram: || (1, 1),
    };
    // A few boots at most: AT+RST and friends restart the engine on the same input stream.
    for _ in 0..4 {
        let mut tx = Blocks::default();
        let module = Module {
            settings: &mut settings,
            wifi: &mut NoAccessPoint,
            board: &board,
        };
        let exit = run_until_idle(command_core::run(&mut rx, &mut tx, module));
        assert_eq!(
            tx.done.first().map(Vec::as_slice),
            Some(&b"\r\nready\r\n"[..])
        );
        for block in &tx.done {
            assert!(block.ends_with(b"\r\n"), "block without CR LF: {block:?}");
        }
        if exit != Some(Exit::Reboot) {
            break;
        }
    }
});
