//! A shell on a pseudo-terminal, in a pod's working directory with its environment.

use std::fs::File;
use std::io::{self, Read, Write};
use std::os::fd::{AsRawFd, OwnedFd};
use std::os::unix::process::CommandExt;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};

use opendlc_runtime::PodSpec;

pub struct Shell {
    master: File,
    /// Taken by `drop`.
    child: Option<Child>,
}

/// How a terminal's shell becomes its pod's.
pub enum Enter {
    /// The pod's own view and identity: `opendlc run-mounted` (the opendlc binary, the pod's
    /// mounts file or its spec.json holding its view).
    Sandbox { program: PathBuf, mounts: PathBuf },
    /// The pod's owner's account (pods that a cluster scheduler runs as their owners).
    Account { uid: u32, gid: u32 },
}

impl Shell {
    /// Starts `bash` (else `sh`) as the session leader of a new PTY, with the environment the
    /// pod's command has: the server's minus `OPENDLC_*`, plus the pod's variables, as the pod
    /// runs (`enter`); `None`: as the server's user (isolation off).
    pub fn spawn(spec: &PodSpec, enter: Option<&Enter>) -> io::Result<Shell> {
        let pty = nix::pty::openpty(None, None).map_err(io::Error::from)?;
        let program = ["/bin/bash", "/bin/sh"]
            .into_iter()
            .find(|p| std::path::Path::new(p).exists())
            .unwrap_or("/bin/sh");
        let slave: OwnedFd = pty.slave;
        let mut command = match enter {
            Some(Enter::Sandbox {
                program: opendlc,
                mounts,
            }) => {
                let mut command = Command::new(opendlc);
                command
                    .arg("run-mounted")
                    .arg("--mounts")
                    .arg(mounts)
                    .arg(format!("exec {program}"));
                command
            }
            Some(Enter::Account { .. }) | None => Command::new(program),
        };
        let account = match enter {
            Some(Enter::Account { uid, gid }) => Some((*uid, *gid)),
            _ => None,
        };
        command
            .env_clear()
            .envs(std::env::vars().filter(|(k, _)| !k.starts_with("OPENDLC_")))
            .envs(&spec.env)
            .env("TERM", "xterm-256color")
            .current_dir(&spec.workdir)
            .stdin(Stdio::from(slave.try_clone()?))
            .stdout(Stdio::from(slave.try_clone()?))
            .stderr(Stdio::from(slave));
        // SAFETY: setpriority, setsid, ioctl, setgroups, setgid, setuid and prctl are async-signal-safe. The shell leads a new session whose
        // controlling terminal is the PTY (fd 0), so job control and Ctrl-C work.
        unsafe {
            command.pre_exec(move || {
                // The usual priority, not the server's threads' raised one.
                opendlc_runtime::priority::reset_this_thread();
                if libc::setsid() < 0 {
                    return Err(io::Error::last_os_error());
                }
                if libc::ioctl(0, libc::TIOCSCTTY, 0) < 0 {
                    return Err(io::Error::last_os_error());
                }
                // The owner's identity, none of the server's groups, and no way back.
                if let Some((uid, gid)) = account {
                    if libc::setgroups(1, &gid) != 0
                        || libc::setgid(gid) != 0
                        || libc::setuid(uid) != 0
                        || libc::prctl(libc::PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0
                    {
                        return Err(io::Error::last_os_error());
                    }
                }
                Ok(())
            });
        }
        let child = command.spawn()?;
        Ok(Shell {
            master: File::from(pty.master),
            child: Some(child),
        })
    }

    /// A reader of the terminal's output (for a blocking thread).
    pub fn reader(&self) -> io::Result<impl Read + Send + 'static> {
        self.master.try_clone()
    }

    pub fn write(&mut self, data: &[u8]) -> io::Result<()> {
        self.master.write_all(data)
    }

    pub fn resize(&self, cols: u16, rows: u16) -> io::Result<()> {
        let size = libc::winsize {
            ws_row: rows,
            ws_col: cols,
            ws_xpixel: 0,
            ws_ypixel: 0,
        };
        // SAFETY: TIOCSWINSZ reads one winsize from the pointer, which lives across the call.
        let rc = unsafe { libc::ioctl(self.master.as_raw_fd(), libc::TIOCSWINSZ, &size) };
        if rc < 0 {
            return Err(io::Error::last_os_error());
        }
        Ok(())
    }
}

impl Drop for Shell {
    /// The session ends with the socket: SIGHUP to the shell's process group (as when a
    /// terminal closes), SIGKILL if it is still there, then reap it.
    fn drop(&mut self) {
        let Some(mut child) = self.child.take() else {
            return;
        };
        let group = -(child.id() as i32);
        // SAFETY: kill(2) on our child's process group.
        unsafe { libc::kill(group, libc::SIGHUP) };
        std::thread::spawn(move || {
            for _ in 0..20 {
                if matches!(child.try_wait(), Ok(Some(_))) {
                    return;
                }
                std::thread::sleep(std::time::Duration::from_millis(50));
            }
            // SAFETY: as above.
            unsafe { libc::kill(group, libc::SIGKILL) };
            let _ = child.wait();
        });
    }
}
