//! `[BUSY]` during a long synchronous command: the receiver must keep reading the UART (a
//! hardware FIFO would overflow otherwise), and the busy replies come out after the command's
//! block (`at-engine.md` §6, §9).
//!
//! The join of AT+CWJAP is held open until every scripted byte has been read; a receiver that
//! stopped reading would leave bytes unread and the engine idle, which the test detects by
//! polling until no wake-up is pending (no time involved).

use core::cell::{Cell, RefCell};
use core::convert::Infallible;
use core::future::Future;
use core::pin::pin;
use core::sync::atomic::{AtomicBool, Ordering};
use core::task::{Context, Poll, Waker};
use std::collections::VecDeque;
use std::rc::Rc;
use std::sync::Arc;
use std::task::Wake;

use command_core::{Association, BoardInfo, IpInfo, JoinError, Module, Profile, Wifi};
use embassy_sync::blocking_mutex::raw::NoopRawMutex;
use embassy_sync::signal::Signal;
use embedded_io_async::{ErrorType, Read, Write};
use storage::mock::MockFlash;
use storage::Settings;

/// Hands out one chunk per read, then waits forever; counts what is left. Every read first
/// yields once, as bytes trickling in over a UART give the executor its turn.
struct Chunks(Rc<RefCell<VecDeque<Vec<u8>>>>);

/// Pending once, with an immediate wake-up.
async fn yield_once() {
    let mut yielded = false;
    core::future::poll_fn(|context| {
        if yielded {
            Poll::Ready(())
        } else {
            yielded = true;
            context.waker().wake_by_ref();
            Poll::Pending
        }
    })
    .await
}

impl ErrorType for Chunks {
    type Error = Infallible;
}

impl Read for Chunks {
    async fn read(&mut self, buffer: &mut [u8]) -> Result<usize, Infallible> {
        yield_once().await;
        let next = self.0.borrow_mut().pop_front();
        match next {
            Some(chunk) => {
                assert!(chunk.len() <= buffer.len(), "chunks fit one read");
                buffer[..chunk.len()].copy_from_slice(&chunk);
                Ok(chunk.len())
            }
            None => core::future::pending().await,
        }
    }
}

#[derive(Clone, Default)]
struct Output(Rc<RefCell<Vec<u8>>>);

impl ErrorType for Output {
    type Error = Infallible;
}

impl Write for Output {
    async fn write(&mut self, bytes: &[u8]) -> Result<usize, Infallible> {
        self.0.borrow_mut().extend_from_slice(bytes);
        Ok(bytes.len())
    }

    async fn flush(&mut self) -> Result<(), Infallible> {
        Ok(())
    }
}

/// An AP whose join completes only when the test releases it.
struct HeldJoin {
    release: Rc<Signal<NoopRawMutex, ()>>,
    joined: Cell<bool>,
}

impl Wifi for HeldJoin {
    async fn join(&mut self, _: &[u8], _: &[u8], _: Option<[u8; 6]>) -> Result<(), JoinError> {
        self.release.wait().await;
        self.joined.set(true);
        Ok(())
    }

    async fn leave(&mut self) -> bool {
        self.joined.replace(false)
    }

    fn association(&self) -> Option<Association> {
        self.joined.get().then(|| Association {
            ssid: heapless::Vec::from_slice(b"lab").unwrap(),
            bssid: [2, 0, 0, 0, 0, 1],
            channel: 6,
            rssi: -45,
            ip: IpInfo {
                ip: [192, 168, 1, 100],
                gateway: [192, 168, 1, 1],
                netmask: [255, 255, 255, 0],
            },
        })
    }
}

struct Flag(AtomicBool);

impl Wake for Flag {
    fn wake(self: Arc<Self>) {
        self.0.store(true, Ordering::SeqCst);
    }
}

/// Runs the engine on `script` with AT+CWJAP's join held until the engine is idle; returns
/// how many chunks were still unread then, and the whole output once it is idle again.
fn run_with_held_join(script: Vec<Vec<u8>>) -> (usize, Vec<u8>) {
    let chunks = Rc::new(RefCell::new(VecDeque::from(script)));
    let release = Rc::new(Signal::new());
    let mut wifi = HeldJoin {
        release: release.clone(),
        joined: Cell::new(false),
    };
    let mut settings = Settings::new(MockFlash::new(64 * 1024), 0..64 * 1024);
    let board = BoardInfo {
        board: "LINUX",
        version: "3.0.0",
        git_hash: "abcdef1",
        build_time: "Sep  3 2020 11:43:26",
        vendor: "Tencent Technology Co. Ltd.",
        mac: [2, 1, 2, 3, 4, 5],
        profile: Profile::Full,
        free_ram: || (1, 1),
    };
    let output = Output::default();
    let mut rx = Chunks(chunks.clone());
    let mut tx = output.clone();
    let module = Module {
        settings: &mut settings,
        wifi: &mut wifi,
        board: &board,
    };
    let mut engine = pin!(command_core::run(&mut rx, &mut tx, module));

    // Poll until idle, release the join, poll until idle again.
    let flag = Arc::new(Flag(AtomicBool::new(true)));
    let waker = Waker::from(flag.clone());
    let mut context = Context::from_waker(&waker);
    let mut unread = None;
    loop {
        while flag.0.swap(false, Ordering::SeqCst) {
            assert!(engine.as_mut().poll(&mut context).is_pending());
        }
        if unread.is_some() {
            break;
        }
        unread = Some(chunks.borrow().len());
        release.signal(());
    }
    assert!(chunks.borrow().is_empty(), "every byte is read in the end");
    let written = output.0.borrow().clone();
    (unread.unwrap_or_default(), written)
}

const BUSY: &[u8] = b"ERR CODE:0x010b0000\r\n\r\nbusy p...\r\n";
const JOINED: &[u8] =
    b"\r\nready\r\nAT+CWJAP=\"lab\",\"secret123\"\r\nWIFI CONNECTED\r\nWIFI GOT IP\r\n\r\nOK\r\n";

/// What the UART shows after the join's block: `refused` (the refused lines' echoes and
/// `[BUSY]`s, in order), the eight queued `AT`s answered, then `after`.
fn joined_then(refused: &[&[u8]], after: &[&[u8]]) -> Vec<u8> {
    let mut expected = JOINED.to_vec();
    refused
        .iter()
        .for_each(|part| expected.extend_from_slice(part));
    for _ in 0..8 {
        expected.extend_from_slice(b"AT\r\n\r\nOK\r\n");
    }
    after
        .iter()
        .for_each(|part| expected.extend_from_slice(part));
    expected
}

/// `count` refusals of `line`: its echo and `[BUSY]` each time.
fn refusals(line: &'static [u8], count: usize) -> Vec<&'static [u8]> {
    (0..count).flat_map(|_| [line, BUSY]).collect()
}

fn assert_output(output: &[u8], expected: &[u8]) {
    assert_eq!(
        String::from_utf8_lossy(output),
        String::from_utf8_lossy(expected)
    );
}

#[test]
fn receiver_keeps_reading_during_a_long_command_and_busy_follows_its_block() {
    let mut script = vec![b"AT+CWJAP=\"lab\",\"secret123\"\r\n".to_vec()];
    script.extend((0..8).map(|_| b"AT\r\n".to_vec()));
    // Two more lines than the queue holds, in separate reads.
    script.push(b"ATE0\r\n".to_vec());
    script.push(b"AT+CWMODE=2\r\n".to_vec());
    let (unread, output) = run_with_held_join(script);

    assert_eq!(
        unread,
        0,
        "the receiver stopped reading while AT+CWJAP held the UART; output so far: {:?}",
        String::from_utf8_lossy(&output)
    );
    let refused = [&b"ATE0\r\n"[..], BUSY, b"AT+CWMODE=2\r\n", BUSY];
    assert_output(&output, &joined_then(&refused, &[]));
}

/// A line of `length` bytes through its `\r\n`, in reads of at most 64 bytes.
fn long_line(text: u8, length: usize) -> (Vec<u8>, Vec<Vec<u8>>) {
    let mut line = vec![text; length - 2];
    line[..3].copy_from_slice(b"AT+");
    line.extend_from_slice(b"\r\n");
    let reads = line.chunks(64).map(<[u8]>::to_vec).collect();
    (line, reads)
}

/// AT+CWJAP, then eight lines that fill the input queue while its join is held.
fn join_and_fill_the_queue() -> Vec<Vec<u8>> {
    let mut script = vec![b"AT+CWJAP=\"lab\",\"secret123\"\r\n".to_vec()];
    script.extend((0..8).map(|_| b"AT\r\n".to_vec()));
    script
}

#[test]
fn a_refused_line_too_long_for_the_outbox_has_its_echo_written_from_the_framer() {
    let mut script = join_and_fill_the_queue();
    // Refused while the join holds the UART: an echo of 256 bytes is longer than the outbox's
    // `[BUSY]` room, so the line waits in the framer, and the receiver with it.
    let (longest, reads) = long_line(b'L', at_parser::MAX_LINE);
    script.extend(reads);
    script.push(b"AT+CWMODE=2\r\n".to_vec());
    let (unread, output) = run_with_held_join(script);

    assert_eq!(
        unread, 1,
        "the receiver waits while the echo is in the framer"
    );
    // The join's block, then the refused line's, written from the framer by the URC writer
    // ahead of the executor's next block; the line after it completed once the executor had
    // taken a line from the queue, so it runs.
    let expected = joined_then(&[&longest, BUSY], &[b"AT+CWMODE=2\r\n\r\nOK\r\n"]);
    assert_output(&output, &expected);
}

#[test]
fn a_refused_line_that_waits_for_room_is_still_refused_when_the_queue_has_room_again() {
    let mut script = join_and_fill_the_queue();
    // Nine refused lines fill the outbox's `[BUSY]` room (9 x (12 + 2) of 128 bytes); the
    // tenth waits in the framer while the executor empties the queue, and is answered
    // `[BUSY]` all the same: it never runs (the mode stays 1).
    script.extend((0..9).map(|_| b"AT+CWMODE?\r\n".to_vec()));
    script.push(b"AT+CWMODE=2\r\n".to_vec());
    script.push(b"AT+CWMODE?\r\n".to_vec());
    let (unread, output) = run_with_held_join(script);

    assert_eq!(
        unread, 1,
        "the receiver waits while a [BUSY] reply finds no room"
    );
    let after = [
        &b"AT+CWMODE=2\r\n"[..],
        BUSY,
        b"AT+CWMODE?\r\n+CWMODE:1\r\n\r\nOK\r\n",
    ];
    assert_output(
        &output,
        &joined_then(&refusals(b"AT+CWMODE?\r\n", 9), &after),
    );
}

#[test]
fn a_rejected_line_refused_with_the_outbox_full_gets_its_busy_reply_once_there_is_room() {
    let mut script = join_and_fill_the_queue();
    // Eight refused lines of 14 bytes fill the outbox's `[BUSY]` room exactly (8 x 16); an
    // over-long line refused then (its reply has no echo) waits for room, the receiver with it.
    script.extend((0..8).map(|_| b"AT+CWMODE=33\r\n".to_vec()));
    let (_, reads) = long_line(b'X', 300);
    script.extend(reads);
    script.push(b"AT+CWMODE?\r\n".to_vec());
    let (unread, output) = run_with_held_join(script);

    assert_eq!(
        unread, 1,
        "the receiver waits while a [BUSY] reply finds no room"
    );
    let after = [BUSY, b"AT+CWMODE?\r\n+CWMODE:1\r\n\r\nOK\r\n"];
    assert_output(
        &output,
        &joined_then(&refusals(b"AT+CWMODE=33\r\n", 8), &after),
    );
}

#[test]
fn a_refused_data_mode_line_written_from_the_framer_sets_no_barrier() {
    let mut script = join_and_fill_the_queue();
    // A refused AT+TCMQTTPUBL whose echo (182 bytes) is written from the framer: it has no
    // effect at all, so the line after it is framed and runs (`at-engine.md` §6).
    let mut publish = b"AT+TCMQTTPUBL=\"".to_vec();
    publish.extend_from_slice(&[b't'; 160]);
    publish.extend_from_slice(b"\",0,5\r\n");
    script.extend(publish.chunks(64).map(<[u8]>::to_vec));
    script.push(b"AT+CWMODE?\r\n".to_vec());
    let (unread, output) = run_with_held_join(script);

    assert_eq!(
        unread, 1,
        "the receiver waits while the echo is in the framer"
    );
    let expected = joined_then(
        &[&publish, BUSY],
        &[b"AT+CWMODE?\r\n+CWMODE:1\r\n\r\nOK\r\n"],
    );
    assert_output(&output, &expected);
}
