//! Skills in the open Agent Skills shape: a folder with `SKILL.md` (YAML front matter `name`
//! and `description`, then Markdown instructions) and any files it uses. A skill arrives as a
//! ZIP of that folder or as JSON written in the Console (`bundle`), is stored whole in the
//! database, and is laid out read-only at `/skills/<name>/` inside a task's sandbox (`view`),
//! where the agent reads it when the task calls for it; the system prompt lists only each
//! skill's name and description.

mod bundle;
mod manifest;
pub mod stored;
pub mod view;

pub use bundle::{BundleFile, SkillBundle};
pub use manifest::{Manifest, SkillName};

/// Where skills appear inside a sandbox.
pub const MOUNT: &str = "/skills";
/// The file every skill has.
pub const SKILL_MD: &str = "SKILL.md";
/// At most this many files in one skill, `SKILL.md` included.
pub const MAX_FILES: usize = 200;
/// At most this many bytes in one skill, all files together.
pub const MAX_BYTES: u64 = 5 * 1024 * 1024;
/// At most this many skills in a project.
pub const MAX_SKILLS: usize = 50;

/// Why a skill is refused: a field and what is wrong with it, in words for the person who
/// wrote it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{field}: {message}")]
pub struct SkillError {
    pub field: String,
    pub message: String,
    /// Over a size limit (`PAYLOAD_TOO_LARGE`) rather than malformed.
    pub too_large: bool,
}

impl SkillError {
    pub fn new(field: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            field: field.into(),
            message: message.into(),
            too_large: false,
        }
    }

    pub fn too_large(field: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            too_large: true,
            ..Self::new(field, message)
        }
    }

    /// The same error, its field under `prefix` (`skills[2].`).
    pub fn under(self, prefix: &str) -> Self {
        Self {
            field: format!("{prefix}{}", self.field),
            ..self
        }
    }
}
