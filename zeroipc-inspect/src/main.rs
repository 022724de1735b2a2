//! `zeroipc-inspect`: look into ZeroIPC segments and ZeroBuffer buffers without changing them.
//!
//! ```text
//! zeroipc-inspect list [--all] [--dir DIR]
//! zeroipc-inspect show SEG [NAME] [--as KIND[:TYPE[:TYPE]]] [-n N | --all]
//! zeroipc-inspect monitor SEG [NAME] [--interval MS] [--count N]
//! zeroipc-inspect dump SEG [NAME] [--offset N] [--size N]
//! zeroipc-inspect gc [--dry-run] [BUFFER...]
//! ```
//!
//! Every command takes `--json`. Exit status: 0 ok, 1 target not found, 2 corrupt segment or
//! unrecognised content, 3 other errors, 64 usage. Only `gc` removes anything. See
//! `docs/CLI.md` for the JSON keys. The commands live in the library (`zeroipc_inspect::cmd`);
//! this binary only parses the arguments.

use std::io::Write as _;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

use zeroipc_inspect::cmd;
use zeroipc_inspect::error::{CliError, EXIT_USAGE, Result};

/// Inspect ZeroIPC segments and ZeroBuffer buffers (read-only except `gc`).
#[derive(Debug, Parser)]
#[command(name = "zeroipc-inspect", version, about, max_term_width = 100)]
struct Cli {
    /// Print machine-readable JSON (stable keys, see docs/CLI.md) instead of text.
    #[arg(long, global = true)]
    json: bool,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// List ZeroIPC segments and ZeroBuffer buffers (recognised by content).
    List(cmd::list::Args),
    /// Show a segment's header and table, a structure's state, or a buffer's OIEB.
    Show(cmd::show::Args),
    /// Watch a queue, ring, stream, channel or ZeroBuffer buffer: depth, utilisation, rates.
    Monitor(cmd::monitor::Args),
    /// Hex dump of a segment, a structure, or a buffer block.
    Dump(cmd::dump::Args),
    /// Remove stale ZeroBuffer resources (reader lock free and every owner dead).
    Gc(cmd::gc::Args),
}

fn run(cli: &Cli) -> Result<()> {
    let json = cli.json;
    match &cli.command {
        Command::List(a) => cmd::list::run(a, json),
        Command::Show(a) => cmd::show::run(a, json),
        Command::Monitor(a) => cmd::monitor::run(a, json),
        Command::Dump(a) => cmd::dump::run(a, json),
        Command::Gc(a) => cmd::gc::run(a, json),
    }
}

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            let code = if e.use_stderr() { EXIT_USAGE } else { 0 };
            let _ = e.print();
            return ExitCode::from(code);
        }
    };
    match run(&cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => report(&e),
    }
}

fn report(e: &CliError) -> ExitCode {
    let _ = writeln!(std::io::stderr(), "zeroipc-inspect: {e}");
    ExitCode::from(e.code())
}
