//! Many decisions at once on one authorizer, as Lambda's multi-concurrency mode (Managed Instances) runs them:
//! every answer must be the right one, and concurrent misses for the issuer's keys must share one fetch. The
//! JWKS endpoint and the revocation table are the harness's loopback stand-ins, which count requests (no emulator
//! can); concurrent revocation reads for one user must also share one read.

use authorizer::policy::{Action, Evaluation};
use authorizer::{AuthError, Authorizer, Config, TokenEvent};
use harness::jwks_server::JwksServer;
use harness::lambda::{method_arn, token_event};
use harness::mint::{self, CognitoClaims, SigningKey};
use harness::stand_in::EmptyRevocationTable;
use serde_json::json;
use std::sync::Arc;

const POOL: &str = "us-east-1_ConcurrentPool";
const CLIENT: &str = "concurrent-client";
const CALLERS: usize = 96;

fn authorizer(jwks_uri: &str) -> Authorizer {
    let toml = format!(
        "[[issuers]]\ncognito_user_pool_id = \"{POOL}\"\nclient_ids = [\"{CLIENT}\"]\njwks_uri = \"{jwks_uri}\"\n\
         [jwks]\nrefetch_cooldown_seconds = 3600\n\
         [[rules.route]]\nmatch = [\"GET /items/{{id}}\"]\ngroups_any = [\"readers\"]\n"
    );
    Authorizer::new(&Config::from_lookup(|name| (name == "AUTHZ_CONFIG").then(|| toml.clone())).unwrap()).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_decisions_are_each_right_and_share_one_key_fetch() {
    let key = SigningKey::generate_rsa("concurrent-key").unwrap();
    let jwks = JwksServer::start(&mint::jwks(&[&key])).unwrap();
    let authorizer = Arc::new(authorizer(&jwks.url()));

    // Readers, non-readers and forgers interleaved, all arriving before the keys are fetched.
    let tasks: Vec<_> = (0..CALLERS)
        .map(|i| {
            let mut claims = CognitoClaims::access(POOL, CLIENT, &format!("user{i}"));
            if i % 3 == 0 {
                claims.groups = vec!["readers".into()];
            }
            let claims = claims.to_json();
            let mut token = key.sign(&claims).unwrap();
            if i % 3 == 2 {
                // A non-reader's token claiming the group, without a new signature.
                let mut forged = claims.clone();
                forged["cognito:groups"] = json!(["readers"]);
                token = mint::tamper(&token, &forged).unwrap();
            }
            let arn = method_arn("GET", &format!("/items/{i}"));
            let event: TokenEvent = serde_json::from_value(token_event(&format!("Bearer {token}"), &arn)).unwrap();
            let authorizer = authorizer.clone();
            tokio::spawn(async move { (i, arn, authorizer.token_event(&event).await) })
        })
        .collect();

    for task in tasks {
        let (i, arn, result) = task.await.unwrap();
        match (i % 3, result) {
            (0, Ok(answer)) => {
                assert_eq!(answer.policy_document.evaluate(Action::Invoke, &arn), Evaluation::Allow, "caller {i}")
            }
            (1, Ok(answer)) => {
                assert_ne!(answer.policy_document.evaluate(Action::Invoke, &arn), Evaluation::Allow, "caller {i}")
            }
            (2, Err(AuthError::Rejected(_))) => {}
            (kind, other) => panic!("caller {i} (kind {kind}) got {other:?}"),
        }
    }
    assert_eq!(jwks.requests(), 1, "concurrent misses share one fetch");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_revocation_misses_for_one_user_share_one_read() {
    let key = SigningKey::generate_rsa("concurrent-key").unwrap();
    let jwks = JwksServer::start(&mint::jwks(&[&key])).unwrap();
    let table = EmptyRevocationTable::start().await.unwrap();
    let toml = format!(
        "[[issuers]]\ncognito_user_pool_id = \"{POOL}\"\nclient_ids = [\"{CLIENT}\"]\njwks_uri = \"{}\"\n\
         [revocation]\ntable = \"authz-revocations\"\nendpoint = \"{}\"\nregion = \"us-east-1\"\n",
        jwks.url(),
        table.url()
    );
    let config = Config::from_lookup(|name| (name == "AUTHZ_CONFIG").then(|| toml.clone())).unwrap();
    let credentials = |name: &str| name.starts_with("AWS_").then(|| "testing".to_owned());
    let authorizer = Arc::new(Authorizer::with_environment(&config, credentials).unwrap());

    // Two users, each with many requests in flight before any answer is cached.
    let tokens: Vec<String> = ["ann", "ben"]
        .iter()
        .map(|user| key.sign(&CognitoClaims::access(POOL, CLIENT, user).to_json()).unwrap())
        .collect();
    let tasks: Vec<_> = (0..CALLERS)
        .map(|i| {
            let arn = method_arn("GET", "/items/1");
            let event: TokenEvent =
                serde_json::from_value(token_event(&format!("Bearer {}", tokens[i % 2]), &arn)).unwrap();
            let authorizer = authorizer.clone();
            tokio::spawn(async move { authorizer.token_event(&event).await.map(|_| ()) })
        })
        .collect();
    for task in tasks {
        task.await.unwrap().expect("nothing revokes these tokens");
    }
    assert_eq!(table.count(), 2, "one BatchGetItem per user, not one per request");
}
