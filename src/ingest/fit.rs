//! FIT reader: bytes in, [`Activity`] (or a reason to skip) out.
//!
//! fitparser does the message framing (`FitStreamProcessor::deserialize_next`); we do the rest
//! ourselves, because the library's own checks are not enough for files that arrive while a
//! copy is still running:
//! - the file header and every chained segment's length are checked here before fitparser sees
//!   them (a crafted header makes fitparser panic, a file cut on a message boundary parses "fine");
//! - the data CRC is computed here, so a wrong CRC on data that decodes cleanly becomes a warning;
//! - the few message kinds we need are read from the raw fields by field number, with the FIT
//!   profile's scales applied here. Only `hr` and developer-field descriptions go through the
//!   profile decoder. This is several times faster than decoding every record.
//!
//! Nothing from fitparser leaves this module.

use std::collections::HashMap;
use std::panic::{AssertUnwindSafe, catch_unwind};

use chrono::{DateTime, TimeZone, Utc};
use fitparser::Value;
use fitparser::de::{DecodeOption, FitObject, FitStreamProcessor};
use fitparser::profile::{FieldDataType, get_field_variant_as_string};

use super::{IngestError, Parsed, sanity, wellness};
use crate::model::{Activity, Device, Format, HrSample, Leg, WatchFigures, hr_summary};

/// Seconds between the Unix epoch and the FIT epoch (1989-12-31T00:00:00Z).
const FIT_EPOCH: i64 = 631_065_600;
/// FIT timestamps below this are relative (seconds since the device powered on), not dates.
const FIT_MIN_ABSOLUTE: u32 = 0x1000_0000;
/// Most heart-rate samples kept from one file: a week at 4 Hz from records, at 3 beats a second
/// from `hr` messages. A file holding more is not one activity, and is refused as soon as it
/// is seen, so a crafted file cannot make the reader hold more than a few tens of MB.
const MAX_RECORD_SAMPLES: usize = 4 * 7 * 86_400;
const MAX_BEATS: usize = 3 * 7 * 86_400;

/// True when the bytes start like a FIT file (header size byte and the `.FIT` signature).
#[must_use]
pub fn looks_like_fit(bytes: &[u8]) -> bool {
    bytes.len() >= 12 && matches!(bytes[0], 12..=64) && &bytes[8..12] == b".FIT"
}

/// The start of the warning on an activity read from a FIT file cut short.
pub const CUT_SHORT: &str = "the FIT file is cut short";

/// Reads a FIT activity file.
///
/// # Errors
/// [`IngestError`] when the file is truncated, damaged beyond use or holds no activity data.
pub fn read(bytes: &[u8]) -> Result<Parsed, IngestError> {
    read_with(bytes, false)
}

/// Reads a FIT file cut short (a copy that stopped, a watch that lost power) for what its data
/// holds up to the cut, with a warning that starts with [`CUT_SHORT`]. A whole file reads as
/// with [`read`].
///
/// # Errors
/// [`IngestError`] as [`read`], and when nothing before the cut can be read.
pub fn read_cut_short(bytes: &[u8]) -> Result<Parsed, IngestError> {
    read_with(bytes, true)
}

fn read_with(bytes: &[u8], cut_short: bool) -> Result<Parsed, IngestError> {
    let mut acc = Accumulator::default();
    let mut pos = 0usize;
    let mut segments = 0usize;
    while pos < bytes.len() {
        match next_segment(bytes, pos, segments, cut_short, &mut acc)? {
            Some(end) => pos = end,
            None => break,
        }
        segments += 1;
        if acc.skipping() || acc.overflow {
            break;
        }
    }
    acc.finish()
}

/// Reads the segment (header, data, CRC) at `pos` into the accumulator: the position after it,
/// or `None` when reading stops here (with a warning on what was left).
fn next_segment(
    bytes: &[u8],
    pos: usize,
    segments: usize,
    cut_short: bool,
    acc: &mut Accumulator,
) -> Result<Option<usize>, IngestError> {
    let seg = match Segment::at(bytes, pos) {
        Ok(seg) => seg,
        Err(e) if segments == 0 => return Err(e),
        Err(_) => {
            let extra = bytes.len() - pos;
            acc.warn(format!(
                "{} bytes after the declared FIT data were ignored",
                group(extra as u64)
            ));
            return Ok(None);
        }
    };
    if segments == 0 && seg.data_end == seg.start + seg.header_size && bytes.len() > seg.end {
        return Err(IngestError::damaged(format!(
            "the FIT header declares no data, yet {} bytes follow: the file is damaged",
            group((bytes.len() - seg.end) as u64)
        )));
    }
    if seg.end > bytes.len() {
        if segments == 0 && cut_short {
            read_cut_segment(bytes, &seg, acc)?;
            return Ok(None);
        }
        if segments == 0 {
            return Err(IngestError::truncated(format!(
                "FIT file ends after {} of {} bytes: the copy may still be running, or the file is damaged",
                group(bytes.len() as u64),
                group(seg.end as u64)
            )));
        }
        acc.warn(format!(
            "chained FIT part {} ends after {} of {} bytes; kept the parts before it",
            segments + 1,
            group((bytes.len() - pos) as u64),
            group((seg.end - pos) as u64)
        ));
        return Ok(None);
    }
    if !seg.crc_ok(bytes) {
        acc.warn(format!(
            "FIT part {} has a wrong CRC; its data decoded and was kept",
            segments + 1
        ));
    }
    let before = acc.messages;
    match decode_guarded(&bytes[seg.start..seg.data_end], seg.header_size, acc) {
        Ok(Ok(())) => Ok(Some(seg.end)),
        Ok(Err(msg)) => {
            if segments == 0 && acc.messages == before && acc.records == 0 {
                return Err(IngestError::damaged(format!("FIT data is damaged: {msg}")));
            }
            acc.warn(format!(
                "FIT part {} stops being readable ({msg}); kept what came before",
                segments + 1
            ));
            Ok((segments == 0).then_some(seg.end))
        }
        Err(()) => {
            if segments == 0 && acc.messages == before {
                return Err(IngestError::damaged(
                    "FIT data is damaged: the decoder gave up on it".to_string(),
                ));
            }
            acc.warn(format!(
                "FIT part {} could not be decoded; kept what came before",
                segments + 1
            ));
            Ok(None)
        }
    }
}

/// The first segment of a file cut short: its data up to the cut, kept when records were read.
fn read_cut_segment(bytes: &[u8], seg: &Segment, acc: &mut Accumulator) -> Result<(), IngestError> {
    // Stops at the cut (inside a message, or at the end of one): either way what came before
    // was read whole.
    let _ = decode_guarded(&bytes[seg.start..], seg.header_size, acc);
    if acc.records == 0 {
        return Err(IngestError::truncated(format!(
            "FIT file ends after {} of {} bytes, before any record: the copy may still be running",
            group(bytes.len() as u64),
            group(seg.end as u64)
        )));
    }
    acc.warn(format!(
        "{CUT_SHORT}: it ends after {} of {} bytes; stored what it holds up to there",
        group(bytes.len() as u64),
        group(seg.end as u64)
    ));
    Ok(())
}

/// Decodes one segment's header and data under a panic guard (`Err(())`: the decoder panicked).
fn decode_guarded(
    raw: &[u8],
    header_size: usize,
    acc: &mut Accumulator,
) -> Result<Result<(), String>, ()> {
    let patched = quiet_definitions(raw, header_size);
    catch_unwind(AssertUnwindSafe(|| {
        decode_segment(patched.as_deref().unwrap_or(raw), acc)
    }))
    .map_err(|_| ())
}

/// Size in bytes of a FIT base type (by its number), for the types wider than a byte.
fn base_size(base: u8) -> usize {
    match base & 0x1F {
        3 | 4 | 11 => 2,
        5 | 6 | 8 | 12 => 4,
        9 | 14..=16 => 8,
        _ => 1,
    }
}

/// Field definitions whose size is not a multiple of their base type's size are decoded by
/// fitparser as byte arrays, after it prints a line to stderr for each: a crafted file could
/// fill the journal. Such definitions are marked as byte arrays here first (same decoding, no
/// output). Developer fields get no such check in fitparser: their values are read in steps of
/// the base type named by a `field_description` message, overshooting the field (and losing the
/// message framing) when the size does not divide. We use no developer data, so every
/// `field_description`'s base type is made a byte too: developer fields are then read exactly
/// as long as their definitions say. Returns a patched copy only when one was needed; walks the
/// messages until it cannot follow them.
fn quiet_definitions(seg: &[u8], header_size: usize) -> Option<Vec<u8>> {
    let mut patches = Vec::new();
    // Stops (None) where the stream cannot be followed; what was found before still counts.
    let _ = walk_definitions(seg, header_size, &mut patches);
    if patches.is_empty() {
        return None;
    }
    let mut copy = seg.to_vec();
    for p in patches {
        if let Some(b) = copy.get_mut(p) {
            *b = 0x0D; // byte
        }
    }
    Some(copy)
}

/// What the walker knows of a local message type: its data length, and for a
/// `field_description` (206) where its base type byte lies.
#[derive(Clone, Copy)]
struct Local {
    len: usize,
    dev_base_type_at: Option<usize>,
}

fn walk_definitions(seg: &[u8], header_size: usize, patches: &mut Vec<usize>) -> Option<()> {
    let mut locals: [Option<Local>; 16] = [None; 16];
    let mut pos = header_size;
    while pos < seg.len() {
        let h = seg[pos];
        if h & 0x40 != 0 && h & 0x80 == 0 {
            let big_endian = *seg.get(pos + 2)? == 1;
            let g = [*seg.get(pos + 3)?, *seg.get(pos + 4)?];
            let global = if big_endian {
                u16::from_be_bytes(g)
            } else {
                u16::from_le_bytes(g)
            };
            let n = usize::from(*seg.get(pos + 5)?);
            let mut len = 0;
            let mut dev_base_type_at = None;
            for i in 0..n {
                let f = pos + 6 + i * 3;
                let (num, size, base) = (
                    *seg.get(f)?,
                    usize::from(*seg.get(f + 1)?),
                    *seg.get(f + 2)?,
                );
                if size % base_size(base) != 0 {
                    patches.push(f + 2);
                }
                if global == 206 && num == 2 && size == 1 {
                    dev_base_type_at = Some(len);
                }
                len += size;
            }
            let mut end = pos + 6 + n * 3;
            if h & 0x20 != 0 {
                let nd = usize::from(*seg.get(end)?);
                for i in 0..nd {
                    len += usize::from(*seg.get(end + 1 + i * 3 + 1)?);
                }
                end += 1 + nd * 3;
            }
            locals[usize::from(h & 0x0F)] = Some(Local {
                len,
                dev_base_type_at,
            });
            pos = end;
        } else {
            // A data message, with a normal or a compressed-timestamp header.
            let local = if h & 0x80 != 0 {
                (h >> 5) & 0x03
            } else {
                h & 0x0F
            };
            let l = locals[usize::from(local)]?;
            if let Some(at) = l.dev_base_type_at {
                patches.push(pos + 1 + at);
            }
            pos += 1 + l.len;
        }
    }
    Some(())
}

/// A FIT header plus its declared data and CRC, located in the byte buffer.
struct Segment {
    start: usize,
    header_size: usize,
    data_end: usize,
    end: usize,
    header_crc: Option<u16>,
}

impl Segment {
    fn at(bytes: &[u8], start: usize) -> Result<Self, IngestError> {
        let b = &bytes[start..];
        if b.len() < 12 || &b[8..12] != b".FIT" {
            if b.len() < 12 && b".FIT".starts_with(b.get(8..).unwrap_or_default()) && !b.is_empty()
            {
                return Err(IngestError::truncated(format!(
                    "FIT file ends after {} bytes, inside its header: the copy may still be running",
                    b.len()
                )));
            }
            return Err(IngestError::damaged(
                "not a FIT file: the \".FIT\" signature is missing".to_string(),
            ));
        }
        let header_size = usize::from(b[0]);
        if header_size != 12 && header_size != 14 {
            return Err(IngestError::damaged(format!(
                "FIT header declares a size of {header_size} bytes; only 12 and 14 exist"
            )));
        }
        if b.len() < header_size {
            return Err(IngestError::truncated(format!(
                "FIT file ends after {} bytes, inside its {header_size}-byte header",
                b.len()
            )));
        }
        let data_size = u32::from_le_bytes([b[4], b[5], b[6], b[7]]) as usize;
        let header_crc = (header_size >= 14).then(|| u16::from_le_bytes([b[12], b[13]]));
        let data_end = start + header_size + data_size;
        Ok(Self {
            start,
            header_size,
            data_end,
            end: data_end + 2,
            header_crc,
        })
    }

    /// True when the stored data CRC matches (over header and data, or over data only, which some
    /// writers use when the header carries its own CRC). A stored CRC of 0 means "not computed".
    fn crc_ok(&self, bytes: &[u8]) -> bool {
        let stored = u16::from_le_bytes([bytes[self.data_end], bytes[self.data_end + 1]]);
        if stored == 0 {
            return true;
        }
        let header = &bytes[self.start..self.start + self.header_size];
        let data = &bytes[self.start + self.header_size..self.data_end];
        let after_header = crc16(0, header);
        if crc16(after_header, data) == stored {
            return true;
        }
        self.header_crc.is_some_and(|c| c != 0) && crc16(0, data) == stored
    }
}

/// FIT's CRC-16 (the SDK's nibble-table algorithm).
fn crc16(mut crc: u16, bytes: &[u8]) -> u16 {
    const TABLE: [u16; 16] = [
        0x0000, 0xCC01, 0xD801, 0x1400, 0xF001, 0x3C00, 0x2800, 0xE401, 0xA001, 0x6C00, 0x7800,
        0xB401, 0x5000, 0x9C01, 0x8801, 0x4400,
    ];
    for &byte in bytes {
        let mut tmp = TABLE[usize::from(crc & 0xF)];
        crc = (crc >> 4) & 0x0FFF;
        crc = crc ^ tmp ^ TABLE[usize::from(byte & 0xF)];
        tmp = TABLE[usize::from(crc & 0xF)];
        crc = (crc >> 4) & 0x0FFF;
        crc = crc ^ tmp ^ TABLE[usize::from((byte >> 4) & 0xF)];
    }
    crc
}

/// The time of a compressed-timestamp message: the 5-bit offset rolled over from the last full
/// timestamp. `None` past the end of FIT time (a damaged file; found by fuzzing).
fn compressed_timestamp(base: u32, off: u8) -> Option<u32> {
    let off = u32::from(off & 0x1F);
    let v = (base & !0x1F) | off;
    if off < (base & 0x1F) {
        v.checked_add(0x20)
    } else {
        Some(v)
    }
}

fn processor() -> FitStreamProcessor {
    let mut proc = FitStreamProcessor::new();
    proc.add_option(DecodeOption::SkipHeaderCrcValidation);
    proc.add_option(DecodeOption::SkipDataCrcValidation);
    proc
}

/// Decodes one segment (header and data, without the trailing CRC) into the accumulator.
fn decode_segment(seg: &[u8], acc: &mut Accumulator) -> Result<(), String> {
    let mut proc = processor();
    let mut input = seg;
    let mut last_ts: Option<u32> = None;
    while !input.is_empty() {
        let (rest, obj) = proc.deserialize_next(input).map_err(|e| describe(&e))?;
        let consumed = input.len() - rest.len();
        input = rest;
        if consumed == 0 {
            return Err("the decoder made no progress".to_string());
        }
        let FitObject::DataMessage(msg) = obj else {
            continue;
        };
        acc.messages += 1;
        if acc.overflow {
            return Ok(()); // refused in `finish`; nothing after this matters
        }
        let fields = msg.fields();
        let ts = match fields.get(&253).and_then(uint) {
            Some(t) => u32::try_from(t).ok(),
            None => msg
                .time_offset()
                .and_then(|off| last_ts.and_then(|base| compressed_timestamp(base, off))),
        };
        if ts.is_some() {
            last_ts = ts;
        }
        let global = msg.global_message_number();
        if let Some(w) = acc.wellness.as_deref_mut()
            && !matches!(global, 0 | 206 | 207)
        {
            w.message(global, fields, ts);
            acc.records += 1;
            continue;
        }
        match global {
            0 => {
                acc.file_id(fields);
                if acc.skipping() {
                    // Monitoring, sleep, settings...: skipped, so read no further (cheap on a
                    // Garmin export, where most files are such).
                    return Ok(());
                }
            }
            3 => acc.watch.resting_hr = acc.watch.resting_hr.or(field_u16(fields, 8)),
            7 => {
                acc.watch.max_hr = acc.watch.max_hr.or(field_u16(fields, 1));
                acc.watch.threshold_hr = acc.watch.threshold_hr.or(field_u16(fields, 2));
            }
            18 => acc.session(fields),
            20 => acc.record(fields, ts),
            21 => acc.event(fields),
            34 => acc.activity(fields, ts),
            140 => {
                if let Some(min) = fields.get(&9).and_then(uint) {
                    acc.set_recovery(min);
                }
            }
            132 => acc.hr_raw(fields, ts),
            206 | 207 => {
                // Developer-field descriptions: the framing of later messages depends on them.
                proc.decode_message(msg).map_err(|e| describe(&e))?;
            }
            _ => {}
        }
    }
    Ok(())
}

fn describe(e: &fitparser::Error) -> String {
    use fitparser::ErrorKind as K;
    match e.as_ref() {
        K::MissingDefinitionMessage(local, pos) => format!(
            "a data message at byte {} uses local type {local}, which was never defined",
            group(*pos as u64)
        ),
        K::UnexpectedEof(_) => "the data ends inside a message".to_string(),
        K::ParseError(pos, kind) => {
            format!(
                "unreadable message at byte {} ({kind:?})",
                group(*pos as u64)
            )
        }
        other => other.to_string(),
    }
}

/// One FIT session as read.
struct Session {
    start: Option<u32>,
    sport: Option<u64>,
    sub_sport: Option<u64>,
    elapsed_s: Option<f64>,
    timer_s: Option<f64>,
    distance_m: Option<f64>,
    avg_hr: Option<f64>,
    max_hr: Option<f64>,
    avg_temp: Option<f64>,
    training_effect: Option<f64>,
}

#[derive(Default)]
struct Accumulator {
    messages: usize,
    records: usize,
    file_type: Option<u64>,
    manufacturer: Option<u64>,
    product: Option<u64>,
    serial: Option<u32>,
    time_created: Option<u32>,
    sessions: Vec<Session>,
    /// (timestamp, heart rate) from `record` messages.
    record_hr: Vec<(u32, u16)>,
    /// (timestamp in seconds, heart rate) from `hr` messages (swims with a chest strap).
    hr_msgs: Vec<(f64, u16)>,
    hr_anchor: Option<(f64, f64)>,
    hr_last_event: Option<u32>,
    first_record_ts: Option<u32>,
    last_record_ts: Option<u32>,
    last_record_distance: Option<f64>,
    temp_sum: f64,
    temp_n: u32,
    activity_ts: Option<u32>,
    utc_offset_s: Option<i32>,
    watch: WatchFigures,
    warnings: Vec<String>,
    backwards: usize,
    /// More samples than one activity can hold (see [`MAX_RECORD_SAMPLES`]).
    overflow: bool,
    /// Set when `file_id.type` names a wellness file: its messages go there instead.
    wellness: Option<Box<wellness::Reader>>,
}

impl Accumulator {
    fn warn(&mut self, w: String) {
        if !self.warnings.contains(&w) {
            self.warnings.push(w);
        }
    }

    /// `file_id.type` names something other than an activity.
    fn not_activity(&self) -> bool {
        self.file_type.is_some_and(|t| t != 4)
    }

    /// `file_id.type` names a file we do not read (neither an activity nor a wellness file).
    fn skipping(&self) -> bool {
        self.not_activity() && self.wellness.is_none()
    }

    fn file_id(&mut self, f: &HashMap<u8, Value>) {
        // A chained file repeats file_id per part; the first one names the file.
        if self.file_type.is_some() {
            return;
        }
        self.file_type = f.get(&0).and_then(uint);
        self.wellness = self
            .file_type
            .and_then(wellness::kind_of)
            .map(|k| Box::new(wellness::Reader::new(k)));
        self.manufacturer = f.get(&1).and_then(uint);
        self.product = f.get(&2).and_then(uint);
        self.serial = f.get(&3).and_then(uint).and_then(|v| u32::try_from(v).ok());
        self.time_created = f
            .get(&4)
            .and_then(uint)
            .and_then(|v| u32::try_from(v).ok())
            .filter(|&v| v >= FIT_MIN_ABSOLUTE);
    }

    fn session(&mut self, f: &HashMap<u8, Value>) {
        let start = f
            .get(&2)
            .and_then(uint)
            .and_then(|v| u32::try_from(v).ok())
            .filter(|&v| v >= FIT_MIN_ABSOLUTE);
        let te = f.get(&24).and_then(uint).map(|v| v as f64 / 10.0);
        self.sessions.push(Session {
            start,
            sport: f.get(&5).and_then(uint),
            sub_sport: f.get(&6).and_then(uint),
            elapsed_s: f.get(&7).and_then(uint).map(|v| v as f64 / 1000.0),
            timer_s: f.get(&8).and_then(uint).map(|v| v as f64 / 1000.0),
            distance_m: f.get(&9).and_then(uint).map(|v| v as f64 / 100.0),
            avg_hr: f
                .get(&16)
                .and_then(uint)
                .map(|v| v as f64)
                .filter(|&v| v > 0.0),
            max_hr: f
                .get(&17)
                .and_then(uint)
                .map(|v| v as f64)
                .filter(|&v| v > 0.0),
            avg_temp: f.get(&57).and_then(sint).map(|v| v as f64),
            training_effect: te.filter(|v| (1.0..=5.0).contains(v)),
        });
    }

    fn record(&mut self, f: &HashMap<u8, Value>, ts: Option<u32>) {
        self.records += 1;
        let Some(ts) = ts.filter(|&v| v >= FIT_MIN_ABSOLUTE) else {
            return;
        };
        if let Some(last) = self.last_record_ts
            && ts < last
        {
            self.backwards += 1;
            return;
        }
        self.first_record_ts.get_or_insert(ts);
        self.last_record_ts = Some(ts);
        if let Some(hr) = f.get(&3).and_then(uint) {
            if self.record_hr.len() >= MAX_RECORD_SAMPLES {
                self.overflow = true;
                return;
            }
            self.record_hr
                .push((ts, u16::try_from(hr).unwrap_or(u16::MAX)));
        }
        if let Some(d) = f.get(&5).and_then(uint) {
            self.last_record_distance = Some(d as f64 / 100.0);
        }
        if let Some(t) = f.get(&13).and_then(sint) {
            self.temp_sum += t as f64;
            self.temp_n += 1;
        }
    }

    fn event(&mut self, f: &HashMap<u8, Value>) {
        // Event 38: the watch's recovery-time advice, in minutes (Runalyze reads it the same way).
        if f.get(&0).and_then(uint) == Some(38)
            && let Some(min) = f
                .get(&3)
                .and_then(uint)
                .or_else(|| f.get(&2).and_then(uint))
        {
            self.set_recovery(min);
        }
    }

    fn set_recovery(&mut self, min: u64) {
        // 0 means "none"; more than 7 days is not a recovery time.
        if (1..=7 * 24 * 60).contains(&min) {
            self.watch.recovery_time_min = u32::try_from(min).ok();
        }
    }

    fn activity(&mut self, f: &HashMap<u8, Value>, ts: Option<u32>) {
        let ts = ts.filter(|&v| v >= FIT_MIN_ABSOLUTE);
        self.activity_ts = ts.or(self.activity_ts);
        let local = f.get(&5).and_then(uint).and_then(|v| i64::try_from(v).ok());
        if let (Some(ts), Some(local)) = (ts, local) {
            let diff = local - i64::from(ts);
            // Offsets are whole quarter hours; allow a device that stamped the two a little apart.
            if diff.abs() <= 14 * 3600 {
                let quarter = (diff as f64 / 900.0).round() as i64 * 900;
                if (diff - quarter).abs() <= 120 {
                    self.utc_offset_s = i32::try_from(quarter).ok();
                }
            }
        }
    }

    /// An `hr` message (HRM-Swim/Tri straps): beats with their own 1/1024-s event timestamps,
    /// packed as 12-bit deltas after the first. fitparser's accumulation of those is wrong, so
    /// they are unpacked here; a message with a `timestamp` anchors event time to UTC.
    fn hr_raw(&mut self, f: &HashMap<u8, Value>, ts: Option<u32>) {
        let bpm: Vec<u16> = match f.get(&6) {
            Some(Value::Array(a)) => a
                .iter()
                .filter_map(uint)
                .filter_map(|v| u16::try_from(v).ok())
                .collect(),
            Some(v) => uint(v)
                .and_then(|v| u16::try_from(v).ok())
                .into_iter()
                .collect(),
            None => Vec::new(),
        };
        let mut events: Vec<u32> = Vec::new();
        match f.get(&9) {
            Some(Value::Array(a)) => events.extend(
                a.iter()
                    .filter_map(uint)
                    .filter_map(|v| u32::try_from(v).ok()),
            ),
            Some(v) => events.extend(uint(v).and_then(|v| u32::try_from(v).ok())),
            None => {}
        }
        if events.is_empty()
            && let (Some(Value::Array(bytes)), Some(mut last)) = (f.get(&10), self.hr_last_event)
        {
            let raw: Vec<u8> = bytes
                .iter()
                .filter_map(uint)
                .filter_map(|v| u8::try_from(v).ok())
                .collect();
            let mut packed: u128 = 0;
            for (i, b) in raw.iter().take(16).enumerate() {
                packed |= u128::from(*b) << (8 * i);
            }
            for i in 0..bpm.len().min(raw.len() * 8 / 12) {
                let v = ((packed >> (12 * i)) & 0xFFF) as u32;
                let mut next = (last & !0xFFF) | v;
                if next < last {
                    next = next.wrapping_add(0x1000);
                }
                events.push(next);
                last = next;
            }
        }
        let Some(&last) = events.last() else { return };
        self.hr_last_event = Some(last);
        if let (Some(ts), Some(&first)) = (ts.filter(|&t| t >= FIT_MIN_ABSOLUTE), events.first()) {
            let frac = f.get(&0).and_then(uint).map_or(0.0, |v| v as f64 / 32768.0);
            self.hr_anchor = Some((
                f64::from(ts) + FIT_EPOCH as f64 + frac,
                f64::from(first) / 1024.0,
            ));
        }
        let Some((anchor_ts, anchor_ev)) = self.hr_anchor else {
            return;
        };
        if self.hr_msgs.len() + events.len() > MAX_BEATS {
            self.overflow = true;
            return;
        }
        for (ev, bpm) in events.iter().zip(bpm) {
            self.hr_msgs
                .push((anchor_ts + (f64::from(*ev) / 1024.0 - anchor_ev), bpm));
        }
    }

    fn finish(mut self) -> Result<Parsed, IngestError> {
        if let Some(not_one) = self.not_one_activity()? {
            return Ok(not_one);
        }
        if self.backwards > 0 {
            self.warn(format!(
                "{} records went back in time and were left out",
                self.backwards
            ));
        }
        let times = self.times()?;
        let timer: f64 = self.sessions.iter().filter_map(|s| s.timer_s).sum();
        let distance: f64 = self.sessions.iter().filter_map(|s| s.distance_m).sum();
        let distance_m = if distance > 0.0 {
            Some(distance)
        } else {
            self.last_record_distance.filter(|d| *d > 0.0)
        };
        let (hr, avg_hr, max_hr) = self.heart_rate(times.start_raw);
        let (sport, sub_sport, legs) = self.sports(times.start);
        self.watch.total_training_effect = self.sessions.iter().find_map(|s| s.training_effect);
        let avg_temperature_c = if self.temp_n > 0 {
            Some(self.temp_sum / f64::from(self.temp_n))
        } else {
            self.sessions.iter().find_map(|s| s.avg_temp)
        };
        Ok(Parsed::Activity(Box::new(Activity {
            format: Format::Fit,
            sport,
            sub_sport,
            name: None,
            start: times.start,
            end: times.end.max(times.start),
            utc_offset_s: self.utc_offset_s,
            elapsed_s: times.elapsed_s,
            moving_s: (timer > 0.0).then_some(timer),
            distance_m,
            avg_hr,
            max_hr,
            avg_temperature_c,
            hr,
            legs,
            device: self.device(),
            time_created: self.time_created.and_then(fit_time),
            watch: self.watch,
            marked_race: false,
            warnings: self.warnings,
        })))
    }

    /// What the file is when it is not one activity: a skip (another file type) or an error.
    fn not_one_activity(&mut self) -> Result<Option<Parsed>, IngestError> {
        if self.overflow && !self.not_activity() {
            return Err(IngestError::damaged(format!(
                "the FIT holds more than {} heart-rate samples, more than a week of recording: \
                 not one real activity; refused",
                group(MAX_RECORD_SAMPLES as u64)
            )));
        }
        if let Some(w) = self.wellness.take() {
            let mut w = w.finish(self.time_created);
            if w.is_empty() {
                let name = file_type_name(self.file_type.unwrap_or_default());
                return Ok(Some(Parsed::Skipped(format!(
                    "FIT file of type {name}, not an activity, with no heart rate or HRV to store"
                ))));
            }
            let mut warnings = std::mem::take(&mut self.warnings);
            warnings.append(&mut w.warnings);
            w.warnings = warnings;
            return Ok(Some(Parsed::Wellness(Box::new(w))));
        }
        match self.file_type {
            Some(4) => {}
            Some(t) => {
                let name = file_type_name(t);
                return Ok(Some(Parsed::Skipped(format!(
                    "FIT file of type {name}, not an activity"
                ))));
            }
            None if self.sessions.is_empty() && self.records == 0 => {
                return Err(IngestError::damaged(
                    "FIT file holds no file_id, session or record: nothing to import".to_string(),
                ));
            }
            None => self.warn("FIT file has no file_id message; read as an activity".into()),
        }
        Ok(None)
    }

    /// Start, end and elapsed time, every step checked: a session can declare any elapsed time.
    fn times(&self) -> Result<Times, IngestError> {
        let session_start = self.sessions.iter().filter_map(|s| s.start).min();
        let start_raw = session_start
            .or(self.first_record_ts)
            .or(self.activity_ts)
            .ok_or_else(|| {
                IngestError::damaged("FIT activity has no valid start time".to_string())
            })?;
        let start = fit_time(start_raw)
            .ok_or_else(|| IngestError::damaged("FIT start time is out of range".to_string()))?;
        let elapsed_sessions: f64 = self.sessions.iter().filter_map(|s| s.elapsed_s).sum();
        let record_span = match (self.first_record_ts, self.last_record_ts) {
            (Some(a), Some(b)) => f64::from(b - a),
            _ => 0.0,
        };
        let elapsed_s = if elapsed_sessions > 0.0 {
            elapsed_sessions
        } else {
            record_span
        };
        let session_end = self
            .sessions
            .iter()
            .filter_map(|s| s.start.zip(s.elapsed_s))
            .map(|(st, el)| f64::from(st) + el)
            .fold(None, |m: Option<f64>, v| Some(m.map_or(v, |m| m.max(v))));
        let end_raw = session_end.unwrap_or(f64::from(start_raw) + elapsed_s);
        sanity::span(elapsed_s, "duration")?;
        let end = start
            .checked_add_signed(sanity::span(
                end_raw - f64::from(start_raw),
                "the time from start to end,",
            )?)
            .ok_or_else(|| IngestError::damaged("the FIT end time is out of range".into()))?;
        Ok(Times {
            start_raw,
            start,
            end,
            elapsed_s,
        })
    }

    /// The heart-rate stream and its average and maximum (the sessions' when no stream).
    fn heart_rate(&mut self, start_raw: u32) -> (Vec<HrSample>, Option<f64>, Option<f64>) {
        let plausible = |b: &u16| (30..=250).contains(b);
        let record_plausible = self.record_hr.iter().filter(|(_, b)| plausible(b)).count();
        let msgs_plausible = self.hr_msgs.iter().filter(|(_, b)| plausible(b)).count();
        // Swims with a chest strap keep heart rate in `hr` messages; use whichever source is richer.
        let (mut hr, summary) = if record_plausible < 30 && msgs_plausible > record_plausible {
            self.hr_msgs
                .sort_by(|a, b| a.0.partial_cmp(&b.0).unwrap_or(std::cmp::Ordering::Equal));
            let origin = f64::from(start_raw) + FIT_EPOCH as f64;
            let hr: Vec<HrSample> = self
                .hr_msgs
                .iter()
                .filter(|(t, _)| *t >= origin)
                .map(|&(t, bpm)| HrSample { t: t - origin, bpm })
                .collect();
            let summary = hr_summary(self.hr_msgs.iter().map(|h| h.1));
            (hr, summary)
        } else {
            let hr: Vec<HrSample> = self
                .record_hr
                .iter()
                .filter(|(ts, _)| *ts >= start_raw)
                .map(|&(ts, bpm)| HrSample {
                    t: f64::from(ts - start_raw),
                    bpm,
                })
                .collect();
            (hr, hr_summary(self.record_hr.iter().map(|h| h.1)))
        };
        // A stream of only zeros (or other impossible values) means "no heart rate".
        let has_hr = hr.iter().any(|s| plausible(&s.bpm));
        if !has_hr {
            hr.clear();
        }
        let (avg_hr, max_hr) = match summary.filter(|_| has_hr) {
            Some((a, m)) => (Some(a), Some(m)),
            None => (
                self.sessions.iter().find_map(|s| s.avg_hr),
                self.sessions
                    .iter()
                    .filter_map(|s| s.max_hr)
                    .reduce(f64::max),
            ),
        };
        (hr, avg_hr, max_hr)
    }

    /// Sport and sub-sport; for a multisport file, its legs.
    fn sports(&self, start: DateTime<Utc>) -> (String, Option<String>, Vec<Leg>) {
        let sport_of = |s: &Session| {
            s.sport.map_or_else(
                || "generic".to_string(),
                |v| name_of(FieldDataType::Sport, v),
            )
        };
        let sub_of = |s: &Session| {
            s.sub_sport
                .filter(|&v| v != 0)
                .map(|v| name_of(FieldDataType::SubSport, v))
        };
        let multisport = self.sessions.len() > 1;
        let (sport, sub_sport) = match self.sessions.first() {
            Some(_) if multisport => ("multisport".to_string(), None),
            Some(s) => (sport_of(s), sub_of(s)),
            None => ("generic".to_string(), None),
        };
        let legs = if multisport {
            self.sessions
                .iter()
                .map(|s| Leg {
                    sport: sport_of(s),
                    sub_sport: sub_of(s),
                    start: s.start.and_then(fit_time).unwrap_or(start),
                    elapsed_s: s.elapsed_s.unwrap_or(0.0),
                    distance_m: s.distance_m,
                })
                .collect()
        } else {
            Vec::new()
        };
        (sport, sub_sport, legs)
    }

    fn device(&self) -> Device {
        let manufacturer = self
            .manufacturer
            .map(|m| name_of(FieldDataType::Manufacturer, m));
        let product = self.product.map(|p| {
            if self.manufacturer == Some(1) {
                name_of(FieldDataType::GarminProduct, p)
            } else {
                p.to_string()
            }
        });
        Device {
            manufacturer,
            product,
            serial: self.serial,
        }
    }
}

/// An activity's times as read.
struct Times {
    start_raw: u32,
    start: DateTime<Utc>,
    end: DateTime<Utc>,
    elapsed_s: f64,
}

/// A `file_id.type`'s name: the FIT profile's, or Garmin's for the wellness types newer than
/// the profile fitparser carries (`sleep`, `hrv_status`), else the number.
fn file_type_name(t: u64) -> String {
    match t {
        49 => "sleep".into(),
        68 => "hrv_status".into(),
        _ => {
            let name = name_of(FieldDataType::File, t);
            if name.starts_with("unknown") {
                format!("{t} (unknown)")
            } else {
                name
            }
        }
    }
}

/// A FIT profile value's name (`running`, `garmin`, ...).
fn name_of(t: FieldDataType, v: u64) -> String {
    get_field_variant_as_string(t, v as i64)
}

fn field_u16(f: &HashMap<u8, Value>, n: u8) -> Option<u16> {
    f.get(&n)
        .and_then(uint)
        .and_then(|v| u16::try_from(v).ok())
        .filter(|&v| v > 0)
}

/// An unsigned integer from a raw FIT value (the parser has already dropped invalid values).
fn uint(v: &Value) -> Option<u64> {
    match v {
        Value::UInt8(x) | Value::UInt8z(x) | Value::Byte(x) | Value::Enum(x) => Some(u64::from(*x)),
        Value::UInt16(x) | Value::UInt16z(x) => Some(u64::from(*x)),
        Value::UInt32(x) | Value::UInt32z(x) => Some(u64::from(*x)),
        Value::UInt64(x) | Value::UInt64z(x) => Some(*x),
        Value::SInt8(x) => u64::try_from(*x).ok(),
        Value::SInt16(x) => u64::try_from(*x).ok(),
        Value::SInt32(x) => u64::try_from(*x).ok(),
        Value::SInt64(x) => u64::try_from(*x).ok(),
        Value::Array(a) => a.first().and_then(uint),
        _ => None,
    }
}

fn sint(v: &Value) -> Option<i64> {
    match v {
        Value::SInt8(x) => Some(i64::from(*x)),
        Value::SInt16(x) => Some(i64::from(*x)),
        Value::SInt32(x) => Some(i64::from(*x)),
        other => uint(other).and_then(|u| i64::try_from(u).ok()),
    }
}

/// 84211 → "84,211".
pub(crate) fn group(n: u64) -> String {
    let s = n.to_string();
    let mut out = String::with_capacity(s.len() + s.len() / 3);
    for (i, c) in s.chars().enumerate() {
        if i > 0 && (s.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// FIT timestamp (seconds since the FIT epoch) to UTC.
#[must_use]
fn fit_time(t: u32) -> Option<DateTime<Utc>> {
    Utc.timestamp_opt(i64::from(t) + FIT_EPOCH, 0).single()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn compressed_timestamps_roll_over_and_stop_at_the_end_of_fit_time() {
        assert_eq!(compressed_timestamp(1000, 10), Some(1002)); // 1000 = 31·32 + 8
        assert_eq!(compressed_timestamp(1000, 5), Some(1029)); // rolled over
        assert_eq!(compressed_timestamp(1000, 8), Some(1000));
        assert_eq!(compressed_timestamp(u32::MAX, 31), Some(u32::MAX));
        assert_eq!(compressed_timestamp(u32::MAX, 3), None);
    }

    #[test]
    fn groups_thousands() {
        assert_eq!(group(84_211), "84,211");
        assert_eq!(group(120_000), "120,000");
        assert_eq!(group(12), "12");
        assert_eq!(group(1_000_000), "1,000,000");
    }

    #[test]
    fn crc_is_crc16_arc_by_its_check_value() {
        // FIT's CRC is CRC-16/ARC (poly 0x8005 reflected, init 0): its catalogued check value.
        assert_eq!(crc16(0, b"123456789"), 0xBB3D);
        assert_eq!(crc16(0, b""), 0);
    }

    #[test]
    fn crc_of_known_bytes() {
        // The FIT SDK's CRC of the 12 header bytes of a file with data_size 0.
        let hdr = [12u8, 16, 0x64, 0, 0, 0, 0, 0, b'.', b'F', b'I', b'T'];
        let a = crc16(0, &hdr);
        let b = crc16(crc16(0, &hdr[..5]), &hdr[5..]);
        assert_eq!(a, b, "the CRC must be computable in pieces");
        assert_ne!(a, 0);
    }

    #[test]
    fn crafted_header_is_an_error_not_a_panic() {
        let mut b = vec![255u8, 16, 0, 0, 10, 0, 0, 0, b'.', b'F', b'I', b'T', 0, 0];
        b.extend_from_slice(&[0; 10]);
        assert!(read(&b).is_err());
        assert!(read(&[3, 1, 2, 3, 4]).is_err());
    }
}
