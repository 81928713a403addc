//! Resolved connections of a large config file. Parsing TOML costs time in the size of the
//! whole file, so with hundreds of connections a cache hit would spend most of its time on
//! connections it does not use. The connection a command resolved is kept here, stamped with
//! the config file's identity (device, inode, size, modification and change times), and used
//! only while the file is unchanged; any edit makes the next call parse the file again.

use super::folder::{Cache, read_private_json, stem, write_private_json};
use crate::config::Connection;
use crate::platform::files::{self, Stamp};
use crate::report;
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

pub(super) const EXTENSION: &str = "connection";
const FORMAT_VERSION: u32 = 2;
/// Below this size the file is parsed every time: it costs less than another file read.
pub const WORTH_KEEPING: u64 = 16 * 1024;

#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct Entry {
    version: u32,
    /// The program's version: another build may resolve the same file differently.
    program: String,
    config: PathBuf,
    stamp: Stamp,
    connection: Connection,
}

/// The file's identity, if the file is large enough to be worth keeping connections of.
pub fn stamp_if_large(config: &Path) -> Option<std::fs::Metadata> {
    std::fs::metadata(config)
        .ok()
        .filter(|meta| meta.is_file() && meta.len() >= WORTH_KEEPING)
}

impl Cache {
    fn connection_path(&self, config: &Path, name: &str) -> PathBuf {
        // HOME is part of what resolution reads (`~` in ca_bundle).
        let home = std::env::var("HOME").unwrap_or_default();
        let config = config.display().to_string();
        let stem = stem(&["connection", &config, name, &home]);
        self.dir().join(format!("{stem}.{EXTENSION}"))
    }

    /// `name` as resolved from `config` when the file has not changed since (`meta` is its
    /// metadata now).
    pub fn resolved_connection(
        &self,
        config: &Path,
        meta: &std::fs::Metadata,
        name: &str,
    ) -> Option<Connection> {
        let path = self.connection_path(config, name);
        let entry: Entry = read_private_json(&path, 64 * 1024).ok().flatten()?;
        let usable = entry.version == FORMAT_VERSION
            && entry.program == env!("CARGO_PKG_VERSION")
            && entry.config == config
            && entry.stamp == files::stamp(meta)
            && entry.connection.name().map(|n| n.as_str()) == Some(name);
        if usable {
            report::verbose(format_args!(
                "connection `{name}`: resolved earlier from the unchanged {} ({})",
                config.display(),
                path.display()
            ));
        }
        usable.then_some(entry.connection)
    }

    /// Keeps `connection`, resolved from `config` as it was when `meta` was read. Failing to
    /// write costs only the next call a parse.
    pub fn keep_connection(
        &self,
        config: &Path,
        meta: &std::fs::Metadata,
        connection: &Connection,
    ) {
        let Some(name) = connection.name() else {
            return;
        };
        if !self.is_writable() {
            return;
        }
        let entry = Entry {
            version: FORMAT_VERSION,
            program: env!("CARGO_PKG_VERSION").to_string(),
            config: config.to_path_buf(),
            stamp: files::stamp(meta),
            connection: connection.clone(),
        };
        let path = self.connection_path(config, name);
        if let Err(err) = write_private_json(self.dir(), &path, &entry) {
            report::verbose(format_args!(
                "cannot keep the resolved connection in {}: {}",
                path.display(),
                crate::error::describe_io(&err)
            ));
        }
    }
}
