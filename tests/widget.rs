//! The widget's server side through the public API: widget apps, the token exchange with each
//! of its errors, widget tokens acting only as their end user, in their app's project, from
//! their app's origins; forged, expired and unsigned tokens; an end user's env and secrets
//! reaching their task and nothing else.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use reqwest::{Method, RequestBuilder};
use serde_json::{Value, json};
use sigmic_testkit::harness::*;
use sigmic_testkit::model::{ModelServer, Turn};
use sigmic_testkit::tasks::{Owner, SseReader, app_for, owner};

const SHOP: &str = "http://shop.test:8080";
const SECRET: &str = "eu-secret-7c1d-49aa-b2";

/// A widget token as a page on `origin` sends it.
struct Widget<'a> {
    app: &'a TestApp,
    token: String,
    origin: String,
}

impl Widget<'_> {
    fn req(&self, method: Method, path: &str) -> RequestBuilder {
        self.app
            .bearer(method, path, &self.token)
            .header("Origin", &self.origin)
    }

    async fn create(&self, body: Value) -> String {
        let data = assert_ok(
            self.req(Method::POST, "/api/v1/tasks")
                .json(&body)
                .send()
                .await
                .unwrap(),
        )
        .await;
        data["id"].as_str().unwrap().to_owned()
    }

    async fn wait(&self, id: &str, status: &str) -> Value {
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
        loop {
            let task = assert_ok(
                self.req(Method::GET, &format!("/api/v1/tasks/{id}"))
                    .send()
                    .await
                    .unwrap(),
            )
            .await;
            if task["status"] == status {
                return task;
            }
            assert!(
                std::time::Instant::now() < deadline,
                "never {status}: {task:#}"
            );
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
    }
}

async fn create_app(app: &TestApp, o: &Owner, body: Value) -> Value {
    let resp = app
        .req(
            &o.client,
            Method::POST,
            &format!("/api/v1/projects/{}/widget-apps", o.project_id),
        )
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_ok(resp).await
}

async fn shop_app(app: &TestApp, o: &Owner) -> Value {
    create_app(
        app,
        o,
        json!({"name": "Shop", "allowedOrigins": [SHOP, "https://*.example.com"]}),
    )
    .await
}

async fn exchange(app: &TestApp, body: Value) -> reqwest::Response {
    app.anon(Method::POST, "/api/v1/auth/token")
        .json(&body)
        .send()
        .await
        .unwrap()
}

async fn token_for(app: &TestApp, widget_app: &Value, end_user: &str, extra: Value) -> String {
    let mut body = json!({
        "appId": widget_app["appId"],
        "appSecret": widget_app["appSecret"],
        "endUserId": end_user,
    });
    for (k, v) in extra.as_object().unwrap() {
        body[k] = v.clone();
    }
    let data = assert_ok(exchange(app, body).await).await;
    data["token"].as_str().unwrap().to_owned()
}

fn widget<'a>(app: &'a TestApp, token: &str, origin: &str) -> Widget<'a> {
    Widget {
        app,
        token: token.to_owned(),
        origin: origin.to_owned(),
    }
}

#[tokio::test]
async fn every_token_exchange_error_answers_its_code_and_leaves_nothing() {
    let app = TestApp::spawn_with(|c| c.auth.widget_token_exchanges_per_app_per_minute = 12).await;
    let o = owner(&app).await;
    let w = shop_app(&app, &o).await;
    assert!(w["appSecret"].as_str().unwrap().starts_with("was_"));
    assert!(w["appId"].as_str().unwrap().starts_with("wa_"));
    let (id, secret) = (w["appId"].clone(), w["appSecret"].clone());

    let cases = [
        (
            json!({"appSecret": secret, "endUserId": "u"}),
            400,
            "MISSING_CREDENTIALS",
        ),
        (
            json!({"appId": id, "endUserId": "u"}),
            400,
            "MISSING_CREDENTIALS",
        ),
        (
            json!({"appId": 7, "appSecret": secret, "endUserId": "u"}),
            400,
            "MISSING_CREDENTIALS",
        ),
        (
            json!({"appId": id, "appSecret": secret}),
            400,
            "MISSING_END_USER_ID",
        ),
        (
            json!({"appId": id, "appSecret": secret, "endUserId": "  "}),
            400,
            "MISSING_END_USER_ID",
        ),
        (
            json!({"appId": id, "appSecret": "was_wrong", "endUserId": "u"}),
            401,
            "INVALID_CREDENTIALS",
        ),
        (
            json!({"appId": "wa_unknown", "appSecret": secret, "endUserId": "u"}),
            401,
            "INVALID_CREDENTIALS",
        ),
        (
            json!({"appId": id, "appSecret": secret, "endUserId": "u", "expiresIn": "1w"}),
            400,
            "INVALID_EXPIRES_IN",
        ),
        (
            json!({"appId": id, "appSecret": secret, "endUserId": "u", "expiresIn": "25h"}),
            400,
            "INVALID_EXPIRES_IN",
        ),
        (
            json!({"appId": id, "appSecret": secret, "endUserId": "u", "env": {"1BAD": "x"}}),
            400,
            "INVALID_ENV",
        ),
        (
            json!({"appId": id, "appSecret": secret, "endUserId": "u", "secrets": {"TOKEN": 5}}),
            400,
            "INVALID_ENV",
        ),
    ];
    for (body, status, code) in cases {
        let resp = exchange(&app, body.clone()).await;
        let err = assert_error(resp, status, code).await;
        assert!(!err["message"].as_str().unwrap().is_empty(), "{body}");
    }
    // None of the refused exchanges stored an end user.
    use sea_orm::{EntityTrait, PaginatorTrait};
    let db = app.db_conn().await;
    let end_users = sigmic::store::entities::widget_end_user::Entity::find()
        .count(&db)
        .await
        .unwrap();
    assert_eq!(end_users, 0);

    // A good one, then the app's allowance runs out (12 a minute, the refused ones above
    // that reached the app counted too).
    let ok = exchange(
        &app,
        json!({"appId": id, "appSecret": secret, "endUserId": "u", "expiresIn": "30m"}),
    )
    .await;
    let data = assert_ok(ok).await;
    assert!(data["token"].as_str().unwrap().starts_with("eyJ"));
    let mut limited = None;
    for _ in 0..12 {
        let resp = exchange(
            &app,
            json!({"appId": id, "appSecret": secret, "endUserId": "u"}),
        )
        .await;
        if resp.status() == 429 {
            limited = Some(resp);
            break;
        }
    }
    let resp = limited.expect("the per-app limit answered 429");
    assert!(resp.headers().contains_key("retry-after"));
    assert_error(resp, 429, "RATE_LIMITED").await;
    app.stop().await;

    // An operator who removed the signing key gets no tokens issued.
    let app = TestApp::spawn_with(|c| {
        c.auth.signing_key_file = Some(c.data_dir.join("removed.key"));
    })
    .await;
    let o = owner(&app).await;
    let w = shop_app(&app, &o).await;
    let resp = exchange(
        &app,
        json!({"appId": w["appId"], "appSecret": w["appSecret"], "endUserId": "u"}),
    )
    .await;
    assert_error(resp, 501, "JWT_NOT_CONFIGURED").await;
    app.stop().await;
}

#[tokio::test]
async fn a_widget_token_acts_only_as_its_end_user_in_its_project_from_its_origins() {
    let model = ModelServer::start().await;
    let app = app_for(&model, "openai").await;
    let o = owner(&app).await;
    let w = shop_app(&app, &o).await;
    let b = owner(&app).await;
    let other = shop_app(&app, &b).await;
    model.script("widget-x", vec![Turn::text("hello X")]);
    model.script("widget-y", vec![Turn::text("hello Y")]);

    let x = widget(&app, &token_for(&app, &w, "x", json!({})).await, SHOP);
    let y = widget(
        &app,
        &token_for(&app, &w, "y", json!({})).await,
        "https://eu.example.com",
    );
    let session = assert_ok(
        x.req(Method::GET, "/api/v1/widget/session")
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(session["endUserId"], "x");
    assert_eq!(session["look"]["title"], "Assistant");

    let tx = x.create(json!({"message": "widget-x: hi"})).await;
    let ty = y.create(json!({"message": "widget-y: hi"})).await;
    let done = x.wait(&tx, "completed").await;
    assert_eq!(done["output"]["content"], "hello X");
    y.wait(&ty, "completed").await;

    // Each sees their own conversations only.
    let list = |w: &Widget<'_>| w.req(Method::GET, "/api/v1/tasks").send();
    let xs = assert_ok(list(&x).await.unwrap()).await;
    assert_eq!(xs.as_array().unwrap().len(), 1);
    assert_eq!(xs[0]["id"], tx.as_str());
    for (method, path) in [
        (Method::GET, format!("/api/v1/tasks/{ty}")),
        (Method::GET, format!("/api/v1/tasks/{ty}/history")),
        (Method::GET, format!("/api/v1/tasks/{ty}/stream")),
        (Method::GET, format!("/api/v1/tasks/{ty}/artifacts")),
        (Method::DELETE, format!("/api/v1/tasks/{ty}")),
    ] {
        let resp = x.req(method.clone(), &path).send().await.unwrap();
        assert_error(resp, 404, "NOT_FOUND").await;
    }
    let resp = x
        .req(Method::POST, &format!("/api/v1/tasks/{ty}/messages"))
        .json(&json!({"message": "mine now"}))
        .send()
        .await
        .unwrap();
    assert_error(resp, 404, "NOT_FOUND").await;

    // Not in another project, whichever it names; nothing of the project's management.
    let resp = x
        .req(Method::POST, "/api/v1/tasks")
        .json(&json!({"message": "hi", "projectId": b.project_id}))
        .send()
        .await
        .unwrap();
    assert_error(resp, 404, "NOT_FOUND").await;
    let b_token = token_for(&app, &other, "x", json!({})).await;
    let bx = widget(&app, &b_token, SHOP);
    let resp = bx
        .req(Method::GET, &format!("/api/v1/tasks/{tx}"))
        .send()
        .await
        .unwrap();
    assert_error(resp, 404, "NOT_FOUND").await;
    for path in [
        format!("/api/v1/projects/{}/skills", o.project_id),
        format!("/api/v1/projects/{}/widget-apps", o.project_id),
        "/api/v1/me".to_owned(),
    ] {
        let resp = x.req(Method::GET, &path).send().await.unwrap();
        assert_eq!(resp.status(), 403, "{path}");
    }
    let resp = x
        .req(Method::POST, "/api/v1/tasks")
        .json(&json!({"message": "hi", "secrets": {"A": "b"}}))
        .send()
        .await
        .unwrap();
    assert_error(resp, 400, "INVALID_ENV").await;

    // From a page the app does not list, or saying nowhere, nothing works.
    for origin in [
        "http://evil.test",
        "https://example.com",
        "http://shop.test:8081",
    ] {
        let resp = widget(&app, &x.token, origin)
            .req(Method::GET, "/api/v1/tasks")
            .send()
            .await
            .unwrap();
        assert_error(resp, 403, "ORIGIN_NOT_ALLOWED").await;
    }
    let resp = app
        .bearer(Method::GET, "/api/v1/tasks", &x.token)
        .send()
        .await
        .unwrap();
    assert_error(resp, 403, "ORIGIN_NOT_ALLOWED").await;

    // CORS answers the app's origins, and no other.
    let preflight = |origin: &str| {
        app.anon(Method::OPTIONS, "/api/v1/tasks")
            .header("Origin", origin)
            .header("Access-Control-Request-Method", "POST")
            .header(
                "Access-Control-Request-Headers",
                "authorization, content-type",
            )
            .send()
    };
    let ok = preflight(SHOP).await.unwrap();
    assert_eq!(ok.headers()["access-control-allow-origin"], SHOP);
    assert!(
        ok.headers()["access-control-allow-headers"]
            .to_str()
            .unwrap()
            .contains("authorization")
    );
    let refused = preflight("http://evil.test").await.unwrap();
    assert!(
        !refused
            .headers()
            .contains_key("access-control-allow-origin")
    );
    let resp = x.req(Method::GET, "/api/v1/tasks").send().await.unwrap();
    assert_eq!(resp.headers()["access-control-allow-origin"], SHOP);
    assert!(
        !resp
            .headers()
            .contains_key("access-control-allow-credentials")
    );

    // The project admin reads the visitor's conversation but cannot continue it.
    let resp = app
        .req(&o.client, Method::GET, &format!("/api/v1/tasks/{tx}"))
        .send()
        .await
        .unwrap();
    assert_ok(resp).await;
    let resp = app
        .req(
            &o.client,
            Method::POST,
            &format!("/api/v1/tasks/{tx}/messages"),
        )
        .json(&json!({"message": "as the admin"}))
        .send()
        .await
        .unwrap();
    assert_error(resp, 403, "FORBIDDEN").await;
    app.stop().await;
}

#[tokio::test]
async fn forged_expired_unsigned_and_orphaned_tokens_are_refused() {
    let app = TestApp::spawn().await;
    let o = owner(&app).await;
    let w = shop_app(&app, &o).await;
    let good = token_for(&app, &w, "x", json!({})).await;
    let ok = widget(&app, &good, SHOP)
        .req(Method::GET, "/api/v1/tasks")
        .send()
        .await
        .unwrap();
    assert_ok(ok).await;
    let claims: Value = serde_json::from_slice(
        &URL_SAFE_NO_PAD
            .decode(good.split('.').nth(1).unwrap())
            .unwrap(),
    )
    .unwrap();
    assert_eq!(claims["app"], w["appId"]);
    assert_eq!(claims["sub"], "x");

    // Signed with another key; the server's own key, but expired; `alg: none`; HS512.
    use sigmic::widget::token::{Subject, TokenSigner};
    let subject = Subject {
        app_id: claims["app"].as_str().unwrap(),
        project_id: claims["prj"].as_str().unwrap(),
        end_user_row: claims["eu"].as_str().unwrap(),
        end_user_id: "x",
    };
    let now = chrono::Utc::now();
    let (forged, _) = TokenSigner::new(&[9; 32])
        .unwrap()
        .issue(&subject, now, chrono::Duration::hours(1))
        .unwrap();
    let key = hex::decode(
        std::fs::read_to_string(app.data_dir().join("signing.key"))
            .unwrap()
            .trim(),
    )
    .unwrap();
    let (expired, _) = TokenSigner::new(&key)
        .unwrap()
        .issue(
            &subject,
            now - chrono::Duration::hours(3),
            chrono::Duration::hours(1),
        )
        .unwrap();
    let payload = good.split('.').nth(1).unwrap();
    let none = format!(
        "{}.{payload}.",
        URL_SAFE_NO_PAD.encode(r#"{"alg":"none","typ":"JWT"}"#)
    );
    let hs512 = format!(
        "{}.{payload}.{}",
        URL_SAFE_NO_PAD.encode(r#"{"alg":"HS512","typ":"JWT"}"#),
        good.split('.').nth(2).unwrap()
    );
    let tampered = format!("{}.{}.{}", good.split('.').next().unwrap(), URL_SAFE_NO_PAD.encode(
        serde_json::to_vec(&json!({"app": claims["app"], "prj": claims["prj"], "eu": claims["eu"], "sub": "y", "iss": "sigmic", "aud": "sigmic-widget", "iat": claims["iat"], "exp": claims["exp"], "jti": "j"})).unwrap()
    ), good.split('.').nth(2).unwrap());
    for token in [&forged, &expired, &none, &hs512, &tampered] {
        let resp = widget(&app, token, SHOP)
            .req(Method::GET, "/api/v1/tasks")
            .send()
            .await
            .unwrap();
        assert_error(resp, 401, "INVALID_TOKEN").await;
    }

    // Rotating the secret keeps the old one for the overlap; with none it ends at once.
    let path = format!(
        "/api/v1/projects/{}/widget-apps/{}",
        o.project_id,
        w["appId"].as_str().unwrap()
    );
    let rotated = assert_ok(
        app.req(&o.client, Method::POST, &format!("{path}/rotate-secret"))
            .json(&json!({"overlapMinutes": 30}))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_ne!(rotated["appSecret"], w["appSecret"]);
    assert!(rotated["previousSecretExpiresAt"].is_string());
    token_for(&app, &w, "x", json!({})).await;
    token_for(&app, &rotated, "x", json!({})).await;
    let again = assert_ok(
        app.req(&o.client, Method::POST, &format!("{path}/rotate-secret"))
            .json(&json!({"overlapMinutes": 0}))
            .send()
            .await
            .unwrap(),
    )
    .await;
    let resp = exchange(
        &app,
        json!({"appId": w["appId"], "appSecret": rotated["appSecret"], "endUserId": "x"}),
    )
    .await;
    assert_error(resp, 401, "INVALID_CREDENTIALS").await;
    token_for(&app, &again, "x", json!({})).await;

    // Deleting the app ends its tokens at once.
    assert_ok(
        app.req(&o.client, Method::DELETE, &path)
            .send()
            .await
            .unwrap(),
    )
    .await;
    let resp = widget(&app, &good, SHOP)
        .req(Method::GET, "/api/v1/tasks")
        .send()
        .await
        .unwrap();
    assert_error(resp, 401, "INVALID_TOKEN").await;
    app.stop().await;
}

#[tokio::test]
async fn widget_apps_are_checked_and_managed_by_project_admins() {
    let app = TestApp::spawn().await;
    let o = owner(&app).await;
    let base = format!("/api/v1/projects/{}/widget-apps", o.project_id);
    for (body, field) in [
        (json!({"name": ""}), "name"),
        (
            json!({"name": "A", "allowedOrigins": ["https://shop.example.com/path"]}),
            "allowedOrigins",
        ),
        (
            json!({"name": "A", "allowedOrigins": ["ftp://x.example.com"]}),
            "allowedOrigins",
        ),
        (
            json!({"name": "A", "allowedOrigins": ["https://*.com"]}),
            "allowedOrigins",
        ),
        (
            json!({"name": "A", "look": {"accentColor": "red"}}),
            "look.accentColor",
        ),
        (
            json!({"name": "A", "look": {"suggestions": ["1", "2", "3", "4", "5"]}}),
            "look.suggestions",
        ),
    ] {
        let resp = app
            .req(&o.client, Method::POST, &base)
            .json(&body)
            .send()
            .await
            .unwrap();
        assert_field_error(resp, field).await;
    }
    assert_eq!(
        assert_ok(app.req(&o.client, Method::GET, &base).send().await.unwrap()).await,
        json!([])
    );

    let created = create_app(
        &app,
        &o,
        json!({"name": "Store", "allowedOrigins": ["HTTPS://Shop.Example.com/", "https://shop.example.com"],
               "look": {"title": "Helper", "accentColor": "#0EA5E9", "theme": "dark", "position": "bottom-left", "suggestions": ["Track my order"]}}),
    )
    .await;
    assert_eq!(
        created["allowedOrigins"],
        json!(["https://shop.example.com"])
    );
    assert_eq!(created["look"]["accentColor"], "#0ea5e9");
    let path = format!("{base}/{}", created["appId"].as_str().unwrap());
    let listed = assert_ok(app.req(&o.client, Method::GET, &base).send().await.unwrap()).await;
    assert!(
        listed[0].get("appSecret").is_none(),
        "the secret is shown once"
    );
    let changed = assert_ok(
        app.req(&o.client, Method::PATCH, &path)
            .json(&json!({"allowedOrigins": [SHOP]}))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(changed["allowedOrigins"], json!([SHOP]));
    assert_eq!(changed["look"]["title"], "Helper");

    // The secret is stored as a hash only.
    let secret = created["appSecret"].as_str().unwrap();
    assert!(files_containing(app.data_dir(), secret.as_bytes()).is_empty());
    if is_postgres() {
        assert!(!app.pg_rows_text().await.contains(secret));
    }

    // A member of the project reads; only admins write; API keys do neither.
    let (member, _) = app
        .add_org_member(&o.client, "mia@example.com", "mia", "member")
        .await;
    let user_id = app.me(&member).await["user"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    app.add_project_member(&o.client, &o.project_id, &user_id, "member")
        .await;
    assert_ok(app.req(&member, Method::GET, &base).send().await.unwrap()).await;
    let resp = app
        .req(&member, Method::POST, &base)
        .json(&json!({"name": "Mine"}))
        .send()
        .await
        .unwrap();
    assert_error(resp, 403, "FORBIDDEN").await;
    let resp = app
        .req(&member, Method::DELETE, &path)
        .send()
        .await
        .unwrap();
    assert_error(resp, 403, "FORBIDDEN").await;
    let resp = app.bearer(Method::GET, &base, &o.key).send().await.unwrap();
    assert_error(resp, 403, "FORBIDDEN").await;
    app.stop().await;
}

#[tokio::test]
async fn an_end_users_env_and_secrets_reach_their_tasks_and_are_written_nowhere() {
    let model = ModelServer::start().await;
    let app = app_for(&model, "openai").await;
    let o = owner(&app).await;
    let w = shop_app(&app, &o).await;
    model.script(
        "widget-env",
        vec![
            Turn::tool_call(
                "run_shell_command",
                json!({"command": "echo \"[$TOKEN] $PLAN\""}),
            ),
            Turn::text("done"),
        ],
    );
    let token = token_for(
        &app,
        &w,
        "customer-42",
        json!({"env": {"PLAN": "gold"}, "secrets": {"TOKEN": SECRET}}),
    )
    .await;
    let payload = URL_SAFE_NO_PAD
        .decode(token.split('.').nth(1).unwrap())
        .unwrap();
    let payload = String::from_utf8(payload).unwrap();
    assert!(
        !payload.contains(SECRET) && !payload.contains("gold"),
        "the token carries no values"
    );

    let x = widget(&app, &token, SHOP);
    let id = x.create(json!({"message": "widget-env: show them"})).await;
    x.wait(&id, "completed").await;
    let stream = SseReader::from_response(
        x.req(Method::GET, &format!("/api/v1/tasks/{id}/stream?after=0"))
            .send()
            .await
            .unwrap(),
    )
    .rest()
    .await;
    let all = serde_json::to_string(&stream.iter().map(|f| &f.data).collect::<Vec<_>>()).unwrap();
    assert!(all.contains("[[REDACTED:TOKEN]] gold"), "{all}");
    assert!(!all.contains(SECRET));
    let history = assert_ok(
        x.req(Method::GET, &format!("/api/v1/tasks/{id}/history"))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert!(!history.to_string().contains(SECRET));

    // A new exchange replaces the values for the next run.
    token_for(
        &app,
        &w,
        "customer-42",
        json!({"secrets": {"TOKEN": "other-value-123"}}),
    )
    .await;

    assert!(files_containing(app.data_dir(), SECRET.as_bytes()).is_empty());
    assert!(!server_log().contains(SECRET));
    if is_postgres() {
        let rows = app.pg_rows_text().await;
        assert!(rows.contains("customer-42"), "the rows were read");
        assert!(!rows.contains(SECRET));
    }
    app.stop().await;
}
