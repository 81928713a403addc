use sha2::{Digest, Sha256};
use std::path::Path;

/// What to lock for a write in `dir`: a folder cannot be locked on Windows, and a lock file
/// beside the user's file would litter their profile, so it is a file in the user's own temp
/// folder (%TEMP% is per user) named after the folder's full path.
pub fn folder_lock(dir: &Path) -> std::io::Result<std::fs::File> {
    let full = std::fs::canonicalize(dir)?;
    let digest = Sha256::digest(full.to_string_lossy().to_lowercase().as_bytes());
    let name: String = digest.iter().take(16).map(|b| format!("{b:02x}")).collect();
    let locks = std::env::temp_dir().join("rdsiam-helper-locks");
    crate::platform::privacy::create_dir(&locks)?;
    crate::platform::files::open_lock_file(&locks.join(format!("{name}.lock")))
}
