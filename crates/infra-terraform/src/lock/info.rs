//! Terraform's `LockInfo`: the JSON a lock holds, written and read as Terraform does.

use std::time::SystemTime;

use serde::{Deserialize, Serialize};

use super::LockError;

/// The operation Terraform records for `apply` (and for `destroy`, an apply in destroy mode).
pub const OPERATION_APPLY: &str = "OperationTypeApply";

/// Terraform's `statemgr.LockInfo`, field for field and in its JSON field order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LockInfo {
    /// A random UUID, the handle `force-unlock` takes.
    #[serde(rename = "ID", default)]
    pub id: String,
    /// What the holder does, e.g. `OperationTypeApply`.
    #[serde(rename = "Operation", default)]
    pub operation: String,
    /// Free text from the holder.
    #[serde(rename = "Info", default)]
    pub info: String,
    /// `user@host` of the holder.
    #[serde(rename = "Who", default)]
    pub who: String,
    /// The holder's tool version.
    #[serde(rename = "Version", default)]
    pub version: String,
    /// When the lock was taken: RFC 3339 in UTC, with nanoseconds.
    #[serde(rename = "Created", default)]
    pub created: String,
    /// `<bucket>/<path>`: the LockID of the lock.
    #[serde(rename = "Path", default)]
    pub path: String,
}

impl LockInfo {
    /// A new lock on `path` (`<bucket>/<path>`) for `operation`, taken now by this user and host.
    pub fn new(path: String, operation: &str, info: String) -> Self {
        Self {
            id: uuid::Uuid::new_v4().to_string(),
            operation: operation.to_owned(),
            info,
            who: who(),
            version: format!("infra-terraform {}", env!("CARGO_PKG_VERSION")),
            created: humantime::format_rfc3339_nanos(SystemTime::now()).to_string(),
            path,
        }
    }

    /// The holder, as error messages show it.
    pub fn holder(&self) -> String {
        let info = if self.info.is_empty() {
            String::new()
        } else {
            format!(", {}", self.info)
        };
        format!(
            "{} ({}{info}) since {}, lock ID {}",
            self.who, self.operation, self.created, self.id
        )
    }
}

impl LockInfo {
    /// An empty LockInfo for `path`, for holders that left nothing to read.
    pub(super) fn default_for(path: &str) -> Self {
        Self {
            id: String::new(),
            operation: "unknown".to_owned(),
            info: String::new(),
            who: "unknown".to_owned(),
            version: String::new(),
            created: "unknown".to_owned(),
            path: path.to_owned(),
        }
    }
}

/// `user@host`, as Terraform records it.
fn who() -> String {
    let user = ["USER", "LOGNAME", "USERNAME"]
        .iter()
        .find_map(|name| std::env::var(name).ok().filter(|value| !value.is_empty()))
        .unwrap_or_else(|| "unknown".to_owned());
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
        .ok()
        .or_else(|| std::env::var("HOSTNAME").ok())
        .map(|host| host.trim().to_owned())
        .filter(|host| !host.is_empty())
        .unwrap_or_else(|| "unknown".to_owned());
    format!("{user}@{host}")
}

pub(super) fn parse(location: &str, raw: &str) -> Result<LockInfo, LockError> {
    serde_json::from_str(raw).map_err(|error| LockError::Unreadable {
        location: location.to_owned(),
        message: error.to_string(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lock_info_is_terraforms_json() {
        let info = LockInfo {
            id: "a1b2".to_owned(),
            operation: OPERATION_APPLY.to_owned(),
            info: "infra-terraform apply".to_owned(),
            who: "alice@host".to_owned(),
            version: "infra-terraform 0.1.0".to_owned(),
            created: "2026-01-02T03:04:05.123456789Z".to_owned(),
            path: "bucket/p/dev/infra".to_owned(),
        };
        assert_eq!(
            serde_json::to_string(&info).expect("JSON"),
            r#"{"ID":"a1b2","Operation":"OperationTypeApply","Info":"infra-terraform apply","Who":"alice@host","Version":"infra-terraform 0.1.0","Created":"2026-01-02T03:04:05.123456789Z","Path":"bucket/p/dev/infra"}"#
        );
    }

    #[test]
    fn terraforms_lock_info_is_read() {
        let raw = r#"{"ID":"6c2c","Operation":"OperationTypeApply","Info":"","Who":"bob@ci","Version":"1.11.4","Created":"2026-01-02T03:04:05.5Z","Path":"b/envs/dev/terraform.tfstate"}"#;
        let info = parse("b/envs/dev/terraform.tfstate", raw).expect("parsed");
        assert_eq!(info.who, "bob@ci");
        assert_eq!(
            info.holder(),
            "bob@ci (OperationTypeApply) since 2026-01-02T03:04:05.5Z, lock ID 6c2c"
        );
    }

    #[test]
    fn new_locks_have_a_uuid_and_utc_nanosecond_time() {
        let info = LockInfo::new("b/p/dev/infra".to_owned(), OPERATION_APPLY, String::new());
        assert!(uuid::Uuid::parse_str(&info.id).is_ok());
        assert!(info.created.ends_with('Z'));
        assert_eq!(info.created.len(), "2026-01-02T03:04:05.123456789Z".len());
        assert!(info.who.contains('@'));
    }
}
