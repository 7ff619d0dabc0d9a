//! Key templates, resolved once per table and rendered once per row.
//!
//! The template is parsed once (`sluice_core::config::KeyTemplate`, also what validation
//! checks). For each table Sluice sees, it is resolved into a [`KeyPlan`]: `{db}`, `{table}` and
//! the literals become one run of bytes, `{pk}` and `{column}` become column indexes. Rendering a
//! row then only copies bytes and writes the key columns' values, with no name lookups.

use sluice_core::config::{KeyPart, KeyTemplate};
use sluice_core::{RowImage, TableSchema, Value};

use super::encode::write_text;

/// Why a key cannot be built for a table or a row: the placeholder and what is wrong.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct KeyProblem {
    pub placeholder: String,
    pub detail: String,
}

/// A template resolved against one table.
#[derive(Debug)]
pub(super) struct KeyPlan {
    segments: Vec<Segment>,
}

#[derive(Debug)]
enum Segment {
    Bytes(Vec<u8>),
    Column {
        index: usize,
        name: String,
        /// The placeholder that asked for it (`pk`, or the column's own name), for errors.
        placeholder: String,
    },
}

impl KeyPlan {
    /// Resolves `template` against `schema`: every column placeholder must name a column of the
    /// table (as MySQL, ignoring case), and `{pk}` needs a primary key.
    pub(super) fn resolve(
        template: &KeyTemplate,
        schema: &TableSchema,
    ) -> Result<KeyPlan, KeyProblem> {
        let mut segments = Vec::new();
        let mut bytes = Vec::new();
        for part in &template.parts {
            match part {
                KeyPart::Literal(text) => bytes.extend_from_slice(text.as_bytes()),
                KeyPart::Db => bytes.extend_from_slice(schema.database.as_bytes()),
                KeyPart::Table => bytes.extend_from_slice(schema.table.as_bytes()),
                KeyPart::Pk => {
                    let pk: Vec<usize> = schema
                        .primary_key
                        .iter()
                        .copied()
                        .filter(|&i| i < schema.columns.len())
                        .collect();
                    if pk.is_empty() {
                        return Err(KeyProblem {
                            placeholder: "pk".into(),
                            detail: "the table has no primary key (or the server does not say \
                                     which it is); name key columns instead, e.g. {id}"
                                .into(),
                        });
                    }
                    for (n, index) in pk.into_iter().enumerate() {
                        if n > 0 {
                            bytes.push(b':');
                        }
                        push_column(&mut segments, &mut bytes, schema, index, "pk");
                    }
                }
                KeyPart::Column(name) => {
                    let index = find_column(schema, name).ok_or_else(|| KeyProblem {
                        placeholder: name.clone(),
                        detail: format!(
                            "the table has no column `{name}` (its columns: {})",
                            column_list(schema)
                        ),
                    })?;
                    push_column(&mut segments, &mut bytes, schema, index, name);
                }
            }
        }
        if !bytes.is_empty() {
            segments.push(Segment::Bytes(bytes));
        }
        Ok(KeyPlan { segments })
    }

    /// Writes the key of `image` into `out` (cleared first). A key column that is absent from
    /// the image or NULL cannot name the row: that is an error, never a guessed key.
    pub(super) fn render(&self, image: &RowImage, out: &mut Vec<u8>) -> Result<(), KeyProblem> {
        out.clear();
        for segment in &self.segments {
            match segment {
                Segment::Bytes(bytes) => out.extend_from_slice(bytes),
                Segment::Column {
                    index,
                    name,
                    placeholder,
                } => match image.get(*index) {
                    Some(Value::Null) => {
                        return Err(KeyProblem {
                            placeholder: placeholder.clone(),
                            detail: format!(
                                "column `{name}` is NULL in this row, and a key needs a value \
                                 (use NOT NULL columns in the key, best the primary key)"
                            ),
                        })
                    }
                    Some(value) => write_text(out, value),
                    None => {
                        return Err(KeyProblem {
                            placeholder: placeholder.clone(),
                            detail: format!(
                                "column `{name}` is not in the row image (binlog_row_image is \
                                 not FULL, or a column filter removed it)"
                            ),
                        })
                    }
                },
            }
        }
        Ok(())
    }
}

/// Ends the current run of bytes and adds column `index`.
fn push_column(
    segments: &mut Vec<Segment>,
    bytes: &mut Vec<u8>,
    schema: &TableSchema,
    index: usize,
    placeholder: &str,
) {
    if !bytes.is_empty() {
        segments.push(Segment::Bytes(std::mem::take(bytes)));
    }
    segments.push(Segment::Column {
        index,
        name: schema.columns[index].name.clone(),
        placeholder: placeholder.to_string(),
    });
}

/// The column called `name`: the exact name, else the one name equal ignoring case (MySQL's
/// column names are case-insensitive).
fn find_column(schema: &TableSchema, name: &str) -> Option<usize> {
    let columns = &schema.columns;
    columns.iter().position(|c| c.name == name).or_else(|| {
        let lower = name.to_lowercase();
        let mut matches = columns
            .iter()
            .enumerate()
            .filter(|(_, c)| c.name.to_lowercase() == lower);
        match (matches.next(), matches.next()) {
            (Some((i, _)), None) => Some(i),
            _ => None,
        }
    })
}

fn column_list(schema: &TableSchema) -> String {
    const SHOWN: usize = 20;
    let names: Vec<&str> = schema
        .columns
        .iter()
        .take(SHOWN)
        .map(|c| c.name.as_str())
        .collect();
    let more = schema.columns.len().saturating_sub(SHOWN);
    if more > 0 {
        format!("{}, and {more} more", names.join(", "))
    } else {
        names.join(", ")
    }
}

#[cfg(test)]
mod tests {
    use sluice_core::ColumnSchema;

    use super::*;

    fn table(pk: Vec<usize>) -> TableSchema {
        TableSchema::new(
            "shop",
            "users",
            ["id", "region", "Email", "note"]
                .iter()
                .map(|n| ColumnSchema {
                    name: n.to_string(),
                    type_name: "varchar".into(),
                })
                .collect(),
            pk,
        )
    }

    fn row() -> RowImage {
        RowImage(vec![
            Some(Value::Int(42)),
            Some(Value::Text("eu".into())),
            Some(Value::Text("a@b".into())),
            Some(Value::Null),
        ])
    }

    fn render(
        template: &str,
        schema: &TableSchema,
        image: &RowImage,
    ) -> Result<String, KeyProblem> {
        let template = KeyTemplate::parse(template).unwrap();
        let plan = KeyPlan::resolve(&template, schema)?;
        let mut out = b"left over".to_vec();
        plan.render(image, &mut out)?;
        Ok(String::from_utf8(out).unwrap())
    }

    #[test]
    fn placeholders_render_from_the_table_and_the_row() {
        let t = table(vec![0]);
        assert_eq!(
            render("{db}:{table}:{pk}", &t, &row()).unwrap(),
            "shop:users:42"
        );
        assert_eq!(
            render("u:{{{email}}}:{region}", &t, &row()).unwrap(),
            "u:{a@b}:eu"
        );
        let composite = table(vec![1, 0]);
        assert_eq!(
            render("{table}/{pk}", &composite, &row()).unwrap(),
            "users/eu:42"
        );
    }

    #[test]
    fn a_key_that_cannot_be_built_names_the_placeholder() {
        let t = table(vec![0]);
        let e = render("{pk}:{nope}", &t, &row()).unwrap_err();
        assert_eq!(e.placeholder, "nope");
        assert!(
            e.detail.contains("no column `nope`") && e.detail.contains("id, region, Email, note"),
            "{e:?}"
        );

        let e = render("{db}:{pk}", &table(vec![]), &row()).unwrap_err();
        assert_eq!(e.placeholder, "pk");
        assert!(e.detail.contains("no primary key"), "{e:?}");

        let e = render("{note}", &t, &row()).unwrap_err();
        assert_eq!(e.placeholder, "note");
        assert!(e.detail.contains("`note` is NULL"), "{e:?}");

        let partial = RowImage(vec![Some(Value::Int(1)), None, None, None]);
        let e = render("{pk}:{region}", &t, &partial).unwrap_err();
        assert_eq!(e.placeholder, "region");
        assert!(e.detail.contains("not in the row image"), "{e:?}");
    }
}
