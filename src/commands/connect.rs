//! `connect NAME [-- ARGS]`: psql or mysql on the connection, TLS verified, the token never in
//! argv.

use crate::cache::OptionFile;
use crate::child;
use crate::cli::ConnectArgs;
use crate::clients::{self, libpq, mysql};
use crate::config::{Config, Wire};
use crate::error::{Error, Result};
use crate::issuer;
use std::os::unix::process::CommandExt;
use std::process::Command;

pub fn run(config: &Config, args: &ConnectArgs) -> Result<i32> {
    let connection = config.get(&args.name)?;
    match connection.engine.wire() {
        Wire::Postgres => {
            // psql's libpq decides how the system store is named (DSQL: `system` from 16 on).
            let root_cert = clients::libpq_root_cert(connection, libpq::installed_major());
            if root_cert != libpq::SYSTEM_ROOT_CERT {
                clients::existing_ca_bundle(connection)?;
            }
            let entry = issuer::issue(connection, true)?;
            let conninfo = libpq::conninfo(&libpq::params(connection, &entry.user, &root_cert));
            let mut command = Command::new("psql");
            libpq::clear_overrides(&mut command);
            command
                .arg(conninfo)
                .args(&args.extra)
                .env("PGPASSWORD", entry.token.expose());
            // Replace this process: psql owns the terminal and its exit code is ours.
            let err = command.exec();
            Err(Error::failure("cannot run psql").caused_by(err).hint("install the PostgreSQL client (e.g. `apt install postgresql-client`, `brew install libpq`)"))
        }
        Wire::Mysql => {
            clients::existing_ca_bundle(connection)?;
            let entry = issuer::issue(connection, true)?;
            let signals = child::Signals::guard();
            let client = mysql::find_client()?;
            let flavour = mysql::detect(&client)?;
            // Only the token goes in the file. The rest goes on the command line, which beats
            // every option file: a [client] host or skip-ssl in ~/.my.cnf (read after ours)
            // must not send the token elsewhere or in the clear.
            let file = OptionFile::create("client.cnf", &mysql::password_file(&entry.token, ""))?;
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
            let mut options = mysql::options(connection, &entry.user, Some(flavour));
            options.extend(mysql::mysql_options(connection));
            let mut command = Command::new(&client);
            // --defaults-extra-file must be the first argument.
            command
                .arg(format!("--defaults-extra-file={}", file.path().display()))
                .args(
                    options
                        .iter()
                        .map(|(key, value)| format!("--{key}={value}")),
                )
                .args(mysql::client_args(flavour))
                .args(&args.extra);
            let code = signals.run(command, &client.display().to_string());
            drop(file);
            code
        }
    }
}
