//! Hand-made loopback stand-ins that record every request, for calls no emulator can serve or count:
//! - API Gateway's control plane, for the two cache-flush calls only: moto does not implement
//!   `FlushStageAuthorizersCache` or `ResetAuthorizersCache` (it answers 404), and no other emulator does. It
//!   answers as API Gateway documents (202 for REST, 204 for HTTP APIs) or, on demand, 500.
//! - An empty DynamoDB revocation table, for tests that count the authorizer's reads (moto cannot count them).
//!
//! Each records method, path and signing headers so tests can check what a client sent. They listen on 127.0.0.1
//! only and stop when dropped.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError};

use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinHandle;

use crate::{Error, Result};

/// One request as received.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Recorded {
    pub method: String,
    pub path: String,
    /// The `Authorization` header (SigV4: `AWS4-HMAC-SHA256 Credential=…, SignedHeaders=…, Signature=…`).
    pub authorization: Option<String>,
    pub amz_date: Option<String>,
}

/// How a stand-in answers a request (method, path): status line and JSON body.
type Answer = fn(&str, &str) -> (&'static str, &'static str);

struct State {
    requests: Mutex<Vec<Recorded>>,
    failing: AtomicBool,
    answer: Answer,
}

/// A recording stand-in; [`ControlPlane`] and [`EmptyRevocationTable`] are its two uses.
pub struct StandIn {
    url: String,
    state: Arc<State>,
    task: JoinHandle<()>,
}

/// API Gateway's control plane, for the cache-flush calls.
pub struct ControlPlane;

impl ControlPlane {
    pub async fn start() -> Result<StandIn> {
        StandIn::start(|method, path| {
            let flush = method == "DELETE" && path.ends_with("/cache/authorizers");
            if flush && path.starts_with("/restapis/") {
                ("202 Accepted", "")
            } else if flush && path.starts_with("/v2/apis/") {
                ("204 No Content", "")
            } else {
                ("404 Not Found", r#"{"message":"not a cache flush"}"#)
            }
        })
        .await
    }
}

/// A DynamoDB endpoint whose table `authz-revocations` holds nothing: every `BatchGetItem` finds no item.
pub struct EmptyRevocationTable;

impl EmptyRevocationTable {
    pub async fn start() -> Result<StandIn> {
        StandIn::start(|_, _| ("200 OK", r#"{"Responses":{"authz-revocations":[]},"UnprocessedKeys":{}}"#)).await
    }
}

impl StandIn {
    async fn start(answer: Answer) -> Result<Self> {
        let listener = TcpListener::bind("127.0.0.1:0")
            .await
            .map_err(|source| Error::io("binding the control-plane stand-in", source))?;
        let addr = listener.local_addr().map_err(|source| Error::io("reading the stand-in's address", source))?;
        let state = Arc::new(State { requests: Mutex::default(), failing: AtomicBool::new(false), answer });
        let shared = Arc::clone(&state);
        let task = tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                tokio::spawn(serve(stream, Arc::clone(&shared)));
            }
        });
        Ok(Self { url: format!("http://{addr}"), state, task })
    }

    /// The endpoint to configure (e.g. `AWS_ENDPOINT_URL_API_GATEWAY`, `AWS_ENDPOINT_URL_APIGATEWAYV2`).
    pub fn url(&self) -> &str {
        &self.url
    }

    /// From now on, answer every call with 500, as an API Gateway outage would.
    pub fn set_failing(&self, failing: bool) {
        self.state.failing.store(failing, Ordering::SeqCst);
    }

    /// How many requests arrived so far (and are not taken yet).
    pub fn count(&self) -> usize {
        self.state.requests.lock().unwrap_or_else(PoisonError::into_inner).len()
    }

    /// Every request so far, in order; clears the record.
    pub fn take_requests(&self) -> Vec<Recorded> {
        std::mem::take(&mut *self.state.requests.lock().unwrap_or_else(PoisonError::into_inner))
    }
}

impl Drop for StandIn {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// Answers each request of one keep-alive connection, after reading its body.
async fn serve(mut stream: TcpStream, state: Arc<State>) {
    let mut buffer = Vec::new();
    loop {
        let head_end = loop {
            if let Some(end) = buffer.windows(4).position(|w| w == b"\r\n\r\n") {
                break end + 4;
            }
            let mut chunk = [0; 4096];
            match stream.read(&mut chunk).await {
                Ok(0) | Err(_) => return,
                Ok(read) => buffer.extend_from_slice(&chunk[..read]),
            }
            if buffer.len() > 64 * 1024 {
                return;
            }
        };
        let head = String::from_utf8_lossy(&buffer[..head_end]).into_owned();
        let header = |name: &str| {
            head.lines().skip(1).find_map(|line| {
                let (key, value) = line.split_once(':')?;
                key.trim().eq_ignore_ascii_case(name).then(|| value.trim().to_owned())
            })
        };
        let body_length: usize = header("content-length").and_then(|n| n.parse().ok()).unwrap_or(0);
        while buffer.len() < head_end + body_length {
            let mut chunk = [0; 4096];
            match stream.read(&mut chunk).await {
                Ok(0) | Err(_) => return,
                Ok(read) => buffer.extend_from_slice(&chunk[..read]),
            }
        }
        let mut request_line = head.lines().next().unwrap_or_default().split(' ');
        let method = request_line.next().unwrap_or_default().to_owned();
        let path = request_line.next().unwrap_or_default().to_owned();
        let (status, body) = if state.failing.load(Ordering::SeqCst) {
            ("500 Internal Server Error", r#"{"message":"stand-in failing on purpose"}"#)
        } else {
            (state.answer)(&method, &path)
        };
        state.requests.lock().unwrap_or_else(PoisonError::into_inner).push(Recorded {
            method,
            path,
            authorization: header("authorization"),
            amz_date: header("x-amz-date"),
        });
        let response = format!(
            "HTTP/1.1 {status}\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
            body.len()
        );
        if stream.write_all(response.as_bytes()).await.is_err() {
            return;
        }
        buffer.drain(..head_end + body_length);
    }
}
