//! Access ends when membership ends: an API key works only while its creator may use its
//! project, a stream ends when its caller loses the task, an invitation dies with its inviter's
//! admin role, an API key never mints keys, and the last organization admin survives two admins
//! demoting each other at the same moment. On SQLite, or PostgreSQL with `DATABASE_URL`.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::{Duration, Instant};

use reqwest::{Client, Method};
use serde_json::{Value, json};
use sigmic_testkit::harness::*;
use sigmic_testkit::model::{ModelServer, Turn};
use sigmic_testkit::tasks::{SseReader, app_for, create_task};

fn user_id(user: &Value) -> &str {
    user["id"].as_str().unwrap()
}

async fn status_of(app: &TestApp, key: &str) -> u16 {
    app.bearer(Method::GET, "/api/v1/me", key)
        .send()
        .await
        .unwrap()
        .status()
        .as_u16()
}

async fn set_org_role(app: &TestApp, admin: &Client, user: &str, role: &str) -> reqwest::Response {
    app.req(
        admin,
        Method::PATCH,
        &format!("/api/v1/organization/members/{user}"),
    )
    .json(&json!({ "role": role }))
    .send()
    .await
    .unwrap()
}

async fn remove_from_project(app: &TestApp, admin: &Client, project: &str, user: &str) {
    let resp = app
        .req(
            admin,
            Method::DELETE,
            &format!("/api/v1/projects/{project}/members/{user}"),
        )
        .send()
        .await
        .unwrap();
    assert_ok(resp).await;
}

#[tokio::test]
async fn a_key_stops_the_moment_its_creator_loses_the_project() {
    let app = TestApp::spawn().await;
    let (admin, _) = app.signup("ada@example.com", "ada", PASSWORD).await;
    let project = app.first_project(&admin).await;

    // A project member's key dies when they leave the project, with nobody revoking it.
    let (member, member_user) = app
        .add_org_member(&admin, "mo@example.com", "mo", "member")
        .await;
    app.add_project_member(&admin, &project, user_id(&member_user), "member")
        .await;
    let key = app.create_key(&member, &project, "mo's").await;
    assert_eq!(status_of(&app, &key).await, 200);
    remove_from_project(&app, &admin, &project, user_id(&member_user)).await;
    let resp = app
        .bearer(Method::GET, "/api/v1/tasks", &key)
        .send()
        .await
        .unwrap();
    assert_error(resp, 401, "INVALID_API_KEY").await;

    // An organization admin reaches every project without a membership; demoted to member,
    // their key of a project they were never added to dies.
    let (boss, boss_user) = app
        .add_org_member(&admin, "bo@example.com", "bo", "admin")
        .await;
    let boss_key = app.create_key(&boss, &project, "bo's").await;
    assert_eq!(status_of(&app, &boss_key).await, 200);
    assert_ok(set_org_role(&app, &admin, user_id(&boss_user), "member").await).await;
    assert_eq!(status_of(&app, &boss_key).await, 401);

    // The same person's key in a project they are still a member of keeps working.
    let (carl, carl_user) = app
        .add_org_member(&admin, "cy@example.com", "cy", "member")
        .await;
    app.add_project_member(&admin, &project, user_id(&carl_user), "admin")
        .await;
    let carl_key = app.create_key(&carl, &project, "cy's").await;
    let resp = app
        .req(
            &admin,
            Method::PATCH,
            &format!("/api/v1/projects/{project}/members/{}", user_id(&carl_user)),
        )
        .json(&json!({ "role": "member" }))
        .send()
        .await
        .unwrap();
    assert_ok(resp).await;
    assert_eq!(status_of(&app, &carl_key).await, 200);
    app.stop().await;
}

#[tokio::test]
async fn a_stream_ends_when_its_caller_loses_the_task() {
    let model = ModelServer::start().await;
    let app = app_for(&model, "openai").await;
    let (admin, _) = app.signup("ida@example.com", "ida", PASSWORD).await;
    let project = app.first_project(&admin).await;
    let (member, member_user) = app
        .add_org_member(&admin, "jo@example.com", "jo", "member")
        .await;
    app.add_project_member(&admin, &project, user_id(&member_user), "member")
        .await;
    let key = app.create_key(&member, &project, "jo's").await;
    let k = format!("stream-access-{}", unique());
    model.script(
        &k,
        vec![
            Turn::tool_call("run_shell_command", json!({"command": "sleep 30"})),
            Turn::text("done"),
        ],
    );
    let id = create_task(&app, &key, json!({ "message": format!("{k}: wait") })).await;
    let mut reader = SseReader::open(&app, &key, &id, None).await;
    loop {
        let f = reader.next().await.expect("the call starts");
        if f.event == "tool_call" {
            break;
        }
    }
    let removed = Instant::now();
    remove_from_project(&app, &admin, &project, user_id(&member_user)).await;
    // The stream closes although the task still runs; nothing after the removal reaches it.
    let rest = tokio::time::timeout(Duration::from_secs(10), reader.rest())
        .await
        .expect("the stream ended after the caller lost access");
    assert!(
        removed.elapsed() < Duration::from_secs(5),
        "{:?}",
        removed.elapsed()
    );
    assert!(
        rest.iter().all(|f| f.event != "done"),
        "the run did not finish: {rest:?}"
    );
    // Opening it again is refused: the key died with the membership.
    let resp = app
        .bearer(Method::GET, &format!("/api/v1/tasks/{id}/stream"), &key)
        .send()
        .await
        .unwrap();
    assert_error(resp, 401, "INVALID_API_KEY").await;
    app.stop().await;
}

#[tokio::test]
async fn invitations_die_with_their_inviters_admin_role() {
    let app = TestApp::spawn().await;
    let (admin, _) = app.signup("kim@example.com", "kim", PASSWORD).await;
    let (second, second_user) = app
        .add_org_member(&admin, "lu@example.com", "lu", "admin")
        .await;
    let by_second = app.invite(&second, "new1@example.com", "admin").await;
    let by_admin = app.invite(&admin, "new2@example.com", "member").await;
    let token = invite_token(&by_second);

    assert_ok(set_org_role(&app, &admin, user_id(&second_user), "member").await).await;

    // The demoted admin's invitation is neither shown, nor previewed, nor usable.
    let list = assert_ok(
        app.req(&admin, Method::GET, "/api/v1/organization/invitations")
            .send()
            .await
            .unwrap(),
    )
    .await;
    let ids: Vec<&str> = list
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, vec![by_admin["id"].as_str().unwrap()]);
    let resp = app
        .anon(Method::GET, &format!("/api/v1/invitations/{token}"))
        .send()
        .await
        .unwrap();
    assert_error(resp, 404, "NOT_FOUND").await;
    let resp = app
        .anon(Method::POST, "/api/v1/auth/signup")
        .json(&json!({
            "email": "new1@example.com", "username": "new1", "password": PASSWORD,
            "invitationToken": token,
        }))
        .send()
        .await
        .unwrap();
    assert_field_error(resp, "invitationToken").await;

    // The other admin's invitation still works.
    let (_, joined) = app
        .signup_body(json!({
            "email": "new2@example.com", "username": "new2", "password": PASSWORD,
            "invitationToken": invite_token(&by_admin),
        }))
        .await;
    assert_eq!(joined["email"], "new2@example.com");

    // A removed admin's invitations die the same way.
    let (third, third_user) = app
        .add_org_member(&admin, "mi@example.com", "mi", "admin")
        .await;
    let by_third = app.invite(&third, "new3@example.com", "member").await;
    let resp = app
        .req(
            &admin,
            Method::DELETE,
            &format!("/api/v1/organization/members/{}", user_id(&third_user)),
        )
        .send()
        .await
        .unwrap();
    assert_ok(resp).await;
    let resp = app
        .anon(
            Method::GET,
            &format!("/api/v1/invitations/{}", invite_token(&by_third)),
        )
        .send()
        .await
        .unwrap();
    assert_error(resp, 404, "NOT_FOUND").await;
    app.stop().await;
}

#[tokio::test]
async fn an_api_key_cannot_create_keys() {
    let app = TestApp::spawn().await;
    let (admin, _) = app.signup("ned@example.com", "ned", PASSWORD).await;
    let project = app.first_project(&admin).await;
    let key = app.create_key(&admin, &project, "own").await;
    for path in [
        "/api/users/ned/api-keys".to_owned(),
        format!("/api/v1/projects/{project}/api-keys"),
    ] {
        let resp = app
            .bearer(Method::POST, &path, &key)
            .json(&json!({ "name": "successor" }))
            .send()
            .await
            .unwrap();
        assert_error(resp, 403, "FORBIDDEN").await;
    }
    // The key list still has only the one key.
    let keys = assert_ok(
        app.req(
            &admin,
            Method::GET,
            &format!("/api/v1/projects/{project}/api-keys"),
        )
        .send()
        .await
        .unwrap(),
    )
    .await;
    assert_eq!(keys.as_array().unwrap().len(), 1, "{keys}");
    // Signed in, the person still creates keys there.
    let resp = app
        .req(&admin, Method::POST, "/api/users/ned/api-keys")
        .json(&json!({ "name": "by session" }))
        .send()
        .await
        .unwrap();
    assert!(is_api_key(assert_ok(resp).await["key"].as_str().unwrap()));
    app.stop().await;
}

/// Two admins demote each other (or remove each other) at the same moment, many times over:
/// one admin always remains.
#[tokio::test]
async fn the_last_admin_survives_admins_demoting_each_other_at_once() {
    let app = TestApp::spawn().await;
    for round in 0..12 {
        let u = unique();
        let (a, a_user) = app
            .signup(&format!("a{u}@example.com"), &format!("a{u}"), PASSWORD)
            .await;
        let (b, b_user) = app
            .add_org_member(&a, &format!("b{u}@example.com"), &format!("b{u}"), "admin")
            .await;
        let (a_id, b_id) = (user_id(&a_user).to_owned(), user_id(&b_user).to_owned());
        let remove = round % 2 == 1;
        let act = |client: &Client, target: &str| {
            let req = if remove {
                app.req(
                    client,
                    Method::DELETE,
                    &format!("/api/v1/organization/members/{target}"),
                )
            } else {
                app.req(
                    client,
                    Method::PATCH,
                    &format!("/api/v1/organization/members/{target}"),
                )
                .json(&json!({ "role": "member" }))
            };
            req.send()
        };
        let (ra, rb) = tokio::join!(act(&a, &b_id), act(&b, &a_id));
        let (sa, sb) = (ra.unwrap().status(), rb.unwrap().status());
        assert!(
            !(sa.is_success() && sb.is_success()),
            "round {round}: both succeeded ({sa}, {sb})"
        );
        // Whoever is still admin sees the organization; exactly one admin is left.
        let members = {
            let mut found = None;
            for c in [&a, &b] {
                let resp = app
                    .req(c, Method::GET, "/api/v1/organization/members")
                    .send()
                    .await
                    .unwrap();
                if resp.status().is_success() {
                    found = Some(assert_ok(resp).await);
                    break;
                }
            }
            found.expect("an admin is left")
        };
        let admins = members
            .as_array()
            .unwrap()
            .iter()
            .filter(|m| m["role"] == "admin")
            .count();
        assert_eq!(admins, 1, "round {round}: {members}");
    }
    app.stop().await;
}
