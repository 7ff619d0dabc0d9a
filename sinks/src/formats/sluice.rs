//! Sluice's own form (`docs/event-format.md`) as Kafka messages: every event is one message,
//! transaction boundaries, DDL and incidents included, exactly as the file sink writes them.

use sluice_core::{Event, EventKind};

use super::json_text::{write_key, write_str};
use super::row_parts::key_columns;

/// Appends `event` in Sluice's JSON form. Every event makes a message.
pub(crate) fn encode(event: &Event, out: &mut Vec<u8>) -> bool {
    sluice_core::json::write_event(out, event);
    true
}

/// The key of a row event, `{"db":"shop","table":"orders","pk":{"id":7}}` with values in
/// Sluice's form. Database and table are part of it so rows of different tables sharing a topic
/// never share a key (a compacted topic would otherwise merge them). `false` (no key) for other
/// events and for tables without a primary key.
pub(crate) fn key(event: &Event, out: &mut Vec<u8>) -> bool {
    let EventKind::Row(row) = &event.kind else {
        return false;
    };
    let Some(columns) = key_columns(row) else {
        return false;
    };
    out.extend_from_slice(br#"{"db":"#);
    write_str(out, &row.table.database);
    out.extend_from_slice(br#","table":"#);
    write_str(out, &row.table.table);
    out.extend_from_slice(br#","pk":{"#);
    for (i, (name, value)) in columns.into_iter().enumerate() {
        write_key(out, name, i == 0);
        sluice_core::json::write_value(out, value);
    }
    out.extend_from_slice(b"}}");
    true
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::formats::test_support::{begin, insert, products, row, text};

    #[test]
    fn a_snapshot_read_has_op_r() {
        let mut event = insert(&products(), row(1));
        if let sluice_core::EventKind::Row(change) = &mut event.kind {
            change.op = sluice_core::Op::Read;
        }
        let mut out = Vec::new();
        assert!(encode(&event, &mut out));
        assert!(text(&out).starts_with(r#"{"op":"r","#), "{}", text(&out));
    }

    #[test]
    fn every_event_is_a_message_in_the_file_sinks_form() {
        let event = insert(&products(), row(111));
        let mut out = Vec::new();
        assert!(encode(&event, &mut out));
        let mut reference = Vec::new();
        sluice_core::json::write_event(&mut reference, &event);
        assert_eq!(out, reference);
        out.clear();
        assert!(encode(&begin(), &mut out));
        assert!(text(&out).starts_with(r#"{"op":"begin","source":"#));
    }

    #[test]
    fn key_names_the_table_and_its_primary_key() {
        let mut out = Vec::new();
        assert!(key(&insert(&products(), row(111)), &mut out));
        assert_eq!(
            text(&out),
            r#"{"db":"inventory","table":"products","pk":{"id":111}}"#
        );
        out.clear();
        assert!(!key(&begin(), &mut out));
        assert!(out.is_empty());
    }
}
