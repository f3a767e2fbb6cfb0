//! Organizations: renaming, members and roles, invitations.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use reqwest::{Client, Method};
use serde_json::{Value, json};
use sigmic_testkit::harness::*;

async fn members(app: &TestApp, client: &Client) -> Vec<Value> {
    let resp = app
        .req(client, Method::GET, "/api/v1/organization/members")
        .send()
        .await
        .unwrap();
    assert_ok(resp)
        .await
        .as_array()
        .expect("member list")
        .clone()
}

async fn pending_invitations(app: &TestApp, client: &Client) -> Vec<Value> {
    let resp = app
        .req(client, Method::GET, "/api/v1/organization/invitations")
        .send()
        .await
        .unwrap();
    assert_ok(resp)
        .await
        .as_array()
        .expect("invitation list")
        .clone()
}

async fn set_role(app: &TestApp, client: &Client, user_id: &str, role: &str) -> reqwest::Response {
    app.req(
        client,
        Method::PATCH,
        &format!("/api/v1/organization/members/{user_id}"),
    )
    .json(&json!({ "role": role }))
    .send()
    .await
    .unwrap()
}

async fn remove(app: &TestApp, client: &Client, user_id: &str) -> reqwest::Response {
    app.req(
        client,
        Method::DELETE,
        &format!("/api/v1/organization/members/{user_id}"),
    )
    .send()
    .await
    .unwrap()
}

fn id(v: &Value) -> String {
    v["id"]
        .as_str()
        .unwrap_or_else(|| panic!("no id in {v}"))
        .to_owned()
}

#[tokio::test]
async fn admin_renames_the_organization_members_cannot() {
    let app = TestApp::spawn().await;
    let (admin, _) = app.signup("ann@example.com", "ann", PASSWORD).await;
    let (member, _) = app
        .add_org_member(&admin, "ben@example.com", "ben", "member")
        .await;

    let resp = app
        .req(&admin, Method::PATCH, "/api/v1/organization")
        .json(&json!({ "name": "Acme" }))
        .send()
        .await
        .unwrap();
    let org = assert_ok(resp).await;
    assert_eq!(org["name"], "Acme");
    let resp = app
        .req(&member, Method::GET, "/api/v1/organization")
        .send()
        .await
        .unwrap();
    let org = assert_ok(resp).await;
    assert_eq!(org["name"], "Acme");
    assert_eq!(org["role"], "member");
    assert_eq!(app.me(&member).await["organization"]["name"], "Acme");

    let resp = app
        .req(&member, Method::PATCH, "/api/v1/organization")
        .json(&json!({ "name": "Hijacked" }))
        .send()
        .await
        .unwrap();
    assert_error(resp, 403, "FORBIDDEN").await;

    let resp = app
        .req(&admin, Method::PATCH, "/api/v1/organization")
        .json(&json!({ "name": "  " }))
        .send()
        .await
        .unwrap();
    assert_field_error(resp, "name").await;
    assert_eq!(app.me(&admin).await["organization"]["name"], "Acme");
}

#[tokio::test]
async fn invitation_link_registers_into_the_org_without_personal_org_or_project() {
    let app =
        TestApp::spawn_with(|c| c.public_url = Some("https://sigmic.example.com/".into())).await;
    let (admin, admin_user) = app.signup("cara@example.com", "cara", PASSWORD).await;
    let admin_me = app.me(&admin).await;
    let org_id = admin_me["organization"]["id"].clone();

    let inv = app.invite(&admin, "dan@example.com", "member").await;
    assert_eq!(inv["email"], "dan@example.com");
    assert_eq!(inv["role"], "member");
    assert_eq!(inv["emailSent"], json!(false), "no SMTP configured: {inv}");
    assert!(
        inv["expiresAt"].is_string() && inv["id"].is_string(),
        "{inv}"
    );
    let link = inv["link"].as_str().unwrap();
    assert!(
        link.starts_with("https://sigmic.example.com/signup?invite="),
        "link {link}"
    );
    let token = invite_token(&inv);

    // Default role is member.
    let inv2 = app
        .req(&admin, Method::POST, "/api/v1/organization/invitations")
        .json(&json!({ "email": "erin@example.com" }))
        .send()
        .await
        .unwrap();
    assert_eq!(assert_ok(inv2).await["role"], "member");

    let pending = pending_invitations(&app, &admin).await;
    let emails: Vec<&str> = pending.iter().filter_map(|i| i["email"].as_str()).collect();
    assert!(
        emails.contains(&"dan@example.com") && emails.contains(&"erin@example.com"),
        "{pending:?}"
    );
    let listed = pending
        .iter()
        .find(|i| i["email"] == "dan@example.com")
        .unwrap();
    assert_eq!(listed["id"], inv["id"]);
    assert!(
        listed["createdAt"].is_string() && listed["expiresAt"].is_string(),
        "{listed}"
    );
    assert!(
        !listed.to_string().contains(&token),
        "pending list must not reveal the token"
    );

    // Anyone holding the link can preview it (the signup page does).
    let resp = app
        .anon(Method::GET, &format!("/api/v1/invitations/{token}"))
        .send()
        .await
        .unwrap();
    let preview = assert_ok(resp).await;
    assert_eq!(preview["email"], "dan@example.com");
    assert_eq!(
        preview["organizationName"],
        admin_me["organization"]["name"]
    );
    assert_eq!(preview["role"], "member");
    assert!(preview["expiresAt"].is_string());

    let (dan, dan_user) = app
        .signup_body(json!({
            "email": "dan@example.com", "username": "dan", "password": PASSWORD, "invitationToken": token
        }))
        .await;
    let me = app.me(&dan).await;
    assert_eq!(
        me["organization"]["id"], org_id,
        "joined the inviting org: {me}"
    );
    assert_eq!(me["role"], "member");
    assert_eq!(me["projects"], json!([]), "no personal project: {me}");
    let resp = app
        .req(&dan, Method::GET, "/api/v1/projects")
        .send()
        .await
        .unwrap();
    assert_eq!(assert_ok(resp).await, json!([]));

    // The admin's project list did not grow (no "Default" created for dan anywhere visible).
    let resp = app
        .req(&admin, Method::GET, "/api/v1/projects")
        .send()
        .await
        .unwrap();
    assert_eq!(assert_ok(resp).await.as_array().map(Vec::len), Some(1));

    let list = members(&app, &admin).await;
    assert_eq!(list.len(), 2, "{list:?}");
    let d = list
        .iter()
        .find(|m| m["userId"] == dan_user["id"])
        .expect("dan listed");
    assert_eq!(d["role"], "member");
    assert_eq!(d["email"], "dan@example.com");
    assert_eq!(d["username"], "dan");
    assert!(d["joinedAt"].is_string(), "{d}");
    let a = list
        .iter()
        .find(|m| m["userId"] == admin_user["id"])
        .expect("admin listed");
    assert_eq!(a["role"], "admin");
    // Members (not only admins) can see the member list.
    assert_eq!(members(&app, &dan).await.len(), 2);

    // The link is single-use.
    let resp = app
        .anon(Method::GET, &format!("/api/v1/invitations/{token}"))
        .send()
        .await
        .unwrap();
    assert_error(resp, 404, "NOT_FOUND").await;
    let resp = app
        .anon(Method::POST, "/api/v1/auth/signup")
        .json(&json!({
            "email": "dan2@example.com", "username": "dan2", "password": PASSWORD, "invitationToken": token
        }))
        .send()
        .await
        .unwrap();
    assert_field_error(resp, "invitationToken").await;
    let pending = pending_invitations(&app, &admin).await;
    assert!(
        !pending.iter().any(|i| i["email"] == "dan@example.com"),
        "accepted ≠ pending: {pending:?}"
    );
}

#[tokio::test]
async fn invitation_as_admin_makes_an_admin() {
    let app = TestApp::spawn().await;
    let (admin, _) = app.signup("fay@example.com", "fay", PASSWORD).await;
    let (gus, _) = app
        .add_org_member(&admin, "gus@example.com", "gus", "admin")
        .await;
    let me = app.me(&gus).await;
    assert_eq!(me["role"], "admin");
    // As an org admin gus is admin of every project.
    let projects = me["projects"].as_array().unwrap();
    assert_eq!(projects.len(), 1, "{me}");
    assert_eq!(projects[0]["role"], "admin");
}

#[tokio::test]
async fn invitation_email_must_match_and_a_mismatch_does_not_burn_it() {
    let app = TestApp::spawn().await;
    let (admin, _) = app.signup("hal@example.com", "hal", PASSWORD).await;
    let token = invite_token(&app.invite(&admin, "iris@example.com", "member").await);
    let resp = app
        .anon(Method::POST, "/api/v1/auth/signup")
        .json(&json!({
            "email": "mallory@example.com", "username": "mallory", "password": PASSWORD, "invitationToken": token
        }))
        .send()
        .await
        .unwrap();
    assert_field_error(resp, "email").await;
    // Neither an account nor a personal org came into being for mallory.
    let resp = app
        .anon(Method::POST, "/api/v1/auth/login")
        .json(&json!({ "email": "mallory@example.com", "password": PASSWORD }))
        .send()
        .await
        .unwrap();
    assert_error(resp, 401, "INVALID_CREDENTIALS").await;

    let (iris, _) = app
        .signup_body(json!({
            "email": "iris@example.com", "username": "iris", "password": PASSWORD, "invitationToken": token
        }))
        .await;
    assert_eq!(app.me(&iris).await["role"], "member");
}

#[tokio::test]
async fn expired_invitation_is_rejected() {
    let app = TestApp::spawn_with(|c| c.auth.invitation_ttl_hours = 0).await;
    let (admin, _) = app.signup("jo@example.com", "jo", PASSWORD).await;
    let token = invite_token(&app.invite(&admin, "kim@example.com", "member").await);

    let resp = app
        .anon(Method::GET, &format!("/api/v1/invitations/{token}"))
        .send()
        .await
        .unwrap();
    assert_error(resp, 404, "NOT_FOUND").await;
    let resp = app
        .anon(Method::POST, "/api/v1/auth/signup")
        .json(&json!({
            "email": "kim@example.com", "username": "kim", "password": PASSWORD, "invitationToken": token
        }))
        .send()
        .await
        .unwrap();
    assert_field_error(resp, "invitationToken").await;
}

#[tokio::test]
async fn unknown_invitation_token_is_rejected() {
    let app = TestApp::spawn().await;
    let bogus = random_hex(32);
    let resp = app
        .anon(Method::GET, &format!("/api/v1/invitations/{bogus}"))
        .send()
        .await
        .unwrap();
    assert_error(resp, 404, "NOT_FOUND").await;
    let resp = app
        .anon(Method::POST, "/api/v1/auth/signup")
        .json(&json!({
            "email": "lou@example.com", "username": "lou", "password": PASSWORD, "invitationToken": bogus
        }))
        .send()
        .await
        .unwrap();
    assert_field_error(resp, "invitationToken").await;
}

#[tokio::test]
async fn invitation_input_is_validated() {
    let app = TestApp::spawn().await;
    let (admin, _) = app.signup("max@example.com", "max", PASSWORD).await;
    app.signup("ned@example.com", "ned", PASSWORD).await;
    let post = |body: Value| {
        app.req(&admin, Method::POST, "/api/v1/organization/invitations")
            .json(&body)
            .send()
    };
    // An email that already has an account: a valid request the state refuses.
    for taken in ["ned@example.com", "max@example.com"] {
        let err = assert_error(
            post(json!({ "email": taken })).await.unwrap(),
            409,
            "CONFLICT",
        )
        .await;
        assert!(err["fields"]["email"].is_string(), "{err}");
    }
    assert_field_error(
        post(json!({ "email": "not an email" })).await.unwrap(),
        "email",
    )
    .await;
    let resp = post(json!({ "email": "olga@example.com", "role": "owner" }))
        .await
        .unwrap();
    assert_error(resp, 400, "VALIDATION_ERROR").await;
    assert!(pending_invitations(&app, &admin).await.is_empty());
}

#[tokio::test]
async fn revoked_invitation_can_no_longer_be_used() {
    let app = TestApp::spawn().await;
    let (admin, _) = app.signup("pia@example.com", "pia", PASSWORD).await;
    let (member, _) = app
        .add_org_member(&admin, "quin@example.com", "quin", "member")
        .await;
    let inv = app.invite(&admin, "rae@example.com", "member").await;
    let token = invite_token(&inv);
    let path = format!("/api/v1/organization/invitations/{}", id(&inv));

    let resp = app
        .req(&member, Method::DELETE, &path)
        .send()
        .await
        .unwrap();
    assert_error(resp, 403, "FORBIDDEN").await;

    let resp = app.req(&admin, Method::DELETE, &path).send().await.unwrap();
    assert_eq!(assert_ok(resp).await["revoked"], json!(true));
    assert!(pending_invitations(&app, &admin).await.is_empty());
    let resp = app
        .anon(Method::GET, &format!("/api/v1/invitations/{token}"))
        .send()
        .await
        .unwrap();
    assert_error(resp, 404, "NOT_FOUND").await;
    let resp = app
        .anon(Method::POST, "/api/v1/auth/signup")
        .json(&json!({
            "email": "rae@example.com", "username": "rae", "password": PASSWORD, "invitationToken": token
        }))
        .send()
        .await
        .unwrap();
    assert_field_error(resp, "invitationToken").await;

    let resp = app.req(&admin, Method::DELETE, &path).send().await.unwrap();
    assert_error(resp, 404, "NOT_FOUND").await;
}

#[tokio::test]
async fn admin_changes_roles_and_promoted_member_gains_admin_rights() {
    let app = TestApp::spawn().await;
    let (admin, _) = app.signup("sam@example.com", "sam", PASSWORD).await;
    let (tess, tess_user) = app
        .add_org_member(&admin, "tess@example.com", "tess", "member")
        .await;
    let tess_id = id(&tess_user);

    // A member cannot change roles, not even their own.
    assert_error(
        set_role(&app, &tess, &tess_id, "admin").await,
        403,
        "FORBIDDEN",
    )
    .await;

    assert_ok(set_role(&app, &admin, &tess_id, "admin").await).await;
    let me = app.me(&tess).await;
    assert_eq!(me["role"], "admin");
    assert_eq!(
        me["projects"][0]["role"], "admin",
        "org admins administer every project: {me}"
    );
    let resp = app
        .req(&tess, Method::PATCH, "/api/v1/organization")
        .json(&json!({ "name": "Tess's now" }))
        .send()
        .await
        .unwrap();
    assert_ok(resp).await;

    assert_ok(set_role(&app, &admin, &tess_id, "member").await).await;
    let me = app.me(&tess).await;
    assert_eq!(me["role"], "member");
    assert_eq!(me["projects"], json!([]));

    let resp = set_role(&app, &admin, &tess_id, "owner").await;
    assert_error(resp, 400, "VALIDATION_ERROR").await;
}

#[tokio::test]
async fn the_last_admin_cannot_be_demoted_or_removed() {
    let app = TestApp::spawn().await;
    let (admin, admin_user) = app.signup("uma@example.com", "uma", PASSWORD).await;
    let admin_id = id(&admin_user);
    assert_error(
        set_role(&app, &admin, &admin_id, "member").await,
        409,
        "CONFLICT",
    )
    .await;
    assert_error(remove(&app, &admin, &admin_id).await, 409, "CONFLICT").await;
    assert_eq!(app.me(&admin).await["role"], "admin");

    // With a second admin, one of them may step down — then the other is the last one.
    let (vic, vic_user) = app
        .add_org_member(&admin, "vic@example.com", "vic", "admin")
        .await;
    assert_ok(set_role(&app, &vic, &admin_id, "member").await).await;
    assert_eq!(app.me(&admin).await["role"], "member");
    let vic_id = id(&vic_user);
    assert_error(
        set_role(&app, &vic, &vic_id, "member").await,
        409,
        "CONFLICT",
    )
    .await;
    assert_error(remove(&app, &vic, &vic_id).await, 409, "CONFLICT").await;
    assert_eq!(app.me(&vic).await["role"], "admin");
}

#[tokio::test]
async fn removing_a_member_ends_their_sessions_keys_and_project_access() {
    let app = TestApp::spawn().await;
    let (admin, _) = app.signup("wes@example.com", "wes", PASSWORD).await;
    let project = app.first_project(&admin).await;
    let (xena, xena_user) = app
        .add_org_member(&admin, "xena@example.com", "xena", "member")
        .await;
    let xena_id = id(&xena_user);
    app.add_project_member(&admin, &project, &xena_id, "member")
        .await;
    let xena_key = app.create_key(&xena, &project, "xena's key").await;
    let admin_key = app.create_key(&admin, &project, "admin's key").await;
    let second_session = app.login_token("xena@example.com", PASSWORD).await;
    app.me_key(&xena_key).await;

    let data = assert_ok(remove(&app, &admin, &xena_id).await).await;
    assert_eq!(data["removed"], json!(true));

    let resp = app
        .req(&xena, Method::GET, "/api/v1/me")
        .send()
        .await
        .unwrap();
    assert_error(resp, 401, "AUTH_REQUIRED").await;
    let resp = app
        .with_session(Method::GET, "/api/v1/me", &second_session)
        .send()
        .await
        .unwrap();
    assert_error(resp, 401, "AUTH_REQUIRED").await;
    let resp = app
        .bearer(Method::GET, "/api/v1/me", &xena_key)
        .send()
        .await
        .unwrap();
    assert_error(resp, 401, "INVALID_API_KEY").await;
    // Keys created by others stay valid.
    app.me_key(&admin_key).await;

    let list = members(&app, &admin).await;
    assert!(
        !list.iter().any(|m| m["userId"] == xena_user["id"]),
        "{list:?}"
    );
    let resp = app
        .req(
            &admin,
            Method::GET,
            &format!("/api/v1/projects/{project}/members"),
        )
        .send()
        .await
        .unwrap();
    let pm = assert_ok(resp).await;
    assert!(
        !pm.as_array()
            .unwrap()
            .iter()
            .any(|m| m["userId"] == xena_user["id"]),
        "{pm}"
    );
    let resp = app
        .req(
            &admin,
            Method::GET,
            &format!("/api/v1/projects/{project}/api-keys"),
        )
        .send()
        .await
        .unwrap();
    let keys = assert_ok(resp).await;
    assert_eq!(
        keys.as_array().map(Vec::len),
        Some(1),
        "revoked keys are not listed: {keys}"
    );
    assert_eq!(keys[0]["name"], "admin's key");

    // The account itself survives, belonging to no organization now.
    let again = app.login("xena@example.com", PASSWORD).await;
    let me = app.me(&again).await;
    assert_eq!(me["organization"], Value::Null, "{me}");
    assert_eq!(me["role"], Value::Null, "{me}");
    assert_eq!(me["projects"], json!([]), "{me}");
    let resp = app
        .req(&again, Method::GET, &format!("/api/v1/projects/{project}"))
        .send()
        .await
        .unwrap();
    assert_error(resp, 404, "NOT_FOUND").await;

    // Removing someone who is not a member is NOT_FOUND.
    assert_error(remove(&app, &admin, &xena_id).await, 404, "NOT_FOUND").await;
}

#[tokio::test]
async fn members_cannot_remove_members_and_other_orgs_are_invisible() {
    let app = TestApp::spawn().await;
    let (admin, admin_user) = app.signup("yan@example.com", "yan", PASSWORD).await;
    let (member, member_user) = app
        .add_org_member(&admin, "zoe@example.com", "zoe", "member")
        .await;
    let (stranger, stranger_user) = app.signup("abe@example.com", "abe", PASSWORD).await;

    assert_error(
        remove(&app, &member, &id(&admin_user)).await,
        403,
        "FORBIDDEN",
    )
    .await;
    // Another organization's admin cannot see or touch our members.
    assert_error(
        remove(&app, &stranger, &id(&member_user)).await,
        404,
        "NOT_FOUND",
    )
    .await;
    assert_error(
        set_role(&app, &stranger, &id(&member_user), "admin").await,
        404,
        "NOT_FOUND",
    )
    .await;
    // …nor we theirs.
    assert_error(
        remove(&app, &admin, &id(&stranger_user)).await,
        404,
        "NOT_FOUND",
    )
    .await;
    let theirs = members(&app, &stranger).await;
    assert_eq!(theirs.len(), 1, "{theirs:?}");
    assert_eq!(theirs[0]["userId"], stranger_user["id"]);
    assert_eq!(app.me(&member).await["role"], "member");
}
