//! The wellness reader (FIT monitoring and HRV status) and the night core on arbitrary bytes.
//! Input that is not already a FIT file is framed as one (a valid header and CRC, a `file_id`
//! of a wellness type chosen by the first byte), so that most runs reach the message readers:
//! timestamp_16 resolution, compressed headers, offsets, HRV values. Whatever comes back must
//! be in range, and the night's figures computed from it must be too; nothing may panic.
#![no_main]

use recoverd::ingest::{self, Parsed};
use recoverd::wellness::{self, Point};

const TYPES: [u8; 5] = [32, 15, 28, 68, 49];

fn framed(data: &[u8]) -> Vec<u8> {
    if ingest::fit::looks_like_fit(data) {
        return data.to_vec();
    }
    let (ty, rest) = data.split_first().map_or((32, data), |(b, r)| {
        (TYPES[usize::from(*b) % TYPES.len()], r)
    });
    // file_id as local 0: type, manufacturer garmin, product, serial, time_created.
    let mut body = vec![0x40, 0, 0, 0, 0, 5, 0, 1, 0, 1, 2, 0x84, 2, 2, 0x84, 3, 4, 0x8C, 4, 4, 0x86];
    body.extend([0, ty, 1, 0, 0x29, 0x0C, 1, 2, 3, 4, 0x00, 0x00, 0x00, 0x40]);
    body.extend_from_slice(rest);
    let mut out = vec![14u8, 0x20, 0x54, 0x08];
    out.extend(u32::try_from(body.len()).unwrap_or(0).to_le_bytes());
    out.extend(b".FIT");
    out.extend([0, 0]); // header CRC 0: not computed
    out.extend(body);
    out.extend([0, 0]); // data CRC 0: not computed
    out
}

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let bytes = framed(data);
    let Ok(Parsed::Wellness(w)) = ingest::read_bytes(&bytes) else {
        return;
    };
    assert!(w.is_sane(), "{w:?}");
    let points: Vec<Point> = w
        .hr
        .iter()
        .map(|s| Point {
            ts: s.ts,
            bpm: s.value,
            utc_offset_s: s.utc_offset_s.unwrap_or(0),
        })
        .collect();
    let mut nights: Vec<_> = points.iter().filter_map(wellness::night_of).collect();
    nights.sort_unstable();
    nights.dedup();
    for d in nights.iter().take(8) {
        if let Some(r) = wellness::night_rhr(*d, &points) {
            assert!((30.0..=250.0).contains(&r), "{r}");
        }
        if let Some(r) = wellness::watch_rhr(*d, &points) {
            assert!((30..=250).contains(&r));
        }
    }
    if let Some((ms, _)) = w.hrv.as_ref().and_then(|h| h.rmssd()) {
        assert!(ms.is_finite() && ms > 0.0 && ms < 512.0);
    }
});
