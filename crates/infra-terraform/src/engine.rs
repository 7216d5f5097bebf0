//! The engine: read every resource concurrently, diff into a plan, execute it in dependency waves.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures::future::join_all;
use shopstack_core::plan::{Action, AttributeChange, Plan, ResourceChange, Summary};
use thiserror::Error;

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
    /// Some changes failed; the waves before them were applied.
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
    // Deletion runs in reverse waves: show it in that order too.
    let order: BTreeMap<&str, (u8, u8)> = steps
        .iter()
        .map(|step| {
            (
                step.resource.address(),
                destroy_order(step.resource.as_ref()),
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

/// Where a resource falls in `destroy`, which runs these keys from the highest down: the reverse
/// of the apply waves, then what must go last.
fn destroy_order(resource: &dyn Resource) -> (u8, u8) {
    (u8::from(!resource.destroyed_last()), resource.wave())
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

    /// Executes the plan wave by wave, concurrently inside a wave; `report` gets one line per
    /// finished change. Stops after the first wave with a failure.
    pub async fn execute(
        &self,
        options: &DestroyOptions,
        report: &(dyn Fn(String) + Sync),
    ) -> Result<Summary, EngineError> {
        self.refuse_conflicts()?;
        let mut waves: BTreeMap<(u8, u8), Vec<&Step>> = BTreeMap::new();
        for step in self.steps.iter().filter(|step| {
            matches!(
                step.action,
                Action::Create | Action::Update | Action::Delete
            )
        }) {
            let key = match self.direction {
                Direction::Apply => (0, step.resource.wave()),
                Direction::Destroy => destroy_order(step.resource.as_ref()),
            };
            waves.entry(key).or_default().push(step);
        }
        let ordered: Vec<Vec<&Step>> = match self.direction {
            Direction::Apply => waves.into_values().collect(),
            Direction::Destroy => waves.into_values().rev().collect(),
        };
        // Settings written in one wave are read back while the next wave runs.
        let mut to_confirm: Vec<&Step> = Vec::new();
        for wave in ordered {
            let confirming = std::mem::take(&mut to_confirm);
            let writes = join_all(wave.iter().map(|step| async move {
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
            }));
            let (results, confirmed) = futures::join!(writes, Self::confirm(confirming, report));
            confirmed?;
            let errors: Vec<ResourceError> = results.into_iter().filter_map(Result::err).collect();
            if !errors.is_empty() {
                return Err(EngineError::Failed(errors));
            }
            if self.direction == Direction::Apply {
                to_confirm = wave
                    .into_iter()
                    .filter(|step| step.resource.settles_after_write())
                    .filter(|step| matches!(step.action, Action::Create | Action::Update))
                    .collect();
            }
        }
        Self::confirm(to_confirm, report).await?;
        Ok(self.plan.summary())
    }

    /// Reads back the resources `pending` wrote, all at once, until AWS answers with what was
    /// written: S3 settings read back stale for a while after a write, and the next plan would
    /// show drift that is not there. One round of reads when AWS is consistent, and it runs
    /// beside the next wave's writes; more only while AWS is not, for up to
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
