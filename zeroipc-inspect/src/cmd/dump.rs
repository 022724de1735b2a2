//! `dump`: hex dump with an ASCII column, bounds-checked.

use serde_json::json;

use crate::cmd::{out, out_json};
use crate::error::{CliError, Result};
use crate::source::{
    Content, buffer_snapshot, classify, open_segment, read_range, resolve, unrecognised,
};

/// Arguments of `dump`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Shared-memory name (`NAME` or `/NAME`) or path to an image file.
    seg: String,
    /// A table entry of a ZeroIPC segment, or `oieb`, `metadata` or `payload` of a ZeroBuffer
    /// buffer; without it the whole object (any content, even corrupt).
    name: Option<String>,
    /// First byte, relative to NAME (or to the object).
    #[arg(long, default_value_t = 0)]
    offset: u64,
    /// Number of bytes (default: to the end of NAME or of the object).
    #[arg(long)]
    size: Option<u64>,
}

/// Runs `dump`.
///
/// # Errors
/// Exit 1 (not found), 2 (corrupt table when NAME is given), 3 (range outside the target).
pub fn run(args: &Args, json: bool) -> Result<()> {
    let src = resolve(&args.seg)?;
    let (content, len) = classify(&src.path)?;
    // The target range (absolute start, length); only the bytes printed are read.
    let (base, total): (u64, u64) = match &args.name {
        None => (0, len),
        Some(name) => match content {
            Content::ZeroIpc => {
                let seg = open_segment(&src)?;
                let entry = seg
                    .find(name)
                    .map_err(|e| CliError::from(e).context(src.label()))?;
                (entry.offset(), entry.size())
            }
            Content::ZeroBuffer => {
                let snap = buffer_snapshot(&src)?;
                let m = snap.oieb.metadata_size;
                let p = snap.oieb.payload_size;
                let (start, n) = match name.as_str() {
                    "oieb" => (0, 128),
                    "metadata" => (128, m),
                    "payload" => (128u64.saturating_add(m), p),
                    other => {
                        return Err(CliError::not_found(format!(
                            "{}: no block {other:?} (oieb, metadata, payload)",
                            src.label()
                        )));
                    }
                };
                if start.checked_add(n).is_none_or(|end| end > len) {
                    return Err(CliError::corrupt("buffer shorter than its OIEB says"));
                }
                (start, n)
            }
            Content::Other => return Err(unrecognised(&src, len)),
        },
    };
    let size = args.size.unwrap_or(total.saturating_sub(args.offset));
    let in_range = args
        .offset
        .checked_add(size)
        .is_some_and(|e| e <= total && args.offset <= total);
    if !in_range {
        return Err(CliError::other(format!(
            "range {}+{} is outside the {total}-byte {}",
            args.offset,
            size,
            args.name
                .as_deref()
                .map_or("object".to_owned(), |n| format!("{n:?}"))
        )));
    }
    let data = read_range(&src.path, base + args.offset, size)?;
    if (data.len() as u64) < size {
        return Err(CliError::corrupt(format!(
            "{}: the object shrank while it was read ({} of {size} bytes)",
            src.label(),
            data.len()
        )));
    }
    let slice = data.as_slice();
    let start = base + args.offset;
    if json {
        return out_json(&json!({
            "source": src.label(),
            "name": args.name,
            "offset": start,
            "size": slice.len(),
            "hex": crate::fmt::hex(slice),
        }));
    }
    for line in crate::fmt::hexdump(slice, start) {
        out(&line)?;
    }
    Ok(())
}
