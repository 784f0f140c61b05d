//! The `mornings` table (each day's morning check inside an activity's window) and
//! `morning_notices` (at most one morning notification per local day).

use chrono::{DateTime, NaiveDate, Utc};
use rusqlite::{Connection, OptionalExtension, params};

use super::{Result, Store, from_ms, ms};
use crate::model::{Flag, Morning, Normal, Verdict};
use crate::plan::Assessment;

const DAY: &str = "%Y-%m-%d";
const COLUMNS: &str = "day, verdict, flags, rhr_mean, rhr_sd, ln_rmssd_mean, ln_rmssd_sd, \
                       ready_before_ms, ready_after_ms";

fn read_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<Option<Morning>> {
    let day: String = r.get(0)?;
    let verdict: String = r.get(1)?;
    let flags: String = r.get(2)?;
    let (Ok(day), Ok(verdict)) = (
        NaiveDate::parse_from_str(&day, DAY),
        verdict.parse::<Verdict>(),
    ) else {
        return Ok(None);
    };
    let flags: Vec<String> = serde_json::from_str(&flags).unwrap_or_default();
    Ok(Some(Morning {
        day,
        verdict,
        flags: flags
            .iter()
            .filter_map(|f| f.parse::<Flag>().ok())
            .collect(),
        normal: Normal {
            rhr_mean: r.get(3)?,
            rhr_sd: r.get(4)?,
            ln_rmssd_mean: r.get(5)?,
            ln_rmssd_sd: r.get(6)?,
        },
        ready_before: from_ms(r.get(7)?),
        ready_after: from_ms(r.get(8)?),
    }))
}

/// A hard-or-harder activity, as its recovery window needs it.
#[derive(Debug, Clone, PartialEq)]
pub struct HardActivity {
    /// Activity id.
    pub id: i64,
    /// When it ended.
    pub end: DateTime<Utc>,
    /// The local day it counts for (its start's); the normal is the 60 days before it.
    pub local_day: NaiveDate,
    /// The model's `ready` (before any morning).
    pub model_ready: DateTime<Utc>,
}

impl Store {
    /// The activities judged hard or harder that end in [`from`, `to`), newest start first,
    /// without their streams.
    ///
    /// # Errors
    /// On SQLite failure.
    pub fn hard_activities_ending(
        &self,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> Result<Vec<HardActivity>> {
        let mut stmt = self.conn.prepare(
            "SELECT a.id, a.end_ms, s.json FROM activities a JOIN assessments s ON s.activity_id = a.id
             WHERE s.class IN ('hard', 'very_hard', 'max') AND a.end_ms >= ?1 AND a.end_ms < ?2
             ORDER BY a.start_ms DESC, a.id DESC",
        )?;
        let rows = stmt.query_map(params![ms(from), ms(to)], |r| {
            Ok((
                r.get::<_, i64>(0)?,
                r.get::<_, i64>(1)?,
                r.get::<_, String>(2)?,
            ))
        })?;
        let mut out = Vec::new();
        for row in rows {
            let (id, end, json) = row?;
            // A judgement this build cannot read opens no window (it is made again on open).
            let Ok(a) = serde_json::from_str::<Assessment>(&json) else {
                continue;
            };
            out.push(HardActivity {
                id,
                end: from_ms(end),
                local_day: a.local_day,
                model_ready: a
                    .recovery
                    .morning
                    .map_or(a.recovery.ready, |m| m.model_ready),
            });
        }
        Ok(out)
    }

    /// Deletes the morning checks of activities that end in [`from`, `to`) and are no longer
    /// judged hard (a re-plan lowered them): they open no window.
    ///
    /// # Errors
    /// On SQLite failure.
    pub fn clear_mornings_of_easier(
        &mut self,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> Result<()> {
        self.write(|c| {
            c.execute(
                "DELETE FROM mornings WHERE activity_id IN (
                    SELECT a.id FROM activities a LEFT JOIN assessments s ON s.activity_id = a.id
                    WHERE a.end_ms >= ?1 AND a.end_ms < ?2
                      AND (s.class IS NULL OR s.class NOT IN ('hard', 'very_hard', 'max')))",
                params![ms(from), ms(to)],
            )?;
            Ok(())
        })
    }

    /// Replaces the morning checks of one activity's window.
    ///
    /// # Errors
    /// On SQLite failure.
    pub fn replace_mornings(&mut self, activity_id: i64, mornings: &[Morning]) -> Result<()> {
        self.write(|c| replace_mornings(c, activity_id, mornings))
    }

    /// The morning checks of one activity's window, oldest first.
    ///
    /// # Errors
    /// On SQLite failure.
    pub fn mornings_of(&self, activity_id: i64) -> Result<Vec<Morning>> {
        let mut stmt = self.conn.prepare(&format!(
            "SELECT {COLUMNS} FROM mornings WHERE activity_id = ?1 ORDER BY day"
        ))?;
        let rows = stmt.query_map([activity_id], read_row)?;
        let mut out = Vec::new();
        for row in rows {
            out.extend(row?);
        }
        Ok(out)
    }

    /// The morning check of `day` and the activity whose window judged it: the latest one
    /// when windows overlap.
    ///
    /// # Errors
    /// On SQLite failure.
    pub fn morning_on(&self, day: NaiveDate) -> Result<Option<(i64, Morning)>> {
        let mut stmt = self.conn.prepare(&format!(
            "SELECT {COLUMNS}, m.activity_id FROM mornings m JOIN activities a ON a.id = m.activity_id
             WHERE m.day = ?1 ORDER BY a.start_ms DESC LIMIT 1"
        ))?;
        let row = stmt
            .query_row([day.format(DAY).to_string()], |r| {
                Ok(read_row(r)?.map(|m| (r.get::<_, i64>(9), m)))
            })
            .optional()?;
        match row.flatten() {
            Some((id, m)) => Ok(Some((id?, m))),
            None => Ok(None),
        }
    }

    /// Whether the morning notification of `day` was sent.
    ///
    /// # Errors
    /// On SQLite failure.
    pub fn morning_notice_sent(&self, day: NaiveDate) -> Result<bool> {
        let n: i64 = self.conn.query_row(
            "SELECT COUNT(*) FROM morning_notices WHERE day = ?1",
            [day.format(DAY).to_string()],
            |r| r.get(0),
        )?;
        Ok(n > 0)
    }

    /// Records the morning notification of `day`; false when one was already recorded (so
    /// that two callers never both send).
    ///
    /// # Errors
    /// On SQLite failure.
    pub fn record_morning_notice(
        &mut self,
        day: NaiveDate,
        activity_id: Option<i64>,
        at: DateTime<Utc>,
        notification_id: Option<u32>,
    ) -> Result<bool> {
        self.write(|c| {
            let n = c.execute(
                "INSERT OR IGNORE INTO morning_notices (day, activity_id, sent_at, notification_id)
                 VALUES (?1, ?2, ?3, ?4)",
                params![
                    day.format(DAY).to_string(),
                    activity_id,
                    at.to_rfc3339(),
                    notification_id.map(i64::from)
                ],
            )?;
            Ok(n == 1)
        })
    }
}

fn replace_mornings(c: &Connection, activity_id: i64, mornings: &[Morning]) -> Result<()> {
    c.execute("DELETE FROM mornings WHERE activity_id = ?1", [activity_id])?;
    let mut stmt = c.prepare(
        "INSERT INTO mornings (activity_id, day, verdict, flags, rhr_mean, rhr_sd, ln_rmssd_mean,
         ln_rmssd_sd, ready_before_ms, ready_after_ms) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
    )?;
    for m in mornings {
        let flags: Vec<&str> = m.flags.iter().map(|f| f.into()).collect();
        let verdict: &str = m.verdict.into();
        stmt.execute(params![
            activity_id,
            m.day.format(DAY).to_string(),
            verdict,
            serde_json::to_string(&flags).unwrap_or_else(|_| "[]".to_string()),
            m.normal.rhr_mean,
            m.normal.rhr_sd,
            m.normal.ln_rmssd_mean,
            m.normal.ln_rmssd_sd,
            ms(m.ready_before),
            ms(m.ready_after),
        ])?;
    }
    Ok(())
}
