//! The guarded extraction loop for uploaded `.zip` files. An archive is hostile until proven
//! otherwise: every entry's metadata is checked before a byte is written (so a refused
//! archive costs no disk), and bytes are counted while they are copied, because the sizes an
//! archive declares can lie.

use std::io::{Read, Seek, Write};
use std::path::{Component, Path};

use cap_std::fs::{Dir, OpenOptions, OpenOptionsExt};
use zip::{CompressionMethod, ZipArchive};

use super::names::check_name_lengths;
use super::{RelPath, UploadError};

const S_IFMT: u32 = 0o170_000;
const S_IFREG: u32 = 0o100_000;
const S_IFDIR: u32 = 0o040_000;
const S_IFLNK: u32 = 0o120_000;

/// What an archive may still extract: the upload's allowance, less what the archives before
/// it in the same upload took (a request of many small bombs is bounded like one big one).
pub(crate) struct ZipLimits {
    pub max_entries: usize,
    pub max_bytes: u64,
    /// The upload's whole allowance, for the messages.
    pub limit_entries: usize,
    pub limit_bytes: u64,
}

/// A file the archive put in place: its path below the extraction directory and its size.
pub(crate) type Extracted = (RelPath, u64);

/// Extracts `archive` (named `name` in errors) into `dest`, keeping its folders. Fails on the
/// first entry that is refused; the caller removes whatever was written.
pub(crate) fn extract<R: Read + Seek>(
    archive: R,
    name: &str,
    dest: &Dir,
    limits: &ZipLimits,
) -> Result<Vec<Extracted>, UploadError> {
    let invalid = |reason: String| UploadError::ZipInvalid {
        name: name.to_owned(),
        reason,
    };
    let mut zip = ZipArchive::new(archive).map_err(|e| invalid(e.to_string()))?;
    if zip.len() > limits.max_entries {
        return Err(UploadError::ZipTooManyEntries {
            name: name.to_owned(),
            entries: zip.len(),
            limit: limits.limit_entries,
        });
    }

    // First pass: metadata only.
    let mut plan = Vec::with_capacity(zip.len());
    for index in 0..zip.len() {
        let entry = zip
            .by_index_data(index)
            .map_err(|e| invalid(e.to_string()))?;
        let shown = String::from_utf8_lossy(entry.name_raw()).into_owned();
        let refuse =
            |kind: fn(String, String) -> UploadError| Err(kind(name.to_owned(), shown.clone()));
        if entry.encrypted() {
            return refuse(|name, entry| UploadError::ZipEncrypted { name, entry });
        }
        let decoded = entry.name().map(|n| n.into_owned()).unwrap_or_default();
        if climbs_or_rooted(&shown) || climbs_or_rooted(&decoded) {
            return refuse(|name, entry| UploadError::ZipEscape { name, entry });
        }
        let Some(enclosed) = entry.enclosed_name() else {
            return refuse(|name, entry| UploadError::ZipEscape { name, entry });
        };
        let Some(rel) = normalized(&enclosed) else {
            return refuse(|name, entry| UploadError::ZipEscape { name, entry });
        };
        let mode = entry.unix_mode().unwrap_or(0);
        let is_dir = entry.is_dir() || mode & S_IFMT == S_IFDIR;
        match mode & S_IFMT {
            0 | S_IFREG | S_IFDIR => {}
            S_IFLNK => return refuse(|name, entry| UploadError::ZipLink { name, entry }),
            _ => return refuse(|name, entry| UploadError::ZipSpecial { name, entry }),
        }
        if !matches!(
            entry.compression(),
            CompressionMethod::Stored | CompressionMethod::Deflated
        ) {
            return Err(UploadError::ZipUnsupported {
                name: name.to_owned(),
                entry: shown,
                method: entry.compression().to_string(),
            });
        }
        check_name_lengths(&rel, name)?;
        let executable = !is_dir && mode & 0o111 != 0;
        plan.push((index, rel, shown, is_dir, executable));
    }

    // Second pass: write, through a budget shared by all entries.
    let mut budget = limits.max_bytes;
    let mut written = Vec::new();
    let mut buffer = vec![0u8; 64 * 1024];
    for (index, rel, shown, is_dir, executable) in plan {
        let place_err = |e: std::io::Error| UploadError::place(&shown, e);
        if rel.is_root() {
            continue;
        }
        if is_dir {
            dest.create_dir_all(rel.as_path()).map_err(place_err)?;
            continue;
        }
        if let Some(parent) = rel.parent().filter(|p| !p.is_root()) {
            dest.create_dir_all(parent.as_path()).map_err(place_err)?;
        }
        let mut options = OpenOptions::new();
        options
            .write(true)
            .create_new(true)
            .mode(if executable { 0o755 } else { 0o644 });
        let mut out = dest
            .open_with(rel.as_path(), &options)
            .map_err(place_err)?
            .into_std();
        let mut entry = zip.by_index(index).map_err(|e| invalid(e.to_string()))?;
        let mut size = 0u64;
        loop {
            let n = entry
                .read(&mut buffer)
                .map_err(|e| invalid(format!("entry `{shown}`: {e}")))?;
            if n == 0 {
                break;
            }
            let n64 = n as u64;
            if n64 > budget {
                return Err(UploadError::ZipTooLarge {
                    name: name.to_owned(),
                    limit: limits.limit_bytes,
                });
            }
            budget -= n64;
            size += n64;
            out.write_all(&buffer[..n])
                .map_err(|e| UploadError::io("write an extracted file", e))?;
        }
        written.push((rel, size));
    }
    Ok(written)
}

/// `enclosed_name` quietly makes `/etc/x` relative and resolves `a/../b`; an archive that
/// names such paths was made to attack an extractor, so it is refused whole instead.
fn climbs_or_rooted(raw: &str) -> bool {
    let bytes = raw.as_bytes();
    let drive = bytes.len() >= 2 && bytes[0].is_ascii_alphabetic() && bytes[1] == b':';
    raw.starts_with(['/', '\\']) || drive || raw.split(['/', '\\']).any(|part| part == "..")
}

/// The entry's path as normal components only (a last guard behind `enclosed_name`).
fn normalized(path: &Path) -> Option<RelPath> {
    let mut out = RelPath::root();
    for component in path.components() {
        match component {
            Component::Normal(part) => out = out.join(part),
            Component::CurDir => {}
            Component::ParentDir | Component::RootDir | Component::Prefix(_) => return None,
        }
    }
    Some(out)
}
