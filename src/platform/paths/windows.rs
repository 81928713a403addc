use std::path::PathBuf;

/// %APPDATA% (the roaming profile), where Windows programs keep per-user settings.
pub fn config_base() -> Option<PathBuf> {
    dirs::config_dir()
}

/// %LOCALAPPDATA%\rdsiam-helper\cache: machine-local (a token must not roam with the
/// profile), in a folder of its own beside anything else we keep there.
pub fn cache_dir() -> Option<PathBuf> {
    dirs::cache_dir().map(|local| local.join("rdsiam-helper").join("cache"))
}

/// libpq on Windows reads %APPDATA%\postgresql\pgpass.conf without PGPASSFILE.
pub fn pgpass() -> Option<PathBuf> {
    dirs::config_dir().map(|appdata| appdata.join("postgresql").join("pgpass.conf"))
}

/// And %APPDATA%\postgresql\.pg_service.conf without PGSERVICEFILE.
pub fn pg_service() -> Option<PathBuf> {
    dirs::config_dir().map(|appdata| appdata.join("postgresql").join(".pg_service.conf"))
}

pub const PGPASS_SHOWN: &str = "%APPDATA%\\postgresql\\pgpass.conf";
pub const PG_SERVICE_SHOWN: &str = "%APPDATA%\\postgresql\\.pg_service.conf";
