//! SQLite storage: schema, append-only migrations, transactions and every SQL string.
//!
//! One file per row in `files` (path, sha256, size, mtime, status, reason); one activity per row
//! in `activities`, with its heart-rate stream in a compact blob so effort can be recomputed
//! without the file; the judgement in `assessments` and the plan as rows in `plan_items`.
//! Must not compute effort or plans, nor format text for people.

use std::path::{Path, PathBuf};
use std::time::Duration;

use chrono::{DateTime, TimeZone, Utc};
use rusqlite::{Connection, TransactionBehavior};

mod activities;
mod assessments;
mod days;
mod files;
mod hr;
mod mornings;
mod notices;

pub use crate::model::Stored;
pub use activities::NewActivity;
pub use days::WellnessRows;
pub use files::{FileMeta, FileRow, FileStatus};
pub use hr::{decode_hr, encode_hr};
pub use mornings::HardActivity;

/// Schema migrations, applied in order: one `.sql` file each under `migrations/`, never edited
/// once shipped, only appended.
const MIGRATIONS: &[&str] = &[
    // 1: files, activities, assessments, plan items, settings.
    include_str!("migrations/0001_files_activities_assessments.sql"),
    // 2: archives read member by member; unchanged ones are not opened again.
    include_str!("migrations/0002_archives.sql"),
    // 3: the runner's word on races (`mark`); contents forgotten with `forget`.
    include_str!("migrations/0003_race_mark_forgotten.sql"),
    // 4: wellness (monitoring HR, the watch's resting HR), per-day signals and feel, mornings.
    include_str!("migrations/0004_wellness_days_mornings.sql"),
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

    /// Rolls the open batch back: nothing in it is stored.
    ///
    /// # Errors
    /// The rollback's error.
    pub fn rollback_batch(&mut self) -> Result<()> {
        if !self.batch {
            return Ok(());
        }
        self.batch = false;
        self.conn.execute_batch("ROLLBACK")?;
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

/// A text column holding an enum's name: a name this build does not know is an error, never a
/// guess.
fn enum_column<T>(r: &rusqlite::Row<'_>, idx: usize) -> rusqlite::Result<T>
where
    T: std::str::FromStr<Err = strum::ParseError>,
{
    let text: String = r.get(idx)?;
    text.parse().map_err(|e: strum::ParseError| {
        rusqlite::Error::FromSqlConversionFailure(
            idx,
            rusqlite::types::Type::Text,
            format!("unknown value {text:?}: {e}").into(),
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::effort;

    #[test]
    fn an_unknown_stored_status_is_an_error_not_pending() -> Result<()> {
        let mut store = Store::open_in_memory()?;
        let meta = FileMeta {
            path: PathBuf::from("/runs/a.fit"),
            sha256: None,
            size: 1,
            mtime_ns: 1,
        };
        store.record_file(&meta, FileStatus::Skipped, Some("x"), None, Utc::now())?;
        assert_eq!(
            store.file(&meta.path)?.map(|r| r.status),
            Some(FileStatus::Skipped)
        );
        // The schema's CHECK keeps such a value out; a damaged or hand-edited file need not.
        store.conn.execute_batch(
            "PRAGMA ignore_check_constraints = ON; UPDATE files SET status = 'archived'",
        )?;
        let Err(err) = store.file(&meta.path) else {
            panic!("an unknown stored status loaded");
        };
        assert!(err.to_string().contains("\"archived\""), "{err}");
        Ok(())
    }

    #[test]
    fn enum_names_match_their_json() {
        fn check<T>(all: &[T])
        where
            T: Copy + serde::Serialize + Into<&'static str> + std::str::FromStr + PartialEq,
        {
            for &v in all {
                let name: &'static str = v.into();
                assert_eq!(serde_json::to_value(v).ok(), Some(name.into()));
                assert!(name.parse::<T>().ok() == Some(v));
            }
        }
        use strum::VariantArray;
        check(FileStatus::VARIANTS);
        check(crate::model::Format::VARIANTS);
        check(crate::model::Sex::VARIANTS);
        check(effort::Source::VARIANTS);
        check(effort::HrSource::VARIANTS);
        check(effort::EffortClass::VARIANTS);
        check(crate::plan::Tactic::VARIANTS);
        check(crate::plan::RaceSource::VARIANTS);
    }

    #[test]
    fn a_row_stored_before_the_codec_version_byte_still_loads() {
        use crate::model::{Activity, HrSample};
        let start = Utc.timestamp_opt(1_717_228_800, 0).unwrap();
        let hr: Vec<HrSample> = (0..600)
            .map(|t| HrSample {
                t: f64::from(t),
                bpm: 130 + (t % 20) as u16,
            })
            .collect();
        let a = Activity {
            distance_m: Some(2000.0),
            avg_hr: Some(140.0),
            max_hr: Some(149.0),
            ..Activity::test_run(start, 600.0, hr.clone())
        };
        let tz = jiff::tz::TimeZone::UTC;
        let s = crate::plan::evaluate(&a, &Default::default(), &Default::default(), &tz);
        let meta = FileMeta {
            path: PathBuf::from("/runs/a.fit"),
            sha256: Some("00".repeat(32)),
            size: 1,
            mtime_ns: 1,
        };
        let mut store = Store::open_in_memory().unwrap();
        let id = store
            .insert_activity(
                None,
                &meta,
                NewActivity {
                    activity: &a,
                    peak_10s_hr: crate::effort::peak_10s(&a.hr),
                },
                &s,
                "k",
                Utc::now(),
            )
            .unwrap();
        // Rewrite the stream as the unversioned codec stored it: the body without the header.
        let blob = encode_hr(&hr);
        store
            .conn
            .execute(
                "UPDATE activities SET hr_stream = ?1 WHERE id = ?2",
                rusqlite::params![&blob[3..], id],
            )
            .unwrap();
        let loaded = store.load(id).unwrap().unwrap();
        assert_eq!(loaded.activity.hr, hr);
        // A stream from a newer codec is an error, not a silently wrong stream.
        let mut newer = blob.clone();
        newer[2] = hr::HR_CODEC_VERSION + 1;
        store
            .conn
            .execute(
                "UPDATE activities SET hr_stream = ?1 WHERE id = ?2",
                rusqlite::params![newer, id],
            )
            .unwrap();
        assert!(store.load(id).is_err());
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
