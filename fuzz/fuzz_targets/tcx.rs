//! The tcx reader on arbitrary bytes: it must answer (an activity, a skip or an error), never
//! panic, hang or run out of memory.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let _ = recoverd::ingest::tcx::read(data);
});
