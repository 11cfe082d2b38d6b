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

#[cfg(test)]
mod tests {
    //! Drives the cache against a real HTTP server on loopback. The server is hand-made because no
    //! emulator can rotate keys, fail or hang on demand.
    use super::*;
    use crate::jwk::tests::rsa_jwk;
    use aws_lc_rs::rsa::KeySize;
    use aws_lc_rs::signature::RsaKeyPair;
    use std::sync::Mutex;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::time::Duration;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    #[derive(Clone)]
    enum Reply {
        Json(String),
        Status(u16),
        Hang,
        Body(&'static str, Vec<u8>),
    }

    struct Server {
        url: Url,
        hits: Arc<AtomicUsize>,
        reply: Arc<Mutex<Reply>>,
    }

    impl Server {
        async fn start(reply: Reply, delay: Duration) -> Server {
            let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
            let url = Url::parse(&format!("http://{}/jwks.json", listener.local_addr().unwrap())).unwrap();
            let hits = Arc::new(AtomicUsize::new(0));
            let reply = Arc::new(Mutex::new(reply));
            let (h, r) = (hits.clone(), reply.clone());
            tokio::spawn(async move {
                while let Ok((mut socket, _)) = listener.accept().await {
                    h.fetch_add(1, Ordering::SeqCst);
                    let reply = r.lock().unwrap().clone();
                    tokio::spawn(async move {
                        let mut buf = [0u8; 2048];
                        let _ = socket.read(&mut buf).await;
                        tokio::time::sleep(delay).await;
                        let (status, kind, body) = match reply {
                            Reply::Json(body) => (200, "application/json", body.into_bytes()),
                            Reply::Status(code) => (code, "text/plain", b"error".to_vec()),
                            Reply::Body(kind, body) => (200, kind, body),
                            Reply::Hang => {
                                tokio::time::sleep(Duration::from_secs(30)).await;
                                return;
                            }
                        };
                        let head = format!(
                            "HTTP/1.1 {status} X\r\ncontent-type: {kind}\r\ncontent-length: {}\r\nconnection: close\r\n\r\n",
                            body.len()
                        );
                        let _ = socket.write_all(head.as_bytes()).await;
                        let _ = socket.write_all(&body).await;
                    });
                }
            });
            Server { url, hits, reply }
        }

        fn hits(&self) -> usize {
            self.hits.load(Ordering::SeqCst)
        }

        fn set(&self, reply: Reply) {
            *self.reply.lock().unwrap() = reply;
        }
    }

    fn jwks(kids: &[&str]) -> String {
        let pair = RsaKeyPair::generate(KeySize::Rsa2048).unwrap();
        let keys: Vec<_> = kids.iter().map(|kid| rsa_jwk(&pair, kid)).collect();
        serde_json::json!({ "keys": keys }).to_string()
    }

    fn settings(ttl: u64, cooldown: u64) -> JwksSettings {
        JwksSettings {
            ttl: Duration::from_secs(ttl),
            refetch_cooldown: Duration::from_secs(cooldown),
            timeout: Duration::from_millis(500),
            connect_timeout: Duration::from_millis(200),
            max_bytes: 64 * 1024,
        }
    }

    fn cache(server: &Server, settings: JwksSettings, prebaked: Option<&str>) -> KeyCache {
        cache_from(JwksSource::Uri(server.url.clone()), settings, prebaked)
    }

    fn discovering(discovery: &Server, settings: JwksSettings) -> KeyCache {
        cache_from(JwksSource::Discovery(discovery.url.clone()), settings, None)
    }

    fn cache_from(source: JwksSource, settings: JwksSettings, prebaked: Option<&str>) -> KeyCache {
        KeyCache::new(
            "https://issuer.test",
            source,
            &[Algorithm::RS256],
            prebaked.map(str::as_bytes),
            settings,
            Arc::new(Fetcher::new(settings)),
        )
        .unwrap()
    }

    fn is_unavailable(result: Result<Arc<KeySet>, AuthError>) -> bool {
        matches!(result, Err(AuthError::Failed(Fault::KeysUnavailable)))
    }

    #[tokio::test]
    async fn fetches_once_then_answers_from_memory() {
        let server = Server::start(Reply::Json(jwks(&["k1"])), Duration::ZERO).await;
        let cache = cache(&server, settings(3600, 10), None);
        for _ in 0..20 {
            assert!(cache.keys_for("k1").await.unwrap().contains("k1"));
        }
        assert_eq!(server.hits(), 1);
    }

    #[tokio::test]
    async fn a_flood_of_unknown_kids_fetches_at_most_once_per_cooldown() {
        let server = Server::start(Reply::Json(jwks(&["k1"])), Duration::ZERO).await;
        let cache = cache(&server, settings(3600, 1), None);
        cache.keys_for("k1").await.unwrap();
        for i in 0..50 {
            let result = cache.keys_for(&format!("random-{i}")).await;
            assert!(
                matches!(result, Err(AuthError::Rejected(Rejection::UnknownKid))),
                "unknown kid is the token's fault"
            );
        }
        assert_eq!(server.hits(), 1, "the first fetch is inside the cooldown: no refetch");
        tokio::time::sleep(Duration::from_millis(1100)).await;
        for i in 0..50 {
            assert!(cache.keys_for(&format!("again-{i}")).await.is_err());
        }
        assert_eq!(server.hits(), 2, "one refetch per elapsed cooldown");
    }

    #[tokio::test]
    async fn concurrent_misses_share_one_fetch() {
        let server = Server::start(Reply::Json(jwks(&["k1"])), Duration::from_millis(200)).await;
        let cache = Arc::new(cache(&server, settings(3600, 10), None));
        let tasks: Vec<_> = (0..20)
            .map(|_| {
                let cache = cache.clone();
                tokio::spawn(async move { cache.keys_for("k1").await.is_ok() })
            })
            .collect();
        for task in tasks {
            assert!(task.await.unwrap());
        }
        assert_eq!(server.hits(), 1);
    }

    #[tokio::test]
    async fn a_rotated_key_is_picked_up_after_the_cooldown() {
        let server = Server::start(Reply::Json(jwks(&["old"])), Duration::ZERO).await;
        let cache = cache(&server, settings(3600, 1), None);
        cache.keys_for("old").await.unwrap();
        server.set(Reply::Json(jwks(&["old", "new"])));
        tokio::time::sleep(Duration::from_millis(1100)).await;
        assert!(cache.keys_for("new").await.unwrap().contains("new"));
        assert_eq!(server.hits(), 2);
    }

    #[tokio::test]
    async fn keys_that_cannot_be_had_are_a_fault_and_stale_keys_keep_working() {
        let server = Server::start(Reply::Status(500), Duration::ZERO).await;
        let cold = cache(&server, settings(1, 1), None);
        assert!(is_unavailable(cold.keys_for("k1").await), "no keys at all: 500, not 401");

        server.set(Reply::Json(jwks(&["k1"])));
        let warm = cache(&server, settings(1, 1), None);
        warm.keys_for("k1").await.unwrap();
        server.set(Reply::Status(503));
        tokio::time::sleep(Duration::from_millis(1100)).await;
        let hits = server.hits();
        assert!(warm.keys_for("k1").await.is_ok(), "stale keys stay usable while the refresh fails");
        assert_eq!(server.hits(), hits + 1, "the expired set was refreshed once");
        assert!(is_unavailable(warm.keys_for("unknown").await), "the last fetch failed: an unknown kid is a 500");
        assert_eq!(server.hits(), hits + 1, "and the cooldown holds");
    }

    #[tokio::test]
    async fn hangs_html_oversize_and_truncated_bodies_are_fetch_failures() {
        let big = [b"{\"keys\":[\"".as_slice(), &vec![b'a'; 10 * 1024 * 1024], b"\"]}"].concat();
        let truncated = jwks(&["k1"]);
        let truncated = truncated[..truncated.len() / 2].to_string();
        for reply in [
            Reply::Hang,
            Reply::Body("text/html", b"<html><body>login</body></html>".to_vec()),
            Reply::Body("application/json", big),
            Reply::Json(truncated),
            Reply::Json("{\"keys\": []}".into()),
        ] {
            let server = Server::start(reply, Duration::ZERO).await;
            let cache = cache(&server, settings(3600, 10), None);
            let started = std::time::Instant::now();
            assert!(is_unavailable(cache.keys_for("k1").await));
            // A correctness bound, not a benchmark: the answer must come within the configured budget.
            assert!(started.elapsed() < Duration::from_secs(3), "took {:?}", started.elapsed());
        }
    }

    fn discovery_document(issuer: &str, jwks_uri: &str) -> Reply {
        Reply::Json(serde_json::json!({"issuer": issuer, "jwks_uri": jwks_uri}).to_string())
    }

    #[tokio::test]
    async fn oidc_discovery_names_the_keys_once() {
        let keys = Server::start(Reply::Json(jwks(&["k1"])), Duration::ZERO).await;
        let discovery =
            Server::start(discovery_document("https://issuer.test", keys.url.as_str()), Duration::ZERO).await;
        let cache = discovering(&discovery, settings(3600, 1));
        assert!(cache.keys_for("k1").await.is_ok());
        tokio::time::sleep(Duration::from_millis(1100)).await;
        assert!(cache.keys_for("unknown").await.is_err());
        assert_eq!((discovery.hits(), keys.hits()), (1, 2), "the discovered jwks_uri is remembered");
    }

    #[tokio::test]
    async fn a_discovery_document_for_another_issuer_or_over_plain_http_is_refused() {
        let keys = Server::start(Reply::Json(jwks(&["k1"])), Duration::ZERO).await;
        for document in [
            discovery_document("https://evil.test", keys.url.as_str()),
            discovery_document("https://issuer.test", "http://keys.example.com/jwks.json"),
            discovery_document("https://issuer.test", "file:///etc/passwd"),
            Reply::Json("{\"issuer\": \"https://issuer.test\"}".into()),
        ] {
            let discovery = Server::start(document, Duration::ZERO).await;
            assert!(is_unavailable(discovering(&discovery, settings(3600, 10)).keys_for("k1").await));
        }
        assert_eq!(keys.hits(), 0, "keys are never fetched from a refused document");
    }

    #[tokio::test]
    async fn prebaked_keys_need_no_fetch_and_unknown_kids_still_refetch() {
        let server = Server::start(Reply::Json(jwks(&["fetched"])), Duration::ZERO).await;
        let cache = cache(&server, settings(3600, 10), Some(&jwks(&["baked"])));
        assert!(cache.keys_for("baked").await.is_ok());
        assert_eq!(server.hits(), 0);
        assert!(cache.keys_for("fetched").await.is_ok());
        assert_eq!(server.hits(), 1);
    }
}
