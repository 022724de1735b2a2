//! Parking a child process that the parent kills (the crash tests' "killed while ..." point).

/// Blocks this process until it is killed.
pub fn park_forever() -> ! {
    loop {
        std::thread::sleep(std::time::Duration::from_secs(1));
    }
}
