//! The token authorizer end to end: real moto-issued Cognito tokens (and tokens minted with moto's key) sent as
//! REST TOKEN events to the function under `cargo lambda watch`, judged as API Gateway would.
//!
//! Starting watch is slow, so one function configuration serves every scenario of this file: one test runs them in
//! sequence and reports every failed expectation at the end. Rotation, outage and flood scenarios each have their
//! own Cognito pool and JWKS stand-in, so their key caches and fetch counters cannot disturb one another.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use harness::cognito::{self, Cognito, Tokens};
use harness::jwks_server::{JwksServer, Mode};
use harness::lambda::{LambdaWatch, Outcome, method_arn, token_event};
use harness::mint::{self, CognitoClaims, SigningKey, unix_now};
use harness::moto::Moto;
use serde_json::{Value, json};

const PASSWORD: &str = "Corr3ct-Horse!";
/// Short, so that scenarios needing a refetch wait little, yet long enough to hold a whole flood of requests.
const COOLDOWN: Duration = Duration::from_secs(3);
/// Wide, so that a token expired a few seconds ago stays inside it however slow the machine.
const LEEWAY_SECONDS: i64 = 30;
const OIDC_ISSUER: &str = "https://issuer.example.test/";
const OIDC_AUDIENCE: &str = "api://demo";

/// A moto user pool with one app client and signed-in users.
struct Pool {
    id: String,
    client: String,
    tokens: HashMap<&'static str, Tokens>,
}

impl Pool {
    /// Creates the pool, the groups the users name, and the users, then signs every user in.
    async fn create(cognito: &Cognito, name: &str, users: &[(&'static str, &[&str])]) -> Self {
        let id = cognito.create_user_pool(name).await.unwrap();
        let client = cognito.create_app_client(&id, "web").await.unwrap();
        let mut groups: Vec<&str> = users.iter().flat_map(|(_, groups)| groups.iter().copied()).collect();
        groups.sort_unstable();
        groups.dedup();
        for group in groups {
            cognito.create_group(&id, group).await.unwrap();
        }
        let mut tokens = HashMap::new();
        for (user, groups) in users {
            cognito.create_user(&id, user, PASSWORD, groups).await.unwrap();
            tokens.insert(*user, cognito.sign_in(&id, &client, user, PASSWORD).await.unwrap());
        }
        Self { id, client, tokens }
    }

    fn access(&self, user: &str) -> &str {
        &self.tokens[user].access_token
    }

    fn issuer_toml(&self, jwks_uri: &str) -> String {
        format!(
            "[[issuers]]\ncognito_user_pool_id = \"{}\"\nclient_ids = [\"{}\"]\ntoken_use = \"access\"\n\
             jwks_uri = \"{jwks_uri}\"\nleeway_seconds = {LEEWAY_SECONDS}\n",
            self.id, self.client
        )
    }
}

/// Runs scenarios against one watch instance and collects failed expectations instead of stopping at the first.
struct Suite {
    watch: LambdaWatch,
    failures: Vec<String>,
    /// Every token sent, to prove afterwards that none reached the logs.
    tokens_sent: Vec<String>,
}

impl Suite {
    /// Sends `Bearer <token>` for `route` ("METHOD /path") and expects API Gateway's `status`.
    async fn expect(&mut self, scenario: &str, token: &str, route: &str, status: u16) -> Outcome {
        let (method, path) = route.split_once(' ').unwrap();
        self.tokens_sent.push(token.to_owned());
        let event = token_event(&format!("Bearer {token}"), &method_arn(method, path));
        self.expect_event(&format!("{scenario} [{route}]"), &event, status).await
    }

    async fn expect_event(&mut self, scenario: &str, event: &Value, status: u16) -> Outcome {
        let outcome = self.watch.invoke(event).await.unwrap();
        self.check(scenario, outcome.status() == status, || format!("expected {status}, got {outcome:?}"));
        outcome
    }

    fn check(&mut self, scenario: &str, ok: bool, detail: impl FnOnce() -> String) {
        if !ok {
            self.failures.push(format!("{scenario}: {}", detail()));
        }
    }
}

#[tokio::test]
async fn token_authorizer_end_to_end() {
    let moto = Moto::start().await.unwrap();
    let cognito = Cognito::new(moto.url());
    let moto_key = SigningKey::moto().unwrap();
    let moto_jwks = mint::jwks(&[&moto_key]);

    let main = Pool::create(&cognito, "main", &[("alice", &["admins"]), ("bob", &["readers"]), ("carol", &[])]).await;
    let other_client = cognito.create_app_client(&main.id, "other-app").await.unwrap();
    let alice_elsewhere = cognito.sign_in(&main.id, &other_client, "alice", PASSWORD).await.unwrap();
    let rotation = Pool::create(&cognito, "rotation", &[("dave", &[])]).await;
    let outage = Pool::create(&cognito, "outage", &[("erin", &[])]).await;
    let flood = Pool::create(&cognito, "flood", &[("frank", &[])]).await;
    let rotation_jwks = JwksServer::start(&moto_jwks).unwrap();
    let outage_jwks = JwksServer::start(&moto_jwks).unwrap();
    let flood_jwks = JwksServer::start(&moto_jwks).unwrap();
    let oidc_key = SigningKey::generate_es256("oidc-1").unwrap();
    let oidc_jwks = JwksServer::start(&mint::jwks(&[&oidc_key])).unwrap();

    let config = format!(
        "context_claims = [\"sub\", \"username\", \"scope\", \"cognito:groups\"]\n\n{}\n{}\n{}\n{}\n\
         [[issuers]]\nissuer = \"{OIDC_ISSUER}\"\naudiences = [\"{OIDC_AUDIENCE}\"]\njwks_uri = \"{}\"\n\
         algorithms = [\"ES256\"]\n\n\
         [jwks]\nttl_seconds = 3600\nrefetch_cooldown_seconds = {}\ntimeout_ms = 1000\n\n\
         [rules]\nunmatched = \"deny\"\n\
         [[rules.route]]\nmatch = [\"GET /items\", \"GET /items/{{id}}\"]\n\
         scopes_any = [\"items/read\", \"aws.cognito.signin.user.admin\"]\n\
         [[rules.route]]\nmatch = [\"POST /items\"]\nscopes_any = [\"items/write\"]\n\
         [[rules.route]]\nmatch = [\"ANY /admin/{{proxy+}}\"]\ngroups_any = [\"admins\"]\n",
        main.issuer_toml(&cognito::jwks_url(moto.url(), &main.id)),
        rotation.issuer_toml(&rotation_jwks.url()),
        outage.issuer_toml(&outage_jwks.url()),
        flood.issuer_toml(&flood_jwks.url()),
        oidc_jwks.url(),
        COOLDOWN.as_secs(),
    );
    eprintln!("starting cargo lambda watch (the first run builds the function, which can take minutes)");
    // No AWS_LAMBDA_LOG_FORMAT: decision lines must be JSON by default.
    let env = [("AUTHZ_CONFIG", config.as_str())];
    let watch = LambdaWatch::start("token-authorizer", &env).await.unwrap();
    let mut suite = Suite { watch, failures: Vec::new(), tokens_sent: Vec::new() };

    allow_and_context(&mut suite, &main).await;
    deny_by_rule(&mut suite, &main, &moto_key).await;
    unauthorized(&mut suite, &main, &moto_key, &alice_elsewhere).await;
    oidc_es256(&mut suite, &oidc_key).await;
    key_rotation(&mut suite, &rotation, &rotation_jwks, &moto_key).await;
    jwks_outage(&mut suite, &outage, &outage_jwks, &moto_key).await;
    kid_flood(&mut suite, &flood, &flood_jwks, &moto_key).await;
    logs_hold_no_token(&mut suite);

    assert!(
        suite.failures.is_empty(),
        "{} failed expectation(s):\n{}",
        suite.failures.len(),
        suite.failures.join("\n")
    );
}

async fn allow_and_context(suite: &mut Suite, main: &Pool) {
    let alice = main.access("alice");
    let alice_sub = mint::claims_of(alice).unwrap()["sub"].as_str().unwrap().to_owned();
    if let Outcome::Allow(answer) = suite.expect("allow", alice, "GET /items/42", 200).await {
        suite.check("allow: principal", answer.principal_id == alice_sub, || format!("principalId {answer:?}"));
        suite.check("allow: context sub", answer.context.get("sub") == Some(&json!(alice_sub)), || {
            format!("context {:?}", answer.context)
        });
        let groups = answer.context.get("cognito:groups").and_then(Value::as_str).unwrap_or_default();
        suite.check("allow: context groups", groups.contains("admins"), || format!("context {:?}", answer.context));
    }
    suite.expect("allow: admins may use the admin API", alice, "DELETE /admin/users/7", 200).await;
    suite.expect("allow: readers may read", main.access("bob"), "GET /items", 200).await;
    suite.tokens_sent.push(alice.to_owned());
    suite
        .expect_event("allow: the Bearer prefix is optional", &token_event(alice, &method_arn("GET", "/items")), 200)
        .await;
}

async fn deny_by_rule(suite: &mut Suite, main: &Pool, moto_key: &SigningKey) {
    suite.expect("deny: readers may not use the admin API", main.access("bob"), "GET /admin/users", 403).await;
    suite.expect("deny: no group, no admin API", main.access("carol"), "POST /admin/users/7/disable", 403).await;
    suite.expect("deny: routes no rule matches", main.access("alice"), "DELETE /items/42", 403).await;
    suite.expect("deny: writing needs items/write", main.access("bob"), "POST /items", 403).await;

    let mut writer = mint::claims_of(main.access("bob")).unwrap();
    writer["scope"] = json!("items/write");
    let writer = moto_key.sign(&writer).unwrap();
    suite.expect("allow: a custom scope grants its route", &writer, "POST /items", 200).await;
}

async fn unauthorized(suite: &mut Suite, main: &Pool, moto_key: &SigningKey, alice_elsewhere: &Tokens) {
    let alice = main.access("alice");
    let expired =
        moto_key.sign(&CognitoClaims::access(&main.id, &main.client, "alice").expired(300).to_json()).unwrap();
    suite.expect("401: expired beyond the leeway", &expired, "GET /items", 401).await;
    let mut barely = CognitoClaims::access(&main.id, &main.client, "alice");
    barely.expires_at = unix_now() - 5;
    let barely = moto_key.sign(&barely.to_json()).unwrap();
    suite.expect("allow: expired within the leeway", &barely, "GET /items", 200).await;

    let (header, rest) = alice.split_once('.').unwrap();
    let flipped_char = if rest.starts_with('A') { 'B' } else { 'A' };
    let flipped = format!("{header}.{flipped_char}{}", &rest[1..]);
    suite.expect("401: a flipped payload character", &flipped, "GET /items", 401).await;
    let mut promoted = mint::claims_of(main.access("bob")).unwrap();
    promoted["cognito:groups"] = json!(["admins"]);
    let promoted = mint::tamper(main.access("bob"), &promoted).unwrap();
    suite.expect("401: groups rewritten without re-signing", &promoted, "GET /admin/users", 401).await;

    suite.expect("401: another app client's token", &alice_elsewhere.access_token, "GET /items", 401).await;
    suite.expect("401: an ID token where access is required", &main.tokens["alice"].id_token, "GET /items", 401).await;

    let claims = CognitoClaims::access(&main.id, &main.client, "alice").to_json();
    let foreign = SigningKey::generate_rsa(moto_key.kid()).unwrap().sign(&claims).unwrap();
    suite.expect("401: signed by another key under moto's kid", &foreign, "GET /items", 401).await;
    let unsigned = format!("{}.", mint::unsigned(&json!({"alg": "none", "kid": moto_key.kid()}), &claims));
    suite.expect("401: alg none", &unsigned, "GET /items", 401).await;
    suite.expect("401: not a JWT", "not-a-jwt", "GET /items", 401).await;
    suite.expect_event("401: no token", &token_event("", &method_arn("GET", "/items")), 401).await;
}

async fn oidc_es256(suite: &mut Suite, key: &SigningKey) {
    let claims = |audience: &str| {
        json!({"iss": OIDC_ISSUER, "aud": audience, "sub": "svc-reporting", "scope": "items/read",
               "iat": unix_now(), "exp": unix_now() + 600})
    };
    let token = key.sign(&claims(OIDC_AUDIENCE)).unwrap();
    suite.expect("allow: OIDC issuer with ES256", &token, "GET /items", 200).await;
    let token = key.sign(&claims("api://someone-else")).unwrap();
    suite.expect("401: OIDC token for another audience", &token, "GET /items", 401).await;
}

async fn key_rotation(suite: &mut Suite, pool: &Pool, jwks: &JwksServer, moto_key: &SigningKey) {
    let dave = pool.access("dave");
    // Before the first fetch: key generation is slow in a debug build and must not eat into the cooldown.
    let new_key = SigningKey::generate_rsa("rotated-1").unwrap();
    let rotated = new_key.sign(&mint::claims_of(dave).unwrap()).unwrap();
    suite.expect("rotation: the current key works", dave, "GET /items", 200).await;
    jwks.set_jwks(&mint::jwks(&[moto_key, &new_key]));
    suite.expect("rotation: inside the cooldown the new kid is unknown", &rotated, "GET /items", 401).await;
    tokio::time::sleep(COOLDOWN).await;
    suite.expect("rotation: after the cooldown the new kid is fetched", &rotated, "GET /items", 200).await;
    suite.expect("rotation: the old key still works", dave, "GET /items", 200).await;
    let fetches = jwks.requests();
    suite.check("rotation: fetches", fetches == 2, || format!("expected 2 JWKS fetches, saw {fetches}"));
}

async fn jwks_outage(suite: &mut Suite, pool: &Pool, jwks: &JwksServer, moto_key: &SigningKey) {
    let erin = pool.access("erin");
    suite.expect("outage: before it, the cached kid works", erin, "GET /items", 200).await;
    let new_key = SigningKey::generate_rsa("after-outage").unwrap();
    let uncached = new_key.sign(&mint::claims_of(erin).unwrap()).unwrap();

    for mode in [Mode::Fail, Mode::Hang] {
        jwks.set_mode(mode);
        tokio::time::sleep(COOLDOWN).await;
        suite.expect(&format!("outage ({mode:?}): an uncached kid is our fault"), &uncached, "GET /items", 500).await;
        suite.expect(&format!("outage ({mode:?}): the cached kid keeps working"), erin, "GET /items", 200).await;
    }

    jwks.set_jwks(&mint::jwks(&[moto_key, &new_key]));
    jwks.set_mode(Mode::Serve);
    tokio::time::sleep(COOLDOWN).await;
    suite.expect("outage: after recovery the new kid is fetched", &uncached, "GET /items", 200).await;
}

async fn kid_flood(suite: &mut Suite, pool: &Pool, jwks: &JwksServer, moto_key: &SigningKey) {
    let frank = pool.access("frank");
    suite.expect("flood: the cached kid works", frank, "GET /items", 200).await;
    tokio::time::sleep(COOLDOWN).await;
    let claims = mint::claims_of(frank).unwrap();
    let before = jwks.requests();
    let started = Instant::now();
    for i in 0..50 {
        let header = json!({"alg": "RS256", "kid": format!("flood-{i}"), "typ": "JWT"});
        let token = moto_key.sign_with_header(&header, &claims).unwrap();
        suite.expect(&format!("flood: unknown kid {i}"), &token, "GET /items", 401).await;
    }
    let elapsed = started.elapsed();
    let fetches = jwks.requests() - before;
    // One refetch for the first unknown kid, then at most one more per cooldown the flood outlasted.
    let allowed = 1 + (elapsed.as_secs_f64() / COOLDOWN.as_secs_f64()).floor() as usize;
    suite.check("flood: fetches", (1..=allowed).contains(&fetches), || {
        format!("50 unknown kids over {elapsed:?} caused {fetches} JWKS fetches; expected 1..={allowed}")
    });
    suite.expect("flood: the cached kid still works", frank, "GET /items", 200).await;
}

fn logs_hold_no_token(suite: &mut Suite) {
    let output = suite.watch.output();
    let is_json_decision = |line: &str| {
        serde_json::from_str::<Value>(line.trim()).is_ok_and(|value| value.is_object()) && line.contains("\"decision\"")
    };
    let decisions = output.lines().filter(|line| is_json_decision(line)).count();
    let invocations = suite.tokens_sent.len();
    suite.check("logs: one JSON line per decision", decisions >= invocations, || {
        let sample = output.lines().find(|line| line.contains("decision")).unwrap_or("none");
        format!("{decisions} JSON decision lines for {invocations} invocations; a decision line: {sample}")
    });
    // The whole token, its claims segment and its signature; headers are shared by many tokens and hold no secret.
    let leaked: Vec<String> = suite
        .tokens_sent
        .iter()
        .filter(|token| {
            std::iter::once(token.as_str()).chain(token.split('.').skip(1)).any(|s| s.len() > 16 && output.contains(s))
        })
        .cloned()
        .collect();
    suite.check("logs: no token or token part", leaked.is_empty(), || format!("logged: {leaked:?}"));
}
