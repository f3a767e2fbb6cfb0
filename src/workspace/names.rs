//! The names an upload may place: shared by single files and by the entries of an archive,
//! so both are held to the same rules.

use super::{RelPath, UploadError};

/// Checks an uploaded file's name and returns it as a path below `uploads/`. Folder uploads
/// send relative paths (`photos/a.jpg`), which are kept.
pub(super) fn upload_path(name: &str) -> Result<RelPath, UploadError> {
    let bad = |reason| UploadError::BadName {
        name: name.to_owned(),
        reason,
    };
    if name.starts_with('/') {
        return Err(bad("absolute paths are not allowed"));
    }
    if name.split('/').any(|part| part == "..") {
        return Err(bad("`..` is not allowed"));
    }
    let rel = RelPath::parse(name).map_err(|_| bad("it is not a relative file name"))?;
    if rel.is_root() {
        return Err(bad("it is empty"));
    }
    check_name_lengths(&rel, name)?;
    Ok(rel)
}

/// Names the file system would refuse (a component over NAME_MAX) are refused up front, so
/// the caller hears which name was wrong rather than an I/O error halfway through a batch.
pub(super) fn check_name_lengths(rel: &RelPath, name: &str) -> Result<(), UploadError> {
    let too_long = rel.as_path().as_os_str().len() > 1024
        || rel
            .as_path()
            .components()
            .any(|c| c.as_os_str().len() > 255);
    if too_long {
        Err(UploadError::BadName {
            name: name.to_owned(),
            reason: "a path component is longer than 255 bytes or the path longer than 1024",
        })
    } else {
        Ok(())
    }
}
