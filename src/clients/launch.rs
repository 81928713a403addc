//! The one way a client is started with a token: `connect` (psql or mysql on the connection),
//! `exec` (any program, the connection in its environment) and doctor's login all build their
//! command here, so doctor tries what `connect` does. The token never goes on a command line:
//! psql reads PGPASSWORD, mysql a private option file that lives as long as the `Launch`.

use crate::cache::{Issued, OptionFile};
use crate::clients::{self, libpq, mysql};
use crate::config::{Connection, Wire};
use crate::error::{Error, Result};
use crate::platform::process::{self, Signals};
use std::ffi::OsString;
use std::path::PathBuf;
use std::process::Command;

/// The client for a connection, found before a token is issued.
pub enum Client {
    /// psql, with libpq's `sslrootcert` for its version (`system` from libpq 16 on).
    Psql { root_cert: String },
    Mysql {
        program: PathBuf,
        flavour: mysql::Flavour,
    },
}

impl Client {
    /// psql (looked for when run) or the installed mysql/mariadb and its flavour.
    pub fn find(connection: &Connection) -> Result<Client> {
        Ok(match connection.engine.wire() {
            Wire::Postgres => Client::Psql {
                root_cert: clients::libpq_root_cert(connection, libpq::installed_major()),
            },
            Wire::Mysql => {
                let program = mysql::find_client()?;
                let flavour = mysql::detect(&program)?;
                Client::Mysql { program, flavour }
            }
        })
    }

    /// The CA file the client will verify the server with must exist (libpq's `system` store
    /// needs none): TLS verification is never silently dropped.
    pub fn require_ca(&self, connection: &Connection) -> Result<()> {
        match self {
            Client::Psql { root_cert } if root_cert == libpq::SYSTEM_ROOT_CERT => Ok(()),
            _ => clients::existing_ca_bundle(connection).map(|_| ()),
        }
    }

    pub fn program(&self) -> String {
        match self {
            Client::Psql { .. } => "psql".to_string(),
            Client::Mysql { program, .. } => program.display().to_string(),
        }
    }

    /// The command on the connection as `issued`'s user, `extra` after our own arguments.
    pub fn command(
        &self,
        connection: &Connection,
        issued: &Issued,
        extra: &[OsString],
    ) -> Result<Launch> {
        match self {
            Client::Psql { root_cert } => {
                let conninfo = libpq::conninfo(&libpq::params(connection, &issued.user, root_cert));
                let mut command = Command::new("psql");
                libpq::clear_overrides(&mut command);
                command
                    .arg(conninfo)
                    .args(extra)
                    .env("PGPASSWORD", issued.token.expose());
                Ok(Launch {
                    command,
                    program: self.program(),
                    option_file: None,
                    replaces_us: true,
                })
            }
            Client::Mysql { program, flavour } => {
                // Only the token goes in the file. The rest goes on the command line, which
                // beats every option file: a [client] host or skip-ssl in ~/.my.cnf (read
                // after ours) must not send the token elsewhere or in the clear.
                let file =
                    OptionFile::create("client.cnf", &mysql::password_file(&issued.token, ""))?;
                let mut options = mysql::options(connection, &issued.user, Some(*flavour));
                options.extend(mysql::mysql_options(connection));
                let mut command = Command::new(program);
                // --defaults-extra-file must be the first argument.
                command
                    .arg(format!("--defaults-extra-file={}", file.path().display()))
                    .args(
                        options
                            .iter()
                            .map(|(key, value)| format!("--{key}={value}")),
                    )
                    .args(mysql::client_args(*flavour))
                    .args(extra);
                Ok(Launch {
                    command,
                    program: self.program(),
                    option_file: Some(file),
                    replaces_us: false,
                })
            }
        }
    }
}

/// `command` with the connection in its environment, for any program (`exec`): the PG*
/// variables, or a my.cnf in $MYSQL_HOME / $MARIADB_HOME. `ca` is the CA file, which every
/// libpq and driver reads (`sslrootcert=system` needs libpq 16).
pub fn environment(
    connection: &Connection,
    issued: &Issued,
    ca: &std::path::Path,
    mut command: Command,
    program: String,
) -> Result<Launch> {
    let mut option_file = None;
    match connection.engine.wire() {
        Wire::Postgres => {
            libpq::clear_overrides(&mut command);
            let ca = ca.display().to_string();
            for (key, value) in libpq::params(connection, &issued.user, &ca) {
                command.env(libpq::variable(key), value);
            }
            command.env("PGPASSWORD", issued.token.expose());
        }
        Wire::Mysql => {
            // Keys for the installed client's flavour (`loose-` keys both read when there is
            // none), since any program may run.
            let options = mysql::options(connection, &issued.user, mysql::installed_flavour());
            let rest = mysql::option_file("", &options, connection);
            let file = OptionFile::create("my.cnf", &mysql::password_file(&issued.token, &rest))?;
            // Oracle's libmysqlclient sends the token (a cleartext password) only when allowed.
            command
                .env("MYSQL_HOME", file.dir())
                .env("MARIADB_HOME", file.dir())
                .env("LIBMYSQL_ENABLE_CLEARTEXT_PLUGIN", "1");
            option_file = Some(file);
        }
    }
    Ok(Launch {
        command,
        program,
        option_file,
        replaces_us: false,
    })
}

/// A client ready to start, and the option file it reads (removed when this is dropped).
pub struct Launch {
    pub command: Command,
    program: String,
    option_file: Option<OptionFile>,
    /// psql owns the terminal and leaves nothing to clean up: it may take our place.
    replaces_us: bool,
}

impl Launch {
    /// Runs the client to the end and returns its exit code. Where nothing is left to clean up
    /// and the platform can, the client replaces this process instead.
    pub fn run(self, signals: &Signals) -> Result<i32> {
        let Launch {
            command,
            program,
            option_file,
            replaces_us,
        } = self;
        if replaces_us {
            return process::hand_over(command).map_err(|err| {
                Error::failure("cannot run psql").caused_by(err).hint(
                    "install the PostgreSQL client (e.g. `apt install postgresql-client`, `brew install libpq`)",
                )
            });
        }
        let code = signals.run(command, &program);
        drop(option_file);
        code
    }
}
