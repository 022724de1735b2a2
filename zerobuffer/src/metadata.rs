//! Zero-copy metadata access for the reader: [`Reader::metadata_ref`] and
//! [`Reader::metadata_as`].

use bytemuck::Pod;

use crate::atomic::Ordering;
use crate::error::{Error, Result};
use crate::layout::OIEB_SIZE;
use crate::reader::Reader;

impl Reader {
    /// The metadata the writer wrote, borrowed from the shared mapping without copying:
    /// `None` if none was written yet, possibly empty.
    ///
    /// Metadata is write-once (protocol §8: a writer refuses a second write, also across
    /// reconnects), so the bytes do not change while borrowed.
    ///
    /// # Errors
    /// [`Error::InvalidMetadata`] if the stored length disagrees with the OIEB or lies outside
    /// the metadata block.
    ///
    /// # Examples
    /// ```
    /// use zerobuffer::{BufferConfig, Reader, Writer};
    /// # fn main() -> Result<(), zerobuffer::Error> {
    /// let name = format!("doc-metaref-{}", std::process::id());
    /// let reader = Reader::create(&name, BufferConfig::new(256, 4096))?;
    /// assert_eq!(reader.metadata_ref()?, None);
    /// let mut writer = Writer::connect(&name)?;
    /// writer.set_metadata(b"format=rgb24")?;
    /// assert_eq!(reader.metadata_ref()?, Some(&b"format=rgb24"[..]));
    /// # Ok(()) }
    /// ```
    pub fn metadata_ref(&self) -> Result<Option<&[u8]>> {
        let (map, geo) = self.parts();
        // Acquire: pairs with the writer's Release store in `Writer::set_metadata`.
        let wb = map.oieb().metadata_written_bytes.load(Ordering::Acquire);
        if wb == 0 {
            return Ok(None);
        }
        if wb < 8 || wb > geo.m {
            return Err(Error::InvalidMetadata {
                what: format!("metadata_written_bytes {wb} outside 8..={}", geo.m),
            });
        }
        let len = map
            .read_u64(OIEB_SIZE)
            .ok_or_else(|| Error::InvalidMetadata {
                what: "metadata prefix out of bounds".into(),
            })?;
        if Some(len) != wb.checked_sub(8) {
            return Err(Error::InvalidMetadata {
                what: format!("stored length {len} but metadata_written_bytes {wb}"),
            });
        }
        let n = usize::try_from(len).map_err(|_| Error::corrupt("metadata length"))?;
        map.slice(OIEB_SIZE + 8, n)
            .map(Some)
            .ok_or_else(|| Error::InvalidMetadata {
                what: "metadata out of bounds".into(),
            })
    }

    /// The metadata's first `size_of::<T>()` bytes as a typed header, borrowed in place
    /// (`None` if no metadata was written yet). Longer metadata is fine: whatever follows the
    /// header is ignored (read it with [`Reader::metadata_ref`]).
    ///
    /// # Errors
    /// [`Error::InvalidMetadata`] if the metadata is shorter than `T` (the message gives both
    /// sizes: the writer wrote another header type) or `T` needs an alignment above 8 (the
    /// metadata block starts 8-aligned); as [`Reader::metadata_ref`].
    ///
    /// # Examples
    /// ```
    /// use zerobuffer::{BufferConfig, Reader, Writer};
    ///
    /// #[derive(Clone, Copy, Debug, PartialEq, bytemuck::Pod, bytemuck::Zeroable)]
    /// #[repr(C)]
    /// struct VideoHeader { width: u32, height: u32, fps: u32, format: u32 }
    ///
    /// # fn main() -> Result<(), zerobuffer::Error> {
    /// let name = format!("doc-metaas-{}", std::process::id());
    /// let reader = Reader::create(&name, BufferConfig::new(256, 4096))?;
    /// let mut writer = Writer::connect(&name)?;
    /// let header = VideoHeader { width: 1920, height: 1080, fps: 30, format: 1 };
    /// writer.set_metadata(bytemuck::bytes_of(&header))?;
    /// assert_eq!(reader.metadata_as::<VideoHeader>()?, Some(&header));
    /// assert!(reader.metadata_as::<[u64; 4]>().is_err()); // 16 bytes written, 32 wanted
    /// # Ok(()) }
    /// ```
    pub fn metadata_as<T: Pod>(&self) -> Result<Option<&T>> {
        let Some(bytes) = self.metadata_ref()? else {
            return Ok(None);
        };
        let want = size_of::<T>();
        let head = bytes.get(..want).ok_or_else(|| Error::InvalidMetadata {
            what: format!(
                "metadata holds {} bytes, shorter than the {want}-byte header type {}",
                bytes.len(),
                std::any::type_name::<T>()
            ),
        })?;
        bytemuck::try_from_bytes(head)
            .map(Some)
            .map_err(|e| Error::InvalidMetadata {
                what: format!(
                    "metadata cannot be viewed as {} ({e}); use a type aligned to at most 8",
                    std::any::type_name::<T>()
                ),
            })
    }
}
