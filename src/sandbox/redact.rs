//! Replaces the task's secret values with `[REDACTED:NAME]` in everything the sandbox and the
//! tools hand back, so a secret echoed by a command never reaches a model, an event or a log.
//!
//! What it covers: a secret anywhere in text, JSON strings, keys and numbers; and a secret cut
//! short (by a line or output limit, or a command that prints part of it): any piece of text
//! that begins like a secret for `MIN_PREFIX` bytes or more is redacted too. What it cannot
//! cover: a program that transforms a secret on purpose (encodes, reverses, splits it) before
//! printing it — the README's security section says so.
//!
//! One pass over the text whatever the number of secrets (Aho-Corasick on each secret's first
//! bytes, then a comparison along the secret at each hit): linear in the text's size.

use std::collections::BTreeMap;
use std::sync::Arc;

use aho_corasick::{AhoCorasick, MatchKind};

/// A piece this long of a secret's beginning is redacted wherever it stands; shorter ones are
/// too common in ordinary text to tell.
const MIN_PREFIX: usize = 6;

#[derive(Clone, Default)]
pub struct Redactor {
    inner: Option<Arc<Inner>>,
}

struct Inner {
    /// (value, name), longest value first.
    secrets: Vec<(String, String)>,
    /// Each secret's first `MIN_PREFIX` bytes (or the whole of a shorter one), in the order of
    /// `secrets`.
    starts: AhoCorasick,
}

/// Names only: the redactor holds the values it hides.
impl std::fmt::Debug for Redactor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let names = self
            .inner
            .iter()
            .flat_map(|i| i.secrets.iter().map(|(_, n)| n));
        f.debug_list().entries(names).finish()
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
        let starts: Vec<&[u8]> = pairs
            .iter()
            .map(|(v, _)| &v.as_bytes()[..v.len().min(MIN_PREFIX)])
            .collect();
        // Secrets sharing a start must all be tried at a hit: overlapping matches are found
        // one by one below, so the automaton only finds starts.
        let inner = AhoCorasick::builder()
            .match_kind(MatchKind::Standard)
            .build(&starts)
            .ok()
            .filter(|_| !pairs.is_empty())
            .map(|starts| {
                Arc::new(Inner {
                    secrets: pairs,
                    starts,
                })
            });
        Self { inner }
    }

    pub fn is_empty(&self) -> bool {
        self.inner.is_none()
    }

    pub fn redact(&self, text: &str) -> String {
        let Some(inner) = &self.inner else {
            return text.to_owned();
        };
        let bytes = text.as_bytes();
        let mut out = String::with_capacity(text.len());
        let mut copied = 0;
        let mut at = 0;
        while at < bytes.len() {
            let Some(hit) = inner.starts.find(&bytes[at..]) else {
                break;
            };
            let start = at + hit.start();
            match inner.longest_at(bytes, start) {
                Some((len, name)) => {
                    // End on a character boundary: a cut may have left half a character.
                    let mut end = start + len;
                    while !text.is_char_boundary(end) {
                        end += 1;
                    }
                    out.push_str(&text[copied..start]);
                    out.push_str(&format!("[REDACTED:{name}]"));
                    copied = end;
                    at = end;
                }
                None => at = start + 1,
            }
        }
        out.push_str(&text[copied..]);
        out
    }

    /// Every string, key and number of a JSON value, redacted (a number holding a secret
    /// becomes the redaction's text).
    pub fn redact_json(&self, value: serde_json::Value) -> serde_json::Value {
        use serde_json::Value;
        if self.is_empty() {
            return value;
        }
        match value {
            Value::String(s) => Value::String(self.redact(&s)),
            Value::Number(n) => {
                let text = n.to_string();
                let redacted = self.redact(&text);
                if redacted == text {
                    Value::Number(n)
                } else {
                    Value::String(redacted)
                }
            }
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

    /// For text that goes on (a streamed answer): removes a trailing beginning of a secret —
    /// of any length — that the next piece may complete, so it is held back until then.
    pub fn strip_partial_tail(&self, text: &str) -> String {
        let Some(inner) = &self.inner else {
            return text.to_owned();
        };
        let bytes = text.as_bytes();
        let mut end = bytes.len();
        for (value, _) in &inner.secrets {
            let keep = end - longest_suffix_prefix(&bytes[..end], value.as_bytes());
            end = keep;
        }
        while !text.is_char_boundary(end) {
            end -= 1;
        }
        text[..end].to_owned()
    }
}

impl Inner {
    /// The longest secret piece starting at `start`: the whole of a secret, or at least
    /// `MIN_PREFIX` bytes of its beginning; its length and the secret's name.
    fn longest_at<'a>(&'a self, bytes: &[u8], start: usize) -> Option<(usize, &'a str)> {
        let rest = &bytes[start..];
        let mut best: Option<(usize, &str)> = None;
        for (value, name) in &self.secrets {
            let v = value.as_bytes();
            let same = v.iter().zip(rest).take_while(|(a, b)| a == b).count();
            let counts = same == v.len() || same >= MIN_PREFIX;
            if counts && best.is_none_or(|(len, _)| same > len) {
                best = Some((same, name));
            }
        }
        best
    }
}

/// The length of the longest suffix of `text` that is a proper beginning of `secret` (KMP's
/// failure function over the secret, run along the text's last bytes): linear in both.
fn longest_suffix_prefix(text: &[u8], secret: &[u8]) -> usize {
    if secret.len() < 2 {
        return 0;
    }
    let mut fail = vec![0usize; secret.len()];
    let mut k = 0;
    for i in 1..secret.len() {
        while k > 0 && secret[i] != secret[k] {
            k = fail[k - 1];
        }
        if secret[i] == secret[k] {
            k += 1;
        }
        fail[i] = k;
    }
    let tail = &text[text.len().saturating_sub(secret.len() - 1)..];
    let mut k = 0;
    for &b in tail {
        while k > 0 && (k == secret.len() || b != secret[k]) {
            k = fail[k - 1];
        }
        if b == secret[k] {
            k += 1;
        }
    }
    if k == secret.len() { fail[k - 1] } else { k }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn redactor(pairs: &[(&str, &str)]) -> Redactor {
        Redactor::new(
            &pairs
                .iter()
                .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                .collect(),
        )
    }

    #[test]
    fn longest_secret_wins_and_all_occurrences_go() {
        let r = redactor(&[("SHORT", "abc"), ("LONG", "abcdef"), ("EMPTY", "")]);
        assert_eq!(
            r.redact("abcdef and abc, abcdef"),
            "[REDACTED:LONG] and [REDACTED:SHORT], [REDACTED:LONG]"
        );
        assert_eq!(r.redact("nothing"), "nothing");
        assert_eq!(r.strip_partial_tail("output abcd"), "output ");
        assert_eq!(r.strip_partial_tail("output x"), "output x");
    }

    #[test]
    fn a_cut_secret_leaves_no_beginning_of_six_or_more() {
        let r = redactor(&[("TOKEN", "tok_9f8e7d6c5b4a")]);
        // Cut by a limit, or by a line, at every length from 6 up.
        for n in 6..16 {
            let cut = &"tok_9f8e7d6c5b4a"[..n];
            let out = r.redact(&format!("line one\n{cut}\nline three {cut}"));
            assert!(!out.contains(cut), "{n}: {out}");
            assert_eq!(out.matches("[REDACTED:TOKEN]").count(), 2, "{out}");
        }
        // Five bytes are too common to tell.
        assert_eq!(r.redact("tok_9"), "tok_9");
    }

    #[test]
    fn multibyte_secrets_cut_mid_character() {
        let secret = "pässwörd-ünïcode";
        let r = redactor(&[("PW", secret)]);
        let cut = &secret.as_bytes()[..7];
        let text = format!("{}…", String::from_utf8_lossy(cut));
        let out = r.redact(&text);
        assert!(out.starts_with("[REDACTED:PW]"), "{out}");
        assert!(!out.contains("pässw"), "{out}");
    }

    #[test]
    fn json_numbers_keys_and_strings() {
        let r = redactor(&[("PIN", "73519246")]);
        let v = serde_json::json!({"73519246": [73519246, "x73519246"], "n": 12});
        let out = r.redact_json(v).to_string();
        assert!(!out.contains("73519246"), "{out}");
        assert!(out.contains("\"n\":12"), "{out}");
    }

    #[test]
    fn held_back_tails_of_any_length() {
        let r = redactor(&[("T", "abcabd")]);
        assert_eq!(r.strip_partial_tail("xx abcab"), "xx ");
        assert_eq!(r.strip_partial_tail("xx abcabc"), "xx abc");
        assert_eq!(r.strip_partial_tail("xx ab"), "xx ");
        assert_eq!(r.strip_partial_tail("xx abd"), "xx abd");
    }
}
