//! `exec NAME -- COMMAND...`: any program, with the connection in its environment.

use crate::cache::OptionFile;
use crate::child;
use crate::cli::ExecArgs;
use crate::clients::{self, libpq, mysql};
use crate::config::{Config, Wire};
use crate::error::Result;
use crate::issuer;
use std::process::Command;

pub fn run(config: &Config, args: &ExecArgs) -> Result<i32> {
    let connection = config.get(&args.name)?;
    let ca = clients::existing_ca_bundle(connection)?;
    let entry = issuer::issue(connection, true)?;
    // From here on a token may sit in a file: Ctrl-C during a slow SSO call above still works.
    let signals = child::Signals::guard();
    let program = args.command[0].to_string_lossy().into_owned();
    let mut command = Command::new(&args.command[0]);
    command.args(&args.command[1..]);
    // Kept alive until the child exits, then removed with the token in it.
    let mut _private = None;
    match connection.engine.wire() {
        Wire::Postgres => {
            libpq::clear_overrides(&mut command);
            // Any program, any libpq or driver: a CA file (for DSQL, the OS bundle) is what
            // all of them read, where `sslrootcert=system` needs libpq 16.
            let ca = ca.display().to_string();
            for (key, value) in libpq::params(connection, &entry.user, &ca) {
                command.env(libpq::variable(key), value);
            }
            command.env("PGPASSWORD", entry.token.expose());
        }
        Wire::Mysql => {
            // Any program may run: keys for the installed client's flavour (`loose-` keys both
            // read when there is none) in the my.cnf that MariaDB's programs read from
            // $MARIADB_HOME / $MYSQL_HOME.
            let options = mysql::options(connection, &entry.user, mysql::installed_flavour());
            let rest = mysql::option_file("", &options, connection);
            let file = OptionFile::create("my.cnf", &mysql::password_file(&entry.token, &rest))?;
            // Oracle's libmysqlclient sends the token (a cleartext password) only when allowed.
            command
                .env("MYSQL_HOME", file.dir())
                .env("MARIADB_HOME", file.dir())
                .env("LIBMYSQL_ENABLE_CLEARTEXT_PLUGIN", "1");
            for found in mysql::user_overrides() {
                crate::report::warn(format_args!(
                    "{}",
                    found.warning(
                        "exec",
                        "use `rdsiam-helper connect`, or move it out of that group"
                    )
                ));
            }
            _private = Some(file);
        }
    }
    signals.run(command, &program)
}
