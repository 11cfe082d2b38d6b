//! Route rules: which verified callers may call which routes.
//!
//! A rule names routes (`METHOD /path`, with `{param}`, `{proxy+}`, `*`, and `ANY`) and what a caller
//! needs for them: any of some scopes, any or all of some groups, claim values. A request is allowed when
//! at least one rule names its route and the caller meets every rule that names it; a route no rule names
//! follows `unmatched` (`deny` by default). Without rules, every authenticated caller may call every route.
//!
//! Route patterns match with API Gateway's own wildcard semantics (`{param}` becomes `*`, which spans `/`),
//! so the policy built from the same rules answers exactly as the rules do for every route, and a cached
//! policy stays right. Nothing in this module may ever grant a route on a failed or unreadable requirement.

use crate::config::ConfigError;
use crate::glob;
use crate::outcome::{Denial, Requirement};
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
}

#[derive(Debug, Clone)]
pub struct RuleSet {
    rules: Vec<Rule>,
    unmatched: Unmatched,
}

#[derive(Debug, Clone)]
struct Rule {
    /// Route globs relative to the stage: `GET/items/*`.
    resources: Vec<String>,
    scopes_any: Vec<String>,
    groups_any: Vec<String>,
    groups_all: Vec<String>,
    claims: Vec<(String, Value)>,
    invalidate_cache: bool,
}

/// Each rule's verdict for one caller: computed once per request, then used both for this route's decision
/// and for the policy that covers every route.
#[derive(Debug)]
pub struct Verdicts<'r> {
    rules: &'r RuleSet,
    unmet: Vec<Option<Requirement>>,
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
        let rules = config
            .routes
            .iter()
            .enumerate()
            .map(|(i, rule)| Rule::compile(rule, &format!("rules.route[{i}]")))
            .collect::<Result<_, _>>()?;
        Ok(RuleSet { rules, unmatched: config.unmatched })
    }

    pub fn evaluate(&self, token: &VerifiedToken) -> Verdicts<'_> {
        Verdicts { rules: self, unmet: self.rules.iter().map(|rule| rule.unmet(token)).collect() }
    }
}

impl Verdicts<'_> {
    /// The rules' answer for one route (`GET/items/42`, relative to the stage).
    pub fn decide(&self, route: &str) -> Result<(), Denial> {
        let mut matched = false;
        for (index, (rule, unmet)) in self.rules.rules.iter().zip(&self.unmet).enumerate() {
            if rule.resources.iter().any(|r| glob::matches(r, route)) {
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

    /// Whether the caller meets each rule, in rule order: all that the grants depend on.
    pub fn met(&self) -> impl Iterator<Item = bool> + '_ {
        self.unmet.iter().map(Option::is_none)
    }

    /// What the caller may and may not call, over every route.
    pub fn grants(&self) -> Grants<'_> {
        let mut grants = Grants { allow_all: self.rules.unmatched == Unmatched::Allow, ..Grants::default() };
        for (rule, unmet) in self.rules.rules.iter().zip(&self.unmet) {
            let resources = rule.resources.iter().map(String::as_str);
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
        let mut resources = Vec::new();
        for (i, pattern) in config.routes.iter().enumerate() {
            let compiled = route_resources(pattern).map_err(|m| ConfigError::new(format!("{at}.match[{i}]"), m))?;
            resources.extend(compiled);
        }
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
            resources,
            scopes_any: config.scopes_any.clone(),
            groups_any: config.groups_any.clone(),
            groups_all: config.groups_all.clone(),
            claims,
            invalidate_cache: config.invalidate_cache,
        })
    }

    /// The first requirement `token` fails, if any.
    fn unmet(&self, token: &VerifiedToken) -> Option<Requirement> {
        let has = |list: &[String], wanted: &String| list.iter().any(|have| have == wanted);
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

/// `GET /items/{id}` → `["GET/items/*"]`; `ANY /x` → one resource per verb; a WebSocket route key such as
/// `$connect` names itself.
pub fn route_resources(pattern: &str) -> Result<Vec<String>, String> {
    let pattern = pattern.trim();
    if let Some(key) = pattern.strip_prefix('$') {
        if key.is_empty() || !key.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_') {
            return Err(format!("bad WebSocket route key {pattern:?}"));
        }
        return Ok(vec![pattern.to_owned()]);
    }
    let (method, path) = pattern.trim().split_once(' ').ok_or("expected \"METHOD /path\", e.g. \"GET /items/{id}\"")?;
    let path = path.trim();
    let verbs: Vec<&str> = match method {
        "ANY" | "*" => VERBS.to_vec(),
        verb if VERBS.contains(&verb) => vec![verb],
        other => return Err(format!("unknown method {other:?} (use one of {} or ANY)", VERBS.join(", "))),
    };
    if !path.starts_with('/') {
        return Err(format!("path {path:?} must start with '/'"));
    }
    if path.len() > MAX_PATH_PATTERN_BYTES {
        return Err(format!("path longer than {MAX_PATH_PATTERN_BYTES} bytes"));
    }
    let segments: Vec<&str> = path[1..].split('/').collect();
    let mut glob = String::new();
    for (i, segment) in segments.iter().enumerate() {
        if i > 0 {
            glob.push('/');
        }
        if let Some(name) = segment.strip_prefix('{').and_then(|s| s.strip_suffix('}')) {
            let (name, greedy) = name.strip_suffix('+').map_or((name, false), |n| (n, true));
            if name.is_empty() || !name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-') {
                return Err(format!("bad path parameter {segment:?}"));
            }
            if greedy && i + 1 != segments.len() {
                return Err(format!("greedy parameter {segment:?} must be the last segment"));
            }
            glob.push('*');
        } else if segment.bytes().all(|b| b.is_ascii_alphanumeric() || b"-._~!$&'()+,;=:@%*".contains(&b)) {
            glob.push_str(segment);
        } else {
            return Err(format!(
                "path segment {segment:?} has a character routes cannot have ('?', '{{', '}}', space…)"
            ));
        }
    }
    Ok(verbs.into_iter().map(|verb| format!("{verb}/{glob}")).collect())
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
