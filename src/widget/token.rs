//! Widget tokens: JWTs signed with the server's key (HS256, pinned: a token naming any other
//! algorithm, `none` included, is refused before its signature is looked at). They name the
//! app, its project and the end user, and carry no env or secrets.

use std::fmt;

use chrono::{DateTime, Duration, Utc};
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::{Deserialize, Serialize};

const ISSUER: &str = "sigmic";
const AUDIENCE: &str = "sigmic-widget";
/// Clock skew tolerated between the nodes of a deployment (kept small: a token's end is
/// when a page's `getToken` is asked for the next one).
const LEEWAY_SECS: u64 = 5;

/// What a widget token says.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct WidgetClaims {
    pub iss: String,
    pub aud: String,
    /// The customer's id for the end user.
    pub sub: String,
    /// The widget app (`appId`).
    pub app: String,
    /// The app's project.
    pub prj: String,
    /// The end user's row (`widget_end_users.id`).
    pub eu: String,
    pub iat: i64,
    pub exp: i64,
    /// Unique per token.
    pub jti: String,
}

impl WidgetClaims {
    pub fn expires_at(&self) -> DateTime<Utc> {
        DateTime::from_timestamp(self.exp, 0).unwrap_or_default()
    }
}

#[derive(Debug, thiserror::Error)]
pub enum TokenError {
    #[error("the token could not be signed")]
    Sign,
    #[error("the signing key cannot be used: {0}")]
    Key(String),
    #[error("the token is not valid: {0}")]
    Invalid(String),
}

/// Signs and checks widget tokens with the server's key.
#[derive(Clone)]
pub struct TokenSigner {
    encoding: EncodingKey,
    decoding: DecodingKey,
    validation: Validation,
}

impl fmt::Debug for TokenSigner {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("TokenSigner(..)")
    }
}

/// Who a new token is for.
pub struct Subject<'a> {
    pub app_id: &'a str,
    pub project_id: &'a str,
    pub end_user_row: &'a str,
    pub end_user_id: &'a str,
}

impl TokenSigner {
    pub fn new(key: &[u8]) -> Result<Self, TokenError> {
        let mut validation = Validation::new(Algorithm::HS256);
        validation.set_issuer(&[ISSUER]);
        validation.set_audience(&[AUDIENCE]);
        validation.set_required_spec_claims(&["exp", "iss", "aud", "sub"]);
        validation.leeway = LEEWAY_SECS;
        Ok(Self {
            encoding: EncodingKey::from_secret(key).map_err(|e| TokenError::Key(e.to_string()))?,
            decoding: DecodingKey::from_secret(key).map_err(|e| TokenError::Key(e.to_string()))?,
            validation,
        })
    }

    /// A token for `subject` lasting `ttl` from `now`.
    pub fn issue(
        &self,
        subject: &Subject<'_>,
        now: DateTime<Utc>,
        ttl: Duration,
    ) -> Result<(String, WidgetClaims), TokenError> {
        let claims = WidgetClaims {
            iss: ISSUER.to_owned(),
            aud: AUDIENCE.to_owned(),
            sub: subject.end_user_id.to_owned(),
            app: subject.app_id.to_owned(),
            prj: subject.project_id.to_owned(),
            eu: subject.end_user_row.to_owned(),
            iat: now.timestamp(),
            exp: (now + ttl).timestamp(),
            jti: uuid::Uuid::now_v7().to_string(),
        };
        let token = jsonwebtoken::encode(&Header::new(Algorithm::HS256), &claims, &self.encoding)
            .map_err(|_| TokenError::Sign)?;
        Ok((token, claims))
    }

    /// The claims of a token this server signed that has not expired.
    pub fn verify(&self, token: &str) -> Result<WidgetClaims, TokenError> {
        jsonwebtoken::decode::<WidgetClaims>(token, &self.decoding, &self.validation)
            .map(|data| data.claims)
            .map_err(|e| TokenError::Invalid(e.to_string()))
    }
}

/// `expiresIn` as the API takes it: `"30m"`, `"1h"`, `"7d"`, `"90s"`, or seconds as a number.
pub fn parse_expires_in(value: &serde_json::Value) -> Option<Duration> {
    let secs: i64 = match value {
        serde_json::Value::Number(n) => n.as_i64()?,
        serde_json::Value::String(s) => {
            let s = s.trim();
            let split = s.find(|c: char| !c.is_ascii_digit())?;
            let (number, unit) = s.split_at(split);
            let number: i64 = number.parse().ok()?;
            let unit_secs = match unit {
                "s" => 1,
                "m" => 60,
                "h" => 3_600,
                "d" => 86_400,
                _ => return None,
            };
            number.checked_mul(unit_secs)?
        }
        _ => return None,
    };
    (secs > 0).then(|| Duration::seconds(secs))
}

#[cfg(test)]
mod tests {
    use super::*;
    use base64::Engine;
    use base64::engine::general_purpose::URL_SAFE_NO_PAD;
    use serde_json::json;

    fn subject() -> Subject<'static> {
        Subject {
            app_id: "wa_1",
            project_id: "p1",
            end_user_row: "eu1",
            end_user_id: "customer-42",
        }
    }

    type Outcome = Result<(), Box<dyn std::error::Error>>;

    fn part(token: &str, n: usize) -> Result<&str, String> {
        token
            .split('.')
            .nth(n)
            .ok_or_else(|| format!("no part {n}"))
    }

    #[test]
    fn a_token_verifies_with_its_key_only() -> Outcome {
        let signer = TokenSigner::new(&[7; 32])?;
        let (token, claims) = signer.issue(&subject(), Utc::now(), Duration::hours(1))?;
        assert!(token.starts_with("eyJ"));
        let back = signer.verify(&token)?;
        assert_eq!(back.app, "wa_1");
        assert_eq!(back.sub, "customer-42");
        assert_eq!(back.jti, claims.jti);
        assert!(TokenSigner::new(&[8; 32])?.verify(&token).is_err());
        Ok(())
    }

    #[test]
    fn expired_and_unsigned_tokens_are_refused() -> Outcome {
        let signer = TokenSigner::new(&[7; 32])?;
        let (old, _) = signer.issue(
            &subject(),
            Utc::now() - Duration::hours(2),
            Duration::hours(1),
        )?;
        assert!(signer.verify(&old).is_err());

        // The same claims with `alg: none` and no signature, or naming another algorithm.
        let (good, _) = signer.issue(&subject(), Utc::now(), Duration::hours(1))?;
        let payload = part(&good, 1)?;
        let header = URL_SAFE_NO_PAD.encode(json!({"alg": "none", "typ": "JWT"}).to_string());
        assert!(signer.verify(&format!("{header}.{payload}.")).is_err());
        let hs512 = URL_SAFE_NO_PAD.encode(json!({"alg": "HS512", "typ": "JWT"}).to_string());
        let signature = part(&good, 2)?;
        assert!(
            signer
                .verify(&format!("{hs512}.{payload}.{signature}"))
                .is_err()
        );
        Ok(())
    }

    #[test]
    fn expiry_is_read_as_the_api_documents() {
        assert_eq!(parse_expires_in(&json!("30m")), Some(Duration::minutes(30)));
        assert_eq!(parse_expires_in(&json!("1h")), Some(Duration::hours(1)));
        assert_eq!(parse_expires_in(&json!("7d")), Some(Duration::days(7)));
        assert_eq!(parse_expires_in(&json!(600)), Some(Duration::seconds(600)));
        for bad in [
            json!("1w"),
            json!("h"),
            json!("-1h"),
            json!("0m"),
            json!(""),
            json!(1.5),
            json!(true),
            json!("99999999999999999999d"),
        ] {
            assert_eq!(parse_expires_in(&bad), None, "{bad}");
        }
    }
}
