//! The `files`, `archives` and `forgotten` tables: every file seen, with its status and reason.

use std::path::{Path, PathBuf};

use chrono::{DateTime, Utc};
use rusqlite::{Connection, OptionalExtension, params};

use super::{Result, Store, enum_column, path_bytes, path_from_bytes};

/// File status values.
#[derive(
    Clone,
    Copy,
    Debug,
    PartialEq,
    Eq,
    serde::Serialize,
    strum::IntoStaticStr,
    strum::EnumString,
    strum::VariantArray,
)]
#[serde(rename_all = "lowercase")]
#[strum(serialize_all = "lowercase")]
pub enum FileStatus {
    /// A new activity was stored.
    Imported,
    /// The same activity is already stored.
    Duplicate,
    /// Fine, but not an activity.
    Skipped,
    /// Could not be read.
    Failed,
    /// Seen, not yet settled or not yet stored (e.g. the database was busy).
    Pending,
}

impl FileStatus {
    /// The name stored and printed.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        self.into()
    }
}

/// One row of `files`.
#[derive(Clone, Debug, PartialEq)]
pub struct FileRow {
    /// The path, as stored.
    pub path: PathBuf,
    /// Lossy display form of the path.
    pub display: String,
    /// Content hash.
    pub sha256: Option<String>,
    /// Size in bytes when last seen.
    pub size: Option<u64>,
    /// mtime in ns when last seen.
    pub mtime_ns: Option<i64>,
    /// Status.
    pub status: FileStatus,
    /// Reason for skipped / failed / pending.
    pub reason: Option<String>,
    /// The activity it produced.
    pub activity_id: Option<i64>,
    /// The activity it duplicates.
    pub duplicate_of: Option<i64>,
    /// When last seen (RFC 3339).
    pub seen_at: String,
    /// For an imported wellness file: the local days it added data to.
    pub days: Option<Vec<chrono::NaiveDate>>,
}

/// What is known about a file on disk.
#[derive(Clone, Debug)]
pub struct FileMeta {
    /// Its path.
    pub path: PathBuf,
    /// Content hash, when read.
    pub sha256: Option<String>,
    /// Size.
    pub size: u64,
    /// mtime in ns.
    pub mtime_ns: i64,
}

impl Store {
    /// The database file, `None` for an in-memory one.
    #[must_use]
    pub fn file_path(&self) -> Option<PathBuf> {
        self.conn
            .path()
            .filter(|p| !p.is_empty())
            .map(PathBuf::from)
    }

    /// The file row for a path.
    ///
    /// # Errors
    /// On SQLite failure.
    pub fn file(&self, path: &Path) -> Result<Option<FileRow>> {
        self.conn
            .query_row(
                "SELECT path, display, sha256, size, mtime_ns, status, reason, activity_id, duplicate_of, seen_at, days
                 FROM files WHERE path = ?1",
                [path_bytes(path)],
                file_row,
            )
            .optional()
            .map_err(Into::into)
    }

    /// Files, optionally with one status, newest first.
    ///
    /// # Errors
    /// On SQLite failure.
    pub fn files(&self, status: Option<FileStatus>) -> Result<Vec<FileRow>> {
        let mut stmt = self.conn.prepare(
            "SELECT path, display, sha256, size, mtime_ns, status, reason, activity_id, duplicate_of, seen_at, days
             FROM files WHERE ?1 IS NULL OR status = ?1 ORDER BY seen_at DESC, id DESC",
        )?;
        let rows = stmt.query_map([status.map(FileStatus::as_str)], file_row)?;
        rows.collect::<std::result::Result<_, _>>()
            .map_err(Into::into)
    }

    /// Records a file's status without an activity (duplicate, skipped, failed, pending).
    ///
    /// # Errors
    /// On SQLite failure.
    pub fn record_file(
        &mut self,
        meta: &FileMeta,
        status: FileStatus,
        reason: Option<&str>,
        duplicate_of: Option<i64>,
        now: DateTime<Utc>,
    ) -> Result<()> {
        self.write(|tx| upsert_file(tx, meta, status, reason, None, duplicate_of, now))
    }

    /// Records that the file which gave activity `id` was read again (touched, copied over):
    /// its row stays `imported`, with the new size, mtime and hash.
    ///
    /// # Errors
    /// On SQLite failure.
    pub fn record_reread(&mut self, meta: &FileMeta, id: i64, now: DateTime<Utc>) -> Result<()> {
        self.write(|tx| upsert_file(tx, meta, FileStatus::Imported, None, Some(id), None, now))
    }

    /// True when this archive was read before with the same size and mtime.
    ///
    /// # Errors
    /// On SQLite failure.
    pub fn archive_known(&self, path: &Path, size: u64, mtime_ns: i64) -> Result<bool> {
        Ok(self
            .conn
            .query_row(
                "SELECT 1 FROM archives WHERE path = ?1 AND size = ?2 AND mtime_ns = ?3",
                params![path_bytes(path), size as i64, mtime_ns],
                |_| Ok(()),
            )
            .optional()?
            .is_some())
    }

    /// Records an archive every member of which has a final status.
    ///
    /// # Errors
    /// On SQLite failure.
    pub fn record_archive(
        &mut self,
        path: &Path,
        size: u64,
        mtime_ns: i64,
        now: DateTime<Utc>,
    ) -> Result<()> {
        let bytes = path_bytes(path);
        self.write(|c| {
            c.execute(
                "INSERT INTO archives (path, size, mtime_ns, seen_at) VALUES (?1, ?2, ?3, ?4)
                 ON CONFLICT(path) DO UPDATE SET size = excluded.size, mtime_ns = excluded.mtime_ns,
                    seen_at = excluded.seen_at",
                params![bytes, size as i64, mtime_ns, now.to_rfc3339()],
            )?;
            Ok(())
        })
    }

    /// The stored rows of an archive's members (paths under `archive/`).
    ///
    /// # Errors
    /// On SQLite failure.
    pub fn members(&self, archive: &Path) -> Result<Vec<FileRow>> {
        let mut lo = path_bytes(archive);
        lo.push(b'/');
        let mut hi = lo.clone();
        if let Some(last) = hi.last_mut() {
            *last = b'0';
        }
        let mut stmt = self.conn.prepare(
            "SELECT path, display, sha256, size, mtime_ns, status, reason, activity_id, duplicate_of, seen_at, days
             FROM files WHERE path >= ?1 AND path < ?2 ORDER BY id",
        )?;
        let rows = stmt.query_map([lo, hi], file_row)?;
        rows.collect::<std::result::Result<_, _>>()
            .map_err(Into::into)
    }

    /// True when content with this hash was forgotten with `recoverd forget`.
    ///
    /// # Errors
    /// On SQLite failure.
    pub fn is_forgotten(&self, sha: &str) -> Result<bool> {
        Ok(self
            .conn
            .query_row("SELECT 1 FROM forgotten WHERE sha256 = ?1", [sha], |_| {
                Ok(())
            })
            .optional()?
            .is_some())
    }
}

fn file_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<FileRow> {
    Ok(FileRow {
        path: path_from_bytes(r.get(0)?),
        display: r.get(1)?,
        sha256: r.get(2)?,
        size: r
            .get::<_, Option<i64>>(3)?
            .and_then(|v| u64::try_from(v).ok()),
        mtime_ns: r.get(4)?,
        status: enum_column(r, 5)?,
        reason: r.get(6)?,
        activity_id: r.get(7)?,
        duplicate_of: r.get(8)?,
        seen_at: r.get(9)?,
        days: r
            .get::<_, Option<String>>(10)?
            .and_then(|j| serde_json::from_str(&j).ok()),
    })
}

pub(super) fn upsert_file(
    tx: &Connection,
    meta: &FileMeta,
    status: FileStatus,
    reason: Option<&str>,
    activity_id: Option<i64>,
    duplicate_of: Option<i64>,
    now: DateTime<Utc>,
) -> Result<()> {
    tx.execute(
        "INSERT INTO files (path, display, sha256, size, mtime_ns, status, reason, activity_id, duplicate_of, seen_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)
         ON CONFLICT(path) DO UPDATE SET display = excluded.display, sha256 = excluded.sha256,
            size = excluded.size, mtime_ns = excluded.mtime_ns, status = excluded.status,
            reason = excluded.reason, activity_id = COALESCE(excluded.activity_id, files.activity_id),
            duplicate_of = excluded.duplicate_of, seen_at = excluded.seen_at",
        params![
            path_bytes(&meta.path),
            meta.path.to_string_lossy(),
            meta.sha256,
            i64::try_from(meta.size).unwrap_or(i64::MAX),
            meta.mtime_ns,
            status.as_str(),
            reason,
            activity_id,
            duplicate_of,
            now.to_rfc3339(),
        ],
    )?;
    Ok(())
}
