//! How far a snapshot got, as a checkpoint records it: the table it continues at and the last
//! key delivered there. Here in core because every checkpoint store keeps it: the node's
//! checkpoint file, and the coordinator's checkpoint (cluster mode and standalone with a
//! manager), so a snapshot resumes at its last delivered chunk after a restart or failover.

use serde::{Deserialize, Serialize};

/// One value of a chunk key, typed so the next chunk's `WHERE key > ?` compares exactly
/// (a 64-bit integer is never a float, a string keeps its collation).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum KeyValue {
    Int(i64),
    UInt(u64),
    Double(f64),
    /// Strings, decimals and temporal values, in the text form MySQL parses back.
    Text(String),
    Bytes(Vec<u8>),
}

/// Where a snapshot continues: table `database`.`table` (tables sorting before it are done),
/// after key `after` (`None`: from the table's first row).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct SnapshotProgress {
    pub database: String,
    pub table: String,
    #[serde(default)]
    pub after: Option<Vec<KeyValue>>,
    /// The on-demand request this snapshot serves; `None`: the task's initial snapshot.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub request: Option<u64>,
    /// The `db.table` names an on-demand snapshot reads; `None`: every table the task's
    /// `snapshot.tables` and filters select.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tables: Option<Vec<String>>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn progress_round_trips_through_json() {
        let p = SnapshotProgress {
            database: "db".into(),
            table: "t".into(),
            after: Some(vec![
                KeyValue::UInt(u64::MAX),
                KeyValue::Text("ä".into()),
                KeyValue::Bytes(vec![0, 255]),
            ]),
            request: Some(3),
            tables: Some(vec!["db.t".into()]),
        };
        let text = serde_json::to_string(&p).unwrap();
        assert_eq!(serde_json::from_str::<SnapshotProgress>(&text).unwrap(), p);
    }
}
