//! Peer processes, clocks, statistics, pinning and the machine description.

use std::process::{Child, Command, Stdio};
use std::time::Duration;
use zeroipc_format::atomic::{AtomicU32, Ordering};

use zeroipc_format::{Segment, SegmentOptions};

/// Environment variable naming the role of a re-executed peer process.
pub const ROLE_ENV: &str = "ZEROIPC_PERF_ROLE";
/// The role's argument (a segment name, a size, ...).
pub const ARG_ENV: &str = "ZEROIPC_PERF_ARG";
/// CPU the peer pins itself to before it starts.
pub const PIN_ENV: &str = "ZEROIPC_PERF_PIN";

/// Entry point of a re-executed peer: watchdog, optional pinning, then the role.
pub fn child_main(role: &str) {
    let arg = std::env::var(ARG_ENV).unwrap_or_default();
    // A peer never outlives the measuring process (it may spin forever otherwise).
    let parent = std::os::unix::process::parent_id();
    std::thread::spawn(move || {
        let start = std::time::Instant::now();
        loop {
            std::thread::sleep(Duration::from_millis(100));
            if std::os::unix::process::parent_id() != parent
                || start.elapsed() > Duration::from_secs(300)
            {
                std::process::exit(3);
            }
        }
    });
    if let Some(cpu) = std::env::var(PIN_ENV).ok().and_then(|v| v.parse().ok()) {
        let _ = pin_to(cpu);
    }
    let handled = crate::latency::child(role, &arg)
        || crate::spsc::child(role, &arg)
        || crate::throughput::child(role, &arg)
        || crate::scaling::child(role, &arg)
        || crate::codata::child(role, &arg)
        || crate::zb::child(role, &arg)
        || crate::zbfloor::child(role, &arg)
        || crate::asyncs::child(role, &arg);
    if !handled {
        eprintln!("unknown role {role}");
        std::process::exit(2);
    }
}

/// Spawns this binary as the peer `role` with `arg`, optionally pinned to `pin`.
pub fn spawn(role: &str, arg: &str, pin: Option<usize>) -> Child {
    spawn_with(role, arg, pin, Stdio::inherit(), Stdio::inherit())
}

/// As [`spawn`], with the peer's stdin and stdout given.
pub fn spawn_with(role: &str, arg: &str, pin: Option<usize>, stdin: Stdio, stdout: Stdio) -> Child {
    let mut cmd = Command::new(std::env::current_exe().expect("current exe"));
    cmd.env(ROLE_ENV, role)
        .env(ARG_ENV, arg)
        .stdin(stdin)
        .stdout(stdout);
    match pin {
        Some(cpu) => cmd.env(PIN_ENV, cpu.to_string()),
        None => cmd.env_remove(PIN_ENV),
    };
    cmd.spawn().expect("spawn peer")
}

/// Waits for a peer and fails loudly if it did not succeed.
pub fn wait_ok(mut child: Child, role: &str) {
    let status = child.wait().expect("wait for peer");
    assert!(status.success(), "peer {role} failed: {status}");
}

/// Runs `f` while peer `role` runs, then waits for the peer.
pub fn with_peer<R>(role: &str, arg: &str, pin: Option<usize>, f: impl FnOnce() -> R) -> R {
    let child = spawn(role, arg, pin);
    let r = f();
    wait_ok(child, role);
    r
}

static COUNTER: AtomicU32 = AtomicU32::new(0);

/// A shared-memory name unique to this process and call.
pub fn unique(tag: &str) -> String {
    format!(
        "zperf_{tag}_{}_{}",
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::Relaxed)
    )
}

/// Creates a pre-faulted segment that is unlinked when dropped.
pub fn segment(tag: &str, size: u64, entries: u32) -> Segment {
    SegmentOptions::new()
        .unlink_on_drop(true)
        .populate(true)
        .create(&unique(tag), size, entries)
        .expect("create segment")
}

/// The `NAME:N` argument of a peer role: the shared-memory name and the count.
pub fn name_and_count<N: std::str::FromStr>(arg: &str) -> (String, N) {
    let (name, n) = arg.split_once(':').expect("peer argument NAME:N");
    let Ok(n) = n.parse() else {
        panic!("peer argument {arg:?}: N is not a count")
    };
    (name.to_string(), n)
}

/// The segment and count a peer role of the group `prefix` (`"cd."`...) was given as
/// `NAME:N`, or `None` if `role` belongs to another group.
pub fn group_peer<N: std::str::FromStr>(
    role: &str,
    prefix: &str,
    arg: &str,
) -> Option<(Segment, N)> {
    if !role.starts_with(prefix) {
        return None;
    }
    let (name, n) = name_and_count(arg);
    Some((open(&name), n))
}

/// Opens the segment a peer was given.
pub fn open(name: &str) -> Segment {
    Segment::open(name).expect("open segment")
}

/// Adds a zeroed raw region of `size` bytes.
pub fn raw(seg: &Segment, name: &str, size: u64) -> zeroipc_format::Region {
    seg.add(name, size, |_| Ok::<_, zeroipc_format::Error>(()))
        .expect("add raw region")
        .1
}

/// The raw region `name` of `seg`.
pub fn region(seg: &Segment, name: &str) -> zeroipc_format::Region {
    seg.region(&seg.find(name).expect("find region"))
        .expect("region")
}

/// `CLOCK_MONOTONIC` in nanoseconds (comparable between processes).
pub fn now_ns() -> u64 {
    let ts = rustix::time::clock_gettime(rustix::time::ClockId::Monotonic);
    ts.tv_sec as u64 * 1_000_000_000 + ts.tv_nsec as u64
}

/// CPU time of the calling thread (`CLOCK_THREAD_CPUTIME_ID`: the same accounting as
/// `getrusage(RUSAGE_THREAD)`, in nanoseconds rather than microseconds).
pub fn thread_cpu_ns() -> u64 {
    let ts = rustix::time::clock_gettime(rustix::time::ClockId::ThreadCPUTime);
    ts.tv_sec as u64 * 1_000_000_000 + ts.tv_nsec as u64
}

/// Spin until `cond` holds, yielding the CPU after the first 64 attempts (on an
/// oversubscribed machine a pure spin would burn the peer's time slice).
#[inline]
pub fn spin_yield(mut cond: impl FnMut() -> bool) {
    let mut n = 0u32;
    while !cond() {
        n += 1;
        if n < 64 {
            std::hint::spin_loop();
        } else {
            std::thread::yield_now();
        }
    }
}

/// How a spinning side waits for its peer in the throughput groups: PAUSE for the first 64
/// failed attempts, then `sched_yield` between attempts, so that on an oversubscribed
/// machine a waiting process hands its CPU to the peer it waits for instead of burning its
/// time slice. `ZEROIPC_PERF_PURE_SPIN=1` makes it PAUSE only.
#[derive(Debug, Default)]
pub struct Backoff(u32);

impl Backoff {
    /// One failed attempt.
    #[inline]
    pub fn snooze(&mut self) {
        self.0 += 1;
        if self.0 < 64 || pure_spin() {
            std::hint::spin_loop();
        } else {
            std::thread::yield_now();
        }
    }
    /// A successful attempt.
    #[inline]
    pub fn reset(&mut self) {
        self.0 = 0;
    }
}

fn pure_spin() -> bool {
    static PURE: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
    *PURE.get_or_init(|| std::env::var_os("ZEROIPC_PERF_PURE_SPIN").is_some_and(|v| v == "1"))
}

/// Wrapping sum of the little-endian 8-byte words of `data` (reads every byte).
#[inline]
pub fn checksum(data: &[u8]) -> u64 {
    data.chunks_exact(8)
        .map(|w| u64::from_le_bytes([w[0], w[1], w[2], w[3], w[4], w[5], w[6], w[7]]))
        .fold(0u64, u64::wrapping_add)
}

/// A message template of `size` bytes (a multiple of 8): word 0 is the message index, the
/// rest a fixed pattern.
pub fn template(size: usize) -> Vec<u8> {
    let mut v: Vec<u8> = (0..size).map(|j| (j as u8).wrapping_mul(31)).collect();
    v[..8].fill(0);
    v
}

/// Expected [`checksum`] of messages `0..count` made from [`template`].
pub fn expected_sum(size: usize, count: u64) -> u64 {
    let rest = checksum(&template(size));
    let idx = if count == 0 {
        0
    } else {
        (count as u128 * (count as u128 - 1) / 2) as u64
    };
    rest.wrapping_mul(count).wrapping_add(idx)
}

/// Sorted latency samples in nanoseconds.
#[derive(Clone, Debug, Default)]
pub struct Lat(pub Vec<u64>);

impl Lat {
    /// Sorts the samples.
    pub fn new(mut v: Vec<u64>) -> Self {
        v.sort_unstable();
        Lat(v)
    }
    /// Percentile `q` in 0..=1, in nanoseconds.
    pub fn p(&self, q: f64) -> f64 {
        if self.0.is_empty() {
            return f64::NAN;
        }
        let i = ((self.0.len() as f64 - 1.0) * q).round() as usize;
        self.0[i] as f64
    }
    /// Number of samples.
    pub fn len(&self) -> usize {
        self.0.len()
    }
    /// A table row: `label`, samples, p50, p90, p99 and p50 relative to `base`'s p50.
    pub fn row(&self, label: &str, base: &Lat) -> Vec<String> {
        vec![
            label.to_string(),
            self.len().to_string(),
            dur(self.p(0.5)),
            dur(self.p(0.9)),
            dur(self.p(0.99)),
            ratio(self.p(0.5) / base.p(0.5)),
        ]
    }
}

/// One table row per subject: its label, then `cells` of its spread.
pub fn labelled_rows(
    labels: &[&str],
    spreads: &[Spread],
    cells: impl Fn(&Spread) -> Vec<String>,
) -> Vec<Vec<String>> {
    labels
        .iter()
        .zip(spreads)
        .map(|(label, sp)| {
            let mut row = vec![label.to_string()];
            row.extend(cells(sp));
            row
        })
        .collect()
}

/// Median, min and max of per-round values.
#[derive(Clone, Copy, Debug, Default)]
pub struct Spread {
    /// Median over the rounds.
    pub med: f64,
    /// Smallest round.
    pub min: f64,
    /// Largest round.
    pub max: f64,
}

impl Spread {
    /// From the rounds' values.
    pub fn of(v: &[f64]) -> Self {
        if v.is_empty() {
            return Spread {
                med: f64::NAN,
                min: f64::NAN,
                max: f64::NAN,
            };
        }
        let mut s = v.to_vec();
        s.sort_by(f64::total_cmp);
        let med = if s.len() % 2 == 1 {
            s[s.len() / 2]
        } else {
            (s[s.len() / 2 - 1] + s[s.len() / 2]) / 2.0
        };
        Spread {
            med,
            min: s[0],
            max: s[s.len() - 1],
        }
    }

    /// The spread of each subject's per-round values.
    pub fn each(per_subject: &[Vec<f64>]) -> Vec<Self> {
        per_subject.iter().map(|v| Self::of(v)).collect()
    }

    /// "med (min–max)" with each value scaled by `scale` and printed by `fmt`.
    pub fn show(&self, scale: f64, unit: &str) -> String {
        let unit = if unit.is_empty() {
            String::new()
        } else {
            format!(" {unit}")
        };
        if self.min == self.max {
            format!("{}{unit}", num(self.med * scale))
        } else {
            format!(
                "{}{unit} ({}–{})",
                num(self.med * scale),
                num(self.min * scale),
                num(self.max * scale)
            )
        }
    }
}

/// A number with three significant digits (no exponent).
pub fn num(v: f64) -> String {
    if !v.is_finite() {
        return "–".into();
    }
    let a = v.abs();
    if a >= 100.0 {
        format!("{v:.0}")
    } else if a >= 10.0 {
        format!("{v:.1}")
    } else if a >= 1.0 {
        format!("{v:.2}")
    } else {
        format!("{v:.3}")
    }
}

/// A ratio as "1.23×".
pub fn ratio(v: f64) -> String {
    if v.is_finite() && v.abs() < 0.1 {
        format!("{v:.3}×")
    } else if v.is_finite() {
        format!("{v:.2}×")
    } else {
        "–".into()
    }
}

/// Nanoseconds as a latency ("850 ns", "12.3 µs", "1.20 ms").
pub fn dur(ns: f64) -> String {
    if !ns.is_finite() {
        "–".into()
    } else if ns < 1000.0 {
        format!("{ns:.0} ns")
    } else if ns < 1e6 {
        format!("{} µs", num(ns / 1e3))
    } else {
        format!("{} ms", num(ns / 1e6))
    }
}

/// Number of CPUs this process may run on.
pub fn cpus() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get())
}

/// The first two CPUs this process may run on (for pinning two peers apart).
pub fn two_cpus() -> Option<(usize, usize)> {
    let set = rustix::thread::sched_getaffinity(None).ok()?;
    let mut it = (0..rustix::thread::CpuSet::MAX_CPU).filter(|&c| set.is_set(c));
    Some((it.next()?, it.next()?))
}

/// Pins the calling thread to `cpu`; returns the previous mask.
pub fn pin_to(cpu: usize) -> std::io::Result<rustix::thread::CpuSet> {
    let prev = rustix::thread::sched_getaffinity(None)?;
    let mut set = rustix::thread::CpuSet::new();
    set.set(cpu);
    rustix::thread::sched_setaffinity(None, &set)?;
    Ok(prev)
}

/// Restores a mask returned by [`pin_to`].
pub fn unpin(prev: &rustix::thread::CpuSet) {
    let _ = rustix::thread::sched_setaffinity(None, prev);
}

/// `/proc/loadavg`'s three averages.
pub fn loadavg() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .ok()
        .map(|s| s.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_else(|| "?".into())
}

/// The current UTC time as `YYYY-MM-DD HH:MM`.
pub fn utc_now() -> String {
    let secs = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs()) as i64;
    let (days, rem) = (secs.div_euclid(86_400), secs.rem_euclid(86_400));
    // Civil from days (H. Hinnant's algorithm).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!(
        "{y:04}-{m:02}-{d:02} {:02}:{:02} UTC",
        rem / 3600,
        rem % 3600 / 60
    )
}

/// What the report says about the machine.
#[derive(Debug)]
pub struct Machine {
    cores: usize,
    model: String,
    mem: String,
    kernel: String,
    rustc: String,
    load: String,
    when: String,
}

impl Machine {
    /// Reads /proc and asks `rustc --version`.
    pub fn probe() -> Self {
        let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
        let model = cpuinfo
            .lines()
            .find_map(|l| l.strip_prefix("model name"))
            .map(|l| l.trim_start_matches([' ', '\t', ':']).trim().to_string())
            .unwrap_or_else(|| "?".into());
        let mem = std::fs::read_to_string("/proc/meminfo")
            .ok()
            .and_then(|s| {
                s.lines()
                    .find_map(|l| l.strip_prefix("MemTotal:"))
                    .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<f64>().ok())
            })
            .map_or("?".into(), |kb| format!("{:.1} GiB", kb / 1024.0 / 1024.0));
        let kernel = std::fs::read_to_string("/proc/sys/kernel/osrelease")
            .map_or("?".into(), |s| s.trim().to_string());
        let rustc = Command::new(std::env::var("RUSTC").unwrap_or_else(|_| "rustc".into()))
            .arg("--version")
            .output()
            .ok()
            .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
            .filter(|s| !s.is_empty())
            .unwrap_or_else(|| "?".into());
        Machine {
            cores: cpus(),
            model,
            mem,
            kernel,
            rustc,
            load: loadavg(),
            when: utc_now(),
        }
    }

    /// A Markdown list, with the load average at the end of the run.
    pub fn describe(&self, load_end: &str) -> String {
        format!(
            "- CPU: {} × {} ({} CPUs usable by this process; `/proc/cpuinfo`)\n\
             - memory: {}\n\
             - kernel: Linux {}\n\
             - compiler: {}, release profile\n\
             - run started {}; load average (1/5/15 min) {} at the start, {} at the end",
            self.cores,
            self.model,
            self.cores,
            self.mem,
            self.kernel,
            self.rustc,
            self.when,
            self.load,
            load_end
        )
    }
}

/// Host-noise probes taken during the current group, one per round (see [`noise_probe`]).
static NOISE: std::sync::Mutex<Vec<f64>> = std::sync::Mutex::new(Vec::new());

/// The host-noise probe: spins for 20 ms of wall time and returns the share of that time the
/// thread did *not* get the CPU (0.0 on an idle machine, 0.5 when another process took half
/// of it). Each group calls it once per round, so a reader can tell a noisy round from a slow
/// one; the values are kept for the group's record ([`take_noise`]).
pub fn noise_probe() -> f64 {
    let wall0 = now_ns();
    let cpu0 = thread_cpu_ns();
    let mut x = 0u64;
    while now_ns() - wall0 < 20_000_000 {
        for _ in 0..1000 {
            x = std::hint::black_box(x.wrapping_mul(6364136223846793005).wrapping_add(1));
        }
    }
    let wall = (now_ns() - wall0) as f64;
    let cpu = (thread_cpu_ns() - cpu0) as f64;
    let lost = (1.0 - cpu / wall).clamp(0.0, 1.0);
    NOISE.lock().unwrap_or_else(|e| e.into_inner()).push(lost);
    lost
}

/// The probes of the group that just ran, emptied for the next group.
pub fn take_noise() -> Vec<f64> {
    std::mem::take(&mut *NOISE.lock().unwrap_or_else(|e| e.into_inner()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn expected_sum_matches_the_checksums_of_the_messages_sent() {
        for size in [8usize, 64, 1024] {
            let mut msg = template(size);
            let mut sum = 0u64;
            for i in 0..100u64 {
                msg[..8].copy_from_slice(&i.to_le_bytes());
                sum = sum.wrapping_add(checksum(&msg));
            }
            assert_eq!(sum, expected_sum(size, 100), "size {size}");
        }
    }

    #[test]
    fn spread_is_median_min_max() {
        let s = Spread::of(&[3.0, 1.0, 2.0]);
        assert_eq!((s.med, s.min, s.max), (2.0, 1.0, 3.0));
        assert_eq!(Spread::of(&[1.0, 4.0]).med, 2.5);
    }

    #[test]
    fn percentiles_of_sorted_samples() {
        let l = Lat::new((1..=100).rev().collect());
        assert_eq!(l.p(0.0), 1.0);
        assert_eq!(l.p(0.5), 51.0);
        assert_eq!(l.p(1.0), 100.0);
    }

    #[test]
    fn utc_now_has_the_documented_shape() {
        let s = utc_now();
        assert_eq!(s.len(), "2026-11-23 16:19 UTC".len(), "{s}");
        assert!(s.ends_with(" UTC") && s.as_bytes()[4] == b'-', "{s}");
    }
}
