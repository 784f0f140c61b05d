//! The `days` table: each local day's signals (the night before its morning) and the runner's
//! answer. Wellness imports fill the signals; `feel` and the notification buttons fill `feel`.

use chrono::{DateTime, NaiveDate, Utc};
use rusqlite::{Connection, params};

use super::{Result, Store};
use crate::model::DaySignals;

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

    /// Whether any day from `from` to `to` (both included) is stored.
    ///
    /// # Errors
    /// On SQLite failure.
    pub fn any_days_in(&self, from: NaiveDate, to: NaiveDate) -> Result<bool> {
        let n: i64 = self.conn.query_row(
            "SELECT EXISTS (SELECT 1 FROM days WHERE day BETWEEN ?1 AND ?2)",
            params![day_text(from), day_text(to)],
            |r| r.get(0),
        )?;
        Ok(n != 0)
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
}
