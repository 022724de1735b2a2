//! `zeroipc-bridge`: export/import ZeroIPC objects over zenoh; `status` shows the links.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use zeroipc_bridge::{BridgeConfig, LinkConfig, net::NetConfig, status};

#[derive(Parser)]
#[command(name = "zeroipc-bridge", version, about)]
struct Cli {
    #[command(subcommand)]
    cmd: Cmd,
}

#[derive(clap::Args)]
struct Net {
    /// Endpoint to listen on (repeatable), e.g. tcp/127.0.0.1:7447.
    #[arg(long)]
    listen: Vec<String>,
    /// Peer endpoint to connect to (repeatable), e.g. tcp/127.0.0.1:7448.
    #[arg(long)]
    connect: Vec<String>,
    /// Status directory (default $ZEROIPC_BRIDGE_STATUS_DIR or /tmp/zeroipc-bridge-<uid>).
    #[arg(long)]
    status_dir: Option<PathBuf>,
}

#[derive(Subcommand)]
enum Cmd {
    /// Publish one local object on the network.
    Export {
        #[command(flatten)]
        net: Net,
        #[command(flatten)]
        link: LinkConfig,
    },
    /// Receive one object from the network into a local object.
    Import {
        #[command(flatten)]
        net: Net,
        #[command(flatten)]
        link: LinkConfig,
    },
    /// Run every link of a TOML configuration file.
    Run {
        /// The configuration file (see docs/BRIDGE.md).
        #[arg(long)]
        config: PathBuf,
    },
    /// Show the bridges' links: rates, lag, gaps.
    Status {
        /// Print JSON instead of a table.
        #[arg(long)]
        json: bool,
        /// Status directory (default $ZEROIPC_BRIDGE_STATUS_DIR or /tmp/zeroipc-bridge-<uid>).
        #[arg(long)]
        status_dir: Option<PathBuf>,
    },
}

fn one(net: Net, link: LinkConfig, export: bool) -> BridgeConfig {
    BridgeConfig {
        net: NetConfig {
            listen: net.listen,
            connect: net.connect,
        },
        status_dir: net.status_dir,
        export: if export { vec![link.clone()] } else { vec![] },
        import: if export { vec![] } else { vec![link] },
    }
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.cmd {
        Cmd::Export { net, link } => zeroipc_bridge::run(&one(net, link, true)),
        Cmd::Import { net, link } => zeroipc_bridge::run(&one(net, link, false)),
        Cmd::Run { config } => {
            BridgeConfig::from_file(&config).and_then(|c| zeroipc_bridge::run(&c))
        }
        Cmd::Status { json, status_dir } => {
            let dir = status_dir.unwrap_or_else(status::default_dir);
            status::read_all(&dir).map(|all| {
                if json {
                    println!(
                        "{}",
                        serde_json::to_string_pretty(&all).unwrap_or_else(|e| e.to_string())
                    );
                } else {
                    print!("{}", status::render(&all));
                }
            })
        }
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("zeroipc-bridge: {e}");
            ExitCode::FAILURE
        }
    }
}
