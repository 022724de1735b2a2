//! What `SEG` names (a shared-memory object or an image file) and what it holds, decided by
//! content: the ZeroIPC magic or a ZeroBuffer OIEB, never the name.

use std::io::Read;
use std::path::{Path, PathBuf};
use std::time::Duration;

use zerobuffer::{BufferSnapshot, OiebFields};
use zeroipc_format::{HEADER_SIZE, MAGIC, Segment, SegmentOptions};

use crate::error::{CliError, Result};

/// Where shared-memory objects live.
pub const SHM_DIR: &str = "/dev/shm";

/// What a file holds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Content {
    /// A ZeroIPC segment (magic `0x5A49504D` at offset 0).
    ZeroIpc,
    /// A ZeroBuffer buffer (`oieb_size == 128`, major version 1).
    ZeroBuffer,
    /// Anything else.
    Other,
}

impl Content {
    /// Lower-case name for output.
    pub fn name(self) -> &'static str {
        match self {
            Content::ZeroIpc => "zeroipc",
            Content::ZeroBuffer => "zerobuffer",
            Content::Other => "other",
        }
    }
}

/// A resolved `SEG` argument.
#[derive(Clone, Debug)]
pub struct Source {
    /// The shared-memory name (without `/`), or `None` for an image file.
    pub shm: Option<String>,
    /// The file to read (`/dev/shm/NAME` for a shared-memory object).
    pub path: PathBuf,
}

impl Source {
    /// How to name it in messages.
    pub fn label(&self) -> String {
        match &self.shm {
            Some(n) => format!("/{n}"),
            None => self.path.display().to_string(),
        }
    }
}

/// Resolves `seg`: a shared-memory name (`NAME` or `/NAME`) if `/dev/shm/NAME` exists,
/// otherwise a path to an image file.
///
/// # Errors
/// Exit 1 if neither exists.
pub fn resolve(seg: &str) -> Result<Source> {
    let bare = seg.strip_prefix('/').unwrap_or(seg);
    if !bare.is_empty() && !bare.contains('/') {
        let path = Path::new(SHM_DIR).join(bare);
        if path.exists() {
            return Ok(Source {
                shm: Some(bare.to_owned()),
                path,
            });
        }
    }
    let path = PathBuf::from(seg);
    if path.is_file() {
        return Ok(Source { shm: None, path });
    }
    Err(CliError::not_found(format!(
        "{seg:?}: no such shared-memory object in {SHM_DIR} nor image file"
    )))
}

/// Reads up to 128 bytes of `path` and classifies them; also returns the file length.
///
/// # Errors
/// I/O errors (exit 1 for a missing file).
pub fn classify(path: &Path) -> Result<(Content, u64)> {
    let mut file = std::fs::File::open(path)?;
    let len = file.metadata()?.len();
    let mut head = Vec::with_capacity(128);
    file.by_ref().take(128).read_to_end(&mut head)?;
    Ok((classify_bytes(&head), len))
}

/// Classifies the first bytes of an object.
pub fn classify_bytes(head: &[u8]) -> Content {
    let word = head
        .get(..4)
        .and_then(|b| <[u8; 4]>::try_from(b).ok())
        .map(u32::from_le_bytes);
    if head.len() >= HEADER_SIZE && word == Some(MAGIC) {
        Content::ZeroIpc
    } else if OiebFields::parse(head).is_some_and(|o| o.looks_like_zerobuffer()) {
        Content::ZeroBuffer
    } else {
        Content::Other
    }
}

/// The error for an object that is neither format.
pub fn unrecognised(src: &Source, len: u64) -> CliError {
    if len < HEADER_SIZE as u64 {
        return CliError::corrupt(format!(
            "{}: truncated: {len} bytes, shorter than the {HEADER_SIZE}-byte ZeroIPC header",
            src.label()
        ));
    }
    let magic = std::fs::read(&src.path)
        .ok()
        .and_then(|b| b.get(..4).and_then(|w| <[u8; 4]>::try_from(w).ok()))
        .map_or(0, u32::from_le_bytes);
    CliError::corrupt(format!(
        "{}: bad magic {magic:#010x}: neither a ZeroIPC segment (magic {MAGIC:#010x}) nor a ZeroBuffer buffer (OIEB size 128)",
        src.label()
    ))
}

/// Opens a ZeroIPC segment read-only (copy-on-write: nothing is ever written to it).
///
/// # Errors
/// The open and validation errors of `zeroipc-format`.
pub fn open_segment(src: &Source) -> Result<Segment> {
    let opts = SegmentOptions::new().init_grace(Duration::ZERO);
    let seg = match &src.shm {
        Some(name) => opts.open_read_only(name),
        None => opts.open_path_read_only(&src.path),
    };
    seg.map_err(|e| CliError::from(e).context(src.label()))
}

/// Snapshots a ZeroBuffer buffer read-only.
///
/// # Errors
/// The errors of [`zerobuffer::inspect`].
pub fn buffer_snapshot(src: &Source) -> Result<BufferSnapshot> {
    let snap = match &src.shm {
        Some(name) => zerobuffer::inspect(name),
        None => zerobuffer::inspect_file(&src.path),
    };
    snap.map_err(|e| CliError::from(e).context(src.label()))
}
