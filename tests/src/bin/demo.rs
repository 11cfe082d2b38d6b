//! Demo: a local Cognito (moto) with three users, the TOKEN and then the REQUEST authorizer under `cargo lambda
//! watch`, and what API Gateway would answer each user on a few routes: REST API TOKEN events, then HTTP API 2.0 and
//! WebSocket `$connect` events built from the samples in `events/`. Last, a global sign-out taking effect through
//! the cache invalidator and the revocation table (moto's DynamoDB; a loopback stand-in for API Gateway's
//! cache-flush calls, which moto lacks). Results go to stdout, progress to stderr.
//! Everything it starts is stopped when it ends, also on failure or Ctrl-C; it talks only to 127.0.0.1 and never to
//! AWS.

use std::process::ExitCode;

use authorizer::arn::MethodArn;
use authorizer::request::Shape;
use harness::cognito::{self, Cognito, cloudtrail_event};
use harness::dynamodb::RevocationTable;
use harness::lambda::{API_PREFIX, LambdaWatch, Outcome, arn_member, request_event};
use harness::mint::{self, CognitoClaims, SigningKey, unix_now};
use harness::moto::Moto;
use harness::stand_in::ControlPlane;
use serde_json::json;

const PASSWORD: &str = "Demo-Passw0rd!";

/// Readers and admins may read items; only admins may use the admin API; anything else is denied.
const RULES: &str = r#"
[rules]
unmatched = "deny"

[[rules.route]]
match = ["GET /items", "GET /items/{id}"]
groups_any = ["readers", "admins"]

[[rules.route]]
match = ["ANY /admin/{proxy+}"]
groups_any = ["admins"]
"#;

/// For the REQUEST authorizer, appended to the rules: only admins may connect to the WebSocket API, and no one
/// may read items from a blocked network.
const REQUEST_RULES: &str = r#"
[[rules.route]]
match = ["$connect"]
groups_any = ["admins"]

[[rules.route]]
match = ["GET /items", "GET /items/{id}"]
deny_source_ips = ["198.51.100.0/24"]
"#;

/// The REQUEST samples call from this address; the blocked one is in `REQUEST_RULES`.
const BLOCKED_ADDRESS: &str = "198.51.100.7";

type DemoResult<T = ()> = Result<T, Box<dyn std::error::Error>>;

#[tokio::main]
async fn main() -> ExitCode {
    // Returning from `run`, or dropping it on Ctrl-C, drops the server guards, which stop moto and watch.
    let result = tokio::select! {
        result = run() => result,
        _ = tokio::signal::ctrl_c() => Err("interrupted".into()),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("demo failed: {error}");
            ExitCode::FAILURE
        }
    }
}

async fn run() -> DemoResult {
    eprintln!("demo: starting moto (local Cognito)");
    let moto = Moto::start().await?;
    let cognito = Cognito::new(moto.url());
    let pool = cognito.create_user_pool("demo").await?;
    let client = cognito.create_app_client(&pool, "demo-web").await?;
    for group in ["admins", "readers"] {
        cognito.create_group(&pool, group).await?;
    }
    let users: [(&str, &[&str]); 3] = [("alice", &["admins"]), ("bob", &["readers"]), ("carol", &[])];
    for (user, groups) in users {
        cognito.create_user(&pool, user, PASSWORD, groups).await?;
    }
    eprintln!("demo: pool {pool}: alice (admins), bob (readers), carol (no group); signing them in");
    let alice = cognito.sign_in(&pool, &client, "alice", PASSWORD).await?;
    let bob = cognito.sign_in(&pool, &client, "bob", PASSWORD).await?;
    let carol = cognito.sign_in(&pool, &client, "carol", PASSWORD).await?;

    // Forgeries for the 401 rows: an expired token with moto's real signature, and bob's token claiming admins.
    let expired = SigningKey::moto()?.sign(&CognitoClaims::access(&pool, &client, "alice").expired(300).to_json())?;
    let mut promoted = mint::claims_of(&bob.access_token)?;
    promoted["cognito:groups"] = json!(["admins"]);
    let tampered = mint::tamper(&bob.access_token, &promoted)?;

    let config = format!(
        "context_claims = [\"sub\", \"username\", \"cognito:groups\"]\n\n\
         [[issuers]]\ncognito_user_pool_id = \"{pool}\"\nclient_ids = [\"{client}\"]\ntoken_use = \"access\"\n\
         jwks_uri = \"{}\"\n{RULES}",
        cognito::jwks_url(moto.url(), &pool)
    );
    eprintln!("demo: starting token-authorizer under cargo lambda watch (the first build can take minutes)");
    let watch = LambdaWatch::start("token-authorizer", &[("AUTHZ_CONFIG", &config)]).await?;

    let cases = [
        ("alice", alice.access_token.as_str(), "GET", "/items"),
        ("alice", &alice.access_token, "DELETE", "/admin/users/7"),
        ("bob", &bob.access_token, "GET", "/items/42"),
        ("bob", &bob.access_token, "POST", "/admin/users"),
        ("carol", &carol.access_token, "GET", "/items"),
        ("alice (expired token)", &expired, "GET", "/items"),
        ("bob (tampered: claims admins)", &tampered, "POST", "/admin/users"),
        ("alice (ID token, access required)", &alice.id_token, "GET", "/items"),
    ];
    println!("Policy resources are shown relative to the stage of the API called, e.g. {API_PREFIX}/\n");
    println!("TOKEN authorizer: REST API, Authorization: Bearer <token>");
    print_row("USER", "ROUTE", &"OUTCOME");
    for (user, token, method, path) in cases {
        let outcome = watch.authorize(token, method, path).await?;
        print_row(user, &format!("{method} {path}"), &outcome);
        print_answer(&outcome, &format!("{API_PREFIX}/"));
    }
    // One watch at a time: each runs cargo and its own function.
    drop(watch);

    eprintln!("demo: starting request-authorizer under cargo lambda watch (the first build can take minutes)");
    let request_config = format!("{config}{REQUEST_RULES}");
    let watch = LambdaWatch::start("request-authorizer", &[("AUTHZ_CONFIG", &request_config)]).await?;
    let cases = [
        ("bob", Shape::HttpV2, &bob.access_token, None),
        ("bob", Shape::HttpV2, &bob.access_token, Some(BLOCKED_ADDRESS)),
        ("carol", Shape::HttpV2, &carol.access_token, None),
        ("alice", Shape::WebSocket, &alice.access_token, None),
    ];
    println!("\nREQUEST authorizer: the events/ samples with each user's token (HTTP API 2.0: Authorization header;");
    println!("WebSocket $connect: ?token= in the query string)");
    print_row("USER", "ROUTE", &"OUTCOME");
    for (user, shape, token, source_ip) in cases {
        let mut event = request_event(shape, Some(token));
        if let Some(address) = source_ip {
            event["requestContext"]["http"]["sourceIp"] = address.into();
        }
        let arn = MethodArn::parse(event[arn_member(&event)].as_str().unwrap_or_default())?;
        // `GET/items/42` reads as `GET /items/42`; a WebSocket route key such as `$connect` as itself.
        let route = arn.route.split_once('/').map_or(arn.route.to_owned(), |(verb, path)| format!("{verb} /{path}"));
        let api = if shape == Shape::WebSocket { "WebSocket" } else { "HTTP API 2.0" };
        let from = source_ip.map(|address| format!(" from {address}")).unwrap_or_default();
        let outcome = watch.invoke(&event).await?;
        print_row(&format!("{user} ({api}{from})"), &route, &outcome);
        print_answer(&outcome, arn.stage_prefix);
    }
    drop(watch);

    revocation(&moto, &cognito, &pool, &client, &config).await?;
    eprintln!("demo: stopping cargo lambda watch and moto");
    Ok(())
}

/// A global sign-out: Allow, then the CloudTrail event through the invalidator, then 401 for the same token.
async fn revocation(moto: &Moto, cognito: &Cognito, pool: &str, client: &str, config: &str) -> DemoResult {
    let table = "demo-revocations";
    RevocationTable::create(moto.url(), table).await?;
    let control_plane = ControlPlane::start().await?;
    eprintln!("demo: starting token-authorizer (reading the revocation table) and cache-invalidator");
    let staleness = "1";
    let authorizer = LambdaWatch::start(
        "token-authorizer",
        &[
            ("AUTHZ_CONFIG", config),
            ("REVOCATION_TABLE", table),
            ("REVOCATION_MAX_STALENESS_SECONDS", staleness),
            ("AWS_ENDPOINT_URL_DYNAMODB", moto.url()),
        ],
    )
    .await?;
    let invalidator = LambdaWatch::start(
        "cache-invalidator",
        &[
            ("REVOCATION_TABLE", table),
            ("COGNITO_USER_POOL_ID", pool),
            ("REST_API_STAGES", "demoapi123/prod"),
            ("REFLUSH_AFTER_SECONDS", staleness),
            ("AWS_ENDPOINT_URL", moto.url()),
            ("AWS_ENDPOINT_URL_API_GATEWAY", control_plane.url()),
        ],
    )
    .await?;
    let token = cognito.sign_in(pool, client, "alice", PASSWORD).await?.access_token;

    println!("\nRevocation: a global sign-out, through the cache invalidator (REVOCATION_TABLE set)");
    print_row("USER", "ROUTE", &"OUTCOME");
    print_row("alice", "GET /items", &authorizer.authorize(&token, "GET", "/items").await?);
    cognito.global_sign_out(pool, "alice").await?;
    let sub = cognito.user_sub(pool, "alice").await?;
    let event = cloudtrail_event("AdminUserGlobalSignOut", pool, "alice", Some(&sub), unix_now());
    let report = invalidator.call(&event).await?.map_err(|error| format!("the invalidator failed: {error}"))?;
    println!(
        "  AdminUserGlobalSignOut(alice) → CloudTrail event → cache-invalidator: revoked {} (tokens issued before {}), \
         flushed {}",
        report["revoked"]["pk"].as_str().unwrap_or("?"),
        cognito::rfc3339(report["revoked"]["not_before"].as_i64().unwrap_or(0)),
        report["flushed"]
            .as_array()
            .map(|stages| stages.iter().filter_map(|s| s.as_str()).collect::<Vec<_>>().join(", "))
            .unwrap_or_default()
    );
    let flushes = control_plane.take_requests();
    for request in &flushes {
        let signed = request.authorization.as_deref().is_some_and(|a| a.starts_with("AWS4-HMAC-SHA256"));
        println!("    API Gateway received {} {} (SigV4-signed: {signed})", request.method, request.path);
    }
    print_row("alice (same token)", "GET /items", &authorizer.authorize(&token, "GET", "/items").await?);
    // A token issued in the sign-out's second is revoked too; a sign-in after it passes.
    let not_before = report["revoked"]["not_before"].as_i64().unwrap_or(0);
    while unix_now() < not_before {
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    let fresh = cognito.sign_in(pool, client, "alice", PASSWORD).await?.access_token;
    print_row("alice (signed in again)", "GET /items", &authorizer.authorize(&fresh, "GET", "/items").await?);
    Ok(())
}

fn print_row(user: &str, route: &str, outcome: &dyn std::fmt::Display) {
    println!("{user:<36} {route:<22} {outcome}");
}

/// The policy of an answer (resources relative to `stage_prefix`) and, when the request goes through, the context
/// the backend receives.
fn print_answer(outcome: &Outcome, stage_prefix: &str) {
    if let Outcome::Allow(answer) | Outcome::Deny(answer) = outcome {
        for line in answer.policy_lines() {
            println!("    policy:  {}", line.replace(stage_prefix, ""));
        }
    }
    if let Some(context) = outcome.context() {
        let context: Vec<String> = context.iter().map(|(key, value)| format!("{key}={value}")).collect();
        println!("    context: {}", context.join(" "));
    }
}
