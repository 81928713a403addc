//! Errors written for the person at the keyboard: what failed, the name or path involved, and
//! the next step. They carry names and paths, never a token or a secret.

use std::fmt;

/// What the caller (and the shell) branches on: the exit code.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// Exit 1: anything that went wrong that is not one of the below.
    Failure,
    /// Exit 2: the command line or its values are wrong.
    Usage,
    /// Exit 3: AWS credentials are missing or expired; the hint names the fix.
    Credentials,
    /// `exec`'s program could not be started: 127 when it does not exist, 126 when it cannot
    /// be executed, as shells report it.
    NotRunnable { code: i32 },
}

#[derive(Debug)]
pub struct Error {
    pub kind: Kind,
    pub message: String,
    pub hints: Vec<String>,
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    pub fn failure(message: impl Into<String>) -> Self {
        Self {
            kind: Kind::Failure,
            message: message.into(),
            hints: Vec::new(),
        }
    }

    pub fn usage(message: impl Into<String>) -> Self {
        Self {
            kind: Kind::Usage,
            message: message.into(),
            hints: Vec::new(),
        }
    }

    pub fn credentials(message: impl Into<String>) -> Self {
        Self {
            kind: Kind::Credentials,
            message: message.into(),
            hints: Vec::new(),
        }
    }

    pub fn not_runnable(code: i32, message: impl Into<String>) -> Self {
        Self {
            kind: Kind::NotRunnable { code },
            message: message.into(),
            hints: Vec::new(),
        }
    }

    pub fn hint(mut self, hint: impl Into<String>) -> Self {
        self.hints.push(hint.into());
        self
    }

    /// An I/O failure on a path, phrased as "could not <doing> <path>: <cause>".
    pub fn io(doing: &str, path: &std::path::Path, err: std::io::Error) -> Self {
        Self::failure(format!("could not {doing} {}: {err}", path.display()))
    }

    pub fn exit_code(&self) -> i32 {
        match self.kind {
            Kind::Failure => 1,
            Kind::Usage => 2,
            Kind::Credentials => 3,
            Kind::NotRunnable { code } => code,
        }
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "rdsiam-helper: error: {}", self.message)?;
        for hint in &self.hints {
            write!(f, "\n  hint: {hint}")?;
        }
        Ok(())
    }
}

impl std::error::Error for Error {}
