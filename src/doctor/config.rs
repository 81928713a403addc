//! The config file: it parsed (or `doctor` would not have got here), and has connections.

use super::Check;
use crate::config::Config;

pub fn check(config: &Config) -> Check {
    if !config.exists {
        return Check::warn(
            "config",
            format!("{} does not exist (ad-hoc use only)", config.path.display()),
        )
        .fix("add a connection: `rdsiam-helper connections add NAME --host HOST --user USER` or `rdsiam-helper connections discover --add`");
    }
    if config.connections.is_empty() {
        return Check::warn(
            "config",
            format!("{} has no connections", config.path.display()),
        )
        .fix("add one: `rdsiam-helper connections add NAME --host HOST --user USER`");
    }
    Check::ok(
        "config",
        format!(
            "{} ({} connection{})",
            config.path.display(),
            config.connections.len(),
            if config.connections.len() == 1 {
                ""
            } else {
                "s"
            }
        ),
    )
}
