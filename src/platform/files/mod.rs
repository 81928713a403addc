//! Opening files without being led elsewhere: no symbolic link (Unix) or reparse point
//! (Windows) followed, no FIFO blocking the open, and what kind of thing a path is.

#[cfg(unix)]
mod unix;
#[cfg(unix)]
pub use unix::*;
#[cfg(windows)]
mod windows;
#[cfg(windows)]
pub use windows::*;

/// What identifies a file's version: when any part changes, the file may have changed.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Stamp {
    pub dev: u64,
    pub ino: u64,
    pub size: u64,
    pub mtime_ns: i128,
    pub ctime_ns: i128,
}
