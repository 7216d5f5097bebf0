//! The lock `apply` and `destroy` hold for their whole run: taken where the lock can live,
//! waited for, and released by its ID.

use std::time::{Duration, Instant, SystemTime};

use super::{Home, LOCKFILE_SUFFIX, LockError, LockInfo, LockStore, OPERATION_APPLY};

/// First delay between attempts while waiting for a held lock; it grows to [`MAX_DELAY`].
const FIRST_DELAY: Duration = Duration::from_millis(200);

const MAX_DELAY: Duration = Duration::from_secs(5);

/// The lock `apply` and `destroy` hold on `<bucket>/<project>/<env>/infra`, in the table, the
/// bucket, or both. Releasing deletes only what carries its ID, so releasing a lock that was never
/// fully taken (or was cleared with `force-unlock`) is harmless.
pub struct HeldLock {
    store: LockStore,
    /// What was written.
    pub info: LockInfo,
    lockfile_key: String,
    item: bool,
    file: bool,
}

/// How long to wait for a held lock.
#[derive(Debug, Clone, Copy)]
pub struct Wait {
    /// `None`: fail at once when the lock is held.
    pub timeout: Option<Duration>,
}

impl HeldLock {
    /// A lock on `<bucket>/<path>` (lockfile `<path>.tflock`), not taken yet.
    pub fn new(store: LockStore, path: &str, operation_info: String) -> Self {
        let info = LockInfo::new(store.lock_id(path), OPERATION_APPLY, operation_info);
        Self {
            lockfile_key: format!("{path}{LOCKFILE_SUFFIX}"),
            store,
            info,
            item: false,
            file: false,
        }
    }

    /// Takes the lock where it can live now, among `places`, waiting with backoff up to
    /// `wait.timeout` while it is held: in the table when that exists, else in the bucket when
    /// that exists; [`Home::Nowhere`] when neither of `places` exists (nothing taken). The first
    /// request is the lock itself: its PutItem tells whether the table exists. In the table, a
    /// lockfile of the same path (a holder that took it while the table was missing) also counts
    /// as held; in the bucket, a table created meanwhile is locked too.
    pub async fn acquire(
        &mut self,
        places: &[Home],
        wait: Wait,
        waiting: &(dyn Fn(&LockError) + Sync),
    ) -> Result<Home, LockError> {
        let started = Instant::now();
        let mut delay = FIRST_DELAY;
        let mut reported = false;
        loop {
            let held = match self.try_places(places).await {
                Ok(home) => return Ok(home),
                Err(held @ LockError::Held { .. }) => held,
                Err(error) => {
                    // The first failure is the one to report; a release failing here is retried,
                    // and reported, by the caller's own release.
                    let _ = self.release().await;
                    return Err(error);
                }
            };
            let Some(timeout) = wait.timeout else {
                return Err(held);
            };
            if started.elapsed() >= timeout {
                let LockError::Held { location, holder } = held else {
                    return Err(held);
                };
                return Err(LockError::TimedOut {
                    waited: humantime::format_duration(timeout).to_string(),
                    location,
                    holder,
                });
            }
            if !reported {
                waiting(&held);
                reported = true;
            }
            tokio::time::sleep(jittered(delay).min(timeout.saturating_sub(started.elapsed())))
                .await;
            delay = (delay * 3 / 2).min(MAX_DELAY);
        }
    }

    async fn try_places(&mut self, places: &[Home]) -> Result<Home, LockError> {
        if places.contains(&Home::Table) && self.try_table().await? {
            return Ok(Home::Table);
        }
        if places.contains(&Home::Bucket) && self.try_bucket().await? {
            return Ok(Home::Bucket);
        }
        Ok(Home::Nowhere)
    }

    /// Terraform's LockInfo JSON of this lock, as its table item holds it.
    fn body(&self) -> Result<String, LockError> {
        serde_json::to_string(&self.info).map_err(|error| LockError::Unreadable {
            location: self.info.path.clone(),
            message: error.to_string(),
        })
    }

    /// The item, with the lockfile looked for at the same time: `false` when there is no table.
    async fn try_table(&mut self) -> Result<bool, LockError> {
        let body = self.body()?;
        let (item, file) = futures::join!(
            self.store.lock_item(&self.info, &body),
            self.store.read_file(&self.lockfile_key)
        );
        if !item? {
            return Ok(false);
        }
        self.item = true;
        match file {
            Ok(None) => Ok(true),
            Ok(Some((holder, _))) => {
                self.release().await?;
                Err(LockError::Held {
                    location: format!("s3://{}/{}", self.store.bucket, self.lockfile_key),
                    holder: Box::new(holder),
                })
            }
            Err(error) => Err(error),
        }
    }

    /// The lockfile, then the item when a table exists by then: `false` when there is no bucket.
    async fn try_bucket(&mut self) -> Result<bool, LockError> {
        if !self.store.lock_file(&self.lockfile_key, &self.info).await? {
            return Ok(false);
        }
        self.file = true;
        if self.store.table_exists().await? {
            match self.store.lock_item(&self.info, &self.body()?).await {
                Ok(taken) => self.item = taken,
                Err(error) => {
                    self.release().await?;
                    return Err(error);
                }
            }
        }
        Ok(true)
    }

    /// Forgets the item: the lock table is deleted, and the lock with it.
    pub fn table_deleted(&mut self) {
        self.item = false;
    }

    /// Marks the lock as possibly taken in both places, so that [`release`](Self::release)
    /// cleans up after an interruption in the middle of taking it.
    pub fn assume_taken(&mut self) {
        self.item = true;
        self.file = true;
    }

    /// Deletes what this lock wrote (only what still carries its ID). A table or bucket that is
    /// gone (a `destroy` deleted it) holds nothing to release.
    pub async fn release(&mut self) -> Result<(), LockError> {
        if self.item {
            self.store
                .delete_item_if(&self.info.path, self.body()?)
                .await?;
            self.item = false;
        }
        if self.file {
            self.store
                .unlock_file(&self.lockfile_key, &self.info.id)
                .await?;
            self.file = false;
        }
        Ok(())
    }
}

/// `delay` with ±25% jitter, so that waiting processes do not retry in lockstep.
fn jittered(delay: Duration) -> Duration {
    let nanos = SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0, |elapsed| elapsed.subsec_nanos());
    let factor = 0.75 + f64::from(nanos % 1000) / 2000.0;
    delay.mul_f64(factor)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn jitter_stays_within_a_quarter() {
        let delay = Duration::from_millis(1000);
        let jittered = jittered(delay);
        assert!(jittered >= Duration::from_millis(750) && jittered <= Duration::from_millis(1250));
    }
}
