//! Keeps the stored morning checks current: after a wellness file, a `feel`, or a change to a
//! hard activity, the windows that hold the changed days are judged again (MODEL.md §7) with
//! the pure `crate::morning` core, and their ready moves replayed.
//!
//! The entry point below is the contract between the wellness import and the morning check;
//! its body is written with the morning check (issue 15).

use chrono::NaiveDate;
use jiff::tz::TimeZone;

use crate::store::{Store, StoreError};

/// Judges again every recovery window that holds one of `days`.
///
/// # Errors
/// On SQLite failure.
pub fn refresh(store: &mut Store, days: &[NaiveDate], tz: &TimeZone) -> Result<(), StoreError> {
    let _ = (store, days, tz);
    Ok(())
}
