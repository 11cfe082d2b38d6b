//! Mints JWTs for tests: any header and claims, signed with moto's bundled Cognito key (so forged tokens carry a
//! signature the authorizer must accept) or with freshly generated RSA / ES256 keys for rotation tests. Also builds
//! Cognito-shaped claims with controllable lifetimes and scopes.
//!
//! It signs and decodes but never verifies: verification is the authorizer's job, and a second implementation here
//! could only hide its bugs. The keys it handles are moto's test key (published in its package) or throwaway ones.

use std::fs::File;
use std::io::Read as _;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::rsa::{KeyPairComponents, KeySize, PublicKeyComponents};
use aws_lc_rs::signature::{ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair, KeyPair as _, RSA_PKCS1_SHA256, RsaKeyPair};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use num_bigint::BigUint;
use num_integer::Integer as _;
use serde::Deserialize;
use serde_json::{Map, Value, json};

use crate::{Error, Result, cognito};

/// Where moto keeps the key it signs every pool's tokens with, below a Python `site-packages` directory.
const MOTO_KEY: &str = "moto/cognitoidp/resources/jwks-private.json.gz";

/// Lifetime of minted tokens unless a test says otherwise (Cognito's default for access tokens).
const DEFAULT_LIFETIME_SECS: i64 = 3600;

/// A private key that signs JWTs under a `kid`.
pub struct SigningKey {
    kid: String,
    key: Key,
}

enum Key {
    Rs256(RsaKeyPair),
    Es256(EcdsaKeyPair),
}

impl std::fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SigningKey").field("kid", &self.kid).field("alg", &self.alg()).finish_non_exhaustive()
    }
}

/// moto's private JWK carries only n, e and d (no CRT parameters).
#[derive(Deserialize)]
struct RsaPrivateJwk {
    kid: String,
    n: String,
    e: String,
    d: String,
}

impl SigningKey {
    /// moto's Cognito signing key (kid `dummy`), read from the moto installation whose `moto_server` is on PATH,
    /// so it is the key the running server signs with.
    pub fn moto() -> Result<Self> {
        let path = moto_key_path()?;
        let mut json = String::new();
        File::open(&path)
            .map(flate2::read::GzDecoder::new)
            .and_then(|mut gz| gz.read_to_string(&mut json))
            .map_err(|source| Error::io(format!("reading {}", path.display()), source))?;
        let jwk: RsaPrivateJwk = serde_json::from_str(&json)
            .map_err(|e| Error::Failed(format!("{} is not an RSA private JWK: {e}", path.display())))?;
        let key = rsa_from_jwk(&jwk)?;
        Ok(Self { kid: jwk.kid, key: Key::Rs256(key) })
    }

    /// A fresh RSA 2048 key for RS256.
    pub fn generate_rsa(kid: &str) -> Result<Self> {
        let key =
            RsaKeyPair::generate(KeySize::Rsa2048).map_err(|_| Error::Failed("generating an RSA key failed".into()))?;
        Ok(Self { kid: kid.into(), key: Key::Rs256(key) })
    }

    /// A fresh P-256 key for ES256.
    pub fn generate_es256(kid: &str) -> Result<Self> {
        let key = EcdsaKeyPair::generate(&ECDSA_P256_SHA256_FIXED_SIGNING)
            .map_err(|_| Error::Failed("generating a P-256 key failed".into()))?;
        Ok(Self { kid: kid.into(), key: Key::Es256(key) })
    }

    pub fn kid(&self) -> &str {
        &self.kid
    }

    /// The JWS algorithm this key signs with.
    pub fn alg(&self) -> &'static str {
        match self.key {
            Key::Rs256(_) => "RS256",
            Key::Es256(_) => "ES256",
        }
    }

    /// The public half as a JWK, as an issuer would publish it.
    pub fn public_jwk(&self) -> Value {
        let (kid, alg) = (self.kid.as_str(), self.alg());
        match &self.key {
            Key::Rs256(key) => {
                let public = PublicKeyComponents::<Vec<u8>>::from(key.public_key());
                json!({"kty": "RSA", "kid": kid, "alg": alg, "use": "sig", "n": b64(&public.n), "e": b64(&public.e)})
            }
            Key::Es256(key) => {
                // An uncompressed SEC1 point: 0x04 || x || y.
                let point = key.public_key().as_ref();
                let (x, y) = point.get(1..).unwrap_or_default().split_at(point.len().saturating_sub(1) / 2);
                json!({"kty": "EC", "kid": kid, "alg": alg, "use": "sig", "crv": "P-256", "x": b64(x), "y": b64(y)})
            }
        }
    }

    /// Signs `claims` under the usual header: this key's `alg` and `kid`, `typ` JWT.
    pub fn sign(&self, claims: &Value) -> Result<String> {
        self.sign_with_header(&json!({"alg": self.alg(), "kid": self.kid, "typ": "JWT"}), claims)
    }

    /// Signs with this key's algorithm whatever the header claims, so tests can forge `alg` or `kid`.
    pub fn sign_with_header(&self, header: &Value, claims: &Value) -> Result<String> {
        let signing_input = unsigned(header, claims);
        let signature = match &self.key {
            Key::Rs256(key) => {
                let mut signature = vec![0; key.public_modulus_len()];
                key.sign(&RSA_PKCS1_SHA256, &SystemRandom::new(), signing_input.as_bytes(), &mut signature)
                    .map_err(|_| Error::Failed("RSA signing failed".into()))?;
                signature
            }
            Key::Es256(key) => key
                .sign(&SystemRandom::new(), signing_input.as_bytes())
                .map_err(|_| Error::Failed("ECDSA signing failed".into()))?
                .as_ref()
                .to_vec(),
        };
        Ok(format!("{signing_input}.{}", b64(&signature)))
    }
}

/// A JWKS document publishing the public halves of `keys`.
pub fn jwks(keys: &[&SigningKey]) -> Value {
    json!({"keys": keys.iter().map(|key| key.public_jwk()).collect::<Vec<_>>()})
}

/// `base64url(header).base64url(claims)`: the JWS signing input, and on its own an unsigned token body.
pub fn unsigned(header: &Value, claims: &Value) -> String {
    format!("{}.{}", b64(header.to_string().as_bytes()), b64(claims.to_string().as_bytes()))
}

/// The claims of a compact JWT, decoded without any verification.
pub fn claims_of(token: &str) -> Result<Value> {
    let payload = token.split('.').nth(1).ok_or_else(|| Error::Failed("a JWT has three dot-separated parts".into()))?;
    let bytes =
        URL_SAFE_NO_PAD.decode(payload).map_err(|e| Error::Failed(format!("JWT payload is not base64url: {e}")))?;
    serde_json::from_slice(&bytes).map_err(|e| Error::Failed(format!("JWT payload is not JSON: {e}")))
}

/// `token` with its claims replaced and its header and signature kept: a forgery the authorizer must reject.
pub fn tamper(token: &str, claims: &Value) -> Result<String> {
    match token.split('.').collect::<Vec<_>>().as_slice() {
        [header, _, signature] => Ok(format!("{header}.{}.{signature}", b64(claims.to_string().as_bytes()))),
        _ => Err(Error::Failed("a JWT has three dot-separated parts".into())),
    }
}

/// Which kind of Cognito token the claims describe.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenUse {
    Access,
    Id,
}

/// Claims shaped like Cognito's. Fields are public so tests adjust what they need; `extra` is merged last and can
/// add or override any claim.
#[derive(Debug, Clone)]
pub struct CognitoClaims {
    pub token_use: TokenUse,
    pub issuer: String,
    /// `client_id` in access tokens, `aud` in ID tokens.
    pub client_id: String,
    pub sub: String,
    pub username: String,
    /// Omitted when empty, as Cognito does.
    pub groups: Vec<String>,
    /// Space-separated; access tokens only.
    pub scope: String,
    pub issued_at: i64,
    pub expires_at: i64,
    pub extra: Map<String, Value>,
}

impl CognitoClaims {
    /// An access token's claims for `username` in `pool_id`, valid for an hour from now, with the scope Cognito
    /// grants to password sign-in.
    pub fn access(pool_id: &str, client_id: &str, username: &str) -> Self {
        Self::new(TokenUse::Access, pool_id, client_id, username)
    }

    /// An ID token's claims for `username` in `pool_id`, valid for an hour from now.
    pub fn id(pool_id: &str, client_id: &str, username: &str) -> Self {
        Self::new(TokenUse::Id, pool_id, client_id, username)
    }

    fn new(token_use: TokenUse, pool_id: &str, client_id: &str, username: &str) -> Self {
        let now = unix_now();
        Self {
            token_use,
            issuer: cognito::issuer(pool_id),
            client_id: client_id.into(),
            sub: unique_id(),
            username: username.into(),
            groups: Vec::new(),
            scope: "aws.cognito.signin.user.admin".into(),
            issued_at: now,
            expires_at: now + DEFAULT_LIFETIME_SECS,
            extra: Map::new(),
        }
    }

    /// Makes the token expire `secs_ago` seconds ago, after a normal lifetime.
    pub fn expired(mut self, secs_ago: i64) -> Self {
        self.expires_at = unix_now() - secs_ago;
        self.issued_at = self.expires_at - DEFAULT_LIFETIME_SECS;
        self
    }

    pub fn to_json(&self) -> Value {
        let mut claims = Map::new();
        let mut set = |name: &str, value: Value| claims.insert(name.into(), value);
        set("sub", json!(self.sub));
        set("iss", json!(self.issuer));
        set("origin_jti", json!(unique_id()));
        set("jti", json!(unique_id()));
        set("auth_time", json!(self.issued_at));
        set("iat", json!(self.issued_at));
        set("exp", json!(self.expires_at));
        if !self.groups.is_empty() {
            set("cognito:groups", json!(self.groups));
        }
        match self.token_use {
            TokenUse::Access => {
                set("token_use", json!("access"));
                set("client_id", json!(self.client_id));
                set("scope", json!(self.scope));
                set("username", json!(self.username));
            }
            TokenUse::Id => {
                set("token_use", json!("id"));
                set("aud", json!(self.client_id));
                set("cognito:username", json!(self.username));
            }
        }
        claims.extend(self.extra.clone());
        Value::Object(claims)
    }
}

/// Seconds since the Unix epoch (0 if the clock is before it).
pub fn unix_now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |elapsed| i64::try_from(elapsed.as_secs()).unwrap_or(i64::MAX))
}

/// Unique within the process and unlikely to repeat across runs; ids need uniqueness, not secrecy.
fn unique_id() -> String {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let nanos = SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.subsec_nanos());
    format!("{:08x}-{nanos:08x}-{:04x}", std::process::id(), COUNTER.fetch_add(1, Ordering::Relaxed))
}

fn b64(bytes: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}

fn b64_uint(field: &str, value: &str) -> Result<BigUint> {
    URL_SAFE_NO_PAD
        .decode(value.trim_end_matches('='))
        .map(|bytes| BigUint::from_bytes_be(&bytes))
        .map_err(|e| Error::Failed(format!("JWK field {field} is not base64url: {e}")))
}

/// Builds a signing key from n, e and d. aws-lc needs the CRT parameters too, so the primes are recovered first.
fn rsa_from_jwk(jwk: &RsaPrivateJwk) -> Result<RsaKeyPair> {
    let (n, e, d) = (b64_uint("n", &jwk.n)?, b64_uint("e", &jwk.e)?, b64_uint("d", &jwk.d)?);
    let (p, q) = recover_primes(&n, &e, &d).ok_or_else(|| Error::Failed("n, e and d do not form an RSA key".into()))?;
    let one = BigUint::from(1u8);
    let q_inv = q.modinv(&p).ok_or_else(|| Error::Failed("q has no inverse mod p".into()))?;
    let components = KeyPairComponents {
        public_key: PublicKeyComponents { n: n.to_bytes_be(), e: e.to_bytes_be() },
        d: d.to_bytes_be(),
        dP: (&d % (&p - &one)).to_bytes_be(),
        dQ: (&d % (&q - &one)).to_bytes_be(),
        qInv: q_inv.to_bytes_be(),
        p: p.to_bytes_be(),
        q: q.to_bytes_be(),
    };
    RsaKeyPair::from_components(&components).map_err(|e| Error::Failed(format!("aws-lc rejected the RSA key: {e}")))
}

/// Factors n from the private exponent (the probabilistic method of NIST SP 800-56B, appendix C): for k = d·e − 1
/// = 2^t·r, some g^(r·2^i) is a non-trivial square root of 1 mod n, and its gcd with n, minus one, is a prime.
fn recover_primes(n: &BigUint, e: &BigUint, d: &BigUint) -> Option<(BigUint, BigUint)> {
    let one = BigUint::from(1u8);
    let de = d * e;
    if *n <= one || de <= one {
        return None;
    }
    let (n_minus_one, k) = (n - &one, de - &one);
    let t = k.trailing_zeros()?;
    let r = &k >> t;
    // Each base succeeds with probability at least 1/2; 100 bases make failure of a valid key impossible in practice.
    for g in 2u32..102 {
        let mut x = BigUint::from(g).modpow(&r, n);
        for _ in 0..t {
            if x == one || x == n_minus_one {
                break;
            }
            let y = x.modpow(&BigUint::from(2u8), n);
            if y == one {
                let p = (&x - &one).gcd(n);
                return Some((n / &p, p));
            }
            x = y;
        }
    }
    None
}

/// Finds moto's key file below the Python prefix of the `moto_server` on PATH (`<prefix>/bin/moto_server`).
fn moto_key_path() -> Result<PathBuf> {
    let not_found = || Error::Failed(format!("no {MOTO_KEY} found next to a moto_server on PATH"));
    let path = std::env::var_os("PATH").ok_or_else(not_found)?;
    std::env::split_paths(&path)
        .filter(|dir| dir.join("moto_server").is_file())
        .filter_map(|bin| bin.parent().map(Path::to_path_buf))
        .find_map(|prefix| site_packages(&prefix).into_iter().map(|dir| dir.join(MOTO_KEY)).find(|key| key.is_file()))
        .ok_or_else(not_found)
}

/// `<prefix>/lib/python3*/{site,dist}-packages`, the places pip installs into.
fn site_packages(prefix: &Path) -> Vec<PathBuf> {
    let Ok(entries) = std::fs::read_dir(prefix.join("lib")) else {
        return Vec::new();
    };
    entries
        .filter_map(|entry| entry.ok().map(|entry| entry.path()))
        .filter(|dir| dir.file_name().and_then(|name| name.to_str()).is_some_and(|name| name.starts_with("python3")))
        .flat_map(|dir| [dir.join("site-packages"), dir.join("dist-packages")])
        .collect()
}

#[cfg(test)]
mod tests {
    use aws_lc_rs::signature::{ECDSA_P256_SHA256_FIXED, RSA_PKCS1_2048_8192_SHA256, UnparsedPublicKey};

    use super::*;

    /// Verifies a minted token against the key's published JWK, as an independent check of both.
    fn verify_with_jwk(token: &str, jwk: &Value) -> bool {
        let Some((input, signature)) = token.rsplit_once('.') else { return false };
        let signature = URL_SAFE_NO_PAD.decode(signature).unwrap();
        let field = |name: &str| URL_SAFE_NO_PAD.decode(jwk[name].as_str().unwrap()).unwrap();
        match jwk["kty"].as_str().unwrap() {
            "RSA" => PublicKeyComponents { n: field("n"), e: field("e") }
                .verify(&RSA_PKCS1_2048_8192_SHA256, input.as_bytes(), &signature)
                .is_ok(),
            _ => {
                let point = [vec![4], field("x"), field("y")].concat();
                UnparsedPublicKey::new(&ECDSA_P256_SHA256_FIXED, point).verify(input.as_bytes(), &signature).is_ok()
            }
        }
    }

    #[test]
    fn recovers_the_primes_of_a_textbook_key() {
        // Known values: p = 61, q = 53, e = 17, d = 2753 (the textbook example).
        let (p, q) = recover_primes(&BigUint::from(3233u32), &BigUint::from(17u32), &BigUint::from(2753u32)).unwrap();
        let mut primes = [p, q];
        primes.sort();
        assert_eq!(primes, [BigUint::from(53u32), BigUint::from(61u32)]);
    }

    #[test]
    fn rejects_an_inconsistent_private_exponent() {
        assert!(recover_primes(&BigUint::from(3233u32), &BigUint::from(17u32), &BigUint::from(2751u32)).is_none());
    }

    #[test]
    fn generated_keys_sign_tokens_their_jwks_verify() {
        let claims = json!({"sub": "x"});
        for key in [SigningKey::generate_rsa("r1").unwrap(), SigningKey::generate_es256("e1").unwrap()] {
            let token = key.sign(&claims).unwrap();
            let jwk = key.public_jwk();
            assert!(verify_with_jwk(&token, &jwk), "{key:?}");
            assert_eq!(jwk["kid"], key.kid());
            assert!(!verify_with_jwk(&tamper(&token, &json!({"sub": "y"})).unwrap(), &jwk), "{key:?}");
        }
    }

    #[test]
    fn es256_jwk_coordinates_are_32_bytes() {
        let jwk = SigningKey::generate_es256("e1").unwrap().public_jwk();
        for coordinate in ["x", "y"] {
            assert_eq!(URL_SAFE_NO_PAD.decode(jwk[coordinate].as_str().unwrap()).unwrap().len(), 32);
        }
    }

    #[test]
    fn header_is_signed_as_given() {
        let key = SigningKey::generate_rsa("real").unwrap();
        let token = key.sign_with_header(&json!({"alg": "none", "kid": "forged"}), &json!({})).unwrap();
        let header: Value =
            serde_json::from_slice(&URL_SAFE_NO_PAD.decode(token.split('.').next().unwrap()).unwrap()).unwrap();
        assert_eq!(header, json!({"alg": "none", "kid": "forged"}));
        assert!(verify_with_jwk(&token, &key.public_jwk()));
    }

    #[test]
    fn cognito_claims_follow_token_use() {
        let mut access = CognitoClaims::access("us-east-1_abc", "client", "alice");
        access.groups = vec!["admins".into()];
        let access = access.to_json();
        assert_eq!(access["token_use"], "access");
        assert_eq!(access["client_id"], "client");
        assert_eq!(access["cognito:groups"], json!(["admins"]));
        assert_eq!(access["iss"], "https://cognito-idp.us-east-1.amazonaws.com/us-east-1_abc");
        assert!(access.get("aud").is_none());

        let id = CognitoClaims::id("us-east-1_abc", "client", "alice").to_json();
        assert_eq!(id["token_use"], "id");
        assert_eq!(id["aud"], "client");
        assert!(id.get("client_id").is_none() && id.get("scope").is_none() && id.get("cognito:groups").is_none());
    }

    #[test]
    fn expired_claims_lie_in_the_past_and_extra_overrides() {
        let mut claims = CognitoClaims::access("p", "c", "u").expired(60);
        claims.extra.insert("scope".into(), json!("items/write"));
        let json = claims.to_json();
        let exp = json["exp"].as_i64().unwrap();
        assert!(exp <= unix_now() - 60 && json["iat"].as_i64().unwrap() < exp);
        assert_eq!(json["scope"], "items/write");
    }

    #[test]
    fn claims_round_trip_and_tamper_keeps_the_signature() {
        let key = SigningKey::generate_es256("k").unwrap();
        let token = key.sign(&json!({"a": 1})).unwrap();
        assert_eq!(claims_of(&token).unwrap(), json!({"a": 1}));
        let forged = tamper(&token, &json!({"a": 2})).unwrap();
        assert_eq!(claims_of(&forged).unwrap(), json!({"a": 2}));
        assert_eq!(forged.rsplit('.').next(), token.rsplit('.').next());
        assert!(claims_of("no-dots").is_err() && tamper("a.b", &json!({})).is_err());
    }
}
