//! `request_event`: the input as the JSON text of a REQUEST authorizer event (any shape).
//!
//! Invariants:
//! - `RequestEvent::parse` and `Request::from_event` never panic, and their error messages never echo the
//!   event's values: no run of 20 token-like characters (base64url and `.`) of the input appears in the
//!   message, nor the whole input when it is over 40 bytes (unless the input is the message's own opening).
//! - `Authorizer::request_event` never panics and is never `Ok` (no input can carry a valid signature of the
//!   harness's fresh key, and CORS preflight is off). Its error is exactly the fault `parse`/`from_event`
//!   give, the fault of a malformed ARN, the rejection `find_token` / `UnverifiedJws::parse` give, or else a
//!   rejection, or `keys_unavailable` only for a kid the pre-baked set does not hold.
//! - The decision is logged exactly once, never as `allow`, and the log never holds the token that was
//!   found, when it is JWS-shaped (unless the ARN, which is logged as the route, holds it too).

#![no_main]

mod common;

use authorizer::arn::MethodArn;
use authorizer::outcome::{AuthError, Fault, UNAUTHORIZED};
use authorizer::request::{IdentitySource, Request, RequestEvent, Shape, find_token};
use libfuzzer_sys::fuzz_target;
use std::sync::OnceLock;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let harness = common::harness();

    let parsed = RequestEvent::parse(text);
    if let Err(Fault::BadEvent(message)) = &parsed {
        assert_no_echo(text, message, "RequestEvent::parse");
    }
    let request = parsed.and_then(Request::from_event);
    if let Err(Fault::BadEvent(message)) = &request {
        assert_no_echo(text, message, "Request::from_event");
    }

    let result = harness.block_on(harness.authorizer.request_event(text));
    let logs = common::take_logs();
    let error = match result {
        Ok(ref response) => panic!(
            "request_event returned Ok for an event that cannot carry a valid signature (allows the ARN: {}): {response:?}",
            common::request_allows(&result, request.as_ref().map_or("", |r| r.arn.as_str()))
        ),
        Err(error) => error,
    };
    match &error {
        AuthError::Rejected(_) => assert_eq!(error.message(), UNAUTHORIZED),
        AuthError::Failed(_) => assert_ne!(error.message(), UNAUTHORIZED),
    }
    assert_eq!(logs.matches(r#""event":"decision""#).count(), 1, "one decision line: {logs}");
    assert!(!logs.contains(r#""outcome":"allow""#), "an allow was logged: {logs}");

    let request = match request {
        Err(fault) => {
            assert_eq!(error, AuthError::Failed(fault), "the event's own fault");
            return;
        }
        Ok(request) => request,
    };
    if let Err(message) = MethodArn::parse(&request.arn) {
        assert_eq!(error, AuthError::Failed(Fault::BadEvent(message)), "a malformed ARN");
        return;
    }
    let sources = match request.shape {
        Shape::WebSocket => &sources().1,
        _ => &sources().0,
    };
    let token = match find_token(&request, sources) {
        Err(rejection) => {
            assert_eq!(error, AuthError::Rejected(rejection), "find_token's rejection");
            return;
        }
        Ok(token) => token,
    };
    common::check_error_for_token(token, &error);
    if common::jws_shaped(token) && !request.arn.contains(token) && !common::ISS.contains(token) {
        assert!(!logs.contains(token), "the token was logged: {logs}");
    }
});

/// The identity sources the harness's authorizer is configured with: (REST and HTTP, WebSocket).
fn sources() -> &'static (Vec<IdentitySource>, Vec<IdentitySource>) {
    static SOURCES: OnceLock<(Vec<IdentitySource>, Vec<IdentitySource>)> = OnceLock::new();
    SOURCES.get_or_init(|| {
        let parse = |list: &[&str]| list.iter().map(|s| IdentitySource::parse(s, "fuzz").unwrap()).collect();
        (parse(&common::IDENTITY_SOURCES), parse(&common::WEBSOCKET_IDENTITY_SOURCES))
    })
}

fn token_like(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'-' || b == b'_' || b == b'.'
}

/// A fault's message must not quote the event: a value in it may be a credential.
fn assert_no_echo(input: &str, message: &str, what: &str) {
    const WINDOW: usize = 20;
    let bytes = message.as_bytes();
    let mut start = 0;
    while start < bytes.len() {
        if !token_like(bytes[start]) {
            start += 1;
            continue;
        }
        let end = (start..bytes.len()).find(|&i| !token_like(bytes[i])).unwrap_or(bytes.len());
        if end - start >= WINDOW {
            for window in bytes[start..end].windows(WINDOW) {
                let window = std::str::from_utf8(window).unwrap();
                assert!(!input.contains(window), "{what} echoes {window:?} of the input in its message: {message:?}");
            }
        }
        start = end;
    }
    if input.len() > 40 && message.contains(input) {
        let opening = input.get(..WINDOW).is_some_and(|head| message.starts_with(head));
        assert!(opening, "{what} echoes the whole input in its message: {message:?}");
    }
}
