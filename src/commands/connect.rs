//! `connect NAME [-- ARGS]`: psql or mysql on the connection, TLS verified, the token never in
//! argv.

use crate::cli::ConnectArgs;
use crate::clients::launch::Client;
use crate::clients::mysql;
use crate::config::Config;
use crate::error::Result;
use crate::issuer;
use crate::platform::process::Signals;

pub fn run(config: &Config, args: &ConnectArgs) -> Result<i32> {
    let connection = config.get(&args.name)?;
    let client = Client::find(connection)?;
    client.require_ca(connection)?;
    let entry = issuer::issue(connection, true)?;
    // From here on a token may sit in a file: we outlive the client to remove it.
    let signals = Signals::guard();
    let launch = client.command(connection, &entry, &args.extra)?;
    if let Client::Mysql { .. } = client {
        // Host, user and TLS go on the command line, which wins; a password in the user's
        // own files is read after the token's file and would be sent instead.
        for found in mysql::user_overrides()
            .into_iter()
            .filter(|found| found.key == "password")
        {
            crate::report::warn(format_args!(
                "{}",
                found.warning(
                    "connect",
                    "the server will refuse it; move it out of that group"
                )
            ));
        }
    }
    launch.run(&signals)
}
