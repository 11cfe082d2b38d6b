//! Splits a compact JWS into its header, claims and signature, and checks the header's shape.
//!
//! This module decides nothing about trust: it only refuses what can never be a valid token (wrong part
//! count, padding, non-canonical base64url, oversize input, duplicate JSON members, unknown or symmetric
//! algorithms, missing `kid`, key-bearing header parameters, `crit`, `b64`). It must never follow a URL or
//! use a key found in the token itself.

use crate::alg::Algorithm;
use crate::outcome::Rejection;
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::de::{Deserialize, Deserializer, MapAccess, Visitor};
use serde_json::{Map, Value};

/// Larger than any real ID or access token, smaller than API Gateway's header limit.
pub const MAX_TOKEN_BYTES: usize = 8 * 1024;
const MAX_KID_BYTES: usize = 256;
/// Header parameters that carry or point at a key: honouring one would let the token choose its own key.
const KEY_BEARING_PARAMETERS: [&str; 4] = ["jku", "x5u", "jwk", "x5c"];

/// A token split and decoded, but not yet verified: nothing in it is to be trusted.
#[derive(Debug)]
pub struct UnverifiedJws<'t> {
    pub alg: Algorithm,
    pub kid: String,
    /// The claims as an object whose top-level member names are unique.
    pub claims: Map<String, Value>,
    /// `base64url(header) "." base64url(payload)`: what the signature covers.
    pub signing_input: &'t [u8],
    pub signature: Vec<u8>,
}

impl<'t> UnverifiedJws<'t> {
    pub fn parse(token: &'t str) -> Result<Self, Rejection> {
        if token.len() > MAX_TOKEN_BYTES {
            return Err(Rejection::TokenTooLarge);
        }
        let mut parts = token.split('.');
        let (Some(header), Some(payload), Some(signature), None) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return Err(Rejection::Malformed("not_three_parts"));
        };
        let signing_input = &token.as_bytes()[..header.len() + 1 + payload.len()];
        let header: Map<String, Value> = decode_object(header, "bad_header")?;
        let claims = decode_object(payload, "bad_payload")?;
        let signature =
            URL_SAFE_NO_PAD.decode(signature).map_err(|_| Rejection::Malformed("bad_signature_encoding"))?;
        if signature.is_empty() {
            return Err(Rejection::Malformed("empty_signature"));
        }
        let (alg, kid) = check_header(&header)?;
        Ok(UnverifiedJws { alg, kid, claims, signing_input, signature })
    }
}

fn check_header(header: &Map<String, Value>) -> Result<(Algorithm, String), Rejection> {
    let alg = match header.get("alg") {
        Some(Value::String(name)) => Algorithm::from_name(name).ok_or(Rejection::UnsupportedAlgorithm)?,
        _ => return Err(Rejection::Malformed("alg_not_a_string")),
    };
    if KEY_BEARING_PARAMETERS.iter().any(|p| header.contains_key(*p)) {
        return Err(Rejection::KeyInHeader);
    }
    // We implement no JWS extension, so any `crit` (even an empty one, which RFC 7515 forbids) is unknown.
    if header.contains_key("crit") {
        return Err(Rejection::CriticalHeader);
    }
    // `b64: false` (RFC 7797) would change what the signature covers; only the default is accepted.
    if header.contains_key("b64") {
        return Err(Rejection::CriticalHeader);
    }
    let kid = match header.get("kid") {
        Some(Value::String(kid)) if !kid.is_empty() && kid.len() <= MAX_KID_BYTES => kid.clone(),
        Some(Value::String(_)) => return Err(Rejection::Malformed("bad_kid")),
        None => return Err(Rejection::MissingKid),
        Some(_) => return Err(Rejection::Malformed("kid_not_a_string")),
    };
    Ok((alg, kid))
}

fn decode_object(part: &str, reason: &'static str) -> Result<Map<String, Value>, Rejection> {
    let bytes = URL_SAFE_NO_PAD.decode(part).map_err(|_| Rejection::Malformed(reason))?;
    let object: UniqueObject = serde_json::from_slice(&bytes).map_err(|_| Rejection::Malformed(reason))?;
    Ok(object.0)
}

/// A JSON object that refuses duplicate member names, so two parsers can never read two different tokens
/// out of one (`{"sub":"alice","sub":"admin"}`).
struct UniqueObject(Map<String, Value>);

impl<'de> Deserialize<'de> for UniqueObject {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct UniqueVisitor;
        impl<'de> Visitor<'de> for UniqueVisitor {
            type Value = UniqueObject;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("a JSON object")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut access: A) -> Result<UniqueObject, A::Error> {
                let mut map = Map::new();
                while let Some((key, value)) = access.next_entry::<String, Value>()? {
                    if map.insert(key, value).is_some() {
                        return Err(serde::de::Error::custom("duplicate member"));
                    }
                }
                Ok(UniqueObject(map))
            }
        }
        deserializer.deserialize_map(UniqueVisitor)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::jwk::tests::b64;

    fn token(header: &str, payload: &str) -> String {
        format!("{}.{}.{}", b64(header.as_bytes()), b64(payload.as_bytes()), b64(b"sig"))
    }

    const HEADER: &str = r#"{"alg":"RS256","kid":"k1"}"#;

    #[test]
    fn parses_a_well_formed_token() {
        let t = token(HEADER, r#"{"sub":"alice"}"#);
        let jws = UnverifiedJws::parse(&t).unwrap();
        assert_eq!((jws.alg, jws.kid.as_str()), (Algorithm::RS256, "k1"));
        assert_eq!(jws.claims["sub"], "alice");
        assert_eq!(jws.signature, b"sig");
        assert_eq!(jws.signing_input, t.rsplit_once('.').unwrap().0.as_bytes());
    }

    #[test]
    fn rejects_wrong_part_counts_padding_and_size() {
        let good = token(HEADER, "{}");
        let (hp, sig) = good.rsplit_once('.').unwrap();
        for bad in [
            hp.to_string(),
            format!("{good}.x"),
            format!("{good}.x.y"),
            format!("{hp}.{sig}=="),
            format!("{hp}."),
            String::new(),
            "..".into(),
            format!("{hp}.{sig}+"),
        ] {
            assert!(UnverifiedJws::parse(&bad).is_err(), "{bad:?} must be rejected");
        }
        let huge = token(HEADER, &format!(r#"{{"x":"{}"}}"#, "a".repeat(MAX_TOKEN_BYTES)));
        assert_eq!(UnverifiedJws::parse(&huge).unwrap_err(), Rejection::TokenTooLarge);
    }

    #[test]
    fn rejects_none_and_hmac_in_every_spelling() {
        for alg in ["none", "None", "NONE", "nOnE", "HS256", "HS384", "HS512", "hs256", "", "RS256\\u0000", " RS256"] {
            let t = token(&format!(r#"{{"alg":"{alg}","kid":"k1"}}"#), "{}");
            assert_eq!(UnverifiedJws::parse(&t).unwrap_err(), Rejection::UnsupportedAlgorithm, "{alg}");
        }
        let t = token(r#"{"alg":["RS256"],"kid":"k1"}"#, "{}");
        assert!(matches!(UnverifiedJws::parse(&t).unwrap_err(), Rejection::Malformed(_)));
    }

    #[test]
    fn rejects_key_bearing_parameters_crit_and_b64() {
        for extra in [
            r#""jku":"https://evil.test/jwks""#,
            r#""x5u":"https://evil.test/cert""#,
            r#""jwk":{"kty":"RSA"}"#,
            r#""x5c":["MII"]"#,
        ] {
            let t = token(&format!(r#"{{"alg":"RS256","kid":"k1",{extra}}}"#), "{}");
            assert_eq!(UnverifiedJws::parse(&t).unwrap_err(), Rejection::KeyInHeader, "{extra}");
        }
        for extra in [r#""crit":["exp"]"#, r#""crit":[]"#, r#""b64":false,"crit":["b64"]"#, r#""b64":true"#] {
            let t = token(&format!(r#"{{"alg":"RS256","kid":"k1",{extra}}}"#), "{}");
            assert_eq!(UnverifiedJws::parse(&t).unwrap_err(), Rejection::CriticalHeader, "{extra}");
        }
    }

    #[test]
    fn kid_is_required_and_bounded() {
        let cases = [
            (r#"{"alg":"RS256"}"#, Rejection::MissingKid),
            (r#"{"alg":"RS256","kid":""}"#, Rejection::Malformed("bad_kid")),
            (r#"{"alg":"RS256","kid":7}"#, Rejection::Malformed("kid_not_a_string")),
        ];
        for (header, expected) in cases {
            assert_eq!(UnverifiedJws::parse(&token(header, "{}")).unwrap_err(), expected);
        }
        let long = format!(r#"{{"alg":"RS256","kid":"{}"}}"#, "k".repeat(MAX_KID_BYTES + 1));
        assert!(UnverifiedJws::parse(&token(&long, "{}")).is_err());
    }

    #[test]
    fn rejects_duplicate_members_and_non_objects() {
        for (header, payload) in [
            (HEADER, r#"{"sub":"alice","sub":"admin"}"#),
            (r#"{"alg":"RS256","kid":"a","kid":"b"}"#, "{}"),
            (HEADER, "[]"),
            (HEADER, "\"s\""),
            (HEADER, "{"),
            (HEADER, r#"{"a":1} trailing"#),
        ] {
            assert!(UnverifiedJws::parse(&token(header, payload)).is_err(), "{header} {payload}");
        }
    }
}
