//! The runtime client against a stand-in for Lambda's Runtime API on 127.0.0.1: answers and failures reach the
//! request id they belong to, a failure carries its type in the header Lambda reads, an init error is posted,
//! `AWS_LAMBDA_MAX_CONCURRENCY` > 1 serves that many events at once, and a broken runtime API stops the client
//! without a panic. A stand-in, because the only other runtime API emulator here is `cargo lambda watch`: the
//! tests in `tests/` run the real binaries under it, but it cannot be made to misbehave or count connections.

use authorizer::runtime::{Failure, Invocation, Runtime, RuntimeError};
use serde_json::{Value, json};
use std::collections::{HashMap, VecDeque};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicU16, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{Barrier, Notify, mpsc};
use tokio::task::{JoinHandle, JoinSet};

const WAIT: Duration = Duration::from_secs(10);

/// What `/next` answers.
struct Next {
    status: u16,
    headers: Vec<(&'static str, String)>,
    body: Vec<u8>,
}

/// An event as Lambda sends it.
fn event(request_id: &str, body: &str) -> Next {
    Next {
        status: 200,
        headers: vec![
            ("Lambda-Runtime-Aws-Request-Id", request_id.into()),
            ("Lambda-Runtime-Deadline-Ms", "1542409706888".into()),
            ("Lambda-Runtime-Trace-Id", format!("Root=1-5bef4de7-ad49b0e87f6ef6c87fc2e700;Parent={request_id}")),
            ("Lambda-Runtime-Invoked-Function-Arn", "arn:aws:lambda:us-east-1:123456789012:function:f".into()),
        ],
        body: body.as_bytes().to_vec(),
    }
}

/// A request the client posted.
#[derive(Debug)]
struct Post {
    path: String,
    /// Names in lower case.
    headers: HashMap<String, String>,
    body: Vec<u8>,
}

impl Post {
    fn json(&self) -> Value {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|e| panic!("{} posted a body that is not JSON: {e}", self.path))
    }
}

#[derive(Default)]
struct Shared {
    events: Mutex<VecDeque<Next>>,
    queued: Notify,
    /// The status every POST is answered with (202 unless a test changes it).
    post_status: AtomicU16,
    /// Answer with `Connection: close` and close, as a server that does not keep connections alive.
    close_after_each: AtomicBool,
    connections: AtomicUsize,
}

/// The runtime API: `/next` hands out queued events in turn and waits while there are none; every POST is recorded
/// and answered. Dropping it closes every connection.
struct StandIn {
    addr: SocketAddr,
    shared: Arc<Shared>,
    posts: mpsc::UnboundedReceiver<Post>,
    server: JoinHandle<()>,
}

impl StandIn {
    async fn start() -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let shared = Arc::new(Shared { post_status: AtomicU16::new(202), ..Shared::default() });
        let (sender, posts) = mpsc::unbounded_channel();
        let state = Arc::clone(&shared);
        let server = tokio::spawn(async move {
            // Held here, so aborting the server aborts every connection too.
            let mut connections = JoinSet::new();
            while let Ok((stream, _)) = listener.accept().await {
                state.connections.fetch_add(1, Ordering::SeqCst);
                connections.spawn(serve(stream, Arc::clone(&state), sender.clone()));
            }
        });
        StandIn { addr, shared, posts, server }
    }

    fn queue(&self, next: Next) {
        self.shared.events.lock().unwrap().push_back(next);
        self.shared.queued.notify_one();
    }

    async fn post(&mut self) -> Post {
        tokio::time::timeout(WAIT, self.posts.recv()).await.expect("a POST in time").expect("the server runs")
    }

    fn runtime(&self, prefix: &str, concurrency: usize) -> Runtime {
        Runtime::new(&format!("{}{prefix}", self.addr), concurrency).unwrap()
    }
}

impl Drop for StandIn {
    fn drop(&mut self) {
        self.server.abort();
    }
}

async fn serve(stream: TcpStream, shared: Arc<Shared>, posts: mpsc::UnboundedSender<Post>) {
    let (reader, mut writer) = stream.into_split();
    let mut reader = BufReader::new(reader);
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line).await.unwrap_or(0) == 0 {
            return;
        }
        let mut words = line.split_whitespace();
        let (method, path) = (words.next().unwrap_or("").to_owned(), words.next().unwrap_or("").to_owned());
        let mut headers = HashMap::new();
        loop {
            line.clear();
            if reader.read_line(&mut line).await.unwrap_or(0) == 0 {
                return;
            }
            match line.trim_end().split_once(':') {
                Some((name, value)) => headers.insert(name.to_ascii_lowercase(), value.trim().to_owned()),
                None => break,
            };
        }
        let length = headers.get("content-length").map_or(0, |l| l.parse().unwrap());
        let mut body = vec![0; length];
        if reader.read_exact(&mut body).await.is_err() {
            return;
        }
        let answer = if method == "GET" && path.ends_with("/2018-06-01/runtime/invocation/next") {
            loop {
                let queued = shared.events.lock().unwrap().pop_front();
                match queued {
                    Some(next) => break next,
                    None => shared.queued.notified().await,
                }
            }
        } else {
            let status = shared.post_status.load(Ordering::SeqCst);
            let _ = posts.send(Post { path, headers, body });
            Next { status, headers: vec![], body: br#"{"status":"OK"}"#.to_vec() }
        };
        let close = shared.close_after_each.load(Ordering::SeqCst);
        let mut out = format!("HTTP/1.1 {} X\r\nContent-Length: {}\r\n", answer.status, answer.body.len());
        for (name, value) in &answer.headers {
            out.push_str(&format!("{name}: {value}\r\n"));
        }
        out.push_str(if close { "Connection: close\r\n\r\n" } else { "\r\n" });
        let mut out = out.into_bytes();
        out.extend_from_slice(&answer.body);
        if writer.write_all(&out).await.is_err() || close {
            return;
        }
    }
}

type Run = JoinHandle<Result<std::convert::Infallible, RuntimeError>>;

/// Echoes what the handler was given, as the answer.
fn echo(runtime: Runtime) -> Run {
    tokio::spawn(async move {
        runtime
            .run(|invocation: Invocation| async move {
                Ok(json!({
                    "id": invocation.request_id, "deadline": invocation.deadline_ms, "trace": invocation.trace_id,
                    "arn": invocation.function_arn, "event": invocation.event,
                }))
            })
            .await
    })
}

/// The error that ended the run, once the stand-in is gone.
async fn stopped(stand_in: StandIn, run: Run) -> RuntimeError {
    drop(stand_in);
    match tokio::time::timeout(WAIT, run).await.expect("the run ends").expect("no panic") {
        Err(error) => error,
    }
}

#[tokio::test]
async fn answers_reach_their_request_ids_over_one_kept_alive_connection() {
    let mut api = StandIn::start().await;
    let ids = ["8476a536-e9f4-11e8-9739-2dfe598c3fcd", "a1", "b2"];
    for id in ids {
        api.queue(event(id, &format!(r#"{{"for":"{id}"}}"#)));
    }
    // cargo lambda watch serves each function under a path.
    let run = echo(api.runtime("/.rt/fn", 1));
    for id in ids {
        let post = api.post().await;
        assert_eq!(post.path, format!("/.rt/fn/2018-06-01/runtime/invocation/{id}/response"));
        assert_eq!(post.headers.get("content-type").map(String::as_str), Some("application/json"));
        assert_eq!(
            post.json(),
            json!({
                "id": id, "deadline": 1542409706888_u64, "event": format!(r#"{{"for":"{id}"}}"#),
                "trace": format!("Root=1-5bef4de7-ad49b0e87f6ef6c87fc2e700;Parent={id}"),
                "arn": "arn:aws:lambda:us-east-1:123456789012:function:f",
            })
        );
    }
    assert_eq!(api.shared.connections.load(Ordering::SeqCst), 1, "one connection, kept alive");
    let error = stopped(api, run).await;
    assert!(matches!(error, RuntimeError::Transport { what: "GET invocation/next", .. }), "{error}");
}

#[tokio::test]
async fn failures_are_posted_with_their_type_and_the_loop_goes_on() {
    let mut api = StandIn::start().await;
    api.queue(event("refused", "401"));
    api.queue(event("broken", "500"));
    api.queue(Next { body: vec![0xff, b'{'], ..event("binary", "") });
    api.queue(event("fine", "200"));
    let runtime = api.runtime("", 1);
    let run = tokio::spawn(async move {
        runtime
            .run(|invocation: Invocation| async move {
                match invocation.event.as_str() {
                    "401" => Err(Failure::new("Unauthorized", "Unauthorized")),
                    "500" => Err(Failure::new("AuthorizerError", "AuthorizerError: \"keys\"\nunavailable")),
                    _ => Ok(json!({"ok": invocation.event})),
                }
            })
            .await
    });
    let expected = [
        ("refused", "Unauthorized", "Unauthorized"),
        ("broken", "AuthorizerError", "AuthorizerError: \"keys\"\nunavailable"),
        ("binary", "Runtime.InvalidEvent", "the event is not UTF-8 text"),
    ];
    for (id, error_type, message) in expected {
        let post = api.post().await;
        assert_eq!(post.path, format!("/2018-06-01/runtime/invocation/{id}/error"));
        assert_eq!(post.headers.get("lambda-runtime-function-error-type").map(String::as_str), Some(error_type));
        assert_eq!(post.json(), json!({"errorType": error_type, "errorMessage": message}));
    }
    let post = api.post().await;
    assert_eq!(
        (post.path.as_str(), post.json()),
        ("/2018-06-01/runtime/invocation/fine/response", json!({"ok": "200"}))
    );
    stopped(api, run).await;
}

#[tokio::test]
async fn init_errors_are_posted_and_a_refusal_is_an_error() {
    let mut api = StandIn::start().await;
    let failure = Failure::new("ConfigError", "invalid configuration: COGNITO_CLIENT_IDS: required with a pool");
    api.runtime("", 1).report_init_error(&failure).await.unwrap();
    let post = api.post().await;
    assert_eq!(post.path, "/2018-06-01/runtime/init/error");
    assert_eq!(post.headers.get("lambda-runtime-function-error-type").map(String::as_str), Some("ConfigError"));
    assert_eq!(
        post.json(),
        json!({"errorType": "ConfigError", "errorMessage": "invalid configuration: COGNITO_CLIENT_IDS: required with a pool"})
    );

    api.shared.post_status.store(500, Ordering::SeqCst);
    let error = api.runtime("", 1).report_init_error(&failure).await.unwrap_err();
    assert!(matches!(error, RuntimeError::Status { what: "POST init/error", status: 500 }), "{error}");
}

#[tokio::test]
async fn concurrency_serves_that_many_events_at_once() {
    const LOOPS: usize = 4;
    let mut api = StandIn::start().await;
    for i in 0..LOOPS {
        api.queue(event(&format!("id-{i}"), &i.to_string()));
    }
    // Every handler waits for all the others: one loop at a time would never get past the first.
    let barrier = Arc::new(Barrier::new(LOOPS));
    let runtime = api.runtime("", LOOPS);
    let run = tokio::spawn(async move {
        runtime
            .run(move |invocation: Invocation| {
                let barrier = Arc::clone(&barrier);
                async move {
                    barrier.wait().await;
                    Ok(invocation.event)
                }
            })
            .await
    });
    let mut answered: Vec<(String, Value)> = Vec::new();
    for _ in 0..LOOPS {
        let post = api.post().await;
        answered.push((post.path.clone(), post.json()));
    }
    answered.sort_by(|a, b| a.0.cmp(&b.0));
    let expected: Vec<_> = (0..LOOPS)
        .map(|i| (format!("/2018-06-01/runtime/invocation/id-{i}/response"), Value::String(i.to_string())))
        .collect();
    assert_eq!(answered, expected);
    assert_eq!(api.shared.connections.load(Ordering::SeqCst), LOOPS, "a connection per loop");
    stopped(api, run).await;
}

#[tokio::test]
async fn a_next_without_a_usable_request_id_stops_the_runtime_without_a_panic() {
    for next in [
        Next { headers: vec![], ..event("unused", "{}") },
        event("", "{}"),
        event("../../init/error", "{}"),
        event("a%2Fb", "{}"),
    ] {
        let api = StandIn::start().await;
        api.queue(next);
        let called = Arc::new(AtomicUsize::new(0));
        let calls = Arc::clone(&called);
        let runtime = api.runtime("", 1);
        let error = runtime
            .run(move |_: Invocation| {
                calls.fetch_add(1, Ordering::SeqCst);
                async { Ok(()) }
            })
            .await
            .unwrap_err();
        assert!(matches!(error, RuntimeError::Protocol(_)), "{error}");
        assert_eq!(called.load(Ordering::SeqCst), 0, "the handler never ran");
    }
}

#[tokio::test]
async fn a_500_stops_the_runtime_and_other_refusals_do_not() {
    let mut api = StandIn::start().await;
    api.shared.post_status.store(413, Ordering::SeqCst);
    api.queue(event("too-large", "{}"));
    let run = echo(api.runtime("", 1));
    api.post().await;
    api.shared.post_status.store(500, Ordering::SeqCst);
    api.queue(event("after", "{}"));
    assert_eq!(api.post().await.path, "/2018-06-01/runtime/invocation/after/response", "the loop went on");
    let error = tokio::time::timeout(WAIT, run).await.unwrap().unwrap().unwrap_err();
    assert!(matches!(error, RuntimeError::Status { status: 500, .. }), "{error}");
}

#[tokio::test]
async fn a_connection_closed_between_requests_is_opened_again() {
    let mut api = StandIn::start().await;
    api.shared.close_after_each.store(true, Ordering::SeqCst);
    for id in ["one", "two"] {
        api.queue(event(id, "{}"));
    }
    let run = echo(api.runtime("", 1));
    for id in ["one", "two"] {
        assert_eq!(api.post().await.path, format!("/2018-06-01/runtime/invocation/{id}/response"));
    }
    // next, response, next, response, and the next that waits.
    let connections = || api.shared.connections.load(Ordering::SeqCst);
    let deadline = tokio::time::Instant::now() + WAIT;
    while connections() < 5 && tokio::time::Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert_eq!(connections(), 5);
    stopped(api, run).await;
}

#[tokio::test]
async fn an_unreachable_runtime_api_stops_the_runtime() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    drop(listener);
    let runtime = Runtime::new(&addr.to_string(), 1).unwrap();
    let error = runtime.run(|_: Invocation| async { Ok(()) }).await.unwrap_err();
    assert!(matches!(error, RuntimeError::Transport { what: "GET invocation/next", .. }), "{error}");
    let error = runtime.report_init_error(&Failure::new("ConfigError", "x")).await.unwrap_err();
    assert!(matches!(error, RuntimeError::Transport { what: "POST init/error", .. }), "{error}");
}
