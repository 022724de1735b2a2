//! One module per subcommand.

pub mod dump;
pub mod gc;
pub mod list;
pub mod monitor;
pub mod show;

use std::io::Write as _;

use serde_json::Value;

use crate::error::{CliError, Result};

/// Writes one line to stdout (a closed pipe is an error, not a panic).
pub fn out(line: &str) -> Result<()> {
    let mut o = std::io::stdout().lock();
    writeln!(o, "{line}")
        .and_then(|()| o.flush())
        .map_err(|e| CliError::other(format!("writing output: {e}")))
}

/// Writes a JSON value as one line.
pub fn out_json(v: &Value) -> Result<()> {
    out(&v.to_string())
}

/// Seconds since the file's last modification (0 if unknown or in the future).
pub fn age_secs(meta: &std::fs::Metadata) -> u64 {
    meta.modified()
        .ok()
        .and_then(|m| m.elapsed().ok())
        .map_or(0, |d| d.as_secs())
}
