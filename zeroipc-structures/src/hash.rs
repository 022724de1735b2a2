//! The canonical (upstream C++) key hash and key equality for Map and Set, spec §4.5.
//!
//! * Integral keys (`i8`..`i64`, `u8`..`u64`, `isize`, `usize`) are sign- or zero-extended to
//!   64 bits and multiplied by 2654435761 (wrapping).
//! * Every other key is hashed over its bytes with MurmurHash64A, seed `0xc70f6907`, which is
//!   libstdc++'s `std::hash<std::string_view>` on 64-bit Linux.
//! * Integral and floating keys compare by value (`0.0 == -0.0`; NaN equals nothing and is
//!   rejected on insert); other keys compare byte-wise.

use std::any::TypeId;

use bytemuck::Pod;

const MULTIPLIER: u64 = 2_654_435_761;
const SEED: u64 = 0xc70f_6907;

/// MurmurHash64A of `bytes` with `seed` (wrapping arithmetic throughout).
pub fn murmur64a(bytes: &[u8], seed: u64) -> u64 {
    const M: u64 = 0xc6a4_a793_5bd1_e995;
    const R: u32 = 47;
    let mut h = seed ^ (bytes.len() as u64).wrapping_mul(M);
    let mut blocks = bytes.chunks_exact(8);
    for block in &mut blocks {
        let mut b = [0u8; 8];
        b.copy_from_slice(block);
        let mut k = u64::from_le_bytes(b);
        k = k.wrapping_mul(M);
        k ^= k >> R;
        k = k.wrapping_mul(M);
        h ^= k;
        h = h.wrapping_mul(M);
    }
    let rest = blocks.remainder();
    if !rest.is_empty() {
        let mut b = [0u8; 8];
        b[..rest.len()].copy_from_slice(rest);
        h ^= u64::from_le_bytes(b);
        h = h.wrapping_mul(M);
    }
    h ^= h >> R;
    h = h.wrapping_mul(M);
    h ^= h >> R;
    h
}

/// How a key type is hashed and compared.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Kind {
    Signed,
    Unsigned,
    F32,
    F64,
    Bytes,
}

fn kind<K: 'static>() -> Kind {
    let id = TypeId::of::<K>();
    if [
        TypeId::of::<i8>(),
        TypeId::of::<i16>(),
        TypeId::of::<i32>(),
        TypeId::of::<i64>(),
        TypeId::of::<isize>(),
    ]
    .contains(&id)
    {
        Kind::Signed
    } else if [
        TypeId::of::<u8>(),
        TypeId::of::<u16>(),
        TypeId::of::<u32>(),
        TypeId::of::<u64>(),
        TypeId::of::<usize>(),
    ]
    .contains(&id)
    {
        Kind::Unsigned
    } else if id == TypeId::of::<f32>() {
        Kind::F32
    } else if id == TypeId::of::<f64>() {
        Kind::F64
    } else {
        Kind::Bytes
    }
}

/// The canonical hash of `key`.
///
/// # Examples
/// ```
/// use zeroipc_structures::key_hash;
/// assert_eq!(key_hash(&1i32), 2654435761);
/// assert_eq!(key_hash(&-1i32), 0xffffffff61c8864f);
/// assert_eq!(key_hash(&1.0f32), 0x53e5650914f52f4d);
/// ```
pub fn key_hash<K: Pod>(key: &K) -> u64 {
    let bytes = bytemuck::bytes_of(key);
    match kind::<K>() {
        Kind::Signed | Kind::Unsigned => {
            let negative =
                kind::<K>() == Kind::Signed && bytes.last().is_some_and(|b| b & 0x80 != 0);
            let mut b = if negative { [0xFF; 8] } else { [0; 8] };
            let n = bytes.len().min(8);
            b[..n].copy_from_slice(&bytes[..n]);
            u64::from_le_bytes(b).wrapping_mul(MULTIPLIER)
        }
        Kind::F32 | Kind::F64 | Kind::Bytes => murmur64a(bytes, SEED),
    }
}

/// Canonical key equality: by value for numbers, byte-wise otherwise.
pub(crate) fn key_eq<K: Pod>(a: &K, b: &K) -> bool {
    match kind::<K>() {
        Kind::F32 => bytemuck::cast::<K, f32>(*a) == bytemuck::cast::<K, f32>(*b),
        Kind::F64 => bytemuck::cast::<K, f64>(*a) == bytemuck::cast::<K, f64>(*b),
        _ => bytemuck::bytes_of(a) == bytemuck::bytes_of(b),
    }
}

/// Whether `key` can never be found (a NaN float), so inserting it is refused.
pub(crate) fn key_is_nan<K: Pod>(key: &K) -> bool {
    !key_eq(key, key)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn murmur_vectors() {
        for (bytes, want) in [
            (&b""[..], 0x553e93901e462a6e_u64),
            (b"a", 0x454ddee488c1ed6b),
            (b"abc", 0x32d82bf8ed3dba39),
            (b"hello", 0x26553298fdbe39c8),
            (b"abcdefgh", 0x783db3e38db898bb),
            (b"hello world", 0x4d6686d362067ff9),
            (b"0123456789abcdef", 0x934b0d760642ed86),
        ] {
            assert_eq!(murmur64a(bytes, SEED), want, "{bytes:?}");
        }
    }

    #[test]
    fn key_vectors() {
        assert_eq!(key_hash(&1i32), 2654435761);
        assert_eq!(key_hash(&-1i32), 18446744071055115855);
        assert_eq!(key_hash(&-1i32) % 16, 15);
        assert_eq!(key_hash(&-1i32) % 10, 5);
        assert_eq!(key_hash(&0xFFFF_FFFFu32), 11400714780173436495);
        assert_eq!(key_hash(&(1i64 << 40)), 3997420757826142208);
        assert_eq!(key_hash(&200u8), 530887152200);
        assert_eq!(key_hash(&-56i8), 18446743925061149000);
        assert_eq!(key_hash(&1.0f32), 6045349164495482701);
        assert_eq!(key_hash(&-1.5f32), 7621053602032611969);
        assert_eq!(key_hash(&0.0f32), 2778560480076071303);
        assert_eq!(key_hash(&-0.0f32), 16807807789944799153);
        assert_eq!(key_hash(&1.0f64), 8386164645967068059);
        assert_eq!(key_hash(&2.5f64), 9366101741534969300);
        assert_eq!(key_hash(&[1i32, 2]), 9033171220505803537);
        assert_eq!(key_hash(&[1.0f32, 2.0, 3.0]), 3959204971145997586);
    }

    #[test]
    fn equality_rules() {
        assert!(key_eq(&0.0f32, &-0.0f32));
        assert!(!key_eq(&f64::NAN, &f64::NAN));
        assert!(key_is_nan(&f32::NAN));
        assert!(!key_is_nan(&1.0f32));
        assert!(key_eq(&[1u8, 2], &[1u8, 2]));
        assert!(!key_eq(&[1u8, 2], &[1u8, 3]));
    }
}
