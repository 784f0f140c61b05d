//! The morning notification's claim on its day (`morning_notices`), given back when it could
//! not be sent, so that a later trigger (a retry, the night's data, a restart) sends it.

use chrono::NaiveDate;

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
}
