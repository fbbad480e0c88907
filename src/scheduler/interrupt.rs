//! SIGINT and SIGTERM during a build: the handler only records the
//! signal in an atomic; the scheduler polls [`Interrupt::received`] in its
//! loop, stops starting tasks, kills the running ones and ends the build
//! (exit status 128 + the signal). A second signal, while the first is
//! being handled, ends bitzel at once; its sandboxes die with it (see
//! `crate::sandbox`), and the cache stays consistent because nothing is
//! recorded for a task until it has finished.
//!
//! Invariant: the handler does only async-signal-safe things (an atomic
//! swap and `_exit`).

use std::sync::atomic::{AtomicI32, Ordering};

use nix::sys::signal::{SaFlags, SigAction, SigHandler, SigSet, Signal, sigaction};

/// The first signal received while a handler is installed (0: none).
static RECEIVED: AtomicI32 = AtomicI32::new(0);

extern "C" fn on_signal(signal: libc::c_int) {
    let first = RECEIVED.swap(signal, Ordering::SeqCst);
    if first != 0 {
        // SAFETY: _exit is async-signal-safe.
        unsafe { libc::_exit(128 + first) };
    }
}

/// SIGINT and SIGTERM handled for as long as it lives; the previous
/// dispositions come back when it is dropped.
pub struct Interrupt {
    previous: Vec<(Signal, SigAction)>,
}

impl Interrupt {
    /// Installs the handler for SIGINT and SIGTERM.
    pub fn install() -> Interrupt {
        RECEIVED.store(0, Ordering::SeqCst);
        let action = SigAction::new(
            SigHandler::Handler(on_signal),
            SaFlags::SA_RESTART,
            SigSet::empty(),
        );
        let mut previous = Vec::new();
        for signal in [Signal::SIGINT, Signal::SIGTERM] {
            // SAFETY: the handler only touches an atomic and calls _exit.
            if let Ok(old) = unsafe { sigaction(signal, &action) } {
                previous.push((signal, old));
            }
        }
        Interrupt { previous }
    }

    /// The signal that asked the build to stop, if one did.
    pub fn received(&self) -> Option<Signal> {
        match RECEIVED.load(Ordering::SeqCst) {
            0 => None,
            n => Signal::try_from(n).ok(),
        }
    }
}

impl Drop for Interrupt {
    fn drop(&mut self) {
        for (signal, old) in &self.previous {
            // SAFETY: restores the disposition sigaction returned.
            let _ = unsafe { sigaction(*signal, old) };
        }
    }
}
