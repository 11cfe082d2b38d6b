//! Parses a JSON Web Key Set into verification keys, once, so that no request pays for JSON, base64 or DER
//! assembly (ring itself reads the key again on each check: it has no parsed-key form).
//!
//! Keys that cannot serve signature verification (`use: enc`, unknown `kty` or curve, RSA under 2048 bits or
//! with an exponent ring refuses, malformed members) are skipped with a reason; they never make the whole set
//! fail. Only public key material is read: private members are ignored, and no key is ever fetched from a URL
//! named in a key. An EC point off its curve cannot be told apart here (ring has no key-only check): such a key
//! is kept and verifies nothing, so its tokens fail as `bad_signature`.

use crate::alg::{Algorithm, KeyKind};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use ring::signature::UnparsedPublicKey;
use serde::Deserialize;

/// More keys than any real issuer publishes; a larger set is truncated, not trusted in full.
pub const MAX_KEYS: usize = 100;
const MIN_RSA_BITS: usize = 2048;
const MAX_RSA_BITS: usize = 8192;
/// ring's largest RSA public exponent, 2^33 - 1 (real keys use 65537).
const MAX_RSA_EXPONENT: u64 = (1 << 33) - 1;

/// One public key, decoded once, and the algorithms it may verify.
pub struct VerifyingKey {
    kid: String,
    algorithms: Vec<Algorithm>,
    /// In the encoding ring verifies with (see `public_key_material`).
    material: Vec<u8>,
}

impl std::fmt::Debug for VerifyingKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let algs: Vec<_> = self.algorithms.iter().map(|alg| alg.name()).collect();
        f.debug_struct("VerifyingKey").field("kid", &self.kid).field("algorithms", &algs).finish()
    }
}

impl VerifyingKey {
    pub fn kid(&self) -> &str {
        &self.kid
    }

    /// Verifies `signature` over `message` if this key may be used with `alg`; `false` otherwise.
    pub fn verify(&self, alg: Algorithm, message: &[u8], signature: &[u8]) -> bool {
        self.supports(alg)
            && UnparsedPublicKey::new(alg.verification(), &self.material).verify(message, signature).is_ok()
    }

    pub fn supports(&self, alg: Algorithm) -> bool {
        self.algorithms.contains(&alg)
    }
}

/// The usable keys of one issuer, in the order the issuer published them.
#[derive(Debug, Default)]
pub struct KeySet {
    keys: Vec<VerifyingKey>,
}

/// Why a published key was left out of the set.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SkippedKey {
    pub kid: Option<String>,
    pub reason: &'static str,
}

impl KeySet {
    /// Parses a JWKS document, keeping the keys usable with at least one of `allowed` algorithms.
    pub fn parse(json: &[u8], allowed: &[Algorithm]) -> Result<(KeySet, Vec<SkippedKey>), String> {
        #[derive(Deserialize)]
        struct Document {
            keys: Vec<serde_json::Value>,
        }
        let document: Document = serde_json::from_slice(json).map_err(|e| format!("not a JWKS document: {e}"))?;
        let mut keys = Vec::new();
        let mut skipped = Vec::new();
        for raw in document.keys.into_iter().take(MAX_KEYS) {
            let kid = raw.get("kid").and_then(|k| k.as_str()).map(str::to_owned);
            match parse_key(raw, allowed) {
                Ok(key) => keys.push(key),
                Err(reason) => skipped.push(SkippedKey { kid, reason }),
            }
        }
        Ok((KeySet { keys }, skipped))
    }

    /// Every key published under `kid` (duplicates are tried in turn rather than guessed between).
    pub fn find<'a>(&'a self, kid: &'a str) -> impl Iterator<Item = &'a VerifyingKey> + 'a {
        self.keys.iter().filter(move |key| key.kid == kid)
    }

    pub fn contains(&self, kid: &str) -> bool {
        self.find(kid).next().is_some()
    }

    pub fn len(&self) -> usize {
        self.keys.len()
    }

    pub fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }
}

#[derive(Deserialize)]
struct Jwk {
    kty: String,
    kid: Option<String>,
    #[serde(rename = "use")]
    use_: Option<String>,
    key_ops: Option<Vec<String>>,
    alg: Option<String>,
    crv: Option<String>,
    n: Option<String>,
    e: Option<String>,
    x: Option<String>,
    y: Option<String>,
}

fn parse_key(raw: serde_json::Value, allowed: &[Algorithm]) -> Result<VerifyingKey, &'static str> {
    let jwk: Jwk = serde_json::from_value(raw).map_err(|_| "malformed_key")?;
    let kid = jwk.kid.clone().filter(|k| !k.is_empty()).ok_or("missing_kid")?;
    if jwk.use_.as_deref().is_some_and(|u| u != "sig") {
        return Err("not_for_signatures");
    }
    if jwk.key_ops.as_ref().is_some_and(|ops| !ops.iter().any(|op| op == "verify")) {
        return Err("not_for_verification");
    }
    let (kind, material) = public_key_material(&jwk)?;
    // A key that names its algorithm may be used with that algorithm only.
    let declared = match jwk.alg.as_deref() {
        Some(name) => Some(Algorithm::from_name(name).ok_or("unsupported_alg")?),
        None => None,
    };
    let algorithms: Vec<_> =
        allowed.iter().copied().filter(|alg| alg.key_kind() == kind && declared.is_none_or(|d| d == *alg)).collect();
    if algorithms.is_empty() {
        return Err("no_allowed_alg");
    }
    Ok(VerifyingKey { kid, algorithms, material })
}

/// Returns the key family and its public key in the encoding ring verifies with: PKCS#1 `RSAPublicKey` DER,
/// an uncompressed SEC1 point, or the raw Ed25519 key. RSA keys are held to ring's bounds here, so that a key
/// ring would refuse at every verification is skipped with a reason instead.
fn public_key_material(jwk: &Jwk) -> Result<(KeyKind, Vec<u8>), &'static str> {
    let field = |value: &Option<String>| -> Result<Vec<u8>, &'static str> {
        URL_SAFE_NO_PAD.decode(value.as_deref().ok_or("missing_member")?).map_err(|_| "bad_base64")
    };
    match (jwk.kty.as_str(), jwk.crv.as_deref()) {
        ("RSA", _) => {
            let n = strip_leading_zeros(field(&jwk.n)?);
            let e = strip_leading_zeros(field(&jwk.e)?);
            let bits = bit_length(&n);
            if bits < MIN_RSA_BITS {
                return Err("rsa_too_small");
            }
            if bits > MAX_RSA_BITS || n.last().is_some_and(|low| low & 1 == 0) {
                return Err("rsa_out_of_range");
            }
            let exponent = (e.len() <= 8).then(|| e.iter().fold(0u64, |acc, byte| acc << 8 | u64::from(*byte)));
            if !exponent.is_some_and(|e| (3..=MAX_RSA_EXPONENT).contains(&e) && e & 1 == 1) {
                return Err("rsa_bad_exponent");
            }
            Ok((KeyKind::Rsa, rsa_public_key_der(&n, &e)))
        }
        ("EC", Some(curve @ ("P-256" | "P-384"))) => {
            let (kind, width) = if curve == "P-256" { (KeyKind::P256, 32) } else { (KeyKind::P384, 48) };
            let (x, y) = (field(&jwk.x)?, field(&jwk.y)?);
            if x.len() != width || y.len() != width {
                return Err("bad_ec_point");
            }
            Ok((kind, [&[0x04][..], &x, &y].concat()))
        }
        ("OKP", Some("Ed25519")) => {
            let x = field(&jwk.x)?;
            if x.len() != 32 {
                return Err("bad_ed25519_key");
            }
            Ok((KeyKind::Ed25519, x))
        }
        ("EC" | "OKP", _) => Err("unsupported_curve"),
        _ => Err("unsupported_kty"),
    }
}

fn strip_leading_zeros(mut bytes: Vec<u8>) -> Vec<u8> {
    let zeros = bytes.iter().take_while(|b| **b == 0).count();
    bytes.drain(..zeros);
    bytes
}

fn bit_length(unsigned: &[u8]) -> usize {
    unsigned.first().map_or(0, |top| unsigned.len() * 8 - top.leading_zeros() as usize)
}

/// DER `SEQUENCE { INTEGER n, INTEGER e }` from unsigned big-endian magnitudes without leading zeros.
fn rsa_public_key_der(n: &[u8], e: &[u8]) -> Vec<u8> {
    let body = [der_unsigned_integer(n), der_unsigned_integer(e)].concat();
    der_tlv(0x30, &body)
}

fn der_unsigned_integer(magnitude: &[u8]) -> Vec<u8> {
    let needs_pad = magnitude.first().is_some_and(|b| b & 0x80 != 0);
    let content = if needs_pad { [&[0][..], magnitude].concat() } else { magnitude.to_vec() };
    der_tlv(0x02, &content)
}

fn der_tlv(tag: u8, content: &[u8]) -> Vec<u8> {
    let mut out = vec![tag];
    let len = content.len();
    if len < 0x80 {
        out.push(len as u8);
    } else {
        let len_bytes: Vec<u8> = len.to_be_bytes().into_iter().skip_while(|b| *b == 0).collect();
        out.push(0x80 | len_bytes.len() as u8);
        out.extend(len_bytes);
    }
    out.extend_from_slice(content);
    out
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use aws_lc_rs::rand::SystemRandom;
    use aws_lc_rs::rsa::KeySize;
    use aws_lc_rs::signature::{ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair, Ed25519KeyPair, KeyPair, RsaKeyPair};
    use serde_json::json;

    pub fn b64(bytes: &[u8]) -> String {
        URL_SAFE_NO_PAD.encode(bytes)
    }

    pub fn rsa_jwk(pair: &RsaKeyPair, kid: &str) -> serde_json::Value {
        let public = pair.public_key();
        let n: Vec<u8> = public.modulus().big_endian_without_leading_zero().to_vec();
        let e: Vec<u8> = public.exponent().big_endian_without_leading_zero().to_vec();
        json!({"kty": "RSA", "kid": kid, "use": "sig", "n": b64(&n), "e": b64(&e)})
    }

    pub fn ec_jwk(pair: &EcdsaKeyPair, kid: &str) -> serde_json::Value {
        let point = pair.public_key().as_ref();
        json!({"kty": "EC", "kid": kid, "crv": "P-256", "x": b64(&point[1..33]), "y": b64(&point[33..65])})
    }

    fn set(keys: Vec<serde_json::Value>) -> Vec<u8> {
        serde_json::to_vec(&json!({ "keys": keys })).unwrap()
    }

    #[test]
    fn parses_rsa_ec_and_ed25519_keys_and_they_verify() {
        let rng = SystemRandom::new();
        let rsa = RsaKeyPair::generate(KeySize::Rsa2048).unwrap();
        let ec = EcdsaKeyPair::generate(&ECDSA_P256_SHA256_FIXED_SIGNING).unwrap();
        let ed = Ed25519KeyPair::generate().unwrap();
        let ed_jwk = json!({"kty": "OKP", "crv": "Ed25519", "kid": "ed", "x": b64(ed.public_key().as_ref())});
        let json = set(vec![rsa_jwk(&rsa, "rsa"), ec_jwk(&ec, "ec"), ed_jwk]);
        let (keys, skipped) = KeySet::parse(&json, &Algorithm::ALL).unwrap();
        assert_eq!((keys.len(), skipped.len()), (3, 0));

        let mut sig = vec![0; rsa.public_modulus_len()];
        rsa.sign(&aws_lc_rs::signature::RSA_PKCS1_SHA256, &rng, b"msg", &mut sig).unwrap();
        let key = keys.find("rsa").next().unwrap();
        assert!(key.verify(Algorithm::RS256, b"msg", &sig));
        assert!(!key.verify(Algorithm::RS256, b"other", &sig));
        assert!(!key.verify(Algorithm::RS384, b"msg", &sig), "wrong hash must fail");
        assert!(!key.verify(Algorithm::ES256, b"msg", &sig), "an RSA key never verifies ECDSA");

        let sig = ec.sign(&rng, b"msg").unwrap();
        assert!(keys.find("ec").next().unwrap().verify(Algorithm::ES256, b"msg", sig.as_ref()));
        let sig = ed.sign(b"msg");
        assert!(keys.find("ed").next().unwrap().verify(Algorithm::EdDSA, b"msg", sig.as_ref()));
    }

    #[test]
    fn unusable_keys_are_skipped_not_fatal() {
        let rsa = RsaKeyPair::generate(KeySize::Rsa2048).unwrap();
        let mut enc = rsa_jwk(&rsa, "enc");
        enc["use"] = json!("enc");
        let mut small = rsa_jwk(&rsa, "small");
        small["n"] = json!(b64(&[0xff; 128])); // 1024 bits
        let mut wrong_alg = rsa_jwk(&rsa, "hs");
        wrong_alg["alg"] = json!("HS256");
        let mut no_verify = rsa_jwk(&rsa, "ops");
        no_verify["key_ops"] = json!(["encrypt"]);
        let mut even_modulus = rsa_jwk(&rsa, "even");
        even_modulus["n"] = json!(b64(&[0xfe; 256]));
        let mut even_exponent = rsa_jwk(&rsa, "e-even");
        even_exponent["e"] = json!(b64(&[1, 0, 0]));
        let mut exponent_one = rsa_jwk(&rsa, "e-one");
        exponent_one["e"] = json!(b64(&[1]));
        let mut huge_exponent = rsa_jwk(&rsa, "e-huge");
        huge_exponent["e"] = json!(b64(&[2, 0, 0, 0, 1]));
        let json = set(vec![
            enc,
            small,
            wrong_alg,
            no_verify,
            even_modulus,
            even_exponent,
            exponent_one,
            huge_exponent,
            json!({"kty": "oct", "kid": "sym", "k": "c2VjcmV0"}),
            json!({"kty": "EC", "kid": "k1", "crv": "secp256k1", "x": "AA", "y": "AA"}),
            json!({"kty": "RSA", "n": "AQAB", "e": "AQAB"}),
            json!("not an object"),
            rsa_jwk(&rsa, "good"),
        ]);
        let (keys, skipped) = KeySet::parse(&json, &[Algorithm::RS256]).unwrap();
        assert_eq!(keys.len(), 1);
        assert!(keys.contains("good"));
        let reasons: Vec<_> = skipped.iter().map(|s| s.reason).collect();
        assert_eq!(
            reasons,
            [
                "not_for_signatures",
                "rsa_too_small",
                "unsupported_alg",
                "not_for_verification",
                "rsa_out_of_range",
                "rsa_bad_exponent",
                "rsa_bad_exponent",
                "rsa_bad_exponent",
                "unsupported_kty",
                "unsupported_curve",
                "missing_kid",
                "malformed_key"
            ]
        );
    }

    #[test]
    fn keys_are_parsed_only_for_allowed_and_declared_algorithms() {
        let rsa = RsaKeyPair::generate(KeySize::Rsa2048).unwrap();
        let mut declared = rsa_jwk(&rsa, "ps");
        declared["alg"] = json!("PS256");
        let (keys, _) = KeySet::parse(&set(vec![declared.clone()]), &[Algorithm::RS256, Algorithm::PS256]).unwrap();
        let key = keys.find("ps").next().unwrap();
        assert!(key.supports(Algorithm::PS256) && !key.supports(Algorithm::RS256));
        let (keys, skipped) = KeySet::parse(&set(vec![declared]), &[Algorithm::RS256]).unwrap();
        assert!(keys.is_empty());
        assert_eq!(skipped[0].reason, "no_allowed_alg");
    }

    #[test]
    fn duplicate_kids_are_all_kept_and_tried() {
        let rng = SystemRandom::new();
        let (first, second, stranger) = (
            RsaKeyPair::generate(KeySize::Rsa2048).unwrap(),
            RsaKeyPair::generate(KeySize::Rsa2048).unwrap(),
            RsaKeyPair::generate(KeySize::Rsa2048).unwrap(),
        );
        let (keys, _) =
            KeySet::parse(&set(vec![rsa_jwk(&first, "k"), rsa_jwk(&second, "k")]), &[Algorithm::RS256]).unwrap();
        assert_eq!(keys.find("k").count(), 2);
        let verifies = |signer: &RsaKeyPair| {
            let mut sig = vec![0; signer.public_modulus_len()];
            signer.sign(&aws_lc_rs::signature::RSA_PKCS1_SHA256, &rng, b"msg", &mut sig).unwrap();
            keys.find("k").any(|key| key.verify(Algorithm::RS256, b"msg", &sig))
        };
        assert!(verifies(&first) && verifies(&second), "either published key verifies");
        assert!(!verifies(&stranger), "a key that is not published never does");
    }

    #[test]
    fn not_a_jwks_is_an_error() {
        for body in [&b"<html>"[..], b"{\"keys\": 3}", b"{\"keys\": [", b""] {
            assert!(KeySet::parse(body, &Algorithm::ALL).is_err());
        }
    }

    #[test]
    fn der_lengths_use_long_form_above_127_bytes() {
        assert_eq!(der_tlv(0x02, &[1; 3])[..2], [0x02, 3]);
        assert_eq!(der_tlv(0x30, &[1; 200])[..3], [0x30, 0x81, 200]);
        assert_eq!(der_tlv(0x30, &[1; 300])[..4], [0x30, 0x82, 0x01, 0x2c]);
        assert_eq!(der_unsigned_integer(&[0x80]), [0x02, 2, 0, 0x80]);
    }
}
