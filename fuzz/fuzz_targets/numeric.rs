//! Numeric extremes in every numeric field we read: the input picks, field by field, a value
//! (huge, negative, NaN, infinite, the type's limits, or raw bits) for a TCX, a GPX or a FIT
//! activity (every FIT base type). Whatever the values, the answer must be an activity whose
//! numbers are real, a skip or an error with a reason: never a panic, never NaN or infinity,
//! never a span over a year or an average heart rate over 250.
#![no_main]

use recoverd::ingest::{Limits, Parsed};

/// Text forms of numbers, as a hostile file would write them.
const TEXT: &[&str] = &[
    "1e15", "1e300", "1e309", "-1e300", "-1", "-0", "0", "inf", "-inf", "NaN", "Infinity", "1e-320",
    "18446744073709551616", "4294967296", "65536", "255", "1e10", "", "150", "3600", "0x10",
    "9223372036854775807", "-9223372036854775808", "1.7976931348623157e308",
];

struct Input<'a>(&'a [u8]);

impl Input<'_> {
    fn byte(&mut self) -> u8 {
        let (b, rest) = self.0.split_first().map_or((0, &[][..]), |(b, r)| (*b, r));
        self.0 = rest;
        b
    }

    fn bytes(&mut self, n: usize) -> Vec<u8> {
        (0..n).map(|_| self.byte()).collect()
    }

    /// A number as text: from the table, or raw f64 bits printed.
    fn text(&mut self, normal: &str) -> String {
        match self.byte() {
            0..=99 => normal.to_string(),
            100..=199 => TEXT[usize::from(self.byte()) % TEXT.len()].to_string(),
            _ => f64::from_le_bytes(self.bytes(8).try_into().unwrap_or([0; 8])).to_string(),
        }
    }
}

fn tcx(inp: &mut Input) -> Vec<u8> {
    let mut s = format!(
        "<?xml version=\"1.0\"?><TrainingCenterDatabase><Activities><Activity Sport=\"Running\"><Lap StartTime=\"2026-04-20T09:00:00Z\"><TotalTimeSeconds>{}</TotalTimeSeconds><DistanceMeters>{}</DistanceMeters><Track>",
        inp.text("119"),
        inp.text("360")
    );
    for i in 0..60 {
        s.push_str(&format!(
            "<Trackpoint><Time>2026-04-20T09:{:02}:{:02}Z</Time><DistanceMeters>{}</DistanceMeters><HeartRateBpm><Value>{}</Value></HeartRateBpm></Trackpoint>",
            i / 30,
            (i % 30) * 2,
            inp.text("3"),
            inp.text("150")
        ));
    }
    s.push_str("</Track></Lap></Activity></Activities></TrainingCenterDatabase>");
    s.into_bytes()
}

fn gpx(inp: &mut Input) -> Vec<u8> {
    let mut s = String::from(
        "<?xml version=\"1.0\"?><gpx version=\"1.1\" creator=\"f\" xmlns=\"http://www.topografix.com/GPX/1/1\" xmlns:h=\"http://www.garmin.com/xmlschemas/TrackPointExtension/v1\"><trk><trkseg>",
    );
    for i in 0..60 {
        s.push_str(&format!(
            "<trkpt lat=\"{}\" lon=\"{}\"><ele>{}</ele><time>2026-04-20T09:{:02}:{:02}Z</time><extensions><h:TrackPointExtension><h:hr>{}</h:hr></h:TrackPointExtension></extensions></trkpt>",
            inp.text("46.0"),
            inp.text("14.0"),
            inp.text("500"),
            i / 30,
            (i % 30) * 2,
            inp.text("150")
        ));
    }
    s.push_str("</trkseg></trk></gpx>");
    s.into_bytes()
}

/// FIT base types and their sizes.
const BASE: &[(u8, u8)] = &[
    (0x00, 1), (0x01, 1), (0x02, 1), (0x83, 2), (0x84, 2), (0x85, 4), (0x86, 4), (0x07, 1),
    (0x88, 4), (0x89, 8), (0x0A, 1), (0x8B, 2), (0x8C, 4), (0x0D, 1), (0x8E, 8), (0x8F, 8),
    (0x90, 8),
];

/// A value of `size` bytes: normal, the type's extremes, or raw bytes.
fn value(inp: &mut Input, normal: u64, base: u8, size: u8) -> Vec<u8> {
    let n = usize::from(size);
    let le = |v: u64| v.to_le_bytes()[..n].to_vec();
    match inp.byte() {
        0..=119 => le(normal),
        120..=159 => {
            let max = if n == 8 { u64::MAX } else { (1u64 << (8 * n)) - 1 };
            le([max, max - 1, 1u64 << (8 * n - 1), 0, 1][usize::from(inp.byte()) % 5])
        }
        160..=199 if base == 0x88 => [f32::NAN, f32::INFINITY, f32::NEG_INFINITY, f32::MAX]
            [usize::from(inp.byte()) % 4]
            .to_le_bytes()
            .to_vec(),
        160..=199 if base == 0x89 => [f64::NAN, f64::INFINITY, f64::NEG_INFINITY, f64::MAX, 1e15]
            [usize::from(inp.byte()) % 5]
            .to_le_bytes()
            .to_vec(),
        _ => inp.bytes(n),
    }
}

fn def(out: &mut Vec<u8>, local: u8, global: u16, fields: &[(u8, u8, u8)]) {
    out.extend([0x40 | local, 0, 0]);
    out.extend(global.to_le_bytes());
    out.push(fields.len() as u8);
    for &(n, size, base) in fields {
        out.extend([n, size, base]);
    }
}

fn crc16(bytes: &[u8]) -> u16 {
    const T: [u16; 16] = [
        0x0000, 0xCC01, 0xD801, 0x1400, 0xF001, 0x3C00, 0x2800, 0xE401, 0xA001, 0x6C00, 0x7800,
        0xB401, 0x5000, 0x9C01, 0x8801, 0x4400,
    ];
    let mut crc = 0u16;
    for &b in bytes {
        let mut tmp = T[usize::from(crc & 0xF)];
        crc = (crc >> 4) & 0x0FFF;
        crc = crc ^ tmp ^ T[usize::from(b & 0xF)];
        tmp = T[usize::from(crc & 0xF)];
        crc = (crc >> 4) & 0x0FFF;
        crc = crc ^ tmp ^ T[usize::from((b >> 4) & 0xF)];
    }
    crc
}

fn fit(inp: &mut Input) -> Vec<u8> {
    let ts0: u32 = 1_100_000_000;
    let mut d = Vec::new();
    def(&mut d, 0, 0, &[(0, 1, 0x00), (3, 4, 0x8C), (4, 4, 0x86)]);
    d.push(0);
    d.push(4);
    d.extend(3_900_000_001u32.to_le_bytes());
    d.extend(ts0.to_le_bytes());
    // Each field we read, with a base type the input picks.
    let mut pick = |inp: &mut Input, n: u8| {
        let (base, size) = BASE[usize::from(inp.byte()) % BASE.len()];
        (n, size, base)
    };
    let rec: Vec<(u8, u8, u8)> = [253, 3, 5, 13].iter().map(|&n| pick(inp, n)).collect();
    def(&mut d, 1, 20, &rec);
    for i in 0..120u32 {
        d.push(1);
        for &(n, size, base) in &rec {
            let normal = match n {
                253 => u64::from(ts0 + i),
                3 => 150,
                5 => u64::from(i * 300),
                _ => 18,
            };
            d.extend(value(inp, normal, base, size));
        }
    }
    let ses: Vec<(u8, u8, u8)> = [253, 2, 5, 7, 8, 9, 16, 17, 57, 24]
        .iter()
        .map(|&n| pick(inp, n))
        .collect();
    def(&mut d, 2, 18, &ses);
    d.push(2);
    for &(n, size, base) in &ses {
        let normal = match n {
            253 => u64::from(ts0 + 119),
            2 => u64::from(ts0),
            5 => 1,
            7 | 8 => 119_000,
            9 => 36_000,
            16 | 17 => 150,
            57 => 18,
            _ => 30,
        };
        d.extend(value(inp, normal, base, size));
    }
    let mut out = vec![14u8, 0x20];
    out.extend(2132u16.to_le_bytes());
    out.extend((d.len() as u32).to_le_bytes());
    out.extend(b".FIT");
    let h = crc16(&out);
    out.extend(h.to_le_bytes());
    out.extend(&d);
    let c = crc16(&out);
    out.extend(c.to_le_bytes());
    out
}

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let mut inp = Input(data);
    let bytes = match inp.byte() % 3 {
        0 => tcx(&mut inp),
        1 => gpx(&mut inp),
        _ => fit(&mut inp),
    };
    let limits = Limits {
        max_file_bytes: 16 * 1024 * 1024,
    };
    match recoverd::pipeline::parse_content(&bytes, limits) {
        Ok(Parsed::Activity(a)) => {
            let year = 366.0 * 86_400.0;
            assert!(a.elapsed_s.is_finite() && (0.0..=year).contains(&a.elapsed_s));
            assert!(a.moving_s.is_none_or(|m| m.is_finite() && (0.0..=year).contains(&m)));
            assert!(a.distance_m.is_none_or(|d| d.is_finite() && d > 0.0));
            assert!(a.avg_hr.is_none_or(|h| h.is_finite() && h > 0.0 && h <= 250.0));
            assert!(a.max_hr.is_none_or(|h| h.is_finite() && h > 0.0 && h <= 255.0));
            assert!(a.avg_temperature_c.is_none_or(f64::is_finite));
            assert!(a.hr.iter().all(|s| s.t.is_finite() && (0.0..=year).contains(&s.t)));
            assert!(a.end >= a.start);
        }
        Ok(Parsed::Skipped(r)) => assert!(!r.is_empty()),
        Ok(Parsed::Wellness(w)) => assert!(w.is_sane()),
        Err(e) => assert!(!e.message.is_empty()),
    }
});
