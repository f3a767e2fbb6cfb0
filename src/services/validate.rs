//! Field rules shared by sign-up, the CLI and the Console forms.

pub const PASSWORD_MIN: usize = 8;
pub const PASSWORD_MAX: usize = 1024;

pub fn normalize_email(email: &str) -> String {
    email.trim().to_lowercase()
}

/// Deliberately simple: one `@`, something on each side, a dot in the domain, no spaces. The
/// invitation link proves the address works; this only catches typos.
pub fn email_ok(email: &str) -> bool {
    let Some((local, domain)) = email.split_once('@') else {
        return false;
    };
    !local.is_empty()
        && domain.contains('.')
        && !domain.starts_with('.')
        && !domain.ends_with('.')
        && !domain.contains('@')
        && email.chars().count() <= 320
        && !email.chars().any(char::is_whitespace)
}

pub fn username_ok(username: &str) -> bool {
    let len = username.chars().count();
    (2..=39).contains(&len)
        && username
            .chars()
            .next()
            .is_some_and(|c| c.is_ascii_lowercase() || c.is_ascii_digit())
        && username
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '_')
}

pub const USERNAME_RULE: &str =
    "Use 2–39 characters: lowercase letters, digits, '-' or '_', starting with a letter or digit.";

/// A username from the part of the email before `@`: lower-cased, other characters dropped.
pub fn username_from_email(email: &str) -> String {
    let local = email.split('@').next().unwrap_or_default();
    let mut name: String = local
        .chars()
        .map(|c| c.to_ascii_lowercase())
        .filter(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || *c == '-' || *c == '_')
        .skip_while(|c| *c == '-' || *c == '_')
        .take(32)
        .collect();
    while name.chars().count() < 2 {
        name.push('0');
    }
    name
}

/// A display name of at most `max` characters as sent, not blank, without control
/// characters (the OpenAPI document states the same rule), kept trimmed.
pub fn name(value: &str, max: usize, what: &str) -> Result<String, String> {
    if value.chars().any(char::is_control) {
        return Err(format!("{what} cannot contain control characters."));
    }
    let v = value.trim();
    if v.is_empty() {
        return Err(format!("{what} is required."));
    }
    if value.chars().count() > max {
        return Err(format!("{what} must be at most {max} characters."));
    }
    Ok(v.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn usernames_derive_from_emails() {
        assert_eq!(
            username_from_email("Ada.Lovelace+x@example.com"),
            "adalovelacex"
        );
        assert_eq!(username_from_email("_@example.com"), "00");
        assert!(username_ok(&username_from_email("a@example.com")));
    }

    #[test]
    fn email_rules() {
        assert!(email_ok("a@b.co"));
        assert!(!email_ok("a@b"));
        assert!(!email_ok("a b@c.de"));
        assert!(!email_ok("@c.de"));
    }
}
