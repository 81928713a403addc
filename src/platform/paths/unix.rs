use std::path::PathBuf;

/// The folder that holds `rdsiam-helper/config.toml` (without XDG_CONFIG_HOME): ~/.config.
pub fn config_base() -> Option<PathBuf> {
    dirs::home_dir().map(|home| home.join(".config"))
}

/// $XDG_CACHE_HOME/rdsiam-helper, ~/.cache/rdsiam-helper, or ~/Library/Caches/rdsiam-helper.
pub fn cache_dir() -> Option<PathBuf> {
    dirs::cache_dir().map(|cache| cache.join("rdsiam-helper"))
}

/// libpq's password file without PGPASSFILE: ~/.pgpass.
pub fn pgpass() -> Option<PathBuf> {
    dirs::home_dir().map(|home| home.join(".pgpass"))
}

/// libpq's per-user service file without PGSERVICEFILE: ~/.pg_service.conf.
pub fn pg_service() -> Option<PathBuf> {
    dirs::home_dir().map(|home| home.join(".pg_service.conf"))
}

/// How the files are named in messages.
pub const PGPASS_SHOWN: &str = "~/.pgpass";
pub const PG_SERVICE_SHOWN: &str = "~/.pg_service.conf";
