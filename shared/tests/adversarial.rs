//! Adversarial token handling, end to end through the public API.
//!
//! Every forged, confused, malformed or out-of-policy token must end in a 401 with the expected reason (or
//! a 500 where keys cannot be had), never in an Allow. Tokens are signed here with aws-lc-rs and checked
//! against a pre-baked JWKS; the configured `jwks_uri` is deliberately unreachable, so nothing leaves the
//! machine. Most forgeries are signed with the real key, so that only the defect under test can refuse them.
//!
//! Each family is one test with a table of cases, one case per line (`#[rustfmt::skip]` keeps them so).

use authorizer::outcome::Rejection;
use authorizer::policy::{Action, Evaluation};
use authorizer::{AuthError, Authorizer, AuthorizerResponse, Config, TokenEvent};
use aws_lc_rs::encoding::AsDer;
use aws_lc_rs::hmac;
use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::rsa::KeySize;
use aws_lc_rs::signature::{
    self, ECDSA_P256_SHA256_ASN1_SIGNING, ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair, KeyPair, RsaEncoding,
    RsaKeyPair,
};
use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD_NO_PAD, URL_SAFE_NO_PAD};
use serde_json::{Map, Value, json};
use std::sync::LazyLock;
use std::time::{SystemTime, UNIX_EPOCH};

const ISS: &str = "https://cognito-idp.us-east-1.amazonaws.com/us-east-1_TestPool";
const CLIENT: &str = "client-1";
const METHOD_ARN: &str = "arn:aws:execute-api:us-east-1:123456789012:abcdef1234/prod/GET/items/42";
/// The discard port on loopback: the connection is refused, so a key fetch fails at once and offline.
const UNREACHABLE_JWKS: &str = "http://127.0.0.1:9/jwks.json";
const RSA_KID: &str = "rsa-1";
/// The same RSA key published again, pinned by its JWK `alg` to RS256.
const RS256_ONLY_KID: &str = "rsa-rs256";
const EC_KID: &str = "ec-1";
/// The P-256 group order n: r = s = n is out of range, as r = s = 0 is.
const P256_ORDER: &str = "ffffffff00000000ffffffffffffffffbce6faada7179e84f3b9cac2fc632551";

// Key generation is slow, so every test shares one set.
struct Keys {
    rsa: RsaKeyPair,
    ec: EcdsaKeyPair,
    /// The same private key as `ec`, signing in ASN.1 DER instead of JWS's fixed `r || s`.
    ec_asn1: EcdsaKeyPair,
    /// Published nowhere: what an attacker signs with.
    attacker: RsaKeyPair,
}

static KEYS: LazyLock<Keys> = LazyLock::new(|| {
    let ec = EcdsaKeyPair::generate(&ECDSA_P256_SHA256_FIXED_SIGNING).expect("EC key");
    let pkcs8 = ec.to_pkcs8v1().expect("EC PKCS#8");
    Keys {
        rsa: RsaKeyPair::generate(KeySize::Rsa2048).expect("RSA key"),
        ec_asn1: EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_ASN1_SIGNING, pkcs8.as_ref()).expect("EC key"),
        ec,
        attacker: RsaKeyPair::generate(KeySize::Rsa2048).expect("RSA key"),
    }
});

// -------------------------------------------------------------------------------------------------
// Token building
// -------------------------------------------------------------------------------------------------

fn b64(bytes: impl AsRef<[u8]>) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}

/// How a test token gets its third part.
enum Sig<'k> {
    Rsa(&'k RsaKeyPair, &'static dyn RsaEncoding),
    Ec(&'k EcdsaKeyPair),
    Hmac(hmac::Algorithm, &'k [u8]),
    /// These exact bytes, whatever the signing input.
    Bytes(Vec<u8>),
}

impl Sig<'_> {
    fn over(&self, input: &[u8]) -> Vec<u8> {
        match self {
            Sig::Rsa(pair, padding) => {
                let mut out = vec![0; pair.public_modulus_len()];
                pair.sign(*padding, &SystemRandom::new(), input, &mut out).expect("RSA signing");
                out
            }
            Sig::Ec(pair) => pair.sign(&SystemRandom::new(), input).expect("ECDSA signing").as_ref().to_vec(),
            Sig::Hmac(alg, secret) => hmac::sign(&hmac::Key::new(*alg, secret), input).as_ref().to_vec(),
            Sig::Bytes(bytes) => bytes.clone(),
        }
    }
}

fn rs256() -> Sig<'static> {
    Sig::Rsa(&KEYS.rsa, &signature::RSA_PKCS1_SHA256)
}

fn es256() -> Sig<'static> {
    Sig::Ec(&KEYS.ec)
}

/// A compact JWS over raw JSON texts (raw, so that duplicate members and odd spellings survive).
fn sign(header: &str, payload: &str, sig: &Sig) -> String {
    sign_parts(&b64(header), &b64(payload), sig)
}

/// A compact JWS over already-encoded parts: the signature covers exactly the text that is sent.
fn sign_parts(header: &str, payload: &str, sig: &Sig) -> String {
    let input = format!("{header}.{payload}");
    let signature = b64(sig.over(input.as_bytes()));
    format!("{input}.{signature}")
}

fn header(alg: &str, kid: &str) -> String {
    json!({"alg": alg, "kid": kid}).to_string()
}

/// The RS256 header of the real key, plus `extra` members.
fn header_with(extra: Value) -> String {
    let mut header = json!({"alg": "RS256", "kid": RSA_KID});
    header.as_object_mut().unwrap().extend(extra.as_object().expect("an object").clone());
    header.to_string()
}

fn now() -> i64 {
    SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_secs() as i64
}

/// The claims of a genuine Cognito access token for `client-1`.
fn access_claims() -> Map<String, Value> {
    let now = now();
    let claims = json!({
        "sub": "user-1",
        "iss": ISS,
        "client_id": CLIENT,
        "token_use": "access",
        "scope": "aws.cognito.signin.user.admin",
        "cognito:groups": ["readers"],
        "auth_time": now,
        "iat": now,
        "exp": now + 3600,
        "jti": "00000000-0000-0000-0000-000000000001",
        "username": "alice",
    });
    claims.as_object().unwrap().clone()
}

/// `base` with `set` members replaced or added and `removed` members left out, as JSON text.
fn edit(mut base: Map<String, Value>, set: Value, removed: &[&str]) -> String {
    base.extend(set.as_object().expect("an object").clone());
    base.retain(|name, _| !removed.contains(&name.as_str()));
    Value::Object(base).to_string()
}

fn claims(set: Value, removed: &[&str]) -> String {
    edit(access_claims(), set, removed)
}

/// The claims of a genuine Cognito ID token for `client-1`: `aud` instead of `client_id`, no `scope`.
fn id_claims(set: Value, removed: &[&str]) -> String {
    let mut base = access_claims();
    base.retain(|name, _| name != "client_id" && name != "scope");
    let id = json!({"token_use": "id", "aud": CLIENT, "email": "alice@example.com"});
    base.extend(id.as_object().unwrap().clone());
    edit(base, set, removed)
}

/// `json` (an object's text) with one more raw member, which may repeat an existing name.
fn with_raw_member(json: &str, member: &str) -> String {
    let open = json.strip_suffix('}').expect("an object");
    format!("{open},{member}}}")
}

/// Access-token claims with `set` applied, signed RS256 by the real key.
fn signed_claims(set: Value, removed: &[&str]) -> String {
    sign(&header("RS256", RSA_KID), &claims(set, removed), &rs256())
}

fn valid_token() -> String {
    signed_claims(json!({}), &[])
}

fn split3(token: &str) -> (&str, &str, &str) {
    let mut parts = token.split('.');
    match (parts.next(), parts.next(), parts.next(), parts.next()) {
        (Some(h), Some(p), Some(s), None) => (h, p, s),
        _ => panic!("not a three-part token: {token}"),
    }
}

// -------------------------------------------------------------------------------------------------
// The authorizer under test, and what it must answer
// -------------------------------------------------------------------------------------------------

struct Harness {
    authorizer: Authorizer,
}

impl Harness {
    /// One Cognito issuer with the pre-baked set `rsa-1`, `rsa-rs256` (JWK alg RS256) and `ec-1`.
    fn new(algorithms: &[&str], token_use: &str, leeway_seconds: u64) -> Self {
        let keys = &*KEYS;
        let mut pinned = rsa_jwk(&keys.rsa, RS256_ONLY_KID);
        pinned["alg"] = json!("RS256");
        let jwks = json!({"keys": [rsa_jwk(&keys.rsa, RSA_KID), pinned, ec_jwk(&keys.ec, EC_KID)]}).to_string();
        // TOML literal strings take the JWKS's JSON text as is: it holds no `'` and no newline.
        let toml = format!(
            r#"
            [[issuers]]
            cognito_user_pool_id = "us-east-1_TestPool"
            client_ids = ["{CLIENT}"]
            token_use = "{token_use}"
            algorithms = {algorithms:?}
            leeway_seconds = {leeway_seconds}
            jwks_uri = "{UNREACHABLE_JWKS}"
            jwks = '{jwks}'
            "#
        );
        let config = Config::from_lookup(|name| (name == "AUTHZ_CONFIG").then(|| toml.clone())).expect("config");
        Harness { authorizer: Authorizer::new(&config).expect("authorizer") }
    }

    /// RS256 and ES256, access tokens, no leeway.
    fn standard() -> Self {
        Self::new(&["RS256", "ES256"], "access", 0)
    }

    async fn answer(
        &self,
        kind: &str,
        authorization: Option<&str>,
        method_arn: &str,
    ) -> Result<AuthorizerResponse, AuthError> {
        let event: TokenEvent = serde_json::from_value(json!({
            "type": kind,
            "authorizationToken": authorization,
            "methodArn": method_arn,
        }))
        .expect("event");
        self.authorizer.token_event(&event).await
    }

    async fn expect_allowed(&self, case: &str, token: &str) {
        let response = self
            .answer("TOKEN", Some(&format!("Bearer {token}")), METHOD_ARN)
            .await
            .unwrap_or_else(|e| panic!("{case}: a valid token was refused: {e:?}"));
        assert_eq!(response.principal_id, "user-1", "{case}");
        let policy = &response.policy_document;
        assert_eq!(policy.evaluate(Action::Invoke, METHOD_ARN), Evaluation::Allow, "{case}: {policy:?}");
        let other_api = "arn:aws:execute-api:us-east-1:123456789012:otherapi99/prod/GET/items/42";
        assert_ne!(policy.evaluate(Action::Invoke, other_api), Evaluation::Allow, "{case}: policy too wide");
    }

    /// `authorization` is the event's `authorizationToken` as sent, scheme included.
    async fn expect_rejected(&self, case: &str, authorization: Option<&str>, expected: Rejection) {
        let result = self.answer("TOKEN", authorization, METHOD_ARN).await;
        let error = result.expect_err(&format!("{case}: must be refused, yet got a policy"));
        assert_eq!(error, AuthError::Rejected(expected), "{case}: refused for the wrong reason");
        assert_eq!(error.message(), "Unauthorized", "{case}");
    }

    /// Each `(case, token, expected)`, sent as `Bearer <token>`.
    async fn expect_all_rejected(&self, cases: &[(&str, String, Rejection)]) {
        for (case, token, expected) in cases {
            self.expect_rejected(case, Some(&format!("Bearer {token}")), *expected).await;
        }
    }
}

fn rsa_jwk(pair: &RsaKeyPair, kid: &str) -> Value {
    let public = pair.public_key();
    json!({
        "kty": "RSA",
        "kid": kid,
        "use": "sig",
        "n": b64(public.modulus().big_endian_without_leading_zero()),
        "e": b64(public.exponent().big_endian_without_leading_zero()),
    })
}

fn ec_jwk(pair: &EcdsaKeyPair, kid: &str) -> Value {
    let point = pair.public_key().as_ref();
    json!({"kty": "EC", "kid": kid, "use": "sig", "crv": "P-256", "x": b64(&point[1..33]), "y": b64(&point[33..65])})
}

/// A fault (500) with reason `code`: never an Allow, and never mistaken for a 401.
fn assert_fault(case: &str, result: Result<AuthorizerResponse, AuthError>, code: &str) {
    let error = result.expect_err(&format!("{case}: must fail, yet got a policy"));
    assert!(matches!(error, AuthError::Failed(_)), "{case}: {error:?} must be a fault (500)");
    assert_eq!(error.code(), code, "{case}");
    assert_ne!(error.message(), "Unauthorized", "{case}");
}

// -------------------------------------------------------------------------------------------------
// Controls: what a genuine token gets, so every refusal below is due to its one defect
// -------------------------------------------------------------------------------------------------

#[tokio::test]
async fn genuine_tokens_are_allowed() {
    let h = Harness::standard();
    h.expect_allowed("RS256 access token", &valid_token()).await;
    let es = sign(&header("ES256", EC_KID), &claims(json!({}), &[]), &es256());
    h.expect_allowed("ES256 access token", &es).await;
    // The bare form, which the built-in Cognito authorizer also accepts.
    let bare = h.answer("TOKEN", Some(&valid_token()), METHOD_ARN).await.expect("bare token");
    assert_eq!(bare.policy_document.evaluate(Action::Invoke, METHOD_ARN), Evaluation::Allow);

    let id = Harness::new(&["RS256"], "id", 0);
    let id_token = sign(&header("RS256", RSA_KID), &id_claims(json!({}), &[]), &rs256());
    id.expect_allowed("RS256 ID token", &id_token).await;
}

// -------------------------------------------------------------------------------------------------
// Algorithms
// -------------------------------------------------------------------------------------------------

#[tokio::test]
async fn alg_none_missing_or_not_a_string_is_refused() {
    let payload = claims(json!({}), &[]);
    let mut cases = Vec::new();
    for none in ["none", "None", "NONE", "nOnE"] {
        let with_kid = header(none, RSA_KID);
        let without_kid = json!({ "alg": none }).to_string();
        let unsigned = |header: &str| format!("{}.{}.", b64(header), b64(&payload));
        let sig = Sig::Bytes(b"sig".to_vec());
        // An empty signature is refused before the header is even read.
        #[rustfmt::skip]
        let spellings = [
            (none, unsigned(&with_kid), Rejection::Malformed("empty_signature")),
            (none, unsigned(&without_kid), Rejection::Malformed("empty_signature")),
            (none, sign(&with_kid, &payload, &sig), Rejection::UnsupportedAlgorithm),
            (none, sign(&with_kid, &payload, &rs256()), Rejection::UnsupportedAlgorithm),
            (none, sign(&without_kid, &payload, &rs256()), Rejection::UnsupportedAlgorithm),
        ];
        cases.extend(spellings);
    }
    // Near-spellings of a real algorithm are not that algorithm.
    for alg in ["rs256", "RS256 ", " RS256", "RS256\u{0}", "", "ES512"] {
        let token = sign(&header(alg, RSA_KID), &payload, &rs256());
        cases.push(("near-spelling", token, Rejection::UnsupportedAlgorithm));
    }
    #[rustfmt::skip]
    let headers = [
        ("alg missing", json!({"kid": RSA_KID})),
        ("alg null", json!({"alg": null, "kid": RSA_KID})),
        ("alg a number", json!({"alg": 256, "kid": RSA_KID})),
        ("alg a bool", json!({"alg": true, "kid": RSA_KID})),
        ("alg an array", json!({"alg": ["RS256"], "kid": RSA_KID})),
        ("alg an object", json!({"alg": {"name": "RS256"}, "kid": RSA_KID})),
    ];
    for (case, header) in headers {
        let token = sign(&header.to_string(), &payload, &rs256());
        cases.push((case, token, Rejection::Malformed("alg_not_a_string")));
    }
    Harness::standard().expect_all_rejected(&cases).await;
}

#[tokio::test]
async fn hmac_keyed_with_the_public_key_is_refused() {
    let payload = claims(json!({}), &[]);
    let public = KEYS.rsa.public_key();
    let jwk = rsa_jwk(&KEYS.rsa, RSA_KID);
    let secrets = [
        ("PKCS#1 DER", public.as_ref().to_vec()),
        ("SPKI DER", public.as_der().expect("SPKI").as_ref().to_vec()),
        ("JWK n", jwk["n"].as_str().unwrap().as_bytes().to_vec()),
        ("JWK JSON", jwk.to_string().into_bytes()),
    ];
    let mut cases = Vec::new();
    for (name, alg) in [("HS256", hmac::HMAC_SHA256), ("HS384", hmac::HMAC_SHA384), ("HS512", hmac::HMAC_SHA512)] {
        for (secret_name, secret) in &secrets {
            let token = sign(&header(name, RSA_KID), &payload, &Sig::Hmac(alg, secret));
            cases.push((*secret_name, token, Rejection::UnsupportedAlgorithm));
        }
    }
    Harness::standard().expect_all_rejected(&cases).await;
}

#[tokio::test]
async fn algorithm_and_key_confusion_is_refused() {
    let payload = claims(json!({}), &[]);
    let with = |alg: &str, kid: &str, sig: &Sig| sign(&header(alg, kid), &payload, sig);
    let pss = Sig::Rsa(&KEYS.rsa, &signature::RSA_PSS_SHA256);
    let rs384 = Sig::Rsa(&KEYS.rsa, &signature::RSA_PKCS1_SHA384);
    #[rustfmt::skip]
    let cases = [
        ("ES256 header on an RSA kid", with("ES256", RSA_KID, &es256()), Rejection::AlgorithmNotAllowed),
        ("RS256 header on an EC kid", with("RS256", EC_KID, &rs256()), Rejection::AlgorithmNotAllowed),
        ("PS256 when only RS256 is allowed", with("PS256", RSA_KID, &pss), Rejection::AlgorithmNotAllowed),
        ("EdDSA, not configured", with("EdDSA", RSA_KID, &rs256()), Rejection::AlgorithmNotAllowed),
        ("RS512, not configured", with("RS512", RSA_KID, &rs256()), Rejection::AlgorithmNotAllowed),
    ];
    Harness::standard().expect_all_rejected(&cases).await;

    // RS384 is configured, but the key published as `rsa-rs256` declares RS256 and serves nothing else.
    let h = Harness::new(&["RS256", "RS384", "ES256"], "access", 0);
    h.expect_allowed("RS384 on the undeclared key", &with("RS384", RSA_KID, &rs384)).await;
    #[rustfmt::skip]
    let cases = [
        ("RS384 on the RS256-only key", with("RS384", RS256_ONLY_KID, &rs384), Rejection::AlgorithmNotAllowed),
        ("RS384 header, RS256 signature", with("RS384", RSA_KID, &rs256()), Rejection::BadSignature),
    ];
    h.expect_all_rejected(&cases).await;

    // Both RSA paddings allowed: the header must still name the one the signature really used.
    let h = Harness::new(&["RS256", "PS256"], "access", 0);
    h.expect_allowed("PS256", &with("PS256", RSA_KID, &pss)).await;
    #[rustfmt::skip]
    let cases = [
        ("PS256 header, PKCS#1 signature", with("PS256", RSA_KID, &rs256()), Rejection::BadSignature),
        ("RS256 header, PSS signature", with("RS256", RSA_KID, &pss), Rejection::BadSignature),
    ];
    h.expect_all_rejected(&cases).await;
}

// -------------------------------------------------------------------------------------------------
// Key selection
// -------------------------------------------------------------------------------------------------

#[tokio::test]
async fn kid_tricks_are_refused() {
    let h = Harness::standard();
    let payload = claims(json!({}), &[]);
    let with_kid = |kid: Value| sign(&json!({"alg": "RS256", "kid": kid}).to_string(), &payload, &rs256());
    let no_kid = sign(&json!({"alg": "RS256"}).to_string(), &payload, &rs256());
    #[rustfmt::skip]
    let cases = [
        ("kid missing", no_kid, Rejection::MissingKid),
        ("kid empty", with_kid(json!("")), Rejection::Malformed("bad_kid")),
        ("kid a number", with_kid(json!(1)), Rejection::Malformed("kid_not_a_string")),
        ("kid null", with_kid(json!(null)), Rejection::Malformed("kid_not_a_string")),
        ("kid an array", with_kid(json!([RSA_KID])), Rejection::Malformed("kid_not_a_string")),
        ("kid over 256 bytes", with_kid(json!("k".repeat(257))), Rejection::Malformed("bad_kid")),
        ("kid of 10 KiB", with_kid(json!("k".repeat(10 * 1024))), Rejection::TokenTooLarge),
    ];
    h.expect_all_rejected(&cases).await;

    // A kid outside the pre-baked set triggers one fetch, which cannot succeed: that is a 500, never a
    // 401 ("no such key" would be a guess) and never an Allow. Later unknown kids share the failed try.
    let long = "k".repeat(256);
    for kid in [
        "unknown",
        "../../etc/passwd",
        "' OR '1'='1' --",
        "rsa-1\u{0}",
        " rsa-1",
        "RSA-1",
        "https://evil.example/jwks.json",
        long.as_str(),
    ] {
        let authorization = format!("Bearer {}", with_kid(json!(kid)));
        let result = h.answer("TOKEN", Some(&authorization), METHOD_ARN).await;
        assert_fault(&format!("unknown kid {kid:?}"), result, "keys_unavailable");
    }
    // The failed fetch must not have cost the pre-baked keys.
    h.expect_allowed("known kid after a failed fetch", &valid_token()).await;
}

#[tokio::test]
async fn key_bearing_and_critical_header_parameters_are_refused() {
    let payload = claims(json!({}), &[]);
    // Signed by the real key: only the parameter can be the reason to refuse.
    let real = |extra: Value| sign(&header_with(extra), &payload, &rs256());
    let attacker_sig = Sig::Rsa(&KEYS.attacker, &signature::RSA_PKCS1_SHA256);
    let by_attacker = |header: Value| sign(&header.to_string(), &payload, &attacker_sig);
    let own_key = rsa_jwk(&KEYS.attacker, "attacker");
    let cert = b64(KEYS.attacker.public_key().as_der().expect("SPKI").as_ref());
    let cognito_jwks = format!("{ISS}/.well-known/jwks.json");
    let (in_header, critical) = (Rejection::KeyInHeader, Rejection::CriticalHeader);
    #[rustfmt::skip]
    let cases = [
        ("jku to an attacker", real(json!({"jku": "https://evil.example/jwks.json"})), in_header),
        ("jku to the real issuer", real(json!({"jku": cognito_jwks})), in_header),
        ("x5u", real(json!({"x5u": "https://evil.example/cert.pem"})), in_header),
        ("x5c", real(json!({"x5c": [cert]})), in_header),
        ("jwk null", real(json!({"jwk": null})), in_header),
        ("own jwk, own kid", by_attacker(json!({"alg": "RS256", "kid": "x", "jwk": own_key})), in_header),
        ("own jwk, real kid", by_attacker(json!({"alg": "RS256", "kid": RSA_KID, "jwk": own_key})), in_header),
        ("own jwk, no kid", by_attacker(json!({"alg": "RS256", "jwk": own_key})), in_header),
        ("own key, real kid, no jwk", by_attacker(json!({"alg": "RS256", "kid": RSA_KID})), Rejection::BadSignature),
        ("crit, unknown extension", real(json!({"crit": ["x-ext"], "x-ext": 1})), critical),
        ("crit naming a claim", real(json!({"crit": ["exp"]})), critical),
        ("crit empty", real(json!({"crit": []})), critical),
        ("crit not a list", real(json!({"crit": "b64"})), critical),
        ("b64 false", real(json!({"b64": false})), critical),
        ("b64 false, critical", real(json!({"b64": false, "crit": ["b64"]})), critical),
    ];
    Harness::standard().expect_all_rejected(&cases).await;
}

// -------------------------------------------------------------------------------------------------
// Shape of the token and of the authorization value
// -------------------------------------------------------------------------------------------------

#[tokio::test]
async fn malformed_structure_is_refused() {
    let token = valid_token();
    let (head, body, sig) = split3(&token);
    let (header_json, payload_json) = (header("RS256", RSA_KID), claims(json!({}), &[]));
    let padded_header = sign_parts(&format!("{}=", b64(&header_json)), body, &rs256());
    let padded_payload = sign_parts(head, &format!("{}=", b64(&payload_json)), &rs256());
    // Five '?' (0x3f) always hold one aligned triple, which base64url spells `Pz8_` and standard base64
    // `Pz8/`, so the standard spelling differs from the canonical one.
    let odd_header = header_with(json!({"x": "?????"}));
    assert!(STANDARD_NO_PAD.encode(&odd_header).contains('/'));
    let standard_alphabet = sign_parts(&STANDARD_NO_PAD.encode(&odd_header), body, &rs256());
    let huge = signed_claims(json!({"filler": "a".repeat(9 * 1024)}), &[]);
    let jwe_header = b64(r#"{"alg":"RSA-OAEP","enc":"A256GCM","kid":"rsa-1"}"#);
    let jwe_like = format!("{jwe_header}.{sig}.aXY.{body}.dGFn");
    let junk = "a".repeat(1024 * 1024);

    let three = Rejection::Malformed("not_three_parts");
    let bad_header = Rejection::Malformed("bad_header");
    let bad_payload = Rejection::Malformed("bad_payload");
    let bad_signature = Rejection::Malformed("bad_signature_encoding");
    // Each is the whole `authorizationToken`, scheme included. Whitespace inside a token is refused by
    // the part it lands in, whose base64url alphabet has no room for it.
    #[rustfmt::skip]
    let cases = [
        ("two parts", format!("Bearer {head}.{body}"), three),
        ("four parts", format!("Bearer {token}.{sig}"), three),
        ("trailing dot", format!("Bearer {token}."), three),
        ("five parts, JWE-like", format!("Bearer {jwe_like}"), three),
        ("header padded", format!("Bearer {padded_header}"), bad_header),
        ("payload padded", format!("Bearer {padded_payload}"), bad_payload),
        ("signature padded", format!("Bearer {token}=="), bad_signature),
        ("standard base64 alphabet", format!("Bearer {standard_alphabet}"), bad_header),
        ("space inside, after Bearer", format!("Bearer {head}.{body} .{sig}"), bad_payload),
        ("tab inside, after Bearer", format!("Bearer {head}.{body}\t.{sig}"), bad_payload),
        ("no-break space inside, after Bearer", format!("Bearer {head}.{body}\u{a0}.{sig}"), bad_payload),
        ("a word after the token", format!("Bearer {token} extra"), bad_signature),
        ("Bearer twice", format!("Bearer Bearer {token}"), bad_header),
        ("space inside a bare token", format!("{head}.{body} .{sig}"), Rejection::NotBearer),
        ("newline inside a bare token", format!("{head}.{body}\n.{sig}"), bad_payload),
        ("tab as the scheme separator", format!("Bearer\t{token}"), bad_header),
        ("signed token over 8 KiB", format!("Bearer {huge}"), Rejection::TokenTooLarge),
        ("1 MiB of junk", format!("Bearer {junk}"), Rejection::TokenTooLarge),
        ("empty", String::new(), Rejection::MissingToken),
        ("blank", "   ".into(), Rejection::MissingToken),
        ("Bearer alone", "Bearer".into(), Rejection::MissingToken),
        ("Bearer and a space", "Bearer ".into(), Rejection::MissingToken),
        ("one dot", "Bearer .".into(), three),
        ("just dots", "Bearer ..".into(), bad_header),
        ("three dots", "Bearer ...".into(), three),
        ("binary-looking junk", "Bearer \u{0}\u{1}\u{7f}\u{ff}\u{fffd}\u{feff}".into(), three),
        ("binary-looking junk, three parts", "Bearer \u{ff}\u{fe}.\u{0}.\u{fffd}".into(), bad_header),
        ("percent-encoded junk", "Bearer %00.%ff.%fe".into(), bad_header),
        ("Basic credentials", "Basic dXNlcjpwYXNz".into(), Rejection::NotBearer),
        ("a valid token under Basic", format!("Basic {token}"), Rejection::NotBearer),
        ("a valid token under another scheme", format!("Token {token}"), Rejection::NotBearer),
        ("Bearer with a colon", format!("Bearer: {token}"), Rejection::NotBearer),
    ];
    let h = Harness::standard();
    for (case, authorization, expected) in cases {
        h.expect_rejected(case, Some(&authorization), expected).await;
    }
    h.expect_rejected("no authorizationToken", None, Rejection::MissingToken).await;
}

#[tokio::test]
async fn duplicate_members_and_non_object_json_are_refused() {
    let payload = claims(json!({}), &[]);
    let head = header("RS256", RSA_KID);
    // Signed by the real key, so the JSON alone must be the reason to refuse.
    let real = |header: &str, payload: &str| sign(header, payload, &rs256());
    let claims_plus = |member: &str| real(&head, &with_raw_member(&payload, member));
    let header_plus = |member: &str| real(&with_raw_member(&head, member), &payload);
    let other_iss = r#""iss":"https://cognito-idp.us-east-1.amazonaws.com/us-east-1_Other""#;
    let bad_header = Rejection::Malformed("bad_header");
    let bad_payload = Rejection::Malformed("bad_payload");
    #[rustfmt::skip]
    let cases = [
        ("duplicate sub", claims_plus(r#""sub":"admin""#), bad_payload),
        ("duplicate sub, escaped name", claims_plus(r#""s\u0075b":"admin""#), bad_payload),
        ("duplicate iss", claims_plus(other_iss), bad_payload),
        ("duplicate client_id", claims_plus(r#""client_id":"client-2""#), bad_payload),
        ("duplicate exp", claims_plus(r#""exp":0"#), bad_payload),
        ("duplicate alg", header_plus(r#""alg":"none""#), bad_header),
        ("duplicate alg, escaped name", header_plus(r#""\u0061lg":"HS256""#), bad_header),
        ("duplicate kid", header_plus(r#""kid":"ec-1""#), bad_header),
        ("payload an array", real(&head, &format!("[{payload}]")), bad_payload),
        ("payload a string", real(&head, r#""user-1""#), bad_payload),
        ("payload null", real(&head, "null"), bad_payload),
        ("payload with a BOM", real(&head, &format!("\u{feff}{payload}")), bad_payload),
        ("payload with trailing text", real(&head, &format!("{payload}{{}}")), bad_payload),
        ("two payloads concatenated", real(&head, &format!("{payload}{payload}")), bad_payload),
        ("header an array", real(&format!("[{head}]"), &payload), bad_header),
        ("header not JSON", real("RS256", &payload), bad_header),
    ];
    Harness::standard().expect_all_rejected(&cases).await;
}

// -------------------------------------------------------------------------------------------------
// Claims
// -------------------------------------------------------------------------------------------------

#[tokio::test]
async fn claims_of_the_wrong_type_are_refused() {
    let t = |set: Value| signed_claims(set, &[]);
    let typed = Rejection::ClaimType;
    let future = now() + 3600;
    let huge_exp =
        sign(&header("RS256", RSA_KID), &with_raw_member(&claims(json!({}), &["exp"]), r#""exp":1e400"#), &rs256());
    #[rustfmt::skip]
    let cases = [
        ("exp a string", t(json!({"exp": future.to_string()})), typed("exp")),
        ("exp missing", signed_claims(json!({}), &["exp"]), Rejection::MissingClaim("exp")),
        ("exp a bool", t(json!({"exp": true})), typed("exp")),
        ("exp null", t(json!({"exp": null})), typed("exp")),
        ("exp an array", t(json!({"exp": [future]})), typed("exp")),
        ("exp beyond the f64 range", huge_exp, Rejection::Malformed("bad_payload")),
        ("nbf a string", t(json!({"nbf": "0"})), typed("nbf")),
        ("iat a string", t(json!({"iat": now().to_string()})), typed("iat")),
        ("iss an array", t(json!({"iss": [ISS]})), typed("iss")),
        ("iss null", t(json!({"iss": null})), typed("iss")),
        ("token_use an array", t(json!({"token_use": ["access"]})), typed("token_use")),
        ("client_id a number", t(json!({"client_id": 1})), typed("client_id")),
        ("client_id an array", t(json!({"client_id": [CLIENT]})), typed("client_id")),
        ("scope a number", t(json!({"scope": 1})), typed("scope")),
        ("scope holding a number", t(json!({"scope": ["openid", 1]})), typed("scope")),
        ("cognito:groups an object", t(json!({"cognito:groups": {"0": "admins"}})), typed("groups")),
        ("cognito:groups holding a number", t(json!({"cognito:groups": [1]})), typed("groups")),
        ("cognito:groups a bool", t(json!({"cognito:groups": true})), typed("groups")),
        ("cognito:groups a string", t(json!({"cognito:groups": "admins"})), typed("groups")),
        ("sub an object", t(json!({"sub": {"id": "user-1"}})), typed("principal")),
        ("sub a bool", t(json!({"sub": true})), typed("principal")),
        ("sub empty", t(json!({"sub": ""})), typed("principal")),
        ("sub over 1 KiB", t(json!({"sub": "u".repeat(1025)})), typed("principal")),
        ("sub missing", signed_claims(json!({}), &["sub"]), Rejection::MissingClaim("principal")),
    ];
    Harness::standard().expect_all_rejected(&cases).await;

    let id_token = |set: Value| sign(&header("RS256", RSA_KID), &id_claims(set, &[]), &rs256());
    #[rustfmt::skip]
    let cases = [
        ("aud a number", id_token(json!({"aud": 1})), typed("aud")),
        ("aud an array", id_token(json!({"aud": [CLIENT]})), typed("aud")),
    ];
    Harness::new(&["RS256"], "id", 0).expect_all_rejected(&cases).await;
}

#[tokio::test]
async fn claims_out_of_policy_are_refused() {
    let now = now();
    let t = |set: Value| signed_claims(set, &[]);
    let without = |claim: &str| signed_claims(json!({}), &[claim]);
    let id_token = |set: Value, removed: &[&str]| sign(&header("RS256", RSA_KID), &id_claims(set, removed), &rs256());
    let cognito = |region: &str, pool: &str| format!("https://cognito-idp.{region}.amazonaws.com/{pool}");
    let (missing, unknown) = (Rejection::MissingClaim, Rejection::UnknownIssuer);
    #[rustfmt::skip]
    let cases = [
        ("expired", t(json!({"exp": now - 600})), Rejection::Expired),
        ("expiring now", t(json!({"exp": now})), Rejection::Expired),
        ("expired at the epoch", t(json!({"exp": 0})), Rejection::Expired),
        ("not yet valid", t(json!({"nbf": now + 600})), Rejection::NotYetValid),
        ("issued in the future", t(json!({"iat": now + 600})), Rejection::IssuedInFuture),
        ("another pool", t(json!({"iss": cognito("us-east-1", "us-east-1_Other")})), unknown),
        ("pool id, other region", t(json!({"iss": cognito("eu-west-1", "us-east-1_TestPool")})), unknown),
        ("an unconfigured issuer", t(json!({"iss": "https://login.evil.example"})), unknown),
        ("iss with a trailing slash", t(json!({"iss": format!("{ISS}/")})), unknown),
        ("iss in another case", t(json!({"iss": ISS.to_uppercase()})), unknown),
        ("iss missing", without("iss"), missing("iss")),
        ("an ID token", id_token(json!({}), &[]), Rejection::WrongTokenUse),
        ("token_use in another case", t(json!({"token_use": "Access"})), Rejection::WrongTokenUse),
        ("token_use missing", without("token_use"), missing("token_use")),
        ("another client", t(json!({"client_id": "client-2"})), Rejection::WrongClient),
        ("client in another case", t(json!({"client_id": "CLIENT-1"})), Rejection::WrongClient),
        ("client with a trailing space", t(json!({"client_id": "client-1 "})), Rejection::WrongClient),
        ("client only in aud", signed_claims(json!({"aud": CLIENT}), &["client_id"]), missing("client_id")),
    ];
    Harness::standard().expect_all_rejected(&cases).await;

    // With leeway, a small clock skew is forgiven, and no more.
    let lenient = Harness::new(&["RS256"], "access", 60);
    lenient.expect_allowed("expired within leeway", &t(json!({"exp": now - 30}))).await;
    #[rustfmt::skip]
    let cases = [
        ("expired beyond leeway", t(json!({"exp": now - 120})), Rejection::Expired),
        ("nbf beyond leeway", t(json!({"nbf": now + 120})), Rejection::NotYetValid),
        ("iat beyond leeway", t(json!({"iat": now + 120})), Rejection::IssuedInFuture),
    ];
    lenient.expect_all_rejected(&cases).await;

    // An issuer configured for ID tokens: `aud` names the client, and access tokens do not pass.
    #[rustfmt::skip]
    let cases = [
        ("an access token where ID tokens are required", valid_token(), Rejection::WrongTokenUse),
        ("ID token for another client", id_token(json!({"aud": "client-2"}), &[]), Rejection::WrongClient),
        ("ID token without aud", id_token(json!({}), &["aud"]), missing("aud")),
        ("ID token naming its client in client_id", id_token(json!({"client_id": CLIENT}), &["aud"]), missing("aud")),
    ];
    Harness::new(&["RS256"], "id", 0).expect_all_rejected(&cases).await;
}

// -------------------------------------------------------------------------------------------------
// Signatures
// -------------------------------------------------------------------------------------------------

#[tokio::test]
async fn invalid_ecdsa_signatures_are_refused() {
    let (head, payload) = (header("ES256", EC_KID), claims(json!({}), &[]));
    let order: Vec<u8> = (0..32).map(|i| u8::from_str_radix(&P256_ORDER[2 * i..2 * i + 2], 16).unwrap()).collect();
    let genuine = es256().over(format!("{}.{}", b64(&head), b64(&payload)).as_bytes());
    let with = |sig: Vec<u8>| sign(&head, &payload, &Sig::Bytes(sig));
    let asn1 = sign(&head, &payload, &Sig::Ec(&KEYS.ec_asn1));
    #[rustfmt::skip]
    let cases = [
        ("r = s = 0", with(vec![0; 64]), Rejection::BadSignature),
        ("all 0xff", with(vec![0xff; 64]), Rejection::BadSignature),
        ("r = s = n", with([&order[..], &order[..]].concat()), Rejection::BadSignature),
        ("r = 0, genuine s", with([&[0; 32][..], &genuine[32..]].concat()), Rejection::BadSignature),
        ("63 bytes", with(genuine[..63].to_vec()), Rejection::BadSignature),
        ("65 bytes", with([&genuine[..], &[0]].concat()), Rejection::BadSignature),
        ("one byte", with(vec![0]), Rejection::BadSignature),
        ("ASN.1 DER instead of r || s", asn1, Rejection::BadSignature),
    ];
    Harness::standard().expect_all_rejected(&cases).await;
}

#[tokio::test]
async fn altered_or_transplanted_signatures_are_refused() {
    let token = valid_token();
    let (head, body, sig) = split3(&token);
    let sig_bytes = URL_SAFE_NO_PAD.decode(sig).unwrap();
    let resigned = |sig: &[u8]| format!("{head}.{body}.{}", b64(sig));

    // A genuine signature moved onto another header, or another caller's signature onto these claims.
    let other_head = b64(header_with(json!({"typ": "JWT"})));
    let other_token = signed_claims(json!({"sub": "user-2"}), &[]);
    let (_, _, other_sig) = split3(&other_token);
    // One character of the claims changed after signing.
    let tampered = b64(claims(json!({}), &[]).replacen("user-1", "user-2", 1));
    // An RS256 signature is 256 bytes: 342 base64url characters, the last of which carries 4 unused
    // bits. Setting one spells the same bytes non-canonically, which a lenient decoder would accept.
    let alphabet = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    let last = alphabet.iter().position(|c| Some(c) == sig.as_bytes().last()).unwrap();
    assert_eq!((sig.len() % 4, last & 0x0f), (2, 0), "canonical: the unused bits are clear");
    let non_canonical = format!("{}{}", &sig[..sig.len() - 1], alphabet[last | 1] as char);
    let modulus = KEYS.rsa.public_key().modulus().big_endian_without_leading_zero().to_vec();

    let bad_encoding = Rejection::Malformed("bad_signature_encoding");
    #[rustfmt::skip]
    let cases = [
        ("signature moved onto another header", format!("{other_head}.{body}.{sig}"), Rejection::BadSignature),
        ("another token's signature", format!("{head}.{body}.{other_sig}"), Rejection::BadSignature),
        ("claims tampered by one character", format!("{head}.{tampered}.{sig}"), Rejection::BadSignature),
        ("an ECDSA signature", resigned(&es256().over(b"x")), Rejection::BadSignature),
        ("signature one byte short", resigned(&sig_bytes[1..]), Rejection::BadSignature),
        ("signature one byte long", resigned(&[&sig_bytes[..], &[0]].concat()), Rejection::BadSignature),
        ("signature all zero", resigned(&[0; 256]), Rejection::BadSignature),
        ("signature equal to the modulus", resigned(&modulus), Rejection::BadSignature),
        ("signature empty", format!("{head}.{body}."), Rejection::Malformed("empty_signature")),
        ("signature spelled non-canonically", format!("{head}.{body}.{non_canonical}"), bad_encoding),
    ];
    Harness::standard().expect_all_rejected(&cases).await;
}

// -------------------------------------------------------------------------------------------------
// The event around the token
// -------------------------------------------------------------------------------------------------

#[tokio::test]
async fn a_bad_event_is_a_fault_even_with_a_valid_token() {
    let h = Harness::standard();
    let authorization = format!("Bearer {}", valid_token());
    for kind in ["token", "REQUEST", "", "TOKEN "] {
        let result = h.answer(kind, Some(&authorization), METHOD_ARN).await;
        assert_fault(&format!("event type {kind:?}"), result, "bad_event");
    }
    for arn in [
        "",
        "not-an-arn",
        "arn:aws:execute-api:us-east-1:123456789012:abcdef1234/prod",
        "arn:aws:execute-api:us-east-1:123456789012:abcdef1234/prod/",
        "arn:aws:execute-api:us-east-1:123456789012:*/prod/GET/items/42",
        "arn:aws:execute-api:us-east-1:123456789012:abcdef1234/*/GET/items/42",
        "arn:aws:execute-api:*:123456789012:abcdef1234/prod/GET/items/42",
        "arn:aws:execute-api:us-east-1:12345678901:abcdef1234/prod/GET/items/42",
        "arn:aws:lambda:us-east-1:123456789012:abcdef1234/prod/GET/items/42",
    ] {
        let result = h.answer("TOKEN", Some(&authorization), arn).await;
        assert_fault(&format!("methodArn {arn:?}"), result, "bad_event");
    }
    // The event is judged before the token: with a forged token it is still a fault, not a 401.
    let forged = sign(&header("none", RSA_KID), &claims(json!({}), &[]), &Sig::Bytes(b"x".to_vec()));
    let result = h.answer("REQUEST", Some(&format!("Bearer {forged}")), METHOD_ARN).await;
    assert_fault("bad event, forged token", result, "bad_event");
}
