//! `doctor`'s checks: one file per family. Each check gives ok / warn / fail, a line saying what
//! it saw, and for warn and fail the exact command or change that fixes it.

pub mod ca_bundle;
pub mod caller;
pub mod clients;
pub mod clock;
pub mod config;
pub mod credentials;
pub mod dsql;
pub mod login;
pub mod network;
pub mod resource;
pub mod simulate;
pub mod token;
pub mod tunnel;

use serde::Serialize;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    Ok,
    Warn,
    Fail,
    /// Not run, because what it needs failed or is missing (said in the message).
    Skip,
}

impl Status {
    pub fn label(self) -> &'static str {
        match self {
            Status::Ok => "ok",
            Status::Warn => "warn",
            Status::Fail => "FAIL",
            Status::Skip => "skip",
        }
    }
}

/// Which check a result is: the `check` of doctor's JSON, and the column of its text.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum CheckId {
    Action,
    Aws,
    CaBundle,
    Caller,
    Clock,
    Config,
    Credentials,
    Dns,
    Dsql,
    Engine,
    Expiry,
    Host,
    IamAuth,
    IamPolicy,
    Libpq,
    Lifetime,
    Login,
    Mysql,
    Port,
    Rds,
    Region,
    Tcp,
    Token,
    Tunnel,
    User,
}

impl CheckId {
    pub fn as_str(self) -> &'static str {
        match self {
            CheckId::Action => "action",
            CheckId::Aws => "aws",
            CheckId::CaBundle => "ca_bundle",
            CheckId::Caller => "caller",
            CheckId::Clock => "clock",
            CheckId::Config => "config",
            CheckId::Credentials => "credentials",
            CheckId::Dns => "dns",
            CheckId::Dsql => "dsql",
            CheckId::Engine => "engine",
            CheckId::Expiry => "expiry",
            CheckId::Host => "host",
            CheckId::IamAuth => "iam_auth",
            CheckId::IamPolicy => "iam_policy",
            CheckId::Libpq => "libpq",
            CheckId::Lifetime => "lifetime",
            CheckId::Login => "login",
            CheckId::Mysql => "mysql",
            CheckId::Port => "port",
            CheckId::Rds => "rds",
            CheckId::Region => "region",
            CheckId::Tcp => "tcp",
            CheckId::Token => "token",
            CheckId::Tunnel => "tunnel",
            CheckId::User => "user",
        }
    }
}

impl std::fmt::Display for CheckId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.pad(self.as_str())
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct Check {
    pub check: CheckId,
    pub status: Status,
    pub message: String,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub fix: Vec<String>,
}

impl Check {
    pub fn ok(check: CheckId, message: impl Into<String>) -> Check {
        Check::new(check, Status::Ok, message)
    }

    pub fn warn(check: CheckId, message: impl Into<String>) -> Check {
        Check::new(check, Status::Warn, message)
    }

    pub fn fail(check: CheckId, message: impl Into<String>) -> Check {
        Check::new(check, Status::Fail, message)
    }

    pub fn skip(check: CheckId, message: impl Into<String>) -> Check {
        Check::new(check, Status::Skip, message)
    }

    fn new(check: CheckId, status: Status, message: impl Into<String>) -> Check {
        Check {
            check,
            status,
            message: message.into(),
            fix: Vec::new(),
        }
    }

    pub fn fix(mut self, fix: impl Into<String>) -> Check {
        self.fix.push(fix.into());
        self
    }

    /// A failed step as a check: the error's message, its hints as the fixes.
    pub fn from_error(check: CheckId, status: Status, err: crate::error::Error) -> Check {
        Check {
            check,
            status,
            message: err.one_line(),
            fix: err.hints,
        }
    }
}

/// The checks of one section (the machine, or one connection).
#[derive(Debug, Serialize)]
pub struct Section {
    pub name: String,
    pub checks: Vec<Check>,
}

impl Section {
    pub fn status_of(&self, check: CheckId) -> Option<Status> {
        self.checks
            .iter()
            .find(|c| c.check == check)
            .map(|c| c.status)
    }
}

pub fn any_failed(sections: &[Section]) -> bool {
    sections
        .iter()
        .flat_map(|s| &s.checks)
        .any(|c| c.status == Status::Fail)
}

pub fn render_text(sections: &[Section]) -> String {
    let mut out = String::new();
    for section in sections {
        out.push_str(&format!("{}\n", section.name));
        for check in &section.checks {
            out.push_str(&format!(
                "  {:4}  {:11}  {}\n",
                check.status.label(),
                check.check,
                check.message
            ));
            for fix in &check.fix {
                out.push_str(&format!("  {:4}  {:11}  fix: {fix}\n", "", ""));
            }
        }
    }
    out
}

pub fn render_json(sections: &[Section]) -> String {
    let json = serde_json::json!({
        "ok": !any_failed(sections),
        "sections": sections,
    });
    format!(
        "{}\n",
        serde_json::to_string_pretty(&json).unwrap_or_default()
    )
}

#[cfg(test)]
mod tests {
    #[test]
    fn check_ids_serialize_as_their_names() {
        for id in [
            super::CheckId::CaBundle,
            super::CheckId::IamPolicy,
            super::CheckId::Dns,
        ] {
            assert_eq!(serde_json::to_value(id).unwrap(), id.as_str());
        }
    }
}
