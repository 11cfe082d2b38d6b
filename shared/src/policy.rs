//! IAM policy documents for `execute-api`, and an evaluator that answers them as API Gateway does.
//!
//! The policy covers every route a caller may call, not only the one being requested, because API Gateway
//! reuses a cached policy for every method the same token calls. A caller who may call nothing gets one
//! explicit Deny. The builder must never emit a wildcard that the grants did not contain, nor an Allow for
//! a route the rules refuse.

use crate::glob;
use crate::rules::{Grants, VerdictKey, Verdicts};
use serde::{Deserialize, Serialize, Serializer};
use serde_json::value::RawValue;
use std::collections::VecDeque;
use std::ops::Deref;
use std::sync::{Arc, Mutex};

pub const POLICY_VERSION: &str = "2012-10-17";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    Invoke,
    InvalidateCache,
}

impl Action {
    pub fn name(self) -> &'static str {
        match self {
            Action::Invoke => "execute-api:Invoke",
            Action::InvalidateCache => "execute-api:InvalidateCache",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Effect {
    Allow,
    Deny,
}

/// What a policy answers for one action on one resource.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Evaluation {
    Allow,
    /// A Deny statement matched: it wins over any Allow.
    ExplicitDeny,
    /// No statement matched.
    ImplicitDeny,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PolicyDocument {
    #[serde(rename = "Version")]
    pub version: String,
    #[serde(rename = "Statement")]
    pub statements: Vec<Statement>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Statement {
    #[serde(rename = "Effect")]
    pub effect: Effect,
    #[serde(rename = "Action")]
    pub action: OneOrMany,
    #[serde(rename = "Resource")]
    pub resource: OneOrMany,
    /// Never emitted here; read so that the evaluator can stay conservative about other policies.
    #[serde(rename = "Condition", default, skip_serializing_if = "Option::is_none")]
    pub condition: Option<serde_json::Value>,
}

/// IAM accepts a string or a list wherever a list is meant.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum OneOrMany {
    One(String),
    Many(Vec<String>),
}

impl OneOrMany {
    fn iter(&self) -> impl Iterator<Item = &str> {
        let slice = match self {
            OneOrMany::One(one) => std::slice::from_ref(one),
            OneOrMany::Many(many) => many.as_slice(),
        };
        slice.iter().map(String::as_str)
    }
}

impl PolicyDocument {
    /// Builds the caller's policy from its grants, under `stage_prefix` (`arn:…:{api}/{stage}/`).
    pub fn build(stage_prefix: &str, grants: &Grants) -> PolicyDocument {
        let resources = |routes: &[&str]| -> Vec<String> {
            let mut out: Vec<String> = Vec::with_capacity(routes.len());
            for route in routes {
                let arn = format!("{stage_prefix}{route}");
                if !out.contains(&arn) {
                    out.push(arn);
                }
            }
            out
        };
        let statement = |effect, actions: &[Action], resource: Vec<String>| Statement {
            effect,
            action: match actions {
                [one] => OneOrMany::One(one.name().to_owned()),
                many => OneOrMany::Many(many.iter().map(|a| a.name().to_owned()).collect()),
            },
            resource: OneOrMany::Many(resource),
            condition: None,
        };
        let both = [Action::Invoke, Action::InvalidateCache];
        let mut statements = Vec::new();
        if !grants.allow_all && grants.allow.is_empty() {
            statements.push(statement(Effect::Deny, &both, vec![format!("{stage_prefix}*")]));
        } else {
            let allowed = if grants.allow_all { vec![format!("{stage_prefix}*")] } else { resources(&grants.allow) };
            statements.push(statement(Effect::Allow, &[Action::Invoke], allowed));
            if !grants.invalidate_cache.is_empty() {
                statements.push(statement(
                    Effect::Allow,
                    &[Action::InvalidateCache],
                    resources(&grants.invalidate_cache),
                ));
            }
            if !grants.deny.is_empty() {
                statements.push(statement(Effect::Deny, &both, resources(&grants.deny)));
            }
        }
        PolicyDocument { version: POLICY_VERSION.to_owned(), statements }
    }

    /// API Gateway's answer for `action` on `resource` (a method ARN): an explicit Deny wins, then any
    /// Allow, else an implicit deny. A statement with a `Condition` cannot be judged here, so it is taken to
    /// apply when it denies and not to apply when it allows.
    pub fn evaluate(&self, action: Action, resource: &str) -> Evaluation {
        let mut allowed = false;
        for statement in &self.statements {
            let applies = statement.action.iter().any(|a| action_matches(a, action))
                && statement.resource.iter().any(|r| glob::matches(r, resource));
            match statement.effect {
                Effect::Deny if applies => return Evaluation::ExplicitDeny,
                Effect::Allow if applies && statement.condition.is_none() => allowed = true,
                _ => {}
            }
        }
        if allowed { Evaluation::Allow } else { Evaluation::ImplicitDeny }
    }

    /// Every resource of every statement with `effect`, for readable output.
    pub fn resources(&self, effect: Effect) -> impl Iterator<Item = &str> {
        self.statements.iter().filter(move |s| s.effect == effect).flat_map(|s| s.resource.iter())
    }
}

/// A policy document with its JSON already written: callers whose rule verdicts match share one.
#[derive(Debug)]
pub struct CachedPolicy {
    document: PolicyDocument,
    json: Box<RawValue>,
}

impl From<PolicyDocument> for CachedPolicy {
    fn from(document: PolicyDocument) -> Self {
        let json = serde_json::value::to_raw_value(&document).expect("a policy document always serializes");
        CachedPolicy { document, json }
    }
}

impl Deref for CachedPolicy {
    type Target = PolicyDocument;
    fn deref(&self) -> &PolicyDocument {
        &self.document
    }
}

impl Serialize for CachedPolicy {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        self.json.serialize(serializer)
    }
}

/// A policy depends only on the stage prefix, on which rules the caller meets and on the claim values bound
/// into routes, so a warm function builds and serializes each distinct one once. Bounded: the oldest entry
/// goes first.
#[derive(Debug, Default)]
pub struct PolicyCache {
    entries: Mutex<VecDeque<CacheEntry>>,
}

/// The stage prefix, what the grants depend on, and the policy those give.
type CacheEntry = (String, VerdictKey, Arc<CachedPolicy>);

impl PolicyCache {
    pub const CAPACITY: usize = 64;

    pub fn get(&self, stage_prefix: &str, verdicts: &Verdicts) -> Arc<CachedPolicy> {
        let same = |(prefix, key, _): &&CacheEntry| prefix == stage_prefix && verdicts.has_key(key);
        if let Some((_, _, policy)) = self.lock().iter().find(same) {
            return policy.clone();
        }
        let policy = Arc::new(CachedPolicy::from(PolicyDocument::build(stage_prefix, &verdicts.grants())));
        let mut entries = self.lock();
        if entries.len() == Self::CAPACITY {
            entries.pop_front();
        }
        entries.push_back((stage_prefix.to_owned(), verdicts.key(), policy.clone()));
        policy
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, VecDeque<CacheEntry>> {
        self.entries.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

/// Action names are case-insensitive in IAM.
fn action_matches(pattern: &str, action: Action) -> bool {
    glob::matches(&pattern.to_ascii_lowercase(), &action.name().to_ascii_lowercase())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const PREFIX: &str = "arn:aws:execute-api:us-east-1:123456789012:api1/prod/";

    fn arn(route: &str) -> String {
        format!("{PREFIX}{route}")
    }

    #[test]
    fn a_caller_who_may_call_nothing_gets_one_explicit_deny() {
        let policy = PolicyDocument::build(PREFIX, &Grants::default());
        assert_eq!(policy.statements.len(), 1);
        assert_eq!(policy.statements[0].effect, Effect::Deny);
        assert_eq!(policy.evaluate(Action::Invoke, &arn("GET/x")), Evaluation::ExplicitDeny);
        assert_eq!(policy.evaluate(Action::InvalidateCache, &arn("GET/x")), Evaluation::ExplicitDeny);
    }

    #[test]
    fn allows_denies_and_invalidate_cache() {
        let grants = Grants {
            allow_all: false,
            allow: vec!["GET/items/*", "GET/items/*"],
            invalidate_cache: vec!["GET/items/*"],
            deny: vec!["GET/items/*/secret"],
        };
        let policy = PolicyDocument::build(PREFIX, &grants);
        let text = serde_json::to_value(&policy).unwrap();
        assert_eq!(text["Statement"][0]["Resource"], json!([arn("GET/items/*")]), "duplicates are dropped");
        assert_eq!(policy.evaluate(Action::Invoke, &arn("GET/items/1")), Evaluation::Allow);
        assert_eq!(policy.evaluate(Action::Invoke, &arn("GET/items/1/secret")), Evaluation::ExplicitDeny);
        assert_eq!(policy.evaluate(Action::Invoke, &arn("POST/items/1")), Evaluation::ImplicitDeny);
        assert_eq!(policy.evaluate(Action::InvalidateCache, &arn("GET/items/1")), Evaluation::Allow);
        assert_eq!(policy.evaluate(Action::InvalidateCache, &arn("GET/items/1/secret")), Evaluation::ExplicitDeny);
        let other_stage = "arn:aws:execute-api:us-east-1:123456789012:api1/test/GET/items/1";
        assert_eq!(policy.evaluate(Action::Invoke, other_stage), Evaluation::ImplicitDeny);
    }

    #[test]
    fn allow_all_covers_the_stage_only() {
        let policy = PolicyDocument::build(PREFIX, &Grants { allow_all: true, ..Grants::default() });
        assert_eq!(policy.evaluate(Action::Invoke, &arn("DELETE/any/thing")), Evaluation::Allow);
        assert_eq!(policy.evaluate(Action::InvalidateCache, &arn("GET/")), Evaluation::ImplicitDeny);
        let other_api = "arn:aws:execute-api:us-east-1:123456789012:api2/prod/GET/";
        assert_eq!(policy.evaluate(Action::Invoke, other_api), Evaluation::ImplicitDeny);
    }

    #[test]
    fn the_cache_shares_policies_by_stage_and_verdicts_and_stays_bounded() {
        use crate::rules::{RuleSet, RulesConfig};
        let config: RulesConfig = toml::from_str("[[route]]\nmatch = [\"GET /a\"]\ngroups_any = [\"g\"]").unwrap();
        let rules = RuleSet::compile(&config).unwrap();
        let member = crate::verify::tests::token_with_groups(&["g"]);
        let outsider = crate::verify::tests::token_with_groups(&[]);
        let cache = PolicyCache::default();
        let (member, outsider) = (rules.evaluate(&member, None), rules.evaluate(&outsider, None));
        let first = cache.get(PREFIX, &member);
        assert!(Arc::ptr_eq(&first, &cache.get(PREFIX, &member)));
        assert_eq!(first.evaluate(Action::Invoke, &arn("GET/a")), Evaluation::Allow);
        let denied = cache.get(PREFIX, &outsider);
        assert_eq!(denied.evaluate(Action::Invoke, &arn("GET/a")), Evaluation::ExplicitDeny);
        let serialized = serde_json::to_value(&*denied).unwrap();
        assert_eq!(serialized, serde_json::to_value(&denied.document).unwrap());
        for stage in 0..PolicyCache::CAPACITY + 5 {
            let prefix = format!("arn:aws:execute-api:us-east-1:123456789012:api1/s{stage}/");
            let policy = cache.get(&prefix, &member);
            assert_eq!(policy.evaluate(Action::Invoke, &format!("{prefix}GET/a")), Evaluation::Allow);
        }
        assert_eq!(cache.lock().len(), PolicyCache::CAPACITY);
    }

    #[test]
    fn evaluates_foreign_policies_conservatively() {
        let policy: PolicyDocument = serde_json::from_value(json!({
            "Version": "2012-10-17",
            "Statement": [
                {"Effect": "Allow", "Action": "execute-api:*", "Resource": "arn:aws:execute-api:*:*:*/*/GET/*"},
                {"Effect": "Allow", "Action": "EXECUTE-API:invoke", "Resource": ["arn:aws:execute-api:*:*:*/*/POST/*"],
                 "Condition": {"IpAddress": {"aws:SourceIp": "10.0.0.0/8"}}},
                {"Effect": "Deny", "Action": ["execute-api:Invoke"], "Resource": "arn:aws:execute-api:*:*:*/*/DELETE/*",
                 "Condition": {"Bool": {"aws:SecureTransport": "false"}}}
            ]
        }))
        .unwrap();
        assert_eq!(policy.evaluate(Action::Invoke, &arn("GET/a")), Evaluation::Allow);
        assert_eq!(policy.evaluate(Action::Invoke, &arn("POST/a")), Evaluation::ImplicitDeny);
        assert_eq!(policy.evaluate(Action::Invoke, &arn("GET/a")), Evaluation::Allow);
        assert_eq!(policy.evaluate(Action::Invoke, &arn("DELETE/a")), Evaluation::ExplicitDeny);
    }
}
