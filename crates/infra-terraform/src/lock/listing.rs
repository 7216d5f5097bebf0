//! Every lock of an environment, in the table and the bucket, and `force-unlock` of one.

use super::{Backend, FoundLock, LockError, LockStore};

impl LockStore {
    /// Every lock: the table's items (Terraform's digest items excluded) and the bucket's
    /// `.tflock` objects. A missing table or bucket holds none.
    pub async fn list(&self) -> Result<Vec<FoundLock>, LockError> {
        let (items, files) = futures::try_join!(self.list_items(), self.list_files())?;
        let mut locks: Vec<FoundLock> = items.into_iter().chain(files).collect();
        locks.sort_by(|a, b| a.location.cmp(&b.location));
        Ok(locks)
    }

    /// Removes every lock whose ID is `id` (a Terraform lock with both a lockfile and an item
    /// has both); returns what was removed.
    pub async fn force_unlock(&self, id: &str) -> Result<Vec<FoundLock>, LockError> {
        let found: Vec<FoundLock> = self
            .list()
            .await?
            .into_iter()
            .filter(|lock| lock.info.id == id)
            .collect();
        if found.is_empty() {
            return Err(LockError::NoSuchLock(id.to_owned()));
        }
        let mut removed = Vec::new();
        for lock in found {
            let done = match lock.backend {
                Backend::Dynamodb => self.unlock_item(&lock.location, id).await?,
                Backend::S3 => self.unlock_file(&lock.location, id).await?,
            };
            if done {
                removed.push(lock);
            }
        }
        if removed.is_empty() {
            return Err(LockError::NoSuchLock(id.to_owned()));
        }
        Ok(removed)
    }
}
