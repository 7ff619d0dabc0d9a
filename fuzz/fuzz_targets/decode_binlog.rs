//! Arbitrary bytes through the binlog reader and decoder, as `sluice dump --file` runs them:
//! any input must end in events or an error, never a panic or a hang.
#![no_main]

use std::path::Path;

use libfuzzer_sys::fuzz_target;
use sluice_node::source::{BinlogDecoder, BinlogReader};

fuzz_target!(|data: &[u8]| {
    let Ok(mut reader) = BinlogReader::new(Path::new("fuzz.000001"), data) else {
        return;
    };
    let mut decoder = BinlogDecoder::new("fuzz.000001");
    let mut events = Vec::new();
    while let Ok(Some(raw)) = reader.next_event() {
        events.clear();
        if decoder.decode(&raw.event, raw.span, &mut events).is_err() {
            return;
        }
        for event in &events {
            let _ = serde_json::to_vec(event);
        }
    }
});
