//! One function process, started as Lambda would start it and killed when dropped.

use std::net::SocketAddr;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::Instant;
use std::{fs, io};

pub struct Function {
    child: Child,
}

/// The process's memory, from `/proc/<pid>/status`, in KiB.
#[derive(Clone, Copy, Debug)]
pub struct Memory {
    /// Peak resident set size (VmHWM).
    pub peak_kib: u64,
    /// Resident set size now (VmRSS).
    pub rss_kib: u64,
}

impl Function {
    /// Starts `binary` against the runtime API at `api`, returning it and the instant just before the spawn.
    ///
    /// The environment is only what Lambda sets (plus `AUTHZ_CONFIG`), so nothing from this shell, such as a
    /// proxy variable, changes what is measured. Output goes to /dev/null: writing logs to Lambda's real pipe
    /// costs more than this.
    pub fn spawn(binary: &Path, name: &str, api: SocketAddr, config: &str) -> io::Result<(Self, Instant)> {
        let mut command = Command::new(binary);
        command
            .env_clear()
            .env("AWS_LAMBDA_RUNTIME_API", api.to_string())
            .env("AWS_LAMBDA_FUNCTION_NAME", name)
            .env("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "128")
            .env("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST")
            .env("AWS_EC2_METADATA_DISABLED", "true")
            .env("AUTHZ_CONFIG", config)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        let started = Instant::now();
        let child = command.spawn()?;
        Ok((Function { child }, started))
    }

    /// Why the process is gone, if it is.
    pub fn exited(&mut self) -> Option<String> {
        match self.child.try_wait() {
            Ok(Some(status)) => Some(format!("the function exited ({status})")),
            Ok(None) => None,
            Err(e) => Some(format!("the function cannot be waited for: {e}")),
        }
    }

    pub fn memory(&self) -> io::Result<Memory> {
        let status = fs::read_to_string(format!("/proc/{}/status", self.child.id()))?;
        let field = |name: &str| {
            status
                .lines()
                .find_map(|line| line.strip_prefix(name))
                .and_then(|rest| rest.trim().trim_end_matches("kB").trim().parse().ok())
                .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidData, format!("no {name} in /proc status")))
        };
        Ok(Memory { peak_kib: field("VmHWM:")?, rss_kib: field("VmRSS:")? })
    }
}

impl Drop for Function {
    fn drop(&mut self) {
        // SIGKILL cannot be caught, so the wait that follows returns promptly.
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
