//! `sigmic bench sandbox`: what a task waits for its commands, against a plain process spawn.

use std::time::Instant;

use super::{Series, ms};
use crate::config::SandboxConfig;
use crate::sandbox::manager::{SandboxManager, SandboxSpec};
use crate::sandbox::{Command, Sandbox};

pub async fn sandbox(runs: usize, command: &str) -> Result<(), String> {
    let data = std::env::temp_dir().join(format!("sigmic-bench-{}", crate::ids::new_id()));
    std::fs::create_dir_all(&data).map_err(|e| format!("{}: {e}", data.display()))?;
    let config = SandboxConfig {
        warm_pool: 1,
        ..SandboxConfig::default()
    };
    let manager = SandboxManager::new(config.clone(), &data)
        .await
        .map_err(|e| e.to_string())?;
    if let Some(reason) = manager.unavailable() {
        return Err(reason.to_owned());
    }
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
    // tasks, as it does between real tasks; the refill is not timed).
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
        let sb = manager.acquire(&spec).await.map_err(|e| e.to_string())?;
        sb.run(cmd()).await.map_err(|e| e.to_string())?;
        cold.samples.push(t.elapsed());
        manager
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
    let _ = std::fs::remove_dir_all(&data);

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
