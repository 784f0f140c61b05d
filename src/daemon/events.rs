//! What a file event means for the service: a pure classifier from one notify event (and what
//! the service knows of the paths in it) to the actions the loop takes. No I/O here: whether a
//! path is a folder is asked of a [`View`], only for the path that needs it.

use std::path::{Path, PathBuf};

use notify::event::{AccessKind, AccessMode, CreateKind, ModifyKind, RenameMode};
use notify::{Event, EventKind};

/// What the classifier needs to know about paths.
pub(super) trait View {
    /// True for a real folder (not a link to one).
    fn is_dir(&self, path: &Path) -> bool;
    /// True when `path` is (or was) a configured root, or a folder above one.
    fn is_root(&self, path: &Path) -> bool;
    /// True for a file that may hold an activity and is not ignored.
    fn wanted(&self, path: &Path) -> bool;
}

/// One thing the loop does in answer to an event.
#[derive(Debug, PartialEq, Eq)]
pub(super) enum Action {
    /// The kernel dropped events: list every folder again.
    RescanAll,
    /// A folder was removed or moved away: forget its watches (a no-op for a file).
    Forget(PathBuf),
    /// A root may have vanished (an unmounted watch): bring the roots in line with the disk.
    SyncRoots,
    /// A folder appeared (created, moved in): watch it and list it.
    ScanFolder(PathBuf),
    /// A wanted file changed: (re)start its settle timer. `complete` when the event says the
    /// writer is done with it (closed after writing, moved in).
    Settle {
        /// The file.
        path: PathBuf,
        /// Closed after writing or moved in: read once quiet, without comparing stats.
        complete: bool,
    },
}

/// The actions for one event, in the order they are to be taken.
pub(super) fn classify(ev: &Event, view: &dyn View) -> Vec<Action> {
    if ev.need_rescan() {
        return vec![Action::RescanAll];
    }
    let mut actions = Vec::new();
    match ev.kind {
        EventKind::Remove(_) | EventKind::Modify(ModifyKind::Name(RenameMode::From)) => {
            actions.extend(ev.paths.iter().cloned().map(Action::Forget));
            // Deleting files is common; only a root that vanished (an unmounted watch) matters.
            if ev.paths.iter().any(|p| view.is_root(p)) {
                actions.push(Action::SyncRoots);
            }
            return actions;
        }
        EventKind::Modify(ModifyKind::Name(RenameMode::Both)) => {
            if let Some(from) = ev.paths.first() {
                actions.push(Action::Forget(from.clone()));
            }
        }
        _ => {}
    }
    actions.extend(path_event(ev, view));
    actions
}

/// A file or folder created, written, closed or moved in.
fn path_event(ev: &Event, view: &dyn View) -> Option<Action> {
    let complete = matches!(
        ev.kind,
        EventKind::Access(AccessKind::Close(AccessMode::Write))
            | EventKind::Modify(ModifyKind::Name(RenameMode::To | RenameMode::Both))
    );
    // A change of permissions counts too: a file that could not be read is tried again.
    let changing = matches!(
        ev.kind,
        EventKind::Create(CreateKind::File | CreateKind::Any)
            | EventKind::Modify(ModifyKind::Data(_) | ModifyKind::Any | ModifyKind::Metadata(_))
    );
    let path = match ev.kind {
        EventKind::Modify(ModifyKind::Name(RenameMode::Both)) => ev.paths.last(),
        _ => ev.paths.first(),
    }?;
    // A link to a folder is not walked (it may lead anywhere, or loop).
    if view.is_dir(path) {
        let appeared = matches!(
            ev.kind,
            EventKind::Create(_) | EventKind::Modify(ModifyKind::Name(_))
        );
        return appeared.then(|| Action::ScanFolder(path.clone()));
    }
    if !(complete || changing) || !view.wanted(path) {
        return None;
    }
    Some(Action::Settle {
        path: path.clone(),
        complete,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use notify::event::{DataChange, Flag, MetadataKind, RemoveKind};

    /// Folders and roots by name; files wanted when they end in `.fit`.
    struct Fake {
        dirs: Vec<&'static str>,
        roots: Vec<&'static str>,
    }

    impl View for Fake {
        fn is_dir(&self, path: &Path) -> bool {
            self.dirs.iter().any(|d| Path::new(d) == path)
        }
        fn is_root(&self, path: &Path) -> bool {
            self.roots.iter().any(|r| Path::new(r).starts_with(path))
        }
        fn wanted(&self, path: &Path) -> bool {
            path.extension().is_some_and(|e| e == "fit")
        }
    }

    fn view() -> Fake {
        Fake {
            dirs: vec!["/w/new", "/w/sub"],
            roots: vec!["/w"],
        }
    }

    fn ev(kind: EventKind, paths: &[&str]) -> Event {
        paths
            .iter()
            .fold(Event::new(kind), |e, p| e.add_path(PathBuf::from(p)))
    }

    fn settle(path: &str, complete: bool) -> Action {
        Action::Settle {
            path: PathBuf::from(path),
            complete,
        }
    }

    #[test]
    fn a_file_closed_after_writing_settles_complete_and_one_being_written_settles_by_stat() {
        let close = ev(
            EventKind::Access(AccessKind::Close(AccessMode::Write)),
            &["/w/a.fit"],
        );
        assert_eq!(classify(&close, &view()), vec![settle("/w/a.fit", true)]);
        let write = ev(
            EventKind::Modify(ModifyKind::Data(DataChange::Any)),
            &["/w/a.fit"],
        );
        assert_eq!(classify(&write, &view()), vec![settle("/w/a.fit", false)]);
        let created = ev(EventKind::Create(CreateKind::File), &["/w/a.fit"]);
        assert_eq!(classify(&created, &view()), vec![settle("/w/a.fit", false)]);
        let chmod = ev(
            EventKind::Modify(ModifyKind::Metadata(MetadataKind::Permissions)),
            &["/w/a.fit"],
        );
        assert_eq!(classify(&chmod, &view()), vec![settle("/w/a.fit", false)]);
    }

    #[test]
    fn files_that_are_not_wanted_and_reads_are_ignored() {
        let other = ev(
            EventKind::Access(AccessKind::Close(AccessMode::Write)),
            &["/w/notes.txt"],
        );
        assert!(classify(&other, &view()).is_empty());
        let read = ev(
            EventKind::Access(AccessKind::Close(AccessMode::Read)),
            &["/w/a.fit"],
        );
        assert!(classify(&read, &view()).is_empty());
        let no_path = ev(EventKind::Create(CreateKind::File), &[]);
        assert!(classify(&no_path, &view()).is_empty());
    }

    #[test]
    fn a_file_moved_in_settles_complete_and_its_old_name_is_forgotten() {
        let moved_in = ev(
            EventKind::Modify(ModifyKind::Name(RenameMode::To)),
            &["/w/a.fit"],
        );
        assert_eq!(classify(&moved_in, &view()), vec![settle("/w/a.fit", true)]);
        let renamed = ev(
            EventKind::Modify(ModifyKind::Name(RenameMode::Both)),
            &["/w/a.part", "/w/a.fit"],
        );
        assert_eq!(
            classify(&renamed, &view()),
            vec![
                Action::Forget(PathBuf::from("/w/a.part")),
                settle("/w/a.fit", true)
            ]
        );
    }

    #[test]
    fn a_folder_created_or_moved_in_is_scanned_and_a_folder_written_is_not() {
        let created = ev(EventKind::Create(CreateKind::Folder), &["/w/new"]);
        assert_eq!(
            classify(&created, &view()),
            vec![Action::ScanFolder(PathBuf::from("/w/new"))]
        );
        let renamed = ev(
            EventKind::Modify(ModifyKind::Name(RenameMode::Both)),
            &["/w/old", "/w/sub"],
        );
        assert_eq!(
            classify(&renamed, &view()),
            vec![
                Action::Forget(PathBuf::from("/w/old")),
                Action::ScanFolder(PathBuf::from("/w/sub"))
            ]
        );
        let touched = ev(
            EventKind::Modify(ModifyKind::Metadata(MetadataKind::Any)),
            &["/w/sub"],
        );
        assert!(classify(&touched, &view()).is_empty());
    }

    #[test]
    fn a_removal_forgets_the_path_and_only_a_root_removed_syncs_the_roots() {
        let file = ev(EventKind::Remove(RemoveKind::File), &["/w/a.fit"]);
        assert_eq!(
            classify(&file, &view()),
            vec![Action::Forget(PathBuf::from("/w/a.fit"))]
        );
        let root = ev(EventKind::Remove(RemoveKind::Folder), &["/w"]);
        assert_eq!(
            classify(&root, &view()),
            vec![Action::Forget(PathBuf::from("/w")), Action::SyncRoots]
        );
        let moved_away = ev(
            EventKind::Modify(ModifyKind::Name(RenameMode::From)),
            &["/w/sub"],
        );
        assert_eq!(
            classify(&moved_away, &view()),
            vec![Action::Forget(PathBuf::from("/w/sub"))]
        );
    }

    #[test]
    fn dropped_events_rescan_everything_whatever_the_kind() {
        let dropped = ev(EventKind::Other, &[]).set_flag(Flag::Rescan);
        assert_eq!(classify(&dropped, &view()), vec![Action::RescanAll]);
        let dropped = ev(EventKind::Create(CreateKind::File), &["/w/a.fit"]).set_flag(Flag::Rescan);
        assert_eq!(classify(&dropped, &view()), vec![Action::RescanAll]);
    }
}
