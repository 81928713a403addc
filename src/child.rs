//! Running a client as a child and passing its exit status on.

use crate::error::{Error, Result};
use std::os::unix::process::ExitStatusExt;
use std::process::Command;
use std::sync::atomic::{AtomicI32, Ordering};

/// The running child, for the forwarding handler (0: none yet).
static CHILD: AtomicI32 = AtomicI32::new(0);
/// A hang-up or termination that came before the child existed, delivered once it does.
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

/// Runs `command` to completion and returns its exit code (128 + signal if it was killed, as
/// shells report it). We outlive the child whatever happens so that its token file is removed:
/// Ctrl-C and Ctrl-\ reach it through the terminal, so we only keep waiting; a hang-up (the
/// terminal closed) or a termination request is passed on to it. Handlers, unlike SIG_IGN, are
/// reset by exec, so the child starts with the default behaviour.
pub fn run(mut command: Command, program: &str) -> Result<i32> {
    let signals = [
        (libc::SIGINT, ignore as extern "C" fn(libc::c_int)),
        (libc::SIGQUIT, ignore),
        (libc::SIGHUP, forward),
        (libc::SIGTERM, forward),
    ];
    // SAFETY: both handlers are async-signal-safe.
    let previous: Vec<_> = signals
        .iter()
        .map(|(signal, handler)| unsafe { libc::signal(*signal, *handler as libc::sighandler_t) })
        .collect();
    let spawned = command.spawn();
    if let Ok(child) = &spawned {
        CHILD.store(child.id() as i32, Ordering::SeqCst);
        let pending = PENDING.swap(0, Ordering::SeqCst);
        if pending != 0 {
            // SAFETY: signalling our own child.
            unsafe { libc::kill(child.id() as i32, pending) };
        }
    }
    let status = spawned
        .map_err(|e| {
            Error::failure(format!("cannot run `{program}`: {e}"))
                .hint("check that it is installed and on PATH")
        })
        .and_then(|mut child| {
            child
                .wait()
                .map_err(|e| Error::failure(format!("waiting for `{program}` failed: {e}")))
        });
    CHILD.store(0, Ordering::SeqCst);
    for ((signal, _), previous) in signals.iter().zip(previous) {
        // SAFETY: restoring the dispositions saved above.
        unsafe { libc::signal(*signal, previous) };
    }
    let status = status?;
    Ok(status
        .code()
        .or_else(|| status.signal().map(|s| 128 + s))
        .unwrap_or(1))
}

/// A folder only we can read, for an option file holding a token; removed when dropped.
pub fn private_dir() -> Result<tempfile::TempDir> {
    let base = crate::cache::default_dir()?;
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(&base)
        .map_err(|e| Error::io("create", &base, e))?;
    tempfile::Builder::new()
        .prefix("client-")
        .permissions(std::os::unix::fs::PermissionsExt::from_mode(0o700))
        .tempdir_in(&base)
        .map_err(|e| Error::io("create a private folder in", &base, e))
}

use std::os::unix::fs::DirBuilderExt;

/// Writes a 0600 file (mode set at creation, before the secret is written).
pub fn write_private(path: &std::path::Path, contents: &str) -> Result<()> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
        .map_err(|e| Error::io("create", path, e))?;
    file.write_all(contents.as_bytes())
        .map_err(|e| Error::io("write", path, e))
}
