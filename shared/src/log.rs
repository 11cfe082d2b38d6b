//! The one log line per decision, and the token fingerprint it carries instead of the token.
//!
//! Nothing here may ever log a token, a signature, a secret or a whole claim set: a decision is described
//! by its outcome, reason code, principal, issuer, kid and a short one-way fingerprint of the token.

use crate::outcome::Status;
use ring::digest;
use std::sync::Arc;
use tracing::level_filters::LevelFilter;

/// Installs the process's log subscriber, following Lambda's advanced logging controls: JSON lines unless
/// `AWS_LAMBDA_LOG_FORMAT=Text`, at `AWS_LAMBDA_LOG_LEVEL` (default INFO). Lambda stamps the time itself.
pub fn init() {
    let level = match std::env::var("AWS_LAMBDA_LOG_LEVEL").unwrap_or_default().to_ascii_uppercase().as_str() {
        "TRACE" => LevelFilter::TRACE,
        "DEBUG" => LevelFilter::DEBUG,
        "WARN" => LevelFilter::WARN,
        "ERROR" | "FATAL" => LevelFilter::ERROR,
        _ => LevelFilter::INFO,
    };
    let text = std::env::var("AWS_LAMBDA_LOG_FORMAT").is_ok_and(|f| f.eq_ignore_ascii_case("text"));
    let builder = tracing_subscriber::fmt().with_max_level(level).with_target(false).without_time();
    if text {
        builder.init();
    } else {
        builder.json().init();
    }
}

/// The first 6 bytes of SHA-256 of the token's signature segment, in hex: enough to correlate requests of
/// one token (its signature is unique to it), useless for replaying it.
pub fn fingerprint(token: &str) -> String {
    let signature = token.rsplit('.').next().unwrap_or(token);
    let hash = digest::digest(&digest::SHA256, signature.as_bytes());
    const HEX: &[u8; 16] = b"0123456789abcdef";
    hash.as_ref()[..6]
        .iter()
        .flat_map(|b| [HEX[usize::from(b >> 4)] as char, HEX[usize::from(b & 15)] as char])
        .collect()
}

/// Lower-case hex, without a `format!` per byte.
pub(crate) fn hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    bytes.iter().flat_map(|b| [DIGITS[usize::from(b >> 4)] as char, DIGITS[usize::from(b & 15)] as char]).collect()
}

/// What one decision's log line says.
#[derive(Debug, Default)]
pub struct DecisionLog<'a> {
    pub route: &'a str,
    pub principal: Option<String>,
    pub issuer: Option<Arc<str>>,
    pub kid: Option<String>,
    pub token_fingerprint: Option<String>,
    pub context_dropped: usize,
}

impl DecisionLog<'_> {
    pub fn emit(&self, status: Status, reason: &str, detail: Option<&str>, latency: std::time::Duration) {
        let outcome = match status {
            Status::Allowed => "allow",
            Status::Forbidden => "deny",
            Status::Unauthorized => "unauthorized",
            Status::Error => "error",
        };
        tracing::info!(
            event = "decision",
            outcome,
            status = status as u16,
            reason,
            detail = detail.unwrap_or(""),
            route = self.route,
            principal = self.principal.as_deref().unwrap_or(""),
            issuer = self.issuer.as_deref().unwrap_or(""),
            kid = self.kid.as_deref().unwrap_or(""),
            token = self.token_fingerprint.as_deref().unwrap_or(""),
            context_dropped = self.context_dropped,
            latency_us = latency.as_micros() as u64,
        );
    }
}

#[cfg(test)]
mod tests {
    use super::fingerprint;

    #[test]
    fn fingerprint_is_short_stable_and_reveals_nothing() {
        let token = "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJhIn0.c2ln";
        let fp = fingerprint(token);
        assert_eq!(fp.len(), 12);
        assert!(fp.bytes().all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase()));
        assert_eq!(fp, fingerprint(token));
        assert_ne!(fp, fingerprint("other"));
        assert!(!token.contains(&fp));
    }
}
