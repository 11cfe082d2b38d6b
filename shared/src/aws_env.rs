//! The function's AWS environment, read as the AWS SDKs read it: region, credentials, endpoint overrides.
//!
//! Lambda hands every function its role's credentials and region in environment variables, so nothing here
//! needs the SDK's credential chain (and nothing can reach the instance-metadata address). It never logs or
//! formats a credential.

use aws_credential_types::Credentials;

/// `AWS_REGION`, as Lambda sets it.
pub fn region(lookup: impl Fn(&str) -> Option<String>) -> Option<String> {
    lookup("AWS_REGION").filter(|r| !r.trim().is_empty())
}

/// The function's credentials (`AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY`, `AWS_SESSION_TOKEN`).
pub fn credentials(lookup: impl Fn(&str) -> Option<String>) -> Option<Credentials> {
    let key = lookup("AWS_ACCESS_KEY_ID").filter(|k| !k.is_empty())?;
    let secret = lookup("AWS_SECRET_ACCESS_KEY").filter(|s| !s.is_empty())?;
    Some(Credentials::new(key, secret, lookup("AWS_SESSION_TOKEN").filter(|t| !t.is_empty()), None, "environment"))
}

/// An endpoint override: `AWS_ENDPOINT_URL_{SERVICE}` (the SDKs' service id in upper snake case, e.g.
/// `DYNAMODB`, `API_GATEWAY`), else `AWS_ENDPOINT_URL`. `None` means the service's regional endpoint.
pub fn endpoint_override(lookup: impl Fn(&str) -> Option<String>, service: &str) -> Option<String> {
    lookup(&format!("AWS_ENDPOINT_URL_{service}"))
        .or_else(|| lookup("AWS_ENDPOINT_URL"))
        .filter(|url| !url.trim().is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(pairs: &'static [(&'static str, &'static str)]) -> impl Fn(&str) -> Option<String> {
        move |name| pairs.iter().find(|(k, _)| *k == name).map(|(_, v)| (*v).to_owned())
    }

    #[test]
    fn service_endpoint_wins_over_the_global_one() {
        let lookup = env(&[
            ("AWS_ENDPOINT_URL", "http://127.0.0.1:5000"),
            ("AWS_ENDPOINT_URL_API_GATEWAY", "http://127.0.0.1:7000"),
        ]);
        assert_eq!(endpoint_override(&lookup, "API_GATEWAY").as_deref(), Some("http://127.0.0.1:7000"));
        assert_eq!(endpoint_override(&lookup, "DYNAMODB").as_deref(), Some("http://127.0.0.1:5000"));
        assert_eq!(endpoint_override(env(&[]), "DYNAMODB"), None);
    }

    #[test]
    fn credentials_need_both_halves() {
        assert!(credentials(env(&[("AWS_ACCESS_KEY_ID", "AKIA")])).is_none());
        let creds = credentials(env(&[
            ("AWS_ACCESS_KEY_ID", "AKIA"),
            ("AWS_SECRET_ACCESS_KEY", "s"),
            ("AWS_SESSION_TOKEN", "t"),
        ]));
        assert_eq!(creds.unwrap().session_token(), Some("t"));
        assert!(region(env(&[("AWS_REGION", " ")])).is_none());
    }
}
