//! Secrets as types (cargo's `Secret<T>`, rbw's locked values): a token, or any text that holds
//! one (a `.pgpass` body, an option file), has no `Display`, so a stray `format!` can write
//! neither the value nor a redaction anywhere; `Debug` prints a redaction; the memory is zeroed
//! on drop; and the value leaves only through `expose`, where it is printed or written.

use std::fmt;
use zeroize::Zeroizing;

#[derive(Clone, Default, PartialEq, Eq)]
pub struct Secret(Zeroizing<String>);

impl Secret {
    pub fn new(value: String) -> Secret {
        Secret(Zeroizing::new(value))
    }

    /// Text made of `parts`, some of them secret, with no plain copy on the way: the buffer is
    /// sized once, so no reallocation leaves an unzeroed copy behind.
    pub fn concat(parts: &[&str]) -> Secret {
        let mut text = String::with_capacity(parts.iter().map(|p| p.len()).sum());
        for part in parts {
            text.push_str(part);
        }
        Secret::new(text)
    }

    /// Drops a final `\n`, in place.
    pub fn strip_final_newline(&mut self) {
        if self.0.ends_with('\n') {
            self.0.pop();
        }
    }

    /// The one way out: call it only where the value is printed or written.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(** redacted **)")
    }
}

/// What is printed or written: text that may be shown, or a secret.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Contents {
    Plain(String),
    Secret(Secret),
}

impl Contents {
    pub fn is_secret(&self) -> bool {
        matches!(self, Contents::Secret(_))
    }

    /// The bytes, at the point of printing or writing.
    pub fn expose(&self) -> &str {
        match self {
            Contents::Plain(text) => text,
            Contents::Secret(secret) => secret.expose(),
        }
    }
}

impl From<String> for Contents {
    fn from(text: String) -> Contents {
        Contents::Plain(text)
    }
}

impl From<Secret> for Contents {
    fn from(secret: Secret) -> Contents {
        Contents::Secret(secret)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn concat_allocates_once() {
        let secret = Secret::concat(&["a:", "token", "\n"]);
        assert_eq!(secret.expose(), "a:token\n");
        assert_eq!(secret.0.capacity(), secret.0.len());
    }

    #[test]
    fn debug_never_shows_the_value() {
        let secret = Secret::new("secret-value".into());
        assert!(!format!("{secret:?}").contains("secret-value"));
        let contents = Contents::from(secret);
        assert!(!format!("{contents:?}").contains("secret-value"));
        assert_eq!(contents.expose(), "secret-value");
    }
}
