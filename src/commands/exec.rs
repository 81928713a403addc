//! `exec NAME -- COMMAND...`: any program, with the connection in its environment.

use crate::cli::ExecArgs;
use crate::clients::{self, launch, mysql};
use crate::config::{Config, Wire};
use crate::error::Result;
use crate::issuer;
use crate::platform::process::Signals;
use std::process::Command;

pub fn run(config: &Config, args: &ExecArgs) -> Result<i32> {
    let connection = config.get(&args.name)?;
    let ca = clients::existing_ca_bundle(connection)?;
    let entry = issuer::issue(connection, true)?;
    // From here on a token may sit in a file: Ctrl-C during a slow SSO call above still works.
    let signals = Signals::guard();
    let program = args.command[0].to_string_lossy().into_owned();
    let mut command = Command::new(&args.command[0]);
    command.args(&args.command[1..]);
    let launch = launch::environment(connection, &entry, &ca, command, program)?;
    if connection.engine.wire() == Wire::Mysql {
        for found in mysql::user_overrides() {
            crate::report::warn(format_args!(
                "{}",
                found.warning(
                    "exec",
                    "use `rdsiam-helper connect`, or move it out of that group"
                )
            ));
        }
    }
    launch.run(&signals)
}
