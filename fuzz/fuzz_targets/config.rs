//! `config`: the input as configuration.
//!
//! Normally the input is the `AUTHZ_CONFIG` text (JSON if it starts with `{`, TOML otherwise). An input
//! whose first line is `#env` is instead a list of `NAME=value` lines read as the environment, so the
//! Cognito shortcut (`COGNITO_*`) and the choice between sources are fuzzed too.
//!
//! Invariants:
//! - `Config::from_lookup`, `Config::validate` and `Authorizer::new` never panic.
//! - A successful `validate` has at least one issuer, each with a non-empty, unique `iss`; no audience or
//!   client list is empty (never "any"); every key or discovery URL is HTTPS or loopback HTTP; leeway is at
//!   most 300 s; at least one algorithm; and the JWKS settings lie within their documented bounds.
//! - `Authorizer::new` succeeds only for a configuration whose `validate` succeeds.
//!
//! Files: `jwks_file`, `COGNITO_JWKS_FILE` and `AUTHZ_CONFIG_FILE` make the crate read a file. A path that
//! names something other than a small regular file (or nothing) is skipped, so that the fuzzer cannot make
//! the harness read `/dev/zero` or block on a FIFO; these are trusted settings, not attack surface.

#![no_main]

use authorizer::config::{AudienceCheck, JwksSource, MAX_LEEWAY_SECONDS, check_url_scheme};
use authorizer::{Authorizer, Config};
use libfuzzer_sys::fuzz_target;
use std::collections::HashMap;
use std::time::Duration;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let env: HashMap<String, String> = match text.strip_prefix("#env\n") {
        Some(lines) => lines
            .lines()
            .filter_map(|line| line.split_once('='))
            .map(|(name, value)| (name.to_owned(), value.to_owned()))
            .collect(),
        None => HashMap::from([("AUTHZ_CONFIG".to_owned(), text.to_owned())]),
    };
    for name in ["AUTHZ_CONFIG_FILE", "COGNITO_JWKS_FILE"] {
        if env.get(name).is_some_and(|path| !safe_path(path)) {
            return;
        }
    }
    // As `Config::from_env` reads the real environment: blank values count as unset.
    let lookup = |name: &str| env.get(name).filter(|v| !v.trim().is_empty()).cloned();
    let Ok(config) = Config::from_lookup(lookup) else { return };
    if config.issuers.iter().filter_map(|i| i.jwks_file.as_deref()).any(|path| !safe_path(path)) {
        return;
    }

    let validated = config.validate();
    if let Ok((issuers, jwks)) = &validated {
        assert!(!issuers.is_empty(), "validated without an issuer");
        for (i, issuer) in issuers.iter().enumerate() {
            assert!(!issuer.iss.is_empty(), "issuers[{i}] has an empty iss");
            assert!(issuers[..i].iter().all(|other| other.iss != issuer.iss), "issuer {} twice", issuer.iss);
            match &issuer.audience {
                AudienceCheck::Cognito { client_ids, .. } => assert!(!client_ids.is_empty(), "any client"),
                AudienceCheck::Oidc { audiences } => assert!(!audiences.is_empty(), "any audience"),
            }
            let (JwksSource::Uri(url) | JwksSource::Discovery(url)) = &issuer.jwks_source;
            assert!(check_url_scheme(url).is_ok(), "issuers[{i}] fetches from {url}");
            assert!(!issuer.algorithms.is_empty());
            assert!(issuer.leeway_seconds <= MAX_LEEWAY_SECONDS);
            assert!(issuer.required_claims.iter().all(|c| !c.is_empty()));
        }
        let within = |d: Duration, min: Duration, max: Duration| min <= d && d <= max;
        assert!(within(jwks.ttl, Duration::from_secs(1), Duration::from_secs(86_400)));
        assert!(within(jwks.refetch_cooldown, Duration::from_secs(1), Duration::from_secs(3600)));
        assert!(within(jwks.timeout, Duration::from_millis(100), Duration::from_millis(10_000)));
        assert!(within(jwks.connect_timeout, Duration::from_millis(50), jwks.timeout));
        assert!((1024..=4 * 1024 * 1024).contains(&jwks.max_bytes));
    }

    if Authorizer::new(&config).is_ok() {
        assert!(validated.is_ok(), "Authorizer::new accepted a configuration validate() refuses");
    }
});

/// Nothing there, or a regular file of at most 1 MiB.
fn safe_path(path: &str) -> bool {
    match std::fs::metadata(path) {
        Err(_) => !path.contains('\0'),
        Ok(meta) => meta.is_file() && meta.len() <= 1024 * 1024,
    }
}
