//! The decision for one request: token, verification, rules, policy, response, and its log line.
//!
//! This is the only place that turns a verified caller into an answer, so every path out of it is one of:
//! a policy whose Allows come from the rules (200, or 403 for this route), `Unauthorized` (401), or an error
//! (500). Nothing else can produce an Allow.

use crate::arn::MethodArn;
use crate::config::{Config, ConfigError};
use crate::context;
use crate::log::{DecisionLog, fingerprint};
use crate::outcome::{AuthError, Denial, Fault, Status};
use crate::policy::{CachedPolicy, PolicyCache};
use crate::rules::RuleSet;
use crate::token::{TokenEvent, bearer};
use crate::verify::{ClaimNames, Verifier};
use serde::Serialize;
use serde_json::{Map, Value};
use std::sync::Arc;
use std::time::{Instant, SystemTime, UNIX_EPOCH};

/// A REST authorizer's answer: never carries a `null` (empty context is left out).
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct AuthorizerResponse {
    pub principal_id: String,
    pub policy_document: Arc<CachedPolicy>,
    #[serde(skip_serializing_if = "Map::is_empty")]
    pub context: Map<String, Value>,
}

pub struct Authorizer {
    verifier: Verifier,
    rules: RuleSet,
    context_claims: Vec<String>,
    policies: PolicyCache,
}

impl Authorizer {
    /// Reads and validates the environment's configuration; call once, at cold start.
    pub fn from_env() -> Result<Self, ConfigError> {
        Self::new(&Config::from_env()?)
    }

    pub fn new(config: &Config) -> Result<Self, ConfigError> {
        let (issuers, jwks) = config.validate()?;
        let names = ClaimNames {
            principal: config.principal_claim.clone(),
            scope: config.scope_claim.clone(),
            groups: config.groups_claim.clone(),
        };
        let verifier = Verifier::new(issuers, jwks, names).map_err(|e| ConfigError::new("issuers", e))?;
        let rules = match &config.rules {
            Some(rules) => RuleSet::compile(rules)?,
            None => RuleSet::allow_all(),
        };
        Ok(Authorizer {
            verifier,
            rules,
            context_claims: config.context_claims.clone(),
            policies: PolicyCache::default(),
        })
    }

    /// Answers a REST TOKEN authorizer event, and logs the decision.
    pub async fn token_event(&self, event: &TokenEvent) -> Result<AuthorizerResponse, AuthError> {
        let started = Instant::now();
        let mut log = DecisionLog::default();
        let result = self.decide_token(event, &mut log).await;
        let (status, reason) = match &result {
            Ok((_, None)) => (Status::Allowed, "allowed"),
            Ok((_, Some(denial))) => (Status::Forbidden, denial.code()),
            Err(error) => (error.status(), error.code()),
        };
        log.emit(status, reason, started.elapsed());
        result.map(|(response, _)| response)
    }

    async fn decide_token<'e>(
        &self,
        event: &'e TokenEvent,
        log: &mut DecisionLog<'e>,
    ) -> Result<(AuthorizerResponse, Option<Denial>), AuthError> {
        if event.kind != "TOKEN" {
            return Err(Fault::BadEvent(format!("expected a TOKEN event, got type {:?}", event.kind)).into());
        }
        let arn = MethodArn::parse(&event.method_arn).map_err(Fault::BadEvent)?;
        log.route = arn.route;
        let token = bearer(event.authorization_token.as_deref().unwrap_or(""))?;
        log.token_fingerprint = Some(fingerprint(token));
        let verified = self.verifier.verify(token, unix_now()).await?;
        let verdicts = self.rules.evaluate(&verified);
        let denial = verdicts.decide(arn.route).err();
        let policy_document = self.policies.get(arn.stage_prefix, &verdicts);
        let (context, dropped) = context::from_claims(&verified.claims, &self.context_claims);
        log.context_dropped = dropped;
        log.principal = Some(verified.principal.clone());
        log.issuer = Some(verified.issuer.clone());
        log.kid = Some(verified.kid.clone());
        Ok((AuthorizerResponse { principal_id: verified.principal, policy_document, context }, denial))
    }
}

fn unix_now() -> i64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs() as i64)
}
