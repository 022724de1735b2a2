//! `zeroipc-peer`: the Rust side of the ZeroIPC interop matrix.
//!
//! ```text
//! zeroipc-peer write SEG [--scenario F] [--size N] [--max-entries N]
//! zeroipc-peer read SEG [--scenario F] [--consume] [--path]
//! zeroipc-peer table SEG [--path]
//! zeroipc-peer unlink SEG
//! zeroipc-peer mutate SEG
//! zeroipc-peer pingpong SEG --role first|second [--rounds R] [--batch K] [--capacity C] [--create]
//! zeroipc-peer stream SEG --role producer|consumer [--count N] [--capacity C] [--create]
//! zeroipc-peer channel SEG --role sender|receiver [--count N] [--capacity C] [--create]
//! ```
//!
//! `SEG` is a shared-memory name (`name` or `/name`), or for `read`/`table` a file holding a
//! segment image (`--path`, or any `/` after the first character). Every command prints one
//! JSON document on stdout; `read` prints the decoded-JSON schema of the golden
//! `standard-cpp.json` (spec §8.2) for every kind of the standard scenario, decoded by the
//! `zeroipc-inspect` library (`decode.rs`), and lists unknown kinds under `"skipped"`;
//! `write` lists the project's auxiliary entries it created under `"aux"`. `interop/python/zeroipc_peer.py` has the same command line
//! and output. Exit status 0 on success, 1 on an error (printed as JSON and on stderr).

mod chanlive;
mod decode;
mod elem;
mod error;
mod kinds;
mod live;
mod mutate;
mod pingpong;
mod scenario;
mod stream;

use std::io::Write as _;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::{Parser, Subcommand, ValueEnum};
use serde_json::{Map as JsonMap, Value, json};
use zeroipc_format::{Segment, SegmentOptions};

use crate::error::PeerError;

#[derive(Parser, Debug)]
#[command(about = "ZeroIPC interop peer (Rust)")]
struct Cli {
    #[command(subcommand)]
    cmd: Cmd,
}

#[derive(Subcommand, Debug)]
enum Cmd {
    /// Create the segment (replacing it) and write the scenario's structures.
    Write {
        /// Shared-memory name.
        seg: String,
        /// Scenario file.
        #[arg(long, default_value_os_t = default_scenario())]
        scenario: PathBuf,
        /// Segment size in bytes.
        #[arg(long, default_value_t = 65536)]
        size: u64,
        /// Table entries.
        #[arg(long, default_value_t = 64)]
        max_entries: u32,
    },
    /// Decode the scenario's structures as JSON.
    Read {
        /// Shared-memory name or image file.
        seg: String,
        /// Scenario file.
        #[arg(long, default_value_os_t = default_scenario())]
        scenario: PathBuf,
        /// Pop/read queue, stack and ring items instead of peeking.
        #[arg(long)]
        consume: bool,
        /// SEG is a file path.
        #[arg(long)]
        path: bool,
    },
    /// Print the table header and entries as JSON.
    Table {
        /// Shared-memory name or image file.
        seg: String,
        /// SEG is a file path.
        #[arg(long)]
        path: bool,
    },
    /// Unlink the shared-memory object.
    Unlink {
        /// Shared-memory name.
        seg: String,
    },
    /// Apply the fixed mutation script (`mutate.rs`) to the standard scenario's structures.
    Mutate {
        /// Shared-memory name.
        seg: String,
    },
    /// Alternate on one queue with another attached peer (see `pingpong.rs`).
    Pingpong {
        /// Shared-memory name.
        seg: String,
        /// Which side: `first` produces the even rounds.
        #[arg(long, value_enum)]
        role: Role,
        /// Rounds.
        #[arg(long, default_value_t = 40)]
        rounds: u64,
        /// Values per round.
        #[arg(long, default_value_t = 250)]
        batch: u64,
        /// Queue capacity (with --create).
        #[arg(long, default_value_t = 16)]
        capacity: usize,
        /// Create the segment and structures (the other side waits for them).
        #[arg(long)]
        create: bool,
        /// Seconds any single wait may take.
        #[arg(long, default_value_t = 20.0)]
        timeout: f64,
    },
    /// Stream values through a ring to/from another attached peer (see `stream.rs`).
    Stream {
        /// Which side.
        #[arg(long, value_enum)]
        role: StreamRole,
        #[command(flatten)]
        args: live::Args,
    },
    /// Send values through a buffered channel to/from another attached peer (see
    /// `chanlive.rs`).
    Channel {
        /// Which side.
        #[arg(long, value_enum)]
        role: ChannelRole,
        #[command(flatten)]
        args: live::Args,
    },
}

#[derive(Clone, Copy, Debug, ValueEnum)]
enum ChannelRole {
    Sender,
    Receiver,
}

#[derive(Clone, Copy, Debug, ValueEnum)]
enum Role {
    First,
    Second,
}

#[derive(Clone, Copy, Debug, ValueEnum)]
enum StreamRole {
    Producer,
    Consumer,
}

/// A summary whose `ok` is not true becomes an error carrying it (printed as is).
fn summary(out: Value, what: &str) -> Result<Value, PeerError> {
    if out["ok"] == json!(true) {
        Ok(out)
    } else {
        Err(PeerError::new(what, out.to_string()))
    }
}

/// A `--timeout` in seconds (at least 1 ms).
fn seconds(timeout: f64) -> Duration {
    Duration::from_secs_f64(timeout.max(0.001))
}

fn default_scenario() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("golden/zeroipc/standard-scenario.json")
}

/// A `/` after the first character means a file path (`/name` is a shared-memory name).
fn is_path(seg: &str, flag: bool) -> bool {
    flag || seg.get(1..).is_some_and(|rest| rest.contains('/'))
}

/// Opens `seg`: image files read-only (copy-on-write), shared memory read-write.
fn open(seg: &str, path: bool) -> Result<(Segment, String), PeerError> {
    if is_path(seg, path) {
        let s = SegmentOptions::new().open_path_read_only(seg)?;
        Ok((s, seg.to_owned()))
    } else {
        let s = Segment::open(seg)?;
        Ok((s, format!("/{}", seg.trim_start_matches('/'))))
    }
}

fn load_scenario(path: &PathBuf) -> Result<Value, PeerError> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| PeerError::new("Io", format!("{}: {e}", path.display())))?;
    Ok(serde_json::from_str(&text)?)
}

fn write(seg_name: &str, doc: &Value, size: u64, max_entries: u32) -> Result<Value, PeerError> {
    let specs = scenario::parse(doc)?;
    let seg = Segment::create_or_replace(seg_name, size, max_entries)?;
    let (mut written, mut skipped, mut aux) = (Vec::new(), Vec::new(), Vec::new());
    for s in &specs {
        let before = seg.entries()?.len();
        if scenario::write(&seg, s)
            .map_err(|e| PeerError::new(&e.kind, format!("{}: {}", s.name, e.message)))?
        {
            written.push(s.name);
            // Entries beyond the kind's canonical (C++) parts: the project's auxiliary ones.
            let canonical = decode::kind(s).map_or_else(
                || vec![s.name.to_owned()],
                |k| zeroipc_inspect::upstream_parts(k, s.name),
            );
            for e in seg.entries()?.iter().skip(before) {
                if !canonical.iter().any(|c| c == e.name()) {
                    aux.push(e.name().to_owned());
                }
            }
        } else {
            skipped.push(s.name);
        }
    }
    let (header, _) = decode::table(&seg)?;
    Ok(json!({
        "ok": true, "driver": "rust", "segment": format!("/{}", seg_name.trim_start_matches('/')),
        "written": written, "skipped": skipped, "aux": aux, "header": header,
    }))
}

fn read(seg_name: &str, doc: &Value, consume: bool, path: bool) -> Result<Value, PeerError> {
    let specs = scenario::parse(doc)?;
    let (live, label) = open(seg_name, path)?;
    let (header, entries) = decode::table(&live)?;
    // Peeking never writes the live segment: decode a private copy. Image files are never
    // written either (consuming works on the copy).
    let copy;
    let seg = if consume && !is_path(seg_name, path) {
        &live
    } else {
        copy = Segment::from_bytes(&live.raw().to_vec())?;
        &copy
    };
    let mut structures = JsonMap::new();
    let mut skipped = Vec::new();
    for s in &specs {
        match decode::structure(seg, s, consume) {
            Ok(Some(v)) => {
                structures.insert(s.name.to_owned(), v);
            }
            Ok(None) => skipped.push(s.name),
            Err(e) => {
                let mut v = e.to_json();
                v["kind"] = json!(s.kind);
                structures.insert(s.name.to_owned(), v);
            }
        }
    }
    Ok(json!({
        "driver": "rust", "segment": label, "file_size": live.len(), "consumed": consume,
        "header": header, "entries": entries, "structures": structures, "skipped": skipped,
    }))
}

fn table(seg_name: &str, path: bool) -> Result<Value, PeerError> {
    let (seg, label) = open(seg_name, path)?;
    let (header, entries) = decode::table(&seg)?;
    Ok(
        json!({"driver": "rust", "segment": label, "file_size": seg.len(), "header": header, "entries": entries}),
    )
}

fn run(cli: Cli) -> Result<Value, PeerError> {
    match cli.cmd {
        Cmd::Write {
            seg,
            scenario,
            size,
            max_entries,
        } => write(&seg, &load_scenario(&scenario)?, size, max_entries),
        Cmd::Read {
            seg,
            scenario,
            consume,
            path,
        } => read(&seg, &load_scenario(&scenario)?, consume, path),
        Cmd::Table { seg, path } => table(&seg, path),
        Cmd::Unlink { seg } => {
            Segment::unlink(&seg)?;
            Ok(json!({"ok": true}))
        }
        Cmd::Mutate { seg } => {
            let results = mutate::run(&Segment::open(&seg)?)?;
            Ok(json!({"ok": true, "driver": "rust", "results": results}))
        }
        Cmd::Pingpong {
            seg,
            role,
            rounds,
            batch,
            capacity,
            create,
            timeout,
        } => {
            let out = pingpong::run(&pingpong::Params {
                segment: seg,
                first: matches!(role, Role::First),
                rounds,
                batch,
                capacity,
                create,
                timeout: seconds(timeout),
            });
            summary(out, "Pingpong")
        }
        Cmd::Stream { role, args } => {
            let p = args.params(matches!(role, StreamRole::Producer), 20_000, 61);
            summary(stream::run(&p), "Stream")
        }
        Cmd::Channel { role, args } => {
            let p = args.params(matches!(role, ChannelRole::Sender), 2_000, 4);
            summary(chanlive::run(&p), "Channel")
        }
    }
}

fn main() -> ExitCode {
    match run(Cli::parse()) {
        Ok(v) => {
            // A closed stdout (`| head`) is not worth a panic.
            let _ = writeln!(std::io::stdout(), "{v}");
            ExitCode::SUCCESS
        }
        Err(e) => {
            // Pingpong and stream failures carry their full summary as the message.
            let v = serde_json::from_str::<Value>(&e.message)
                .ok()
                .filter(Value::is_object)
                .unwrap_or_else(|| e.to_json());
            let _ = writeln!(std::io::stdout(), "{v}");
            eprintln!("zeroipc-peer: {e}");
            ExitCode::FAILURE
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seg_or_path() {
        assert!(!is_path("/zg_std_cpp", false));
        assert!(!is_path("zg", false));
        assert!(is_path("zg", true));
        assert!(is_path("interop/golden/zeroipc/standard-cpp.seg", false));
        assert!(is_path("/work/x.seg", false));
    }

    #[test]
    fn the_cpp_image_decodes_as_its_json_for_every_kind() {
        let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("golden/zeroipc");
        let got = read(
            dir.join("standard-cpp.seg").to_str().unwrap(),
            &load_scenario(&default_scenario()).unwrap(),
            false,
            false,
        )
        .unwrap();
        let want: Value =
            serde_json::from_str(&std::fs::read_to_string(dir.join("standard-cpp.json")).unwrap())
                .unwrap();
        assert_eq!(got["header"], want["header"]);
        assert_eq!(got["entries"], want["entries"]);
        let skipped: Vec<&str> = got["skipped"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_str().unwrap())
            .collect();
        assert!(skipped.is_empty(), "every kind decodes: {skipped:?}");
        let structures = got["structures"].as_object().unwrap();
        assert_eq!(structures.len(), 27);
        assert_eq!(
            structures.len(),
            want["structures"].as_object().unwrap().len()
        );
        for (name, v) in structures {
            let (mut v, mut w) = (v.clone(), want["structures"][name].clone());
            if matches!(w["kind"].as_str(), Some("map" | "set")) {
                // Item order is not significant for maps and sets.
                for x in [&mut v, &mut w] {
                    if let Some(items) = x["items"].as_array_mut() {
                        items.sort_by_key(Value::to_string);
                    }
                }
            }
            assert_eq!(v, w, "{name}");
        }
    }
}
