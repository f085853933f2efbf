//! Stopping the children when the xtask is told to stop.
//!
//! Ctrl-C reaches every process of the terminal's foreground group, but a `SIGTERM` sent to
//! the xtask alone (a service manager, `kill <pid>`, an IDE's stop button) would leave the hub
//! and the module running, holding their ports and the PTY. So the xtask blocks the stop
//! signals in every one of its threads and waits for them in one thread, which ends the
//! children by their process ids. A spawned child inherits the signal mask, and a child with
//! the stop signals blocked would ignore Ctrl-C, so the mask is set only once every child is
//! running (and before the xtask starts any thread, since threads inherit it too).

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use nix::sys::signal::{kill, SigSet, Signal};
use nix::unistd::Pid;

use crate::process::{Failure, Outcome};

/// The children to end on a stop signal, and whether one arrived.
#[derive(Clone, Default)]
pub struct Children {
    ids: Arc<Mutex<Vec<u32>>>,
    stopped: Arc<AtomicBool>,
}

impl Children {
    /// Adds a child to end on a stop signal.
    pub fn add(&self, id: u32) {
        if let Ok(mut ids) = self.ids.lock() {
            ids.push(id);
        }
    }

    /// Reports whether a stop signal arrived.
    pub fn stopped(&self) -> bool {
        self.stopped.load(Ordering::SeqCst)
    }

    /// Sends `SIGTERM` to every child added so far.
    pub fn terminate(&self) {
        let ids = self.ids.lock().map(|ids| ids.clone()).unwrap_or_default();
        for id in ids {
            if let Ok(raw) = i32::try_from(id) {
                // The child may already be gone; there is nothing to do about that.
                let _ = kill(Pid::from_raw(raw), Signal::SIGTERM);
            }
        }
    }
}

fn stop_signals() -> SigSet {
    let mut set = SigSet::empty();
    for signal in [Signal::SIGINT, Signal::SIGTERM, Signal::SIGHUP] {
        set.add(signal);
    }
    set
}

/// Blocks the stop signals and starts the thread that ends `children` when one arrives.
///
/// Call it after the last child is spawned and before the xtask starts any other thread.
pub fn end_children_on_stop(children: &Children) -> Outcome {
    let set = stop_signals();
    set.thread_block()
        .map_err(|error| Failure::new(format!("cannot block the stop signals: {error}")))?;
    let watcher = children.clone();
    std::thread::spawn(move || {
        if let Ok(signal) = set.wait() {
            eprintln!("\n{signal}: stopping");
            watcher.stopped.store(true, Ordering::SeqCst);
            watcher.terminate();
        }
    });
    Ok(())
}
