//! Unix: SIGTERM and SIGINT stop the proxy, and libpq's Unix socket is served beside TCP.

use crate::error::{Error, Result};
use crate::proxy::peer::{self, Peer};
use crate::proxy::{Served, Shared, accept_failed, spawn_session};
use std::path::PathBuf;
use std::sync::Arc;
use tokio::net::UnixListener;

pub struct Signals {
    term: tokio::signal::unix::Signal,
    int: tokio::signal::unix::Signal,
}

impl Signals {
    pub fn new() -> Result<Signals> {
        use tokio::signal::unix::{SignalKind, signal};
        let handler = |kind| {
            signal(kind)
                .map_err(|e| Error::failure("cannot handle SIGTERM and SIGINT").caused_by(e))
        };
        Ok(Signals {
            term: handler(SignalKind::terminate())?,
            int: handler(SignalKind::interrupt())?,
        })
    }

    /// The next stop signal's name.
    pub async fn recv(&mut self) -> &'static str {
        tokio::select! {
            _ = self.term.recv() => "SIGTERM",
            _ = self.int.recv() => "SIGINT",
        }
    }
}

/// `DIR/.s.PGSQL.PORT`, where libpq looks for `psql -h DIR -p PORT`. The folder is made private
/// (0700): whoever can reach the socket gets in as the user.
pub fn bind(dir: &std::path::Path, port: u16) -> Result<(UnixListener, PathBuf)> {
    use std::os::unix::fs::{DirBuilderExt, PermissionsExt};
    match std::fs::symlink_metadata(dir) {
        // Another user's folder, even 0700: its owner could swap the socket for their own
        // and catch the next client's startup (and a password given to it).
        Ok(meta)
            if !meta.is_dir() || std::os::unix::fs::MetadataExt::uid(&meta) != peer::own_uid() =>
        {
            return Err(Error::failure(format!(
                "the socket folder {} is not a folder of yours (owner uid {})",
                dir.display(),
                std::os::unix::fs::MetadataExt::uid(&meta)
            ))
            .hint("name a folder you own, or a new one (it is created 0700)"));
        }
        Ok(meta) if meta.mode_bits() & 0o077 != 0 => {
            return Err(Error::failure(format!(
                "the socket folder {} is open to other users (mode {:o})",
                dir.display(),
                meta.mode_bits() & 0o777
            ))
            .hint(format!(
                "use a private folder: chmod 700 {0}, or name a new one (it is created 0700)",
                dir.display()
            )));
        }
        Ok(_) => {}
        Err(_) => std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(dir)
            .map_err(|e| Error::io("create the socket folder", dir, e))?,
    }
    let _ = std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700));
    let path = dir.join(format!(".s.PGSQL.{port}"));
    // A socket left by a proxy that was killed would make bind fail.
    if std::fs::symlink_metadata(&path).is_ok_and(|m| {
        use std::os::unix::fs::FileTypeExt;
        m.file_type().is_socket()
    }) {
        let _ = std::fs::remove_file(&path);
    }
    let listener = UnixListener::bind(&path).map_err(|e| Error::io("listen on", &path, e))?;
    Ok((listener, path))
}

trait ModeBits {
    fn mode_bits(&self) -> u32;
}

impl ModeBits for std::fs::Metadata {
    fn mode_bits(&self) -> u32 {
        std::os::unix::fs::PermissionsExt::mode(&self.permissions())
    }
}

pub async fn accept(listener: UnixListener, served: Arc<Served>, shared: Arc<Shared>) {
    loop {
        match listener.accept().await {
            Ok((stream, _)) => {
                let owner = match stream.peer_cred() {
                    Ok(cred) => Peer::Uid(cred.uid()),
                    Err(err) => {
                        Peer::Unknown(format!("the kernel did not say who connected: {err}"))
                    }
                };
                let shown = match &owner {
                    Peer::Uid(uid) => format!("unix (uid {uid})"),
                    Peer::Unknown(_) => "unix".to_string(),
                };
                spawn_session(stream, shown, owner, served.clone(), shared.clone())
            }
            Err(err) => accept_failed(&shared, &served, err).await,
        }
    }
}
