//! What each endpoint answers, and that configuration values never show.

use std::io::Write;
use std::net::TcpStream;
use std::time::{Duration, Instant};

use crate::process::App;

const SECRET_VALUE: &str = "s3cr3t-value-do-not-show";
const GREETING_VALUE: &str = "hello-greeting-value";

#[test]
fn healthz_answers_ok() {
    let app = App::start(&[]);
    let reply = app.get("/healthz");
    assert_eq!(reply.status, 200);
    assert_eq!(reply.body, "ok\n");
    assert_eq!(
        reply.header("Content-Type"),
        Some("text/plain; charset=utf-8")
    );
}

#[test]
fn readyz_names_the_missing_key_and_shows_no_value() {
    let app = App::start(&[("SESSION_SECRET", SECRET_VALUE)]);
    let reply = app.get("/readyz");
    assert_eq!(reply.status, 503);
    assert_eq!(reply.body, "not ready: missing GREETING\n");
    assert!(!reply.body.contains(SECRET_VALUE));
}

#[test]
fn an_empty_key_counts_as_missing() {
    let app = App::start(&[("SESSION_SECRET", SECRET_VALUE), ("GREETING", "")]);
    let reply = app.get("/readyz");
    assert_eq!(reply.status, 503);
    assert_eq!(reply.body, "not ready: missing GREETING\n");
}

#[test]
fn readyz_is_ready_once_every_key_is_set() {
    let app = App::start(&[
        ("SESSION_SECRET", SECRET_VALUE),
        ("GREETING", GREETING_VALUE),
    ]);
    let reply = app.get("/readyz");
    assert_eq!(reply.status, 200);
    assert_eq!(reply.body, "ready\n");
}

#[test]
fn required_keys_come_from_shopstack_required_keys() {
    let app = App::start(&[
        ("SHOPSTACK_REQUIRED_KEYS", "DATABASE_URL, GREETING"),
        ("GREETING", GREETING_VALUE),
    ]);
    let reply = app.get("/readyz");
    assert_eq!(reply.status, 503);
    assert_eq!(reply.body, "not ready: missing DATABASE_URL\n");
}

#[test]
fn root_lists_key_names_and_no_values() {
    let app = App::start(&[
        ("SHOPSTACK_ENV", "staging"),
        ("SESSION_SECRET", SECRET_VALUE),
        (
            "SHOPSTACK_REQUIRED_KEYS",
            "SESSION_SECRET,GREETING,API_TOKEN",
        ),
        ("GREETING", GREETING_VALUE),
    ]);
    let reply = app.get("/");
    assert_eq!(reply.status, 200);
    assert_eq!(reply.header("Content-Type"), Some("application/json"));
    assert_eq!(
        reply.body,
        format!(
            "{{\"app\":\"shopstack-app\",\"version\":\"{}\",\"environment\":\"staging\",\
             \"config_keys\":[\"GREETING\",\"SESSION_SECRET\"],\"missing_keys\":[\"API_TOKEN\"],\
             \"ready\":false}}\n",
            env!("CARGO_PKG_VERSION")
        )
    );
}

#[test]
fn root_says_unknown_environment_and_ready_when_so() {
    let app = App::start(&[
        ("SESSION_SECRET", SECRET_VALUE),
        ("GREETING", GREETING_VALUE),
    ]);
    let body = app.get("/").body;
    assert!(body.contains("\"environment\":\"unknown\""), "{body}");
    assert!(
        body.contains("\"missing_keys\":[],\"ready\":true}"),
        "{body}"
    );
}

#[test]
fn unknown_paths_are_404() {
    let app = App::start(&[]);
    assert_eq!(app.get("/admin").status, 404);
    assert_eq!(app.get("/healthz/extra").status, 404);
}

#[test]
fn other_methods_are_405_with_allow() {
    let app = App::start(&[]);
    for method in ["POST", "PUT", "DELETE"] {
        let reply = app.request(method, "/healthz");
        assert_eq!(reply.status, 405, "{method}");
        assert_eq!(reply.header("Allow"), Some("GET, HEAD"), "{method}");
    }
}

#[test]
fn head_answers_headers_without_a_body() {
    let app = App::start(&[]);
    let reply = app.request("HEAD", "/healthz");
    assert_eq!(reply.status, 200);
    assert_eq!(reply.header("Content-Length"), Some("3"));
    assert_eq!(reply.body, "");
}

#[test]
fn an_oversized_head_is_431() {
    let app = App::start(&[]);
    let mut request = b"GET /healthz HTTP/1.1\r\nX-Padding: ".to_vec();
    request.resize(16 * 1024, b'a');
    request.extend_from_slice(b"\r\n\r\n");
    assert_eq!(app.raw(&request).status, 431);
}

#[test]
fn a_malformed_request_is_400() {
    let app = App::start(&[]);
    assert_eq!(app.raw(b"HELLO\r\n\r\n").status, 400);
}

#[test]
fn a_stalled_client_does_not_hold_up_others() {
    let app = App::start(&[]);
    let mut stalled = TcpStream::connect(app.address).expect("connect");
    stalled
        .write_all(b"GET /healthz HTTP/1.1\r\n")
        .expect("half a request");
    let started = Instant::now();
    assert_eq!(app.get("/healthz").status, 200);
    assert!(
        started.elapsed() < Duration::from_secs(1),
        "{:?}",
        started.elapsed()
    );
}

#[test]
fn logs_have_one_line_per_request_and_no_values() {
    let mut app = App::start(&[
        ("SESSION_SECRET", SECRET_VALUE),
        ("GREETING", GREETING_VALUE),
    ]);
    app.get("/healthz");
    app.get("/nope?token=abc");
    app.terminate();
    assert!(
        app.wait_for_exit(Duration::from_secs(2)).is_some(),
        "still running"
    );
    let log = app.log();
    let requests: Vec<&str> = log
        .lines()
        .filter(|line| line.starts_with("method="))
        .collect();
    assert_eq!(requests.len(), 2, "{log}");
    assert!(
        requests[0].starts_with("method=GET path=/healthz code=200 duration_ms="),
        "{log}"
    );
    assert!(
        requests[1].starts_with("method=GET path=other code=404 duration_ms="),
        "{log}"
    );
    for hidden in [
        SECRET_VALUE,
        GREETING_VALUE,
        "token=abc",
        "Host",
        "User-Agent",
    ] {
        assert!(!log.contains(hidden), "{hidden} in {log}");
    }
}
