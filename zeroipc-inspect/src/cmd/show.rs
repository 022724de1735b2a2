//! `show`: a segment's header and table, one structure's decoded state, or a buffer's OIEB.

use serde_json::{Value, json};
use zerobuffer::BufferSnapshot;
use zeroipc_format::{Entry, Segment};

use crate::cmd::list::buffer_state;
use crate::cmd::{out, out_json};
use crate::decode::{F32Form, Fields, View, decode};
use crate::dtype::Spec;
use crate::error::{CliError, Result};
use crate::infer::{DtypeSource, Guess, infer};
use crate::source::{
    Content, Source, buffer_snapshot, classify, load_prefixes, load_structure, open_segment,
    resolve, unrecognised,
};

/// Arguments of `show`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Shared-memory name (`NAME` or `/NAME`) or path to an image file.
    seg: String,
    /// A structure in the segment's table.
    name: Option<String>,
    /// Decode NAME as KIND:TYPE (array|queue|stack|ring|set|pool|signal|future|lazy|stream|
    /// channel), map:KEY:VALUE, or KIND (semaphore|mutex|rwlock|monitor|barrier|latch|once|
    /// event); TYPE one of i8 i16 i32 i64 u8 u16 u32 u64 f32 f64; default: inferred.
    #[arg(long = "as", value_name = "KIND:TYPE")]
    spec: Option<Spec>,
    /// Elements shown at each end of a long list.
    #[arg(short = 'n', long = "items", default_value_t = 10, value_name = "N")]
    edge: usize,
    /// Show every element.
    #[arg(long)]
    all: bool,
}

/// Runs `show`.
///
/// # Errors
/// Exit 1 (segment, buffer or entry not found), 2 (corrupt), 3 (cannot decode as asked).
pub fn run(args: &Args, json: bool) -> Result<()> {
    let src = resolve(&args.seg)?;
    let (content, len) = classify(&src.path)?;
    let view = View {
        edge: args.edge,
        all: args.all,
        f32: F32Form::Shortest,
    };
    match content {
        Content::ZeroIpc => {
            let seg = open_segment(&src)?;
            match &args.name {
                None => {
                    load_prefixes(&seg, &seg.entries()?)?;
                    show_segment(&src, &seg, len, json)
                }
                Some(name) => {
                    load_structure(&seg, name)?;
                    show_structure(&seg, name, args.spec, &view, json)
                }
            }
        }
        Content::ZeroBuffer => {
            if let Some(name) = &args.name {
                return Err(CliError::other(format!(
                    "{}: a ZeroBuffer buffer has no named structures (got {name:?})",
                    src.label()
                )));
            }
            show_buffer(&src, &buffer_snapshot(&src)?, json)
        }
        Content::Other => Err(unrecognised(&src, len)),
    }
}

/// Infers every entry of the table.
pub fn guesses(seg: &Segment, entries: &[Entry]) -> Vec<Guess> {
    entries
        .iter()
        .map(|e| infer(seg, entries, e.name()))
        .collect()
}

fn guess_json(g: &Guess) -> Value {
    match g {
        Guess::Known { spec, source } => json!({
            "kind": spec.kind.name(),
            "dtype": spec.dtype.map(|d| d.numpy()),
            "value_dtype": spec.value.map(|v| v.numpy()),
            "dtype_source": source.name(),
        }),
        Guess::Label(l) => json!({ "kind": l }),
        Guess::Ambiguous(kinds) => json!({
            "kind": null,
            "candidates": kinds.iter().map(|k| k.name()).collect::<Vec<_>>(),
        }),
        Guess::Unknown => json!({ "kind": null }),
    }
}

fn show_segment(src: &Source, seg: &Segment, file_size: u64, json: bool) -> Result<()> {
    let h = seg.header()?;
    let entries = seg.entries()?;
    let table = seg.table_size();
    let used = h.next_offset.saturating_sub(table);
    let free = seg.free_space()?;
    let guesses = guesses(seg, &entries);
    if json {
        let rows: Vec<Value> = entries
            .iter()
            .zip(&guesses)
            .map(|(e, g)| {
                let mut v = json!({
                    "index": e.index(),
                    "name": e.name(),
                    "offset": e.offset(),
                    "size": e.size(),
                });
                if let (Value::Object(m), Value::Object(gm)) = (&mut v, guess_json(g)) {
                    m.extend(gm);
                }
                v
            })
            .collect();
        return out_json(&json!({
            "format": "zeroipc",
            "source": src.label(),
            "file_size": file_size,
            "header": crate::golden::header_json(&h),
            "table_size": table,
            "used_bytes": used,
            "free_bytes": free,
            "entries": rows,
        }));
    }
    #[allow(clippy::cast_precision_loss)]
    let pct = |x: u64| 100.0 * x as f64 / h.memory_size.max(1) as f64;
    out(&format!(
        "ZeroIPC segment {} ({})",
        src.label(),
        crate::fmt::bytes(file_size)
    ))?;
    out(&format!(
        "  magic {:#010x}  version {}  entries {}/{}  table {} B",
        h.magic,
        h.version,
        h.entry_count,
        h.effective_max_entries(),
        table
    ))?;
    out(&format!(
        "  memory_size {}  next_offset {}  used {} ({:.1}%)  free {} ({:.1}%)",
        h.memory_size,
        h.next_offset,
        crate::fmt::bytes(used),
        pct(used),
        crate::fmt::bytes(free),
        pct(free)
    ))?;
    out("")?;
    let w = entries
        .iter()
        .map(|e| e.name().len())
        .max()
        .unwrap_or(4)
        .max(4);
    out(&format!(
        "  {:>3}  {:<w$}  {:>8}  {:>8}  KIND",
        "#", "NAME", "OFFSET", "SIZE"
    ))?;
    for (e, g) in entries.iter().zip(&guesses) {
        out(&format!(
            "  {:>3}  {:<w$}  {:>8}  {:>8}  {}",
            e.index(),
            e.name(),
            e.offset(),
            e.size(),
            g.label()
        ))?;
    }
    Ok(())
}

fn show_structure(
    seg: &Segment,
    name: &str,
    spec: Option<Spec>,
    view: &View,
    json: bool,
) -> Result<()> {
    let entries = seg.entries()?;
    let entry = entries.iter().find(|e| e.name() == name);
    let guess = infer(seg, &entries, name);
    // A composite structure (stream, channel) may have no entry of its own name.
    let composite = matches!(&guess, Guess::Known { spec, .. } if !spec.kind.is_structure());
    if entry.is_none() && !composite {
        let e = seg
            .find(name)
            .err()
            .map_or_else(|| CliError::not_found(name.to_owned()), CliError::from);
        return Err(e.context(seg.name()));
    }
    let mut f = Fields::default();
    f.put("name", name);
    f.put("offset", entry.map(Entry::offset));
    f.put("bytes", entry.map(Entry::size));
    let (spec, source) = match (spec, guess) {
        (Some(s), _) => (s, DtypeSource::Option),
        (None, Guess::Known { spec, source }) => (spec, source),
        (None, Guess::Label(label)) => {
            f.put("kind", label.as_str());
            f.put("decoded", false);
            return print_fields(&f, json);
        }
        (None, other) => {
            return Err(CliError::other(format!(
                "{name:?} ({} bytes): cannot infer its kind ({}); pass --as KIND[:TYPE], e.g. --as queue:i32, --as map:i32:f64 or --as semaphore",
                entry.map_or(0, Entry::size),
                other.label()
            )));
        }
    };
    if source != DtypeSource::Untyped && spec.kind.typing() != crate::dtype::Typing::Untyped {
        f.put("dtype_source", source.name());
    }
    decode(seg, name, spec, view, &mut f).map_err(|e| e.context(format!("{name:?} as {spec}")))?;
    if !spec.kind.is_structure() && crate::prim::parts(spec.kind).len() > 1 {
        f.put("parts", crate::prim::parts_json(seg, name, spec.kind)?);
    }
    print_fields(&f, json)
}

fn print_fields(f: &Fields, json: bool) -> Result<()> {
    if json {
        return out_json(&f.to_json());
    }
    let w = f.0.iter().map(|(k, _)| k.len()).max().unwrap_or(0);
    for (k, v) in &f.0 {
        let text = match v {
            Value::String(s) => s.clone(),
            other => other.to_string(),
        };
        out(format!("{k:<w$}  {text}").trim_end())?;
    }
    Ok(())
}

/// The JSON object `show` prints for a buffer (also used by `monitor`).
pub fn buffer_json(src: &Source, s: &BufferSnapshot) -> Value {
    let o = &s.oieb;
    let metadata = s.metadata.as_ref().map(|m| {
        json!({
            "bytes": m.len(),
            "text": crate::fmt::is_text(m).then(|| String::from_utf8_lossy(m).into_owned()),
            "hex": crate::fmt::hex(m),
        })
    });
    json!({
        "format": "zerobuffer",
        "source": src.label(),
        "file_size": s.file_size,
        "oieb": {
            "oieb_size": o.oieb_size,
            "version": format!("{}.{}.{}", o.version[0], o.version[1], o.version[2]),
            "metadata_size": o.metadata_size,
            "metadata_free_bytes": o.metadata_free_bytes,
            "metadata_written_bytes": o.metadata_written_bytes,
            "payload_size": o.payload_size,
            "payload_free_bytes": o.payload_free_bytes,
            "payload_write_pos": o.payload_write_pos,
            "payload_read_pos": o.payload_read_pos,
            "payload_written_count": o.payload_written_count,
            "payload_read_count": o.payload_read_count,
            "writer_pid": o.writer_pid,
            "reader_pid": o.reader_pid,
        },
        "metadata": metadata,
        "used_bytes": s.health.used_bytes,
        "free_bytes": s.health.free_bytes,
        "continuous_free": s.health.continuous_free,
        "utilisation": s.health.utilisation,
        "health": format!("{:?}", s.health.level).to_lowercase(),
        "state": buffer_state(s),
        "writer": { "pid": o.writer_pid, "alive": s.writer_alive },
        "reader": { "pid": o.reader_pid, "alive": s.reader_alive },
    })
}

fn show_buffer(src: &Source, s: &BufferSnapshot, json: bool) -> Result<()> {
    if json {
        return out_json(&buffer_json(src, s));
    }
    let o = &s.oieb;
    let peer = |pid: u64, alive: bool| {
        if pid == 0 {
            "none".to_owned()
        } else {
            format!("{pid} ({})", if alive { "alive" } else { "dead" })
        }
    };
    out(&format!(
        "ZeroBuffer {} ({}), protocol {}.{}.{}, {}",
        src.label(),
        crate::fmt::bytes(s.file_size),
        o.version[0],
        o.version[1],
        o.version[2],
        buffer_state(s)
    ))?;
    out(&format!("  writer  {}", peer(o.writer_pid, s.writer_alive)))?;
    out(&format!("  reader  {}", peer(o.reader_pid, s.reader_alive)))?;
    out(&format!(
        "  payload {} {:.1}% used ({} of {} B, {:?}), continuous free {} B",
        crate::fmt::bar(s.health.utilisation, 30),
        s.health.utilisation * 100.0,
        s.health.used_bytes,
        o.payload_size,
        s.health.level,
        s.health.continuous_free
    ))?;
    out(&format!(
        "  positions write {} read {}  frames written {} read {}",
        o.payload_write_pos, o.payload_read_pos, o.payload_written_count, o.payload_read_count
    ))?;
    let meta = match &s.metadata {
        None => "none".to_owned(),
        Some(m) if crate::fmt::is_text(m) => {
            format!("{} B text {:?}", m.len(), String::from_utf8_lossy(m))
        }
        Some(m) => format!("{} B hex {}", m.len(), crate::fmt::hex(m)),
    };
    out(&format!(
        "  metadata ({} B block, {} written, {} free): {meta}",
        o.metadata_size, o.metadata_written_bytes, o.metadata_free_bytes
    ))
}
