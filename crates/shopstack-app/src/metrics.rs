//! The metrics registry and its Prometheus text exposition (format 0.0.4).

use std::collections::BTreeMap;
use std::fmt::Write;
use std::sync::{Mutex, PoisonError};
use std::time::Duration;

use crate::routes::Route;

/// The `Content-Type` of the exposition.
pub const CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

/// Upper bounds of the request duration buckets, in seconds; `+Inf` follows them.
pub const DURATION_BUCKETS: [f64; 10] = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0];

const REQUESTS: &str = "shopstack_app_http_requests_total";
const DURATION: &str = "shopstack_app_http_request_duration_seconds";
const BUILD_INFO: &str = "shopstack_app_build_info";
const READY: &str = "shopstack_app_ready";

/// The series key of the request counter: method label, route, status code.
type RequestKey = (&'static str, Route, u16);

/// The request counter and duration histogram, plus the fixed build and readiness facts.
#[derive(Debug)]
pub struct Metrics {
    version: String,
    environment: String,
    ready: bool,
    recorded: Mutex<Recorded>,
}

#[derive(Debug, Default)]
struct Recorded {
    requests: BTreeMap<RequestKey, u64>,
    durations: BTreeMap<Route, Histogram>,
}

#[derive(Debug, Default, Clone)]
struct Histogram {
    /// Observations per bucket, not yet cumulative; the last slot is `+Inf`.
    buckets: [u64; DURATION_BUCKETS.len() + 1],
    sum_seconds: f64,
    count: u64,
}

impl Histogram {
    fn observe(&mut self, seconds: f64) {
        let slot = DURATION_BUCKETS
            .iter()
            .position(|bound| seconds <= *bound)
            .unwrap_or(DURATION_BUCKETS.len());
        self.buckets[slot] += 1;
        self.sum_seconds += seconds;
        self.count += 1;
    }
}

impl Metrics {
    /// A registry with nothing counted yet.
    pub fn new(version: &str, environment: &str, ready: bool) -> Self {
        Self {
            version: version.to_owned(),
            environment: environment.to_owned(),
            ready,
            recorded: Mutex::default(),
        }
    }

    /// Counts one answered request and observes its duration.
    pub fn record(&self, method: &'static str, route: Route, status: u16, duration: Duration) {
        let mut recorded = self.lock();
        *recorded
            .requests
            .entry((method, route, status))
            .or_default() += 1;
        recorded
            .durations
            .entry(route)
            .or_default()
            .observe(duration.as_secs_f64());
    }

    /// The exposition text: each family's HELP and TYPE, then its samples.
    pub fn render(&self) -> String {
        let (requests, durations) = {
            let recorded = self.lock();
            (recorded.requests.clone(), recorded.durations.clone())
        };
        let mut out = String::new();
        // Writing to a String cannot fail, so the results of `writeln!` below are ignored.
        family(
            &mut out,
            REQUESTS,
            "counter",
            "HTTP requests answered, by method, route and status code.",
        );
        for ((method, route, status), count) in &requests {
            let _ = writeln!(
                out,
                "{REQUESTS}{{method=\"{}\",path=\"{}\",code=\"{status}\"}} {count}",
                escape_label(method),
                escape_label(route.label()),
            );
        }
        family(
            &mut out,
            DURATION,
            "histogram",
            "Time taken to answer an HTTP request, by route.",
        );
        for (route, histogram) in &durations {
            let path = escape_label(route.label());
            let mut cumulative = 0;
            for (bound, observed) in DURATION_BUCKETS.iter().zip(histogram.buckets) {
                cumulative += observed;
                let _ = writeln!(
                    out,
                    "{DURATION}_bucket{{path=\"{path}\",le=\"{bound}\"}} {cumulative}"
                );
            }
            let _ = writeln!(
                out,
                "{DURATION}_bucket{{path=\"{path}\",le=\"+Inf\"}} {}",
                histogram.count
            );
            let _ = writeln!(
                out,
                "{DURATION}_sum{{path=\"{path}\"}} {}",
                histogram.sum_seconds
            );
            let _ = writeln!(
                out,
                "{DURATION}_count{{path=\"{path}\"}} {}",
                histogram.count
            );
        }
        family(
            &mut out,
            BUILD_INFO,
            "gauge",
            "Version and environment of the running application; always 1.",
        );
        let _ = writeln!(
            out,
            "{BUILD_INFO}{{version=\"{}\",environment=\"{}\"}} 1",
            escape_label(&self.version),
            escape_label(&self.environment),
        );
        family(
            &mut out,
            READY,
            "gauge",
            "1 when every required configuration key is set, else 0.",
        );
        let _ = writeln!(out, "{READY} {}", u8::from(self.ready));
        out
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Recorded> {
        // A panic while holding the lock leaves counts that are still valid numbers.
        self.recorded.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

fn family(out: &mut String, name: &str, kind: &str, help: &str) {
    let _ = writeln!(out, "# HELP {name} {help}");
    let _ = writeln!(out, "# TYPE {name} {kind}");
}

/// Escapes a label value as the text format requires: backslash, double quote and newline.
pub fn escape_label(value: &str) -> String {
    value
        .replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lines_starting(text: &str, prefix: &str) -> Vec<String> {
        text.lines()
            .filter(|line| line.starts_with(prefix))
            .map(str::to_owned)
            .collect()
    }

    #[test]
    fn a_fresh_registry_declares_every_family() {
        let text = Metrics::new("0.1.0", "dev", false).render();
        assert_eq!(
            lines_starting(&text, "# TYPE"),
            [
                "# TYPE shopstack_app_http_requests_total counter",
                "# TYPE shopstack_app_http_request_duration_seconds histogram",
                "# TYPE shopstack_app_build_info gauge",
                "# TYPE shopstack_app_ready gauge",
            ]
        );
        assert_eq!(lines_starting(&text, "# HELP").len(), 4);
        assert!(
            text.contains("\nshopstack_app_build_info{version=\"0.1.0\",environment=\"dev\"} 1\n")
        );
        assert!(text.ends_with("\nshopstack_app_ready 0\n"), "{text}");
    }

    #[test]
    fn requests_are_counted_per_method_route_and_code() {
        let metrics = Metrics::new("0.1.0", "dev", true);
        for _ in 0..3 {
            metrics.record("GET", Route::Healthz, 200, Duration::from_millis(1));
        }
        metrics.record("POST", Route::Healthz, 405, Duration::from_millis(1));
        let text = metrics.render();
        assert!(text.contains(
            "\nshopstack_app_http_requests_total{method=\"GET\",path=\"/healthz\",code=\"200\"} 3\n"
        ));
        assert!(text.contains(
            "\nshopstack_app_http_requests_total{method=\"POST\",path=\"/healthz\",code=\"405\"} 1\n"
        ));
        assert!(text.ends_with("\nshopstack_app_ready 1\n"), "{text}");
    }

    #[test]
    fn histogram_buckets_are_cumulative_and_end_with_the_count() {
        let metrics = Metrics::new("0.1.0", "dev", true);
        metrics.record("GET", Route::Root, 200, Duration::from_millis(3));
        metrics.record("GET", Route::Root, 200, Duration::from_millis(200));
        metrics.record("GET", Route::Root, 200, Duration::from_secs(7));
        let text = metrics.render();
        let buckets = lines_starting(
            &text,
            "shopstack_app_http_request_duration_seconds_bucket{path=\"/\"",
        );
        let counts: Vec<&str> = buckets
            .iter()
            .map(|line| line.rsplit(' ').next().unwrap_or_default())
            .collect();
        assert_eq!(
            counts,
            ["1", "1", "1", "1", "1", "2", "2", "2", "2", "2", "3"]
        );
        assert!(buckets[0].contains("le=\"0.005\""), "{}", buckets[0]);
        assert!(buckets[7].contains("le=\"1\""), "{}", buckets[7]);
        assert!(buckets[10].contains("le=\"+Inf\""), "{}", buckets[10]);
        assert!(
            text.contains("\nshopstack_app_http_request_duration_seconds_count{path=\"/\"} 3\n")
        );
        assert!(
            text.contains("\nshopstack_app_http_request_duration_seconds_sum{path=\"/\"} 7.203\n")
        );
    }

    #[test]
    fn a_duration_on_a_bound_falls_in_that_bucket() {
        let mut histogram = Histogram::default();
        histogram.observe(0.005);
        assert_eq!(histogram.buckets[0], 1);
    }

    #[test]
    fn label_values_are_escaped() {
        assert_eq!(escape_label("a\\b\"c\nd"), "a\\\\b\\\"c\\nd");
        let text = Metrics::new("0.1.0", "we\"ird", true).render();
        assert!(text.contains("environment=\"we\\\"ird\""), "{text}");
    }
}
