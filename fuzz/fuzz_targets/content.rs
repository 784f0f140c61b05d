//! Any content as `import` sees it: format sniffing, gzip (bounded), then the readers.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let limits = recoverd::ingest::Limits {
        max_file_bytes: 16 * 1024 * 1024,
    };
    let _ = recoverd::pipeline::parse_content(data, limits);
});
