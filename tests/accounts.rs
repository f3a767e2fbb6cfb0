//! Accounts: signup, login, lockout, rate limiting, logout, sessions — plus the public health and
//! documentation endpoints.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use reqwest::Method;
use serde_json::{Value, json};
use sigmic_testkit::harness::*;

async fn post_signup(app: &TestApp, body: Value) -> reqwest::Response {
    app.anon(Method::POST, "/api/v1/auth/signup")
        .json(&body)
        .send()
        .await
        .unwrap()
}

async fn post_login(app: &TestApp, email: &str, password: &str) -> reqwest::Response {
    app.anon(Method::POST, "/api/v1/auth/login")
        .json(&json!({ "email": email, "password": password }))
        .send()
        .await
        .unwrap()
}

// ---------------------------------------------------------------------------------------------
// Signup
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn signup_creates_user_personal_org_default_project_and_session_cookie() {
    let app = TestApp::spawn().await;
    let resp = post_signup(
        &app,
        json!({ "email": "alice@example.com", "username": "alice", "name": "Alice Smith", "password": PASSWORD }),
    )
    .await;

    let cookie = session_set_cookie(&resp).expect("signup sets sigmic_session");
    let attrs: Vec<String> = cookie
        .split(';')
        .map(|a| a.trim().to_ascii_lowercase())
        .collect();
    assert!(
        attrs.iter().any(|a| a == "httponly"),
        "HttpOnly missing: {cookie}"
    );
    assert!(
        attrs.iter().any(|a| a == "samesite=lax"),
        "SameSite=Lax missing: {cookie}"
    );
    assert!(
        attrs.iter().any(|a| a == "path=/"),
        "Path=/ missing: {cookie}"
    );
    assert!(
        !attrs.iter().any(|a| a == "secure"),
        "Secure on plain HTTP by default: {cookie}"
    );
    let token = session_cookie(&resp).unwrap();

    let (status, body) = json_body(resp).await;
    assert_eq!(status, 200, "{body}");
    let user = &body["data"]["user"];
    assert_eq!(user["email"], "alice@example.com");
    assert_eq!(user["username"], "alice");
    assert_eq!(user["name"], "Alice Smith");
    assert!(user["id"].as_str().is_some_and(|s| !s.is_empty()), "{user}");
    let text = body.to_string().to_lowercase();
    assert!(
        !text.contains("password") && !text.contains("argon2"),
        "password leaks: {body}"
    );

    // The cookie is a working session.
    let resp = app
        .with_session(Method::GET, "/api/v1/me", &token)
        .send()
        .await
        .unwrap();
    let me = assert_ok(resp).await;
    assert_eq!(me["type"], "user");
    assert_eq!(me["user"]["id"], user["id"]);
    assert_eq!(me["user"]["username"], "alice");
    assert_eq!(me["organization"]["name"], "Alice Smith's organization");
    assert_eq!(me["role"], "admin");
    let projects = me["projects"].as_array().expect("projects");
    assert_eq!(projects.len(), 1, "{me}");
    assert_eq!(projects[0]["name"], "Default");
    assert_eq!(projects[0]["role"], "admin");

    let resp = app
        .with_session(Method::GET, "/api/v1/organization", &token)
        .send()
        .await
        .unwrap();
    let org = assert_ok(resp).await;
    assert_eq!(org["id"], me["organization"]["id"]);
    assert_eq!(org["name"], "Alice Smith's organization");
    assert_eq!(org["role"], "admin");
    assert!(org["createdAt"].is_string(), "{org}");

    let resp = app
        .with_session(Method::GET, "/api/v1/projects", &token)
        .send()
        .await
        .unwrap();
    let list = assert_ok(resp).await;
    assert_eq!(list.as_array().map(Vec::len), Some(1), "{list}");
    assert_eq!(list[0]["name"], "Default");
}

#[tokio::test]
async fn secure_cookies_setting_marks_the_cookie_secure() {
    let app = TestApp::spawn_with(|c| c.secure_cookies = true).await;
    let resp = post_signup(
        &app,
        json!({ "email": "sec@example.com", "username": "sec", "password": PASSWORD }),
    )
    .await;
    let cookie = session_set_cookie(&resp).expect("cookie");
    assert!(
        cookie
            .split(';')
            .any(|a| a.trim().eq_ignore_ascii_case("secure")),
        "{cookie}"
    );
    assert_ok(resp).await;
}

#[tokio::test]
async fn signup_without_name_names_org_after_username() {
    let app = TestApp::spawn().await;
    let (client, _) = app.signup("bob@example.com", "bob", PASSWORD).await;
    let me = app.me(&client).await;
    assert_eq!(me["organization"]["name"], "bob's organization", "{me}");
}

#[tokio::test]
async fn signup_lowercases_username_and_derives_one_from_email() {
    let app = TestApp::spawn().await;
    let (_, user) = app.signup("carol@example.com", "Carol_99", PASSWORD).await;
    assert_eq!(user["username"], "carol_99");

    let (_, user) = app
        .signup_body(json!({ "email": "dave.jones@example.com", "password": PASSWORD }))
        .await;
    let username = user["username"].as_str().expect("derived username");
    assert!((2..=39).contains(&username.len()), "{username}");
    assert!(
        username
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_' || b == b'-'),
        "{username}"
    );
    assert!(username.as_bytes()[0].is_ascii_alphanumeric(), "{username}");
    assert!(
        username.starts_with("dave"),
        "derived from the email: {username}"
    );

    // The same local part at another domain still signs up (a fresh username is derived).
    let (_, other) = app
        .signup_body(json!({ "email": "dave.jones@example.org", "password": PASSWORD }))
        .await;
    assert_ne!(other["username"], user["username"]);
}

#[tokio::test]
async fn signup_rejects_invalid_fields_naming_each() {
    let app = TestApp::spawn().await;
    let ok = |over: Value| {
        let mut body =
            json!({ "email": "eve@example.com", "username": "eve", "password": PASSWORD });
        for (k, v) in over.as_object().unwrap() {
            body[k] = v.clone();
        }
        body
    };
    let cases = [
        (json!({ "email": "not-an-email" }), "email"),
        (json!({ "email": "" }), "email"),
        (json!({ "password": "short12" }), "password"),
        (json!({ "username": "a" }), "username"),
        (json!({ "username": "-eve" }), "username"),
        (json!({ "username": "_eve" }), "username"),
        (json!({ "username": "eve smith" }), "username"),
        (json!({ "username": "eve.smith" }), "username"),
        (json!({ "username": "e".repeat(40) }), "username"),
        (json!({ "name": "n".repeat(201) }), "name"),
    ];
    for (over, field) in cases {
        let resp = post_signup(&app, ok(over.clone())).await;
        let err = assert_field_error(resp, field).await;
        println!("{over} -> {err}");
    }
}

#[tokio::test]
async fn signup_accepts_values_at_the_limits() {
    // Limits are inclusive: a 39-char username, an 8-char password and a 200-char name are fine
    // (and the personal organization named after that name must still fit).
    let app = TestApp::spawn().await;
    let (client, user) = app
        .signup_body(json!({
            "email": "eve@example.com", "username": "e".repeat(39), "password": "12345678",
            "name": "n".repeat(200)
        }))
        .await;
    assert_eq!(user["username"], "e".repeat(39));
    assert_eq!(user["name"], "n".repeat(200));
    let me = app.me(&client).await;
    assert!(
        me["organization"]["name"]
            .as_str()
            .is_some_and(|n| n.starts_with("nnn")),
        "{me}"
    );
}

#[tokio::test]
async fn signup_rejects_duplicate_email_and_username() {
    let app = TestApp::spawn().await;
    app.signup("frank@example.com", "frank", PASSWORD).await;

    let resp = post_signup(
        &app,
        json!({ "email": "frank@example.com", "username": "frank2", "password": PASSWORD }),
    )
    .await;
    assert_field_error(resp, "email").await;

    let resp = post_signup(
        &app,
        json!({ "email": "frank2@example.com", "username": "frank", "password": PASSWORD }),
    )
    .await;
    assert_field_error(resp, "username").await;

    // Username uniqueness ignores case (usernames are lower-cased).
    let resp = post_signup(
        &app,
        json!({ "email": "frank3@example.com", "username": "FRANK", "password": PASSWORD }),
    )
    .await;
    assert_field_error(resp, "username").await;
}

// ---------------------------------------------------------------------------------------------
// Login
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn login_right_password_starts_a_session_wrong_or_unknown_do_not() {
    let app = TestApp::spawn().await;
    let (_, user) = app.signup("gina@example.com", "gina", PASSWORD).await;

    let resp = post_login(&app, "gina@example.com", PASSWORD).await;
    let cookie = session_set_cookie(&resp).expect("login sets the cookie");
    assert!(cookie.to_ascii_lowercase().contains("httponly"), "{cookie}");
    assert!(
        cookie.to_ascii_lowercase().contains("samesite=lax"),
        "{cookie}"
    );
    let token = session_cookie(&resp).unwrap();
    let data = assert_ok(resp).await;
    assert_eq!(data["user"]["id"], user["id"]);
    assert_eq!(data["user"]["username"], "gina");
    let resp = app
        .with_session(Method::GET, "/api/v1/me", &token)
        .send()
        .await
        .unwrap();
    assert_eq!(assert_ok(resp).await["user"]["id"], user["id"]);

    let wrong = post_login(&app, "gina@example.com", "not the password").await;
    assert!(
        session_cookie(&wrong).is_none(),
        "failed login must not set a session"
    );
    let wrong = assert_error(wrong, 401, "INVALID_CREDENTIALS").await;

    let unknown = post_login(&app, "nobody@example.com", PASSWORD).await;
    let unknown = assert_error(unknown, 401, "INVALID_CREDENTIALS").await;
    assert_eq!(
        wrong["message"], unknown["message"],
        "wrong password and unknown email must be indistinguishable"
    );
}

#[tokio::test]
async fn account_locks_after_repeated_failures() {
    let app = TestApp::spawn_with(|c| {
        c.auth.max_failed_logins_per_account = 3;
        c.auth.login_attempts_per_address_per_minute = 1000;
    })
    .await;
    app.signup("hank@example.com", "hank", PASSWORD).await;
    app.signup("ivy@example.com", "ivy", PASSWORD).await;

    // Below the limit the right password still works.
    for _ in 0..2 {
        assert_error(
            post_login(&app, "hank@example.com", "wrong-password").await,
            401,
            "INVALID_CREDENTIALS",
        )
        .await;
    }
    for _ in 0..3 {
        assert_error(
            post_login(&app, "ivy@example.com", "wrong-password").await,
            401,
            "INVALID_CREDENTIALS",
        )
        .await;
    }
    // ivy is locked: even the right password answers INVALID_CREDENTIALS, with no session.
    let resp = post_login(&app, "ivy@example.com", PASSWORD).await;
    assert!(
        session_cookie(&resp).is_none(),
        "locked account must not get a session"
    );
    let locked = assert_error(resp, 401, "INVALID_CREDENTIALS").await;
    let wrong = assert_error(
        post_login(&app, "ivy@example.com", "wrong-password").await,
        401,
        "INVALID_CREDENTIALS",
    )
    .await;
    assert_eq!(
        locked["message"], wrong["message"],
        "a lock must not be revealed"
    );

    // Another account from the same address is not affected.
    let resp = post_login(&app, "hank@example.com", PASSWORD).await;
    assert_ok(resp).await;
}

#[tokio::test]
async fn login_is_rate_limited_per_address_with_retry_after() {
    let app = TestApp::spawn_with(|c| {
        c.auth.login_attempts_per_address_per_minute = 3;
        c.auth.max_failed_logins_per_account = 1000;
    })
    .await;
    app.signup("jack@example.com", "jack", PASSWORD).await;

    for _ in 0..3 {
        let resp = post_login(&app, "jack@example.com", "wrong-password").await;
        assert_error(resp, 401, "INVALID_CREDENTIALS").await;
    }
    // The 4th attempt in the minute is refused, even with the right password.
    let resp = post_login(&app, "jack@example.com", PASSWORD).await;
    let retry_after = resp
        .headers()
        .get("retry-after")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned)
        .expect("429 carries Retry-After");
    let secs: u64 = retry_after.trim().parse().expect("Retry-After in seconds");
    assert!((1..=60).contains(&secs), "Retry-After {secs}");
    assert!(session_cookie(&resp).is_none());
    assert_error(resp, 429, "RATE_LIMITED").await;

    // X-Forwarded-For is not trusted by default, so it does not get around the limit.
    let resp = app
        .anon(Method::POST, "/api/v1/auth/login")
        .header("X-Forwarded-For", "203.0.113.9")
        .json(&json!({ "email": "jack@example.com", "password": PASSWORD }))
        .send()
        .await
        .unwrap();
    assert_error(resp, 429, "RATE_LIMITED").await;

    // Other endpoints are not throttled by the login limit.
    let resp = app.anon(Method::GET, "/healthz").send().await.unwrap();
    assert_eq!(resp.status(), 200);
}

#[tokio::test]
async fn behind_a_trusted_proxy_the_limit_is_per_forwarded_address() {
    let app = TestApp::spawn_with(|c| {
        c.trust_proxy = true;
        c.auth.login_attempts_per_address_per_minute = 2;
        c.auth.max_failed_logins_per_account = 1000;
    })
    .await;
    app.signup("kate@example.com", "kate", PASSWORD).await;
    let login_from = |ip: &'static str, password: &'static str| {
        app.anon(Method::POST, "/api/v1/auth/login")
            .header("X-Forwarded-For", ip)
            .json(&json!({ "email": "kate@example.com", "password": password }))
            .send()
    };
    for _ in 0..2 {
        assert_error(
            login_from("198.51.100.1", "wrong-password").await.unwrap(),
            401,
            "INVALID_CREDENTIALS",
        )
        .await;
    }
    assert_error(
        login_from("198.51.100.1", PASSWORD).await.unwrap(),
        429,
        "RATE_LIMITED",
    )
    .await;
    assert_ok(login_from("198.51.100.2", PASSWORD).await.unwrap()).await;
}

// ---------------------------------------------------------------------------------------------
// Sessions and logout
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn logout_deletes_the_session_and_clears_the_cookie() {
    let app = TestApp::spawn().await;
    let (client, _) = app.signup("leo@example.com", "leo", PASSWORD).await;
    let token = app.login_token("leo@example.com", PASSWORD).await;
    let other = app.login("leo@example.com", PASSWORD).await;

    let resp = app
        .with_session(Method::POST, "/api/v1/auth/logout", &token)
        .send()
        .await
        .unwrap();
    let cleared = session_set_cookie(&resp).expect("logout clears the cookie");
    let lower = cleared.to_ascii_lowercase();
    assert!(
        lower.starts_with("sigmic_session=;")
            || lower.contains("max-age=0")
            || lower.contains("expires=thu, 01 jan 1970"),
        "cookie not cleared: {cleared}"
    );
    let data = assert_ok(resp).await;
    assert_eq!(data["loggedOut"], json!(true));

    // The session row is gone: replaying the old cookie value does not work.
    let resp = app
        .with_session(Method::GET, "/api/v1/me", &token)
        .send()
        .await
        .unwrap();
    assert_error(resp, 401, "AUTH_REQUIRED").await;

    // Other sessions of the same person are unaffected.
    app.me(&client).await;
    app.me(&other).await;

    // Logging out through a cookie client also ends that client's session.
    let resp = app
        .req(&other, Method::POST, "/api/v1/auth/logout")
        .send()
        .await
        .unwrap();
    assert_ok(resp).await;
    let resp = app
        .req(&other, Method::GET, "/api/v1/me")
        .send()
        .await
        .unwrap();
    assert_error(resp, 401, "AUTH_REQUIRED").await;
}

#[tokio::test]
async fn missing_or_bogus_session_cookie_is_auth_required() {
    let app = TestApp::spawn().await;
    let resp = app.anon(Method::GET, "/api/v1/me").send().await.unwrap();
    assert_error(resp, 401, "AUTH_REQUIRED").await;
    let resp = app
        .with_session(Method::GET, "/api/v1/me", "bogus")
        .send()
        .await
        .unwrap();
    assert_error(resp, 401, "AUTH_REQUIRED").await;
    let resp = app
        .with_session(Method::GET, "/api/v1/me", &random_hex(32))
        .send()
        .await
        .unwrap();
    assert_error(resp, 401, "AUTH_REQUIRED").await;
}

#[tokio::test]
async fn expired_session_is_auth_required() {
    let app = TestApp::spawn_with(|c| c.auth.session_ttl_hours = 0).await;
    let (token, _) = app.signup_token("mia@example.com", "mia").await;
    let resp = app
        .with_session(Method::GET, "/api/v1/me", &token)
        .send()
        .await
        .unwrap();
    assert_error(resp, 401, "AUTH_REQUIRED").await;
}

// ---------------------------------------------------------------------------------------------
// Public endpoints
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn health_and_readiness() {
    let app = TestApp::spawn().await;
    let resp = app.anon(Method::GET, "/healthz").send().await.unwrap();
    assert_eq!(resp.status(), 200);
    let body: Value = resp.json().await.unwrap();
    assert_eq!(body, json!({ "status": "ok" }));

    let resp = app.anon(Method::GET, "/readyz").send().await.unwrap();
    assert_eq!(resp.status(), 200);
    let body: Value = resp.json().await.unwrap();
    // The sandbox's start-up check passed with the built supervisor.
    assert_eq!(body, json!({ "status": "ready", "sandbox": "ok" }));
}

/// Every path (and method) the contract names, with path parameters written as `{}`.
const CONTRACT_OPERATIONS: &[(&str, &str)] = &[
    ("get", "/healthz"),
    ("get", "/readyz"),
    ("post", "/api/v1/auth/signup"),
    ("post", "/api/v1/auth/login"),
    ("post", "/api/v1/auth/logout"),
    ("get", "/api/v1/invitations/{}"),
    ("get", "/api/v1/me"),
    ("get", "/api/v1/organization"),
    ("patch", "/api/v1/organization"),
    ("get", "/api/v1/organization/members"),
    ("patch", "/api/v1/organization/members/{}"),
    ("delete", "/api/v1/organization/members/{}"),
    ("get", "/api/v1/organization/invitations"),
    ("post", "/api/v1/organization/invitations"),
    ("delete", "/api/v1/organization/invitations/{}"),
    ("get", "/api/v1/projects"),
    ("post", "/api/v1/projects"),
    ("get", "/api/v1/projects/{}"),
    ("patch", "/api/v1/projects/{}"),
    ("delete", "/api/v1/projects/{}"),
    ("get", "/api/v1/projects/{}/members"),
    ("post", "/api/v1/projects/{}/members"),
    ("patch", "/api/v1/projects/{}/members/{}"),
    ("delete", "/api/v1/projects/{}/members/{}"),
    ("get", "/api/v1/projects/{}/api-keys"),
    ("post", "/api/v1/projects/{}/api-keys"),
    ("delete", "/api/v1/projects/{}/api-keys/{}"),
    ("post", "/api/users/{}/api-keys"),
];

fn normalize_template(path: &str) -> String {
    let mut out = String::new();
    let mut in_param = false;
    for c in path.chars() {
        match c {
            '{' => {
                in_param = true;
                out.push_str("{}");
            }
            '}' => in_param = false,
            _ if in_param => {}
            _ => out.push(c),
        }
    }
    out
}

#[tokio::test]
async fn openapi_document_lists_every_contract_path_and_docs_page_renders() {
    let app = TestApp::spawn().await;
    let resp = app
        .anon(Method::GET, "/api/v1/openapi.json")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    let doc: Value = resp.json().await.expect("OpenAPI is JSON");
    assert!(
        doc["openapi"]
            .as_str()
            .is_some_and(|v| v.starts_with("3.1")),
        "OpenAPI 3.1 expected: {}",
        doc["openapi"]
    );
    let paths = doc["paths"].as_object().expect("paths object");
    let mut have = std::collections::BTreeSet::new();
    for (path, item) in paths {
        for method in item.as_object().into_iter().flat_map(|o| o.keys()) {
            have.insert((method.to_lowercase(), normalize_template(path)));
        }
    }
    let missing: Vec<String> = CONTRACT_OPERATIONS
        .iter()
        .filter(|(m, p)| !have.contains(&((*m).to_owned(), (*p).to_owned())))
        .map(|(m, p)| format!("{} {p}", m.to_uppercase()))
        .collect();
    assert!(
        missing.is_empty(),
        "OpenAPI document lacks:\n  {}",
        missing.join("\n  ")
    );

    let resp = app.anon(Method::GET, "/api/docs").send().await.unwrap();
    assert_eq!(resp.status(), 200);
    let ctype = resp
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_owned();
    assert!(
        ctype.starts_with("text/html"),
        "docs page content-type {ctype}"
    );
    let html = resp.text().await.unwrap();
    assert!(
        html.contains("openapi.json"),
        "docs page should load the OpenAPI document"
    );
}

#[tokio::test]
async fn unknown_api_path_answers_the_error_envelope() {
    let app = TestApp::spawn().await;
    let resp = app
        .anon(Method::GET, "/api/v1/no-such-thing")
        .send()
        .await
        .unwrap();
    assert_error(resp, 404, "NOT_FOUND").await;
}

#[tokio::test]
async fn a_lockout_from_one_address_does_not_lock_the_owner_out_from_another() {
    let app = TestApp::spawn_with(|c| {
        c.trust_proxy = true;
        c.auth.max_failed_logins_per_account = 3;
        c.auth.login_attempts_per_address_per_minute = 1000;
    })
    .await;
    app.signup("lena@example.com", "lena", PASSWORD).await;
    let login_from = |ip: &'static str, password: &'static str| {
        app.anon(Method::POST, "/api/v1/auth/login")
            .header("X-Forwarded-For", ip)
            .json(&json!({ "email": "lena@example.com", "password": password }))
            .send()
    };
    for _ in 0..3 {
        let resp = login_from("198.51.100.66", "guessing").await.unwrap();
        assert_error(resp, 401, "INVALID_CREDENTIALS").await;
    }
    // The guesser is locked out, even with the right password...
    let resp = login_from("198.51.100.66", PASSWORD).await.unwrap();
    assert_error(resp, 401, "INVALID_CREDENTIALS").await;
    // ...but the owner, from their own address, is not.
    let resp = login_from("192.0.2.10", PASSWORD).await.unwrap();
    assert!(session_cookie(&resp).is_some());
    assert_ok(resp).await;
}

#[tokio::test]
async fn signup_is_rate_limited_per_address() {
    let app = TestApp::spawn_with(|c| c.auth.signups_per_address_per_hour = 2).await;
    for name in ["mara", "nils"] {
        app.signup(&format!("{name}@example.com"), name, PASSWORD)
            .await;
    }
    let resp = app
        .anon(Method::POST, "/api/v1/auth/signup")
        .json(&json!({ "email": "olga@example.com", "username": "olga", "password": PASSWORD }))
        .send()
        .await
        .unwrap();
    assert!(resp.headers().get("retry-after").is_some());
    assert_error(resp, 429, "RATE_LIMITED").await;
    // Nothing was created: the address cannot sign up, and the email is still free.
    let resp = app
        .anon(Method::POST, "/api/v1/auth/login")
        .json(&json!({ "email": "olga@example.com", "password": PASSWORD }))
        .send()
        .await
        .unwrap();
    assert_error(resp, 401, "INVALID_CREDENTIALS").await;
}
