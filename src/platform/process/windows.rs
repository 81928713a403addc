//! Windows has no exec: the client runs as a child, we wait, and exit with its code. Ctrl-C
//! and Ctrl-Break go to every process on the console; ours ignores them (a handler, unlike
//! `SetConsoleCtrlHandler(NULL, TRUE)`, is not inherited), so the child decides and we are
//! still there to remove a token file after it.

use crate::error::{Error, Result};
use std::process::Command;
use windows_sys::Win32::System::Console::{CTRL_BREAK_EVENT, CTRL_C_EVENT, SetConsoleCtrlHandler};
use windows_sys::core::BOOL;

unsafe extern "system" fn ignore(event: u32) -> BOOL {
    // TRUE: handled, so the default (exiting) does not run; a close or logoff still ends us.
    BOOL::from(event == CTRL_C_EVENT || event == CTRL_BREAK_EVENT)
}

pub struct Signals {
    installed: bool,
}

impl Signals {
    pub fn guard() -> Signals {
        // SAFETY: the handler is a plain function that touches nothing.
        let installed = unsafe { SetConsoleCtrlHandler(Some(ignore), 1) } != 0;
        Signals { installed }
    }

    /// Runs `command` to completion and returns its exit code.
    pub fn run(&self, mut command: Command, program: &str) -> Result<i32> {
        let mut child = command
            .spawn()
            .map_err(|e| super::not_started(program, e))?;
        let status = child
            .wait()
            .map_err(|e| Error::failure(format!("waiting for `{program}` failed")).caused_by(e))?;
        Ok(status.code().unwrap_or(1))
    }
}

impl Drop for Signals {
    fn drop(&mut self) {
        if self.installed {
            // SAFETY: removing the handler `guard` added.
            unsafe { SetConsoleCtrlHandler(Some(ignore), 0) };
        }
    }
}

/// No exec on Windows: the client runs as a child and its exit code is returned.
pub fn hand_over(mut command: Command) -> std::io::Result<i32> {
    let _signals = Signals::guard();
    let mut child = command.spawn()?;
    Ok(child.wait()?.code().unwrap_or(1))
}
