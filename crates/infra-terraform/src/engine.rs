//! The engine: read every resource concurrently, diff into a plan, execute it in dependency order.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures::future::join_all;
use shopstack_core::plan::{Action, AttributeChange, Plan, ResourceChange, Summary};
use thiserror::Error;
use tokio::sync::watch;

use crate::resource::{Attributes, DestroyOptions, Live, Resource, ResourceError};

/// Errors of the engine.
#[derive(Debug, Error)]
pub enum EngineError {
    /// Reading the live state failed; nothing was changed.
    #[error("read the live resources: {}", join(.0))]
    Read(Vec<ResourceError>),
    /// The plan has conflicts: nothing was changed.
    #[error("refusing to apply: {}", .0.join("; "))]
    Conflict(Vec<String>),
    /// Reading back what was written failed; the changes were made.
    #[error("read back what was applied: {}", join(.0))]
    ReadBack(Vec<ResourceError>),
    /// Some changes failed; the others were made, but none that needed a failed one.
    #[error("{} of the changes failed: {}", .0.len(), join(.0))]
    Failed(Vec<ResourceError>),
}

fn join(errors: &[ResourceError]) -> String {
    errors
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join("; ")
}

/// A resource with what AWS reports of it.
pub struct Observed {
    /// The resource.
    pub resource: Arc<dyn Resource>,
    /// Its live state; `None` when absent.
    pub live: Option<Live>,
}

/// Reads every resource at once. All reads finish before any error is reported, so one failing
/// service does not hide another.
pub async fn observe(resources: Vec<Arc<dyn Resource>>) -> Result<Vec<Observed>, EngineError> {
    let reads = join_all(resources.iter().map(|resource| async move {
        let started = Instant::now();
        let read = resource.read().await;
        tracing::debug!(
            address = resource.address(),
            exists = matches!(read, Ok(Some(_))),
            elapsed_ms = started.elapsed().as_millis(),
            "read"
        );
        read
    }))
    .await;
    let mut observed = Vec::with_capacity(resources.len());
    let mut errors = Vec::new();
    for (resource, read) in resources.into_iter().zip(reads) {
        match read {
            Ok(live) => observed.push(Observed { resource, live }),
            Err(error) => errors.push(error),
        }
    }
    if errors.is_empty() {
        Ok(observed)
    } else {
        Err(EngineError::Read(errors))
    }
}

/// Whether a plan creates and repairs, or destroys.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Direction {
    /// Waves in ascending order.
    Apply,
    /// Waves in descending order.
    Destroy,
}

/// One resource's part of a plan.
struct Step {
    resource: Arc<dyn Resource>,
    action: Action,
    drifted: Vec<&'static str>,
}

/// A plan together with what executing it needs.
pub struct Planned {
    /// What will change, for people and JSON.
    pub plan: Plan,
    direction: Direction,
    steps: Vec<Step>,
}

/// Plans `apply`: create what is missing, repair drift on what ShopStack manages, adopt what
/// matches, and flag what it must not touch.
pub fn plan_apply(observed: &[Observed], notes: Vec<String>) -> Planned {
    let mut changes = Vec::new();
    let mut steps = Vec::new();
    for Observed { resource, live } in observed {
        let desired = resource.desired();
        let (action, attributes, drifted, reason) = match live {
            None => {
                let attributes = desired
                    .iter()
                    .map(|(attribute, value)| AttributeChange::set(attribute, value.clone()))
                    .collect();
                (Action::Create, attributes, Vec::new(), None)
            }
            Some(live) => {
                let drift: Vec<(&'static str, String, String)> = differing(&desired, live)
                    .filter(|(attribute, _)| live.managed || **attribute != "tags")
                    .map(|(attribute, value)| {
                        let old = live
                            .attributes
                            .get(attribute)
                            .cloned()
                            .unwrap_or_else(|| "none".to_owned());
                        (*attribute, old, value.clone())
                    })
                    .collect();
                let attributes = drift
                    .iter()
                    .map(|(attribute, old, new)| {
                        AttributeChange::update(attribute, old.clone(), new.clone())
                    })
                    .collect();
                let immutable: Vec<&str> = drift
                    .iter()
                    .map(|(attribute, _, _)| *attribute)
                    .filter(|attribute| resource.immutable().contains(attribute))
                    .collect();
                let drifted: Vec<&'static str> =
                    drift.iter().map(|(attribute, _, _)| *attribute).collect();
                if drift.is_empty() {
                    let reason = (!live.managed).then(|| {
                        "adopted: exists and matches (not created by shopstack)".to_owned()
                    });
                    (Action::NoOp, attributes, drifted, reason)
                } else if !live.managed {
                    let reason = "exists, was not created by shopstack, and differs: tag it ManagedBy=shopstack to let shopstack repair it, or remove it";
                    (
                        Action::Conflict,
                        attributes,
                        drifted,
                        Some(reason.to_owned()),
                    )
                } else if !immutable.is_empty() {
                    let reason = format!(
                        "{} cannot change in place: destroy and apply to replace it",
                        immutable.join(", ")
                    );
                    (Action::Conflict, attributes, drifted, Some(reason))
                } else {
                    (Action::Update, attributes, drifted, None)
                }
            }
        };
        changes.push(ResourceChange {
            address: resource.address().to_owned(),
            id: resource.id(),
            action,
            attributes,
            reason,
        });
        steps.push(Step {
            resource: Arc::clone(resource),
            action,
            drifted,
        });
    }
    Planned {
        plan: Plan { changes, notes },
        direction: Direction::Apply,
        steps,
    }
}

/// Plans `destroy`: delete what ShopStack created, keep what holds data or is still shared, and
/// never touch what it did not create.
pub async fn plan_destroy(
    observed: &[Observed],
    options: &DestroyOptions,
) -> Result<Planned, EngineError> {
    let present: Vec<&Observed> = observed
        .iter()
        .filter(|observed| observed.live.is_some())
        .collect();
    let keep_reasons = join_all(present.iter().map(|observed| async {
        match &observed.live {
            Some(live) if live.managed => observed.resource.keep_reason(live, options).await,
            _ => Ok(Some("kept: not created by shopstack".to_owned())),
        }
    }))
    .await;
    let mut changes = Vec::new();
    let mut steps = Vec::new();
    let mut errors = Vec::new();
    for (observed, keep) in present.into_iter().zip(keep_reasons) {
        let reason = match keep {
            Ok(reason) => reason,
            Err(error) => {
                errors.push(error);
                continue;
            }
        };
        let action = if reason.is_some() {
            Action::NoOp
        } else {
            Action::Delete
        };
        changes.push(ResourceChange {
            address: observed.resource.address().to_owned(),
            id: observed.resource.id(),
            action,
            attributes: Vec::new(),
            reason,
        });
        steps.push(Step {
            resource: Arc::clone(&observed.resource),
            action,
            drifted: Vec::new(),
        });
    }
    if !errors.is_empty() {
        return Err(EngineError::Read(errors));
    }
    // Deletion runs from what depends on others down to what holds the lock: show it so.
    let resources: Vec<&dyn Resource> = steps.iter().map(|step| step.resource.as_ref()).collect();
    let order: BTreeMap<&str, (bool, usize)> = resources
        .iter()
        .map(|resource| {
            (
                resource.address(),
                (!resource.destroyed_last(), depth(*resource, &resources)),
            )
        })
        .collect();
    changes.sort_by_key(|change| {
        std::cmp::Reverse(
            order
                .get(change.address.as_str())
                .copied()
                .unwrap_or_default(),
        )
    });
    Ok(Planned {
        plan: Plan {
            changes,
            notes: Vec::new(),
        },
        direction: Direction::Destroy,
        steps,
    })
}

/// How many resources of `among` lie below `resource` on its longest chain of dependencies.
fn depth(resource: &dyn Resource, among: &[&dyn Resource]) -> usize {
    among
        .iter()
        .filter(|other| resource.depends_on().contains(&other.address()))
        .map(|other| 1 + depth(*other, among))
        .max()
        .unwrap_or(0)
}

/// What became of one step of an execution.
enum Outcome {
    /// Written (and, where it settles after a write, read back as written).
    Done,
    /// Not attempted: a step it waits for failed.
    Skipped,
    /// The write failed.
    Failed(ResourceError),
    /// Written, but reading it back failed.
    ReadBackFailed(EngineError),
}

impl Planned {
    /// Fails naming every resource in conflict, if there is one: nothing may be changed then.
    pub fn refuse_conflicts(&self) -> Result<(), EngineError> {
        let conflicts: Vec<String> = self
            .plan
            .conflicts()
            .map(|change| {
                format!(
                    "{} ({}) {}",
                    change.address,
                    change.id,
                    change.reason.as_deref().unwrap_or("is in conflict")
                )
            })
            .collect();
        if conflicts.is_empty() {
            Ok(())
        } else {
            Err(EngineError::Conflict(conflicts))
        }
    }

    /// Marks the change of `address` as already made (a first apply's lock table): it counts in
    /// the summary, but [`execute`](Self::execute) does not make it again.
    pub fn mark_done(&mut self, address: &str) {
        for step in &mut self.steps {
            if step.resource.address() == address {
                step.action = Action::NoOp;
            }
        }
    }

    /// Whether executing the plan deletes `address`.
    pub fn deletes(&self, address: &str) -> bool {
        self.steps
            .iter()
            .any(|step| step.resource.address() == address && step.action == Action::Delete)
    }

    /// Whether `step` must wait for `other`: in an apply, for what it depends on; in a destroy,
    /// for what depends on it, and the resource destroyed last for every other.
    fn waits_for(&self, step: &Step, other: &Step) -> bool {
        let (resource, other) = (step.resource.as_ref(), other.resource.as_ref());
        match self.direction {
            Direction::Apply => resource.depends_on().contains(&other.address()),
            Direction::Destroy => {
                other.depends_on().contains(&resource.address())
                    || (resource.destroyed_last() && !other.destroyed_last())
            }
        }
    }

    /// Executes the plan: every change starts as soon as the changes it waits for are made (see
    /// [`waits_for`](Self::waits_for)), so independent resources are written concurrently and
    /// the longest chain of dependencies sets the number of round trips. `report` gets one line
    /// per finished change. A change whose prerequisite failed is not attempted; the others are
    /// carried out, and every failure is reported.
    pub async fn execute(
        &self,
        options: &DestroyOptions,
        report: &(dyn Fn(String) + Sync),
    ) -> Result<Summary, EngineError> {
        self.refuse_conflicts()?;
        let running: Vec<&Step> = self
            .steps
            .iter()
            .filter(|step| {
                matches!(
                    step.action,
                    Action::Create | Action::Update | Action::Delete
                )
            })
            .collect();
        // Each step announces here whether it was made (`Some(true)`), once it is over.
        let (made, watchers): (Vec<_>, Vec<_>) =
            running.iter().map(|_| watch::channel(None::<bool>)).unzip();
        let outcomes = join_all(running.iter().zip(&made).map(|(step, made)| {
            let prerequisites: Vec<watch::Receiver<Option<bool>>> = running
                .iter()
                .zip(&watchers)
                .filter(|(other, _)| self.waits_for(step, other))
                .map(|(_, watcher)| watcher.clone())
                .collect();
            async move {
                let mut ready = true;
                for mut prerequisite in prerequisites {
                    ready &= prerequisite
                        .wait_for(Option::is_some)
                        .await
                        .is_ok_and(|outcome| *outcome == Some(true));
                }
                if !ready {
                    made.send_replace(Some(false));
                    return Outcome::Skipped;
                }
                let result = self.change(step, options, report).await;
                made.send_replace(Some(result.is_ok()));
                match result {
                    Err(error) => Outcome::Failed(error),
                    Ok(()) if self.settles(step) => match Self::confirm(vec![step], report).await {
                        Ok(()) => Outcome::Done,
                        Err(error) => Outcome::ReadBackFailed(error),
                    },
                    Ok(()) => Outcome::Done,
                }
            }
        }))
        .await;
        let mut failed = Vec::new();
        let mut read_back = None;
        for outcome in outcomes {
            match outcome {
                Outcome::Done | Outcome::Skipped => {}
                Outcome::Failed(error) => failed.push(error),
                Outcome::ReadBackFailed(error) => read_back = Some(error),
            }
        }
        if !failed.is_empty() {
            return Err(EngineError::Failed(failed));
        }
        if let Some(error) = read_back {
            return Err(error);
        }
        Ok(self.plan.summary())
    }

    /// Whether `step`'s write is read back until AWS shows it.
    fn settles(&self, step: &Step) -> bool {
        self.direction == Direction::Apply
            && step.resource.settles_after_write()
            && matches!(step.action, Action::Create | Action::Update)
    }

    /// Makes one change, reporting it when it is made.
    async fn change(
        &self,
        step: &Step,
        options: &DestroyOptions,
        report: &(dyn Fn(String) + Sync),
    ) -> Result<(), ResourceError> {
        let started = Instant::now();
        let result = match step.action {
            Action::Create => step.resource.create().await,
            Action::Update => step.resource.update(&step.drifted).await,
            Action::Delete => step.resource.delete(options).await,
            Action::NoOp | Action::Conflict => Ok(()),
        };
        tracing::info!(
            address = step.resource.address(),
            action = ?step.action,
            ok = result.is_ok(),
            elapsed_ms = started.elapsed().as_millis(),
            "change"
        );
        if result.is_ok() {
            let done = match step.action {
                Action::Create => "created",
                Action::Update => "updated",
                _ => "destroyed",
            };
            report(format!(
                "{}  {}: {done} in {:.1}s",
                step.resource.address(),
                step.resource.id(),
                started.elapsed().as_secs_f64()
            ));
        }
        result
    }

    /// Reads back the resources `pending` wrote, all at once, until AWS answers with what was
    /// written: S3 settings read back stale for a while after a write, and the next plan would
    /// show drift that is not there. One round of reads when AWS is consistent, and it runs
    /// beside the other changes; more only while AWS is not, for up to
    /// [`READ_BACK_TIMEOUT`], then a note names what still reads back otherwise.
    async fn confirm(
        mut pending: Vec<&Step>,
        report: &(dyn Fn(String) + Sync),
    ) -> Result<(), EngineError> {
        let started = Instant::now();
        let mut delay = Duration::from_millis(500);
        while !pending.is_empty() {
            let reads = join_all(pending.iter().map(|step| step.resource.read())).await;
            let mut stale = Vec::new();
            for (step, read) in pending.into_iter().zip(reads) {
                let live = read.map_err(|error| EngineError::ReadBack(vec![error]))?;
                let differing = stale_attributes(step, live.as_ref());
                if !differing.is_empty() {
                    stale.push((step, differing));
                }
            }
            if stale.is_empty() {
                return Ok(());
            }
            if started.elapsed() + delay >= READ_BACK_TIMEOUT {
                for (step, differing) in stale {
                    report(format!(
                        "note: {}  {}: {} still read back otherwise after {}s; the next plan may show them",
                        step.resource.address(),
                        step.resource.id(),
                        differing.join(", "),
                        READ_BACK_TIMEOUT.as_secs()
                    ));
                }
                return Ok(());
            }
            tracing::debug!(
                stale = stale.len(),
                "written settings read back stale; reading again"
            );
            tokio::time::sleep(delay).await;
            delay = (delay * 2).min(Duration::from_secs(8));
            pending = stale.into_iter().map(|(step, _)| step).collect();
        }
        Ok(())
    }
}

/// How long written settings may read back stale before apply reports them.
const READ_BACK_TIMEOUT: Duration = Duration::from_secs(60);

/// The attributes `step` wrote that `live` does not show yet (all of them when it is not found).
fn stale_attributes(step: &Step, live: Option<&Live>) -> Vec<&'static str> {
    let desired = step.resource.desired();
    let Some(live) = live else {
        return desired.keys().copied().collect();
    };
    differing(&desired, live)
        .filter(|(attribute, _)| step.action == Action::Create || step.drifted.contains(attribute))
        .map(|(attribute, _)| *attribute)
        .collect()
}

/// The desired attributes `live` does not show as desired.
fn differing<'a>(
    desired: &'a Attributes,
    live: &'a Live,
) -> impl Iterator<Item = (&'a &'static str, &'a String)> {
    desired
        .iter()
        .filter(|(attribute, value)| live.attributes.get(*attribute) != Some(*value))
}

/// One audit finding.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Finding {
    /// The resource's address.
    pub address: String,
    /// Its name in AWS.
    pub id: String,
    /// What does not meet the control.
    pub finding: String,
}

/// Checks the live resources against every control: missing resources, settings that differ
/// from the hardened defaults, and wildcards in live policies.
pub fn audit(observed: &[Observed]) -> Vec<Finding> {
    let mut findings = Vec::new();
    for Observed { resource, live } in observed {
        let finding = |text: String| Finding {
            address: resource.address().to_owned(),
            id: resource.id(),
            finding: text,
        };
        let Some(live) = live else {
            findings.push(finding("missing".to_owned()));
            continue;
        };
        for (attribute, expected) in resource.desired() {
            if attribute == "tags" && !live.managed {
                continue;
            }
            match live.attributes.get(attribute) {
                Some(actual) if *actual == expected => {}
                Some(actual) if actual.starts_with('{') || expected.starts_with('{') => {
                    findings.push(finding(format!(
                        "{attribute} differs from the hardened policy"
                    )));
                }
                actual => findings.push(finding(format!(
                    "{attribute} is {}, expected {expected}",
                    actual.map_or("unset", String::as_str)
                ))),
            }
        }
        findings.extend(resource.audit(live).into_iter().map(finding));
    }
    findings
}
