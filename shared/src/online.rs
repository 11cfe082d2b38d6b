//! The online check: asks Cognito (`GetUser`, authorized by the access token itself) whether it still
//! accepts a token, for rules that must see a sign-out, a disabled or a deleted user at once.
//!
//! The token goes only to its own issuer's Cognito endpoint (or the configured endpoint override), over HTTPS
//! (plain HTTP only to loopback). Cognito refusing the token is a revocation (401); Cognito that cannot be
//! asked is an error (500), never a pass. Nothing here logs the token or Cognito's answer about the user.

use crate::aws_env;
use crate::config::{ConfigError, check_url_scheme};
use crate::fetch::LazyClient;
use crate::outcome::{AuthError, Fault, Rejection};
use crate::verify::VerifiedToken;
use reqwest::Url;
use serde_json::{Value, json};
use std::time::Duration;

/// One `GetUser` call may take this long; Cognito answers in tens of milliseconds.
const TIMEOUT: Duration = Duration::from_secs(2);

/// Cognito's answers that mean the token no longer stands for an active user.
const REFUSALS: [&str; 4] =
    ["NotAuthorizedException", "UserNotFoundException", "PasswordResetRequiredException", "UserNotConfirmedException"];

pub struct OnlineCheck {
    /// `AWS_ENDPOINT_URL_COGNITO_IDENTITY_PROVIDER` / `AWS_ENDPOINT_URL`; else the token issuer's own host.
    endpoint_override: Option<Url>,
    client: LazyClient,
}

impl OnlineCheck {
    pub fn new(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let endpoint_override = match aws_env::endpoint_override(&lookup, "COGNITO_IDENTITY_PROVIDER") {
            None => None,
            Some(text) => {
                let setting = "AWS_ENDPOINT_URL_COGNITO_IDENTITY_PROVIDER";
                let url = Url::parse(&text).map_err(|e| ConfigError::new(setting, format!("{text:?}: {e}")))?;
                check_url_scheme(&url).map_err(|m| ConfigError::new(setting, m))?;
                Some(url)
            }
        };
        Ok(OnlineCheck { endpoint_override, client: LazyClient::new(TIMEOUT, TIMEOUT) })
    }

    /// `Ok` when Cognito still accepts `token`, the access token `verified` was read from.
    pub async fn check(&self, token: &str, verified: &VerifiedToken) -> Result<(), AuthError> {
        let unavailable = |reason: String| {
            tracing::warn!(event = "online_check_unavailable", reason = %reason);
            AuthError::from(Fault::OnlineCheckUnavailable)
        };
        let endpoint = match &self.endpoint_override {
            Some(url) => url.clone(),
            // A Cognito issuer is `https://cognito-idp.{region}.amazonaws.com/{pool}`: its host serves the API.
            None => Url::parse(&verified.issuer)
                .map(|mut url| {
                    url.set_path("/");
                    url
                })
                .map_err(|e| unavailable(format!("issuer is not a URL: {e}")))?,
        };
        let response = self
            .client
            .get()
            .map_err(unavailable)?
            .post(endpoint)
            .header("content-type", "application/x-amz-json-1.1")
            .header("x-amz-target", "AWSCognitoIdentityProviderService.GetUser")
            .body(json!({ "AccessToken": token }).to_string())
            .send()
            .await
            .map_err(|e| unavailable(if e.is_timeout() { "timed out".into() } else { e.without_url().to_string() }))?;
        let status = response.status();
        if status.is_success() {
            return Ok(());
        }
        let body = response.bytes().await.unwrap_or_default();
        let error_type =
            serde_json::from_slice::<Value>(&body).ok().and_then(|v| v["__type"].as_str().map(str::to_owned));
        // The type may carry a namespace prefix (`com.amazonaws…#NotAuthorizedException`).
        let error_type = error_type.as_deref().map(|t| t.rsplit('#').next().unwrap_or(t));
        match error_type {
            Some(t) if status.is_client_error() && REFUSALS.contains(&t) => Err(Rejection::Revoked.into()),
            other => Err(unavailable(format!("HTTP {status}: {}", other.unwrap_or("no error type")))),
        }
    }
}
