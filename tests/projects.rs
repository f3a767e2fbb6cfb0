//! Projects: create, rename, delete, visibility, and project members.
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

async fn list_projects(app: &TestApp, client: &Client) -> Vec<Value> {
    let resp = app
        .req(client, Method::GET, "/api/v1/projects")
        .send()
        .await
        .unwrap();
    assert_ok(resp)
        .await
        .as_array()
        .expect("project list")
        .clone()
}

fn names(list: &[Value]) -> Vec<String> {
    let mut n: Vec<String> = list
        .iter()
        .filter_map(|p| p["name"].as_str().map(str::to_owned))
        .collect();
    n.sort();
    n
}

async fn project_members(app: &TestApp, client: &Client, project: &str) -> Vec<Value> {
    let resp = app
        .req(
            client,
            Method::GET,
            &format!("/api/v1/projects/{project}/members"),
        )
        .send()
        .await
        .unwrap();
    assert_ok(resp)
        .await
        .as_array()
        .expect("member list")
        .clone()
}

#[tokio::test]
async fn admin_creates_renames_and_deletes_projects() {
    let app = TestApp::spawn().await;
    let (admin, _) = app.signup("ada@example.com", "ada", PASSWORD).await;

    let p = app.create_project(&admin, "Research").await;
    assert_eq!(p["name"], "Research");
    assert_eq!(p["role"], "admin");
    assert!(p["createdAt"].is_string(), "{p}");
    let pid = id(&p);
    assert_eq!(
        names(&list_projects(&app, &admin).await),
        ["Default", "Research"]
    );

    let resp = app
        .req(&admin, Method::GET, &format!("/api/v1/projects/{pid}"))
        .send()
        .await
        .unwrap();
    let got = assert_ok(resp).await;
    assert_eq!(got["id"], p["id"]);
    assert_eq!(got["name"], "Research");

    let resp = app
        .req(&admin, Method::PATCH, &format!("/api/v1/projects/{pid}"))
        .json(&json!({ "name": "Science" }))
        .send()
        .await
        .unwrap();
    assert_eq!(assert_ok(resp).await["name"], "Science");
    assert_eq!(
        names(&list_projects(&app, &admin).await),
        ["Default", "Science"]
    );

    let key = app.create_key(&admin, &pid, "science key").await;
    app.me_key(&key).await;

    let resp = app
        .req(&admin, Method::DELETE, &format!("/api/v1/projects/{pid}"))
        .send()
        .await
        .unwrap();
    assert_eq!(assert_ok(resp).await["deleted"], json!(true));
    let resp = app
        .req(&admin, Method::GET, &format!("/api/v1/projects/{pid}"))
        .send()
        .await
        .unwrap();
    assert_error(resp, 404, "NOT_FOUND").await;
    assert_eq!(names(&list_projects(&app, &admin).await), ["Default"]);
    // A deleted project's keys stop working.
    let resp = app
        .bearer(Method::GET, "/api/v1/me", &key)
        .send()
        .await
        .unwrap();
    assert_error(resp, 401, "INVALID_API_KEY").await;
    // Deleting it again: nothing there.
    let resp = app
        .req(&admin, Method::DELETE, &format!("/api/v1/projects/{pid}"))
        .send()
        .await
        .unwrap();
    assert_error(resp, 404, "NOT_FOUND").await;
    // The name is free again.
    app.create_project(&admin, "Science").await;
}

#[tokio::test]
async fn project_names_are_validated_and_unique_within_the_org() {
    let app = TestApp::spawn().await;
    let (admin, _) = app.signup("bea@example.com", "bea", PASSWORD).await;
    let create = |name: Value| {
        app.req(&admin, Method::POST, "/api/v1/projects")
            .json(&json!({ "name": name }))
            .send()
    };
    // A taken name is a valid request the state refuses.
    let err = assert_error(create(json!("Default")).await.unwrap(), 409, "CONFLICT").await;
    assert!(err["fields"]["name"].is_string(), "{err}");
    assert_field_error(create(json!("")).await.unwrap(), "name").await;
    assert_field_error(create(json!("x".repeat(101))).await.unwrap(), "name").await;
    assert_eq!(
        assert_ok(create(json!("x".repeat(100))).await.unwrap()).await["name"],
        "x".repeat(100)
    );

    let other = app.create_project(&admin, "Other").await;
    let resp = app
        .req(
            &admin,
            Method::PATCH,
            &format!("/api/v1/projects/{}", id(&other)),
        )
        .json(&json!({ "name": "Default" }))
        .send()
        .await
        .unwrap();
    assert_error(resp, 409, "CONFLICT").await;
    let resp = app
        .req(
            &admin,
            Method::PATCH,
            &format!("/api/v1/projects/{}", id(&other)),
        )
        .json(&json!({ "name": "" }))
        .send()
        .await
        .unwrap();
    assert_field_error(resp, "name").await;

    // Another organization may use the same names.
    let (stranger, _) = app.signup("cal@example.com", "cal", PASSWORD).await;
    app.create_project(&stranger, "Other").await;
}

#[tokio::test]
async fn org_members_see_only_projects_they_were_added_to() {
    let app = TestApp::spawn().await;
    let (admin, _) = app.signup("dee@example.com", "dee", PASSWORD).await;
    let a = id(&app.create_project(&admin, "Alpha").await);
    let b = id(&app.create_project(&admin, "Beta").await);
    let (eli, eli_user) = app
        .add_org_member(&admin, "eli@example.com", "eli", "member")
        .await;

    assert!(list_projects(&app, &eli).await.is_empty());
    assert_eq!(app.me(&eli).await["projects"], json!([]));

    app.add_project_member(&admin, &a, &id(&eli_user), "member")
        .await;
    let list = list_projects(&app, &eli).await;
    assert_eq!(names(&list), ["Alpha"]);
    assert_eq!(list[0]["role"], "member");
    let me = app.me(&eli).await;
    assert_eq!(me["projects"].as_array().map(Vec::len), Some(1), "{me}");
    assert_eq!(me["projects"][0]["id"], json!(a));
    assert_eq!(me["projects"][0]["role"], "member");

    let resp = app
        .req(&eli, Method::GET, &format!("/api/v1/projects/{a}"))
        .send()
        .await
        .unwrap();
    assert_eq!(assert_ok(resp).await["role"], "member");
    let resp = app
        .req(&eli, Method::GET, &format!("/api/v1/projects/{b}"))
        .send()
        .await
        .unwrap();
    assert_error(resp, 404, "NOT_FOUND").await;

    // Members cannot create, rename or delete projects.
    let resp = app
        .req(&eli, Method::POST, "/api/v1/projects")
        .json(&json!({ "name": "Mine" }))
        .send()
        .await
        .unwrap();
    assert_error(resp, 403, "FORBIDDEN").await;
    let resp = app
        .req(&eli, Method::PATCH, &format!("/api/v1/projects/{a}"))
        .json(&json!({ "name": "Renamed" }))
        .send()
        .await
        .unwrap();
    assert_error(resp, 403, "FORBIDDEN").await;
    let resp = app
        .req(&eli, Method::DELETE, &format!("/api/v1/projects/{a}"))
        .send()
        .await
        .unwrap();
    assert_error(resp, 403, "FORBIDDEN").await;
    // …nor touch projects outside their reach, which look absent.
    let resp = app
        .req(&eli, Method::DELETE, &format!("/api/v1/projects/{b}"))
        .send()
        .await
        .unwrap();
    assert_error(resp, 404, "NOT_FOUND").await;
}

#[tokio::test]
async fn project_members_are_managed_by_project_admins() {
    let app = TestApp::spawn().await;
    let (admin, admin_user) = app.signup("fin@example.com", "fin", PASSWORD).await;
    let p = id(&app.create_project(&admin, "Gamma").await);
    let (gil, gil_user) = app
        .add_org_member(&admin, "gil@example.com", "gil", "member")
        .await;
    let (hop, hop_user) = app
        .add_org_member(&admin, "hop@example.com", "hop", "member")
        .await;
    let (_, ida_user) = app
        .add_org_member(&admin, "ida@example.com", "ida", "member")
        .await;
    let (gil_id, hop_id, ida_id) = (id(&gil_user), id(&hop_user), id(&ida_user));

    // The org admin is implicitly admin of the project.
    let list = project_members(&app, &admin, &p).await;
    let me_row = list
        .iter()
        .find(|m| m["userId"] == admin_user["id"])
        .expect("org admin listed");
    assert_eq!(me_row["role"], "admin");
    assert_eq!(me_row["implicit"], json!(true));

    // Add gil as member, then promote to project admin.
    let resp = app
        .req(
            &admin,
            Method::POST,
            &format!("/api/v1/projects/{p}/members"),
        )
        .json(&json!({ "userId": gil_id, "role": "member" }))
        .send()
        .await
        .unwrap();
    let added = assert_ok(resp).await;
    assert_eq!(added["userId"], json!(gil_id));
    assert_eq!(added["role"], "member");
    assert_eq!(added["implicit"], json!(false));
    assert_eq!(added["username"], "gil");

    // A plain project member may look at the members but not change them.
    let list = project_members(&app, &gil, &p).await;
    assert!(
        list.iter().any(|m| m["userId"] == json!(gil_id)),
        "{list:?}"
    );
    let resp = app
        .req(&gil, Method::POST, &format!("/api/v1/projects/{p}/members"))
        .json(&json!({ "userId": hop_id, "role": "member" }))
        .send()
        .await
        .unwrap();
    assert_error(resp, 403, "FORBIDDEN").await;
    // An org member outside the project sees nothing.
    let resp = app
        .req(&hop, Method::GET, &format!("/api/v1/projects/{p}/members"))
        .send()
        .await
        .unwrap();
    assert_error(resp, 404, "NOT_FOUND").await;

    let resp = app
        .req(
            &admin,
            Method::PATCH,
            &format!("/api/v1/projects/{p}/members/{gil_id}"),
        )
        .json(&json!({ "role": "admin" }))
        .send()
        .await
        .unwrap();
    assert_ok(resp).await;
    let me = app.me(&gil).await;
    let proj = me["projects"]
        .as_array()
        .unwrap()
        .iter()
        .find(|x| x["id"] == json!(p))
        .unwrap()
        .clone();
    assert_eq!(proj["role"], "admin");
    assert_eq!(me["role"], "member", "project admin stays an org member");

    // Now gil (project admin, org member) manages members…
    let resp = app
        .req(&gil, Method::POST, &format!("/api/v1/projects/{p}/members"))
        .json(&json!({ "userId": hop_id, "role": "member" }))
        .send()
        .await
        .unwrap();
    assert_ok(resp).await;
    let resp = app
        .req(
            &gil,
            Method::PATCH,
            &format!("/api/v1/projects/{p}/members/{hop_id}"),
        )
        .json(&json!({ "role": "admin" }))
        .send()
        .await
        .unwrap();
    assert_ok(resp).await;
    let resp = app
        .req(
            &gil,
            Method::PATCH,
            &format!("/api/v1/projects/{p}/members/{hop_id}"),
        )
        .json(&json!({ "role": "superuser" }))
        .send()
        .await
        .unwrap();
    assert_error(resp, 400, "VALIDATION_ERROR").await;
    // …but cannot rename or delete the project (org admin only).
    let resp = app
        .req(&gil, Method::PATCH, &format!("/api/v1/projects/{p}"))
        .json(&json!({ "name": "Gil's" }))
        .send()
        .await
        .unwrap();
    assert_error(resp, 403, "FORBIDDEN").await;
    let resp = app
        .req(&gil, Method::DELETE, &format!("/api/v1/projects/{p}"))
        .send()
        .await
        .unwrap();
    assert_error(resp, 403, "FORBIDDEN").await;

    // Removing hop ends hop's access to the project.
    assert!(
        list_projects(&app, &hop)
            .await
            .iter()
            .any(|x| x["id"] == json!(p))
    );
    let resp = app
        .req(
            &gil,
            Method::DELETE,
            &format!("/api/v1/projects/{p}/members/{hop_id}"),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(assert_ok(resp).await["removed"], json!(true));
    assert!(list_projects(&app, &hop).await.is_empty());
    let resp = app
        .req(&hop, Method::GET, &format!("/api/v1/projects/{p}"))
        .send()
        .await
        .unwrap();
    assert_error(resp, 404, "NOT_FOUND").await;
    let list = project_members(&app, &admin, &p).await;
    assert!(
        !list.iter().any(|m| m["userId"] == json!(hop_id)),
        "{list:?}"
    );
    assert!(
        !list.iter().any(|m| m["userId"] == json!(ida_id)),
        "{list:?}"
    );
}

#[tokio::test]
async fn only_org_members_can_be_added_to_a_project() {
    let app = TestApp::spawn().await;
    let (admin, _) = app.signup("jon@example.com", "jon", PASSWORD).await;
    let p = app.first_project(&admin).await;
    let (_, stranger) = app.signup("kai@example.com", "kai", PASSWORD).await;
    let resp = app
        .req(
            &admin,
            Method::POST,
            &format!("/api/v1/projects/{p}/members"),
        )
        .json(&json!({ "userId": stranger["id"], "role": "member" }))
        .send()
        .await
        .unwrap();
    // Someone of another organization is, for this one, nobody.
    assert_error(resp, 404, "NOT_FOUND").await;
    let resp = app
        .req(
            &admin,
            Method::POST,
            &format!("/api/v1/projects/{p}/members"),
        )
        .json(&json!({ "userId": "no-such-user", "role": "member" }))
        .send()
        .await
        .unwrap();
    assert_error(resp, 404, "NOT_FOUND").await;
    let list = project_members(&app, &admin, &p).await;
    assert_eq!(list.len(), 1, "{list:?}");
}

#[tokio::test]
async fn other_organizations_projects_are_not_found() {
    let app = TestApp::spawn().await;
    let (admin, _) = app.signup("lia@example.com", "lia", PASSWORD).await;
    let (stranger, _) = app.signup("mo@example.com", "mo", PASSWORD).await;
    let theirs = app.first_project(&stranger).await;
    for (method, path) in [
        (Method::GET, format!("/api/v1/projects/{theirs}")),
        (Method::DELETE, format!("/api/v1/projects/{theirs}")),
        (Method::GET, format!("/api/v1/projects/{theirs}/members")),
        (Method::GET, format!("/api/v1/projects/{theirs}/api-keys")),
    ] {
        let resp = app.req(&admin, method, &path).send().await.unwrap();
        assert_error(resp, 404, "NOT_FOUND").await;
    }
    let resp = app
        .req(&admin, Method::PATCH, &format!("/api/v1/projects/{theirs}"))
        .json(&json!({ "name": "Taken over" }))
        .send()
        .await
        .unwrap();
    assert_error(resp, 404, "NOT_FOUND").await;
    // Still there, unchanged, for its owner.
    let resp = app
        .req(
            &stranger,
            Method::GET,
            &format!("/api/v1/projects/{theirs}"),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(assert_ok(resp).await["name"], "Default");
}
