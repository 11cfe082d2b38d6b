//! The cache invalidator's decisions: what a Cognito change or a direct command means for the revocation
//! table and for API Gateway's authorizer caches, and the order the work is done in.
//!
//! Triggers are EventBridge events for Cognito calls recorded by CloudTrail (`AWS API Call via CloudTrail`)
//! and a small command set for direct invocation. Nothing here talks to AWS: the binary supplies a
//! [`ControlPlane`]. It must never report success when part of the work failed (Lambda retries it, and every
//! step is idempotent), never move a user's cut-off backwards, and never fail on an event it does not
//! handle (an error there would only loop).

use crate::config::{ConfigError, bounded, cognito_issuer};
use crate::revocation::RevocationEntry;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::fmt;
use std::future::Future;
use std::time::{Duration, Instant};

/// The Cognito calls after which a user's earlier tokens must stop passing. CloudTrail hides the token of
/// `RevokeToken`, so its family cannot be named: the user's cut-off is the closest safe answer.
const CUT_OFF_EVENTS: &[&str] = &[
    "AdminUserGlobalSignOut",
    "GlobalSignOut",
    "RevokeToken",
    "AdminDisableUser",
    "AdminDeleteUser",
    "DeleteUser",
    "AdminAddUserToGroup",
    "AdminRemoveUserFromGroup",
    "AdminResetUserPassword",
    "AdminSetUserPassword",
    "ChangePassword",
    "ConfirmForgotPassword",
];

/// The invalidator's settings, read from its environment once, at cold start.
#[derive(Debug, Clone)]
pub struct InvalidatorSettings {
    pub table: String,
    pub user_pool_id: String,
    /// The `iss` of the pool's tokens: user cut-offs are keyed by it.
    pub issuer: String,
    pub stages: Vec<Stage>,
    /// The longest lifetime of a token the pool issues: how long an entry must be kept.
    pub max_token_lifetime: i64,
    /// The authorizers' revocation staleness: after it, a second flush drops any Allow an authorizer cached
    /// from a read made just before the entry was written.
    pub reflush_after: Duration,
}

impl InvalidatorSettings {
    pub fn from_env() -> Result<Self, ConfigError> {
        Self::from_lookup(|name| std::env::var(name).ok())
    }

    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let get = |name: &str| lookup(name).map(|v| v.trim().to_owned()).filter(|v| !v.is_empty());
        let required = |name: &str, what: &str| get(name).ok_or_else(|| ConfigError::new(name, what));
        let number = |name: &str, default: u64, min: u64, max: u64| match get(name) {
            None => Ok(default),
            Some(v) => bounded(
                name,
                v.parse().map_err(|_| ConfigError::new(name, format!("{v:?} is not a number")))?,
                min,
                max,
            ),
        };
        let table = required("REVOCATION_TABLE", "the revocation table's name is required")?;
        let user_pool_id = required("COGNITO_USER_POOL_ID", "the user pool whose changes are handled is required")?;
        let issuer = cognito_issuer(&user_pool_id).ok_or_else(|| {
            ConfigError::new("COGNITO_USER_POOL_ID", format!("{user_pool_id:?} is not a pool id like us-east-1_AbC123"))
        })?;
        let mut stages = Stage::parse_list(get("REST_API_STAGES"), ApiKind::Rest, "REST_API_STAGES")?;
        stages.extend(Stage::parse_list(get("HTTP_API_STAGES"), ApiKind::Http, "HTTP_API_STAGES")?);
        Ok(InvalidatorSettings {
            table,
            user_pool_id,
            issuer,
            stages,
            max_token_lifetime: number("MAX_TOKEN_LIFETIME_SECONDS", 86_400, 300, 10 * 86_400)? as i64,
            reflush_after: Duration::from_secs(number("REFLUSH_AFTER_SECONDS", 30, 0, 600)?),
        })
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ApiKind {
    /// `FlushStageAuthorizersCache`.
    Rest,
    /// `ResetAuthorizersCache`. WebSocket APIs have no such call: their authorizer caches cannot be flushed.
    Http,
}

/// A stage whose authorizer cache is flushed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Stage {
    pub kind: ApiKind,
    pub api_id: String,
    pub name: String,
}

impl Stage {
    /// `apiId/stage,apiId/stage`.
    fn parse_list(list: Option<String>, kind: ApiKind, setting: &str) -> Result<Vec<Stage>, ConfigError> {
        let Some(list) = list else { return Ok(Vec::new()) };
        let valid = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_alphanumeric() || b"-_$".contains(&b));
        list.split(',')
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(|item| match item.split_once('/') {
                Some((api_id, name)) if valid(api_id) && valid(name) => {
                    Ok(Stage { kind, api_id: api_id.to_owned(), name: name.to_owned() })
                }
                _ => Err(ConfigError::new(setting, format!("{item:?} is not apiId/stageName"))),
            })
            .collect()
    }
}

impl fmt::Display for Stage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let kind = match self.kind {
            ApiKind::Rest => "rest",
            ApiKind::Http => "http",
        };
        write!(f, "{kind}:{}/{}", self.api_id, self.name)
    }
}

/// The AWS calls the invalidator needs, supplied by the binary.
pub trait ControlPlane: Sync {
    /// The `sub` of `username` in the configured pool; `None` when there is no such user.
    fn user_sub(&self, username: &str) -> impl Future<Output = Result<Option<String>, String>> + Send;
    /// Writes `entry`. A user cut-off that is already later stays as it is.
    fn write(&self, entry: &RevocationEntry) -> impl Future<Output = Result<(), String>> + Send;
    /// Drops every cached authorizer answer of `stage`.
    fn flush(&self, stage: &Stage) -> impl Future<Output = Result<(), String>> + Send;
}

/// A direct invocation.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(tag = "action", rename_all = "snake_case", deny_unknown_fields)]
pub enum Command {
    /// Revokes every token of a user issued until now (by `username` or `sub`).
    RevokeUser { username: Option<String>, sub: Option<String> },
    /// Revokes every token refreshed from one refresh token.
    RevokeFamily { origin_jti: String },
    /// Revokes one token.
    RevokeToken { jti: String },
    /// Only flushes the stages.
    Flush,
}

/// Who a cut-off is for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum User {
    Sub(String),
    /// Resolved to a `sub` with `AdminGetUser`.
    Username(String),
}

/// What one event asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Work {
    RevokeUser { user: User, not_before: i64 },
    RevokeFamily { origin_jti: String },
    RevokeToken { jti: String },
    Flush,
}

/// An event, understood: work to do, or a reason to acknowledge it and do nothing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Trigger {
    Work { cause: String, work: Work },
    Ignored { cause: String, reason: &'static str },
}

impl Trigger {
    /// Reads an event at `now` (epoch seconds). Only a malformed command is an error: it comes from a caller
    /// who can fix it, while any other event is acknowledged.
    pub fn parse(raw: &str, settings: &InvalidatorSettings, now: i64) -> Result<Trigger, InvalidationError> {
        let event: Value = serde_json::from_str(raw).map_err(|_| InvalidationError::BadEvent("not JSON".into()))?;
        if event.get("action").is_some() {
            let command: Command = serde_json::from_value(event).map_err(|e| {
                // serde quotes the values of unknown variants and mistyped fields, never field values otherwise.
                let message = e.to_string();
                InvalidationError::BadEvent(if message.starts_with("unknown variant") {
                    "unknown action: use revoke_user, revoke_family, revoke_token or flush".into()
                } else if message.starts_with("invalid type") {
                    "a field has the wrong type".into()
                } else {
                    message
                })
            })?;
            let cause = format!("command:{}", command.name());
            return Ok(Trigger::Work { cause, work: command.into_work(now)? });
        }
        let cloudtrail = event["detail-type"] == "AWS API Call via CloudTrail" && event["source"] == "aws.cognito-idp";
        if !cloudtrail {
            return Ok(Trigger::Ignored { cause: "unknown".into(), reason: "not_a_cognito_event" });
        }
        Ok(Self::from_cloudtrail(&event["detail"], settings, now))
    }

    fn from_cloudtrail(detail: &Value, settings: &InvalidatorSettings, now: i64) -> Trigger {
        let name = detail["eventName"].as_str().unwrap_or_default();
        let cause = format!("cloudtrail:{name}");
        let ignored = |reason| Trigger::Ignored { cause: cause.clone(), reason };
        if detail["errorCode"].as_str().is_some_and(|code| !code.is_empty()) {
            return ignored("call_failed");
        }
        if !CUT_OFF_EVENTS.contains(&name) {
            return ignored("changes_no_token");
        }
        if detail["requestParameters"]["userPoolId"].as_str().is_some_and(|pool| pool != settings.user_pool_id) {
            return ignored("another_user_pool");
        }
        // Cognito records the user's `sub` and hides user names; older events may still name the user.
        let shown = |value: &Value| {
            value
                .as_str()
                .filter(|s| !s.is_empty() && !s.starts_with("HIDDEN_") && check_id(s).is_ok())
                .map(str::to_owned)
        };
        let user = match (shown(&detail["additionalEventData"]["sub"]), shown(&detail["requestParameters"]["username"]))
        {
            (Some(sub), _) => User::Sub(sub),
            (None, Some(username)) => User::Username(username),
            (None, None) => return ignored("names_no_user"),
        };
        // Every token issued up to the call's second is revoked: CloudTrail times have one-second precision,
        // and the event may arrive minutes later, after a fresh sign-in that must keep working.
        let called_at = detail["eventTime"].as_str().and_then(epoch_seconds).unwrap_or(now);
        Trigger::Work { cause, work: Work::RevokeUser { user, not_before: called_at + 1 } }
    }
}

impl Command {
    fn name(&self) -> &'static str {
        match self {
            Command::RevokeUser { .. } => "revoke_user",
            Command::RevokeFamily { .. } => "revoke_family",
            Command::RevokeToken { .. } => "revoke_token",
            Command::Flush => "flush",
        }
    }

    fn into_work(self, now: i64) -> Result<Work, InvalidationError> {
        let id = |value: String| check_id(&value).map(|()| value);
        Ok(match self {
            Command::RevokeUser { sub: Some(sub), username: None } => {
                Work::RevokeUser { user: User::Sub(id(sub)?), not_before: now + 1 }
            }
            Command::RevokeUser { username: Some(name), sub: None } => {
                Work::RevokeUser { user: User::Username(id(name)?), not_before: now + 1 }
            }
            Command::RevokeUser { .. } => {
                return Err(InvalidationError::BadEvent("revoke_user needs exactly one of username and sub".into()));
            }
            Command::RevokeFamily { origin_jti } => Work::RevokeFamily { origin_jti: id(origin_jti)? },
            Command::RevokeToken { jti } => Work::RevokeToken { jti: id(jti)? },
            Command::Flush => Work::Flush,
        })
    }
}

/// Identifiers become table keys: printable, without the key separator, of a sane length.
fn check_id(value: &str) -> Result<(), InvalidationError> {
    let ok = (1..=256).contains(&value.len()) && value.chars().all(|c| !c.is_control() && c != '#');
    if ok {
        Ok(())
    } else {
        Err(InvalidationError::BadEvent("an identifier is empty, too long or not printable".into()))
    }
}

/// `YYYY-MM-DDTHH:MM:SS[.fff]Z`, CloudTrail's time format, to epoch seconds.
fn epoch_seconds(time: &str) -> Option<i64> {
    let b = time.as_bytes();
    let shape = b.len() >= 20 && b[4] == b'-' && b[7] == b'-' && b[10] == b'T' && b[13] == b':' && b[16] == b':';
    if !shape || !time.ends_with('Z') || !time.is_ascii() {
        return None;
    }
    let num = |range: std::ops::Range<usize>| time[range].parse::<i64>().ok();
    let (y, m, d) = (num(0..4)?, num(5..7)?, num(8..10)?);
    let (hh, mm, ss) = (num(11..13)?, num(14..16)?, num(17..19)?);
    if !(1..=12).contains(&m) || !(1..=31).contains(&d) || hh > 23 || mm > 59 || ss > 60 {
        return None;
    }
    // Days from the civil date (Howard Hinnant's algorithm).
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    Some(days * 86_400 + hh * 3600 + mm * 60 + ss)
}

/// Why an event could not be handled.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum InvalidationError {
    /// A direct command that cannot be read. Not retried: the caller must fix it.
    #[error("bad event: {0}")]
    BadEvent(String),
    /// A step failed; the steps before it are done and doing them again is harmless, so Lambda retries.
    #[error("{step} failed: {reason}")]
    Failed { step: String, reason: String },
}

impl InvalidationError {
    pub fn error_type(&self) -> &'static str {
        match self {
            InvalidationError::BadEvent(_) => "BadEvent",
            InvalidationError::Failed { .. } => "InvalidationFailed",
        }
    }
}

/// What was done for one event: the function's answer and its log line.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Report {
    pub cause: String,
    /// `done` or `ignored`.
    pub outcome: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<&'static str>,
    /// The revocation entry written, if any.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub revoked: Option<RevocationEntry>,
    /// Each stage flushed, once per flush round.
    pub flushed: Vec<String>,
}

impl Report {
    fn ignored(cause: String, reason: &'static str) -> Self {
        Report { cause, outcome: "ignored", reason: Some(reason), revoked: None, flushed: vec![] }
    }
}

/// Handles one event after another with the same settings.
pub struct Invalidator {
    settings: InvalidatorSettings,
}

impl Invalidator {
    pub fn new(settings: InvalidatorSettings) -> Self {
        Invalidator { settings }
    }

    pub fn settings(&self) -> &InvalidatorSettings {
        &self.settings
    }

    /// Handles one raw event at `now` (epoch seconds), and logs one line about it.
    pub async fn handle(&self, raw: &str, plane: &impl ControlPlane, now: i64) -> Result<Report, InvalidationError> {
        let started = Instant::now();
        let result = self.run(raw, plane, now).await;
        let latency_ms = started.elapsed().as_millis() as u64;
        match &result {
            Ok(report) => tracing::info!(
                event = "invalidation",
                cause = %report.cause,
                outcome = report.outcome,
                reason = report.reason.unwrap_or(""),
                revoked = report.revoked.as_ref().map_or("", |entry| entry.pk.as_str()),
                flushed = report.flushed.len(),
                latency_ms,
            ),
            Err(error) => {
                tracing::error!(event = "invalidation", outcome = "error", error_type = error.error_type(), error = %error, latency_ms)
            }
        }
        result
    }

    async fn run(&self, raw: &str, plane: &impl ControlPlane, now: i64) -> Result<Report, InvalidationError> {
        let (cause, work) = match Trigger::parse(raw, &self.settings, now)? {
            Trigger::Ignored { cause, reason } => {
                return Ok(Report::ignored(cause, reason));
            }
            Trigger::Work { cause, work } => (cause, work),
        };
        let lifetime = self.settings.max_token_lifetime;
        let entry = match work {
            Work::RevokeUser { user, not_before } => {
                let sub = match user {
                    User::Sub(sub) => sub,
                    User::Username(name) => match plane.user_sub(&name).await.map_err(failed("AdminGetUser"))? {
                        Some(sub) => sub,
                        None => return Ok(Report::ignored(cause, "no_such_user")),
                    },
                };
                Some(RevocationEntry::user(&self.settings.issuer, &sub, not_before, lifetime))
            }
            Work::RevokeFamily { origin_jti } => Some(RevocationEntry::family(&origin_jti, now, lifetime)),
            Work::RevokeToken { jti } => Some(RevocationEntry::token(&jti, now, lifetime)),
            Work::Flush => None,
        };
        if let Some(entry) = &entry {
            plane.write(entry).await.map_err(failed("write"))?;
        }
        let mut flushed = self.flush_all(plane).await?;
        if entry.is_some() && !self.settings.reflush_after.is_zero() && !self.settings.stages.is_empty() {
            tokio::time::sleep(self.settings.reflush_after).await;
            flushed.extend(self.flush_all(plane).await?);
        }
        Ok(Report { cause, outcome: "done", reason: None, revoked: entry, flushed })
    }

    /// Flushes every stage, even after one fails; any failure fails the whole round.
    async fn flush_all(&self, plane: &impl ControlPlane) -> Result<Vec<String>, InvalidationError> {
        let mut flushed = Vec::new();
        let mut failures = Vec::new();
        for stage in &self.settings.stages {
            match plane.flush(stage).await {
                Ok(()) => flushed.push(stage.to_string()),
                Err(reason) => failures.push(format!("{stage}: {reason}")),
            }
        }
        if failures.is_empty() {
            Ok(flushed)
        } else {
            Err(InvalidationError::Failed { step: "flush".into(), reason: failures.join("; ") })
        }
    }
}

fn failed(step: &'static str) -> impl Fn(String) -> InvalidationError {
    move |reason| InvalidationError::Failed { step: step.into(), reason }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Mutex;

    const POOL: &str = "eu-west-1_Pool1";
    const SUB: &str = "8f2c1d5e-0000-4000-8000-000000000001";

    fn settings(extra: &[(&str, &str)]) -> InvalidatorSettings {
        let mut env = vec![
            ("REVOCATION_TABLE", "revocations"),
            ("COGNITO_USER_POOL_ID", POOL),
            ("REST_API_STAGES", "abc123/prod"),
            ("HTTP_API_STAGES", "def456/$default"),
            ("REFLUSH_AFTER_SECONDS", "0"),
        ];
        env.extend_from_slice(extra);
        InvalidatorSettings::from_lookup(|name| env.iter().rev().find(|(k, _)| *k == name).map(|(_, v)| (*v).into()))
            .unwrap()
    }

    /// Records every call; `fail_flush` names a stage whose flush fails.
    #[derive(Default)]
    struct Recorder {
        calls: Mutex<Vec<String>>,
        fail_flush: Option<&'static str>,
        users: Vec<(&'static str, &'static str)>,
    }

    impl ControlPlane for Recorder {
        async fn user_sub(&self, username: &str) -> Result<Option<String>, String> {
            self.calls.lock().unwrap().push(format!("get {username}"));
            Ok(self.users.iter().find(|(name, _)| *name == username).map(|(_, sub)| (*sub).to_owned()))
        }
        async fn write(&self, entry: &RevocationEntry) -> Result<(), String> {
            self.calls.lock().unwrap().push(format!("write {} {:?} {}", entry.pk, entry.not_before, entry.expires_at));
            Ok(())
        }
        async fn flush(&self, stage: &Stage) -> Result<(), String> {
            self.calls.lock().unwrap().push(format!("flush {stage}"));
            if self.fail_flush == Some(stage.api_id.as_str()) { Err("HTTP 500".into()) } else { Ok(()) }
        }
    }

    fn cloudtrail(name: &str, detail: Value) -> String {
        let mut detail = detail;
        detail["eventName"] = name.into();
        detail["eventSource"] = "cognito-idp.amazonaws.com".into();
        detail["eventTime"] = "2026-11-22T10:00:00Z".into();
        serde_json::json!({
            "version": "0", "detail-type": "AWS API Call via CloudTrail", "source": "aws.cognito-idp",
            "account": "123456789012", "region": "eu-west-1", "detail": detail
        })
        .to_string()
    }

    const NOW: i64 = 1_800_000_000;
    const CALLED_AT: i64 = 1_795_341_600; // 2026-11-22T10:00:00Z

    #[test]
    fn cloudtrail_times_are_read_exactly() {
        assert_eq!(epoch_seconds("1970-01-01T00:00:00Z"), Some(0));
        assert_eq!(epoch_seconds("2026-11-22T10:00:00Z"), Some(CALLED_AT));
        assert_eq!(epoch_seconds("2024-02-29T23:59:59.123Z"), Some(1_709_251_199));
        for bad in
            ["2026-11-22 10:00:00Z", "2026-13-01T00:00:00Z", "2026-11-22T10:00:00+01:00", "", "2026-11-22T1é:00:00Z"]
        {
            assert_eq!(epoch_seconds(bad), None, "{bad}");
        }
    }

    #[tokio::test]
    async fn a_sign_out_writes_a_cut_off_then_flushes_every_stage() {
        let invalidator = Invalidator::new(settings(&[]));
        let plane = Recorder::default();
        let event = cloudtrail(
            "AdminUserGlobalSignOut",
            serde_json::json!({"requestParameters": {"userPoolId": POOL, "username": "HIDDEN_DUE_TO_SECURITY_REASONS"},
                               "additionalEventData": {"sub": SUB}}),
        );
        let report = invalidator.handle(&event, &plane, NOW).await.unwrap();
        let pk = format!("user#https://cognito-idp.eu-west-1.amazonaws.com/{POOL}#{SUB}");
        assert_eq!(report.outcome, "done");
        assert_eq!(report.cause, "cloudtrail:AdminUserGlobalSignOut");
        let entry = report.revoked.unwrap();
        assert_eq!(
            (entry.pk.as_str(), entry.not_before),
            (pk.as_str(), Some(CALLED_AT + 1)),
            "cut at the call, not now"
        );
        assert_eq!(entry.expires_at, CALLED_AT + 1 + 86_400);
        assert_eq!(report.flushed, ["rest:abc123/prod", "http:def456/$default"]);
        let calls = plane.calls.lock().unwrap().clone();
        assert_eq!(calls[0], format!("write {pk} Some({}) {}", CALLED_AT + 1, CALLED_AT + 1 + 86_400));
        assert_eq!(&calls[1..], ["flush rest:abc123/prod", "flush http:def456/$default"], "written before flushed");
    }

    #[tokio::test]
    async fn a_named_user_is_resolved_and_an_unknown_one_is_acknowledged() {
        let invalidator = Invalidator::new(settings(&[]));
        let plane = Recorder { users: vec![("alice", SUB)], ..Default::default() };
        let event = |user: &str| {
            cloudtrail(
                "AdminDisableUser",
                serde_json::json!({"requestParameters": {"userPoolId": POOL, "username": user}}),
            )
        };
        let report = invalidator.handle(&event("alice"), &plane, NOW).await.unwrap();
        assert!(report.revoked.unwrap().pk.ends_with(SUB));
        let report = invalidator.handle(&event("bob"), &plane, NOW).await.unwrap();
        assert_eq!((report.outcome, report.reason), ("ignored", Some("no_such_user")));
        assert_eq!(plane.calls.lock().unwrap().iter().filter(|c| c.starts_with("write")).count(), 1);
    }

    #[tokio::test]
    async fn events_that_change_no_token_are_acknowledged_without_work() {
        let invalidator = Invalidator::new(settings(&[]));
        let plane = Recorder::default();
        let user = serde_json::json!({"userPoolId": POOL, "username": "alice"});
        for (event, reason) in [
            (cloudtrail("AdminEnableUser", serde_json::json!({"requestParameters": user})), "changes_no_token"),
            (
                cloudtrail(
                    "AdminUserGlobalSignOut",
                    serde_json::json!({"requestParameters": {"userPoolId": "eu-west-1_Other", "username": "a"}}),
                ),
                "another_user_pool",
            ),
            (
                cloudtrail(
                    "AdminUserGlobalSignOut",
                    serde_json::json!({"requestParameters": user, "errorCode": "UserNotFoundException"}),
                ),
                "call_failed",
            ),
            (
                cloudtrail(
                    "GlobalSignOut",
                    serde_json::json!({"requestParameters": {"accessToken": "HIDDEN_DUE_TO_SECURITY_REASONS"}}),
                ),
                "names_no_user",
            ),
            (r#"{"detail-type": "Scheduled Event", "source": "aws.events"}"#.to_owned(), "not_a_cognito_event"),
        ] {
            let report = invalidator.handle(&event, &plane, NOW).await.unwrap();
            assert_eq!((report.outcome, report.reason), ("ignored", Some(reason)));
        }
        assert!(plane.calls.lock().unwrap().is_empty());
    }

    #[tokio::test]
    async fn commands_revoke_families_tokens_and_users_or_only_flush() {
        let invalidator = Invalidator::new(settings(&[("MAX_TOKEN_LIFETIME_SECONDS", "3600")]));
        let plane = Recorder::default();
        let run = |raw: &'static str| invalidator.handle(raw, &plane, NOW);
        let family = run(r#"{"action": "revoke_family", "origin_jti": "f-1"}"#).await.unwrap().revoked.unwrap();
        assert_eq!(family, RevocationEntry { pk: "family#f-1".into(), not_before: None, expires_at: NOW + 3600 });
        let token = run(r#"{"action": "revoke_token", "jti": "t-1"}"#).await.unwrap().revoked.unwrap();
        assert_eq!(token.pk, "token#t-1");
        let user = run(r#"{"action": "revoke_user", "sub": "s-1"}"#).await.unwrap().revoked.unwrap();
        assert_eq!(user.not_before, Some(NOW + 1), "every token issued so far");
        let flush = run(r#"{"action": "flush"}"#).await.unwrap();
        assert_eq!((flush.revoked, flush.flushed.len()), (None, 2));
        for bad in [
            r#"{"action": "revoke_user"}"#,
            r#"{"action": "revoke_user", "sub": "a", "username": "b"}"#,
            r#"{"action": "revoke_family", "origin_jti": "a#b"}"#,
            r#"{"action": "revoke_token", "jti": "t", "token": "eyJsecret"}"#,
            r#"{"action": "eyJsecret"}"#,
            r#"{"action": "revoke_token", "jti": ["eyJsecret"]}"#,
            r#"{"action": "revoke_token", "jti": 1}"#,
            "not json",
        ] {
            let error = run(bad).await.unwrap_err();
            assert_eq!(error.error_type(), "BadEvent", "{bad}");
            assert!(!error.to_string().contains("eyJsecret"), "a rejected command is not echoed");
        }
    }

    #[tokio::test]
    async fn a_failed_flush_fails_the_event_after_trying_every_stage() {
        let invalidator = Invalidator::new(settings(&[]));
        let plane = Recorder { fail_flush: Some("abc123"), ..Default::default() };
        let error = invalidator.handle(r#"{"action": "revoke_token", "jti": "t-1"}"#, &plane, NOW).await.unwrap_err();
        assert_eq!(
            error,
            InvalidationError::Failed { step: "flush".into(), reason: "rest:abc123/prod: HTTP 500".into() }
        );
        let calls = plane.calls.lock().unwrap().clone();
        assert_eq!(calls.len(), 3, "the write, then both stages: {calls:?}");
    }

    #[tokio::test(start_paused = true)]
    async fn revocations_flush_again_once_the_authorizers_caches_are_stale() {
        let invalidator = Invalidator::new(settings(&[("REFLUSH_AFTER_SECONDS", "30")]));
        let plane = Recorder::default();
        let started = tokio::time::Instant::now();
        let report = invalidator.handle(r#"{"action": "revoke_token", "jti": "t-1"}"#, &plane, NOW).await.unwrap();
        assert_eq!(report.flushed.len(), 4, "two rounds over two stages");
        assert!(started.elapsed() >= Duration::from_secs(30));
        let flush_only = invalidator.handle(r#"{"action": "flush"}"#, &plane, NOW).await.unwrap();
        assert_eq!(flush_only.flushed.len(), 2, "nothing was revoked, so one round is enough");
    }

    #[test]
    fn the_sample_events_read_as_documented() {
        let settings = settings(&[("COGNITO_USER_POOL_ID", "eu-west-1_AbC123xyz")]);
        let parse = |raw: &str| Trigger::parse(raw, &settings, NOW).unwrap();
        let sign_out = parse(include_str!("../../events/invalidator-cloudtrail-sign-out.json"));
        let user = User::Sub("8f2c1d5e-51a0-4b7e-9f0e-0a1b2c3d4e5f".into());
        let cause = "cloudtrail:AdminUserGlobalSignOut".into();
        assert_eq!(sign_out, Trigger::Work { cause, work: Work::RevokeUser { user, not_before: CALLED_AT + 1 } });
        let work = |trigger| match trigger {
            Trigger::Work { work, .. } => work,
            other => panic!("{other:?}"),
        };
        let family = work(parse(include_str!("../../events/invalidator-revoke-family.json")));
        assert_eq!(family, Work::RevokeFamily { origin_jti: "2c7f7a4e-9d1b-4c55-8f3e-6a0b1c2d3e4f".into() });
        let user = work(parse(include_str!("../../events/invalidator-revoke-user.json")));
        assert_eq!(user, Work::RevokeUser { user: User::Username("alice".into()), not_before: NOW + 1 });
        assert_eq!(work(parse(include_str!("../../events/invalidator-flush.json"))), Work::Flush);
    }

    #[test]
    fn settings_name_what_is_wrong() {
        let settings = settings(&[]);
        assert_eq!(settings.issuer, format!("https://cognito-idp.eu-west-1.amazonaws.com/{POOL}"));
        assert_eq!(settings.reflush_after, Duration::ZERO);
        for (name, value) in [
            ("REVOCATION_TABLE", ""),
            ("COGNITO_USER_POOL_ID", "nopool"),
            ("REST_API_STAGES", "abc123"),
            ("HTTP_API_STAGES", "abc/st age"),
            ("MAX_TOKEN_LIFETIME_SECONDS", "10"),
            ("REFLUSH_AFTER_SECONDS", "soon"),
        ] {
            let env = [("REVOCATION_TABLE", "t"), ("COGNITO_USER_POOL_ID", POOL), (name, value)];
            let lookup = |n: &str| env.iter().rev().find(|(k, _)| *k == n).map(|(_, v)| (*v).to_owned());
            let error = InvalidatorSettings::from_lookup(lookup).unwrap_err();
            assert_eq!(error.setting, name);
        }
    }
}
