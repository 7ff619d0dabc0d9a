//! The parts of a row change the flat formats (Canal, Maxwell) and the message keys are built
//! from: the image a message shows, the columns an update changed, and the primary-key values.

use sluice_core::{Op, RowChange, RowImage, Value};

/// The image a flat format shows as the row (`data`): the after image, or for a delete the row
/// that was deleted.
pub(crate) fn data_image(row: &RowChange) -> Option<&RowImage> {
    match row.op {
        Op::Delete => row.before.as_ref(),
        Op::Create | Op::Update | Op::Read => row.after.as_ref().or(row.before.as_ref()),
    }
}

/// Whether an update changed column `index`: in both images, with different values. A column
/// missing from either image (`binlog_row_image=MINIMAL`) has no old value to report, which is
/// also what Canal and Maxwell do with such images.
pub(crate) fn changed(row: &RowChange, index: usize) -> bool {
    match (&row.before, &row.after) {
        (Some(before), Some(after)) => match (before.get(index), after.get(index)) {
            (Some(old), Some(new)) => old != new,
            _ => false,
        },
        _ => false,
    }
}

/// The primary-key columns as (name, value) in key order, or `None` when the table has no
/// primary key (such rows get no message key). The value comes from the image the message
/// shows, else from the other image (a MINIMAL after image may lack an unchanged key); a key
/// column in neither image is `Value::Null`.
pub(crate) fn key_columns(row: &RowChange) -> Option<Vec<(&str, &Value)>> {
    let schema = &*row.table;
    let columns: Vec<(&str, &Value)> = schema
        .primary_key
        .iter()
        .filter_map(|&i| {
            let column = schema.columns.get(i)?;
            let value = data_image(row)
                .and_then(|image| image.get(i))
                .or_else(|| row.after.as_ref().and_then(|image| image.get(i)))
                .or_else(|| row.before.as_ref().and_then(|image| image.get(i)))
                .unwrap_or(&Value::Null);
            Some((column.name.as_str(), value))
        })
        .collect();
    (!columns.is_empty()).then_some(columns)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::formats::test_support::{change, delete, products, row, update};
    use sluice_core::EventKind;

    fn row_of(event: &sluice_core::Event) -> &RowChange {
        match &event.kind {
            EventKind::Row(row) => row,
            _ => unreachable!(),
        }
    }

    #[test]
    fn changed_columns_are_those_in_both_images_with_other_values() {
        let mut after = row(1);
        after.0[3] = Some(Value::Float(5.15));
        after.0[1] = None;
        let event = update(&products(), row(1), after);
        let r = row_of(&event);
        let changed: Vec<usize> = (0..4).filter(|&i| changed(r, i)).collect();
        assert_eq!(changed, [3]);
        let same = update(&products(), row(1), row(1));
        assert!((0..4).all(|i| !super::changed(row_of(&same), i)));
    }

    #[test]
    fn key_values_come_from_the_shown_image_then_the_other() {
        let event = delete(&products(), row(9));
        assert_eq!(
            key_columns(row_of(&event)),
            Some(vec![("id", &Value::Int(9))])
        );
        let mut minimal_after = row(9);
        minimal_after.0[0] = None;
        let event = update(&products(), row(9), minimal_after);
        assert_eq!(
            key_columns(row_of(&event)),
            Some(vec![("id", &Value::Int(9))])
        );
        let no_pk = sluice_core::TableSchema::new("db", "t", products().columns.clone(), vec![]);
        let event = change(Op::Create, &std::sync::Arc::new(no_pk), None, Some(row(1)));
        assert_eq!(key_columns(row_of(&event)), None);
    }
}
