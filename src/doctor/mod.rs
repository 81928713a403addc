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

#[derive(Debug, Clone, Serialize)]
pub struct Check {
    pub check: &'static str,
    pub status: Status,
    pub message: String,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub fix: Vec<String>,
}

impl Check {
    pub fn ok(check: &'static str, message: impl Into<String>) -> Check {
        Check::new(check, Status::Ok, message)
    }

    pub fn warn(check: &'static str, message: impl Into<String>) -> Check {
        Check::new(check, Status::Warn, message)
    }

    pub fn fail(check: &'static str, message: impl Into<String>) -> Check {
        Check::new(check, Status::Fail, message)
    }

    pub fn skip(check: &'static str, message: impl Into<String>) -> Check {
        Check::new(check, Status::Skip, message)
    }

    fn new(check: &'static str, status: Status, message: impl Into<String>) -> Check {
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
    pub fn from_error(check: &'static str, status: Status, err: crate::error::Error) -> Check {
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
    pub fn status_of(&self, check: &str) -> Option<Status> {
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
