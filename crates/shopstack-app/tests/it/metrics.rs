//! `/metrics` after real traffic: a strictly valid exposition that counts every request.

use crate::exposition::{self, Exposition};
use crate::process::App;

const REQUESTS: &str = "shopstack_app_http_requests_total";
const DURATION: &str = "shopstack_app_http_request_duration_seconds";

fn scrape(app: &App) -> Exposition {
    let reply = app.get("/metrics");
    assert_eq!(reply.status, 200);
    assert_eq!(
        reply.header("Content-Type"),
        Some("text/plain; version=0.0.4; charset=utf-8")
    );
    exposition::parse(&reply.body).unwrap_or_else(|error| panic!("{error}\n{}", reply.body))
}

fn requests(exposition: &Exposition, method: &str, path: &str, code: &str) -> Option<f64> {
    exposition.value(
        REQUESTS,
        &[("method", method), ("path", path), ("code", code)],
    )
}

#[test]
fn every_request_is_counted_and_timed() {
    let app = App::start(&[("SESSION_SECRET", "x"), ("GREETING", "y")]);
    for _ in 0..3 {
        assert_eq!(app.get("/healthz").status, 200);
    }
    assert_eq!(app.get("/readyz").status, 200);
    assert_eq!(app.get("/no/such/page").status, 404);
    assert_eq!(app.request("POST", "/healthz").status, 405);
    assert_eq!(app.raw(b"BAD\r\n\r\n").status, 400);

    let exposition = scrape(&app);
    assert_eq!(requests(&exposition, "GET", "/healthz", "200"), Some(3.0));
    assert_eq!(requests(&exposition, "GET", "/readyz", "200"), Some(1.0));
    assert_eq!(requests(&exposition, "GET", "other", "404"), Some(1.0));
    assert_eq!(requests(&exposition, "POST", "/healthz", "405"), Some(1.0));
    assert_eq!(requests(&exposition, "other", "other", "400"), Some(1.0));
    // The scrape is counted once it has been answered.
    assert_eq!(requests(&exposition, "GET", "/metrics", "200"), None);
    let total: f64 = exposition
        .family(REQUESTS)
        .expect("request counter")
        .samples
        .iter()
        .map(|sample| sample.value)
        .sum();
    assert_eq!(total, 7.0);

    let count = |path| exposition.value(&format!("{DURATION}_count"), &[("path", path)]);
    assert_eq!(count("/healthz"), Some(4.0));
    assert_eq!(count("/readyz"), Some(1.0));
    assert_eq!(count("other"), Some(2.0));
    assert_eq!(
        exposition.value(
            &format!("{DURATION}_bucket"),
            &[("path", "/healthz"), ("le", "+Inf")]
        ),
        Some(4.0)
    );

    let second = scrape(&app);
    assert_eq!(requests(&second, "GET", "/metrics", "200"), Some(1.0));
    assert_eq!(requests(&second, "GET", "/healthz", "200"), Some(3.0));
}

#[test]
fn families_carry_their_types_and_build_info() {
    let app = App::start(&[("SHOPSTACK_ENV", "dev"), ("SESSION_SECRET", "x")]);
    app.get("/");
    let exposition = scrape(&app);
    let kinds: Vec<(&str, &str)> = exposition
        .families
        .iter()
        .map(|family| (family.name.as_str(), family.kind.as_str()))
        .collect();
    assert_eq!(
        kinds,
        [
            (REQUESTS, "counter"),
            (DURATION, "histogram"),
            ("shopstack_app_build_info", "gauge"),
            ("shopstack_app_ready", "gauge"),
        ]
    );
    assert!(
        exposition
            .families
            .iter()
            .all(|family| !family.help.is_empty())
    );
    assert_eq!(
        exposition.value(
            "shopstack_app_build_info",
            &[
                ("version", env!("CARGO_PKG_VERSION")),
                ("environment", "dev")
            ]
        ),
        Some(1.0)
    );
    assert_eq!(exposition.value("shopstack_app_ready", &[]), Some(0.0));
}

#[test]
fn ready_gauge_is_one_when_configured() {
    let app = App::start(&[("SESSION_SECRET", "x"), ("GREETING", "y")]);
    assert_eq!(scrape(&app).value("shopstack_app_ready", &[]), Some(1.0));
}
