//! The infra-terraform commands: plan, apply, destroy, status, audit and secret put.

use std::sync::Arc;

use anyhow::Context as _;
use shopstack_core::plan::Action;
use shopstack_core::{Exit, SecretValue};

use crate::context::Context;
use crate::engine::{self, Planned};
use crate::prompt;
use crate::resource::DestroyOptions;
use crate::resources;
use crate::secret_value;

/// Remarks every plan of the environment carries.
fn notes(context: &Context) -> Vec<String> {
    let mut notes = Vec::new();
    if context.plain_http() {
        notes.push(
            "the state bucket policy requiring TLS is skipped: the endpoint is plain http, and an emulator enforcing it would lock the tool out"
                .to_owned(),
        );
    }
    notes
}

fn describe(context: &Context) -> String {
    let endpoint = context
        .session
        .endpoint()
        .map(|(endpoint, _)| format!(" at {endpoint}"))
        .unwrap_or_default();
    format!(
        "environment {} (account {}, {}{endpoint})",
        context.names.environment(),
        context.account(),
        context.region()
    )
}

fn print_json(value: &serde_json::Value) -> anyhow::Result<()> {
    println!(
        "{}",
        serde_json::to_string_pretty(value).context("encode JSON")?
    );
    Ok(())
}

async fn planned_apply(context: &Arc<Context>) -> anyhow::Result<Planned> {
    let observed = engine::observe(resources::all(context)).await?;
    Ok(engine::plan_apply(&observed, notes(context)))
}

/// `plan`: what `apply` would change. With `detailed_exitcode`, exit 2 when there is a difference.
pub async fn plan(
    context: &Arc<Context>,
    json: bool,
    detailed_exitcode: bool,
) -> anyhow::Result<Exit> {
    let planned = planned_apply(context).await?;
    if json {
        print_json(&planned.plan.to_json())?;
    } else {
        print!("{}", planned.plan.render());
    }
    Ok(if detailed_exitcode && planned.plan.has_changes() {
        Exit::Changes
    } else {
        Exit::Success
    })
}

/// `apply`: show the plan, ask (unless `auto_approve`), create and repair in waves.
pub async fn apply(context: &Arc<Context>, auto_approve: bool) -> anyhow::Result<Exit> {
    let planned = planned_apply(context).await?;
    print!("{}", planned.plan.render());
    if !planned.plan.has_changes() {
        return Ok(Exit::Success);
    }
    let question = format!("Apply these changes to {}?", describe(context));
    let approved = planned.plan.conflicts().next().is_some()
        || auto_approve
        || prompt::confirm(&question, "--auto-approve", "apply")?;
    if !approved {
        println!("Apply cancelled.");
        return Ok(Exit::Failure);
    }
    let summary = planned
        .execute(&DestroyOptions::default(), &|line| println!("{line}"))
        .await?;
    println!(
        "\nApply complete! Resources: {} added, {} changed, {} destroyed.",
        summary.add, summary.change, summary.destroy
    );
    Ok(Exit::Success)
}

/// `destroy`: delete what ShopStack created, keeping what holds data or is still shared.
pub async fn destroy(
    context: &Arc<Context>,
    auto_approve: bool,
    options: &DestroyOptions,
) -> anyhow::Result<Exit> {
    let observed = engine::observe(resources::all(context)).await?;
    let planned = engine::plan_destroy(&observed, options).await?;
    print!("{}", planned.plan.render());
    if !planned.plan.has_changes() {
        return Ok(Exit::Success);
    }
    let question = format!(
        "Destroy these resources of {}? There is no undo.",
        describe(context)
    );
    if !auto_approve && !prompt::confirm(&question, "--auto-approve", "destroy")? {
        println!("Destroy cancelled.");
        return Ok(Exit::Failure);
    }
    let summary = planned.execute(options, &|line| println!("{line}")).await?;
    println!(
        "\nDestroy complete! Resources: {} destroyed.",
        summary.destroy
    );
    Ok(Exit::Success)
}

/// `status`: every resource with its state: ok, missing, adopted, drifted or in conflict.
pub async fn status(context: &Arc<Context>, json: bool) -> anyhow::Result<Exit> {
    let planned = planned_apply(context).await?;
    let rows: Vec<(String, String, String)> = planned
        .plan
        .changes
        .iter()
        .map(|change| {
            let drifted = || {
                change
                    .attributes
                    .iter()
                    .map(|attribute| attribute.attribute.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            };
            let state = match change.action {
                Action::Create => "missing".to_owned(),
                Action::NoOp if change.reason.is_some() => "adopted".to_owned(),
                Action::NoOp => "ok".to_owned(),
                Action::Update => format!("drifted: {}", drifted()),
                Action::Conflict => format!("conflict: {}", drifted()),
                Action::Delete => "to delete".to_owned(),
            };
            (change.address.clone(), change.id.clone(), state)
        })
        .collect();
    if json {
        let rows: Vec<serde_json::Value> = rows
            .iter()
            .map(|(address, id, state)| serde_json::json!({"address": address, "id": id, "state": state}))
            .collect();
        print_json(
            &serde_json::json!({"environment": context.names.environment(), "resources": rows}),
        )?;
    } else {
        println!("{}", describe(context));
        let width = rows
            .iter()
            .map(|(address, _, _)| address.len())
            .max()
            .unwrap_or(0);
        let id_width = rows.iter().map(|(_, id, _)| id.len()).max().unwrap_or(0);
        for (address, id, state) in &rows {
            println!("  {address:width$}  {id:id_width$}  {state}");
        }
    }
    Ok(Exit::Success)
}

/// `audit`: every control checked on the live resources; exit 1 naming each finding.
pub async fn audit(context: &Arc<Context>, json: bool) -> anyhow::Result<Exit> {
    let observed = engine::observe(resources::all(context)).await?;
    let findings = engine::audit(&observed);
    let notes = notes(context);
    if json {
        print_json(
            &serde_json::json!({"findings": findings, "notes": notes, "passed": findings.is_empty()}),
        )?;
    } else {
        for finding in &findings {
            println!(
                "FAIL  {} ({}): {}",
                finding.address, finding.id, finding.finding
            );
        }
        for note in &notes {
            println!("Note: {note}");
        }
        if findings.is_empty() {
            println!(
                "Audit passed: {} resources meet every control.",
                observed.len()
            );
        } else {
            println!("Audit failed: {} findings.", findings.len());
        }
    }
    Ok(if findings.is_empty() {
        Exit::Success
    } else {
        Exit::Failure
    })
}

/// `secret put`: store a new value of the application secret; the value is never printed.
pub async fn secret_put(context: &Arc<Context>, value: &SecretValue) -> anyhow::Result<Exit> {
    let name = context.names.app_secret();
    let version = secret_value::put(&context.secrets, &name, value).await?;
    println!("stored a new version of {name} (version {version})");
    Ok(Exit::Success)
}
