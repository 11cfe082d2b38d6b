//! `token`: the input as a bearer token.
//!
//! Each input is tried twice:
//! - raw: the bytes (lossily made UTF-8) are the token;
//! - structured: if the input holds two 0xFF bytes, `header 0xFF payload 0xFF signature` are base64url-encoded
//!   by the harness and joined with dots, so the fuzzer can work on the JSON (issuer, kid, alg, claims) and
//!   reach key lookup and the signature check, which a raw mutation of base64 text rarely does.
//!
//! Invariants, for each token:
//! - `UnverifiedJws::parse` never panics; when it succeeds the token is at most 8 KiB, has exactly three
//!   canonical base64url parts (re-encoding each decoded part gives it back), `signing_input` is everything
//!   before the last dot, the signature is non-empty, the kid is 1–256 bytes and equals the header's `kid`,
//!   and the header names no `jku`/`x5u`/`jwk`/`x5c`/`crit`/`b64`.
//! - `Authorizer::token_event` with `authorizationToken = "Bearer " + token` is never `Ok` (no input can carry
//!   a valid RS256 signature of the harness's fresh key; an `Ok` is reported, saying whether it allows the
//!   method ARN). Its error is exactly the rejection `bearer()` / `UnverifiedJws::parse` give when those fail;
//!   otherwise a rejection (401), or `keys_unavailable` (500) only for a kid the pre-baked set does not hold.
//!   `Unauthorized` is the message of every rejection and of nothing else.
//! - The decision is logged exactly once, never as `allow`, and the log never contains the token (checked for
//!   JWS-shaped tokens: 20+ characters of base64url in three dot-separated parts, so that a "token" made of
//!   the log line's own text, which the fuzzer learns from the comparison, is not taken for a leak).

#![no_main]

mod common;

use authorizer::TokenEvent;
use authorizer::jws::{MAX_TOKEN_BYTES, UnverifiedJws};
use authorizer::outcome::{AuthError, UNAUTHORIZED};
use authorizer::token::bearer;
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let harness = common::harness();
    check(harness, &String::from_utf8_lossy(data));
    let mut parts = data.splitn(3, |b| *b == 0xFF);
    if let (Some(header), Some(payload), Some(signature)) = (parts.next(), parts.next(), parts.next()) {
        let token = format!("{}.{}.{}", B64.encode(header), B64.encode(payload), B64.encode(signature));
        check(harness, &token);
    }
});

fn check(harness: &common::Harness, input: &str) {
    check_parse(input);

    let authorization = format!("Bearer {input}");
    let event = TokenEvent {
        kind: "TOKEN".into(),
        authorization_token: Some(authorization.clone()),
        method_arn: common::METHOD_ARN.into(),
    };
    let result = harness.block_on(harness.authorizer.token_event(&event));
    let logs = common::take_logs();
    let error = match result {
        Ok(response) => panic!(
            "token_event returned Ok for a token that cannot carry a valid signature (allows the method ARN: {}): {response:?}",
            common::allows(&response, common::METHOD_ARN)
        ),
        Err(error) => error,
    };

    // The error is exactly what extraction and parsing say, when they fail.
    let token = match bearer(&authorization) {
        Err(rejection) => {
            assert_eq!(error, AuthError::Rejected(rejection), "bearer() refused the value");
            None
        }
        Ok(token) => Some(token),
    };
    if let Some(token) = token {
        common::check_error_for_token(token, &error);
        if common::jws_shaped(token) && !common::METHOD_ARN.contains(token) && !common::ISS.contains(token) {
            assert!(!logs.contains(token), "the token was logged: {logs}");
        }
    }
    match &error {
        AuthError::Rejected(_) => assert_eq!(error.message(), UNAUTHORIZED),
        AuthError::Failed(_) => assert_ne!(error.message(), UNAUTHORIZED),
    }
    assert_eq!(logs.matches(r#""event":"decision""#).count(), 1, "one decision line: {logs}");
    assert!(!logs.contains(r#""outcome":"allow""#), "an allow was logged: {logs}");
}

fn check_parse(token: &str) {
    let Ok(jws) = UnverifiedJws::parse(token) else { return };
    assert!(token.len() <= MAX_TOKEN_BYTES);
    let parts: Vec<&str> = token.split('.').collect();
    assert_eq!(parts.len(), 3, "three parts");
    for part in &parts {
        let decoded = B64.decode(part).expect("every accepted part is base64url");
        assert_eq!(&B64.encode(&decoded), part, "non-canonical base64url accepted");
    }
    let (signing_input, _) = token.rsplit_once('.').unwrap();
    assert_eq!(jws.signing_input, signing_input.as_bytes());
    assert!(!jws.signature.is_empty());
    assert_eq!(jws.signature, B64.decode(parts[2]).unwrap());
    assert!(!jws.kid.is_empty() && jws.kid.len() <= 256);
    let header: serde_json::Map<String, serde_json::Value> =
        serde_json::from_slice(&B64.decode(parts[0]).unwrap()).expect("an accepted header is a JSON object");
    assert_eq!(header.get("kid").and_then(|k| k.as_str()), Some(jws.kid.as_str()));
    assert_eq!(header.get("alg").and_then(|a| a.as_str()), Some(jws.alg.name()));
    for refused in ["jku", "x5u", "jwk", "x5c", "crit", "b64"] {
        assert!(!header.contains_key(refused), "header parameter {refused} accepted");
    }
    let claims: serde_json::Value =
        serde_json::from_slice(&B64.decode(parts[1]).unwrap()).expect("accepted claims are JSON");
    assert!(claims.is_object());
}
