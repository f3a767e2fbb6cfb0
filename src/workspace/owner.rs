//! Who owns a workspace on the host. When the server runs as root, sandboxes run as an
//! unprivileged host user (so a sandbox is never host root, even through a user namespace),
//! and everything the server puts into a workspace — uploads, restored snapshots — is handed
//! to that user, with setuid and setgid bits taken off.

use std::os::unix::fs::PermissionsExt;
use std::path::Path;

use nix::fcntl::AtFlags;
use nix::unistd::{Gid, Uid, fchownat};

/// The host user sandboxes run as.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Owner {
    pub uid: u32,
    pub gid: u32,
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

    /// Gives `path` and everything under it to this owner, never following symlinks, and
    /// removes setuid/setgid bits so nothing in a workspace can become a privileged program.
    pub fn hand_over(self, path: &Path) -> std::io::Result<()> {
        let meta = path.symlink_metadata()?;
        fchownat(
            nix::fcntl::AT_FDCWD,
            path,
            Some(Uid::from_raw(self.uid)),
            Some(Gid::from_raw(self.gid)),
            AtFlags::AT_SYMLINK_NOFOLLOW,
        )
        .map_err(std::io::Error::from)?;
        if meta.file_type().is_symlink() {
            return Ok(());
        }
        let mode = meta.permissions().mode();
        if mode & 0o6000 != 0 {
            std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode & !0o6000))?;
        }
        if meta.is_dir() {
            for entry in std::fs::read_dir(path)? {
                self.hand_over(&entry?.path())?;
            }
        }
        Ok(())
    }
}
