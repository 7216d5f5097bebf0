//! The listener: one thread per connection, one log line per request, a clean stop on signal.

use std::io::{self, Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::thread;
use std::time::{Duration, Instant};

use crate::http::{self, Response};
use crate::routes::{App, Route};

/// Time a client gets to send its whole request head.
const HEAD_TIMEOUT: Duration = Duration::from_secs(5);

/// Time a client gets to take the response.
const WRITE_TIMEOUT: Duration = Duration::from_secs(5);

/// Connections served at once; more are answered 503 at once rather than queued.
const MAX_CONNECTIONS: usize = 256;

/// How often the accept loop looks at the stop flag: a stop takes at most this long to begin.
const STOP_POLL: Duration = Duration::from_millis(20);

/// How long a stop waits for requests in flight before the process exits anyway.
const DRAIN_TIMEOUT: Duration = Duration::from_millis(700);

/// Serves `app` on `listener` until `stop` is set, then waits briefly for requests in flight.
pub fn serve(listener: TcpListener, app: App, stop: &AtomicBool) -> io::Result<()> {
    // Non-blocking, so that the loop sees `stop`: signal handlers restart a blocking accept.
    listener.set_nonblocking(true)?;
    let address = listener.local_addr()?;
    let config = app.config();
    log(&format!(
        "event=listening address={address} version={} environment={:?} ready={} missing={}",
        crate::VERSION,
        config.environment,
        config.is_ready(),
        if config.missing_keys.is_empty() {
            "-".to_owned()
        } else {
            config.missing_keys.join(",")
        },
    ));
    let app = Arc::new(app);
    let active = Arc::new(AtomicUsize::new(0));
    while !stop.load(Ordering::SeqCst) {
        let stream = match listener.accept() {
            Ok((stream, _)) => stream,
            Err(error) if error.kind() == io::ErrorKind::WouldBlock => {
                thread::sleep(STOP_POLL);
                continue;
            }
            // A connection reset before it was accepted, or a transient lack of descriptors:
            // neither ends the server.
            Err(error) => {
                log(&format!(
                    "event=accept_failed error={:?}",
                    error.to_string()
                ));
                thread::sleep(STOP_POLL);
                continue;
            }
        };
        let guard = ActiveConnection::enter(&active);
        if guard.count > MAX_CONNECTIONS {
            refuse_busy(stream);
            continue;
        }
        let app = Arc::clone(&app);
        let spawned = thread::Builder::new()
            .name("connection".to_owned())
            .spawn(move || {
                let _guard = guard;
                serve_connection(stream, &app);
            });
        if let Err(error) = spawned {
            log(&format!("event=spawn_failed error={:?}", error.to_string()));
        }
    }
    log("event=stopping reason=signal");
    let deadline = Instant::now() + DRAIN_TIMEOUT;
    while active.load(Ordering::SeqCst) > 0 && Instant::now() < deadline {
        thread::sleep(Duration::from_millis(10));
    }
    Ok(())
}

/// Counts a connection in `active` from accept until its thread ends.
struct ActiveConnection {
    active: Arc<AtomicUsize>,
    count: usize,
}

impl ActiveConnection {
    fn enter(active: &Arc<AtomicUsize>) -> Self {
        let count = active.fetch_add(1, Ordering::SeqCst) + 1;
        Self {
            active: Arc::clone(active),
            count,
        }
    }
}

impl Drop for ActiveConnection {
    fn drop(&mut self) {
        self.active.fetch_sub(1, Ordering::SeqCst);
    }
}

fn refuse_busy(mut stream: TcpStream) {
    let _ = stream.set_nonblocking(false);
    let _ = stream.set_write_timeout(Some(Duration::from_millis(100)));
    let _ = Response::text(503, "busy\n").write_to(&mut stream, true);
}

fn serve_connection(mut stream: TcpStream, app: &App) {
    // Accepted sockets do not inherit the listener's non-blocking mode on Linux; make sure.
    if stream.set_nonblocking(false).is_err()
        || stream.set_write_timeout(Some(WRITE_TIMEOUT)).is_err()
    {
        return;
    }
    let head = http::read_request_head(&mut stream, HEAD_TIMEOUT);
    // Timed from a complete head, so that a slow client does not count as a slow answer.
    let started = Instant::now();
    let (method, route, response) = match head {
        Ok(head) => {
            let route = Route::from_path(&head.path);
            let response = app.respond(&head.method, route);
            (head.method, route, response)
        }
        Err(error) => {
            let Some(status) = error.status() else {
                return;
            };
            let body = format!("{error}\n");
            (String::new(), Route::Other, Response::text(status, &body))
        }
    };
    let include_body = method != "HEAD";
    let written = response.write_to(&mut stream, include_body);
    let duration = started.elapsed();
    app.record(&method, route, response.status, duration);
    log(&format!(
        "method={} path={} code={} duration_ms={:.3}{}",
        http::method_label(&method),
        route.label(),
        response.status,
        duration.as_secs_f64() * 1000.0,
        if written.is_err() {
            " write=failed"
        } else {
            ""
        },
    ));
    linger(stream);
}

/// Closes after the client has had the response: unread request bytes would make the kernel
/// reset the connection, and the reset can discard the response before the client reads it.
fn linger(mut stream: TcpStream) {
    let _ = stream.shutdown(Shutdown::Write);
    let _ = stream.set_read_timeout(Some(Duration::from_millis(200)));
    let mut sink = [0_u8; 4096];
    let mut drained = 0;
    while drained < 64 * 1024 {
        match stream.read(&mut sink) {
            Ok(0) | Err(_) => break,
            Ok(read) => drained += read,
        }
    }
}

/// Writes one line to stdout; a closed stdout must not stop the server.
fn log(line: &str) {
    let mut stdout = io::stdout().lock();
    let _ = writeln!(stdout, "{line}");
    let _ = stdout.flush();
}
