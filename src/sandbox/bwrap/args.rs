//! The `bwrap` command line: which parts of the host a sandbox sees (a read-only system, the
//! few files of `/etc` programs need, its own `/tmp` and `/proc`), where its workspace is
//! and its skills are mounted, and the supervisor it runs as PID 1.

use std::path::Path;

use super::{Launch, Limits};
use crate::egress::relay;

/// Where the sigmic binary (the supervisor) appears inside a sandbox.
const SUPERVISOR_PATH: &str = "/.sigmic/sigmic";
/// Files of the host's `/etc` a sandbox must not read.
const HIDDEN_FILES: &[&str] = &[
    "/etc/shadow",
    "/etc/shadow-",
    "/etc/gshadow",
    "/etc/gshadow-",
    "/etc/sudoers",
    "/etc/security/opasswd",
];
const HIDDEN_DIRS: &[&str] = &["/etc/ssl/private"];
/// What a sandbox sees of the host's `/etc`: what programs need to resolve names, check
/// certificates, load libraries, tell the time and find their alternatives — nothing else,
/// whatever its mode, so a credential some service left readable there stays on the host.
/// `passwd` and `group` are the sandbox's own (its user, root and nobody).
const ETC_ALLOWED: &[&str] = &[
    "hosts",
    "host.conf",
    "nsswitch.conf",
    "gai.conf",
    "protocols",
    "services",
    "networks",
    "ld.so.cache",
    "ld.so.conf",
    "ld.so.conf.d",
    "ssl",
    "ca-certificates",
    "ca-certificates.conf",
    "pki",
    "localtime",
    "timezone",
    "alternatives",
    "mime.types",
    "magic",
    "magic.mime",
    "os-release",
    "debian_version",
    "environment",
    "profile",
    "profile.d",
    "bash.bashrc",
    "inputrc",
    "locale.alias",
    "fonts",
    "xml",
    "java-17-openjdk",
];

/// The `bwrap` command line for a sandbox on `workspace`: what it sees of the host, and the
/// supervisor it starts.
pub(super) fn bwrap_args(
    workspace: &Path,
    skills: &Path,
    egress_socket: &Path,
    attach_socket: &Path,
    limits: &Limits,
    launch: &Launch,
) -> Vec<String> {
    let mut a: Vec<String> = [
        "--unshare-user",
        "--unshare-pid",
        "--unshare-ipc",
        "--unshare-uts",
        "--unshare-cgroup-try",
        // The supervisor is PID 1: no other process in the sandbox holds its pipes.
        "--as-pid-1",
        "--die-with-parent",
        "--new-session",
        "--clearenv",
        "--cap-drop",
        "ALL",
        "--uid",
        "1000",
        "--gid",
        "1000",
        "--hostname",
        "sandbox",
        "--ro-bind",
        "/usr",
        "/usr",
    ]
    .iter()
    .map(|s| (*s).to_owned())
    .collect();
    // Always a network namespace of its own with nothing but loopback: the only way out is
    // the egress proxy's socket, mounted below, which enforces the project's policy.
    a.push("--unshare-net".into());
    // Debian's merged /usr makes these symlinks; elsewhere they are directories.
    for dir in ["/bin", "/sbin", "/lib", "/lib64", "/lib32"] {
        match std::fs::symlink_metadata(dir) {
            Ok(m) if m.file_type().is_symlink() => {
                if let Ok(target) = std::fs::read_link(dir) {
                    a.extend(["--symlink".into(), target.display().to_string(), dir.into()]);
                }
            }
            Ok(_) => a.extend(["--ro-bind".into(), dir.into(), dir.into()]),
            Err(_) => {}
        }
    }
    a.extend(["--dir".into(), "/etc".into()]);
    for name in etc_allowed() {
        let path = format!("/etc/{name}");
        a.extend(["--ro-bind-try".into(), path.clone(), path]);
    }
    for (file, own) in [("passwd", &launch.passwd), ("group", &launch.group)] {
        a.extend([
            "--ro-bind".into(),
            own.display().to_string(),
            format!("/etc/{file}"),
        ]);
    }
    a.extend([
        "--ro-bind".into(),
        launch.resolv_conf.display().to_string(),
        "/etc/resolv.conf".into(),
    ]);
    for f in HIDDEN_FILES {
        if Path::new(f).exists() {
            a.extend([
                "--ro-bind".into(),
                launch.empty_file.display().to_string(),
                (*f).into(),
            ]);
        }
    }
    for d in HIDDEN_DIRS {
        if Path::new(d).is_dir() {
            a.extend(["--tmpfs".into(), (*d).into()]);
        }
    }
    a.extend(
        [
            "--proc",
            "/proc",
            "--dev",
            "/dev",
            "--tmpfs",
            "/tmp",
            "--dir",
            "/tmp/home",
            "--bind",
        ]
        .iter()
        .map(|s| (*s).to_owned()),
    );
    a.push(workspace.display().to_string());
    a.push("/workspace".into());
    // The project's skills, laid out by the server when a run starts; never the sandbox's to
    // change.
    a.extend([
        "--ro-bind".into(),
        skills.display().to_string(),
        crate::skills::MOUNT.into(),
    ]);
    a.extend([
        "--ro-bind".into(),
        launch.exe.display().to_string(),
        SUPERVISOR_PATH.into(),
        "--bind".into(),
        egress_socket.display().to_string(),
        relay::SOCKET_IN_SANDBOX.into(),
        "--bind".into(),
        attach_socket.display().to_string(),
        super::attach::SOCKET_IN_SANDBOX.into(),
    ]);
    a.extend(["--chdir".into(), "/workspace".into()]);
    a.extend([
        "--".into(),
        SUPERVISOR_PATH.into(),
        "sandbox-supervisor".into(),
        "--egress-socket".into(),
        relay::SOCKET_IN_SANDBOX.into(),
        "--attach-socket".into(),
        super::attach::SOCKET_IN_SANDBOX.into(),
        "--max-file-bytes".into(),
        limits.max_file_bytes.to_string(),
    ]);
    // Without cgroups, rlimits are the floor: address space per process, and processes of
    // the sandbox's user, counted in its own user namespace, so per sandbox.
    if !launch.use_cgroups {
        a.extend([
            "--address-space-bytes".into(),
            limits.memory_bytes.to_string(),
            "--max-processes".into(),
            limits.max_processes.to_string(),
        ]);
    }
    a
}

/// The names of `ETC_ALLOWED`, and the host's Python configuration (`python3`, `python3.11`).
fn etc_allowed() -> Vec<String> {
    let mut names: Vec<String> = ETC_ALLOWED.iter().map(|n| (*n).to_owned()).collect();
    if let Ok(entries) = std::fs::read_dir("/etc") {
        names.extend(
            entries
                .filter_map(|e| e.ok()?.file_name().into_string().ok())
                .filter(|n| n.starts_with("python3")),
        );
    }
    names
}
