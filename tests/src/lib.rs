//! Test harness for the functions: moto as a local Cognito and DynamoDB, stand-ins for a JWKS endpoint and for
//! API Gateway's cache-flush calls, a JWT minter and a driver for `cargo lambda watch` that reports what API
//! Gateway would do with each answer.
//!
//! Everything runs on 127.0.0.1 with dummy credentials; nothing here may reach AWS or the instance-metadata address.

pub mod cognito;
pub mod dynamodb;
pub mod jwks_server;
pub mod lambda;
pub mod mint;
pub mod moto;
mod process;
pub mod stand_in;

use std::time::Duration;

/// Everything that can go wrong while driving the local servers.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("{what}: {source}")]
    Io {
        what: String,
        #[source]
        source: std::io::Error,
    },
    #[error("{what}: {source}")]
    Http {
        what: String,
        #[source]
        source: reqwest::Error,
    },
    #[error("AWS {operation} failed: {message}")]
    Aws { operation: &'static str, message: String },
    #[error("timed out after {waited:?} waiting for {what}")]
    Timeout { what: String, waited: Duration },
    #[error("{0}")]
    Failed(String),
}

impl Error {
    fn io(what: impl Into<String>, source: std::io::Error) -> Self {
        Self::Io { what: what.into(), source }
    }

    fn http(what: impl Into<String>, source: reqwest::Error) -> Self {
        Self::Http { what: what.into(), source }
    }
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

/// An AWS SDK call that failed, with the SDK's whole error chain.
fn failed(operation: &'static str, error: impl std::error::Error) -> Error {
    Error::Aws { operation, message: aws_sdk_dynamodb::error::DisplayErrorContext(error).to_string() }
}

/// An HTTP client for loopback servers: system proxies would otherwise capture 127.0.0.1 traffic.
pub fn loopback_client() -> Result<reqwest::Client> {
    loopback_client_builder().build().map_err(|source| Error::http("building the HTTP client", source))
}

/// The builder behind `loopback_client`, after the TLS provider the workspace's reqwest needs.
pub fn loopback_client_builder() -> reqwest::ClientBuilder {
    authorizer::fetch::use_ring_for_tls();
    reqwest::Client::builder().no_proxy()
}
