//! Element types: the bridge moves items as opaque bytes of the element's size, so a link
//! is generic over `[u8; N]` for the sizes listed in [`SIZES`]. A stream or channel of any
//! `Pod` type of that size (the shared-memory layout records only the element size) opens
//! as `[u8; N]`.

use crate::error::{Error, Result};

/// The element sizes a link supports.
pub const SIZES: &[usize] = &[
    1, 2, 4, 8, 12, 16, 24, 32, 48, 64, 96, 128, 256, 512, 1024, 2048, 4096, 8192, 16384,
];

/// The size in bytes of element type `name`: `u8`/`i8`/`bool`, `u16`/`i16`,
/// `u32`/`i32`/`f32`, `u64`/`i64`/`f64`, `u128`/`i128`, or `bytes:N` / `[u8;N]` for N in
/// [`SIZES`].
///
/// # Errors
/// [`Error::Config`] for an unknown type or an unsupported size.
///
/// # Examples
/// ```
/// assert_eq!(zeroipc_bridge::elem::size_of_type("f64")?, 8);
/// assert_eq!(zeroipc_bridge::elem::size_of_type("bytes:1024")?, 1024);
/// # Ok::<(), zeroipc_bridge::Error>(())
/// ```
pub fn size_of_type(name: &str) -> Result<usize> {
    let compact: String = name.chars().filter(|c| !c.is_whitespace()).collect();
    let n = match compact.as_str() {
        "u8" | "i8" | "bool" => 1,
        "u16" | "i16" => 2,
        "u32" | "i32" | "f32" => 4,
        "u64" | "i64" | "f64" => 8,
        "u128" | "i128" => 16,
        other => {
            let digits = other
                .strip_prefix("bytes:")
                .or_else(|| other.strip_prefix("[u8;").and_then(|s| s.strip_suffix(']')))
                .ok_or_else(|| {
                    Error::Config(format!(
                        "unknown element type {name:?}: use u8..u128, i8..i128, f32, f64 or \
                         bytes:N"
                    ))
                })?;
            digits
                .parse::<usize>()
                .map_err(|_| Error::Config(format!("element type {name:?}: N is not a number")))?
        }
    };
    if SIZES.contains(&n) {
        Ok(n)
    } else {
        Err(Error::Config(format!(
            "element type {name:?} is {n} bytes; supported sizes: {SIZES:?}"
        )))
    }
}

/// Calls `$f::<[u8; N]>($args)` for the runtime element size `$size`.
macro_rules! with_elem {
    ($size:expr, $f:ident ( $($arg:expr),* $(,)? )) => {
        match $size {
            1 => $f::<[u8; 1]>($($arg),*),
            2 => $f::<[u8; 2]>($($arg),*),
            4 => $f::<[u8; 4]>($($arg),*),
            8 => $f::<[u8; 8]>($($arg),*),
            12 => $f::<[u8; 12]>($($arg),*),
            16 => $f::<[u8; 16]>($($arg),*),
            24 => $f::<[u8; 24]>($($arg),*),
            32 => $f::<[u8; 32]>($($arg),*),
            48 => $f::<[u8; 48]>($($arg),*),
            64 => $f::<[u8; 64]>($($arg),*),
            96 => $f::<[u8; 96]>($($arg),*),
            128 => $f::<[u8; 128]>($($arg),*),
            256 => $f::<[u8; 256]>($($arg),*),
            512 => $f::<[u8; 512]>($($arg),*),
            1024 => $f::<[u8; 1024]>($($arg),*),
            2048 => $f::<[u8; 2048]>($($arg),*),
            4096 => $f::<[u8; 4096]>($($arg),*),
            8192 => $f::<[u8; 8192]>($($arg),*),
            16384 => $f::<[u8; 16384]>($($arg),*),
            n => Err($crate::error::Error::Config(format!(
                "element size {n} is not supported; supported sizes: {:?}",
                $crate::elem::SIZES
            ))),
        }
    };
}
pub(crate) use with_elem;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn type_names() {
        assert_eq!(size_of_type("u8").ok(), Some(1));
        assert_eq!(size_of_type("i32").ok(), Some(4));
        assert_eq!(size_of_type("[u8; 64]").ok(), Some(64));
        assert!(size_of_type("bytes:7").is_err());
        assert!(size_of_type("String").is_err());
    }
}
