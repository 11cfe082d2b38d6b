//! What the `token` and `request_event` targets share: one `Authorizer`, built once per process, with a
//! pre-baked JWKS holding one freshly generated RSA key (kid `dummy`, the kid of the sample events) and an
//! unreachable `jwks_uri`, so that an unknown `kid` costs at most one refused connection per process
//! (`refetch_cooldown_seconds = 3600`). A current-thread tokio runtime drives the async calls, and a
//! tracing subscriber captures each decision's log line so that the targets can check what was logged.
//!
//! Before any input runs, `harness()` proves the oracle works: a token correctly signed with the key is
//! allowed on the route through both `token_event` and `request_event`, and the same token with one
//! signature bit flipped is not. A fuzzer that "never sees an Allow" only means something if an Allow
//! would have been seen.

#![allow(dead_code)]

use authorizer::jws::UnverifiedJws;
use authorizer::outcome::Fault;
use authorizer::policy::{Action, Evaluation};
use authorizer::{AuthError, Authorizer, AuthorizerResponse, Config, RequestResponse, TokenEvent};
use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::rsa::KeySize;
use aws_lc_rs::signature::{KeyPair, RSA_PKCS1_SHA256, RsaKeyPair};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use serde_json::json;
use std::cell::RefCell;
use std::future::Future;
use std::sync::OnceLock;
use std::time::{SystemTime, UNIX_EPOCH};

pub const POOL: &str = "us-east-1_example";
pub const ISS: &str = "https://cognito-idp.us-east-1.amazonaws.com/us-east-1_example";
pub const CLIENT_ID: &str = "example";
pub const KID: &str = "dummy";
/// Port 9 (discard) on loopback: nothing listens, so the one fetch an unknown `kid` triggers is refused.
pub const JWKS_URI: &str = "http://127.0.0.1:9/jwks.json";
pub const METHOD_ARN: &str = "arn:aws:execute-api:us-east-1:123456789012:abcdef1234/prod/GET/items/42";
/// The REQUEST authorizer's identity sources, as configured below (header first, then query, then cookie).
pub const IDENTITY_SOURCES: [&str; 3] = ["header:Authorization", "query:token", "cookie:id_token"];
pub const WEBSOCKET_IDENTITY_SOURCES: [&str; 2] = ["query:token", "header:Authorization"];

pub struct Harness {
    pub authorizer: Authorizer,
    runtime: tokio::runtime::Runtime,
}

impl Harness {
    pub fn block_on<F: Future>(&self, future: F) -> F::Output {
        self.runtime.block_on(future)
    }
}

pub fn harness() -> &'static Harness {
    static HARNESS: OnceLock<Harness> = OnceLock::new();
    HARNESS.get_or_init(build)
}

/// The configuration: the README's rules, so that an Allow (were one possible) would go through real rules.
fn config(jwks: &str) -> Config {
    let config = json!({
        "issuers": [{
            "cognito_user_pool_id": POOL,
            "client_ids": [CLIENT_ID],
            "jwks_uri": JWKS_URI,
            "jwks": jwks,
            "algorithms": ["RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "EdDSA"],
            "required_claims": ["sub"]
        }],
        "context_claims": ["sub", "username", "scope", "cognito:groups"],
        "jwks": {"refetch_cooldown_seconds": 3600, "timeout_ms": 1000, "connect_timeout_ms": 200},
        "rules": {"unmatched": "deny", "route": [
            {"match": ["GET /items", "GET /items/{id}"], "scopes_any": ["items/read", "items/write"]},
            {"match": ["POST /items", "PUT /items/{id}", "DELETE /items/{id}"], "scopes_any": ["items/write"]},
            {"match": ["ANY /admin/{proxy+}"], "groups_any": ["admins"], "invalidate_cache": true}
        ]},
        "request": {
            "identity_sources": IDENTITY_SOURCES,
            "websocket_identity_sources": WEBSOCKET_IDENTITY_SOURCES
        }
    });
    serde_json::from_value(config).expect("the fuzz configuration parses")
}

fn build() -> Harness {
    tracing::subscriber::set_global_default(
        tracing_subscriber::fmt()
            .json()
            .with_max_level(tracing::Level::INFO)
            .with_target(false)
            .without_time()
            .with_writer(|| Capture)
            .finish(),
    )
    .expect("no other subscriber");
    let rsa = RsaKeyPair::generate(KeySize::Rsa2048).expect("an RSA key");
    let public = rsa.public_key();
    let jwks = json!({"keys": [{
        "kty": "RSA", "kid": KID, "use": "sig",
        "n": B64.encode(public.modulus().big_endian_without_leading_zero()),
        "e": B64.encode(public.exponent().big_endian_without_leading_zero()),
    }]})
    .to_string();
    let authorizer = Authorizer::new(&config(&jwks)).expect("the fuzz configuration is valid");
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("a runtime");
    let harness = Harness { authorizer, runtime };
    prove_the_oracle(&harness, &rsa);
    take_logs();
    harness
}

/// A correctly signed token is allowed, and the same token with a flipped signature bit is not.
fn prove_the_oracle(harness: &Harness, rsa: &RsaKeyPair) {
    let now = SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_secs();
    let header = json!({"kid": KID, "alg": "RS256"});
    let claims = json!({
        "sub": "oracle", "iss": ISS, "client_id": CLIENT_ID, "token_use": "access",
        "scope": "items/read", "exp": now + 3600, "iat": now
    });
    let input = format!("{}.{}", B64.encode(header.to_string()), B64.encode(claims.to_string()));
    let mut signature = vec![0; rsa.public_modulus_len()];
    rsa.sign(&RSA_PKCS1_SHA256, &SystemRandom::new(), input.as_bytes(), &mut signature).unwrap();
    let good = format!("{input}.{}", B64.encode(&signature));
    signature[17] ^= 0x10;
    let bad = format!("{input}.{}", B64.encode(&signature));

    let token = |t: &str| TokenEvent {
        kind: "TOKEN".into(),
        authorization_token: Some(format!("Bearer {t}")),
        method_arn: METHOD_ARN.into(),
    };
    let allowed = harness.block_on(harness.authorizer.token_event(&token(&good)));
    assert!(
        allowed.as_ref().is_ok_and(|r| allows(r, METHOD_ARN)),
        "oracle: a signed token must be allowed: {allowed:?}"
    );
    let refused = harness.block_on(harness.authorizer.token_event(&token(&bad)));
    assert!(refused.is_err(), "oracle: a bad signature must be refused: {refused:?}");

    let mut event: serde_json::Value =
        serde_json::from_str(include_str!("../../../events/request-rest.json")).expect("the sample event");
    for t in [&good, &bad] {
        event["headers"]["Authorization"] = json!(format!("Bearer {t}"));
        event["multiValueHeaders"]["Authorization"] = json!([format!("Bearer {t}")]);
        let result = harness.block_on(harness.authorizer.request_event(&event.to_string()));
        let is_allowed = request_allows(&result, METHOD_ARN);
        assert_eq!(
            is_allowed,
            t == &good,
            "oracle: REQUEST event with a {} token: {result:?}",
            if t == &good { "good" } else { "bad" }
        );
    }
}

/// Whether a policy answer lets the caller invoke `arn`.
pub fn allows(response: &AuthorizerResponse, arn: &str) -> bool {
    response.policy_document.evaluate(Action::Invoke, arn) == Evaluation::Allow
}

pub fn request_allows(result: &Result<RequestResponse, AuthError>, arn: &str) -> bool {
    match result {
        Ok(RequestResponse::Policy(response)) => allows(response, arn),
        Ok(RequestResponse::Simple(simple)) => simple.is_authorized,
        Err(_) => false,
    }
}

thread_local! {
    static LOGS: RefCell<Vec<u8>> = const { RefCell::new(Vec::new()) };
}

/// Appends log lines to this thread's buffer (the targets are single-threaded).
struct Capture;

impl std::io::Write for Capture {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        LOGS.with(|logs| logs.borrow_mut().extend_from_slice(buf));
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// Looks like a compact JWS: at least 20 characters of base64url in three dot-separated parts. Only such a
/// string is looked for in the logs: the log line's own text (which the fuzzer learns from the comparison
/// and feeds back as a "token") has quotes, colons and commas, and so never passes for one.
pub fn jws_shaped(token: &str) -> bool {
    token.len() >= 20
        && token.matches('.').count() == 2
        && token.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_' || b == b'.')
}

/// The log lines written since the last call.
pub fn take_logs() -> String {
    let bytes = LOGS.with(|logs| std::mem::take(&mut *logs.borrow_mut()));
    String::from_utf8_lossy(&bytes).into_owned()
}

/// The error of an event whose ARN is valid and whose token was found: exactly the JWS parser's rejection when
/// parsing fails; otherwise a rejection, or `keys_unavailable` only for a kid the pre-baked set does not hold.
pub fn check_error_for_token(token: &str, error: &AuthError) {
    match UnverifiedJws::parse(token) {
        Err(rejection) => assert_eq!(*error, AuthError::Rejected(rejection), "the JWS parser's rejection"),
        Ok(jws) => match error {
            AuthError::Rejected(_) => {}
            AuthError::Failed(Fault::KeysUnavailable) => {
                assert_ne!(jws.kid, KID, "keys_unavailable for the pre-baked kid")
            }
            AuthError::Failed(fault) => panic!("unexpected fault {fault:?} for a valid ARN and a found token"),
        },
    }
}
