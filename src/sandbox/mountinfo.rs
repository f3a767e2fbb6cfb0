//! What a sandbox learns of where its mounts come from. The kernel prints a bind mount's
//! source in `/proc/self/mountinfo` as a path relative to the root of the filesystem it lives
//! on, whatever namespace reads it: a workspace under a data dir on the host's root
//! filesystem shows the data dir's full path. Only a filesystem of its own (a volume mounted at
//! the data dir) hides it, so the server checks for one at start-up and says what to do when
//! it is missing.

use std::path::{Path, PathBuf};

/// One line of `/proc/self/mountinfo`: where a mount is, and which directory of its
/// filesystem it shows.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Mount {
    root: PathBuf,
    mount_point: PathBuf,
}

/// The path a sandbox would read in its `/proc/self/mountinfo` for something bound from
/// `dir`: `/` when `dir` is the root of a filesystem of its own, otherwise the part of the
/// host's path that gives the data dir away. `None` when this host's mount table cannot be
/// read.
pub fn path_shown_for(dir: &Path) -> Option<PathBuf> {
    let dir = dir.canonicalize().ok()?;
    let table = std::fs::read_to_string("/proc/self/mountinfo").ok()?;
    shown_in(&table, &dir)
}

fn shown_in(table: &str, dir: &Path) -> Option<PathBuf> {
    // The mount that holds `dir` is the one with the longest mount point above it; of
    // several on the same point, the last (it is on top).
    let mut best: Option<Mount> = None;
    for mount in table.lines().filter_map(parse_line) {
        if !dir.starts_with(&mount.mount_point) {
            continue;
        }
        let deeper = best.as_ref().is_none_or(|b| {
            mount.mount_point.components().count() >= b.mount_point.components().count()
        });
        if deeper {
            best = Some(mount);
        }
    }
    let mount = best?;
    let rest = dir.strip_prefix(&mount.mount_point).ok()?;
    Some(if rest.as_os_str().is_empty() {
        mount.root
    } else {
        mount.root.join(rest)
    })
}

/// Fields 4 and 5 of a mountinfo line, with the kernel's octal escapes (`\040` for a space)
/// undone.
fn parse_line(line: &str) -> Option<Mount> {
    let mut fields = line.split(' ');
    let root = fields.nth(3)?;
    let mount_point = fields.next()?;
    Some(Mount {
        root: PathBuf::from(unescape(root)),
        mount_point: PathBuf::from(unescape(mount_point)),
    })
}

fn unescape(field: &str) -> String {
    let bytes = field.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let octal = bytes
            .get(i + 1..i + 4)
            .filter(|d| bytes[i] == b'\\' && d.iter().all(|c| (b'0'..=b'7').contains(c)))
            .map(|d| d.iter().fold(0u32, |n, c| n * 8 + u32::from(c - b'0')));
        match octal.and_then(|n| u8::try_from(n).ok()) {
            Some(b) => {
                out.push(b);
                i += 4;
            }
            None => {
                out.push(bytes[i]);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    const TABLE: &str = "\
22 1 252:1 / / rw,relatime shared:1 - ext4 /dev/vda1 rw\n\
23 22 0:21 / /proc rw,nosuid - proc proc rw\n\
40 22 0:33 / /srv/sigmic\\040data rw,relatime shared:20 - ext4 /dev/vdb rw\n\
41 22 252:1 /var/lib/other /mnt/bound rw,relatime - ext4 /dev/vda1 rw\n\
50 22 0:40 / /tmp rw - tmpfs tmpfs rw\n\
51 50 0:41 /top /tmp rw - tmpfs tmpfs rw\n";

    fn shown(dir: &str) -> Option<PathBuf> {
        shown_in(TABLE, Path::new(dir))
    }

    #[test]
    fn a_data_dir_on_the_root_filesystem_shows_its_whole_path() {
        assert_eq!(
            shown("/var/lib/sigmic").as_deref(),
            Some(Path::new("/var/lib/sigmic"))
        );
    }

    #[test]
    fn a_data_dir_that_is_a_filesystem_of_its_own_shows_nothing() {
        assert_eq!(shown("/srv/sigmic data").as_deref(), Some(Path::new("/")));
        assert_eq!(
            shown("/srv/sigmic data/workspaces/t1").as_deref(),
            Some(Path::new("/workspaces/t1"))
        );
    }

    #[test]
    fn a_bind_mounted_data_dir_still_shows_where_it_comes_from() {
        assert_eq!(
            shown("/mnt/bound").as_deref(),
            Some(Path::new("/var/lib/other"))
        );
    }

    #[test]
    fn the_mount_on_top_counts() {
        assert_eq!(shown("/tmp/x").as_deref(), Some(Path::new("/top/x")));
    }

    #[test]
    fn a_prefix_that_is_not_a_parent_directory_does_not_match() {
        assert_eq!(
            shown("/srv/sigmic datax").as_deref(),
            Some(Path::new("/srv/sigmic datax"))
        );
    }
}
