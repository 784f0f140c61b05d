//! The work queue (archives expanded member by member) and what the worker threads do with
//! each item: read, hash, parse (gzip opened transparently), under the per-file guard.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use super::{Loaded, Task, Work, parse_content};
use crate::ingest::archive::{self, Hint, Members, StravaIndex};
use crate::ingest::{self, FailureKind, IngestError, Limits, Parsed, Sniffed};
use crate::pipeline::inflight;
use crate::store::FileMeta;

/// The tasks, expanded into work one item at a time (archives member by member), shared by
/// the workers behind a mutex: memory stays bounded whatever the number of files.
pub(super) struct Queue {
    tasks: std::vec::IntoIter<Task>,
    members: Option<(Members, i64)>,
    limits: Limits,
    strava: HashMap<PathBuf, Option<Arc<StravaIndex>>>,
}

impl Queue {
    pub(super) fn new(tasks: Vec<Task>, limits: Limits) -> Self {
        Self {
            tasks: tasks.into_iter(),
            members: None,
            limits,
            strava: HashMap::new(),
        }
    }

    pub(super) fn next(&mut self) -> Option<Work> {
        loop {
            if let Some((members, mtime_ns)) = &mut self.members {
                if let Some(m) = members.next() {
                    let meta = FileMeta {
                        path: m.path,
                        sha256: None,
                        size: m.size,
                        mtime_ns: *mtime_ns,
                    };
                    return Some(match m.bytes {
                        _ if m.skipped.is_some() => Work::Ready(Loaded {
                            meta,
                            hint: m.hint,
                            result: Ok(Parsed::Skipped(m.skipped.unwrap_or_default())),
                        }),
                        _ if m.hint.route => Work::Ready(Loaded {
                            meta,
                            hint: m.hint,
                            result: Ok(Parsed::Skipped(ROUTE.into())),
                        }),
                        Ok(bytes) => Work::Bytes(meta, bytes, m.hint),
                        Err(e) => Work::Ready(Loaded {
                            meta,
                            hint: m.hint,
                            result: Err(e),
                        }),
                    });
                }
                self.members = None;
            }
            match self.tasks.next()? {
                Task::File(meta) => {
                    let hint = self.hint_for(&meta.path);
                    if hint.route {
                        return Some(Work::Ready(Loaded {
                            meta,
                            hint,
                            result: Ok(Parsed::Skipped(ROUTE.into())),
                        }));
                    }
                    return Some(Work::File(meta, hint));
                }
                Task::Archive(meta) => match ingest::open_regular(&meta.path).and_then(|f| {
                    Members::open(std::io::BufReader::new(f), &meta.path, self.limits)
                }) {
                    Ok(m) => self.members = Some((m, meta.mtime_ns)),
                    Err(e) => {
                        return Some(Work::Ready(Loaded {
                            meta,
                            hint: Hint::default(),
                            result: Err(e),
                        }));
                    }
                },
            }
        }
    }

    /// The Strava `activities.csv` hint for a file in an unpacked export folder.
    pub(super) fn hint_for(&mut self, path: &Path) -> Hint {
        let Some((root, rel)) = archive::strava_root(path) else {
            return Hint::default();
        };
        let index = self
            .strava
            .entry(root.clone())
            .or_insert_with(|| StravaIndex::read_file(&root.join("activities.csv")).map(Arc::new));
        index
            .as_ref()
            .and_then(|i| i.hint(&rel))
            .unwrap_or_default()
    }
}

pub(super) const ROUTE: &str = "a planned route in a Strava export, not a recorded activity";

pub(super) fn next_work(queue: &Mutex<Queue>, halt: &AtomicBool) -> Option<Work> {
    if halt.load(Ordering::SeqCst) {
        return None;
    }
    queue.lock().ok()?.next()
}

/// [`load`] under the per-file guard: the file is recorded as in hand while it is read and
/// parsed, and a panic in either is this file's failure, not the run's.
/// What a worker needs to read a file: the limits, and the mtime (ns) at or before which a FIT
/// file cut short is stored for what it holds.
#[derive(Clone, Copy)]
pub(super) struct Reading {
    pub(super) limits: Limits,
    pub(super) settled: Option<i64>,
}

pub(super) fn load_guarded(work: Work, limits: Reading, slot: &mut inflight::Slot) -> Loaded {
    /// Held while a large file is read and parsed: one at a time (memory, not speed).
    static LARGE: Mutex<()> = Mutex::new(());
    let (meta, size) = match &work {
        Work::File(m, _) => (m.clone(), m.size),
        Work::Bytes(m, b, _) => (m.clone(), b.len() as u64),
        Work::Ready(l) => (l.meta.clone(), 0),
    };
    let _large = (size > ingest::LARGE_FILE_BYTES).then(|| {
        LARGE
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    });
    slot.hold(&meta.path);
    let loaded = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| load(work, limits)))
        .unwrap_or_else(|panic| Loaded {
            meta,
            hint: Hint::default(),
            result: Err(IngestError::damaged(crashed("reading", &panic))),
        });
    slot.clear();
    loaded
}

/// The reason given for a file whose step panicked (a bug in recoverd or a library, found by
/// this file): it is failed, not tried again until it changes.
pub(super) fn crashed(step: &str, panic: &Box<dyn std::any::Any + Send>) -> String {
    let what = panic
        .downcast_ref::<&str>()
        .map(|s| (*s).to_string())
        .or_else(|| panic.downcast_ref::<String>().cloned())
        .unwrap_or_default();
    format!(
        "recoverd hit an internal error {step} this file ({what}); it is not tried again until it changes"
    )
}

/// Reads, hashes and parses: no store, no clock; runs on any thread.
pub(super) fn load(work: Work, reading: Reading) -> Loaded {
    let Reading { limits, settled } = reading;
    let settled = |meta: &FileMeta| settled.is_some_and(|t| meta.mtime_ns <= t);
    match work {
        Work::Ready(l) => l,
        Work::File(mut meta, hint) => match ingest::read_path(&meta.path, limits) {
            Ok(b) => {
                meta.sha256 = Some(b.sha256);
                let result = parse_or_salvage(&b.bytes, limits, settled(&meta));
                Loaded { meta, hint, result }
            }
            Err(e) => Loaded {
                meta,
                hint,
                result: Err(e),
            },
        },
        Work::Bytes(mut meta, bytes, hint) => {
            meta.sha256 = Some(ingest::sha256_hex(&bytes));
            let result = parse_or_salvage(&bytes, limits, settled(&meta));
            Loaded { meta, hint, result }
        }
    }
}

/// [`parse_content`], and for a FIT file cut short: what it holds when `settled` (no more is
/// coming), else a [`FailureKind::CutShort`] error that says when it will be stored.
pub(super) fn parse_or_salvage(
    bytes: &[u8],
    limits: Limits,
    settled: bool,
) -> Result<Parsed, IngestError> {
    match parse_content(bytes, limits) {
        Err(e)
            if e.kind == FailureKind::Truncated
                && ingest::sniff(bytes) == Sniffed::Format(crate::model::Format::Fit) =>
        {
            if settled {
                ingest::read_cut_short(bytes)
            } else {
                Err(IngestError {
                    kind: FailureKind::CutShort,
                    message: e.message,
                })
            }
        }
        other => other,
    }
}
