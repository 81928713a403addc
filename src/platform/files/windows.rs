use super::Stamp;
use std::fs::{File, OpenOptions};
use std::os::windows::fs::{MetadataExt, OpenOptionsExt};
use std::path::Path;
use windows_sys::Win32::Foundation::ERROR_CANT_RESOLVE_FILENAME;
use windows_sys::Win32::Storage::FileSystem::{
    FILE_ATTRIBUTE_REPARSE_POINT, FILE_FLAG_OPEN_REPARSE_POINT,
};

/// Opens the reparse point itself, not its target, and refuses it: a symbolic link or a
/// junction at `path` fails with an error that `is_link_error` recognises.
pub fn open_no_follow(path: &Path) -> std::io::Result<File> {
    refuse_reparse_point(
        OpenOptions::new()
            .read(true)
            .custom_flags(FILE_FLAG_OPEN_REPARSE_POINT)
            .open(path)?,
    )
}

pub fn open_lock_file(path: &Path) -> std::io::Result<File> {
    refuse_reparse_point(
        OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .custom_flags(FILE_FLAG_OPEN_REPARSE_POINT)
            .open(path)?,
    )
}

/// Windows opens no FIFO by path: a plain open.
pub fn open_nonblocking(path: &Path) -> std::io::Result<File> {
    File::open(path)
}

fn refuse_reparse_point(file: File) -> std::io::Result<File> {
    if file.metadata()?.file_attributes() & FILE_ATTRIBUTE_REPARSE_POINT != 0 {
        return Err(std::io::Error::from_raw_os_error(
            ERROR_CANT_RESOLVE_FILENAME as i32,
        ));
    }
    Ok(file)
}

pub fn is_link_error(err: &std::io::Error) -> bool {
    err.raw_os_error() == Some(ERROR_CANT_RESOLVE_FILENAME as i32)
}

pub fn kind(meta: &std::fs::Metadata) -> &'static str {
    if meta.is_dir() {
        "a folder"
    } else {
        "a special file"
    }
}

/// Windows has no inode through std: size and the two times stand in (any save changes the
/// last write time).
pub fn stamp(meta: &std::fs::Metadata) -> Stamp {
    Stamp {
        dev: 0,
        ino: 0,
        size: meta.file_size(),
        mtime_ns: i128::from(meta.last_write_time()) * 100,
        ctime_ns: i128::from(meta.creation_time()) * 100,
    }
}
