//! The `activities` table: insert, look up, mark, forget and load stored activities.

use chrono::{DateTime, Utc};
use rusqlite::{Connection, OptionalExtension, params};

use super::assessments::write_assessment;
use super::files::{FileMeta, FileStatus, upsert_file};
use super::hr::{decode_hr, encode_hr};
use super::{Result, Store, StoreError, Stored, enum_column, from_ms, ms};
use crate::effort;
use crate::model::{Activity, Device, Leg, SAME_START_WINDOW_S, WatchFigures};
use crate::plan::Assessment;

/// An activity to store, with the figure kept beside it for later judgements; the caller
/// computes it (the store computes nothing).
#[derive(Clone, Copy, Debug)]
pub struct NewActivity<'a> {
    /// The activity as read.
    pub activity: &'a Activity,
    /// Its highest 10-s mean heart rate ([`crate::effort::peak_10s`]).
    pub peak_10s_hr: Option<f64>,
}

impl Store {
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
    /// device serial and creation time, else the first one starting within
    /// [`SAME_START_WINDOW_S`] that `same` (the caller's rule, [`crate::model::same_activity`])
    /// accepts given its sport and elapsed seconds.
    ///
    /// # Errors
    /// On SQLite failure.
    pub fn find_same_activity(
        &self,
        a: &Activity,
        same: impl Fn(&Activity, &str, f64) -> bool,
    ) -> Result<Option<i64>> {
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
        let window = SAME_START_WINDOW_S * 1000;
        let rows = stmt.query_map(params![start - window, start + window], |r| {
            Ok((
                r.get::<_, i64>(0)?,
                r.get::<_, String>(1)?,
                r.get::<_, f64>(2)?,
            ))
        })?;
        for row in rows {
            let (id, sport, elapsed) = row?;
            if same(a, &sport, elapsed) {
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
        new: NewActivity<'_>,
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
            let id = insert_row(tx, replacing, meta, new, now)?;
            write_assessment(tx, id, new.activity, assessment, settings_key)?;
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
}

/// The columns [`stored_row`] reads, for `activities a LEFT JOIN assessments s`; the query
/// adds the stream (or an empty blob) as the last column.
const STORED_COLUMNS: &str = "a.id, a.sha256, a.source_path, a.format, a.sport, a.sub_sport, a.name,
    a.start_ms, a.end_ms, a.utc_offset_s, a.elapsed_s, a.moving_s, a.distance_m, a.avg_hr, a.max_hr,
    a.avg_temperature_c, a.device_manufacturer, a.device_product, a.device_serial, a.time_created_ms,
    a.watch_max_hr, a.watch_threshold_hr, a.watch_resting_hr, a.watch_recovery_min,
    a.watch_training_effect, a.marked_race, a.legs, a.warnings, a.race_mark, s.json,
    (SELECT MAX(m.ready_after_ms) FROM mornings m WHERE m.activity_id = a.id),
    (SELECT COUNT(*) FROM mornings m WHERE m.activity_id = a.id
        AND m.ready_after_ms > m.ready_before_ms),
    (SELECT COUNT(*) FROM mornings m WHERE m.activity_id = a.id
        AND m.flags LIKE '%persisting%')";

/// A stored activity as read, its judgement still JSON, with what the morning check made of
/// its `ready` (the latest `ready` after a morning, the moves, the persisting mornings).
type StoredRow = (Stored, Option<String>, (Option<i64>, i64, i64));

fn stored_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<StoredRow> {
    let legs: String = r.get(26)?;
    let warnings: String = r.get(27)?;
    let blob: Vec<u8> = r.get(33)?;
    let activity = Activity {
        format: enum_column(r, 3)?,
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
        hr: decode_hr(&blob).map_err(|e| {
            rusqlite::Error::FromSqlConversionFailure(33, rusqlite::types::Type::Blob, e.into())
        })?,
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
    Ok((stored, r.get(29)?, (r.get(30)?, r.get(31)?, r.get(32)?)))
}

/// The judgement parsed, with the morning check's `ready` shown in it (MODEL.md §7).
fn finish_stored((mut stored, json, morning): StoredRow) -> Result<Stored> {
    if let Some(j) = json {
        let mut a: Assessment =
            serde_json::from_str(&j).map_err(|e| StoreError::Corrupt(e.to_string()))?;
        if let (Some(after), moves, persisting) = morning {
            let moves = u8::try_from(moves).unwrap_or(u8::MAX);
            crate::morning::apply(&mut a, from_ms(after), moves, persisting > 0);
        }
        stored.assessment = Some(a);
    }
    Ok(stored)
}

/// Inserts an activity row (with the given id, or a new one) and returns its id.
fn insert_row(
    tx: &Connection,
    id: Option<i64>,
    meta: &FileMeta,
    new: NewActivity<'_>,
    now: DateTime<Utc>,
) -> Result<i64> {
    let a = new.activity;
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
            new.peak_10s_hr,
            now.to_rfc3339(),
            id,
        ],
    )?;
    Ok(tx.last_insert_rowid())
}
