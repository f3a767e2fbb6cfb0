//! The API's edges answer in its envelope whatever arrives: malformed query strings and paths,
//! a method an endpoint does not take, a missing parameter; and the client address behind a
//! trusted proxy is the hop that proxy added, not one the client wrote.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use reqwest::Method;
use serde_json::json;
use sigmic_testkit::harness::*;

#[tokio::test]
async fn malformed_queries_paths_and_methods_answer_in_the_envelope() {
    let app = TestApp::spawn().await;
    let (admin, _) = app.signup("eve@example.com", "eve", PASSWORD).await;
    let project = app.first_project(&admin).await;
    let key = app.create_key(&admin, &project, "edges").await;

    for path in [
        "/api/v1/tasks?limit=1e9",
        "/api/v1/tasks?limit=-1",
        "/api/v1/tasks?offset=abc",
        "/api/v1/conversations?limit=x",
        "/api/v1/tasks/some-task/stream?after=soon",
    ] {
        let resp = app.bearer(Method::GET, path, &key).send().await.unwrap();
        let body = assert_error(resp, 400, "VALIDATION_ERROR").await;
        assert!(
            body["message"].as_str().unwrap().contains("query string"),
            "{path}: {body}"
        );
    }
    // The download names its file; without `path` it says so in the envelope.
    let resp = app
        .bearer(
            Method::GET,
            "/api/v1/tasks/some-task/artifacts/download",
            &key,
        )
        .send()
        .await
        .unwrap();
    assert_error(resp, 400, "VALIDATION_ERROR").await;
    // A path segment that is not UTF-8.
    let resp = app
        .bearer(Method::GET, "/api/v1/tasks/%FF%FE", &key)
        .send()
        .await
        .unwrap();
    assert_error(resp, 400, "VALIDATION_ERROR").await;
    // A method the endpoint does not take.
    for (method, path) in [
        (Method::PUT, "/api/v1/tasks"),
        (Method::PATCH, "/api/v1/me"),
        (Method::POST, "/api/v1/tasks/some-task/history"),
    ] {
        let resp = app.bearer(method.clone(), path, &key).send().await.unwrap();
        let body = assert_error(resp, 405, "METHOD_NOT_ALLOWED").await;
        assert!(
            body["message"].as_str().unwrap().contains(method.as_str()),
            "{body}"
        );
    }
    app.stop().await;
}

#[tokio::test]
async fn behind_a_trusted_proxy_the_client_is_the_hop_it_added() {
    let app = TestApp::spawn_with(|c| {
        c.trust_proxy = true;
        c.auth.login_attempts_per_address_per_minute = 3;
    })
    .await;
    app.signup("fay@example.com", "fay", PASSWORD).await;
    // The same client (the proxy saw 192.0.2.7) writes a new left-most hop each time: it is
    // still one client, and its fourth attempt in a minute is refused.
    let mut statuses = Vec::new();
    for i in 0..4 {
        let resp = app
            .anon(Method::POST, "/api/v1/auth/login")
            .header("x-forwarded-for", format!("198.51.100.{i}, 192.0.2.7"))
            .json(&json!({ "email": "fay@example.com", "password": "wrong password" }))
            .send()
            .await
            .unwrap();
        statuses.push(resp.status().as_u16());
    }
    assert_eq!(statuses, vec![401, 401, 401, 429]);
    // Another client behind the same proxy is counted on its own.
    let resp = app
        .anon(Method::POST, "/api/v1/auth/login")
        .header("x-forwarded-for", "192.0.2.8")
        .json(&json!({ "email": "fay@example.com", "password": PASSWORD }))
        .send()
        .await
        .unwrap();
    assert_ok(resp).await;
    app.stop().await;
}

/// serde would read `[]` as a settings object whose fields are all left out; every body the
/// API takes is an object, and anything else is refused before it changes anything.
#[tokio::test]
async fn a_body_that_is_not_an_object_is_refused() {
    let app = TestApp::spawn().await;
    let (admin, _) = app.signup("ida@example.com", "ida", PASSWORD).await;
    let project = app.first_project(&admin).await;
    let settings = format!("/api/v1/projects/{project}/settings");
    let resp = app
        .req(&admin, Method::PUT, &settings)
        .json(&json!({"network": {"mode": "off"}}))
        .send()
        .await
        .unwrap();
    assert_ok(resp).await;
    for body in [
        "[]",
        "[null, {\"mode\": \"internet\"}]",
        "\"x\"",
        "3",
        "null",
    ] {
        let resp = app
            .req(&admin, Method::PUT, &settings)
            .header("content-type", "application/json")
            .body(body)
            .send()
            .await
            .unwrap();
        let err = assert_error(resp, 400, "VALIDATION_ERROR").await;
        assert!(
            err["message"].as_str().unwrap().contains("JSON object"),
            "{body}: {err}"
        );
    }
    let now = assert_ok(
        app.req(&admin, Method::GET, &settings)
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(now["network"]["mode"], "off", "{now}");
    app.stop().await;
}

#[tokio::test]
async fn every_body_has_a_bound() {
    let app = TestApp::spawn().await;
    let (admin, _) = app.signup("gus@example.com", "gus", PASSWORD).await;
    let project = app.first_project(&admin).await;
    let key = app.create_key(&admin, &project, "bodies").await;
    let big = "x".repeat(3 * 1024 * 1024);

    // A JSON body past the API's bound, on a route without uploads.
    let resp = app
        .bearer(
            Method::POST,
            "/api/v1/tasks/some-task/tools/some-call/approve",
            &key,
        )
        .json(&json!({ "outcome": big }))
        .send()
        .await
        .unwrap();
    assert_error(resp, 413, "PAYLOAD_TOO_LARGE").await;

    // The Console's server functions (everything outside the API) are bounded too.
    let resp = app
        .req(&admin, Method::POST, "/_console/login")
        .header("content-type", "application/x-www-form-urlencoded")
        .body(format!("email=a&password={big}"))
        .send()
        .await
        .unwrap();
    assert_error(resp, 413, "PAYLOAD_TOO_LARGE").await;

    // A multipart text field is bounded on its own, not only by the whole body's allowance
    // (which the files share).
    for (field, size) in [("junk", 100 * 1024), ("message", 2 * 1024 * 1024)] {
        let form = reqwest::multipart::Form::new().text(field, "y".repeat(size));
        let resp = app
            .bearer(Method::POST, "/api/v1/tasks", &key)
            .multipart(form)
            .send()
            .await
            .unwrap();
        let err = assert_error(resp, 413, "PAYLOAD_TOO_LARGE").await;
        assert!(err["fields"][field].is_string(), "{err}");
    }
    // Nothing was created.
    let list = assert_ok(
        app.bearer(Method::GET, "/api/v1/tasks", &key)
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(list.as_array().unwrap().len(), 0);
    app.stop().await;
}

#[tokio::test]
async fn requests_from_other_sites_cannot_act_with_the_session() {
    let app = TestApp::spawn().await;
    let (admin, _) = app.signup("hal@example.com", "hal", PASSWORD).await;
    let project = app.first_project(&admin).await;
    let key = app.create_key(&admin, &project, "own").await;
    let ours = app.url("");
    let ours = ours.trim_end_matches('/');

    let create = |origin: Option<&str>, site: Option<&str>| {
        let mut req = app
            .req(&admin, Method::POST, "/api/v1/projects")
            .json(&json!({ "name": format!("p{}", unique()) }));
        if let Some(o) = origin {
            req = req.header("origin", o.to_owned());
        }
        if let Some(s) = site {
            req = req.header("sec-fetch-site", s.to_owned());
        }
        req.send()
    };
    for (origin, site) in [
        (Some("https://evil.example"), None),
        (Some("null"), None),
        (None, Some("cross-site")),
        (None, Some("same-site")),
        (Some(ours), Some("cross-site")),
    ] {
        let resp = create(origin, site).await.unwrap();
        assert_error(resp, 403, "FORBIDDEN").await;
    }
    // From our own pages, and from programs (which send neither header), it works.
    assert_ok(create(Some(ours), Some("same-origin")).await.unwrap()).await;
    assert_ok(create(Some(ours), None).await.unwrap()).await;
    assert_ok(create(None, None).await.unwrap()).await;
    // Reading is not refused; nor is a request that carries its own credential.
    let resp = app
        .req(&admin, Method::GET, "/api/v1/projects")
        .header("sec-fetch-site", "cross-site")
        .send()
        .await
        .unwrap();
    assert_ok(resp).await;
    let resp = app
        .bearer(Method::POST, "/api/v1/tasks", &key)
        .header("origin", "https://customer.example")
        .json(&json!({ "message": "hi" }))
        .send()
        .await
        .unwrap();
    assert_ok(resp).await;
    // No login or signup from another site (no login CSRF).
    for (path, body) in [
        (
            "/api/v1/auth/login",
            json!({ "email": "hal@example.com", "password": PASSWORD }),
        ),
        (
            "/api/v1/auth/signup",
            json!({ "email": "ivy@example.com", "username": "ivy", "password": PASSWORD }),
        ),
    ] {
        let resp = app
            .anon(Method::POST, path)
            .header("origin", "https://evil.example")
            .json(&body)
            .send()
            .await
            .unwrap();
        assert!(session_cookie(&resp).is_none());
        assert_error(resp, 403, "FORBIDDEN").await;
    }
    app.stop().await;
}

#[tokio::test]
async fn behind_tls_the_session_cookie_is_host_only_and_hsts_is_sent() {
    let app = TestApp::spawn_with(|c| c.secure_cookies = true).await;
    let resp = app
        .anon(Method::POST, "/api/v1/auth/signup")
        .json(&json!({ "email": "jon@example.com", "username": "jon", "password": PASSWORD }))
        .send()
        .await
        .unwrap();
    assert_eq!(
        resp.headers()["strict-transport-security"],
        "max-age=31536000"
    );
    let set_cookie = resp.headers()["set-cookie"].to_str().unwrap().to_owned();
    assert!(
        set_cookie.starts_with("__Host-sigmic_session=") && set_cookie.contains("; Secure"),
        "{set_cookie}"
    );
    assert!(set_cookie.contains("Path=/") && !set_cookie.contains("Domain"));
    let token = set_cookie
        .split(';')
        .next()
        .and_then(|c| c.split_once('='))
        .map(|(_, v)| v.to_owned())
        .unwrap();
    let me = |cookie: String| {
        app.anon(Method::GET, "/api/v1/me")
            .header("cookie", cookie)
            .send()
    };
    assert_ok(me(format!("__Host-sigmic_session={token}")).await.unwrap()).await;
    // The unprefixed name, which anything could have set, does not count.
    let resp = me(format!("sigmic_session={token}")).await.unwrap();
    assert_error(resp, 401, "AUTH_REQUIRED").await;
    app.stop().await;
}

/// Pages run only the hydration script the server wrote into them (its nonce is new on every
/// answer and named by the policy), can never be framed, and API answers — downloads
/// included — may run nothing at all.
#[tokio::test]
async fn pages_and_api_answers_carry_a_content_security_policy() {
    let app = TestApp::spawn().await;
    let page = |path: &'static str| app.anon(Method::GET, path).send();
    let mut nonces = Vec::new();
    for _ in 0..2 {
        let resp = page("/login").await.unwrap();
        let csp = resp.headers()["content-security-policy"]
            .to_str()
            .unwrap()
            .to_owned();
        assert!(csp.contains("frame-ancestors 'none'"), "{csp}");
        assert!(csp.contains("object-src 'none'"), "{csp}");
        let nonce = csp
            .split("'nonce-")
            .nth(1)
            .and_then(|r| r.split('\'').next())
            .unwrap()
            .to_owned();
        assert!(nonce.len() >= 32, "{csp}");
        let html = resp.text().await.unwrap();
        // Every inline script carries the nonce; none goes without.
        let inline: Vec<&str> = html
            .split("<script")
            .skip(1)
            .filter(|tag| !tag.split('>').next().unwrap_or_default().contains("src="))
            .collect();
        assert!(!inline.is_empty(), "the hydration script: {html}");
        for tag in inline {
            let open = tag.split('>').next().unwrap_or_default();
            assert!(open.contains(&format!("nonce=\"{nonce}\"")), "{open}");
        }
        nonces.push(nonce);
    }
    assert_ne!(nonces[0], nonces[1], "a nonce is for one answer only");

    let resp = app.anon(Method::GET, "/api/v1/me").send().await.unwrap();
    let csp = resp.headers()["content-security-policy"].to_str().unwrap();
    assert!(
        csp.starts_with("default-src 'none'") && csp.contains("sandbox"),
        "{csp}"
    );
    app.stop().await;
}

/// Large answers go out compressed to a client that takes it, and decompress to the same JSON;
/// small ones, streams and downloads go out as they are.
#[tokio::test]
async fn large_answers_are_compressed_streams_are_not() {
    use std::io::Read;
    let app = TestApp::spawn().await;
    let (admin, _) = app.signup("zip@example.com", "zip", PASSWORD).await;
    let project = app.first_project(&admin).await;
    let key = app.create_key(&admin, &project, "zip").await;

    let plain = app
        .http
        .get(app.url("/api/v1/openapi.json"))
        .send()
        .await
        .unwrap();
    assert!(plain.headers().get("content-encoding").is_none());
    let plain = plain.bytes().await.unwrap();

    let zipped = app
        .http
        .get(app.url("/api/v1/openapi.json"))
        .header("accept-encoding", "gzip")
        .send()
        .await
        .unwrap();
    assert_eq!(zipped.headers()["content-encoding"], "gzip");
    assert_eq!(zipped.headers()["vary"], "accept-encoding");
    let zipped = zipped.bytes().await.unwrap();
    assert!(
        zipped.len() * 4 < plain.len(),
        "{} bytes compressed of {}",
        zipped.len(),
        plain.len()
    );
    let mut unzipped = Vec::new();
    flate2::read::GzDecoder::new(&zipped[..])
        .read_to_end(&mut unzipped)
        .unwrap();
    assert_eq!(unzipped, plain);

    // A small answer is not worth it.
    let small = app
        .bearer(Method::GET, "/api/v1/me", &key)
        .header("accept-encoding", "gzip, br")
        .send()
        .await
        .unwrap();
    assert_eq!(small.status(), 200);
    assert!(small.headers().get("content-encoding").is_none());

    // A stream is never held back by a compressor.
    let task = app
        .bearer(Method::POST, "/api/v1/tasks", &key)
        .json(&json!({"message": "hello", "projectId": project}))
        .send()
        .await
        .unwrap();
    let task: serde_json::Value = task.json().await.unwrap();
    let id = task["data"]["id"].as_str().unwrap();
    let stream = app
        .bearer(Method::GET, &format!("/api/v1/tasks/{id}/stream"), &key)
        .header("accept-encoding", "gzip, br")
        .send()
        .await
        .unwrap();
    assert_eq!(stream.status(), 200);
    assert!(stream.headers().get("content-encoding").is_none());
    drop(stream);
    app.stop().await;
}
