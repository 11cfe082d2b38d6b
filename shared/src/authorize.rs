//! The decision for one request: token, verification, rules, policy, response, and its log line.
//!
//! This is the only place that turns a verified caller into an answer, so every path out of it is one of:
//! a policy whose Allows come from the rules (200, or 403 for this route), `Unauthorized` (401), or an error
//! (500). Nothing else can produce an Allow; the one Allow without a token is a CORS preflight, for `OPTIONS`
//! only, and only when configured.

use crate::arn::MethodArn;
use crate::config::{AudienceCheck, Config, ConfigError, RequestSettings};
use crate::context;
use crate::log::{DecisionLog, fingerprint};
use crate::online::OnlineCheck;
use crate::outcome::{AuthError, Denial, Fault, Rejection, Status};
use crate::policy::{CachedPolicy, PolicyCache, PolicyDocument};
use crate::request::{Request, RequestEvent, Shape, find_token};
use crate::revocation::RevocationStore;
use crate::rules::{Grants, RuleSet};
use crate::token::{TokenEvent, bearer};
use crate::verify::{ClaimNames, Verifier};
use serde::Serialize;
use serde_json::{Map, Value};
use std::sync::Arc;
use std::time::{Instant, SystemTime, UNIX_EPOCH};

/// An IAM-policy answer (REST, HTTP API 1.0, WebSocket, HTTP API 2.0 by default). Never carries a `null`.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct AuthorizerResponse {
    pub principal_id: String,
    pub policy_document: Arc<CachedPolicy>,
    #[serde(skip_serializing_if = "Map::is_empty")]
    pub context: Map<String, Value>,
    /// The API key for usage plans (REST APIs only), from the configured claim.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub usage_identifier_key: Option<String>,
}

/// HTTP API payload 2.0's simple answer.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct SimpleResponse {
    pub is_authorized: bool,
    #[serde(skip_serializing_if = "Map::is_empty")]
    pub context: Map<String, Value>,
}

/// What a REQUEST authorizer answers, in the form the event's shape expects.
#[derive(Debug, Clone, Serialize)]
#[serde(untagged)]
pub enum RequestResponse {
    Policy(AuthorizerResponse),
    Simple(SimpleResponse),
}

/// The principal given to a CORS preflight, which carries no credentials.
const PREFLIGHT_PRINCIPAL: &str = "anonymous-preflight";

pub struct Authorizer {
    verifier: Verifier,
    rules: RuleSet,
    context_claims: Vec<String>,
    usage_identifier_claim: Option<String>,
    request: RequestSettings,
    revocation: Option<RevocationStore>,
    online: Option<OnlineCheck>,
    policies: PolicyCache,
}

/// A decided request: its policy over every route, and whether this route is denied.
struct Decision {
    response: AuthorizerResponse,
    denial: Option<Denial>,
}

impl Authorizer {
    /// Reads and validates the environment's configuration; call once, at cold start.
    pub fn from_env() -> Result<Self, ConfigError> {
        Self::new(&Config::from_env()?)
    }

    /// Builds the authorizer from a validated configuration and the process environment (AWS region and
    /// credentials, for the revocation table).
    pub fn new(config: &Config) -> Result<Self, ConfigError> {
        Self::with_environment(config, |name| std::env::var(name).ok())
    }

    /// The same, reading the AWS environment through `lookup`.
    pub fn with_environment(config: &Config, lookup: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let (issuers, jwks) = config.validate()?;
        let any_cognito = issuers.iter().any(|i| matches!(i.audience, AudienceCheck::Cognito { .. }));
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
        let request = config.request.validate()?;
        let revocation = match &config.revocation {
            Some(settings) => Some(RevocationStore::new(settings, &lookup)?),
            None => None,
        };
        if rules.has_online_checks() && !any_cognito {
            return Err(ConfigError::new("rules", "online_check asks Cognito, but no issuer is a Cognito user pool"));
        }
        let online = if rules.has_online_checks() { Some(OnlineCheck::new(&lookup)?) } else { None };
        if rules.depends_on_request() {
            tracing::warn!(
                event = "config_warning",
                setting = "rules",
                message = "answers depend on the source address, headers or client certificate: turn authorizer caching \
                           off, or add those ($context.identity.sourceIp, the headers) to the identity sources"
            );
        }
        if request.simple_responses && config.rules.as_ref().is_some_and(|r| !r.routes.is_empty()) {
            tracing::warn!(
                event = "config_warning",
                setting = "request.simple_responses",
                message = "a simple response cannot be route-specific while API Gateway caches it: turn authorizer \
                           caching off, or add the route ($context.routeKey) to the identity sources"
            );
        }
        Ok(Authorizer {
            verifier,
            rules,
            context_claims: config.context_claims.clone(),
            usage_identifier_claim: config.usage_identifier_claim.clone(),
            request,
            revocation,
            online,
            policies: PolicyCache::default(),
        })
    }

    /// Answers a REST TOKEN authorizer event, and logs the decision.
    pub async fn token_event(&self, event: &TokenEvent) -> Result<AuthorizerResponse, AuthError> {
        let started = Instant::now();
        let mut log = DecisionLog::default();
        let result = async {
            if event.kind != "TOKEN" {
                return Err(Fault::BadEvent("not a TOKEN event (type is not \"TOKEN\")".into()).into());
            }
            let token = bearer(event.authorization_token.as_deref().unwrap_or(""));
            self.decide(&event.method_arn, token, None, &mut log).await
        }
        .await;
        finish(result, &log, started).map(|decision| decision.response)
    }

    /// Answers a REST TOKEN authorizer event given as its JSON text, and logs the decision.
    pub async fn token_event_json(&self, event: &str) -> Result<AuthorizerResponse, AuthError> {
        let started = Instant::now();
        match TokenEvent::parse(event) {
            Ok(event) => self.token_event(&event).await,
            Err(fault) => Err(unreadable(fault, started)),
        }
    }

    /// Answers a REQUEST authorizer event of any shape, given as its JSON text, and logs the decision.
    pub async fn request_event(&self, event: &str) -> Result<RequestResponse, AuthError> {
        let started = Instant::now();
        let mut log = DecisionLog::default();
        let request = match RequestEvent::parse(event).and_then(Request::from_event) {
            Ok(request) => request,
            Err(fault) => return Err(unreadable(fault, started)),
        };
        let simple = request.shape == Shape::HttpV2 && self.request.simple_responses;
        let result = if request.is_preflight() && self.request.allow_cors_preflight {
            self.preflight(&request.arn, &mut log)
        } else {
            let sources = match request.shape {
                Shape::WebSocket => &self.request.websocket_identity_sources,
                _ => &self.request.identity_sources,
            };
            self.decide(&request.arn, find_token(&request, sources), Some(&request), &mut log).await
        };
        finish(result, &log, started).map(|decision| match simple {
            false => RequestResponse::Policy(decision.response),
            true => {
                let is_authorized = decision.denial.is_none();
                let context = if is_authorized { decision.response.context } else { Map::new() };
                RequestResponse::Simple(SimpleResponse { is_authorized, context })
            }
        })
    }

    async fn decide<'e>(
        &self,
        arn: &'e str,
        token: Result<&str, Rejection>,
        request: Option<&Request>,
        log: &mut DecisionLog<'e>,
    ) -> Result<Decision, AuthError> {
        let arn = MethodArn::parse(arn).map_err(Fault::BadEvent)?;
        log.route = arn.route;
        let token = token?;
        log.token_fingerprint = Some(fingerprint(token));
        let verified = self.verifier.verify(token, unix_now()).await?;
        log.principal = Some(verified.principal.clone());
        log.issuer = Some(verified.issuer.clone());
        log.kid = Some(verified.kid.clone());
        if let Some(store) = &self.revocation {
            store.check(&verified).await?;
        }
        let verdicts = self.rules.evaluate(&verified, request);
        if let Some(online) = self.online.as_ref().filter(|_| verdicts.needs_online_check()) {
            online.check(token, &verified).await?;
        }
        let denial = verdicts.decide(arn.route).err();
        let policy_document = self.policies.get(arn.stage_prefix, &verdicts);
        let (context, dropped) = context::from_claims(&verified.claims, &self.context_claims);
        log.context_dropped = dropped;
        // Usage plans exist for REST APIs only (TOKEN events come from REST APIs).
        let rest_api = request.is_none_or(|r| r.shape == Shape::Rest);
        let usage_identifier_key = (self.usage_identifier_claim.as_ref())
            .filter(|_| rest_api)
            .and_then(|claim| verified.claims.get(claim)?.as_str().map(str::to_owned));
        let response =
            AuthorizerResponse { principal_id: verified.principal, policy_document, context, usage_identifier_key };
        Ok(Decision { response, denial })
    }

    /// A CORS preflight carries no credentials: it may call `OPTIONS` on this stage, and nothing else.
    fn preflight<'e>(&self, arn: &'e str, log: &mut DecisionLog<'e>) -> Result<Decision, AuthError> {
        let arn = MethodArn::parse(arn).map_err(Fault::BadEvent)?;
        log.route = arn.route;
        log.principal = Some(PREFLIGHT_PRINCIPAL.to_owned());
        let grants = Grants { allow: vec!["OPTIONS/*"], ..Grants::default() };
        let policy = CachedPolicy::from(PolicyDocument::build(arn.stage_prefix, &grants));
        let response = AuthorizerResponse {
            principal_id: PREFLIGHT_PRINCIPAL.to_owned(),
            policy_document: Arc::new(policy),
            context: Map::new(),
            usage_identifier_key: None,
        };
        Ok(Decision { response, denial: None })
    }
}

/// Logs the line of an event that could not be read, and returns its error.
fn unreadable(fault: Fault, started: Instant) -> AuthError {
    let error = AuthError::from(fault);
    DecisionLog::default().emit(error.status(), error.code(), error.detail(), started.elapsed());
    error
}

/// Logs the decision's one line and hands the result on.
fn finish(result: Result<Decision, AuthError>, log: &DecisionLog, started: Instant) -> Result<Decision, AuthError> {
    let (status, reason) = match &result {
        Ok(Decision { denial: None, .. }) => (Status::Allowed, "allowed"),
        Ok(Decision { denial: Some(denial), .. }) => (Status::Forbidden, denial.code()),
        Err(error) => (error.status(), error.code()),
    };
    log.emit(status, reason, result.as_ref().err().and_then(AuthError::detail), started.elapsed());
    result
}

fn unix_now() -> i64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs() as i64)
}
