//! Peer liveness (protocol R7, §12).

/// `true` if process `pid` exists and is neither a zombie nor dead.
///
/// `kill(pid, 0)` succeeding or failing with `EPERM` means the process exists; a process whose
/// `/proc/PID/stat` state is `Z` or `X` counts as dead. PID 0 and values above `i32::MAX` are
/// never alive.
pub fn is_process_alive(pid: u64) -> bool {
    if pid != 0 && pid == u64::from(std::process::id()) {
        return true; // ourselves
    }
    let Ok(raw) = i32::try_from(pid) else {
        return false;
    };
    let Some(p) = rustix::process::Pid::from_raw(raw) else {
        return false;
    };
    match rustix::process::test_kill_process(p) {
        Ok(()) => {}
        Err(e) if e == rustix::io::Errno::PERM => {}
        Err(_) => return false,
    }
    match std::fs::read(format!("/proc/{pid}/stat")) {
        Ok(stat) => {
            // The state is the first non-space character after the last ')'.
            let state = stat
                .iter()
                .rposition(|&b| b == b')')
                .and_then(|i| stat.get(i.checked_add(1)?..))
                .and_then(|rest| rest.iter().copied().find(|b| !b.is_ascii_whitespace()));
            !matches!(state, Some(b'Z' | b'X'))
        }
        // The process vanished between the two checks.
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => false,
        // /proc unreadable: trust kill().
        Err(_) => true,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn self_is_alive_and_bogus_pids_are_not() {
        assert!(is_process_alive(u64::from(std::process::id())));
        assert!(!is_process_alive(0));
        assert!(!is_process_alive(u64::from(u32::MAX) + 5));
        assert!(!is_process_alive(i32::MAX as u64));
    }

    #[test]
    fn zombie_counts_as_dead() {
        let mut child = std::process::Command::new("true")
            .spawn()
            .expect("spawn true");
        let pid = u64::from(child.id());
        // Not reaped yet: becomes a zombie once it exits.
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
        while is_process_alive(pid) && std::time::Instant::now() < deadline {
            std::thread::sleep(std::time::Duration::from_millis(5));
        }
        assert!(!is_process_alive(pid), "zombie reported alive");
        child.wait().expect("reap");
    }
}
