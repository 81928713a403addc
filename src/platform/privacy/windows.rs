//! Privacy on Windows: a protected DACL that grants the owner, SYSTEM and Administrators and
//! nobody else, with inheritance from the parent cut (the profile's folders grant more). It is
//! set on a folder right after it is made and on a file before any content is written.

use crate::error::{Error, Result};
use std::ffi::OsStr;
use std::os::windows::ffi::OsStrExt;
use std::path::Path;
use windows_sys::Win32::Foundation::{CloseHandle, HANDLE, LocalFree};
use windows_sys::Win32::Security::Authorization::{
    ConvertSidToStringSidW, ConvertStringSecurityDescriptorToSecurityDescriptorW,
    GetNamedSecurityInfoW, SDDL_REVISION_1, SE_FILE_OBJECT, SetNamedSecurityInfoW,
};
use windows_sys::Win32::Security::{
    ACCESS_ALLOWED_ACE, ACE_HEADER, ACL, DACL_SECURITY_INFORMATION, GetAce,
    GetSecurityDescriptorDacl, GetTokenInformation, OWNER_SECURITY_INFORMATION,
    PROTECTED_DACL_SECURITY_INFORMATION, PSECURITY_DESCRIPTOR, PSID, TOKEN_QUERY, TOKEN_USER,
    TokenUser,
};
use windows_sys::Win32::Storage::FileSystem::{
    DELETE, FILE_ADD_FILE, FILE_APPEND_DATA, FILE_DELETE_CHILD, FILE_READ_DATA, FILE_WRITE_DATA,
    WRITE_DAC, WRITE_OWNER,
};
use windows_sys::Win32::System::SystemServices::ACCESS_ALLOWED_ACE_TYPE;
use windows_sys::Win32::System::Threading::{GetCurrentProcess, OpenProcessToken};

const GENERIC_ALL: u32 = 0x1000_0000;
const GENERIC_WRITE: u32 = 0x4000_0000;
const GENERIC_READ: u32 = 0x8000_0000;
/// Any of these lets a grantee plant or change a file (FILE_ADD_FILE is FILE_WRITE_DATA's
/// meaning on a folder).
const WRITE_RIGHTS: u32 = FILE_WRITE_DATA
    | FILE_ADD_FILE
    | FILE_APPEND_DATA
    | FILE_DELETE_CHILD
    | DELETE
    | WRITE_DAC
    | WRITE_OWNER
    | GENERIC_WRITE
    | GENERIC_ALL;
const READ_RIGHTS: u32 = FILE_READ_DATA | GENERIC_READ | GENERIC_ALL;
/// SYSTEM, Administrators, OWNER RIGHTS and CREATOR OWNER: the accounts a private file may
/// still name besides the user.
const TRUSTED: [&str; 4] = ["S-1-5-18", "S-1-5-32-544", "S-1-3-4", "S-1-3-0"];

/// How a new file is created: private (a token, a secret) or with what its folder passes on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Access {
    private: bool,
}

impl Access {
    pub const PRIVATE: Access = Access { private: true };
}

/// A secret is private whatever the old file was; plain text gets what the folder passes on.
pub fn replacement_access(secret: bool, _old: Option<&std::fs::Metadata>) -> Access {
    Access { private: secret }
}

pub fn temp_file_in(
    dir: &Path,
    prefix: &str,
    access: Access,
) -> std::io::Result<tempfile::NamedTempFile> {
    let temp = tempfile::Builder::new().prefix(prefix).tempfile_in(dir)?;
    if access.private {
        set_owner_only(temp.path())?;
    }
    Ok(temp)
}

pub fn temp_dir_in(base: &Path, prefix: &str) -> std::io::Result<tempfile::TempDir> {
    let dir = tempfile::Builder::new().prefix(prefix).tempdir_in(base)?;
    set_owner_only(dir.path())?;
    Ok(dir)
}

/// Creates `dir` (and its parents) and makes the last one private if this call made it.
pub fn create_dir(dir: &Path) -> std::io::Result<()> {
    if dir.is_dir() {
        return Ok(());
    }
    std::fs::create_dir_all(dir)?;
    set_owner_only(dir)
}

/// A file others may open is left as it is on Windows: it inherits its folder's DACL, which
/// for a CA bundle under the profile is what other programs of the user read.
pub fn make_public(_path: &Path) -> std::io::Result<()> {
    Ok(())
}

/// The owner of `path` must be the user this process runs as.
pub fn check_owner(_meta: &std::fs::Metadata, path: &Path, what: &str) -> Result<()> {
    let facts = Facts::of(path).map_err(|e| Error::io("read the security of", path, e))?;
    let me = current_user_sid().map_err(|e| Error::io("read the user of", path, e))?;
    if facts.owner != me {
        return Err(Error::failure(format!(
            "the {what} {} belongs to {}, not to you ({me}); refusing to use it",
            path.display(),
            facts.owner
        ))
        .hint("point RDSIAM_HELPER_CACHE_DIR at a folder of your own"));
    }
    Ok(())
}

/// Nobody else may write in it (the owner is checked by `check_owner`). `tighten`: a folder
/// others may read is made owner-only rather than refused.
pub fn check_dir(dir: &Path, _meta: &std::fs::Metadata, tighten: bool) -> Result<()> {
    let facts = Facts::of(dir).map_err(|e| Error::io("read the security of", dir, e))?;
    if let Some(who) = facts.others_with(WRITE_RIGHTS) {
        return Err(Error::failure(format!(
            "the cache folder {} is writable by other users ({who} may write); refusing to use it",
            dir.display()
        ))
        .hint(format!(
            "remove the other users' access (`icacls \"{}\" /inheritance:r /grant:r %USERNAME%:F`), or set RDSIAM_HELPER_CACHE_DIR to a private folder",
            dir.display()
        )));
    }
    if tighten && facts.others_with(READ_RIGHTS).is_some() {
        let _ = set_owner_only(dir);
    }
    Ok(())
}

/// Whether the cache may trust the file: nobody but the user (and the system's own accounts)
/// may change it. Only write grants count here, unlike `owned_and_private`: every token file is
/// made owner-only before its content is written, so a read grant means someone with the right
/// to change its access list loosened it, which also lets them read it whatever we do; and Wine,
/// where the tests run, keeps no access lists and reports one made up from the Unix mode that
/// always lets everyone read.
pub fn is_private_file(_meta: &std::fs::Metadata, path: &Path) -> bool {
    Facts::of(path).is_ok_and(|facts| facts.others_with(WRITE_RIGHTS).is_none())
}

/// The user's own, and nobody else may read it.
pub fn owned_and_private(meta: &std::fs::Metadata, path: &Path) -> bool {
    check_owner(meta, path, "file").is_ok() && is_private_file(meta, path)
}

/// Who may use the file, for an error.
pub fn describe(_meta: &std::fs::Metadata, path: &Path) -> String {
    match Facts::of(path) {
        Ok(facts) => match facts.others_with(READ_RIGHTS) {
            Some(who) => format!("owner {}, readable by {who}", facts.owner),
            None => format!("owner {}", facts.owner),
        },
        Err(err) => format!("its access list cannot be read: {err}"),
    }
}

/// How to make a file private, for a hint.
pub fn make_private_hint(path: &Path) -> String {
    format!(
        "icacls \"{}\" /inheritance:r /grant:r %USERNAME%:F",
        path.display()
    )
}

/// The owner's SID and the grants of a file's DACL, as SID strings.
struct Facts {
    owner: String,
    /// `None`: no DACL at all, which grants everyone everything.
    grants: Option<Vec<(String, u32)>>,
    me: String,
}

impl Facts {
    fn of(path: &Path) -> std::io::Result<Facts> {
        let wide = wide(path.as_os_str());
        let mut owner: PSID = std::ptr::null_mut();
        let mut dacl: *mut ACL = std::ptr::null_mut();
        let mut descriptor: PSECURITY_DESCRIPTOR = std::ptr::null_mut();
        // SAFETY: every out pointer is valid; the descriptor is freed below.
        let status = unsafe {
            GetNamedSecurityInfoW(
                wide.as_ptr(),
                SE_FILE_OBJECT,
                OWNER_SECURITY_INFORMATION | DACL_SECURITY_INFORMATION,
                &mut owner,
                std::ptr::null_mut(),
                &mut dacl,
                std::ptr::null_mut(),
                &mut descriptor,
            )
        };
        if status != 0 {
            return Err(std::io::Error::from_raw_os_error(status as i32));
        }
        let _free = LocalBox(descriptor);
        let owner = sid_string(owner)?;
        let grants = if dacl.is_null() {
            None
        } else {
            Some(allowed_aces(dacl)?)
        };
        Ok(Facts {
            owner,
            grants,
            me: current_user_sid()?,
        })
    }

    /// Someone other than the user and the trusted accounts granted any of `rights`.
    fn others_with(&self, rights: u32) -> Option<String> {
        let Some(grants) = &self.grants else {
            return Some("everyone (the folder has no access list)".to_string());
        };
        grants
            .iter()
            .find(|(sid, mask)| {
                mask & rights != 0
                    && *sid != self.me
                    && *sid != self.owner
                    && !TRUSTED.contains(&sid.as_str())
            })
            .map(|(sid, _)| sid.clone())
    }
}

fn allowed_aces(dacl: *mut ACL) -> std::io::Result<Vec<(String, u32)>> {
    // SAFETY: `dacl` came from GetNamedSecurityInfoW and lives as long as its descriptor.
    let count = unsafe { (*dacl).AceCount };
    let mut grants = Vec::new();
    for index in 0..u32::from(count) {
        let mut ace: *mut core::ffi::c_void = std::ptr::null_mut();
        // SAFETY: index < AceCount; the ACE points into the DACL.
        if unsafe { GetAce(dacl, index, &mut ace) } == 0 {
            return Err(std::io::Error::last_os_error());
        }
        let header = unsafe { &*(ace as *const ACE_HEADER) };
        if u32::from(header.AceType) != ACCESS_ALLOWED_ACE_TYPE {
            continue;
        }
        let allowed = ace as *const ACCESS_ALLOWED_ACE;
        // SAFETY: an ACCESS_ALLOWED_ACE's SID starts at SidStart.
        let sid = unsafe { std::ptr::addr_of!((*allowed).SidStart) } as PSID;
        grants.push((sid_string(sid)?, unsafe { (*allowed).Mask }));
    }
    Ok(grants)
}

/// Replaces the DACL with one for the user, SYSTEM and Administrators, inheritance cut.
fn set_owner_only(path: &Path) -> std::io::Result<()> {
    let me = current_user_sid()?;
    let sddl = wide(OsStr::new(&format!(
        "D:P(A;OICI;FA;;;{me})(A;OICI;FA;;;SY)(A;OICI;FA;;;BA)"
    )));
    let mut descriptor: PSECURITY_DESCRIPTOR = std::ptr::null_mut();
    // SAFETY: a NUL-ended SDDL string; the descriptor is freed below.
    if unsafe {
        ConvertStringSecurityDescriptorToSecurityDescriptorW(
            sddl.as_ptr(),
            SDDL_REVISION_1,
            &mut descriptor,
            std::ptr::null_mut(),
        )
    } == 0
    {
        return Err(std::io::Error::last_os_error());
    }
    let _free = LocalBox(descriptor);
    let mut present = 0;
    let mut defaulted = 0;
    let mut dacl: *mut ACL = std::ptr::null_mut();
    // SAFETY: the descriptor is valid; the DACL points into it.
    if unsafe { GetSecurityDescriptorDacl(descriptor, &mut present, &mut dacl, &mut defaulted) }
        == 0
    {
        return Err(std::io::Error::last_os_error());
    }
    let target = wide(path.as_os_str());
    // SAFETY: a NUL-ended path and a valid DACL.
    let status = unsafe {
        SetNamedSecurityInfoW(
            target.as_ptr(),
            SE_FILE_OBJECT,
            DACL_SECURITY_INFORMATION | PROTECTED_DACL_SECURITY_INFORMATION,
            std::ptr::null_mut(),
            std::ptr::null_mut(),
            dacl,
            std::ptr::null(),
        )
    };
    if status != 0 {
        return Err(std::io::Error::from_raw_os_error(status as i32));
    }
    Ok(())
}

/// The SID of the user this process runs as, e.g. `S-1-5-21-...-1001`.
fn current_user_sid() -> std::io::Result<String> {
    let mut token: HANDLE = std::ptr::null_mut();
    // SAFETY: the pseudo handle of our own process; the token is closed below.
    if unsafe { OpenProcessToken(GetCurrentProcess(), TOKEN_QUERY, &mut token) } == 0 {
        return Err(std::io::Error::last_os_error());
    }
    let mut buffer = vec![0u64; 64];
    let mut length = 0;
    // SAFETY: the buffer is 512 bytes, aligned for TOKEN_USER, and holds a SID of at most 68.
    let ok = unsafe {
        GetTokenInformation(
            token,
            TokenUser,
            buffer.as_mut_ptr().cast(),
            (buffer.len() * 8) as u32,
            &mut length,
        )
    };
    let err = std::io::Error::last_os_error();
    // SAFETY: the token opened above.
    unsafe { CloseHandle(token) };
    if ok == 0 {
        return Err(err);
    }
    let user = buffer.as_ptr() as *const TOKEN_USER;
    // SAFETY: GetTokenInformation filled in a TOKEN_USER.
    sid_string(unsafe { (*user).User.Sid })
}

fn sid_string(sid: PSID) -> std::io::Result<String> {
    let mut text: *mut u16 = std::ptr::null_mut();
    // SAFETY: `sid` is a valid SID; the string is freed below.
    if unsafe { ConvertSidToStringSidW(sid, &mut text) } == 0 {
        return Err(std::io::Error::last_os_error());
    }
    let _free = LocalBox(text.cast());
    // SAFETY: a NUL-ended wide string.
    let length = (0..).take_while(|i| unsafe { *text.add(*i) } != 0).count();
    let slice = unsafe { std::slice::from_raw_parts(text, length) };
    Ok(String::from_utf16_lossy(slice))
}

fn wide(text: &OsStr) -> Vec<u16> {
    text.encode_wide().chain([0]).collect()
}

/// Memory the security API allocated with LocalAlloc, freed on drop.
struct LocalBox(*mut core::ffi::c_void);

impl Drop for LocalBox {
    fn drop(&mut self) {
        if !self.0.is_null() {
            // SAFETY: allocated by the API call that returned it.
            unsafe { LocalFree(self.0) };
        }
    }
}
