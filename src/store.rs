//! SQLite storage: schema, append-only migrations, transactions and every SQL string.
//!
//! One file per row in `files` (path, sha256, size, mtime, status, reason); one activity per row
//! in `activities`, with its heart-rate stream in a compact blob so effort can be recomputed
//! without the file; the judgement in `assessments` and the plan as rows in `plan_items`.
//! Must not compute effort or plans, nor format text for people.

use std::path::{Path, PathBuf};
use std::time::Duration;

use chrono::{DateTime, NaiveDate, TimeZone, Utc};
use rusqlite::{Connection, OptionalExtension, TransactionBehavior, params};

use crate::effort::{self};
use crate::model::{Activity, Device, Format, HrSample, Leg, WatchFigures};
use crate::plan::{Assessment, PlanItem};

/// Schema migrations, applied in order; never edit one that has shipped, only append.
const MIGRATIONS: &[&str] = &[
    // 1: files, activities, assessments, plan items, settings.
    r"
    CREATE TABLE files (
        id INTEGER PRIMARY KEY,
        path BLOB NOT NULL UNIQUE,
        display TEXT NOT NULL,
        sha256 TEXT,
        size INTEGER,
        mtime_ns INTEGER,
        status TEXT NOT NULL CHECK (status IN ('imported','duplicate','skipped','failed','pending')),
        reason TEXT,
        activity_id INTEGER REFERENCES activities(id),
        duplicate_of INTEGER REFERENCES activities(id),
        seen_at TEXT NOT NULL
    );
    CREATE INDEX files_sha ON files(sha256);
    CREATE INDEX files_status ON files(status);
    CREATE TABLE activities (
        id INTEGER PRIMARY KEY,
        sha256 TEXT NOT NULL UNIQUE,
        source_path TEXT NOT NULL,
        format TEXT NOT NULL,
        sport TEXT NOT NULL,
        sub_sport TEXT,
        name TEXT,
        start_ms INTEGER NOT NULL,
        end_ms INTEGER NOT NULL,
        utc_offset_s INTEGER,
        elapsed_s REAL NOT NULL,
        moving_s REAL,
        distance_m REAL,
        avg_hr REAL,
        max_hr REAL,
        avg_temperature_c REAL,
        device_manufacturer TEXT,
        device_product TEXT,
        device_serial INTEGER,
        time_created_ms INTEGER,
        watch_max_hr INTEGER,
        watch_threshold_hr INTEGER,
        watch_resting_hr INTEGER,
        watch_recovery_min INTEGER,
        watch_training_effect REAL,
        marked_race INTEGER NOT NULL DEFAULT 0,
        legs TEXT NOT NULL DEFAULT '[]',
        warnings TEXT NOT NULL DEFAULT '[]',
        hr_samples INTEGER NOT NULL,
        hr_stream BLOB NOT NULL,
        peak_10s_hr REAL,
        imported_at TEXT NOT NULL
    );
    CREATE INDEX activities_start ON activities(start_ms);
    CREATE INDEX activities_identity ON activities(device_serial, time_created_ms);
    CREATE TABLE assessments (
        activity_id INTEGER PRIMARY KEY REFERENCES activities(id) ON DELETE CASCADE,
        model_version INTEGER NOT NULL,
        settings_key TEXT NOT NULL,
        class TEXT NOT NULL,
        hrss REAL,
        ready_at_ms INTEGER NOT NULL,
        local_day TEXT NOT NULL,
        json TEXT NOT NULL
    );
    CREATE TABLE plan_items (
        activity_id INTEGER NOT NULL REFERENCES activities(id) ON DELETE CASCADE,
        seq INTEGER NOT NULL,
        tactic TEXT NOT NULL,
        start_ms INTEGER NOT NULL,
        end_ms INTEGER NOT NULL,
        text TEXT NOT NULL,
        why TEXT NOT NULL,
        PRIMARY KEY (activity_id, seq)
    );
    CREATE TABLE settings (key TEXT PRIMARY KEY, value TEXT NOT NULL);
    ",
    // 2: archives read member by member; unchanged ones are not opened again.
    r"
    CREATE TABLE archives (
        path BLOB PRIMARY KEY,
        size INTEGER NOT NULL,
        mtime_ns INTEGER NOT NULL,
        seen_at TEXT NOT NULL
    );
    ",
    // 3: the runner's word on races (`mark`); contents forgotten with `forget`.
    r"
    ALTER TABLE activities ADD COLUMN race_mark INTEGER;
    CREATE TABLE forgotten (sha256 TEXT PRIMARY KEY, forgotten_at TEXT NOT NULL);
    ",
];

/// Errors from the store.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The database could not be opened or created.
    #[error("cannot open the database {path}: {source}")]
    Open {
        /// The database file.
        path: PathBuf,
        /// The cause.
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
    /// A query failed.
    #[error("database error: {0}")]
    Sqlite(#[from] rusqlite::Error),
    /// A stored value could not be decoded.
    #[error("stored data is damaged: {0}")]
    Corrupt(String),
    /// The database was written by a newer recoverd: refused, never used or downgraded.
    #[error(
        "its schema version is {found}, newer than this recoverd's {known}: it was written by a newer recoverd; \
         refusing to use it (upgrade recoverd, or set `database` to another file)"
    )]
    Newer {
        /// The database's `user_version`.
        found: i64,
        /// The newest schema this binary knows.
        known: i64,
    },
}

impl StoreError {
    /// True for faults that pass (locked, read-only, full disk): the file stays pending.
    #[must_use]
    pub fn is_transient(&self) -> bool {
        use rusqlite::ErrorCode as C;
        match self {
            Self::Sqlite(rusqlite::Error::SqliteFailure(e, _)) => matches!(
                e.code,
                C::DatabaseBusy
                    | C::DatabaseLocked
                    | C::ReadOnly
                    | C::DiskFull
                    | C::CannotOpen
                    | C::SystemIoFailure
            ),
            Self::Open { .. } => true,
            _ => false,
        }
    }

    /// True for a unique-constraint violation: a row with the same key was stored meanwhile.
    #[must_use]
    pub fn is_unique_violation(&self) -> bool {
        matches!(
            self,
            Self::Sqlite(rusqlite::Error::SqliteFailure(e, _))
                if e.extended_code == rusqlite::ffi::SQLITE_CONSTRAINT_UNIQUE
                    || e.extended_code == rusqlite::ffi::SQLITE_CONSTRAINT_PRIMARYKEY
        )
    }
}

type Result<T> = std::result::Result<T, StoreError>;

/// File status values.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
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
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Imported => "imported",
            Self::Duplicate => "duplicate",
            Self::Skipped => "skipped",
            Self::Failed => "failed",
            Self::Pending => "pending",
        }
    }

    fn parse(s: &str) -> Self {
        match s {
            "imported" => Self::Imported,
            "duplicate" => Self::Duplicate,
            "skipped" => Self::Skipped,
            "failed" => Self::Failed,
            _ => Self::Pending,
        }
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

/// A stored activity with its id and judgement.
#[derive(Clone, Debug)]
pub struct Stored {
    /// Row id.
    pub id: i64,
    /// Source path.
    pub source_path: String,
    /// Content hash.
    pub sha256: String,
    /// The activity (with its stream).
    pub activity: Activity,
    /// The judgement, if computed.
    pub assessment: Option<Assessment>,
    /// The runner said it was a race (`true`) or training (`false`) with `recoverd mark`.
    pub race_mark: Option<bool>,
}

/// The SQLite store. One writer per process; readers may run beside it (WAL).
pub struct Store {
    conn: Connection,
    /// A batch transaction is open (see [`Store::begin_batch`]).
    batch: bool,
}

fn path_bytes(p: &Path) -> Vec<u8> {
    use std::os::unix::ffi::OsStrExt;
    p.as_os_str().as_bytes().to_vec()
}

fn path_from_bytes(b: Vec<u8>) -> PathBuf {
    use std::os::unix::ffi::OsStringExt;
    PathBuf::from(std::ffi::OsString::from_vec(b))
}

fn ms(t: DateTime<Utc>) -> i64 {
    t.timestamp_millis()
}

fn from_ms(v: i64) -> DateTime<Utc> {
    Utc.timestamp_millis_opt(v).single().unwrap_or_default()
}

impl Store {
    /// Opens (creating with its folder, 0700/0600) and migrates the database.
    ///
    /// # Errors
    /// [`StoreError::Open`] when the file or folder cannot be created or opened.
    pub fn open(path: &Path) -> Result<Self> {
        let open_err = |source: Box<dyn std::error::Error + Send + Sync>| StoreError::Open {
            path: path.to_path_buf(),
            source,
        };
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty())
            && !dir.exists()
        {
            use std::os::unix::fs::DirBuilderExt;
            std::fs::DirBuilder::new()
                .recursive(true)
                .mode(0o700)
                .create(dir)
                .map_err(|e| open_err(Box::new(e)))?;
        }
        if !path.exists() {
            use std::os::unix::fs::OpenOptionsExt;
            std::fs::OpenOptions::new()
                .write(true)
                .create(true)
                .truncate(false)
                .mode(0o600)
                .open(path)
                .map_err(|e| open_err(Box::new(e)))?;
        }
        let conn = Connection::open(path).map_err(|e| open_err(Box::new(e)))?;
        Self::init(conn).map_err(|e| match e {
            StoreError::Sqlite(s) => open_err(Box::new(s)),
            other => other,
        })
    }

    /// An in-memory store (tests).
    ///
    /// # Errors
    /// On SQLite failure.
    pub fn open_in_memory() -> Result<Self> {
        Self::init(Connection::open_in_memory()?)
    }

    fn init(conn: Connection) -> Result<Self> {
        conn.busy_timeout(Duration::from_secs(5))?;
        let _mode: String = conn.query_row("PRAGMA journal_mode=WAL", [], |r| r.get(0))?;
        conn.pragma_update(None, "synchronous", "NORMAL")?;
        conn.pragma_update(None, "foreign_keys", true)?;
        let mut store = Self { conn, batch: false };
        store.migrate()?;
        Ok(store)
    }

    fn migrate(&mut self) -> Result<()> {
        let version: i64 = self
            .conn
            .query_row("PRAGMA user_version", [], |r| r.get(0))?;
        let known = MIGRATIONS.len() as i64;
        if version > known {
            return Err(StoreError::Newer {
                found: version,
                known,
            });
        }
        if version == known {
            return Ok(());
        }
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)?;
        let version: i64 = tx.query_row("PRAGMA user_version", [], |r| r.get(0))?;
        for m in MIGRATIONS
            .iter()
            .skip(usize::try_from(version).unwrap_or(0))
        {
            tx.execute_batch(m)?;
        }
        tx.pragma_update(None, "user_version", MIGRATIONS.len() as i64)?;
        tx.commit()?;
        Ok(())
    }

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
                "SELECT path, display, sha256, size, mtime_ns, status, reason, activity_id, duplicate_of, seen_at
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
            "SELECT path, display, sha256, size, mtime_ns, status, reason, activity_id, duplicate_of, seen_at
             FROM files WHERE ?1 IS NULL OR status = ?1 ORDER BY seen_at DESC, id DESC",
        )?;
        let rows = stmt.query_map([status.map(FileStatus::as_str)], file_row)?;
        rows.collect::<std::result::Result<_, _>>()
            .map_err(Into::into)
    }

    /// The activity stored from this content, if any.
    ///
    /// # Errors
    /// On SQLite failure.
    pub fn activity_by_sha(&self, sha: &str) -> Result<Option<i64>> {
        self.conn
            .query_row("SELECT id FROM activities WHERE sha256 = ?1", [sha], |r| {
                r.get(0)
            })
            .optional()
            .map_err(Into::into)
    }

    /// The stored activity that is the same as this one read from another file: the same FIT
    /// device serial and creation time, else the same sport (or one unknown), a start within
    /// 60 s and an elapsed time within 5 %.
    ///
    /// # Errors
    /// On SQLite failure.
    pub fn find_same_activity(&self, a: &Activity) -> Result<Option<i64>> {
        if let (Some(serial), Some(created)) = (a.device.serial, a.time_created) {
            let hit: Option<i64> = self
                .conn
                .query_row(
                    "SELECT id FROM activities WHERE device_serial = ?1 AND time_created_ms = ?2",
                    params![i64::from(serial), ms(created)],
                    |r| r.get(0),
                )
                .optional()?;
            if hit.is_some() {
                return Ok(hit);
            }
        }
        let start = ms(a.start);
        let mut stmt = self.conn.prepare_cached(
            "SELECT id, sport, elapsed_s FROM activities WHERE start_ms BETWEEN ?1 AND ?2",
        )?;
        let rows = stmt.query_map(params![start - 60_000, start + 60_000], |r| {
            Ok((
                r.get::<_, i64>(0)?,
                r.get::<_, String>(1)?,
                r.get::<_, f64>(2)?,
            ))
        })?;
        for row in rows {
            let (id, sport, elapsed) = row?;
            let same_sport = sport == a.sport || sport == "generic" || a.sport == "generic";
            let longer = elapsed.max(a.elapsed_s);
            if same_sport && (elapsed - a.elapsed_s).abs() <= 0.05 * longer {
                return Ok(Some(id));
            }
        }
        Ok(None)
    }

    /// Every stored activity's 10-s peak heart rate, with its id and start.
    ///
    /// # Errors
    /// On SQLite failure.
    pub fn peaks(&self) -> Result<Vec<effort::Peak>> {
        let mut stmt = self.conn.prepare(
            "SELECT id, start_ms, peak_10s_hr FROM activities WHERE peak_10s_hr IS NOT NULL",
        )?;
        let rows = stmt.query_map([], |r| {
            Ok(effort::Peak {
                id: Some(r.get(0)?),
                start: from_ms(r.get(1)?),
                bpm: r.get(2)?,
            })
        })?;
        rows.collect::<std::result::Result<_, _>>()
            .map_err(Into::into)
    }

    /// The newest activity judged hard or harder.
    ///
    /// # Errors
    /// On SQLite failure.
    pub fn latest_hard(&self) -> Result<Option<i64>> {
        self.conn
            .query_row(
                "SELECT a.id FROM activities a JOIN assessments s ON s.activity_id = a.id
                 WHERE s.class IN ('hard', 'very_hard', 'max')
                 ORDER BY a.start_ms DESC, a.id DESC LIMIT 1",
                [],
                |r| r.get(0),
            )
            .optional()
            .map_err(Into::into)
    }

    /// Records the runner's word on whether an activity was a race (`None`: forget it).
    /// Returns false when there is no such activity.
    ///
    /// # Errors
    /// On SQLite failure.
    pub fn set_race_mark(&mut self, id: i64, race: Option<bool>) -> Result<bool> {
        self.write(|c| {
            Ok(c.execute(
                "UPDATE activities SET race_mark = ?2 WHERE id = ?1",
                params![id, race],
            )? == 1)
        })
    }

    /// Deletes an activity and its plan. Its files (and the files that repeated it) stay known
    /// as skipped, and their contents are remembered so that they are not imported again.
    /// Returns false when there is no such activity.
    ///
    /// # Errors
    /// On SQLite failure.
    pub fn forget(&mut self, id: i64, now: DateTime<Utc>) -> Result<bool> {
        let reason =
            format!("forgotten with `recoverd forget {id}`: not imported again unless it changes");
        self.write(|c| {
            c.execute(
                "INSERT OR IGNORE INTO forgotten (sha256, forgotten_at)
                 SELECT sha256, ?2 FROM activities WHERE id = ?1
                 UNION SELECT sha256, ?2 FROM files
                   WHERE (activity_id = ?1 OR duplicate_of = ?1) AND sha256 IS NOT NULL",
                params![id, now.to_rfc3339()],
            )?;
            c.execute(
                "UPDATE files SET status = 'skipped', reason = ?2, activity_id = NULL,
                    duplicate_of = NULL WHERE activity_id = ?1 OR duplicate_of = ?1",
                params![id, reason],
            )?;
            Ok(c.execute("DELETE FROM activities WHERE id = ?1", [id])? == 1)
        })
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

    /// HRSS per local day of every assessed activity except `except`.
    ///
    /// # Errors
    /// On SQLite failure.
    pub fn daily_loads(&self, except: Option<i64>) -> Result<Vec<(NaiveDate, f64)>> {
        let mut stmt = self.conn.prepare(
            "SELECT local_day, SUM(hrss) FROM assessments
             WHERE hrss IS NOT NULL AND activity_id IS NOT ?1 GROUP BY local_day",
        )?;
        let rows = stmt.query_map([except], |r| {
            Ok((r.get::<_, String>(0)?, r.get::<_, f64>(1)?))
        })?;
        let mut out = Vec::new();
        for row in rows {
            let (day, load) = row?;
            if let Ok(d) = NaiveDate::parse_from_str(&day, "%Y-%m-%d") {
                out.push((d, load));
            }
        }
        Ok(out)
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

    /// Runs `f` atomically: its own `BEGIN IMMEDIATE` transaction, or a savepoint inside the
    /// open batch.
    fn write<T>(&mut self, f: impl FnOnce(&Connection) -> Result<T>) -> Result<T> {
        if self.batch {
            let sp = self.conn.savepoint()?;
            let v = f(&sp)?;
            sp.commit()?;
            Ok(v)
        } else {
            let tx = self
                .conn
                .transaction_with_behavior(TransactionBehavior::Immediate)?;
            let v = f(&tx)?;
            tx.commit()?;
            Ok(v)
        }
    }

    /// Opens a batch: later writes become savepoints of one transaction, committed by
    /// [`Store::end_batch`]. Nothing in it is durable, or visible to others, before then.
    ///
    /// # Errors
    /// When the write lock cannot be taken (busy past the timeout, read-only).
    pub fn begin_batch(&mut self) -> Result<()> {
        if !self.batch {
            self.conn.execute_batch("BEGIN IMMEDIATE")?;
            self.batch = true;
        }
        Ok(())
    }

    /// True while a batch is open.
    #[must_use]
    pub fn in_batch(&self) -> bool {
        self.batch
    }

    /// Commits the open batch; on failure it is rolled back and nothing in it was stored.
    ///
    /// # Errors
    /// The commit's error.
    pub fn end_batch(&mut self) -> Result<()> {
        if !self.batch {
            return Ok(());
        }
        self.batch = false;
        if let Err(e) = self.conn.execute_batch("COMMIT") {
            let _ = self.conn.execute_batch("ROLLBACK");
            return Err(e.into());
        }
        Ok(())
    }

    /// Every activity's id, local day and load (HRSS, when plausible), and the highest
    /// 10-s heart rate stored: the history judgements are made against.
    ///
    /// # Errors
    /// On SQLite failure.
    pub fn loads(&self) -> Result<Vec<(i64, NaiveDate, Option<f64>)>> {
        let mut stmt = self
            .conn
            .prepare("SELECT activity_id, local_day, hrss FROM assessments")?;
        let rows = stmt.query_map([], |r| {
            Ok((
                r.get::<_, i64>(0)?,
                r.get::<_, String>(1)?,
                r.get::<_, Option<f64>>(2)?,
            ))
        })?;
        let mut out = Vec::new();
        for row in rows {
            let (id, day, load) = row?;
            if let Ok(d) = NaiveDate::parse_from_str(&day, "%Y-%m-%d") {
                out.push((id, d, load));
            }
        }
        Ok(out)
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
            "SELECT path, display, sha256, size, mtime_ns, status, reason, activity_id, duplicate_of, seen_at
             FROM files WHERE path >= ?1 AND path < ?2 ORDER BY id",
        )?;
        let rows = stmt.query_map([lo, hi], file_row)?;
        rows.collect::<std::result::Result<_, _>>()
            .map_err(Into::into)
    }

    /// Stores an activity, its judgement and plan, and its file row, in one transaction, and
    /// returns its id. With `replacing`, the activity takes the place (and the id) of a stored one
    /// read from a poorer file (one without heart rate); the files that gave that one become its
    /// duplicates.
    ///
    /// # Errors
    /// On SQLite failure; nothing is written then.
    pub fn insert_activity(
        &mut self,
        replacing: Option<i64>,
        meta: &FileMeta,
        a: &Activity,
        assessment: &Assessment,
        settings_key: &str,
        now: DateTime<Utc>,
    ) -> Result<i64> {
        self.write(|tx| {
            if let Some(id) = replacing {
                tx.execute_batch("PRAGMA defer_foreign_keys = ON")?;
                tx.execute(
                    "UPDATE files SET status = 'duplicate', duplicate_of = ?1, activity_id = NULL
                     WHERE activity_id = ?1",
                    [id],
                )?;
                tx.execute("DELETE FROM activities WHERE id = ?1", [id])?;
            }
            let id = insert_row(tx, replacing, meta, a, now)?;
            write_assessment(tx, id, a, assessment, settings_key)?;
            upsert_file(tx, meta, FileStatus::Imported, None, Some(id), None, now)?;
            Ok(id)
        })
    }

    /// When an activity ended, without loading it.
    ///
    /// # Errors
    /// On SQLite failure.
    pub fn activity_end(&self, id: i64) -> Result<Option<DateTime<Utc>>> {
        self.conn
            .query_row("SELECT end_ms FROM activities WHERE id = ?1", [id], |r| {
                r.get::<_, i64>(0)
            })
            .optional()
            .map(|v| v.map(from_ms))
            .map_err(Into::into)
    }

    /// The elapsed seconds of an activity stored from a file cut short (its warnings hold
    /// `marker`); `None` for a whole one.
    ///
    /// # Errors
    /// On SQLite failure.
    pub fn cut_short_elapsed(&self, id: i64, marker: &str) -> Result<Option<f64>> {
        self.conn
            .query_row(
                "SELECT elapsed_s FROM activities WHERE id = ?1 AND instr(warnings, ?2) > 0",
                params![id, marker],
                |r| r.get(0),
            )
            .optional()
            .map_err(Into::into)
    }

    /// Number of heart-rate samples stored for an activity.
    ///
    /// # Errors
    /// On SQLite failure.
    pub fn hr_samples(&self, id: i64) -> Result<Option<i64>> {
        self.conn
            .query_row(
                "SELECT hr_samples FROM activities WHERE id = ?1",
                [id],
                |r| r.get(0),
            )
            .optional()
            .map_err(Into::into)
    }

    /// Replaces an activity's judgement and plan.
    ///
    /// # Errors
    /// On SQLite failure.
    pub fn save_assessment(
        &mut self,
        id: i64,
        a: &Activity,
        assessment: &Assessment,
        settings_key: &str,
    ) -> Result<()> {
        self.write(|tx| write_assessment(tx, id, a, assessment, settings_key))
    }

    /// Ids of activities whose judgement is missing or was made with other settings or model.
    ///
    /// # Errors
    /// On SQLite failure.
    pub fn stale_assessments(&self, settings_key: &str) -> Result<Vec<i64>> {
        let mut stmt = self.conn.prepare(
            "SELECT a.id FROM activities a LEFT JOIN assessments s ON s.activity_id = a.id
             WHERE s.activity_id IS NULL OR s.settings_key != ?1 OR s.model_version != ?2
             ORDER BY a.start_ms",
        )?;
        let rows = stmt.query_map(params![settings_key, effort::MODEL_VERSION], |r| r.get(0))?;
        rows.collect::<std::result::Result<_, _>>()
            .map_err(Into::into)
    }

    /// Ids of activities, oldest first: all, or those that start at or after `from`.
    ///
    /// # Errors
    /// On SQLite failure.
    pub fn activity_ids(&self, from: Option<DateTime<Utc>>) -> Result<Vec<i64>> {
        let mut stmt = self.conn.prepare(
            "SELECT id FROM activities WHERE ?1 IS NULL OR start_ms >= ?1 ORDER BY start_ms, id",
        )?;
        let rows = stmt.query_map([from.map(ms)], |r| r.get(0))?;
        rows.collect::<std::result::Result<_, _>>()
            .map_err(Into::into)
    }

    /// Notes, with the imports that call for it, that the judgements of activities starting at
    /// or after `from` (`None`: all of them, a higher heart rate was seen) must be made again
    /// with the history they now have. Kept until [`Store::clear_rejudge`], so a service stopped
    /// before it got there does it at its next start.
    ///
    /// # Errors
    /// On SQLite failure.
    pub fn note_rejudge_from(&mut self, from: Option<DateTime<Utc>>) -> Result<()> {
        let mark = from.map_or(i64::MIN, ms).to_string();
        self.write(|tx| {
            tx.execute(
                "INSERT INTO settings (key, value) VALUES ('rejudge_from', ?1)
                 ON CONFLICT(key) DO UPDATE
                 SET value = MIN(CAST(value AS INTEGER), CAST(excluded.value AS INTEGER))",
                [mark],
            )?;
            Ok(())
        })
    }

    /// The activities noted by [`Store::note_rejudge_from`], oldest first, with the mark to
    /// clear once they are judged again; `None` when there are none.
    ///
    /// # Errors
    /// On SQLite failure.
    pub fn rejudge_ids(&self) -> Result<Option<(i64, Vec<i64>)>> {
        let mark: Option<i64> = self
            .conn
            .query_row(
                "SELECT CAST(value AS INTEGER) FROM settings WHERE key = 'rejudge_from'",
                [],
                |r| r.get(0),
            )
            .optional()?;
        let Some(mark) = mark else { return Ok(None) };
        let from = (mark != i64::MIN).then(|| from_ms(mark));
        Ok(Some((mark, self.activity_ids(from)?)))
    }

    /// Clears the note once the activities from `mark` on were judged again (unless another
    /// import noted earlier ones meanwhile).
    ///
    /// # Errors
    /// On SQLite failure.
    pub fn clear_rejudge(&mut self, mark: i64) -> Result<()> {
        self.write(|tx| {
            tx.execute(
                "DELETE FROM settings WHERE key = 'rejudge_from' AND CAST(value AS INTEGER) >= ?1",
                [mark],
            )?;
            Ok(())
        })
    }

    /// Activity ids, newest first.
    ///
    /// # Errors
    /// On SQLite failure.
    pub fn newest_ids(&self, limit: Option<u32>) -> Result<Vec<i64>> {
        let mut stmt = self
            .conn
            .prepare("SELECT id FROM activities ORDER BY start_ms DESC, id DESC LIMIT ?1")?;
        let rows = stmt.query_map([limit.map_or(-1, i64::from)], |r| r.get(0))?;
        rows.collect::<std::result::Result<_, _>>()
            .map_err(Into::into)
    }

    /// Loads one activity with its judgement and heart-rate stream.
    ///
    /// # Errors
    /// On SQLite failure or damaged stored data.
    pub fn load(&self, id: i64) -> Result<Option<Stored>> {
        let sql = format!(
            "SELECT {STORED_COLUMNS}, a.hr_stream FROM activities a
             LEFT JOIN assessments s ON s.activity_id = a.id WHERE a.id = ?1"
        );
        let row = self.conn.query_row(&sql, [id], stored_row).optional()?;
        row.map(finish_stored).transpose()
    }

    /// Calls `f` with each activity, newest first (at most `limit`), with its judgement but
    /// without its heart-rate stream: memory stays flat however many there are.
    ///
    /// # Errors
    /// On SQLite failure, damaged stored data, or `f`'s error.
    pub fn for_each_summary(
        &self,
        limit: Option<u32>,
        mut f: impl FnMut(Stored) -> anyhow::Result<()>,
    ) -> anyhow::Result<()> {
        let sql = format!(
            "SELECT {STORED_COLUMNS}, x'' FROM activities a
             LEFT JOIN assessments s ON s.activity_id = a.id
             ORDER BY a.start_ms DESC, a.id DESC LIMIT ?1"
        );
        let mut stmt = self.conn.prepare(&sql)?;
        let mut rows = stmt.query([limit.map_or(-1, i64::from)])?;
        while let Some(r) = rows.next()? {
            f(finish_stored(stored_row(r)?)?)?;
        }
        Ok(())
    }

    /// Checkpoints the WAL into the main file (at shutdown).
    ///
    /// # Errors
    /// On SQLite failure.
    pub fn checkpoint(&self) -> Result<()> {
        self.conn.execute_batch("PRAGMA wal_checkpoint(TRUNCATE)")?;
        Ok(())
    }

    /// `PRAGMA integrity_check` result ("ok" when sound).
    ///
    /// # Errors
    /// On SQLite failure.
    pub fn integrity_check(&self) -> Result<String> {
        self.conn
            .query_row("PRAGMA integrity_check", [], |r| r.get(0))
            .map_err(Into::into)
    }
}

/// The columns [`stored_row`] reads, for `activities a LEFT JOIN assessments s`; the query
/// adds the stream (or an empty blob) as the last column.
const STORED_COLUMNS: &str = "a.id, a.sha256, a.source_path, a.format, a.sport, a.sub_sport, a.name,
    a.start_ms, a.end_ms, a.utc_offset_s, a.elapsed_s, a.moving_s, a.distance_m, a.avg_hr, a.max_hr,
    a.avg_temperature_c, a.device_manufacturer, a.device_product, a.device_serial, a.time_created_ms,
    a.watch_max_hr, a.watch_threshold_hr, a.watch_resting_hr, a.watch_recovery_min,
    a.watch_training_effect, a.marked_race, a.legs, a.warnings, a.race_mark, s.json";

/// A stored activity as read, its judgement still JSON.
type StoredRow = (Stored, Option<String>);

fn stored_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<StoredRow> {
    let legs: String = r.get(26)?;
    let warnings: String = r.get(27)?;
    let blob: Vec<u8> = r.get(30)?;
    let format: String = r.get(3)?;
    let activity = Activity {
        format: Format::from_name(&format).unwrap_or(Format::Fit),
        sport: r.get(4)?,
        sub_sport: r.get(5)?,
        name: r.get(6)?,
        start: from_ms(r.get(7)?),
        end: from_ms(r.get(8)?),
        utc_offset_s: r.get(9)?,
        elapsed_s: r.get(10)?,
        moving_s: r.get(11)?,
        distance_m: r.get(12)?,
        avg_hr: r.get(13)?,
        max_hr: r.get(14)?,
        avg_temperature_c: r.get(15)?,
        hr: decode_hr(&blob),
        legs: serde_json::from_str::<Vec<Leg>>(&legs).unwrap_or_default(),
        device: Device {
            manufacturer: r.get(16)?,
            product: r.get(17)?,
            serial: r
                .get::<_, Option<i64>>(18)?
                .and_then(|v| u32::try_from(v).ok()),
        },
        time_created: r.get::<_, Option<i64>>(19)?.map(from_ms),
        watch: WatchFigures {
            max_hr: r.get(20)?,
            threshold_hr: r.get(21)?,
            resting_hr: r.get(22)?,
            recovery_time_min: r.get(23)?,
            total_training_effect: r.get(24)?,
        },
        marked_race: r.get(25)?,
        warnings: serde_json::from_str(&warnings).unwrap_or_default(),
    };
    let stored = Stored {
        id: r.get(0)?,
        sha256: r.get(1)?,
        source_path: r.get(2)?,
        activity,
        assessment: None,
        race_mark: r.get(28)?,
    };
    Ok((stored, r.get(29)?))
}

fn finish_stored((mut stored, json): StoredRow) -> Result<Stored> {
    if let Some(j) = json {
        stored.assessment =
            Some(serde_json::from_str(&j).map_err(|e| StoreError::Corrupt(e.to_string()))?);
    }
    Ok(stored)
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
        status: FileStatus::parse(&r.get::<_, String>(5)?),
        reason: r.get(6)?,
        activity_id: r.get(7)?,
        duplicate_of: r.get(8)?,
        seen_at: r.get(9)?,
    })
}

fn upsert_file(
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

/// Inserts an activity row (with the given id, or a new one) and returns its id.
fn insert_row(
    tx: &Connection,
    id: Option<i64>,
    meta: &FileMeta,
    a: &Activity,
    now: DateTime<Utc>,
) -> Result<i64> {
    let sha = meta.sha256.as_deref().unwrap_or_default();
    let legs = serde_json::to_string(&a.legs).map_err(|e| StoreError::Corrupt(e.to_string()))?;
    let warnings =
        serde_json::to_string(&a.warnings).map_err(|e| StoreError::Corrupt(e.to_string()))?;
    tx.execute(
        "INSERT INTO activities (id, sha256, source_path, format, sport, sub_sport, name, start_ms, end_ms,
            utc_offset_s, elapsed_s, moving_s, distance_m, avg_hr, max_hr, avg_temperature_c,
            device_manufacturer, device_product, device_serial, time_created_ms,
            watch_max_hr, watch_threshold_hr, watch_resting_hr, watch_recovery_min, watch_training_effect,
            marked_race, legs, warnings, hr_samples, hr_stream, peak_10s_hr, imported_at)
         VALUES (?32, ?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18, ?19,
            ?20, ?21, ?22, ?23, ?24, ?25, ?26, ?27, ?28, ?29, ?30, ?31)",
        params![
            sha,
            meta.path.to_string_lossy(),
            a.format.as_str(),
            a.sport,
            a.sub_sport,
            a.name,
            ms(a.start),
            ms(a.end),
            a.utc_offset_s,
            a.elapsed_s,
            a.moving_s,
            a.distance_m,
            a.avg_hr,
            a.max_hr,
            a.avg_temperature_c,
            a.device.manufacturer,
            a.device.product,
            a.device.serial.map(i64::from),
            a.time_created.map(ms),
            a.watch.max_hr,
            a.watch.threshold_hr,
            a.watch.resting_hr,
            a.watch.recovery_time_min,
            a.watch.total_training_effect,
            a.marked_race,
            legs,
            warnings,
            a.hr.len() as i64,
            encode_hr(&a.hr),
            effort::peak_10s(&a.hr),
            now.to_rfc3339(),
            id,
        ],
    )?;
    Ok(tx.last_insert_rowid())
}

fn write_assessment(
    tx: &Connection,
    id: i64,
    _activity: &Activity,
    s: &Assessment,
    settings_key: &str,
) -> Result<()> {
    let json = serde_json::to_string(s).map_err(|e| StoreError::Corrupt(e.to_string()))?;
    let day = s.local_day.format("%Y-%m-%d").to_string();
    let load = s.effort.hrss.filter(|_| !s.effort.implausible);
    tx.execute(
        "INSERT INTO assessments (activity_id, model_version, settings_key, class, hrss, ready_at_ms, local_day, json)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)
         ON CONFLICT(activity_id) DO UPDATE SET model_version = excluded.model_version,
            settings_key = excluded.settings_key, class = excluded.class, hrss = excluded.hrss,
            ready_at_ms = excluded.ready_at_ms, local_day = excluded.local_day, json = excluded.json",
        params![
            id,
            effort::MODEL_VERSION,
            settings_key,
            s.effort.class.as_str(),
            load,
            ms(s.recovery.ready_at),
            day,
            json
        ],
    )?;
    tx.execute("DELETE FROM plan_items WHERE activity_id = ?1", [id])?;
    for (seq, item) in s.plan.iter().enumerate() {
        insert_item(tx, id, seq, item)?;
    }
    Ok(())
}

fn insert_item(tx: &Connection, id: i64, seq: usize, item: &PlanItem) -> Result<()> {
    tx.execute(
        "INSERT INTO plan_items (activity_id, seq, tactic, start_ms, end_ms, text, why)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
        params![
            id,
            seq as i64,
            item.tactic.as_str(),
            ms(item.start),
            ms(item.end),
            item.text,
            item.why
        ],
    )?;
    Ok(())
}

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

    #[test]
    fn migrations_apply_once() -> Result<()> {
        let store = Store::open_in_memory()?;
        let v: i64 = store
            .conn
            .query_row("PRAGMA user_version", [], |r| r.get(0))?;
        assert_eq!(v, MIGRATIONS.len() as i64);
        Ok(())
    }
}
