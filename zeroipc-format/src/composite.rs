//! Checks every structure crate shares: entry sizes against a layout, and the lookup of a
//! composite structure (one stored as several entries) with the grace period of spec §3.8.

use std::time::Duration;

use crate::{Entry, Error, Parts, Result, Segment};

/// How long an opener waits for the missing parts of a composite structure (spec §3.8):
/// its creator adds the parts one after another, so an opener may briefly see only some.
pub const GRACE: Duration = Duration::from_millis(100);

impl Entry {
    /// Requires the entry to be exactly `expected` bytes.
    ///
    /// # Errors
    /// [`Error::SizeMismatch`] otherwise.
    ///
    /// # Examples
    /// ```
    /// use zeroipc_format::{Error, Segment};
    ///
    /// let seg = Segment::anonymous(1 << 16, 16)?;
    /// let (entry, _) = seg.add("x", 16, |_| Ok::<_, Error>(()))?;
    /// assert!(entry.expect_size(16).is_ok());
    /// assert!(matches!(entry.expect_size(8), Err(Error::SizeMismatch { expected: 8, found: 16, .. })));
    /// # Ok::<(), Error>(())
    /// ```
    pub fn expect_size(&self, expected: u64) -> Result<()> {
        if self.size() == expected {
            Ok(())
        } else {
            Err(Error::size_mismatch(self, expected))
        }
    }

    /// Requires the entry to hold at least `min` bytes (a header before variable data).
    ///
    /// # Errors
    /// [`Error::SizeMismatch`] otherwise.
    pub fn expect_min_size(&self, min: u64) -> Result<()> {
        if self.size() >= min {
            Ok(())
        } else {
            Err(Error::size_mismatch(self, min))
        }
    }
}

impl Segment {
    /// Finds every part of the composite structure `base` (`parts` are the full entry names,
    /// in the order wanted), waiting up to [`GRACE`] while only some are present.
    ///
    /// # Errors
    /// [`Error::NotFound`] (naming `base`) if no part exists; [`Error::Incomplete`] if some
    /// are still missing after the grace period; [`Error::Corrupt`] for a corrupt table.
    ///
    /// # Examples
    /// ```
    /// use zeroipc_format::{Error, Segment};
    ///
    /// let seg = Segment::anonymous(1 << 16, 16)?;
    /// seg.add("ch_header", 32, |_| Ok::<_, Error>(()))?;
    /// seg.add("ch_buffer", 64, |_| Ok::<_, Error>(()))?;
    /// let [header, buffer] = seg.find_composite("ch", &["ch_header", "ch_buffer"])?;
    /// assert_eq!((header.size(), buffer.size()), (32, 64));
    /// assert!(matches!(seg.find_composite("x", &["x_header"]), Err(Error::NotFound { .. })));
    /// # Ok::<(), Error>(())
    /// ```
    pub fn find_composite<S: AsRef<str>, const N: usize>(
        &self,
        base: &str,
        parts: &[S; N],
    ) -> Result<[Entry; N]> {
        match self.find_parts(parts, GRACE)? {
            Parts::All(found) => <[Entry; N]>::try_from(found).map_err(|found| {
                // `find_parts` returns one entry per name asked for; this cannot happen.
                Error::InvalidArgument(format!(
                    "{base:?}: {} parts found for {N} names",
                    found.len()
                ))
            }),
            Parts::None => Err(Error::NotFound {
                name: base.to_owned(),
            }),
            Parts::Incomplete { missing } => Err(Error::Incomplete {
                name: base.to_owned(),
                missing,
            }),
        }
    }
}
