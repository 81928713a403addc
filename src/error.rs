//! Errors written for the person at the keyboard: what failed, the name or path involved, and
//! the next step. They carry names and paths, never a token or a secret. They stay data until
//! `main.rs` renders them: `Display` is the message alone, the cause is kept as `source()`, and
//! the `rdsiam-helper: error:` line with its hints is written in one place.

/// What the caller (and the shell) branches on: the exit code.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// Exit 1: anything that went wrong that is not one of the below.
    Failure,
    /// Exit 2: the command line or its values are wrong.
    Usage,
    /// Exit 3: AWS credentials are missing or expired; the hint names the fix.
    Credentials,
    /// Exit 3 too: the Identity Center session needs a new sign-in (not a wrong role or a
    /// network failure). `login` branches on it.
    SsoSignIn,
    /// `exec`'s program could not be started: 127 when it does not exist, 126 when it cannot
    /// be executed, as shells report it.
    NotRunnable { code: i32 },
}

type Cause = Box<dyn std::error::Error + Send + Sync + 'static>;

#[derive(Debug, thiserror::Error)]
#[error("{message}")]
pub struct Error {
    pub kind: Kind,
    pub message: String,
    pub hints: Vec<String>,
    #[source]
    cause: Option<Cause>,
    /// Failures that came before this one in a command that goes on after each (`refresh`).
    pub earlier: Vec<Error>,
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    fn new(kind: Kind, message: impl Into<String>) -> Self {
        Self {
            kind,
            message: message.into(),
            hints: Vec::new(),
            cause: None,
            earlier: Vec::new(),
        }
    }

    pub fn failure(message: impl Into<String>) -> Self {
        Self::new(Kind::Failure, message)
    }

    pub fn usage(message: impl Into<String>) -> Self {
        Self::new(Kind::Usage, message)
    }

    pub fn credentials(message: impl Into<String>) -> Self {
        Self::new(Kind::Credentials, message)
    }

    pub fn sso_sign_in(message: impl Into<String>) -> Self {
        Self::new(Kind::SsoSignIn, message)
    }

    pub fn not_runnable(code: i32, message: impl Into<String>) -> Self {
        Self::new(Kind::NotRunnable { code }, message)
    }

    pub fn hint(mut self, hint: impl Into<String>) -> Self {
        self.hints.push(hint.into());
        self
    }

    /// Keeps `cause` as this error's source; it is shown after the message.
    pub fn caused_by(mut self, cause: impl Into<Cause>) -> Self {
        self.cause = Some(cause.into());
        self
    }

    /// This error as the cause of a new one of the same kind, which says what was being done;
    /// the new one's hints replace this one's.
    pub fn within(self, message: impl Into<String>) -> Self {
        Self::new(self.kind, message).caused_by(self)
    }

    /// An I/O failure on a path: "could not <doing> <path>", caused by `err`.
    pub fn io(doing: &str, path: &std::path::Path, err: std::io::Error) -> Self {
        Self::failure(format!("could not {doing} {}", path.display())).caused_by(err)
    }

    pub fn with_earlier(mut self, earlier: Vec<Error>) -> Self {
        self.earlier = earlier;
        self
    }

    pub fn exit_code(&self) -> i32 {
        match self.kind {
            Kind::Failure => 1,
            Kind::Usage => 2,
            Kind::Credentials | Kind::SsoSignIn => 3,
            Kind::NotRunnable { code } => code,
        }
    }
}
