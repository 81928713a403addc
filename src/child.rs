//! Running a client as a child and passing its exit status on.

use crate::error::{Error, Result};
use std::os::unix::process::ExitStatusExt;
use std::process::Command;

extern "C" fn ignore(_: libc::c_int) {}

/// Runs `command` to completion and returns its exit code (128 + signal if it was killed, as
/// shells report it). Ctrl-C and Ctrl-\ reach the child through the terminal; we only keep
/// waiting so that we can clean up after it. A handler, unlike SIG_IGN, is reset by exec, so the
/// child still gets the default behaviour.
pub fn run(mut command: Command, program: &str) -> Result<i32> {
    let mut child = command.spawn().map_err(|e| {
        Error::failure(format!("cannot run `{program}`: {e}"))
            .hint("check that it is installed and on PATH")
    })?;
    let handler = ignore as extern "C" fn(libc::c_int) as libc::sighandler_t;
    // SAFETY: installing a handler that does nothing is async-signal-safe.
    let previous = unsafe {
        [
            libc::signal(libc::SIGINT, handler),
            libc::signal(libc::SIGQUIT, handler),
        ]
    };
    let status = child.wait();
    // SAFETY: restoring the dispositions saved above.
    unsafe {
        libc::signal(libc::SIGINT, previous[0]);
        libc::signal(libc::SIGQUIT, previous[1]);
    }
    let status =
        status.map_err(|e| Error::failure(format!("waiting for `{program}` failed: {e}")))?;
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
