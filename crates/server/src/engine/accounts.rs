//! System accounts for pods' owners on a cluster scheduler, which runs a job only as an
//! account its nodes know (`sbatch --uid`). Made on the server's host with the host's own
//! tools (`groupadd`, `useradd`), once per uid; a cluster of several hosts needs the same
//! accounts on every node (an administrator maps users to the site's accounts instead:
//! `opendlc admin user set NAME --uid`).

use std::collections::HashSet;
use std::io;
use std::process::Command;
use std::sync::{Mutex, PoisonError};

/// Uids known to have an account, so that each is looked up once per process.
static KNOWN: Mutex<Option<HashSet<u32>>> = Mutex::new(None);

/// Makes sure uid `uid` has an account (named `name`, primary group `gid`): a system account
/// without home or login shell when there is none.
pub fn ensure(uid: u32, gid: u32, name: &str) -> io::Result<()> {
    let mut known = KNOWN.lock().unwrap_or_else(PoisonError::into_inner);
    let known = known.get_or_insert_with(HashSet::new);
    if known.contains(&uid) {
        return Ok(());
    }
    if !has_user(uid) {
        if !has_group(gid) {
            run(Command::new("groupadd").args(["--system", "--gid", &gid.to_string(), name]))?;
        }
        run(Command::new("useradd").args([
            "--system",
            "--no-create-home",
            "--home-dir",
            "/nonexistent",
            "--shell",
            "/usr/sbin/nologin",
            "--no-user-group",
            "--uid",
            &uid.to_string(),
            "--gid",
            &gid.to_string(),
            name,
        ]))?;
        tracing::info!("made the system account {name} (uid {uid}, gid {gid}) for its pods");
    }
    known.insert(uid);
    Ok(())
}

fn run(command: &mut Command) -> io::Result<()> {
    let output = command.stdin(std::process::Stdio::null()).output()?;
    if output.status.success() {
        return Ok(());
    }
    Err(io::Error::other(format!(
        "{command:?} failed ({}): {}",
        output.status,
        String::from_utf8_lossy(&output.stderr).trim()
    )))
}

fn has_user(uid: u32) -> bool {
    let mut buf = vec![0u8; 4096];
    // SAFETY: an all-zero passwd is a valid value for getpwuid_r to fill in.
    let mut entry: libc::passwd = unsafe { std::mem::zeroed() };
    let mut found: *mut libc::passwd = std::ptr::null_mut();
    // SAFETY: every pointer is valid for the call and `buf` is as long as we say.
    let rc = unsafe {
        libc::getpwuid_r(
            uid,
            &mut entry,
            buf.as_mut_ptr().cast(),
            buf.len(),
            &mut found,
        )
    };
    rc == 0 && !found.is_null()
}

fn has_group(gid: u32) -> bool {
    let mut buf = vec![0u8; 16384];
    // SAFETY: an all-zero group is a valid value for getgrgid_r to fill in.
    let mut entry: libc::group = unsafe { std::mem::zeroed() };
    let mut found: *mut libc::group = std::ptr::null_mut();
    // SAFETY: every pointer is valid for the call and `buf` is as long as we say.
    let rc = unsafe {
        libc::getgrgid_r(
            gid,
            &mut entry,
            buf.as_mut_ptr().cast(),
            buf.len(),
            &mut found,
        )
    };
    rc == 0 && !found.is_null()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn root_has_an_account_and_an_unused_uid_has_none() {
        assert!(has_user(0));
        assert!(has_group(0));
        assert!(!has_user(4_000_000_000));
    }
}
