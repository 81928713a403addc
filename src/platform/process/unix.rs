//! Unix: exec, or a child whose exit status is passed on while signals are forwarded.

use crate::error::{Error, Result};
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::process::Command;
use std::sync::atomic::{AtomicI32, Ordering};

/// The running child, for the forwarding handler (0: none yet).
static CHILD: AtomicI32 = AtomicI32::new(0);
/// A hang-up or termination that came before the child existed: none is started then.
static PENDING: AtomicI32 = AtomicI32::new(0);

extern "C" fn ignore(_: libc::c_int) {}

extern "C" fn forward(signal: libc::c_int) {
    match CHILD.load(Ordering::SeqCst) {
        // SAFETY: kill is async-signal-safe.
        pid if pid > 0 => unsafe {
            libc::kill(pid, signal);
        },
        _ => PENDING.store(signal, Ordering::SeqCst),
    }
}

/// While alive, we outlive whatever we start, so that a token file made for it is removed:
/// Ctrl-C and Ctrl-\ reach the child through the terminal, so we only keep waiting; a hang-up
/// (the terminal closed) or a termination request is passed on to the child, or, before there
/// is one, held so that none is started. Make it before anything that needs cleaning up.
/// Handlers, unlike SIG_IGN, are reset by exec, so the child starts with the default behaviour.
pub struct Signals {
    previous: Vec<(libc::c_int, libc::sighandler_t)>,
}

impl Signals {
    pub fn guard() -> Signals {
        let handlers = [
            (libc::SIGINT, ignore as extern "C" fn(libc::c_int)),
            (libc::SIGQUIT, ignore),
            (libc::SIGHUP, forward),
            (libc::SIGTERM, forward),
        ];
        PENDING.store(0, Ordering::SeqCst);
        // SAFETY: both handlers are async-signal-safe.
        let previous = handlers
            .iter()
            .map(|(signal, handler)| {
                (*signal, unsafe {
                    libc::signal(*signal, *handler as libc::sighandler_t)
                })
            })
            .collect();
        Signals { previous }
    }

    /// Runs `command` to completion and returns its exit code (128 + signal if it was killed,
    /// as shells report it).
    pub fn run(&self, mut command: Command, program: &str) -> Result<i32> {
        let stopped_before = PENDING.swap(0, Ordering::SeqCst);
        if stopped_before != 0 {
            return Ok(128 + stopped_before);
        }
        let mut child = command
            .spawn()
            .map_err(|e| super::not_started(program, e))?;
        CHILD.store(child.id() as i32, Ordering::SeqCst);
        // One that came between the check above and now was held, not passed on.
        let pending = PENDING.swap(0, Ordering::SeqCst);
        if pending != 0 {
            // SAFETY: signalling our own child.
            unsafe { libc::kill(child.id() as i32, pending) };
        }
        let status = child.wait();
        CHILD.store(0, Ordering::SeqCst);
        let status = status
            .map_err(|e| Error::failure(format!("waiting for `{program}` failed")).caused_by(e))?;
        Ok(status
            .code()
            .or_else(|| status.signal().map(|s| 128 + s))
            .unwrap_or(1))
    }
}

impl Drop for Signals {
    fn drop(&mut self) {
        for (signal, previous) in &self.previous {
            // SAFETY: restoring the dispositions saved by `guard`.
            unsafe { libc::signal(*signal, *previous) };
        }
    }
}

/// Replaces this process with `command`: the client owns the terminal and its exit code is
/// ours. Returns only when it could not be started.
pub fn hand_over(mut command: Command) -> std::io::Result<i32> {
    Err(command.exec())
}
