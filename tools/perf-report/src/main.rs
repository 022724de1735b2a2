//! `zeroipc-perf-report`: runs the measurement suite, every figure beside a baseline measured
//! in the same run, and regenerates `docs/PERFORMANCE.md` and the SVG plots in `docs/img/`.
//!
//! ```sh
//! cargo run --release -p zeroipc-perf-report                 # full run (3–4 minutes)
//! cargo run --release -p zeroipc-perf-report -- --quick      # smoke subset, writes under target/
//! cargo run --release -p zeroipc-perf-report -- --only latency --only idle
//! ```
//!
//! The binary re-executes itself for the peer processes (environment variable
//! [`harness::ROLE_ENV`]). `docs/PERFORMANCE.md` is the template: only the regions between
//! `<!-- generated:NAME -->` and `<!-- end:NAME -->` are rewritten, so the hand-written
//! analysis around them survives every run. The figures of every group are also kept in
//! `docs/perf/results.json`, so `--only GROUP` refreshes one group and keeps the others.

mod asyncs;
mod baselines;
mod codata;
mod harness;
mod idle;
mod latency;
mod micro;
mod plot;
mod report;
mod scaling;
mod spsc;
mod throughput;
mod zb;
mod zbfloor;

use std::path::PathBuf;
use std::time::Instant;

use clap::Parser;

use crate::report::Results;

/// The measurement groups, in the order they run.
pub const GROUPS: &[&str] = &[
    "micro",
    "latency",
    "spsc",
    "throughput",
    "scaling",
    "codata",
    "zerobuffer",
    "idle",
    "async",
];

/// Command line.
#[derive(Parser, Debug)]
#[command(
    name = "zeroipc-perf-report",
    about = "Runs the zeroipc-rs measurement suite and regenerates docs/PERFORMANCE.md and docs/img/*.svg"
)]
struct Cli {
    /// Short smoke subset (under a minute); writes under the target directory, not docs/.
    #[arg(long)]
    quick: bool,
    /// Run only this group (repeatable): micro, latency, spsc, throughput, scaling, codata,
    /// zerobuffer, idle, async. The other groups keep their last results.
    #[arg(long, value_name = "GROUP")]
    only: Vec<String>,
    /// Directory holding docs/PERFORMANCE.md, docs/img and docs/perf (default: the repository
    /// for a full run, `<target>/perf-quick` for --quick).
    #[arg(long, value_name = "DIR")]
    out_dir: Option<PathBuf>,
    /// Rounds per figure (default 3, 1 with --quick).
    #[arg(long)]
    rounds: Option<usize>,
}

/// Settings every group reads.
#[derive(Clone, Copy, Debug)]
pub struct Config {
    /// Smoke subset: fewer samples, fewer sizes.
    pub quick: bool,
    /// Rounds per figure.
    pub rounds: usize,
}

impl Config {
    /// `full` normally, `quick` with `--quick`.
    pub fn pick<T>(&self, full: T, quick: T) -> T {
        if self.quick { quick } else { full }
    }
}

fn repo_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn main() {
    if let Ok(role) = std::env::var(harness::ROLE_ENV) {
        harness::child_main(&role);
        return;
    }
    let cli = Cli::parse();
    for g in &cli.only {
        if !GROUPS.contains(&g.as_str()) {
            eprintln!("unknown group {g:?}; groups: {}", GROUPS.join(", "));
            std::process::exit(2);
        }
    }
    let cfg = Config {
        quick: cli.quick,
        rounds: cli.rounds.unwrap_or(if cli.quick { 1 } else { 3 }).max(1),
    };
    let out = cli.out_dir.clone().unwrap_or_else(|| {
        if cli.quick {
            std::env::var_os("CARGO_TARGET_DIR")
                .map(PathBuf::from)
                .unwrap_or_else(|| repo_root().join("target"))
                .join("perf-quick")
        } else {
            repo_root()
        }
    });
    let docs = out.join("docs");
    let img = docs.join("img");
    let perf = docs.join("perf");
    for d in [&img, &perf] {
        std::fs::create_dir_all(d).expect("create output directories");
    }
    let out = out.canonicalize().unwrap_or(out);
    let docs = out.join("docs");
    let img = docs.join("img");
    let perf = docs.join("perf");
    let doc_path = docs.join("PERFORMANCE.md");
    let template = std::fs::read_to_string(&doc_path)
        .or_else(|_| std::fs::read_to_string(repo_root().join("docs/PERFORMANCE.md")))
        .expect("read docs/PERFORMANCE.md (the template)");
    let results_path = perf.join("results.json");
    let mut results: Results = std::fs::read_to_string(&results_path)
        .ok()
        .and_then(|s| serde_json::from_str(&s).ok())
        .unwrap_or_default();

    let mut command = String::from("cargo run --release -p zeroipc-perf-report");
    let args: Vec<String> = std::env::args().skip(1).collect();
    if !args.is_empty() {
        command.push_str(" -- ");
        command.push_str(&args.join(" "));
    }
    let machine_start = harness::Machine::probe();
    let started = Instant::now();
    eprintln!(
        "zeroipc-perf-report: {} rounds, quick={}, output {}",
        cfg.rounds,
        cfg.quick,
        out.display()
    );
    let selected: Vec<&str> = GROUPS
        .iter()
        .copied()
        .filter(|g| cli.only.is_empty() || cli.only.iter().any(|o| o == g))
        .collect();
    for g in &selected {
        let t = Instant::now();
        let load0 = harness::loadavg();
        eprintln!("== {g}");
        let mut rec = match *g {
            "micro" => micro::run(&cfg),
            "latency" => latency::run(&cfg, &img),
            "spsc" => spsc::run(&cfg),
            "throughput" => throughput::run(&cfg, &img),
            "scaling" => scaling::run(&cfg, &img),
            "codata" => codata::run(&cfg),
            "zerobuffer" => zb::run(&cfg),
            "idle" => idle::run(&cfg, &img),
            "async" => asyncs::run(&cfg),
            _ => unreachable!("group list checked above"),
        };
        rec.when = harness::utc_now();
        rec.load = format!("{load0} → {}", harness::loadavg());
        rec.quick = cfg.quick;
        rec.seconds = t.elapsed().as_secs_f64();
        rec.noise = harness::take_noise();
        if !rec.noise.is_empty() {
            let shown: Vec<String> = rec
                .noise
                .iter()
                .map(|n| format!("{:.0} %", n * 100.0))
                .collect();
            rec.markdown.push_str(&format!(
                "\nHost noise per round (share of a 20 ms busy loop this process did not get the CPU): {}.\n",
                shown.join(", ")
            ));
        }
        eprintln!("   {g}: {:.1} s", rec.seconds);
        results.groups.insert((*g).to_string(), rec);
    }
    let machine_end = harness::loadavg();
    results.machine = machine_start.describe(&machine_end);
    results.command = command;
    results.seconds = started.elapsed().as_secs_f64();
    results.quick = cfg.quick;
    results.ran = selected.iter().map(|s| s.to_string()).collect();

    let doc = report::render(&template, &results).unwrap_or_else(|e| {
        eprintln!("template: {e}");
        std::process::exit(1);
    });
    std::fs::write(&doc_path, doc).expect("write PERFORMANCE.md");
    std::fs::write(
        &results_path,
        serde_json::to_string_pretty(&results).expect("serialise results"),
    )
    .expect("write results.json");
    eprintln!(
        "wrote {} and {} in {:.0} s",
        doc_path.display(),
        results_path.display(),
        results.seconds
    );
}
