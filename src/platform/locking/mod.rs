//! Exclusive locks between processes, always on a file other than the one read and written:
//! Windows locks are mandatory, so a lock on a data file would block its readers.

#[cfg(unix)]
mod unix;
#[cfg(unix)]
pub use unix::*;
#[cfg(windows)]
mod windows;
#[cfg(windows)]
pub use windows::*;

use std::fs::{File, TryLockError};
use std::time::{Duration, Instant};

/// Whether an exclusive lock on `file` was taken within `wait`, trying again with a short,
/// growing pause while another process holds it. `Err` is a failure to lock at all.
pub fn lock_within(file: &File, wait: Duration) -> std::io::Result<bool> {
    let started = Instant::now();
    let mut pause = Duration::from_millis(2);
    loop {
        match file.try_lock() {
            Ok(()) => return Ok(true),
            Err(TryLockError::WouldBlock) if started.elapsed() < wait => {
                std::thread::sleep(pause);
                pause = (pause * 2).min(Duration::from_millis(50));
            }
            Err(TryLockError::WouldBlock) => return Ok(false),
            Err(TryLockError::Error(err)) => return Err(err),
        }
    }
}
