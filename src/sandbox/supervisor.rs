//! The supervisor: `sigmic sandbox-supervisor`, started by bubblewrap as the first process in
//! a sandbox. It locks itself down, says it is ready, then runs each requested command with
//! `/bin/sh -c` in its own process group, bounded in time and output. Being inside, it
//! costs one process spawn per command instead of one sandbox start.

use std::io::{BufRead, Read, Write};
use std::os::unix::process::CommandExt;
use std::process::{Command, ExitCode, Stdio};
use std::sync::{Arc, Mutex, mpsc};
use std::thread;
use std::time::Duration;

use nix::errno::Errno;
use nix::sys::resource::{Resource, setrlimit};
use nix::sys::signal::{Signal, killpg};
use nix::sys::wait::{WaitStatus, waitpid};
use nix::unistd::Pid;

use super::messages::{Ready, Request, Response};
use super::policy;

pub struct Options {
    /// The egress proxy's socket, relayed to from the sandbox's loopback; no network without.
    pub egress_socket: Option<std::path::PathBuf>,
    /// The host's socket that attached programs' streams connect to.
    pub attach_socket: Option<std::path::PathBuf>,
    /// Largest file a command may write (`RLIMIT_FSIZE`).
    pub max_file_bytes: u64,
    /// Address-space cap per process, only when no cgroup limits memory.
    pub address_space_bytes: Option<u64>,
    /// Processes (and threads) of the sandbox's user, only when no cgroup limits them.
    pub max_processes: Option<u64>,
}

/// How long a command's output streams may stay open after the command itself exits (a
/// background job holding them must not hang the answer).
const DRAIN_GRACE: Duration = Duration::from_millis(100);

/// How often the process count is sampled while a command runs under an rlimit: a fork bomb
/// at its limit can collapse within milliseconds, and a reading of /proc costs microseconds.
const PROCESS_SAMPLE: Duration = Duration::from_millis(2);

pub fn run(options: Options) -> ExitCode {
    let landlock = match setup(&options) {
        Ok(l) => l,
        Err(e) => {
            eprintln!("sandbox-supervisor: {e}");
            return ExitCode::FAILURE;
        }
    };
    let mut out = std::io::stdout().lock();
    if emit(
        &mut out,
        &Ready {
            ready: true,
            landlock,
        },
    )
    .is_err()
    {
        return ExitCode::FAILURE;
    }
    let stdin = std::io::stdin();
    for line in stdin.lock().lines() {
        let Ok(line) = line else { break };
        let response = match serde_json::from_str::<Request>(&line) {
            Ok(req) => match (&req.attach, &options.attach_socket) {
                (Some(token), Some(socket)) => attach(&req, socket, token),
                (Some(_), None) => Response {
                    id: req.id,
                    spawn_error: Some("this sandbox has no attach socket".into()),
                    ..Response::default()
                },
                (None, _) => execute(req, options.max_processes),
            },
            Err(e) => Response {
                spawn_error: Some(format!("bad request: {e}")),
                ..Response::default()
            },
        };
        if emit(&mut out, &response).is_err() {
            break;
        }
    }
    ExitCode::SUCCESS
}

fn setup(options: &Options) -> Result<bool, String> {
    // Commands run as the same user; without this they could open our stdin and stdout
    // through /proc/<pid>/fd and speak to the host in our name.
    nix::sys::prctl::set_dumpable(false).map_err(|e| format!("dumpable: {e}"))?;
    setrlimit(Resource::RLIMIT_CORE, 0, 0).map_err(|e| format!("rlimit core: {e}"))?;
    setrlimit(
        Resource::RLIMIT_FSIZE,
        options.max_file_bytes,
        options.max_file_bytes,
    )
    .map_err(|e| format!("rlimit fsize: {e}"))?;
    if let Some(bytes) = options.address_space_bytes {
        setrlimit(Resource::RLIMIT_AS, bytes, bytes).map_err(|e| format!("rlimit as: {e}"))?;
    }
    if let Some(n) = options.max_processes {
        setrlimit(Resource::RLIMIT_NPROC, n, n).map_err(|e| format!("rlimit nproc: {e}"))?;
    }
    let landlock = policy::lock_down().map_err(|e| e.to_string())?;
    // After the lock-down, so the relay's threads run under the same filter as commands.
    if let Some(socket) = &options.egress_socket
        && let Err(e) = crate::egress::relay::start(socket)
    {
        eprintln!("sandbox-supervisor: no network: {e}");
    }
    Ok(landlock)
}

fn emit<T: serde::Serialize>(out: &mut impl Write, value: &T) -> std::io::Result<()> {
    let line = serde_json::to_string(value).map_err(std::io::Error::other)?;
    out.write_all(line.as_bytes())?;
    out.write_all(b"\n")?;
    out.flush()
}

#[derive(Default)]
struct Captured {
    kept: Vec<u8>,
    total: u64,
}

/// A stream's reader: a thread started before the command, so a command that fills the
/// sandbox's process limit (a fork bomb) cannot keep the supervisor from reading it.
struct Capture {
    stream: mpsc::Sender<Box<dyn Read + Send>>,
    shared: Arc<Mutex<Captured>>,
    done: mpsc::Receiver<()>,
}

/// Starts a thread that reads the stream it is handed to the end, keeping the first `cap`
/// bytes and counting the rest. What was read is available even if the stream never ends (a
/// background job holds it).
fn capture(cap: usize) -> std::io::Result<Capture> {
    let shared = Arc::new(Mutex::new(Captured::default()));
    let (tx, rx) = mpsc::channel();
    let (stream_tx, stream_rx) = mpsc::channel::<Box<dyn Read + Send>>();
    let sink = Arc::clone(&shared);
    thread::Builder::new().spawn(move || {
        let Ok(mut stream) = stream_rx.recv() else {
            return;
        };
        let mut buf = [0u8; 16 * 1024];
        loop {
            match stream.read(&mut buf) {
                Ok(0) | Err(_) => break,
                Ok(n) => {
                    let Ok(mut c) = sink.lock() else { break };
                    c.total += n as u64;
                    let room = cap.saturating_sub(c.kept.len());
                    c.kept.extend_from_slice(&buf[..n.min(room)]);
                }
            }
        }
        let _ = tx.send(());
    })?;
    Ok(Capture {
        stream: stream_tx,
        shared,
        done: rx,
    })
}

/// Gives a stream to its reader; answers where its text will be.
fn hand_over<R: Read + Send + 'static>(
    capture: Capture,
    stream: Option<R>,
) -> Option<(Arc<Mutex<Captured>>, mpsc::Receiver<()>)> {
    capture.stream.send(Box::new(stream?)).ok()?;
    Some((capture.shared, capture.done))
}

type Exit = (Option<i32>, Option<i32>);

/// Starts a thread that, once handed the command's pid, reaps every process that exits until
/// the command does: as PID 1 of the sandbox we inherit every orphan, and nothing may linger
/// as a zombie. Started before the command, like `capture`.
fn reaper() -> std::io::Result<(mpsc::Sender<Pid>, mpsc::Receiver<Exit>)> {
    let (pid_tx, pid_rx) = mpsc::channel::<Pid>();
    let (done_tx, done_rx) = mpsc::channel();
    thread::Builder::new().spawn(move || {
        let Ok(pid) = pid_rx.recv() else {
            return;
        };
        loop {
            match waitpid(Pid::from_raw(-1), None) {
                Ok(WaitStatus::Exited(p, code)) if p == pid => {
                    let _ = done_tx.send((Some(code), None));
                    break;
                }
                Ok(WaitStatus::Signaled(p, sig, _)) if p == pid => {
                    let _ = done_tx.send((None, Some(sig as i32)));
                    break;
                }
                Ok(_) | Err(Errno::EINTR) => continue,
                Err(_) => {
                    let _ = done_tx.send((None, None));
                    break;
                }
            }
        }
    })?;
    Ok((pid_tx, done_rx))
}

/// `/bin/sh -c` with the request's command, directory and environment, in a process group of
/// its own (so a timeout or a hang-up ends all it started), its output piped.
fn shell(req: &Request) -> Command {
    let mut command = Command::new("/bin/sh");
    command
        .arg("-c")
        .arg(&req.command)
        .current_dir(&req.cwd)
        .env_clear()
        .envs(req.env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .process_group(0);
    command
}

fn execute(req: Request, process_limit: Option<u64>) -> Response {
    let mut response = Response {
        id: req.id,
        ..Response::default()
    };
    let helpers = (|| {
        Ok::<_, std::io::Error>((
            capture(req.max_output)?,
            capture(req.max_output)?,
            reaper()?,
        ))
    })();
    let (out, err, (pid_tx, done_rx)) = match helpers {
        Ok(h) => h,
        Err(e) => {
            response.spawn_error = Some(format!(
                "could not start the command: the sandbox has no room for it ({e}); its process limit may be reached"
            ));
            return response;
        }
    };
    let child = shell(&req).stdin(Stdio::null()).spawn();
    let mut child = match child {
        Ok(c) => c,
        Err(e) => {
            response.spawn_error = Some(format!("could not start the command: {e}"));
            return response;
        }
    };
    let pid = Pid::from_raw(i32::try_from(child.id()).unwrap_or(i32::MAX));
    let _ = pid_tx.send(pid);
    let stdout = hand_over(out, child.stdout.take());
    let stderr = hand_over(err, child.stderr.take());
    let deadline = std::time::Instant::now() + Duration::from_millis(req.timeout_ms);
    let status = loop {
        let left = deadline.saturating_duration_since(std::time::Instant::now());
        let slice = match process_limit {
            Some(_) => left.min(PROCESS_SAMPLE),
            None => left,
        };
        match done_rx.recv_timeout(slice) {
            Ok(status) => break Some(status),
            Err(mpsc::RecvTimeoutError::Timeout) if !left.is_zero() => {
                // An rlimit leaves no count of refused forks, as a cgroup does: a sandbox
                // seen at its limit is the sign.
                if let Some(max) = process_limit
                    && processes() + PROCESS_HEADROOM >= max
                {
                    response.process_limit = true;
                }
            }
            Err(_) => {
                response.timed_out = true;
                let _ = killpg(pid, Signal::SIGKILL);
                break done_rx.recv().ok();
            }
        }
    };
    drop(child);
    if let Some((code, signal)) = status {
        response.exit_code = code;
        response.signal = signal;
    }
    for (captured, text, total) in [
        (stdout, &mut response.stdout, &mut response.stdout_total),
        (stderr, &mut response.stderr, &mut response.stderr_total),
    ] {
        let Some((shared, done)) = captured else {
            continue;
        };
        let _ = done.recv_timeout(DRAIN_GRACE);
        if let Ok(c) = shared.lock() {
            *text = String::from_utf8_lossy(&c.kept).into_owned();
            *total = c.total;
        }
    }
    response
}

/// Starts `req.command` and leaves it running with its streams on the host's attach socket:
/// stdin and stdout on one connection, stderr on another. When the host hangs up, the
/// program's process group is killed.
fn attach(req: &Request, socket: &std::path::Path, token: &str) -> Response {
    use std::os::unix::net::UnixStream;
    let mut response = Response {
        id: req.id,
        ..Response::default()
    };
    let connect = |channel: &str| -> std::io::Result<UnixStream> {
        let mut stream = UnixStream::connect(socket)?;
        stream.write_all(format!("{token} {channel}\n").as_bytes())?;
        Ok(stream)
    };
    let (stdio, errors) = match (connect("stdio"), connect("stderr")) {
        (Ok(a), Ok(b)) => (a, b),
        (Err(e), _) | (_, Err(e)) => {
            response.spawn_error = Some(format!("could not reach the host: {e}"));
            return response;
        }
    };
    let child = shell(req).stdin(Stdio::piped()).spawn();
    let mut child = match child {
        Ok(c) => c,
        Err(e) => {
            response.spawn_error = Some(format!("could not start the program: {e}"));
            return response;
        }
    };
    let pid = Pid::from_raw(i32::try_from(child.id()).unwrap_or(i32::MAX));
    let (Some(mut stdin), Some(mut stdout), Some(mut stderr)) =
        (child.stdin.take(), child.stdout.take(), child.stderr.take())
    else {
        let _ = killpg(pid, Signal::SIGKILL);
        response.spawn_error = Some("the program's pipes are missing".into());
        return response;
    };
    let (Ok(mut from_host), Ok(mut to_host)) = (stdio.try_clone(), stdio.try_clone()) else {
        let _ = killpg(pid, Signal::SIGKILL);
        response.spawn_error = Some("could not share the host connection".into());
        return response;
    };
    // Threads may be refused at the process limit: the program is then ended, not left
    // running unreachable.
    let started = [
        thread::Builder::new().spawn(move || {
            pump(&mut from_host, &mut stdin);
            drop(stdin);
            let _ = killpg(pid, Signal::SIGKILL);
        }),
        thread::Builder::new().spawn(move || {
            pump(&mut stdout, &mut to_host);
            let _ = to_host.shutdown(std::net::Shutdown::Write);
        }),
        thread::Builder::new().spawn(move || {
            let mut errors = errors;
            pump(&mut stderr, &mut errors);
        }),
    ];
    if started.iter().any(Result::is_err) {
        let _ = killpg(pid, Signal::SIGKILL);
        let _ = stdio.shutdown(std::net::Shutdown::Both);
        response.spawn_error = Some("the sandbox has no room for the program's threads".into());
    }
    // Reaped by whichever wait comes first (a command's reaper takes any exit).
    drop(child);
    response
}

/// Copies as data comes: `std::io::copy` between a socket and a pipe uses `splice`, which
/// may hold a short message back until more arrives, and a protocol of one line at a time
/// would wait forever.
fn pump(from: &mut impl Read, to: &mut impl Write) {
    let mut buf = [0u8; 16 * 1024];
    loop {
        match from.read(&mut buf) {
            Ok(0) => return,
            Ok(n) => {
                if to.write_all(&buf[..n]).and_then(|()| to.flush()).is_err() {
                    return;
                }
            }
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(_) => return,
        }
    }
}

/// Processes short of the limit that count as at it: the supervisor's own threads count
/// against the same rlimit.
const PROCESS_HEADROOM: u64 = 16;

/// Processes in the sandbox: we are PID 1 of its namespace, and its `/proc` is its own.
fn processes() -> u64 {
    std::fs::read_dir("/proc")
        .map(|d| {
            d.flatten()
                .filter(|e| {
                    e.file_name()
                        .to_string_lossy()
                        .bytes()
                        .all(|b| b.is_ascii_digit())
                })
                .count() as u64
        })
        .unwrap_or(0)
}
