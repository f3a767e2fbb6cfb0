//! A project's MCP servers through the API: project admins add, replace, import, export and
//! delete them; members and API keys see them with header and env values masked; bad input
//! names its field and writes nothing; header and env values never reach the database in
//! clear.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use reqwest::{Client, Method};
use serde_json::{Value, json};
use sigmic_testkit::harness::*;
use sigmic_testkit::mcp::{Everything, MCP_SERVER_TIME, Transport};

const HEADER_SECRET: &str = "hdr-secret-7f3a9c41e2";
const ENV_SECRET: &str = "env-secret-b81d55a0c9";

fn servers_path(project: &str) -> String {
    format!("/api/v1/projects/{project}/mcp-servers")
}

async fn list(app: &TestApp, client: &Client, project: &str) -> Vec<Value> {
    let resp = app
        .req(client, Method::GET, &servers_path(project))
        .send()
        .await
        .unwrap();
    assert_ok(resp).await.as_array().unwrap().clone()
}

async fn post(app: &TestApp, client: &Client, project: &str, body: Value) -> reqwest::Response {
    app.req(client, Method::POST, &servers_path(project))
        .json(&body)
        .send()
        .await
        .unwrap()
}

/// `POST …/mcp-servers/import` with an `{"mcpServers": {…}}` document.
async fn import(
    app: &TestApp,
    client: &Client,
    project: &str,
    document: &Value,
) -> reqwest::Response {
    app.req(
        client,
        Method::POST,
        &format!("{}/import", servers_path(project)),
    )
    .json(document)
    .send()
    .await
    .unwrap()
}

fn orders() -> Value {
    json!({
        "name": "orders",
        "type": "http",
        "url": "https://orders.example.test/mcp",
        "headers": {"Authorization": format!("Bearer {HEADER_SECRET}"), "X-Tenant": "{{mcp.TENANT}}"},
        "timeout": 5000,
        "includeTools": ["list_*", "get_order"],
    })
}

#[tokio::test]
async fn admins_configure_servers_and_members_see_them_masked() {
    let app = TestApp::spawn().await;
    let (admin, _) = app
        .signup("mcp-admin@example.com", "mcpadmin", PASSWORD)
        .await;
    let project = app.first_project(&admin).await;

    let created = assert_ok(post(&app, &admin, &project, orders()).await).await;
    assert_eq!(created["type"], "http");
    assert_eq!(created["enabled"], true);
    assert_eq!(
        created["headers"]["Authorization"],
        format!("Bearer {HEADER_SECRET}"),
        "the admin who wrote it reads it back"
    );
    let local = json!({
        "name": "everything",
        "command": "npx",
        "args": ["-y", "@modelcontextprotocol/server-everything"],
        "env": {"API_TOKEN": ENV_SECRET},
        "excludeTools": ["longRunning*"],
    });
    let created = assert_ok(post(&app, &admin, &project, local).await).await;
    assert_eq!(created["type"], "stdio", "a command means stdio: {created}");

    // A project member and an API key see the servers, values masked.
    let (member, member_user) = app
        .add_org_member(&admin, "mcp-member@example.com", "mcpmember", "member")
        .await;
    app.add_project_member(
        &admin,
        &project,
        member_user["id"].as_str().unwrap(),
        "member",
    )
    .await;
    let key = app.create_key(&admin, &project, "reader").await;
    let by_key = app
        .x_api_key(Method::GET, &servers_path(&project), &key)
        .send()
        .await
        .unwrap();
    for seen in [
        list(&app, &member, &project).await,
        assert_ok(by_key).await.as_array().unwrap().clone(),
    ] {
        assert_eq!(seen.len(), 2, "{seen:?}");
        let text = Value::Array(seen.clone()).to_string();
        assert!(
            !text.contains(HEADER_SECRET) && !text.contains(ENV_SECRET),
            "{text}"
        );
        let orders = seen.iter().find(|s| s["name"] == "orders").unwrap();
        assert_eq!(orders["headers"]["Authorization"], "********");
        assert_eq!(orders["url"], "https://orders.example.test/mcp");
    }

    // Members and keys do not edit.
    assert_error(
        post(
            &app,
            &member,
            &project,
            json!({"name": "x", "command": "y"}),
        )
        .await,
        403,
        "FORBIDDEN",
    )
    .await;
    let by_key = app
        .x_api_key(Method::POST, &servers_path(&project), &key)
        .json(&json!({"name": "x", "command": "y"}))
        .send()
        .await
        .unwrap();
    assert_error(by_key, 403, "FORBIDDEN").await;

    // Replace renames and changes; the old name is gone.
    let resp = app
        .req(&admin, Method::PUT, &format!("{}/orders", servers_path(&project)))
        .json(&json!({"name": "shop", "type": "sse", "url": "http://127.0.0.1:9/sse", "enabled": false}))
        .send()
        .await
        .unwrap();
    let shop = assert_ok(resp).await;
    assert_eq!(
        (
            shop["name"].as_str(),
            shop["type"].as_str(),
            shop["enabled"].as_bool()
        ),
        (Some("shop"), Some("sse"), Some(false))
    );
    let gone = app
        .req(
            &admin,
            Method::GET,
            &format!("{}/orders", servers_path(&project)),
        )
        .send()
        .await
        .unwrap();
    assert_error(gone, 404, "NOT_FOUND").await;

    // Another organization reaches none of it.
    let (stranger, _) = app
        .signup("mcp-stranger@example.com", "mcpstranger", PASSWORD)
        .await;
    let resp = app
        .req(&stranger, Method::GET, &servers_path(&project))
        .send()
        .await
        .unwrap();
    assert_error(resp, 404, "NOT_FOUND").await;

    let resp = app
        .req(
            &admin,
            Method::DELETE,
            &format!("{}/shop", servers_path(&project)),
        )
        .send()
        .await
        .unwrap();
    assert_ok(resp).await;
    assert_eq!(list(&app, &admin, &project).await.len(), 1);
}

#[tokio::test]
async fn bad_input_names_its_field_and_writes_nothing() {
    let app = TestApp::spawn().await;
    let (admin, _) = app.signup("mcp-bad@example.com", "mcpbad", PASSWORD).await;
    let project = app.first_project(&admin).await;
    assert_ok(post(&app, &admin, &project, orders()).await).await;

    let cases = [
        (
            json!({"name": "a", "type": "websocket", "url": "wss://x.test/"}),
            "type",
        ),
        (
            json!({"name": "a", "type": "http", "url": "ftp://x.test/"}),
            "url",
        ),
        (
            json!({"name": "a", "type": "http", "url": "not a url"}),
            "url",
        ),
        (
            json!({"name": "a", "type": "stdio", "command": "   "}),
            "command",
        ),
        (
            json!({"name": "a", "command": "x", "includeTools": ["ok", "bad["]}),
            "includeTools[1]",
        ),
        (
            json!({"name": "a", "url": "https://x.test/", "headers": {"Authorization": "Bearer {{mcp.}}"}}),
            "headers.Authorization",
        ),
        (
            json!({"name": "a", "command": "x", "env": {"T": "{{mcp.TOKEN"}}),
            "env.T",
        ),
        (json!({"name": "orders", "command": "x"}), "name"),
        (json!({"name": "has space", "command": "x"}), "name"),
        (json!({"name": "a"}), "type"),
    ];
    for (body, field) in cases {
        let err = assert_field_error(post(&app, &admin, &project, body.clone()).await, field).await;
        assert_eq!(err["code"], "VALIDATION_ERROR", "{body}: {err}");
    }
    assert_eq!(
        list(&app, &admin, &project).await.len(),
        1,
        "nothing was written"
    );

    // An import with one bad entry writes none of the others.
    let document = json!({"mcpServers": {
        "fine": {"command": "uvx", "args": ["mcp-server-time"]},
        "broken": {"type": "http", "url": "gopher://x.test/"},
    }});
    let resp = import(&app, &admin, &project, &document).await;
    assert_field_error(resp, "mcpServers.broken.url").await;
    assert_eq!(
        list(&app, &admin, &project).await.len(),
        1,
        "nothing was imported"
    );
}

#[tokio::test]
async fn a_config_moves_in_one_paste_and_its_secrets_stay_sealed() {
    let app = TestApp::spawn().await;
    let (admin, _) = app
        .signup("mcp-paste@example.com", "mcppaste", PASSWORD)
        .await;
    let project = app.first_project(&admin).await;
    // As Claude Desktop and Cursor write it: no `type`, a command or a url.
    let document = json!({"mcpServers": {
        "time": {"command": "uvx", "args": ["mcp-server-time", "--local-timezone=UTC"]},
        "everything": {"command": "npx", "args": ["-y", "@modelcontextprotocol/server-everything"],
            "env": {"API_TOKEN": ENV_SECRET}},
        "remote": {"url": "https://tools.example.test/mcp",
            "headers": {"Authorization": format!("Bearer {HEADER_SECRET}")}},
    }});
    let resp = import(&app, &admin, &project, &document).await;
    let imported = assert_ok(resp).await;
    assert_eq!(imported.as_array().unwrap().len(), 3, "{imported}");

    // Importing again replaces by name: still three.
    let resp = import(&app, &admin, &project, &document).await;
    assert_ok(resp).await;
    assert_eq!(list(&app, &admin, &project).await.len(), 3);

    let resp = app
        .req(
            &admin,
            Method::GET,
            &format!("{}/export", servers_path(&project)),
        )
        .send()
        .await
        .unwrap();
    let exported = assert_ok(resp).await;
    let servers = &exported["mcpServers"];
    assert_eq!(servers["time"]["command"], "uvx");
    assert_eq!(servers["time"]["args"][1], "--local-timezone=UTC");
    assert_eq!(servers["everything"]["env"]["API_TOKEN"], ENV_SECRET);
    assert_eq!(servers["remote"]["type"], "http");
    assert_eq!(
        servers["remote"]["headers"]["Authorization"],
        format!("Bearer {HEADER_SECRET}")
    );

    // The export pastes into another project unchanged.
    let other = id_of(&app.create_project(&admin, "Second").await);
    let resp = import(&app, &admin, &other, &exported).await;
    assert_ok(resp).await;
    assert_eq!(list(&app, &admin, &other).await.len(), 3);

    // Neither value is anywhere in the database in clear.
    if is_postgres() {
        let rows = app.pg_rows_text().await;
        assert!(rows.contains("mcp-server-time"), "the rows were read");
        assert!(!rows.contains(HEADER_SECRET) && !rows.contains(ENV_SECRET));
    }
    for secret in [HEADER_SECRET, ENV_SECRET] {
        let found = files_containing(app.data_dir(), secret.as_bytes());
        assert!(found.is_empty(), "{secret} written to {found:?}");
    }
}

fn id_of(v: &Value) -> String {
    v["id"].as_str().unwrap().to_owned()
}

// ---------------------------------------------------------------- test connection

async fn test_connection(
    app: &TestApp,
    client: &Client,
    project: &str,
    name: &str,
    body: Value,
) -> Value {
    let resp = app
        .req(
            client,
            Method::POST,
            &format!("{}/{name}/test", servers_path(project)),
        )
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_ok(resp).await
}

#[tokio::test]
async fn test_connection_lists_a_real_servers_tools_or_says_why_not() {
    let everything = Everything::start(Transport::StreamableHttp);
    let app = TestApp::spawn_with(|c| c.mcp.allow_private_addresses = true).await;
    let (admin, _) = app
        .signup("mcp-test@example.com", "mcptest", PASSWORD)
        .await;
    let project = app.first_project(&admin).await;
    let body = json!({
        "name": "everything",
        "url": everything.url(),
        "headers": {"X-Token": "{{mcp.TOKEN}}"},
        "excludeTools": ["trigger-*", "toggle-*"],
    });
    assert_ok(post(&app, &admin, &project, body).await).await;

    // A placeholder with no value fails naming the key, before any connection.
    let result = test_connection(&app, &admin, &project, "everything", json!({})).await;
    assert_eq!(result["ok"], false, "{result}");
    assert!(
        result["error"].as_str().unwrap().contains("TOKEN"),
        "{result}"
    );

    let result = test_connection(
        &app,
        &admin,
        &project,
        "everything",
        json!({"secrets": {"TOKEN": "t-1"}}),
    )
    .await;
    assert_eq!(result["ok"], true, "{result}");
    assert!(result["serverInfo"].as_str().is_some(), "{result}");
    let tools = result["tools"].as_array().unwrap();
    let tool = |name: &str| {
        tools
            .iter()
            .find(|t| t["name"] == name)
            .unwrap_or_else(|| panic!("no {name} in {result}"))
    };
    let sum = tool("get-sum");
    assert_eq!(sum["offeredAs"], "mcp__everything__get-sum");
    assert_eq!(
        (sum["included"].as_bool(), sum["readOnly"].as_bool()),
        (Some(true), Some(true))
    );
    assert!(
        sum["description"].as_str().unwrap().contains("sum"),
        "{sum}"
    );
    assert_eq!(sum["inputSchema"]["properties"]["a"]["type"], "number");
    assert_eq!(
        tool("trigger-long-running-operation")["included"],
        false,
        "excluded by a glob"
    );

    // The status remembers it.
    let resp = app
        .req(
            &admin,
            Method::GET,
            &format!("{}/everything", servers_path(&project)),
        )
        .send()
        .await
        .unwrap();
    let server = assert_ok(resp).await;
    assert_eq!(server["status"]["state"], "ok", "{server}");
    let included = tools.iter().filter(|t| t["included"] == true).count();
    assert_eq!(server["status"]["toolCount"], included);

    // Nothing listens: the reason is the connection's.
    let dead = json!({"name": "dead", "url": "http://127.0.0.1:9/mcp", "timeout": 3000});
    assert_ok(post(&app, &admin, &project, dead).await).await;
    let result = test_connection(&app, &admin, &project, "dead", json!({})).await;
    assert_eq!(result["ok"], false);
    let reason = result["error"].as_str().unwrap();
    assert!(reason.contains("connect"), "{reason}");
    let resp = app
        .req(
            &admin,
            Method::GET,
            &format!("{}/dead", servers_path(&project)),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(assert_ok(resp).await["status"]["state"], "failed");
}

#[tokio::test]
async fn loopback_and_metadata_servers_are_refused_unless_the_operator_allows_private_addresses() {
    let everything = Everything::start(Transport::StreamableHttp);
    let app = TestApp::spawn().await;
    let (admin, _) = app
        .signup("mcp-guard@example.com", "mcpguard", PASSWORD)
        .await;
    let project = app.first_project(&admin).await;
    for (name, url) in [
        ("local", everything.url()),
        (
            "byname",
            format!("http://localhost:{}/mcp", everything.port),
        ),
        ("metadata", "http://169.254.169.254/mcp".to_owned()),
    ] {
        assert_ok(post(&app, &admin, &project, json!({"name": name, "url": url})).await).await;
        let result = test_connection(&app, &admin, &project, name, json!({})).await;
        assert_eq!(result["ok"], false, "{name}: {result}");
        assert!(
            result["error"].as_str().unwrap().contains("refused"),
            "{name}: {result}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn test_connection_starts_a_local_server_in_a_sandbox_of_its_own() {
    let app = TestApp::spawn().await;
    let (admin, _) = app
        .signup("mcp-local@example.com", "mcplocal", PASSWORD)
        .await;
    let project = app.first_project(&admin).await;
    let time =
        json!({"name": "time", "command": MCP_SERVER_TIME, "args": ["--local-timezone=UTC"]});
    assert_ok(post(&app, &admin, &project, time).await).await;
    let result = test_connection(&app, &admin, &project, "time", json!({})).await;
    assert_eq!(result["ok"], true, "{result}");
    assert!(
        result["serverInfo"].as_str().unwrap().contains("mcp-time"),
        "{result}"
    );
    let names: Vec<&str> = result["tools"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|t| t["name"].as_str())
        .collect();
    assert!(
        names.contains(&"get_current_time") && names.contains(&"convert_time"),
        "{names:?}"
    );

    // A program that is not there: the reason is the shell's own words.
    let missing = json!({"name": "missing", "command": "no-such-mcp-server", "timeout": 5000});
    assert_ok(post(&app, &admin, &project, missing).await).await;
    let result = test_connection(&app, &admin, &project, "missing", json!({})).await;
    assert_eq!(result["ok"], false, "{result}");
    assert!(
        result["error"].as_str().unwrap().contains("not found"),
        "{result}"
    );

    // The throwaway sandboxes are gone.
    let workspaces = app.data_dir().join("workspaces");
    let left: Vec<_> = std::fs::read_dir(&workspaces)
        .unwrap()
        .flatten()
        .filter(|e| e.file_name().to_string_lossy().starts_with("mcp-test-"))
        .collect();
    assert!(left.is_empty(), "{left:?}");
}
