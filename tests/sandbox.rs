//! The sandbox through its public API (`SandboxManager` → `Sandbox::run`): what a command
//! returns, its working directory and environment, secret redaction, each limit, and the
//! lifecycle (cancel, idle expiry to a snapshot, delete, the warm pool).
//!
//! These start real bubblewrap sandboxes, so they need bubblewrap, root (cgroups) and this
//! machine's kernel features.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeMap;
use std::net::TcpListener;
use std::time::{Duration, Instant};

use sigmic::config::SandboxConfig;
use sigmic::egress::NetworkPolicy;
use sigmic::sandbox::bwrap::TaskEnv;
use sigmic::sandbox::manager::SandboxSpec;
use sigmic::sandbox::{Command, Sandbox, SandboxError};
use sigmic_testkit::sandbox::*;

fn map(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
    pairs
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect()
}

fn in_dir(command: &str, cwd: &str) -> Command {
    Command {
        command: command.to_owned(),
        cwd: cwd.to_owned(),
        timeout: None,
    }
}

// ---------------------------------------------------------------- what a command returns

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn command_returns_stdout_stderr_and_exit_code() {
    let host = Host::new().await;
    let sb = host.sandbox(&task("out")).await;

    let out = run(&sb, "echo to-stdout; echo to-stderr >&2; exit 7").await;
    assert_eq!(out.stdout, "to-stdout\n");
    assert_eq!(out.stderr, "to-stderr\n");
    assert_eq!(out.exit_code, Some(7));
    assert!(
        !out.timed_out && !out.truncated && out.limit.is_none(),
        "{out:?}"
    );

    let ok = run(&sb, "true").await;
    assert_eq!(ok.exit_code, Some(0));
    assert_eq!((ok.stdout.as_str(), ok.stderr.as_str()), ("", ""));

    let missing = run(&sb, "no-such-program-here").await;
    assert_eq!(missing.exit_code, Some(127), "{missing:?}");
    assert!(missing.stderr.contains("not found"), "{missing:?}");

    // Commands run in /workspace, whose files are the host's workspace directory.
    let out = run(&sb, "pwd; echo made-inside > hello.txt").await;
    assert_eq!(out.stdout, "/workspace\n");
    assert_eq!(
        std::fs::read_to_string(sb.workspace().join("hello.txt")).unwrap(),
        "made-inside\n"
    );
    host.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cwd_relative_and_workspace_paths_are_used() {
    let host = Host::new().await;
    let sb = host.sandbox(&task("cwd")).await;
    run(&sb, "mkdir -p sub/dir").await;

    let out = run_cmd(&sb, in_dir("pwd", "sub/dir")).await;
    assert_eq!(out.stdout, "/workspace/sub/dir\n");
    let out = run_cmd(&sb, in_dir("pwd", "./sub")).await;
    assert_eq!(out.stdout, "/workspace/sub\n");
    let out = run_cmd(&sb, in_dir("pwd", "/workspace/sub/dir")).await;
    assert_eq!(out.stdout, "/workspace/sub/dir\n");
    let out = run_cmd(&sb, in_dir("pwd", "/workspace")).await;
    assert_eq!(out.stdout, "/workspace\n");

    // A directory that does not exist is not silently replaced by another one.
    match sb.run(in_dir("pwd", "no/such/dir")).await {
        Err(_) => {}
        Ok(out) => {
            assert_ne!(out.exit_code, Some(0), "{out:?}");
            assert!(!out.stdout.contains("/workspace"), "{out:?}");
        }
    }
    host.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cwd_outside_the_workspace_is_refused_with_an_error() {
    let host = Host::new().await;
    let sb = host.sandbox(&task("cwdbad")).await;
    run(&sb, "mkdir -p sub").await;
    for cwd in [
        "..",
        "../..",
        "sub/../..",
        "sub/../../etc",
        "/workspace/..",
        "/workspace/../etc",
        "/etc",
        "/",
        "/tmp",
    ] {
        match sb.run(in_dir("pwd; touch escaped-here", cwd)).await {
            Err(SandboxError::BadCwd(c)) => assert_eq!(c, cwd),
            other => panic!("cwd {cwd:?} was not refused: {other:?}"),
        }
    }
    // Nothing ran: no file appeared anywhere the host can see.
    assert!(!sb.workspace().join("escaped-here").exists());
    assert!(!host.data().join("workspaces/escaped-here").exists());
    host.close().await;
}

// ---------------------------------------------------------------- environment and secrets

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn env_and_secrets_are_in_every_command_and_a_secret_wins_a_clash() {
    let host = Host::new().await;
    let sb = host
        .acquire(SandboxSpec {
            task_id: task("env"),
            network: NetworkPolicy::Off,
            env: TaskEnv {
                env: map(&[("GREETING", "hello there"), ("CLASH", "from-env")]),
                secrets: map(&[
                    ("API_TOKEN", "tok-9f8e7d6c5b"),
                    ("CLASH", "from-secret-31337"),
                ]),
            },
        })
        .await;

    for cwd in ["", "sub", "/workspace/sub"] {
        if !cwd.is_empty() {
            run(&sb, "mkdir -p sub").await;
        }
        let out = run_cmd(
            &sb,
            in_dir(
                r#"echo "g=$GREETING"; [ "$API_TOKEN" = tok-9f8e7d6c5b ] && echo token-ok; [ "$CLASH" = from-secret-31337 ] && echo secret-wins; [ "$CLASH" = from-env ] && echo env-wins; echo "path=$PATH""#,
                cwd,
            ),
        )
        .await;
        assert!(
            out.stdout.contains("g=hello there\n"),
            "cwd {cwd:?}: {out:?}"
        );
        assert!(out.stdout.contains("token-ok\n"), "cwd {cwd:?}: {out:?}");
        assert!(out.stdout.contains("secret-wins\n"), "cwd {cwd:?}: {out:?}");
        assert!(!out.stdout.contains("env-wins"), "cwd {cwd:?}: {out:?}");
        assert!(out.stdout.contains("path=/"), "a usable PATH: {out:?}");
    }

    // A later acquire of the same task with a changed environment applies to its next command.
    let sb2 = host
        .acquire(SandboxSpec {
            task_id: task("env"),
            network: NetworkPolicy::Off,
            env: TaskEnv {
                env: map(&[("GREETING", "changed")]),
                secrets: BTreeMap::new(),
            },
        })
        .await;
    let out = run(&sb2, r#"echo "g=$GREETING""#).await;
    assert_eq!(out.stdout, "g=changed\n");
    host.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn secrets_are_redacted_from_stdout_and_stderr() {
    let host = Host::new().await;
    let secret = "sk-live-4f3e2d1c0b9a";
    let sb = host
        .acquire(SandboxSpec {
            task_id: task("redact"),
            network: NetworkPolicy::Off,
            env: TaskEnv {
                env: map(&[("PLAIN", "visible-value")]),
                secrets: map(&[("TOKEN", secret), ("OTHER", "pw-77665544")]),
            },
        })
        .await;

    let out = run(&sb, r#"echo $TOKEN"#).await;
    assert_eq!(out.stdout, "[REDACTED:TOKEN]\n");

    let out = run(&sb, r#"printf %s "$TOKEN""#).await;
    assert_eq!(out.stdout, "[REDACTED:TOKEN]");

    let out = run(&sb, r#"echo "key=$TOKEN!" >&2; printf %s "$OTHER" >&2"#).await;
    assert_eq!(out.stderr, "key=[REDACTED:TOKEN]!\n[REDACTED:OTHER]");

    // Every occurrence, in both streams, in the middle of other text; plain env stays.
    let out = run(
        &sb,
        r#"echo "a${TOKEN}b${TOKEN}c $PLAIN"; echo "$OTHER$TOKEN" >&2; env | grep -E '^(TOKEN|OTHER)='"#,
    )
    .await;
    let both = all(&out);
    assert!(
        !both.contains(secret) && !both.contains("pw-77665544"),
        "{out:?}"
    );
    assert!(
        out.stdout
            .starts_with("a[REDACTED:TOKEN]b[REDACTED:TOKEN]c visible-value\n"),
        "{out:?}"
    );
    assert!(out.stdout.contains("TOKEN=[REDACTED:TOKEN]"), "{out:?}");
    assert!(out.stdout.contains("OTHER=[REDACTED:OTHER]"), "{out:?}");
    assert_eq!(out.stderr, "[REDACTED:OTHER][REDACTED:TOKEN]\n");

    // Written to a file and read back, it is still redacted.
    let out = run(
        &sb,
        r#"printf '%s\n' "$TOKEN" > f.txt; cat f.txt; cat f.txt >&2"#,
    )
    .await;
    assert_eq!(out.stdout, "[REDACTED:TOKEN]\n");
    assert_eq!(out.stderr, "[REDACTED:TOKEN]\n");
    host.close().await;
}

/// Output is cut to the limit before it is redacted: a secret that straddles the cut must not
/// leave its first characters in what is returned.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn secret_cut_by_output_truncation_does_not_leak_its_beginning() {
    let host = Host::with(SandboxConfig {
        max_output_bytes: 16,
        ..config()
    })
    .await;
    let secret = "SECRETVALUE-0123456789";
    let sb = host
        .acquire(SandboxSpec {
            task_id: task("redcut"),
            network: NetworkPolicy::Off,
            env: TaskEnv {
                env: BTreeMap::new(),
                secrets: map(&[("TOKEN", secret)]),
            },
        })
        .await;
    // 10 bytes of padding, then the secret: the 16-byte cut keeps its first 6 characters.
    let out = run(
        &sb,
        r#"printf 'xxxxxxxxxx%s' "$TOKEN"; printf 'yyyyyyyyyy%s' "$TOKEN" >&2"#,
    )
    .await;
    assert!(out.truncated, "{out:?}");
    for (name, text) in [("stdout", &out.stdout), ("stderr", &out.stderr)] {
        assert!(
            !text.contains(&secret[..6]),
            "{name} shows the start of the secret ({:?}): {text:?}",
            &secret[..6]
        );
    }
    host.close().await;
}

// ---------------------------------------------------------------- wall time

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wall_time_limit_stops_the_command_promptly_and_the_sandbox_goes_on() {
    let host = Host::new().await;
    let sb = host.sandbox(&task("timeout")).await;
    run(&sb, "true").await;

    let start = Instant::now();
    let out = run_cmd(
        &sb,
        with_timeout("echo started; sleep 30; echo never", Duration::from_secs(1)),
    )
    .await;
    let took = start.elapsed();
    assert!(out.timed_out, "{out:?}");
    assert!(took < Duration::from_secs(5), "took {took:?}");
    assert!(took >= Duration::from_millis(900), "took {took:?}");
    let limit = out.limit.clone().expect("a limit message");
    assert!(
        limit.contains("time limit") && limit.contains('1'),
        "{limit}"
    );
    assert!(
        out.stdout.contains("started") && !out.stdout.contains("never"),
        "{out:?}"
    );
    assert_ne!(out.exit_code, Some(0));

    // The sandbox still works, and the killed command left nothing running.
    let out = run(&sb, "echo after; ps -eo args | grep -c '^sleep 30' || true").await;
    assert_eq!(out.stdout, "after\n0\n", "{out:?}");
    assert!(!out.timed_out && out.limit.is_none());
    host.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn background_job_left_running_does_not_hang_the_answer() {
    let host = Host::new().await;
    let sb = host.sandbox(&task("bg")).await;
    let start = Instant::now();
    let out = run(&sb, "sleep 100 & echo launched").await;
    assert!(
        start.elapsed() < Duration::from_secs(3),
        "took {:?}",
        start.elapsed()
    );
    assert_eq!(out.stdout, "launched\n");
    assert_eq!(out.exit_code, Some(0));
    assert!(!out.timed_out);

    // Also when the job holds stderr and is started with nohup-like redirections.
    let start = Instant::now();
    let out = run(&sb, "(sleep 100 >&2 &) ; echo again").await;
    assert!(start.elapsed() < Duration::from_secs(3));
    assert_eq!(out.stdout, "again\n");

    let out = run(&sb, "echo next").await;
    assert_eq!(out.stdout, "next\n");
    host.close().await;
}

// ---------------------------------------------------------------- output

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn output_over_the_limit_is_truncated_with_a_note() {
    let host = Host::with(SandboxConfig {
        max_output_bytes: 100,
        ..config()
    })
    .await;
    let sb = host.sandbox(&task("trunc")).await;

    let out = run(&sb, "head -c 5000 /dev/zero | tr '\\0' a").await;
    assert!(out.truncated, "{out:?}");
    assert!(out.stdout.starts_with(&"a".repeat(100)), "{out:?}");
    assert!(!out.stdout.starts_with(&"a".repeat(101)), "{out:?}");
    assert!(out.stdout.contains("truncated"), "a note: {:?}", out.stdout);
    assert!(
        out.stdout.contains("5000"),
        "the note says how much: {:?}",
        out.stdout
    );
    assert!(out.stdout.len() < 300);
    assert_eq!(out.exit_code, Some(0));

    let out = run(&sb, "head -c 5000 /dev/zero | tr '\\0' e >&2").await;
    assert!(out.truncated, "{out:?}");
    assert!(out.stderr.starts_with(&"e".repeat(100)), "{out:?}");
    assert!(out.stderr.contains("truncated"), "{:?}", out.stderr);
    assert!(out.stderr.len() < 300);

    let out = run(&sb, "head -c 100 /dev/zero | tr '\\0' a").await;
    assert!(!out.truncated, "exactly the limit is not cut: {out:?}");
    assert_eq!(out.stdout, "a".repeat(100));
    host.close().await;
}

// ---------------------------------------------------------------- processes and memory

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fork_bomb_hits_the_process_limit_and_the_server_and_other_sandboxes_stay_healthy() {
    let host = Host::with(SandboxConfig {
        max_processes: 64,
        ..config()
    })
    .await;
    let sb = host.sandbox(&task("forkbomb")).await;
    let start = Instant::now();
    let out = run_cmd(
        &sb,
        with_timeout(
            "i=0; while [ $i -lt 2000 ]; do sleep 3 & i=$((i+1)); done; wait; echo finished",
            Duration::from_secs(30),
        ),
    )
    .await;
    assert!(
        start.elapsed() < Duration::from_secs(20),
        "took {:?}",
        start.elapsed()
    );
    let limit = out.limit.clone().unwrap_or_default();
    assert!(
        limit.contains("64 processes"),
        "the process limit is named: {out:?}"
    );
    assert!(!out.timed_out);

    assert!(host_can_spawn(), "the server can still start processes");
    other_sandbox_is_healthy(&host, &task("forkbomb-other")).await;
    host.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn memory_hog_is_killed_with_the_memory_limit_and_others_stay_healthy() {
    let host = Host::with(SandboxConfig {
        memory_mb: 64,
        ..config()
    })
    .await;
    let sb = host.sandbox(&task("memhog")).await;
    let start = Instant::now();
    let out = run(&sb, "head -c 500M /dev/zero | tail").await;
    assert!(
        start.elapsed() < Duration::from_secs(30),
        "took {:?}",
        start.elapsed()
    );
    assert_ne!(out.exit_code, Some(0), "{out:?}");
    let limit = out.limit.clone().unwrap_or_default();
    assert!(
        limit.contains("out of memory") && limit.contains("64 MB"),
        "the memory limit is named: {out:?}"
    );

    // Python's way of eating memory ends the same way.
    let out = run(
        &sb,
        "python3 -c 'a=[]\nwhile True: a.append(bytearray(10**7))'",
    )
    .await;
    assert_ne!(out.exit_code, Some(0), "{out:?}");
    assert!(
        out.limit
            .as_deref()
            .unwrap_or_default()
            .contains("out of memory"),
        "{out:?}"
    );

    // The task's own sandbox goes on, and so do the others and the server.
    let out = run(&sb, "echo still-here").await;
    assert_eq!(out.stdout, "still-here\n");
    assert!(out.limit.is_none(), "{out:?}");
    assert!(host_can_spawn());
    other_sandbox_is_healthy(&host, &task("memhog-other")).await;
    host.close().await;
}

// ---------------------------------------------------------------- disk

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn file_larger_than_the_file_size_limit_is_stopped_with_a_limit_message() {
    let host = Host::with(SandboxConfig {
        max_file_size_mb: 2,
        ..config()
    })
    .await;
    let sb = host.sandbox(&task("fsize")).await;
    let out = run(&sb, "head -c 20M /dev/zero > big.bin").await;
    assert_ne!(out.exit_code, Some(0), "{out:?}");
    let limit = out.limit.clone().unwrap_or_default();
    assert!(
        limit.contains("larger than the limit of 2 MB"),
        "the file size limit is named: {out:?}"
    );
    let size = std::fs::metadata(sb.workspace().join("big.bin"))
        .unwrap()
        .len();
    assert!(
        size <= 2 * 1024 * 1024,
        "the file stopped at the limit: {size}"
    );

    // A file under the limit is fine.
    let out = run(&sb, "rm big.bin; head -c 1M /dev/zero > ok.bin && echo ok").await;
    assert_eq!(out.stdout, "ok\n");
    assert!(out.limit.is_none(), "{out:?}");
    host.close().await;
}

/// The way a model writes it: the oversize write is one step of a longer command.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn file_larger_than_the_file_size_limit_inside_a_longer_command_is_reported() {
    let host = Host::with(SandboxConfig {
        max_file_size_mb: 2,
        ..config()
    })
    .await;
    let sb = host.sandbox(&task("fsize2")).await;
    let out = run(
        &sb,
        "dd if=/dev/zero of=big.bin bs=1M count=20; ls -l big.bin; echo done",
    )
    .await;
    let size = std::fs::metadata(sb.workspace().join("big.bin"))
        .unwrap()
        .len();
    assert!(
        size <= 2 * 1024 * 1024,
        "the file stopped at the limit: {size}"
    );
    let limit = out.limit.clone().unwrap_or_default();
    assert!(
        limit.contains("2 MB"),
        "the file size limit is named when the write is one step of the command: {out:?}"
    );
    host.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn workspace_over_its_size_limit_is_reported() {
    let host = Host::with(SandboxConfig {
        max_file_size_mb: 2,
        max_workspace_mb: 3,
        ..config()
    })
    .await;
    let sb = host.sandbox(&task("wsize")).await;
    let out = run(
        &sb,
        "for i in 1 2 3; do head -c 1M /dev/zero > small-$i.bin; done",
    )
    .await;
    assert!(out.limit.is_none(), "3 MB is within the limit: {out:?}");
    let out = run(
        &sb,
        "for i in 4 5 6; do head -c 1M /dev/zero > small-$i.bin; done",
    )
    .await;
    let limit = out.limit.clone().unwrap_or_default();
    assert!(
        limit.contains("workspace") && limit.contains("limit of 3 MB"),
        "the workspace limit is named: {out:?}"
    );
    // Making room clears it.
    let out = run(&sb, "rm small-*.bin; echo cleaned").await;
    assert_eq!(out.stdout, "cleaned\n");
    assert!(out.limit.is_none(), "{out:?}");
    host.close().await;
}

// ---------------------------------------------------------------- network

/// A non-blocking listener on `addr`, and a check that nothing connected to it.
fn listener(addr: &str) -> (TcpListener, u16) {
    let l = TcpListener::bind(addr).unwrap();
    l.set_nonblocking(true).unwrap();
    let port = l.local_addr().unwrap().port();
    (l, port)
}

fn untouched(l: &TcpListener) -> bool {
    matches!(l.accept(), Err(e) if e.kind() == std::io::ErrorKind::WouldBlock)
}

/// This machine's outward address (no packet is sent to learn it).
fn outward() -> std::net::IpAddr {
    let probe = std::net::UdpSocket::bind("0.0.0.0:0").unwrap();
    probe.connect("192.0.2.1:80").unwrap();
    probe.local_addr().unwrap().ip()
}

/// Whatever its policy, a sandbox's network namespace has loopback and nothing else; its
/// commands are told where the egress proxy listens on it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sandbox_has_only_loopback_with_its_proxy_there() {
    let host = Host::new().await;
    let sb = host
        .acquire(SandboxSpec {
            task_id: task("netif"),
            network: NetworkPolicy::Internet,
            env: TaskEnv::default(),
        })
        .await;
    let out = run(&sb, "tail -n +3 /proc/net/dev | cut -d: -f1").await;
    assert_eq!(
        out.stdout.split_whitespace().collect::<Vec<_>>(),
        ["lo"],
        "{out:?}"
    );
    let out = run(&sb, "echo $HTTPS_PROXY $http_proxy $NO_PROXY").await;
    assert_eq!(
        out.stdout,
        "http://127.0.0.1:3128 http://127.0.0.1:3128 localhost,127.0.0.1,::1\n"
    );
    // The host's resolver is not the sandbox's to know.
    let out = run(&sb, "grep -c nameserver /etc/resolv.conf").await;
    assert_eq!(out.stdout.trim(), "0", "{out:?}");
    host.close().await;
}

/// With the network off the proxy refuses every host and says why, and no other route
/// reaches the host's listeners, on loopback or on its outward address.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn network_off_refuses_every_connection() {
    let host = Host::new().await;
    let (local, port) = listener("127.0.0.1:0");
    let (public, pport) = listener("0.0.0.0:0");
    let out_ip = outward();
    let sb = host.sandbox(&task("netoff")).await;
    assert_eq!(sb.network(), NetworkPolicy::Off);

    let out = run(
        &sb,
        "curl -sS --max-time 5 -D - -o /dev/null http://example.test/",
    )
    .await;
    assert!(out.stdout.starts_with("HTTP/1.1 403"), "{out:?}");
    assert!(
        out.stdout
            .contains("X-Sigmic-Refused: network access is off for this project"),
        "{out:?}"
    );
    for command in [
        "curl -fsS --max-time 5 https://example.test/".to_owned(),
        format!("curl -fsS --max-time 5 http://127.0.0.1:{port}/"),
        format!("curl -fsS --max-time 5 --noproxy '*' http://{out_ip}:{pport}/"),
        format!("curl -fsS --max-time 5 http://{out_ip}:{pport}/"),
        format!("python3 -c 'import socket; socket.create_connection((\"127.0.0.1\", {port}), 5)'"),
        format!("python3 -c 'import socket; socket.create_connection((\"{out_ip}\", {pport}), 5)'"),
    ] {
        let out = run(&sb, &format!("{command} && echo CONNECTED")).await;
        assert!(!out.stdout.contains("CONNECTED"), "`{command}`: {out:?}");
    }
    assert!(
        untouched(&local),
        "a connection reached the host's loopback"
    );
    assert!(
        untouched(&public),
        "a connection reached the host's address"
    );
    host.close().await;
}

/// Internet only: this machine's own addresses, loopback included, are refused by the proxy
/// by name and by address, and the refusal says which rule applied.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn internet_only_refuses_this_machines_own_addresses() {
    let host = Host::new().await;
    let (public, pport) = listener("0.0.0.0:0");
    let out_ip = outward();
    let sb = host
        .acquire(SandboxSpec {
            task_id: task("netown"),
            network: NetworkPolicy::Internet,
            env: TaskEnv::default(),
        })
        .await;
    for (url, why) in [
        (format!("http://127.0.0.1:{pport}/"), "loopback"),
        (format!("http://localhost:{pport}/"), "loopback"),
        (
            format!("http://{out_ip}:{pport}/"),
            "an address of the machine Sigmic runs on",
        ),
    ] {
        // Through the proxy even for local names, as a program that ignores NO_PROXY would.
        let out = run(
            &sb,
            &format!("curl -sS --max-time 5 --noproxy '' -D - -o /dev/null {url}"),
        )
        .await;
        assert!(out.stdout.starts_with("HTTP/1.1 403"), "{url}: {out:?}");
        assert!(out.stdout.contains(why), "{url}: {out:?}");
    }
    assert!(
        untouched(&public),
        "a connection reached the host's address"
    );
    host.close().await;
}

// ---------------------------------------------------------------- lifecycle

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill_all_ends_a_running_command_within_a_second_and_the_next_command_restarts() {
    let host = Host::new().await;
    let id = task("cancel");
    let sb = host.sandbox(&id).await;
    run(&sb, "true").await;

    let marker = "987.61";
    let runner = {
        let sb = sb.clone();
        tokio::spawn(async move { sb.run(Command::new(format!("sleep {marker}"))).await })
    };
    assert!(
        eventually(Duration::from_secs(5), || !host_processes_with(&format!(
            "sleep {marker}"
        ))
        .is_empty())
        .await,
        "the command did not start"
    );

    let start = Instant::now();
    let killed = tokio::time::timeout(Duration::from_secs(3), sb.kill_all()).await;
    assert!(
        killed.is_ok(),
        "kill_all did not return within 3 s while a command was running"
    );
    let answer = tokio::time::timeout(Duration::from_secs(3), runner).await;
    assert!(
        answer.is_ok(),
        "the running command did not end after kill_all"
    );
    assert!(
        start.elapsed() < Duration::from_millis(1500),
        "cancel took {:?}",
        start.elapsed()
    );
    assert!(
        eventually(Duration::from_secs(1), || host_processes_with(&format!(
            "sleep {marker}"
        ))
        .is_empty())
        .await,
        "the sleep survived kill_all"
    );

    let out = run(&sb, "echo restarted").await;
    assert_eq!(out.stdout, "restarted\n");
    host.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill_all_ends_background_processes_and_the_next_command_restarts() {
    let host = Host::new().await;
    let id = task("killbg");
    let sb = host.sandbox(&id).await;
    run(&sb, "sleep 987.62 & echo x > kept.txt").await;
    assert!(!host_processes_with("sleep 987.62").is_empty());
    assert!(sb.is_live().await);

    let start = Instant::now();
    sb.kill_all().await.unwrap();
    assert!(
        start.elapsed() < Duration::from_secs(1),
        "{:?}",
        start.elapsed()
    );
    assert!(!sb.is_live().await);
    assert!(
        eventually(Duration::from_secs(1), || host_processes_with(
            "sleep 987.62"
        )
        .is_empty())
        .await,
        "a background process survived kill_all"
    );

    // Cancel through the manager as well.
    let out = run(&sb, "cat kept.txt; sleep 987.63 &").await;
    assert_eq!(out.stdout, "x\n", "the workspace stays: {out:?}");
    host.manager.stop(&id).await.unwrap();
    assert!(
        eventually(Duration::from_secs(1), || host_processes_with(
            "sleep 987.63"
        )
        .is_empty())
        .await,
        "a background process survived stop"
    );
    let out = run(
        &sb,
        "echo restarted; ps -eo args | grep -c '^sleep 987' || true",
    )
    .await;
    assert_eq!(out.stdout, "restarted\n0\n");
    host.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn idle_sandbox_expires_to_a_snapshot_and_the_next_acquire_restores_it() {
    let host = Host::with(SandboxConfig {
        idle_timeout_secs: 1,
        ..config()
    })
    .await;
    let id = task("idle");
    let sb = host.sandbox(&id).await;
    run(
        &sb,
        "mkdir -p deep/dir && echo keep-me > deep/dir/file.txt && ln -s deep/dir/file.txt link && chmod 700 deep; sleep 987.64 &",
    )
    .await;
    let workspace = host.workspace_of(&id);
    let snapshot = host.snapshot_of(&id);
    assert_eq!(sb.workspace(), workspace);
    drop(sb);

    let reaper = host.manager.spawn_reaper();
    let expired = eventually(Duration::from_secs(15), || {
        snapshot.exists() && !workspace.exists()
    })
    .await;
    reaper.abort();
    assert!(
        expired,
        "after idling: snapshot exists {}, workspace exists {}",
        snapshot.exists(),
        workspace.exists()
    );
    assert!(
        host_processes_with("sleep 987.64").is_empty(),
        "the expired sandbox's processes ended"
    );

    // The next use finds its files where it left them.
    let sb = host.sandbox(&id).await;
    let out = run(&sb, "cat deep/dir/file.txt; readlink link; stat -c %a deep").await;
    assert_eq!(out.stdout, "keep-me\ndeep/dir/file.txt\n700\n", "{out:?}");
    assert_eq!(
        std::fs::read_to_string(workspace.join("deep/dir/file.txt")).unwrap(),
        "keep-me\n"
    );
    host.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn delete_removes_the_workspace_the_snapshot_and_the_processes() {
    let host = Host::new().await;

    // A live task.
    let live = task("del-live");
    let sb = host.sandbox(&live).await;
    run(&sb, "echo data > f.txt; sleep 987.65 &").await;
    assert!(host.workspace_of(&live).join("f.txt").exists());
    host.manager.delete(&live).await.unwrap();
    assert!(!host.workspace_of(&live).exists());
    assert!(!host.snapshot_of(&live).exists());
    assert!(
        eventually(Duration::from_secs(1), || host_processes_with(
            "sleep 987.65"
        )
        .is_empty())
        .await,
        "delete left the task's processes running"
    );

    // An expired task: only its snapshot is left, and delete removes that.
    let parked = task("del-parked");
    let sb = host.sandbox(&parked).await;
    run(&sb, "echo data > f.txt").await;
    host.manager.expire(&parked).await.unwrap();
    assert!(host.snapshot_of(&parked).exists());
    assert!(!host.workspace_of(&parked).exists());
    host.manager.delete(&parked).await.unwrap();
    assert!(!host.snapshot_of(&parked).exists());
    assert!(!host.workspace_of(&parked).exists());

    // A deleted task that comes back starts empty.
    let sb = host.sandbox(&parked).await;
    let out = run(&sb, "ls -A | wc -l").await;
    assert_eq!(out.stdout.trim(), "0", "{out:?}");
    host.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn warm_pool_hands_out_a_started_sandbox_whose_workspace_becomes_the_tasks() {
    let host = Host::with(SandboxConfig {
        warm_pool: 1,
        ..config()
    })
    .await;
    host.manager.fill_pool().await;
    let pool_dir = host.data().join("workspaces/.pool");
    let pooled: Vec<_> = std::fs::read_dir(&pool_dir)
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .collect();
    assert_eq!(pooled.len(), 1, "one warm sandbox: {pooled:?}");

    let id = task("pooled");
    let sb = host
        .acquire(SandboxSpec {
            task_id: id.clone(),
            network: NetworkPolicy::Internet,
            env: TaskEnv {
                env: map(&[("FROM_TASK", "yes")]),
                secrets: BTreeMap::new(),
            },
        })
        .await;
    assert!(sb.id().starts_with("pool-"), "from the pool: {}", sb.id());
    assert!(sb.is_live().await, "already started");
    assert_eq!(sb.workspace(), host.workspace_of(&id));
    assert!(!pooled[0].exists(), "the pool slot was renamed");

    let out = run(&sb, "pwd; echo $FROM_TASK; echo made > made-here.txt").await;
    assert_eq!(out.stdout, "/workspace\nyes\n");
    assert_eq!(
        std::fs::read_to_string(host.workspace_of(&id).join("made-here.txt")).unwrap(),
        "made\n"
    );
    // The same task gets the same sandbox again.
    let again = host
        .acquire(SandboxSpec {
            task_id: id.clone(),
            network: NetworkPolicy::Internet,
            env: TaskEnv::default(),
        })
        .await;
    assert_eq!(again.id(), sb.id());
    host.close().await;
}

// ---------------------------------------------------------------- attached programs

/// A program left running for the host (a local MCP server): its stdin and stdout reach the
/// host over the attach socket, its stderr separately; it runs as the sandbox user in the
/// workspace; hanging up ends it; a connection without the start's token is turned away.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_attached_programs_streams_reach_the_host_and_hanging_up_ends_it() {
    use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
    let host = Host::new().await;
    let id = task("attach");
    let sb = host.sandbox(&id).await;
    let program = sigmic::sandbox::Program {
        command: "echo started >&2; echo \"$(id -u) $PWD $GREETING\"; while read -r line; do echo \"got $line\"; done".into(),
        cwd: String::new(),
        env: vec![("GREETING".into(), "hi".into())],
    };
    let attached = tokio::time::timeout(Duration::from_secs(20), sb.attach(program))
        .await
        .expect("attached in time")
        .unwrap();
    let (read, mut write) = attached.stdio.into_split();
    // Written at once, before the program has said anything: a short message must not wait
    // for more to come (a one-line-at-a-time protocol would hang).
    write.write_all(b"ping\n").await.unwrap();
    let mut lines = BufReader::new(read).lines();
    let first = tokio::time::timeout(Duration::from_secs(10), lines.next_line())
        .await
        .expect("a first line in time")
        .unwrap()
        .unwrap();
    assert_eq!(first, "1000 /workspace hi");
    let echoed = tokio::time::timeout(Duration::from_secs(10), lines.next_line())
        .await
        .expect("an answer in time")
        .unwrap()
        .unwrap();
    assert_eq!(echoed, "got ping");
    let mut errors = BufReader::new(attached.stderr).lines();
    assert_eq!(
        errors.next_line().await.unwrap().as_deref(),
        Some("started")
    );
    // Commands go on beside it.
    let out = run(&sb, "echo beside").await;
    assert_eq!(out.stdout, "beside\n");
    // Hanging up ends the program.
    drop(write);
    drop(lines);
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let out = run(&sb, "ps -eo args | grep -c '[w]hile read' || true").await;
        if out.stdout.trim() == "0" {
            break;
        }
        assert!(Instant::now() < deadline, "the program still runs: {out:?}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    // A sandboxed program that knocks without a token gets nothing.
    let out = run(
        &sb,
        "python3 -c \"import socket; s = socket.socket(socket.AF_UNIX); s.connect('/.sigmic/attach.sock'); s.sendall(b'guess stdio\\n'); s.settimeout(3); print(repr(s.recv(10)))\"",
    )
    .await;
    assert_eq!(out.stdout.trim(), "b''", "{out:?}");
    host.close().await;
}
