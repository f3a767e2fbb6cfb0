//! THE authorization matrix: every endpoint of the contract, called by every kind of caller,
//! checked against an expected-outcome table written out by hand.
//!
//! One organization "Acme" (admin `owner`) with projects A ("Default") and B ("Beta"):
//!
//! | caller      | who                                                              |
//! |-------------|------------------------------------------------------------------|
//! | anon        | no credentials                                                   |
//! | revoked     | a revoked key of project A (Bearer)                              |
//! | expired     | an expired key of project A (X-API-Key)                          |
//! | keyA        | a key of project A, created by `owner` (Bearer)                  |
//! | keyB        | a key of project B (same org), created by `owner` (X-API-Key)    |
//! | orgMember   | org member in no project                                         |
//! | projMember  | org member, member of project A                                  |
//! | projAdmin   | org member, admin of project A                                   |
//! | orgAdmin    | `owner`, admin of the organization                               |
//! | stranger    | admin of another organization                                    |
//!
//! Mutating calls act on throwaway targets created for that one call, so rows and callers can
//! run in any order.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::fmt;
use std::time::{Duration, Instant};

use reqwest::{Client, Method};
use serde_json::{Value, json};
use sigmic_testkit::harness::*;

// ---------------------------------------------------------------------------------------------
// Callers and outcomes
// ---------------------------------------------------------------------------------------------

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Caller {
    Anon,
    Revoked,
    Expired,
    KeyA,
    KeyB,
    OrgMember,
    ProjMember,
    ProjAdmin,
    OrgAdmin,
    Stranger,
}
use Caller::*;

const CALLERS: [Caller; 10] = [
    Anon, Revoked, Expired, KeyA, KeyB, OrgMember, ProjMember, ProjAdmin, OrgAdmin, Stranger,
];

impl Caller {
    fn name(self) -> &'static str {
        match self {
            Anon => "anon",
            Revoked => "revoked",
            Expired => "expired",
            KeyA => "keyA",
            KeyB => "keyB",
            OrgMember => "orgMember",
            ProjMember => "projMember",
            ProjAdmin => "projAdmin",
            OrgAdmin => "orgAdmin",
            Stranger => "stranger",
        }
    }

    fn is_person(self) -> bool {
        matches!(
            self,
            OrgMember | ProjMember | ProjAdmin | OrgAdmin | Stranger
        )
    }
}

/// Expected outcomes, short so the table stays readable.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Exp {
    /// 2xx (and `success: true` when the body is an envelope)
    OK,
    /// 401 AUTH_REQUIRED
    A401,
    /// 401 INVALID_API_KEY
    K401,
    /// 403 FORBIDDEN
    F403,
    /// 404 NOT_FOUND
    N404,
}
use Exp::*;

impl Exp {
    fn wire(self) -> Option<(u16, &'static str)> {
        match self {
            OK => None,
            A401 => Some((401, "AUTH_REQUIRED")),
            K401 => Some((401, "INVALID_API_KEY")),
            F403 => Some((403, "FORBIDDEN")),
            N404 => Some((404, "NOT_FOUND")),
        }
    }
}

impl fmt::Display for Exp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.wire() {
            None => f.write_str("2xx"),
            Some((s, c)) => write!(f, "{s} {c}"),
        }
    }
}

#[derive(Clone, PartialEq, Eq, Debug)]
enum Got {
    Ok(u16),
    Err(u16, String),
}

impl Got {
    fn matches(&self, exp: Exp) -> bool {
        match (self, exp.wire()) {
            (Got::Ok(_), None) => true,
            (Got::Err(s, c), Some((es, ec))) => *s == es && c == ec,
            _ => false,
        }
    }

    fn short(&self) -> String {
        match self {
            Got::Ok(s) => s.to_string(),
            Got::Err(s, c) => match c.as_str() {
                "AUTH_REQUIRED" => format!("{s}A"),
                "INVALID_API_KEY" => format!("{s}K"),
                _ => s.to_string(),
            },
        }
    }
}

impl fmt::Display for Got {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Got::Ok(s) => write!(f, "{s} (success)"),
            Got::Err(s, c) => write!(f, "{s} {c}"),
        }
    }
}

// ---------------------------------------------------------------------------------------------
// The endpoint table
// ---------------------------------------------------------------------------------------------

/// What a row's path parameters point at; `Fresh…` targets are created anew for every call.
#[derive(Clone, Copy, Debug)]
enum Target {
    NoParams,
    /// `{token}` of a pending invitation to Acme.
    PendingInvitationToken,
    /// `{projectId}` = project A.
    ProjectA,
    /// `{projectId}` = the stranger's own project.
    StrangerProject,
    /// `{projectId}` = a new Acme project where projMember is member and projAdmin is admin;
    /// keyA is replaced by a key of that project.
    FreshProject,
    /// `{userId}` = a new Acme org member (in no project).
    FreshOrgMember,
    /// `{id}` = a new pending Acme invitation.
    FreshInvitation,
    /// `{projectId}` = A, and the body's `userId` = a new Acme org member not in A.
    ProjectAWithCandidate,
    /// `{projectId}` = A, `{userId}` = a new Acme member who is a member of A.
    FreshProjectAMember,
    /// `{projectId}` = A, `{keyId}` = a new key of A created by orgAdmin.
    FreshKeyOfAByOrgAdmin,
    /// `{projectId}` = A, `{keyId}` = a new key of A created by projMember.
    FreshKeyOfAByProjMember,
    /// `{username}` = orgAdmin's username.
    OrgAdminUsername,
    /// `{id}` = a new Chat UI conversation (a task made with a session) of orgAdmin in A.
    FreshConversationOfOrgAdmin,
    /// `{id}` = a new Chat UI conversation of projMember in A.
    FreshConversationOfProjMember,
}

#[derive(Clone, Copy, Debug)]
enum Body {
    Empty,
    /// `{name: <fresh>}`
    Name,
    /// a fresh signup without invitation
    Signup,
    /// orgMember's email and password
    Login,
    /// `{email: <fresh>, role: "member"}`
    InviteEmail,
    /// `{role: "admin"}`
    RoleAdmin,
    /// `{userId: <candidate>, role: "member"}`
    AddMember,
    /// `{title: <fresh>}`
    Title,
}

/// For logout: people call with a fresh session of their own, so their matrix session lives on.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Session {
    Shared,
    FreshPerCall,
}

struct Row {
    method: Method,
    path: &'static str,
    target: Target,
    body: Body,
    session: Session,
    /// In `CALLERS` order: anon, revoked, expired, keyA, keyB, orgMember, projMember,
    /// projAdmin, orgAdmin, stranger.
    expect: [Exp; 10],
}

fn row(method: Method, path: &'static str, target: Target, body: Body, expect: [Exp; 10]) -> Row {
    Row {
        method,
        path,
        target,
        body,
        session: Session::Shared,
        expect,
    }
}

#[rustfmt::skip]
fn table() -> Vec<Row> {
    use Body as B;
    use Target as T;
    let (get, post, patch, delete) = (Method::GET, Method::POST, Method::PATCH, Method::DELETE);
    vec![
        //                                                                                        anon  revoked expired keyA keyB  orgMem projMem projAdm orgAdm stranger
        // -- public ---------------------------------------------------------------------------------
        row(get.clone(),    "/healthz",                          T::NoParams, B::Empty,           [OK,  OK,   OK,   OK,   OK,   OK,   OK,   OK,   OK,   OK  ]),
        row(get.clone(),    "/readyz",                           T::NoParams, B::Empty,           [OK,  OK,   OK,   OK,   OK,   OK,   OK,   OK,   OK,   OK  ]),
        row(get.clone(),    "/api/v1/openapi.json",              T::NoParams, B::Empty,           [OK,  OK,   OK,   OK,   OK,   OK,   OK,   OK,   OK,   OK  ]),
        row(get.clone(),    "/api/docs",                         T::NoParams, B::Empty,           [OK,  OK,   OK,   OK,   OK,   OK,   OK,   OK,   OK,   OK  ]),
        row(post.clone(),   "/api/v1/auth/signup",               T::NoParams, B::Signup,          [OK,  OK,   OK,   OK,   OK,   OK,   OK,   OK,   OK,   OK  ]),
        row(post.clone(),   "/api/v1/auth/login",                T::NoParams, B::Login,           [OK,  OK,   OK,   OK,   OK,   OK,   OK,   OK,   OK,   OK  ]),
        // Logout looks at the credentials it is given: a broken key is an error, as everywhere.
        Row { session: Session::FreshPerCall,
          ..row(post.clone(), "/api/v1/auth/logout",             T::NoParams, B::Empty,           [OK,  K401, K401, OK,   OK,   OK,   OK,   OK,   OK,   OK  ]) },
        row(get.clone(),    "/api/v1/invitations/{token}",       T::PendingInvitationToken, B::Empty, [OK, OK, OK,  OK,   OK,   OK,   OK,   OK,   OK,   OK  ]),
        // -- who am I -------------------------------------------------------------------------------
        row(get.clone(),    "/api/v1/me",                        T::NoParams, B::Empty,           [A401, K401, K401, OK,  OK,   OK,   OK,   OK,   OK,   OK  ]),
        // -- organization (people only; stranger acts on their own organization) -------------------
        row(get.clone(),    "/api/v1/organization",              T::NoParams, B::Empty,           [A401, K401, K401, F403, F403, OK,  OK,   OK,   OK,   OK  ]),
        row(patch.clone(),  "/api/v1/organization",              T::NoParams, B::Name,            [A401, K401, K401, F403, F403, F403, F403, F403, OK,  OK  ]),
        row(get.clone(),    "/api/v1/organization/members",      T::NoParams, B::Empty,           [A401, K401, K401, F403, F403, OK,  OK,   OK,   OK,   OK  ]),
        row(patch.clone(),  "/api/v1/organization/members/{userId}", T::FreshOrgMember, B::RoleAdmin, [A401, K401, K401, F403, F403, F403, F403, F403, OK, N404]),
        row(delete.clone(), "/api/v1/organization/members/{userId}", T::FreshOrgMember, B::Empty, [A401, K401, K401, F403, F403, F403, F403, F403, OK,  N404]),
        row(get.clone(),    "/api/v1/organization/invitations",  T::NoParams, B::Empty,           [A401, K401, K401, F403, F403, F403, F403, F403, OK,  OK  ]),
        row(post.clone(),   "/api/v1/organization/invitations",  T::NoParams, B::InviteEmail,     [A401, K401, K401, F403, F403, F403, F403, F403, OK,  OK  ]),
        row(delete.clone(), "/api/v1/organization/invitations/{id}", T::FreshInvitation, B::Empty, [A401, K401, K401, F403, F403, F403, F403, F403, OK, N404]),
        // -- projects -------------------------------------------------------------------------------
        row(get.clone(),    "/api/v1/projects",                  T::NoParams, B::Empty,           [A401, K401, K401, OK,  OK,   OK,   OK,   OK,   OK,   OK  ]),
        row(post.clone(),   "/api/v1/projects",                  T::NoParams, B::Name,            [A401, K401, K401, F403, F403, F403, F403, F403, OK,  OK  ]),
        row(get.clone(),    "/api/v1/projects/{projectId}",      T::ProjectA, B::Empty,           [A401, K401, K401, OK,  N404, N404, OK,   OK,   OK,   N404]),
        row(patch.clone(),  "/api/v1/projects/{projectId}",      T::ProjectA, B::Name,            [A401, K401, K401, F403, N404, N404, F403, F403, OK,  N404]),
        row(delete.clone(), "/api/v1/projects/{projectId}",      T::FreshProject, B::Empty,       [A401, K401, K401, F403, N404, N404, F403, F403, OK,  N404]),
        row(get.clone(),    "/api/v1/projects/{projectId}",      T::StrangerProject, B::Empty,    [A401, K401, K401, N404, N404, N404, N404, N404, N404, OK ]),
        // -- project members ------------------------------------------------------------------------
        row(get.clone(),    "/api/v1/projects/{projectId}/members", T::ProjectA, B::Empty,        [A401, K401, K401, F403, N404, N404, OK,  OK,   OK,   N404]),
        row(post.clone(),   "/api/v1/projects/{projectId}/members", T::ProjectAWithCandidate, B::AddMember, [A401, K401, K401, F403, N404, N404, F403, OK, OK, N404]),
        row(patch.clone(),  "/api/v1/projects/{projectId}/members/{userId}", T::FreshProjectAMember, B::RoleAdmin, [A401, K401, K401, F403, N404, N404, F403, OK, OK, N404]),
        row(delete.clone(), "/api/v1/projects/{projectId}/members/{userId}", T::FreshProjectAMember, B::Empty, [A401, K401, K401, F403, N404, N404, F403, OK, OK, N404]),
        row(get.clone(),    "/api/v1/projects/{projectId}/members", T::StrangerProject, B::Empty, [A401, K401, K401, N404, N404, N404, N404, N404, N404, OK ]),
        // -- API keys -------------------------------------------------------------------------------
        row(get.clone(),    "/api/v1/projects/{projectId}/api-keys", T::ProjectA, B::Empty,       [A401, K401, K401, F403, N404, N404, OK,  OK,   OK,   N404]),
        row(post.clone(),   "/api/v1/projects/{projectId}/api-keys", T::ProjectA, B::Name,        [A401, K401, K401, F403, N404, N404, OK,  OK,   OK,   N404]),
        row(delete.clone(), "/api/v1/projects/{projectId}/api-keys/{keyId}", T::FreshKeyOfAByOrgAdmin, B::Empty, [A401, K401, K401, F403, N404, N404, F403, OK, OK, N404]),
        row(delete.clone(), "/api/v1/projects/{projectId}/api-keys/{keyId}", T::FreshKeyOfAByProjMember, B::Empty, [A401, K401, K401, F403, N404, N404, OK, OK, OK, N404]),
        row(get.clone(),    "/api/v1/projects/{projectId}/api-keys", T::StrangerProject, B::Empty, [A401, K401, K401, N404, N404, N404, N404, N404, N404, OK]),
        row(post.clone(),   "/api/v1/projects/{projectId}/api-keys", T::StrangerProject, B::Name,  [A401, K401, K401, N404, N404, N404, N404, N404, N404, OK]),
        // (extension) Usage and budgets: project admins, signed in.
        row(get.clone(),    "/api/v1/projects/{projectId}/usage",  T::ProjectA, B::Empty,         [A401, K401, K401, F403, N404, N404, F403, OK,   OK,   N404]),
        row(get.clone(),    "/api/v1/projects/{projectId}/budget", T::ProjectA, B::Empty,         [A401, K401, K401, F403, N404, N404, F403, OK,   OK,   N404]),
        // Legacy, for orgAdmin's username: their session only. An API key never mints keys, not
        // even one its own creator made.
        row(post,           "/api/users/{username}/api-keys",    T::OrgAdminUsername, B::Name,    [A401, K401, K401, F403, F403, N404, N404, N404, OK,   N404]),
        // -- conversations (extension): one's own chats only; a key answers for its own project --
        row(get.clone(),    "/api/v1/conversations?projectId={projectId}", T::ProjectA, B::Empty, [A401, K401, K401, OK,  OK,   N404, OK,   OK,   OK,   N404]),
        // Even admins of the project or the organization reach no one else's conversation.
        row(patch.clone(),  "/api/v1/conversations/{id}",        T::FreshConversationOfOrgAdmin, B::Title, [A401, K401, K401, N404, N404, N404, N404, N404, OK, N404]),
        row(patch.clone(),  "/api/v1/conversations/{id}",        T::FreshConversationOfProjMember, B::Title, [A401, K401, K401, N404, N404, N404, OK, N404, N404, N404]),
        row(delete.clone(), "/api/v1/conversations/{id}",        T::FreshConversationOfOrgAdmin, B::Empty, [A401, K401, K401, N404, N404, N404, N404, N404, OK, N404]),
        row(delete.clone(), "/api/v1/conversations/{id}",        T::FreshConversationOfProjMember, B::Empty, [A401, K401, K401, N404, N404, N404, OK, N404, N404, N404]),
    ]
}

// ---------------------------------------------------------------------------------------------
// The organization
// ---------------------------------------------------------------------------------------------

struct Person {
    email: String,
    user_id: String,
    username: String,
    /// The session the matrix uses for this person.
    session: String,
    client: Client,
}

struct World {
    admin: Person,
    proj_member: Person,
    proj_admin: Person,
    org_member: Person,
    stranger: Person,
    project_a: String,
    stranger_project: String,
    key_a: String,
    key_b: String,
    revoked: String,
    expired: String,
    pending_invitation_token: String,
}

async fn person(app: &TestApp, client: Client, user: Value) -> Person {
    let email = user["email"].as_str().unwrap().to_owned();
    let session = app.login_token(&email, PASSWORD).await;
    Person {
        user_id: user["id"].as_str().unwrap().to_owned(),
        username: user["username"].as_str().unwrap().to_owned(),
        email,
        session,
        client,
    }
}

async fn build_world(app: &TestApp) -> World {
    let (admin_client, admin_user) = app.signup("owner@acme.test", "owner", PASSWORD).await;
    let project_a = app.first_project(&admin_client).await;

    // The expired key first: it needs a moment to expire while the rest is set up.
    let expiring = app
        .create_key_full(
            &admin_client,
            &project_a,
            json!({ "name": "expiring", "expiresAt": rfc3339_in(1500) }),
        )
        .await;
    let expires = Instant::now() + Duration::from_millis(1500);
    let expired = expiring["key"].as_str().unwrap().to_owned();
    app.me_key(&expired).await; // valid until it expires

    let admin = person(app, admin_client, admin_user).await;
    let project_b = app.create_project(&admin.client, "Beta").await["id"]
        .as_str()
        .unwrap()
        .to_owned();

    let (c, u) = app
        .add_org_member(&admin.client, "pm@acme.test", "pm", "member")
        .await;
    let proj_member = person(app, c, u).await;
    app.add_project_member(&admin.client, &project_a, &proj_member.user_id, "member")
        .await;
    let (c, u) = app
        .add_org_member(&admin.client, "pa@acme.test", "pa", "member")
        .await;
    let proj_admin = person(app, c, u).await;
    app.add_project_member(&admin.client, &project_a, &proj_admin.user_id, "admin")
        .await;
    let (c, u) = app
        .add_org_member(&admin.client, "om@acme.test", "om", "member")
        .await;
    let org_member = person(app, c, u).await;
    let (c, u) = app
        .signup("stranger@other.test", "stranger", PASSWORD)
        .await;
    let stranger = person(app, c, u).await;
    let stranger_project = app.first_project(&stranger.client).await;

    let key_a = app.create_key(&admin.client, &project_a, "keyA").await;
    let key_b = app.create_key(&admin.client, &project_b, "keyB").await;
    let revoked_data = app
        .create_key_full(&admin.client, &project_a, json!({ "name": "revoked" }))
        .await;
    let revoked = revoked_data["key"].as_str().unwrap().to_owned();
    app.me_key(&revoked).await;
    app.revoke_key(
        &admin.client,
        &project_a,
        revoked_data["id"].as_str().unwrap(),
    )
    .await;

    let pending_invitation_token = invite_token(
        &app.invite(&admin.client, "pending@acme.test", "member")
            .await,
    );

    // Sanity: everyone is who the table says they are.
    let roles_in_a = |me: &Value| -> Option<String> {
        me["projects"]
            .as_array()?
            .iter()
            .find(|p| p["id"] == json!(project_a))?["role"]
            .as_str()
            .map(str::to_owned)
    };
    let me = app.me(&proj_member.client).await;
    assert_eq!(
        (me["role"].as_str(), roles_in_a(&me).as_deref()),
        (Some("member"), Some("member")),
        "{me}"
    );
    let me = app.me(&proj_admin.client).await;
    assert_eq!(
        (me["role"].as_str(), roles_in_a(&me).as_deref()),
        (Some("member"), Some("admin")),
        "{me}"
    );
    let me = app.me(&org_member.client).await;
    assert_eq!(
        (me["role"].as_str(), me["projects"].clone()),
        (Some("member"), json!([])),
        "{me}"
    );
    let me = app.me(&admin.client).await;
    assert_eq!(
        (me["role"].as_str(), roles_in_a(&me).as_deref()),
        (Some("admin"), Some("admin")),
        "{me}"
    );
    let me = app.me(&stranger.client).await;
    assert_eq!(roles_in_a(&me), None, "{me}");
    assert_eq!(
        app.me_key(&key_a).await["projects"][0]["id"],
        json!(project_a)
    );
    assert_eq!(
        app.me_key(&key_b).await["projects"][0]["id"],
        json!(project_b)
    );

    let now = Instant::now();
    if now < expires {
        tokio::time::sleep(expires - now + Duration::from_millis(100)).await;
    }

    World {
        admin,
        proj_member,
        proj_admin,
        org_member,
        stranger,
        project_a,
        stranger_project,
        key_a,
        key_b,
        revoked,
        expired,
        pending_invitation_token,
    }
}

// ---------------------------------------------------------------------------------------------
// Running one call
// ---------------------------------------------------------------------------------------------

enum Cred {
    None,
    Cookie(String),
    Bearer(String),
    XApiKey(String),
}

impl World {
    fn person(&self, caller: Caller) -> Option<&Person> {
        match caller {
            OrgMember => Some(&self.org_member),
            ProjMember => Some(&self.proj_member),
            ProjAdmin => Some(&self.proj_admin),
            OrgAdmin => Some(&self.admin),
            Stranger => Some(&self.stranger),
            _ => None,
        }
    }

    fn cred(&self, caller: Caller) -> Cred {
        match caller {
            Anon => Cred::None,
            Revoked => Cred::Bearer(self.revoked.clone()),
            Expired => Cred::XApiKey(self.expired.clone()),
            KeyA => Cred::Bearer(self.key_a.clone()),
            KeyB => Cred::XApiKey(self.key_b.clone()),
            _ => Cred::Cookie(self.person(caller).unwrap().session.clone()),
        }
    }
}

/// A new Acme org member, in no project.
async fn fresh_org_member(app: &TestApp, w: &World) -> String {
    let n = unique();
    let (_, user) = app
        .add_org_member(
            &w.admin.client,
            &format!("t{n}@acme.test"),
            &format!("t{n}"),
            "member",
        )
        .await;
    user["id"].as_str().unwrap().to_owned()
}

struct Prepared {
    path: String,
    candidate: Option<String>,
    key_a_override: Option<String>,
}

async fn prepare(app: &TestApp, w: &World, r: &Row) -> Prepared {
    let mut p = Prepared {
        path: r.path.to_owned(),
        candidate: None,
        key_a_override: None,
    };
    let set = |p: &mut Prepared, name: &str, value: &str| {
        p.path = p.path.replace(&format!("{{{name}}}"), value);
    };
    match r.target {
        Target::NoParams => {}
        Target::PendingInvitationToken => set(&mut p, "token", &w.pending_invitation_token),
        Target::ProjectA => set(&mut p, "projectId", &w.project_a),
        Target::StrangerProject => set(&mut p, "projectId", &w.stranger_project),
        Target::FreshProject => {
            let project = app
                .create_project(&w.admin.client, &format!("tmp-{}", unique()))
                .await;
            let pid = project["id"].as_str().unwrap().to_owned();
            app.add_project_member(&w.admin.client, &pid, &w.proj_member.user_id, "member")
                .await;
            app.add_project_member(&w.admin.client, &pid, &w.proj_admin.user_id, "admin")
                .await;
            p.key_a_override = Some(app.create_key(&w.proj_member.client, &pid, "tmp").await);
            set(&mut p, "projectId", &pid);
        }
        Target::FreshOrgMember => {
            let uid = fresh_org_member(app, w).await;
            set(&mut p, "userId", &uid);
        }
        Target::FreshInvitation => {
            let inv = app
                .invite(
                    &w.admin.client,
                    &format!("i{}@invitee.test", unique()),
                    "member",
                )
                .await;
            set(&mut p, "id", inv["id"].as_str().unwrap());
        }
        Target::ProjectAWithCandidate => {
            p.candidate = Some(fresh_org_member(app, w).await);
            set(&mut p, "projectId", &w.project_a);
        }
        Target::FreshProjectAMember => {
            let uid = fresh_org_member(app, w).await;
            app.add_project_member(&w.admin.client, &w.project_a, &uid, "member")
                .await;
            set(&mut p, "projectId", &w.project_a);
            set(&mut p, "userId", &uid);
        }
        Target::FreshKeyOfAByOrgAdmin | Target::FreshKeyOfAByProjMember => {
            let by = if matches!(r.target, Target::FreshKeyOfAByOrgAdmin) {
                &w.admin
            } else {
                &w.proj_member
            };
            let key = app
                .create_key_full(&by.client, &w.project_a, json!({ "name": "tmp" }))
                .await;
            set(&mut p, "projectId", &w.project_a);
            set(&mut p, "keyId", key["id"].as_str().unwrap());
        }
        Target::OrgAdminUsername => set(&mut p, "username", &w.admin.username),
        Target::FreshConversationOfOrgAdmin | Target::FreshConversationOfProjMember => {
            let by = if matches!(r.target, Target::FreshConversationOfOrgAdmin) {
                &w.admin
            } else {
                &w.proj_member
            };
            let resp = app
                .req(&by.client, Method::POST, "/api/v1/tasks")
                .json(&json!({ "message": "hello", "projectId": w.project_a }))
                .send()
                .await
                .unwrap();
            let task = assert_ok(resp).await;
            set(&mut p, "id", task["id"].as_str().unwrap());
        }
    }
    assert!(
        !p.path.contains('{'),
        "unfilled path parameter in {}",
        p.path
    );
    p
}

fn body(r: &Row, w: &World, p: &Prepared) -> Option<Value> {
    let n = unique();
    match r.body {
        Body::Empty => None,
        Body::Name => Some(json!({ "name": format!("n-{n}") })),
        Body::Signup => Some(
            json!({ "email": format!("s{n}@new.test"), "username": format!("s{n}"), "password": PASSWORD }),
        ),
        Body::Login => Some(json!({ "email": w.org_member.email, "password": PASSWORD })),
        Body::InviteEmail => {
            Some(json!({ "email": format!("i{n}@invitee.test"), "role": "member" }))
        }
        Body::RoleAdmin => Some(json!({ "role": "admin" })),
        Body::AddMember => {
            Some(json!({ "userId": p.candidate.clone().unwrap(), "role": "member" }))
        }
        Body::Title => Some(json!({ "title": format!("t-{n}") })),
    }
}

async fn call(app: &TestApp, w: &World, r: &Row, caller: Caller) -> (Got, String, String) {
    let p = prepare(app, w, r).await;
    let mut cred = w.cred(caller);
    if caller == KeyA
        && let Some(k) = &p.key_a_override
    {
        cred = Cred::Bearer(k.clone());
    }
    if r.session == Session::FreshPerCall && caller.is_person() {
        let email = &w.person(caller).unwrap().email;
        cred = Cred::Cookie(app.login_token(email, PASSWORD).await);
    }
    let mut req = app.http.request(r.method.clone(), app.url(&p.path));
    req = match cred {
        Cred::None => req,
        Cred::Cookie(t) => req.header("Cookie", format!("{SESSION_COOKIE}={t}")),
        Cred::Bearer(k) => req.header("Authorization", format!("Bearer {k}")),
        Cred::XApiKey(k) => req.header("X-API-Key", k),
    };
    if let Some(b) = body(r, w, &p) {
        req = req.json(&b);
    }
    let resp = req
        .send()
        .await
        .unwrap_or_else(|e| panic!("{} {}: {e}", r.method, p.path));
    let status = resp.status().as_u16();
    let text = resp.text().await.unwrap_or_default();
    let json: Option<Value> = serde_json::from_str(&text).ok();
    let got = if (200..300).contains(&status) {
        match json.as_ref().and_then(|j| j.get("success")) {
            Some(s) if s != &json!(true) => Got::Err(status, format!("success={s} on a 2xx")),
            _ => Got::Ok(status),
        }
    } else {
        let code = json
            .as_ref()
            .and_then(|j| j["error"]["code"].as_str())
            .map(str::to_owned)
            .unwrap_or_else(|| "<no error envelope>".to_owned());
        Got::Err(status, code)
    };
    let mut snippet: String = text.chars().take(200).collect();
    if text.len() > 200 {
        snippet.push('…');
    }
    (got, p.path, snippet)
}

// ---------------------------------------------------------------------------------------------
// The test
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn authorization_matrix() {
    let app = TestApp::spawn_with(|c| {
        c.auth.login_attempts_per_address_per_minute = 100_000;
        c.auth.max_failed_logins_per_account = 100_000;
    })
    .await;
    let w = build_world(&app).await;
    let rows = table();

    let mut grid = String::new();
    grid.push_str(&format!("{:<84}", "endpoint"));
    for c in CALLERS {
        grid.push_str(&format!(" {:>10}", c.name()));
    }
    grid.push('\n');
    let mut mismatches = Vec::new();
    let mut calls = 0;
    for r in &rows {
        grid.push_str(&format!(
            "{:<84}",
            format!("{} {} [{:?}]", r.method, r.path, r.target)
        ));
        for (i, caller) in CALLERS.into_iter().enumerate() {
            let exp = r.expect[i];
            let (got, path, snippet) = call(&app, &w, r, caller).await;
            calls += 1;
            let ok = got.matches(exp);
            grid.push_str(&format!(
                " {:>10}",
                if ok {
                    got.short()
                } else {
                    format!("✗{}", got.short())
                }
            ));
            if !ok {
                mismatches.push(format!(
                    "{:<6} {:<48} as {:<10}: expected {:<22} got {}\n         {path}\n         body: {snippet}",
                    r.method.as_str(),
                    r.path,
                    caller.name(),
                    exp.to_string(),
                    got
                ));
            }
        }
        grid.push('\n');
    }
    println!("{calls} calls\n{grid}");
    assert!(
        mismatches.is_empty(),
        "{} of {calls} calls answered differently than the table expects:\n\n{}\n\n{grid}",
        mismatches.len(),
        mismatches.join("\n")
    );

    // The matrix's own people were not disturbed by it (throwaway targets only).
    for p in [
        &w.admin,
        &w.proj_member,
        &w.proj_admin,
        &w.org_member,
        &w.stranger,
    ] {
        let resp = app
            .with_session(Method::GET, "/api/v1/me", &p.session)
            .send()
            .await
            .unwrap();
        assert_ok(resp).await;
    }
    app.me_key(&w.key_a).await;
    app.me_key(&w.key_b).await;
}
