//! `zeroipc-bridge`: export/import ZeroIPC objects over zenoh; `status` shows the links.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use zeroipc_bridge::{BridgeConfig, LinkConfig, Stop, net::NetConfig, status};

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
    /// Same-run measurement against zenoh's own pub/sub between the same two sessions over
    /// 127.0.0.1 (bridges as threads of this process): Stream items/s per item size,
    /// ZeroBuffer frames/s, round-trip p50. JSON lines, then one summary line per ratio.
    Bench {
        /// Stream items per measurement.
        #[arg(long, default_value_t = 100_000)]
        items: u64,
        /// Stream item sizes in bytes (each a supported element size).
        #[arg(long, value_delimiter = ',', default_value = "8,1024")]
        sizes: Vec<usize>,
        /// ZeroBuffer frames per measurement (0: skip). Rounds of a few hundred 1 MiB frames
        /// last a fraction of a second, and zenoh's own rate measures higher in them than in
        /// steady state (docs/BRIDGE.md).
        #[arg(long, default_value_t = 3000)]
        frames: u64,
        /// ZeroBuffer frame size in bytes.
        #[arg(long, default_value_t = 1 << 20)]
        frame_size: usize,
        /// Round trips per measurement (0: skip).
        #[arg(long, default_value_t = 2000)]
        pings: u64,
        /// How often every measurement is repeated.
        #[arg(long, default_value_t = 3)]
        rounds: usize,
        /// Local TCP port on 127.0.0.1.
        #[arg(long, default_value_t = 17447)]
        port: u16,
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

fn line(v: &impl serde::Serialize) {
    println!(
        "{}",
        serde_json::to_string(v).unwrap_or_else(|e| e.to_string())
    );
}

fn bench(
    sizes: &[usize],
    items: u64,
    frames: u64,
    frame_size: usize,
    pings: u64,
    rounds: usize,
    port: u16,
) -> zeroipc_bridge::Result<()> {
    use zeroipc_bridge::bench::{self, Sessions};
    let s = Sessions::open(port)?;
    let mut ratios: Vec<(String, Vec<f64>)> = Vec::new();
    let mut record = |what: String, r: f64| match ratios.iter_mut().find(|(w, _)| *w == what) {
        Some((_, v)) => v.push(r),
        None => ratios.push((what, vec![r])),
    };
    let result = (|| -> zeroipc_bridge::Result<()> {
        for round in 1..=rounds {
            for &size in sizes {
                let r = bench::throughput::measure(&s, items, size)?;
                line(&serde_json::json!({"round": round, "stream": r}));
                record(format!("stream items/s, {size} B items"), r.ratio);
            }
            if frames > 0 {
                let r = bench::frames::measure(&s, frames, frame_size)?;
                line(&serde_json::json!({"round": round, "zerobuffer": r}));
                record(
                    format!("zerobuffer frames/s, {frame_size} B frames"),
                    r.ratio,
                );
            }
            if pings > 0 {
                let r = bench::round_trip::measure(&s, pings)?;
                line(&serde_json::json!({"round": round, "round_trip": r}));
                record("round-trip p50 vs zenoh + local".into(), r.ratio);
            }
        }
        Ok(())
    })();
    s.close();
    result?;
    for (what, v) in &ratios {
        line(&serde_json::json!({ "summary": bench::summary(what, v) }));
    }
    Ok(())
}

/// Runs `cfg`'s links until they finish or a SIGINT or SIGTERM stops them (see
/// [`Stop`]); a second signal ends the process at once.
fn run(cfg: &BridgeConfig) -> zeroipc_bridge::Result<()> {
    use signal_hook::consts::{SIGINT, SIGTERM};
    let stop = Stop::new();
    let io = |what: &str| {
        let what = what.to_string();
        move |source| zeroipc_bridge::Error::Io { what, source }
    };
    let mut signals = signal_hook::iterator::Signals::new([SIGINT, SIGTERM])
        .map_err(io("catching SIGINT and SIGTERM"))?;
    let on_signal = stop.clone();
    std::thread::Builder::new()
        .name("signals".into())
        .spawn(move || {
            for sig in signals.forever() {
                if on_signal.is_stopped() {
                    eprintln!("zeroipc-bridge: signal {sig} again: exiting now");
                    std::process::exit(128 + sig);
                }
                eprintln!("zeroipc-bridge: signal {sig}: stopping the links (again to exit now)");
                on_signal.stop();
            }
        })
        .map_err(io("starting the signal thread"))?;
    zeroipc_bridge::run_until(cfg, &stop)
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.cmd {
        Cmd::Export { net, link } => run(&one(net, link, true)),
        Cmd::Import { net, link } => run(&one(net, link, false)),
        Cmd::Run { config } => BridgeConfig::from_file(&config).and_then(|c| run(&c)),
        Cmd::Bench {
            items,
            sizes,
            frames,
            frame_size,
            pings,
            rounds,
            port,
        } => bench(&sizes, items, frames, frame_size, pings, rounds, port),
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
