//! `proxy NAME...`: checks what the command line and the config say (a listening address for
//! each connection, loopback unless allowed otherwise), then hands the listeners to the proxy.

use crate::cli::ProxyArgs;
use crate::config::Config;
use crate::error::{Error, Result};
use crate::local_password::LocalPassword;
use crate::proxy::access::Access;
use crate::proxy::{self, Options, Target};
use crate::report;
use crate::values::{Port, Wire};
use std::net::{Ipv4Addr, SocketAddr};
use std::path::{Path, PathBuf};

pub fn run(config: &Config, args: &ProxyArgs) -> Result<i32> {
    let password_file = password_file(config, args)?;
    if args.allow_non_loopback && !args.allow_unauthenticated && password_file.is_none() {
        return Err(Error::usage(
            "--allow-non-loopback needs a way to tell who connects: clients from other machines have no local user to check",
        )
        .hint("add --local-password-file PATH (clients give its content as their password), or --allow-unauthenticated where the network itself is private (a pod's own network namespace)"));
    }
    if args.listen.is_some() && args.names.len() > 1 {
        return Err(
            Error::usage("--listen gives one address, for one connection").hint(
                "for several connections, set `local_port` in each one's table of the config file",
            ),
        );
    }
    let mut targets: Vec<Target> = Vec::new();
    for name in &args.names {
        let connection = config.get(name)?.clone();
        let listen = listen_address(args, name, connection.local_port.map(Port::get))?;
        if let Some(other) = targets
            .iter()
            .find(|t| t.listen == listen || t.name == *name)
        {
            return Err(Error::usage(format!(
                "`{name}` and `{}` would share the address {listen}",
                other.name
            ))
            .hint("name each connection once, and give each its own local_port"));
        }
        let unix_socket = match connection.engine.wire() {
            Wire::Postgres => args.unix_socket.clone(),
            Wire::Mysql => {
                if args.unix_socket.is_some() {
                    report::warn(format_args!(
                        "--unix-socket serves PostgreSQL connections; `{name}` (MySQL) is served on {listen} only"
                    ));
                }
                None
            }
        };
        targets.push(Target {
            name: name.clone(),
            connection,
            listen,
            unix_socket,
            negotiation: args.sslnegotiation,
        });
    }
    let options = Options {
        max_connections: args.max_connections,
        max_sigterm_delay: args.max_sigterm_delay.into(),
        health_check: args.health_check,
        quitquitquit: args.quitquitquit,
        quit_on_idle: args.quit_on_idle.map(Into::into),
        structured_logs: args.structured_logs,
        server_reuse: (!args.no_server_reuse).then(|| args.server_idle_timeout.into()),
    };
    proxy::run(targets, options, access(args, password_file.as_deref())?)
}

/// `--local-password-file`, else the served connections' `local_password_file` (the key
/// `setup --via-proxy` reads too). The proxy has one for all its listeners.
fn password_file(config: &Config, args: &ProxyArgs) -> Result<Option<PathBuf>> {
    if let Some(path) = &args.local_password_file {
        return Ok(Some(path.clone()));
    }
    let mut found: Option<(&str, PathBuf)> = None;
    for name in &args.names {
        let Some(path) = config.get(name)?.local_password_file.clone() else {
            continue;
        };
        match &found {
            Some((other, first)) if *first != path => {
                return Err(Error::usage(format!(
                    "`{other}` and `{name}` name different local_password_file files; one proxy has one local password"
                ))
                .hint("name the same file in both, run a proxy for each, or give --local-password-file"));
            }
            Some(_) => {}
            None => found = Some((name.as_str(), path)),
        }
    }
    Ok(found.map(|(_, path)| path))
}

/// Who gets in: by default the proxy's owner only; said out loud when it is more.
fn access(args: &ProxyArgs, password_file: Option<&Path>) -> Result<Access> {
    let owner_checked = !(args.allow_any_local_user || args.allow_unauthenticated);
    if let Some(why) = proxy::owner_uncheckable()
        && owner_checked
        && password_file.is_none()
    {
        return Err(Error::usage(format!(
            "the proxy cannot let in only its owner here: {why}"
        ))
        .hint("give clients a password with --local-password-file FILE (it is created if missing)")
        .hint("or let every local user in with --allow-any-local-user"));
    }
    let password = match password_file {
        Some(path) => {
            let (password, created) = LocalPassword::load_or_create(path)?;
            if created {
                report::warn(format_args!(
                    "wrote a new local password to {}: clients that are not yours give it as their password",
                    path.display()
                ));
            }
            Some(password)
        }
        None => None,
    };
    let check_owner = !(args.allow_any_local_user || args.allow_unauthenticated);
    match (check_owner, &password) {
        (false, None) => report::warn(format_args!(
            "every user who can reach the proxy gets in as the connection's user (--allow-any-local-user / --allow-unauthenticated)"
        )),
        (false, Some(p)) => report::warn(format_args!(
            "the uid check is off: every client must give the password in {}",
            p.path.display()
        )),
        _ => {}
    }
    Ok(Access::new(check_owner, password))
}

/// `--listen`, else 127.0.0.1 and the connection's `local_port`.
fn listen_address(args: &ProxyArgs, name: &str, local_port: Option<u16>) -> Result<SocketAddr> {
    let address = match (args.listen, local_port) {
        (Some(address), _) => address,
        (None, Some(port)) => SocketAddr::from((Ipv4Addr::LOCALHOST, port)),
        (None, None) => {
            return Err(Error::usage(format!(
                "`{name}` has no local_port and no --listen was given"
            ))
            .hint(format!(
                "set `local_port = 15432` (a free port) in [connections.{name}], or give --listen 127.0.0.1:PORT"
            )));
        }
    };
    check_loopback(address, "--listen", args.allow_non_loopback)?;
    Ok(address)
}

/// Whoever reaches the proxy is logged in as the connection's user: loopback only, unless
/// the person says otherwise.
fn check_loopback(address: SocketAddr, what: &str, allowed: bool) -> Result<()> {
    if address.ip().is_loopback() || allowed {
        return Ok(());
    }
    Err(Error::usage(format!(
        "{what} {address} is not a loopback address: anyone who reaches it would be logged in without a password"
    ))
    .hint("listen on 127.0.0.1 (or ::1); or add --allow-non-loopback with --local-password-file PATH"))
}
