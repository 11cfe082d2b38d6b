//! Revocation through the real emulators: moto's Cognito signs users in, moto's DynamoDB holds the revocation
//! table (written through the AWS SDK, as the cache invalidator will write it), and the TOKEN authorizer runs
//! under `cargo lambda watch` reading the table with its own signed requests.

use std::time::Duration;

use harness::cognito::{self, Cognito};
use harness::dynamodb::RevocationTable;
use harness::lambda::{LambdaWatch, Outcome};
use harness::mint::{self, unix_now};
use harness::moto::Moto;

const PASSWORD: &str = "Revocation-Passw0rd!";
const STALENESS: Duration = Duration::from_secs(1);

fn claim(token: &str, name: &str) -> String {
    mint::claims_of(token).unwrap()[name].as_str().unwrap().to_owned()
}

/// Waits until the authorizer's cached answers are stale, so the next request reads the table.
async fn past_staleness() {
    tokio::time::sleep(STALENESS + Duration::from_millis(200)).await;
}

#[tokio::test]
async fn revoked_tokens_are_refused_and_fresh_sign_ins_pass() {
    let moto = Moto::start().await.unwrap();
    let cognito = Cognito::new(moto.url());
    let pool = cognito.create_user_pool("revocation").await.unwrap();
    let client = cognito.create_app_client(&pool, "web").await.unwrap();
    cognito.create_user(&pool, "alice", PASSWORD, &[]).await.unwrap();
    let table = RevocationTable::create(moto.url(), "authz-revocations").await.unwrap();
    let config = format!(
        "[[issuers]]\ncognito_user_pool_id = \"{pool}\"\nclient_ids = [\"{client}\"]\njwks_uri = \"{}\"\n\
         [revocation]\ntable = \"authz-revocations\"\nendpoint = \"{}\"\nmax_staleness_seconds = {}\n",
        cognito::jwks_url(moto.url(), &pool),
        moto.url(),
        STALENESS.as_secs()
    );
    let watch = LambdaWatch::start("token-authorizer", &[("AUTHZ_CONFIG", &config)]).await.unwrap();
    let authorize = |token: String| {
        let watch = &watch;
        async move { watch.authorize(&token, "GET", "/items/1").await.unwrap() }
    };

    // Signed in: allowed.
    let first = cognito.sign_in(&pool, &client, "alice", PASSWORD).await.unwrap().access_token;
    assert!(matches!(authorize(first.clone()).await, Outcome::Allow(_)));

    // A global sign-out: tokens issued before the next second are revoked.
    let cut_off = unix_now() + 1;
    table.revoke_user(&cognito::issuer(&pool), &claim(&first, "sub"), cut_off).await.unwrap();
    past_staleness().await;
    assert_eq!(authorize(first.clone()).await, Outcome::Unauthorized, "the signed-out token is refused");

    // Signing in again after the cut-off gives a token that passes.
    while unix_now() < cut_off {
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let second = cognito.sign_in(&pool, &client, "alice", PASSWORD).await.unwrap().access_token;
    assert!(matches!(authorize(second.clone()).await, Outcome::Allow(_)), "a fresh sign-in is allowed again");

    // A revoked refresh token: its whole family is refused, a fresh sign-in is not.
    table.revoke_family(&claim(&second, "origin_jti")).await.unwrap();
    past_staleness().await;
    assert_eq!(authorize(second).await, Outcome::Unauthorized, "the revoked family is refused");
    let third = cognito.sign_in(&pool, &client, "alice", PASSWORD).await.unwrap().access_token;
    assert!(matches!(authorize(third.clone()).await, Outcome::Allow(_)));

    // A store that cannot be read is an error, never a pass.
    table.delete().await.unwrap();
    past_staleness().await;
    match authorize(third).await {
        Outcome::Error(message) => assert_eq!(message, "AuthorizerError: revocation_unavailable"),
        other => panic!("an unreadable store must give 500, got {other}"),
    }
    let log = watch.output();
    assert!(log.contains("\"reason\":\"revoked\""), "decisions name the reason");
    assert!(!log.contains(&first), "no token in the logs");
}
