//! Windows: Ctrl-C and Ctrl-Break stop the proxy (a service is stopped the same way by its
//! wrapper); there is no libpq Unix socket to serve.

use crate::error::{Error, Result};
use crate::proxy::{Served, Shared};
use std::path::{Path, PathBuf};
use std::sync::Arc;

pub struct Signals {
    c: tokio::signal::windows::CtrlC,
    brk: tokio::signal::windows::CtrlBreak,
}

impl Signals {
    pub fn new() -> Result<Signals> {
        let failed = |e| Error::failure("cannot handle Ctrl-C and Ctrl-Break").caused_by(e);
        Ok(Signals {
            c: tokio::signal::windows::ctrl_c().map_err(failed)?,
            brk: tokio::signal::windows::ctrl_break().map_err(failed)?,
        })
    }

    /// The next stop signal's name.
    pub async fn recv(&mut self) -> &'static str {
        tokio::select! {
            _ = self.c.recv() => "Ctrl-C",
            _ = self.brk.recv() => "Ctrl-Break",
        }
    }
}

/// No value: a Unix socket listener never exists on Windows.
pub enum UnixListener {}

pub fn bind(dir: &Path, _port: u16) -> Result<(UnixListener, PathBuf)> {
    Err(Error::usage(format!(
        "--unix-socket {}: Windows libpq has no Unix-socket connections to serve",
        dir.display()
    ))
    .hint("connect over TCP to the proxy's --listen address instead"))
}

pub async fn accept(listener: UnixListener, _served: Arc<Served>, _shared: Arc<Shared>) {
    match listener {}
}
