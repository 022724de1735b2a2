//! `list`: every ZeroIPC segment and ZeroBuffer buffer in a directory, recognised by content,
//! with the objects a `zeroipc-bridge` created labelled (see [`crate::bridge`]).

use std::os::unix::fs::MetadataExt as _;
use std::path::{Path, PathBuf};

use serde_json::{Value, json};
use zerobuffer::BufferSnapshot;

use crate::bridge::{self, Mark};
use crate::cmd::{age_secs, out, out_json};
use crate::error::{CliError, Result};
use crate::source::{Content, SHM_DIR, classify};

/// Arguments of `list`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Also show files that are neither format (semaphores, other programs' objects).
    #[arg(long)]
    all: bool,
    /// Directory to scan.
    #[arg(long, default_value = SHM_DIR)]
    dir: PathBuf,
}

/// One-word state of a buffer from its peers' liveness.
pub fn buffer_state(s: &BufferSnapshot) -> &'static str {
    match (s.reader_alive, s.oieb.writer_pid, s.writer_alive) {
        (true, _, true) => "connected",
        (true, 0, _) => "waiting-for-writer",
        (true, _, false) => "writer-dead",
        (false, _, true) => "reader-dead",
        (false, _, false) => "stale",
    }
}

/// A buffer's bridge peers: its reader is an exporting bridge (the exporter creates the
/// buffer as its reader), its writer an importing one. Known while those processes live.
fn buffer_bridge(path: &Path, s: &BufferSnapshot) -> Vec<Mark> {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    [("export", s.oieb.reader_pid), ("import", s.oieb.writer_pid)]
        .into_iter()
        .filter(|&(_, pid)| bridge::bridge_process(pid))
        .map(|(role, pid)| Mark {
            role: role.into(),
            kind: "zerobuffer".into(),
            name: name.clone(),
            key: String::new(),
            pid: u32::try_from(pid).unwrap_or(0),
        })
        .collect()
}

/// The BRIDGE cell: `import stream imu (site1/imu) pid 4242; ...`.
fn bridge_cell(v: &Value) -> String {
    let Some(Value::Array(marks)) = v.get("bridge") else {
        return String::new();
    };
    marks
        .iter()
        .map(|m| {
            let key = text(m, "key");
            let key = if key.is_empty() || key == "-" {
                String::new()
            } else {
                format!(" ({key})")
            };
            format!(
                "{} {} {}{key} pid {}",
                text(m, "role"),
                text(m, "kind"),
                text(m, "name"),
                text(m, "pid")
            )
        })
        .collect::<Vec<_>>()
        .join("; ")
}

fn describe(path: &Path, content: Content, len: u64) -> Value {
    match content {
        // Header and table read with pread, never mapped: a file another process shrinks or
        // makes sparse costs nothing and cannot crash the listing.
        Content::ZeroIpc => match zeroipc_format::SegmentOptions::new()
            .snapshot_path(path)
            .and_then(|s| {
                // The bridge's companion entries only label the row: an unreadable one is
                // left out, never an error of the listing.
                let marks = bridge::marks(&s).unwrap_or_default();
                s.header().map(|h| (h, s.table_size(), marks))
            }) {
            Ok((h, table, marks)) => json!({
                "entries": h.entry_count,
                "max_entries": h.effective_max_entries(),
                "used_bytes": h.next_offset.saturating_sub(table),
                "free_bytes": h.memory_size.saturating_sub(h.next_offset),
                "bridge": marks,
                "error": null,
            }),
            Err(e) => json!({"error": CliError::from(e).to_string()}),
        },
        Content::ZeroBuffer => match zerobuffer::inspect_file(path) {
            Ok(s) => json!({
                "bridge": buffer_bridge(path, &s),
                "state": buffer_state(&s),
                "utilisation": s.health.utilisation,
                "health": format!("{:?}", s.health.level).to_lowercase(),
                "payload_size": s.health.payload_size,
                "writer_pid": s.oieb.writer_pid,
                "writer_alive": s.writer_alive,
                "reader_pid": s.oieb.reader_pid,
                "reader_alive": s.reader_alive,
                "error": null,
            }),
            Err(e) => json!({"error": CliError::from(e).to_string()}),
        },
        Content::Other => json!({ "size_only": len }),
    }
}

/// Runs `list`.
///
/// # Errors
/// Exit 1 if the directory does not exist.
pub fn run(args: &Args, json: bool) -> Result<()> {
    let rows = rows(&args.dir, args.all)?;
    if json {
        return out_json(&json!({ "dir": args.dir.display().to_string(), "objects": rows }));
    }
    print_table(&rows)
}

/// The rows `list` prints for directory `dir` (`all`: also other files), one JSON object
/// each with the keys docs/CLI.md names, sorted by path.
///
/// # Errors
/// Exit 1 if the directory does not exist.
pub fn rows(dir_path: &Path, all: bool) -> Result<Vec<Value>> {
    let dir =
        std::fs::read_dir(dir_path).map_err(|e| CliError::from(e).context(dir_path.display()))?;
    let mut rows = Vec::new();
    let mut paths: Vec<PathBuf> = dir.flatten().map(|e| e.path()).collect();
    paths.sort();
    for path in paths {
        let Ok(meta) = std::fs::symlink_metadata(&path) else {
            continue; // vanished
        };
        if !meta.is_file() {
            continue;
        }
        // A segment still being created under its hidden staging name.
        if path.file_name().is_some_and(|n| {
            n.to_string_lossy()
                .starts_with(zeroipc_format::STAGING_PREFIX)
        }) {
            continue;
        }
        let Ok((content, len)) = classify(&path) else {
            if all {
                rows.push(row(
                    &path,
                    &meta,
                    Content::Other,
                    json!({"error": "unreadable"}),
                ));
            }
            continue;
        };
        if content == Content::Other && !all {
            continue;
        }
        let detail = describe(&path, content, len);
        rows.push(row(&path, &meta, content, detail));
    }
    Ok(rows)
}

fn row(path: &Path, meta: &std::fs::Metadata, content: Content, detail: Value) -> Value {
    let mut v = json!({
        "kind": content.name(),
        "name": path.file_name().map(|n| n.to_string_lossy().into_owned()),
        "size": meta.len(),
        "uid": meta.uid(),
        "mode": format!("{:04o}", meta.mode() & 0o7777),
        "age_s": age_secs(meta),
    });
    if let (Value::Object(m), Value::Object(d)) = (&mut v, detail) {
        m.extend(d);
    }
    v
}

fn text(v: &Value, key: &str) -> String {
    match v.get(key) {
        Some(Value::String(s)) => s.clone(),
        Some(Value::Null) | None => "-".to_owned(),
        Some(other) => other.to_string(),
    }
}

fn pid_cell(v: &Value, role: &str) -> String {
    let pid = v
        .get(format!("{role}_pid"))
        .and_then(Value::as_u64)
        .unwrap_or(0);
    if pid == 0 {
        return format!("{role} -");
    }
    let alive = v.get(format!("{role}_alive")).and_then(Value::as_bool) == Some(true);
    format!("{role} {pid} ({})", if alive { "alive" } else { "dead" })
}

fn print_table(rows: &[Value]) -> Result<()> {
    let mut lines = vec![vec![
        "KIND".to_owned(),
        "NAME".to_owned(),
        "SIZE".to_owned(),
        "ENTRIES/STATE".to_owned(),
        "UID".to_owned(),
        "MODE".to_owned(),
        "AGE".to_owned(),
        "PEERS".to_owned(),
        "BRIDGE".to_owned(),
    ]];
    for r in rows {
        let kind = text(r, "kind");
        let (state, peers) = if r.get("error").is_some_and(|e| !e.is_null()) {
            (format!("error: {}", text(r, "error")), String::new())
        } else if kind == "zeroipc" {
            (
                format!("{}/{} entries", text(r, "entries"), text(r, "max_entries")),
                String::new(),
            )
        } else if kind == "zerobuffer" {
            let util = r.get("utilisation").and_then(Value::as_f64).unwrap_or(0.0);
            (
                format!("{} {:.0}%", text(r, "state"), util * 100.0),
                format!("{}, {}", pid_cell(r, "writer"), pid_cell(r, "reader")),
            )
        } else {
            (String::new(), String::new())
        };
        let size = r.get("size").and_then(Value::as_u64).unwrap_or(0);
        let age = r.get("age_s").and_then(Value::as_u64).unwrap_or(0);
        lines.push(vec![
            kind,
            text(r, "name"),
            crate::fmt::bytes(size),
            state,
            text(r, "uid"),
            text(r, "mode"),
            crate::fmt::age(age),
            peers,
            bridge_cell(r),
        ]);
    }
    let ncols = lines.first().map_or(0, Vec::len);
    let widths: Vec<usize> = (0..ncols)
        .map(|c| {
            lines
                .iter()
                .filter_map(|l| l.get(c))
                .map(|s| s.chars().count())
                .max()
                .unwrap_or(0)
        })
        .collect();
    for l in &lines {
        let cells: Vec<String> = l
            .iter()
            .zip(&widths)
            .map(|(s, w)| format!("{s:<w$}"))
            .collect();
        out(cells.join("  ").trim_end())?;
    }
    if rows.is_empty() {
        out("(no ZeroIPC segments or ZeroBuffer buffers)")?;
    }
    Ok(())
}
