//! Ownership of the memory behind a segment: a shared file mapping or a heap block.
//!
//! This module and [`crate::view`] are the only places in the crate that touch raw memory.
#![allow(unsafe_code)]

use std::alloc::Layout;
use std::fs::File;
use std::ptr::NonNull;

use crate::error::{Error, Result};

/// Alignment of heap-backed (anonymous) segments: a cache line, like a page for our purposes.
const HEAP_ALIGN: usize = 64;

enum Backing {
    /// A `MAP_SHARED` (or, for read-only inspection, `MAP_PRIVATE`) file mapping.
    Mmap(#[expect(dead_code, reason = "held for its Drop, which unmaps")] memmap2::MmapRaw),
    /// A zeroed heap block, for in-process segments (tests, Miri, fuzzing).
    Heap(Layout),
}

/// A block of memory that stays valid, at a fixed address, until dropped.
pub(crate) struct Mapping {
    ptr: NonNull<u8>,
    len: usize,
    backing: Backing,
}

// SAFETY: `Mapping` owns its memory (a mapping or a heap block) exclusively; the raw pointer
// is only an address. All access to the bytes goes through `view::Region`, which uses atomics
// or copies, never references to plain bytes, so sharing the owner between threads is sound.
unsafe impl Send for Mapping {}
// SAFETY: as for `Send`: `&Mapping` only exposes the address and length.
unsafe impl Sync for Mapping {}

impl Mapping {
    /// Maps all of `file` (`len` bytes) shared, or copy-on-write when `private` is set.
    pub(crate) fn map_file(file: &File, len: usize, private: bool, populate: bool) -> Result<Self> {
        let mut opts = memmap2::MmapOptions::new();
        opts.len(len);
        if populate {
            opts.populate();
        }
        let raw = if private {
            // SAFETY: `map_copy` is unsafe because the file may change under a `&[u8]` view;
            // the mapping is converted to `MmapRaw` at once, so no such view ever exists and
            // the bytes are only reached through `view::Region`'s raw-pointer accesses.
            unsafe { opts.map_copy(file) }.map(memmap2::MmapRaw::from)
        } else {
            opts.map_raw(file)
        }
        .map_err(|source| Error::Io { op: "mmap", source })?;
        Self::from_mmap(raw)
    }

    fn from_mmap(raw: memmap2::MmapRaw) -> Result<Self> {
        let ptr = NonNull::new(raw.as_mut_ptr()).ok_or_else(|| Error::Io {
            op: "mmap",
            source: std::io::Error::other("mapping at address 0"),
        })?;
        Ok(Self {
            ptr,
            len: raw.len(),
            backing: Backing::Mmap(raw),
        })
    }

    /// `len` zeroed bytes of private anonymous memory (`MAP_NORESERVE`): pages cost nothing
    /// until written, so a snapshot of a huge file holds only what was read into it.
    pub(crate) fn anonymous(len: usize) -> Result<Self> {
        if len == 0 {
            return Err(Error::InvalidArgument("segment size must not be 0".into()));
        }
        let raw = memmap2::MmapOptions::new()
            .len(len)
            .no_reserve_swap()
            .map_anon()
            .map(memmap2::MmapRaw::from)
            .map_err(|source| Error::Io { op: "mmap", source })?;
        Self::from_mmap(raw)
    }

    /// Allocates `len` zeroed bytes on the heap, aligned to 64.
    pub(crate) fn heap(len: usize) -> Result<Self> {
        if len == 0 {
            return Err(Error::InvalidArgument("segment size must not be 0".into()));
        }
        let layout = Layout::from_size_align(len, HEAP_ALIGN)
            .map_err(|_| Error::InvalidArgument(format!("segment size {len} is too large")))?;
        // SAFETY: `layout` has a non-zero size (checked above).
        let raw = unsafe { std::alloc::alloc_zeroed(layout) };
        let ptr = NonNull::new(raw).ok_or_else(|| Error::Io {
            op: "alloc",
            source: std::io::Error::from(std::io::ErrorKind::OutOfMemory),
        })?;
        Ok(Self {
            ptr,
            len,
            backing: Backing::Heap(layout),
        })
    }

    /// Start of the memory.
    pub(crate) fn ptr(&self) -> NonNull<u8> {
        self.ptr
    }

    /// Length of the memory in bytes.
    pub(crate) fn len(&self) -> usize {
        self.len
    }
}

impl Drop for Mapping {
    fn drop(&mut self) {
        match &self.backing {
            // `MmapRaw` unmaps itself when dropped.
            Backing::Mmap(_) => {}
            Backing::Heap(layout) => {
                // SAFETY: `ptr` came from `alloc_zeroed(*layout)` in `heap` and is freed once,
                // here; no `Region` outlives the `Mapping` (each holds an `Arc` to it).
                unsafe { std::alloc::dealloc(self.ptr.as_ptr(), *layout) }
            }
        }
    }
}
