//! JWS signature algorithms this crate can verify, and the key each one needs.
//!
//! Only asymmetric algorithms exist here: `none` and the HMAC family (`HS*`) cannot be named, parsed or
//! configured, so no setting or token can ever select them.

use ring::signature::{self, VerificationAlgorithm};
use serde::Deserialize;

/// An asymmetric JWS algorithm (RFC 7518 names).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Deserialize)]
#[serde(try_from = "String")]
pub enum Algorithm {
    RS256,
    RS384,
    RS512,
    PS256,
    PS384,
    PS512,
    ES256,
    ES384,
    EdDSA,
}

/// The key family and curve an algorithm verifies with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyKind {
    Rsa,
    P256,
    P384,
    Ed25519,
}

impl Algorithm {
    pub const ALL: [Algorithm; 9] = [
        Self::RS256,
        Self::RS384,
        Self::RS512,
        Self::PS256,
        Self::PS384,
        Self::PS512,
        Self::ES256,
        Self::ES384,
        Self::EdDSA,
    ];

    /// Parses an exact, case-sensitive algorithm name; anything else (`none`, `HS256`, `rs256`) is `None`.
    pub fn from_name(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|alg| alg.name() == name)
    }

    pub fn name(self) -> &'static str {
        match self {
            Self::RS256 => "RS256",
            Self::RS384 => "RS384",
            Self::RS512 => "RS512",
            Self::PS256 => "PS256",
            Self::PS384 => "PS384",
            Self::PS512 => "PS512",
            Self::ES256 => "ES256",
            Self::ES384 => "ES384",
            Self::EdDSA => "EdDSA",
        }
    }

    pub fn key_kind(self) -> KeyKind {
        match self {
            Self::RS256 | Self::RS384 | Self::RS512 | Self::PS256 | Self::PS384 | Self::PS512 => KeyKind::Rsa,
            Self::ES256 => KeyKind::P256,
            Self::ES384 => KeyKind::P384,
            Self::EdDSA => KeyKind::Ed25519,
        }
    }

    /// The ring verifier. RSA moduli are bounded to 2048..=8192 bits by the algorithm itself; ECDSA
    /// signatures use the JWS fixed-width `r || s` form, never ASN.1.
    pub(crate) fn verification(self) -> &'static dyn VerificationAlgorithm {
        match self {
            Self::RS256 => &signature::RSA_PKCS1_2048_8192_SHA256,
            Self::RS384 => &signature::RSA_PKCS1_2048_8192_SHA384,
            Self::RS512 => &signature::RSA_PKCS1_2048_8192_SHA512,
            Self::PS256 => &signature::RSA_PSS_2048_8192_SHA256,
            Self::PS384 => &signature::RSA_PSS_2048_8192_SHA384,
            Self::PS512 => &signature::RSA_PSS_2048_8192_SHA512,
            Self::ES256 => &signature::ECDSA_P256_SHA256_FIXED,
            Self::ES384 => &signature::ECDSA_P384_SHA384_FIXED,
            Self::EdDSA => &signature::ED25519,
        }
    }
}

impl TryFrom<String> for Algorithm {
    type Error = String;
    fn try_from(name: String) -> Result<Self, Self::Error> {
        Self::from_name(&name).ok_or_else(|| {
            let allowed: Vec<_> = Self::ALL.iter().map(|a| a.name()).collect();
            format!("unsupported algorithm {name:?} (allowed: {}; HS* and none are never accepted)", allowed.join(", "))
        })
    }
}

impl std::fmt::Display for Algorithm {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_and_symmetric_or_none_never_parse() {
        for alg in Algorithm::ALL {
            assert_eq!(Algorithm::from_name(alg.name()), Some(alg));
        }
        for bad in ["none", "None", "NONE", "nOnE", "HS256", "HS384", "HS512", "rs256", "RS256 ", "", "ES512"] {
            assert_eq!(Algorithm::from_name(bad), None, "{bad:?} must not parse");
        }
    }

    #[test]
    fn key_kinds_match_families() {
        assert_eq!(Algorithm::PS384.key_kind(), KeyKind::Rsa);
        assert_eq!(Algorithm::ES256.key_kind(), KeyKind::P256);
        assert_eq!(Algorithm::ES384.key_kind(), KeyKind::P384);
        assert_eq!(Algorithm::EdDSA.key_kind(), KeyKind::Ed25519);
    }

    #[test]
    fn configuration_error_names_the_value() {
        let err = Algorithm::try_from("HS256".to_string()).unwrap_err();
        assert!(err.contains("HS256") && err.contains("never"), "{err}");
    }
}
