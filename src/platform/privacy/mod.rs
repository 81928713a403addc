//! Files private to the user: who owns a file, who else may read or write it, and how a new
//! private file or folder is made so before anything is written in it.

#[cfg(unix)]
mod unix;
#[cfg(unix)]
pub use unix::*;
#[cfg(windows)]
mod windows;
#[cfg(windows)]
pub use windows::*;
