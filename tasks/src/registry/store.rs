//! `CheckpointStore`: the stub's in-memory checkpoint table. Nothing is ever
//! written to disk.

use std::collections::BTreeMap;
use std::sync::{Mutex, PoisonError};
use std::time::{SystemTime, UNIX_EPOCH};

use serde_json::{Map, Value};

/// Checkpoints by id, shared between connection threads.
#[derive(Debug, Default)]
pub struct CheckpointStore {
    inner: Mutex<Inner>,
}

#[derive(Debug, Default)]
struct Inner {
    next: u64,
    records: BTreeMap<String, Value>,
}

impl CheckpointStore {
    /// An empty store.
    #[must_use]
    pub fn new() -> Self {
        Self::default()
    }

    /// Stores `checkpoint` under a fresh id (`ckpt-000001`, ...) and returns
    /// the record: `{"id", "created_at", "checkpoint"}`.
    pub fn insert(&self, checkpoint: Value) -> Value {
        let mut inner = self.inner.lock().unwrap_or_else(PoisonError::into_inner);
        inner.next += 1;
        let id = format!("ckpt-{:06}", inner.next);
        let mut record = Map::new();
        record.insert("id".to_owned(), Value::String(id.clone()));
        record.insert("created_at".to_owned(), Value::String(now_rfc3339()));
        record.insert("checkpoint".to_owned(), checkpoint);
        let record = Value::Object(record);
        inner.records.insert(id, record.clone());
        record
    }

    /// The record stored under `id`.
    #[must_use]
    pub fn get(&self, id: &str) -> Option<Value> {
        let inner = self.inner.lock().unwrap_or_else(PoisonError::into_inner);
        inner.records.get(id).cloned()
    }

    /// Every stored id, in order.
    #[must_use]
    pub fn ids(&self) -> Vec<String> {
        let inner = self.inner.lock().unwrap_or_else(PoisonError::into_inner);
        inner.records.keys().cloned().collect()
    }
}

/// The current time as `YYYY-MM-DDTHH:MM:SSZ`.
fn now_rfc3339() -> String {
    let secs = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    format_unix(secs)
}

/// Formats Unix seconds as RFC 3339 UTC (civil-from-days, Howard Hinnant).
fn format_unix(secs: u64) -> String {
    let days = i64::try_from(secs / 86_400).unwrap_or(0);
    let rem = secs % 86_400;
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1_460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}Z",
        rem / 3_600,
        rem % 3_600 / 60,
        rem % 60
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn ids_are_sequential_and_records_round_trip() {
        let store = CheckpointStore::new();
        let first = store.insert(json!({"node": "embedder", "step": 1}));
        let second = store.insert(json!([1, 2]));
        assert_eq!(first["id"], "ckpt-000001");
        assert_eq!(second["id"], "ckpt-000002");
        assert_eq!(store.get("ckpt-000001").unwrap(), first);
        assert_eq!(first["checkpoint"]["node"], "embedder");
        assert_eq!(store.get("ckpt-000003"), None);
        assert_eq!(store.ids(), ["ckpt-000001", "ckpt-000002"]);
    }

    #[test]
    fn formats_unix_time() {
        let table = [
            (0, "1970-01-01T00:00:00Z"),
            (951_782_400, "2000-02-29T00:00:00Z"),
            (1_795_518_000, "2026-11-24T11:00:00Z"),
        ];
        for (secs, expected) in table {
            assert_eq!(format_unix(secs), expected, "{secs}");
        }
    }
}
