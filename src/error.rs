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

    /// An I/O failure on a path: "could not <doing> <path>", caused by `err`, with what to do
    /// about the usual causes.
    pub fn io(doing: &str, path: &std::path::Path, err: std::io::Error) -> Self {
        let hint = io_hint(&err, path);
        let error = Self::failure(format!("could not {doing} {}", path.display())).caused_by(err);
        match hint {
            Some(hint) => error.hint(hint),
            None => error,
        }
    }

    /// The message and its causes on one line: "MESSAGE: CAUSE: ...". What `main`, warnings
    /// and `doctor` show.
    pub fn one_line(&self) -> String {
        one_line(self)
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

/// `err` and its causes on one line, each I/O error in words (`describe_io`).
pub fn one_line(err: &(dyn std::error::Error + 'static)) -> String {
    let mut out = err.to_string();
    let mut cause = err.source();
    while let Some(inner) = cause {
        if let Some(io) = inner.downcast_ref::<std::io::Error>() {
            out.push_str(&format!(": {}", describe_io(io)));
            break;
        }
        out.push_str(&format!(": {inner}"));
        cause = inner.source();
    }
    out
}

/// An I/O error in words for a person: "permission denied", not Rust's "Permission denied (os
/// error 13)", nor a wrapper's `at path "..."` (the message names the path already).
pub fn describe_io(err: &std::io::Error) -> String {
    if let Some(code) = err.raw_os_error() {
        let text = std::io::Error::from_raw_os_error(code).to_string();
        let text = match text.rfind(" (os error ") {
            Some(cut) => text[..cut].to_string(),
            None => text,
        };
        return lower_first(&text);
    }
    // A wrapper (tempfile's path error) keeps the OS error as its source.
    if let Some(inner) = err.get_ref() {
        if let Some(io) = inner.downcast_ref::<std::io::Error>() {
            return describe_io(io);
        }
        // tempfile's wrapper hides the OS error (its `source` skips it) and shows it as
        // "MESSAGE (os error N) at path \"...\"": the message is the part before.
        let text = inner.to_string();
        let text = text.split(" at path ").next().unwrap_or_default();
        let text = match text.rfind(" (os error ") {
            Some(cut) => &text[..cut],
            None => text,
        };
        if !text.is_empty() {
            return lower_first(text);
        }
    }
    err.kind().to_string()
}

fn lower_first(text: &str) -> String {
    let mut chars = text.chars();
    match chars.next() {
        Some(first) => first.to_lowercase().chain(chars).collect(),
        None => String::new(),
    }
}

/// The next step for the I/O failures a person can fix.
fn io_hint(err: &std::io::Error, path: &std::path::Path) -> Option<String> {
    use std::io::ErrorKind;
    let folder = match path.parent() {
        Some(dir) if !dir.as_os_str().is_empty() => dir.display().to_string(),
        _ => ".".to_string(),
    };
    // A wrapper (tempfile's) keeps the OS error's kind.
    Some(match err.kind() {
        ErrorKind::PermissionDenied => format!(
            "check who owns {} and its folder {folder} and that you may write there (`ls -ld`), or choose another path",
            path.display()
        ),
        ErrorKind::ReadOnlyFilesystem => {
            format!("{folder} is on a read-only file system; choose a path on a writable one")
        }
        ErrorKind::StorageFull | ErrorKind::QuotaExceeded => {
            format!("the disk holding {folder} is full; free some space and run again")
        }
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::ErrorKind;

    /// Every way an I/O error reaches a message: plain, from the OS, and wrapped with a path
    /// (tempfile). None shows Rust's formatting.
    #[test]
    fn io_errors_read_as_words() {
        let wrapped = tempfile::Builder::new()
            .tempfile_in("/proc/self/nonexistent-folder")
            .unwrap_err();
        let cases: Vec<(std::io::Error, &str)> = vec![
            (std::io::Error::from_raw_os_error(13), "permission denied"),
            (
                std::io::Error::from_raw_os_error(2),
                "no such file or directory",
            ),
            (
                std::io::Error::from_raw_os_error(30),
                "read-only file system",
            ),
            (
                std::io::Error::from(ErrorKind::PermissionDenied),
                "permission denied",
            ),
            (std::io::Error::other("a reason"), "a reason"),
            (wrapped, "no such file or directory"),
        ];
        for (err, words) in cases {
            let shown = Error::io("write", std::path::Path::new("/x/y"), err).one_line();
            assert_eq!(shown, format!("could not write /x/y: {words}"));
            assert!(
                !shown.contains("os error") && !shown.contains("at path"),
                "{shown}"
            );
        }
    }

    #[test]
    fn permission_and_space_failures_say_what_to_do() {
        let path = std::path::Path::new("/srv/ro/file");
        let denied = Error::io("write", path, std::io::Error::from_raw_os_error(13));
        assert!(denied.hints[0].contains("/srv/ro"), "{:?}", denied.hints);
        let full = Error::io("write", path, std::io::Error::from_raw_os_error(28));
        assert!(full.hints[0].contains("full"), "{:?}", full.hints);
        let other = Error::io("write", path, std::io::Error::from_raw_os_error(5));
        assert!(other.hints.is_empty());
    }
}
