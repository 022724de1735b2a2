//! The file behind a segment (issue 18): reserved space, atomic publication, sparse and shrunk
//! files, files that are not regular, and modes. Tests that need a small or private /dev/shm
//! re-run themselves in a private mount namespace (root only; skipped with a printed reason
//! otherwise).

use std::os::unix::fs::PermissionsExt;
use std::process::Command;
use std::time::{Duration, Instant};

use zeroipc_format::atomic::Ordering;
use zeroipc_format::{Corruption, Error, Segment, SegmentOptions};
use zeroipc_testkit::{ShmGuard, private_shm, role, unique_guarded, unique_name};

const MIB: u64 = 1 << 20;

/// Every name in /dev/shm, hidden ones included.
fn shm_names() -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir("/dev/shm")
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    v.sort();
    v
}

fn shm_used_bytes() -> u64 {
    let st = rustix::fs::statvfs("/dev/shm").unwrap();
    (st.f_blocks - st.f_bfree) * st.f_frsize
}

/// This process's peak RSS in KiB (VmHWM).
fn peak_rss_kib() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    let line = status.lines().find(|l| l.starts_with("VmHWM:")).unwrap();
    line.split_whitespace().nth(1).unwrap().parse().unwrap()
}

fn assert_no_space(r: Result<Segment, Error>, asked: u64) {
    match r {
        Err(e @ Error::NoSpace { requested, .. }) => {
            assert_eq!(requested, asked);
            let msg = e.to_string();
            assert!(
                msg.contains("/dev/shm") && msg.contains("--shm-size"),
                "{msg}"
            );
        }
        other => panic!("expected NoSpace for {asked} bytes, got {other:?}"),
    }
}

#[test]
fn creations_beyond_a_64_mib_dev_shm_fail_and_leave_nothing() {
    if !private_shm(
        "filesystem::creations_beyond_a_64_mib_dev_shm_fail_and_leave_nothing",
        "64m",
        Duration::from_secs(120),
    ) {
        return;
    }
    assert!(shm_names().is_empty());
    // 64 TiB: refused at once from the free-space check.
    let t = Instant::now();
    assert_no_space(Segment::create("huge", 64 << 40, 64), 64 << 40);
    println!("measured: 64 TiB create refused in {:?}", t.elapsed());
    // Bigger than the tmpfs, with a big table: no SIGBUS while zeroing it.
    assert_no_space(Segment::create("table", 128 * MIB, 2_000_000), 128 * MIB);
    assert_no_space(Segment::create("array", 100 * MIB, 64), 100 * MIB);
    assert!(shm_names().is_empty(), "left behind: {:?}", shm_names());

    // What fits is reserved: every byte can be written without SIGBUS...
    let seg = Segment::create("fits", 40 * MIB, 64).unwrap();
    let len = (40 * MIB - 4096) as usize;
    let (_, region) = seg
        .add("block", len as u64, |_| Ok::<_, Error>(()))
        .unwrap();
    region.fill(0, len, 0xA5).unwrap();
    // ...and the space is taken from the start, so the next creation is refused cleanly.
    assert_no_space(Segment::create("more", 30 * MIB, 64), 30 * MIB);
    assert_eq!(shm_names(), vec!["fits".to_owned()]);
    Segment::unlink("fits").unwrap();
}

#[test]
fn a_sparse_file_claiming_millions_of_entries_is_refused_without_reading_them() {
    if !private_shm(
        "filesystem::a_sparse_file_claiming_millions_of_entries_is_refused_without_reading_them",
        "1g",
        Duration::from_secs(120),
    ) {
        return;
    }
    // 40 M entries: a 1.92 GB table in a 1 GiB tmpfs, 4 KiB of it real.
    let n: u32 = 40_000_000;
    let path = "/dev/shm/sparse";
    zeroipc_testkit::images::sparse_table(path, n);
    let used_before = shm_used_bytes();
    let t = Instant::now();
    for r in [
        Segment::open("sparse"),
        SegmentOptions::new().open_read_only("sparse"),
        Segment::open_path(path),
    ] {
        match r {
            Err(Error::Corrupt {
                what: Corruption::SparseTable { entry_count, .. },
            }) => assert_eq!(entry_count, n),
            other => panic!("expected SparseTable, got {other:?}"),
        }
    }
    let took = t.elapsed();
    let grown = shm_used_bytes() - used_before;
    let rss = peak_rss_kib();
    println!("measured: sparse open x3 in {took:?}, peak RSS {rss} KiB, tmpfs grew {grown} B");
    assert!(rss < 50 * 1024, "peak RSS {rss} KiB");
    assert!(grown < MIB, "tmpfs grew by {grown} bytes");
    std::fs::remove_file(path).unwrap();
}

const WATCH_ROLE: &str = "watch_publication";

/// The child of `creation_is_atomic_for_an_opener_that_does_not_wait`: opens the name in a
/// tight loop the way upstream's opener does (no grace period) and counts what it sees.
fn watch_child() {
    let name = std::env::var("ZEROIPC_WATCH_NAME").unwrap();
    let ctl = Segment::open(&std::env::var("ZEROIPC_WATCH_CTL").unwrap()).unwrap();
    let counters = ctl.region(&ctl.find("counters").unwrap()).unwrap();
    let (seen, partial, done) = (
        counters.atomic_u64(0).unwrap(),
        counters.atomic_u64(8).unwrap(),
        counters.atomic_u64(16).unwrap(),
    );
    let path = format!("/dev/shm/{name}");
    while done.load(Ordering::Acquire) == 0 {
        let Ok(f) = std::fs::File::open(&path) else {
            continue;
        };
        let mut head = [0u8; 32];
        let n = rustix::io::pread(&f, &mut head, 0).unwrap_or(0);
        let magic = u32::from_le_bytes(head[0..4].try_into().unwrap());
        if n == 32 && magic == 0x5A49_504D {
            seen.fetch_add(1, Ordering::Relaxed);
        } else {
            partial.fetch_add(1, Ordering::Relaxed);
        }
    }
}

#[test]
fn creation_is_atomic_for_an_opener_that_does_not_wait() {
    if role().as_deref() == Some(WATCH_ROLE) {
        return watch_child();
    }
    let name = unique_name("atom");
    let ctl_name = unique_name("atomctl");
    let _g = (ShmGuard::new(&name), ShmGuard::new(&ctl_name));
    let ctl = Segment::create(&ctl_name, 8192, 4).unwrap();
    let (_, counters) = ctl.add("counters", 24, |_| Ok::<_, Error>(())).unwrap();
    let child = zeroipc_testkit::Child::spawn(
        "filesystem::creation_is_atomic_for_an_opener_that_does_not_wait",
        WATCH_ROLE,
        &[
            ("ZEROIPC_WATCH_NAME", name.as_str()),
            ("ZEROIPC_WATCH_CTL", ctl_name.as_str()),
        ],
    );
    let seen = counters.atomic_u64(0).unwrap();
    // Until the watcher has seen 50 complete segments (or 20,000 creations under heavy load).
    let mut created = 0;
    while seen.load(Ordering::Relaxed) < 50 && created < 20_000 {
        let seg = Segment::create(&name, 4 * MIB, 256).unwrap();
        Segment::unlink(&name).unwrap();
        drop(seg);
        created += 1;
    }
    counters.atomic_u64(16).unwrap().store(1, Ordering::Release);
    child.wait_success(Duration::from_secs(60));
    let partial = counters.atomic_u64(8).unwrap().load(Ordering::Acquire);
    let seen = seen.load(Ordering::Acquire);
    eprintln!("measured: {created} creations, watcher saw {seen} complete, {partial} partial");
    assert_eq!(partial, 0, "the watcher saw {partial} partial segments");
    assert!(
        seen > 0,
        "the watcher never saw the segment in {created} creations"
    );
    assert!(!shm_names().iter().any(|n| n.contains(".zeroipc-new-")));
}

#[test]
fn modes_are_masked_to_permission_bits() {
    let (name, _g) = unique_guarded("mask");
    SegmentOptions::new()
        .mode(0o4777)
        .create(&name, 4096, 8)
        .unwrap();
    let mode = std::fs::metadata(format!("/dev/shm/{name}"))
        .unwrap()
        .permissions()
        .mode();
    assert_eq!(mode & 0o7777, 0o777, "mode {mode:o}");
}

#[test]
fn a_shrunk_file_is_refused_at_open_and_before_the_table_grows() {
    let (name, _g) = unique_guarded("shrink");
    let seg = Segment::create(&name, 64 * 1024, 16).unwrap();
    seg.add("a", 64, |_| Ok::<_, Error>(())).unwrap();
    let f = std::fs::OpenOptions::new()
        .write(true)
        .open(format!("/dev/shm/{name}"))
        .unwrap();
    f.set_len(8192).unwrap();
    match seg.add("b", 64, |_| Ok::<_, Error>(())) {
        Err(Error::Corrupt {
            what: Corruption::MemorySizeExceedsFile { file_len, .. },
        }) => assert_eq!(file_len, 8192),
        other => panic!("expected MemorySizeExceedsFile, got {other:?}"),
    }
    assert!(matches!(
        Segment::open(&name),
        Err(Error::Corrupt {
            what: Corruption::MemorySizeExceedsFile { .. }
        })
    ));
}

const TRUNCATE_ROLE: &str = "truncate_under_mapping";

/// The documented trust boundary (README, SPECIFICATION §3, RELIABILITY): a process that may
/// truncate the segment can crash its users. A structure access past the new end of the file
/// raises SIGBUS in the user; this test pins that, so the documentation stays true.
#[test]
fn a_peer_truncating_a_live_mapping_crashes_its_users_as_documented() {
    if role().as_deref() == Some(TRUNCATE_ROLE) {
        let name = std::env::var("ZEROIPC_TRUNC_NAME").unwrap();
        let seg = Segment::open(&name).unwrap();
        let region = seg.region(&seg.find("data").unwrap()).unwrap();
        std::fs::OpenOptions::new()
            .write(true)
            .open(format!("/dev/shm/{name}"))
            .unwrap()
            .set_len(4096)
            .unwrap();
        // Past the new end of the file: SIGBUS.
        let _ = region.read::<u64>(region.len() - 8);
        std::process::exit(0);
    }
    let (name, _g) = unique_guarded("trunc");
    let seg = Segment::create(&name, 1 << 20, 8).unwrap();
    seg.add("data", 512 * 1024, |_| Ok::<_, Error>(())).unwrap();
    let status = Command::new(std::env::current_exe().unwrap())
        .args([
            "filesystem::a_peer_truncating_a_live_mapping_crashes_its_users_as_documented",
            "--exact",
            "--nocapture",
            "--test-threads=1",
        ])
        .env(zeroipc_testkit::ROLE_VAR, TRUNCATE_ROLE)
        .env("ZEROIPC_TRUNC_NAME", &name)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .status()
        .unwrap();
    use std::os::unix::process::ExitStatusExt;
    assert_eq!(status.signal(), Some(7), "expected SIGBUS, got {status}");
}

#[test]
fn paths_that_are_not_regular_files_are_refused_without_blocking() {
    let dir = std::env::temp_dir().join(unique_name("kinds"));
    std::fs::create_dir(&dir).unwrap();
    let fifo = dir.join("fifo");
    rustix::fs::mknodat(
        rustix::fs::CWD,
        &fifo,
        rustix::fs::FileType::Fifo,
        rustix::fs::Mode::from_raw_mode(0o600),
        0,
    )
    .unwrap();
    let link = dir.join("link");
    std::os::unix::fs::symlink("/etc/passwd", &link).unwrap();
    let sub = dir.join("dir");
    std::fs::create_dir(&sub).unwrap();
    let opts = SegmentOptions::new().init_grace(Duration::ZERO);
    for (path, kind) in [
        (&fifo, "FIFO"),
        (&link, "symbolic link"),
        (&sub, "directory"),
    ] {
        for r in [opts.open_path(path), opts.open_path_read_only(path)] {
            match r {
                Err(e @ Error::NotRegularFile { .. }) => {
                    assert!(e.to_string().contains(kind), "{e}")
                }
                // Opening a directory for writing fails in open(2) itself.
                Err(Error::Io { ref source, .. })
                    if kind == "directory" && source.raw_os_error() == Some(libc_eisdir()) => {}
                other => panic!("{}: expected NotRegularFile, got {other:?}", path.display()),
            }
        }
    }
    std::fs::remove_dir_all(&dir).unwrap();
}

fn libc_eisdir() -> i32 {
    rustix::io::Errno::ISDIR.raw_os_error()
}
