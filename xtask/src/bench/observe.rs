//! One measured command: its wall time and the AWS requests the proxy saw, with arrival times.

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use shopstack_testkit::Proxy;

/// What one run of one command did.
#[derive(Debug, Clone)]
pub struct Observation {
    /// Wall time from spawning the process to its exit.
    pub seconds: f64,
    /// Every request, in arrival order: when it reached the proxy (from the command's start) and
    /// `service operation`.
    pub requests: Vec<(Duration, String)>,
}

impl Observation {
    /// The number of requests.
    pub fn request_count(&self) -> usize {
        self.requests.len()
    }

    /// The requests grouped into round trips: a request starts a new round trip when it arrives
    /// at least (nearly) one `delay` after the first request of the current one, which only a
    /// request that waited for an earlier answer does. Requests sent together share one.
    pub fn round_trips(&self, delay: Duration) -> Vec<Vec<String>> {
        let threshold = delay.mul_f64(0.9);
        let mut trips: Vec<Vec<String>> = Vec::new();
        let mut trip_start: Option<Duration> = None;
        for (arrival, operation) in &self.requests {
            match trip_start {
                Some(start) if arrival.saturating_sub(start) < threshold => {}
                _ => {
                    trip_start = Some(*arrival);
                    trips.push(Vec::new());
                }
            }
            if let Some(trip) = trips.last_mut() {
                trip.push(operation.clone());
            }
        }
        trips
    }
}

/// Runs `command` to completion through `proxy`, which is cleared first, and takes each request's
/// arrival at the proxy (before its delay) relative to the command's start.
pub fn observe(
    proxy: &Proxy,
    command: &mut Command,
    what: &str,
    expect: &str,
) -> anyhow::Result<Observation> {
    proxy.clear();
    let started = Instant::now();
    let output = command
        .stdin(Stdio::null())
        .output()
        .with_context(|| format!("run {what}"))?;
    let elapsed = started.elapsed();
    let stdout = String::from_utf8_lossy(&output.stdout);
    if !output.status.success() || !stdout.contains(expect) {
        bail!(
            "{what} ({}) did not report {expect:?}: {stdout}{}",
            output.status,
            String::from_utf8_lossy(&output.stderr)
        );
    }
    let requests = proxy
        .requests()
        .into_iter()
        .map(|request| {
            (
                request.arrived.saturating_duration_since(started),
                format!("{} {}", request.service, request.operation),
            )
        })
        .collect();
    Ok(Observation {
        seconds: elapsed.as_secs_f64(),
        requests,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(milliseconds: &[u64]) -> Observation {
        Observation {
            seconds: 0.0,
            requests: milliseconds
                .iter()
                .enumerate()
                .map(|(index, ms)| (Duration::from_millis(*ms), format!("op{index}")))
                .collect(),
        }
    }

    #[test]
    fn requests_sent_together_share_a_round_trip() {
        let trips = at(&[10, 11, 13, 64, 65, 120]).round_trips(Duration::from_millis(50));
        assert_eq!(
            trips,
            [vec!["op0", "op1", "op2"], vec!["op3", "op4"], vec!["op5"]]
        );
    }

    #[test]
    fn no_requests_make_no_round_trip() {
        assert!(at(&[]).round_trips(Duration::from_millis(50)).is_empty());
    }
}
