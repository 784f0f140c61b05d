//! Turning bytes into an [`Activity`]: format detection, the FIT/GPX/TCX readers, archives.
//!
//! Readers take bytes, never paths; [`read_path`] is the one thin wrapper that opens a file,
//! enforces the size cap and hashes the content. Parser types (fitparser, gpx, quick-xml) never
//! leave this module. Nothing here touches the database, the effort model or the clock.

pub mod archive;
pub mod content;
pub mod fit;
pub mod gpx;
pub mod sanity;
pub mod tcx;
pub mod wellness;
mod xml;

use std::fmt;
use std::io::Read;
use std::path::Path;

use sha2::{Digest, Sha256};

use crate::model::{Activity, Format};

/// What a file turned out to be.
#[derive(Debug)]
pub enum Parsed {
    /// A recorded activity.
    Activity(Box<Activity>),
    /// A wellness file (monitoring, HRV status): the night's signals.
    Wellness(Box<crate::wellness::Wellness>),
    /// A valid file that is not an activity (settings, sleep, a route): the reason says what.
    Skipped(String),
}

/// Why a file could not be read, in words a person can act on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IngestError {
    /// What kind of failure this is.
    pub kind: FailureKind,
    /// One sentence naming what is wrong and, where it helps, what to do.
    pub message: String,
}

/// The kinds of [`IngestError`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FailureKind {
    /// The file ends early: a copy may still be running. Retried when the file changes.
    Truncated,
    /// A FIT file that ends early, whose data up to the cut can be stored
    /// ([`read_cut_short`]) once it is clear no more is coming.
    CutShort,
    /// The content is damaged or not a format we read.
    Damaged,
    /// The file is larger than `max_file_mb`, or expands past the archive limits.
    TooLarge,
    /// The file could not be opened or read (permissions, vanished).
    Unreadable,
}

impl IngestError {
    pub(crate) fn truncated(message: String) -> Self {
        Self {
            kind: FailureKind::Truncated,
            message,
        }
    }
    pub(crate) fn damaged(message: String) -> Self {
        Self {
            kind: FailureKind::Damaged,
            message,
        }
    }
    pub(crate) fn too_large(message: String) -> Self {
        Self {
            kind: FailureKind::TooLarge,
            message,
        }
    }
    pub(crate) fn unreadable(message: String) -> Self {
        Self {
            kind: FailureKind::Unreadable,
            message,
        }
    }
}

impl fmt::Display for IngestError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for IngestError {}

/// Limits that hold whatever the input.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// Largest file read, in bytes (`max_file_mb`).
    pub max_file_bytes: u64,
}

/// The default `max_file_mb`. The whole file is held while it is parsed, and parsing a GPX or
/// a FIT takes up to about as much again: at 64 MB the peak stays near 200 MB, well inside the
/// service's `MemoryMax=512M`, while a real activity file is far smaller (a 24-hour 1 Hz GPX with
/// heart rate is about 20 MB, the same as FIT about 5 MB).
pub const DEFAULT_MAX_FILE_MB: u64 = 64;

/// Files above this size are read and parsed one at a time, whatever the number of workers, so
/// that two of them never add up past the memory limit.
pub const LARGE_FILE_BYTES: u64 = 16 * 1024 * 1024;

impl Default for Limits {
    fn default() -> Self {
        Self {
            max_file_bytes: DEFAULT_MAX_FILE_MB * 1024 * 1024,
        }
    }
}

/// What the content looks like, judged from its first bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Sniffed {
    /// An activity format.
    Format(Format),
    /// gzip-compressed content.
    Gzip,
    /// A zip archive.
    Zip,
    /// Something else.
    Unknown,
}

/// Detects the format from the content, not the name.
#[must_use]
pub fn sniff(bytes: &[u8]) -> Sniffed {
    if fit::looks_like_fit(bytes) {
        return Sniffed::Format(Format::Fit);
    }
    if bytes.starts_with(&[0x1f, 0x8b]) {
        return Sniffed::Gzip;
    }
    if bytes.starts_with(b"PK\x03\x04") || bytes.starts_with(b"PK\x05\x06") {
        return Sniffed::Zip;
    }
    match xml::root_element(bytes).as_deref() {
        Some("gpx") => Sniffed::Format(Format::Gpx),
        Some("TrainingCenterDatabase") => Sniffed::Format(Format::Tcx),
        _ => Sniffed::Unknown,
    }
}

/// True when a file name has one of the extensions we read (case-insensitive), including
/// compressed and archived forms.
#[must_use]
pub fn has_activity_extension(name: &Path) -> bool {
    let Some(name) = name
        .file_name()
        .map(|n| n.to_string_lossy().to_ascii_lowercase())
    else {
        return false;
    };
    let name = name.strip_suffix(".gz").unwrap_or(&name);
    [".fit", ".gpx", ".tcx", ".zip"]
        .iter()
        .any(|ext| name.ends_with(ext))
}

/// Reads one activity file held in memory (not an archive).
///
/// # Errors
/// [`IngestError`] when the content is not an activity format we read, or is damaged.
pub fn read_bytes(bytes: &[u8]) -> Result<Parsed, IngestError> {
    if bytes.is_empty() {
        return Err(IngestError::truncated(
            "the file is empty: the copy may still be running, or it was never written".into(),
        ));
    }
    let parsed = match sniff(bytes) {
        Sniffed::Format(Format::Fit) => fit::read(bytes),
        Sniffed::Format(Format::Gpx) => gpx::read(bytes),
        Sniffed::Format(Format::Tcx) => tcx::read(bytes),
        Sniffed::Gzip | Sniffed::Zip => Err(IngestError::damaged(
            "compressed content must be opened through the archive reader".into(),
        )),
        Sniffed::Unknown => {
            // XML whose root we could not find past a DTD: say why it is refused.
            let text = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
            if text.iter().find(|c| !c.is_ascii_whitespace()) == Some(&b'<') {
                xml::guard(bytes)?;
            }
            Err(IngestError::damaged(
                "not a FIT, GPX or TCX file: the content matches none of them".into(),
            ))
        }
    };
    checked(parsed?)
}

/// Every reader's numbers are checked in one place before anything downstream sees them.
fn checked(parsed: Parsed) -> Result<Parsed, IngestError> {
    match parsed {
        Parsed::Activity(a) => Ok(Parsed::Activity(Box::new(sanity::check(*a)?))),
        other @ (Parsed::Skipped(_) | Parsed::Wellness(_)) => Ok(other),
    }
}

/// [`read_bytes`] for a FIT file [`read_bytes`] found cut short: what its data holds up to the
/// cut, with a warning (see [`fit::read_cut_short`]). Other content is read as by [`read_bytes`].
///
/// # Errors
/// [`IngestError`] as [`read_bytes`].
pub fn read_cut_short(bytes: &[u8]) -> Result<Parsed, IngestError> {
    if sniff(bytes) == Sniffed::Format(Format::Fit) {
        checked(fit::read_cut_short(bytes)?)
    } else {
        read_bytes(bytes)
    }
}

/// A file's bytes and their SHA-256, read under the size cap.
#[derive(Debug)]
pub struct FileBytes {
    /// The content.
    pub bytes: Vec<u8>,
    /// Lowercase hex SHA-256 of the content.
    pub sha256: String,
}

/// Reads a file under the size cap and hashes it.
///
/// # Errors
/// [`IngestError`] (`TooLarge` or `Unreadable`).
pub fn read_path(path: &Path, limits: Limits) -> Result<FileBytes, IngestError> {
    let file = open_regular(path)?;
    let size = file.metadata().map(|m| m.len()).unwrap_or(0);
    if size > limits.max_file_bytes {
        return Err(too_large(size, limits));
    }
    let mut bytes = Vec::with_capacity(usize::try_from(size).unwrap_or(0));
    file.take(limits.max_file_bytes + 1)
        .read_to_end(&mut bytes)
        .map_err(|e| IngestError::unreadable(format!("cannot read the file: {e}")))?;
    if bytes.len() as u64 > limits.max_file_bytes {
        return Err(too_large(bytes.len() as u64, limits));
    }
    let sha256 = sha256_hex(&bytes);
    Ok(FileBytes { bytes, sha256 })
}

/// Opens a file for reading only when it is a regular file (a link to one included). The open
/// itself cannot block: `O_NONBLOCK` makes opening a FIFO return at once, and the type is then
/// checked on the open descriptor (`fstat`), so a file swapped for a FIFO or a device after an
/// earlier `stat` is refused too. Nothing is read before that check.
///
/// # Errors
/// `Unreadable` when it cannot be opened or is not a regular file.
pub fn open_regular(path: &Path) -> Result<std::fs::File, IngestError> {
    use std::os::unix::fs::OpenOptionsExt;
    let file = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NONBLOCK | libc::O_NOCTTY)
        .open(path)
        .map_err(|e| {
            IngestError::unreadable(format!("cannot open the file: {e}; check its permissions"))
        })?;
    let md = file
        .metadata()
        .map_err(|e| IngestError::unreadable(format!("cannot read the file: {e}")))?;
    if let Some(kind) = special_kind(&md.file_type()) {
        return Err(IngestError::unreadable(format!(
            "{kind}, not a regular file: not read"
        )));
    }
    Ok(file)
}

/// What a file that is not a regular file is, in words (`None` for a regular file).
#[must_use]
pub fn special_kind(ft: &std::fs::FileType) -> Option<&'static str> {
    use std::os::unix::fs::FileTypeExt;
    if ft.is_file() {
        None
    } else if ft.is_fifo() {
        Some("a named pipe (FIFO)")
    } else if ft.is_socket() {
        Some("a socket")
    } else if ft.is_char_device() || ft.is_block_device() {
        Some("a device")
    } else if ft.is_dir() {
        Some("a folder")
    } else {
        Some("a special file")
    }
}

fn too_large(size: u64, limits: Limits) -> IngestError {
    IngestError::too_large(format!(
        "the file is {} MB, over the {} MB limit (max_file_mb in the config)",
        size.div_ceil(1024 * 1024),
        limits.max_file_bytes / (1024 * 1024)
    ))
}

/// Lowercase hex SHA-256.
#[must_use]
pub fn sha256_hex(bytes: &[u8]) -> String {
    let digest = Sha256::digest(bytes);
    let mut out = String::with_capacity(64);
    for b in digest.iter() {
        out.push(char::from(b"0123456789abcdef"[usize::from(b >> 4)]));
        out.push(char::from(b"0123456789abcdef"[usize::from(b & 0xF)]));
    }
    out
}

/// Maps a free-text activity type (GPX `<type>`, TCX `Sport`, Strava's numbers) to our sport names.
#[must_use]
pub fn sport_from_text(text: &str) -> String {
    let t = text.trim().to_ascii_lowercase();
    let s = match t.as_str() {
        "9" | "run" | "running" | "trail run" | "trail_running" | "virtualrun" | "treadmill" => {
            "running"
        }
        "1" | "ride" | "biking" | "cycling" | "bike" | "mountain biking" | "mountainbikeride"
        | "virtualride" | "road_biking" | "gravelride" | "ebikeride" => "cycling",
        "2" | "swim" | "swimming" => "swimming",
        "10" | "walk" | "walking" => "walking",
        "4" | "hike" | "hiking" => "hiking",
        "rowing" | "rowing_v2" | "row" => "rowing",
        "weighttraining" | "strength" | "strength_training" => "training",
        _ if t.contains("run") => "running",
        _ if t.contains("bik") || t.contains("cycl") || t.contains("ride") => "cycling",
        _ if t.contains("swim") => "swimming",
        _ if t.contains("walk") => "walking",
        _ if t.contains("hik") => "hiking",
        _ => "generic",
    };
    s.to_string()
}

/// True when a name or description marks the activity as a race.
#[must_use]
pub fn name_marks_race(name: &str) -> bool {
    let n = name.to_lowercase();
    n.split(|c: char| !c.is_alphanumeric()).any(|w| {
        matches!(
            w,
            "race" | "marathon" | "parkrun" | "10k" | "5k" | "halbmarathon"
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sniffs_by_content() {
        assert_eq!(
            sniff(b"<?xml version=\"1.0\"?>\n<gpx version=\"1.1\">"),
            Sniffed::Format(Format::Gpx)
        );
        assert_eq!(
            sniff("\u{feff}  <?xml version=\"1.0\"?><!-- c --><TrainingCenterDatabase>".as_bytes()),
            Sniffed::Format(Format::Tcx)
        );
        assert_eq!(sniff(&[0x1f, 0x8b, 8, 0]), Sniffed::Gzip);
        assert_eq!(sniff(b"hello"), Sniffed::Unknown);
    }

    #[test]
    fn extensions_are_case_insensitive() {
        assert!(has_activity_extension(Path::new("/a/B.FIT")));
        assert!(has_activity_extension(Path::new("x.gpx.gz")));
        assert!(!has_activity_extension(Path::new("x.fit.tmp")));
        assert!(!has_activity_extension(Path::new("activities.csv")));
    }

    #[test]
    fn sports_from_text() {
        assert_eq!(sport_from_text("9"), "running");
        assert_eq!(sport_from_text("Running"), "running");
        assert_eq!(sport_from_text("mountain biking"), "cycling");
        assert_eq!(sport_from_text("Biking"), "cycling");
        assert_eq!(sport_from_text("Other"), "generic");
    }

    #[test]
    fn race_names() {
        assert!(name_marks_race("Berlin Marathon 2026"));
        assert!(name_marks_race("Saturday parkrun"));
        assert!(!name_marks_race("Easy run, embraced the rain"));
    }
}
