//! Running a client with a token: on Unix in place of this process where nothing needs
//! cleaning up after it (`hand_over`), else as a child whose exit code becomes ours
//! (`Signals::run`); on Windows, which has no exec, always as a child.

#[cfg(unix)]
mod unix;
#[cfg(unix)]
pub use unix::*;
#[cfg(windows)]
mod windows;
#[cfg(windows)]
pub use windows::*;

use crate::error::Error;

/// The error for a program that could not be started, with the exit code a shell would give.
fn not_started(program: &str, err: std::io::Error) -> Error {
    match err.kind() {
        std::io::ErrorKind::NotFound => {
            Error::not_runnable(127, format!("cannot run `{program}`: command not found"))
                .hint("check that it is installed and on PATH")
        }
        std::io::ErrorKind::PermissionDenied => Error::not_runnable(
            126,
            format!("cannot run `{program}`: permission denied (not executable)"),
        )
        .hint(format!(
            "check the file's execute permission: chmod +x {program}"
        )),
        _ => Error::not_runnable(126, format!("cannot run `{program}`")).caused_by(err),
    }
}
