//! Pure ring arithmetic: frame placement with the early-wrap rule (protocol §10.1, R2),
//! the upstream "continuous free space" diagnostic (§10.4) and capacity planning (§11).

#![deny(clippy::arithmetic_side_effects, clippy::indexing_slicing)]

use crate::error::{Error, Result};
use crate::layout::FRAME_HEADER_SIZE;

/// Where the writer puts a frame of `T = 16 + len` bytes at write position `w`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Placement {
    /// Written at `w`; needs `T` free bytes.
    InPlace,
    /// The `waste = P - w` bytes up to the ring end are given up (with a wrap marker when
    /// `waste >= 16`) and the frame goes to offset 0; needs `waste + T` free bytes.
    Wrap {
        /// Bytes from `w` to the ring end.
        waste: u64,
    },
}

/// Ring bytes a frame of `len` payload bytes occupies (`16 + len`).
///
/// # Errors
/// [`Error::InvalidFrameSize`] for `len == 0`; [`Error::FrameTooLarge`] when the frame can
/// never fit a ring of `p` bytes: `16 + len > p`, or it would leave a 1..15-byte tail even
/// at offset 0.
pub fn frame_bytes(p: u64, len: u64) -> Result<u64> {
    if len == 0 {
        return Err(Error::InvalidFrameSize { size: 0 });
    }
    let too_large = || Error::FrameTooLarge {
        len,
        payload_size: p,
    };
    let t = len.checked_add(FRAME_HEADER_SIZE).ok_or_else(too_large)?;
    let Some(rest) = p.checked_sub(t) else {
        return Err(too_large());
    };
    if (1..FRAME_HEADER_SIZE).contains(&rest) {
        return Err(too_large());
    }
    Ok(t)
}

/// Plans a frame of `t` ring bytes at write position `w` in a ring of `p` bytes (`w <= p`).
/// Returns the placement and the free bytes it requires.
///
/// # Errors
/// [`Error::BufferFull`] when the frame is unplaceable at `w` (a wrap would need more than
/// `p` bytes): waiting cannot help, only the writer moves `w`.
/// [`Error::Corrupt`] when `w > p`.
pub fn plan(p: u64, w: u64, t: u64) -> Result<(Placement, u64)> {
    let s = p
        .checked_sub(w)
        .ok_or_else(|| Error::corrupt(format!("write position {w} beyond ring of {p}")))?;
    if let Some(rest) = s.checked_sub(t)
        && (rest == 0 || rest >= FRAME_HEADER_SIZE)
    {
        return Ok((Placement::InPlace, t));
    }
    let required = s.saturating_add(t);
    if required > p {
        return Err(Error::BufferFull {
            frame_bytes: required,
        });
    }
    Ok((Placement::Wrap { waste: s }, required))
}

/// Upstream's "continuous free space" (§10.4), a diagnostic only:
/// `(w >= r) ? (r == 0 ? P - w : max(P - w, r)) : r - w`.
pub fn continuous_free(p: u64, w: u64, r: u64) -> u64 {
    if w >= r {
        if r == 0 {
            p.saturating_sub(w)
        } else {
            p.saturating_sub(w).max(r)
        }
    } else {
        r.saturating_sub(w)
    }
}

/// Ring size that lets the reader hold `held` frames (at least 1) of up to `max_len` bytes
/// while the writer keeps going: `round_up_64((held + 1)·(max_len + 16) + 16)` (§11).
/// `None` on overflow.
pub fn recommended_payload_size(max_len: u64, held: u64) -> Option<u64> {
    let k = held.max(1);
    let t = max_len.checked_add(FRAME_HEADER_SIZE)?;
    let raw = k
        .checked_add(1)?
        .checked_mul(t)?
        .checked_add(FRAME_HEADER_SIZE)?;
    crate::layout::round_up_64(raw)
}

#[cfg(test)]
#[allow(clippy::arithmetic_side_effects, clippy::indexing_slicing)]
mod tests {
    use super::*;

    /// The placement examples of the spec (1 to 4 and 7): `(case, P, w, t, placement and
    /// ring bytes used)`, `None` where the frame does not fit now (`BufferFull`).
    #[test]
    fn spec_examples_of_placement() {
        let wrap = |waste| Placement::Wrap { waste };
        let cases = [
            ("1: marker", 1024, 900, 200, Some((wrap(124), 324))),
            (
                "2: exact fit",
                1024,
                0,
                1024,
                Some((Placement::InPlace, 1024)),
            ),
            // Upstream writers may leave w == P: wrap without waste.
            ("2: w == P", 1024, 1024, 100, Some((wrap(0), 100))),
            ("3: early wrap", 1024, 600, 410, Some((wrap(424), 834))),
            ("4: unplaceable", 1024, 116, 894, None),
            ("7: six then seven KiB", 10240, 6160, 7184, None),
        ];
        for (case, p, w, t, want) in cases {
            match (plan(p, w, t), want) {
                (Ok(got), Some(want)) => assert_eq!(got, want, "example {case}"),
                (Err(Error::BufferFull { .. }), None) => {}
                (got, want) => panic!("example {case}: got {got:?}, want {want:?}"),
            }
        }
        assert_eq!(frame_bytes(1024, 1008).ok(), Some(1024), "example 2");
    }

    #[test]
    fn spec_example_5_near_maximum_band() {
        for len in 993..=1007 {
            assert!(
                matches!(frame_bytes(1024, len), Err(Error::FrameTooLarge { .. })),
                "{len}"
            );
        }
        assert!(frame_bytes(1024, 1008).is_ok());
        assert!(frame_bytes(1024, 1009).is_err());
        assert!(frame_bytes(64, 48).is_ok());
        for len in (33..=47).chain(49..60) {
            assert!(frame_bytes(64, len).is_err(), "{len}");
        }
        for len in 1..=32 {
            assert!(frame_bytes(64, len).is_ok(), "{len}");
        }
        assert!(matches!(
            frame_bytes(64, 0),
            Err(Error::InvalidFrameSize { size: 0 })
        ));
        assert!(frame_bytes(64, u64::MAX).is_err());
    }

    #[test]
    fn no_tiny_tail_ever() {
        for p in [64u64, 128, 1024] {
            for w in 0..=p {
                for t in 17..=p {
                    if frame_bytes(p, t - 16).is_err() {
                        continue;
                    }
                    if let Ok((pl, _)) = plan(p, w, t) {
                        let end = match pl {
                            Placement::InPlace => w + t,
                            Placement::Wrap { .. } => t,
                        };
                        let tail = p - end;
                        assert!(tail == 0 || tail >= 16, "p={p} w={w} t={t}");
                    }
                }
            }
        }
    }

    #[test]
    fn continuous_free_table_f5_6() {
        let p = 10240;
        assert_eq!(continuous_free(p, 5000, 2000), 5240); // w > r: max(P-w, r)
        assert_eq!(continuous_free(p, 1000, 9000), 8000); // w < r
        assert_eq!(continuous_free(p, 9000, 1000), 1240);
        assert_eq!(continuous_free(p, 2000, 5000), 3000); // w < r
        assert_eq!(continuous_free(p, 3000, 3000), 7240); // w == r
        assert_eq!(continuous_free(p, 0, 0), 10240); // both 0
        assert_eq!(continuous_free(p, 4000, 0), 6240); // r == 0
    }

    #[test]
    fn capacity_example_from_user_guide() {
        // 1080p RGB, reader holds 2 frames (docs/ZEROBUFFER.md).
        assert_eq!(recommended_payload_size(6_220_800, 2), Some(18_662_464));
    }

    #[test]
    fn capacity_formula() {
        // k = 1, L = 1008: 2*(1024) + 16 = 2064 -> 2112.
        assert_eq!(recommended_payload_size(1008, 1), Some(2112));
        assert_eq!(recommended_payload_size(u64::MAX, 1), None);
        // The formula guarantees placeability: every frame <= L placeable from any w.
        let p = recommended_payload_size(100, 1).expect("small");
        let t = frame_bytes(p, 100).expect("fits");
        for w in 0..=p {
            assert!(plan(p, w, t).is_ok(), "w={w}");
        }
    }
}
