//! A loopback HTTP/1.1 proxy in front of the AWS emulator that counts requests by service and
//! operation, can add a delay per request (a region's round trip), inject faults, and hold a
//! chosen request (not forwarding it) so that a test can kill the client at that exact point.
//! In front of an emulator served over TLS it serves TLS too, and plain HTTP on the same port.

use std::io::{self, BufRead, BufReader, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError};
use std::thread;
use std::time::{Duration, Instant};

use rustls::{ClientConfig, ServerConfig};

use crate::aws_answers::{AnswerState, AwsAnswer, error_response};
use crate::secure_transport;
use crate::tls::{EmulatorTls, Stream, client_config};

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
    /// Services whose requests may be faulted (`iam`, `ecr`, …); empty: every service.
    pub faulted_services: Vec<String>,
    /// A request to hold instead of forwarding, until [`Proxy::lift_hold`].
    pub hold: Option<Hold>,
    /// AWS error answers given instead of forwarding, at the moment AWS gives them
    /// ([`crate::real_aws`] has AWS's documented ones).
    pub answers: Vec<AwsAnswer>,
}

/// Requests of one service and operation, as [`Request`] names them; `None` matches any.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
struct Matcher {
    service: Option<String>,
    operation: Option<String>,
}

impl Matcher {
    fn matches(&self, service: &str, operation: &str) -> bool {
        self.service
            .as_deref()
            .is_none_or(|wanted| wanted == service)
            && self
                .operation
                .as_deref()
                .is_none_or(|wanted| wanted == operation)
    }
}

/// Which request the proxy holds: the `occurrence`-th request matching, counted once a request
/// matching `after` has been forwarded (from the start when there is no `after`). A held request
/// is recorded but not forwarded; with `everything_after`, every later request is held too.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Hold {
    at: Matcher,
    after: Option<Matcher>,
    /// How many requests matching `after` must have been forwarded (1 unless told).
    after_occurrence: usize,
    occurrence: usize,
    everything_after: bool,
}

impl Hold {
    /// Holds the first request of `operation` on `service` (e.g. `"iam"`, `"CreateRole"`).
    pub fn operation(service: &str, operation: &str) -> Self {
        Self {
            at: Matcher {
                service: Some(service.to_owned()),
                operation: Some(operation.to_owned()),
            },
            ..Self::default()
        }
    }

    /// Holds the first request of any kind.
    pub fn next_request() -> Self {
        Self::default()
    }

    /// Holds the `occurrence`-th matching request instead of the first (1 is the first).
    #[must_use]
    pub fn occurrence(mut self, occurrence: usize) -> Self {
        self.occurrence = occurrence.saturating_sub(1);
        self
    }

    /// Starts counting only once a request of `operation` on `service` has been forwarded.
    #[must_use]
    pub fn after(self, service: &str, operation: &str) -> Self {
        self.after_occurrence(service, operation, 1)
    }

    /// Starts counting only once the `occurrence`-th request of `operation` on `service` has been
    /// forwarded (1 is the first).
    #[must_use]
    pub fn after_occurrence(mut self, service: &str, operation: &str, occurrence: usize) -> Self {
        self.after = Some(Matcher {
            service: Some(service.to_owned()),
            operation: Some(operation.to_owned()),
        });
        self.after_occurrence = occurrence;
        self
    }

    /// Holds every request after the held one as well: nothing reaches the service any more.
    #[must_use]
    pub fn and_everything_after(mut self) -> Self {
        self.everything_after = true;
        self
    }
}

/// What becomes of the held requests when a hold is lifted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lift {
    /// They are forwarded, late.
    Forward,
    /// Their connections are closed: they never reach the service.
    Drop,
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
    /// The AWS error code the proxy answered with instead of forwarding, if any.
    pub answered: Option<String>,
    /// When it reached the proxy (before any delay): round trips show in these.
    pub arrived: Instant,
    /// Whether it came over TLS.
    pub secure: bool,
}

#[derive(Default)]
struct Shared {
    behaviour: Behaviour,
    requests: Vec<Request>,
    holding: Holding,
    /// Where each of the behaviour's answers stands.
    answering: Vec<AnswerState>,
}

impl Shared {
    /// The answer, of those the behaviour has, that this request gets instead of forwarding.
    fn answer_for(&mut self, service: &str, operation: &str) -> Option<AwsAnswer> {
        let answers = &self.behaviour.answers;
        self.answering.resize(answers.len(), AnswerState::default());
        let mut taken = None;
        for (answer, state) in answers.iter().zip(self.answering.iter_mut()) {
            if taken.is_none() && state.takes(answer, service, operation) {
                taken = Some(answer.clone());
            }
        }
        if taken.is_none() {
            for (answer, state) in answers.iter().zip(self.answering.iter_mut()) {
                state.forwarded(answer, service, operation);
            }
        }
        taken
    }
}

/// Where the current hold stands.
#[derive(Default)]
struct Holding {
    /// Requests matching the hold's `after` forwarded so far.
    afters_forwarded: usize,
    /// Requests matching the hold counted so far.
    matched: usize,
    /// The hold has taken its request (and, with `everything_after`, takes every later one).
    triggered: bool,
    /// Requests held now.
    held: Vec<Request>,
    /// How each past hold was lifted: held requests wait until their hold's entry exists.
    lifts: Vec<Lift>,
}

impl Holding {
    /// Whether `hold` takes this request; counts it either way.
    fn takes(&mut self, hold: &Hold, service: &str, operation: &str) -> bool {
        if self.triggered {
            return hold.everything_after;
        }
        if hold.after.is_some() && self.afters_forwarded < hold.after_occurrence.max(1) {
            return false;
        }
        if !hold.at.matches(service, operation) {
            return false;
        }
        self.matched += 1;
        self.triggered = self.matched > hold.occurrence;
        self.triggered
    }

    /// Notes a forwarded request, which may be the one the hold waits to see go by.
    fn forwarded(&mut self, hold: &Hold, service: &str, operation: &str) {
        if hold
            .after
            .as_ref()
            .is_some_and(|after| after.matches(service, operation))
        {
            self.afters_forwarded += 1;
        }
    }
}

/// State shared by the proxy's threads, and the signal of held requests coming and going.
#[derive(Default)]
struct Control {
    shared: Mutex<Shared>,
    changed: Condvar,
}

/// The running proxy; it stops accepting when dropped, and drops the requests it holds.
pub struct Proxy {
    address: SocketAddr,
    shared: Arc<Control>,
    tls: bool,
}

/// Where the proxy forwards to.
struct Upstream {
    /// `host:port`.
    authority: String,
    /// Present when the emulator is served over TLS.
    tls: Option<Arc<ClientConfig>>,
}

impl Upstream {
    fn connect(&self) -> io::Result<BufReader<Stream>> {
        Stream::connect(&self.authority, self.tls.as_ref()).map(BufReader::new)
    }
}

fn lock(control: &Control) -> MutexGuard<'_, Shared> {
    control
        .shared
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
}

impl Proxy {
    /// Listens on a free loopback port and forwards to `upstream` (`http://host:port`, or
    /// `https://host:port` for the test run's emulator, whose certificate the proxy then serves
    /// as well, beside plain HTTP).
    pub fn start(upstream: &str, behaviour: Behaviour) -> io::Result<Self> {
        let tls = upstream
            .starts_with("https://")
            .then(EmulatorTls::of_test_run);
        Self::start_with(upstream, tls.as_ref(), behaviour)
    }

    /// As [`start`](Self::start), with the emulator's TLS given rather than the test run's.
    pub fn start_with(
        upstream: &str,
        tls: Option<&EmulatorTls>,
        behaviour: Behaviour,
    ) -> io::Result<Self> {
        let (upstream, server_tls) = match (upstream.strip_prefix("https://"), tls) {
            (Some(authority), Some(tls)) => {
                let upstream = Upstream {
                    authority: authority.trim_end_matches('/').to_owned(),
                    tls: Some(client_config(&tls.ca())?),
                };
                (upstream, Some(tls.server_config()?))
            }
            (Some(_), None) => {
                return Err(io::Error::other(format!(
                    "{upstream} is served over TLS: its CA is needed"
                )));
            }
            (None, _) => {
                let authority = upstream.trim_start_matches("http://").trim_end_matches('/');
                let upstream = Upstream {
                    authority: authority.to_owned(),
                    tls: None,
                };
                (upstream, None)
            }
        };
        let tls = server_tls.is_some();
        let upstream = Arc::new(upstream);
        let listener = TcpListener::bind("127.0.0.1:0")?;
        let address = listener.local_addr()?;
        let shared = Arc::new(Control {
            shared: Mutex::new(Shared {
                behaviour,
                ..Shared::default()
            }),
            changed: Condvar::new(),
        });
        let counter = Arc::new(AtomicU64::new(0));
        let accepted = Arc::clone(&shared);
        thread::spawn(move || {
            for client in listener.incoming().flatten() {
                let shared = Arc::clone(&accepted);
                let upstream = Arc::clone(&upstream);
                let server_tls = server_tls.clone();
                let counter = Arc::clone(&counter);
                thread::spawn(move || {
                    let _ = serve(client, &upstream, server_tls.as_ref(), &shared, &counter);
                });
            }
        });
        Ok(Self {
            address,
            shared,
            tls,
        })
    }

    /// `https://127.0.0.1:PORT` in front of an emulator served over TLS, else `http://…`.
    pub fn url(&self) -> String {
        if self.tls {
            format!("https://{}", self.address)
        } else {
            self.plain_url()
        }
    }

    /// `http://127.0.0.1:PORT`: the same proxy without TLS.
    pub fn plain_url(&self) -> String {
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

    /// Changes what the proxy does from the next request on. A new hold starts counting afresh;
    /// requests already held stay held until [`lift_hold`](Self::lift_hold).
    pub fn set_behaviour(&self, behaviour: Behaviour) {
        let mut shared = lock(&self.shared);
        shared.behaviour = behaviour;
        shared.answering.clear();
        let lifts = std::mem::take(&mut shared.holding.lifts);
        let held = std::mem::take(&mut shared.holding.held);
        shared.holding = Holding {
            held,
            lifts,
            ..Holding::default()
        };
    }

    /// Waits up to `timeout` until the hold has taken a request, and returns that request;
    /// `None` when none was held in time.
    pub fn wait_for_held(&self, timeout: Duration) -> Option<Request> {
        let deadline = Instant::now() + timeout;
        let mut shared = lock(&self.shared);
        loop {
            if let Some(request) = shared.holding.held.first() {
                return Some(request.clone());
            }
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return None;
            }
            shared = self
                .shared
                .changed
                .wait_timeout(shared, left)
                .unwrap_or_else(PoisonError::into_inner)
                .0;
        }
    }

    /// Ends the hold: nothing more is held, and what is held now is forwarded or dropped.
    pub fn lift_hold(&self, lift: Lift) {
        let mut shared = lock(&self.shared);
        shared.behaviour.hold = None;
        shared.holding.held.clear();
        shared.holding.triggered = false;
        shared.holding.lifts.push(lift);
        self.shared.changed.notify_all();
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        self.lift_hold(Lift::Drop);
    }
}

/// Holds `request` until its hold is lifted; whether it is then forwarded.
fn held(control: &Control, request: Request) -> bool {
    let mut shared = lock(control);
    let hold = shared.holding.lifts.len();
    shared.holding.held.push(request);
    control.changed.notify_all();
    loop {
        if let Some(lift) = shared.holding.lifts.get(hold) {
            return *lift == Lift::Forward;
        }
        shared = control
            .changed
            .wait(shared)
            .unwrap_or_else(PoisonError::into_inner);
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
        let (path, query) = target.split_once('?').unwrap_or((target, ""));
        let subresource =
            (!query.is_empty()).then(|| query.split(['=', '&']).next().unwrap_or_default());
        // The SDK names object operations itself: `?x-id=GetObject`.
        if let Some(named) = form_value(query, "x-id") {
            named
        } else if let Some(subresource) = subresource {
            format!("{method} ?{subresource}")
        } else {
            let segments = path.split('/').filter(|part| !part.is_empty()).count();
            format!(
                "{method} {}",
                if segments > 1 { "object" } else { "bucket" }
            )
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

/// The error answer a service sends for `fault`, in its protocol.
fn fault_response(fault: Fault, service: &str) -> String {
    let json = !matches!(service, "s3" | "iam" | "sts");
    let (status, code) = match fault {
        Fault::Throttling if service == "s3" => (503, "SlowDown"),
        Fault::Throttling if json => (400, "ThrottlingException"),
        Fault::Throttling => (400, "Throttling"),
        Fault::InternalError if json => (500, "InternalFailure"),
        Fault::InternalError => (500, "InternalError"),
        _ => (503, "ServiceUnavailable"),
    };
    error_response(service, status, code, "injected", &[])
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

/// Writes `bytes` whole and sends them.
fn send(stream: &mut Stream, bytes: &[u8]) -> io::Result<()> {
    stream.write_all(bytes)?;
    stream.flush()
}

fn serve(
    client: TcpStream,
    upstream: &Upstream,
    server_tls: Option<&Arc<ServerConfig>>,
    shared: &Control,
    counter: &AtomicU64,
) -> io::Result<()> {
    let (client, secure) = Stream::accept(client, server_tls)?;
    let mut reader = BufReader::new(client);
    let mut upstream_connection: Option<BufReader<Stream>> = None;
    while let Some(request) = read_message(&mut reader, false)? {
        let (service, operation) = classify(&request);
        let behaviour = lock(shared).behaviour.clone();
        let exempt = behaviour.exempt.contains(&operation)
            || !(behaviour.faulted_services.is_empty()
                || behaviour.faulted_services.contains(&service));
        let fault =
            (!exempt && !behaviour.faults.is_empty() && pick(counter) < behaviour.fault_share)
                .then(|| {
                    let index = usize::try_from(counter.load(Ordering::SeqCst)).unwrap_or(0)
                        % behaviour.faults.len();
                    behaviour.faults[index]
                });
        let arrived = Instant::now();
        let answer = if fault.is_some() {
            None
        } else if !secure && upstream.tls.is_some() && service == "s3" {
            // AWS evaluates `aws:SecureTransport` in bucket policies; the emulator does not.
            secure_transport::denial(&request.head, &mut || fetch(upstream, &request))
                .or_else(|| lock(shared).answer_for(&service, &operation))
        } else {
            lock(shared).answer_for(&service, &operation)
        };
        let seen = Request {
            service: service.clone(),
            operation,
            fault,
            answered: answer.as_ref().map(|answer| answer.code.clone()),
            arrived,
            secure,
        };
        if let Some(answer) = answer {
            lock(shared).requests.push(seen);
            if !behaviour.delay.is_zero() {
                thread::sleep(behaviour.delay);
            }
            send(
                reader.get_mut(),
                error_response(
                    &service,
                    answer.status,
                    &answer.code,
                    &answer.message,
                    &answer.headers,
                )
                .as_bytes(),
            )?;
            continue;
        }
        let take = {
            let mut state = lock(shared);
            state.requests.push(seen.clone());
            let Shared {
                behaviour, holding, ..
            } = &mut *state;
            behaviour.hold.as_ref().is_some_and(|hold| {
                let take = holding.takes(hold, &seen.service, &seen.operation);
                if !take {
                    holding.forwarded(hold, &seen.service, &seen.operation);
                }
                take
            })
        };
        if take && !held(shared, seen) {
            reader.get_ref().shutdown();
            return Ok(());
        }
        if !behaviour.delay.is_zero() {
            thread::sleep(behaviour.delay);
        }
        match fault {
            Some(Fault::Reset) => {
                reader.get_ref().shutdown();
                return Ok(());
            }
            Some(Fault::LostResponse) | None => {}
            Some(fault) => {
                send(reader.get_mut(), fault_response(fault, &service).as_bytes())?;
                continue;
            }
        }
        let upstream_reader = match upstream_connection.as_mut() {
            Some(connection) => connection,
            None => upstream_connection.insert(upstream.connect()?),
        };
        send(upstream_reader.get_mut(), &request.bytes())?;
        let head_only = request.head.starts_with("HEAD ");
        let response =
            read_message(upstream_reader, head_only)?.ok_or(io::ErrorKind::UnexpectedEof)?;
        send(reader.get_mut(), &response.bytes())?;
        if response.wants_close() {
            upstream_connection = None;
        }
        if request.wants_close() {
            break;
        }
    }
    Ok(())
}

/// Sends `request`'s head with `?policy` in place of its target to the emulator, on a connection
/// of its own: the state of the bucket's policy, as the emulator stores it.
fn fetch(upstream: &Upstream, request: &Message) -> Option<String> {
    let head = secure_transport::policy_request(&request.head)?;
    let mut connection = upstream.connect().ok()?;
    send(connection.get_mut(), head.as_bytes()).ok()?;
    let response = read_message(&mut connection, false).ok()??;
    response
        .head
        .starts_with("HTTP/1.1 200")
        .then(|| String::from_utf8_lossy(&response.body).into_owned())
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
        let s3 = |request_line: &str| {
            classify(&message(&format!("{request_line}\r\n{}\r\n", sigv4("s3")))).1
        };
        assert_eq!(s3("PUT /bucket/ HTTP/1.1"), "PUT bucket");
        assert_eq!(s3("HEAD /bucket HTTP/1.1"), "HEAD bucket");
        assert_eq!(s3("PUT /bucket/a/b.tflock HTTP/1.1"), "PUT object");
        assert_eq!(
            s3("GET /bucket/a/b.tflock?x-id=GetObject HTTP/1.1"),
            "GetObject"
        );
    }

    #[test]
    fn chunked_bodies_are_read_whole() {
        let response =
            message("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n");
        assert_eq!(response.body, b"3\r\nabc\r\n0\r\n\r\n");
    }

    /// Offers requests to `hold` in turn, forwarding those it does not take: whether it took each.
    fn taker(hold: Hold) -> impl FnMut(&str, &str) -> bool {
        let mut holding = Holding::default();
        move |service, operation| {
            let take = holding.takes(&hold, service, operation);
            if !take {
                holding.forwarded(&hold, service, operation);
            }
            take
        }
    }

    #[test]
    fn a_hold_takes_the_chosen_occurrence_once_its_marker_went_by() {
        let hold = Hold::operation("iam", "CreateRole")
            .occurrence(2)
            .after("dynamodb", "PutItem");
        let mut take = taker(hold);
        assert!(!take("iam", "CreateRole"), "before the marker");
        assert!(!take("dynamodb", "PutItem"));
        assert!(!take("iam", "CreateRole"), "the first occurrence");
        assert!(!take("s3", "GET object"));
        assert!(take("iam", "CreateRole"), "the second occurrence");
        assert!(!take("iam", "CreateRole"), "only that one");
    }

    #[test]
    fn a_hold_can_wait_for_a_later_occurrence_of_its_marker() {
        let hold = Hold::next_request().after_occurrence("dynamodb", "PutItem", 2);
        let mut take = taker(hold);
        assert!(!take("dynamodb", "PutItem"), "the first marker");
        assert!(!take("s3", "GET object"), "between the markers");
        assert!(!take("dynamodb", "PutItem"), "the second marker");
        assert!(take("s3", "PUT bucket"), "the first request after it");
    }

    #[test]
    fn everything_after_the_held_request_is_held_too() {
        let hold = Hold::next_request().occurrence(3).and_everything_after();
        let mut holding = Holding::default();
        let taken: Vec<bool> = ["a", "b", "c", "d", "e"]
            .iter()
            .map(|operation| holding.takes(&hold, "s3", operation))
            .collect();
        assert_eq!(taken, [false, false, true, true, true]);
    }

    /// An upstream answering every request with an empty 200, counting what it receives.
    fn upstream() -> (String, Arc<AtomicU64>) {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
        let address = format!("http://{}", listener.local_addr().expect("address"));
        let received = Arc::new(AtomicU64::new(0));
        let counted = Arc::clone(&received);
        thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                let counted = Arc::clone(&counted);
                thread::spawn(move || {
                    let mut reader = BufReader::new(stream.try_clone().expect("clone"));
                    let mut writer = stream;
                    while let Ok(Some(_)) = read_message(&mut reader, false) {
                        counted.fetch_add(1, Ordering::SeqCst);
                        let answer = "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n";
                        if writer.write_all(answer.as_bytes()).is_err() {
                            break;
                        }
                    }
                });
            }
        });
        (address, received)
    }

    /// Sends one JSON-protocol request for `target` and reads the answer's status line.
    fn send(proxy: &Proxy, target: &str) -> io::Result<String> {
        let stream = TcpStream::connect(proxy.address)?;
        let mut writer = stream.try_clone()?;
        writer.write_all(
            format!("POST / HTTP/1.1\r\nX-Amz-Target: DynamoDB_20120810.{target}\r\nContent-Length: 2\r\n\r\n{{}}")
                .as_bytes(),
        )?;
        let mut status = String::new();
        BufReader::new(stream).read_line(&mut status)?;
        Ok(status)
    }

    #[test]
    fn a_held_request_waits_unforwarded_until_the_hold_is_lifted() {
        let (address, received) = upstream();
        let proxy = Proxy::start(
            &address,
            Behaviour {
                hold: Some(Hold::operation("unknown", "PutItem")),
                ..Behaviour::default()
            },
        )
        .expect("proxy");
        assert!(send(&proxy, "GetItem").expect("answer").contains("200"));
        assert_eq!(proxy.wait_for_held(Duration::from_millis(50)), None);
        let proxy = Arc::new(proxy);
        let sender = Arc::clone(&proxy);
        let answer = thread::spawn(move || send(&sender, "PutItem"));
        let request = proxy.wait_for_held(Duration::from_secs(10)).expect("held");
        assert_eq!(request.operation, "PutItem");
        assert_eq!(received.load(Ordering::SeqCst), 1, "not forwarded");
        proxy.lift_hold(Lift::Forward);
        let status = answer.join().expect("sender").expect("answer");
        assert!(status.contains("200"), "{status}");
        assert_eq!(received.load(Ordering::SeqCst), 2);
    }

    #[test]
    fn a_dropped_request_never_reaches_the_service() {
        let (address, received) = upstream();
        let proxy = Arc::new(
            Proxy::start(
                &address,
                Behaviour {
                    hold: Some(Hold::next_request()),
                    ..Behaviour::default()
                },
            )
            .expect("proxy"),
        );
        let sender = Arc::clone(&proxy);
        let answer = thread::spawn(move || send(&sender, "DeleteItem"));
        assert!(proxy.wait_for_held(Duration::from_secs(10)).is_some());
        proxy.lift_hold(Lift::Drop);
        let status = answer.join().expect("sender").unwrap_or_default();
        assert_eq!(status, "", "the connection is closed unanswered");
        assert_eq!(received.load(Ordering::SeqCst), 0);
        assert_eq!(proxy.requests().len(), 1, "it is still recorded");
    }

    #[test]
    fn the_fault_share_is_respected() {
        let counter = AtomicU64::new(0);
        let hits = (0..10_000).filter(|_| pick(&counter) < 0.2).count();
        assert!((1_800..2_200).contains(&hits), "{hits}");
    }
}
