//! API keys: format, shown once, both headers, listing, revocation, expiry, hashing at rest,
//! the legacy endpoint, `/me` for keys and the credential-format errors.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use reqwest::{Client, Method};
use serde_json::{Value, json};
use sigmic_testkit::harness::*;

fn id(v: &Value) -> String {
    v["id"]
        .as_str()
        .unwrap_or_else(|| panic!("no id in {v}"))
        .to_owned()
}

async fn list_keys(app: &TestApp, client: &Client, project: &str) -> Value {
    let resp = app
        .req(
            client,
            Method::GET,
            &format!("/api/v1/projects/{project}/api-keys"),
        )
        .send()
        .await
        .unwrap();
    assert_ok(resp).await
}

#[tokio::test]
async fn key_is_shown_once_with_documented_format_and_works_with_both_headers() {
    let app = TestApp::spawn().await;
    let (admin, user) = app.signup("ava@example.com", "ava", PASSWORD).await;
    let me = app.me(&admin).await;
    let project = app.first_project(&admin).await;

    let created = app
        .create_key_full(&admin, &project, json!({ "name": "ci" }))
        .await;
    let key = created["key"].as_str().unwrap().to_owned();
    assert!(
        is_api_key(&key),
        "key {key} is not sigmic_ + 64 lowercase hex"
    );
    assert_eq!(created["name"], "ci");
    let prefix = created["prefix"].as_str().unwrap();
    assert!(
        key.starts_with(prefix) && prefix.starts_with("sigmic_") && prefix.len() < key.len() - 32,
        "prefix {prefix}"
    );
    assert_eq!(created["createdBy"]["id"], user["id"]);
    assert_eq!(created["createdBy"]["username"], "ava");
    assert!(created["createdAt"].is_string());
    assert_eq!(created["expiresAt"], Value::Null);

    let second = app.create_key(&admin, &project, "ci-2").await;
    assert_ne!(second, key);

    // Listed without its value, with prefix, creator and (not yet) lastUsedAt.
    let list = list_keys(&app, &admin, &project).await;
    assert!(
        !list.to_string().contains(&key[7..]),
        "the list must not reveal keys: {list}"
    );
    let row = list
        .as_array()
        .unwrap()
        .iter()
        .find(|k| k["id"] == created["id"])
        .unwrap()
        .clone();
    assert_eq!(row["name"], "ci");
    assert_eq!(row["prefix"], created["prefix"]);
    assert_eq!(row["createdBy"]["username"], "ava");
    assert_eq!(row["lastUsedAt"], Value::Null);
    assert!(row.get("key").is_none(), "{row}");

    // Bearer.
    let data = app.me_key(&key).await;
    assert_eq!(data["type"], "apiKey");
    assert_eq!(data["apiKey"]["id"], created["id"]);
    assert_eq!(data["apiKey"]["name"], "ci");
    assert_eq!(data["apiKey"]["prefix"], created["prefix"]);
    assert_eq!(data["organization"]["id"], me["organization"]["id"]);
    assert_eq!(data["organization"]["name"], me["organization"]["name"]);
    assert_eq!(data["role"], Value::Null);
    let projects = data["projects"].as_array().unwrap();
    assert_eq!(projects.len(), 1, "{data}");
    assert_eq!(
        (
            &projects[0]["id"],
            &projects[0]["name"],
            &projects[0]["role"]
        ),
        (&json!(project), &json!("Default"), &json!("member"))
    );
    assert!(
        data.get("user").is_none_or(Value::is_null),
        "a key is not a user: {data}"
    );
    // X-API-Key.
    let resp = app
        .x_api_key(Method::GET, "/api/v1/me", &key)
        .send()
        .await
        .unwrap();
    assert_eq!(assert_ok(resp).await["apiKey"]["id"], created["id"]);

    // Use is recorded.
    let list = list_keys(&app, &admin, &project).await;
    let row = list
        .as_array()
        .unwrap()
        .iter()
        .find(|k| k["id"] == created["id"])
        .unwrap()
        .clone();
    assert!(row["lastUsedAt"].is_string(), "lastUsedAt after use: {row}");
    let unused = list
        .as_array()
        .unwrap()
        .iter()
        .find(|k| k["name"] == "ci-2")
        .unwrap()
        .clone();
    assert_eq!(unused["lastUsedAt"], Value::Null);
}

#[tokio::test]
async fn key_sees_only_its_own_project_and_cannot_manage() {
    let app = TestApp::spawn().await;
    let (admin, _) = app.signup("bo@example.com", "bo", PASSWORD).await;
    let a = app.first_project(&admin).await;
    let b = id(&app.create_project(&admin, "Other").await);
    let key = app.create_key(&admin, &a, "k").await;

    let resp = app
        .bearer(Method::GET, "/api/v1/projects", &key)
        .send()
        .await
        .unwrap();
    let list = assert_ok(resp).await;
    assert_eq!(list.as_array().map(Vec::len), Some(1), "{list}");
    assert_eq!(list[0]["id"], json!(a));
    let resp = app
        .bearer(Method::GET, &format!("/api/v1/projects/{a}"), &key)
        .send()
        .await
        .unwrap();
    assert_ok(resp).await;
    let resp = app
        .bearer(Method::GET, &format!("/api/v1/projects/{b}"), &key)
        .send()
        .await
        .unwrap();
    assert_error(resp, 404, "NOT_FOUND").await;

    // Management and organization endpoints are for people.
    for path in [
        format!("/api/v1/projects/{a}/api-keys"),
        format!("/api/v1/projects/{a}/members"),
        "/api/v1/organization".to_owned(),
        "/api/v1/organization/members".to_owned(),
    ] {
        let resp = app.bearer(Method::GET, &path, &key).send().await.unwrap();
        assert_error(resp, 403, "FORBIDDEN").await;
    }
    let resp = app
        .bearer(
            Method::POST,
            &format!("/api/v1/projects/{a}/api-keys"),
            &key,
        )
        .json(&json!({ "name": "minted by a key" }))
        .send()
        .await
        .unwrap();
    assert_error(resp, 403, "FORBIDDEN").await;
    let resp = app
        .bearer(Method::GET, &format!("/api/v1/projects/{b}/api-keys"), &key)
        .send()
        .await
        .unwrap();
    assert_error(resp, 404, "NOT_FOUND").await;
}

#[tokio::test]
async fn revoked_key_is_rejected_and_unlisted() {
    let app = TestApp::spawn().await;
    let (admin, _) = app.signup("cy@example.com", "cy", PASSWORD).await;
    let project = app.first_project(&admin).await;
    let created = app
        .create_key_full(&admin, &project, json!({ "name": "gone" }))
        .await;
    let key = created["key"].as_str().unwrap().to_owned();
    let keep = app.create_key(&admin, &project, "kept").await;
    app.me_key(&key).await;

    app.revoke_key(&admin, &project, &id(&created)).await;
    let resp = app
        .bearer(Method::GET, "/api/v1/me", &key)
        .send()
        .await
        .unwrap();
    assert_error(resp, 401, "INVALID_API_KEY").await;
    let resp = app
        .x_api_key(Method::GET, "/api/v1/me", &key)
        .send()
        .await
        .unwrap();
    assert_error(resp, 401, "INVALID_API_KEY").await;
    app.me_key(&keep).await;
    let list = list_keys(&app, &admin, &project).await;
    assert_eq!(list.as_array().map(Vec::len), Some(1), "{list}");
    assert_eq!(list[0]["name"], "kept");

    let resp = app
        .req(
            &admin,
            Method::DELETE,
            &format!("/api/v1/projects/{project}/api-keys/{}", id(&created)),
        )
        .send()
        .await
        .unwrap();
    assert_error(resp, 404, "NOT_FOUND").await;
}

#[tokio::test]
async fn expired_key_is_rejected() {
    let app = TestApp::spawn().await;
    let (admin, _) = app.signup("di@example.com", "di", PASSWORD).await;
    let project = app.first_project(&admin).await;

    let later = rfc3339_in(30 * 24 * 3600 * 1000);
    let lasting = app
        .create_key_full(
            &admin,
            &project,
            json!({ "name": "later", "expiresAt": later }),
        )
        .await;
    assert!(lasting["expiresAt"].is_string(), "{lasting}");
    app.me_key(lasting["key"].as_str().unwrap()).await;

    let soon = app
        .create_key_full(
            &admin,
            &project,
            json!({ "name": "soon", "expiresAt": rfc3339_in(1200) }),
        )
        .await;
    let key = soon["key"].as_str().unwrap().to_owned();
    tokio::time::sleep(std::time::Duration::from_millis(1300)).await;
    let resp = app
        .bearer(Method::GET, "/api/v1/me", &key)
        .send()
        .await
        .unwrap();
    assert_error(resp, 401, "INVALID_API_KEY").await;
    let resp = app
        .x_api_key(Method::GET, "/api/v1/me", &key)
        .send()
        .await
        .unwrap();
    assert_error(resp, 401, "INVALID_API_KEY").await;
}

#[tokio::test]
async fn key_input_is_validated() {
    let app = TestApp::spawn().await;
    let (admin, _) = app.signup("ed@example.com", "ed", PASSWORD).await;
    let project = app.first_project(&admin).await;
    let post = |body: Value| {
        app.req(
            &admin,
            Method::POST,
            &format!("/api/v1/projects/{project}/api-keys"),
        )
        .json(&body)
        .send()
    };
    assert_field_error(post(json!({ "name": "" })).await.unwrap(), "name").await;
    assert_field_error(
        post(json!({ "name": "x".repeat(101) })).await.unwrap(),
        "name",
    )
    .await;
    assert_field_error(
        post(json!({ "name": "k", "expiresAt": "next tuesday" }))
            .await
            .unwrap(),
        "expiresAt",
    )
    .await;
    assert_eq!(list_keys(&app, &admin, &project).await, json!([]));
}

#[tokio::test]
async fn key_revocation_is_for_its_creator_or_a_project_admin() {
    let app = TestApp::spawn().await;
    let (admin, _) = app.signup("flo@example.com", "flo", PASSWORD).await;
    let project = app.first_project(&admin).await;
    let (m1, m1_user) = app
        .add_org_member(&admin, "gwen@example.com", "gwen", "member")
        .await;
    let (m2, m2_user) = app
        .add_org_member(&admin, "hugh@example.com", "hugh", "member")
        .await;
    app.add_project_member(&admin, &project, &id(&m1_user), "member")
        .await;
    app.add_project_member(&admin, &project, &id(&m2_user), "member")
        .await;

    let k1 = app
        .create_key_full(&m1, &project, json!({ "name": "gwen's" }))
        .await;
    assert_eq!(k1["createdBy"]["username"], "gwen");
    let k2 = app
        .create_key_full(&m2, &project, json!({ "name": "hugh's" }))
        .await;
    // Members see all the project's keys…
    assert_eq!(
        list_keys(&app, &m1, &project)
            .await
            .as_array()
            .map(Vec::len),
        Some(2)
    );
    // …but may revoke only their own.
    let resp = app
        .req(
            &m1,
            Method::DELETE,
            &format!("/api/v1/projects/{project}/api-keys/{}", id(&k2)),
        )
        .send()
        .await
        .unwrap();
    assert_error(resp, 403, "FORBIDDEN").await;
    app.me_key(k2["key"].as_str().unwrap()).await;
    app.revoke_key(&m1, &project, &id(&k1)).await;
    // A project admin (here: the org admin) may revoke anyone's.
    app.revoke_key(&admin, &project, &id(&k2)).await;
    let resp = app
        .bearer(Method::GET, "/api/v1/me", k2["key"].as_str().unwrap())
        .send()
        .await
        .unwrap();
    assert_error(resp, 401, "INVALID_API_KEY").await;
}

#[tokio::test]
async fn keys_are_stored_only_as_hashes() {
    let app = TestApp::spawn().await;
    let (admin, _) = app.signup("ike@example.com", "ike", PASSWORD).await;
    let project = app.first_project(&admin).await;
    let key = app.create_key(&admin, &project, "secret").await;
    app.me_key(&key).await; // touch it (lastUsedAt) so any write path has run
    let secret_part = key.strip_prefix("sigmic_").unwrap().to_owned();
    let legacy = app
        .req(&admin, Method::POST, "/api/users/ike/api-keys")
        .json(&json!({ "name": "legacy" }))
        .send()
        .await
        .unwrap();
    let legacy_key = assert_ok(legacy).await["key"].as_str().unwrap().to_owned();

    if is_postgres() {
        use sea_orm::{ConnectionTrait, DbBackend, Statement};
        let db = app.db_conn().await;
        let rows = db
            .query_all_raw(Statement::from_string(
                DbBackend::Postgres,
                "SELECT row_to_json(k)::text AS j FROM api_keys k".to_owned(),
            ))
            .await
            .expect("read api_keys");
        assert_eq!(rows.len(), 2);
        for row in rows {
            let text: String = row.try_get("", "j").unwrap();
            for k in [&key, &legacy_key] {
                assert!(
                    !text.contains(k.strip_prefix("sigmic_").unwrap()),
                    "key stored in clear: {text}"
                );
            }
        }
    } else {
        let dir = app.data_dir().to_path_buf();
        assert!(
            !files_under(&dir).is_empty(),
            "the SQLite database lives in the data dir"
        );
        for needle in [
            key.as_str(),
            secret_part.as_str(),
            legacy_key.as_str(),
            &legacy_key[7..],
        ] {
            let found = files_containing(&dir, needle.as_bytes());
            assert!(found.is_empty(), "API key found in clear in {found:?}");
        }
    }
}

#[tokio::test]
async fn session_and_invitation_tokens_are_not_stored_in_clear() {
    // Not spelled out for these by the contract, but the schema stores only token hashes.
    let app = TestApp::spawn().await;
    let (session, _) = app.signup_token("jay@example.com", "jay").await;
    let resp = app
        .with_session(Method::POST, "/api/v1/organization/invitations", &session)
        .json(&json!({ "email": "kay@example.com" }))
        .send()
        .await
        .unwrap();
    let invitation = invite_token(&assert_ok(resp).await);
    if is_postgres() {
        use sea_orm::{ConnectionTrait, DbBackend, Statement};
        let db = app.db_conn().await;
        for table in ["sessions", "invitations"] {
            let rows = db
                .query_all_raw(Statement::from_string(
                    DbBackend::Postgres,
                    format!("SELECT row_to_json(t)::text AS j FROM {table} t"),
                ))
                .await
                .expect("read table");
            for row in rows {
                let text: String = row.try_get("", "j").unwrap();
                assert!(
                    !text.contains(&session) && !text.contains(&invitation),
                    "token in clear: {text}"
                );
            }
        }
    } else {
        for needle in [&session, &invitation] {
            let found = files_containing(app.data_dir(), needle.as_bytes());
            assert!(found.is_empty(), "token found in clear in {found:?}");
        }
    }
}

#[tokio::test]
async fn legacy_endpoint_creates_a_key_in_the_default_project() {
    let app = TestApp::spawn().await;
    let (admin, user) = app.signup("lex@example.com", "lex", PASSWORD).await;
    let default = app.first_project(&admin).await;
    let other = id(&app.create_project(&admin, "Zeta").await);
    let (stranger, _) = app.signup("mae@example.com", "mae", PASSWORD).await;

    let resp = app
        .req(&admin, Method::POST, "/api/users/lex/api-keys")
        .json(&json!({ "name": "legacy" }))
        .send()
        .await
        .unwrap();
    let created = assert_ok(resp).await;
    let key = created["key"].as_str().unwrap().to_owned();
    assert!(is_api_key(&key), "{key}");
    assert_eq!(created["name"], "legacy");
    assert!(
        created["prefix"].is_string()
            && created["id"].is_string()
            && created["createdAt"].is_string()
    );
    assert_eq!(created["createdBy"]["id"], user["id"]);
    assert_eq!(created["expiresAt"], Value::Null);
    let me = app.me_key(&key).await;
    assert_eq!(me["projects"][0]["id"], json!(default), "{me}");
    assert_eq!(me["projects"][0]["name"], "Default");

    // An API key never mints keys, not even its own creator's: only a session does.
    let own_key = app.create_key(&admin, &default, "own").await;
    let resp = app
        .bearer(Method::POST, "/api/users/lex/api-keys", &own_key)
        .json(&json!({ "name": "via key", "expiresAt": rfc3339_in(3_600_000) }))
        .send()
        .await
        .unwrap();
    assert_error(resp, 403, "FORBIDDEN").await;
    let zeta_key = app.create_key(&admin, &other, "zeta").await;
    let resp = app
        .bearer(Method::POST, "/api/users/lex/api-keys", &zeta_key)
        .json(&json!({ "name": "escalation" }))
        .send()
        .await
        .unwrap();
    assert_error(resp, 403, "FORBIDDEN").await;

    // Nor does someone else's key in that project.
    let (member, member_user) = app
        .add_org_member(&admin, "nia@example.com", "nia", "member")
        .await;
    app.add_project_member(
        &admin,
        &default,
        member_user["id"].as_str().unwrap(),
        "member",
    )
    .await;
    let nia_key = app.create_key(&member, &default, "nia's").await;
    let resp = app
        .bearer(Method::POST, "/api/users/lex/api-keys", &nia_key)
        .json(&json!({ "name": "impersonation" }))
        .send()
        .await
        .unwrap();
    assert_error(resp, 403, "FORBIDDEN").await;

    // Someone else's username is not found; so is an unknown one.
    let resp = app
        .req(&stranger, Method::POST, "/api/users/lex/api-keys")
        .json(&json!({ "name": "theft" }))
        .send()
        .await
        .unwrap();
    assert_error(resp, 404, "NOT_FOUND").await;
    let resp = app
        .req(&admin, Method::POST, "/api/users/nobody-here/api-keys")
        .json(&json!({ "name": "x" }))
        .send()
        .await
        .unwrap();
    assert_error(resp, 404, "NOT_FOUND").await;
    let resp = app
        .anon(Method::POST, "/api/users/lex/api-keys")
        .json(&json!({ "name": "anon" }))
        .send()
        .await
        .unwrap();
    assert_error(resp, 401, "AUTH_REQUIRED").await;
    let keys = list_keys(&app, &admin, &default).await;
    let mut names: Vec<&str> = keys
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|k| k["name"].as_str())
        .collect();
    names.sort_unstable();
    assert_eq!(names, ["legacy", "nia's", "own"], "{keys}");
}

#[tokio::test]
async fn credential_format_errors() {
    let app = TestApp::spawn().await;
    let me = "/api/v1/me";
    let resp = app.bearer(Method::GET, me, "xyz").send().await.unwrap();
    assert_error(resp, 401, "INVALID_AUTH_FORMAT").await;
    let resp = app.bearer(Method::GET, me, "sigmic").send().await.unwrap();
    assert_error(resp, 401, "INVALID_AUTH_FORMAT").await;
    let resp = app
        .bearer(
            Method::GET,
            me,
            "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJ4In0.c2lnbmF0dXJl",
        )
        .send()
        .await
        .unwrap();
    assert_error(resp, 401, "INVALID_TOKEN").await;
    let unknown = format!("sigmic_{}", random_hex(32));
    let resp = app.bearer(Method::GET, me, &unknown).send().await.unwrap();
    assert_error(resp, 401, "INVALID_API_KEY").await;
    let resp = app
        .x_api_key(Method::GET, me, &unknown)
        .send()
        .await
        .unwrap();
    assert_error(resp, 401, "INVALID_API_KEY").await;
    // A broken credential is an error even when a valid session is also present.
    let (session, _) = app.signup_token("ned@example.com", "ned").await;
    let resp = app
        .with_session(Method::GET, me, &session)
        .header("Authorization", format!("Bearer {unknown}"))
        .send()
        .await
        .unwrap();
    assert_error(resp, 401, "INVALID_API_KEY").await;
    // Protected endpoints with nothing at all.
    for path in ["/api/v1/me", "/api/v1/projects", "/api/v1/organization"] {
        let resp = app.anon(Method::GET, path).send().await.unwrap();
        assert_error(resp, 401, "AUTH_REQUIRED").await;
    }
}
