//! Many decisions at once on one authorizer, as Lambda's multi-concurrency mode (Managed Instances) runs them:
//! every answer must be the right one, and concurrent misses for the issuer's keys must share one fetch. The
//! JWKS endpoint is the harness's loopback stand-in, which counts requests (no emulator can).

use authorizer::policy::{Action, Evaluation};
use authorizer::{AuthError, Authorizer, Config, TokenEvent};
use harness::jwks_server::JwksServer;
use harness::lambda::{method_arn, token_event};
use harness::mint::{self, CognitoClaims, SigningKey};
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
