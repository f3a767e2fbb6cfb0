//! `sigmic bench mcp`: what MCP servers add to a task, with the reference "everything" server
//! (`mcp-server-everything`, npm): connecting and listing tools over Streamable HTTP, legacy
//! SSE and stdio inside a sandbox, all of them side by side as a run's start does; and one
//! tool call through Sigmic (arguments checked, result mapped) against the same call from a
//! bare rmcp client.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use rmcp::ServiceExt;
use rmcp::model::CallToolRequestParams;
use rmcp::transport::StreamableHttpClientTransport;

use super::{Series, ms};
use crate::config::SandboxConfig;
use crate::egress::{AddressGuard, NetworkPolicy};
use crate::mcp::McpServerSpec;
use crate::mcp::client::{Connector, Place};
use crate::mcp::toolbox::McpToolbox;
use crate::sandbox::Sandbox;
use crate::sandbox::manager::{SandboxManager, SandboxSpec};
use crate::workspace::Workspace;

/// A server process on a free loopback port, stopped when dropped.
struct Served {
    child: tokio::process::Child,
    port: u16,
}

impl Served {
    async fn start(program: &str, mode: &str) -> Result<Self, String> {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .map(|a| a.port())
            .map_err(|e| e.to_string())?;
        let child = tokio::process::Command::new(program)
            .arg(mode)
            .env("PORT", port.to_string())
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .map_err(|e| format!("{program}: {e} (installed by .ci/setup)"))?;
        let deadline = Instant::now() + Duration::from_secs(30);
        while tokio::net::TcpStream::connect(("127.0.0.1", port))
            .await
            .is_err()
        {
            if Instant::now() > deadline {
                return Err(format!("{program} {mode} did not listen"));
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        Ok(Self { child, port })
    }
}

impl Drop for Served {
    fn drop(&mut self) {
        let _ = self.child.start_kill();
    }
}

fn spec(json: serde_json::Value) -> Result<McpServerSpec, String> {
    let input: protocol::McpServerInput =
        serde_json::from_value(json).map_err(|e| e.to_string())?;
    McpServerSpec::from_input(&input, None, "").map_err(|e| format!("{e:?}"))
}

pub async fn mcp(runs: usize, program: &str) -> Result<(), String> {
    let http = Served::start(program, "streamableHttp").await?;
    let sse = Served::start(program, "sse").await?;
    let http_url = format!("http://127.0.0.1:{}/mcp", http.port);
    let remote = spec(serde_json::json!({"name": "http", "url": http_url}))?;
    let legacy = spec(serde_json::json!({"name": "sse", "type": "sse",
        "url": format!("http://127.0.0.1:{}/sse", sse.port)}))?;
    let local = spec(serde_json::json!({"name": "stdio", "command": program, "args": ["stdio"]}))?;
    let connector =
        Connector::new(AddressGuard::new(true, Default::default())).map_err(|e| e.to_string())?;
    let values = BTreeMap::new();

    let data = std::env::temp_dir().join(format!("sigmic-bench-{}", crate::ids::new_id()));
    std::fs::create_dir_all(&data).map_err(|e| format!("{}: {e}", data.display()))?;
    let manager = SandboxManager::new(SandboxConfig::default(), &data)
        .await
        .map_err(|e| e.to_string())?;
    if let Some(reason) = manager.unavailable() {
        return Err(reason.to_owned());
    }
    let sandbox = manager
        .acquire(&SandboxSpec {
            task_id: "bench-mcp".into(),
            network: NetworkPolicy::Off,
            ..SandboxSpec::default()
        })
        .await
        .map_err(|e| e.to_string())?;
    let place = Place {
        sandbox: Some(Arc::clone(&sandbox) as Arc<dyn Sandbox>),
        redactor: Default::default(),
    };

    // A program started per connection costs far more than a request: fewer runs of those.
    let starts = runs.clamp(1, 40);
    let mut series = Vec::new();
    for (name, spec, n) in [
        ("connect + list, Streamable HTTP", &remote, runs),
        ("connect + list, legacy SSE", &legacy, runs),
        ("connect + list, stdio in a sandbox", &local, starts),
    ] {
        let mut s = Series::new(name);
        for _ in 0..n {
            let t = Instant::now();
            let c = connector
                .connect(spec, &values, &place)
                .await
                .map_err(|e| format!("{name}: {e}"))?;
            s.samples.push(t.elapsed());
            c.close().await;
        }
        series.push(s);
    }
    let mut start = Series::new("a run's start, all three side by side");
    for _ in 0..starts {
        let t = Instant::now();
        let (toolbox, failures) = McpToolbox::connect(
            connector.clone(),
            vec![remote.clone(), legacy.clone(), local.clone()],
            values.clone(),
            place.clone(),
        )
        .await;
        start.samples.push(t.elapsed());
        if let Some(f) = failures.first() {
            return Err(format!("{}: {}", f.server, f.reason));
        }
        toolbox.close().await;
    }

    // One call, from a bare rmcp client and through Sigmic, over the same kind of connection.
    let bare =
        ().serve(StreamableHttpClientTransport::from_uri(http_url.as_str()))
            .await
            .map_err(|e| e.to_string())?;
    let args = serde_json::json!({"a": 2, "b": 3});
    let mut direct = Series::new("call get-sum, bare rmcp client");
    for _ in 0..runs {
        let mut params = CallToolRequestParams::new("get-sum");
        params.arguments = args.as_object().cloned();
        let t = Instant::now();
        bare.peer()
            .call_tool(params)
            .await
            .map_err(|e| e.to_string())?;
        direct.samples.push(t.elapsed());
    }
    let _ = bare.cancel().await;
    let (toolbox, _) = McpToolbox::connect(
        connector.clone(),
        vec![remote.clone()],
        values.clone(),
        Place::default(),
    )
    .await;
    let workspace = Workspace::open(sandbox.workspace()).map_err(|e| e.to_string())?;
    let mut through = Series::new("call get-sum, through Sigmic");
    for _ in 0..runs {
        let t = Instant::now();
        let result = toolbox
            .call("mcp__http__get-sum", args.clone(), &workspace)
            .await;
        through.samples.push(t.elapsed());
        if !result.ok {
            return Err(result.output);
        }
    }
    toolbox.close().await;
    manager.shutdown().await;
    let _ = std::fs::remove_dir_all(&data);

    println!("MCP benchmark: {program}, {runs} runs ({starts} where a program starts)");
    println!("{:<42} {:>10} {:>10}", "", "p50 ms", "p99 ms");
    for s in series.iter().chain([&start, &direct, &through]) {
        println!(
            "{:<42} {:>10.2} {:>10.2}",
            s.name,
            ms(s.pct(50.0)),
            ms(s.pct(99.0))
        );
    }
    println!(
        "{:<42} {:>10.2} {:>10.2}",
        "Sigmic's overhead on a call",
        ms(through.pct(50.0)) - ms(direct.pct(50.0)),
        ms(through.pct(99.0)) - ms(direct.pct(99.0))
    );
    Ok(())
}
