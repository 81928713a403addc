//! `setup CLIENT NAME [--write [PATH]]`: print a client's configuration, or merge it into the
//! client's file (atomic, with a `.bak`, everything else kept).

use crate::cli::{AuthMode, SetupArgs, SetupClient};
use crate::clients::ini::Dialect;
use crate::clients::{self, datagrip, dbeaver, mysql, pgadmin, pgpass, pgservice, tableplus};
use crate::commands::print;
use crate::config::{Config, Connection, Engine};
use crate::error::{Error, Result};
use crate::files::{self, Secrecy};
use crate::issuer;
use std::path::{Path, PathBuf};

pub fn run(config: &Config, args: &SetupArgs) -> Result<i32> {
    let connection = config.get(&args.name)?;
    let write = args.write.as_ref().map(|p| p.as_deref());
    match args.client {
        SetupClient::Pgpass => setup_pgpass(connection, write),
        SetupClient::Pgservice => setup_pgservice(connection, write),
        SetupClient::Tableplus => setup_tableplus(connection, write),
        SetupClient::Datagrip => setup_datagrip(connection, write, args.auth),
        SetupClient::Pgadmin => setup_pgadmin(connection, write),
        SetupClient::Dbeaver => setup_dbeaver(connection, write, args.auth),
        SetupClient::Mysql => setup_mysql(connection, write),
    }
}

/// The database user: the config's, or for the `{session_name}` template the resolved name,
/// which takes issuing a token (usually from the cache; it also proves the credentials work).
fn user(connection: &Connection) -> Result<String> {
    match connection.user_is_session_name() {
        false => Ok(connection.user.clone()),
        true => Ok(issuer::issue(connection, true)?.signed_user),
    }
}

/// The database user and signing region, for clients that sign themselves (DataGrip's AWS
/// Toolkit). A region from the AWS profile also takes issuing a token.
fn user_and_region(connection: &Connection) -> Result<(String, String)> {
    match connection.signing_region() {
        Some(region) if !connection.user_is_session_name() => Ok((connection.user.clone(), region)),
        _ => {
            let entry = issuer::issue(connection, true)?;
            Ok((entry.signed_user, entry.signed_region))
        }
    }
}

fn name(connection: &Connection) -> &str {
    connection.name.as_deref().unwrap_or("rdsiam")
}

fn require_engine(connection: &Connection, engine: Engine, client: &str) -> Result<()> {
    if connection.engine == engine {
        return Ok(());
    }
    Err(Error::usage(format!(
        "{client} is for {} connections; `{}` is {}",
        engine.as_str(),
        name(connection),
        connection.engine.as_str()
    )))
}

/// Reads the user's file (absent = empty), merges, and replaces it atomically with a backup.
fn merge_into(
    path: &Path,
    secrecy: Secrecy,
    merge: impl FnOnce(&str) -> Result<String>,
) -> Result<()> {
    let existing = files::read_or_empty(path)?;
    let merged = merge(&existing)?;
    if merged == existing {
        eprintln!("rdsiam-helper: {} is already up to date", path.display());
        return Ok(());
    }
    let backup = files::replace(path, merged.as_bytes(), secrecy)?;
    match backup {
        Some(backup) => eprintln!(
            "rdsiam-helper: updated {} (previous version: {})",
            path.display(),
            backup.display()
        ),
        None => eprintln!("rdsiam-helper: wrote {}", path.display()),
    }
    Ok(())
}

fn target(write: Option<&Path>, default: impl FnOnce() -> Result<PathBuf>) -> Result<PathBuf> {
    match write {
        Some(path) => Ok(path.to_path_buf()),
        None => default(),
    }
}

fn setup_pgpass(connection: &Connection, write: Option<Option<&Path>>) -> Result<i32> {
    require_engine(connection, Engine::Postgres, ".pgpass")?;
    let entry = issuer::issue(connection, true)?;
    let text = pgpass::entry(connection, &entry.signed_user, entry.token.expose());
    let Some(write) = write else {
        print(&text)?;
        return Ok(0);
    };
    let path = target(write, pgpass::default_path)?;
    merge_into(&path, Secrecy::Secret, |existing| {
        pgpass::validate(existing, &path)?;
        let merged = pgpass::merge(existing, name(connection), &text);
        pgpass::warn_shadowed(&merged, &path, name(connection));
        Ok(merged)
    })?;
    eprintln!(
        "rdsiam-helper: the token there lasts 15 minutes; keep it fresh with `rdsiam-helper refresh --all` on a timer (see integrations/systemd or integrations/launchd)"
    );
    Ok(0)
}

fn setup_pgservice(connection: &Connection, write: Option<Option<&Path>>) -> Result<i32> {
    require_engine(connection, Engine::Postgres, "pg_service.conf")?;
    let user = user(connection)?;
    let section = pgservice::section(connection, name(connection), &user);
    let Some(write) = write else {
        print(&section)?;
        return Ok(0);
    };
    let path = target(write, pgservice::default_path)?;
    merge_into(&path, Secrecy::Plain, |existing| {
        clients::ini::merge_section(existing, &path, Dialect::Libpq, name(connection), &section)
    })?;
    eprintln!(
        "rdsiam-helper: `psql service={}` takes its password from ~/.pgpass: run `rdsiam-helper setup pgpass {} --write`",
        name(connection),
        name(connection)
    );
    Ok(0)
}

fn setup_tableplus(connection: &Connection, write: Option<Option<&Path>>) -> Result<i32> {
    if write.is_some() {
        return Err(Error::usage(
            "TablePlus keeps connections in its own store; there is no file to --write",
        )
        .hint("run without --write and follow the printed steps (or open the printed URL)"));
    }
    let user = user(connection)?;
    let command = clients::helper_command(connection)?;
    print(&tableplus::instructions(
        connection,
        name(connection),
        &user,
        &command,
        &clients::ca_bundle(connection),
    ))?;
    Ok(0)
}

fn setup_datagrip(
    connection: &Connection,
    write: Option<Option<&Path>>,
    auth: Option<AuthMode>,
) -> Result<i32> {
    let auth = match auth.unwrap_or(AuthMode::AwsToolkit) {
        AuthMode::AwsToolkit => datagrip::Auth::AwsToolkit,
        AuthMode::Pgpass => datagrip::Auth::Pgpass,
        AuthMode::Command => {
            return Err(Error::usage("DataGrip has no command password mode")
                .hint("use --auth aws-toolkit (the AWS Toolkit plugin) or --auth pgpass"));
        }
    };
    if auth == datagrip::Auth::Pgpass {
        require_engine(connection, Engine::Postgres, "DataGrip's pgpass mode").map_err(|e| {
            e.hint("use --auth aws-toolkit for MySQL (the AWS Toolkit plugin signs the token)")
        })?;
    }
    let (user, region) = user_and_region(connection)?;
    if let Some(caveat) = clients::tunnel_caveat(connection) {
        eprintln!("rdsiam-helper: note: {caveat}");
    }
    if auth == datagrip::Auth::AwsToolkit
        && connection.engine == Engine::Postgres
        && user != user.to_lowercase()
    {
        eprintln!(
            "rdsiam-helper: warning: the AWS Toolkit lower-cases PostgreSQL user names; `{user}` will be signed as `{}`",
            user.to_lowercase()
        );
    }
    let project = write.map(|w| {
        w.map(Path::to_path_buf)
            .unwrap_or_else(|| PathBuf::from("."))
    });
    let shared_path = project.as_ref().map(|p| p.join(".idea/dataSources.xml"));
    let existing_shared = shared_path
        .as_ref()
        .and_then(|p| std::fs::read_to_string(p).ok())
        .unwrap_or_default();
    let uuid = datagrip::existing_uuid(&existing_shared, name(connection))
        .unwrap_or_else(|| datagrip::stable_uuid(name(connection)));
    let ca = clients::ca_bundle(connection);
    let source = datagrip::data_source(&datagrip::Inputs {
        connection,
        user: &user,
        region: &region,
        ca_bundle: &ca,
        auth,
        uuid,
    })?;
    let (Some(project), Some(shared_path)) = (project, shared_path) else {
        print(&source.clipboard())?;
        eprintln!(
            "rdsiam-helper: copy the text above, then in DataGrip: Database Explorer > + > Import from Clipboard"
        );
        pgpass_reminder(auth == datagrip::Auth::Pgpass, connection);
        return Ok(0);
    };
    merge_into(&shared_path, Secrecy::Plain, |existing| {
        datagrip::merge(
            existing,
            &shared_path,
            datagrip::SHARED_COMPONENT,
            &source.name,
            &source.shared_xml(),
        )
    })?;
    let local_path = project.join(".idea/dataSources.local.xml");
    merge_into(&local_path, Secrecy::Plain, |existing| {
        datagrip::merge(
            existing,
            &local_path,
            datagrip::LOCAL_COMPONENT,
            &source.name,
            &source.local_xml(),
        )
    })?;
    pgpass_reminder(auth == datagrip::Auth::Pgpass, connection);
    Ok(0)
}

fn pgpass_reminder(needed: bool, connection: &Connection) {
    if needed {
        eprintln!(
            "rdsiam-helper: the password comes from ~/.pgpass: run `rdsiam-helper setup pgpass {} --write` and the refresh timer",
            name(connection)
        );
    }
}

fn setup_pgadmin(connection: &Connection, write: Option<Option<&Path>>) -> Result<i32> {
    require_engine(connection, Engine::Postgres, "pgAdmin")?;
    let user = user(connection)?;
    let command = clients::helper_command(connection)?;
    let server = pgadmin::server(
        connection,
        name(connection),
        &user,
        &command,
        &clients::ca_bundle(connection),
    );
    match write {
        None => print(&pgadmin::document(server))?,
        Some(write) => {
            let path = target(write, || Ok(PathBuf::from("servers.json")))?;
            merge_into(&path, Secrecy::Plain, |existing| {
                pgadmin::merge(existing, &path, server)
            })?;
        }
    }
    eprintln!(
        "rdsiam-helper: import in pgAdmin desktop with Tools > Import/Export Servers, or `python setup.py load-servers servers.json`;"
    );
    eprintln!(
        "rdsiam-helper: in server mode pgAdmin drops PasswordExecCommand unless config_local.py sets ENABLE_SERVER_PASS_EXEC_CMD = True"
    );
    Ok(0)
}

fn setup_dbeaver(
    connection: &Connection,
    write: Option<Option<&Path>>,
    auth: Option<AuthMode>,
) -> Result<i32> {
    let auth = match auth.unwrap_or(AuthMode::Pgpass) {
        AuthMode::Pgpass => dbeaver::Auth::Pgpass,
        AuthMode::Command => dbeaver::Auth::ShellCommand,
        AuthMode::AwsToolkit => {
            return Err(Error::usage("DBeaver CE has no AWS IAM auth model")
                .hint("use --auth pgpass or --auth command"));
        }
    };
    require_engine(connection, Engine::Postgres, "`setup dbeaver`").map_err(|e| {
        e.hint("for MySQL in DBeaver, use the shell-command password model with the command from `rdsiam-helper setup tableplus NAME`")
    })?;
    let user = user(connection)?;
    let command = clients::helper_command(connection)?;
    let id = dbeaver::connection_id(name(connection));
    let entry = dbeaver::entry(
        connection,
        name(connection),
        &user,
        auth,
        &command,
        &clients::ca_bundle(connection),
    )?;
    match write {
        None => print(&dbeaver::merge(
            "",
            Path::new("data-sources.json"),
            &id,
            entry,
        )?)?,
        Some(write) => {
            let path = target(write, dbeaver::default_path)?;
            merge_into(&path, Secrecy::Plain, |existing| {
                dbeaver::merge(existing, &path, &id, entry)
            })?;
            eprintln!("rdsiam-helper: restart DBeaver (or File > Refresh) to see the connection");
        }
    }
    match auth {
        dbeaver::Auth::Pgpass => pgpass_reminder(true, connection),
        dbeaver::Auth::ShellCommand => eprintln!(
            "rdsiam-helper: the shell-command password model needs DBeaver 2026 with it enabled in Preferences; DBeaver asks you to approve the command once"
        ),
    }
    if let Some(caveat) = clients::tunnel_caveat(connection) {
        eprintln!("rdsiam-helper: note: {caveat}");
    }
    Ok(0)
}

fn setup_mysql(connection: &Connection, write: Option<Option<&Path>>) -> Result<i32> {
    require_engine(connection, Engine::Mysql, "the mysql option file")?;
    let user = user(connection)?;
    let group = format!("client_{}", name(connection));
    let section = mysql::section(&group, &mysql::options(connection, &user, None, None));
    let Some(write) = write else {
        let command = clients::helper_command(connection)?;
        print(&format!(
            "# For ~/.my.cnf (both the MySQL and the MariaDB client read it; each ignores the other's loose- keys):\n{section}\n\
             # Connect (the token is passed in a private option file, never on the command line):\n\
             rdsiam-helper connect {0}\n\n\
             # Or by hand, with the group above; MYSQL_PWD keeps the token out of `ps`\n\
             # (Oracle's mysql also needs --enable-cleartext-plugin; the MariaDB client does not):\n\
             MYSQL_PWD=\"$({command})\" mysql --defaults-group-suffix=_{0}\n",
            name(connection)
        ))?;
        return Ok(0);
    };
    let path = target(write, mysql::default_path)?;
    merge_into(&path, Secrecy::Plain, |existing| {
        clients::ini::merge_section(existing, &path, Dialect::MySql, &group, &section)
    })?;
    Ok(0)
}
