//! The REST TOKEN authorizer event, and the bearer token inside its `authorizationToken`.
//!
//! It only extracts: it never decides, and never logs or echoes what it extracts.

use crate::outcome::{Fault, Rejection};
use serde::Deserialize;

/// `{"type":"TOKEN","authorizationToken":"Bearer …","methodArn":"arn:aws:execute-api:…"}`
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TokenEvent {
    #[serde(rename = "type")]
    pub kind: String,
    #[serde(default)]
    pub authorization_token: Option<String>,
    pub method_arn: String,
}

impl TokenEvent {
    /// Reads the event's JSON. A malformed event is a fault whose message gives only the kind and position of
    /// the problem: serde's own message can quote the offending value, which may be a credential.
    pub fn parse(json: &str) -> Result<TokenEvent, Fault> {
        serde_json::from_str(json).map_err(|e| {
            Fault::BadEvent(format!(
                "malformed TOKEN event ({:?} error at line {} column {})",
                e.classify(),
                e.line(),
                e.column()
            ))
        })
    }
}

/// The token in an `Authorization`-style value: `Bearer <jwt>` (scheme case-insensitive) or a bare JWT, as
/// the built-in Cognito authorizer accepts. Any other scheme is refused.
pub fn bearer(value: &str) -> Result<&str, Rejection> {
    let value = value.trim();
    if value.is_empty() || value.eq_ignore_ascii_case("bearer") {
        return Err(Rejection::MissingToken);
    }
    match value.split_once(' ') {
        None => Ok(value),
        Some((scheme, rest)) if scheme.eq_ignore_ascii_case("bearer") => {
            // Whitespace inside the token is left for the JWS parser, whose base64url alphabet refuses it.
            let token = rest.trim_start();
            if token.is_empty() { Err(Rejection::MissingToken) } else { Ok(token) }
        }
        Some(_) => Err(Rejection::NotBearer),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn extracts_bearer_and_bare_tokens() {
        assert_eq!(bearer("Bearer a.b.c"), Ok("a.b.c"));
        assert_eq!(bearer("bearer   a.b.c "), Ok("a.b.c"));
        assert_eq!(bearer("BEARER a.b.c"), Ok("a.b.c"));
        assert_eq!(bearer("a.b.c"), Ok("a.b.c"));
    }

    #[test]
    fn refuses_empty_other_schemes_and_junk() {
        assert_eq!(bearer(""), Err(Rejection::MissingToken));
        assert_eq!(bearer("   "), Err(Rejection::MissingToken));
        assert_eq!(bearer("Bearer "), Err(Rejection::MissingToken));
        assert_eq!(bearer("Basic dXNlcjpwYXNz"), Err(Rejection::NotBearer));
        let spaced = bearer("Bearer a.b.c extra").unwrap();
        assert!(crate::jws::UnverifiedJws::parse(spaced).is_err(), "inner whitespace never parses");
    }

    /// A malformed event's fault gives only the kind and position of the problem. Every field is a string, so
    /// serde's own message would not quote the token either, should it ever be used.
    #[test]
    fn malformed_token_events_never_quote_the_token() {
        let token = "eyJhbGciOiJSUzI1NiJ9.c2VjcmV0.c2ln";
        for bad in [
            format!(r#"{{"type":"TOKEN","authorizationToken":["{token}"],"methodArn":"a"}}"#),
            format!(r#"{{"type":{{"t":"{token}"}},"authorizationToken":"Bearer {token}"}}"#),
            format!(
                r#"{{"type":"TOKEN","authorizationToken":"Bearer {token}","authorizationToken":"x","methodArn":"a"}}"#
            ),
            format!(r#"{{"type":"TOKEN","authorizationToken":"Bearer {token}","methodArn":7}}"#),
            format!(r#"{{"type":"TOKEN","authorizationToken":"Bearer {token}"#),
            format!(r#"["{token}"]"#),
        ] {
            let error = serde_json::from_str::<TokenEvent>(&bad).unwrap_err().to_string();
            assert!(!error.contains("eyJ") && !error.contains("c2Vj"), "{error}");
            let Err(Fault::BadEvent(detail)) = TokenEvent::parse(&bad) else { panic!("{bad} parsed") };
            assert!(detail.starts_with("malformed TOKEN event (") && !detail.contains("eyJ"), "{detail}");
        }
    }

    #[test]
    fn parses_the_event_shape() {
        let event: TokenEvent = serde_json::from_str(
            r#"{"type":"TOKEN","authorizationToken":"Bearer x","methodArn":"arn:aws:execute-api:us-east-1:123456789012:a/b/GET/"}"#,
        )
        .unwrap();
        assert_eq!((event.kind.as_str(), event.authorization_token.as_deref()), ("TOKEN", Some("Bearer x")));
        assert!(serde_json::from_str::<TokenEvent>(r#"{"type":"TOKEN"}"#).is_err(), "methodArn is required");
    }
}
