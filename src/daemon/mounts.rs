//! The mount table (`/proc/self/mountinfo`): its changes, and which filesystems must be polled.

use std::fs::File;
use std::io::{Read as _, Seek as _};
use std::path::Path;

/// Wakes when the mount table changes (a filesystem mounted over a watched folder, a watch
/// plugged in): `/proc/self/mountinfo` polls with `POLLPRI` then.
pub(super) struct MountWatch(Option<tokio::io::unix::AsyncFd<File>>);

impl MountWatch {
    // `with_interest` is deprecated for types whose descriptor may be swapped or closed behind
    // the registration; a `File` owned by the `AsyncFd` is neither, and the safe API is this one.
    #[allow(deprecated)]
    pub(super) fn open() -> Self {
        let fd = File::open("/proc/self/mountinfo").ok().and_then(|f| {
            tokio::io::unix::AsyncFd::with_interest(f, tokio::io::Interest::PRIORITY).ok()
        });
        Self(fd)
    }

    /// Resolves at the next change of the mount table; never when it cannot be watched.
    pub(super) async fn changed(&mut self) {
        let Some(fd) = &mut self.0 else {
            return std::future::pending().await;
        };
        match fd.ready_mut(tokio::io::Interest::PRIORITY).await {
            Ok(mut guard) => {
                // Reading the table to its end re-arms the notification.
                let mut sink = Vec::new();
                let _ = guard.get_inner_mut().rewind();
                let _ = guard.get_inner_mut().read_to_end(&mut sink);
                guard.clear_ready();
            }
            Err(_) => self.0 = None,
        }
    }
}

/// True for filesystems where inotify sees nothing useful (FUSE/gvfs MTP, NFS, SMB).
pub(super) fn needs_polling(path: &Path) -> bool {
    let Ok(mounts) = std::fs::read_to_string("/proc/self/mountinfo") else {
        return false;
    };
    let Ok(path) = path.canonicalize() else {
        return false;
    };
    let mut best: Option<(usize, String)> = None;
    for line in mounts.lines() {
        let fields: Vec<&str> = line.split(' ').collect();
        let Some(sep) = fields.iter().position(|f| *f == "-") else {
            continue;
        };
        let (Some(mount), Some(fstype)) = (fields.get(4), fields.get(sep + 1)) else {
            continue;
        };
        let mount = mount.replace("\\040", " ");
        if path.starts_with(&mount) && best.as_ref().is_none_or(|(len, _)| mount.len() > *len) {
            best = Some((mount.len(), (*fstype).to_string()));
        }
    }
    best.is_some_and(|(_, t)| {
        t.starts_with("fuse") || matches!(t.as_str(), "nfs" | "nfs4" | "cifs" | "smb3" | "9p")
    })
}
