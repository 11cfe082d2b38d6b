//! Route rules: which verified callers may call which routes.
//!
//! A rule names routes (`METHOD /path`, with `{param}`, `{proxy+}`, `*`, and `ANY`) and what a caller
//! needs for them: any of some scopes, any or all of some groups, claim values; and, for REQUEST authorizers,
//! a source address, headers, a client certificate, or a path parameter bound to a claim (tenant isolation:
//! the rule then names only the caller's own tenant's routes). A request is allowed when
//! at least one rule names its route and the caller meets every rule that names it; a route no rule names
//! follows `unmatched` (`deny` by default). Without rules, every authenticated caller may call every route.
//!
//! Route patterns match with API Gateway's own wildcard semantics (`{param}` becomes `*`, which spans `/`),
//! so the policy built from the same rules answers exactly as the rules do for every route, and a cached
//! policy stays right. Nothing in this module may ever grant a route on a failed or unreadable requirement.

use crate::cidr::Cidr;
use crate::config::ConfigError;
use crate::glob;
use crate::outcome::{Denial, Requirement};
use crate::request::Request;
use crate::verify::VerifiedToken;
use serde::Deserialize;
use serde_json::Value;
use std::collections::BTreeMap;

/// The verbs `ANY` expands to. Spelling them out keeps a `*` out of the verb position, where it would also
/// match across the path (`*/admin/*` matches `GET/x/admin/y`).
pub const VERBS: [&str; 7] = ["DELETE", "GET", "HEAD", "OPTIONS", "PATCH", "POST", "PUT"];
/// Keeps every emitted resource ARN under API Gateway's 512-character limit, whatever the stage prefix.
pub const MAX_PATH_PATTERN_BYTES: usize = 200;

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RulesConfig {
    #[serde(default)]
    pub unmatched: Unmatched,
    #[serde(default, rename = "route")]
    pub routes: Vec<RuleConfig>,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Unmatched {
    #[default]
    Deny,
    Allow,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RuleConfig {
    #[serde(rename = "match")]
    pub routes: Vec<String>,
    #[serde(default)]
    pub scopes_any: Vec<String>,
    #[serde(default)]
    pub groups_any: Vec<String>,
    #[serde(default)]
    pub groups_all: Vec<String>,
    /// Claim name → required value (equality) or list of values (membership). An array claim matches when
    /// it contains the value, or any of the values.
    #[serde(default)]
    pub claims: BTreeMap<String, Value>,
    /// Also grant `execute-api:InvalidateCache` on these routes to callers who meet the rule.
    #[serde(default)]
    pub invalidate_cache: bool,
    /// REQUEST only: the source address must be in one of these CIDR blocks.
    #[serde(default)]
    pub source_ips: Vec<String>,
    /// REQUEST only: the source address must be in none of these CIDR blocks.
    #[serde(default)]
    pub deny_source_ips: Vec<String>,
    /// REQUEST only: these headers must be present and non-empty.
    #[serde(default)]
    pub required_headers: Vec<String>,
    /// REQUEST only: the mutual-TLS client certificate must match every field given.
    pub client_cert: Option<ClientCertRule>,
    /// Path parameter → claim: the rule names a route only where the parameter equals the caller's claim.
    #[serde(default)]
    pub path_claims: BTreeMap<String, String>,
    /// Cognito access tokens only: Cognito (`GetUser`) must still accept the token, on every decision for a
    /// caller who meets the rule, so a sign-out or a disabled user takes effect at once.
    #[serde(default)]
    pub online_check: bool,
}

#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct ClientCertRule {
    pub subject: Option<String>,
    pub issuer: Option<String>,
    /// SHA-256 fingerprint of the certificate, hex, with or without colons.
    pub sha256: Option<String>,
}

#[derive(Debug, Clone)]
pub struct RuleSet {
    rules: Vec<Rule>,
    unmatched: Unmatched,
}

#[derive(Debug, Clone)]
struct Rule {
    patterns: Vec<RoutePattern>,
    /// Route globs relative to the stage: `GET/items/*`.
    resources: Vec<String>,
    scopes_any: Vec<String>,
    groups_any: Vec<String>,
    groups_all: Vec<String>,
    claims: Vec<(String, Value)>,
    invalidate_cache: bool,
    source_ips: Vec<Cidr>,
    deny_source_ips: Vec<Cidr>,
    required_headers: Vec<String>,
    client_cert: Option<ClientCertRule>,
    /// (path parameter, claim)
    path_claims: Vec<(String, String)>,
    online_check: bool,
}

/// A parsed route pattern: verbs and path segments, or a WebSocket route key.
#[derive(Debug, Clone)]
enum RoutePattern {
    Path { verbs: Vec<&'static str>, segments: Vec<Segment> },
    RouteKey(String),
}

#[derive(Debug, Clone)]
enum Segment {
    /// Literal text, possibly with `*`.
    Text(String),
    /// `{name}` or `{name+}`: `*` unless bound to a value.
    Param(String),
}

/// Each rule's verdict for one caller: computed once per request, then used both for this route's decision
/// and for the policy that covers every route.
#[derive(Debug)]
pub struct Verdicts<'r> {
    rules: &'r RuleSet,
    unmet: Vec<Option<Requirement>>,
    /// For rules with path claims: the routes with the caller's values in place of the parameters.
    bound: Vec<Option<Vec<String>>>,
}

/// What a policy depends on besides the stage: which rules are met, and the values bound into routes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerdictKey {
    met: Vec<bool>,
    bound: Vec<Option<Vec<String>>>,
}

/// Route globs (relative to the stage) a caller is granted or refused, ready to become a policy.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Grants<'r> {
    /// Every route is allowed unless denied below.
    pub allow_all: bool,
    pub allow: Vec<&'r str>,
    pub invalidate_cache: Vec<&'r str>,
    pub deny: Vec<&'r str>,
}

impl RuleSet {
    /// No rules: any authenticated caller may call every route (what the built-in Cognito authorizer does).
    pub fn allow_all() -> Self {
        RuleSet { rules: vec![], unmatched: Unmatched::Allow }
    }

    pub fn compile(config: &RulesConfig) -> Result<Self, ConfigError> {
        let rules: Vec<Rule> = config
            .routes
            .iter()
            .enumerate()
            .map(|(i, rule)| Rule::compile(rule, &format!("rules.route[{i}]")))
            .collect::<Result<_, _>>()?;
        if config.unmatched == Unmatched::Allow && rules.iter().any(|r| !r.path_claims.is_empty()) {
            // Other tenants' routes would fall through to "allow".
            return Err(ConfigError::new("rules.unmatched", "path_claims need unmatched = \"deny\""));
        }
        Ok(RuleSet { rules, unmatched: config.unmatched })
    }

    /// Whether some answer depends on the request beyond the token (address, headers, certificate), so that
    /// a cached answer is only right for requests that share those too.
    pub fn depends_on_request(&self) -> bool {
        self.rules.iter().any(|r| {
            !r.source_ips.is_empty()
                || !r.deny_source_ips.is_empty()
                || !r.required_headers.is_empty()
                || r.client_cert.is_some()
        })
    }

    /// Whether some rule asks for Cognito's online check.
    pub fn has_online_checks(&self) -> bool {
        self.rules.iter().any(|r| r.online_check)
    }

    /// Each rule's verdict for this caller; `request` is `None` for TOKEN events, where request requirements
    /// cannot be met.
    pub fn evaluate(&self, token: &VerifiedToken, request: Option<&Request>) -> Verdicts<'_> {
        let (unmet, bound) = self.rules.iter().map(|rule| rule.check(token, request)).unzip();
        Verdicts { rules: self, unmet, bound }
    }
}

impl Verdicts<'_> {
    /// The routes rule `index` names for this caller.
    fn resources(&self, index: usize) -> &[String] {
        self.bound[index].as_deref().unwrap_or(&self.rules.rules[index].resources)
    }

    /// The rules' answer for one route (`GET/items/42`, relative to the stage).
    pub fn decide(&self, route: &str) -> Result<(), Denial> {
        let mut matched = false;
        for (index, unmet) in self.unmet.iter().enumerate() {
            if self.resources(index).iter().any(|r| glob::matches(r, route)) {
                if let Some(requirement) = unmet {
                    return Err(Denial::Unmet { rule: index, requirement: requirement.clone() });
                }
                matched = true;
            }
        }
        match (matched, self.rules.unmatched) {
            (true, _) | (false, Unmatched::Allow) => Ok(()),
            (false, Unmatched::Deny) => Err(Denial::NoMatchingRule),
        }
    }

    /// Whether the caller meets a rule that asks for the online check: the check must then pass before any
    /// answer, since the policy grants that rule's routes along with every other.
    pub fn needs_online_check(&self) -> bool {
        self.rules.rules.iter().zip(&self.unmet).any(|(rule, unmet)| rule.online_check && unmet.is_none())
    }

    /// All that the grants depend on.
    pub fn key(&self) -> VerdictKey {
        VerdictKey { met: self.unmet.iter().map(Option::is_none).collect(), bound: self.bound.clone() }
    }

    /// Whether these verdicts give the same grants as `key` (without building a key).
    pub fn has_key(&self, key: &VerdictKey) -> bool {
        key.met.iter().copied().eq(self.unmet.iter().map(Option::is_none)) && key.bound == self.bound
    }

    /// What the caller may and may not call, over every route.
    pub fn grants(&self) -> Grants<'_> {
        let mut grants = Grants { allow_all: self.rules.unmatched == Unmatched::Allow, ..Grants::default() };
        for (index, (rule, unmet)) in self.rules.rules.iter().zip(&self.unmet).enumerate() {
            let resources = self.resources(index).iter().map(String::as_str);
            match unmet {
                Some(_) => grants.deny.extend(resources),
                None => {
                    if rule.invalidate_cache {
                        grants.invalidate_cache.extend(resources.clone());
                    }
                    grants.allow.extend(resources);
                }
            }
        }
        grants
    }
}

impl Rule {
    fn compile(config: &RuleConfig, at: &str) -> Result<Self, ConfigError> {
        if config.routes.is_empty() {
            return Err(ConfigError::new(format!("{at}.match"), "a rule must name at least one route"));
        }
        let patterns: Vec<RoutePattern> = config
            .routes
            .iter()
            .enumerate()
            .map(|(i, p)| RoutePattern::parse(p).map_err(|m| ConfigError::new(format!("{at}.match[{i}]"), m)))
            .collect::<Result<_, _>>()?;
        let resources = patterns.iter().flat_map(|p| p.render(&[])).collect();
        for param in config.path_claims.keys() {
            if !patterns.iter().all(|p| p.has_param(param)) {
                return Err(ConfigError::new(
                    format!("{at}.path_claims.{param}"),
                    "every route of the rule must have this path parameter",
                ));
            }
        }
        let cidrs = |list: &[String], name: &str| -> Result<Vec<Cidr>, ConfigError> {
            list.iter()
                .enumerate()
                .map(|(i, c)| c.parse().map_err(|m| ConfigError::new(format!("{at}.{name}[{i}]"), m)))
                .collect()
        };
        if config.required_headers.iter().any(|h| h.trim().is_empty()) {
            return Err(ConfigError::new(format!("{at}.required_headers"), "header names must not be empty"));
        }
        let client_cert = match &config.client_cert {
            Some(ClientCertRule { subject: None, issuer: None, sha256: None }) => {
                return Err(ConfigError::new(
                    format!("{at}.client_cert"),
                    "give at least one of subject, issuer, sha256",
                ));
            }
            Some(rule) => Some(ClientCertRule {
                sha256: rule.sha256.as_ref().map(|f| f.replace(':', "").to_ascii_lowercase()),
                ..rule.clone()
            }),
            None => None,
        };
        let claims = config
            .claims
            .iter()
            .map(|(name, expected)| {
                let valid = match expected {
                    Value::Array(items) => !items.is_empty() && items.iter().all(is_scalar),
                    other => is_scalar(other),
                };
                if valid {
                    Ok((name.clone(), expected.clone()))
                } else {
                    Err(ConfigError::new(
                        format!("{at}.claims.{name}"),
                        "expected a string, number or boolean, or a non-empty list of them",
                    ))
                }
            })
            .collect::<Result<_, _>>()?;
        Ok(Rule {
            patterns,
            resources,
            scopes_any: config.scopes_any.clone(),
            groups_any: config.groups_any.clone(),
            groups_all: config.groups_all.clone(),
            claims,
            invalidate_cache: config.invalidate_cache,
            source_ips: cidrs(&config.source_ips, "source_ips")?,
            deny_source_ips: cidrs(&config.deny_source_ips, "deny_source_ips")?,
            required_headers: config.required_headers.clone(),
            client_cert,
            path_claims: config.path_claims.iter().map(|(p, c)| (p.clone(), c.clone())).collect(),
            online_check: config.online_check,
        })
    }

    /// The first requirement the caller fails, if any, and the routes bound to its claims.
    fn check(&self, token: &VerifiedToken, request: Option<&Request>) -> (Option<Requirement>, Option<Vec<String>>) {
        let mut values = Vec::with_capacity(self.path_claims.len());
        for (param, claim) in &self.path_claims {
            match token.claims.get(claim).and_then(Value::as_str).filter(|v| is_path_value(v)) {
                Some(value) => values.push((param.as_str(), value)),
                None => return (Some(Requirement::PathClaim(param.clone())), None),
            }
        }
        let bound = (!values.is_empty()).then(|| self.patterns.iter().flat_map(|p| p.render(&values)).collect());
        (self.unmet_by_token(token).or_else(|| self.unmet_by_request(request)), bound)
    }

    fn unmet_by_request(&self, request: Option<&Request>) -> Option<Requirement> {
        let source_ip = request.and_then(|r| r.source_ip);
        let within = |blocks: &[Cidr]| source_ip.is_some_and(|ip| blocks.iter().any(|b| b.contains(ip)));
        if !self.source_ips.is_empty() && !within(&self.source_ips) {
            return Some(Requirement::SourceIp);
        }
        // An unknown address can never be shown to be outside the deny list.
        if !self.deny_source_ips.is_empty() && (source_ip.is_none() || within(&self.deny_source_ips)) {
            return Some(Requirement::SourceIp);
        }
        if let Some(missing) = self
            .required_headers
            .iter()
            .find(|h| request.is_none_or(|r| r.header_values(h).all(|v| v.trim().is_empty())))
        {
            return Some(Requirement::Header(missing.clone()));
        }
        if let Some(wanted) = &self.client_cert {
            let cert = request.and_then(|r| r.client_cert.as_ref());
            let fits = cert.is_some_and(|c| {
                wanted.subject.as_ref().is_none_or(|s| *s == c.subject_dn)
                    && wanted.issuer.as_ref().is_none_or(|i| *i == c.issuer_dn)
                    && wanted.sha256.as_ref().is_none_or(|f| c.sha256.as_ref() == Some(f))
            });
            if !fits {
                return Some(Requirement::ClientCert);
            }
        }
        None
    }

    /// The first requirement `token` fails, if any.
    fn unmet_by_token(&self, token: &VerifiedToken) -> Option<Requirement> {
        let has = |list: &[String], wanted: &String| list.iter().any(|have| have == wanted);
        // `GetUser` takes Cognito access tokens only; anything else cannot be checked, so cannot pass.
        let access_token = token.claims.get("token_use").and_then(Value::as_str) == Some("access");
        if self.online_check && !(access_token && token.issuer.starts_with("https://cognito-idp.")) {
            return Some(Requirement::OnlineCheck);
        }
        if !self.scopes_any.is_empty() && !self.scopes_any.iter().any(|s| has(&token.scopes, s)) {
            return Some(Requirement::Scope);
        }
        if !self.groups_any.is_empty() && !self.groups_any.iter().any(|g| has(&token.groups, g)) {
            return Some(Requirement::AnyGroup);
        }
        if !self.groups_all.iter().all(|g| has(&token.groups, g)) {
            return Some(Requirement::AllGroups);
        }
        self.claims
            .iter()
            .find(|(name, expected)| !claim_satisfies(token.claims.get(name), expected))
            .map(|(name, _)| Requirement::Claim(name.clone()))
    }
}

fn is_scalar(value: &Value) -> bool {
    matches!(value, Value::String(_) | Value::Number(_) | Value::Bool(_))
}

/// Equality for a scalar expectation, membership for a list; an array claim matches through any element.
/// A missing claim, `null` or an object never satisfies.
fn claim_satisfies(actual: Option<&Value>, expected: &Value) -> bool {
    let accepted = |value: &Value| match expected {
        Value::Array(options) => options.contains(value),
        scalar => scalar == value,
    };
    match actual {
        Some(Value::Array(items)) => items.iter().filter(|v| is_scalar(v)).any(accepted),
        Some(value) if is_scalar(value) => accepted(value),
        _ => false,
    }
}

/// A value that may stand in a path segment of a policy resource: no wildcard, separator or route-key sign.
fn is_path_value(value: &str) -> bool {
    !value.is_empty()
        && value.len() <= 128
        && value.bytes().all(|b| b.is_ascii_alphanumeric() || b"-._~@:+=,".contains(&b))
}

/// `GET /items/{id}` → `["GET/items/*"]`; `ANY /x` → one resource per verb; a WebSocket route key such as
/// `$connect` names itself.
pub fn route_resources(pattern: &str) -> Result<Vec<String>, String> {
    Ok(RoutePattern::parse(pattern)?.render(&[]))
}

impl RoutePattern {
    fn parse(pattern: &str) -> Result<Self, String> {
        let pattern = pattern.trim();
        if let Some(key) = pattern.strip_prefix('$') {
            if key.is_empty() || !key.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_') {
                return Err(format!("bad WebSocket route key {pattern:?}"));
            }
            // The same bound as paths, so that every resource stays within API Gateway's limit.
            if pattern.len() > MAX_PATH_PATTERN_BYTES {
                return Err(format!("route key longer than {MAX_PATH_PATTERN_BYTES} bytes"));
            }
            return Ok(RoutePattern::RouteKey(pattern.to_owned()));
        }
        let (method, path) = pattern.split_once(' ').ok_or("expected \"METHOD /path\", e.g. \"GET /items/{id}\"")?;
        let path = path.trim();
        let verbs: Vec<&'static str> = match method {
            "ANY" | "*" => VERBS.to_vec(),
            verb => vec![
                *VERBS
                    .iter()
                    .find(|v| **v == verb)
                    .ok_or_else(|| format!("unknown method {verb:?} (use one of {} or ANY)", VERBS.join(", ")))?,
            ],
        };
        if !path.starts_with('/') {
            return Err(format!("path {path:?} must start with '/'"));
        }
        if path.len() > MAX_PATH_PATTERN_BYTES {
            return Err(format!("path longer than {MAX_PATH_PATTERN_BYTES} bytes"));
        }
        let raw: Vec<&str> = path[1..].split('/').collect();
        let mut segments = Vec::with_capacity(raw.len());
        for (i, segment) in raw.iter().enumerate() {
            if let Some(name) = segment.strip_prefix('{').and_then(|s| s.strip_suffix('}')) {
                let (name, greedy) = name.strip_suffix('+').map_or((name, false), |n| (n, true));
                if name.is_empty() || !name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-') {
                    return Err(format!("bad path parameter {segment:?}"));
                }
                if greedy && i + 1 != raw.len() {
                    return Err(format!("greedy parameter {segment:?} must be the last segment"));
                }
                segments.push(Segment::Param(name.to_owned()));
            } else if segment.bytes().all(|b| b.is_ascii_alphanumeric() || b"-._~!$&'()+,;=:@%*".contains(&b)) {
                segments.push(Segment::Text((*segment).to_owned()));
            } else {
                return Err(format!(
                    "path segment {segment:?} has a character routes cannot have ('?', '{{', '}}', space…)"
                ));
            }
        }
        Ok(RoutePattern::Path { verbs, segments })
    }

    fn has_param(&self, wanted: &str) -> bool {
        matches!(self, RoutePattern::Path { segments, .. } if segments.iter().any(|s| matches!(s, Segment::Param(n) if n == wanted)))
    }

    /// The stage-relative globs: each parameter becomes its bound value (from `(parameter, value)` pairs), or `*`.
    fn render(&self, bound: &[(&str, &str)]) -> Vec<String> {
        match self {
            RoutePattern::RouteKey(key) => vec![key.clone()],
            RoutePattern::Path { verbs, segments } => {
                let path: Vec<&str> = segments
                    .iter()
                    .map(|s| match s {
                        Segment::Text(text) => text.as_str(),
                        Segment::Param(name) => bound.iter().find(|(p, _)| p == name).map_or("*", |(_, v)| v),
                    })
                    .collect();
                let path = path.join("/");
                verbs.iter().map(|verb| format!("{verb}/{path}")).collect()
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn route_patterns_compile_to_stage_relative_globs() {
        assert_eq!(route_resources("GET /items/{id}").unwrap(), ["GET/items/*"]);
        assert_eq!(route_resources("POST /").unwrap(), ["POST/"]);
        assert_eq!(route_resources("GET /files/{path+}").unwrap(), ["GET/files/*"]);
        assert_eq!(route_resources("GET /v1/*/status").unwrap(), ["GET/v1/*/status"]);
        assert_eq!(route_resources("ANY /admin/{proxy+}").unwrap().len(), 7);
        assert_eq!(route_resources("$connect").unwrap(), ["$connect"]);
        assert!(route_resources("$con*").is_err());
        assert!(route_resources("* /x").unwrap().iter().all(|r| !r.starts_with('*')));
    }

    #[test]
    fn bad_route_patterns_name_the_problem() {
        for (pattern, fragment) in [
            ("GET", "METHOD /path"),
            ("FETCH /x", "unknown method"),
            ("get /x", "unknown method"),
            ("GET x", "must start"),
            ("GET /a/{p+}/b", "last segment"),
            ("GET /a/{}", "bad path parameter"),
            ("GET /a?b", "character"),
            ("GET /a/{b", "character"),
        ] {
            let err = route_resources(pattern).unwrap_err();
            assert!(err.contains(fragment), "{pattern}: {err}");
        }
        assert!(route_resources(&format!("GET /{}", "a".repeat(MAX_PATH_PATTERN_BYTES))).is_err());
        // Found by the route_and_arn fuzz target: route keys were not bounded.
        assert!(route_resources(&format!("${}", "d".repeat(MAX_PATH_PATTERN_BYTES))).is_err());
        assert!(route_resources(&format!("${}", "d".repeat(MAX_PATH_PATTERN_BYTES - 1))).is_ok());
    }

    #[test]
    fn claim_equality_and_membership() {
        use serde_json::json;
        assert!(claim_satisfies(Some(&json!("gold")), &json!("gold")));
        assert!(claim_satisfies(Some(&json!("gold")), &json!(["gold", "silver"])));
        assert!(claim_satisfies(Some(&json!(["x", "gold"])), &json!("gold")));
        assert!(claim_satisfies(Some(&json!(["x", "silver"])), &json!(["gold", "silver"])));
        assert!(claim_satisfies(Some(&json!(3)), &json!(3)));
        assert!(claim_satisfies(Some(&json!(true)), &json!(true)));
        assert!(!claim_satisfies(Some(&json!("true")), &json!(true)), "no type coercion");
        assert!(!claim_satisfies(Some(&json!("bronze")), &json!(["gold", "silver"])));
        assert!(!claim_satisfies(None, &json!("gold")));
        assert!(!claim_satisfies(Some(&json!(null)), &json!("gold")));
        assert!(!claim_satisfies(Some(&json!({"gold": true})), &json!("gold")));
        assert!(!claim_satisfies(Some(&json!([["gold"]])), &json!("gold")));
    }
}
