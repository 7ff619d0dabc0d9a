//! Every message and key of every format is valid JSON, for random events holding every kind of
//! value, awkward strings and names, partial (MINIMAL) images and every event kind; and an
//! encoder that has nothing to say leaves the buffer as it was.

use std::sync::Arc;

use sluice_core::value::{Date, DateTime, EnumValue, JsonChange, SetValue, Time, Timestamp};
use sluice_core::{
    BinlogPosition, ColumnSchema, Event, EventKind, EventPosition, Op, RowChange, RowImage,
    TableSchema, Value,
};

use super::test_support::point_wkb;
use super::{contexts, DebeziumOptions, Encoder, Format, MessageContext};

/// A small deterministic generator, so a failure repeats on every run.
struct Lcg(u64);

impl Lcg {
    fn next(&mut self) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        let x = self.0;
        (x ^ (x >> 29)).wrapping_mul(0xbf58_476d_1ce4_e5b9) ^ (x >> 32)
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }

    fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len() as u64) as usize]
    }

    fn string(&mut self) -> String {
        const PIECES: &[&str] = &[
            "a", "Z", "\"", "\\", "\n", "\u{0}", "\u{1f}", "\u{7f}", "é", "€", "😀", "'", "`", ",",
            ".", " ", "pk.", "null",
        ];
        (0..self.below(8)).map(|_| *self.pick(PIECES)).collect()
    }

    fn bytes(&mut self) -> Vec<u8> {
        (0..self.below(12)).map(|_| self.next() as u8).collect()
    }

    fn date(&mut self) -> Date {
        Date {
            year: self.below(10_000) as u16,
            month: self.below(13) as u8,
            day: self.below(32) as u8,
        }
    }

    fn value(&mut self, type_name: &str) -> Value {
        if self.below(8) == 0 {
            return Value::Null;
        }
        match type_name {
            "bigint" => Value::Int(self.next() as i64),
            "bigint unsigned" => Value::UInt(self.next()),
            "float" => Value::Float(f32::from_bits(self.next() as u32)),
            "double" => Value::Double(f64::from_bits(self.next())),
            "decimal(40,10)" => Value::Decimal(format!(
                "{}.{:010}",
                self.next() as i64,
                self.below(10_000_000_000)
            )),
            "bit(1)" => Value::Bit(self.below(2)),
            "bit(40)" => Value::Bit(self.next() >> 24),
            "year" => Value::Year(self.below(2156) as u16),
            "date" => Value::Date(self.date()),
            "time(3)" => Value::Time(Time {
                negative: self.below(2) == 0,
                hours: self.below(839) as u32,
                minutes: self.below(60) as u8,
                seconds: self.below(60) as u8,
                micros: self.below(1000) as u32 * 1000,
                fsp: 3,
            }),
            "datetime(2)" | "datetime(5)" => Value::DateTime(DateTime {
                date: self.date(),
                hour: self.below(24) as u8,
                minute: self.below(60) as u8,
                second: self.below(60) as u8,
                micros: self.below(1_000_000) as u32,
                fsp: if type_name == "datetime(2)" { 2 } else { 5 },
            }),
            "timestamp(6)" => Value::Timestamp(Timestamp {
                seconds: self.below(1 << 32),
                micros: self.below(1_000_000) as u32,
                fsp: 6,
            }),
            "varchar(20)" => Value::Text(self.string()),
            "blob" => Value::Bytes(self.bytes()),
            "char(3)" => Value::UndecodedText {
                charset: self.string(),
                bytes: self.bytes(),
            },
            "enum('a','b')" => Value::Enum(if self.below(2) == 0 {
                EnumValue::Name(self.string())
            } else {
                EnumValue::Index(self.below(3) as u16)
            }),
            "set('a','b')" => Value::Set(if self.below(2) == 0 {
                SetValue::Names((0..self.below(3)).map(|_| self.string()).collect())
            } else {
                SetValue::Bits(self.below(4))
            }),
            "json" => match self.below(3) {
                0 => Value::Json(serde_json::json!({ self.string(): [self.string(), 1.5, null] })),
                1 => Value::Json(serde_json::json!(self.string())),
                _ => Value::JsonDiff(vec![JsonChange {
                    op: "replace",
                    path: format!("$.{}", self.string()),
                    value: Some(serde_json::json!(self.next())),
                }]),
            },
            "point" => Value::Geometry {
                srid: self.next() as u32,
                wkb: if self.below(2) == 0 {
                    point_wkb(f64::from_bits(self.next()), 1.0)
                } else {
                    self.bytes()
                },
            },
            "geometry" => Value::Geometry {
                srid: self.next() as u32,
                wkb: self.bytes(),
            },
            _ => Value::Vector((0..self.below(4)).map(|_| self.next() as f32).collect()),
        }
    }

    fn table(&mut self) -> Arc<TableSchema> {
        const TYPES: &[&str] = &[
            "bigint",
            "bigint unsigned",
            "float",
            "double",
            "decimal(40,10)",
            "bit(1)",
            "bit(40)",
            "year",
            "date",
            "time(3)",
            "datetime(2)",
            "datetime(5)",
            "timestamp(6)",
            "varchar(20)",
            "blob",
            "char(3)",
            "enum('a','b')",
            "set('a','b')",
            "json",
            "point",
            "geometry",
            "vector(4)",
        ];
        let width = 1 + self.below(8) as usize;
        let columns = (0..width)
            .map(|i| ColumnSchema {
                name: format!("{}{i}", self.string()),
                type_name: (*self.pick(TYPES)).into(),
            })
            .collect();
        let pk = (0..self.below(3))
            .map(|_| self.below(width as u64) as usize)
            .collect();
        Arc::new(TableSchema::new(self.string(), self.string(), columns, pk))
    }

    fn image(&mut self, table: &TableSchema) -> RowImage {
        RowImage(
            table
                .columns
                .iter()
                .map(|c| (self.below(6) != 0).then(|| self.value(&c.type_name)))
                .collect(),
        )
    }

    fn event(&mut self, tables: &[Arc<TableSchema>]) -> Event {
        let kind = match self.below(10) {
            0 => EventKind::Begin,
            1 => EventKind::Commit {
                xid: (self.below(2) == 0).then(|| self.next()),
                next: BinlogPosition::new("binlog.000001", self.next()),
            },
            2 => EventKind::Ddl {
                database: self.string(),
                sql: format!(
                    "{} {}",
                    self.pick(&[
                        "ALTER TABLE",
                        "DROP TABLE IF EXISTS",
                        "CREATE INDEX i ON",
                        "CREATE DATABASE",
                        "ALTER DATABASE",
                        "GRANT"
                    ]),
                    self.string()
                ),
                next: BinlogPosition::new("binlog.000001", self.next()),
            },
            3 => EventKind::Incident {
                message: self.string(),
            },
            _ => {
                let table = self.pick(tables).clone();
                let op = *self.pick(&[Op::Create, Op::Update, Op::Delete, Op::Read]);
                let before = matches!(op, Op::Update | Op::Delete).then(|| self.image(&table));
                let mut after =
                    matches!(op, Op::Create | Op::Update | Op::Read).then(|| self.image(&table));
                if let (Some(before), Some(after)) = (&before, &mut after) {
                    // Updates usually keep most columns.
                    for (b, a) in before.0.iter().zip(&mut after.0) {
                        if self.below(2) == 0 {
                            a.clone_from(b);
                        }
                    }
                }
                EventKind::Row(RowChange {
                    op,
                    table,
                    before,
                    after,
                })
            }
        };
        Event {
            position: EventPosition {
                file: Arc::from(self.string()),
                pos: self.next(),
                gtid: None,
                row: self.next() as u32,
                server_id: self.next() as u32,
                ts_ms: self.next() >> 20,
            },
            kind,
        }
    }
}

fn encoders() -> Vec<Encoder> {
    let mut encoders: Vec<Encoder> = Format::ALL.into_iter().map(Encoder::new).collect();
    encoders.push(
        Encoder::new(Format::DebeziumJson).with_debezium(DebeziumOptions {
            server_name: "srv \"1\"".into(),
            schemas: true,
        }),
    );
    encoders
}

#[test]
fn every_message_and_key_is_valid_json() {
    let mut rng = Lcg(0x51u64 << 32 | 0xce);
    let tables: Vec<_> = (0..12).map(|_| rng.table()).collect();
    let events: Vec<Event> = (0..3000).map(|_| rng.event(&tables)).collect();
    let ctx = contexts(&events, 1_700_000_000_123);
    let mut messages = 0;
    for encoder in encoders() {
        for (event, ctx) in events.iter().zip(&ctx) {
            let mut out = b"x".to_vec();
            if encoder.encode(event, ctx, &mut out) {
                messages += 1;
                if let Err(e) = serde_json::from_slice::<serde_json::Value>(&out[1..]) {
                    panic!(
                        "{}: invalid message ({e}) for {event:?}:\n{}",
                        encoder.format(),
                        String::from_utf8_lossy(&out[1..])
                    );
                }
            } else {
                assert_eq!(out, b"x", "{}: wrote without a message", encoder.format());
            }
            let mut ddl = b"x".to_vec();
            if encoder.encode_schema_change(event, ctx, &mut ddl) {
                if let Err(e) = serde_json::from_slice::<serde_json::Value>(&ddl[1..]) {
                    panic!(
                        "{}: invalid schema-change message ({e}) for {event:?}:\n{}",
                        encoder.format(),
                        String::from_utf8_lossy(&ddl[1..])
                    );
                }
            } else {
                assert_eq!(ddl, b"x", "{}: wrote without a message", encoder.format());
            }
            let mut ddl_key = b"k".to_vec();
            if encoder.schema_change_key(event, &mut ddl_key)
                && encoder.format() == Format::DebeziumJson
            {
                // Debezium's key is JSON; the others are the database name as text.
                serde_json::from_slice::<serde_json::Value>(&ddl_key[1..])
                    .expect("a JSON schema-change key");
            }
            let mut key = b"k".to_vec();
            if encoder.key(event, &mut key) {
                if let Err(e) = serde_json::from_slice::<serde_json::Value>(&key[1..]) {
                    panic!(
                        "{}: invalid key ({e}): {}",
                        encoder.format(),
                        String::from_utf8_lossy(&key[1..])
                    );
                }
            } else {
                assert_eq!(key, b"k", "{}: wrote without a key", encoder.format());
            }
        }
    }
    assert!(messages > 10_000, "only {messages} messages were checked");
}

/// The values Sluice promises never to round: DECIMAL text and BIGINT UNSIGNED digits come out
/// exactly, in every format.
#[test]
fn exact_numbers_survive_every_format() {
    let table = super::test_support::table(
        "db",
        "t",
        &[("u", "bigint unsigned"), ("d", "decimal(65,30)")],
        vec![0],
    );
    let decimal = "-12345678901234567890123456789012345.123456789012345678901234567891";
    let row = RowImage(vec![
        Some(Value::UInt(u64::MAX)),
        Some(Value::Decimal(decimal.into())),
    ]);
    let event = super::test_support::insert(&table, row);
    for encoder in encoders() {
        let mut out = Vec::new();
        assert!(encoder.encode(&event, &MessageContext::default(), &mut out));
        let text = String::from_utf8(out).unwrap();
        assert!(
            text.contains("18446744073709551615"),
            "{}: {text}",
            encoder.format()
        );
        assert!(text.contains(decimal), "{}: {text}", encoder.format());
    }
}
