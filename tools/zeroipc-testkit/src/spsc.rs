//! Producer loops shared by the cross-process throughput measurements (the perf report and
//! the benches).

/// Sends the items `0..n` in order, in batches of up to 256, through `send`, which moves a
/// prefix of its argument and returns how many it moved (0 when there was no room: `send`
/// is then called again with the same items).
pub fn produce_batches(n: u64, mut send: impl FnMut(&[u64]) -> usize) {
    let mut next = 0u64;
    let mut batch = [0u64; 256];
    while next < n {
        let k = ((n - next) as usize).min(batch.len());
        for (j, b) in batch[..k].iter_mut().enumerate() {
            *b = next + j as u64;
        }
        let mut sent = 0;
        while sent < k {
            sent += send(&batch[sent..k]);
        }
        next += k as u64;
    }
}
