//! What to announce after files arrive together (an `import`, a folder copied into a watched
//! folder, a watch mounted): pure, no store, no clock, no bus. Each activity that ended in the
//! last 48 h is news and gets its own notification, up to three; more than three become one
//! summary. Older activities are history: one summary for all of them. Never one per old file.

pub mod morning;

use chrono::{DateTime, Duration, Utc};

/// Activities that ended longer ago than this are history, not news.
pub const RECENT_HOURS: i64 = 48;
/// Most recent activities announced one by one in a burst; more become one summary.
pub const MAX_SINGLE: usize = 3;

/// One notification to send.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Notice {
    /// One recent activity, on its own.
    Activity(i64),
    /// More than [`MAX_SINGLE`] recent activities: how many, and the one that ended last.
    Recent {
        /// How many.
        count: usize,
        /// The one that ended last.
        latest: i64,
    },
    /// Activities that ended before the last 48 h: how many, and the one that ended last.
    Past {
        /// How many.
        count: usize,
        /// The one that ended last.
        latest: i64,
    },
}

impl Notice {
    /// The activity the notice names (the latest, for a summary).
    #[must_use]
    pub const fn id(self) -> i64 {
        match self {
            Self::Activity(id)
            | Self::Recent { latest: id, .. }
            | Self::Past { latest: id, .. } => id,
        }
    }
}

/// The notifications for activities newly stored together, given as (id, end): recent ones
/// first (oldest first), then the summary of past ones.
#[must_use]
pub fn notices(arrived: &[(i64, DateTime<Utc>)], now: DateTime<Utc>) -> Vec<Notice> {
    let mut sorted = arrived.to_vec();
    sorted.sort_by_key(|&(id, end)| (end, id));
    sorted.dedup_by_key(|&mut (id, _)| id);
    let (recent, past): (Vec<_>, Vec<_>) = sorted
        .into_iter()
        .partition(|&(_, end)| now - end <= Duration::hours(RECENT_HOURS));
    let mut out: Vec<Notice> = if recent.len() <= MAX_SINGLE {
        recent.iter().map(|&(id, _)| Notice::Activity(id)).collect()
    } else {
        recent
            .last()
            .map(|&(latest, _)| Notice::Recent {
                count: recent.len(),
                latest,
            })
            .into_iter()
            .collect()
    };
    if let Some(&(latest, _)) = past.last() {
        out.push(Notice::Past {
            count: past.len(),
            latest,
        });
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone as _;

    fn now() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 5, 20, 12, 0, 0)
            .single()
            .unwrap_or_default()
    }

    fn hours_ago(h: i64) -> DateTime<Utc> {
        now() - Duration::hours(h)
    }

    #[test]
    fn nothing_new_nothing_said() {
        assert!(notices(&[], now()).is_empty());
    }

    #[test]
    fn up_to_three_recent_each_on_their_own_oldest_first() {
        let got = notices(
            &[(7, hours_ago(1)), (5, hours_ago(30)), (6, hours_ago(48))],
            now(),
        );
        assert_eq!(
            got,
            vec![
                Notice::Activity(6),
                Notice::Activity(5),
                Notice::Activity(7)
            ]
        );
    }

    #[test]
    fn four_recent_are_one_summary_naming_the_latest() {
        let arrived: Vec<_> = (1..=4).map(|i| (i, hours_ago(10 - i))).collect();
        assert_eq!(
            notices(&arrived, now()),
            vec![Notice::Recent {
                count: 4,
                latest: 4
            }]
        );
    }

    #[test]
    fn two_hundred_old_files_are_one_summary() {
        let arrived: Vec<_> = (0..200).map(|i| (i, hours_ago(49 + 24 * i))).collect();
        assert_eq!(
            notices(&arrived, now()),
            vec![Notice::Past {
                count: 200,
                latest: 0
            }]
        );
    }

    #[test]
    fn recent_and_past_together_news_then_one_summary() {
        let arrived = [(1, hours_ago(500)), (2, hours_ago(2)), (3, hours_ago(72))];
        assert_eq!(
            notices(&arrived, now()),
            vec![
                Notice::Activity(2),
                Notice::Past {
                    count: 2,
                    latest: 3
                }
            ]
        );
    }

    #[test]
    fn an_id_given_twice_counts_once() {
        let arrived = [(1, hours_ago(100)), (1, hours_ago(100))];
        assert_eq!(
            notices(&arrived, now()),
            vec![Notice::Past {
                count: 1,
                latest: 1
            }]
        );
    }
}
