//! Runs `moto_server` (found on PATH) on a free 127.0.0.1 port as a local Cognito and stops it on drop.
//! It must never listen on another interface, and it holds no state worth keeping: `reset` wipes everything.

use std::process::{Command, Stdio};
use std::time::Duration;

use crate::process::{ServerProcess, free_port};
use crate::{Error, Result, loopback_client};

/// moto usually listens within about half a second; a loaded machine gets more room.
const READY_TIMEOUT: Duration = Duration::from_secs(30);

/// A running moto server.
#[derive(Debug)]
pub struct Moto {
    url: String,
    http: reqwest::Client,
    /// Held for its `Drop`, which stops the server.
    _process: ServerProcess,
}

impl Moto {
    /// Starts moto and waits until it accepts connections.
    pub async fn start() -> Result<Self> {
        let port = free_port()?;
        let mut command = Command::new("moto_server");
        command
            .args(["-H", "127.0.0.1", "-p", &port.to_string()])
            .stdin(Stdio::null())
            // It logs every request; tests read results from the API instead.
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        let mut process = ServerProcess::spawn("moto_server", command)?;
        let url = format!("http://127.0.0.1:{port}");
        let http = loopback_client()?;
        process.wait_until_listening(port, READY_TIMEOUT).await?;
        Ok(Self { url, http, _process: process })
    }

    /// Base URL, e.g. `http://127.0.0.1:41234`, to use as the AWS endpoint.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// Wipes every resource moto holds (pools, users, tokens).
    pub async fn reset(&self) -> Result<()> {
        let url = format!("{}/moto-api/reset", self.url);
        let response =
            self.http.post(&url).send().await.map_err(|source| Error::http(format!("POST {url}"), source))?;
        if response.status().is_success() {
            Ok(())
        } else {
            Err(Error::Failed(format!("POST {url} answered {}", response.status())))
        }
    }
}
