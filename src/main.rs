//! The `sigmic` command: serve, migrate, and the administration commands.

use std::io::Read;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use sigmic::config::Config;
use sigmic::error::Error;
use sigmic::server;
use sigmic::services::accounts::NewUser;

#[derive(Parser)]
#[command(
    name = "sigmic",
    version,
    about = "Run AI agents for your organization"
)]
struct Cli {
    /// The data directory (database, signing key, workspaces).
    #[arg(long, global = true, env = "SIGMIC_DATA_DIR")]
    data_dir: Option<PathBuf>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the server (migrations run first).
    Serve {
        /// Address to listen on.
        #[arg(long, env = "SIGMIC_ADDR")]
        addr: Option<SocketAddr>,
    },
    /// Apply pending database migrations and exit.
    Migrate,
    /// Manage accounts.
    User {
        #[command(subcommand)]
        command: UserCommand,
    },
    /// Manage API keys.
    Key {
        #[command(subcommand)]
        command: KeyCommand,
    },
    /// Measure the platform on this machine.
    Bench {
        #[command(subcommand)]
        command: BenchCommand,
    },
    /// Internal: the process bubblewrap starts inside each sandbox.
    #[command(hide = true)]
    SandboxSupervisor {
        #[arg(long)]
        egress_socket: Option<std::path::PathBuf>,
        #[arg(long)]
        attach_socket: Option<std::path::PathBuf>,
        #[arg(long)]
        max_file_bytes: u64,
        #[arg(long)]
        address_space_bytes: Option<u64>,
        #[arg(long)]
        max_processes: Option<u64>,
    },
}

#[derive(Subcommand)]
enum BenchCommand {
    /// Sandbox start and command latency (p50, p99) against a plain process spawn.
    Sandbox {
        #[arg(long, default_value_t = 200)]
        runs: usize,
        #[arg(long, default_value = "true")]
        command: String,
        /// One JSON object instead of the table.
        #[arg(long)]
        json: bool,
    },
    /// MCP connection time (Streamable HTTP, legacy SSE, stdio in a sandbox) and a tool
    /// call's cost through Sigmic against a bare client, with the reference server.
    Mcp {
        #[arg(long, default_value_t = 200)]
        runs: usize,
        /// The reference server's program (npm `@modelcontextprotocol/server-everything`).
        #[arg(long, default_value = "mcp-server-everything")]
        server: String,
    },
    /// Deciding a tool call by a project's tool policy with many rules (p50, p99).
    Policy {
        #[arg(long, default_value_t = 10_000)]
        runs: usize,
        #[arg(long, default_value_t = 200)]
        rules: usize,
    },
}

#[derive(Subcommand)]
enum UserCommand {
    /// Create an account with a personal organization and a "Default" project. The password is
    /// read from standard input.
    Create {
        #[arg(long)]
        email: String,
        /// Derived from the email when not given.
        #[arg(long)]
        username: Option<String>,
        #[arg(long)]
        name: Option<String>,
    },
}

#[derive(Subcommand)]
enum KeyCommand {
    /// Create an API key for a person and print it (once) on standard output.
    Create {
        #[arg(long)]
        email: String,
        /// The project's name; the person's default project when not given.
        #[arg(long)]
        project: Option<String>,
        #[arg(long, default_value = "CLI key")]
        name: String,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    // Inside a sandbox: no runtime, no configuration, nothing but the supervisor's loop.
    if let Command::SandboxSupervisor {
        egress_socket,
        attach_socket,
        max_file_bytes,
        address_space_bytes,
        max_processes,
    } = &cli.command
    {
        return sigmic::sandbox::supervisor::run(sigmic::sandbox::supervisor::Options {
            egress_socket: egress_socket.clone(),
            attach_socket: attach_socket.clone(),
            max_file_bytes: *max_file_bytes,
            address_space_bytes: *address_space_bytes,
            max_processes: *max_processes,
        });
    }
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("SIGMIC_LOG")
                // The MCP SDK reports every session's start and end at info: too much for an
                // operator's log, where a failed connection is reported by Sigmic itself.
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info,rmcp=warn")),
        )
        .with_writer(std::io::stderr)
        .init();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run(cli)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("error: {message}");
            ExitCode::FAILURE
        }
    }
}

async fn run(cli: Cli) -> Result<(), String> {
    let mut config = Config::load().map_err(|e| e.to_string())?;
    if let Some(dir) = cli.data_dir {
        config.data_dir = dir;
    }
    match cli.command {
        Command::Serve { addr } => {
            if let Some(addr) = addr {
                config.addr = addr;
            }
            let running = server::start(config).await.map_err(|e| e.to_string())?;
            running.until_signal().await;
            Ok(())
        }
        Command::Migrate => {
            server::open(&config).await.map_err(|e| e.to_string())?;
            eprintln!("migrations applied ({})", config.database_url_for_log());
            Ok(())
        }
        Command::User {
            command:
                UserCommand::Create {
                    email,
                    username,
                    name,
                },
        } => {
            let mut password = String::new();
            std::io::stdin()
                .read_to_string(&mut password)
                .map_err(|e| format!("cannot read the password from stdin: {e}"))?;
            let password = password.trim_end_matches(['\n', '\r']).to_owned();
            let services = server::open(&config).await.map_err(|e| e.to_string())?;
            let user = services
                .create_user(NewUser {
                    email,
                    username,
                    name,
                    password,
                    invitation_token: None,
                })
                .await
                .map_err(describe)?;
            println!("created user {} <{}>", user.username, user.email);
            Ok(())
        }
        Command::Bench {
            command:
                BenchCommand::Sandbox {
                    runs,
                    command,
                    json,
                },
        } => sigmic::bench::sandbox(runs, &command, json).await,
        Command::Bench {
            command: BenchCommand::Mcp { runs, server },
        } => sigmic::bench::mcp(runs, &server).await,
        Command::Bench {
            command: BenchCommand::Policy { runs, rules },
        } => sigmic::bench::policy(runs, rules),
        // Handled in `main` before any runtime starts.
        Command::SandboxSupervisor { .. } => Ok(()),
        Command::Key {
            command:
                KeyCommand::Create {
                    email,
                    project,
                    name,
                },
        } => {
            let services = server::open(&config).await.map_err(|e| e.to_string())?;
            let key = services
                .create_key_for(&email, project.as_deref(), &name)
                .await
                .map_err(describe)?;
            println!("{}", key.key);
            Ok(())
        }
    }
}

/// A service error as a sentence for the terminal, field messages included.
fn describe(e: Error) -> String {
    let api = e.into_api();
    if api.fields.is_empty() {
        api.message
    } else {
        api.fields
            .iter()
            .map(|(field, msg)| format!("--{field}: {msg}"))
            .collect::<Vec<_>>()
            .join("\n")
    }
}
