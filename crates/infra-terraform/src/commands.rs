//! The infra-terraform commands: plan, apply, destroy, status, audit, secret put, and the
//! Terraform interop: locks, force-unlock, backend-config, export-terraform.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context as _;
use shopstack_core::plan::Action;
use shopstack_core::{Exit, SecretValue};
use tokio::sync::Mutex;

use crate::backend_config::{self, LockStorage};
use crate::context::Context;
use crate::engine::{self, Planned};
use crate::export;
use crate::lock::{Backend, HeldLock, Home, LockError, LockStore, Wait};
use crate::prompt;
use crate::resource::{DestroyOptions, Resource};
use crate::resources::{self, lock_table::LockTable};
use crate::secret_value;
use crate::signals::Signals;
use crate::workflows::{self, WorkflowError};

/// Remarks every plan of the environment carries.
fn notes(context: &Context) -> Vec<String> {
    let mut notes = Vec::new();
    if context.plain_http() {
        notes.push(
            format!(
                "the state bucket policy requiring TLS is not applied: environment \"{}\" allows plain http (plain_http = true) and its endpoint is plain http, where a bucket requiring TLS refuses every request",
                context.names.environment()
            ),
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

/// The plan of a first apply, made before the lock exists. Concurrent first applies may be
/// creating resources while it reads them, so a read that fails half-way is tried again (the
/// plan is made again under the lock before anything is changed anyway).
async fn planned_unlocked(context: &Arc<Context>) -> anyhow::Result<Planned> {
    let mut attempt = 1;
    loop {
        match planned_apply(context).await {
            Ok(planned) => return Ok(planned),
            Err(_) if attempt < UNLOCKED_PLAN_ATTEMPTS => {
                tokio::time::sleep(Duration::from_secs(1)).await;
                attempt += 1;
            }
            Err(error) => return Err(error),
        }
    }
}

/// Attempts at a first apply's plan, made while other applies may be creating resources.
const UNLOCKED_PLAN_ATTEMPTS: u32 = 3;

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

/// `apply`: hold the lock, show the plan, ask (unless `auto_approve`), create and repair.
///
/// The lock lives in the lock table, which `apply` itself creates. When the table does not exist
/// yet (the first apply of an environment), the plan is shown and approved without a lock (it only
/// reads); then the table is created first (one atomic CreateTable with its tags and encryption;
/// concurrent first applies wait for the same table) and the lock is taken in it. The apply whose
/// CreateTable made the table, and whose first lock request in it succeeded, carries out the plan
/// it showed without reading again. Every other apply makes its plan again under the lock, so
/// what a concurrent apply did meanwhile is not done twice.
pub async fn apply(
    context: &Arc<Context>,
    auto_approve: bool,
    lock_timeout: Option<Duration>,
) -> anyhow::Result<Exit> {
    let lock = new_lock(context, "infra-terraform apply");
    locked(lock, |lock| {
        apply_locked(context, auto_approve, lock_timeout, lock)
    })
    .await
}

async fn apply_locked(
    context: &Arc<Context>,
    auto_approve: bool,
    lock_timeout: Option<Duration>,
    lock: Arc<Mutex<HeldLock>>,
) -> anyhow::Result<Exit> {
    let (home, _) = acquire(&lock, &[Home::Table], lock_timeout).await?;
    let mut planned = if home == Home::Table {
        planned_apply(context).await?
    } else {
        planned_unlocked(context).await?
    };
    print!("{}", planned.plan.render());
    if !planned.plan.has_changes() {
        return Ok(Exit::Success);
    }
    planned.refuse_conflicts()?;
    let question = format!("Apply these changes to {}?", describe(context));
    let approved = auto_approve || confirm(question, "--auto-approve", "apply").await?;
    if !approved {
        println!("Apply cancelled.");
        return Ok(Exit::Failure);
    }
    if home != Home::Table {
        // First apply: the lock's home comes first, then the lock, then the rest under it.
        match first_lock(context, &lock, lock_timeout).await? {
            Some(table) => planned.mark_done(table),
            None => planned = replanned(context, &planned).await?,
        }
    }
    let summary = planned
        .execute(&DestroyOptions::default(), &|line| println!("{line}"))
        .await?;
    print_applied(summary.add, summary.change, summary.destroy);
    Ok(Exit::Success)
}

/// Creates the lock table of a first apply and takes the lock in it (point-in-time recovery is
/// turned on meanwhile). The table's address when this apply created it and was the first to
/// lock in it, so that nothing can have changed since its plan; `None` when a concurrent apply
/// created the table or held the lock first (then the plan is made again under the lock).
async fn first_lock(
    context: &Arc<Context>,
    lock: &Mutex<HeldLock>,
    lock_timeout: Option<Duration>,
) -> anyhow::Result<Option<&'static str>> {
    let table = LockTable::new(Arc::clone(context));
    let started = Instant::now();
    let ours = table.create_reporting().await?;
    let (taken, recovery) = futures::join!(
        acquire(lock, &[Home::Table], lock_timeout),
        table.enable_recovery()
    );
    let (home, waited) = taken?;
    if home != Home::Table {
        anyhow::bail!(
            "the lock table {} was deleted as this apply created it: run apply again",
            table.id()
        );
    }
    recovery?;
    if ours && !waited {
        println!(
            "{}  {}: created in {:.1}s (first: it holds the lock)",
            table.address(),
            table.id(),
            started.elapsed().as_secs_f64()
        );
        Ok(Some(table.address()))
    } else if ours {
        println!(
            "{}  {}: created in {:.1}s (a concurrent apply held the lock first: planning again)",
            table.address(),
            table.id(),
            started.elapsed().as_secs_f64()
        );
        Ok(None)
    } else {
        println!(
            "{}  {}: created by a concurrent apply",
            table.address(),
            table.id()
        );
        Ok(None)
    }
}

/// The plan made again under the lock, after a concurrent apply created the lock table: it may
/// only hold what `approved` held (less, where the other apply did it).
async fn replanned(context: &Arc<Context>, approved: &Planned) -> anyhow::Result<Planned> {
    let replanned = planned_apply(context).await?;
    let approved_changes: Vec<&str> = approved
        .plan
        .changes
        .iter()
        .filter(|change| matches!(change.action, Action::Create | Action::Update))
        .map(|change| change.address.as_str())
        .collect();
    let unapproved: Vec<&str> = replanned
        .plan
        .changes
        .iter()
        .filter(|change| change.action != Action::NoOp)
        .filter(|change| !approved_changes.contains(&change.address.as_str()))
        .map(|change| change.address.as_str())
        .collect();
    if !unapproved.is_empty() {
        anyhow::bail!(
            "the environment changed while waiting for the lock ({}): run apply again to see the new plan",
            unapproved.join(", ")
        );
    }
    Ok(replanned)
}

fn print_applied(add: usize, change: usize, destroy: usize) {
    println!("\nApply complete! Resources: {add} added, {change} changed, {destroy} destroyed.");
}

/// `destroy`: delete what ShopStack created, keeping what holds data or is still shared. It holds
/// the lock in the table, or, when only the bucket is left, in a lockfile there.
pub async fn destroy(
    context: &Arc<Context>,
    auto_approve: bool,
    options: &DestroyOptions,
    lock_timeout: Option<Duration>,
) -> anyhow::Result<Exit> {
    let lock = new_lock(context, "infra-terraform destroy");
    locked(lock, |lock| {
        destroy_locked(context, auto_approve, options, lock_timeout, lock)
    })
    .await
}

async fn destroy_locked(
    context: &Arc<Context>,
    auto_approve: bool,
    options: &DestroyOptions,
    lock_timeout: Option<Duration>,
    lock: Arc<Mutex<HeldLock>>,
) -> anyhow::Result<Exit> {
    if acquire(&lock, &[Home::Table, Home::Bucket], lock_timeout)
        .await?
        .0
        == Home::Nowhere
    {
        eprintln!(
            "note: neither the lock table nor the state bucket exists: destroy runs without the state lock"
        );
    }
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
    if !auto_approve && !confirm(question, "--auto-approve", "destroy").await? {
        println!("Destroy cancelled.");
        return Ok(Exit::Failure);
    }
    let summary = planned.execute(options, &|line| println!("{line}")).await?;
    if planned.deletes(LockTable::ADDRESS) {
        // The lock went with its table: nothing is left to release.
        lock.lock().await.table_deleted();
    }
    println!(
        "\nDestroy complete! Resources: {} destroyed.",
        summary.destroy
    );
    Ok(Exit::Success)
}

/// The lock `apply` and `destroy` take on `<bucket>/<project>/<env>/infra`.
fn new_lock(context: &Context, info: &str) -> Mutex<HeldLock> {
    Mutex::new(HeldLock::new(
        LockStore::new(context),
        &context.names.infra_lock_path(),
        info.to_owned(),
    ))
}

/// Takes the lock where it can live among `places`, waiting up to `timeout` (and saying so once)
/// while it is held. Where it was taken ([`Home::Nowhere`]: nowhere, none of `places` exists),
/// and whether another process held it first.
async fn acquire(
    lock: &Mutex<HeldLock>,
    places: &[Home],
    timeout: Option<Duration>,
) -> anyhow::Result<(Home, bool)> {
    let waited = std::sync::atomic::AtomicBool::new(false);
    let waiting = |held: &LockError| {
        waited.store(true, std::sync::atomic::Ordering::Relaxed);
        if let Some(timeout) = timeout {
            eprintln!(
                "Waiting up to {} for the state lock: {held}",
                humantime::format_duration(timeout)
            );
        }
    };
    let result = lock
        .lock()
        .await
        .acquire(places, Wait { timeout }, &waiting)
        .await;
    match result {
        Err(error @ LockError::Held { .. }) => Err(anyhow::Error::new(error).context(
            "acquire the state lock (wait for it with --lock-timeout; if its holder is gone, `infra-terraform force-unlock ID` clears it)",
        )),
        Err(error) => Err(anyhow::Error::new(error).context("acquire the state lock")),
        Ok(home) => Ok((home, waited.into_inner())),
    }
}

/// Runs `work` with SIGINT and SIGTERM caught, then releases the lock on every outcome: success,
/// error, or a signal (then exit 130 or 143).
async fn locked<F, W>(lock: Mutex<HeldLock>, work: W) -> anyhow::Result<Exit>
where
    W: FnOnce(Arc<Mutex<HeldLock>>) -> F,
    F: std::future::Future<Output = anyhow::Result<Exit>>,
{
    let mut signals = Signals::install()?;
    let lock = Arc::new(lock);
    let outcome = signals.run(work(Arc::clone(&lock))).await;
    let mut held = lock.lock().await;
    match outcome {
        Ok(result) => {
            let Err(release) = held.release().await else {
                return result;
            };
            // The lock outlives this run: say so, with the way to clear it, whatever failed first.
            let left = format!(
                "releasing the state lock {} failed ({release}), so it is left: clear it with `infra-terraform force-unlock {}`",
                held.info.path, held.info.id
            );
            match result {
                Ok(_) => Err(anyhow::anyhow!(left)),
                Err(error) => Err(anyhow::anyhow!("{error:#}; then {left}")),
            }
        }
        Err(exit) => {
            // Interrupted anywhere, even while taking the lock: remove whatever carries its ID.
            held.assume_taken();
            match held.release().await {
                Ok(()) => eprintln!("Interrupted: the state lock was released."),
                Err(error) => eprintln!(
                    "Interrupted: releasing the state lock failed ({error}); clear it with `infra-terraform force-unlock {}`",
                    held.info.id
                ),
            }
            Ok(exit)
        }
    }
}

/// Asks on the terminal without blocking the runtime, so that a signal still gets through.
async fn confirm(
    question: String,
    flag: &'static str,
    action: &'static str,
) -> anyhow::Result<bool> {
    let answer =
        tokio::task::spawn_blocking(move || prompt::confirm(&question, flag, action)).await?;
    Ok(answer?)
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

/// `secret seed`: generated values for the sample application's keys, when the secret has no
/// value yet; a value already there is kept.
pub async fn secret_seed(context: &Arc<Context>) -> anyhow::Result<Exit> {
    let name = context.names.app_secret();
    if secret_value::has_value(&context.secrets, &name).await? {
        println!("secret {name} has a value: kept (seed never replaces one)");
        return Ok(Exit::Success);
    }
    let value = secret_value::sample_value(context.names.environment());
    secret_value::put(&context.secrets, &name, &value).await?;
    println!(
        "secret {name} seeded with generated values for {} (never shown; `infra-terraform secret put` replaces them)",
        secret_value::SAMPLE_KEYS.join(", ")
    );
    Ok(Exit::Success)
}

/// `outputs`: every output on a line of its own (or as a JSON object); exit 1 when a resource
/// is missing.
pub async fn outputs(context: &Arc<Context>, json: bool) -> anyhow::Result<Exit> {
    let outputs = crate::outputs::read(context)
        .await
        .map_err(|message| anyhow::anyhow!("read the outputs: {message}"))?;
    if json {
        let object: serde_json::Map<String, serde_json::Value> = outputs
            .iter()
            .map(|output| (output.name.to_owned(), serde_json::json!(output.value)))
            .collect();
        print_json(&serde_json::Value::Object(object))?;
    } else {
        let width = outputs
            .iter()
            .map(|output| output.name.len())
            .max()
            .unwrap_or(0);
        for output in &outputs {
            println!(
                "{:<width$}  {}",
                output.name,
                output
                    .value
                    .as_deref()
                    .unwrap_or("(missing: `infra-terraform apply` creates it)")
            );
        }
    }
    let missing: Vec<&str> = outputs
        .iter()
        .filter(|output| output.value.is_none())
        .map(|output| output.name)
        .collect();
    if missing.is_empty() {
        return Ok(Exit::Success);
    }
    eprintln!(
        "error: {} missing: run `infra-terraform apply`",
        missing.join(", ")
    );
    Ok(Exit::Failure)
}

/// `github-workflows`: both workflows, on the roles as IAM reports them, written into `dir`.
pub async fn github_workflows(context: &Arc<Context>, dir: &Path) -> anyhow::Result<Exit> {
    let config = &context.config;
    let image_repository = config.codebuild_source.to_string();
    if !config
        .github
        .repositories
        .contains(&config.codebuild_source)
    {
        return Err(WorkflowError::SourceNotTrusted(image_repository).into());
    }
    let names = &context.names;
    let (infrastructure_role, ci_role) = futures::try_join!(
        crate::outputs::role_arn(context, names.infrastructure_role()),
        crate::outputs::role_arn(context, names.ci_role()),
    )
    .map_err(|message| anyhow::anyhow!("read the roles: {message}"))?;
    let (Some(infrastructure_role_arn), Some(ci_role_arn)) = (&infrastructure_role, &ci_role)
    else {
        let missing = [
            ("infrastructure_role_arn", infrastructure_role.is_none()),
            ("ci_role_arn", ci_role.is_none()),
        ];
        let missing = missing
            .iter()
            .filter(|(_, gone)| *gone)
            .map(|(name, _)| *name);
        return Err(WorkflowError::Missing(missing.collect()).into());
    };
    let inputs = workflows::Inputs {
        project: config.project.clone(),
        environment: names.environment().to_owned(),
        branch: config.github.branch.clone(),
        infrastructure_repository: config.github.infrastructure.to_string(),
        image_repository,
        infrastructure_role_arn: infrastructure_role_arn.clone(),
        ci_role_arn: ci_role_arn.clone(),
        region: context.region().to_owned(),
    };
    for workflow in workflows::render(&inputs) {
        let written = workflows::write(dir, &workflow)?;
        println!(
            "{:<9}  {}  (for {})",
            written.as_str(),
            dir.join(&workflow.file_name).display(),
            workflow.repository
        );
    }
    println!(
        "Only pushes to {} can assume the roles (their trust pins ref:refs/heads/{}): the workflows have no pull-request jobs.",
        inputs.branch, inputs.branch
    );
    Ok(Exit::Success)
}

/// `secret check`: whether the application secret has a value; exit 1 naming how to give it one.
pub async fn secret_check(context: &Arc<Context>) -> anyhow::Result<Exit> {
    let name = context.names.app_secret();
    if secret_value::has_value(&context.secrets, &name).await? {
        println!("secret {name} has a value");
        return Ok(Exit::Success);
    }
    let environment = context.names.environment();
    eprintln!(
        "error: secret {name} has no value yet: put the application's configuration (a JSON object) with `infra-terraform --env {environment} secret put --from-file FILE`"
    );
    Ok(Exit::Failure)
}

/// `locks`: every lock in the lock table and the state bucket, Terraform's included.
pub async fn locks(context: &Arc<Context>, json: bool) -> anyhow::Result<Exit> {
    let store = LockStore::new(context);
    let locks = store.list().await?;
    if json {
        print_json(&serde_json::to_value(&locks).context("encode JSON")?)?;
        return Ok(Exit::Success);
    }
    if locks.is_empty() {
        println!(
            "No locks in table {} or bucket {}.",
            context.names.lock_table(),
            context.names.state_bucket()
        );
        return Ok(Exit::Success);
    }
    let rows: Vec<[String; 6]> = locks
        .iter()
        .map(|lock| {
            let location = match lock.backend {
                Backend::Dynamodb => format!("dynamodb {}", lock.location),
                Backend::S3 => format!("s3://{}/{}", store.bucket(), lock.location),
            };
            [
                lock.info.id.clone(),
                location,
                lock.info.who.clone(),
                lock.info.operation.clone(),
                lock.info.created.clone(),
                lock.info.info.clone(),
            ]
        })
        .collect();
    let header = ["ID", "LOCK", "WHO", "OPERATION", "CREATED", "INFO"].map(str::to_owned);
    let mut widths = [0usize; 6];
    for row in std::iter::once(&header).chain(&rows) {
        for (width, cell) in widths.iter_mut().zip(row) {
            *width = (*width).max(cell.len());
        }
    }
    for row in std::iter::once(&header).chain(&rows) {
        let cells: Vec<String> = row
            .iter()
            .zip(widths)
            .map(|(cell, width)| format!("{cell:width$}"))
            .collect();
        println!("{}", cells.join("  ").trim_end());
    }
    Ok(Exit::Success)
}

/// `force-unlock`: remove the lock with `id` (its item, its lockfile, or both), asking first on a
/// terminal unless `force`.
pub async fn force_unlock(context: &Arc<Context>, id: &str, force: bool) -> anyhow::Result<Exit> {
    let store = LockStore::new(context);
    let held: Vec<_> = store
        .list()
        .await?
        .into_iter()
        .filter(|lock| lock.info.id == id)
        .collect();
    let Some(first) = held.first() else {
        return Err(LockError::NoSuchLock(id.to_owned()).into());
    };
    if !force {
        let question = format!(
            "Remove the state lock {} held by {}? Only do this when its holder is gone: two runs at once can corrupt the state.",
            first.info.path,
            first.info.holder()
        );
        if !confirm(question, "--force", "force-unlock").await? {
            println!("Force-unlock cancelled.");
            return Ok(Exit::Failure);
        }
    }
    for lock in store.force_unlock(id).await? {
        match lock.backend {
            Backend::Dynamodb => println!(
                "Removed lock {id} (item {} of table {}).",
                lock.location,
                context.names.lock_table()
            ),
            Backend::S3 => println!(
                "Removed lock {id} (s3://{}/{}).",
                store.bucket(),
                lock.location
            ),
        }
    }
    Ok(Exit::Success)
}

/// `backend-config`: write the Terraform backend block of the environment.
pub async fn backend_config(
    context: &Arc<Context>,
    out: Option<PathBuf>,
    storage: LockStorage,
) -> anyhow::Result<Exit> {
    let path = out.unwrap_or_else(|| backend_config::default_path(context));
    let store = LockStore::new(context);
    let (bucket, table) = futures::try_join!(store.bucket_exists(), store.table_exists())?;
    let text = backend_config::render(context, storage);
    let unchanged = std::fs::read_to_string(&path).is_ok_and(|existing| existing == text);
    if !unchanged {
        backend_config::write(&path, &text)?;
    }
    println!(
        "{} {} (state s3://{}/{}, locked {}).",
        if unchanged { "Unchanged:" } else { "Wrote" },
        path.display(),
        context.names.state_bucket(),
        context.names.state_key(),
        match storage {
            LockStorage::Dynamodb => format!("in DynamoDB table {}", context.names.lock_table()),
            LockStorage::Lockfile => format!("by {}.tflock", context.names.state_key()),
        }
    );
    if !bucket || (storage == LockStorage::Dynamodb && !table) {
        eprintln!(
            "warning: the state backend does not exist yet: run `infra-terraform apply` before `terraform init`"
        );
    }
    Ok(Exit::Success)
}

/// `export-terraform`: write Terraform configuration importing every live resource into `dir`.
pub async fn export_terraform(context: &Arc<Context>, dir: &Path) -> anyhow::Result<Exit> {
    let exported = export::export(context).await?;
    export::write(dir, &exported)?;
    for missing in &exported.missing {
        eprintln!("note: {missing} does not exist: not exported (apply creates it)");
    }
    println!(
        "Wrote {} with {} resources to import: run `terraform init && terraform plan` there.",
        dir.display(),
        exported.imported
    );
    Ok(Exit::Success)
}
