//! The service's counters (systemd status line) and its log line per file.

use crate::pipeline::Outcome;
use crate::store::FileStatus;

#[derive(Default)]
pub(super) struct Counts {
    imported: u64,
    duplicate: u64,
    skipped: u64,
    failed: u64,
    pending: u64,
}

impl Counts {
    pub(super) fn add(&mut self, o: &Outcome) {
        if o.known {
            return;
        }
        match o.status {
            FileStatus::Imported => self.imported += 1,
            FileStatus::Duplicate => self.duplicate += 1,
            FileStatus::Skipped => self.skipped += 1,
            FileStatus::Failed => self.failed += 1,
            FileStatus::Pending => self.pending += 1,
        }
    }

    pub(super) fn status(&self, last: &Outcome) -> String {
        let mut s = format!(
            "{} imported, {} duplicate, {} skipped, {} failed",
            self.imported, self.duplicate, self.skipped, self.failed
        );
        if last.status == FileStatus::Pending {
            s.push_str(&format!(
                "; waiting: {}",
                last.reason.as_deref().unwrap_or("")
            ));
        }
        s
    }
}

pub(super) fn log(o: &Outcome) {
    let path = crate::logging::printable(&o.path);
    if o.known {
        tracing::debug!(path = %path, "unchanged, already known");
        return;
    }
    match o.status {
        FileStatus::Imported => tracing::info!(path = %path, id = o.activity_id, "imported"),
        FileStatus::Duplicate => tracing::info!(path = %path, of = o.duplicate_of, "duplicate"),
        FileStatus::Skipped => {
            tracing::info!(path = %path, "skipped: {}", o.reason.as_deref().unwrap_or(""))
        }
        FileStatus::Failed | FileStatus::Pending => {
            tracing::warn!(path = %path, "{}: {}", o.status.as_str(), o.reason.as_deref().unwrap_or(""));
        }
    }
}
