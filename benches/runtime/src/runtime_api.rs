//! A minimal Lambda Runtime API (version 2018-06-01) on 127.0.0.1: `/next` hands out one queued event with
//! the headers Lambda sends, `/response` is timed against the moment the event was written, and `/error` or
//! `/init/error` end the measurement as a failure.

use crate::http::{self, Handler, Request, Server};
use std::collections::HashMap;
use std::io;
use std::net::{SocketAddr, TcpStream};
use std::sync::mpsc::{self, Receiver, Sender};
use std::sync::{Arc, Mutex, OnceLock, PoisonError};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

const NEXT: &str = "/2018-06-01/runtime/invocation/next";
const INVOCATION: &str = "/2018-06-01/runtime/invocation/";
const INIT_ERROR: &str = "/2018-06-01/runtime/init/error";
/// How long a `/next` waits for the driver to queue an event before giving the connection up.
const POLL_LIMIT: Duration = Duration::from_secs(30);
/// The deadline announced to the function; nothing here enforces it.
const DEADLINE: Duration = Duration::from_secs(30);

/// One event for the function.
pub struct Invocation {
    pub request_id: String,
    pub trace_id: String,
    pub event: Arc<[u8]>,
}

/// How an invocation ended.
pub enum Outcome {
    /// The function posted a response: `latency` runs from writing the event on `/next` to reading the
    /// whole response, `received` is when that happened.
    Response { request_id: String, latency: Duration, received: Instant, body: Vec<u8> },
    /// The function reported an error, or broke the protocol.
    Failed(String),
}

/// The API for one function process: start it, point the process at `addr`, queue events, read outcomes.
pub struct RuntimeApi {
    server: Server,
    queue: Sender<Invocation>,
    outcomes: Receiver<Outcome>,
    state: Arc<State>,
}

struct State {
    queue: Mutex<Receiver<Invocation>>,
    /// When each outstanding event was written, by request id.
    pending: Mutex<HashMap<String, Instant>>,
    outcomes: Sender<Outcome>,
    first_poll: OnceLock<Instant>,
    function_arn: String,
}

impl RuntimeApi {
    pub fn start(function_name: &str) -> io::Result<Self> {
        let (queue, queued) = mpsc::channel();
        let (report, outcomes) = mpsc::channel();
        let state = Arc::new(State {
            queue: Mutex::new(queued),
            pending: Mutex::default(),
            outcomes: report,
            first_poll: OnceLock::new(),
            function_arn: format!("arn:aws:lambda:us-east-1:123456789012:function:{function_name}"),
        });
        let server = Server::start(Api(Arc::clone(&state)))?;
        Ok(RuntimeApi { server, queue, outcomes, state })
    }

    /// What `AWS_LAMBDA_RUNTIME_API` must name.
    pub fn addr(&self) -> SocketAddr {
        self.server.addr()
    }

    /// Queues an event for the next `/next`; it may be queued before the function asks.
    pub fn queue(&self, invocation: Invocation) {
        // The receiver lives in `state`, which `self` holds, so this cannot fail.
        let _ = self.queue.send(invocation);
    }

    /// The next outcome, if one arrives within `wait`.
    pub fn outcome(&self, wait: Duration) -> Option<Outcome> {
        self.outcomes.recv_timeout(wait).ok()
    }

    /// When the function first asked for an event.
    pub fn first_poll(&self) -> Option<Instant> {
        self.state.first_poll.get().copied()
    }
}

struct Api(Arc<State>);

impl Handler for Api {
    fn handle(&self, request: &Request, stream: &mut TcpStream) -> io::Result<()> {
        let state = &*self.0;
        match (request.method.as_str(), request.path.as_str()) {
            ("GET", NEXT) => {
                state.first_poll.get_or_init(|| request.received);
                next(state, stream)
            }
            ("POST", INIT_ERROR) => {
                let message = format!("init error: {}", String::from_utf8_lossy(&request.body));
                accept(state, stream, Outcome::Failed(message))
            }
            ("POST", path) => match path.strip_prefix(INVOCATION).and_then(|rest| rest.split_once('/')) {
                Some((id, "response")) => {
                    let sent = state.pending.lock().unwrap_or_else(PoisonError::into_inner).remove(id);
                    let outcome = match sent {
                        Some(sent) => Outcome::Response {
                            request_id: id.to_owned(),
                            latency: request.received - sent,
                            received: request.received,
                            body: request.body.clone(),
                        },
                        None => Outcome::Failed(format!("response for unknown request id {id}")),
                    };
                    accept(state, stream, outcome)
                }
                Some((id, "error")) => {
                    let message = format!("invocation {id} failed: {}", String::from_utf8_lossy(&request.body));
                    accept(state, stream, Outcome::Failed(message))
                }
                _ => not_found(state, request, stream),
            },
            _ => not_found(state, request, stream),
        }
    }
}

/// Waits for a queued event and writes it with Lambda's invocation headers.
fn next(state: &State, stream: &mut TcpStream) -> io::Result<()> {
    let queued = state.queue.lock().unwrap_or_else(PoisonError::into_inner).recv_timeout(POLL_LIMIT);
    // Nothing more to hand out: closing the connection is all the function needs to know.
    let Ok(invocation) = queued else { return Err(io::ErrorKind::TimedOut.into()) };
    let now = SystemTime::now().duration_since(UNIX_EPOCH).unwrap_or_default();
    let deadline = (now + DEADLINE).as_millis().to_string();
    let headers = [
        ("Content-Type", "application/json"),
        ("Lambda-Runtime-Aws-Request-Id", invocation.request_id.as_str()),
        ("Lambda-Runtime-Deadline-Ms", deadline.as_str()),
        ("Lambda-Runtime-Invoked-Function-Arn", state.function_arn.as_str()),
        ("Lambda-Runtime-Trace-Id", invocation.trace_id.as_str()),
    ];
    let sent = Instant::now();
    state.pending.lock().unwrap_or_else(PoisonError::into_inner).insert(invocation.request_id.clone(), sent);
    http::respond(stream, "200 OK", &headers, &invocation.event)
}

/// Answers 202 first, so the function is not kept waiting on the driver, then reports.
fn accept(state: &State, stream: &mut TcpStream, outcome: Outcome) -> io::Result<()> {
    let written = http::respond(stream, "202 Accepted", &[("Content-Type", "application/json")], br#"{"status":"OK"}"#);
    let _ = state.outcomes.send(outcome);
    written
}

fn not_found(state: &State, request: &Request, stream: &mut TcpStream) -> io::Result<()> {
    let _ = state.outcomes.send(Outcome::Failed(format!("unexpected {} {}", request.method, request.path)));
    http::respond(stream, "404 Not Found", &[], b"")
}
