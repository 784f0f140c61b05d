//! The one directory walk, used by `import` (folders given on the command line) and by the
//! service (watched folders, listed when watched, polled or rescanned).
//!
//! The link policy, the same everywhere: an entry is judged by its own type, never by what a
//! link points to. Real folders are walked; a link to a folder never is (it may lead anywhere,
//! or loop). Every other entry whose name is wanted, links and FIFOs, sockets and devices
//! included, is handed to the pipeline, which answers each with a reason (a link out of the
//! watched folders, a special file or a link to a folder is skipped, never opened).

use std::path::{Path, PathBuf};

use crate::config::Config;
use crate::ingest;

/// One entry of a folder worth knowing about.
#[derive(Debug, PartialEq, Eq)]
pub enum Entry {
    /// A real folder (not a link to one): to be walked.
    Folder(PathBuf),
    /// Anything else with a wanted name: to be handed to the pipeline.
    File(PathBuf),
}

/// True for a path that may hold an activity (by its name) and is not ignored.
#[must_use]
pub fn wanted(path: &Path, cfg: &Config) -> bool {
    ingest::has_activity_extension(path) && !cfg.ignored(path)
}

/// One folder's real subfolders and wanted files, in name order.
///
/// # Errors
/// The I/O error from listing the folder. An entry whose type cannot be read is left out.
pub fn entries(dir: &Path, cfg: &Config) -> std::io::Result<Vec<Entry>> {
    let mut listed: Vec<_> = std::fs::read_dir(dir)?.flatten().collect();
    listed.sort_by_key(std::fs::DirEntry::file_name);
    Ok(listed
        .into_iter()
        .filter_map(|e| {
            let ft = e.file_type().ok()?;
            let path = e.path();
            if ft.is_dir() {
                Some(Entry::Folder(path))
            } else {
                wanted(&path, cfg).then_some(Entry::File(path))
            }
        })
        .collect())
}

/// Every wanted file under `top`, depth first in name order (a folder's files where its name
/// sorts), without recursion (a deep tree cannot overflow the stack). A folder that cannot be
/// listed is reported to `unreadable` and passed over.
pub fn walk(
    top: &Path,
    cfg: &Config,
    found: &mut dyn FnMut(PathBuf),
    unreadable: &mut dyn FnMut(&Path, std::io::Error),
) {
    let mut open = |dir: &Path| match entries(dir, cfg) {
        Ok(v) => v.into_iter(),
        Err(e) => {
            unreadable(dir, e);
            Vec::new().into_iter()
        }
    };
    let mut stack = vec![open(top)];
    while let Some(level) = stack.last_mut() {
        match level.next() {
            None => {
                stack.pop();
            }
            Some(Entry::Folder(dir)) => {
                let inner = open(&dir);
                stack.push(inner);
            }
            Some(Entry::File(path)) => found(path),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cfg(dir: &Path) -> Config {
        let path = dir.join("config.toml");
        std::fs::write(&path, "ignore = [\"*.tmp.fit\"]\n").unwrap_or_else(|e| panic!("{e}"));
        crate::config::load(Some(&path), Some(&dir.join("x.db"))).unwrap_or_else(|e| panic!("{e}"))
    }

    #[test]
    fn walks_real_folders_in_name_order_and_hands_over_links_without_following_them() {
        let tmp = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let top = tmp.path().join("top");
        let outside = tmp.path().join("outside");
        for d in [top.join("b"), top.join("a/deep"), outside.clone()] {
            std::fs::create_dir_all(d).unwrap_or_else(|e| panic!("{e}"));
        }
        for f in [
            top.join("c.fit"),
            top.join("a/2.gpx"),
            top.join("a/deep/1.tcx"),
            top.join("b/run.fit"),
            top.join("notes.txt"),
            outside.join("x.fit"),
        ] {
            std::fs::write(f, b"").unwrap_or_else(|e| panic!("{e}"));
        }
        let link = |to: &Path, at: &str| {
            std::os::unix::fs::symlink(to, top.join(at)).unwrap_or_else(|e| panic!("{e}"));
        };
        link(&outside, "linked"); // a link to a folder: never walked
        link(&outside, "folder.fit"); // a link to a folder with a wanted name: answered
        link(&outside.join("x.fit"), "d.fit"); // a link to a file: answered
        let cfg = cfg(tmp.path());
        let mut found = Vec::new();
        let mut failed = Vec::new();
        walk(&top, &cfg, &mut |p| found.push(p), &mut |p, _| {
            failed.push(p.to_path_buf());
        });
        let rel: Vec<String> = found
            .iter()
            .filter_map(|p| p.strip_prefix(&top).ok())
            .map(|p| p.to_string_lossy().into_owned())
            .collect();
        assert_eq!(
            rel,
            [
                "a/2.gpx",
                "a/deep/1.tcx",
                "b/run.fit",
                "c.fit",
                "d.fit",
                "folder.fit"
            ]
        );
        assert!(failed.is_empty());
    }

    #[test]
    fn ignored_names_are_left_out_and_an_unreadable_folder_is_reported() {
        let tmp = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let top = tmp.path().join("top");
        std::fs::create_dir_all(&top).unwrap_or_else(|e| panic!("{e}"));
        std::fs::write(top.join("a.tmp.fit"), b"").unwrap_or_else(|e| panic!("{e}"));
        std::fs::write(top.join("a.fit"), b"").unwrap_or_else(|e| panic!("{e}"));
        let cfg = cfg(tmp.path());
        let mut found = Vec::new();
        walk(&top, &cfg, &mut |p| found.push(p), &mut |_, _| {});
        assert_eq!(found, [top.join("a.fit")]);
        let mut failed = Vec::new();
        walk(&top.join("gone"), &cfg, &mut |_| {}, &mut |p, _| {
            failed.push(p.to_path_buf());
        });
        assert_eq!(failed, [top.join("gone")]);
    }
}
