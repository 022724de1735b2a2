//! Hand-made segment images for the hostile-file tests of several crates.

/// Creates the file `path` as a segment that claims `entries` table entries
/// (`entry_count = max_entries = entries`): its size is the table's (`32 + 48 * entries`
/// bytes), but only the 32-byte header is written, so the rest is a hole. Returns the size.
///
/// # Panics
/// If the file cannot be created, sized or written.
pub fn sparse_table(path: &str, entries: u32) -> u64 {
    let len = 32 + 48 * u64::from(entries);
    let f = std::fs::File::create(path).expect("create the sparse file");
    f.set_len(len).expect("size the sparse file");
    let mut header = [0u8; 32];
    header[0..4].copy_from_slice(&0x5A49_504Du32.to_le_bytes()); // magic (bytes 4D 50 49 5A)
    header[4..8].copy_from_slice(&2u32.to_le_bytes()); // version
    header[8..12].copy_from_slice(&entries.to_le_bytes()); // entry_count
    header[12..16].copy_from_slice(&entries.to_le_bytes()); // max_entries
    header[16..24].copy_from_slice(&len.to_le_bytes()); // memory_size
    header[24..32].copy_from_slice(&len.to_le_bytes()); // next_offset
    rustix::io::pwrite(&f, &header, 0).expect("write the header");
    len
}
