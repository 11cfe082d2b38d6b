//! The issuer's key endpoint on loopback, for cold starts that must fetch their keys.

use crate::fixture::POOL;
use crate::http::{self, Handler, Request, Server};
use std::io;
use std::net::TcpStream;

pub struct JwksServer {
    server: Server,
}

struct Jwks {
    body: Vec<u8>,
}

/// Cognito's layout, so the configured `jwks_uri` looks like a real pool's.
fn path() -> String {
    format!("/{POOL}/.well-known/jwks.json")
}

impl JwksServer {
    pub fn start(jwks: String) -> io::Result<Self> {
        Ok(JwksServer { server: Server::start(Jwks { body: jwks.into_bytes() })? })
    }

    /// The `jwks_uri` to configure: plain HTTP, which the authorizers allow for loopback only.
    pub fn uri(&self) -> String {
        format!("http://{}{}", self.server.addr(), path())
    }
}

impl Handler for Jwks {
    fn handle(&self, request: &Request, stream: &mut TcpStream) -> io::Result<()> {
        if request.method == "GET" && request.path == path() {
            http::respond(stream, "200 OK", &[("Content-Type", "application/json")], &self.body)
        } else {
            http::respond(stream, "404 Not Found", &[], b"")
        }
    }
}
