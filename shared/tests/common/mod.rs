//! What the rule tests share: a verified caller made up for the rules, with no token behind it.

use authorizer::alg::Algorithm;
use authorizer::verify::VerifiedToken;
use serde_json::Value;

/// A caller with these scopes, groups and claims (`claims` is a JSON object).
pub fn caller(scopes: &[&str], groups: &[&str], claims: Value) -> VerifiedToken {
    VerifiedToken {
        issuer: "https://issuer.test".into(),
        kid: "k".into(),
        alg: Algorithm::RS256,
        principal: "p".into(),
        issued_at: None,
        scopes: scopes.iter().map(|s| s.to_string()).collect(),
        groups: groups.iter().map(|s| s.to_string()).collect(),
        claims: claims.as_object().cloned().unwrap_or_default(),
    }
}
