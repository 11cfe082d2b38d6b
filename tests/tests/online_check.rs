//! The online check (`online_check = true` on a rule) against moto's Cognito, which implements `GetUser` and
//! refuses an access token after a global sign-out or once its user is disabled, as Cognito does. The authorizer
//! runs in process: the check's effect is immediate, with no table, no invalidator and no cache in between.

use authorizer::{AuthError, Authorizer, AuthorizerResponse, Config, TokenEvent};
use harness::cognito::{self, Cognito};
use harness::lambda::{Outcome, classify, method_arn, token_event};
use harness::moto::Moto;

const PASSWORD: &str = "Online-Check-Passw0rd!";

async fn authorize(authorizer: &Authorizer, token: &str, path: &str) -> Result<AuthorizerResponse, AuthError> {
    let event: TokenEvent =
        serde_json::from_value(token_event(&format!("Bearer {token}"), &method_arn("GET", path))).unwrap();
    authorizer.token_event(&event).await
}

/// Whether API Gateway would let the answer's caller call `GET path`.
fn allows(result: &Result<AuthorizerResponse, AuthError>, path: &str) -> bool {
    let Ok(response) = result else { return false };
    let answer = serde_json::to_vec(response).unwrap();
    matches!(classify(false, &answer, &method_arn("GET", path)), Outcome::Allow(_))
}

#[tokio::test]
async fn a_sign_out_or_a_disabled_user_is_refused_at_once_where_rules_ask_cognito() {
    let moto = Moto::start().await.unwrap();
    let cognito = Cognito::new(moto.url());
    let pool = cognito.create_user_pool("online").await.unwrap();
    let client = cognito.create_app_client(&pool, "web").await.unwrap();
    for user in ["alice", "bob"] {
        cognito.create_user(&pool, user, PASSWORD, &[]).await.unwrap();
    }
    let toml = format!(
        "[[issuers]]\ncognito_user_pool_id = \"{pool}\"\nclient_ids = [\"{client}\"]\njwks_uri = \"{}\"\n\
         [rules]\nunmatched = \"deny\"\n\
         [[rules.route]]\nmatch = [\"GET /items/{{id}}\"]\n\
         [[rules.route]]\nmatch = [\"GET /payments/{{id}}\"]\nonline_check = true\n",
        cognito::jwks_url(moto.url(), &pool)
    );
    let config = Config::from_lookup(|name| (name == "AUTHZ_CONFIG").then(|| toml.clone())).unwrap();
    let moto_url = moto.url().to_owned();
    let environment =
        move |name: &str| (name == "AWS_ENDPOINT_URL_COGNITO_IDENTITY_PROVIDER").then(|| moto_url.clone());
    let authorizer = Authorizer::with_environment(&config, environment).unwrap();

    let tokens = cognito.sign_in(&pool, &client, "alice", PASSWORD).await.unwrap();
    let answer = authorize(&authorizer, &tokens.access_token, "/payments/1").await;
    assert!(allows(&answer, "/payments/1") && allows(&answer, "/items/1"), "Cognito accepts the token");

    // Signed out: refused at once, on every route, since the one policy would grant the checked routes too.
    cognito.global_sign_out(&pool, "alice").await.unwrap();
    for path in ["/payments/1", "/items/1"] {
        let refused = authorize(&authorizer, &tokens.access_token, path).await.unwrap_err();
        assert_eq!((refused.message().as_str(), refused.code()), ("Unauthorized", "revoked"), "{path}");
    }

    // Disabled: refused at once.
    let bob = cognito.sign_in(&pool, &client, "bob", PASSWORD).await.unwrap();
    assert!(allows(&authorize(&authorizer, &bob.access_token, "/payments/1").await, "/payments/1"));
    cognito.set_enabled(&pool, "bob", false).await.unwrap();
    let refused = authorize(&authorizer, &bob.access_token, "/payments/1").await.unwrap_err();
    assert_eq!(refused.code(), "revoked");

    // An ID token cannot be checked with GetUser: the checked routes are denied, the others still pass.
    let id_config = toml.replace("jwks_uri", "token_use = \"id\"\njwks_uri");
    let id_config = Config::from_lookup(|name| (name == "AUTHZ_CONFIG").then(|| id_config.clone())).unwrap();
    let id_authorizer = Authorizer::with_environment(&id_config, |_| None).unwrap();
    let fresh = cognito.sign_in(&pool, &client, "alice", PASSWORD).await.unwrap();
    let answer = authorize(&id_authorizer, &fresh.id_token, "/items/1").await;
    assert!(allows(&answer, "/items/1") && !allows(&answer, "/payments/1"));

    // Cognito that cannot be asked is an error, never a pass.
    let unreachable = |name: &str| (name == "AWS_ENDPOINT_URL").then(|| "http://127.0.0.1:9".to_owned());
    let cut_off = Authorizer::with_environment(&config, unreachable).unwrap();
    let failed = authorize(&cut_off, &fresh.access_token, "/items/1").await.unwrap_err();
    assert_eq!(failed.message(), "AuthorizerError: online_check_unavailable");
}

#[test]
fn an_online_check_without_a_cognito_issuer_is_refused_at_start_up() {
    let toml = "[[issuers]]\nissuer = \"https://login.example.com\"\naudiences = [\"api\"]\n\
                jwks_uri = \"https://login.example.com/jwks\"\n[rules]\n[[rules.route]]\nmatch = [\"GET /x\"]\nonline_check = true\n";
    let config = Config::from_lookup(|name| (name == "AUTHZ_CONFIG").then(|| toml.to_owned())).unwrap();
    let Err(error) = Authorizer::with_environment(&config, |_| None) else { panic!("must be refused") };
    assert_eq!(error.setting, "rules");
}
