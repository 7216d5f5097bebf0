//! A loopback HTTP/1.1 proxy in front of the AWS emulator that counts requests by service and
//! operation, can add a delay per request (a region's round trip), and can inject faults.

use std::io::{self, BufRead, BufReader, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::thread;
use std::time::Duration;

/// An injected failure.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fault {
    /// HTTP 500 InternalError.
    InternalError,
    /// HTTP 503 ServiceUnavailable.
    ServiceUnavailable,
    /// The service's throttling error (S3 SlowDown, ThrottlingException, Throttling).
    Throttling,
    /// The connection is reset without an answer.
    Reset,
    /// The request reaches the service, then the connection is reset before the answer: the
    /// client cannot tell whether it took effect.
    LostResponse,
}

/// What the proxy does to requests.
#[derive(Debug, Clone, Default)]
pub struct Behaviour {
    /// Added before forwarding each request.
    pub delay: Duration,
    /// Share of requests (0.0–1.0) answered with a fault instead of being forwarded.
    pub fault_share: f64,
    /// Faults to pick from, in turn.
    pub faults: Vec<Fault>,
    /// Operations never faulted (e.g. `GetCallerIdentity`, to get past the identity check).
    pub exempt: Vec<String>,
}

/// One request that reached the proxy.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Request {
    /// Service from the signature's credential scope (`s3`, `iam`, `dynamodb`, …).
    pub service: String,
    /// Operation: `X-Amz-Target`'s, the query `Action`, or `METHOD /path?subresource` for S3.
    pub operation: String,
    /// The fault injected instead of forwarding, if any.
    pub fault: Option<Fault>,
}

#[derive(Default)]
struct Shared {
    behaviour: Behaviour,
    requests: Vec<Request>,
}

/// The running proxy; it stops accepting when dropped.
pub struct Proxy {
    address: SocketAddr,
    shared: Arc<Mutex<Shared>>,
}

fn lock(shared: &Mutex<Shared>) -> MutexGuard<'_, Shared> {
    shared.lock().unwrap_or_else(PoisonError::into_inner)
}

impl Proxy {
    /// Listens on a free loopback port and forwards to `upstream` (`http://host:port`).
    pub fn start(upstream: &str, behaviour: Behaviour) -> io::Result<Self> {
        let upstream = upstream
            .trim_start_matches("http://")
            .trim_end_matches('/')
            .to_owned();
        let listener = TcpListener::bind("127.0.0.1:0")?;
        let address = listener.local_addr()?;
        let shared = Arc::new(Mutex::new(Shared {
            behaviour,
            requests: Vec::new(),
        }));
        let counter = Arc::new(AtomicU64::new(0));
        let accepted = Arc::clone(&shared);
        thread::spawn(move || {
            for client in listener.incoming().flatten() {
                let shared = Arc::clone(&accepted);
                let upstream = upstream.clone();
                let counter = Arc::clone(&counter);
                thread::spawn(move || {
                    let _ = serve(client, &upstream, &shared, &counter);
                });
            }
        });
        Ok(Self { address, shared })
    }

    /// `http://127.0.0.1:PORT`.
    pub fn url(&self) -> String {
        format!("http://{}", self.address)
    }

    /// Every request so far.
    pub fn requests(&self) -> Vec<Request> {
        lock(&self.shared).requests.clone()
    }

    /// Forgets the requests so far.
    pub fn clear(&self) {
        lock(&self.shared).requests.clear();
    }

    /// Changes what the proxy does from the next request on.
    pub fn set_behaviour(&self, behaviour: Behaviour) {
        lock(&self.shared).behaviour = behaviour;
    }
}

/// An HTTP message read off a stream: head lines and body bytes.
struct Message {
    head: String,
    body: Vec<u8>,
}

impl Message {
    fn header(&self, name: &str) -> Option<&str> {
        self.head.lines().skip(1).find_map(|line| {
            let (key, value) = line.split_once(':')?;
            key.trim().eq_ignore_ascii_case(name).then(|| value.trim())
        })
    }

    fn wants_close(&self) -> bool {
        self.header("connection")
            .is_some_and(|value| value.eq_ignore_ascii_case("close"))
    }

    fn bytes(&self) -> Vec<u8> {
        let mut bytes = self.head.clone().into_bytes();
        bytes.extend_from_slice(&self.body);
        bytes
    }
}

/// Reads one message; `None` at a clean end of stream. Chunked bodies are kept encoded.
fn read_message(reader: &mut impl BufRead, response_to_head: bool) -> io::Result<Option<Message>> {
    let mut head = String::new();
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line)? == 0 {
            return if head.is_empty() {
                Ok(None)
            } else {
                Err(io::ErrorKind::UnexpectedEof.into())
            };
        }
        let end = line == "\r\n" || line == "\n";
        head.push_str(&line);
        if end {
            break;
        }
    }
    let mut message = Message {
        head,
        body: Vec::new(),
    };
    if response_to_head {
        return Ok(Some(message));
    }
    let chunked = message
        .header("transfer-encoding")
        .is_some_and(|value| value.eq_ignore_ascii_case("chunked"));
    if chunked {
        loop {
            let mut size_line = String::new();
            reader.read_line(&mut size_line)?;
            message.body.extend_from_slice(size_line.as_bytes());
            let size = usize::from_str_radix(size_line.trim().split(';').next().unwrap_or("0"), 16)
                .map_err(|_| io::Error::from(io::ErrorKind::InvalidData))?;
            let mut chunk = vec![0; size + 2];
            reader.read_exact(&mut chunk)?;
            message.body.extend_from_slice(&chunk);
            if size == 0 {
                break;
            }
        }
    } else if let Some(length) = message.header("content-length") {
        let length: usize = length
            .parse()
            .map_err(|_| io::Error::from(io::ErrorKind::InvalidData))?;
        message.body = vec![0; length];
        reader.read_exact(&mut message.body)?;
    } else if message.head.starts_with("HTTP/")
        && !message.head.contains(" 204 ")
        && !message.head.contains(" 304 ")
    {
        // A response without length ends with the connection.
        reader.read_to_end(&mut message.body)?;
        message.head = message
            .head
            .replacen("\r\n\r\n", "\r\nConnection: close\r\n\r\n", 1);
    }
    Ok(Some(message))
}

fn classify(request: &Message) -> (String, String) {
    let service = request
        .header("authorization")
        .and_then(|authorization| authorization.split("Credential=").nth(1))
        .and_then(|credential| credential.split('/').nth(3))
        .unwrap_or("unknown")
        .to_owned();
    let request_line = request.head.lines().next().unwrap_or_default();
    let operation = if let Some(target) = request.header("x-amz-target") {
        target.rsplit('.').next().unwrap_or(target).to_owned()
    } else if let Some(action) = form_value(&String::from_utf8_lossy(&request.body), "Action")
        .or_else(|| {
            request_line
                .split('?')
                .nth(1)
                .and_then(|query| form_value(query, "Action"))
        })
    {
        action
    } else {
        let mut parts = request_line.split_whitespace();
        let method = parts.next().unwrap_or_default();
        let target = parts.next().unwrap_or_default();
        let subresource = target
            .split_once('?')
            .map(|(_, query)| query.split(['=', '&']).next().unwrap_or_default());
        match subresource {
            Some(subresource) => format!("{method} ?{subresource}"),
            None => format!(
                "{method} {}",
                if target.matches('/').count() > 1 {
                    "object"
                } else {
                    "bucket"
                }
            ),
        }
    };
    (service, operation)
}

fn form_value(text: &str, key: &str) -> Option<String> {
    text.split('&').find_map(|pair| {
        let (name, value) = pair.split_once('=')?;
        (name == key).then(|| value.split_whitespace().next().unwrap_or(value).to_owned())
    })
}

/// The error answer a service of that protocol sends for `fault`: S3's REST-XML, IAM's and STS's
/// query XML, or the JSON protocols of DynamoDB, ECR, Secrets Manager and CodeBuild.
fn fault_response(fault: Fault, service: &str) -> String {
    let json = !matches!(service, "s3" | "iam" | "sts");
    let (status, code) = match fault {
        Fault::Throttling if service == "s3" => ("503 Slow Down", "SlowDown"),
        Fault::Throttling if json => ("400 Bad Request", "ThrottlingException"),
        Fault::Throttling => ("400 Bad Request", "Throttling"),
        Fault::InternalError if json => ("500 Internal Server Error", "InternalFailure"),
        Fault::InternalError => ("500 Internal Server Error", "InternalError"),
        _ => ("503 Service Unavailable", "ServiceUnavailable"),
    };
    let message = "injected";
    let (content_type, extra, body) = match service {
        "s3" => (
            "application/xml",
            String::new(),
            format!("<Error><Code>{code}</Code><Message>{message}</Message></Error>"),
        ),
        "iam" | "sts" => (
            "text/xml",
            String::new(),
            format!(
                "<ErrorResponse><Error><Type>Receiver</Type><Code>{code}</Code><Message>{message}</Message></Error></ErrorResponse>"
            ),
        ),
        _ => (
            "application/x-amz-json-1.1",
            format!("x-amzn-ErrorType: {code}\r\n"),
            format!("{{\"__type\":\"{code}\",\"message\":\"{message}\"}}"),
        ),
    };
    format!(
        "HTTP/1.1 {status}\r\nContent-Type: {content_type}\r\n{extra}Content-Length: {}\r\n\r\n{body}",
        body.len()
    )
}

/// A small deterministic generator: faults hit the same request numbers in every run.
fn pick(counter: &AtomicU64) -> f64 {
    let n = counter
        .fetch_add(1, Ordering::SeqCst)
        .wrapping_add(0x9E37_79B9_7F4A_7C15);
    let mut x = n.wrapping_mul(0xBF58_476D_1CE4_E5B9);
    x ^= x >> 31;
    x = x.wrapping_mul(0x94D0_49BB_1331_11EB);
    x ^= x >> 29;
    #[allow(clippy::cast_precision_loss)]
    let share = (x >> 11) as f64 / (1u64 << 53) as f64;
    share
}

fn serve(
    client: TcpStream,
    upstream: &str,
    shared: &Mutex<Shared>,
    counter: &AtomicU64,
) -> io::Result<()> {
    let mut reader = BufReader::new(client.try_clone()?);
    let mut client_writer = client;
    let mut upstream_connection: Option<(BufReader<TcpStream>, TcpStream)> = None;
    while let Some(request) = read_message(&mut reader, false)? {
        let (service, operation) = classify(&request);
        let behaviour = lock(shared).behaviour.clone();
        let exempt = behaviour.exempt.contains(&operation);
        let fault =
            (!exempt && !behaviour.faults.is_empty() && pick(counter) < behaviour.fault_share)
                .then(|| {
                    let index = usize::try_from(counter.load(Ordering::SeqCst)).unwrap_or(0)
                        % behaviour.faults.len();
                    behaviour.faults[index]
                });
        lock(shared).requests.push(Request {
            service: service.clone(),
            operation,
            fault,
        });
        if !behaviour.delay.is_zero() {
            thread::sleep(behaviour.delay);
        }
        match fault {
            Some(Fault::Reset) => {
                let _ = client_writer.shutdown(Shutdown::Both);
                return Ok(());
            }
            Some(Fault::LostResponse) | None => {}
            Some(fault) => {
                client_writer.write_all(fault_response(fault, &service).as_bytes())?;
                continue;
            }
        }
        let (upstream_reader, upstream_writer) = match upstream_connection.as_mut() {
            Some(connection) => connection,
            None => {
                let stream = TcpStream::connect(upstream)?;
                stream.set_nodelay(true)?;
                upstream_connection.insert((BufReader::new(stream.try_clone()?), stream))
            }
        };
        upstream_writer.write_all(&request.bytes())?;
        let head_only = request.head.starts_with("HEAD ");
        let response =
            read_message(upstream_reader, head_only)?.ok_or(io::ErrorKind::UnexpectedEof)?;
        client_writer.write_all(&response.bytes())?;
        if response.wants_close() {
            upstream_connection = None;
        }
        if request.wants_close() {
            break;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn message(text: &str) -> Message {
        let mut reader = BufReader::new(text.as_bytes());
        read_message(&mut reader, false)
            .expect("read")
            .expect("a message")
    }

    #[test]
    fn requests_are_classified_by_protocol() {
        let sigv4 = |service: &str| {
            format!(
                "Authorization: AWS4-HMAC-SHA256 Credential=AK/20260101/eu-west-1/{service}/aws4_request, SignedHeaders=host, Signature=0\r\n"
            )
        };
        let json = message(&format!(
            "POST / HTTP/1.1\r\n{}X-Amz-Target: DynamoDB_20120810.DescribeTable\r\nContent-Length: 2\r\n\r\n{{}}",
            sigv4("dynamodb")
        ));
        assert_eq!(
            classify(&json),
            ("dynamodb".to_owned(), "DescribeTable".to_owned())
        );
        let query = message(&format!(
            "POST / HTTP/1.1\r\n{}Content-Length: 31\r\n\r\nAction=GetRole&Version=2010-05-",
            sigv4("iam")
        ));
        assert_eq!(classify(&query), ("iam".to_owned(), "GetRole".to_owned()));
        let s3 = message(&format!(
            "GET /bucket?versioning HTTP/1.1\r\n{}\r\n",
            sigv4("s3")
        ));
        assert_eq!(
            classify(&s3),
            ("s3".to_owned(), "GET ?versioning".to_owned())
        );
    }

    #[test]
    fn chunked_bodies_are_read_whole() {
        let response =
            message("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n");
        assert_eq!(response.body, b"3\r\nabc\r\n0\r\n\r\n");
    }

    #[test]
    fn the_fault_share_is_respected() {
        let counter = AtomicU64::new(0);
        let hits = (0..10_000).filter(|_| pick(&counter) < 0.2).count();
        assert!((1_800..2_200).contains(&hits), "{hits}");
    }
}
