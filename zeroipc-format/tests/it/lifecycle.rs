//! Segment lifecycle: create, open, open_or_create, create_or_replace, unlink, modes, names.

use std::os::unix::fs::PermissionsExt;
use std::time::Duration;

use zeroipc_format::{Error, Segment, SegmentOptions};
use zeroipc_testkit::{ShmGuard, unique_guarded, unique_name};

fn shm_mode(name: &str) -> u32 {
    std::fs::metadata(format!("/dev/shm/{name}"))
        .unwrap()
        .permissions()
        .mode()
        & 0o7777
}

#[test]
fn create_open_unlink() {
    let (name, _g) = unique_guarded("life");
    let seg = Segment::create(&name, 1 << 16, 64).unwrap();
    assert!(seg.created());
    assert_eq!(seg.name(), format!("/{name}"));
    assert_eq!(seg.len(), 1 << 16);
    assert_eq!(seg.table_size(), 3104);
    assert_eq!(seg.free_space().unwrap(), (1 << 16) - 3104);
    let h = seg.header().unwrap();
    assert_eq!(
        (h.magic, h.version, h.entry_count, h.max_entries),
        (0x5A49504D, 2, 0, 64)
    );
    assert_eq!((h.memory_size, h.next_offset), (1 << 16, 3104));

    assert!(matches!(
        Segment::create(&name, 1 << 16, 64),
        Err(Error::AlreadyExists { .. })
    ));
    let with_slash = Segment::open(&format!("/{name}")).unwrap();
    assert!(!with_slash.created());
    assert_eq!(with_slash.max_entries(), 64);

    Segment::unlink(&name).unwrap();
    assert!(matches!(Segment::open(&name), Err(Error::NotFound { .. })));
    assert!(matches!(
        Segment::unlink(&name),
        Err(Error::NotFound { .. })
    ));
    // Mappings outlive the name.
    seg.add("still", 8, |_| Ok::<_, Error>(())).unwrap();
    assert!(with_slash.get("still").unwrap().is_some());
}

#[test]
fn created_with_mode_0600_by_default_and_configurable() {
    let a = unique_name("mode");
    let b = unique_name("mode");
    let _g = (ShmGuard::new(&a), ShmGuard::new(&b));
    Segment::create(&a, 4096, 8).unwrap();
    assert_eq!(shm_mode(&a), 0o600);
    SegmentOptions::new()
        .mode(0o640)
        .create(&b, 4096, 8)
        .unwrap();
    assert_eq!(shm_mode(&b), 0o640);
}

#[test]
fn open_or_create_and_create_or_replace() {
    let (name, _g) = unique_guarded("ooc");
    let first = Segment::open_or_create(&name, 1 << 16, 64).unwrap();
    assert!(first.created());
    first.add("keep", 16, |_| Ok::<_, Error>(())).unwrap();
    let second = Segment::open_or_create(&name, 4096, 8).unwrap();
    assert!(!second.created());
    assert_eq!(second.len(), 1 << 16, "size of an existing segment is kept");
    assert!(second.get("keep").unwrap().is_some());

    let fresh = Segment::create_or_replace(&name, 8192, 4).unwrap();
    assert!(fresh.created());
    assert_eq!(fresh.max_entries(), 4);
    assert!(fresh.entries().unwrap().is_empty());
    assert!(Segment::open(&name).unwrap().get("keep").unwrap().is_none());
}

#[test]
fn bad_arguments_fail_before_any_system_call() {
    let (name, _g) = unique_guarded("args");
    assert!(matches!(
        Segment::create(&name, 3103, 64),
        Err(Error::InvalidArgument(_))
    ));
    assert!(matches!(
        Segment::create(&name, 4096, 0),
        Err(Error::InvalidArgument(_))
    ));
    assert!(!std::path::Path::new(&format!("/dev/shm/{name}")).exists());
    for bad in [
        "",
        "/",
        "a/b",
        "..",
        "/..",
        ".",
        "../etc/passwd",
        "a/../b",
        "x\0y",
    ] {
        assert!(
            matches!(
                Segment::create(bad, 4096, 8),
                Err(Error::InvalidName { .. })
            ),
            "{bad:?}"
        );
        assert!(matches!(Segment::open(bad), Err(Error::InvalidName { .. })));
    }
    for len in [256, 300] {
        assert!(matches!(
            Segment::open(&"n".repeat(len)),
            Err(Error::NameTooLong { .. })
        ));
        assert!(matches!(
            Segment::create(&"n".repeat(len), 4096, 8),
            Err(Error::NameTooLong { .. })
        ));
    }
}

#[test]
fn an_uninitialised_object_is_reported_after_the_grace_period() {
    let (name, _g) = unique_guarded("uninit");
    // A creator that died before writing the header: the object exists, magic is 0.
    let fd = rustix::shm::open(
        format!("/{name}").as_str(),
        rustix::shm::OFlags::CREATE | rustix::shm::OFlags::RDWR,
        rustix::fs::Mode::from_bits_truncate(0o600),
    )
    .unwrap();
    let opts = SegmentOptions::new().init_grace(Duration::from_millis(20));
    assert!(matches!(
        opts.open(&name),
        Err(Error::NotInitialized { .. })
    ));
    rustix::fs::ftruncate(&fd, 4096).unwrap();
    assert!(matches!(
        opts.open(&name),
        Err(Error::NotInitialized { .. })
    ));
}

#[test]
fn unlink_on_drop_removes_the_name_with_the_last_handle() {
    let (name, _g) = unique_guarded("drop");
    let seg = SegmentOptions::new()
        .unlink_on_drop(true)
        .create(&name, 4096, 8)
        .unwrap();
    let clone = seg.clone();
    drop(seg);
    assert!(Segment::open(&name).is_ok());
    drop(clone);
    assert!(matches!(Segment::open(&name), Err(Error::NotFound { .. })));
}

#[test]
fn stored_max_entries_zero_reads_as_64() {
    let seg = Segment::anonymous(1 << 16, 64).unwrap();
    let mut img = seg.raw().to_vec();
    img[12..16].copy_from_slice(&0u32.to_le_bytes());
    let copy = Segment::from_bytes(&img).unwrap();
    assert_eq!(copy.max_entries(), 64);
    assert_eq!(copy.header().unwrap().max_entries, 0);
    assert_eq!(copy.table_size(), 3104);
}

#[test]
fn populate_and_read_only_open() {
    let (name, _g) = unique_guarded("ro");
    let seg = SegmentOptions::new()
        .populate(true)
        .create(&name, 1 << 16, 64)
        .unwrap();
    seg.add("v", 8, |r| r.write::<u64>(0, 9)).unwrap();
    let ro = SegmentOptions::new().open_read_only(&name).unwrap();
    let v = ro.find("v").unwrap();
    assert_eq!(ro.region(&v).unwrap().read::<u64>(0).unwrap(), 9);
    // Live data is visible to the read-only view until it writes a page itself.
    seg.region(&v).unwrap().write::<u64>(0, 10).unwrap();
    assert_eq!(ro.region(&v).unwrap().read::<u64>(0).unwrap(), 10);
    assert!(matches!(ro.lock_table(), Err(Error::ReadOnly { .. })));
}

const PERM_TEST: &str = "lifecycle::other_users_are_denied_by_default_and_admitted_by_mode";
const PERM_ROLE: &str = "perm-other-user";
const NOBODY: u32 = 65534;

/// D4: segments are created 0600, so another user cannot open them (`PermissionDenied`, for
/// read-write and read-only opens); `SegmentOptions::mode` admits group/other explicitly.
/// As root (CI), the other user is real: the test binary re-executes itself as uid/gid 65534
/// (`nobody`), which also drops root's capabilities. Without root there is no other user to
/// become, so the test falls back to mode 0o000, which denies the owner the same way.
#[test]
fn other_users_are_denied_by_default_and_admitted_by_mode() {
    if zeroipc_testkit::role().as_deref() == Some(PERM_ROLE) {
        return perm_child();
    }
    let names = [
        unique_name("perm600"),
        unique_name("perm644"),
        unique_name("perm666"),
    ];
    let _g = names.iter().map(|n| ShmGuard::new(n)).collect::<Vec<_>>();
    for (name, mode) in names.iter().zip([None, Some(0o644), Some(0o666)]) {
        let opts = match mode {
            Some(m) => SegmentOptions::new().mode(m),
            None => SegmentOptions::new(),
        };
        let seg = opts.create(name, 4096, 8).unwrap();
        seg.add("x", 8, |r| r.write::<u64>(0, 42)).unwrap();
        assert_eq!(shm_mode(name), mode.unwrap_or(0o600));
    }
    if rustix::process::geteuid().is_root() {
        use std::os::unix::process::CommandExt;
        let status = std::process::Command::new(std::env::current_exe().unwrap())
            .args([PERM_TEST, "--exact", "--nocapture", "--test-threads=1"])
            .env(zeroipc_testkit::ROLE_VAR, PERM_ROLE)
            .env("PERM_NAMES", names.join(","))
            .uid(NOBODY)
            .gid(NOBODY)
            .stdout(std::process::Stdio::null())
            .status()
            .unwrap();
        assert!(status.success(), "child running as nobody: {status}");
        // The other user could write only where the mode allowed it.
        let x_of = |name: &str| {
            let seg = Segment::open(name).unwrap();
            seg.region(&seg.find("x").unwrap())
                .unwrap()
                .read::<u64>(0)
                .unwrap()
        };
        assert_eq!(x_of(&names[2]), 7, "mode 0o666: written by the other user");
        assert_eq!(x_of(&names[0]), 42, "mode 0o600: left alone");
    } else {
        println!("not root: checking mode 0o000 against the owner instead of another user");
        let (name, _g) = unique_guarded("perm000");
        SegmentOptions::new()
            .mode(0)
            .create(&name, 4096, 8)
            .unwrap();
        assert!(matches!(
            Segment::open(&name),
            Err(Error::PermissionDenied { .. })
        ));
        assert!(matches!(
            SegmentOptions::new().open_read_only(&name),
            Err(Error::PermissionDenied { .. })
        ));
    }
}

/// The other-user side of [`other_users_are_denied_by_default_and_admitted_by_mode`].
fn perm_child() {
    assert_eq!(rustix::process::geteuid().as_raw(), NOBODY);
    let names = std::env::var("PERM_NAMES").unwrap();
    let [n600, n644, n666] = <[&str; 3]>::try_from(names.split(',').collect::<Vec<_>>()).unwrap();
    let ro = SegmentOptions::new();
    // 0600: nothing.
    assert!(matches!(
        Segment::open(n600),
        Err(Error::PermissionDenied { .. })
    ));
    assert!(matches!(
        ro.open_read_only(n600),
        Err(Error::PermissionDenied { .. })
    ));
    assert!(matches!(
        Segment::open_or_create(n600, 4096, 8),
        Err(Error::PermissionDenied { .. })
    ));
    // 0644: read-only only.
    assert!(matches!(
        Segment::open(n644),
        Err(Error::PermissionDenied { .. })
    ));
    let b = ro.open_read_only(n644).unwrap();
    assert_eq!(
        b.region(&b.find("x").unwrap())
            .unwrap()
            .read::<u64>(0)
            .unwrap(),
        42
    );
    // 0666: read-write.
    let c = Segment::open(n666).unwrap();
    c.region(&c.find("x").unwrap())
        .unwrap()
        .write::<u64>(0, 7)
        .unwrap();
}
