//! Reads and validates the configuration once, at cold start.
//!
//! Two sources, exactly one of which must be set: the Cognito shortcut (`COGNITO_USER_POOL_ID`,
//! `COGNITO_CLIENT_IDS`, `COGNITO_TOKEN_USE`, plus optional `COGNITO_JWKS_URI` / `COGNITO_JWKS` /
//! `COGNITO_JWKS_FILE`), or a structured document in TOML or JSON (`AUTHZ_CONFIG` inline, or
//! `AUTHZ_CONFIG_FILE`). Every error names the setting at fault; nothing here is ever defaulted into a
//! weaker check (no issuer, audience or client list is ever "any").

use crate::alg::Algorithm;
use crate::request::IdentitySource;
use crate::revocation::RevocationConfig;
use crate::rules::RulesConfig;
use reqwest::Url;
use serde::Deserialize;
use std::net::IpAddr;
use std::time::Duration;

/// A configuration problem, naming the setting (an environment variable or a path in the document).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid configuration: {setting}: {message}")]
pub struct ConfigError {
    pub setting: String,
    pub message: String,
}

impl ConfigError {
    pub fn new(setting: impl Into<String>, message: impl Into<String>) -> Self {
        ConfigError { setting: setting.into(), message: message.into() }
    }
}

/// The configuration document. Unknown keys are errors, so a typo cannot silently drop a check.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    pub issuers: Vec<IssuerConfig>,
    /// The claim whose value becomes `principalId`.
    #[serde(default = "default_principal_claim")]
    pub principal_claim: String,
    /// Claims copied into the authorizer context for the backend, flattened to scalars.
    #[serde(default)]
    pub context_claims: Vec<String>,
    /// The space-separated (or array) claim that rules read scopes from.
    #[serde(default = "default_scope_claim")]
    pub scope_claim: String,
    /// The array claim that rules read groups from.
    #[serde(default = "default_groups_claim")]
    pub groups_claim: String,
    /// REST APIs with `apiKeySource = AUTHORIZER`: the claim whose value becomes `usageIdentifierKey`, so usage
    /// plans follow the token's client (e.g. `client_id`).
    pub usage_identifier_claim: Option<String>,
    #[serde(default)]
    pub jwks: JwksConfig,
    pub rules: Option<RulesConfig>,
    /// A revocation table the authorizers read (off when absent: no read, no cost).
    pub revocation: Option<RevocationConfig>,
    /// REQUEST authorizer settings (ignored by the TOKEN authorizer).
    #[serde(default)]
    pub request: RequestConfig,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RequestConfig {
    /// Where to look for the token, in order: `header:NAME`, `query:NAME`, `cookie:NAME`.
    pub identity_sources: Vec<String>,
    /// The same for WebSocket `$connect`, whose clients often cannot set headers.
    pub websocket_identity_sources: Vec<String>,
    /// HTTP API payload 2.0: answer `{isAuthorized, context}` instead of an IAM policy.
    pub simple_responses: bool,
    /// Let `OPTIONS` (CORS preflight) through without a token.
    pub allow_cors_preflight: bool,
}

impl Default for RequestConfig {
    fn default() -> Self {
        RequestConfig {
            identity_sources: vec!["header:Authorization".into()],
            websocket_identity_sources: vec!["query:token".into(), "header:Authorization".into()],
            simple_responses: false,
            allow_cors_preflight: false,
        }
    }
}

/// The validated REQUEST settings.
#[derive(Debug, Clone)]
pub struct RequestSettings {
    pub identity_sources: Vec<IdentitySource>,
    pub websocket_identity_sources: Vec<IdentitySource>,
    pub simple_responses: bool,
    pub allow_cors_preflight: bool,
}

impl RequestConfig {
    pub fn validate(&self) -> Result<RequestSettings, ConfigError> {
        let sources = |list: &[String], name: &str| -> Result<Vec<IdentitySource>, ConfigError> {
            if list.is_empty() {
                return Err(ConfigError::new(format!("request.{name}"), "at least one identity source is required"));
            }
            list.iter().enumerate().map(|(i, s)| IdentitySource::parse(s, &format!("request.{name}[{i}]"))).collect()
        };
        Ok(RequestSettings {
            identity_sources: sources(&self.identity_sources, "identity_sources")?,
            websocket_identity_sources: sources(&self.websocket_identity_sources, "websocket_identity_sources")?,
            simple_responses: self.simple_responses,
            allow_cors_preflight: self.allow_cors_preflight,
        })
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IssuerConfig {
    /// A Cognito user pool id; the issuer is derived from it. Exclusive with `issuer`.
    pub cognito_user_pool_id: Option<String>,
    /// The exact `iss` of a generic OIDC issuer. Exclusive with `cognito_user_pool_id`.
    pub issuer: Option<String>,
    /// Cognito: the accepted app client ids (`client_id` of access tokens, `aud` of ID tokens).
    #[serde(default)]
    pub client_ids: Vec<String>,
    /// OIDC: the accepted `aud` values.
    #[serde(default)]
    pub audiences: Vec<String>,
    /// Cognito: `access` (default) or `id`.
    pub token_use: Option<TokenUse>,
    /// Where the keys are; defaults to `{iss}/.well-known/jwks.json` (Cognito) or discovery (OIDC).
    pub jwks_uri: Option<String>,
    #[serde(default = "default_algorithms")]
    pub algorithms: Vec<Algorithm>,
    #[serde(default)]
    pub leeway_seconds: u64,
    #[serde(default)]
    pub required_claims: Vec<String>,
    /// A pre-baked JWKS document (inline JSON), so cold starts need no fetch.
    pub jwks: Option<String>,
    /// A pre-baked JWKS document in a file.
    pub jwks_file: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum TokenUse {
    Access,
    Id,
}

impl TokenUse {
    pub fn as_str(self) -> &'static str {
        match self {
            TokenUse::Access => "access",
            TokenUse::Id => "id",
        }
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct JwksConfig {
    /// How long a fetched key set is fresh; after it, the next request refreshes it (stale keys stay usable
    /// while the refresh fails).
    pub ttl_seconds: u64,
    /// An unknown `kid` triggers at most one refetch per this many seconds.
    pub refetch_cooldown_seconds: u64,
    pub timeout_ms: u64,
    pub connect_timeout_ms: u64,
    pub max_bytes: usize,
}

impl Default for JwksConfig {
    fn default() -> Self {
        JwksConfig {
            ttl_seconds: 3600,
            refetch_cooldown_seconds: 10,
            timeout_ms: 3000,
            connect_timeout_ms: 1000,
            max_bytes: 256 * 1024,
        }
    }
}

pub const MAX_LEEWAY_SECONDS: u64 = 300;

fn default_principal_claim() -> String {
    "sub".into()
}
fn default_scope_claim() -> String {
    "scope".into()
}
fn default_groups_claim() -> String {
    "cognito:groups".into()
}
fn default_algorithms() -> Vec<Algorithm> {
    vec![Algorithm::RS256]
}

/// A validated issuer, ready to build a verifier from.
#[derive(Debug, Clone)]
pub struct IssuerSettings {
    /// The exact `iss` value.
    pub iss: String,
    pub audience: AudienceCheck,
    pub jwks_source: JwksSource,
    pub algorithms: Vec<Algorithm>,
    pub leeway_seconds: u64,
    pub required_claims: Vec<String>,
    pub prebaked_jwks: Option<Vec<u8>>,
}

/// How a token proves it was issued for us.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AudienceCheck {
    /// Cognito: `token_use`, then `client_id` (access) or `aud` (id) among the app client ids.
    Cognito { token_use: TokenUse, client_ids: Vec<String> },
    /// OIDC: `aud` (a string or an array) among the audiences.
    Oidc { audiences: Vec<String> },
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum JwksSource {
    Uri(Url),
    /// An OpenID Connect discovery document whose `jwks_uri` names the keys.
    Discovery(Url),
}

/// The validated JWKS client settings.
#[derive(Debug, Clone, Copy)]
pub struct JwksSettings {
    pub ttl: Duration,
    pub refetch_cooldown: Duration,
    pub timeout: Duration,
    pub connect_timeout: Duration,
    pub max_bytes: usize,
}

impl Config {
    /// Reads the configuration from the process environment.
    pub fn from_env() -> Result<Config, ConfigError> {
        Self::from_lookup(|name| std::env::var(name).ok().filter(|v| !v.trim().is_empty()))
    }

    /// Reads the configuration through `lookup` (an environment), so tests need not touch the real one.
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Config, ConfigError> {
        let mut config = Self::from_source(&lookup)?;
        // The revocation table can also come from the environment, as a deployment template passes it.
        if let Some(table) = lookup("REVOCATION_TABLE") {
            if config.revocation.is_some() {
                return Err(ConfigError::new(
                    "REVOCATION_TABLE",
                    "the configuration document has a [revocation] table already: set only one",
                ));
            }
            let mut revocation = RevocationConfig::for_table(table.trim());
            if let Some(seconds) = lookup("REVOCATION_MAX_STALENESS_SECONDS") {
                revocation.max_staleness_seconds = seconds.trim().parse().map_err(|_| {
                    ConfigError::new("REVOCATION_MAX_STALENESS_SECONDS", format!("{seconds:?} is not a number"))
                })?;
            }
            config.revocation = Some(revocation);
        }
        Ok(config)
    }

    fn from_source(lookup: &impl Fn(&str) -> Option<String>) -> Result<Config, ConfigError> {
        let sources = ["AUTHZ_CONFIG", "AUTHZ_CONFIG_FILE", "COGNITO_USER_POOL_ID"];
        let set: Vec<&str> = sources.into_iter().filter(|name| lookup(name).is_some()).collect();
        match set.as_slice() {
            [] => Err(ConfigError::new(
                "COGNITO_USER_POOL_ID",
                "no issuer configured: set COGNITO_USER_POOL_ID (with COGNITO_CLIENT_IDS), AUTHZ_CONFIG or AUTHZ_CONFIG_FILE",
            )),
            ["AUTHZ_CONFIG"] => {
                Self::parse(&lookup("AUTHZ_CONFIG").unwrap_or_default(), Format::Detect, "AUTHZ_CONFIG")
            }
            ["AUTHZ_CONFIG_FILE"] => {
                let path = lookup("AUTHZ_CONFIG_FILE").unwrap_or_default();
                let text = std::fs::read_to_string(&path)
                    .map_err(|e| ConfigError::new("AUTHZ_CONFIG_FILE", format!("cannot read {path}: {e}")))?;
                let format = if path.ends_with(".json") { Format::Json } else { Format::Toml };
                Self::parse(&text, format, &path)
            }
            ["COGNITO_USER_POOL_ID"] => Self::cognito_shortcut(lookup),
            _ => Err(ConfigError::new(set.join(" and "), format!("set only one of {}", sources.join(", ")))),
        }
    }

    fn cognito_shortcut(lookup: &impl Fn(&str) -> Option<String>) -> Result<Config, ConfigError> {
        let client_ids: Vec<String> = lookup("COGNITO_CLIENT_IDS")
            .map(|v| v.split(',').map(str::trim).filter(|s| !s.is_empty()).map(str::to_owned).collect())
            .unwrap_or_default();
        if client_ids.is_empty() {
            return Err(ConfigError::new(
                "COGNITO_CLIENT_IDS",
                "at least one app client id is required (comma-separated)",
            ));
        }
        let token_use = match lookup("COGNITO_TOKEN_USE").as_deref().map(str::trim) {
            None | Some("access") => TokenUse::Access,
            Some("id") => TokenUse::Id,
            Some(other) => {
                return Err(ConfigError::new(
                    "COGNITO_TOKEN_USE",
                    format!("{other:?} is neither \"access\" nor \"id\""),
                ));
            }
        };
        Ok(Config {
            issuers: vec![IssuerConfig {
                cognito_user_pool_id: lookup("COGNITO_USER_POOL_ID").map(|v| v.trim().to_owned()),
                issuer: None,
                client_ids,
                audiences: vec![],
                token_use: Some(token_use),
                jwks_uri: lookup("COGNITO_JWKS_URI"),
                algorithms: default_algorithms(),
                leeway_seconds: 0,
                required_claims: vec![],
                jwks: lookup("COGNITO_JWKS"),
                jwks_file: lookup("COGNITO_JWKS_FILE"),
            }],
            principal_claim: default_principal_claim(),
            context_claims: vec![],
            scope_claim: default_scope_claim(),
            groups_claim: default_groups_claim(),
            usage_identifier_claim: None,
            jwks: JwksConfig::default(),
            rules: None,
            revocation: None,
            request: RequestConfig::default(),
        })
    }

    fn parse(text: &str, format: Format, origin: &str) -> Result<Config, ConfigError> {
        let json = match format {
            Format::Json => true,
            Format::Toml => false,
            Format::Detect => text.trim_start().starts_with('{'),
        };
        if json {
            serde_json::from_str(text).map_err(|e| ConfigError::new(origin, format!("JSON: {e}")))
        } else {
            toml::from_str(text).map_err(|e| ConfigError::new(origin, format!("TOML: {}", e.to_string().trim())))
        }
    }

    /// Checks every setting and resolves defaults; the first problem is returned, naming its setting.
    pub fn validate(&self) -> Result<(Vec<IssuerSettings>, JwksSettings), ConfigError> {
        if self.issuers.is_empty() {
            return Err(ConfigError::new("issuers", "at least one issuer is required"));
        }
        let mut issuers: Vec<IssuerSettings> = Vec::new();
        for (i, issuer) in self.issuers.iter().enumerate() {
            let settings = issuer.validate(&format!("issuers[{i}]"))?;
            if issuers.iter().any(|other| other.iss == settings.iss) {
                return Err(ConfigError::new(
                    format!("issuers[{i}]"),
                    format!("issuer {} is listed twice", settings.iss),
                ));
            }
            issuers.push(settings);
        }
        if self.usage_identifier_claim.as_ref().is_some_and(String::is_empty) {
            return Err(ConfigError::new("usage_identifier_claim", "must not be empty"));
        }
        for (name, value) in [
            ("principal_claim", &self.principal_claim),
            ("scope_claim", &self.scope_claim),
            ("groups_claim", &self.groups_claim),
        ] {
            if value.is_empty() {
                return Err(ConfigError::new(name, "must not be empty"));
            }
        }
        Ok((issuers, self.jwks.validate()?))
    }
}

enum Format {
    Json,
    Toml,
    Detect,
}

impl IssuerConfig {
    fn validate(&self, at: &str) -> Result<IssuerSettings, ConfigError> {
        let setting = |name: &str| format!("{at}.{name}");
        let (iss, audience, default_source) = match (&self.cognito_user_pool_id, &self.issuer) {
            (Some(pool), None) => {
                let iss = cognito_issuer(pool).ok_or_else(|| {
                    ConfigError::new(
                        setting("cognito_user_pool_id"),
                        format!("{pool:?} is not a pool id like us-east-1_AbC123"),
                    )
                })?;
                if self.client_ids.is_empty() {
                    return Err(ConfigError::new(setting("client_ids"), "at least one app client id is required"));
                }
                if !self.audiences.is_empty() {
                    return Err(ConfigError::new(
                        setting("audiences"),
                        "Cognito issuers use client_ids, not audiences",
                    ));
                }
                let jwks = parse_url(&format!("{iss}/.well-known/jwks.json"), &setting("cognito_user_pool_id"))?;
                let token_use = self.token_use.unwrap_or(TokenUse::Access);
                (iss, AudienceCheck::Cognito { token_use, client_ids: self.client_ids.clone() }, JwksSource::Uri(jwks))
            }
            (None, Some(iss)) => {
                let url = parse_url(iss, &setting("issuer"))?;
                if self.audiences.is_empty() {
                    return Err(ConfigError::new(
                        setting("audiences"),
                        "at least one audience is required for an OIDC issuer",
                    ));
                }
                if !self.client_ids.is_empty() || self.token_use.is_some() {
                    return Err(ConfigError::new(
                        setting("client_ids"),
                        "client_ids and token_use apply to Cognito issuers only",
                    ));
                }
                let discovery = format!("{}/.well-known/openid-configuration", url.as_str().trim_end_matches('/'));
                let discovery = parse_url(&discovery, &setting("issuer"))?;
                (
                    iss.clone(),
                    AudienceCheck::Oidc { audiences: self.audiences.clone() },
                    JwksSource::Discovery(discovery),
                )
            }
            _ => {
                return Err(ConfigError::new(at, "set exactly one of cognito_user_pool_id and issuer"));
            }
        };
        let jwks_source = match &self.jwks_uri {
            Some(uri) => JwksSource::Uri(parse_url(uri, &setting("jwks_uri"))?),
            None => default_source,
        };
        if self.algorithms.is_empty() {
            return Err(ConfigError::new(setting("algorithms"), "at least one algorithm is required"));
        }
        if self.leeway_seconds > MAX_LEEWAY_SECONDS {
            return Err(ConfigError::new(setting("leeway_seconds"), format!("at most {MAX_LEEWAY_SECONDS}")));
        }
        if self.required_claims.iter().any(|c| c.is_empty()) {
            return Err(ConfigError::new(setting("required_claims"), "claim names must not be empty"));
        }
        let prebaked_jwks = match (&self.jwks, &self.jwks_file) {
            (Some(_), Some(_)) => return Err(ConfigError::new(setting("jwks"), "set jwks or jwks_file, not both")),
            (Some(inline), None) => Some(inline.as_bytes().to_vec()),
            (None, Some(path)) => Some(
                std::fs::read(path)
                    .map_err(|e| ConfigError::new(setting("jwks_file"), format!("cannot read {path}: {e}")))?,
            ),
            (None, None) => None,
        };
        if let Some(doc) = &prebaked_jwks {
            let (keys, _) =
                crate::jwk::KeySet::parse(doc, &self.algorithms).map_err(|e| ConfigError::new(setting("jwks"), e))?;
            if keys.is_empty() {
                return Err(ConfigError::new(setting("jwks"), "the pre-baked JWKS holds no usable key"));
            }
        }
        Ok(IssuerSettings {
            iss,
            audience,
            jwks_source,
            algorithms: self.algorithms.clone(),
            leeway_seconds: self.leeway_seconds,
            required_claims: self.required_claims.clone(),
            prebaked_jwks,
        })
    }
}

impl JwksConfig {
    fn validate(&self) -> Result<JwksSettings, ConfigError> {
        let bounded = |name: &str, value, min, max| bounded(&format!("jwks.{name}"), value, min, max);
        let timeout = bounded("timeout_ms", self.timeout_ms, 100, 10_000)?;
        Ok(JwksSettings {
            ttl: Duration::from_secs(bounded("ttl_seconds", self.ttl_seconds, 1, 86_400)?),
            refetch_cooldown: Duration::from_secs(bounded(
                "refetch_cooldown_seconds",
                self.refetch_cooldown_seconds,
                1,
                3600,
            )?),
            timeout: Duration::from_millis(timeout),
            connect_timeout: Duration::from_millis(bounded(
                "connect_timeout_ms",
                self.connect_timeout_ms,
                50,
                timeout,
            )?),
            max_bytes: bounded("max_bytes", self.max_bytes as u64, 1024, 4 * 1024 * 1024)? as usize,
        })
    }
}

/// `value` when it lies in `min..=max`, else an error naming `setting`.
pub(crate) fn bounded(setting: &str, value: u64, min: u64, max: u64) -> Result<u64, ConfigError> {
    if (min..=max).contains(&value) {
        Ok(value)
    } else {
        Err(ConfigError::new(setting, format!("{value} is outside {min}..={max}")))
    }
}

/// The `iss` of a Cognito user pool's tokens, derived from the pool id's region part (`us-east-1_AbC123` →
/// `us-east-1`). Pool ids are not otherwise validated: emulators and new partitions use other shapes.
pub fn cognito_issuer(pool: &str) -> Option<String> {
    let (region, id) = pool.split_once('_')?;
    let region_ok =
        !region.is_empty() && region.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-');
    let id_ok = !id.is_empty() && id.bytes().all(|b| b.is_ascii_alphanumeric());
    (region_ok && id_ok).then(|| format!("https://cognito-idp.{region}.amazonaws.com/{pool}"))
}

/// Parses a key or discovery URL: HTTPS anywhere, plain HTTP only on loopback (local development).
pub fn parse_url(raw: &str, setting: &str) -> Result<Url, ConfigError> {
    let url = Url::parse(raw).map_err(|e| ConfigError::new(setting, format!("{raw:?} is not a URL: {e}")))?;
    check_url_scheme(&url).map_err(|message| ConfigError::new(setting, message))?;
    Ok(url)
}

/// HTTPS, or HTTP to a loopback address; nothing else is ever fetched.
pub fn check_url_scheme(url: &Url) -> Result<(), String> {
    match url.scheme() {
        "https" => Ok(()),
        "http" if is_loopback(url) => Ok(()),
        "http" => Err(format!("{url} uses plain HTTP, which is allowed only for loopback addresses")),
        other => Err(format!("{url}: scheme {other:?} is not allowed (use https)")),
    }
}

fn is_loopback(url: &Url) -> bool {
    match url.host() {
        Some(url::Host::Ipv4(ip)) => IpAddr::V4(ip).is_loopback(),
        Some(url::Host::Ipv6(ip)) => IpAddr::V6(ip).is_loopback(),
        Some(url::Host::Domain(name)) => name.eq_ignore_ascii_case("localhost"),
        None => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn env(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
        let map: HashMap<String, String> = pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        move |name| map.get(name).cloned()
    }

    fn error_of(pairs: &[(&str, &str)]) -> ConfigError {
        match Config::from_lookup(env(pairs)).and_then(|c| c.validate().map(|_| c)) {
            Ok(_) => panic!("expected an error for {pairs:?}"),
            Err(e) => e,
        }
    }

    #[test]
    fn cognito_shortcut_needs_three_variables_at_most() {
        let config = Config::from_lookup(env(&[
            ("COGNITO_USER_POOL_ID", "eu-west-1_AbC123"),
            ("COGNITO_CLIENT_IDS", "one, two"),
        ]))
        .unwrap();
        let (issuers, jwks) = config.validate().unwrap();
        let issuer = &issuers[0];
        assert_eq!(issuer.iss, "https://cognito-idp.eu-west-1.amazonaws.com/eu-west-1_AbC123");
        assert_eq!(
            issuer.audience,
            AudienceCheck::Cognito { token_use: TokenUse::Access, client_ids: vec!["one".into(), "two".into()] }
        );
        assert_eq!(
            issuer.jwks_source,
            JwksSource::Uri(Url::parse(&format!("{}/.well-known/jwks.json", issuer.iss)).unwrap())
        );
        assert_eq!(issuer.algorithms, [Algorithm::RS256]);
        assert_eq!(jwks.timeout, Duration::from_secs(3));
    }

    #[test]
    fn the_revocation_table_can_come_from_the_environment_once() {
        let shortcut = [("COGNITO_USER_POOL_ID", "eu-west-1_AbC123"), ("COGNITO_CLIENT_IDS", "one")];
        let with = |extra: &[(&str, &str)]| Config::from_lookup(env(&[&shortcut[..], extra].concat()));
        let revocation = with(&[("REVOCATION_TABLE", "revocations"), ("REVOCATION_MAX_STALENESS_SECONDS", "5")])
            .unwrap()
            .revocation
            .unwrap();
        assert_eq!((revocation.table.as_str(), revocation.max_staleness_seconds), ("revocations", 5));
        assert!(with(&[]).unwrap().revocation.is_none());
        let staleness = with(&[("REVOCATION_TABLE", "t"), ("REVOCATION_MAX_STALENESS_SECONDS", "soon")]).unwrap_err();
        assert_eq!(staleness.setting, "REVOCATION_MAX_STALENESS_SECONDS");
        let document = "[[issuers]]\ncognito_user_pool_id = \"eu-west-1_AbC123\"\nclient_ids = [\"one\"]\n\
                        [revocation]\ntable = \"t\"\n";
        let twice = Config::from_lookup(env(&[("AUTHZ_CONFIG", document), ("REVOCATION_TABLE", "t")])).unwrap_err();
        assert_eq!(twice.setting, "REVOCATION_TABLE");
    }

    #[test]
    fn errors_name_the_setting() {
        let pool = ("COGNITO_USER_POOL_ID", "us-east-1_x");
        let cases: Vec<(Vec<(&str, &str)>, &str)> = vec![
            (vec![], "COGNITO_USER_POOL_ID"),
            (vec![pool], "COGNITO_CLIENT_IDS"),
            (vec![pool, ("COGNITO_CLIENT_IDS", " , ")], "COGNITO_CLIENT_IDS"),
            (vec![pool, ("COGNITO_CLIENT_IDS", "c"), ("COGNITO_TOKEN_USE", "refresh")], "COGNITO_TOKEN_USE"),
            (
                vec![pool, ("COGNITO_CLIENT_IDS", "c"), ("COGNITO_JWKS_URI", "http://example.com/jwks")],
                "issuers[0].jwks_uri",
            ),
            (
                vec![("COGNITO_USER_POOL_ID", "nounderscore"), ("COGNITO_CLIENT_IDS", "c")],
                "issuers[0].cognito_user_pool_id",
            ),
            (vec![pool, ("AUTHZ_CONFIG", "x")], "AUTHZ_CONFIG and COGNITO_USER_POOL_ID"),
            (vec![("AUTHZ_CONFIG_FILE", "/nonexistent/authz.toml")], "AUTHZ_CONFIG_FILE"),
        ];
        for (pairs, setting) in cases {
            assert_eq!(error_of(&pairs).setting, setting, "{pairs:?}");
        }
    }

    fn structured_error(toml_text: &str) -> ConfigError {
        error_of(&[("AUTHZ_CONFIG", toml_text)])
    }

    const POOL: &str = "[[issuers]]\ncognito_user_pool_id = \"us-east-1_x\"\nclient_ids = [\"c\"]\n";

    #[test]
    fn structured_errors_name_the_setting() {
        let cases = [
            ("issuers = []", "issuers"),
            (&format!("{POOL}algorithms = [\"HS256\"]") as &str, "AUTHZ_CONFIG"),
            (&format!("{POOL}algorithms = [\"none\"]"), "AUTHZ_CONFIG"),
            (&format!("{POOL}algorithms = []"), "issuers[0].algorithms"),
            (&format!("{POOL}leeway_seconds = 301"), "issuers[0].leeway_seconds"),
            (&format!("{POOL}clientids = [\"typo\"]"), "AUTHZ_CONFIG"),
            (&format!("{POOL}jwks = \"{{\\\"keys\\\": []}}\""), "issuers[0].jwks"),
            (&format!("{POOL}jwks = \"nope\""), "issuers[0].jwks"),
            (&format!("{POOL}audiences = [\"a\"]"), "issuers[0].audiences"),
            (&format!("{POOL}{POOL}"), "issuers[1]"),
            ("[[issuers]]\nissuer = \"https://idp.example.com/\"", "issuers[0].audiences"),
            ("[[issuers]]\nissuer = \"http://idp.example.com/\"\naudiences = [\"a\"]", "issuers[0].issuer"),
            (
                "[[issuers]]\nissuer = \"https://idp.example.com/\"\naudiences = [\"a\"]\nclient_ids = [\"c\"]",
                "issuers[0].client_ids",
            ),
            ("[[issuers]]\nclient_ids = [\"c\"]", "issuers[0]"),
            (&format!("{POOL}[jwks]\ntimeout_ms = 60000"), "jwks.timeout_ms"),
            (&format!("{POOL}[jwks]\nrefetch_cooldown_seconds = 0"), "jwks.refetch_cooldown_seconds"),
            (&format!("{POOL}[jwks]\nmax_bytes = 10"), "jwks.max_bytes"),
            (&format!("principal_claim = \"\"\n{POOL}"), "principal_claim"),
        ];
        for (text, setting) in cases {
            let error = structured_error(text);
            assert_eq!(error.setting, setting, "{text}: {error}");
        }
        let error = structured_error(&format!("{POOL}algorithms = [\"HS256\"]"));
        assert!(error.message.contains("HS256"), "{error}");
        let error = structured_error(&format!("{POOL}clientids = [\"typo\"]"));
        assert!(error.message.contains("clientids"), "{error}");
    }

    #[test]
    fn oidc_issuers_use_discovery_unless_overridden_and_json_works() {
        let json = r#"{"issuers": [
            {"issuer": "https://tenant.auth0.test/", "audiences": ["api"]},
            {"issuer": "https://kc.test/realms/r", "audiences": ["a", "b"], "jwks_uri": "http://127.0.0.1:8080/certs",
             "algorithms": ["RS256", "ES256", "EdDSA"], "leeway_seconds": 30}
        ]}"#;
        let (issuers, _) = Config::from_lookup(env(&[("AUTHZ_CONFIG", json)])).unwrap().validate().unwrap();
        assert_eq!(
            issuers[0].jwks_source,
            JwksSource::Discovery(Url::parse("https://tenant.auth0.test/.well-known/openid-configuration").unwrap())
        );
        assert_eq!(issuers[0].iss, "https://tenant.auth0.test/", "the issuer is kept exactly, trailing slash included");
        assert_eq!(issuers[1].jwks_source, JwksSource::Uri(Url::parse("http://127.0.0.1:8080/certs").unwrap()));
        assert_eq!(issuers[1].leeway_seconds, 30);
    }

    #[test]
    fn config_file_by_extension() {
        let dir = std::env::temp_dir().join(format!("authz-config-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let toml_path = dir.join("authz.toml");
        std::fs::write(&toml_path, POOL).unwrap();
        let config = Config::from_lookup(env(&[("AUTHZ_CONFIG_FILE", toml_path.to_str().unwrap())])).unwrap();
        assert_eq!(config.issuers.len(), 1);
        let json_path = dir.join("authz.json");
        std::fs::write(&json_path, r#"{"issuers": [{"cognito_user_pool_id": "us-east-1_x", "client_ids": ["c"]}]}"#)
            .unwrap();
        assert!(Config::from_lookup(env(&[("AUTHZ_CONFIG_FILE", json_path.to_str().unwrap())])).is_ok());
        std::fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn plain_http_only_on_loopback() {
        for ok in [
            "https://idp.example.com/k",
            "http://127.0.0.1:5000/k",
            "http://[::1]/k",
            "http://localhost:9/k",
            "http://127.9.9.9/k",
        ] {
            assert!(parse_url(ok, "s").is_ok(), "{ok}");
        }
        for bad in [
            "http://10.0.0.1/k",
            "http://169.254.169.254/latest",
            "http://localhost.evil.com/k",
            "file:///etc/passwd",
            "ftp://x/k",
            "k",
        ] {
            assert!(parse_url(bad, "s").is_err(), "{bad}");
        }
    }
}
