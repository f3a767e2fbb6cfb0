//! `SKILL.md`: its front matter (`name`, `description`; other keys are kept in the file and
//! otherwise ignored) and its body, the instructions.

use serde::Deserialize;

use super::SkillError;

const MAX_DESCRIPTION: usize = 1024;
const MAX_INSTRUCTIONS: usize = 100_000;

/// A skill's name: lower-case letters, digits and single hyphens, at most 64 characters, as
/// the Agent Skills format has it. It names the skill's folder, so nothing else is allowed.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct SkillName(String);

impl SkillName {
    pub fn parse(input: &str, field: &str) -> Result<Self, SkillError> {
        let name = input.trim();
        let refuse = |m: &str| Err(SkillError::new(field, m));
        if name.is_empty() {
            return refuse("A skill needs a name.");
        }
        if name.len() > 64 {
            return refuse("At most 64 characters.");
        }
        let allowed = name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-');
        if !allowed || name.starts_with('-') || name.ends_with('-') || name.contains("--") {
            return refuse(
                "Use lower-case letters, digits and single hyphens, not at the start or end (e.g. `csv-report`).",
            );
        }
        Ok(Self(name.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Display for SkillName {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// What `SKILL.md` says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Manifest {
    pub name: SkillName,
    pub description: String,
    pub instructions: String,
}

#[derive(Deserialize)]
struct FrontMatter {
    name: Option<String>,
    description: Option<String>,
}

impl Manifest {
    /// Checks a skill's parts as written in JSON (fields named as the API names them).
    pub fn new(name: &str, description: &str, instructions: &str) -> Result<Self, SkillError> {
        let name = SkillName::parse(name, "name")?;
        let description = description.trim();
        if description.is_empty() {
            return Err(SkillError::new(
                "description",
                "Say what the skill does and when to use it: it is all the model sees of it until it opens the skill.",
            ));
        }
        if description.chars().count() > MAX_DESCRIPTION {
            return Err(SkillError::new(
                "description",
                format!("At most {MAX_DESCRIPTION} characters."),
            ));
        }
        if description.chars().any(char::is_control) {
            return Err(SkillError::new(
                "description",
                "One line of text without control characters.",
            ));
        }
        if instructions.chars().count() > MAX_INSTRUCTIONS {
            return Err(SkillError::new(
                "instructions",
                format!("At most {MAX_INSTRUCTIONS} characters."),
            ));
        }
        if instructions.contains('\0') {
            return Err(SkillError::new(
                "instructions",
                "The text contains a NUL character.",
            ));
        }
        Ok(Self {
            name,
            description: description.to_owned(),
            instructions: instructions.to_owned(),
        })
    }

    /// Reads an uploaded `SKILL.md`. Errors name `SKILL.md` and what to fix in it.
    pub fn parse(text: &str) -> Result<Self, SkillError> {
        let bad = |m: String| SkillError::new("file", format!("SKILL.md: {m}"));
        let text = text.strip_prefix('\u{feff}').unwrap_or(text);
        let Some(rest) = text
            .strip_prefix("---\n")
            .or_else(|| text.strip_prefix("---\r\n"))
        else {
            return Err(bad(
                "it must start with YAML front matter between `---` lines, naming `name` and `description`".to_owned(),
            ));
        };
        let (yaml, body) = split_front_matter(rest)
            .ok_or_else(|| bad("its front matter has no closing `---` line".to_owned()))?;
        let front: FrontMatter = serde_saphyr::from_str(yaml)
            .map_err(|e| bad(format!("its front matter is not valid YAML: {e}")))?;
        let name = front
            .name
            .ok_or_else(|| bad("its front matter has no `name`".to_owned()))?;
        let description = front
            .description
            .ok_or_else(|| bad("its front matter has no `description`".to_owned()))?;
        Self::new(&name, &description, body.trim_start_matches(['\r', '\n']))
            .map_err(|e| SkillError::new("file", format!("SKILL.md: `{}`: {}", e.field, e.message)))
    }

    /// `SKILL.md` written from the parts, for a skill written as JSON.
    pub fn render(&self) -> String {
        let quoted = |s: &str| serde_json::to_string(s).unwrap_or_default();
        format!(
            "---\nname: {}\ndescription: {}\n---\n\n{}",
            self.name,
            // A JSON string is a YAML double-quoted scalar: colons and quotes stay text.
            quoted(&self.description),
            self.instructions
        )
    }
}

/// The front matter and the body after its closing `---` line.
fn split_front_matter(rest: &str) -> Option<(&str, &str)> {
    let mut offset = 0;
    for line in rest.split_inclusive('\n') {
        if line.trim_end_matches(['\r', '\n']) == "---" {
            return Some((&rest[..offset], &rest[offset + line.len()..]));
        }
        offset += line.len();
    }
    None
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn names_follow_the_agent_skills_format() {
        assert!(SkillName::parse("csv-report", "name").is_ok());
        assert!(SkillName::parse("a1", "name").is_ok());
        for bad in [
            "",
            "CSV",
            "-a",
            "a-",
            "a--b",
            "a_b",
            "a b",
            "../x",
            &"a".repeat(65),
        ] {
            assert!(SkillName::parse(bad, "name").is_err(), "{bad:?}");
        }
    }

    #[test]
    fn skill_md_round_trips() {
        let m = Manifest::new(
            "pdf-tools",
            "Fill PDF forms: use when asked \"fill\"",
            "# Do\nrun it",
        )
        .unwrap();
        let back = Manifest::parse(&m.render()).unwrap();
        assert_eq!(back, m);
    }

    #[test]
    fn front_matter_is_required_and_checked() {
        let ok =
            "---\nname: x-y\ndescription: Does y.\nlicense: MIT\nmetadata:\n  a: b\n---\nBody\n";
        let m = Manifest::parse(ok).unwrap();
        assert_eq!(
            (m.name.as_str(), m.instructions.as_str()),
            ("x-y", "Body\n")
        );
        for bad in [
            "no front matter",
            "---\nname: x\n",
            "---\nname: x\n---\n",
            "---\ndescription: d\n---\n",
            "---\nname: Bad Name\ndescription: d\n---\n",
            "---\nname: [x\ndescription: d\n---\n",
        ] {
            let e = Manifest::parse(bad).unwrap_err();
            assert!(e.message.starts_with("SKILL.md:"), "{bad:?}: {e}");
        }
    }
}
