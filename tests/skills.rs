//! Skills through the API and in real tasks: a ZIP of a skill's folder uploaded, listed in the
//! prompt by name and description only, read and its script run by the agent from `/skills`
//! in the sandbox; a disabled skill absent from both; a replaced skill leaving a running run
//! alone; hostile and malformed archives refused with nothing left behind.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::io::Write;

use reqwest::Method;
use serde_json::{Value, json};
use sigmic_testkit::harness::*;
use sigmic_testkit::model::{ModelServer, Turn};
use sigmic_testkit::tasks::{
    Owner, SseReader, app_with, create_task, log_all, of, owner, tool_outputs, wait_status,
};
use zip::write::SimpleFileOptions;

const LINK: u32 = 0o120_777;
const COUNT_PY: &str = "#!/usr/bin/env python3\nimport csv, sys\nrows = list(csv.reader(open(sys.argv[1])))\nprint(f\"rows: {len(rows) - 1}\")\n";

/// A ZIP of `entries` (path, bytes, unix mode); a mode of `LINK` makes a symbolic link to
/// the bytes.
fn zip_of(entries: &[(&str, &[u8], u32)]) -> Vec<u8> {
    let mut out = std::io::Cursor::new(Vec::new());
    {
        let mut zip = zip::ZipWriter::new(&mut out);
        for (path, bytes, mode) in entries {
            let options = SimpleFileOptions::default()
                .compression_method(zip::CompressionMethod::Deflated)
                .unix_permissions(*mode & 0o777);
            if *mode == LINK {
                let target = std::str::from_utf8(bytes).unwrap();
                zip.add_symlink(*path, target, options).unwrap();
                continue;
            }
            zip.start_file(*path, options).unwrap();
            zip.write_all(bytes).unwrap();
        }
        zip.finish().unwrap();
    }
    out.into_inner()
}

fn csv_stats_zip() -> Vec<u8> {
    let skill_md = "---\nname: csv-stats\ndescription: Counts the rows of a CSV file; use it when asked how many records a CSV holds.\nlicense: MIT\n---\n\n# CSV stats\n\nRun `python3 /skills/csv-stats/scripts/count.py <file>`. SECRET-INSTRUCTIONS-BODY\n";
    zip_of(&[
        ("csv-stats/SKILL.md", skill_md.as_bytes(), 0o644),
        ("csv-stats/scripts/count.py", COUNT_PY.as_bytes(), 0o755),
    ])
}

async fn upload(app: &TestApp, o: &Owner, bytes: Vec<u8>) -> reqwest::Response {
    let form = reqwest::multipart::Form::new().part(
        "file",
        reqwest::multipart::Part::bytes(bytes).file_name("skill.zip"),
    );
    app.req(
        &o.client,
        Method::POST,
        &format!("/api/v1/projects/{}/skills", o.project_id),
    )
    .multipart(form)
    .send()
    .await
    .unwrap()
}

async fn write_skill(app: &TestApp, o: &Owner, method: Method, path: &str, body: Value) -> Value {
    let resp = app
        .req(
            &o.client,
            method,
            &format!("/api/v1/projects/{}/skills{path}", o.project_id),
        )
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_ok(resp).await
}

async fn skills(app: &TestApp, o: &Owner) -> Value {
    let resp = app
        .bearer(
            Method::GET,
            &format!("/api/v1/projects/{}/skills", o.project_id),
            &o.key,
        )
        .send()
        .await
        .unwrap();
    assert_ok(resp).await
}

fn system_of(model: &ModelServer, key: &str, i: usize) -> String {
    model.requests_for(key)[i].body["system"].to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_uploaded_skill_is_listed_in_the_prompt_and_its_script_runs_in_the_sandbox() {
    let model = ModelServer::start().await;
    let app = app_with(&model, "anthropic", |_| {}).await;
    let o = owner(&app).await;
    let skill = assert_ok(upload(&app, &o, csv_stats_zip()).await).await;
    assert_eq!(skill["name"], "csv-stats");
    assert_eq!(skill["version"], 1);
    assert_eq!(skill["enabled"], true);
    let files: Vec<(&str, bool)> = skill["files"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| {
            (
                f["path"].as_str().unwrap(),
                f["executable"].as_bool().unwrap(),
            )
        })
        .collect();
    assert_eq!(files, [("SKILL.md", false), ("scripts/count.py", true)]);

    let k = format!("skill-{}", unique());
    model.script(
        &k,
        vec![
            Turn::tool_call("run_shell_command", json!({"command": "cat /skills/csv-stats/SKILL.md"})),
            Turn::tool_call(
                "run_shell_command",
                json!({"command": "printf 'id,total\\n1,5\\n2,7\\n3,9\\n' > orders.csv && /skills/csv-stats/scripts/count.py orders.csv; python3 /skills/csv-stats/scripts/count.py orders.csv"}),
            ),
            Turn::tool_call("run_shell_command", json!({"command": "touch /skills/csv-stats/mine || echo refused"})),
            Turn::text("orders.csv holds 3 rows."),
        ],
    );
    let id = create_task(
        &app,
        &o.key,
        json!({"message": format!("{k}: how many orders?")}),
    )
    .await;
    wait_status(&app, &o.key, &id, "completed", 60).await;
    let outputs = tool_outputs(&app, &o.key, &id).await;
    assert!(
        outputs[0].contains("SECRET-INSTRUCTIONS-BODY"),
        "{}",
        outputs[0]
    );
    // The archive's executable bit survives: the script runs by its path, and with python3.
    assert_eq!(outputs[1].matches("rows: 3").count(), 2, "{}", outputs[1]);
    assert!(outputs[2].contains("refused"), "{}", outputs[2]);
    assert!(
        !app.data_dir()
            .join("workspaces")
            .join(&id)
            .join("mine")
            .exists()
    );

    // Progressive disclosure: the prompt names the skill and says what it is for, nothing more.
    let system = system_of(&model, &k, 0);
    assert!(system.contains("/skills/"), "{system}");
    assert!(
        system.contains("csv-stats: Counts the rows of a CSV file"),
        "{system}"
    );
    assert!(!system.contains("SECRET-INSTRUCTIONS-BODY"), "{system}");
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_disabled_skill_is_absent_from_the_prompt_and_the_sandbox() {
    let model = ModelServer::start().await;
    let app = app_with(&model, "anthropic", |_| {}).await;
    let o = owner(&app).await;
    for name in ["kept-on", "turned-off"] {
        let skill = write_skill(
            &app,
            &o,
            Method::POST,
            "",
            json!({"name": name, "description": format!("The {name} skill."), "instructions": "Do it.", "files": {"notes/readme.txt": "hello"}}),
        )
        .await;
        assert_eq!(skill["files"][1]["path"], "notes/readme.txt");
    }
    let off = write_skill(
        &app,
        &o,
        Method::PATCH,
        "/turned-off",
        json!({"enabled": false}),
    )
    .await;
    assert_eq!(off["enabled"], false);
    assert_eq!(skills(&app, &o).await.as_array().unwrap().len(), 2);

    let k = format!("off-{}", unique());
    model.script(
        &k,
        vec![
            Turn::tool_call(
                "run_shell_command",
                json!({"command": "ls /skills; cat /skills/kept-on/notes/readme.txt"}),
            ),
            Turn::text("done"),
        ],
    );
    let id = create_task(&app, &o.key, json!({"message": format!("{k}: list")})).await;
    wait_status(&app, &o.key, &id, "completed", 60).await;
    let out = &tool_outputs(&app, &o.key, &id).await[0];
    assert!(out.contains("kept-on") && out.contains("hello"), "{out}");
    assert!(!out.contains("turned-off"), "{out}");
    let system = system_of(&model, &k, 0);
    assert!(system.contains("kept-on: The kept-on skill."), "{system}");
    assert!(!system.contains("turned-off"), "{system}");
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_skill_replaced_mid_task_leaves_the_running_run_alone() {
    let model = ModelServer::start().await;
    let app = app_with(&model, "anthropic", |_| {}).await;
    let o = owner(&app).await;
    let body = |v: &str| json!({"name": "versioned", "description": "Says its version.", "instructions": format!("Version {v}."), "files": {"version.txt": v}});
    write_skill(&app, &o, Method::POST, "", body("v1")).await;

    let k = format!("replace-{}", unique());
    let cat = || {
        Turn::tool_call(
            "run_shell_command",
            json!({"command": "cat /skills/versioned/version.txt"}),
        )
    };
    model.script(
        &k,
        vec![
            cat(),
            // Slow enough for the replacement to land while this run goes on.
            cat()
                .with_text("still ")
                .with_text("reading ")
                .with_text("it")
                .chunk_delay(std::time::Duration::from_millis(700)),
            Turn::text("first run done"),
            cat(),
            Turn::text("second run done"),
        ],
    );
    let id = create_task(&app, &o.key, json!({"message": format!("{k}: read it")})).await;
    let mut sse = SseReader::open(&app, &o.key, &id, None).await;
    while let Some(frame) = sse.next().await {
        if frame.event == "tool_result" {
            break;
        }
    }
    let v2 = write_skill(&app, &o, Method::PUT, "/versioned", body("v2")).await;
    assert_eq!(v2["version"], 2);
    wait_status(&app, &o.key, &id, "completed", 60).await;
    // A follow-up is a new run: it gets the new version.
    let resp = app
        .bearer(
            Method::POST,
            &format!("/api/v1/tasks/{id}/messages"),
            &o.key,
        )
        .json(&json!({"message": "again"}))
        .send()
        .await
        .unwrap();
    assert_ok(resp).await;
    wait_status(&app, &o.key, &id, "completed", 60).await;
    let outputs = tool_outputs(&app, &o.key, &id).await;
    let seen: Vec<&str> = outputs
        .iter()
        .map(|o| o.split("Stdout: ").nth(1).unwrap().lines().next().unwrap())
        .collect();
    assert_eq!(seen, ["v1", "v1", "v2"], "{outputs:?}");
    app.stop().await;
}

#[tokio::test]
async fn bad_archives_are_refused_and_leave_nothing_behind() {
    let app = TestApp::spawn().await;
    let o = owner(&app).await;
    let md = b"---\nname: ok-skill\ndescription: Fine.\n---\nBody\n".as_slice();
    let bomb = vec![0u8; 6 * 1024 * 1024];
    let cases: Vec<(&str, Vec<u8>, u16, &str)> = vec![
        (
            "traversal",
            zip_of(&[("SKILL.md", md, 0o644), ("../evil.txt", b"x", 0o644)]),
            400,
            "outside",
        ),
        (
            "absolute",
            zip_of(&[("SKILL.md", md, 0o644), ("/tmp/evil.txt", b"x", 0o644)]),
            400,
            "outside",
        ),
        (
            "link",
            zip_of(&[
                ("SKILL.md", md, 0o644),
                ("passwd", b"/etc/passwd", 0o120_777),
            ]),
            400,
            "link",
        ),
        (
            "bomb",
            zip_of(&[("SKILL.md", md, 0o644), ("zeros.bin", &bomb, 0o644)]),
            413,
            "limit",
        ),
        (
            "no SKILL.md",
            zip_of(&[("README.md", b"hi", 0o644)]),
            400,
            "no SKILL.md",
        ),
        (
            "no front matter",
            zip_of(&[("SKILL.md", b"# Just a title\n", 0o644)]),
            400,
            "front matter",
        ),
        (
            "malformed YAML",
            zip_of(&[("SKILL.md", b"---\nname: [x\ndescription: d\n---\n", 0o644)]),
            400,
            "YAML",
        ),
        (
            "bad name",
            zip_of(&[(
                "SKILL.md",
                b"---\nname: Not OK\ndescription: d\n---\n",
                0o644,
            )]),
            400,
            "lower-case",
        ),
        ("not a zip", b"plain text".to_vec(), 400, "zip"),
    ];
    for (what, bytes, status, says) in cases {
        let resp = upload(&app, &o, bytes).await;
        let code = if status == 413 {
            "PAYLOAD_TOO_LARGE"
        } else {
            "VALIDATION_ERROR"
        };
        let err = assert_error(resp, status, code).await;
        assert!(
            err.to_string().contains(says),
            "{what}: expected `{says}` in {err}"
        );
    }
    assert_eq!(skills(&app, &o).await, json!([]));
    let staging = app.data_dir().join("staging");
    assert!(
        files_under(&staging).is_empty(),
        "left behind: {:?}",
        files_under(&staging)
    );
    assert!(files_containing(app.data_dir(), b"/etc/passwd").is_empty());
    assert!(!app.data_dir().join("evil.txt").exists());

    // JSON is checked the same way; a taken name and a member's upload are refused too.
    for (body, field) in [
        (
            json!({"name": "x", "description": "", "instructions": ""}),
            "description",
        ),
        (
            json!({"name": "x", "description": "d", "instructions": "", "files": {"../up": "x"}}),
            "files.../up",
        ),
        (
            json!({"name": "x", "description": "d", "instructions": "", "files": {"SKILL.md": "x"}}),
            "files",
        ),
    ] {
        let resp = app
            .req(
                &o.client,
                Method::POST,
                &format!("/api/v1/projects/{}/skills", o.project_id),
            )
            .json(&body)
            .send()
            .await
            .unwrap();
        assert_field_error(resp, field).await;
    }
    assert_ok(upload(&app, &o, zip_of(&[("SKILL.md", md, 0o644)])).await).await;
    let again = upload(&app, &o, zip_of(&[("SKILL.md", md, 0o644)])).await;
    assert_field_error(again, "name").await;
    let resp = app
        .bearer(
            Method::DELETE,
            &format!("/api/v1/projects/{}/skills/ok-skill", o.project_id),
            &o.key,
        )
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 403, "an API key does not change skills");
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stream_and_log_agree_for_a_skill_run() {
    // The skill's text never reaches the stream unless the agent reads it.
    let model = ModelServer::start().await;
    let app = app_with(&model, "anthropic", |_| {}).await;
    let o = owner(&app).await;
    assert_ok(upload(&app, &o, csv_stats_zip()).await).await;
    let k = format!("quiet-{}", unique());
    model.script(&k, vec![Turn::text("Nothing to count.")]);
    let id = create_task(&app, &o.key, json!({"message": format!("{k}: hi")})).await;
    wait_status(&app, &o.key, &id, "completed", 60).await;
    let frames = log_all(&app, &o.key, &id).await;
    assert!(of(&frames, "tool_call").is_empty());
    assert!(!format!("{:?}", frames).contains("SECRET-INSTRUCTIONS-BODY"));
    app.stop().await;
}
