//! `gc`: removes stale ZeroBuffer resources (protocol §13), never those of a live process.

use serde_json::{Value, json};

use crate::cmd::{out, out_json};
use crate::error::Result;

/// Arguments of `gc`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Report what would be removed without removing anything.
    #[arg(long)]
    dry_run: bool,
    /// Only these buffers (default: every lock file in /tmp/zerobuffer).
    buffers: Vec<String>,
}

/// Runs `gc`.
///
/// # Errors
/// Only output errors: buffers that cannot be examined are skipped.
pub fn run(args: &Args, json: bool) -> Result<()> {
    let stale = if args.buffers.is_empty() {
        zerobuffer::scan_stale(None, args.dry_run)
    } else {
        args.buffers
            .iter()
            .flat_map(|b| zerobuffer::scan_stale(Some(b), args.dry_run))
            .collect()
    };
    let rows: Vec<Value> = stale
        .iter()
        .map(|s| {
            let removed: Vec<&str> = if s.remove_objects && s.shm_exists {
                vec!["shm", "sem-w", "sem-r", "lock"]
            } else if s.remove_objects {
                vec!["sem-w", "sem-r", "lock"]
            } else {
                vec!["lock"]
            };
            let kept = if s.remove_objects {
                Value::Null
            } else if s.reader_pid == 0 && s.writer_pid == 0 {
                json!("shared memory is not a ZeroBuffer buffer")
            } else {
                json!("a peer is still alive")
            };
            json!({
                "name": s.name,
                "lock_path": s.lock_path.display().to_string(),
                "shm_exists": s.shm_exists,
                "reader_pid": s.reader_pid,
                "writer_pid": s.writer_pid,
                "removed": removed,
                "kept_shm_reason": kept,
            })
        })
        .collect();
    if json {
        return out_json(&json!({ "dry_run": args.dry_run, "stale": rows }));
    }
    let verb = if args.dry_run {
        "would remove"
    } else {
        "removed"
    };
    for r in &rows {
        let what: Vec<&str> = r["removed"]
            .as_array()
            .map(|a| a.iter().filter_map(Value::as_str).collect())
            .unwrap_or_default();
        let mut line = format!(
            "{verb} {}: {} (reader pid {}, writer pid {})",
            r["name"].as_str().unwrap_or("?"),
            what.join(", "),
            r["reader_pid"],
            r["writer_pid"]
        );
        if let Some(why) = r["kept_shm_reason"].as_str() {
            line.push_str(&format!("; shared memory kept: {why}"));
        }
        out(&line)?;
    }
    if rows.is_empty() {
        out("no stale ZeroBuffer resources")?;
    }
    Ok(())
}
