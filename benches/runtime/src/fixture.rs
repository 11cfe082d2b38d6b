//! What the functions are given: a fresh RSA-2048 key and its JWKS, a Cognito-shaped access token signed
//! with it, the configuration (the README's route rules, which this caller meets in full: the largest
//! policy), and the TOKEN and REST REQUEST events carrying the token.

use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::rsa::KeySize;
use aws_lc_rs::signature::{KeyPair, RSA_PKCS1_SHA256, RsaKeyPair};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use serde_json::{Value, json};
use std::time::{SystemTime, UNIX_EPOCH};

pub const POOL: &str = "us-east-1_BenchPool";
const CLIENT_ID: &str = "4k1h2j3g4f5d6s7a8p9o0i1u2y";
const KID: &str = "bench-rsa";
const METHOD_ARN: &str = "arn:aws:execute-api:us-east-1:123456789012:abcdef1234/prod/GET/items/42";

/// Where the function gets the issuer's keys.
pub enum Keys<'a> {
    /// A pre-baked JWKS in the configuration: no fetch at cold start.
    Baked(&'a str),
    /// A `jwks_uri`: fetched on the first request.
    Uri(&'a str),
}

/// The signing key, whose public half is the issuer's only key.
pub struct Signer {
    key: RsaKeyPair,
}

impl Signer {
    pub fn generate() -> Result<Self, String> {
        let key = RsaKeyPair::generate(KeySize::Rsa2048).map_err(|e| format!("generating an RSA key: {e}"))?;
        Ok(Signer { key })
    }

    pub fn jwks(&self) -> String {
        let public = self.key.public_key();
        json!({"keys": [{
            "kty": "RSA", "kid": KID, "use": "sig", "alg": "RS256",
            "n": B64.encode(public.modulus().big_endian_without_leading_zero()),
            "e": B64.encode(public.exponent().big_endian_without_leading_zero()),
        }]})
        .to_string()
    }

    /// One bare RS256 check of `token`'s signature, median time: with ring, the crypto backend the functions
    /// use (the floor a warm invocation can approach), and with aws-lc-rs and an already-parsed key, for
    /// reference.
    pub fn signature_floor(&self, token: &str) -> Result<Floor, String> {
        let (input, signature) = token.rsplit_once('.').ok_or("the token has no signature")?;
        let input = input.as_bytes();
        let signature = B64.decode(signature).map_err(|e| format!("signature encoding: {e}"))?;
        let public_key = self.key.public_key().as_ref();
        let ring_key =
            ring::signature::UnparsedPublicKey::new(&ring::signature::RSA_PKCS1_2048_8192_SHA256, public_key);
        let parsed =
            aws_lc_rs::signature::ParsedPublicKey::new(&aws_lc_rs::signature::RSA_PKCS1_2048_8192_SHA256, public_key)
                .map_err(|e| format!("parsing the public key: {e}"))?;
        Ok(Floor {
            ring: median_check(|| ring_key.verify(std::hint::black_box(input), &signature).is_ok())?,
            aws_lc_parsed: median_check(|| parsed.verify_sig(std::hint::black_box(input), &signature).is_ok())?,
        })
    }

    /// An RS256 access token shaped and sized like Cognito's, valid for an hour.
    pub fn access_token(&self) -> Result<String, String> {
        let now = SystemTime::now().duration_since(UNIX_EPOCH).map_err(|e| e.to_string())?.as_secs();
        let header = json!({"kid": KID, "alg": "RS256"});
        let claims = json!({
            "sub": "9f2a1c4e-3b7d-4e8f-a1b2-c3d4e5f60718", "cognito:groups": ["readers", "admins"],
            "iss": format!("https://cognito-idp.us-east-1.amazonaws.com/{POOL}"), "version": 2,
            "client_id": CLIENT_ID, "origin_jti": "a1b2c3d4-e5f6-4a7b-8c9d-0e1f2a3b4c5d",
            "event_id": "f1e2d3c4-b5a6-4978-8695-a4b3c2d1e0f9", "token_use": "access",
            "scope": "items/read items/write aws.cognito.signin.user.admin", "auth_time": now, "exp": now + 3600,
            "iat": now, "jti": "0a1b2c3d-4e5f-4a6b-7c8d-9e0f1a2b3c4d", "username": "alice"
        });
        let input = format!("{}.{}", B64.encode(header.to_string()), B64.encode(claims.to_string()));
        let mut signature = vec![0; self.key.public_modulus_len()];
        self.key
            .sign(&RSA_PKCS1_SHA256, &SystemRandom::new(), input.as_bytes(), &mut signature)
            .map_err(|e| format!("signing the token: {e}"))?;
        Ok(format!("{input}.{}", B64.encode(signature)))
    }
}

/// The `AUTHZ_CONFIG` document: one Cognito pool and the README's three rules.
pub fn config(keys: &Keys) -> String {
    let keys = match keys {
        // A TOML literal string: JSON never contains a single quote.
        Keys::Baked(jwks) => format!("jwks = '{jwks}'"),
        Keys::Uri(uri) => format!("jwks_uri = \"{uri}\""),
    };
    format!(
        r#"context_claims = ["sub", "username", "scope", "cognito:groups"]

[[issuers]]
cognito_user_pool_id = "{POOL}"
client_ids = ["{CLIENT_ID}"]
{keys}

[rules]
unmatched = "deny"

[[rules.route]]
match = ["GET /items", "GET /items/{{id}}"]
scopes_any = ["items/read", "items/write"]

[[rules.route]]
match = ["POST /items", "PUT /items/{{id}}", "DELETE /items/{{id}}"]
scopes_any = ["items/write"]

[[rules.route]]
match = ["ANY /admin/{{proxy+}}"]
groups_any = ["admins"]
invalidate_cache = true
"#
    )
}

pub fn token_event(token: &str) -> Vec<u8> {
    json!({"type": "TOKEN", "authorizationToken": format!("Bearer {token}"), "methodArn": METHOD_ARN})
        .to_string()
        .into()
}

/// One bare RS256 signature check, measured in this run.
pub struct Floor {
    pub ring: std::time::Duration,
    pub aws_lc_parsed: std::time::Duration,
}

/// The median over 30 batches of 1,000 checks; a check that fails is an error, not a figure.
fn median_check(check: impl Fn() -> bool) -> Result<std::time::Duration, String> {
    const BATCH: u32 = 1000;
    let mut batches = Vec::new();
    for _ in 0..30 {
        let started = std::time::Instant::now();
        for _ in 0..BATCH {
            if !check() {
                return Err("the bench token's signature did not verify".into());
            }
        }
        batches.push(started.elapsed() / BATCH);
    }
    batches.sort();
    Ok(batches[batches.len() / 2])
}

/// The REST REQUEST sample with the token in both header maps and the bench's method ARN.
pub fn request_event(sample: &str, token: &str) -> Result<Vec<u8>, String> {
    let mut event: Value = serde_json::from_str(sample).map_err(|e| format!("the REQUEST sample: {e}"))?;
    let bearer = format!("Bearer {token}");
    event["headers"]["Authorization"] = json!(bearer);
    event["multiValueHeaders"]["Authorization"] = json!([bearer]);
    event["methodArn"] = json!(METHOD_ARN);
    Ok(event.to_string().into())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_token_verifies_with_the_published_key() {
        use aws_lc_rs::signature::{RSA_PKCS1_2048_8192_SHA256, RsaPublicKeyComponents};
        let signer = Signer::generate().unwrap();
        let token = signer.access_token().unwrap();
        let (input, signature) = token.rsplit_once('.').unwrap();
        let jwks: Value = serde_json::from_str(&signer.jwks()).unwrap();
        let component = |name: &str| B64.decode(jwks["keys"][0][name].as_str().unwrap()).unwrap();
        let key = RsaPublicKeyComponents { n: component("n"), e: component("e") };
        key.verify(&RSA_PKCS1_2048_8192_SHA256, input.as_bytes(), &B64.decode(signature).unwrap()).unwrap();
    }

    #[test]
    fn the_request_event_carries_the_token_in_both_header_maps() {
        let sample = r#"{"type": "REQUEST", "headers": {"Authorization": "old"}, "multiValueHeaders": {}}"#;
        let event: Value = serde_json::from_slice(&request_event(sample, "t.o.k").unwrap()).unwrap();
        assert_eq!(event["headers"]["Authorization"], "Bearer t.o.k");
        assert_eq!(event["multiValueHeaders"]["Authorization"], json!(["Bearer t.o.k"]));
        assert_eq!(event["methodArn"], METHOD_ARN);
    }

    #[test]
    fn the_config_names_exactly_one_key_source() {
        assert!(config(&Keys::Baked(r#"{"keys":[]}"#)).contains("\njwks = '{\"keys\":[]}'\n"));
        let fetched = config(&Keys::Uri("http://127.0.0.1:1/jwks.json"));
        assert!(fetched.contains("\njwks_uri = \"http://127.0.0.1:1/jwks.json\"\n") && !fetched.contains("jwks ="));
    }
}
