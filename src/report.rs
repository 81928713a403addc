//! Messages on stderr: warnings always, diagnostics with `--verbose`. stdout is for what the
//! user asked for alone (a GUI client takes all of it as the password).

use std::sync::atomic::{AtomicBool, Ordering};

static VERBOSE: AtomicBool = AtomicBool::new(false);

pub fn set_verbose(on: bool) {
    VERBOSE.store(on, Ordering::Relaxed);
}

pub fn is_verbose() -> bool {
    VERBOSE.load(Ordering::Relaxed)
}

/// A diagnostic line for `--verbose`. Callers pass names, paths and timestamps, never a secret.
pub fn verbose(message: std::fmt::Arguments<'_>) {
    if is_verbose() {
        eprintln!("rdsiam-helper: {message}");
    }
}

pub fn warn(message: std::fmt::Arguments<'_>) {
    eprintln!("rdsiam-helper: warning: {message}");
}

/// A failure that does not stop the command: its one line, then its hints.
pub fn warn_error(err: &crate::error::Error) {
    let mut text = format!("rdsiam-helper: warning: {}\n", err.one_line());
    for hint in &err.hints {
        text.push_str(&format!("  hint: {hint}\n"));
    }
    eprint!("{text}");
}
