//! The morning notification's claim on its day (`morning_notices`), given back when it could
//! not be sent, so that a later trigger (a retry, the night's data, a restart) sends it; and the
//! server's id of the one sent, so that its buttons are answered after a restart too.

use chrono::{DateTime, NaiveDate, Utc};

use super::{Result, Store};

impl Store {
    /// Gives back the claim on `day`'s morning notification (it was not sent).
    ///
    /// # Errors
    /// On SQLite failure.
    pub fn release_morning_notice(&mut self, day: NaiveDate) -> Result<()> {
        self.write(|c| {
            c.execute(
                "DELETE FROM morning_notices WHERE day = ?1",
                [day.format("%Y-%m-%d").to_string()],
            )?;
            Ok(())
        })
    }
}

impl Store {
    /// Notes the notification server's id of `day`'s morning notification.
    ///
    /// # Errors
    /// On SQLite failure.
    pub fn set_morning_notice_id(&mut self, day: NaiveDate, id: u32) -> Result<()> {
        self.write(|c| {
            c.execute(
                "UPDATE morning_notices SET notification_id = ?2 WHERE day = ?1",
                rusqlite::params![day.format("%Y-%m-%d").to_string(), i64::from(id)],
            )?;
            Ok(())
        })
    }

    /// The day of the morning notification the server knows as `id`, sent at or after `since`
    /// (a server that restarted counts its ids from 1 again: older rows do not count).
    ///
    /// # Errors
    /// On SQLite failure.
    pub fn morning_notice_day(&self, id: u32, since: DateTime<Utc>) -> Result<Option<NaiveDate>> {
        let rows: Vec<(String, String)> = {
            let mut stmt = self.conn.prepare(
                "SELECT day, sent_at FROM morning_notices WHERE notification_id = ?1
                 ORDER BY day DESC LIMIT 8",
            )?;
            let rows = stmt.query_map([i64::from(id)], |r| Ok((r.get(0)?, r.get(1)?)))?;
            rows.collect::<std::result::Result<_, _>>()?
        };
        Ok(rows.into_iter().find_map(|(day, at)| {
            let at = DateTime::parse_from_rfc3339(&at).ok()?.with_timezone(&Utc);
            (at >= since)
                .then(|| NaiveDate::parse_from_str(&day, "%Y-%m-%d").ok())
                .flatten()
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::Utc;

    #[test]
    fn a_released_day_can_be_claimed_again_once() {
        let mut s = Store::open_in_memory().unwrap_or_else(|e| panic!("{e}"));
        let d = NaiveDate::from_ymd_opt(2026, 4, 21).unwrap_or_default();
        assert!(
            s.record_morning_notice(d, None, Utc::now(), None)
                .unwrap_or(false)
        );
        assert!(
            !s.record_morning_notice(d, None, Utc::now(), None)
                .unwrap_or(true)
        );
        s.release_morning_notice(d)
            .unwrap_or_else(|e| panic!("{e}"));
        assert!(!s.morning_notice_sent(d).unwrap_or(true));
        assert!(
            s.record_morning_notice(d, None, Utc::now(), None)
                .unwrap_or(false)
        );
        assert!(s.morning_notice_sent(d).unwrap_or(false));
    }

    #[test]
    fn the_day_of_a_sent_notification_by_its_id_when_recent() {
        let mut s = Store::open_in_memory().unwrap_or_else(|e| panic!("{e}"));
        let d = NaiveDate::from_ymd_opt(2026, 4, 21).unwrap_or_default();
        let at = Utc::now();
        assert!(s.record_morning_notice(d, None, at, None).unwrap_or(false));
        assert_eq!(s.morning_notice_day(7, at).ok().flatten(), None);
        s.set_morning_notice_id(d, 7)
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(s.morning_notice_day(7, at).ok().flatten(), Some(d));
        assert_eq!(s.morning_notice_day(8, at).ok().flatten(), None);
        let later = at + chrono::Duration::days(2);
        assert_eq!(s.morning_notice_day(7, later).ok().flatten(), None);
    }
}
