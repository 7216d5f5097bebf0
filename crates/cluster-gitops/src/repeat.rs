//! The repeatability test: N × (create → validate → delete), one JSON line per run, a summary.

use std::fmt::Write as _;
use std::io::Write as _;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use thiserror::Error;

/// The phases of one run, in order.
pub const PHASES: [&str; 3] = ["create", "validate", "delete"];

/// Errors from writing the log.
#[derive(Debug, Error)]
pub enum RepeatError {
    /// The log could not be opened or appended to.
    #[error("{}: cannot append to the log", path.display())]
    Log {
        /// The log file.
        path: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
}

/// One run, as one line of the log.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunRecord {
    /// 1-based run number.
    pub run: u32,
    /// Start, in seconds since the Unix epoch.
    pub started_at: u64,
    /// Seconds spent creating (and waiting for readiness); absent when not reached.
    pub create_seconds: Option<f64>,
    /// Seconds spent validating; absent when not reached.
    pub validate_seconds: Option<f64>,
    /// Seconds spent deleting; absent when not reached.
    pub delete_seconds: Option<f64>,
    /// Whether every phase succeeded.
    pub passed: bool,
    /// The first failure, as one line.
    pub error: Option<String>,
}

impl RunRecord {
    /// The seconds of phase `name` (one of [`PHASES`]).
    pub fn seconds(&self, name: &str) -> Option<f64> {
        match name {
            "create" => self.create_seconds,
            "validate" => self.validate_seconds,
            "delete" => self.delete_seconds,
            _ => None,
        }
    }
}

/// Timing statistics of one phase over the runs that reached it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PhaseStats {
    /// The phase.
    pub phase: &'static str,
    /// How many runs timed it.
    pub samples: usize,
    /// Median seconds (nearest rank).
    pub p50: f64,
    /// 95th percentile seconds (nearest rank).
    pub p95: f64,
    /// Slowest.
    pub max: f64,
}

/// The outcome of a whole repeat test.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Summary {
    /// Runs done.
    pub runs: usize,
    /// Runs that passed.
    pub passed: usize,
    /// Per-phase timing, for phases that at least one run reached.
    pub phases: Vec<PhaseStats>,
}

impl Summary {
    /// Statistics over `records`.
    pub fn of(records: &[RunRecord]) -> Self {
        let phases = PHASES
            .iter()
            .filter_map(|phase| {
                let mut samples: Vec<f64> = records
                    .iter()
                    .filter_map(|record| record.seconds(phase))
                    .collect();
                samples.sort_by(f64::total_cmp);
                let max = *samples.last()?;
                Some(PhaseStats {
                    phase,
                    samples: samples.len(),
                    p50: nearest_rank(&samples, 50),
                    p95: nearest_rank(&samples, 95),
                    max,
                })
            })
            .collect();
        Self {
            runs: records.len(),
            passed: records.iter().filter(|record| record.passed).count(),
            phases,
        }
    }

    /// Whether every run passed (and there was at least one).
    pub fn all_passed(&self) -> bool {
        self.runs > 0 && self.passed == self.runs
    }

    /// The summary as text: passes, then one line per phase.
    pub fn render(&self) -> String {
        let mut out = format!("passed {}/{} runs\n", self.passed, self.runs);
        for stats in &self.phases {
            let _ = writeln!(
                out,
                "{:<9} p50 {:>7.1}s  p95 {:>7.1}s  max {:>7.1}s  ({} runs)",
                stats.phase, stats.p50, stats.p95, stats.max, stats.samples
            );
        }
        out
    }
}

/// The nearest-rank percentile of sorted, non-empty `samples`.
pub fn nearest_rank(samples: &[f64], percentile: usize) -> f64 {
    if samples.is_empty() {
        return 0.0;
    }
    let rank = (percentile * samples.len()).div_ceil(100).max(1);
    samples[rank.min(samples.len()) - 1]
}

/// Appends `record` as one JSON line to `log` (created if absent).
pub fn append(log: &Path, record: &RunRecord) -> Result<(), RepeatError> {
    let error = |source| RepeatError::Log {
        path: log.to_path_buf(),
        source,
    };
    let mut line = serde_json::to_string(record).map_err(|source| error(source.into()))?;
    line.push('\n');
    let mut file = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(log)
        .map_err(error)?;
    file.write_all(line.as_bytes()).map_err(error)
}

/// Runs `run_once` for runs 1..=`runs`, appending each record to `log`; stops after the first
/// failed run unless `keep_going`.
pub async fn run_all<F, Fut>(
    runs: u32,
    keep_going: bool,
    log: &Path,
    mut run_once: F,
) -> Result<Vec<RunRecord>, RepeatError>
where
    F: FnMut(u32) -> Fut,
    Fut: Future<Output = RunRecord>,
{
    let mut records = Vec::new();
    for run in 1..=runs {
        let record = run_once(run).await;
        append(log, &record)?;
        let failed = !record.passed;
        records.push(record);
        if failed && !keep_going {
            break;
        }
    }
    Ok(records)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(run: u32, create: f64, passed: bool) -> RunRecord {
        RunRecord {
            run,
            started_at: 1_700_000_000,
            create_seconds: Some(create),
            validate_seconds: passed.then_some(1.0),
            delete_seconds: Some(10.0),
            passed,
            error: (!passed).then(|| "boom".to_owned()),
        }
    }

    #[test]
    fn nearest_rank_percentiles() {
        let samples: Vec<f64> = (1..=20).map(f64::from).collect();
        assert_eq!(nearest_rank(&samples, 50), 10.0);
        assert_eq!(nearest_rank(&samples, 95), 19.0);
        assert_eq!(nearest_rank(&[3.0], 95), 3.0);
        assert_eq!(nearest_rank(&[1.0, 2.0, 3.0], 50), 2.0);
        assert_eq!(nearest_rank(&[1.0, 2.0, 3.0], 95), 3.0);
    }

    #[test]
    fn the_summary_counts_passes_and_skips_unreached_phases() {
        let summary = Summary::of(&[
            record(1, 30.0, true),
            record(2, 50.0, false),
            record(3, 40.0, true),
        ]);
        assert_eq!(summary.runs, 3);
        assert_eq!(summary.passed, 2);
        assert!(!summary.all_passed());
        let create = &summary.phases[0];
        assert_eq!(
            (
                create.phase,
                create.samples,
                create.p50,
                create.p95,
                create.max
            ),
            ("create", 3, 40.0, 50.0, 50.0)
        );
        assert_eq!(summary.phases[1].samples, 2);
        assert_eq!(summary.render().lines().next(), Some("passed 2/3 runs"));
    }

    #[tokio::test]
    async fn runs_stop_at_the_first_failure_unless_keep_going() {
        let dir = tempfile::tempdir().unwrap();
        let log = dir.path().join("repeat.log");
        let records = run_all(
            3,
            false,
            &log,
            |run| async move { record(run, 1.0, run != 2) },
        )
        .await
        .unwrap();
        assert_eq!(records.len(), 2);
        let records = run_all(
            3,
            true,
            &log,
            |run| async move { record(run, 1.0, run != 2) },
        )
        .await
        .unwrap();
        assert_eq!(records.len(), 3);
        let lines: Vec<RunRecord> = std::fs::read_to_string(&log)
            .unwrap()
            .lines()
            .map(|line| serde_json::from_str(line).unwrap())
            .collect();
        assert_eq!(
            lines.iter().map(|r| r.run).collect::<Vec<_>>(),
            [1, 2, 1, 2, 3]
        );
    }
}
