//! What `SEG` names (a shared-memory object or an image file) and what it holds, decided by
//! content: the ZeroIPC magic or a ZeroBuffer OIEB, never the name.

use std::fs::File;
use std::path::{Path, PathBuf};

use zerobuffer::{BufferSnapshot, OiebFields};
use zeroipc_format::{Entry, HEADER_SIZE, MAGIC, Segment, SegmentOptions};

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
        // Not following links: a planted link is refused by `open_file` with a message.
        if std::fs::symlink_metadata(&path).is_ok() {
            return Ok(Source {
                shm: Some(bare.to_owned()),
                path,
            });
        }
    }
    let path = PathBuf::from(seg);
    if std::fs::symlink_metadata(&path).is_ok() {
        return Ok(Source { shm: None, path });
    }
    Err(CliError::not_found(format!(
        "{seg:?}: no such shared-memory object in {SHM_DIR} nor image file"
    )))
}

/// Opens `path` for reading without following a final symbolic link and without blocking
/// (a FIFO would block `open` and `read` forever), and refuses anything but a regular file.
///
/// # Errors
/// Exit 1 for a missing file; exit 2, naming what it is, for a symbolic link, FIFO,
/// directory, socket or device.
pub fn open_file(path: &Path) -> Result<File> {
    use rustix::fs::{FileType, Mode, OFlags};
    let label = path.display();
    let refuse = |kind: &str| {
        CliError::corrupt(format!(
            "{label}: is a {kind}, not a regular file; inspect reads only shared-memory objects \
             and image files, and never follows links"
        ))
    };
    let fd = rustix::fs::open(
        path,
        OFlags::RDONLY | OFlags::NOFOLLOW | OFlags::NONBLOCK | OFlags::CLOEXEC,
        Mode::empty(),
    )
    .map_err(|e| match e {
        rustix::io::Errno::LOOP => refuse("symbolic link"),
        e => CliError::from(std::io::Error::from(e)).context(&label),
    })?;
    let st = rustix::fs::fstat(&fd).map_err(|e| CliError::from(std::io::Error::from(e)))?;
    match FileType::from_raw_mode(st.st_mode) {
        FileType::RegularFile => Ok(File::from(fd)),
        FileType::Directory => Err(refuse("directory")),
        FileType::Fifo => Err(refuse("FIFO")),
        FileType::Socket => Err(refuse("socket")),
        FileType::CharacterDevice | FileType::BlockDevice => Err(refuse("device")),
        _ => Err(refuse("special file")),
    }
}

/// Reads at most `len` bytes at `offset` of `path` (`pread`; fewer at the end of the file).
///
/// # Errors
/// As [`open_file`], and I/O errors.
pub fn read_range(path: &Path, offset: u64, len: u64) -> Result<Vec<u8>> {
    let file = open_file(path)?;
    let len = usize::try_from(len).map_err(|_| CliError::other("range too large"))?;
    let mut out = vec![0u8; len.min(1 << 20)];
    let mut data = Vec::new();
    while data.len() < len {
        let want = (len - data.len()).min(out.len());
        let at = offset.saturating_add(data.len() as u64);
        let n = rustix::io::pread(&file, &mut out[..want], at)
            .map_err(|e| CliError::from(std::io::Error::from(e)))?;
        if n == 0 {
            break;
        }
        data.extend_from_slice(&out[..n]);
    }
    Ok(data)
}

/// Reads up to 128 bytes of `path` and classifies them; also returns the file length.
///
/// # Errors
/// As [`open_file`] (exit 1 for a missing file).
pub fn classify(path: &Path) -> Result<(Content, u64)> {
    let file = open_file(path)?;
    let len = file.metadata()?.len();
    let mut head = [0u8; 128];
    let n = rustix::io::pread(&file, &mut head, 0)
        .map_err(|e| CliError::from(std::io::Error::from(e)))?;
    Ok((classify_bytes(&head[..n]), len))
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
    let magic = read_range(&src.path, 0, 4)
        .ok()
        .and_then(|b| b.get(..4).and_then(|w| <[u8; 4]>::try_from(w).ok()))
        .map_or(0, u32::from_le_bytes);
    CliError::corrupt(format!(
        "{}: bad magic {magic:#010x}: neither a ZeroIPC segment (magic {MAGIC:#010x}) nor a ZeroBuffer buffer (OIEB size 128)",
        src.label()
    ))
}

/// Reads a ZeroIPC segment's header and table into private memory with `pread`, never
/// mapping it (a peer shrinking the file cannot crash the inspector); structures are read
/// with [`load_structure`] or [`load_prefixes`].
///
/// # Errors
/// The open and validation errors of `zeroipc-format`.
pub fn open_segment(src: &Source) -> Result<Segment> {
    SegmentOptions::new()
        .snapshot_path(&src.path)
        .map_err(|e| CliError::from(e).context(src.label()))
}

/// Bytes of each structure read for inferring kinds in an overview: its header and first
/// elements, never a whole large structure.
pub const INFER_PREFIX: u64 = 64 * 1024;

/// Reads the first [`INFER_PREFIX`] bytes of every entry into a snapshot.
///
/// # Errors
/// As [`Segment::load`].
pub fn load_prefixes(seg: &Segment, entries: &[Entry]) -> Result<()> {
    for e in entries {
        seg.load_prefix(e, INFER_PREFIX)
            .map_err(|err| CliError::from(err).context(seg.name()))?;
    }
    Ok(())
}

/// Reads structure `name` and its parts (entries named `NAME_...`) into a snapshot, and the
/// first bytes of the others (for inference).
///
/// # Errors
/// As [`Segment::load`].
pub fn load_structure(seg: &Segment, name: &str) -> Result<()> {
    let entries = seg.entries()?;
    let prefix = format!("{name}_");
    for e in &entries {
        let r = if e.name() == name || e.name().starts_with(&prefix) {
            seg.load(e)
        } else {
            seg.load_prefix(e, INFER_PREFIX)
        };
        r.map_err(|err| CliError::from(err).context(seg.name()))?;
    }
    Ok(())
}

/// Snapshots a ZeroBuffer buffer read-only.
///
/// # Errors
/// The errors of [`zerobuffer::inspect`].
pub fn buffer_snapshot(src: &Source) -> Result<BufferSnapshot> {
    // Through the path, opened without following links or blocking (never shm_open, which
    // would block on a FIFO).
    zerobuffer::inspect_file(&src.path).map_err(|e| CliError::from(e).context(src.label()))
}
