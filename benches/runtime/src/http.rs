//! Just enough HTTP/1.1 for a loopback server the functions under test talk to: keep-alive connections,
//! `Content-Length` bodies, one thread per connection, bound to 127.0.0.1 only.

use std::io::{self, BufRead, BufReader, Write};
use std::net::{Ipv4Addr, SocketAddr, TcpListener, TcpStream};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

/// A connection with no request for this long is closed, so no thread outlives the run for long.
const IDLE_TIMEOUT: Duration = Duration::from_secs(30);
/// Requests from the functions are small; anything larger is a bug, not a workload.
const MAX_HEADERS: usize = 64;
const MAX_BODY: usize = 1 << 20;

/// One parsed request, stamped when its last byte was read.
pub struct Request {
    pub method: String,
    pub path: String,
    pub body: Vec<u8>,
    pub received: Instant,
}

/// Answers one request on the connection it came from; an error closes that connection.
pub trait Handler: Send + Sync + 'static {
    fn handle(&self, request: &Request, stream: &mut TcpStream) -> io::Result<()>;
}

/// A listener on a free loopback port; dropping it stops accepting (open connections end with their peer).
pub struct Server {
    addr: SocketAddr,
    stop: Arc<AtomicBool>,
    acceptor: Option<JoinHandle<()>>,
}

impl Server {
    pub fn start(handler: impl Handler) -> io::Result<Self> {
        let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0))?;
        let addr = listener.local_addr()?;
        let stop = Arc::new(AtomicBool::new(false));
        let handler = Arc::new(handler);
        let stopping = Arc::clone(&stop);
        let acceptor = thread::spawn(move || {
            for stream in listener.incoming() {
                if stopping.load(Ordering::Acquire) {
                    break;
                }
                if let Ok(stream) = stream {
                    let handler = Arc::clone(&handler);
                    thread::spawn(move || serve(stream, &*handler));
                }
            }
        });
        Ok(Server { addr, stop, acceptor: Some(acceptor) })
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Release);
        // `accept` only returns on a connection: make one so the acceptor sees the flag and exits.
        let woke = TcpStream::connect_timeout(&self.addr, Duration::from_secs(1)).is_ok();
        if let Some(acceptor) = self.acceptor.take().filter(|_| woke) {
            let _ = acceptor.join();
        }
    }
}

fn serve(mut stream: TcpStream, handler: &dyn Handler) {
    let Ok(mut reader) = stream.try_clone().map(BufReader::new) else { return };
    // One write per response and no Nagle delay: a held-back segment would show up as latency.
    if stream.set_nodelay(true).and_then(|()| stream.set_read_timeout(Some(IDLE_TIMEOUT))).is_err() {
        return;
    }
    while let Ok(Some(request)) = read_request(&mut reader) {
        if handler.handle(&request, &mut stream).is_err() {
            return;
        }
    }
}

/// Reads one request; `None` when the peer closed the connection between requests.
fn read_request(reader: &mut impl BufRead) -> io::Result<Option<Request>> {
    let mut line = String::new();
    if reader.read_line(&mut line)? == 0 {
        return Ok(None);
    }
    let mut words = line.split_ascii_whitespace();
    let (Some(method), Some(path)) = (words.next(), words.next()) else {
        return Err(invalid(format!("bad request line {line:?}")));
    };
    let (method, path) = (method.to_owned(), path.to_owned());
    let mut length = 0;
    for _ in 0..=MAX_HEADERS {
        line.clear();
        if reader.read_line(&mut line)? == 0 {
            return Err(io::ErrorKind::UnexpectedEof.into());
        }
        let header = line.trim_end();
        if header.is_empty() {
            if length > MAX_BODY {
                return Err(invalid(format!("body of {length} bytes")));
            }
            let mut body = vec![0; length];
            reader.read_exact(&mut body)?;
            return Ok(Some(Request { method, path, body, received: Instant::now() }));
        }
        let Some((name, value)) = header.split_once(':') else {
            return Err(invalid(format!("bad header {header:?}")));
        };
        if name.eq_ignore_ascii_case("content-length") {
            length = value.trim().parse().map_err(|_| invalid(format!("bad Content-Length {value:?}")))?;
        } else if name.eq_ignore_ascii_case("transfer-encoding") {
            return Err(invalid(format!("Transfer-Encoding {value:?} is not supported")));
        }
    }
    Err(invalid(format!("more than {MAX_HEADERS} headers")))
}

/// Writes a whole response in one write; `status` is the code and reason, e.g. `200 OK`.
pub fn respond(stream: &mut TcpStream, status: &str, headers: &[(&str, &str)], body: &[u8]) -> io::Result<()> {
    let mut out = Vec::with_capacity(256 + body.len());
    write!(out, "HTTP/1.1 {status}\r\nContent-Length: {}\r\n", body.len())?;
    for (name, value) in headers {
        write!(out, "{name}: {value}\r\n")?;
    }
    out.extend_from_slice(b"\r\n");
    out.extend_from_slice(body);
    stream.write_all(&out)
}

fn invalid(message: String) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, message)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_keep_alive_requests_in_turn() {
        let wire = b"POST /a HTTP/1.1\r\ncontent-length: 2\r\nHost: x\r\n\r\nhiGET /b HTTP/1.1\r\n\r\n";
        let mut reader = &wire[..];
        let first = read_request(&mut reader).unwrap().unwrap();
        assert_eq!((first.method.as_str(), first.path.as_str(), &first.body[..]), ("POST", "/a", &b"hi"[..]));
        let second = read_request(&mut reader).unwrap().unwrap();
        assert_eq!((second.method.as_str(), second.path.as_str(), second.body.len()), ("GET", "/b", 0));
        assert!(read_request(&mut reader).unwrap().is_none());
    }

    #[test]
    fn refuses_what_it_cannot_frame() {
        for wire in [&b"POST /a HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n"[..], b"GET /a HTTP/1.1\r\nHost"] {
            assert!(read_request(&mut &wire[..]).is_err());
        }
    }
}
