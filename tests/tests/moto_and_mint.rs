//! Checks the harness against moto alone (no authorizer): pools, users and sign-in through the SDK, and that the key
//! `mint` signs with is the one moto signs and publishes.

use aws_lc_rs::rsa::PublicKeyComponents;
use aws_lc_rs::signature::RSA_PKCS1_2048_8192_SHA256;
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use harness::cognito::{self, Cognito};
use harness::mint::{self, CognitoClaims, SigningKey};
use harness::moto::Moto;
use serde_json::Value;

/// Verifies an RS256 token against a JWK independently of both the harness and the authorizer.
fn rs256_verifies(token: &str, jwk: &Value) -> bool {
    let (input, signature) = token.rsplit_once('.').unwrap();
    let field = |name: &str| URL_SAFE_NO_PAD.decode(jwk[name].as_str().unwrap()).unwrap();
    PublicKeyComponents { n: field("n"), e: field("e") }
        .verify(&RSA_PKCS1_2048_8192_SHA256, input.as_bytes(), &URL_SAFE_NO_PAD.decode(signature).unwrap())
        .is_ok()
}

fn header_of(token: &str) -> Value {
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(token.split('.').next().unwrap()).unwrap()).unwrap()
}

#[tokio::test]
async fn moto_cognito_and_mint_agree() {
    let moto = Moto::start().await.unwrap();
    let cognito = Cognito::new(moto.url());
    let pool = cognito.create_user_pool("harness").await.unwrap();
    let client = cognito.create_app_client(&pool, "web").await.unwrap();
    cognito.create_group(&pool, "admins").await.unwrap();
    cognito.create_user(&pool, "alice", "Passw0rd!", &["admins"]).await.unwrap();
    let tokens = cognito.sign_in(&pool, &client, "alice", "Passw0rd!").await.unwrap();

    let access = mint::claims_of(&tokens.access_token).unwrap();
    assert_eq!(access["iss"], cognito::issuer(&pool));
    assert_eq!(access["token_use"], "access");
    assert_eq!(access["client_id"], client.as_str());
    assert_eq!(access["cognito:groups"], serde_json::json!(["admins"]));
    let id = mint::claims_of(&tokens.id_token).unwrap();
    assert_eq!((id["token_use"].as_str(), id["aud"].as_str()), (Some("id"), Some(client.as_str())));

    let served: Value = harness::loopback_client()
        .unwrap()
        .get(cognito::jwks_url(moto.url(), &pool))
        .send()
        .await
        .unwrap()
        .error_for_status()
        .unwrap()
        .json()
        .await
        .unwrap();
    let moto_key = SigningKey::moto().unwrap();
    assert_eq!(served, mint::jwks(&[&moto_key]), "mint derives moto's published key");
    assert_eq!(header_of(&tokens.access_token)["kid"], moto_key.kid());

    let published = &served["keys"][0];
    assert!(rs256_verifies(&tokens.access_token, published) && rs256_verifies(&tokens.id_token, published));
    let minted = moto_key.sign(&CognitoClaims::access(&pool, &client, "alice").to_json()).unwrap();
    assert!(rs256_verifies(&minted, published), "moto's published key verifies minted tokens");
    assert!(!rs256_verifies(&mint::tamper(&minted, &access).unwrap(), published));

    moto.reset().await.unwrap();
    assert!(cognito.sign_in(&pool, &client, "alice", "Passw0rd!").await.is_err(), "reset drops the pool");
}
