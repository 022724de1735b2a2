//! Element types, structure kinds and the `--as KIND:TYPE[:TYPE]` option.

use std::fmt;
use std::str::FromStr;

/// A `bytemuck::Pod` scalar element type.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Dtype {
    /// `i8`
    I8,
    /// `i16`
    I16,
    /// `i32`
    I32,
    /// `i64`
    I64,
    /// `u8`
    U8,
    /// `u16`
    U16,
    /// `u32`
    U32,
    /// `u64`
    U64,
    /// `f32`
    F32,
    /// `f64`
    F64,
}

impl Dtype {
    /// Every scalar type.
    pub const ALL: [Dtype; 10] = [
        Dtype::I8,
        Dtype::I16,
        Dtype::I32,
        Dtype::I64,
        Dtype::U8,
        Dtype::U16,
        Dtype::U32,
        Dtype::U64,
        Dtype::F32,
        Dtype::F64,
    ];

    /// Size (and alignment) in bytes.
    pub fn size(self) -> u64 {
        match self {
            Dtype::I8 | Dtype::U8 => 1,
            Dtype::I16 | Dtype::U16 => 2,
            Dtype::I32 | Dtype::U32 | Dtype::F32 => 4,
            Dtype::I64 | Dtype::U64 | Dtype::F64 => 8,
        }
    }

    /// The Rust name (`i32`).
    pub fn short(self) -> &'static str {
        match self {
            Dtype::I8 => "i8",
            Dtype::I16 => "i16",
            Dtype::I32 => "i32",
            Dtype::I64 => "i64",
            Dtype::U8 => "u8",
            Dtype::U16 => "u16",
            Dtype::U32 => "u32",
            Dtype::U64 => "u64",
            Dtype::F32 => "f32",
            Dtype::F64 => "f64",
        }
    }

    /// The numpy name (`int32`), as the golden JSON files use.
    pub fn numpy(self) -> &'static str {
        match self {
            Dtype::I8 => "int8",
            Dtype::I16 => "int16",
            Dtype::I32 => "int32",
            Dtype::I64 => "int64",
            Dtype::U8 => "uint8",
            Dtype::U16 => "uint16",
            Dtype::U32 => "uint32",
            Dtype::U64 => "uint64",
            Dtype::F32 => "float32",
            Dtype::F64 => "float64",
        }
    }

    /// The signed integer type of `size` bytes (the fallback when only the size is known).
    pub fn signed_of_size(size: u64) -> Option<Dtype> {
        match size {
            1 => Some(Dtype::I8),
            2 => Some(Dtype::I16),
            4 => Some(Dtype::I32),
            8 => Some(Dtype::I64),
            _ => None,
        }
    }
}

impl fmt::Display for Dtype {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.numpy())
    }
}

impl FromStr for Dtype {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let s = s.to_ascii_lowercase();
        Dtype::ALL
            .into_iter()
            .find(|d| d.short() == s || d.numpy() == s)
            .or(match s.as_str() {
                "float" => Some(Dtype::F32),
                "double" => Some(Dtype::F64),
                "byte" | "char" => Some(Dtype::I8),
                _ => None,
            })
            .ok_or_else(|| {
                format!("unknown element type {s:?} (i8..i64, u8..u64, f32, f64 or numpy names)")
            })
    }
}

/// A structure kind this version decodes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// `Array<T>`
    Array,
    /// `Queue<T>`
    Queue,
    /// `Stack<T>`
    Stack,
    /// `Ring<T>`
    Ring,
    /// `Map<K, V>`
    Map,
    /// `Set<T>`
    Set,
    /// `Pool<T>`
    Pool,
    /// `Semaphore` (zeroipc-sync)
    Semaphore,
    /// `Mutex` (a semaphore with `max_count == 1`, and the project's `NAME_owner`)
    Mutex,
    /// `RwLock` (`NAME_state`, `NAME_rmtx`, `NAME_wmtx`, marker `NAME`)
    RwLock,
    /// `Monitor` (`NAME_mtx`, `NAME_cond`, `NAME_count`, marker `NAME`)
    Monitor,
    /// `Barrier`
    Barrier,
    /// `Latch`
    Latch,
    /// `Once`
    Once,
    /// `Event` (`NAME`, marker `NAME_sem`)
    Event,
    /// `Signal<T>` (`NAME_state`, `NAME_mtx`, marker `NAME`)
    Signal,
    /// `Future<T>` (zeroipc-codata)
    Future,
    /// `Lazy<T>`
    Lazy,
    /// `Stream<T>` (`NAME_header`, `NAME_buffer`, optional `NAME_subs`)
    Stream,
    /// `Channel<T>` (`NAME_header`, `NAME_buffer` or `NAME_slot`, optional `NAME_peers`)
    Channel,
}

/// How many element types a kind takes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Typing {
    /// None (synchronisation primitives).
    Untyped,
    /// One element type.
    One,
    /// Key and value types (maps).
    Two,
}

impl Kind {
    /// Every decodable kind.
    pub const ALL: [Kind; 20] = [
        Kind::Array,
        Kind::Queue,
        Kind::Stack,
        Kind::Ring,
        Kind::Map,
        Kind::Set,
        Kind::Pool,
        Kind::Semaphore,
        Kind::Mutex,
        Kind::RwLock,
        Kind::Monitor,
        Kind::Barrier,
        Kind::Latch,
        Kind::Once,
        Kind::Event,
        Kind::Signal,
        Kind::Future,
        Kind::Lazy,
        Kind::Stream,
        Kind::Channel,
    ];

    /// The lower-case name used in output and in `--as`.
    pub fn name(self) -> &'static str {
        match self {
            Kind::Array => "array",
            Kind::Queue => "queue",
            Kind::Stack => "stack",
            Kind::Ring => "ring",
            Kind::Map => "map",
            Kind::Set => "set",
            Kind::Pool => "pool",
            Kind::Semaphore => "semaphore",
            Kind::Mutex => "mutex",
            Kind::RwLock => "rwlock",
            Kind::Monitor => "monitor",
            Kind::Barrier => "barrier",
            Kind::Latch => "latch",
            Kind::Once => "once",
            Kind::Event => "event",
            Kind::Signal => "signal",
            Kind::Future => "future",
            Kind::Lazy => "lazy",
            Kind::Stream => "stream",
            Kind::Channel => "channel",
        }
    }

    /// How many element types the kind takes.
    pub fn typing(self) -> Typing {
        match self {
            Kind::Map => Typing::Two,
            Kind::Semaphore
            | Kind::Mutex
            | Kind::RwLock
            | Kind::Monitor
            | Kind::Barrier
            | Kind::Latch
            | Kind::Once
            | Kind::Event => Typing::Untyped,
            _ => Typing::One,
        }
    }

    /// Whether the kind is one of the data structures of `zeroipc-structures` (whose element
    /// type is always known, at least by size).
    pub fn is_structure(self) -> bool {
        matches!(
            self,
            Kind::Array
                | Kind::Queue
                | Kind::Stack
                | Kind::Ring
                | Kind::Map
                | Kind::Set
                | Kind::Pool
        )
    }
}

impl fmt::Display for Kind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Kind {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let s = s.to_ascii_lowercase();
        Kind::ALL
            .into_iter()
            .find(|k| k.name() == s)
            .ok_or_else(|| {
                format!(
                    "unknown kind {s:?} (array, queue, stack, ring, map, set, pool, semaphore, \
                     mutex, rwlock, monitor, barrier, latch, once, event, signal, future, lazy, \
                     stream, channel)"
                )
            })
    }
}

/// How to decode one structure: kind, element type, and the value type of a map.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Spec {
    /// The structure kind.
    pub kind: Kind,
    /// Element type (the key type of a map); `None` for untyped kinds, and for typed codata
    /// kinds whose element size the layout does not store.
    pub dtype: Option<Dtype>,
    /// Value type of a map (`None` for the other kinds).
    pub value: Option<Dtype>,
}

impl Spec {
    /// A spec for an untyped kind.
    pub fn untyped(kind: Kind) -> Self {
        Spec {
            kind,
            dtype: None,
            value: None,
        }
    }
}

impl fmt::Display for Spec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.kind)?;
        if let Some(d) = self.dtype {
            write!(f, ":{}", d.short())?;
        }
        if let Some(v) = self.value {
            write!(f, ":{}", v.short())?;
        }
        Ok(())
    }
}

impl FromStr for Spec {
    type Err = String;

    /// `KIND:TYPE`, `map:KEY:VALUE`, or a bare `KIND` for the synchronisation primitives.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let parts: Vec<&str> = s.split(':').collect();
        let kind: Kind = parts.first().copied().unwrap_or_default().parse()?;
        match (kind.typing(), parts.as_slice()) {
            (Typing::Two, [_, k, v]) => Ok(Spec {
                kind,
                dtype: Some(k.parse()?),
                value: Some(v.parse()?),
            }),
            (Typing::Two, _) => Err(format!(
                "{s:?}: a map needs map:KEY:VALUE, e.g. map:i32:f64"
            )),
            (Typing::One, [_, t]) => Ok(Spec {
                kind,
                dtype: Some(t.parse()?),
                value: None,
            }),
            (Typing::One, _) => Err(format!("{s:?}: expected {kind}:TYPE, e.g. {kind}:i32")),
            (Typing::Untyped, [_]) => Ok(Spec::untyped(kind)),
            (Typing::Untyped, _) => {
                Err(format!("{s:?}: a {kind} has no element type (--as {kind})"))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_as_options() {
        let s: Spec = "queue:i32".parse().expect("queue");
        assert_eq!(
            (s.kind, s.dtype, s.value),
            (Kind::Queue, Some(Dtype::I32), None)
        );
        let s: Spec = "map:int32:float64".parse().expect("map");
        assert_eq!(s.value, Some(Dtype::F64));
        assert_eq!(s.to_string(), "map:i32:f64");
        assert!("map:i32".parse::<Spec>().is_err());
        assert!("queue".parse::<Spec>().is_err());
        assert!("heap:i32".parse::<Spec>().is_err());
        assert!("ring:i128".parse::<Spec>().is_err());
        let s: Spec = "semaphore".parse().expect("semaphore");
        assert_eq!(s, Spec::untyped(Kind::Semaphore));
        assert!("mutex:i32".parse::<Spec>().is_err());
        assert!("future".parse::<Spec>().is_err());
        let s: Spec = "stream:i32".parse().expect("stream");
        assert_eq!(s.to_string(), "stream:i32");
        for k in Kind::ALL {
            assert_eq!(k.name().parse::<Kind>(), Ok(k));
        }
        for d in Dtype::ALL {
            assert_eq!(d.short().parse::<Dtype>(), Ok(d));
            assert_eq!(d.numpy().parse::<Dtype>(), Ok(d));
        }
    }
}
