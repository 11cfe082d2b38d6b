//! The cache invalidator end to end: moto's Cognito signs users in and records sign-outs, disabled users and group
//! changes made through the AWS SDK; the invalidator, under `cargo lambda watch`, receives the CloudTrail-shaped
//! EventBridge event for each call, resolves the user in moto (`AdminGetUser`), writes moto's DynamoDB table and
//! flushes the stages; the TOKEN authorizer, under its own watch, reads that table. moto does not implement the
//! cache-flush calls, so a loopback stand-in plays API Gateway's control plane and records what the SDK sent.

use std::time::Duration;

use harness::cognito::{self, Cognito, cloudtrail_event};
use harness::dynamodb::RevocationTable;
use harness::lambda::{LambdaWatch, Outcome};
use harness::mint::{self, unix_now};
use harness::moto::Moto;
use harness::stand_in::{ControlPlane, StandIn};
use serde_json::{Value, json};

const PASSWORD: &str = "Invalidator-Passw0rd!";
const TABLE: &str = "authz-revocations";
/// The authorizer's revocation staleness, and the invalidator's pause before its second flush.
const STALENESS: Duration = Duration::from_secs(1);

struct World {
    /// Held for its `Drop`, which stops the server.
    _moto: Moto,
    cognito: Cognito,
    pool: String,
    client: String,
    control_plane: StandIn,
    authorizer: LambdaWatch,
    invalidator: LambdaWatch,
}

impl World {
    async fn start() -> World {
        let moto = Moto::start().await.unwrap();
        let cognito = Cognito::new(moto.url());
        let pool = cognito.create_user_pool("invalidator").await.unwrap();
        let client = cognito.create_app_client(&pool, "web").await.unwrap();
        cognito.create_group(&pool, "admins").await.unwrap();
        RevocationTable::create(moto.url(), TABLE).await.unwrap();
        let control_plane = ControlPlane::start().await.unwrap();
        let config = format!(
            "[[issuers]]\ncognito_user_pool_id = \"{pool}\"\nclient_ids = [\"{client}\"]\njwks_uri = \"{}\"\n\
             [rules]\nunmatched = \"deny\"\n\
             [[rules.route]]\nmatch = [\"GET /items/{{id}}\"]\n\
             [[rules.route]]\nmatch = [\"ANY /admin/{{proxy+}}\"]\ngroups_any = [\"admins\"]\n",
            cognito::jwks_url(moto.url(), &pool)
        );
        let staleness = STALENESS.as_secs().to_string();
        let authorizer = LambdaWatch::start(
            "token-authorizer",
            &[
                ("AUTHZ_CONFIG", &config),
                // The table as the template passes it, apart from the rules document.
                ("REVOCATION_TABLE", TABLE),
                ("REVOCATION_MAX_STALENESS_SECONDS", &staleness),
                ("AWS_ENDPOINT_URL_DYNAMODB", moto.url()),
            ],
        )
        .await
        .unwrap();
        let invalidator = LambdaWatch::start(
            "cache-invalidator",
            &[
                ("REVOCATION_TABLE", TABLE),
                ("COGNITO_USER_POOL_ID", &pool),
                ("REST_API_STAGES", "restapi01/prod"),
                ("HTTP_API_STAGES", "httpapi01/$default"),
                ("REFLUSH_AFTER_SECONDS", &staleness),
                ("AWS_ENDPOINT_URL", moto.url()),
                ("AWS_ENDPOINT_URL_API_GATEWAY", control_plane.url()),
                ("AWS_ENDPOINT_URL_APIGATEWAYV2", control_plane.url()),
            ],
        )
        .await
        .unwrap();
        World { _moto: moto, cognito, pool, client, control_plane, authorizer, invalidator }
    }

    async fn sign_in(&self, username: &str) -> String {
        self.cognito.sign_in(&self.pool, &self.client, username, PASSWORD).await.unwrap().access_token
    }

    async fn authorize(&self, token: &str, path: &str) -> Outcome {
        self.authorizer.authorize(token, "GET", path).await.unwrap()
    }

    /// Delivers the CloudTrail event for `call` on `username` to the invalidator and returns its report.
    async fn deliver(&self, call: &str, username: &str, with_sub: bool, time: i64) -> Value {
        let sub = if with_sub { Some(self.cognito.user_sub(&self.pool, username).await.unwrap()) } else { None };
        let event = cloudtrail_event(call, &self.pool, username, sub.as_deref(), time);
        self.invalidator.call(&event).await.unwrap().unwrap_or_else(|error| panic!("{call} failed: {error}"))
    }

    /// Waits out the authorizer's revocation staleness and the cut-off's second, then signs in again.
    async fn fresh_sign_in_after(&self, report: &Value, username: &str) -> String {
        let not_before = report["revoked"]["not_before"].as_i64().unwrap();
        while unix_now() < not_before {
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        self.sign_in(username).await
    }
}

fn assert_revoked_user(report: &Value, world: &World, username_sub: &str, called_at: i64) {
    assert_eq!(report["outcome"], "done", "{report}");
    let entry = &report["revoked"];
    assert_eq!(entry["pk"], format!("user#{}#{username_sub}", cognito::issuer(&world.pool)));
    assert_eq!(entry["not_before"], called_at + 1, "tokens of the call's second are revoked, later ones are not");
    assert_eq!(entry["expires_at"], called_at + 1 + 86_400, "kept for the longest token lifetime");
}

#[tokio::test]
async fn sign_out_disable_and_group_removal_take_effect_through_the_invalidator() {
    let world = World::start().await;
    for (name, groups) in [("alice", &["admins"][..]), ("bob", &[]), ("carol", &["admins"])] {
        world.cognito.create_user(&world.pool, name, PASSWORD, groups).await.unwrap();
    }

    // A global sign-out: Allow, the sign-out and its event, then 401; a fresh sign-in passes.
    let signed_out = world.sign_in("alice").await;
    assert!(matches!(world.authorize(&signed_out, "/items/1").await, Outcome::Allow(_)));
    world.cognito.global_sign_out(&world.pool, "alice").await.unwrap();
    let called_at = unix_now();
    let report = world.deliver("AdminUserGlobalSignOut", "alice", true, called_at).await;
    let alice = world.cognito.user_sub(&world.pool, "alice").await.unwrap();
    assert_revoked_user(&report, &world, &alice, called_at);
    let flushed = ["rest:restapi01/prod", "http:httpapi01/$default"];
    assert_eq!(report["flushed"], json!([flushed, flushed].concat()), "flushed, then again after the staleness");
    let requests = world.control_plane.take_requests();
    let paths: Vec<(&str, &str)> = requests.iter().map(|r| (r.method.as_str(), r.path.as_str())).collect();
    let rest = ("DELETE", "/restapis/restapi01/stages/prod/cache/authorizers");
    let http = ("DELETE", "/v2/apis/httpapi01/stages/%24default/cache/authorizers");
    assert_eq!(paths, [rest, http, rest, http], "FlushStageAuthorizersCache and ResetAuthorizersCache, twice");
    for request in &requests {
        let authorization = request.authorization.as_deref().unwrap_or_default();
        assert!(
            authorization.starts_with("AWS4-HMAC-SHA256 Credential=testing/")
                && authorization.contains("/us-east-1/apigateway/aws4_request")
                && authorization.contains("Signature="),
            "SigV4-signed for API Gateway: {authorization}"
        );
        assert!(request.amz_date.is_some(), "signed requests carry their time");
    }
    tokio::time::sleep(STALENESS).await;
    assert_eq!(world.authorize(&signed_out, "/items/1").await, Outcome::Unauthorized, "the signed-out token");
    let fresh = world.fresh_sign_in_after(&report, "alice").await;
    assert!(matches!(world.authorize(&fresh, "/items/1").await, Outcome::Allow(_)), "a fresh sign-in passes");

    // A disabled user, named in the event only by user name: the invalidator resolves the sub in Cognito.
    let token = world.sign_in("bob").await;
    assert!(matches!(world.authorize(&token, "/items/1").await, Outcome::Allow(_)));
    world.cognito.set_enabled(&world.pool, "bob", false).await.unwrap();
    let called_at = unix_now();
    let report = world.deliver("AdminDisableUser", "bob", false, called_at).await;
    let bob = world.cognito.user_sub(&world.pool, "bob").await.unwrap();
    assert_revoked_user(&report, &world, &bob, called_at);
    tokio::time::sleep(STALENESS).await;
    assert_eq!(
        world.authorize(&token, "/items/1").await,
        Outcome::Unauthorized,
        "the disabled user's token is refused"
    );
    world.cognito.set_enabled(&world.pool, "bob", true).await.unwrap();
    let fresh = world.fresh_sign_in_after(&report, "bob").await;
    assert!(matches!(world.authorize(&fresh, "/items/1").await, Outcome::Allow(_)), "enabled again, signed in again");

    // A removed group: the old token, which still claims the group, is refused; a fresh one no longer has it.
    let token = world.sign_in("carol").await;
    assert!(matches!(world.authorize(&token, "/admin/users").await, Outcome::Allow(_)));
    world.cognito.remove_from_group(&world.pool, "carol", "admins").await.unwrap();
    let called_at = unix_now();
    let report = world.deliver("AdminRemoveUserFromGroup", "carol", true, called_at).await;
    tokio::time::sleep(STALENESS).await;
    assert_eq!(world.authorize(&token, "/admin/users").await, Outcome::Unauthorized, "the token naming the group");
    let fresh = world.fresh_sign_in_after(&report, "carol").await;
    assert!(matches!(world.authorize(&fresh, "/admin/users").await, Outcome::Deny(_)), "no longer an admin: 403");
    assert!(matches!(world.authorize(&fresh, "/items/1").await, Outcome::Allow(_)), "still a user");

    // A late, older event never moves a cut-off backwards, which would let the signed-out token pass again.
    let late = world.deliver("AdminUserGlobalSignOut", "alice", true, called_at - 3600).await;
    assert_eq!(late["outcome"], "done", "a repeated event is harmless");
    tokio::time::sleep(STALENESS).await;
    assert_eq!(world.authorize(&signed_out, "/items/1").await, Outcome::Unauthorized, "still refused");

    let log = world.invalidator.output();
    assert!(log.contains(r#""event":"invalidation""#) && log.contains(r#""cause":"cloudtrail:AdminDisableUser""#));
}

#[tokio::test]
async fn unhandled_events_are_acknowledged_and_failures_are_errors() {
    let world = World::start().await;
    world.cognito.create_user(&world.pool, "dave", PASSWORD, &[]).await.unwrap();

    // Events that change no token, or name another pool, are acknowledged without any work.
    let enabled = cloudtrail_event("AdminEnableUser", &world.pool, "dave", None, unix_now());
    let report = world.invalidator.call(&enabled).await.unwrap().unwrap();
    assert_eq!((report["outcome"].as_str(), report["reason"].as_str()), (Some("ignored"), Some("changes_no_token")));
    let other_pool = cloudtrail_event("AdminUserGlobalSignOut", "us-east-1_Other", "dave", None, unix_now());
    let report = world.invalidator.call(&other_pool).await.unwrap().unwrap();
    assert_eq!(report["reason"], "another_user_pool");
    assert!(world.control_plane.take_requests().is_empty(), "nothing flushed for them");

    // A direct command revokes a token family; the family's token is refused.
    let token = world.sign_in("dave").await;
    assert!(matches!(world.authorizer.authorize(&token, "GET", "/items/1").await.unwrap(), Outcome::Allow(_)));
    let origin_jti = mint::claims_of(&token).unwrap()["origin_jti"].as_str().unwrap().to_owned();
    let report =
        world.invalidator.call(&json!({"action": "revoke_family", "origin_jti": origin_jti})).await.unwrap().unwrap();
    assert_eq!(report["revoked"]["pk"], format!("family#{origin_jti}"));
    tokio::time::sleep(STALENESS).await;
    assert_eq!(world.authorizer.authorize(&token, "GET", "/items/1").await.unwrap(), Outcome::Unauthorized);

    // A malformed command is a clear error that quotes nothing it was given.
    let error = world.invalidator.call(&json!({"action": "revoke_token", "token": "eyJsecret"})).await.unwrap();
    let error = error.unwrap_err();
    assert_eq!(error["errorType"], "BadEvent");
    assert!(!error.to_string().contains("eyJsecret"));

    // API Gateway failing: the invocation fails, so Lambda retries it.
    world.control_plane.set_failing(true);
    let error = world.invalidator.call(&json!({"action": "flush"})).await.unwrap().unwrap_err();
    assert_eq!(error["errorType"], "InvalidationFailed");
    let message = error["errorMessage"].as_str().unwrap();
    assert!(message.contains("rest:restapi01/prod") && message.contains("http:httpapi01/$default"), "{message}");
    world.control_plane.set_failing(false);
    let report = world.invalidator.call(&json!({"action": "flush"})).await.unwrap().unwrap();
    assert_eq!(report["flushed"].as_array().map(Vec::len), Some(2), "a flush alone needs one round");
}
