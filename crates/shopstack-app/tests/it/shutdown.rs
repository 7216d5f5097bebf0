//! Stopping on SIGTERM, as Kubernetes stops a pod.

use std::time::{Duration, Instant};

use crate::process::App;

#[test]
fn sigterm_exits_zero_within_two_seconds() {
    let mut app = App::start(&[]);
    assert_eq!(app.get("/healthz").status, 200);
    let sent = Instant::now();
    app.terminate();
    let status = app
        .wait_for_exit(Duration::from_secs(2))
        .expect("exited within 2 s");
    assert!(status.success(), "{status}");
    assert!(
        sent.elapsed() < Duration::from_secs(1),
        "{:?}",
        sent.elapsed()
    );
    assert!(app.log().contains("event=stopping reason=signal\n"));
}
