//! The heart-rate stream codec.

use crate::model::HrSample;

/// What starts every stream written since the codec was versioned: `0x80 0x00` (an overlong
/// LEB128 zero, which the unversioned writer never produced: it wrote a zero as `0x00`), then
/// the version byte.
const MAGIC: [u8; 2] = [0x80, 0x00];

/// The version [`encode_hr`] writes. Version 0 is the unversioned form of rows written before:
/// the same body with no header.
pub const HR_CODEC_VERSION: u8 = 1;

/// A stored stream this build cannot read.
#[derive(Debug, thiserror::Error)]
#[error("heart-rate stream codec version {0} is newer than this recoverd's {HR_CODEC_VERSION}")]
pub struct UnknownVersion(pub u8);

/// Heart-rate stream in compact form: a header (`0x80 0x00` and the version byte), then per
/// sample the time step in milliseconds and the bpm, both as LEB128 varints (3 bytes a sample at
/// 1 Hz).
#[must_use]
pub fn encode_hr(hr: &[HrSample]) -> Vec<u8> {
    let mut out = Vec::with_capacity(3 + hr.len() * 3);
    out.extend_from_slice(&MAGIC);
    out.push(HR_CODEC_VERSION);
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

/// Inverse of [`encode_hr`], for versioned streams and for the unversioned ones stored before;
/// stops at the first malformed varint.
///
/// # Errors
/// [`UnknownVersion`] for a stream written by a newer recoverd.
pub fn decode_hr(b: &[u8]) -> Result<Vec<HrSample>, UnknownVersion> {
    let body = match b.strip_prefix(&MAGIC) {
        None => b,
        Some([HR_CODEC_VERSION, body @ ..]) => body,
        Some([v, ..]) => return Err(UnknownVersion(*v)),
        // The header cut short: nothing after it to read.
        Some([]) => &[],
    };
    let mut out = Vec::new();
    let mut pos = 0;
    let mut t = 0u64;
    while pos < body.len() {
        let (Some(dt), Some(bpm)) = (get_varint(body, &mut pos), get_varint(body, &mut pos)) else {
            break;
        };
        t = t.saturating_add(dt);
        out.push(HrSample {
            t: t as f64 / 1000.0,
            bpm: u16::try_from(bpm).unwrap_or(u16::MAX),
        });
    }
    Ok(out)
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
        assert_eq!(blob[..3], [0x80, 0x00, HR_CODEC_VERSION]);
        assert_eq!(decode_hr(&blob).unwrap(), hr);
        assert_eq!(decode_hr(&encode_hr(&[])).unwrap(), []);
    }

    #[test]
    fn streams_stored_before_the_version_byte_still_decode() {
        // As the unversioned writer stored 0 s/150 bpm, 1 s/151, 2.5 s/200: varint pairs.
        let old = [
            0x00, 150, 0x01, 0xE8, 0x07, 151, 0x01, 0xDC, 0x0B, 200, 0x01,
        ];
        let hr = decode_hr(&old).unwrap();
        let want = [(0.0, 150), (1.0, 151), (2.5, 200)];
        assert_eq!(hr.len(), want.len());
        for (s, (t, bpm)) in hr.iter().zip(want) {
            assert!((s.t - t).abs() < 1e-9 && s.bpm == bpm, "{s:?}");
        }
        // The new form of the same stream is the old one behind the header.
        let new = encode_hr(&hr);
        assert_eq!(new[3..], old);
        assert_eq!(decode_hr(&[]).unwrap(), []);
    }

    #[test]
    fn a_newer_version_is_refused_not_misread() {
        let mut blob = encode_hr(&[HrSample { t: 0.0, bpm: 150 }]);
        blob[2] = HR_CODEC_VERSION + 1;
        assert_eq!(decode_hr(&blob).unwrap_err().0, HR_CODEC_VERSION + 1);
    }
}
