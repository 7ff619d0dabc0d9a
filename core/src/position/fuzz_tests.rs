//! Robustness tests: every parser gets a few hundred malformed inputs (random
//! bytes, random strings over the grammar's alphabet, and mutations of valid
//! inputs). None may panic, and whatever parses must print back to text that
//! parses to the same value.

use std::fmt::Display;
use std::panic::catch_unwind;

use super::*;

/// Tiny deterministic generator (PCG's LCG constants) so failures reproduce
/// without a `rand` dependency.
struct Lcg(u64);

impl Lcg {
    fn next(&mut self) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        // The high bits of an LCG are the well-mixed ones.
        self.0 >> 33
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }

    fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len())]
    }
}

const ALPHABET: &[char] = &[
    '0', '1', '2', '3', '4', '5', '9', 'a', 'b', 'c', 'e', 'f', 'A', 'F', 'g', 'z', 'T', '_', '-',
    ':', ',', '.', ' ', '\n', '\t', '+', '$', 'é', '\u{0}', '\u{2003}',
];

const SEEDS: &[&str] = &[
    "binlog.000001:4",
    "mysql-bin.1000000:18446744073709551615",
    "3e11fa47-71ca-11e1-9e33-c80aa9429562",
    "3e11fa47-71ca-11e1-9e33-c80aa9429562:42",
    "3e11fa47-71ca-11e1-9e33-c80aa9429562:mytag:7",
    "3e11fa47-71ca-11e1-9e33-c80aa9429562:1-5:7:mytag:1-3",
    "3e11fa47-71ca-11e1-9e33-c80aa9429562:1-17:19-23,\n4e11fa47-71ca-11e1-9e33-c80aa9429562:1-8",
    "3e11fa47-71ca-11e1-9e33-c80aa9429562:9223372036854775806",
    "0-1-42",
    "0-1-42,1-2-7",
    "4294967295-4294967295-18446744073709551615",
    "",
];

fn random_bytes(rng: &mut Lcg) -> String {
    let len = rng.below(64);
    let bytes: Vec<u8> = (0..len).map(|_| rng.next() as u8).collect();
    String::from_utf8_lossy(&bytes).into_owned()
}

fn random_alphabet(rng: &mut Lcg) -> String {
    let len = rng.below(80);
    (0..len).map(|_| *rng.pick(ALPHABET)).collect()
}

fn mutated_seed(rng: &mut Lcg) -> String {
    let mut chars: Vec<char> = rng.pick(SEEDS).chars().collect();
    for _ in 0..=rng.below(3) {
        let at = rng.below(chars.len() + 1);
        match rng.below(4) {
            0 => chars.insert(at, *rng.pick(ALPHABET)),
            1 if at < chars.len() => {
                chars.remove(at);
            }
            2 if at < chars.len() => chars[at] = *rng.pick(ALPHABET),
            // Duplicate a slice, which makes repeated entries and long numbers.
            _ => {
                let end = (at + rng.below(12)).min(chars.len());
                let copy: Vec<char> = chars[at..end].to_vec();
                chars.splice(at..at, copy);
            }
        }
    }
    chars.into_iter().collect()
}

/// Runs `parse` on `input` without letting a panic escape, and checks that an
/// accepted value is a fixed point of print-then-parse.
fn check<T, E>(name: &str, input: &str, parse: fn(&str) -> Result<T, E>)
where
    T: Display + PartialEq + std::fmt::Debug,
    E: std::fmt::Debug,
{
    let owned = input.to_owned();
    let result = catch_unwind(move || {
        let Ok(value) = parse(&owned) else { return };
        let text = value.to_string();
        match parse(&text) {
            Ok(again) => assert_eq!(again, value, "{name}: {owned:?} printed as {text:?}"),
            Err(err) => panic!("{name}: {owned:?} printed as {text:?}, which fails: {err:?}"),
        }
    });
    assert!(result.is_ok(), "{name} panicked on {input:?}");
}

fn check_all(input: &str) {
    check("BinlogPosition", input, BinlogPosition::parse);
    check("Uuid", input, Uuid::parse);
    check("MysqlGtid", input, MysqlGtid::parse);
    check("MysqlGtidSet", input, MysqlGtidSet::parse);
    check("MariadbGtid", input, MariadbGtid::parse);
    check("MariadbGtidList", input, MariadbGtidList::parse);
    check("Gtid", input, Gtid::parse);
    check("GtidSet", input, GtidSet::parse);
    // Deserialization goes through the same parsers, but check it does not
    // panic on arbitrary JSON strings either.
    let json = serde_json::to_string(input).expect("a string always serializes");
    let _ = serde_json::from_str::<GtidSet>(&json);
    let _ = serde_json::from_str::<Gtid>(&json);
}

#[test]
fn parsers_never_panic_and_round_trip() {
    let mut rng = Lcg(0x5eed_1234_abcd_0042);
    for seed in SEEDS {
        check_all(seed);
    }
    for _ in 0..300 {
        check_all(&random_bytes(&mut rng));
        check_all(&random_alphabet(&mut rng));
        check_all(&mutated_seed(&mut rng));
    }
}

#[test]
fn mutations_hit_both_outcomes() {
    // Guards the test above against degenerating into only Err (or only Ok)
    // inputs, which would make the round-trip check vacuous.
    let mut rng = Lcg(7);
    let (mut ok, mut err) = (0, 0);
    for _ in 0..300 {
        match GtidSet::parse(&mutated_seed(&mut rng)) {
            Ok(_) => ok += 1,
            Err(_) => err += 1,
        }
    }
    assert!(ok > 20 && err > 20, "ok={ok} err={err}");
}
