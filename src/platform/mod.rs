//! What differs between Unix and Windows, one room per concern. Each room's `mod.rs` picks
//! `unix.rs` or `windows.rs` behind one API; nothing outside `platform/` names a platform.

pub mod files;
pub mod locking;
pub mod paths;
pub mod privacy;
pub mod process;
pub mod quoting;
pub mod timer;
