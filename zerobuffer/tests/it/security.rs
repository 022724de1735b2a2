//! Issue 18: same-user modes, the lock-file symlink attack, and reserved space.

use std::time::Duration;

use zerobuffer::{BufferConfig, DuplexClient, DuplexServer, Error, Reader};

use crate::common::{Peer, assert_clean, create, resource_paths, unique};

/// T18 modes: every object of a reader with default options is exactly 0600, whatever the
/// umask (0 would otherwise give 0666, 022 would give 0644).
#[test]
fn objects_are_0600_under_umask_0_and_022() {
    for umask in ["0", "022"] {
        let name = unique("sec-mode");
        let mut child = Peer::spawn_as(
            "create-with-umask",
            &[("ZB_NAME", name.clone()), ("ZB_UMASK", umask.to_owned())],
            None,
        );
        let modes = child.expect_line("MODES", Duration::from_secs(20));
        assert_eq!(child.reap(), Some(0));
        assert_eq!(modes, "600 600 600 600", "umask {umask}: {modes}");
        assert_clean(&name);
    }
}

/// T18 symlink attack: another user plants a dangling link where root's lock file will be.
/// Root's `Reader::create` must refuse it (O_NOFOLLOW) and create nothing at the target.
#[test]
fn a_lock_file_symlink_planted_by_another_user_is_refused() {
    if !rustix::process::geteuid().is_root() {
        eprintln!("skipped: needs root to start the attacker as `nobody` (uid 65534)");
        return;
    }
    let name = unique("sec-link");
    let target = format!("/tmp/{name}-target");
    let mut attacker = Peer::spawn_as(
        "plant-lock-symlink",
        &[("ZB_NAME", name.clone()), ("ZB_TARGET", target.clone())],
        Some(65534),
    );
    let planted = attacker.expect_line("RESULT", Duration::from_secs(20));
    assert_eq!(attacker.reap(), Some(0));
    assert_eq!(planted, "planted", "the attacker could not plant its link");
    let link = format!("/tmp/zerobuffer/{name}.lock");
    let r = create(&name, BufferConfig::new(0, 4096));
    let removed = std::fs::remove_file(&link);
    match r {
        Err(e @ Error::UnsafeLockPath { .. }) => {
            assert!(e.to_string().contains("symbolic link"), "{e}")
        }
        Err(e) => panic!("expected UnsafeLockPath, got {e:?}"),
        Ok(_) => panic!("the reader followed the planted link"),
    }
    assert!(removed.is_ok(), "the planted link was replaced");
    assert!(
        !std::path::Path::new(&target).exists(),
        "the link's target was created"
    );
    // With the link gone the name works, for the same user.
    drop(create(&name, BufferConfig::new(0, 4096)).expect("create after removal"));
    assert_clean(&name);
}

fn shm_names() -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir("/dev/shm")
        .expect("read /dev/shm")
        .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
        .collect();
    v.sort();
    v
}

fn assert_no_space<T>(r: zerobuffer::Result<T>, asked_at_least: u64) {
    match r {
        Err(e @ Error::NoSpace { requested, .. }) => {
            assert!(requested >= asked_at_least, "{requested}");
            let msg = e.to_string();
            assert!(
                msg.contains("/dev/shm") && msg.contains("--shm-size"),
                "{msg}"
            );
        }
        Err(e) => panic!("expected NoSpace, got {e:?}"),
        Ok(_) => panic!("expected NoSpace, got a buffer"),
    }
}

/// T18 reserved space: in a 64 MiB /dev/shm, buffers that do not fit fail at once with
/// `NoSpace` (no prefaulting until the tmpfs is full, no misleading semaphore error), and
/// nothing is left behind.
#[test]
fn buffers_beyond_a_64_mib_dev_shm_fail_and_leave_nothing() {
    if !zeroipc_testkit::private_shm(
        "security::buffers_beyond_a_64_mib_dev_shm_fail_and_leave_nothing",
        "64m",
        Duration::from_secs(120),
    ) {
        return;
    }
    let t = std::time::Instant::now();
    let name = unique("sec-big");
    assert_no_space(create(&name, BufferConfig::new(0, 1 << 40)), 1 << 40);
    println!("measured: 1 TiB reader refused in {:?}", t.elapsed());
    assert_no_space(create(&name, BufferConfig::new(0, 100 << 20)), 100 << 20);
    assert_clean(&name);
    assert!(shm_names().is_empty(), "left: {:?}", shm_names());

    // The duplex client's response buffer, with a server in this /dev/shm.
    let server_name = unique("sec-dup");
    let server = DuplexServer::create(&server_name, BufferConfig::new(0, 1 << 20)).expect("server");
    assert_no_space(
        DuplexClient::connect_with(&server_name, BufferConfig::new(0, 100 << 20)),
        100 << 20,
    );
    drop(server);
    assert!(shm_names().is_empty(), "left: {:?}", shm_names());
    for p in resource_paths(&format!("{server_name}_response")) {
        assert!(!std::path::Path::new(&p).exists(), "leaked {p}");
    }

    // What fits is reserved up front: the next one is refused.
    let fits = Reader::create(&name, BufferConfig::new(0, 40 << 20)).expect("fits");
    assert_no_space(
        create(&unique("sec-more"), BufferConfig::new(0, 30 << 20)),
        30 << 20,
    );
    drop(fits);
    assert!(shm_names().is_empty(), "left: {:?}", shm_names());
}

fn lock_dir_mode() -> u32 {
    use std::os::unix::fs::PermissionsExt;
    std::fs::symlink_metadata("/tmp/zerobuffer")
        .expect("stat lock dir")
        .permissions()
        .mode()
        & 0o7777
}

fn expect_unsafe_lock_dir(needle: &str) {
    let name = unique("sec-dir");
    match create(&name, BufferConfig::new(0, 4096)) {
        Err(e @ Error::UnsafeLockPath { .. }) => {
            let msg = e.to_string();
            assert!(
                msg.contains("/tmp/zerobuffer") && msg.contains(needle),
                "{msg}"
            );
        }
        Err(e) => panic!("expected UnsafeLockPath, got {e:?}"),
        Ok(_) => panic!("a reader was created with an unsafe lock directory"),
    }
    assert_clean(&name);
}

/// T18 lock directory: refused when another user owns it or when it is a symbolic link;
/// one of ours that lost its sticky bit is repaired; a new one is created 1777. Runs with a
/// private /tmp and /dev/shm (root only), so the machine's /tmp/zerobuffer is not touched.
#[test]
fn an_unsafe_lock_directory_is_refused_or_repaired() {
    if !zeroipc_testkit::private_mounts(
        "security::an_unsafe_lock_directory_is_refused_or_repaired",
        &[("/dev/shm", "16m"), ("/tmp", "16m")],
        Duration::from_secs(120),
    ) {
        return;
    }
    let dir = "/tmp/zerobuffer";
    // Absent: created sticky and world-writable whatever the umask.
    drop(create(&unique("sec-dir"), BufferConfig::new(0, 4096)).expect("create"));
    assert_eq!(lock_dir_mode(), 0o1777);

    // Owned by another user (here nobody), even with the sticky bit: refused.
    for mode in [0o777, 0o1777] {
        rustix::fs::chown(
            dir,
            Some(rustix::process::Uid::from_raw(65534)),
            Some(rustix::process::Gid::from_raw(65534)),
        )
        .expect("chown");
        rustix::fs::chmod(dir, rustix::fs::Mode::from_raw_mode(mode)).expect("chmod");
        expect_unsafe_lock_dir("belongs to uid 65534");
    }

    // Ours but world-writable without the sticky bit: repaired, then used.
    rustix::fs::chown(
        dir,
        Some(rustix::process::Uid::from_raw(0)),
        Some(rustix::process::Gid::from_raw(0)),
    )
    .expect("chown back");
    rustix::fs::chmod(dir, rustix::fs::Mode::from_raw_mode(0o777)).expect("chmod");
    drop(create(&unique("sec-dir"), BufferConfig::new(0, 4096)).expect("create"));
    assert_eq!(lock_dir_mode(), 0o1777);

    // A symbolic link in its place: refused, never followed.
    std::fs::remove_dir(dir).expect("rmdir");
    std::fs::create_dir("/tmp/elsewhere").expect("mkdir");
    std::os::unix::fs::symlink("/tmp/elsewhere", dir).expect("symlink");
    expect_unsafe_lock_dir("symbolic link");
    assert_eq!(
        std::fs::read_dir("/tmp/elsewhere").expect("ls").count(),
        0,
        "something was created through the link"
    );
}
