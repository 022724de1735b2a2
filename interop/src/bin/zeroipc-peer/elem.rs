//! Element types by numpy dtype name, and their JSON encoding.

use serde_json::{Value, json};

use crate::error::PeerError;

/// An element type the peer can put in a structure: plain bytes with a JSON form.
pub trait Elem: bytemuck::Pod + PartialEq + std::fmt::Debug {
    /// The numpy dtype name.
    const DTYPE: &'static str;
    /// The JSON number for this value (floats widen exactly to f64).
    fn to_json(self) -> Value;
    /// The value of a JSON number, if it is exactly representable.
    ///
    /// # Errors
    /// A message naming the value if it is not a number of this type.
    fn from_json(v: &Value) -> Result<Self, PeerError>;
}

macro_rules! int_elem {
    ($($t:ty => $name:literal),* $(,)?) => {$(
        impl Elem for $t {
            const DTYPE: &'static str = $name;
            fn to_json(self) -> Value {
                json!(self)
            }
            fn from_json(v: &Value) -> Result<Self, PeerError> {
                let wide = match (v.as_i64(), v.as_u64()) {
                    (Some(i), _) => i128::from(i),
                    (None, Some(u)) => i128::from(u),
                    _ => return Err(PeerError::scenario(format!("{v} is not an integer"))),
                };
                <$t>::try_from(wide)
                    .map_err(|_| PeerError::scenario(format!("{v} does not fit {}", $name)))
            }
        }
    )*};
}

int_elem!(i8 => "int8", i16 => "int16", i32 => "int32", i64 => "int64",
          u8 => "uint8", u16 => "uint16", u32 => "uint32", u64 => "uint64");

impl Elem for f32 {
    const DTYPE: &'static str = "float32";
    fn to_json(self) -> Value {
        json!(f64::from(self))
    }
    fn from_json(v: &Value) -> Result<Self, PeerError> {
        let x = v
            .as_f64()
            .ok_or_else(|| PeerError::scenario(format!("{v} is not a number")))?;
        // Scenario values are exactly representable; a rounding cast would hide a typo.
        let narrowed = x as f32;
        if f64::from(narrowed) != x && x.is_finite() {
            return Err(PeerError::scenario(format!("{v} is not exactly a float32")));
        }
        Ok(narrowed)
    }
}

impl Elem for f64 {
    const DTYPE: &'static str = "float64";
    fn to_json(self) -> Value {
        json!(self)
    }
    fn from_json(v: &Value) -> Result<Self, PeerError> {
        v.as_f64()
            .ok_or_else(|| PeerError::scenario(format!("{v} is not a number")))
    }
}

/// The JSON text of a value, used as an object key (`"lookup": {"1": 1.5}`): the same
/// text Python's `json.dumps` gives for the value.
pub fn key_text<T: Elem>(v: T) -> String {
    v.to_json().to_string()
}

/// Runs `$body` with the type alias `$T` bound to the element type of numpy dtype `$dtype`
/// (every integer width and both float widths).
macro_rules! with_elem {
    ($dtype:expr, $T:ident, $body:expr) => {
        match $dtype {
            "int8" => {
                type $T = i8;
                $body
            }
            "int16" => {
                type $T = i16;
                $body
            }
            "int32" => {
                type $T = i32;
                $body
            }
            "int64" => {
                type $T = i64;
                $body
            }
            "uint8" => {
                type $T = u8;
                $body
            }
            "uint16" => {
                type $T = u16;
                $body
            }
            "uint32" => {
                type $T = u32;
                $body
            }
            "uint64" => {
                type $T = u64;
                $body
            }
            "float32" => {
                type $T = f32;
                $body
            }
            "float64" => {
                type $T = f64;
                $body
            }
            other => Err($crate::error::PeerError::scenario(format!(
                "unsupported dtype {other:?}"
            ))),
        }
    };
}

/// As `with_elem!` for map keys and values, over a smaller set of types (each pair is a
/// separate `Map<K, V>` instantiation).
macro_rules! with_map_elem {
    ($dtype:expr, $T:ident, $body:expr) => {
        match $dtype {
            "int32" => {
                type $T = i32;
                $body
            }
            "int64" => {
                type $T = i64;
                $body
            }
            "uint32" => {
                type $T = u32;
                $body
            }
            "uint64" => {
                type $T = u64;
                $body
            }
            "float32" => {
                type $T = f32;
                $body
            }
            "float64" => {
                type $T = f64;
                $body
            }
            other => Err($crate::error::PeerError::scenario(format!(
                "unsupported map dtype {other:?} (int32, int64, uint32, uint64, float32, float64)"
            ))),
        }
    };
}

pub(crate) use {with_elem, with_map_elem};

/// The values of a JSON array as `T`.
///
/// # Errors
/// If `v` is not an array of numbers of this type.
pub fn vec_from_json<T: Elem>(v: &Value) -> Result<Vec<T>, PeerError> {
    v.as_array()
        .ok_or_else(|| PeerError::scenario(format!("{v} is not an array")))?
        .iter()
        .map(T::from_json)
        .collect()
}

/// A JSON array of the values.
pub fn vec_to_json<T: Elem>(values: &[T]) -> Value {
    Value::Array(values.iter().map(|v| v.to_json()).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn integers_round_trip_and_range_check() {
        assert_eq!(
            i64::from_json(&json!(1_099_511_627_776_i64)).unwrap(),
            1 << 40
        );
        assert_eq!(u64::from_json(&json!(u64::MAX)).unwrap(), u64::MAX);
        assert!(u8::from_json(&json!(256)).is_err());
        assert!(i8::from_json(&json!(-129)).is_err());
        assert!(i32::from_json(&json!(1.5)).is_err());
        assert_eq!((-3_i32).to_json(), json!(-3));
    }

    #[test]
    fn floats_encode_like_python_json() {
        // Python's json.dumps writes -1.0 and 0.5; serde_json agrees for f64 values.
        assert_eq!((-1.0_f32).to_json().to_string(), "-1.0");
        assert_eq!(0.5_f32.to_json().to_string(), "0.5");
        assert_eq!((-2.25_f64).to_json().to_string(), "-2.25");
        assert_eq!(f32::from_json(&json!(3.5)).unwrap(), 3.5);
        assert!(
            f32::from_json(&json!(0.1)).is_err(),
            "0.1 is not exactly a float32"
        );
        assert_eq!(key_text(1_i32), "1");
        assert_eq!(key_text(1.5_f64), "1.5");
    }

    #[test]
    fn dispatch_by_dtype_name() {
        fn size(d: &str) -> Result<usize, PeerError> {
            with_elem!(d, T, Ok::<usize, PeerError>(size_of::<T>()))
        }
        assert_eq!(size("int16").unwrap(), 2);
        assert_eq!(size("float64").unwrap(), 8);
        assert!(size("complex64").is_err());
        assert_eq!(<u16 as Elem>::DTYPE, "uint16");
    }
}
