use std::path::Path;

/// What to lock for a write in `dir`: the folder itself. Its files are replaced by a rename,
/// so a lock on one would be on an inode that is gone, and a lock file beside it would litter
/// the user's home. Nothing else takes `flock` on a home or project folder.
pub fn folder_lock(dir: &Path) -> std::io::Result<std::fs::File> {
    std::fs::File::open(dir)
}
