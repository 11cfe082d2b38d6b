//! Keeps one issuer's verification keys: fetched once, parsed once, refreshed with care.
//!
//! - A fresh set answers from memory. After its TTL the next request refreshes it; if that fails the stale
//!   keys stay usable.
//! - An unknown `kid` triggers at most one fetch per cooldown, so a flood of random kids cannot cause a
//!   fetch storm; concurrent misses wait for the one fetch under way instead of starting their own.
//! - A pre-baked set gives a cold start with no fetch at all.
//!
//! It must never answer "no such key" (401) when the truth is "keys could not be had" (500), nor trust a
//! key from anywhere but the configured source.

use crate::alg::Algorithm;
use crate::config::{JwksSettings, JwksSource, check_url_scheme};
use crate::fetch::{FetchError, Fetcher};
use crate::jwk::KeySet;
use crate::outcome::{AuthError, Fault, Rejection};
use reqwest::Url;
use serde::Deserialize;
use std::sync::{Arc, RwLock};
use std::time::Instant;

pub struct KeyCache {
    issuer: String,
    source: JwksSource,
    algorithms: Vec<Algorithm>,
    settings: JwksSettings,
    fetcher: Arc<Fetcher>,
    state: RwLock<State>,
    refresh: tokio::sync::Mutex<()>,
}

#[derive(Clone, Default)]
struct State {
    keys: Arc<KeySet>,
    /// When the current set was fetched (or pre-baked); `None` until keys are first had.
    fetched_at: Option<Instant>,
    /// When a fetch was last tried, and whether it failed.
    attempted_at: Option<Instant>,
    last_failed: bool,
    /// The `jwks_uri` a discovery document named.
    discovered: Option<Url>,
}

impl KeyCache {
    pub fn new(
        issuer: &str,
        source: JwksSource,
        algorithms: &[Algorithm],
        prebaked: Option<&[u8]>,
        settings: JwksSettings,
        fetcher: Arc<Fetcher>,
    ) -> Result<Self, String> {
        let mut state = State::default();
        if let Some(document) = prebaked {
            let (keys, _) = KeySet::parse(document, algorithms)?;
            state.keys = Arc::new(keys);
            state.fetched_at = Some(Instant::now());
        }
        Ok(KeyCache {
            issuer: issuer.to_owned(),
            source,
            algorithms: algorithms.to_vec(),
            settings,
            fetcher,
            state: RwLock::new(state),
            refresh: tokio::sync::Mutex::new(()),
        })
    }

    /// A key set that holds `kid`, or why there is none: an unknown kid in a good set is the token's fault
    /// (401); keys that could not be fetched are ours (500).
    pub async fn keys_for(&self, kid: &str) -> Result<Arc<KeySet>, AuthError> {
        let seen = self.snapshot();
        let now = Instant::now();
        let known = seen.keys.contains(kid);
        let fresh = seen.fetched_at.is_some_and(|at| now.duration_since(at) < self.settings.ttl);
        if known && fresh {
            return Ok(seen.keys);
        }
        let cooled = seen.attempted_at.is_none_or(|at| now.duration_since(at) >= self.settings.refetch_cooldown);
        if !cooled {
            return answer(&seen, kid);
        }
        let guard = if known {
            // A stale but known key is good enough while another request refreshes the set.
            match self.refresh.try_lock() {
                Ok(guard) => guard,
                Err(_) => return Ok(seen.keys),
            }
        } else {
            self.refresh.lock().await
        };
        let current = self.snapshot();
        if current.attempted_at != seen.attempted_at {
            // Another request fetched while we waited: share its result.
            return answer(&current, kid);
        }
        let result = self.fetch(current.discovered.clone()).await;
        let updated = {
            let mut state = self.state.write().unwrap_or_else(|p| p.into_inner());
            state.attempted_at = Some(Instant::now());
            match result {
                Ok((keys, discovered)) => {
                    state.keys = Arc::new(keys);
                    state.fetched_at = state.attempted_at;
                    state.last_failed = false;
                    state.discovered = discovered;
                }
                Err(reason) => {
                    tracing::warn!(event = "jwks_fetch_failed", issuer = %self.issuer, reason = %reason);
                    state.last_failed = true;
                }
            }
            state.clone()
        };
        drop(guard);
        answer(&updated, kid)
    }

    fn snapshot(&self) -> State {
        self.state.read().unwrap_or_else(|p| p.into_inner()).clone()
    }

    async fn fetch(&self, discovered: Option<Url>) -> Result<(KeySet, Option<Url>), String> {
        let uri = match (&self.source, discovered) {
            (JwksSource::Uri(uri), _) => uri.clone(),
            (JwksSource::Discovery(_), Some(uri)) => uri,
            (JwksSource::Discovery(doc), None) => self.discover(doc).await?,
        };
        let body = self.fetcher.get(&uri).await.map_err(|e| describe(&uri, e))?;
        let (keys, skipped) = KeySet::parse(&body, &self.algorithms).map_err(|e| format!("{uri}: {e}"))?;
        for key in &skipped {
            tracing::info!(event = "jwks_key_skipped", issuer = %self.issuer, kid = key.kid.as_deref().unwrap_or(""), reason = key.reason);
        }
        if keys.is_empty() {
            return Err(format!("{uri}: no usable key in the set"));
        }
        let discovered = matches!(self.source, JwksSource::Discovery(_)).then_some(uri);
        Ok((keys, discovered))
    }

    async fn discover(&self, document: &Url) -> Result<Url, String> {
        #[derive(Deserialize)]
        struct Discovery {
            issuer: String,
            jwks_uri: String,
        }
        let body = self.fetcher.get(document).await.map_err(|e| describe(document, e))?;
        let doc: Discovery =
            serde_json::from_slice(&body).map_err(|e| format!("{document}: not a discovery document: {e}"))?;
        if doc.issuer != self.issuer {
            return Err(format!("{document}: names issuer {:?}, expected {:?}", doc.issuer, self.issuer));
        }
        let uri = Url::parse(&doc.jwks_uri).map_err(|e| format!("{document}: bad jwks_uri: {e}"))?;
        check_url_scheme(&uri)?;
        Ok(uri)
    }
}

fn answer(state: &State, kid: &str) -> Result<Arc<KeySet>, AuthError> {
    if state.keys.contains(kid) {
        Ok(state.keys.clone())
    } else if state.last_failed || state.fetched_at.is_none() {
        Err(Fault::KeysUnavailable.into())
    } else {
        Err(Rejection::UnknownKid.into())
    }
}

fn describe(url: &Url, error: FetchError) -> String {
    format!("{url}: {error}")
}
