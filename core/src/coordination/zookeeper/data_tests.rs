//! The stored forms, byte for byte: other tools (zkCli, the manager's UI, older nodes) read
//! them, so a change here is a format change.

use super::*;
use crate::coordination::{
    NodeInfo, Ownership, PublishedTask, SinkStatusReport, StoredCheckpoint, TaskStatusReport,
};
use crate::snapshot_progress::{KeyValue, SnapshotProgress};
use crate::BinlogPosition;

fn round_trip<T>(value: &T, json: &str)
where
    T: Serialize + DeserializeOwned + PartialEq + std::fmt::Debug,
{
    let bytes = encode("/p", value).unwrap();
    assert_eq!(String::from_utf8(bytes.clone()).unwrap(), json);
    assert_eq!(&decode::<T>("/p", &bytes).unwrap(), value);
}

#[test]
fn node_info() {
    round_trip(
        &NodeInfo {
            id: "n1".into(),
            addr: "10.0.0.1:9100".into(),
            version: "0.1.0".into(),
            labels: vec!["eu".into(), "ssd".into()],
            started_at_ms: 1700000000000,
        },
        r#"{"id":"n1","addr":"10.0.0.1:9100","version":"0.1.0","labels":["eu","ssd"],"started_at_ms":1700000000000}"#,
    );
}

#[test]
fn published_task() {
    round_trip(
        &PublishedTask {
            revision: 7,
            config: serde_json::json!({"name": "orders", "sinks": []}),
        },
        r#"{"revision":7,"config":{"name":"orders","sinks":[]}}"#,
    );
}

#[test]
fn ownership() {
    round_trip(
        &Ownership {
            node: "n1".into(),
            epoch: 3,
            since_ms: 5,
        },
        r#"{"node":"n1","epoch":3,"since_ms":5}"#,
    );
}

#[test]
fn stored_checkpoint() {
    round_trip(
        &StoredCheckpoint {
            position: BinlogPosition::new("binlog.000042", 1234),
            epoch: 3,
            at_ms: 9,
            snapshot: None,
        },
        r#"{"position":{"file":"binlog.000042","pos":1234},"epoch":3,"at_ms":9}"#,
    );
}

#[test]
fn stored_checkpoint_with_snapshot_progress() {
    round_trip(
        &StoredCheckpoint {
            position: BinlogPosition::new("binlog.000042", 1234),
            epoch: 3,
            at_ms: 9,
            snapshot: Some(SnapshotProgress {
                database: "shop".into(),
                table: "orders".into(),
                after: Some(vec![KeyValue::Int(500)]),
                ..Default::default()
            }),
        },
        r#"{"position":{"file":"binlog.000042","pos":1234},"epoch":3,"at_ms":9,"snapshot":{"database":"shop","table":"orders","after":[{"int":500}]}}"#,
    );
}

#[test]
fn task_status_report() {
    round_trip(
        &TaskStatusReport {
            state: "running".into(),
            node: "n1".into(),
            revision: 7,
            lag_ms: None,
            events_per_sec: 12.5,
            events_total: 100,
            sinks: vec![SinkStatusReport {
                name: "kafka-main".into(),
                state: "failing".into(),
                last_error: Some("broker down".into()),
            }],
            last_error: None,
            at_ms: 9,
            snapshot: None,
        },
        r#"{"state":"running","node":"n1","revision":7,"lag_ms":null,"events_per_sec":12.5,"events_total":100,"sinks":[{"name":"kafka-main","state":"failing","last_error":"broker down"}],"last_error":null,"at_ms":9}"#,
    );
}

#[test]
fn desired_states_are_bare_words() {
    for desired in [
        DesiredState::Running,
        DesiredState::Paused,
        DesiredState::Stopped,
    ] {
        let bytes = encode_desired(desired);
        // The same word as the serde form the manager's API uses.
        assert_eq!(
            serde_json::to_string(&desired).unwrap(),
            format!("\"{}\"", std::str::from_utf8(bytes).unwrap())
        );
        assert_eq!(decode_desired("/d", bytes).unwrap(), desired);
    }
    let err = decode_desired("/sluice/tasks/t/desired", b"Running").unwrap_err();
    assert_eq!(
        err.to_string(),
        "coordinator data at /sluice/tasks/t/desired is corrupt: desired state \"Running\" is \
         none of running, paused, stopped"
    );
}

#[test]
fn epochs_are_decimal() {
    assert_eq!(encode_epoch(12), b"12");
}

#[test]
fn corrupt_records_name_their_path() {
    let err = decode::<Ownership>("/sluice/tasks/t/owner", b"{\"node\":1}").unwrap_err();
    let text = err.to_string();
    assert!(
        text.starts_with(
            "coordinator data at /sluice/tasks/t/owner is corrupt: not the expected JSON record:"
        ),
        "{text}"
    );
}

#[test]
fn task_data_is_stored_compressed_behind_a_format_byte() {
    let record = br#"{"tables":["a","a","a","a","a","a","a","a","a","a","a","a"]}"#.repeat(100);
    let stored = pack_data("/p", &record).unwrap();
    assert_eq!(stored[0], 1);
    assert!(stored.len() * 10 < record.len(), "{} bytes", stored.len());
    assert_eq!(unpack_data("/p", &stored).unwrap(), record);
    assert_eq!(
        unpack_data("/p", &pack_data("/p", b"").unwrap()).unwrap(),
        b""
    );
    for bad in [&b""[..], b"\x02abc", b"\x01not zlib"] {
        let err = unpack_data("/sluice/tasks/t/data-x", bad).unwrap_err();
        assert!(
            err.to_string()
                .starts_with("coordinator data at /sluice/tasks/t/data-x is corrupt"),
            "{err}"
        );
    }
}
