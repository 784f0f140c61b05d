//! The `assessments` and `plan_items` tables, the daily loads and the rejudge mark.

use chrono::{DateTime, NaiveDate, Utc};
use rusqlite::{Connection, OptionalExtension, params};

use super::{Result, Store, StoreError, from_ms, ms};
use crate::effort;
use crate::model::Activity;
use crate::plan::{Assessment, PlanItem};

impl Store {
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
}

pub(super) fn write_assessment(
    tx: &Connection,
    id: i64,
    _activity: &Activity,
    s: &Assessment,
    settings_key: &str,
) -> Result<()> {
    let json = serde_json::to_string(s).map_err(|e| StoreError::Corrupt(e.to_string()))?;
    let day = s.local_day.format("%Y-%m-%d").to_string();
    let load = s.effort.load();
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
