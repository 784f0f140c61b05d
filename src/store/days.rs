//! The `days` table: each local day's signals (the night before its morning) and the runner's
//! answer. Wellness imports fill the signals; `feel` and the notification buttons fill `feel`.

use std::collections::BTreeSet;
use std::path::PathBuf;

use chrono::{DateTime, NaiveDate, Utc};
use rusqlite::{Connection, OptionalExtension, params};

use super::files::{FileMeta, FileStatus, upsert_file};
use super::{Result, Store, path_bytes, path_from_bytes};
use crate::model::{DaySignals, HrvSource, RhrSource};
use crate::wellness::{self, Point};

/// A wellness file's values with their local offsets resolved, ready to store.
#[derive(Debug, Clone, Default)]
pub struct WellnessRows {
    /// Monitoring heart rate (message 55).
    pub hr: Vec<Point>,
    /// The watch's `current_day_resting_heart_rate` (message 211 field 1).
    pub watch_rhr: Vec<Point>,
    /// The night's HRV: its local day, RMSSD in ms and source.
    pub hrv: Option<(NaiveDate, f64, HrvSource)>,
}

const DAY: &str = "%Y-%m-%d";

fn day_text(d: NaiveDate) -> String {
    d.format(DAY).to_string()
}

fn read_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<Option<DaySignals>> {
    let day: String = r.get(0)?;
    let Ok(day) = NaiveDate::parse_from_str(&day, DAY) else {
        return Ok(None);
    };
    Ok(Some(DaySignals {
        day,
        rhr: r
            .get::<_, Option<i64>>(1)?
            .and_then(|v| u16::try_from(v).ok()),
        rhr_source: r.get::<_, Option<String>>(2)?.and_then(|s| s.parse().ok()),
        rhr_monitoring: r.get(3)?,
        rhr_watch: r
            .get::<_, Option<i64>>(4)?
            .and_then(|v| u16::try_from(v).ok()),
        hrv_rmssd_ms: r.get(5)?,
        hrv_source: r.get::<_, Option<String>>(6)?.and_then(|s| s.parse().ok()),
        feel: r
            .get::<_, Option<i64>>(7)?
            .and_then(|v| u8::try_from(v).ok()),
    }))
}

const COLUMNS: &str =
    "day, rhr, rhr_source, rhr_monitoring, rhr_watch, hrv_rmssd_ms, hrv_source, feel";

impl Store {
    /// The stored days from `from` to `to` (both included), oldest first.
    ///
    /// # Errors
    /// On SQLite failure.
    pub fn days_in(&self, from: NaiveDate, to: NaiveDate) -> Result<Vec<DaySignals>> {
        let mut stmt = self.conn.prepare(&format!(
            "SELECT {COLUMNS} FROM days WHERE day BETWEEN ?1 AND ?2 ORDER BY day"
        ))?;
        let rows = stmt.query_map(params![day_text(from), day_text(to)], read_row)?;
        let mut out = Vec::new();
        for row in rows {
            out.extend(row?);
        }
        Ok(out)
    }

    /// Stores a day's signals exactly as given, replacing the day's row (its `feel` too): for
    /// tests and tools that place days by hand. The wellness import computes days from samples.
    ///
    /// # Errors
    /// On SQLite failure or a value the schema refuses.
    pub fn put_signals(&mut self, d: &DaySignals, at: DateTime<Utc>) -> Result<()> {
        self.write(|c| {
            c.execute(
                "INSERT OR REPLACE INTO days (day, rhr, rhr_source, rhr_monitoring, rhr_watch,
                    hrv_rmssd_ms, hrv_source, feel, feel_at, updated_at)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, CASE WHEN ?8 IS NULL THEN NULL ELSE ?9 END, ?9)",
                params![
                    day_text(d.day),
                    d.rhr,
                    d.rhr_source.map(<&str>::from),
                    d.rhr_monitoring,
                    d.rhr_watch,
                    d.hrv_rmssd_ms,
                    d.hrv_source.map(<&str>::from),
                    d.feel,
                    at.to_rfc3339(),
                ],
            )?;
            Ok(())
        })
    }

    /// The newest `limit` stored days, newest first.
    ///
    /// # Errors
    /// On SQLite failure.
    pub fn latest_days(&self, limit: usize) -> Result<Vec<DaySignals>> {
        let mut stmt = self.conn.prepare(&format!(
            "SELECT {COLUMNS} FROM days ORDER BY day DESC LIMIT ?1"
        ))?;
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        let rows = stmt.query_map([limit], read_row)?;
        let mut out = Vec::new();
        for row in rows {
            out.extend(row?);
        }
        Ok(out)
    }

    /// Records the runner's answer for `day` (1 very sore … 5 great), replacing an earlier one.
    ///
    /// # Errors
    /// On SQLite failure, or a value outside 1–5 (refused by the schema).
    pub fn set_feel(&mut self, day: NaiveDate, feel: u8, at: DateTime<Utc>) -> Result<()> {
        self.write(|c| set_feel(c, day, feel, at))
    }

    /// Stores a wellness file's values: samples already stored are ignored, and only the days
    /// whose night (or watch value, or HRV) gained data are computed again, from that night's
    /// samples alone: the cost follows the file, never the history. The runner's `feel` is
    /// never touched. Returns those days, oldest first.
    ///
    /// # Errors
    /// On SQLite failure.
    pub fn store_wellness(
        &mut self,
        rows: &WellnessRows,
        now: DateTime<Utc>,
    ) -> Result<Vec<NaiveDate>> {
        self.write(|c| store_wellness(c, rows, now))
    }

    /// Records a wellness file as imported, with the local days it added data to; `None` keeps
    /// the days recorded before (the same file read again).
    ///
    /// # Errors
    /// On SQLite failure.
    pub fn record_wellness_file(
        &mut self,
        meta: &FileMeta,
        days: Option<&[NaiveDate]>,
        now: DateTime<Utc>,
    ) -> Result<()> {
        let json = days.map(|days| {
            serde_json::to_string(&days.iter().map(|d| day_text(*d)).collect::<Vec<_>>())
                .unwrap_or_else(|_| "[]".into())
        });
        self.write(|c| {
            upsert_file(c, meta, FileStatus::Imported, None, None, None, now)?;
            c.execute(
                "UPDATE files SET days = COALESCE(?2, days, '[]') WHERE path = ?1",
                params![path_bytes(&meta.path), json],
            )?;
            Ok(())
        })
    }

    /// The path of an imported wellness file with this content, if any.
    ///
    /// # Errors
    /// On SQLite failure.
    pub fn wellness_file_by_sha(&self, sha: &str) -> Result<Option<PathBuf>> {
        Ok(self
            .conn
            .query_row(
                "SELECT path FROM files WHERE sha256 = ?1 AND status = 'imported'
                 AND days IS NOT NULL LIMIT 1",
                [sha],
                |r| r.get::<_, Vec<u8>>(0),
            )
            .optional()?
            .map(path_from_bytes))
    }
}

fn store_wellness(
    c: &Connection,
    rows: &WellnessRows,
    now: DateTime<Utc>,
) -> Result<Vec<NaiveDate>> {
    let mut added = BTreeSet::new();
    for (table, points, day_of) in [
        (
            "monitoring_hr",
            &rows.hr,
            wellness::night_of as fn(&Point) -> Option<NaiveDate>,
        ),
        ("watch_rhr", &rows.watch_rhr, wellness::day_of),
    ] {
        let mut ins = c.prepare_cached(&format!(
            "INSERT OR IGNORE INTO {table} (ts, bpm, utc_offset_s) VALUES (?1, ?2, ?3)"
        ))?;
        for p in points {
            if ins.execute(params![p.ts, p.bpm, p.utc_offset_s])? == 1
                && let Some(d) = day_of(p)
            {
                added.insert(d);
            }
        }
    }
    for d in &added {
        recompute_rhr(c, *d, now)?;
    }
    if let Some((d, ms, source)) = rows.hrv
        && set_hrv(c, d, ms, source, now)?
    {
        added.insert(d);
    }
    Ok(added.into_iter().collect())
}

/// The stored values with `ts` in `[from, to]` of a sample table.
fn points_in(c: &Connection, table: &str, (from, to): (i64, i64)) -> Result<Vec<Point>> {
    let mut stmt = c.prepare_cached(&format!(
        "SELECT ts, bpm, utc_offset_s FROM {table} WHERE ts BETWEEN ?1 AND ?2"
    ))?;
    let rows = stmt.query_map(params![from, to], |r| {
        Ok(Point {
            ts: r.get(0)?,
            bpm: u16::try_from(r.get::<_, i64>(1)?).unwrap_or(0),
            utc_offset_s: i32::try_from(r.get::<_, i64>(2)?).unwrap_or(0),
        })
    })?;
    rows.collect::<std::result::Result<_, _>>()
        .map_err(Into::into)
}

/// Computes day `d`'s resting heart rate again from its night's samples and the watch's values
/// of that day (MODEL.md §7), leaving HRV and feel as they are.
fn recompute_rhr(c: &Connection, d: NaiveDate, now: DateTime<Utc>) -> Result<()> {
    let night = points_in(c, "monitoring_hr", wellness::night_search_range(d))?;
    let monitoring = wellness::night_rhr(d, &night);
    let watch_points = points_in(c, "watch_rhr", wellness::day_search_range(d))?;
    let watch = wellness::watch_rhr(d, &watch_points);
    let (rhr, source) = match (monitoring.and_then(wellness::round_half_up), watch) {
        (Some(m), _) => (Some(m), Some(RhrSource::Monitoring)),
        (None, Some(w)) => (Some(w), Some(RhrSource::Watch)),
        (None, None) => (None, None),
    };
    c.execute(
        "INSERT INTO days (day, rhr, rhr_source, rhr_monitoring, rhr_watch, updated_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6)
         ON CONFLICT(day) DO UPDATE SET rhr = excluded.rhr, rhr_source = excluded.rhr_source,
            rhr_monitoring = excluded.rhr_monitoring, rhr_watch = excluded.rhr_watch,
            updated_at = excluded.updated_at",
        params![
            day_text(d),
            rhr,
            source.map(<&str>::from),
            monitoring,
            watch,
            now.to_rfc3339()
        ],
    )?;
    Ok(())
}

/// Sets day `d`'s HRV unless it holds a `last_night_average` and this is only the 5-min values'
/// mean, or already the same. True when it changed.
fn set_hrv(
    c: &Connection,
    d: NaiveDate,
    ms: f64,
    source: HrvSource,
    now: DateTime<Utc>,
) -> Result<bool> {
    if !(ms.is_finite() && ms > 0.0) {
        return Ok(false);
    }
    let stored: Option<(Option<f64>, Option<String>)> = c
        .query_row(
            "SELECT hrv_rmssd_ms, hrv_source FROM days WHERE day = ?1",
            [day_text(d)],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .optional()?;
    let (old_ms, old_source) = stored.unwrap_or_default();
    let old_source: Option<HrvSource> = old_source.and_then(|s| s.parse().ok());
    if old_source == Some(HrvSource::HrvStatus) && source == HrvSource::HrvValues {
        return Ok(false);
    }
    if old_source == Some(source) && old_ms.is_some_and(|o| (o - ms).abs() < 1e-9) {
        return Ok(false);
    }
    c.execute(
        "INSERT INTO days (day, hrv_rmssd_ms, hrv_source, updated_at) VALUES (?1, ?2, ?3, ?4)
         ON CONFLICT(day) DO UPDATE SET hrv_rmssd_ms = excluded.hrv_rmssd_ms,
            hrv_source = excluded.hrv_source, updated_at = excluded.updated_at",
        params![day_text(d), ms, <&str>::from(source), now.to_rfc3339()],
    )?;
    Ok(true)
}

fn set_feel(c: &Connection, day: NaiveDate, feel: u8, at: DateTime<Utc>) -> Result<()> {
    let at = at.to_rfc3339();
    c.execute(
        "INSERT INTO days (day, feel, feel_at, updated_at) VALUES (?1, ?2, ?3, ?3)
         ON CONFLICT(day) DO UPDATE SET feel = ?2, feel_at = ?3, updated_at = ?3",
        params![day_text(day), i64::from(feel), at],
    )?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn night(from: i64, n: i64, bpm: u16) -> Vec<Point> {
        (0..n)
            .map(|i| Point {
                ts: from + i * 60,
                bpm,
                utc_offset_s: 3600,
            })
            .collect()
    }

    /// 2026-04-20T22:00Z: 23:00 local at +1 h.
    const EVENING: i64 = 1_776_722_400;

    #[test]
    fn samples_are_stored_once_and_only_touched_days_change() {
        let mut s = Store::open_in_memory().unwrap();
        let d = NaiveDate::from_ymd_opt(2026, 4, 21).unwrap();
        s.set_feel(d, 2, Utc::now()).unwrap();
        let rows = WellnessRows {
            hr: night(EVENING, 240, 52),
            watch_rhr: night(EVENING + 6 * 3600, 1, 50),
            hrv: Some((d, 44.0, HrvSource::HrvStatus)),
        };
        assert_eq!(s.store_wellness(&rows, Utc::now()).unwrap(), [d]);
        let day = &s.days_in(d, d).unwrap()[0];
        assert_eq!(day.rhr_monitoring, Some(52.0));
        assert_eq!(day.rhr, Some(52));
        assert_eq!(day.rhr_source, Some(RhrSource::Monitoring));
        assert_eq!(day.rhr_watch, Some(50));
        assert_eq!(day.hrv_rmssd_ms, Some(44.0));
        assert_eq!(day.feel, Some(2), "feel is never overwritten");
        // The same values again add nothing; 5-min values never replace the summary.
        let again = WellnessRows {
            hrv: Some((d, 60.0, HrvSource::HrvValues)),
            ..rows.clone()
        };
        assert!(s.store_wellness(&again, Utc::now()).unwrap().is_empty());
        assert_eq!(s.days_in(d, d).unwrap()[0].hrv_rmssd_ms, Some(44.0));
    }

    #[test]
    fn without_a_long_enough_night_the_watch_value_is_the_rhr() {
        let mut s = Store::open_in_memory().unwrap();
        let d = NaiveDate::from_ymd_opt(2026, 4, 21).unwrap();
        let rows = WellnessRows {
            hr: night(EVENING, 60, 52),
            watch_rhr: night(EVENING + 6 * 3600, 1, 50),
            hrv: None,
        };
        s.store_wellness(&rows, Utc::now()).unwrap();
        let day = &s.days_in(d, d).unwrap()[0];
        assert_eq!(day.rhr_monitoring, None);
        assert_eq!(
            (day.rhr, day.rhr_source),
            (Some(50), Some(RhrSource::Watch))
        );
    }

    #[test]
    fn a_wellness_file_is_recorded_with_its_days_and_found_by_content() {
        let mut s = Store::open_in_memory().unwrap();
        let meta = FileMeta {
            path: PathBuf::from("/w/1_WELLNESS.fit"),
            sha256: Some("ab".into()),
            size: 10,
            mtime_ns: 1,
        };
        let d = NaiveDate::from_ymd_opt(2026, 4, 21).unwrap();
        s.record_wellness_file(&meta, Some(&[d]), Utc::now())
            .unwrap();
        s.record_wellness_file(&meta, None, Utc::now()).unwrap();
        let row = s.file(&meta.path).unwrap().unwrap();
        assert_eq!(row.status, FileStatus::Imported);
        assert_eq!(row.days, Some(vec![d]));
        assert_eq!(s.wellness_file_by_sha("ab").unwrap(), Some(meta.path));
        assert_eq!(s.wellness_file_by_sha("cd").unwrap(), None);
    }

    #[test]
    fn feel_is_stored_once_per_day_and_replaced() {
        let mut s = Store::open_in_memory().unwrap();
        let d = NaiveDate::from_ymd_opt(2026, 4, 21).unwrap();
        s.set_feel(d, 2, Utc::now()).unwrap();
        s.set_feel(d, 4, Utc::now()).unwrap();
        let days = s.days_in(d, d).unwrap();
        assert_eq!(days.len(), 1);
        assert_eq!(days[0].feel, Some(4));
        assert_eq!(days[0].rhr, None);
        assert!(s.set_feel(d, 6, Utc::now()).is_err(), "6 is outside 1-5");
        assert_eq!(s.latest_days(5).unwrap()[0].day, d);
    }

    #[test]
    fn signals_put_by_hand_read_back_and_are_found_in_their_range() {
        let mut s = Store::open_in_memory().unwrap();
        let d = NaiveDate::from_ymd_opt(2026, 4, 21).unwrap();
        let day = DaySignals {
            day: d,
            rhr: Some(53),
            rhr_source: Some(crate::model::RhrSource::Monitoring),
            rhr_monitoring: Some(52.6),
            rhr_watch: Some(55),
            hrv_rmssd_ms: Some(44.0),
            hrv_source: Some(crate::model::HrvSource::HrvStatus),
            feel: Some(3),
        };
        s.put_signals(&day, Utc::now()).unwrap();
        assert_eq!(s.days_in(d, d).unwrap(), vec![day]);
    }
}
