//! Revocation: tokens their issuer signed, and that still verify, but that must no longer pass.
//!
//! A signed JWT stays valid until it expires, even after a sign-out (Cognito: "revoked tokens will still be
//! valid if they are verified using any JWT library"). A DynamoDB table holds what offline verification
//! cannot see, each item kept until the longest token lifetime has passed (`expires_at`, the table's TTL):
//!
//! | `pk` | meaning |
//! |---|---|
//! | `user#{iss}#{sub}` with `not_before` (epoch seconds) | this user's tokens issued before `not_before` are revoked (global sign-out, disabled user, changed password or groups) |
//! | `family#{origin_jti}` | every token refreshed from one refresh token is revoked (`RevokeToken`) |
//! | `token#{jti}` | one token is revoked |
//!
//! Reads go through a bounded cache with a configured staleness: at most one signed `BatchGetItem` per cache
//! miss (concurrent misses for one user wait for one read), and none at all when revocation is not configured. A store that cannot be read is an error (500),
//! never a pass; a token that lacks what a cut-off needs (`iat`) counts as revoked.

use crate::aws_env;
use crate::config::{ConfigError, bounded, check_url_scheme};
use crate::fetch::LazyClient;
use crate::outcome::{AuthError, Fault, Rejection};
use crate::verify::VerifiedToken;
use aws_sigv4::http_request::{SignableBody, SignableRequest, SigningSettings, sign};
use aws_sigv4::sign::v4;
use aws_smithy_runtime_api::client::identity::Identity;
use reqwest::Url;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant, SystemTime};

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RevocationConfig {
    /// The DynamoDB table (partition key `pk`, string).
    pub table: String,
    /// How long a read answer may be reused: a revocation takes effect within this many seconds.
    #[serde(default = "default_staleness")]
    pub max_staleness_seconds: u64,
    #[serde(default = "default_timeout")]
    pub timeout_ms: u64,
    #[serde(default = "default_entries")]
    pub cache_entries: usize,
    /// Default: `AWS_REGION`.
    pub region: Option<String>,
    /// Default: `AWS_ENDPOINT_URL_DYNAMODB`, `AWS_ENDPOINT_URL`, else DynamoDB's regional endpoint.
    pub endpoint: Option<String>,
}

impl RevocationConfig {
    /// A table with every other setting at its default.
    pub fn for_table(table: impl Into<String>) -> Self {
        RevocationConfig {
            table: table.into(),
            max_staleness_seconds: default_staleness(),
            timeout_ms: default_timeout(),
            cache_entries: default_entries(),
            region: None,
            endpoint: None,
        }
    }
}

fn default_staleness() -> u64 {
    30
}
fn default_timeout() -> u64 {
    1000
}
fn default_entries() -> usize {
    10_000
}

pub struct RevocationStore {
    table: String,
    endpoint: Url,
    region: String,
    identity: Identity,
    staleness: Duration,
    cache: Mutex<Cache>,
    /// Concurrent misses for one user take the same gate: the first reads, the others then find its answers
    /// cached. Sharded, so that different users' reads do not wait for each other.
    read_gates: Box<[tokio::sync::Mutex<()>]>,
    client: LazyClient,
}

const READ_GATES: usize = 64;

impl RevocationStore {
    /// Builds the store from its settings and the environment (`lookup`), as the AWS SDKs read it: region,
    /// endpoint override and the function's credentials.
    pub fn new(config: &RevocationConfig, lookup: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let setting = |name: &str| format!("revocation.{name}");
        if config.table.trim().is_empty() {
            return Err(ConfigError::new(setting("table"), "must not be empty"));
        }
        let bounded = |name: &str, value, min, max| bounded(&setting(name), value, min, max);
        let staleness = Duration::from_secs(bounded("max_staleness_seconds", config.max_staleness_seconds, 1, 3600)?);
        let timeout = Duration::from_millis(bounded("timeout_ms", config.timeout_ms, 50, 5000)?);
        let entries = bounded("cache_entries", config.cache_entries as u64, 100, 1_000_000)? as usize;
        let region = config
            .region
            .clone()
            .or_else(|| aws_env::region(&lookup))
            .ok_or_else(|| ConfigError::new(setting("region"), "no region: set revocation.region or AWS_REGION"))?;
        let endpoint = config
            .endpoint
            .clone()
            .or_else(|| aws_env::endpoint_override(&lookup, "DYNAMODB"))
            .unwrap_or_else(|| format!("https://dynamodb.{region}.amazonaws.com"));
        let endpoint = Url::parse(&endpoint)
            .map_err(|e| ConfigError::new(setting("endpoint"), format!("{endpoint:?} is not a URL: {e}")))?;
        check_url_scheme(&endpoint).map_err(|m| ConfigError::new(setting("endpoint"), m))?;
        let identity = aws_env::credentials(&lookup)
            .ok_or_else(|| ConfigError::new("AWS_ACCESS_KEY_ID", "revocation needs the function's AWS credentials"))?
            .into();
        Ok(RevocationStore {
            table: config.table.clone(),
            endpoint,
            region,
            identity,
            staleness,
            cache: Mutex::new(Cache::new(entries)),
            read_gates: (0..READ_GATES).map(|_| tokio::sync::Mutex::new(())).collect(),
            client: LazyClient::new(timeout, timeout),
        })
    }

    /// `Ok` when nothing revokes the token; `Revoked` (401) when something does; a fault (500) when the store
    /// cannot be read.
    pub async fn check(&self, token: &VerifiedToken) -> Result<(), AuthError> {
        let keys = table_keys(token);
        // Each key's answer (`Some(not_before)` when an item exists), from the cache where it is fresh.
        let mut found: [Option<i64>; 3] = [None; 3];
        if !self.answers_cached(&keys, &mut found).is_empty() {
            let shard = keys.iter().flatten().next().map_or(0, |key| shard_of(key));
            let _gate = self.read_gates[shard].lock().await;
            // Whoever held the gate before may have read these keys meanwhile.
            let missing = self.answers_cached(&keys, &mut found);
            if !missing.is_empty() {
                let names: Vec<&str> = missing.iter().filter_map(|&i| keys[i].as_deref()).collect();
                // Answers age from before the read: an item written during it may not be in the answer.
                let read_at = Instant::now();
                let read = self.read(&names).await.map_err(|reason| {
                    tracing::warn!(event = "revocation_unavailable", table = %self.table, reason = %reason);
                    AuthError::from(Fault::RevocationUnavailable)
                })?;
                let mut cache = self.lock();
                for &i in &missing {
                    let key = keys[i].as_deref().unwrap_or_default();
                    found[i] = read.get(key).copied();
                    cache.put(key, found[i], read_at);
                }
            }
        }
        let [user, family, single] = found;
        let before_cut_off = user.is_some_and(|not_before| token.issued_at.is_none_or(|iat| iat < not_before));
        if before_cut_off || family.is_some() || single.is_some() { Err(Rejection::Revoked.into()) } else { Ok(()) }
    }

    /// Fills `found` from fresh cached answers; returns the indexes of the keys that must be read.
    fn answers_cached(&self, keys: &[Option<String>; 3], found: &mut [Option<i64>; 3]) -> Vec<usize> {
        let cache = self.lock();
        let now = Instant::now();
        let mut missing = Vec::new();
        for (i, key) in keys.iter().enumerate() {
            match key.as_deref().map(|key| cache.get(key, now, self.staleness)) {
                Some(Some(answer)) => found[i] = answer,
                Some(None) => missing.push(i),
                None => {}
            }
        }
        missing
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Cache> {
        self.cache.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// One signed `BatchGetItem` for `keys`: each item found, with its `not_before` (0 when absent).
    async fn read(&self, keys: &[&str]) -> Result<HashMap<String, i64>, String> {
        let body = json!({
            "RequestItems": {
                &self.table: {
                    "Keys": keys.iter().map(|k| json!({"pk": {"S": k}})).collect::<Vec<_>>(),
                    "ProjectionExpression": "pk, not_before",
                }
            }
        })
        .to_string();
        let headers =
            [("content-type", "application/x-amz-json-1.0"), ("x-amz-target", "DynamoDB_20120810.BatchGetItem")];
        let settings = SigningSettings::default();
        let params = v4::SigningParams::builder()
            .identity(&self.identity)
            .region(&self.region)
            .name("dynamodb")
            .time(SystemTime::now())
            .settings(settings)
            .build()
            .map_err(|e| format!("signing: {e}"))?
            .into();
        let signable = SignableRequest::new(
            "POST",
            self.endpoint.as_str(),
            headers.into_iter(),
            SignableBody::Bytes(body.as_bytes()),
        )
        .map_err(|e| format!("signing: {e}"))?;
        let (instructions, _) = sign(signable, &params).map_err(|e| format!("signing: {e}"))?.into_parts();
        let mut request = self.client.get()?.post(self.endpoint.clone()).body(body);
        for (name, value) in headers.into_iter().chain(instructions.headers()) {
            request = request.header(name, value);
        }
        let response = request
            .send()
            .await
            .map_err(|e| if e.is_timeout() { "timed out".into() } else { e.without_url().to_string() })?;
        let status = response.status();
        let bytes = response.bytes().await.map_err(|e| format!("HTTP {status}: {}", e.without_url()))?;
        let reply: Value =
            serde_json::from_slice(&bytes).map_err(|_| format!("HTTP {status}: the answer is not JSON"))?;
        if !status.is_success() {
            // DynamoDB names the error type (`ResourceNotFoundException`…); its message may quote the request.
            return Err(format!("HTTP {status}: {}", reply["__type"].as_str().unwrap_or("unknown error")));
        }
        if reply["UnprocessedKeys"].as_object().is_some_and(|u| !u.is_empty()) {
            return Err("throttled: some keys were not read".into());
        }
        let items = reply["Responses"][&self.table].as_array().ok_or("answer without Responses")?;
        Ok(items
            .iter()
            .filter_map(|item| {
                let pk = item["pk"]["S"].as_str()?;
                let not_before = item["not_before"]["N"].as_str().and_then(|n| n.parse().ok()).unwrap_or(0);
                Some((pk.to_owned(), not_before))
            })
            .collect())
    }
}

/// The table keys that can revoke one token: the user's cut-off, its family, itself.
fn table_keys(token: &VerifiedToken) -> [Option<String>; 3] {
    let claim = |name: &str| token.claims.get(name).and_then(Value::as_str);
    [
        claim("sub").map(|sub| user_key(&token.issuer, sub)),
        claim("origin_jti").map(family_key),
        claim("jti").map(token_key),
    ]
}

/// A cheap, stable spread of keys over the read gates (FNV-1a).
fn shard_of(key: &str) -> usize {
    let hash = key.bytes().fold(0xcbf2_9ce4_8422_2325_u64, |h, b| (h ^ u64::from(b)).wrapping_mul(0x100_0000_01b3));
    (hash % READ_GATES as u64) as usize
}

fn user_key(issuer: &str, sub: &str) -> String {
    format!("user#{issuer}#{sub}")
}
fn family_key(origin_jti: &str) -> String {
    format!("family#{origin_jti}")
}
fn token_key(jti: &str) -> String {
    format!("token#{jti}")
}

/// One item of the table, as the cache invalidator writes it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RevocationEntry {
    pub pk: String,
    /// User cut-offs only: the user's tokens issued before this (epoch seconds) are revoked.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub not_before: Option<i64>,
    /// When DynamoDB may drop the item (the table's TTL): once every token it can revoke has expired.
    pub expires_at: i64,
}

impl RevocationEntry {
    /// Revokes `sub`'s tokens issued before `not_before`; `lifetime` is the longest token lifetime.
    pub fn user(issuer: &str, sub: &str, not_before: i64, lifetime: i64) -> Self {
        RevocationEntry { pk: user_key(issuer, sub), not_before: Some(not_before), expires_at: not_before + lifetime }
    }

    /// Revokes every token refreshed from one refresh token.
    pub fn family(origin_jti: &str, now: i64, lifetime: i64) -> Self {
        RevocationEntry { pk: family_key(origin_jti), not_before: None, expires_at: now + lifetime }
    }

    /// Revokes one token.
    pub fn token(jti: &str, now: i64, lifetime: i64) -> Self {
        RevocationEntry { pk: token_key(jti), not_before: None, expires_at: now + lifetime }
    }
}

/// Read answers by table key: `Some(not_before)` for an item found, `None` for none, each with when it was
/// read. Bounded: when full, expired answers go first, then everything.
struct Cache {
    entries: HashMap<String, (Instant, Option<i64>)>,
    capacity: usize,
}

impl Cache {
    fn new(capacity: usize) -> Self {
        Cache { entries: HashMap::new(), capacity }
    }

    /// A fresh answer for `key`: `Some(found)`, or `None` when it must be read.
    fn get(&self, key: &str, now: Instant, staleness: Duration) -> Option<Option<i64>> {
        self.entries.get(key).filter(|(at, _)| now.duration_since(*at) < staleness).map(|(_, found)| *found)
    }

    fn put(&mut self, key: &str, found: Option<i64>, now: Instant) {
        if self.entries.len() >= self.capacity && !self.entries.contains_key(key) {
            // Nothing older than a fresh answer is worth more than bounded memory.
            self.entries.retain(|_, (at, _)| *at >= now);
            if self.entries.len() >= self.capacity {
                self.entries.clear();
            }
        }
        self.entries.insert(key.to_owned(), (now, found));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cache_answers_within_staleness_only() {
        let mut cache = Cache::new(100);
        let start = Instant::now();
        cache.put("user#x", Some(5), start);
        cache.put("family#y", None, start);
        let staleness = Duration::from_secs(30);
        assert_eq!(cache.get("user#x", start, staleness), Some(Some(5)));
        assert_eq!(cache.get("family#y", start, staleness), Some(None), "an absent item is an answer too");
        assert_eq!(cache.get("token#z", start, staleness), None);
        assert_eq!(cache.get("user#x", start + staleness, staleness), None, "stale answers are read again");
    }

    #[test]
    fn cache_stays_bounded() {
        let mut cache = Cache::new(100);
        let start = Instant::now();
        for i in 0..1000 {
            cache.put(&format!("token#{i}"), None, start + Duration::from_millis(i));
            assert!(cache.entries.len() <= 100);
        }
        assert_eq!(cache.get("token#999", start + Duration::from_millis(999), Duration::from_secs(1)), Some(None));
    }

    #[test]
    fn settings_are_checked() {
        let env = |name: &str| match name {
            "AWS_REGION" => Some("us-east-1".to_owned()),
            "AWS_ACCESS_KEY_ID" | "AWS_SECRET_ACCESS_KEY" => Some("test".to_owned()),
            _ => None,
        };
        let config = |extra: serde_json::Value| -> RevocationConfig {
            let mut base = json!({"table": "revocations"});
            base.as_object_mut().unwrap().extend(extra.as_object().unwrap().clone());
            serde_json::from_value(base).unwrap()
        };
        let store = RevocationStore::new(&config(json!({})), env).unwrap();
        assert_eq!(store.endpoint.as_str(), "https://dynamodb.us-east-1.amazonaws.com/");
        for (extra, setting) in [
            (json!({"table": " "}), "revocation.table"),
            (json!({"max_staleness_seconds": 0}), "revocation.max_staleness_seconds"),
            (json!({"timeout_ms": 60000}), "revocation.timeout_ms"),
            (json!({"endpoint": "http://dynamodb.example.com"}), "revocation.endpoint"),
        ] {
            let Err(error) = RevocationStore::new(&config(extra.clone()), env) else { panic!("{extra} must fail") };
            assert_eq!(error.setting, setting);
        }
        let Err(error) = RevocationStore::new(&config(json!({})), |_| None) else { panic!() };
        assert_eq!(error.setting, "revocation.region");
        let Err(error) = RevocationStore::new(&config(json!({})), |n| (n == "AWS_REGION").then(|| "eu-west-1".into()))
        else {
            panic!()
        };
        assert_eq!(error.setting, "AWS_ACCESS_KEY_ID");
    }
}
