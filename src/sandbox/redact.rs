//! Replaces the task's secret values with `[REDACTED:NAME]` in everything the sandbox and the
//! tools hand back, so a secret echoed by a command never reaches a model, an event or a log.

use std::collections::BTreeMap;
use std::sync::Arc;

#[derive(Clone, Default)]
pub struct Redactor {
    /// (value, name), longest value first so a secret that contains another is replaced whole.
    secrets: Arc<Vec<(String, String)>>,
}

/// Names only: the redactor holds the values it hides.
impl std::fmt::Debug for Redactor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_list()
            .entries(self.secrets.iter().map(|(_, name)| name))
            .finish()
    }
}

impl Redactor {
    pub fn new(secrets: &BTreeMap<String, String>) -> Self {
        let mut pairs: Vec<(String, String)> = secrets
            .iter()
            .filter(|(_, v)| !v.is_empty())
            .map(|(k, v)| (v.clone(), k.clone()))
            .collect();
        pairs.sort_by(|a, b| b.0.len().cmp(&a.0.len()).then_with(|| a.1.cmp(&b.1)));
        Self {
            secrets: Arc::new(pairs),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.secrets.is_empty()
    }

    pub fn redact(&self, text: &str) -> String {
        let mut out = text.to_owned();
        for (value, name) in self.secrets.iter() {
            if out.contains(value.as_str()) {
                out = out.replace(value.as_str(), &format!("[REDACTED:{name}]"));
            }
        }
        out
    }
}

impl Redactor {
    /// Every string (and key) of a JSON value, redacted.
    pub fn redact_json(&self, value: serde_json::Value) -> serde_json::Value {
        use serde_json::Value;
        if self.is_empty() {
            return value;
        }
        match value {
            Value::String(s) => Value::String(self.redact(&s)),
            Value::Array(items) => {
                Value::Array(items.into_iter().map(|v| self.redact_json(v)).collect())
            }
            Value::Object(map) => Value::Object(
                map.into_iter()
                    .map(|(k, v)| (self.redact(&k), self.redact_json(v)))
                    .collect(),
            ),
            other => other,
        }
    }

    /// For output cut at a size limit: removes a trailing beginning of a secret, which the cut
    /// separated from the rest and `redact` therefore cannot recognise.
    pub fn strip_partial_tail(&self, text: &str) -> String {
        let mut end = text.len();
        for (value, _) in self.secrets.iter() {
            for k in (1..value.len()).rev() {
                let Some(prefix) = value.get(..k) else {
                    continue;
                };
                if text[..end].ends_with(prefix) {
                    end -= k;
                    break;
                }
            }
        }
        text[..end].to_owned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn longest_secret_wins_and_all_occurrences_go() {
        let mut s = BTreeMap::new();
        s.insert("SHORT".to_owned(), "abc".to_owned());
        s.insert("LONG".to_owned(), "abcdef".to_owned());
        s.insert("EMPTY".to_owned(), String::new());
        let r = Redactor::new(&s);
        assert_eq!(
            r.redact("abcdef and abc, abcdef"),
            "[REDACTED:LONG] and [REDACTED:SHORT], [REDACTED:LONG]"
        );
        assert_eq!(r.redact("nothing"), "nothing");
        assert_eq!(r.strip_partial_tail("output abcd"), "output ");
        assert_eq!(r.strip_partial_tail("output x"), "output x");
    }
}
