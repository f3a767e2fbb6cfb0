//! People, organizations, projects, members and API keys: what the REST API and the Console
//! answer about accounts, and what they take.

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "lowercase")]
pub enum Role {
    Admin,
    Member,
}

impl Role {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Admin => "admin",
            Self::Member => "member",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "admin" => Some(Self::Admin),
            "member" => Some(Self::Member),
            _ => None,
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            Self::Admin => "Admin",
            Self::Member => "Member",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct User {
    pub id: String,
    pub email: String,
    pub username: String,
    pub name: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct OrgRef {
    pub id: String,
    pub name: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct Organization {
    pub id: String,
    pub name: String,
    pub role: Role,
    pub created_at: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct Project {
    pub id: String,
    pub name: String,
    /// The caller's role in this project.
    pub role: Role,
    pub created_at: String,
}

/// (extension) A project's settings.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct ProjectSettings {
    /// `<connection>/<model id>` its tasks use, e.g. `anthropic/claude-sonnet-4-5` or
    /// `my-ollama/llama3.1:8b`; the server's (or organization's) default when null.
    #[serde(default)]
    #[cfg_attr(
        feature = "openapi",
        schema(
            pattern = r"^\s*(?![\s\S])|^\s*[A-Za-z][A-Za-z0-9_-]{0,39}/(?![\s\S]*\.\.)[A-Za-z0-9._:/@+-]{1,200}\s*(?![\s\S])"
        )
    )]
    pub model: Option<String>,
    /// (extension) Whether a person may pick another model for a new conversation (the
    /// Chat UI's model menu, a task's `model`); false when omitted.
    #[serde(default)]
    pub allow_model_choice: bool,
    /// What its tasks reach on the network (the sandbox's programs and `web_fetch` alike);
    /// internet only when omitted.
    #[serde(default)]
    pub network: NetworkSettings,
    /// What decides a tool call no tool policy rule matches; `allowAll` when omitted.
    #[serde(default)]
    pub policy_mode: crate::policy::PolicyMode,
    /// `autoExecute` of a task that does not say; true when omitted. A task's
    /// `autoExecute: true` never lifts the project's `ask` and `deny`.
    #[serde(default = "yes")]
    pub auto_execute: bool,
    /// Model calls a run may make, within the server's limit; the server's when null.
    #[serde(default)]
    #[cfg_attr(feature = "openapi", schema(minimum = 1, maximum = 10000))]
    pub max_turns: Option<u32>,
    /// Minutes a run may take, within the server's limit; the server's when null.
    #[serde(default)]
    #[cfg_attr(feature = "openapi", schema(minimum = 1, maximum = 10000))]
    pub max_minutes: Option<u32>,
}

fn yes() -> bool {
    true
}

/// (extension) Where a project's agent may connect.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub enum NetworkMode {
    /// No connections at all.
    #[serde(rename = "off")]
    Off,
    /// Any host on the internet, never a private, loopback, link-local or metadata address,
    /// nor the server's own.
    #[default]
    #[serde(rename = "internet")]
    Internet,
    /// Only the hosts of `allowedDomains` (at internet addresses).
    #[serde(rename = "allowList")]
    AllowList,
}

/// (extension) A project's network policy.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct NetworkSettings {
    pub mode: NetworkMode,
    /// With `allowList`: `example.com` (that host) or `*.example.com` (its subdomains), at
    /// most 200.
    #[serde(default)]
    #[cfg_attr(feature = "openapi", schema(max_items = 200))]
    pub allowed_domains: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct ApiKeyRef {
    pub id: String,
    pub name: String,
    pub prefix: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub enum CallerKind {
    #[serde(rename = "user")]
    User,
    #[serde(rename = "apiKey")]
    ApiKey,
}

/// `GET /api/v1/me`: who is calling and what they may reach.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct Me {
    #[serde(rename = "type")]
    pub kind: CallerKind,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub user: Option<User>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub api_key: Option<ApiKeyRef>,
    pub organization: Option<OrgRef>,
    /// The caller's organization role (people only).
    pub role: Option<Role>,
    pub projects: Vec<Project>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct OrgMember {
    pub user_id: String,
    pub email: String,
    pub username: String,
    pub name: String,
    pub role: Role,
    pub joined_at: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct Invitation {
    pub id: String,
    pub email: String,
    pub role: Role,
    pub created_at: String,
    pub expires_at: String,
}

/// The answer to creating an invitation: the only time the link is shown.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct CreatedInvitation {
    pub id: String,
    pub email: String,
    pub role: Role,
    pub expires_at: String,
    pub link: String,
    pub email_sent: bool,
}

/// What the registration page shows about an invitation before the person signs up.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct InvitationPreview {
    pub email: String,
    pub organization_name: String,
    pub role: Role,
    pub expires_at: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct ProjectMember {
    pub user_id: String,
    pub email: String,
    pub username: String,
    pub name: String,
    pub role: Role,
    /// Org admins are admin of every project without a membership row.
    pub implicit: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct UserRef {
    pub id: String,
    pub username: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct ApiKey {
    pub id: String,
    pub name: String,
    /// The first characters of the key, enough to recognise it.
    pub prefix: String,
    pub created_by: UserRef,
    pub created_at: String,
    pub last_used_at: Option<String>,
    pub expires_at: Option<String>,
}

/// The answer to creating a key: the only time its value is shown.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct CreatedApiKey {
    pub id: String,
    pub name: String,
    pub prefix: String,
    pub key: String,
    pub created_by: UserRef,
    pub created_at: String,
    pub expires_at: Option<String>,
}

/// Input shapes, shared by the REST handlers and the Console's server functions.
pub mod input {
    use serde::{Deserialize, Serialize};

    use super::Role;

    #[derive(Debug, Clone, Default, Serialize, Deserialize)]
    #[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
    #[serde(rename_all = "camelCase")]
    pub struct Signup {
        /// One `@`, a dot in the domain, no spaces; compared ignoring case.
        #[cfg_attr(
            feature = "openapi",
            schema(
                max_length = 320,
                pattern = r"^(?![\s\S]*\s)[^@]+@(?!\.)[^@]*\.[^@]*[^@.](?![\s\S])"
            )
        )]
        pub email: String,
        /// 2 to 39 letters, digits, `-` or `_`, starting with a letter or digit (kept in lower
        /// case); derived from the email when absent or blank.
        #[serde(default)]
        #[cfg_attr(
            feature = "openapi",
            schema(pattern = r"^\s*(?![\s\S])|^[A-Za-z0-9][A-Za-z0-9_-]{1,38}(?![\s\S])")
        )]
        pub username: Option<String>,
        /// At most 200 characters, no control characters; derived when absent or blank.
        #[serde(default)]
        #[cfg_attr(
            feature = "openapi",
            schema(max_length = 200, pattern = r"^(?![\s\S]*[\x00-\x1f\x7f-\x9f])")
        )]
        pub name: Option<String>,
        #[cfg_attr(feature = "openapi", schema(min_length = 8, max_length = 1024))]
        pub password: String,
        #[serde(default)]
        pub invitation_token: Option<String>,
    }

    #[derive(Debug, Clone, Default, Serialize, Deserialize)]
    #[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
    pub struct Login {
        pub email: String,
        pub password: String,
    }

    #[derive(Debug, Clone, Serialize, Deserialize)]
    #[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
    pub struct Rename {
        /// At most 100 characters, not blank, no control characters.
        #[cfg_attr(
            feature = "openapi",
            schema(
                min_length = 1,
                max_length = 100,
                pattern = r"^(?![\s\S]*[\x00-\x1f\x7f-\x9f])[\s\S]*\S"
            )
        )]
        pub name: String,
    }

    #[derive(Debug, Clone, Serialize, Deserialize)]
    #[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
    pub struct SetRole {
        pub role: Role,
    }

    #[derive(Debug, Clone, Serialize, Deserialize)]
    #[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
    pub struct Invite {
        #[cfg_attr(
            feature = "openapi",
            schema(
                max_length = 320,
                pattern = r"^(?![\s\S]*\s)[^@]+@(?!\.)[^@]*\.[^@]*[^@.](?![\s\S])"
            )
        )]
        pub email: String,
        #[serde(default)]
        pub role: Option<Role>,
    }

    #[derive(Debug, Clone, Serialize, Deserialize)]
    #[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
    #[serde(rename_all = "camelCase")]
    pub struct AddProjectMember {
        pub user_id: String,
        pub role: Role,
    }

    #[derive(Debug, Clone, Serialize, Deserialize)]
    #[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
    #[serde(rename_all = "camelCase")]
    pub struct CreateApiKey {
        /// At most 100 characters, not blank, no control characters.
        #[cfg_attr(
            feature = "openapi",
            schema(
                min_length = 1,
                max_length = 100,
                pattern = r"^(?![\s\S]*[\x00-\x1f\x7f-\x9f])[\s\S]*\S"
            )
        )]
        pub name: String,
        /// RFC 3339 time, in the future, after which the key stops working.
        #[serde(default)]
        #[cfg_attr(feature = "openapi", schema(format = DateTime))]
        pub expires_at: Option<String>,
    }
}

/// The answer to signing up or logging in (the session cookie comes with it).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct SignedIn {
    pub user: User,
}
