//! `sigmic bench sandbox`: what a task waits for its commands, against a plain process spawn.

use std::time::Instant;

use super::{Series, ms};
use crate::config::SandboxConfig;
use crate::sandbox::manager::{SandboxManager, SandboxSpec};
use crate::sandbox::{Command, Sandbox};

/// Prints the figures as a table, or with `json` as one JSON object (for the task bench,
/// which prints every figure of the platform side by side).
pub async fn sandbox(runs: usize, command: &str, json: bool) -> Result<(), String> {
    let data = std::env::temp_dir().join(format!("sigmic-bench-{}", crate::ids::new_id()));
    // Two managers: with a pool, as the server runs, and without one, so that a pool refilled
    // in the background never hands a "cold" run a started sandbox.
    let manager = started_manager(&data.join("pooled"), 1).await?;
    let unpooled = started_manager(&data.join("cold"), 0).await?;
    let cmd = || Command::new(command);

    // Plain process spawn of the same command: the floor.
    let mut plain = Series::new("plain process spawn");
    for _ in 0..runs {
        let t = Instant::now();
        let out = tokio::process::Command::new("/bin/sh")
            .arg("-c")
            .arg(command)
            .output()
            .await
            .map_err(|e| e.to_string())?;
        plain.samples.push(t.elapsed());
        if !out.status.success() {
            return Err("the plain command failed".into());
        }
    }

    // A task's first command, with a sandbox waiting in the pool (the pool refills between
    // tasks; the refill is not timed).
    let mut first = Series::new("first command (warm pool)");
    for i in 0..runs {
        manager.fill_pool().await;
        let spec = SandboxSpec {
            task_id: format!("bench-{i}"),
            ..SandboxSpec::default()
        };
        let t = Instant::now();
        let sb = manager.acquire(&spec).await.map_err(|e| e.to_string())?;
        let out = sb.run(cmd()).await.map_err(|e| e.to_string())?;
        first.samples.push(t.elapsed());
        if out.exit_code != Some(0) {
            return Err(format!("sandboxed command failed: {}", out.stderr));
        }
        manager
            .delete(&spec.task_id)
            .await
            .map_err(|e| e.to_string())?;
    }

    // A task's first command with no pool: the sandbox starts on demand.
    let mut cold = Series::new("first command (cold start)");
    for i in 0..runs {
        let spec = SandboxSpec {
            task_id: format!("cold-{i}"),
            ..SandboxSpec::default()
        };
        let t = Instant::now();
        let sb = unpooled.acquire(&spec).await.map_err(|e| e.to_string())?;
        sb.run(cmd()).await.map_err(|e| e.to_string())?;
        cold.samples.push(t.elapsed());
        unpooled
            .delete(&spec.task_id)
            .await
            .map_err(|e| e.to_string())?;
    }

    // Next commands in a sandbox that is already running.
    let spec = SandboxSpec {
        task_id: "warm".into(),
        ..SandboxSpec::default()
    };
    let sb = manager.acquire(&spec).await.map_err(|e| e.to_string())?;
    sb.run(cmd()).await.map_err(|e| e.to_string())?;
    let mut warm = Series::new("next command (warm sandbox)");
    for _ in 0..runs {
        let t = Instant::now();
        sb.run(cmd()).await.map_err(|e| e.to_string())?;
        warm.samples.push(t.elapsed());
    }
    manager.shutdown().await;
    unpooled.shutdown().await;
    let _ = std::fs::remove_dir_all(&data);

    if json {
        let figures: serde_json::Map<String, serde_json::Value> = [
            ("plain", &plain),
            ("first", &first),
            ("cold", &cold),
            ("warm", &warm),
        ]
        .into_iter()
        .map(|(key, s)| {
            (
                key.to_owned(),
                serde_json::json!({"p50Ms": ms(s.pct(50.0)), "p99Ms": ms(s.pct(99.0))}),
            )
        })
        .collect();
        println!("{}", serde_json::Value::Object(figures));
        return Ok(());
    }
    let base50 = ms(plain.pct(50.0));
    let base99 = ms(plain.pct(99.0));
    println!("sandbox benchmark: `{command}`, {runs} runs each");
    println!(
        "{:<30} {:>10} {:>10} {:>12} {:>12}",
        "", "p50 ms", "p99 ms", "p50 / plain", "p99 / plain"
    );
    for s in [&first, &cold, &warm, &plain] {
        let (p50, p99) = (ms(s.pct(50.0)), ms(s.pct(99.0)));
        println!(
            "{:<30} {:>10.2} {:>10.2} {:>11.1}x {:>11.1}x",
            s.name,
            p50,
            p99,
            p50 / base50,
            p99 / base99
        );
    }
    Ok(())
}

async fn started_manager(
    data: &std::path::Path,
    warm_pool: usize,
) -> Result<std::sync::Arc<SandboxManager>, String> {
    std::fs::create_dir_all(data).map_err(|e| format!("{}: {e}", data.display()))?;
    let config = SandboxConfig {
        warm_pool,
        ..SandboxConfig::default()
    };
    let manager = SandboxManager::new(config, data)
        .await
        .map_err(|e| e.to_string())?;
    match manager.unavailable() {
        Some(reason) => Err(reason.to_owned()),
        None => Ok(manager),
    }
}
