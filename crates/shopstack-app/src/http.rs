//! HTTP/1.x: reading a request head within a size and time limit, writing a response.

use std::fmt;
use std::io::{self, Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

/// The largest request head (request line and headers) accepted; larger ones get 431.
pub const MAX_HEAD_BYTES: usize = 8 * 1024;

/// Content type of the plain-text answers.
pub const TEXT_CONTENT_TYPE: &str = "text/plain; charset=utf-8";

/// The parts of a request this service reads.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequestHead {
    /// The method, as sent (`GET`, `HEAD`…).
    pub method: String,
    /// The path, without the query string.
    pub path: String,
}

/// Why no request head could be read.
#[derive(Debug)]
pub enum ReadError {
    /// The client closed or went quiet before sending a byte: nothing to answer.
    NoRequest,
    /// The client sent part of a head and then nothing before the deadline (408).
    TimedOut,
    /// The head is larger than [`MAX_HEAD_BYTES`] (431).
    TooLarge,
    /// The head is not HTTP/1.x (400).
    Malformed(&'static str),
    /// The connection failed.
    Io(io::Error),
}

impl fmt::Display for ReadError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::NoRequest => write!(f, "no request"),
            Self::TimedOut => write!(f, "request head not complete in time"),
            Self::TooLarge => write!(f, "request head larger than {MAX_HEAD_BYTES} bytes"),
            Self::Malformed(reason) => write!(f, "malformed request: {reason}"),
            Self::Io(error) => write!(f, "read request: {error}"),
        }
    }
}

impl ReadError {
    /// The status answering this error, if any answer can be sent.
    pub fn status(&self) -> Option<u16> {
        match self {
            Self::NoRequest | Self::Io(_) => None,
            Self::TimedOut => Some(408),
            Self::TooLarge => Some(431),
            Self::Malformed(_) => Some(400),
        }
    }
}

/// Reads a request head from `stream`, giving the whole head `timeout` so that a client that
/// trickles bytes cannot hold the connection longer than that.
pub fn read_request_head(
    stream: &mut TcpStream,
    timeout: Duration,
) -> Result<RequestHead, ReadError> {
    let deadline = Instant::now() + timeout;
    let mut head = Vec::with_capacity(1024);
    let mut chunk = [0_u8; 1024];
    loop {
        let remaining = deadline.saturating_duration_since(Instant::now());
        if remaining.is_zero() {
            return Err(timed_out(&head));
        }
        stream
            .set_read_timeout(Some(remaining))
            .map_err(ReadError::Io)?;
        let read = match stream.read(&mut chunk) {
            Ok(0) if head.is_empty() => return Err(ReadError::NoRequest),
            Ok(0) => return Err(ReadError::Malformed("connection closed inside the head")),
            Ok(read) => read,
            Err(error) if error.kind() == io::ErrorKind::Interrupted => continue,
            Err(error)
                if matches!(
                    error.kind(),
                    io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
                ) =>
            {
                return Err(timed_out(&head));
            }
            Err(error) => return Err(ReadError::Io(error)),
        };
        // Look for the end again from a little before the new bytes: it may straddle two reads.
        let search_from = head.len().saturating_sub(3);
        head.extend_from_slice(&chunk[..read]);
        if let Some(end) = find_head_end(&head[search_from..]) {
            let end = search_from + end;
            if end > MAX_HEAD_BYTES {
                return Err(ReadError::TooLarge);
            }
            return parse_request_head(&head[..end]);
        }
        if head.len() > MAX_HEAD_BYTES {
            return Err(ReadError::TooLarge);
        }
    }
}

fn timed_out(head: &[u8]) -> ReadError {
    if head.is_empty() {
        ReadError::NoRequest
    } else {
        ReadError::TimedOut
    }
}

/// The length of the head, through its blank line (`\r\n\r\n`, or `\n\n` from lax clients).
pub fn find_head_end(bytes: &[u8]) -> Option<usize> {
    (0..bytes.len()).find_map(|index| {
        let rest = &bytes[index..];
        if rest.starts_with(b"\r\n\r\n") {
            Some(index + 4)
        } else if rest.starts_with(b"\n\n") {
            Some(index + 2)
        } else {
            None
        }
    })
}

/// Parses a complete head: request line, then header lines, which are only checked for form.
pub fn parse_request_head(head: &[u8]) -> Result<RequestHead, ReadError> {
    let head = std::str::from_utf8(head).map_err(|_| ReadError::Malformed("not UTF-8"))?;
    let mut lines = head
        .split('\n')
        .map(|line| line.strip_suffix('\r').unwrap_or(line));
    let request_line = lines.next().unwrap_or_default();
    let mut parts = request_line.split(' ');
    let (Some(method), Some(target), Some(version), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(ReadError::Malformed(
            "request line is not METHOD TARGET VERSION",
        ));
    };
    if method.is_empty() || !method.bytes().all(|byte| byte.is_ascii_uppercase()) {
        return Err(ReadError::Malformed("bad method"));
    }
    if !target.starts_with('/') {
        return Err(ReadError::Malformed("target is not an absolute path"));
    }
    if !matches!(version, "HTTP/1.0" | "HTTP/1.1") {
        return Err(ReadError::Malformed("not HTTP/1.0 or HTTP/1.1"));
    }
    for line in lines.take_while(|line| !line.is_empty()) {
        match line.split_once(':') {
            Some((name, _)) if !name.is_empty() && !name.contains([' ', '\t']) => {}
            _ => return Err(ReadError::Malformed("bad header line")),
        }
    }
    let path = target.split_once('?').map_or(target, |(path, _)| path);
    Ok(RequestHead {
        method: method.to_owned(),
        path: path.to_owned(),
    })
}

/// The method as a metric label: well-known methods by name, anything else `other`, so that
/// clients cannot grow the number of series.
pub fn method_label(method: &str) -> &'static str {
    match method {
        "GET" => "GET",
        "HEAD" => "HEAD",
        "POST" => "POST",
        "PUT" => "PUT",
        "DELETE" => "DELETE",
        "PATCH" => "PATCH",
        "OPTIONS" => "OPTIONS",
        _ => "other",
    }
}

/// A response; every one closes the connection.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Response {
    /// The status code.
    pub status: u16,
    /// The `Content-Type` header.
    pub content_type: &'static str,
    /// Headers beyond the ones every response has.
    pub headers: Vec<(&'static str, String)>,
    /// The body (left out for HEAD, its length still sent).
    pub body: Vec<u8>,
}

impl Response {
    /// A response with this status, content type and body.
    pub fn new(status: u16, content_type: &'static str, body: impl Into<Vec<u8>>) -> Self {
        Self {
            status,
            content_type,
            headers: Vec::new(),
            body: body.into(),
        }
    }

    /// A plain-text response.
    pub fn text(status: u16, body: &str) -> Self {
        Self::new(status, TEXT_CONTENT_TYPE, body)
    }

    /// The same response with one more header.
    pub fn with_header(mut self, name: &'static str, value: &str) -> Self {
        self.headers.push((name, value.to_owned()));
        self
    }

    /// Writes the response; `include_body` is false for HEAD.
    pub fn write_to(&self, writer: &mut impl Write, include_body: bool) -> io::Result<()> {
        let mut out = format!(
            "HTTP/1.1 {} {}\r\nContent-Type: {}\r\nContent-Length: {}\r\nCache-Control: no-store\r\nConnection: close\r\n",
            self.status,
            reason_phrase(self.status),
            self.content_type,
            self.body.len()
        )
        .into_bytes();
        for (name, value) in &self.headers {
            out.extend_from_slice(format!("{name}: {value}\r\n").as_bytes());
        }
        out.extend_from_slice(b"\r\n");
        if include_body {
            out.extend_from_slice(&self.body);
        }
        writer.write_all(&out)?;
        writer.flush()
    }
}

fn reason_phrase(status: u16) -> &'static str {
    match status {
        200 => "OK",
        400 => "Bad Request",
        404 => "Not Found",
        405 => "Method Not Allowed",
        408 => "Request Timeout",
        431 => "Request Header Fields Too Large",
        503 => "Service Unavailable",
        _ => "",
    }
}

#[cfg(test)]
mod tests {
    use std::net::TcpListener;
    use std::thread;

    use super::*;

    fn parse(head: &str) -> Result<RequestHead, ReadError> {
        parse_request_head(head.as_bytes())
    }

    fn head(method: &str, path: &str) -> RequestHead {
        RequestHead {
            method: method.to_owned(),
            path: path.to_owned(),
        }
    }

    /// A connected pair: the server side, and a thread that writes `request` and then waits
    /// `hold` before closing.
    fn connection(request: Vec<u8>, hold: Duration) -> (TcpStream, thread::JoinHandle<()>) {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
        let address = listener.local_addr().expect("local address");
        let client = thread::spawn(move || {
            let mut client = TcpStream::connect(address).expect("connect");
            // The server may answer and close before reading all of a large request.
            let _ = client.write_all(&request);
            thread::sleep(hold);
        });
        let (server, _) = listener.accept().expect("accept");
        (server, client)
    }

    #[test]
    fn request_line_and_headers_parse_to_method_and_path() {
        let parsed = parse("GET /readyz?verbose=1 HTTP/1.1\r\nHost: a\r\nUser-Agent: b\r\n\r\n");
        assert_eq!(parsed.expect("valid head"), head("GET", "/readyz"));
        let parsed = parse("HEAD / HTTP/1.0\n\n");
        assert_eq!(parsed.expect("bare newlines"), head("HEAD", "/"));
    }

    #[test]
    fn malformed_heads_are_refused() {
        for bad in [
            "GET /\r\n\r\n",
            "GET  / HTTP/1.1\r\n\r\n",
            "get / HTTP/1.1\r\n\r\n",
            "GET http://host/ HTTP/1.1\r\n\r\n",
            "GET / HTTP/2.0\r\n\r\n",
            "GET / HTTP/1.1\r\nno colon\r\n\r\n",
            "GET / HTTP/1.1\r\nBad Name: x\r\n\r\n",
        ] {
            let error = parse(bad).expect_err(bad);
            assert_eq!(error.status(), Some(400), "{bad:?}: {error}");
        }
    }

    #[test]
    fn head_end_is_found_with_either_line_ending() {
        assert_eq!(find_head_end(b"GET / HTTP/1.1\r\n\r\nbody"), Some(18));
        assert_eq!(find_head_end(b"GET / HTTP/1.1\n\n"), Some(16));
        assert_eq!(find_head_end(b"GET / HTTP/1.1\r\nHost: a\r\n"), None);
    }

    #[test]
    fn a_head_split_across_reads_is_read_whole() {
        let request = b"GET /healthz HTTP/1.1\r\nHost: a\r\n\r\n".to_vec();
        let (mut server, client) = connection(request, Duration::ZERO);
        let parsed = read_request_head(&mut server, Duration::from_secs(5));
        assert_eq!(parsed.expect("valid head"), head("GET", "/healthz"));
        client.join().expect("client");
    }

    #[test]
    fn a_head_over_the_limit_is_too_large() {
        let mut request = b"GET / HTTP/1.1\r\nX-Padding: ".to_vec();
        request.resize(MAX_HEAD_BYTES + 100, b'a');
        request.extend_from_slice(b"\r\n\r\n");
        let (mut server, client) = connection(request, Duration::from_millis(200));
        let error = read_request_head(&mut server, Duration::from_secs(5)).expect_err("too large");
        assert_eq!(error.status(), Some(431), "{error}");
        client.join().expect("client");
    }

    #[test]
    fn a_client_that_stops_mid_head_times_out_at_the_deadline() {
        let (mut server, client) =
            connection(b"GET / HTTP/1.1\r\nHo".to_vec(), Duration::from_secs(2));
        let started = Instant::now();
        let error =
            read_request_head(&mut server, Duration::from_millis(300)).expect_err("timed out");
        assert_eq!(error.status(), Some(408), "{error}");
        assert!(
            started.elapsed() < Duration::from_secs(1),
            "{:?}",
            started.elapsed()
        );
        client.join().expect("client");
    }

    #[test]
    fn a_client_that_sends_nothing_gets_no_answer() {
        let (mut server, client) = connection(Vec::new(), Duration::from_millis(500));
        let error =
            read_request_head(&mut server, Duration::from_millis(200)).expect_err("no request");
        assert!(matches!(error, ReadError::NoRequest), "{error}");
        client.join().expect("client");
    }

    #[test]
    fn head_responses_keep_the_length_and_drop_the_body() {
        let response =
            Response::text(405, "method not allowed\n").with_header("Allow", "GET, HEAD");
        let mut full = Vec::new();
        response.write_to(&mut full, true).expect("write");
        let full = String::from_utf8(full).expect("UTF-8");
        assert!(
            full.starts_with("HTTP/1.1 405 Method Not Allowed\r\n"),
            "{full}"
        );
        assert!(full.contains("\r\nContent-Length: 19\r\n"), "{full}");
        assert!(full.contains("\r\nAllow: GET, HEAD\r\n"), "{full}");
        assert!(full.ends_with("\r\n\r\nmethod not allowed\n"), "{full}");

        let mut head_only = Vec::new();
        response.write_to(&mut head_only, false).expect("write");
        let head_only = String::from_utf8(head_only).expect("UTF-8");
        assert!(
            head_only.contains("\r\nContent-Length: 19\r\n"),
            "{head_only}"
        );
        assert!(head_only.ends_with("\r\n\r\n"), "{head_only}");
    }

    #[test]
    fn methods_outside_the_known_set_share_one_label() {
        assert_eq!(method_label("GET"), "GET");
        assert_eq!(method_label("BREW"), "other");
    }
}
