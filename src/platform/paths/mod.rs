//! Where each program looks for its files on this platform: our config, libpq's password and
//! service files, and our cache folder. (The AWS files are `~/.aws` on both, found by
//! aws-config.)

#[cfg(unix)]
mod unix;
#[cfg(unix)]
pub use unix::*;
#[cfg(windows)]
mod windows;
#[cfg(windows)]
pub use windows::*;
