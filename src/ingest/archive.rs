//! Zip archives (nested too) read member by member, and the index of a Strava bulk export.
//!
//! A member is read only when its name is an activity file's; its bytes are bounded by the size
//! limit whatever the archive claims (a zip bomb stops at the limit). A member's path is the
//! archive's path joined with the member's sanitised name, so `files` names both.

use std::collections::HashMap;
use std::io::{Read, Seek};
use std::path::{Path, PathBuf};

use super::{FailureKind, IngestError, Limits, has_activity_extension};

/// Zips inside zips are opened this deep, no deeper.
const MAX_DEPTH: usize = 4;
/// Most of an `activities.csv` read: 64 MB (a real one with 10,000 activities and their
/// descriptions is a few MB). The rest of a larger one is ignored.
const MAX_INDEX_BYTES: u64 = 64 * 1024 * 1024;
/// Most rows taken from an `activities.csv`, and the longest name kept: the index stays a few
/// tens of MB whatever the file holds.
const MAX_INDEX_ROWS: usize = 100_000;
const MAX_NAME_CHARS: usize = 200;

/// What an export's index says about one file.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Hint {
    /// The activity's name (Strava "Activity Name").
    pub name: Option<String>,
    /// Its type as the user set it (Strava "Activity Type"), mapped to our sport names.
    pub sport: Option<String>,
    /// The file is a planned route, not a recording (Strava `routes/`).
    pub route: bool,
}

/// Strava's `activities.csv`: names and types by the file's path relative to the export root.
#[derive(Clone, Debug, Default)]
pub struct StravaIndex {
    by_file: HashMap<String, Hint>,
}

impl StravaIndex {
    /// Reads `activities.csv`. Rows without a file (manual entries) are left out; a damaged
    /// row is skipped, not fatal.
    #[must_use]
    pub fn read(reader: impl Read) -> Self {
        let reader = reader.take(MAX_INDEX_BYTES);
        let mut rdr = csv::ReaderBuilder::new().flexible(true).from_reader(reader);
        let Ok(headers) = rdr.headers().cloned() else {
            return Self::default();
        };
        let col = |name: &str| headers.iter().position(|h| h.trim() == name);
        let (Some(file), name, kind) =
            (col("Filename"), col("Activity Name"), col("Activity Type"))
        else {
            return Self::default();
        };
        let mut by_file = HashMap::new();
        for row in rdr.records().flatten() {
            if by_file.len() >= MAX_INDEX_ROWS {
                break;
            }
            let Some(f) = row
                .get(file)
                .map(str::trim)
                .filter(|f| !f.is_empty() && f.len() <= 4096)
            else {
                continue;
            };
            let text = |i: Option<usize>| {
                i.and_then(|i| row.get(i))
                    .map(str::trim)
                    .filter(|s| !s.is_empty())
                    .map(|s| s.chars().take(MAX_NAME_CHARS).collect::<String>())
            };
            by_file.insert(
                f.to_string(),
                Hint {
                    name: text(name),
                    sport: text(kind).map(|k| super::sport_from_text(&k)),
                    route: false,
                },
            );
        }
        Self { by_file }
    }

    /// The hint for a path relative to the export root (`activities/123.fit.gz`); routes
    /// (`routes/…`) are marked as such.
    #[must_use]
    pub fn hint(&self, relative: &str) -> Option<Hint> {
        if relative.starts_with("routes/") {
            return Some(Hint {
                route: true,
                ..Hint::default()
            });
        }
        self.by_file.get(relative).cloned()
    }

    /// Reads the `activities.csv` of an unpacked export: only a regular file, opened without
    /// blocking, and at most its first 64 MB. `None` when there is none to read.
    #[must_use]
    pub fn read_file(path: &Path) -> Option<Self> {
        let file = super::open_regular(path).ok()?;
        Some(Self::read(std::io::BufReader::new(file)))
    }

    /// Number of files it names.
    #[must_use]
    pub fn len(&self) -> usize {
        self.by_file.len()
    }

    /// True when it names no file.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.by_file.is_empty()
    }
}

/// One member of an archive, read (or refused) under the limits.
#[derive(Debug)]
pub struct Member {
    /// `archive path / member name`.
    pub path: PathBuf,
    /// Uncompressed size as read (or as declared, when refused).
    pub size: u64,
    /// The bytes, or why they could not be had.
    pub bytes: Result<Vec<u8>, IngestError>,
    /// What the export's index says about it.
    pub hint: Hint,
    /// Why it was not read although its name is an activity file's (a name escaping the
    /// archive).
    pub skipped: Option<String>,
}

trait ReadSeek: Read + Seek + Send {}
impl<T: Read + Seek + Send> ReadSeek for T {}

struct Level {
    zip: zip::ZipArchive<Box<dyn ReadSeek>>,
    path: PathBuf,
    next: usize,
    strava: Option<(String, StravaIndex)>,
}

/// The activity members of a zip archive and of the zips inside it, one at a time.
pub struct Members {
    stack: Vec<Level>,
    limits: Limits,
}

impl Members {
    /// Opens an archive.
    ///
    /// # Errors
    /// [`IngestError`] when it is not a readable zip.
    pub fn open<R: Read + Seek + Send + 'static>(
        reader: R,
        path: &Path,
        limits: Limits,
    ) -> Result<Self, IngestError> {
        let level = open_level(Box::new(reader), path, limits)?;
        Ok(Self {
            stack: vec![level],
            limits,
        })
    }
}

/// The number of activity members at the top level of an archive (nested archives count once),
/// from its central directory alone: a cheap estimate for progress. `None` when not a zip.
pub fn count_members(reader: impl Read + Seek) -> Option<usize> {
    let zip = zip::ZipArchive::new(reader).ok()?;
    Some(
        zip.file_names()
            .flatten()
            .filter(|n| has_activity_extension(Path::new(n.as_ref())))
            .count(),
    )
}

fn open_level(
    reader: Box<dyn ReadSeek>,
    path: &Path,
    limits: Limits,
) -> Result<Level, IngestError> {
    let mut zip = zip::ZipArchive::new(reader)
        .map_err(|e| IngestError::damaged(format!("the zip archive cannot be read: {e}")))?;
    let strava = strava_index(&mut zip, limits);
    Ok(Level {
        zip,
        path: path.to_path_buf(),
        next: 0,
        strava,
    })
}

/// `activities.csv` at the root of the archive or of its one top folder.
fn strava_index(
    zip: &mut zip::ZipArchive<Box<dyn ReadSeek>>,
    limits: Limits,
) -> Option<(String, StravaIndex)> {
    let name = zip
        .file_names()
        .flatten()
        .filter(|n| n.as_ref() == "activities.csv" || n.ends_with("/activities.csv"))
        .min_by_key(|n| n.len())?
        .into_owned();
    let prefix = name
        .strip_suffix("activities.csv")
        .unwrap_or("")
        .to_string();
    if prefix.matches('/').count() > 1 {
        return None;
    }
    let file = zip.by_name(&name).ok()?;
    let index = StravaIndex::read(file.take(limits.max_file_bytes));
    Some((prefix, index))
}

impl Iterator for Members {
    type Item = Member;

    fn next(&mut self) -> Option<Member> {
        loop {
            let depth = self.stack.len();
            let level = self.stack.last_mut()?;
            if level.next >= level.zip.len() {
                self.stack.pop();
                continue;
            }
            let index = level.next;
            level.next += 1;
            let base = level.path.clone();
            let mut file = match level.zip.by_index(index) {
                Ok(f) => f,
                Err(e) => return Some(unreadable_member(&base, index, &e)),
            };
            if file.is_dir() {
                continue;
            }
            let Some(name) = file.enclosed_name() else {
                // An absolute or escaping name (`../x.fit`): never written anywhere, but answered.
                let raw = file.name().map(|n| n.into_owned()).unwrap_or_default();
                match escaping(&base, &raw, file.size()) {
                    Some(m) => return Some(m),
                    None => continue,
                }
            };
            if !has_activity_extension(&name) {
                continue;
            }
            let path = base.join(&name);
            let hint = level.strava.as_ref().and_then(|(prefix, index)| {
                let rel = name.to_string_lossy();
                rel.strip_prefix(prefix.as_str())
                    .and_then(|r| index.hint(r))
            });
            let hint = hint.unwrap_or_default();
            let declared = file.size();
            if hint.route {
                return Some(Member {
                    path,
                    size: declared,
                    bytes: Ok(Vec::new()),
                    hint,
                    skipped: None,
                });
            }
            let bytes = read_member(&mut file, declared, self.limits.max_file_bytes);
            drop(file);
            let is_zip = name
                .extension()
                .is_some_and(|e| e.eq_ignore_ascii_case("zip"));
            if is_zip && let Ok(inner) = bytes {
                match self.open_nested(inner, &path, depth) {
                    Ok(()) => continue,
                    Err(e) => {
                        return Some(Member {
                            path,
                            size: declared,
                            bytes: Err(e),
                            hint,
                            skipped: None,
                        });
                    }
                }
            }
            let size = bytes.as_ref().map_or(declared, |b| b.len() as u64);
            return Some(Member {
                path,
                size,
                bytes,
                hint,
                skipped: None,
            });
        }
    }
}

impl Members {
    /// Opens a zip found inside the archive as the next level to read, unless nested too deep.
    fn open_nested(
        &mut self,
        inner: Vec<u8>,
        path: &Path,
        depth: usize,
    ) -> Result<(), IngestError> {
        if depth >= MAX_DEPTH {
            return Err(IngestError::damaged(format!(
                "zip archives nested deeper than {MAX_DEPTH} levels are not opened"
            )));
        }
        let level = open_level(Box::new(std::io::Cursor::new(inner)), path, self.limits)?;
        self.stack.push(level);
        Ok(())
    }
}

/// A member's bytes, refused past the size limit whatever its header declared.
fn read_member(file: &mut impl Read, declared: u64, limit: u64) -> Result<Vec<u8>, IngestError> {
    if declared > limit {
        return Err(expands_past(limit));
    }
    let mut buf = Vec::with_capacity(usize::try_from(declared).unwrap_or(0).min(1 << 24));
    match file.take(limit + 1).read_to_end(&mut buf) {
        Ok(_) if buf.len() as u64 > limit => Err(expands_past(limit)),
        Ok(_) => Ok(buf),
        Err(e) => Err(IngestError {
            kind: FailureKind::Damaged,
            message: format!("the zip member is damaged: {e}"),
        }),
    }
}

fn unreadable_member(base: &Path, index: usize, e: &zip::result::ZipError) -> Member {
    Member {
        path: base.join(format!("#{index}")),
        size: 0,
        bytes: Err(IngestError::damaged(format!(
            "member {index} of the zip archive cannot be read: {e}"
        ))),
        hint: Hint::default(),
        skipped: None,
    }
}

/// The answer for a member whose name escapes the archive, when it names an activity file.
fn escaping(base: &Path, raw: &str, size: u64) -> Option<Member> {
    has_activity_extension(Path::new(raw)).then(|| Member {
        path: base.join(mangled(raw)),
        size,
        bytes: Ok(Vec::new()),
        hint: Hint::default(),
        skipped: Some(format!(
            "the member's name {raw:?} points outside the archive; not read"
        )),
    })
}

/// A member name that escapes the archive, made into one that stays under it (`..` and the
/// root become `_`), to name it in `files`.
fn mangled(raw: &str) -> PathBuf {
    raw.split(['/', '\\'])
        .filter(|c| !c.is_empty() && *c != ".")
        .map(|c| if c == ".." { "_" } else { c })
        .collect()
}

fn expands_past(limit: u64) -> IngestError {
    IngestError::too_large(format!(
        "the zip member expands past the {} MB limit (max_file_mb): refused, it may be a zip bomb",
        limit / (1024 * 1024)
    ))
}

/// The Strava index that applies to a file on disk: `ROOT/activities.csv` for
/// `ROOT/activities/NAME` and `ROOT/routes/NAME`. Returns the index's folder and the path
/// relative to it.
#[must_use]
pub fn strava_root(path: &Path) -> Option<(PathBuf, String)> {
    let parent = path.parent()?;
    let dir = parent.file_name()?.to_str()?;
    if dir != "activities" && dir != "routes" {
        return None;
    }
    let root = parent.parent()?;
    if !root.join("activities.csv").is_file() {
        return None;
    }
    let rel = format!("{dir}/{}", path.file_name()?.to_str()?);
    Some((root.to_path_buf(), rel))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strava_index_reads_quoted_names_and_skips_manual_rows() {
        let csv = "Activity ID,Activity Date,Activity Name,Activity Type,Activity Description,Elapsed Time,Filename\n\
                   1,\"Apr 1, 2024\",\"Berlin Marathon, at last\",Run,\"line one\nline two\",10800,activities/1.fit.gz\n\
                   2,\"Apr 2, 2024\",Manual swim,Swim,,1800,\n\
                   3,\"Apr 3, 2024\",Commute,Ride,,900,activities/3.gpx.gz\n";
        let idx = StravaIndex::read(csv.as_bytes());
        assert_eq!(idx.len(), 2);
        let h = idx.hint("activities/1.fit.gz");
        assert_eq!(
            h.as_ref().and_then(|h| h.name.as_deref()),
            Some("Berlin Marathon, at last")
        );
        assert_eq!(h.as_ref().and_then(|h| h.sport.as_deref()), Some("running"));
        assert_eq!(
            idx.hint("activities/3.gpx.gz").and_then(|h| h.sport),
            Some("cycling".to_string())
        );
        assert!(idx.hint("routes/r.gpx").is_some_and(|h| h.route));
        assert!(idx.hint("activities/2.fit").is_none());
    }

    #[test]
    fn a_csv_without_the_columns_gives_an_empty_index() {
        assert!(StravaIndex::read("a,b\n1,2\n".as_bytes()).is_empty());
        assert!(StravaIndex::read(&b"\xff\xfe"[..]).is_empty());
    }
}
