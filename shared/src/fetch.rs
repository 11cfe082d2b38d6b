//! Fetches small JSON documents (key sets, discovery documents) over HTTPS, within a time and size budget.
//!
//! Plain HTTP is refused except to loopback addresses, redirects are never followed (one could lead to a
//! plain-HTTP or attacker host), and a body over the cap is abandoned as soon as it is seen to be too large.

use crate::config::{JwksSettings, check_url_scheme};
use reqwest::Url;
use std::sync::OnceLock;
use std::time::Duration;

/// Why a document could not be had. The text names the URL and the cause, never a credential.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FetchError {
    #[error("refused URL: {0}")]
    Refused(String),
    #[error("HTTP status {0}")]
    Status(u16),
    #[error("timed out")]
    Timeout,
    #[error("body larger than {0} bytes")]
    TooLarge(usize),
    #[error("transport error: {0}")]
    Transport(String),
}

/// Makes ring the process's rustls provider, which reqwest's TLS takes: the workspace's reqwest brings none, so
/// every reqwest client must be built after this (ring is the crate's one crypto backend; BENCHMARKS.md, "Binary
/// size"). A provider installed earlier is kept, hence the ignored error.
pub fn use_ring_for_tls() {
    let _ = rustls::crypto::ring::default_provider().install_default();
}

/// An HTTP client that never follows redirects, built on first use, so that a cold start that fetches
/// nothing never pays for TLS set-up.
pub(crate) struct LazyClient {
    connect_timeout: Duration,
    timeout: Duration,
    client: OnceLock<Result<reqwest::Client, String>>,
}

impl LazyClient {
    pub(crate) fn new(connect_timeout: Duration, timeout: Duration) -> Self {
        LazyClient { connect_timeout, timeout, client: OnceLock::new() }
    }

    pub(crate) fn get(&self) -> Result<&reqwest::Client, String> {
        self.client
            .get_or_init(|| {
                use_ring_for_tls();
                reqwest::Client::builder()
                    .connect_timeout(self.connect_timeout)
                    .timeout(self.timeout)
                    .redirect(reqwest::redirect::Policy::none())
                    .user_agent(concat!("apigw-authorizers/", env!("CARGO_PKG_VERSION")))
                    .build()
                    .map_err(|e| e.to_string())
            })
            .as_ref()
            .map_err(Clone::clone)
    }
}

pub struct Fetcher {
    max_bytes: usize,
    client: LazyClient,
}

impl Fetcher {
    pub fn new(settings: JwksSettings) -> Self {
        Fetcher { max_bytes: settings.max_bytes, client: LazyClient::new(settings.connect_timeout, settings.timeout) }
    }

    /// GETs `url` and returns its body, at most `max_bytes` long.
    pub async fn get(&self, url: &Url) -> Result<Vec<u8>, FetchError> {
        check_url_scheme(url).map_err(FetchError::Refused)?;
        let max = self.max_bytes;
        let classify = |e: reqwest::Error| {
            if e.is_timeout() { FetchError::Timeout } else { FetchError::Transport(without_url(e)) }
        };
        let mut response = self
            .client
            .get()
            .map_err(FetchError::Transport)?
            .get(url.clone())
            .header("accept", "application/json")
            .send()
            .await
            .map_err(classify)?;
        if !response.status().is_success() {
            return Err(FetchError::Status(response.status().as_u16()));
        }
        if response.content_length().is_some_and(|len| len > max as u64) {
            return Err(FetchError::TooLarge(max));
        }
        let mut body = Vec::new();
        while let Some(chunk) = response.chunk().await.map_err(classify)? {
            if body.len() + chunk.len() > max {
                return Err(FetchError::TooLarge(max));
            }
            body.extend_from_slice(&chunk);
        }
        Ok(body)
    }
}

/// reqwest's message repeats the URL, which the caller already logs once.
fn without_url(e: reqwest::Error) -> String {
    let e = e.without_url();
    let mut text = e.to_string();
    let mut source = std::error::Error::source(&e);
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}
