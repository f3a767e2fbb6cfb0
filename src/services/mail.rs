//! Outgoing email (invitations), over SMTP when the operator configures it.

use lettre::message::Mailbox;
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};

use crate::config::SmtpConfig;

#[derive(Debug, thiserror::Error)]
pub enum MailError {
    #[error("invalid SMTP url: {0}")]
    Url(String),
    #[error("invalid sender address `{0}`")]
    From(String),
}

pub struct Mailer {
    transport: AsyncSmtpTransport<Tokio1Executor>,
    from: Mailbox,
}

impl Mailer {
    pub fn new(cfg: &SmtpConfig) -> Result<Self, MailError> {
        let transport = AsyncSmtpTransport::<Tokio1Executor>::from_url(&cfg.url)
            .map_err(|e| MailError::Url(e.to_string()))?
            .build();
        let from = cfg
            .from
            .parse()
            .map_err(|_| MailError::From(cfg.from.clone()))?;
        Ok(Self { transport, from })
    }

    /// Sends an invitation; answers whether it went out. A failure is logged, not fatal: the
    /// admin still sees the link in the Console.
    pub async fn send_invitation(&self, to: &str, org_name: &str, link: &str) -> bool {
        let Ok(to_box) = to.parse::<Mailbox>() else {
            return false;
        };
        let body = format!(
            "You have been invited to join {org_name} on Sigmic.\n\n\
             Create your account here (the link works once):\n{link}\n"
        );
        let message = Message::builder()
            .from(self.from.clone())
            .to(to_box)
            .subject(format!("Join {org_name} on Sigmic"))
            .body(body);
        let message = match message {
            Ok(m) => m,
            Err(e) => {
                tracing::warn!(error = %e, "could not build the invitation email");
                return false;
            }
        };
        match self.transport.send(message).await {
            Ok(_) => true,
            Err(e) => {
                tracing::warn!(error = %e, "could not send the invitation email");
                false
            }
        }
    }
}
