//! The Lambda Runtime API client (version 2018-06-01) the binaries run on: it asks `invocation/next` for an
//! event, hands it to the handler, and posts the answer to `invocation/{id}/response` or the failure to
//! `invocation/{id}/error`, for as long as the process lives; `init/error` reports a start-up that failed.
//! With `AWS_LAMBDA_MAX_CONCURRENCY` > 1 (Lambda Managed Instances) it runs that many such loops at once.
//!
//! It must never set an environment variable per invocation: `lambda_runtime` sets `_X_AMZN_TRACE_ID` for
//! every event, and glibc keeps every distinct value it is given, so RSS grew by ~150 B per invocation. The
//! trace id is handed to the handler instead. It must never log or echo an event or an answer, which carry
//! tokens and claims: its errors name the endpoint and the cause only.
//!
//! A failure to reach the runtime API, or an answer from it that breaks the API's contract, ends [`Runtime::run`]
//! with an error, and the process must then exit: Lambda starts a new one. A handler's failure is posted to
//! `invocation/{id}/error` and the loop goes on.

use http_body_util::{BodyExt, Full};
use hyper::body::Bytes;
use hyper::client::conn::http1::{self, SendRequest};
use hyper::header::{CONTENT_TYPE, HOST, HeaderMap, HeaderValue};
use hyper::{Method, Request, StatusCode, Uri};
use hyper_util::rt::TokioIo;
use serde::Serialize;
use std::convert::Infallible;
use std::fmt::Display;
use std::future::Future;
use std::process::ExitCode;
use std::sync::Arc;
use tokio::net::TcpStream;
use tokio::task::JoinSet;

const REQUEST_ID: &str = "lambda-runtime-aws-request-id";
const DEADLINE_MS: &str = "lambda-runtime-deadline-ms";
const TRACE_ID: &str = "lambda-runtime-trace-id";
const FUNCTION_ARN: &str = "lambda-runtime-invoked-function-arn";
const ERROR_TYPE: &str = "lambda-runtime-function-error-type";

/// One event, with what Lambda tells about it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Invocation {
    pub request_id: String,
    /// When Lambda stops this invocation, in Unix milliseconds.
    pub deadline_ms: Option<u64>,
    /// The X-Ray trace header (`Root=…;Parent=…;Sampled=…`), for a handler that propagates it.
    pub trace_id: Option<String>,
    pub function_arn: Option<String>,
    /// The event's JSON text, unparsed: the handler reads it, so that no generic deserializer quotes it.
    pub event: String,
}

/// A failed invocation or start-up, as Lambda reports it: `{"errorType", "errorMessage"}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Failure {
    pub error_type: String,
    pub error_message: String,
}

impl Failure {
    pub fn new(error_type: impl Into<String>, error_message: impl Into<String>) -> Self {
        Failure { error_type: error_type.into(), error_message: error_message.into() }
    }
}

/// Why the runtime stopped. None of these texts quotes an event or an answer.
#[derive(Debug, thiserror::Error)]
pub enum RuntimeError {
    #[error("AWS_LAMBDA_RUNTIME_API {0}")]
    Address(String),
    #[error("{what}: {cause}")]
    Transport { what: &'static str, cause: String },
    #[error("{what}: the runtime API answered HTTP {status}")]
    Status { what: &'static str, status: u16 },
    #[error("GET invocation/next: {0}")]
    Protocol(&'static str),
    #[error("a poll loop stopped: {0}")]
    Loop(String),
}

/// Where the runtime API is, and how many invocations this process serves at once.
#[derive(Debug, Clone)]
pub struct Runtime {
    endpoint: Arc<Endpoint>,
    concurrency: usize,
}

impl Runtime {
    /// From `AWS_LAMBDA_RUNTIME_API` and `AWS_LAMBDA_MAX_CONCURRENCY` (unset, unreadable or under 2: one loop).
    pub fn from_env() -> Result<Self, RuntimeError> {
        let address =
            std::env::var("AWS_LAMBDA_RUNTIME_API").map_err(|_| RuntimeError::Address("is not set".into()))?;
        let concurrency = std::env::var("AWS_LAMBDA_MAX_CONCURRENCY").ok().and_then(|v| v.trim().parse().ok());
        Self::new(&address, concurrency.unwrap_or(1))
    }

    /// `address` is `host:port`, as Lambda sets it; `cargo lambda watch` sets `http://host:port/.rt/<function>`.
    pub fn new(address: &str, concurrency: usize) -> Result<Self, RuntimeError> {
        Ok(Runtime { endpoint: Arc::new(Endpoint::parse(address)?), concurrency: concurrency.max(1) })
    }

    /// Serves invocations with `handler` until the runtime API fails, then logs why and returns the exit code
    /// for `main`.
    pub async fn serve<F, Fut, T>(&self, handler: F) -> ExitCode
    where
        F: Fn(Invocation) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<T, Failure>> + Send + 'static,
        T: Serialize + Send + 'static,
    {
        let Err(error) = self.run(handler).await;
        stopped(&error)
    }

    /// Reports a failed start-up to Lambda, which answers the pending invocation with it, and returns the exit
    /// code for `main`. The caller logs the failure itself.
    pub async fn init_failed(&self, failure: &Failure) -> ExitCode {
        match self.report_init_error(failure).await {
            Ok(()) => ExitCode::FAILURE,
            Err(error) => stopped(&error),
        }
    }

    /// Polls for events, as many loops at once as the concurrency, each with its own connection; returns only when
    /// one of them fails, and that stops them all.
    pub async fn run<F, Fut, T>(&self, handler: F) -> Result<Infallible, RuntimeError>
    where
        F: Fn(Invocation) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<T, Failure>> + Send + 'static,
        T: Serialize + Send + 'static,
    {
        let handler = Arc::new(handler);
        let mut loops = JoinSet::new();
        for _ in 0..self.concurrency {
            loops.spawn(poll(Connection::new(Arc::clone(&self.endpoint)), Arc::clone(&handler)));
        }
        // Dropping the set when returning aborts the other loops.
        Err(match loops.join_next().await {
            Some(Ok(Err(error))) => error,
            Some(Err(join)) => RuntimeError::Loop(join.to_string()),
            None => RuntimeError::Loop("none was started".into()),
        })
    }

    /// Posts `failure` to `init/error`.
    pub async fn report_init_error(&self, failure: &Failure) -> Result<(), RuntimeError> {
        let what = "POST init/error";
        let mut connection = Connection::new(Arc::clone(&self.endpoint));
        let (status, _, _) = connection.post_failure(what, self.endpoint.init_error.clone(), failure).await?;
        if !status.is_success() {
            return Err(RuntimeError::Status { what, status: status.as_u16() });
        }
        Ok(())
    }
}

/// A function's cold start: finds the runtime API, then builds the function's state once, kept for the life of
/// the process. A state that cannot be built (a configuration error, naming its setting) is logged and posted
/// to `init/error`, so Lambda answers 500 and never runs a half-configured function: `Err` is then the exit
/// code for `main`.
pub async fn start<S: 'static, E: Display>(
    build: impl FnOnce() -> Result<S, E>,
) -> Result<(Runtime, &'static S), ExitCode> {
    let runtime = Runtime::from_env().map_err(|e| stopped(&e))?;
    match build() {
        Ok(state) => Ok((runtime, Box::leak(Box::new(state)))),
        Err(e) => {
            tracing::error!(event = "config_error", error = %e);
            Err(runtime.init_failed(&Failure::new("ConfigError", e.to_string())).await)
        }
    }
}

/// Logs why the runtime stopped and returns the exit code for `main`: Lambda starts a new process.
pub fn stopped(error: &RuntimeError) -> ExitCode {
    tracing::error!(event = "runtime_error", error = %error);
    ExitCode::FAILURE
}

/// One loop: next event, handler, answer, forever.
async fn poll<F, Fut, T>(mut connection: Connection, handler: Arc<F>) -> Result<Infallible, RuntimeError>
where
    F: Fn(Invocation) -> Fut,
    Fut: Future<Output = Result<T, Failure>>,
    T: Serialize,
{
    loop {
        let (request_id, invocation) = connection.next().await?;
        let outcome = match invocation {
            Ok(invocation) => handler(invocation).await.and_then(|answer| {
                serde_json::to_vec(&answer)
                    .map_err(|e| Failure::new("Runtime.SerializationError", format!("the answer is not JSON: {e}")))
            }),
            Err(failure) => Err(failure),
        };
        connection.finish(&request_id, outcome).await?;
    }
}

/// The runtime API's address, split for building requests on a raw connection.
#[derive(Debug)]
struct Endpoint {
    /// `host:port`, to connect to.
    authority: String,
    host: HeaderValue,
    /// Everything before `/2018-06-01`: empty on Lambda.
    prefix: String,
    next: Uri,
    init_error: Uri,
}

impl Endpoint {
    fn parse(address: &str) -> Result<Self, RuntimeError> {
        let invalid = |why: &str| RuntimeError::Address(format!("{address:?} {why}"));
        let plain = address.strip_prefix("http://").unwrap_or(address);
        let (authority, path) = plain.split_once('/').unwrap_or((plain, ""));
        let port = authority.rsplit_once(':').map(|(_, port)| port.parse::<u16>());
        if authority.is_empty() || !matches!(port, Some(Ok(_))) {
            return Err(invalid("is not host:port, optionally followed by a path"));
        }
        let host = HeaderValue::from_str(authority).map_err(|_| invalid("is not a valid host"))?;
        let path = path.trim_matches('/');
        let prefix = if path.is_empty() { String::new() } else { format!("/{path}") };
        let uri = |rest: &str| {
            Uri::try_from(format!("{prefix}/2018-06-01/runtime/{rest}")).map_err(|_| invalid("has an invalid path"))
        };
        Ok(Endpoint {
            next: uri("invocation/next")?,
            init_error: uri("init/error")?,
            authority: authority.into(),
            host,
            prefix,
        })
    }

    /// `invocation/{request_id}/{outcome}`; the request id must be a URI path segment (Lambda's are UUIDs).
    fn invocation(&self, request_id: &str, outcome: &str) -> Result<Uri, RuntimeError> {
        let segment =
            !request_id.is_empty() && request_id.bytes().all(|b| b.is_ascii_alphanumeric() || b"-._~".contains(&b));
        let uri = format!("{}/2018-06-01/runtime/invocation/{request_id}/{outcome}", self.prefix);
        match Uri::try_from(uri) {
            Ok(uri) if segment => Ok(uri),
            _ => Err(RuntimeError::Protocol("the Lambda-Runtime-Aws-Request-Id is not a URI path segment")),
        }
    }
}

/// One keep-alive HTTP/1.1 connection to the runtime API, opened again if the server closed it between requests.
struct Connection {
    endpoint: Arc<Endpoint>,
    sender: Option<SendRequest<Full<Bytes>>>,
}

impl Connection {
    fn new(endpoint: Arc<Endpoint>) -> Self {
        Connection { endpoint, sender: None }
    }

    /// The next event's request id and either the invocation or, for an event that is not text, its failure.
    async fn next(&mut self) -> Result<(String, Result<Invocation, Failure>), RuntimeError> {
        let what = "GET invocation/next";
        let (status, headers, body) =
            self.send(what, Method::GET, self.endpoint.next.clone(), None, Bytes::new()).await?;
        if status != StatusCode::OK {
            return Err(RuntimeError::Status { what, status: status.as_u16() });
        }
        let header = |name: &str| headers.get(name).and_then(|value| value.to_str().ok()).map(str::to_owned);
        let request_id = header(REQUEST_ID).ok_or(RuntimeError::Protocol("no Lambda-Runtime-Aws-Request-Id"))?;
        // Checked now, before the handler runs, though only the answer needs it.
        self.endpoint.invocation(&request_id, "response")?;
        let invocation = match String::from_utf8(body.into()) {
            Ok(event) => Ok(Invocation {
                request_id: request_id.clone(),
                deadline_ms: header(DEADLINE_MS).and_then(|ms| ms.parse().ok()),
                trace_id: header(TRACE_ID),
                function_arn: header(FUNCTION_ARN),
                event,
            }),
            // JSON is UTF-8 (RFC 8259), so Lambda never sends this.
            Err(_) => Err(Failure::new("Runtime.InvalidEvent", "the event is not UTF-8 text")),
        };
        Ok((request_id, invocation))
    }

    /// Posts the answer or the failure for `request_id`. The runtime API's 500 means it cannot go on; any other
    /// refusal (an unknown request id, an answer too large) concerns this invocation only, so it is logged.
    async fn finish(&mut self, request_id: &str, outcome: Result<Vec<u8>, Failure>) -> Result<(), RuntimeError> {
        let (what, (status, _, _)) = match outcome {
            Ok(answer) => {
                let what = "POST invocation/{id}/response";
                let uri = self.endpoint.invocation(request_id, "response")?;
                (what, self.send(what, Method::POST, uri, None, answer.into()).await?)
            }
            Err(failure) => {
                let what = "POST invocation/{id}/error";
                let uri = self.endpoint.invocation(request_id, "error")?;
                (what, self.post_failure(what, uri, &failure).await?)
            }
        };
        if status == StatusCode::INTERNAL_SERVER_ERROR {
            return Err(RuntimeError::Status { what, status: status.as_u16() });
        }
        if !status.is_success() {
            tracing::error!(event = "runtime_refused", request = what, status = status.as_u16());
        }
        Ok(())
    }

    async fn post_failure(
        &mut self,
        what: &'static str,
        uri: Uri,
        failure: &Failure,
    ) -> Result<(StatusCode, HeaderMap, Bytes), RuntimeError> {
        // Two strings: serializing cannot fail.
        let body = serde_json::to_vec(failure).unwrap_or_default();
        // Lambda accepts any string here; a type that is not a valid header value is sent without it.
        let error_type = HeaderValue::from_str(&failure.error_type).ok();
        self.send(what, Method::POST, uri, error_type, body.into()).await
    }

    async fn send(
        &mut self,
        what: &'static str,
        method: Method,
        uri: Uri,
        error_type: Option<HeaderValue>,
        body: Bytes,
    ) -> Result<(StatusCode, HeaderMap, Bytes), RuntimeError> {
        let transport = |cause: &dyn Display| RuntimeError::Transport { what, cause: cause.to_string() };
        let mut request = Request::new(Full::new(body));
        *request.method_mut() = method.clone();
        *request.uri_mut() = uri;
        let headers = request.headers_mut();
        headers.insert(HOST, self.endpoint.host.clone());
        if method == Method::POST {
            headers.insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
        }
        if let Some(error_type) = error_type {
            headers.insert(ERROR_TYPE, error_type);
        }
        // A connection the server closed since the last answer is not ready: open another.
        let reusable = match self.sender.take() {
            Some(mut sender) => sender.ready().await.is_ok().then_some(sender),
            None => None,
        };
        let mut sender = match reusable {
            Some(sender) => sender,
            None => self.connect(what).await?,
        };
        let response = sender.send_request(request).await.map_err(|e| transport(&e))?;
        let (parts, body) = response.into_parts();
        let body = body.collect().await.map_err(|e| transport(&e))?.to_bytes();
        self.sender = Some(sender);
        Ok((parts.status, parts.headers, body))
    }

    async fn connect(&self, what: &'static str) -> Result<SendRequest<Full<Bytes>>, RuntimeError> {
        let transport = |cause: &dyn Display| RuntimeError::Transport { what, cause: cause.to_string() };
        let stream = TcpStream::connect(self.endpoint.authority.as_str()).await.map_err(|e| transport(&e))?;
        // Each message is one small write; Nagle's delay would only add latency.
        stream.set_nodelay(true).map_err(|e| transport(&e))?;
        let (sender, connection) = http1::handshake(TokioIo::new(stream)).await.map_err(|e| transport(&e))?;
        // The connection's own task; its failure surfaces in the next request on it.
        tokio::spawn(connection);
        Ok(sender)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses_are_host_port_with_an_optional_prefix() {
        let lambda = Endpoint::parse("127.0.0.1:9001").unwrap();
        assert_eq!((lambda.authority.as_str(), lambda.host.to_str().unwrap()), ("127.0.0.1:9001", "127.0.0.1:9001"));
        assert_eq!(lambda.next, "/2018-06-01/runtime/invocation/next");
        assert_eq!(lambda.init_error, "/2018-06-01/runtime/init/error");
        let response = lambda.invocation("8476a536-e9f4", "response").unwrap();
        assert_eq!(response, "/2018-06-01/runtime/invocation/8476a536-e9f4/response");
        for bad in ["", "a/b", "a b", "a?b", "a%2F", "../next"] {
            assert!(matches!(lambda.invocation(bad, "error"), Err(RuntimeError::Protocol(_))), "{bad:?}");
        }
        let watch = Endpoint::parse("http://localhost:9000/.rt/token-authorizer").unwrap();
        assert_eq!(watch.authority, "localhost:9000");
        assert_eq!(watch.next, "/.rt/token-authorizer/2018-06-01/runtime/invocation/next");
        assert_eq!(Endpoint::parse("127.0.0.1:9000/.rt/f/").unwrap().next, "/.rt/f/2018-06-01/runtime/invocation/next");
        let bad = ["", ":", "127.0.0.1", "127.0.0.1:", "127.0.0.1:http", "/a", "127.0.0.1:9001/a b", "https://h:443"];
        for bad in bad {
            assert!(matches!(Endpoint::parse(bad), Err(RuntimeError::Address(_))), "{bad:?}");
        }
    }

    #[test]
    fn concurrency_is_at_least_one() {
        assert_eq!(Runtime::new("127.0.0.1:9001", 0).unwrap().concurrency, 1);
        assert_eq!(Runtime::new("127.0.0.1:9001", 8).unwrap().concurrency, 8);
    }
}
