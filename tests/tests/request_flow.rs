//! The REQUEST authorizer's decisions in process, event in and answer out, for what needs no emulator:
//! simple responses, CORS preflight, usage-plan keys and request-aware rules (source address, tenant binding,
//! headers, client certificate) on the project's sample events. Keys are pre-baked, so nothing is fetched;
//! the same flows run through `cargo lambda watch` with moto's tokens in `request_authorizer.rs`.

use authorizer::policy::{Action, Evaluation};
use authorizer::{AuthError, Authorizer, Config};
use harness::mint::{self, CognitoClaims, SigningKey};
use serde_json::{Value, json};

const POOL: &str = "us-east-1_FlowPool";
const CLIENT: &str = "flow-client";

struct Flow {
    authorizer: Authorizer,
    key: SigningKey,
}

impl Flow {
    fn new(extra_toml: &str) -> Flow {
        let key = SigningKey::generate_rsa("flow-key").unwrap();
        let jwks = mint::jwks(&[&key]).to_string();
        let toml = format!(
            "usage_identifier_claim = \"client_id\"\ncontext_claims = [\"username\"]\n\
             [[issuers]]\ncognito_user_pool_id = \"{POOL}\"\nclient_ids = [\"{CLIENT}\"]\njwks = '{jwks}'\n{extra_toml}"
        );
        let config = Config::from_lookup(|name| (name == "AUTHZ_CONFIG").then(|| toml.clone())).unwrap();
        Flow { authorizer: Authorizer::new(&config).unwrap(), key }
    }

    fn token(&self, extra: Value) -> String {
        let mut claims = CognitoClaims::access(POOL, CLIENT, "alice");
        claims.extra = extra.as_object().cloned().unwrap_or_default();
        self.key.sign(&claims.to_json()).unwrap()
    }

    /// A sample event with this token, route and source address.
    async fn answer(&self, sample: &str, token: &str, route: &str, source_ip: &str) -> Result<Value, AuthError> {
        let event = event(sample, token, route, source_ip);
        let response = self.authorizer.request_event(&event.to_string()).await?;
        Ok(serde_json::to_value(&response).unwrap())
    }
}

fn event(sample: &str, token: &str, route: &str, source_ip: &str) -> Value {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../events").join(sample);
    let mut event: Value = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    let (verb, path) = route.split_once('/').unwrap();
    let arn = format!("arn:aws:execute-api:us-east-1:123456789012:abcdef1234/prod/{route}");
    if event["version"] == "2.0" {
        event["routeArn"] = json!(arn);
        event["headers"]["authorization"] = json!(format!("Bearer {token}"));
        event["requestContext"]["http"]["method"] = json!(verb);
        event["requestContext"]["http"]["sourceIp"] = json!(source_ip);
        event["rawPath"] = json!(format!("/{path}"));
    } else {
        event["methodArn"] = json!(arn);
        event["httpMethod"] = json!(verb);
        event["headers"]["Authorization"] = json!(format!("Bearer {token}"));
        event["multiValueHeaders"]["Authorization"] = json!([format!("Bearer {token}")]);
        event["requestContext"]["identity"]["sourceIp"] = json!(source_ip);
    }
    event
}

fn allows(answer: &Value, route: &str) -> bool {
    let policy =
        serde_json::from_value::<authorizer::policy::PolicyDocument>(answer["policyDocument"].clone()).unwrap();
    policy.evaluate(Action::Invoke, &format!("arn:aws:execute-api:us-east-1:123456789012:abcdef1234/prod/{route}"))
        == Evaluation::Allow
}

const RULES: &str = r#"
[[rules.route]]
match = ["GET /items/{id}"]
[[rules.route]]
match = ["GET /internal/*"]
source_ips = ["10.0.0.0/8"]
[[rules.route]]
match = ["ANY /tenants/{tenantId}/{proxy+}"]
path_claims = { tenantId = "custom:tenant_id" }
[[rules.route]]
match = ["ANY /partner/{proxy+}"]
client_cert = { sha256 = "1B:03:A1:03:90:B4:BC:23:C4:11:03:77:B6:9E:55:80:8C:28:6B:5A:57:C8:1E:54:D3:B3:73:E5:81:FA:1F:E9" }
"#;

#[tokio::test]
async fn source_address_rules_decide_per_request() {
    let flow = Flow::new(RULES);
    let token = flow.token(json!({}));
    let inside = flow.answer("request-rest.json", &token, "GET/internal/metrics", "10.20.30.40").await.unwrap();
    assert!(allows(&inside, "GET/internal/metrics"));
    let outside = flow.answer("request-rest.json", &token, "GET/internal/metrics", "203.0.113.10").await.unwrap();
    assert!(!allows(&outside, "GET/internal/metrics"), "403 from outside the block");
    assert!(allows(&outside, "GET/items/1"), "other routes are unaffected");
}

#[tokio::test]
async fn tenant_binding_allows_the_callers_own_tenant_only() {
    let flow = Flow::new(RULES);
    let token = flow.token(json!({"custom:tenant_id": "acme"}));
    let answer = flow.answer("request-rest.json", &token, "GET/tenants/acme/orders", "203.0.113.10").await.unwrap();
    assert!(allows(&answer, "GET/tenants/acme/orders"));
    assert!(!allows(&answer, "GET/tenants/globex/orders"), "the cached policy must not reach another tenant");
    let no_tenant = flow.token(json!({}));
    let answer = flow.answer("request-rest.json", &no_tenant, "GET/tenants/acme/orders", "203.0.113.10").await.unwrap();
    assert!(!allows(&answer, "GET/tenants/acme/orders"));
}

#[tokio::test]
async fn client_certificate_rules_read_the_mtls_event() {
    let flow = Flow::new(RULES);
    let token = flow.token(json!({}));
    let with_cert = flow.answer("request-mtls.json", &token, "POST/partner/orders", "203.0.113.10").await.unwrap();
    assert!(allows(&with_cert, "POST/partner/orders"));
    let without = flow.answer("request-rest.json", &token, "POST/partner/orders", "203.0.113.10").await.unwrap();
    assert!(!allows(&without, "POST/partner/orders"));
}

#[tokio::test]
async fn usage_identifier_key_follows_the_client_on_rest_only() {
    let flow = Flow::new("");
    let token = flow.token(json!({}));
    let rest = flow.answer("request-rest.json", &token, "GET/items/1", "203.0.113.10").await.unwrap();
    assert_eq!(rest["usageIdentifierKey"], CLIENT);
    let http = flow.answer("request-http-v2.json", &token, "GET/items/1", "203.0.113.10").await.unwrap();
    assert!(http.get("usageIdentifierKey").is_none(), "HTTP APIs have no usage plans: {http}");
}

#[tokio::test]
async fn simple_responses_and_preflight() {
    let flow = Flow::new(&format!("[request]\nsimple_responses = true\nallow_cors_preflight = true\n{RULES}"));
    let token = flow.token(json!({}));
    let allowed = flow.answer("request-http-v2.json", &token, "GET/items/1", "203.0.113.10").await.unwrap();
    assert_eq!(allowed, json!({"isAuthorized": true, "context": {"username": "alice"}}));
    let denied = flow.answer("request-http-v2.json", &token, "GET/internal/x", "203.0.113.10").await.unwrap();
    assert_eq!(denied, json!({"isAuthorized": false}), "no context for a denied caller");

    let preflight = flow.answer("request-rest.json", "", "OPTIONS/items/1", "203.0.113.10").await.unwrap();
    assert!(allows(&preflight, "OPTIONS/items/1"));
    assert!(!allows(&preflight, "GET/items/1"), "a preflight allows OPTIONS and nothing else");
    let no_token = flow.answer("request-rest.json", "", "GET/items/1", "203.0.113.10").await;
    assert!(matches!(no_token, Err(AuthError::Rejected(_))), "without a token only OPTIONS passes");
    let simple_preflight = flow.answer("request-http-v2.json", "", "OPTIONS/items/1", "203.0.113.10").await.unwrap();
    assert_eq!(simple_preflight, json!({"isAuthorized": true}));
}

#[tokio::test]
async fn preflight_needs_the_setting() {
    let flow = Flow::new("");
    let preflight = flow.answer("request-rest.json", "", "OPTIONS/items/1", "203.0.113.10").await;
    assert!(matches!(preflight, Err(AuthError::Rejected(_))), "OPTIONS needs a token unless allow_cors_preflight");
}
