//! What the proxy does differently per platform: the signals that stop it, and libpq's Unix
//! socket (`--unix-socket`), which only Unix serves.

#[cfg(unix)]
mod unix;
#[cfg(unix)]
pub use unix::*;
#[cfg(windows)]
mod windows;
#[cfg(windows)]
pub use windows::*;
