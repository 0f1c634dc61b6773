//! Files and folders that hold secrets: created so that only their owner may
//! read them, and a secret file that others can read is refused. On Unix that
//! is mode 600/700. On Windows a file or folder that others could read gets
//! an access list that names the current user alone and inherits nothing;
//! one that only the user, SYSTEM and Administrators can read is left as is.

use std::fs::File;
use std::io;
use std::path::Path;

/// Why a secret file is refused: who else can read it, and the command that fixes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Exposure {
    /// What lets others read it, e.g. `mode 644` or `BUILTIN\Users may read it`.
    pub detail: String,
    /// The command a field engineer runs to make it owner-only.
    pub fix: String,
}

/// Creates (or truncates) `path` for writing, readable and writable by its owner only.
pub fn create_file(path: &Path) -> io::Result<File> {
    imp::create_file(path)
}

/// Creates `path` and any missing parents; the folder itself is owner-only.
pub fn create_dir(path: &Path) -> io::Result<()> {
    imp::create_dir(path)
}

/// From now on, everything this process and its children create (the
/// browser's downloads, its profile, every report) is owner-only from its
/// first byte, not fixed up afterwards. Unix only: on Windows, files inherit
/// the owner-only access list of the folder they are made in.
pub fn private_umask() {
    #[cfg(unix)]
    // SAFETY: umask(2) only sets this process's file mode creation mask; it cannot fail.
    unsafe {
        libc::umask(0o077);
    }
}

/// Makes an existing file or folder owner-only.
pub fn restrict(path: &Path) -> io::Result<()> {
    imp::restrict(path)
}

/// `None` when only the owner (and, on Windows, SYSTEM and Administrators)
/// may read `path`; otherwise who else can, and how to fix it.
pub fn exposure(path: &Path) -> io::Result<Option<Exposure>> {
    imp::exposure(path)
}

/// The Unix verdict on a file's mode bits.
pub fn mode_exposure(path: &Path, mode: u32) -> Option<Exposure> {
    let mode = mode & 0o777;
    (mode & 0o077 != 0).then(|| Exposure {
        detail: format!("mode {mode:o}"),
        fix: format!("chmod 600 {}", path.display()),
    })
}

/// Whom an allow entry of a Windows access list names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Trustee {
    CurrentUser,
    System,
    Administrators,
    /// Anyone else, by account name (or SID when it has none).
    Other(String),
}

/// One allow entry of a Windows access list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AllowEntry {
    pub trustee: Trustee,
    pub mask: u32,
    /// Applies to what is created inside a folder, not to the object itself.
    pub inherit_only: bool,
}

/// Rights that read the file or let the holder give itself read: FILE_READ_DATA,
/// WRITE_DAC, WRITE_OWNER, MAXIMUM_ALLOWED, GENERIC_ALL, GENERIC_READ.
pub const READ_RIGHTS: u32 =
    0x0000_0001 | 0x0004_0000 | 0x0008_0000 | 0x0200_0000 | 0x1000_0000 | 0x8000_0000;

/// The Windows verdict on a file's access list; `None` for a NULL DACL, which lets anyone in.
pub fn acl_exposure(path: &Path, dacl: Option<&[AllowEntry]>) -> Option<Exposure> {
    let fix = format!(
        "icacls \"{}\" /inheritance:r /grant:r \"%USERNAME%:F\"",
        path.display()
    );
    let Some(entries) = dacl else {
        return Some(Exposure {
            detail: "it has no access list, so everyone may read it".into(),
            fix,
        });
    };
    let mut others: Vec<&str> = Vec::new();
    for e in entries {
        if e.inherit_only || e.mask & READ_RIGHTS == 0 {
            continue;
        }
        if let Trustee::Other(name) = &e.trustee
            && !others.contains(&name.as_str())
        {
            others.push(name);
        }
    }
    (!others.is_empty()).then(|| Exposure {
        detail: format!("{} may read it", others.join(", ")),
        fix,
    })
}

#[cfg(unix)]
mod imp {
    use super::*;
    use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt, PermissionsExt};

    pub fn create_file(path: &Path) -> io::Result<File> {
        std::fs::OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .mode(0o600)
            .open(path)
    }

    pub fn create_dir(path: &Path) -> io::Result<()> {
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(path)
    }

    pub fn restrict(path: &Path) -> io::Result<()> {
        let mode = if std::fs::metadata(path)?.is_dir() {
            0o700
        } else {
            0o600
        };
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode))
    }

    pub fn exposure(path: &Path) -> io::Result<Option<Exposure>> {
        let mode = std::fs::metadata(path)?.permissions().mode();
        Ok(mode_exposure(path, mode))
    }
}

#[cfg(windows)]
mod imp {
    use super::*;
    use std::os::windows::ffi::OsStrExt;
    use std::os::windows::fs::OpenOptionsExt;
    use std::os::windows::io::AsRawHandle;

    use windows_sys::Win32::Foundation::{
        CloseHandle, ERROR_SUCCESS, GENERIC_WRITE, HANDLE, LocalFree, WIN32_ERROR,
    };
    use windows_sys::Win32::Security::Authorization::{
        ConvertSidToStringSidW, GetNamedSecurityInfoW, GetSecurityInfo, SE_FILE_OBJECT,
        SetNamedSecurityInfoW, SetSecurityInfo,
    };
    use windows_sys::Win32::Security::{
        ACCESS_ALLOWED_ACE, ACE_HEADER, ACL, ACL_REVISION, ACL_SIZE_INFORMATION, AclSizeInformation,
        AddAccessAllowedAceEx, CONTAINER_INHERIT_ACE, DACL_SECURITY_INFORMATION, EqualSid, GetAce,
        GetAclInformation, GetLengthSid, GetTokenInformation, INHERIT_ONLY_ACE, InitializeAcl,
        IsWellKnownSid, LookupAccountSidW, OBJECT_INHERIT_ACE, PROTECTED_DACL_SECURITY_INFORMATION,
        PSECURITY_DESCRIPTOR, PSID, SID_NAME_USE, TOKEN_QUERY, TOKEN_USER, TokenUser,
        WinBuiltinAdministratorsSid, WinLocalSystemSid,
    };
    use windows_sys::Win32::Storage::FileSystem::{FILE_ALL_ACCESS, READ_CONTROL, WRITE_DAC};
    use windows_sys::Win32::System::SystemServices::ACCESS_ALLOWED_ACE_TYPE;
    use windows_sys::Win32::System::Threading::{GetCurrentProcess, OpenProcessToken};

    fn wide(path: &Path) -> Vec<u16> {
        path.as_os_str().encode_wide().chain(Some(0)).collect()
    }

    fn win32(code: WIN32_ERROR) -> io::Result<()> {
        if code == ERROR_SUCCESS {
            Ok(())
        } else {
            Err(io::Error::from_raw_os_error(code as i32))
        }
    }

    /// The current user's SID, in a buffer that keeps it alive.
    struct UserSid(Vec<u64>);

    impl UserSid {
        fn current() -> io::Result<Self> {
            let mut token: HANDLE = std::ptr::null_mut();
            // SAFETY: the pseudo-handle of our own process; `token` receives a handle we close below.
            if unsafe { OpenProcessToken(GetCurrentProcess(), TOKEN_QUERY, &mut token) } == 0 {
                return Err(io::Error::last_os_error());
            }
            let mut len = 0u32;
            // SAFETY: asks for the size only; no buffer is written.
            unsafe { GetTokenInformation(token, TokenUser, std::ptr::null_mut(), 0, &mut len) };
            let mut buf = vec![0u64; (len as usize).div_ceil(8).max(1)];
            // SAFETY: `buf` holds `len` bytes, aligned for TOKEN_USER.
            let ok = unsafe { GetTokenInformation(token, TokenUser, buf.as_mut_ptr().cast(), len, &mut len) };
            let err = io::Error::last_os_error();
            // SAFETY: the token handle opened above, closed once.
            unsafe { CloseHandle(token) };
            if ok == 0 {
                return Err(err);
            }
            Ok(Self(buf))
        }

        fn sid(&self) -> PSID {
            // SAFETY: the buffer starts with the TOKEN_USER that GetTokenInformation wrote;
            // its SID points inside the same buffer.
            unsafe { (*(self.0.as_ptr() as *const TOKEN_USER)).User.Sid }
        }
    }

    /// A protected access list with one entry: full control for the current user.
    fn owner_only_acl(user: &UserSid, folder: bool) -> io::Result<Vec<u64>> {
        // SAFETY: a valid SID from the token.
        let sid_len = unsafe { GetLengthSid(user.sid()) } as usize;
        let size = std::mem::size_of::<ACL>() + std::mem::size_of::<ACCESS_ALLOWED_ACE>() + sid_len;
        let mut acl = vec![0u64; size.div_ceil(8)];
        let acl_ptr: *mut ACL = acl.as_mut_ptr().cast();
        // SAFETY: `acl` holds `size` bytes, enough for the header and one entry.
        if unsafe { InitializeAcl(acl_ptr, size as u32, ACL_REVISION) } == 0 {
            return Err(io::Error::last_os_error());
        }
        // A folder passes the entry on to what is created inside it.
        let flags = if folder {
            OBJECT_INHERIT_ACE | CONTAINER_INHERIT_ACE
        } else {
            0
        };
        // SAFETY: the ACL initialised above has room for this entry.
        if unsafe { AddAccessAllowedAceEx(acl_ptr, ACL_REVISION, flags, FILE_ALL_ACCESS, user.sid()) } == 0 {
            return Err(io::Error::last_os_error());
        }
        Ok(acl)
    }

    const PROTECTED_DACL: u32 = DACL_SECURITY_INFORMATION | PROTECTED_DACL_SECURITY_INFORMATION;

    pub fn create_file(path: &Path) -> io::Result<File> {
        let user = UserSid::current()?;
        // Nobody else may open it until the access list is right.
        let file = std::fs::OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .access_mode(GENERIC_WRITE | WRITE_DAC | READ_CONTROL)
            .share_mode(0)
            .open(path)?;
        // A list that is owner-only already (inherited from the user's own folder) stays as it is.
        if exposure_of(path, &user, Some(file.as_raw_handle()))?.is_none() {
            return shared_for_reading(file, path);
        }
        let acl = owner_only_acl(&user, false)?;
        // SAFETY: a handle we hold open with WRITE_DAC, and an ACL that outlives the call.
        win32(unsafe {
            SetSecurityInfo(
                file.as_raw_handle(),
                SE_FILE_OBJECT,
                PROTECTED_DACL,
                std::ptr::null_mut(),
                std::ptr::null_mut(),
                acl.as_ptr().cast(),
                std::ptr::null(),
            )
        })?;
        shared_for_reading(file, path)
    }

    /// Once its access list is right, the file is opened again so that its
    /// owner may read it while it is written (a recording, a log), as on Unix.
    fn shared_for_reading(exclusive: File, path: &Path) -> io::Result<File> {
        drop(exclusive);
        std::fs::OpenOptions::new()
            .write(true)
            .share_mode(windows_sys::Win32::Storage::FileSystem::FILE_SHARE_READ)
            .open(path)
    }

    pub fn create_dir(path: &Path) -> io::Result<()> {
        std::fs::create_dir_all(path)?;
        set_owner_only(path, true)
    }

    pub fn restrict(path: &Path) -> io::Result<()> {
        set_owner_only(path, std::fs::metadata(path)?.is_dir())
    }

    fn set_owner_only(path: &Path, folder: bool) -> io::Result<()> {
        let user = UserSid::current()?;
        if exposure_of(path, &user, None)?.is_none() {
            return Ok(());
        }
        let acl = owner_only_acl(&user, folder)?;
        set_protected_dacl(path, &acl)
    }

    /// Replaces the access list of `path` with `acl`, protected from inheriting
    /// its folder's entries.
    fn set_protected_dacl(path: &Path, acl: &[u64]) -> io::Result<()> {
        let name = wide(path);
        // SAFETY: a NUL-terminated path and an ACL that outlive the call.
        win32(unsafe {
            SetNamedSecurityInfoW(
                name.as_ptr(),
                SE_FILE_OBJECT,
                PROTECTED_DACL,
                std::ptr::null_mut(),
                std::ptr::null_mut(),
                acl.as_ptr().cast(),
                std::ptr::null(),
            )
        })
    }

    pub fn exposure(path: &Path) -> io::Result<Option<Exposure>> {
        exposure_of(path, &UserSid::current()?, None)
    }

    /// Reads the access list through `handle` when there is one, else by path.
    fn exposure_of(path: &Path, user: &UserSid, handle: Option<HANDLE>) -> io::Result<Option<Exposure>> {
        let mut dacl: *mut ACL = std::ptr::null_mut();
        let mut sd: PSECURITY_DESCRIPTOR = std::ptr::null_mut();
        let code = match handle {
            // SAFETY: a handle opened with READ_CONTROL; out-pointers to locals.
            Some(h) => unsafe {
                GetSecurityInfo(
                    h,
                    SE_FILE_OBJECT,
                    DACL_SECURITY_INFORMATION,
                    std::ptr::null_mut(),
                    std::ptr::null_mut(),
                    &mut dacl,
                    std::ptr::null_mut(),
                    &mut sd,
                )
            },
            None => {
                let name = wide(path);
                // SAFETY: a NUL-terminated path; out-pointers to locals.
                unsafe {
                    GetNamedSecurityInfoW(
                        name.as_ptr(),
                        SE_FILE_OBJECT,
                        DACL_SECURITY_INFORMATION,
                        std::ptr::null_mut(),
                        std::ptr::null_mut(),
                        &mut dacl,
                        std::ptr::null_mut(),
                        &mut sd,
                    )
                }
            }
        };
        win32(code)?;
        let entries = if dacl.is_null() {
            Ok(None)
        } else {
            allow_entries(dacl, user).map(Some)
        };
        // SAFETY: the descriptor the call above allocated; `dacl` points into it and is not used after.
        unsafe { LocalFree(sd) };
        Ok(acl_exposure(path, entries?.as_deref()))
    }

    fn allow_entries(dacl: *mut ACL, user: &UserSid) -> io::Result<Vec<AllowEntry>> {
        let mut info = ACL_SIZE_INFORMATION::default();
        // SAFETY: a valid ACL and an out-struct of the size given.
        if unsafe {
            GetAclInformation(
                dacl,
                (&mut info as *mut ACL_SIZE_INFORMATION).cast(),
                std::mem::size_of::<ACL_SIZE_INFORMATION>() as u32,
                AclSizeInformation,
            )
        } == 0
        {
            return Err(io::Error::last_os_error());
        }
        let mut entries = Vec::new();
        for i in 0..info.AceCount {
            let mut ace: *mut core::ffi::c_void = std::ptr::null_mut();
            // SAFETY: i is below the ACL's entry count.
            if unsafe { GetAce(dacl, i, &mut ace) } == 0 {
                return Err(io::Error::last_os_error());
            }
            // SAFETY: every entry starts with an ACE_HEADER.
            let header = unsafe { *(ace as *const ACE_HEADER) };
            // Deny entries only take rights away; other kinds do not occur on files.
            if u32::from(header.AceType) != ACCESS_ALLOWED_ACE_TYPE {
                continue;
            }
            let allowed = ace as *const ACCESS_ALLOWED_ACE;
            // SAFETY: an allow entry is an ACCESS_ALLOWED_ACE whose SID starts at SidStart.
            let (mask, sid) = unsafe { ((*allowed).Mask, (&raw const (*allowed).SidStart) as PSID) };
            entries.push(AllowEntry {
                trustee: trustee(sid, user),
                mask,
                inherit_only: u32::from(header.AceFlags) & INHERIT_ONLY_ACE != 0,
            });
        }
        Ok(entries)
    }

    fn trustee(sid: PSID, user: &UserSid) -> Trustee {
        // SAFETY: both SIDs are valid for the duration of these calls.
        unsafe {
            if EqualSid(sid, user.sid()) != 0 {
                Trustee::CurrentUser
            } else if IsWellKnownSid(sid, WinLocalSystemSid) != 0 {
                Trustee::System
            } else if IsWellKnownSid(sid, WinBuiltinAdministratorsSid) != 0 {
                Trustee::Administrators
            } else {
                Trustee::Other(account_name(sid))
            }
        }
    }

    /// `DOMAIN\name` of a SID, or the SID as text when it names no account.
    fn account_name(sid: PSID) -> String {
        let mut name = [0u16; 256];
        let mut domain = [0u16; 256];
        let (mut name_len, mut domain_len) = (name.len() as u32, domain.len() as u32);
        let mut kind: SID_NAME_USE = 0;
        // SAFETY: buffers with their lengths in characters.
        let ok = unsafe {
            LookupAccountSidW(
                std::ptr::null(),
                sid,
                name.as_mut_ptr(),
                &mut name_len,
                domain.as_mut_ptr(),
                &mut domain_len,
                &mut kind,
            )
        };
        if ok != 0 {
            let name = String::from_utf16_lossy(&name[..name_len as usize]);
            let domain = String::from_utf16_lossy(&domain[..domain_len as usize]);
            return if domain.is_empty() {
                name
            } else {
                format!("{domain}\\{name}")
            };
        }
        let mut text: *mut u16 = std::ptr::null_mut();
        // SAFETY: `text` receives a LocalAlloc'd NUL-terminated string, freed below.
        if unsafe { ConvertSidToStringSidW(sid, &mut text) } == 0 || text.is_null() {
            return "an unknown account".into();
        }
        let mut len = 0;
        // SAFETY: the string is NUL-terminated.
        while unsafe { *text.add(len) } != 0 {
            len += 1;
        }
        // SAFETY: `len` characters were just read from it.
        let out = String::from_utf16_lossy(unsafe { std::slice::from_raw_parts(text, len) });
        // SAFETY: allocated by ConvertSidToStringSidW.
        unsafe { LocalFree(text.cast()) };
        out
    }

    /// Test support: gives Everyone read access next to the owner, as a share or a copy might.
    #[cfg(test)]
    pub fn expose_to_everyone(path: &Path) -> io::Result<()> {
        use windows_sys::Win32::Foundation::GENERIC_READ;
        use windows_sys::Win32::Security::{CreateWellKnownSid, WinWorldSid};
        let user = UserSid::current()?;
        let mut everyone = [0u64; 16];
        let mut everyone_len = (everyone.len() * 8) as u32;
        // SAFETY: a buffer larger than any SID, with its size.
        if unsafe {
            CreateWellKnownSid(
                WinWorldSid,
                std::ptr::null_mut(),
                everyone.as_mut_ptr().cast(),
                &mut everyone_len,
            )
        } == 0
        {
            return Err(io::Error::last_os_error());
        }
        // SAFETY: valid SIDs.
        let size = std::mem::size_of::<ACL>()
            + 2 * std::mem::size_of::<ACCESS_ALLOWED_ACE>()
            + unsafe { GetLengthSid(user.sid()) } as usize
            + everyone_len as usize;
        let mut acl = vec![0u64; size.div_ceil(8)];
        let acl_ptr: *mut ACL = acl.as_mut_ptr().cast();
        // SAFETY: `acl` has room for two entries.
        unsafe {
            if InitializeAcl(acl_ptr, size as u32, ACL_REVISION) == 0
                || AddAccessAllowedAceEx(acl_ptr, ACL_REVISION, 0, FILE_ALL_ACCESS, user.sid()) == 0
                || AddAccessAllowedAceEx(
                    acl_ptr,
                    ACL_REVISION,
                    0,
                    GENERIC_READ,
                    everyone.as_mut_ptr().cast(),
                ) == 0
            {
                return Err(io::Error::last_os_error());
            }
        }
        set_protected_dacl(path, &acl)
    }
}

#[cfg(not(any(unix, windows)))]
mod imp {
    use super::*;

    pub fn create_file(path: &Path) -> io::Result<File> {
        std::fs::OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .open(path)
    }

    pub fn create_dir(path: &Path) -> io::Result<()> {
        std::fs::create_dir_all(path)
    }

    pub fn restrict(_path: &Path) -> io::Result<()> {
        Ok(())
    }

    pub fn exposure(_path: &Path) -> io::Result<Option<Exposure>> {
        Ok(None)
    }
}

/// Lets others read `path` (tests of the refusal).
#[cfg(test)]
pub(crate) fn expose_for_test(path: &Path) -> io::Result<()> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o644))
    }
    #[cfg(windows)]
    {
        imp::expose_to_everyone(path)
    }
    #[cfg(not(any(unix, windows)))]
    {
        let _ = path;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::{Read, Write};

    fn entry(trustee: Trustee, mask: u32) -> AllowEntry {
        AllowEntry {
            trustee,
            mask,
            inherit_only: false,
        }
    }

    #[test]
    fn mode_verdicts() {
        let p = Path::new("/run/x/secret");
        assert_eq!(mode_exposure(p, 0o100600), None);
        assert_eq!(mode_exposure(p, 0o400), None);
        let e = mode_exposure(p, 0o100644).expect("exposed");
        assert_eq!(e.detail, "mode 644");
        assert_eq!(e.fix, "chmod 600 /run/x/secret");
        assert!(mode_exposure(p, 0o604).is_some());
        assert!(mode_exposure(p, 0o640).is_some());
    }

    #[test]
    fn an_acl_of_the_user_system_and_administrators_is_owner_only() {
        let p = Path::new(r"C:\oqs\run\credentials.json");
        let full = 0x001F_01FF;
        let acl = [
            entry(Trustee::CurrentUser, full),
            entry(Trustee::System, full),
            entry(Trustee::Administrators, full),
        ];
        assert_eq!(acl_exposure(p, Some(&acl)), None);
        assert_eq!(acl_exposure(p, Some(&[])), None, "an empty list lets nobody in");
    }

    #[test]
    fn others_who_may_read_are_named_with_the_icacls_fix() {
        let p = Path::new(r"C:\oqs\run\credentials.json");
        let acl = [
            entry(Trustee::CurrentUser, 0x001F_01FF),
            entry(Trustee::Other(r"BUILTIN\Users".into()), 0x0012_0089),
            entry(Trustee::Other("Everyone".into()), 0x8000_0000),
            entry(Trustee::Other(r"BUILTIN\Users".into()), 0x0000_0001),
        ];
        let e = acl_exposure(p, Some(&acl)).expect("exposed");
        assert_eq!(e.detail, r"BUILTIN\Users, Everyone may read it");
        assert_eq!(
            e.fix,
            r#"icacls "C:\oqs\run\credentials.json" /inheritance:r /grant:r "%USERNAME%:F""#
        );
    }

    #[test]
    fn rights_that_do_not_read_and_inherit_only_entries_are_not_exposure() {
        let p = Path::new(r"C:\oqs\secret.txt");
        let acl = [
            // FILE_WRITE_DATA | SYNCHRONIZE: writes, cannot read.
            entry(Trustee::Other("Everyone".into()), 0x0010_0002),
            AllowEntry {
                trustee: Trustee::Other(r"CREATOR OWNER".into()),
                mask: 0x1000_0000,
                inherit_only: true,
            },
        ];
        assert_eq!(acl_exposure(p, Some(&acl)), None);
        // WRITE_DAC lets the holder give itself read.
        let acl = [entry(Trustee::Other(r"BUILTIN\Users".into()), 0x0004_0000)];
        assert!(acl_exposure(p, Some(&acl)).is_some());
    }

    #[test]
    fn a_null_dacl_lets_everyone_in() {
        let e = acl_exposure(Path::new(r"C:\s"), None).expect("exposed");
        assert!(e.detail.contains("everyone"), "{}", e.detail);
        assert!(e.fix.starts_with("icacls "));
    }

    #[test]
    fn a_created_file_is_owner_only_and_writable() {
        let dir = tempfile::tempdir().expect("dir");
        let p = dir.path().join("secret");
        create_file(&p)
            .expect("create")
            .write_all(b"1357")
            .expect("write");
        assert_eq!(exposure(&p).expect("check"), None);
        let mut text = String::new();
        File::open(&p)
            .expect("open")
            .read_to_string(&mut text)
            .expect("read");
        assert_eq!(text, "1357");
        // Truncated and still owner-only when written again.
        create_file(&p).expect("again").write_all(b"24").expect("write");
        assert_eq!(std::fs::read(&p).expect("read"), b"24");
        assert_eq!(exposure(&p).expect("check"), None);
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&p).expect("meta").permissions().mode() & 0o777;
            assert_eq!(mode, 0o600);
        }
    }

    #[test]
    fn an_exposed_file_is_found_and_restrict_fixes_it() {
        let dir = tempfile::tempdir().expect("dir");
        let p = dir.path().join("secret");
        std::fs::write(&p, "1357").expect("write");
        expose_for_test(&p).expect("expose");
        let e = exposure(&p).expect("check").expect("exposed");
        #[cfg(unix)]
        assert_eq!(e.fix, format!("chmod 600 {}", p.display()));
        #[cfg(windows)]
        {
            assert!(e.fix.starts_with("icacls \""), "{}", e.fix);
            assert!(e.detail.contains("may read it"), "{}", e.detail);
        }
        restrict(&p).expect("restrict");
        #[cfg(windows)]
        if under_wine() {
            return;
        }
        assert_eq!(exposure(&p).expect("check"), None);
    }

    /// Wine keeps no access list on a file: it maps the list to Unix mode bits
    /// and reads an owner-only one back as mode 775, so this check needs Windows.
    #[cfg(windows)]
    fn under_wine() -> bool {
        Path::new(r"C:\windows\system32\winecfg.exe").exists()
    }

    #[test]
    fn a_created_folder_is_owner_only_and_passes_it_on() {
        let dir = tempfile::tempdir().expect("dir");
        let d = dir.path().join("a").join("run");
        create_dir(&d).expect("create");
        create_dir(&d).expect("an existing folder is fine");
        assert!(d.is_dir());
        assert_eq!(exposure(&d).expect("check"), None);
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&d).expect("meta").permissions().mode() & 0o777;
            assert_eq!(mode, 0o700);
        }
        // A file written plainly inside takes the folder's list on Windows.
        #[cfg(windows)]
        {
            let p = d.join("plain");
            std::fs::write(&p, "x").expect("write");
            assert_eq!(exposure(&p).expect("check"), None);
        }
    }
}
