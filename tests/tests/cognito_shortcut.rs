//! The token authorizer configured by the Cognito shortcut variables instead of `AUTHZ_CONFIG`, for ID tokens and
//! with no rules: any authenticated caller may call every route. One watch instance serves every check.

use harness::cognito::{self, Cognito};
use harness::lambda::{LambdaWatch, Outcome};
use harness::mint;
use harness::moto::Moto;

const PASSWORD: &str = "Corr3ct-Horse!";

#[tokio::test]
async fn cognito_shortcut_for_id_tokens() {
    let moto = Moto::start().await.unwrap();
    let cognito = Cognito::new(moto.url());
    let pool = cognito.create_user_pool("shortcut").await.unwrap();
    let web = cognito.create_app_client(&pool, "web").await.unwrap();
    let mobile = cognito.create_app_client(&pool, "mobile").await.unwrap();
    let unlisted = cognito.create_app_client(&pool, "unlisted").await.unwrap();
    cognito.create_user(&pool, "alice", PASSWORD, &[]).await.unwrap();
    let from_web = cognito.sign_in(&pool, &web, "alice", PASSWORD).await.unwrap();
    let from_mobile = cognito.sign_in(&pool, &mobile, "alice", PASSWORD).await.unwrap();
    let from_unlisted = cognito.sign_in(&pool, &unlisted, "alice", PASSWORD).await.unwrap();

    let client_ids = format!("{web},{mobile}");
    let jwks_uri = cognito::jwks_url(moto.url(), &pool);
    let env = [
        ("COGNITO_USER_POOL_ID", pool.as_str()),
        ("COGNITO_CLIENT_IDS", &client_ids),
        ("COGNITO_TOKEN_USE", "id"),
        ("COGNITO_JWKS_URI", &jwks_uri),
    ];
    let watch = LambdaWatch::start("token-authorizer", &env).await.unwrap();

    let mut failures = Vec::new();
    let cases = [
        ("ID token, first listed client", &from_web.id_token, "GET", "/items", 200),
        ("ID token, any route without rules", &from_web.id_token, "DELETE", "/admin/users/7", 200),
        ("ID token, second listed client", &from_mobile.id_token, "POST", "/orders", 200),
        ("ID token, unlisted client", &from_unlisted.id_token, "GET", "/items", 401),
        ("access token where ID is required", &from_web.access_token, "GET", "/items", 401),
    ];
    for (scenario, token, method, path, status) in cases {
        let outcome = watch.authorize(token, method, path).await.unwrap();
        if outcome.status() != status {
            failures.push(format!("{scenario} [{method} {path}]: expected {status}, got {outcome:?}"));
        }
        let sub = mint::claims_of(token).unwrap()["sub"].clone();
        if let Outcome::Allow(answer) = &outcome
            && sub != answer.principal_id.as_str()
        {
            failures.push(format!("{scenario}: principalId {:?} is not the sub {sub}", answer.principal_id));
        }
    }
    assert!(failures.is_empty(), "{} failed expectation(s):\n{}", failures.len(), failures.join("\n"));
}

#[tokio::test]
async fn a_bad_configuration_stops_the_cold_start() {
    // A pool without client ids: the shortcut must refuse it rather than accept tokens of any client.
    let env = [("COGNITO_USER_POOL_ID", "us-east-1_example"), ("COGNITO_TOKEN_USE", "access")];
    let error = LambdaWatch::start("token-authorizer", &env).await.unwrap_err().to_string();
    assert!(error.contains("exited at its first invocation"), "{error}");
    assert!(error.contains("COGNITO_CLIENT_IDS"), "the log names the setting at fault: {error}");
    let reported = error.lines().next().unwrap_or_default();
    assert!(
        reported.contains(
            r#"init error: {"errorType":"ConfigError","errorMessage":"invalid configuration: COGNITO_CLIENT_IDS"#
        ),
        "the init error posted to Lambda names the setting: {error}"
    );
}
