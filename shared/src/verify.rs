//! Verifies a bearer token: issuer, key, signature, then claims, in that order.
//!
//! The only claim read before the signature is checked is `iss`, and only to choose which issuer's keys
//! to try; it is compared again, exactly, afterwards. Every claim the checks or the rules use must have
//! the right JSON type: a wrong type is a rejection, never a skipped check.

use crate::alg::Algorithm;
use crate::config::{AudienceCheck, IssuerSettings, JwksSettings, TokenUse};
use crate::fetch::Fetcher;
use crate::jwk::KeySet;
use crate::jwks::KeyCache;
use crate::jws::UnverifiedJws;
use crate::outcome::{AuthError, Rejection};
use serde_json::{Map, Value};
use std::sync::Arc;

/// Longest `principalId` we hand to API Gateway.
const MAX_PRINCIPAL_BYTES: usize = 1024;

/// A token whose signature and claims have been checked: the only source of identity for rules.
#[derive(Debug)]
pub struct VerifiedToken {
    pub issuer: Arc<str>,
    pub kid: String,
    pub alg: Algorithm,
    pub principal: String,
    /// `iat`, when the token has one.
    pub issued_at: Option<i64>,
    pub scopes: Vec<String>,
    pub groups: Vec<String>,
    pub claims: Map<String, Value>,
}

/// The claims that identify the caller and that rules read, by name.
#[derive(Debug, Clone)]
pub struct ClaimNames {
    pub principal: String,
    pub scope: String,
    pub groups: String,
}

pub struct Verifier {
    issuers: Vec<Issuer>,
    names: ClaimNames,
}

struct Issuer {
    iss: Arc<str>,
    settings: IssuerSettings,
    keys: KeyCache,
}

impl Verifier {
    pub fn new(issuers: Vec<IssuerSettings>, jwks: JwksSettings, names: ClaimNames) -> Result<Self, String> {
        let fetcher = Arc::new(Fetcher::new(jwks));
        let issuers = issuers
            .into_iter()
            .map(|settings| {
                let keys = KeyCache::new(
                    &settings.iss,
                    settings.jwks_source.clone(),
                    &settings.algorithms,
                    settings.prebaked_jwks.as_deref(),
                    jwks,
                    fetcher.clone(),
                )?;
                Ok(Issuer { iss: settings.iss.as_str().into(), settings, keys })
            })
            .collect::<Result<_, String>>()?;
        Ok(Verifier { issuers, names })
    }

    /// Verifies `token` at `now` (seconds since the Unix epoch).
    pub async fn verify(&self, token: &str, now: i64) -> Result<VerifiedToken, AuthError> {
        let jws = UnverifiedJws::parse(token)?;
        let claimed_iss = match jws.claims.get("iss") {
            Some(Value::String(iss)) => iss.as_str(),
            Some(_) => return Err(Rejection::ClaimType("iss").into()),
            None => return Err(Rejection::MissingClaim("iss").into()),
        };
        let issuer = self.issuers.iter().find(|i| *i.iss == *claimed_iss).ok_or(Rejection::UnknownIssuer)?;
        if !issuer.settings.algorithms.contains(&jws.alg) {
            return Err(Rejection::AlgorithmNotAllowed.into());
        }
        let keys = issuer.keys.keys_for(&jws.kid).await?;
        check_signature(&keys, &jws)?;
        // From here on the claims are the issuer's.
        let claims = jws.claims;
        if claims.get("iss").and_then(Value::as_str) != Some(&*issuer.iss) {
            return Err(Rejection::WrongIssuer.into());
        }
        check_times(&claims, now, issuer.settings.leeway_seconds as i64)?;
        let issued_at = numeric_date(&claims, "iat")?.map(|iat| iat as i64);
        check_audience(&claims, &issuer.settings.audience)?;
        for name in &issuer.settings.required_claims {
            if claims.get(name).is_none_or(Value::is_null) {
                return Err(Rejection::MissingClaim("required").into());
            }
        }
        let principal = principal(&claims, &self.names.principal)?;
        let scopes = match claims.get(&self.names.scope) {
            // OAuth's `scope` is one space-separated string; some issuers send an array (`scp`).
            Some(Value::String(s)) => s.split_ascii_whitespace().map(str::to_owned).collect(),
            other => string_array(other, "scope")?,
        };
        let groups = string_array(claims.get(&self.names.groups), "groups")?;
        Ok(VerifiedToken {
            issuer: issuer.iss.clone(),
            kid: jws.kid,
            alg: jws.alg,
            principal,
            issued_at,
            scopes,
            groups,
            claims,
        })
    }
}

/// One of the issuer's keys under the token's `kid`, usable with its `alg`, must verify the signature.
fn check_signature(keys: &KeySet, jws: &UnverifiedJws) -> Result<(), Rejection> {
    let mut candidates = keys.find(&jws.kid).filter(|key| key.supports(jws.alg)).peekable();
    if candidates.peek().is_none() {
        return Err(Rejection::AlgorithmNotAllowed);
    }
    if candidates.any(|key| key.verify(jws.alg, jws.signing_input, &jws.signature)) {
        Ok(())
    } else {
        Err(Rejection::BadSignature)
    }
}

fn check_times(claims: &Map<String, Value>, now: i64, leeway: i64) -> Result<(), Rejection> {
    let now = now as f64;
    let leeway = leeway as f64;
    let exp = numeric_date(claims, "exp")?.ok_or(Rejection::MissingClaim("exp"))?;
    if now >= exp + leeway {
        return Err(Rejection::Expired);
    }
    if numeric_date(claims, "nbf")?.is_some_and(|nbf| now + leeway < nbf) {
        return Err(Rejection::NotYetValid);
    }
    if numeric_date(claims, "iat")?.is_some_and(|iat| iat > now + leeway) {
        return Err(Rejection::IssuedInFuture);
    }
    Ok(())
}

fn numeric_date(claims: &Map<String, Value>, name: &'static str) -> Result<Option<f64>, Rejection> {
    match claims.get(name) {
        None => Ok(None),
        Some(Value::Number(n)) => n.as_f64().filter(|v| v.is_finite()).map(Some).ok_or(Rejection::ClaimType(name)),
        Some(_) => Err(Rejection::ClaimType(name)),
    }
}

fn check_audience(claims: &Map<String, Value>, check: &AudienceCheck) -> Result<(), Rejection> {
    match check {
        AudienceCheck::Cognito { token_use, client_ids } => {
            if required_str(claims, "token_use")? != token_use.as_str() {
                return Err(Rejection::WrongTokenUse);
            }
            // Cognito access tokens name the app client in `client_id` and carry no `aud`; ID tokens use `aud`.
            let client = match token_use {
                TokenUse::Access => required_str(claims, "client_id")?,
                TokenUse::Id => required_str(claims, "aud")?,
            };
            if client_ids.iter().any(|id| id == client) { Ok(()) } else { Err(Rejection::WrongClient) }
        }
        AudienceCheck::Oidc { audiences } => {
            let matches = |aud: &str| audiences.iter().any(|a| a == aud);
            match claims.get("aud") {
                None => Err(Rejection::MissingClaim("aud")),
                Some(Value::String(aud)) if matches(aud) => Ok(()),
                Some(Value::String(_)) => Err(Rejection::WrongAudience),
                Some(Value::Array(list)) => {
                    let mut any = false;
                    for item in list {
                        any |= matches(item.as_str().ok_or(Rejection::ClaimType("aud"))?);
                    }
                    if any { Ok(()) } else { Err(Rejection::WrongAudience) }
                }
                Some(_) => Err(Rejection::ClaimType("aud")),
            }
        }
    }
}

fn required_str<'c>(claims: &'c Map<String, Value>, name: &'static str) -> Result<&'c str, Rejection> {
    match claims.get(name) {
        Some(Value::String(s)) => Ok(s),
        Some(_) => Err(Rejection::ClaimType(name)),
        None => Err(Rejection::MissingClaim(name)),
    }
}

fn principal(claims: &Map<String, Value>, name: &str) -> Result<String, Rejection> {
    let value = match claims.get(name) {
        Some(Value::String(s)) if !s.is_empty() => s.clone(),
        Some(Value::Number(n)) => n.to_string(),
        None | Some(Value::Null) => return Err(Rejection::MissingClaim("principal")),
        Some(_) => return Err(Rejection::ClaimType("principal")),
    };
    if value.len() > MAX_PRINCIPAL_BYTES {
        return Err(Rejection::ClaimType("principal"));
    }
    Ok(value)
}

/// An array of strings; absent is empty, anything else is a type error.
fn string_array(claim: Option<&Value>, what: &'static str) -> Result<Vec<String>, Rejection> {
    match claim {
        None => Ok(vec![]),
        Some(Value::Array(items)) => {
            items.iter().map(|item| item.as_str().map(str::to_owned).ok_or(Rejection::ClaimType(what))).collect()
        }
        Some(_) => Err(Rejection::ClaimType(what)),
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    pub fn token_with_groups(groups: &[&str]) -> VerifiedToken {
        VerifiedToken {
            issuer: "https://issuer.test".into(),
            kid: "k".into(),
            alg: Algorithm::RS256,
            principal: "p".into(),
            issued_at: None,
            scopes: vec![],
            groups: groups.iter().map(|g| g.to_string()).collect(),
            claims: Map::new(),
        }
    }
}
