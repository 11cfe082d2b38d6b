//! A hand-made loopback HTTP stand-in for an issuer's JWKS endpoint. It exists because moto serves one fixed key and
//! cannot rotate keys or go down on demand: tests swap the published keys at run time, count fetches, and switch the
//! endpoint to answer 500 or to hang. It answers every GET with the same document, whatever the path; it is no
//! general HTTP server and must never listen beyond 127.0.0.1.

use std::io::{Read as _, Write as _};
use std::net::{Ipv4Addr, SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::thread::JoinHandle;
use std::time::Duration;

use serde_json::Value;

use crate::{Error, Result};

/// How the endpoint answers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// 200 with the current JWKS.
    Serve,
    /// 500, like an issuer in an outage.
    Fail,
    /// Reads the request and never answers, until the mode changes or the server stops; the client must time out.
    Hang,
}

/// Longest a single request may take to arrive; a stalled client must not pin a thread forever.
const READ_TIMEOUT: Duration = Duration::from_secs(5);
/// Requests are tiny GETs; anything larger is not a JWKS fetch.
const MAX_REQUEST_BYTES: usize = 16 * 1024;

#[derive(Debug)]
struct State {
    body: Mutex<String>,
    mode: Mutex<Mode>,
    requests: AtomicUsize,
    stopping: AtomicBool,
}

impl State {
    fn mode(&self) -> Mode {
        *self.mode.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn body(&self) -> String {
        self.body.lock().unwrap_or_else(PoisonError::into_inner).clone()
    }
}

/// A running stand-in; stops on drop.
#[derive(Debug)]
pub struct JwksServer {
    addr: SocketAddr,
    state: Arc<State>,
    accept_thread: Option<JoinHandle<()>>,
}

impl JwksServer {
    /// Starts serving `jwks` on a free 127.0.0.1 port.
    pub fn start(jwks: &Value) -> Result<Self> {
        let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0))
            .map_err(|source| Error::io("binding the JWKS stand-in", source))?;
        let addr = listener.local_addr().map_err(|source| Error::io("reading the JWKS stand-in's address", source))?;
        let state = Arc::new(State {
            body: Mutex::new(jwks.to_string()),
            mode: Mutex::new(Mode::Serve),
            requests: AtomicUsize::new(0),
            stopping: AtomicBool::new(false),
        });
        let accept_state = Arc::clone(&state);
        let accept_thread = std::thread::Builder::new()
            .name("jwks-stand-in".into())
            .spawn(move || accept_loop(&listener, &accept_state))
            .map_err(|source| Error::io("starting the JWKS stand-in thread", source))?;
        Ok(Self { addr, state, accept_thread: Some(accept_thread) })
    }

    /// The URL to configure as `jwks_uri`.
    pub fn url(&self) -> String {
        format!("http://{}/.well-known/jwks.json", self.addr)
    }

    /// Publishes a new JWKS document from the next request on.
    pub fn set_jwks(&self, jwks: &Value) {
        *self.state.body.lock().unwrap_or_else(PoisonError::into_inner) = jwks.to_string();
    }

    pub fn set_mode(&self, mode: Mode) {
        *self.state.mode.lock().unwrap_or_else(PoisonError::into_inner) = mode;
    }

    /// Requests received so far, whatever they were answered with.
    pub fn requests(&self) -> usize {
        self.state.requests.load(Ordering::SeqCst)
    }
}

impl Drop for JwksServer {
    fn drop(&mut self) {
        self.state.stopping.store(true, Ordering::SeqCst);
        // accept() blocks; one connection wakes it up to see the flag. Without it, joining could wait forever.
        if TcpStream::connect(self.addr).is_ok()
            && let Some(thread) = self.accept_thread.take()
        {
            let _ = thread.join();
        }
    }
}

fn accept_loop(listener: &TcpListener, state: &Arc<State>) {
    for stream in listener.incoming() {
        if state.stopping.load(Ordering::SeqCst) {
            return;
        }
        let Ok(stream) = stream else { continue };
        let state = Arc::clone(state);
        // One thread per connection, so a hanging answer does not block the next fetch.
        let _ = std::thread::Builder::new().name("jwks-request".into()).spawn(move || answer(stream, &state));
    }
}

fn answer(mut stream: TcpStream, state: &State) {
    if stream.set_read_timeout(Some(READ_TIMEOUT)).is_err() || !read_request_head(&mut stream) {
        return;
    }
    state.requests.fetch_add(1, Ordering::SeqCst);
    let (status, body) = match state.mode() {
        Mode::Serve => ("200 OK", state.body()),
        Mode::Fail => ("500 Internal Server Error", r#"{"message":"simulated outage"}"#.to_owned()),
        Mode::Hang => {
            while state.mode() == Mode::Hang && !state.stopping.load(Ordering::SeqCst) {
                std::thread::sleep(Duration::from_millis(50));
            }
            return; // Closing without an answer.
        }
    };
    let response = format!(
        "HTTP/1.1 {status}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    let _ = stream.write_all(response.as_bytes());
}

/// Reads up to the blank line that ends the request head; false if the client went away or sent too much.
fn read_request_head(stream: &mut TcpStream) -> bool {
    let mut request = Vec::new();
    let mut chunk = [0; 1024];
    while !request.windows(4).any(|window| window == b"\r\n\r\n") {
        match stream.read(&mut chunk) {
            Ok(0) | Err(_) => return false,
            Ok(read) => request.extend_from_slice(&chunk[..read]),
        }
        if request.len() > MAX_REQUEST_BYTES {
            return false;
        }
    }
    true
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    async fn get(client: &reqwest::Client, url: &str) -> reqwest::Result<(u16, String)> {
        let response = client.get(url).send().await?;
        Ok((response.status().as_u16(), response.text().await?))
    }

    #[tokio::test]
    async fn serves_swaps_fails_hangs_and_counts() {
        let server = JwksServer::start(&json!({"keys": []})).unwrap();
        let client = crate::loopback_client_builder().timeout(Duration::from_millis(500)).build().unwrap();
        let url = server.url();

        assert_eq!(get(&client, &url).await.unwrap(), (200, r#"{"keys":[]}"#.to_owned()));
        server.set_jwks(&json!({"keys": [{"kid": "new"}]}));
        assert_eq!(get(&client, &url).await.unwrap(), (200, r#"{"keys":[{"kid":"new"}]}"#.to_owned()));

        server.set_mode(Mode::Fail);
        assert_eq!(get(&client, &url).await.unwrap().0, 500);

        server.set_mode(Mode::Hang);
        assert!(get(&client, &url).await.unwrap_err().is_timeout());

        server.set_mode(Mode::Serve);
        assert_eq!(get(&client, &url).await.unwrap().0, 200);
        assert_eq!(server.requests(), 5);
    }
}
