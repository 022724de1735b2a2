//! Element values from the scenario's JSON (the types come from `zeroipc_inspect::Dtype`).

use serde_json::Value;

use crate::error::PeerError;

/// An element type the peer can put in a structure: plain bytes with a JSON form.
pub trait Elem: bytemuck::Pod + PartialEq + std::fmt::Debug {
    /// The value of a JSON number, if it is exactly representable.
    ///
    /// # Errors
    /// A message naming the value if it is not a number of this type.
    fn from_json(v: &Value) -> Result<Self, PeerError>;
}

macro_rules! int_elem {
    ($($t:ty => $name:literal),* $(,)?) => {$(
        impl Elem for $t {
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
    fn from_json(v: &Value) -> Result<Self, PeerError> {
        v.as_f64()
            .ok_or_else(|| PeerError::scenario(format!("{v} is not a number")))
    }
}

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

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn integers_range_check() {
        assert_eq!(
            i64::from_json(&json!(1_099_511_627_776_i64)).unwrap(),
            1 << 40
        );
        assert_eq!(u64::from_json(&json!(u64::MAX)).unwrap(), u64::MAX);
        assert!(u8::from_json(&json!(256)).is_err());
        assert!(i8::from_json(&json!(-129)).is_err());
        assert!(i32::from_json(&json!(1.5)).is_err());
    }

    #[test]
    fn floats_must_be_exact() {
        assert_eq!(f32::from_json(&json!(3.5)).unwrap(), 3.5);
        assert!(
            f32::from_json(&json!(0.1)).is_err(),
            "0.1 is not exactly a float32"
        );
        assert_eq!(f64::from_json(&json!(-2.25)).unwrap(), -2.25);
    }
}
