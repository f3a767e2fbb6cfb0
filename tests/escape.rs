//! The escape corpus: what a hostile command might try, each run as a sandboxed command
//! through the public API, each asserting the attempt failed and checking on the host's side
//! that nothing outside the sandbox was read, written or reached.
//!
//! Test names read as the list of attempts.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeMap;
use std::io::ErrorKind;
use std::net::TcpListener;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use sigmic::config::SandboxConfig;
use sigmic::egress::NetworkPolicy;
use sigmic::sandbox::Sandbox;
use sigmic::sandbox::bwrap::TaskEnv;
use sigmic::sandbox::manager::SandboxSpec;
use sigmic_testkit::sandbox::*;

/// Files the sandbox hides from the host's /etc (it shows them empty).
const HIDDEN: &[&str] = &[
    "/etc/shadow",
    "/etc/shadow-",
    "/etc/gshadow",
    "/etc/gshadow-",
    "/etc/sudoers",
    "/etc/security/opasswd",
];

/// A distinctive piece of a host file, to look for in what a command printed.
fn fingerprint(path: &str) -> Option<String> {
    let text = std::fs::read(path).ok()?;
    let text = String::from_utf8_lossy(&text);
    let line = text.lines().find(|l| l.trim().len() >= 8)?;
    Some(line.trim().chars().take(40).collect())
}

/// Removes `path` if an attempt created it on the host, and says whether it had.
fn created_on_host(path: &Path) -> bool {
    let there = path.symlink_metadata().is_ok();
    if there {
        let _ = std::fs::remove_file(path).or_else(|_| std::fs::remove_dir_all(path));
    }
    there
}

fn read_host(path: &str) -> String {
    std::fs::read_to_string(path).unwrap_or_default()
}

// ---------------------------------------------------------------- host secrets and data

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn read_host_etc_shadow_sees_an_empty_file() {
    let host = Host::new().await;
    let sb = host.sandbox(&task("esc-shadow")).await;
    let out = run(
        &sb,
        "cat /etc/shadow /etc/gshadow /etc/shadow- /etc/sudoers 2>&1; echo size=$(wc -c < /etc/shadow); grep -r . /etc/ssh /etc/ssl/private /etc/sudoers.d 2>&1 | head -5",
    )
    .await;
    let both = all(&out);
    for f in HIDDEN {
        if let Some(fp) = fingerprint(f) {
            assert!(!both.contains(&fp), "{f} leaked: {out:?}");
        }
    }
    assert!(!both.contains("root:"), "{out:?}");
    assert!(!both.contains("PRIVATE KEY"), "{out:?}");
    // What the hostile command gets instead: an empty file (the intent), not the host's.
    assert!(
        out.stdout.contains("size=0\n"),
        "/etc/shadow reads as an empty file inside: {out:?}"
    );
    host.close().await;
}

/// `/etc` inside is an allow-list: a file of the host's `/etc` that programs do not need is
/// not there, whatever its mode; `passwd` and `group` are the sandbox's own; what programs do
/// need (certificates, name resolution, the library cache) is.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn etc_shows_only_what_programs_need() {
    let host = Host::new().await;
    let sb = host.sandbox(&task("esc-etc-list")).await;
    let out = run(
        &sb,
        "ls -A /etc; echo ---; cat /etc/passwd; echo ---; id -un; echo ---; ls /etc/ssl/certs | wc -l",
    )
    .await;
    let parts: Vec<&str> = out.stdout.split("---\n").collect();
    assert_eq!(parts.len(), 4, "{out:?}");
    let listed: Vec<&str> = parts[0].lines().collect();
    let host_only: Vec<&str> = [
        "fstab",
        "machine-id",
        "hostname",
        "crontab",
        "apt",
        "adduser.conf",
        "debconf.conf",
        "login.defs",
        "pam.d",
        "cron.d",
        "ssh",
        "sudoers.d",
        "mysql",
        "gitconfig",
        "npmrc",
    ]
    .into_iter()
    .filter(|n| Path::new("/etc").join(n).exists())
    .collect();
    assert!(
        !host_only.is_empty(),
        "no host-only file in this host's /etc to try"
    );
    for name in &host_only {
        assert!(!listed.contains(name), "/etc/{name} is visible: {listed:?}");
    }
    for needed in [
        "passwd",
        "group",
        "hosts",
        "nsswitch.conf",
        "ld.so.cache",
        "ssl",
    ] {
        assert!(
            listed.contains(&needed),
            "/etc/{needed} is missing: {listed:?}"
        );
    }
    // The sandbox's users, not the host's.
    assert!(parts[1].contains("sandbox:x:1000:1000:"), "{out:?}");
    assert!(
        !parts[1].contains("postgres") && !parts[1].contains("daemon:"),
        "{out:?}"
    );
    assert_eq!(parts[2].trim(), "sandbox");
    assert!(
        parts[3].trim().parse::<u32>().unwrap() > 0,
        "no CA certificates: {out:?}"
    );
    host.close().await;
}

/// Root-only files of the host's /etc other than the hidden ones (for example a service's
/// credentials): the sandbox must not read them either.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn read_root_only_host_files_in_etc() {
    fn walk(dir: &Path, depth: u32, found: &mut Vec<PathBuf>) {
        let Ok(entries) = std::fs::read_dir(dir) else {
            return;
        };
        for e in entries.flatten() {
            let p = e.path();
            let Ok(m) = p.symlink_metadata() else {
                continue;
            };
            if m.is_dir() && depth > 0 {
                if !["/etc/ssh", "/etc/ssl/private", "/etc/sudoers.d"]
                    .iter()
                    .any(|h| p == Path::new(h))
                {
                    walk(&p, depth - 1, found);
                }
            } else if m.is_file()
                && m.uid() == 0
                && m.mode() & 0o077 == 0
                && m.len() >= 8
                && !HIDDEN.iter().any(|h| p == Path::new(h))
            {
                found.push(p);
            }
        }
    }
    let mut secrets = Vec::new();
    walk(Path::new("/etc"), 3, &mut secrets);
    if secrets.is_empty() {
        eprintln!("no root-only file in this host's /etc to try");
        return;
    }
    let host = Host::new().await;
    let sb = host.sandbox(&task("esc-rootonly")).await;
    let mut leaked = Vec::new();
    for path in &secrets {
        let p = path.display().to_string();
        let Some(fp) = fingerprint(&p) else { continue };
        let out = run(&sb, &format!("cat '{p}'")).await;
        if all(&out).contains(&fp) {
            leaked.push(p);
        }
    }
    assert!(
        leaked.is_empty(),
        "root-only (mode 0600, owner root) host files readable inside the sandbox: {leaked:?}"
    );
    host.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn read_the_servers_data_dir_and_database_by_host_path() {
    let host = Host::new().await;
    let canary = format!("data-canary-{}", std::process::id());
    std::fs::write(host.data().join("sigmic.db"), &canary).unwrap();
    std::fs::write(host.data().join("config.toml"), &canary).unwrap();
    let data = host.data().display().to_string();
    let sb = host.sandbox(&task("esc-data")).await;
    let out = run(
        &sb,
        &format!(
            "cat {data}/sigmic.db {data}/config.toml; ls -la {data} {data}/workspaces {data}/snapshots; \
             ls /var/lib/postgresql /root /home /run /var/run 2>&1; find / -name sigmic.db -not -path '/proc/*' 2>/dev/null"
        ),
    )
    .await;
    let both = all(&out);
    assert!(!both.contains(&canary), "the data dir was read: {out:?}");
    assert!(!out.stdout.contains("sigmic.db"), "{out:?}");
    host.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reach_another_tasks_workspace_by_host_path() {
    let host = Host::new().await;
    let (a, b) = (task("esc-ws-a"), task("esc-ws-b"));
    let sb_b = host.sandbox(&b).await;
    let canary = format!("task-b-canary-{}", std::process::id());
    run(&sb_b, &format!("echo {canary} > canary.txt")).await;
    let b_dir = host.workspace_of(&b).display().to_string();

    let sb_a = host.sandbox(&a).await;
    let out = run(
        &sb_a,
        &format!(
            "cat {b_dir}/canary.txt; cat /workspace/../{b}/canary.txt; ls {b_dir}; echo evil > {b_dir}/evil.txt; \
             find / -name canary.txt -not -path '/proc/*' 2>/dev/null"
        ),
    )
    .await;
    assert!(!all(&out).contains(&canary), "{out:?}");
    assert!(!out.stdout.contains("canary.txt"), "{out:?}");
    assert!(!created_on_host(&host.workspace_of(&b).join("evil.txt")));
    assert_eq!(
        std::fs::read_to_string(host.workspace_of(&b).join("canary.txt")).unwrap(),
        format!("{canary}\n")
    );
    host.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reach_another_tasks_workspace_through_proc() {
    let host = Host::new().await;
    let (a, b) = (task("esc-proc-a"), task("esc-proc-b"));
    let sb_b = host.sandbox(&b).await;
    let canary = format!("task-b-proc-canary-{}", std::process::id());
    run(
        &sb_b,
        &format!("echo {canary} > canary.txt; sleep 987.71 &"),
    )
    .await;
    let b_pids = host_processes_with("sleep 987.71");
    assert!(!b_pids.is_empty());

    let sb_a = host.sandbox(&a).await;
    let mut attempt = String::from(
        "cat /proc/*/root/workspace/canary.txt /proc/*/cwd/canary.txt 2>/dev/null; ls /proc/*/root/workspace 2>/dev/null;",
    );
    for pid in &b_pids {
        attempt.push_str(&format!(
            " cat /proc/{pid}/cwd/canary.txt /proc/{pid}/root/workspace/canary.txt; ls /proc/{pid}/cwd/;"
        ));
    }
    let out = run(&sb_a, &attempt).await;
    assert!(!all(&out).contains(&canary), "{out:?}");
    assert!(!out.stdout.contains("canary.txt"), "{out:?}");
    host.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn read_another_tasks_secret_from_the_environment() {
    let host = Host::new().await;
    let secret = format!("b-secret-{}", std::process::id());
    let secrets = [("B_KEY".to_owned(), secret.clone())].into_iter().collect();
    let sb_b = host
        .acquire(SandboxSpec {
            task_id: task("esc-sec-b"),
            network: NetworkPolicy::Off,
            env: TaskEnv {
                env: BTreeMap::new(),
                secrets,
            },
        })
        .await;
    run(&sb_b, "sleep 987.72 &").await;
    let sb_a = host.sandbox(&task("esc-sec-a")).await;
    let out = run(
        &sb_a,
        "env; cat /proc/*/environ 2>/dev/null | tr '\\0' '\\n'; echo B_KEY=$B_KEY",
    )
    .await;
    assert!(!all(&out).contains(&secret), "{out:?}");
    assert!(out.stdout.contains("B_KEY=\n"), "{out:?}");
    host.close().await;
}

// ---------------------------------------------------------------- host processes

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn see_host_processes() {
    let host = Host::new().await;
    let mut canary = HostProcess::sleep("4242.81");
    let sb = host.sandbox(&task("esc-ps")).await;
    let out = run(
        &sb,
        "ps -eo pid,args; echo ---; ls /proc | grep -c '^[0-9]'; cat /proc/[0-9]*/cmdline 2>/dev/null | tr '\\0' ' '",
    )
    .await;
    assert!(
        !all(&out).contains("4242.81"),
        "a host process is visible: {out:?}"
    );
    assert!(!out.stdout.contains("cargo"), "{out:?}");
    let count: usize = out
        .stdout
        .split("---\n")
        .nth(1)
        .and_then(|s| s.lines().next())
        .and_then(|l| l.trim().parse().ok())
        .expect("a count of /proc entries");
    assert!(count <= 10, "{count} PIDs visible: {out:?}");
    assert!(canary.alive());
    host.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn signal_a_host_process() {
    let host = Host::new().await;
    let mut canary = HostProcess::sleep("4242.82");
    let pid = canary.pid();
    let sb = host.sandbox(&task("esc-kill")).await;
    let out = run(&sb, &format!("kill -9 {pid}; kill -STOP {pid}; echo done")).await;
    assert!(out.stdout.contains("done"), "{out:?}");
    // Everything it may signal: only its own sandbox (the answer may be lost with it).
    let _ = sb.run(sigmic::sandbox::Command::new("kill -9 -1")).await;
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert!(canary.alive(), "the sandbox killed a host process");
    let state = read_host(&format!("/proc/{pid}/stat"));
    assert!(
        !state.contains(") T "),
        "the sandbox stopped a host process: {state}"
    );
    assert!(host_can_spawn());
    // The task's sandbox comes back for its next command.
    let out = run(&sb, "echo back").await;
    assert_eq!(out.stdout, "back\n");
    host.close().await;
}

// ---------------------------------------------------------------- writing outside /workspace

async fn write_attempts_fail(task_name: &str, targets: &[PathBuf]) {
    let host = Host::new().await;
    let sb = host.sandbox(&task(task_name)).await;
    for target in targets {
        let t = target.display();
        let out = run(
            &sb,
            &format!("echo pwned > {t} || touch {t} || mkdir {t} || cp /bin/true {t}"),
        )
        .await;
        let made = created_on_host(target);
        assert!(!made, "{t} was created on the host: {out:?}");
        assert_ne!(
            out.exit_code,
            Some(0),
            "writing {t} succeeded inside: {out:?}"
        );
    }
    host.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn write_into_usr() {
    let n = std::process::id();
    write_attempts_fail(
        "esc-usr",
        &[
            PathBuf::from(format!("/usr/escape-{n}")),
            PathBuf::from(format!("/usr/bin/escape-{n}")),
            PathBuf::from(format!("/usr/local/bin/escape-{n}")),
            PathBuf::from(format!("/bin/escape-{n}")),
        ],
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn write_into_etc() {
    let n = std::process::id();
    let before = read_host("/etc/passwd");
    write_attempts_fail(
        "esc-etc",
        &[
            PathBuf::from(format!("/etc/escape-{n}")),
            PathBuf::from(format!("/etc/cron.d/escape-{n}")),
        ],
    )
    .await;
    let host = Host::new().await;
    let sb = host.sandbox(&task("esc-etc2")).await;
    let out = run(&sb, "echo 'evil:x:0:0::/:/bin/sh' >> /etc/passwd").await;
    assert_ne!(out.exit_code, Some(0), "{out:?}");
    assert_eq!(
        read_host("/etc/passwd"),
        before,
        "the host's /etc/passwd changed"
    );
    host.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn write_into_the_root_directory() {
    let n = std::process::id();
    write_attempts_fail(
        "esc-root",
        &[
            PathBuf::from(format!("/escape-{n}")),
            PathBuf::from(format!("/var/tmp/escape-{n}")),
            PathBuf::from(format!("/root/escape-{n}")),
        ],
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn write_into_the_servers_data_dir_by_host_path() {
    let host = Host::new().await;
    let other = task("esc-dw-other");
    host.sandbox(&other).await;
    let sb = host.sandbox(&task("esc-dw")).await;
    let targets = [
        host.data().join("evil.txt"),
        host.data().join("snapshots").join(format!("{other}.tar")),
        host.workspace_of(&other).join("evil.txt"),
    ];
    for target in &targets {
        let t = target.display();
        let out = run(&sb, &format!("echo pwned > {t}")).await;
        assert_ne!(out.exit_code, Some(0), "{out:?}");
        assert!(!created_on_host(target), "{t} was created on the host");
    }
    host.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn overwrite_the_supervisor_binary() {
    let exe = Path::new(env!("CARGO_BIN_EXE_sigmic"));
    let before = std::fs::metadata(exe).unwrap();
    let host = Host::new().await;
    let sb = host.sandbox(&task("esc-sup")).await;
    let out = run(
        &sb,
        "printf x >> /.sigmic/sigmic || cp /bin/true /.sigmic/sigmic || mv /.sigmic/sigmic /workspace/s",
    )
    .await;
    assert_ne!(out.exit_code, Some(0), "{out:?}");
    let after = std::fs::metadata(exe).unwrap();
    assert_eq!(
        before.len(),
        after.len(),
        "the server's binary changed size"
    );
    assert_eq!(
        before.mtime(),
        after.mtime(),
        "the server's binary was written"
    );
    host.close().await;
}

// ---------------------------------------------------------------- namespaces and privileges

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mount_tmpfs_proc_and_bind() {
    let host = Host::new().await;
    let sb = host.sandbox(&task("esc-mount")).await;
    for attempt in [
        "mkdir -p /tmp/m && mount -t tmpfs none /tmp/m",
        "mkdir -p /tmp/p && mount -t proc proc /tmp/p",
        "mkdir -p /tmp/b && mount --bind / /tmp/b",
        "mount -o remount,rw /usr",
        "umount /etc/shadow",
    ] {
        let out = run(&sb, attempt).await;
        assert_ne!(out.exit_code, Some(0), "`{attempt}` worked: {out:?}");
    }
    let marker = format!("/usr/escape-mount-{}", std::process::id());
    let out = run(
        &sb,
        &format!("grep -cE ' /tmp/(m|p|b) ' /proc/self/mountinfo; touch {marker} 2>&1; cat /etc/shadow | wc -c"),
    )
    .await;
    assert!(out.stdout.starts_with("0\n"), "{out:?}");
    assert!(
        out.stdout.ends_with("\n0\n"),
        "/etc/shadow still hidden: {out:?}"
    );
    assert!(!created_on_host(Path::new(&marker)));
    host.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unshare_a_new_user_or_other_namespace() {
    let host = Host::new().await;
    let sb = host.sandbox(&task("esc-unshare")).await;
    for attempt in [
        "unshare -r id -u",
        "unshare -Urm true",
        "unshare -U --map-root-user --mount sh -c 'mount -t tmpfs none /tmp'",
        "unshare -p -f true",
        "unshare -n true",
    ] {
        let out = run(&sb, attempt).await;
        assert_ne!(out.exit_code, Some(0), "`{attempt}` worked: {out:?}");
        assert!(!out.stdout.trim().eq("0"), "became root: {out:?}");
    }
    host.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nsenter_into_other_namespaces() {
    let host = Host::new().await;
    let sb = host.sandbox(&task("esc-nsenter")).await;
    for attempt in [
        "nsenter -t 1 -a true",
        "nsenter -t 1 -m -u -i -n -p true",
        "nsenter --user=/proc/1/ns/user true",
        "nsenter --net=/proc/1/ns/net true",
    ] {
        let out = run(&sb, attempt).await;
        assert_ne!(out.exit_code, Some(0), "`{attempt}` worked: {out:?}");
    }
    host.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn chroot_out_of_the_sandbox() {
    let host = Host::new().await;
    let sb = host.sandbox(&task("esc-chroot")).await;
    for attempt in [
        "chroot / true",
        "chroot /workspace /bin/true",
        "python3 -c 'import os; os.chroot(\"/tmp\")'",
    ] {
        let out = run(&sb, attempt).await;
        assert_ne!(out.exit_code, Some(0), "`{attempt}` worked: {out:?}");
    }
    host.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ptrace_another_process() {
    let host = Host::new().await;
    let sb = host.sandbox(&task("esc-ptrace")).await;
    let out = run(&sb, "strace -f true").await;
    assert_ne!(out.exit_code, Some(0), "strace worked: {out:?}");
    let out = run(
        &sb,
        "sleep 30 & gdb -batch -nx -p $! -ex 'info registers' 2>&1; kill $!",
    )
    .await;
    assert!(!out.stdout.contains("rip "), "gdb attached: {out:?}");
    let out = run(
        &sb,
        r#"sleep 30 & TARGET=$! python3 -c '
import ctypes, os
libc = ctypes.CDLL(None, use_errno=True)
pid = int(os.environ["TARGET"])
for name, req in (("attach", 16), ("seize", 0x4206)):
    r = libc.ptrace(req, pid, None, None)
    print(name, r, ctypes.get_errno())
r = libc.ptrace(0, 0, None, None)
print("traceme", r, ctypes.get_errno())
'; kill $!"#,
    )
    .await;
    assert_eq!(
        out.stdout, "attach -1 1\nseize -1 1\ntraceme -1 1\n",
        "ptrace is refused with EPERM: {out:?}"
    );
    host.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn setuid_binaries_do_not_give_root() {
    let passwd_before = read_host("/etc/passwd");
    let shadow_before = read_host("/etc/shadow");
    let host = Host::new().await;
    let sb = host.sandbox(&task("esc-setuid")).await;
    let out = run(&sb, "id -u; grep CapEff /proc/self/status").await;
    assert_eq!(out.stdout, "1000\nCapEff:\t0000000000000000\n", "{out:?}");
    for attempt in [
        "su -c 'id -u' root < /dev/null",
        "su root -c 'touch /etc/owned'",
        "passwd -d root",
        "echo 'x\nx' | passwd root",
        "sudo id -u",
        "newgrp root",
    ] {
        let out = run(&sb, attempt).await;
        assert_ne!(out.exit_code, Some(0), "`{attempt}` worked: {out:?}");
        assert!(
            !out.stdout.lines().any(|l| l.trim() == "0"),
            "root: {out:?}"
        );
    }
    // Why: exec cannot raise privileges, and no capability is left to use.
    let out = run(
        &sb,
        "grep -E '^(NoNewPrivs|CapPrm|CapEff|CapBnd|CapAmb):' /proc/self/status",
    )
    .await;
    assert_eq!(
        out.stdout,
        "CapPrm:\t0000000000000000\nCapEff:\t0000000000000000\nCapBnd:\t0000000000000000\nCapAmb:\t0000000000000000\nNoNewPrivs:\t1\n",
        "{out:?}"
    );
    assert_eq!(read_host("/etc/passwd"), passwd_before);
    assert_eq!(read_host("/etc/shadow"), shadow_before);
    assert!(!created_on_host(Path::new("/etc/owned")));
    host.close().await;
}

/// The sandbox's user is mapped to the user running the server. When that is root, a
/// setuid file made in the workspace is a setuid-root program on the host.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn plant_a_setuid_root_program_in_the_workspace_for_the_host() {
    let host = Host::new().await;
    let id = task("esc-plant");
    let sb = host.sandbox(&id).await;
    let out = run(
        &sb,
        "cp /bin/dash suid-sh; chmod 6755 suid-sh; ls -l suid-sh; ./suid-sh -c 'id -u'",
    )
    .await;
    // Inside, no_new_privs and nosuid keep it harmless...
    assert!(out.stdout.ends_with("1000\n"), "{out:?}");
    // ...but on the host it must not be a setuid program owned by root.
    let planted = host.workspace_of(&id).join("suid-sh");
    if let Ok(m) = planted.metadata() {
        let setuid_root = m.mode() & 0o4000 != 0 && m.uid() == 0;
        let setgid_root = m.mode() & 0o2000 != 0 && m.gid() == 0;
        assert!(
            !setuid_root && !setgid_root,
            "the workspace holds a host setuid/setgid-root program: mode {:o}, uid {}, gid {}",
            m.mode(),
            m.uid(),
            m.gid()
        );
    }
    host.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn device_files_and_mknod() {
    let host = Host::new().await;
    let id = task("esc-dev");
    let sb = host.sandbox(&id).await;
    let out = run(
        &sb,
        "for d in /dev/sda /dev/vda /dev/nvme0n1 /dev/mem /dev/kmem /dev/port /dev/kmsg /dev/core /proc/kcore; do head -c 16 $d >/dev/null 2>&1 && echo READ $d; done; ls /dev",
    )
    .await;
    assert!(!out.stdout.contains("READ"), "{out:?}");
    for name in ["sda", "vda", "mem", "kmem", "port"] {
        assert!(
            !out.stdout.lines().any(|l| l.trim() == name),
            "/dev/{name} exists inside: {out:?}"
        );
    }
    for attempt in [
        "mknod sda b 8 0",
        "mknod mem c 1 1",
        "mknod /dev/sda b 8 0",
        "mknod /tmp/vda b 253 0",
        "python3 -c 'import os; os.mknod(\"kmem\", 0o20600, os.makedev(1, 2))'",
    ] {
        let out = run(&sb, attempt).await;
        assert_ne!(out.exit_code, Some(0), "`{attempt}` worked: {out:?}");
    }
    for name in ["sda", "mem", "kmem"] {
        assert!(
            !created_on_host(&host.workspace_of(&id).join(name)),
            "a device node {name} appeared in the host's workspace dir"
        );
    }
    host.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kernel_knobs_in_proc_sys() {
    // Harmless knobs: if a write goes through, the test puts the value back.
    let knobs = [
        ("/proc/sys/kernel/core_uses_pid", "0", "1"),
        ("/proc/sys/vm/swappiness", "60", "13"),
        (
            "/proc/sys/kernel/core_pattern",
            "core",
            "/workspace/pwned-core",
        ),
    ];
    let before: Vec<String> = knobs.iter().map(|(p, _, _)| read_host(p)).collect();
    let host = Host::new().await;
    let sb = host.sandbox(&task("esc-sysctl")).await;
    let mut changed = Vec::new();
    for ((path, _, evil), old) in knobs.iter().zip(&before) {
        let out = run(&sb, &format!("echo '{evil}' > {path}")).await;
        let now = read_host(path);
        if &now != old {
            let _ = std::fs::write(path, old);
            changed.push(format!("{path}: {old:?} -> {now:?} ({out:?})"));
        } else {
            assert_ne!(out.exit_code, Some(0), "writing {path} succeeded: {out:?}");
        }
    }
    let out = run(&sb, "sysctl -w kernel.core_uses_pid=1 2>&1; echo rc=$?").await;
    if read_host(knobs[0].0) != before[0] {
        let _ = std::fs::write(knobs[0].0, &before[0]);
        changed.push(format!("sysctl -w changed core_uses_pid ({out:?})"));
    }
    assert!(
        changed.is_empty(),
        "host kernel settings changed: {changed:?}"
    );
    host.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn write_to_sys() {
    let knob = "/sys/kernel/mm/transparent_hugepage/enabled";
    let before = read_host(knob);
    let host = Host::new().await;
    let sb = host.sandbox(&task("esc-sys")).await;
    let out = run(
        &sb,
        &format!("echo never > {knob} || echo always > {knob} || mkdir -p /sys/kernel"),
    )
    .await;
    assert_ne!(out.exit_code, Some(0), "{out:?}");
    let after = read_host(knob);
    if after != before {
        let chosen = before
            .split_whitespace()
            .find(|w| w.starts_with('['))
            .map(|w| w.trim_matches(['[', ']']).to_owned())
            .unwrap_or_default();
        let _ = std::fs::write(knob, chosen);
        panic!("the sandbox changed {knob}: {before:?} -> {after:?}");
    }
    // Nothing of the host's /sys shows, e.g. its network cards' addresses.
    let out = run(&sb, "ls /sys 2>&1; cat /sys/class/net/*/address 2>&1").await;
    if let Ok(nics) = std::fs::read_dir("/sys/class/net") {
        for nic in nics.flatten() {
            let mac = read_host(&nic.path().join("address").display().to_string());
            let mac = mac.trim();
            if mac.len() == 17 && mac != "00:00:00:00:00:00" {
                assert!(!out.stdout.contains(mac), "{mac} visible: {out:?}");
            }
        }
    }
    host.close().await;
}

#[cfg(target_arch = "x86_64")]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn keyctl_bpf_perf_and_other_dangerous_syscalls() {
    let host = Host::new().await;
    let sb = host.sandbox(&task("esc-syscalls")).await;
    // x86_64 numbers; every call must fail with EPERM (1) from the filter.
    let out = run(
        &sb,
        r#"python3 -c '
import ctypes
libc = ctypes.CDLL(None, use_errno=True)
calls = [("keyctl", 250), ("add_key", 248), ("request_key", 249), ("bpf", 321),
         ("perf_event_open", 298), ("unshare", 272), ("setns", 308), ("mount", 165),
         ("umount2", 166), ("pivot_root", 155), ("open_by_handle_at", 304),
         ("name_to_handle_at", 303), ("userfaultfd", 323), ("process_vm_readv", 310),
         ("fsopen", 430), ("open_tree", 428), ("syslog", 103), ("acct", 163),
         ("quotactl", 179), ("iopl", 172), ("ioperm", 173)]
for name, nr in calls:
    ctypes.set_errno(0)
    r = libc.syscall(nr, 0, 0, 0, 0, 0, 0)
    print(name, r, ctypes.get_errno())
'"#,
    )
    .await;
    let lines: Vec<&str> = out.stdout.lines().collect();
    assert_eq!(lines.len(), 21, "{out:?}");
    for line in lines {
        assert!(line.ends_with(" -1 1"), "not refused with EPERM: {line}");
    }
    // clone with a namespace flag, the way `unshare` would do it without the syscall.
    let out = run(
        &sb,
        r#"python3 -c '
import ctypes, os
libc = ctypes.CDLL(None, use_errno=True)
CLONE_NEWUSER = 0x10000000
SIGCHLD = 17
r = libc.syscall(56, CLONE_NEWUSER | SIGCHLD, 0, 0, 0, 0)
if r == 0:
    os._exit(0)
print("clone", -1 if r < 0 else "child", ctypes.get_errno())
'"#,
    )
    .await;
    assert_eq!(out.stdout, "clone -1 1\n", "{out:?}");
    host.close().await;
}

// ---------------------------------------------------------------- exhaustion

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fork_bomb() {
    let host = Host::with(SandboxConfig {
        max_processes: 64,
        ..config()
    })
    .await;
    let id = task("esc-bomb");
    let sb = host.sandbox(&id).await;
    let start = Instant::now();
    let out = run_cmd(
        &sb,
        with_timeout(
            "b(){ b|b & }; b; sleep 2; echo survived",
            Duration::from_secs(10),
        ),
    )
    .await;
    assert!(start.elapsed() < Duration::from_secs(15));
    assert!(
        out.limit
            .as_deref()
            .unwrap_or_default()
            .contains("processes"),
        "the process limit is named: {out:?}"
    );
    // The bomb is still going inside; the server and the other tasks do not notice.
    assert!(host_can_spawn());
    other_sandbox_is_healthy(&host, &task("esc-bomb-other")).await;
    assert!(
        host_processes_in_cgroup(&format!("task-{id}")).len() <= 64,
        "more processes than the limit"
    );
    // Deleting the task ends the bomb.
    host.manager.delete(&id).await.unwrap();
    assert!(
        eventually(Duration::from_secs(3), || host_processes_in_cgroup(
            &format!("task-{id}")
        )
        .is_empty())
        .await,
        "the bomb survived delete: {:?}",
        host_processes_in_cgroup(&format!("task-{id}"))
    );
    host.close().await;
}

/// Without cgroups (the host has none to give, or they are turned off), the rlimits are the
/// limit: a fork bomb is held to the sandbox's process count, reported as such, and the
/// host and other sandboxes go on.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fork_bomb_with_rlimits_only() {
    let host = Host::with(SandboxConfig {
        max_processes: 64,
        cgroups: false,
        ..config()
    })
    .await;
    let id = task("esc-bomb-rl");
    let sb = host.sandbox(&id).await;
    let out = run_cmd(
        &sb,
        with_timeout(
            "b(){ b|b & }; b; sleep 2; echo survived",
            Duration::from_secs(10),
        ),
    )
    .await;
    // The command ends with an answer (never "the sandbox ended unexpectedly"): its forks
    // were refused at the limit. Naming the limit is best effort
    // here: an rlimit keeps no count of refusals, and the supervisor only samples.
    assert!(out.stderr.contains("fork"), "forks were refused: {out:?}");
    if let Some(limit) = &out.limit {
        assert!(limit.contains("limit of 64 processes"), "{out:?}");
    }
    assert!(host_can_spawn());
    other_sandbox_is_healthy(&host, &task("esc-bomb-rl-other")).await;
    host.manager.delete(&id).await.unwrap();
    host.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn memory_exhaustion() {
    let host = Host::with(SandboxConfig {
        memory_mb: 64,
        ..config()
    })
    .await;
    let sb = host.sandbox(&task("esc-mem")).await;
    let out = run(
        &sb,
        "python3 -c 'a=[]\nwhile True: a.append(bytearray(10**7))'; echo after-hog",
    )
    .await;
    assert!(
        out.limit
            .as_deref()
            .unwrap_or_default()
            .contains("out of memory"),
        "{out:?}"
    );
    assert!(
        out.stdout.contains("after-hog"),
        "only the hog died: {out:?}"
    );
    assert!(host_can_spawn());
    other_sandbox_is_healthy(&host, &task("esc-mem-other")).await;
    host.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn disk_filling_with_one_huge_file() {
    let host = Host::with(SandboxConfig {
        max_file_size_mb: 2,
        ..config()
    })
    .await;
    let id = task("esc-disk1");
    let sb = host.sandbox(&id).await;
    let out = run(&sb, "head -c 200M /dev/zero > huge.bin").await;
    assert_ne!(out.exit_code, Some(0), "{out:?}");
    let size = dir_bytes(&host.workspace_of(&id));
    assert!(size <= 2 * 1024 * 1024, "{size} bytes on the host's disk");
    assert!(
        out.limit.as_deref().unwrap_or_default().contains("2 MB"),
        "a clear error names the file size limit: {out:?}"
    );
    // /tmp inside is memory: filling it is bounded by the memory limit, not the host's disk.
    host.close().await;
}

/// Many files under the file size limit: the workspace limit must stop them, not just be
/// reported after the host's disk took them.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn disk_filling_with_many_files() {
    let host = Host::with(SandboxConfig {
        max_file_size_mb: 1,
        max_workspace_mb: 4,
        ..config()
    })
    .await;
    let id = task("esc-disk2");
    let sb = host.sandbox(&id).await;
    // A filler that never stops on its own: the sandbox must stop it, not its time limit.
    let started = std::time::Instant::now();
    let out = run(
        &sb,
        "i=0; while true; do head -c 1000000 /dev/zero > f$i || break; i=$((i+1)); done",
    )
    .await;
    let size = dir_bytes(&host.workspace_of(&id));
    assert!(
        out.limit
            .as_deref()
            .unwrap_or_default()
            .contains("workspace"),
        "{out:?}"
    );
    assert!(
        !out.timed_out,
        "stopped by the workspace limit, not the clock: {out:?}"
    );
    assert!(started.elapsed() < std::time::Duration::from_secs(5));
    // The workspace is measured while commands run (there are no per-directory quotas on a
    // plain file system), so a fast writer can overshoot by what it writes between two
    // measurements — bounded, not unbounded.
    assert!(
        size <= 64 * 1024 * 1024,
        "the workspace limit is 4 MB, and the command put {size} bytes on the host's disk"
    );
    host.close().await;
}

// ---------------------------------------------------------------- network

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn network_when_it_is_off() {
    use std::os::linux::net::SocketAddrExt;
    use std::os::unix::net::{SocketAddr, UnixListener};

    let host = Host::new().await;
    let tcp = TcpListener::bind("127.0.0.1:0").unwrap();
    tcp.set_nonblocking(true).unwrap();
    let port = tcp.local_addr().unwrap().port();
    let abstract_name = format!("sigmic-escape-{}", std::process::id());
    let unix =
        UnixListener::bind_addr(&SocketAddr::from_abstract_name(&abstract_name).unwrap()).unwrap();
    unix.set_nonblocking(true).unwrap();

    let sb = host.sandbox(&task("esc-net")).await;
    for attempt in [
        format!("curl -sS --max-time 5 http://127.0.0.1:{port}/"),
        format!("wget -q -t 1 -T 5 -O- http://127.0.0.1:{port}/"),
        format!("bash -c 'echo x > /dev/tcp/127.0.0.1/{port}'"),
        format!("python3 -c 'import socket; socket.create_connection((\"127.0.0.1\", {port}), 5)'"),
        format!("python3 -c 'import socket; socket.create_connection((\"::1\", {port}), 5)'"),
        "python3 -c 'import socket; socket.socket(socket.AF_PACKET, socket.SOCK_RAW)'".into(),
        format!(
            "python3 -c 'import socket; s=socket.socket(socket.AF_UNIX); s.connect(b\"\\0{abstract_name}\")'"
        ),
        "getent hosts example.com".into(),
    ] {
        let out = run(&sb, &attempt).await;
        assert_ne!(out.exit_code, Some(0), "`{attempt}` worked: {out:?}");
    }
    assert!(
        matches!(tcp.accept(), Err(e) if e.kind() == ErrorKind::WouldBlock),
        "a TCP connection reached the host"
    );
    assert!(
        matches!(unix.accept(), Err(e) if e.kind() == ErrorKind::WouldBlock),
        "an abstract Unix socket of the host was reached"
    );
    host.close().await;
}

// ---------------------------------------------------------------- the server's environment

const ENV_CANARY_VAR: &str = "SIGMIC_ESCAPE_ENV_CANARY";

/// Runs [`server_env_probe`] in a copy of this test binary whose environment holds a canary,
/// as the server's own environment would hold its database URL or keys.
#[test]
fn server_environment_leaks_into_commands() {
    let canary = format!("host-env-canary-{}", std::process::id());
    let out = std::process::Command::new(std::env::current_exe().unwrap())
        .args(["server_env_probe", "--exact", "--nocapture"])
        .env(ENV_CANARY_VAR, &canary)
        .env(
            "DATABASE_URL",
            format!("postgres://server:{canary}@localhost/sigmic"),
        )
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success() && stdout.contains("1 passed"),
        "the probe failed:\n{stdout}\n{stderr}"
    );
}

/// The child half of `server_environment_leaks_into_commands`; in a plain run, without the
/// canary, it has nothing to probe and returns.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn server_env_probe() {
    let Ok(canary) = std::env::var(ENV_CANARY_VAR) else {
        eprintln!("{ENV_CANARY_VAR} is not set: nothing to probe");
        return;
    };
    let host = Host::new().await;
    let sb = host
        .acquire(SandboxSpec {
            task_id: task("esc-env"),
            network: NetworkPolicy::Off,
            env: TaskEnv {
                env: [("TASK_VAR".to_owned(), "task-value".to_owned())].into(),
                secrets: BTreeMap::new(),
            },
        })
        .await;
    let out = run(&sb, "env; cat /proc/self/environ | tr '\\0' '\\n'").await;
    let both = all(&out);
    assert!(out.stdout.contains("TASK_VAR=task-value"), "{out:?}");
    assert!(
        !both.contains(&canary),
        "the server's environment leaked: {out:?}"
    );
    for name in [
        ENV_CANARY_VAR,
        "DATABASE_URL",
        "CARGO_MANIFEST_DIR",
        "CARGO_PKG_NAME",
        "RUST_TEST_THREADS",
    ] {
        assert!(
            !both.contains(&format!("{name}=")),
            "{name} leaked: {out:?}"
        );
    }
    host.close().await;
}

/// Also not through `/proc`: the sandbox's init and the supervisor that starts commands.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn proc_environ_of_init_and_the_supervisor() {
    let host = Host::new().await;
    let sb = host.sandbox(&task("esc-environ")).await;
    let out = run(
        &sb,
        r#"echo init:; tr '\0' '\n' < /proc/1/environ; for p in /proc/[0-9]*; do case "$(tr '\0' ' ' < $p/cmdline 2>/dev/null)" in "/.sigmic/sigmic sandbox-supervisor"*) echo "supervisor $p:"; tr '\0' '\n' < $p/environ;; esac; done"#,
    )
    .await;
    assert!(
        out.stdout.contains("supervisor /proc/"),
        "found the supervisor: {out:?}"
    );
    let host_vars: Vec<(String, String)> = std::env::vars().filter(|(_, v)| v.len() >= 6).collect();
    for (name, value) in &host_vars {
        assert!(
            !out.stdout.contains(&format!("{name}={value}")),
            "the host's {name} is visible through /proc: {out:?}"
        );
    }
    host.close().await;
}

// ---------------------------------------------------------------- links

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn symlink_to_etc_shadow_reads_the_sandboxs_empty_file() {
    let host = Host::new().await;
    let id = task("esc-ln-shadow");
    let sb = host.sandbox(&id).await;
    let out = run(
        &sb,
        "ln -s /etc/shadow x && cat x | wc -c; ln -s /etc/ssh/ y && ls y/ 2>/dev/null | wc -l",
    )
    .await;
    assert_eq!(out.stdout, "0\n0\n", "{out:?}");
    if let Some(fp) = fingerprint("/etc/shadow") {
        assert!(!all(&out).contains(&fp));
    }
    host.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn symlink_to_the_data_dir_leads_nowhere() {
    let host = Host::new().await;
    let canary = format!("symlink-canary-{}", std::process::id());
    std::fs::write(host.data().join("canary.txt"), &canary).unwrap();
    let data = host.data().display().to_string();
    let sb = host.sandbox(&task("esc-ln-data")).await;
    let out = run(
        &sb,
        &format!("ln -s {data} d && ls d/ ; cat d/canary.txt; ln -s {data}/canary.txt c; cat c; echo pwned > c"),
    )
    .await;
    assert!(!all(&out).contains(&canary), "{out:?}");
    assert_eq!(read_host(&format!("{data}/canary.txt")), canary);
    host.close().await;
}

/// A workspace symlink to a host file survives expiry as a link: the host-side snapshot
/// must not follow it and pack the host file's content.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn symlink_to_a_host_file_packed_into_the_snapshot() {
    let host = Host::new().await;
    let canary = format!("snapshot-canary-{}", std::process::id());
    std::fs::write(host.data().join("secret.txt"), &canary).unwrap();
    let id = task("esc-ln-snap");
    let sb = host.sandbox(&id).await;
    let target = host.data().join("secret.txt");
    run(
        &sb,
        &format!(
            "ln -s {} s1; ln -s /etc/shadow s2; mkdir d; ln -s / d/root",
            target.display()
        ),
    )
    .await;
    host.manager.expire(&id).await.unwrap();
    let tar = std::fs::read(host.snapshot_of(&id)).unwrap();
    let tar = String::from_utf8_lossy(&tar);
    assert!(!tar.contains(&canary), "the snapshot holds a host file");
    if let Some(fp) = fingerprint("/etc/shadow") {
        assert!(!tar.contains(&fp), "the snapshot holds the host's shadow");
    }
    // Restored, the links are links again and still lead nowhere on the host.
    let sb = host.sandbox(&id).await;
    let out = run(&sb, "cat s1; readlink s1").await;
    assert!(!out.stdout.contains(&canary), "{out:?}");
    assert!(
        host.workspace_of(&id)
            .join("s1")
            .symlink_metadata()
            .unwrap()
            .file_type()
            .is_symlink()
    );
    host.close().await;
}

/// While the host hands a workspace over (as it does with every upload), a command swaps a
/// directory in it for a symlink to a host directory, again and again. The hand-over works
/// by handle and never follows a link: the host directory keeps its owner and its modes.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn swap_a_directory_for_a_symlink_while_the_host_walks_it() {
    use std::os::unix::fs::PermissionsExt;
    let host = Host::new().await;
    let target = host.data().join("host-owned");
    std::fs::create_dir_all(&target).unwrap();
    std::fs::write(target.join("file"), "host").unwrap();
    std::fs::write(target.join("setuid"), "#!/bin/sh\n").unwrap();
    std::fs::set_permissions(
        target.join("setuid"),
        std::fs::Permissions::from_mode(0o4755),
    )
    .unwrap();
    let before: Vec<(u32, u32)> = ["", "file", "setuid"]
        .iter()
        .map(|n| {
            let m = std::fs::symlink_metadata(target.join(n)).unwrap();
            (m.uid(), m.mode())
        })
        .collect();
    let id = task("esc-swap");
    let sb = host.sandbox(&id).await;
    let swapper = {
        let sb = sb.clone();
        let link = target.display().to_string();
        tokio::spawn(async move {
            run(
                &sb,
                &format!(
                    "for i in $(seq 1 1500); do mkdir -p d/e && : > d/e/f && rm -rf d && ln -s {link} d && rm -f d; done"
                ),
            )
            .await
        })
    };
    let ws = host.workspace_of(&id);
    let mut walks = 0;
    while !swapper.is_finished() {
        let (m, w) = (host.manager.clone(), ws.clone());
        // Entries vanish mid-walk; an error is fine, following a link is not.
        let _ = tokio::task::spawn_blocking(move || m.hand_over(&w)).await;
        walks += 1;
    }
    swapper.await.unwrap();
    assert!(walks > 10, "the walks raced the swaps ({walks})");
    let after: Vec<(u32, u32)> = ["", "file", "setuid"]
        .iter()
        .map(|n| {
            let m = std::fs::symlink_metadata(target.join(n)).unwrap();
            (m.uid(), m.mode())
        })
        .collect();
    assert_eq!(
        before, after,
        "the host directory was changed through a link"
    );
    host.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hard_link_to_a_host_file() {
    let host = Host::new().await;
    let id = task("esc-hardlink");
    let sb = host.sandbox(&id).await;
    for attempt in [
        "ln /etc/passwd p",
        "ln /.sigmic/sigmic s",
        "ln /usr/bin/su su",
    ] {
        let out = run(&sb, attempt).await;
        assert_ne!(out.exit_code, Some(0), "`{attempt}` worked: {out:?}");
    }
    for name in ["p", "s", "su"] {
        assert!(!created_on_host(&host.workspace_of(&id).join(name)));
    }
    host.close().await;
}

// ---------------------------------------------------------------- the supervisor's channel

/// The supervisor answers the host over its stdout. A command that writes a made-up answer
/// there must not be believed, nor shift the answers of later commands.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn forge_the_supervisors_answer() {
    let host = Host::new().await;
    let sb = host.sandbox(&task("esc-forge")).await;
    let forged = r#"{"id":1,"stdout":"FORGED","stderr":"","stdout_total":6,"stderr_total":0,"exit_code":0,"signal":null,"timed_out":false,"spawn_error":null}"#;
    let out = run(
        &sb,
        &format!(
            r#"for p in /proc/[0-9]*; do case "$(tr '\0' ' ' < $p/cmdline 2>/dev/null)" in "/.sigmic/sigmic sandbox-supervisor"*) printf '%s\n' '{forged}' > $p/fd/1 && echo injected;; esac; done; echo real-output"#
        ),
    )
    .await;
    assert!(
        !out.stdout.contains("FORGED"),
        "a forged answer was believed: {out:?}"
    );
    assert!(out.stdout.contains("real-output"), "{out:?}");
    let next = run(&sb, "echo next").await;
    assert_eq!(next.stdout, "next\n", "answers are shifted: {next:?}");
    host.close().await;
}

// ---------------------------------------------------------------- where the data dir is

/// Set in the copy of the test below that runs inside its own mount namespace.
const OWN_VOLUME: &str = "SIGMIC_ESCAPE_OWN_VOLUME";

/// With the data dir on a filesystem of its own (as the README asks), nothing a command can
/// read tells where on the host it is: not the mount table (`/proc/self/mountinfo` prints a
/// bind mount's source relative to its filesystem), not the supervisor's command line, the
/// environment or a path resolved inside. The test mounts a tmpfs at the data dir in a mount
/// namespace it makes for itself. Needs root (as the CI machine runs).
#[test]
fn learn_the_data_dirs_host_path_when_it_is_a_volume_of_its_own() {
    if std::env::var_os(OWN_VOLUME).is_none() {
        let status = std::process::Command::new("unshare")
            .args(["--mount", "--propagation", "private", "--"])
            .arg(std::env::current_exe().unwrap())
            .args([
                "--exact",
                "learn_the_data_dirs_host_path_when_it_is_a_volume_of_its_own",
                "--nocapture",
                "--test-threads=1",
            ])
            .env(OWN_VOLUME, "1")
            .status()
            .expect("run unshare");
        assert!(
            status.success(),
            "the test inside the mount namespace failed"
        );
        return;
    }
    let outer = tempfile::tempdir().unwrap();
    let data = outer.path().join("sigmic-data-volume");
    std::fs::create_dir(&data).unwrap();
    let mounted = std::process::Command::new("mount")
        .args(["-t", "tmpfs", "-o", "size=2g", "sigmic-test-volume"])
        .arg(&data)
        .status()
        .unwrap();
    assert!(mounted.success(), "mount a tmpfs at the data dir");
    assert_eq!(
        sigmic::sandbox::mountinfo::path_shown_for(&data).as_deref(),
        Some(Path::new("/")),
        "the server sees its data dir as a volume of its own"
    );
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        let manager = sigmic::sandbox::manager::SandboxManager::new(config(), &data)
            .await
            .unwrap();
        assert!(
            manager.unavailable().is_none(),
            "{:?}",
            manager.unavailable()
        );
        let spec = SandboxSpec {
            task_id: task("esc-volume"),
            network: NetworkPolicy::Internet,
            env: TaskEnv::default(),
        };
        let sb = manager.acquire(&spec).await.unwrap();
        let out = run(
            &sb,
            "cat /proc/self/mountinfo /proc/self/mounts /proc/1/mountinfo; \
             tr '\\0' ' ' < /proc/1/cmdline; echo; env; pwd -P; \
             readlink -f /workspace /.sigmic/sigmic /.sigmic/egress.sock /etc/passwd; \
             ls -la / /.sigmic 2>&1",
        )
        .await;
        let both = all(&out);
        assert!(
            both.contains(" /workspace "),
            "the mount table was read: {out:?}"
        );
        let host_path = outer.path().display().to_string();
        assert!(
            !both.contains(&host_path) && !both.contains("sigmic-data-volume"),
            "the data dir's host path ({host_path}) shows inside the sandbox: {both}"
        );
        let _ = sb.kill_all().await;
        manager.shutdown().await;
    });
    let _ = std::process::Command::new("umount").arg(&data).status();
}
