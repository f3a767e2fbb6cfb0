//! The supervisor's lock-down, applied to itself before it runs anything, so every command
//! inherits it: `no_new_privs`, a seccomp filter and, where the kernel has it, Landlock.

use std::collections::BTreeMap;

use seccompiler::{
    BpfProgram, SeccompAction, SeccompCmpArgLen, SeccompCmpOp, SeccompCondition, SeccompFilter,
    SeccompRule, TargetArch,
};

#[derive(Debug, thiserror::Error)]
pub enum PolicyError {
    #[error("no_new_privs: {0}")]
    NoNewPrivs(nix::Error),
    #[error("seccomp: {0}")]
    Seccomp(String),
    #[error("landlock: {0}")]
    Landlock(String),
}

/// Syscalls a command never needs and an escape often does. They fail with `EPERM`.
const DENIED: &[i64] = &[
    libc::SYS_ptrace,
    libc::SYS_process_vm_readv,
    libc::SYS_process_vm_writev,
    libc::SYS_mount,
    libc::SYS_umount2,
    libc::SYS_pivot_root,
    libc::SYS_unshare,
    libc::SYS_setns,
    libc::SYS_bpf,
    libc::SYS_keyctl,
    libc::SYS_add_key,
    libc::SYS_request_key,
    libc::SYS_perf_event_open,
    libc::SYS_kexec_load,
    libc::SYS_kexec_file_load,
    libc::SYS_init_module,
    libc::SYS_finit_module,
    libc::SYS_delete_module,
    libc::SYS_reboot,
    libc::SYS_swapon,
    libc::SYS_swapoff,
    libc::SYS_acct,
    libc::SYS_quotactl,
    libc::SYS_syslog,
    libc::SYS_open_by_handle_at,
    libc::SYS_name_to_handle_at,
    libc::SYS_userfaultfd,
    libc::SYS_iopl,
    libc::SYS_ioperm,
    libc::SYS_fsopen,
    libc::SYS_fsmount,
    libc::SYS_fsconfig,
    libc::SYS_move_mount,
    libc::SYS_open_tree,
    libc::SYS_mount_setattr,
];

/// Flags that make `clone` create a namespace: refused like `unshare`.
const NAMESPACE_FLAGS: [libc::c_int; 7] = [
    libc::CLONE_NEWNS,
    libc::CLONE_NEWUSER,
    libc::CLONE_NEWPID,
    libc::CLONE_NEWNET,
    libc::CLONE_NEWUTS,
    libc::CLONE_NEWIPC,
    libc::CLONE_NEWCGROUP,
];

fn errno(e: i32) -> SeccompAction {
    SeccompAction::Errno(u32::try_from(e).unwrap_or(1))
}

fn rule(conditions: Vec<SeccompCondition>) -> Result<SeccompRule, PolicyError> {
    SeccompRule::new(conditions).map_err(|e| PolicyError::Seccomp(e.to_string()))
}

fn cond(arg: u8, op: SeccompCmpOp, value: u64) -> Result<SeccompCondition, PolicyError> {
    SeccompCondition::new(arg, SeccompCmpArgLen::Qword, op, value)
        .map_err(|e| PolicyError::Seccomp(e.to_string()))
}

fn compile(
    rules: BTreeMap<i64, Vec<SeccompRule>>,
    on_match: SeccompAction,
) -> Result<BpfProgram, PolicyError> {
    let arch = TargetArch::try_from(std::env::consts::ARCH)
        .map_err(|e| PolicyError::Seccomp(e.to_string()))?;
    let filter = SeccompFilter::new(rules, SeccompAction::Allow, on_match, arch)
        .map_err(|e| PolicyError::Seccomp(e.to_string()))?;
    BpfProgram::try_from(filter).map_err(|e| PolicyError::Seccomp(e.to_string()))
}

/// Socket families a command may open: local, IP (its namespace has only loopback, and the
/// egress relay on it) and netlink (which programs use to list interfaces).
const SOCKET_FAMILIES: [libc::c_int; 4] = [
    libc::AF_UNIX,
    libc::AF_INET,
    libc::AF_INET6,
    libc::AF_NETLINK,
];

/// Everything refused with `EPERM`: the denied syscalls, namespace-creating `clone`, and
/// sockets of other families (raw packet sockets, among others).
pub fn seccomp_program() -> Result<BpfProgram, PolicyError> {
    let mut rules: BTreeMap<i64, Vec<SeccompRule>> = BTreeMap::new();
    for sys in DENIED {
        rules.insert(*sys, Vec::new());
    }
    let mut clone_rules = Vec::new();
    for flag in NAMESPACE_FLAGS {
        let flag = flag as u64;
        clone_rules.push(rule(vec![cond(0, SeccompCmpOp::MaskedEq(flag), flag)?])?);
    }
    rules.insert(libc::SYS_clone, clone_rules);
    // A rule matches when all its conditions hold: the family is none of the allowed ones.
    let other_family = SOCKET_FAMILIES
        .iter()
        .map(|f| cond(0, SeccompCmpOp::Ne, *f as u64))
        .collect::<Result<Vec<_>, _>>()?;
    for sys in [libc::SYS_socket, libc::SYS_socketpair] {
        rules.insert(sys, vec![rule(other_family.clone())?]);
    }
    compile(rules, errno(libc::EPERM))
}

/// `clone3` keeps its flags in memory a filter cannot read, so it is refused as unknown
/// (`ENOSYS`), and the C library falls back to `clone`, which the filter above can check.
pub fn seccomp_clone3_program() -> Result<BpfProgram, PolicyError> {
    let mut rules: BTreeMap<i64, Vec<SeccompRule>> = BTreeMap::new();
    rules.insert(libc::SYS_clone3, Vec::new());
    compile(rules, errno(libc::ENOSYS))
}

/// Applies everything; answers whether Landlock was enforced.
pub fn lock_down() -> Result<bool, PolicyError> {
    nix::sys::prctl::set_no_new_privs().map_err(PolicyError::NoNewPrivs)?;
    let landlock = landlock_workspace()?;
    for program in [seccomp_program()?, seccomp_clone3_program()?] {
        seccompiler::apply_filter(&program).map_err(|e| PolicyError::Seccomp(e.to_string()))?;
    }
    Ok(landlock)
}

/// Reading and running anything the sandbox shows is allowed; writing only in the workspace,
/// `/tmp` and `/dev` (for `/dev/null`).
fn landlock_workspace() -> Result<bool, PolicyError> {
    use landlock::{
        ABI, Access, AccessFs, Ruleset, RulesetAttr, RulesetCreatedAttr, RulesetStatus,
        path_beneath_rules,
    };
    let abi = ABI::V5;
    let err = |e: landlock::RulesetError| PolicyError::Landlock(e.to_string());
    let status = Ruleset::default()
        .handle_access(AccessFs::from_all(abi))
        .map_err(err)?
        .create()
        .map_err(err)?
        .add_rules(path_beneath_rules(["/"], AccessFs::from_read(abi)))
        .map_err(err)?
        .add_rules(path_beneath_rules(
            ["/workspace", "/tmp", "/dev"],
            AccessFs::from_all(abi),
        ))
        .map_err(err)?
        .restrict_self()
        .map_err(err)?;
    Ok(status.ruleset != RulesetStatus::NotEnforced)
}
