//! Who owns a workspace on the host. When the server runs as root, sandboxes run as an
//! unprivileged host user (so a sandbox is never host root, even through a user namespace),
//! and everything the server puts into a workspace — uploads, restored snapshots — is handed
//! to that user, with setuid and setgid bits taken off.

use std::os::fd::AsFd;
use std::path::Path;

use cap_std::ambient_authority;
use cap_std::fs::{Dir, PermissionsExt};
use nix::fcntl::{AtFlags, OFlag};
use nix::unistd::{Gid, Uid, fchownat};

/// The host user sandboxes run as.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Owner {
    pub uid: u32,
    pub gid: u32,
}

/// A Unix socket at `path` that only `owner` (the sandbox user), or this process's own user
/// when sandboxes run as it, can connect to.
pub fn private_socket(
    path: &Path,
    owner: Option<Owner>,
) -> std::io::Result<tokio::net::UnixListener> {
    use std::os::unix::fs::PermissionsExt as _;
    let _ = std::fs::remove_file(path);
    let listener = tokio::net::UnixListener::bind(path)?;
    if let Some(owner) = owner {
        nix::unistd::chown(
            path,
            Some(Uid::from_raw(owner.uid)),
            Some(Gid::from_raw(owner.gid)),
        )
        .map_err(std::io::Error::from)?;
    }
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600))?;
    Ok(listener)
}

impl Owner {
    /// `nobody:nogroup` when we are root (we can switch to it); `None` otherwise, when the
    /// sandbox runs as the server's own unprivileged user.
    pub fn for_this_process() -> Option<Self> {
        Uid::effective().is_root().then_some(Self {
            uid: 65534,
            gid: 65534,
        })
    }

    /// Gives `path` and everything under it to this owner, and removes setuid/setgid bits
    /// so nothing in a workspace can become a privileged program. A running sandbox may swap
    /// any entry for a symlink meanwhile, so every step works on a handle of the directory
    /// holding the entry and never follows a link: ownership is changed on the link itself,
    /// modes through a descriptor opened with `O_NOFOLLOW`, and directories are entered with
    /// no-follow opens, one level at a time.
    pub fn hand_over(self, path: &Path) -> std::io::Result<()> {
        let (parent, name) = match (path.parent(), path.file_name()) {
            (Some(p), Some(n)) => (p, n),
            _ => return Err(std::io::Error::other("cannot hand over a root directory")),
        };
        let parent = Dir::open_ambient_dir(parent, ambient_authority())?;
        self.hand_over_entry(&parent, Path::new(name))
    }

    fn hand_over_entry(self, dir: &Dir, name: &Path) -> std::io::Result<()> {
        fchownat(
            dir.as_fd(),
            name,
            Some(Uid::from_raw(self.uid)),
            Some(Gid::from_raw(self.gid)),
            AtFlags::AT_SYMLINK_NOFOLLOW,
        )
        .map_err(std::io::Error::from)?;
        let meta = dir.symlink_metadata(name)?;
        if meta.file_type().is_symlink() {
            return Ok(());
        }
        let mode = meta.permissions().mode();
        if mode & 0o6000 != 0 && (meta.is_file() || meta.is_dir()) {
            // O_NONBLOCK: a FIFO swapped in must not block the open.
            let fd = nix::fcntl::openat(
                dir.as_fd(),
                name,
                OFlag::O_RDONLY
                    | OFlag::O_NOFOLLOW
                    | OFlag::O_NONBLOCK
                    | OFlag::O_CLOEXEC
                    | OFlag::O_NOCTTY,
                nix::sys::stat::Mode::empty(),
            )
            .map_err(std::io::Error::from)?;
            let now = nix::sys::stat::fstat(&fd).map_err(std::io::Error::from)?;
            let bits = nix::sys::stat::Mode::from_bits_truncate(now.st_mode & 0o7777 & !0o6000);
            nix::sys::stat::fchmod(&fd, bits).map_err(std::io::Error::from)?;
        }
        if meta.is_dir() {
            let Ok(sub) = super::walk::open_dir_nofollow(dir, name) else {
                // Swapped for something else since: nothing of ours to walk into.
                return Ok(());
            };
            for entry in sub.entries()? {
                self.hand_over_entry(&sub, Path::new(&entry?.file_name()))?;
            }
        }
        Ok(())
    }
}
