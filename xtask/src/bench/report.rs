//! Medians, ratios, round trips and the goals, as a Markdown table and `bench/results.md`.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::time::Duration;

use super::observe::Observation;
use super::tools::{Scenario, Tool};

/// The goals the bench reports on.
const PLAN_SPEED_UP_GOAL: f64 = 20.0;
const APPLY_SPEED_UP_GOAL: f64 = 10.0;
/// At most this many round trips for ShopStack at the delay, per scenario.
const ROUND_TRIPS_GOALS: [(Scenario, usize); 3] = [
    (Scenario::Apply, 10),
    (Scenario::Plan, 2),
    (Scenario::Destroy, 8),
];

/// The runs of every scenario and tool at one delay per request.
pub struct Pass {
    /// What the proxy added to each request.
    pub delay: Duration,
    runs: Vec<(Scenario, Tool, Observation)>,
}

impl Pass {
    /// No runs yet.
    pub fn new(delay: Duration) -> Self {
        Self {
            delay,
            runs: Vec::new(),
        }
    }

    /// Adds one run.
    pub fn add(&mut self, scenario: Scenario, tool: Tool, observation: Observation) {
        self.runs.push((scenario, tool, observation));
    }

    fn of(&self, scenario: Scenario, tool: Tool) -> Summary {
        Summary::new(
            self.runs
                .iter()
                .filter(|(s, t, _)| *s == scenario && *t == tool)
                .map(|(_, _, observation)| observation.clone())
                .collect(),
            self.delay,
        )
    }
}

/// The statistics of one tool in one scenario at one delay.
struct Summary {
    runs: Vec<Observation>,
    delay: Duration,
}

fn median<T: Copy>(values: &mut [T], compare: impl Fn(&T, &T) -> std::cmp::Ordering) -> Option<T> {
    values.sort_by(compare);
    values.get(values.len() / 2).copied()
}

impl Summary {
    fn new(runs: Vec<Observation>, delay: Duration) -> Self {
        Self { runs, delay }
    }

    fn seconds(&self) -> Vec<f64> {
        self.runs.iter().map(|run| run.seconds).collect()
    }

    fn median(&self) -> f64 {
        median(&mut self.seconds(), f64::total_cmp).unwrap_or(f64::NAN)
    }

    fn min(&self) -> f64 {
        self.seconds().into_iter().fold(f64::INFINITY, f64::min)
    }

    fn max(&self) -> f64 {
        self.seconds().into_iter().fold(0.0, f64::max)
    }

    fn requests(&self) -> usize {
        let mut counts: Vec<usize> = self.runs.iter().map(Observation::request_count).collect();
        median(&mut counts, Ord::cmp).unwrap_or(0)
    }

    /// The median count, with the range when runs differ.
    fn requests_text(&self) -> String {
        let counts: Vec<usize> = self.runs.iter().map(Observation::request_count).collect();
        let (low, high) = (
            counts.iter().min().copied().unwrap_or(0),
            counts.iter().max().copied().unwrap_or(0),
        );
        if low == high {
            format!("{}", self.requests())
        } else {
            format!("{} ({low}–{high})", self.requests())
        }
    }

    /// The median number of round trips measured from request arrival times.
    fn round_trips(&self) -> Option<usize> {
        if self.delay.is_zero() {
            return None;
        }
        let mut counts: Vec<usize> = self
            .runs
            .iter()
            .map(|run| run.round_trips(self.delay).len())
            .collect();
        median(&mut counts, Ord::cmp)
    }

    /// The run whose time is the median, to show what it did.
    fn median_run(&self) -> Option<&Observation> {
        let target = self.median();
        self.runs.iter().find(|run| run.seconds == target)
    }
}

/// Every pass of the bench, and how it was run.
pub struct Report {
    /// Measured runs per scenario and tool.
    pub runs: usize,
    /// Machine, versions, date.
    pub setting: String,
    /// Without and with a delay per request.
    pub passes: Vec<Pass>,
}

fn ratio(terraform: f64, shopstack: f64) -> f64 {
    terraform / shopstack
}

fn milliseconds(delay: Duration) -> u128 {
    delay.as_millis()
}

impl Report {
    fn undelayed(&self) -> Option<&Pass> {
        self.passes.iter().find(|pass| pass.delay.is_zero())
    }

    fn delayed(&self) -> Option<&Pass> {
        self.passes.iter().find(|pass| !pass.delay.is_zero())
    }

    /// Round trips estimated from wall times: the extra time the delay costs, in delays.
    fn estimated_round_trips(&self, scenario: Scenario, tool: Tool) -> Option<f64> {
        let (undelayed, delayed) = (self.undelayed()?, self.delayed()?);
        Some(
            (delayed.of(scenario, tool).median() - undelayed.of(scenario, tool).median())
                / delayed.delay.as_secs_f64(),
        )
    }

    /// The results table.
    pub fn table(&self) -> String {
        let mut table = String::from(
            "| scenario | delay per request | ShopStack s, median (min–max) | Terraform s, median (min–max) | speed-up | AWS requests ShopStack / Terraform | round trips ShopStack / Terraform |\n|---|---:|---:|---:|---:|---:|---:|\n",
        );
        for scenario in Scenario::ALL {
            for pass in &self.passes {
                let [ours, theirs] = Tool::ALL.map(|tool| pass.of(scenario, tool));
                let trips = match (ours.round_trips(), theirs.round_trips()) {
                    (Some(ours_trips), Some(theirs_trips)) => {
                        let estimate = self
                            .estimated_round_trips(scenario, Tool::ShopStack)
                            .map_or_else(String::new, |value| format!(" (~{value:.1})"));
                        format!("{ours_trips}{estimate} / {theirs_trips}")
                    }
                    _ => "–".to_owned(),
                };
                let _ = writeln!(
                    table,
                    "| {scenario} | {} ms | {:.3} ({:.3}–{:.3}) | {:.3} ({:.3}–{:.3}) | {:.1}× | {} / {} | {trips} |",
                    milliseconds(pass.delay),
                    ours.median(),
                    ours.min(),
                    ours.max(),
                    theirs.median(),
                    theirs.min(),
                    theirs.max(),
                    ratio(theirs.median(), ours.median()),
                    ours.requests_text(),
                    theirs.requests_text(),
                );
            }
        }
        table
    }

    /// Each goal, its measured value and whether it is met.
    pub fn goals(&self) -> String {
        let mut goals = String::new();
        let mark = |met: bool| if met { "met" } else { "MISSED" };
        if let Some(pass) = self.undelayed() {
            for (scenario, goal) in [
                (Scenario::Plan, PLAN_SPEED_UP_GOAL),
                (Scenario::Apply, APPLY_SPEED_UP_GOAL),
            ] {
                let speed_up = ratio(
                    pass.of(scenario, Tool::Terraform).median(),
                    pass.of(scenario, Tool::ShopStack).median(),
                );
                let _ = writeln!(
                    goals,
                    "- {scenario} at least {goal:.0}× faster than Terraform: {speed_up:.1}×, {}",
                    mark(speed_up >= goal)
                );
            }
        }
        if let Some(pass) = self.delayed() {
            for (scenario, goal) in ROUND_TRIPS_GOALS {
                let Some(trips) = pass.of(scenario, Tool::ShopStack).round_trips() else {
                    continue;
                };
                let estimate = self
                    .estimated_round_trips(scenario, Tool::ShopStack)
                    .map_or_else(String::new, |value| {
                        format!(" (~{value:.1} from the medians' difference)")
                    });
                let _ = writeln!(
                    goals,
                    "- {scenario} within {goal} round trips at {} ms per request: {trips}{estimate}, {}",
                    milliseconds(pass.delay),
                    mark(trips <= goal)
                );
            }
        }
        let mut counts = Vec::new();
        let mut all = true;
        for pass in &self.passes {
            for scenario in Scenario::ALL {
                let [ours, theirs] = Tool::ALL.map(|tool| pass.of(scenario, tool).requests());
                all &= ours < theirs;
                counts.push(format!(
                    "{scenario} at {} ms {ours} vs {theirs}",
                    milliseconds(pass.delay)
                ));
            }
        }
        let _ = writeln!(
            goals,
            "- fewer AWS requests than Terraform in every scenario: {}, {}",
            counts.join("; "),
            mark(all)
        );
        goals
    }

    /// ShopStack's every scenario at the delay, round trip by round trip; and every scenario's
    /// requests by operation.
    fn details(&self) -> String {
        let mut details = String::new();
        if let Some(pass) = self.delayed() {
            for scenario in Scenario::ALL {
                let summary = pass.of(scenario, Tool::ShopStack);
                let Some(run) = summary.median_run() else {
                    continue;
                };
                let _ = writeln!(
                    details,
                    "## ShopStack's {scenario} at {} ms per request, round trip by round trip\n\nThe median run; a request opens a new round trip when it reaches the proxy at least 0.9 × the delay after the first request of the current one.\n",
                    milliseconds(pass.delay)
                );
                for (index, trip) in run.round_trips(pass.delay).iter().enumerate() {
                    let _ = writeln!(
                        details,
                        "{}. {} request(s): {}",
                        index + 1,
                        trip.len(),
                        grouped(trip)
                    );
                }
                details.push('\n');
            }
        }
        if let Some(pass) = self.undelayed() {
            let _ = writeln!(
                details,
                "## AWS requests by operation (median run, {} ms)\n",
                milliseconds(pass.delay)
            );
            for scenario in Scenario::ALL {
                for tool in Tool::ALL {
                    let summary = pass.of(scenario, tool);
                    if let Some(run) = summary.median_run() {
                        let operations: Vec<String> = run
                            .requests
                            .iter()
                            .map(|(_, operation)| operation.clone())
                            .collect();
                        let _ = writeln!(
                            details,
                            "- {scenario}, {tool} ({}): {}",
                            operations.len(),
                            grouped(&operations)
                        );
                    }
                }
            }
        }
        details
    }

    /// `bench/results.md`.
    pub fn markdown(&self) -> String {
        format!(
            "# Benchmark results\n\n`cargo xtask bench --runs {runs}{delay}`: {setting}\n\n{table}\n## Goals\n\n{goals}\n{details}",
            runs = self.runs,
            delay = self.delayed().map_or_else(String::new, |pass| format!(
                " --delay-ms {}",
                milliseconds(pass.delay)
            )),
            setting = self.setting,
            table = self.table(),
            goals = self.goals(),
            details = self.details(),
        )
    }
}

/// `a ×2, b` for a list of operations, sorted.
fn grouped(operations: &[String]) -> String {
    let mut counts: BTreeMap<&str, usize> = BTreeMap::new();
    for operation in operations {
        *counts.entry(operation.as_str()).or_default() += 1;
    }
    counts
        .into_iter()
        .map(|(operation, count)| {
            if count == 1 {
                operation.to_owned()
            } else {
                format!("{operation} ×{count}")
            }
        })
        .collect::<Vec<_>>()
        .join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn repeated_operations_are_counted_once_each() {
        let operations = ["iam GetRole", "s3 GET ?policy", "iam GetRole"].map(str::to_owned);
        assert_eq!(grouped(&operations), "iam GetRole ×2, s3 GET ?policy");
    }
}
