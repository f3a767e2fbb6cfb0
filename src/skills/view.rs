//! A run's skills laid out as folders: `<dir>/<name>/SKILL.md` and the rest, which the sandbox
//! sees read-only at `/skills`. Written by the server when a run starts, from what the
//! database held then, so a skill replaced or turned off meanwhile changes the next run, never
//! the one in progress.

use std::io::Write;
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::path::Path;

use super::BundleFile;

/// One skill as a run sees it.
#[derive(Debug, Clone)]
pub struct LaidOut {
    pub name: String,
    pub files: Vec<BundleFile>,
}

/// Replaces what `dir` holds with `skills`. The directory itself stays (a sandbox has it
/// mounted); only its contents change.
pub fn lay_out(dir: &Path, skills: &[LaidOut]) -> std::io::Result<()> {
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o755)
        .create(dir)?;
    for entry in std::fs::read_dir(dir)? {
        let entry = entry?;
        if entry.file_type()?.is_dir() {
            std::fs::remove_dir_all(entry.path())?;
        } else {
            std::fs::remove_file(entry.path())?;
        }
    }
    for skill in skills {
        let root = dir.join(&skill.name);
        for file in &skill.files {
            // Paths were checked when the skill was stored: relative, no `.` or `..`.
            let path = root.join(&file.path);
            if let Some(parent) = path.parent() {
                std::fs::DirBuilder::new()
                    .recursive(true)
                    .mode(0o755)
                    .create(parent)?;
            }
            let mut out = std::fs::OpenOptions::new()
                .write(true)
                .create_new(true)
                .mode(if file.executable { 0o755 } else { 0o644 })
                .open(&path)?;
            out.write_all(&file.content)?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn file(path: &str, text: &str) -> BundleFile {
        BundleFile {
            path: path.into(),
            content: text.as_bytes().to_vec(),
            executable: path.ends_with(".sh"),
        }
    }

    #[test]
    fn a_new_layout_replaces_the_old_one_in_the_same_directory() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("view");
        let one = LaidOut {
            name: "a".into(),
            files: vec![file("SKILL.md", "v1"), file("scripts/run.sh", "#!/bin/sh")],
        };
        lay_out(&dir, &[one]).unwrap();
        let inode = std::fs::metadata(&dir).unwrap();
        assert_eq!(
            std::fs::read_to_string(dir.join("a/SKILL.md")).unwrap(),
            "v1"
        );
        use std::os::unix::fs::{MetadataExt, PermissionsExt};
        let mode = std::fs::metadata(dir.join("a/scripts/run.sh"))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o755);
        let two = LaidOut {
            name: "b".into(),
            files: vec![file("SKILL.md", "v2")],
        };
        lay_out(&dir, &[two]).unwrap();
        assert!(!dir.join("a").exists());
        assert_eq!(
            std::fs::read_to_string(dir.join("b/SKILL.md")).unwrap(),
            "v2"
        );
        assert_eq!(std::fs::metadata(&dir).unwrap().ino(), inode.ino());
    }
}
