//! Child processes for the local servers (moto, `cargo lambda watch`) and the loopback ports they listen on.
//! Every server is stopped when its guard drops; nothing here may bind or contact a non-loopback address.

use std::net::{Ipv4Addr, TcpListener};
use std::process::{Child, ChildStderr, ChildStdout, Command};
use std::time::{Duration, Instant};

use crate::{Error, Result};

/// How long a server gets to exit after SIGTERM before its process group is killed.
const STOP_GRACE: Duration = Duration::from_secs(5);
const POLL_INTERVAL: Duration = Duration::from_millis(100);

/// A port that was free on 127.0.0.1 a moment ago. Another process may take it before the server binds it; the
/// server then fails to start, which is reported, not hidden.
pub(crate) fn free_port() -> Result<u16> {
    let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0))
        .map_err(|source| Error::io("binding 127.0.0.1:0 to find a free port", source))?;
    let port = listener.local_addr().map_err(|source| Error::io("reading the free port", source))?.port();
    Ok(port)
}

/// A server running in its own process group, so that stopping it also stops whatever it spawned
/// (`cargo lambda watch` runs cargo and the function as children).
#[derive(Debug)]
pub(crate) struct ServerProcess {
    name: &'static str,
    child: Child,
}

impl ServerProcess {
    pub(crate) fn spawn(name: &'static str, mut command: Command) -> Result<Self> {
        use std::os::unix::process::CommandExt as _;
        command.process_group(0);
        let child = command.spawn().map_err(|source| Error::io(format!("starting {name} (is it on PATH?)"), source))?;
        Ok(Self { name, child })
    }

    /// The server's stdout, if it was piped and not taken yet.
    pub(crate) fn take_stdout(&mut self) -> Option<ChildStdout> {
        self.child.stdout.take()
    }

    /// The server's stderr, if it was piped and not taken yet.
    pub(crate) fn take_stderr(&mut self) -> Option<ChildStderr> {
        self.child.stderr.take()
    }

    /// Fails if the server has already exited: polling a dead server's port would only end in a time-out.
    fn ensure_running(&mut self) -> Result<()> {
        match self.child.try_wait() {
            Ok(None) => Ok(()),
            Ok(Some(status)) => Err(Error::Failed(format!("{} exited early ({status})", self.name))),
            Err(source) => Err(Error::io(format!("checking on {}", self.name), source)),
        }
    }

    /// Waits until the server accepts connections on `port`. A bare connection, not a request: any HTTP request to
    /// `cargo lambda watch` counts as an invocation of some function.
    pub(crate) async fn wait_until_listening(&mut self, port: u16, timeout: Duration) -> Result<()> {
        let started = Instant::now();
        loop {
            self.ensure_running()?;
            if tokio::net::TcpStream::connect((Ipv4Addr::LOCALHOST, port)).await.is_ok() {
                return Ok(());
            }
            if started.elapsed() >= timeout {
                return Err(Error::Timeout {
                    what: format!("{} to listen on port {port}", self.name),
                    waited: timeout,
                });
            }
            tokio::time::sleep(POLL_INTERVAL).await;
        }
    }

    fn signal_group(&self, signal: libc::c_int) {
        let Ok(pgid) = libc::pid_t::try_from(self.child.id()) else {
            return;
        };
        // SAFETY: kill(2) has no memory-safety preconditions. The group id is the child's pid (process_group(0));
        // Linux does not hand out a pid again while a group of that id has members.
        unsafe { libc::kill(-pgid, signal) };
    }
}

impl Drop for ServerProcess {
    fn drop(&mut self) {
        self.signal_group(libc::SIGTERM);
        let deadline = Instant::now() + STOP_GRACE;
        while Instant::now() < deadline {
            if !matches!(self.child.try_wait(), Ok(None)) {
                break;
            }
            std::thread::sleep(POLL_INTERVAL);
        }
        // Also reaches grandchildren that outlived the leader or ignored SIGTERM.
        self.signal_group(libc::SIGKILL);
        let _ = self.child.wait();
    }
}
