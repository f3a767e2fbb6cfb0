//! The built-in tools through `ToolRegistry`: each tool, its limits, and every refusal (`..`,
//! absolute host paths, symlinks leading outside) through every file tool and the artifact
//! download; `web_fetch` against local servers (refused by default, allowed with
//! `allow_private_addresses`); `web_search` against a local SearXNG and Brave stand-in.
//! `run_shell_command` runs in the real bubblewrap sandbox.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::os::unix::fs::symlink;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use axum::Router;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{Html, IntoResponse, Redirect};
use axum::routing::get;
use serde_json::{Value, json};
use sigmic::config::WebConfig;
use sigmic::egress::{NetworkPolicy, OwnAddresses};
use sigmic::sandbox::{Command, CommandOutput, Redactor, Sandbox, SandboxError};
use sigmic::tools::{ToolContext, ToolRegistry, ToolResult};
use sigmic::web::{Fetcher, SearchBackend, Searcher, Web};
use sigmic::workspace::{Category, Workspace};

/// The file and web tools never run commands; this stands in where a context needs a sandbox.
struct NoCommands(PathBuf);

#[async_trait]
impl Sandbox for NoCommands {
    async fn run(&self, _command: Command) -> Result<CommandOutput, SandboxError> {
        Err(SandboxError::Unavailable("not in this test".into()))
    }
    async fn attach(
        &self,
        _program: sigmic::sandbox::Program,
    ) -> Result<sigmic::sandbox::Attached, SandboxError> {
        Err(SandboxError::Unavailable("not in this test".into()))
    }
    fn workspace(&self) -> PathBuf {
        self.0.clone()
    }
    async fn kill_all(&self) -> Result<(), SandboxError> {
        Ok(())
    }
}

struct Env {
    _tmp: tempfile::TempDir,
    ws: PathBuf,
    /// A directory beside the workspace standing for "the host": nothing may reach it.
    outside: PathBuf,
    tools: ToolRegistry,
}

fn web(config: &WebConfig) -> Arc<Web> {
    Arc::new(Web::new(config, OwnAddresses::default()).unwrap())
}

fn env_with(web: Arc<Web>, secrets: &[(&str, &str)]) -> Env {
    let tmp = tempfile::tempdir().unwrap();
    let ws = tmp.path().join("ws");
    let outside = tmp.path().join("outside");
    std::fs::create_dir_all(&ws).unwrap();
    std::fs::create_dir_all(&outside).unwrap();
    std::fs::write(outside.join("secret.txt"), "HOST-SECRET\n").unwrap();
    let secrets: BTreeMap<String, String> = secrets
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect();
    let ctx = ToolContext {
        sandbox: Arc::new(NoCommands(ws.clone())),
        workspace: Workspace::open(&ws).unwrap(),
        redactor: Redactor::new(&secrets),
        web,
        network: NetworkPolicy::Internet,
        mcp: None,
    };
    Env {
        _tmp: tmp,
        ws,
        outside,
        tools: ToolRegistry::new(ctx),
    }
}

fn env() -> Env {
    env_with(web(&WebConfig::default()), &[])
}

impl Env {
    async fn call(&self, name: &str, args: Value) -> ToolResult {
        self.tools.execute(name, args).await
    }

    async fn ok(&self, name: &str, args: Value) -> ToolResult {
        let r = self.call(name, args.clone()).await;
        assert!(r.ok, "{name} {args} failed: {}", r.output);
        r
    }

    async fn refused(&self, name: &str, args: Value, needle: &str) -> ToolResult {
        let r = self.call(name, args.clone()).await;
        assert!(!r.ok, "{name} {args} should be refused, got: {}", r.output);
        assert!(
            r.output.contains(needle),
            "{name} {args}: expected `{needle}` in: {}",
            r.output
        );
        assert!(!r.output.contains("HOST-SECRET"));
        r
    }

    fn write(&self, rel: &str, content: &str) {
        let p = self.ws.join(rel);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, content).unwrap();
    }

    fn read(&self, rel: &str) -> String {
        std::fs::read_to_string(self.ws.join(rel)).unwrap()
    }

    /// `leak` → the outside secret file, `out` → the outside directory, `abs` → an absolute
    /// path outside, `dots` → `../outside` (relative, climbing out).
    fn plant_escape_links(&self) {
        symlink(self.outside.join("secret.txt"), self.ws.join("leak")).unwrap();
        symlink(&self.outside, self.ws.join("out")).unwrap();
        symlink("../outside/secret.txt", self.ws.join("dots")).unwrap();
        std::fs::create_dir_all(self.ws.join("sub")).unwrap();
        symlink("../../outside", self.ws.join("sub/up")).unwrap();
    }

    fn outside_untouched(&self) {
        assert_eq!(
            std::fs::read_to_string(self.outside.join("secret.txt")).unwrap(),
            "HOST-SECRET\n"
        );
        let names: Vec<_> = std::fs::read_dir(&self.outside)
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(names, vec!["secret.txt"], "something was created outside");
    }
}

// ---------------------------------------------------------------------------------------------
// Definitions and argument validation
// ---------------------------------------------------------------------------------------------

fn names(tools: &ToolRegistry) -> Vec<String> {
    tools.definitions().into_iter().map(|d| d.name).collect()
}

#[tokio::test]
async fn definitions_name_every_tool_and_web_search_only_with_a_backend() {
    let e = env();
    assert_eq!(
        names(&e.tools),
        [
            "run_shell_command",
            "read_file",
            "write_file",
            "replace",
            "list_directory",
            "glob",
            "search_file_content",
            "web_fetch"
        ]
    );
    let r = e
        .refused("web_search", json!({"query": "x"}), "not available")
        .await;
    assert!(r.output.contains("search backend"));

    for config in [
        WebConfig {
            searxng_url: Some("http://127.0.0.1:1/".into()),
            ..WebConfig::default()
        },
        WebConfig {
            brave_api_key: Some("key".into()),
            ..WebConfig::default()
        },
    ] {
        let e = env_with(web(&config), &[]);
        assert!(names(&e.tools).contains(&"web_search".to_owned()));
    }
}

/// A value of the schema's type, for feeding every declared property to the parser.
fn sample(schema: &Value) -> Value {
    match schema["type"].as_str() {
        Some("integer") => json!(1),
        Some("boolean") => json!(true),
        _ => json!("x"),
    }
}

#[tokio::test]
async fn every_schema_matches_its_argument_parser() {
    let e = env_with(
        web(&WebConfig {
            searxng_url: Some("http://127.0.0.1:1/".into()),
            ..WebConfig::default()
        }),
        &[],
    );
    for def in e.tools.definitions() {
        let params = &def.parameters;
        assert_eq!(params["type"], "object");
        assert_eq!(params["additionalProperties"], false);
        let props = params["properties"].as_object().unwrap();
        let required: Vec<&str> = params["required"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_str().unwrap())
            .collect();
        assert!(!def.description.is_empty());
        let full: serde_json::Map<String, Value> =
            props.iter().map(|(k, s)| (k.clone(), sample(s))).collect();
        e.tools
            .validate(&def.name, &Value::Object(full.clone()))
            .unwrap_or_else(|m| panic!("{}: every declared property must parse: {m}", def.name));
        let minimal: serde_json::Map<String, Value> = full
            .iter()
            .filter(|(k, _)| required.contains(&k.as_str()))
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        e.tools
            .validate(&def.name, &Value::Object(minimal.clone()))
            .unwrap_or_else(|m| panic!("{}: required properties suffice: {m}", def.name));
        for field in &required {
            let mut without = minimal.clone();
            without.remove(*field);
            let m = e
                .tools
                .validate(&def.name, &Value::Object(without))
                .unwrap_err();
            assert!(m.contains(&format!("missing field `{field}`")), "{m}");
        }
        let mut extra = minimal.clone();
        extra.insert("bogus".into(), json!(1));
        let m = e
            .tools
            .validate(&def.name, &Value::Object(extra))
            .unwrap_err();
        assert!(m.contains("unknown field `bogus`"), "{m}");
        assert!(
            m.contains(&format!("{}(", def.name)),
            "names the signature: {m}"
        );
    }
}

#[tokio::test]
async fn bad_calls_get_errors_a_model_can_act_on() {
    let e = env();
    let r = e
        .refused(
            "delete_everything",
            json!({}),
            "Unknown tool `delete_everything`",
        )
        .await;
    assert!(
        r.output.contains("read_file"),
        "lists the tools: {}",
        r.output
    );
    e.refused("read_file", json!({}), "missing field `path`")
        .await;
    e.refused("read_file", json!({"path": 3}), "invalid type")
        .await;
    e.refused(
        "read_file",
        json!({"path": "a", "offset": "ten"}),
        "invalid type",
    )
    .await;
    e.refused(
        "read_file",
        json!({"file_path": "a"}),
        "unknown field `file_path`",
    )
    .await;
    e.refused("read_file", json!([1, 2]), "must be a JSON object")
        .await;
    e.refused("read_file", json!({"path": ""}), "must not be empty")
        .await;
    e.refused(
        "run_shell_command",
        json!({"command": "  "}),
        "must not be empty",
    )
    .await;
    e.refused(
        "replace",
        json!({"path": "a", "old_string": "x", "new_string": "y", "expected_replacements": -1}),
        "invalid value",
    )
    .await;
    // Arguments sent as a JSON string are accepted.
    e.write("a.txt", "hello\n");
    let r = e.ok("read_file", json!("{\"path\": \"a.txt\"}")).await;
    assert!(r.output.contains("hello"));
}

// ---------------------------------------------------------------------------------------------
// File tools
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn read_file_returns_text_slices_and_notes_binary_files() {
    let e = env();
    let text: String = (1..=10).map(|i| format!("line {i}\n")).collect();
    e.write("dir/ten.txt", &text);
    for path in ["dir/ten.txt", "./dir/ten.txt", "/workspace/dir/ten.txt"] {
        let r = e.ok("read_file", json!({"path": path})).await;
        assert_eq!(r.output, text, "{path}");
    }
    let r = e
        .ok(
            "read_file",
            json!({"path": "dir/ten.txt", "offset": 2, "limit": 3}),
        )
        .await;
    assert!(r.output.contains("Showing lines 3-5 of 10"), "{}", r.output);
    assert!(r.output.contains("offset=5"));
    assert!(r.output.ends_with("line 3\nline 4\nline 5\n"));
    assert_eq!(r.data.as_ref().unwrap()["totalLines"], 10);
    assert_eq!(r.data.as_ref().unwrap()["more"], true);

    let r = e
        .ok("read_file", json!({"path": "dir/ten.txt", "offset": 50}))
        .await;
    assert!(r.output.contains("past the end"));

    let long = "y".repeat(5000);
    e.write("long.txt", &long);
    let r = e.ok("read_file", json!({"path": "long.txt"})).await;
    assert!(r.output.contains("[line cut]"));
    assert!(r.output.len() < 3000);

    std::fs::write(e.ws.join("pic.png"), [0x89, b'P', b'N', b'G', 0, 0, 1, 2]).unwrap();
    let r = e.ok("read_file", json!({"path": "pic.png"})).await;
    assert!(
        r.output.contains("binary file (image/png, 8 bytes)"),
        "{}",
        r.output
    );
    assert_eq!(r.data.as_ref().unwrap()["kind"], "binary");

    e.refused(
        "read_file",
        json!({"path": "missing.txt"}),
        "does not exist",
    )
    .await;
    e.refused("read_file", json!({"path": "dir"}), "is a directory")
        .await;
}

#[tokio::test]
async fn read_file_refuses_a_fifo_without_hanging() {
    let e = env();
    nix::unistd::mkfifo(&e.ws.join("pipe"), nix::sys::stat::Mode::S_IRWXU).unwrap();
    let r = tokio::time::timeout(
        Duration::from_secs(5),
        e.call("read_file", json!({"path": "pipe"})),
    )
    .await
    .expect("a FIFO must not hang the tool");
    assert!(!r.ok);
    assert!(r.output.contains("not a regular file"), "{}", r.output);
    let r = tokio::time::timeout(
        Duration::from_secs(5),
        e.call("write_file", json!({"path": "pipe", "content": "x"})),
    )
    .await
    .expect("a FIFO must not hang the tool");
    assert!(!r.ok, "{}", r.output);
}

#[tokio::test]
async fn write_file_creates_parents_and_overwrites() {
    let e = env();
    let r = e
        .ok("write_file", json!({"path": "a/b/c.txt", "content": "one"}))
        .await;
    assert!(r.output.starts_with("Created `a/b/c.txt`"), "{}", r.output);
    assert_eq!(e.read("a/b/c.txt"), "one");
    let r = e
        .ok(
            "write_file",
            json!({"path": "/workspace/a/b/c.txt", "content": "two, longer"}),
        )
        .await;
    assert!(r.output.starts_with("Overwrote"));
    assert_eq!(e.read("a/b/c.txt"), "two, longer");
    e.ok("write_file", json!({"path": "a/b/c.txt", "content": "3"}))
        .await;
    assert_eq!(e.read("a/b/c.txt"), "3", "shorter content truncates");
    e.refused(
        "write_file",
        json!({"path": "a/b", "content": "x"}),
        "directory",
    )
    .await;
    e.refused(
        "write_file",
        json!({"path": "/workspace", "content": "x"}),
        "directory",
    )
    .await;
}

#[tokio::test]
async fn replace_needs_the_expected_number_of_occurrences() {
    let e = env();
    e.write("f.py", "a = 1\nb = 1\na = 1\n");
    let r = e
        .refused(
            "replace",
            json!({"path": "f.py", "old_string": "a = 1", "new_string": "a = 2"}),
            "expected 1 occurrence(s)",
        )
        .await;
    assert!(r.output.contains("found 2"));
    assert_eq!(
        e.read("f.py"),
        "a = 1\nb = 1\na = 1\n",
        "unchanged on refusal"
    );
    e.ok(
        "replace",
        json!({"path": "f.py", "old_string": "a = 1", "new_string": "a = 2", "expected_replacements": 2}),
    )
    .await;
    assert_eq!(e.read("f.py"), "a = 2\nb = 1\na = 2\n");
    let r = e
        .ok(
            "replace",
            json!({"path": "f.py", "old_string": "b = 1", "new_string": "b = 3"}),
        )
        .await;
    assert_eq!(r.output, "Replaced 1 occurrence in `f.py`.");
    assert_eq!(e.read("f.py"), "a = 2\nb = 3\na = 2\n");
    e.refused(
        "replace",
        json!({"path": "f.py", "old_string": "zzz", "new_string": "y"}),
        "was not found",
    )
    .await;
    e.refused(
        "replace",
        json!({"path": "f.py", "old_string": "", "new_string": "y"}),
        "use write_file",
    )
    .await;
    e.refused(
        "replace",
        json!({"path": "f.py", "old_string": "b", "new_string": "b"}),
        "the same",
    )
    .await;
    e.refused(
        "replace",
        json!({"path": "nope.py", "old_string": "b", "new_string": "c"}),
        "does not exist",
    )
    .await;
}

#[tokio::test]
async fn list_directory_glob_and_search() {
    let e = env();
    e.write("src/main.rs", "fn main() {\n    println!(\"hi\");\n}\n");
    e.write("src/lib/util.rs", "pub fn helper() {}\n// TODO: more\n");
    e.write("README.md", "# Title\nTODO: docs\n");
    e.write("docs/guide.md", "guide\n");
    e.write(".git/config", "TODO in git internals\n");

    let r = e.ok("list_directory", json!({"path": "."})).await;
    let dirs = r.output.find("[DIR] src/").unwrap();
    let file = r.output.find("README.md (19 bytes)").unwrap();
    assert!(dirs < file, "directories first: {}", r.output);
    let r = e
        .ok("list_directory", json!({"path": "/workspace/src"}))
        .await;
    assert!(r.output.contains("[DIR] lib/") && r.output.contains("main.rs"));
    std::fs::create_dir(e.ws.join("empty")).unwrap();
    let r = e.ok("list_directory", json!({"path": "empty"})).await;
    assert!(r.output.contains("is empty"));
    e.refused(
        "list_directory",
        json!({"path": "README.md"}),
        "not a directory",
    )
    .await;

    let r = e.ok("glob", json!({"pattern": "**/*.rs"})).await;
    assert_eq!(
        r.data.as_ref().unwrap()["paths"],
        json!(["src/lib/util.rs", "src/main.rs"])
    );
    let r = e.ok("glob", json!({"pattern": "*.md"})).await;
    assert_eq!(
        r.data.as_ref().unwrap()["paths"],
        json!(["README.md", "docs/guide.md"])
    );
    let r = e
        .ok("glob", json!({"pattern": "*.rs", "path": "src/lib"}))
        .await;
    assert_eq!(
        r.data.as_ref().unwrap()["paths"],
        json!(["src/lib/util.rs"])
    );
    let r = e.ok("glob", json!({"pattern": "src/*.rs"})).await;
    assert_eq!(r.data.as_ref().unwrap()["paths"], json!(["src/main.rs"]));
    let r = e.ok("glob", json!({"pattern": "*.zig"})).await;
    assert!(r.output.contains("No files match"));
    e.refused("glob", json!({"pattern": "a[b"}), "invalid glob")
        .await;

    let r = e
        .ok("search_file_content", json!({"pattern": "TODO"}))
        .await;
    assert!(r.output.contains("README.md:2: TODO: docs"), "{}", r.output);
    assert!(r.output.contains("src/lib/util.rs:2: // TODO: more"));
    assert!(!r.output.contains("git internals"), ".git is not searched");
    let r = e
        .ok(
            "search_file_content",
            json!({"pattern": "TODO", "include": "*.rs"}),
        )
        .await;
    assert_eq!(
        r.data.as_ref().unwrap()["matches"]
            .as_array()
            .unwrap()
            .len(),
        1
    );
    let r = e
        .ok(
            "search_file_content",
            json!({"pattern": "fn\\s+\\w+\\(", "path": "src"}),
        )
        .await;
    assert_eq!(
        r.data.as_ref().unwrap()["matches"]
            .as_array()
            .unwrap()
            .len(),
        2
    );
    let r = e
        .ok("search_file_content", json!({"pattern": "nothing-here"}))
        .await;
    assert!(r.output.contains("No lines match"));
    e.refused(
        "search_file_content",
        json!({"pattern": "(unclosed"}),
        "invalid regular expression",
    )
    .await;
}

#[tokio::test]
async fn search_results_are_bounded() {
    let e = env();
    let many: String = (0..500).map(|i| format!("hit {i}\n")).collect();
    e.write("many.txt", &many);
    let r = e.ok("search_file_content", json!({"pattern": "hit"})).await;
    assert_eq!(
        r.data.as_ref().unwrap()["matches"]
            .as_array()
            .unwrap()
            .len(),
        200
    );
    assert_eq!(r.data.as_ref().unwrap()["truncated"], true);
    assert!(r.output.contains("stopped at a limit"));
}

// ---------------------------------------------------------------------------------------------
// Escapes through every file tool and the artifact download
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn dot_dot_and_absolute_paths_are_refused_by_every_file_tool() {
    let e = env();
    e.write("inside.txt", "x\n");
    let host_file = e.outside.join("secret.txt").to_str().unwrap().to_owned();
    let cases = [
        ("../outside/secret.txt", "contains `..`"),
        ("a/../../outside/secret.txt", "contains `..`"),
        ("/workspace/../outside/secret.txt", "contains `..`"),
        ("/etc/passwd", "is outside /workspace"),
        ("/etc/shadow", "is outside /workspace"),
        (host_file.as_str(), "is outside /workspace"),
    ];
    for (path, needle) in cases {
        e.refused("read_file", json!({"path": path}), needle).await;
        e.refused(
            "write_file",
            json!({"path": path, "content": "pwned"}),
            needle,
        )
        .await;
        e.refused(
            "replace",
            json!({"path": path, "old_string": "HOST", "new_string": "PWNED"}),
            needle,
        )
        .await;
        e.refused("list_directory", json!({"path": path}), needle)
            .await;
        e.refused("glob", json!({"pattern": "*", "path": path}), needle)
            .await;
        e.refused(
            "search_file_content",
            json!({"pattern": "HOST", "path": path}),
            needle,
        )
        .await;
        e.refused(
            "run_shell_command",
            json!({"command": "true", "directory": path}),
            needle,
        )
        .await;
        let ws = Workspace::open(&e.ws).unwrap();
        let err = ws.open_artifact(path).unwrap_err();
        assert!(err.to_string().contains(needle), "{err}");
        assert_eq!(
            err.to_api_error().code,
            sigmic::error::ErrorCode::ValidationError
        );
    }
    e.outside_untouched();
}

#[tokio::test]
async fn symlinks_leading_outside_are_refused_by_every_file_tool() {
    let e = env();
    e.plant_escape_links();
    let through = [
        "leak",
        "dots",
        "out/secret.txt",
        "sub/up/secret.txt",
        "/workspace/leak",
    ];
    for path in through {
        e.refused(
            "read_file",
            json!({"path": path}),
            "leads outside /workspace",
        )
        .await;
        e.refused(
            "write_file",
            json!({"path": path, "content": "pwned"}),
            "leads outside",
        )
        .await;
        e.refused(
            "replace",
            json!({"path": path, "old_string": "HOST", "new_string": "PWNED"}),
            "leads outside",
        )
        .await;
        let ws = Workspace::open(&e.ws).unwrap();
        let err = ws.open_artifact(path).unwrap_err();
        assert!(err.to_string().contains("leads outside"), "{path}: {err}");
    }
    // Creating a file through a directory link, or a new file under it.
    e.refused(
        "write_file",
        json!({"path": "out/new.txt", "content": "x"}),
        "leads outside",
    )
    .await;
    e.refused(
        "write_file",
        json!({"path": "out/deep/new.txt", "content": "x"}),
        "leads outside",
    )
    .await;
    for dir in ["out", "sub/up", "/workspace/out"] {
        e.refused("list_directory", json!({"path": dir}), "leads outside")
            .await;
        e.refused(
            "glob",
            json!({"pattern": "*", "path": dir}),
            "leads outside",
        )
        .await;
        e.refused(
            "search_file_content",
            json!({"pattern": "HOST", "path": dir}),
            "leads outside",
        )
        .await;
        e.refused(
            "run_shell_command",
            json!({"command": "true", "directory": dir}),
            "leads outside",
        )
        .await;
    }
    // Walking the workspace does not follow the links either.
    let r = e
        .ok("search_file_content", json!({"pattern": "HOST"}))
        .await;
    assert!(r.output.contains("No lines match"), "{}", r.output);
    let r = e.ok("glob", json!({"pattern": "**/secret.txt"})).await;
    assert!(r.output.contains("No files match"), "{}", r.output);
    let r = e.ok("list_directory", json!({"path": "."})).await;
    assert!(r.output.contains("[LINK] leak"));
    let ws = Workspace::open(&e.ws).unwrap();
    assert!(
        ws.artifacts()
            .unwrap()
            .iter()
            .all(|a| !a.path.contains("secret"))
    );
    e.outside_untouched();
}

#[tokio::test]
async fn symlinks_inside_the_workspace_still_work() {
    let e = env();
    e.write("real/data.txt", "inside\n");
    symlink("real/data.txt", e.ws.join("alias.txt")).unwrap();
    symlink("real", e.ws.join("alias-dir")).unwrap();
    let r = e.ok("read_file", json!({"path": "alias.txt"})).await;
    assert_eq!(r.output, "inside\n");
    e.ok(
        "write_file",
        json!({"path": "alias-dir/new.txt", "content": "n"}),
    )
    .await;
    assert_eq!(e.read("real/new.txt"), "n");
}

// ---------------------------------------------------------------------------------------------
// Redaction
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn secrets_are_redacted_from_every_output() {
    let e = env_with(web(&WebConfig::default()), &[("API_TOKEN", "tok-12345")]);
    e.write("config.env", "TOKEN=tok-12345\n");
    e.write("tok-12345.txt", "named after the secret\n");
    let r = e.ok("read_file", json!({"path": "config.env"})).await;
    assert_eq!(r.output, "TOKEN=[REDACTED:API_TOKEN]\n");
    assert!(!r.data.as_ref().unwrap().to_string().contains("tok-12345"));
    for (tool, args) in [
        ("search_file_content", json!({"pattern": "TOKEN"})),
        ("glob", json!({"pattern": "*.txt"})),
        ("list_directory", json!({"path": "."})),
    ] {
        let r = e.ok(tool, args).await;
        assert!(
            r.output.contains("[REDACTED:API_TOKEN]"),
            "{tool}: {}",
            r.output
        );
        let all = format!("{} {}", r.output, r.data.unwrap());
        assert!(!all.contains("tok-12345"), "{tool}: {all}");
    }
    // Error messages too (they echo arguments).
    let r = e.call("read_file", json!({"path": "/etc/tok-12345"})).await;
    assert!(!r.output.contains("tok-12345"), "{}", r.output);
}

// ---------------------------------------------------------------------------------------------
// Artifacts
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn artifacts_are_listed_and_downloaded_by_workspace_path() {
    let e = env();
    e.write("report.pdf", "%PDF-1.4");
    e.write("out/chart.png", "png");
    e.write("src/app.py", "print()");
    e.write("data/table.csv", "a,b");
    e.write("bundle.tar.gz", "gz");
    e.write("notes", "plain");
    e.write("node_modules/x/index.js", "skipped");
    let ws = Workspace::open(&e.ws).unwrap();
    let list = ws.artifacts().unwrap();
    let got: Vec<(&str, &str, Category, &str)> = list
        .iter()
        .map(|a| {
            (
                a.path.as_str(),
                a.name.as_str(),
                a.category,
                a.mime_type.as_str(),
            )
        })
        .collect();
    assert_eq!(
        got,
        [
            (
                "bundle.tar.gz",
                "bundle.tar.gz",
                Category::Archive,
                "application/gzip"
            ),
            ("data/table.csv", "table.csv", Category::Data, "text/csv"),
            (
                "notes",
                "notes",
                Category::Other,
                "application/octet-stream"
            ),
            ("out/chart.png", "chart.png", Category::Image, "image/png"),
            (
                "report.pdf",
                "report.pdf",
                Category::Document,
                "application/pdf"
            ),
            ("src/app.py", "app.py", Category::Code, "text/plain"),
        ]
    );
    let json = serde_json::to_value(&list[4]).unwrap();
    assert_eq!(json["size"], 8);
    assert_eq!(json["mimeType"], "application/pdf");
    assert_eq!(json["category"], "document");
    assert!(json["modifiedAt"].as_str().unwrap().contains('T'));

    for path in ["report.pdf", "/workspace/report.pdf", "./report.pdf"] {
        let d = ws.open_artifact(path).unwrap();
        assert_eq!(
            (d.name.as_str(), d.size, d.mime_type.as_str()),
            ("report.pdf", 8, "application/pdf")
        );
        let mut body = String::new();
        std::io::Read::read_to_string(&mut &d.file, &mut body).unwrap();
        assert_eq!(body, "%PDF-1.4");
    }
    for (path, code) in [
        ("out", sigmic::error::ErrorCode::ValidationError),
        ("", sigmic::error::ErrorCode::ValidationError),
        ("missing.txt", sigmic::error::ErrorCode::NotFound),
    ] {
        assert_eq!(
            ws.open_artifact(path).unwrap_err().to_api_error().code,
            code,
            "{path}"
        );
    }
}

// ---------------------------------------------------------------------------------------------
// web_fetch and web_search against local servers
// ---------------------------------------------------------------------------------------------

async fn serve(router: Router) -> SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, router).await.unwrap() });
    addr
}

fn site(other: Option<SocketAddr>) -> Router {
    Router::new()
        .route(
            "/page",
            get(|| async {
                Html("<html><head><title>T</title><script>var hidden = 1;</script></head><body><h1>Hello page</h1><p>Some <b>bold</b> text.</p><ul><li>one</li></ul></body></html>")
            }),
        )
        .route("/plain", get(|| async { "just text" }))
        .route("/json", get(|| async { ([(header::CONTENT_TYPE, "application/json")], "{\"a\":1}") }))
        .route("/binary", get(|| async { ([(header::CONTENT_TYPE, "image/png")], vec![0u8, 1, 2, 3]) }))
        .route("/big", get(|| async { "z".repeat(10_000) }))
        .route("/missing", get(|| async { (StatusCode::NOT_FOUND, "gone") }))
        .route("/redirect", get(|| async { Redirect::temporary("/page") }))
        .route("/loop", get(|| async { Redirect::temporary("/loop") }))
        .route(
            "/slow",
            get(|| async {
                tokio::time::sleep(Duration::from_secs(5)).await;
                "late"
            }),
        )
        .route(
            "/elsewhere",
            get(move || async move {
                let to = other.map(|a| format!("http://{a}/page")).unwrap_or_default();
                Redirect::temporary(&to)
            }),
        )
}

fn private_ok() -> WebConfig {
    WebConfig {
        allow_private_addresses: true,
        fetch_timeout_secs: 2,
        ..WebConfig::default()
    }
}

#[tokio::test]
async fn web_fetch_refuses_loopback_by_default() {
    let addr = serve(site(None)).await;
    let e = env();
    let port = addr.port();
    for url in [
        format!("http://127.0.0.1:{port}/page"),
        format!("http://localhost:{port}/page"),
        format!("http://127.1.2.3:{port}/page"),
        format!("http://[::1]:{port}/page"),
        format!("http://[::ffff:127.0.0.1]:{port}/page"),
        format!("http://0.0.0.0:{port}/page"),
        format!("http://2130706433:{port}/page"),
    ] {
        let r = e
            .refused(
                "web_fetch",
                json!({"url": url}),
                "web_fetch does not reach private",
            )
            .await;
        assert!(
            r.output.contains("loopback") || r.output.contains("unspecified"),
            "{}",
            r.output
        );
    }
    e.refused(
        "web_fetch",
        json!({"url": "file:///etc/passwd"}),
        "not an http or https URL",
    )
    .await;
    e.refused(
        "web_fetch",
        json!({"url": "gopher://x/"}),
        "not an http or https URL",
    )
    .await;
    e.refused("web_fetch", json!({"url": "not a url"}), "not a valid URL")
        .await;
}

#[tokio::test]
async fn web_fetch_reads_local_pages_when_private_addresses_are_allowed() {
    let addr = serve(site(None)).await;
    let e = env_with(web(&private_ok()), &[]);
    let r = e
        .ok(
            "web_fetch",
            json!({"url": format!("http://{addr}/page"), "prompt": "find the heading"}),
        )
        .await;
    assert!(r.output.contains("Hello page"), "{}", r.output);
    assert!(r.output.contains("Some **bold** text"), "{}", r.output);
    assert!(!r.output.contains("<h1>"));
    assert!(
        !r.output.contains("var hidden"),
        "scripts are not text: {}",
        r.output
    );
    assert!(r.output.contains("find the heading"));
    assert_eq!(r.data.as_ref().unwrap()["status"], 200);

    let r = e
        .ok("web_fetch", json!({"url": format!("http://{addr}/plain")}))
        .await;
    assert!(r.output.ends_with("just text"));
    let r = e
        .ok("web_fetch", json!({"url": format!("http://{addr}/json")}))
        .await;
    assert!(r.output.contains("{\"a\":1}"));
    let r = e
        .ok("web_fetch", json!({"url": format!("http://{addr}/binary")}))
        .await;
    assert!(
        r.output.contains("binary (image/png, 4 bytes)"),
        "{}",
        r.output
    );

    let r = e
        .ok(
            "web_fetch",
            json!({"url": format!("http://{addr}/redirect")}),
        )
        .await;
    assert!(r.output.contains("Hello page"));
    assert_eq!(
        r.data.as_ref().unwrap()["url"],
        format!("http://{addr}/page")
    );

    e.refused(
        "web_fetch",
        json!({"url": format!("http://{addr}/loop")}),
        "redirected more than 5 times",
    )
    .await;
    e.refused(
        "web_fetch",
        json!({"url": format!("http://{addr}/missing")}),
        "HTTP 404",
    )
    .await;
    e.refused(
        "web_fetch",
        json!({"url": format!("http://{addr}/slow")}),
        "did not answer within 2 seconds",
    )
    .await;
}

#[tokio::test]
async fn web_fetch_caps_the_body() {
    let addr = serve(site(None)).await;
    let e = env_with(
        web(&WebConfig {
            fetch_max_bytes: 1000,
            ..private_ok()
        }),
        &[],
    );
    let r = e
        .ok("web_fetch", json!({"url": format!("http://{addr}/big")}))
        .await;
    assert_eq!(r.data.as_ref().unwrap()["bytes"], 1000);
    assert_eq!(r.data.as_ref().unwrap()["truncated"], true);
    assert!(r.output.contains("cut at the size limit"));
}

#[tokio::test]
async fn every_redirect_hop_is_checked_and_the_server_itself_is_refused() {
    let own = serve(site(None)).await;
    let first = serve(site(Some(own))).await;
    let fetcher_web = Web {
        fetcher: Fetcher::new(
            &private_ok(),
            OwnAddresses {
                listen: vec![own],
                hosts: vec!["sigmic.internal".into()],
            },
        ),
        searcher: None,
    };
    let e = env_with(Arc::new(fetcher_web), &[]);
    // The first hop is allowed; the redirect leads to the server itself and is refused.
    e.refused(
        "web_fetch",
        json!({"url": format!("http://{first}/elsewhere")}),
        "this Sigmic server",
    )
    .await;
    e.refused(
        "web_fetch",
        json!({"url": format!("http://{own}/page")}),
        "this Sigmic server",
    )
    .await;
    e.refused(
        "web_fetch",
        json!({"url": "http://sigmic.internal/"}),
        "this Sigmic server",
    )
    .await;
    e.ok("web_fetch", json!({"url": format!("http://{first}/page")}))
        .await;
}

#[tokio::test]
async fn web_search_queries_searxng() {
    let app = Router::new().route(
        "/searx/search",
        get(|q: axum::extract::Query<BTreeMap<String, String>>| async move {
            assert_eq!(q.get("format").map(String::as_str), Some("json"));
            axum::Json(json!({"results": [
                {"title": "Rust", "url": "https://www.rust-lang.org/", "content": format!("about {}", q["q"])},
                {"title": "Docs", "url": "https://doc.rust-lang.org/"}
            ]}))
        }),
    );
    let addr = serve(app).await;
    let e = env_with(
        web(&WebConfig {
            searxng_url: Some(format!("http://{addr}/searx")),
            ..WebConfig::default()
        }),
        &[],
    );
    let r = e.ok("web_search", json!({"query": "rust lang"})).await;
    assert!(
        r.output
            .contains("1. Rust\n   https://www.rust-lang.org/\n   about rust lang"),
        "{}",
        r.output
    );
    assert!(r.output.contains("2. Docs"));
    assert_eq!(
        r.data.as_ref().unwrap()["results"]
            .as_array()
            .unwrap()
            .len(),
        2
    );
}

#[tokio::test]
async fn web_search_queries_brave_with_the_key() {
    let app = Router::new().route(
        "/res/v1/web/search",
        get(|headers: HeaderMap| async move {
            if headers
                .get("x-subscription-token")
                .and_then(|v| v.to_str().ok())
                != Some("brave-key")
            {
                return (StatusCode::UNAUTHORIZED, "no").into_response();
            }
            axum::Json(json!({"web": {"results": [
                {"title": "Found", "url": "https://example.org/", "description": "a result"}
            ]}}))
            .into_response()
        }),
    );
    let addr = serve(app).await;
    let backend = |key: &str| SearchBackend::Brave {
        api_key: key.into(),
        endpoint: format!("http://{addr}/res/v1/web/search").parse().unwrap(),
    };
    let with_key = |key: &str| {
        Arc::new(Web {
            fetcher: Fetcher::new(&WebConfig::default(), OwnAddresses::default()),
            searcher: Some(Searcher::new(backend(key), Duration::from_secs(5)).unwrap()),
        })
    };
    let e = env_with(with_key("brave-key"), &[]);
    let r = e.ok("web_search", json!({"query": "q"})).await;
    assert!(
        r.output
            .contains("1. Found\n   https://example.org/\n   a result"),
        "{}",
        r.output
    );
    let e = env_with(with_key("wrong"), &[]);
    e.refused("web_search", json!({"query": "q"}), "HTTP 401")
        .await;
}

// ---------------------------------------------------------------------------------------------
// run_shell_command in the real sandbox
// ---------------------------------------------------------------------------------------------

mod shell {
    use super::*;
    use sigmic::config::SandboxConfig;
    use sigmic::sandbox::bwrap::TaskEnv;
    use sigmic::sandbox::manager::{SandboxManager, SandboxSpec};

    struct Shell {
        _data: tempfile::TempDir,
        manager: Arc<SandboxManager>,
        id: String,
        tools: ToolRegistry,
        ws: PathBuf,
    }

    impl Shell {
        async fn done(self) {
            self.manager.delete(&self.id).await.unwrap();
        }
    }

    async fn shell(id: &str, secrets: &[(&str, &str)], timeout_secs: u64) -> Shell {
        let data = tempfile::tempdir().unwrap();
        let config = SandboxConfig {
            warm_pool: 0,
            command_timeout_secs: timeout_secs,
            supervisor: Some(env!("CARGO_BIN_EXE_sigmic").into()),
            ..SandboxConfig::default()
        };
        let manager = SandboxManager::new(config, data.path()).await.unwrap();
        assert_eq!(manager.unavailable(), None, "bubblewrap must work here");
        let secrets: BTreeMap<String, String> = secrets
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        let spec = SandboxSpec {
            task_id: id.into(),
            network: NetworkPolicy::Off,
            env: TaskEnv {
                env: [("GREETING".to_owned(), "hello".to_owned())].into(),
                secrets: secrets.clone(),
            },
        };
        let sandbox = manager.acquire(&spec).await.unwrap();
        let ws = sandbox.workspace();
        let ctx = ToolContext {
            workspace: Workspace::open(&ws).unwrap(),
            sandbox,
            redactor: Redactor::new(&secrets),
            web: web(&WebConfig::default()),
            network: NetworkPolicy::Off,
            mcp: None,
        };
        Shell {
            _data: data,
            manager,
            id: id.to_owned(),
            tools: ToolRegistry::new(ctx),
            ws,
        }
    }

    #[tokio::test]
    async fn runs_commands_in_workspace_and_reports_exit_codes() {
        let s = shell("tools-run", &[("TOKEN", "s3cret-value")], 30).await;
        std::fs::create_dir_all(s.ws.join("sub/dir")).unwrap();
        let r = s
            .tools
            .execute(
                "run_shell_command",
                json!({"command": "echo $GREETING; pwd; echo oops >&2", "description": "say hi"}),
            )
            .await;
        assert!(r.ok, "{}", r.output);
        let data = r.data.as_ref().unwrap();
        assert_eq!(data["stdout"], "hello\n/workspace\n");
        assert_eq!(data["stderr"], "oops\n");
        assert_eq!(data["exitCode"], 0);
        assert_eq!(data["timedOut"], false);
        assert!(r.output.contains("Exit Code: 0"));

        for dir in ["sub/dir", "/workspace/sub/dir", "./sub/dir"] {
            let r = s
                .tools
                .execute(
                    "run_shell_command",
                    json!({"command": "pwd", "directory": dir}),
                )
                .await;
            assert_eq!(
                r.data.as_ref().unwrap()["stdout"],
                "/workspace/sub/dir\n",
                "{dir}"
            );
        }
        let r = s
            .tools
            .execute("run_shell_command", json!({"command": "exit 3"}))
            .await;
        assert!(!r.ok);
        assert_eq!(r.data.as_ref().unwrap()["exitCode"], 3);
        assert!(r.output.contains("Exit Code: 3"));

        let r = s
            .tools
            .execute(
                "run_shell_command",
                json!({"command": "echo $TOKEN; printf s3cret-value > leak.txt"}),
            )
            .await;
        assert_eq!(r.data.as_ref().unwrap()["stdout"], "[REDACTED:TOKEN]\n");
        assert!(!r.output.contains("s3cret-value"));
        let r = s
            .tools
            .execute("read_file", json!({"path": "leak.txt"}))
            .await;
        assert_eq!(
            r.output, "[REDACTED:TOKEN]\n",
            "file contents are redacted too"
        );

        let r = s
            .tools
            .execute(
                "run_shell_command",
                json!({"command": "true", "directory": "nope"}),
            )
            .await;
        assert!(!r.ok && r.output.contains("does not exist"), "{}", r.output);
        let r = s
            .tools
            .execute(
                "run_shell_command",
                json!({"command": "true", "directory": "../.."}),
            )
            .await;
        assert!(!r.ok && r.output.contains("contains `..`"), "{}", r.output);
        s.done().await;
    }

    #[tokio::test]
    async fn a_command_past_its_time_limit_is_reported_as_timed_out() {
        let s = shell("tools-timeout", &[], 1).await;
        let r = s
            .tools
            .execute("run_shell_command", json!({"command": "sleep 30"}))
            .await;
        assert!(!r.ok);
        assert_eq!(r.data.as_ref().unwrap()["timedOut"], true, "{}", r.output);
        assert!(r.output.contains("Timed Out: yes"));
        s.done().await;
    }

    #[tokio::test]
    async fn files_written_by_commands_are_seen_by_the_file_tools() {
        let s = shell("tools-files", &[], 30).await;
        s.tools
            .execute("run_shell_command", json!({"command": "mkdir -p out && echo made > out/a.txt && ln -s /etc/hostname out/host"}))
            .await;
        let r = s
            .tools
            .execute("read_file", json!({"path": "out/a.txt"}))
            .await;
        assert_eq!(r.output, "made\n");
        let r = s
            .tools
            .execute("read_file", json!({"path": "out/host"}))
            .await;
        assert!(!r.ok && r.output.contains("leads outside"), "{}", r.output);
        s.done().await;
    }
}
