//! `{{mcp.KEY}}` placeholders in an MCP server's url, headers, env and args: checked when the
//! server is saved, filled from a task's `env` and `secrets` when it connects.

use std::collections::BTreeMap;

const OPEN: &str = "{{";
const CLOSE: &str = "}}";
const NAMESPACE: &str = "mcp.";

/// Why a text's placeholders are not well formed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TemplateError {
    #[error("`{{{{` at character {0} is never closed with `}}}}`")]
    Unclosed(usize),
    #[error("the placeholder at character {0} has no key: write {{{{mcp.KEY}}}}")]
    NoKey(usize),
    #[error(
        "the placeholder key `{key}` at character {at} must be letters, digits and `_`, not starting with a digit"
    )]
    BadKey { key: String, at: usize },
    #[error("`{{{{{found}}}}}` at character {at} is not a placeholder: write {{{{mcp.KEY}}}}")]
    Unknown { found: String, at: usize },
}

/// A filled text could not be made: a key has no value in the task.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("the task has no `{0}` in its env or secrets, which {{{{mcp.{0}}}}} needs")]
pub struct MissingKey(pub String);

/// One piece of a parsed text.
enum Piece<'a> {
    Text(&'a str),
    Key(&'a str),
}

fn parse(text: &str) -> Result<Vec<Piece<'_>>, TemplateError> {
    let mut pieces = Vec::new();
    let mut rest = text;
    let mut offset = 0;
    while let Some(start) = rest.find(OPEN) {
        let at = char_index(text, offset + start);
        pieces.push(Piece::Text(&rest[..start]));
        let after = &rest[start + OPEN.len()..];
        let end = after.find(CLOSE).ok_or(TemplateError::Unclosed(at))?;
        let inner = after[..end].trim();
        let key = inner
            .strip_prefix(NAMESPACE)
            .ok_or_else(|| TemplateError::Unknown {
                found: inner.to_owned(),
                at,
            })?;
        if key.is_empty() {
            return Err(TemplateError::NoKey(at));
        }
        if !is_key(key) {
            return Err(TemplateError::BadKey {
                key: key.to_owned(),
                at,
            });
        }
        pieces.push(Piece::Key(key));
        let consumed = start + OPEN.len() + end + CLOSE.len();
        rest = &rest[consumed..];
        offset += consumed;
    }
    pieces.push(Piece::Text(rest));
    Ok(pieces)
}

/// The 1-based character position of byte `byte` in `text`, for messages people read.
fn char_index(text: &str, byte: usize) -> usize {
    text.get(..byte).map_or(0, |s| s.chars().count()) + 1
}

fn is_key(key: &str) -> bool {
    let mut chars = key.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

/// Checks `text`'s placeholders are well formed.
pub fn check(text: &str) -> Result<(), TemplateError> {
    parse(text).map(drop)
}

/// The keys `text` names.
pub fn keys(text: &str) -> Vec<String> {
    parse(text)
        .map(|pieces| {
            pieces
                .into_iter()
                .filter_map(|p| match p {
                    Piece::Key(k) => Some(k.to_owned()),
                    Piece::Text(_) => None,
                })
                .collect()
        })
        .unwrap_or_default()
}

/// `text` with every placeholder replaced by its value in `values`.
pub fn fill(text: &str, values: &BTreeMap<String, String>) -> Result<String, MissingKey> {
    // Saved texts were checked; one that no longer parses is used as it is.
    let Ok(pieces) = parse(text) else {
        return Ok(text.to_owned());
    };
    let mut out = String::with_capacity(text.len());
    for piece in pieces {
        match piece {
            Piece::Text(t) => out.push_str(t),
            Piece::Key(k) => out.push_str(values.get(k).ok_or_else(|| MissingKey(k.to_owned()))?),
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn values() -> BTreeMap<String, String> {
        BTreeMap::from([
            ("TOKEN".to_owned(), "tok-1".to_owned()),
            ("HOST".to_owned(), "orders.test".to_owned()),
        ])
    }

    #[test]
    fn placeholders_are_filled_from_the_tasks_values() {
        assert_eq!(
            fill("Bearer {{mcp.TOKEN}}", &values()).unwrap(),
            "Bearer tok-1"
        );
        assert_eq!(
            fill("https://{{ mcp.HOST }}/mcp?t={{mcp.TOKEN}}", &values()).unwrap(),
            "https://orders.test/mcp?t=tok-1"
        );
        assert_eq!(fill("plain", &values()).unwrap(), "plain");
    }

    #[test]
    fn a_missing_key_is_named() {
        let err = fill("{{mcp.NOPE}}", &values()).unwrap_err();
        assert_eq!(err, MissingKey("NOPE".into()));
        assert!(err.to_string().contains("NOPE"), "{err}");
    }

    #[test]
    fn malformed_placeholders_are_refused_with_their_position() {
        assert_eq!(check("a {{mcp.}}"), Err(TemplateError::NoKey(3)));
        assert_eq!(check("{{mcp.TOKEN"), Err(TemplateError::Unclosed(1)));
        assert!(matches!(
            check("{{mcp.9x}}"),
            Err(TemplateError::BadKey { .. })
        ));
        assert!(matches!(
            check("{{env.X}}"),
            Err(TemplateError::Unknown { .. })
        ));
        assert_eq!(keys("{{mcp.A}}-{{mcp.B}}"), vec!["A", "B"]);
    }
}
