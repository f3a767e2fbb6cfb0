//! What a command sees of its task: the environment variables, and the working directory
//! it names, mapped into the sandbox's `/workspace`.

use std::collections::BTreeMap;
use std::path::{Component, Path};

use super::SandboxError;

/// The environment of a task's commands: plain variables and secrets (a secret wins a clash).
#[derive(Clone, Default)]
pub struct TaskEnv {
    pub env: BTreeMap<String, String>,
    pub secrets: BTreeMap<String, String>,
}

/// Names only for the secrets, so a log line with a spec in it cannot leak a value.
impl std::fmt::Debug for TaskEnv {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TaskEnv")
            .field("env", &self.env)
            .field("secrets", &self.secrets.keys().collect::<Vec<_>>())
            .finish()
    }
}

/// `PATH` and friends every command gets, with the egress proxy's address.
pub(super) fn base_env() -> Vec<(String, String)> {
    let mut vars: Vec<(String, String)> = [
        (
            "PATH",
            "/usr/local/bin:/usr/bin:/bin:/usr/local/sbin:/usr/sbin:/sbin",
        ),
        ("HOME", "/tmp/home"),
        ("LANG", "C.UTF-8"),
        ("TERM", "dumb"),
        ("TMPDIR", "/tmp"),
    ]
    .iter()
    .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
    .collect();
    vars.extend(crate::egress::relay::proxy_env());
    vars
}

/// `""`, `src`, `./src`, `/workspace/src` → `/workspace/src`; `..` and other absolute paths
/// are refused.
pub fn sandbox_cwd(cwd: &str) -> Result<String, SandboxError> {
    let rel = cwd
        .strip_prefix("/workspace")
        .map(|r| r.trim_start_matches('/'))
        .unwrap_or(cwd);
    let path = Path::new(rel);
    if path.is_absolute()
        || path
            .components()
            .any(|c| !matches!(c, Component::Normal(_) | Component::CurDir))
    {
        return Err(SandboxError::BadCwd(cwd.to_owned()));
    }
    let joined = Path::new("/workspace").join(path);
    Ok(joined.display().to_string())
}
