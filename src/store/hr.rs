//! The heart-rate stream codec.

use crate::model::HrSample;

/// Heart-rate stream in compact form: per sample, the time step in milliseconds and the bpm,
/// both as LEB128 varints (3 bytes a sample at 1 Hz).
#[must_use]
pub fn encode_hr(hr: &[HrSample]) -> Vec<u8> {
    let mut out = Vec::with_capacity(hr.len() * 3);
    let mut prev = 0i64;
    for s in hr {
        let t = (s.t * 1000.0).round() as i64;
        let dt = u64::try_from(t - prev).unwrap_or(0);
        prev = prev.max(t);
        put_varint(&mut out, dt);
        put_varint(&mut out, u64::from(s.bpm));
    }
    out
}

/// Inverse of [`encode_hr`]; stops at the first malformed varint.
#[must_use]
pub fn decode_hr(b: &[u8]) -> Vec<HrSample> {
    let mut out = Vec::new();
    let mut pos = 0;
    let mut t = 0u64;
    while pos < b.len() {
        let (Some(dt), Some(bpm)) = (get_varint(b, &mut pos), get_varint(b, &mut pos)) else {
            break;
        };
        t = t.saturating_add(dt);
        out.push(HrSample {
            t: t as f64 / 1000.0,
            bpm: u16::try_from(bpm).unwrap_or(u16::MAX),
        });
    }
    out
}

fn put_varint(out: &mut Vec<u8>, mut v: u64) {
    loop {
        let byte = (v & 0x7F) as u8;
        v >>= 7;
        if v == 0 {
            out.push(byte);
            return;
        }
        out.push(byte | 0x80);
    }
}

fn get_varint(b: &[u8], pos: &mut usize) -> Option<u64> {
    let mut v = 0u64;
    for shift in (0..64).step_by(7) {
        let byte = *b.get(*pos)?;
        *pos += 1;
        v |= u64::from(byte & 0x7F) << shift;
        if byte & 0x80 == 0 {
            return Some(v);
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hr_stream_round_trips() {
        let hr: Vec<HrSample> = (0..5000)
            .map(|i| HrSample {
                t: f64::from(i) * 1.5,
                bpm: 60 + (i % 150) as u16,
            })
            .collect();
        let blob = encode_hr(&hr);
        assert!(blob.len() <= hr.len() * 4);
        assert_eq!(decode_hr(&blob), hr);
    }
}
