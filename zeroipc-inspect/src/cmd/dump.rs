//! `dump`: hex dump with an ASCII column, bounds-checked.

use serde_json::json;

use crate::cmd::{out, out_json};
use crate::error::{CliError, Result};
use crate::source::{Content, buffer_snapshot, classify, open_segment, resolve, unrecognised};

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
    // (absolute start, length, bytes of the whole target range)
    let (base, data): (u64, Vec<u8>) = match &args.name {
        None => (0, std::fs::read(&src.path)?),
        Some(name) => {
            let (content, len) = classify(&src.path)?;
            match content {
                Content::ZeroIpc => {
                    let seg = open_segment(&src)?;
                    let entry = seg
                        .find(name)
                        .map_err(|e| CliError::from(e).context(src.label()))?;
                    (entry.offset(), seg.region(&entry)?.to_vec())
                }
                Content::ZeroBuffer => {
                    let snap = buffer_snapshot(&src)?;
                    let m = snap.oieb.metadata_size;
                    let p = snap.oieb.payload_size;
                    let (start, n) = match name.as_str() {
                        "oieb" => (0, 128),
                        "metadata" => (128, m),
                        "payload" => (128 + m, p),
                        other => {
                            return Err(CliError::not_found(format!(
                                "{}: no block {other:?} (oieb, metadata, payload)",
                                src.label()
                            )));
                        }
                    };
                    let all = std::fs::read(&src.path)?;
                    let bytes = usize::try_from(start)
                        .ok()
                        .zip(usize::try_from(start + n).ok())
                        .and_then(|(a, b)| all.get(a..b))
                        .ok_or_else(|| CliError::corrupt("buffer shorter than its OIEB says"))?;
                    (start, bytes.to_vec())
                }
                Content::Other => return Err(unrecognised(&src, len)),
            }
        }
    };
    let total = data.len() as u64;
    let size = args.size.unwrap_or(total.saturating_sub(args.offset));
    let end = args
        .offset
        .checked_add(size)
        .filter(|&e| e <= total && args.offset <= total);
    let Some(end) = end else {
        return Err(CliError::other(format!(
            "range {}+{} is outside the {total}-byte {}",
            args.offset,
            size,
            args.name
                .as_deref()
                .map_or("object".to_owned(), |n| format!("{n:?}"))
        )));
    };
    let slice = usize::try_from(args.offset)
        .ok()
        .zip(usize::try_from(end).ok())
        .and_then(|(a, b)| data.get(a..b))
        .unwrap_or(&[]);
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
