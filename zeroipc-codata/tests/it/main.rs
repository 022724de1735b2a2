//! Integration tests of `zeroipc-codata` (one binary; a module per area).

#![allow(clippy::unwrap_used)] // tests fail loudly by design

mod asyncs;
mod basic;
mod crash;
mod crash_matrix;
mod derived;
mod golden;
mod lazy_chain;
mod multiprocess;
mod select;
mod stream_batch;
mod stream_ops;
use zeroipc_format::Segment;
use zeroipc_testkit::{Child, ShmGuard, unique_name};

/// Generous bound for a child process to finish.
pub(crate) const LIMIT: std::time::Duration = std::time::Duration::from_secs(120);

/// Creates a named segment for a test and returns it with its cleanup guard.
pub(crate) fn segment(tag: &str, size: u64) -> (Segment, ShmGuard, String) {
    let name = unique_name(tag);
    let guard = ShmGuard::new(&name);
    let seg = Segment::create(&name, size, 64).unwrap();
    (seg, guard, name)
}

/// The child's view of the parent's segment (`SEG` in the environment).
pub(crate) fn child_segment() -> Segment {
    Segment::open(&std::env::var("SEG").unwrap()).unwrap()
}

/// The child's preamble: the parent's segment and its structure `name`, opened with `open`.
pub(crate) fn child_open<T, E: std::fmt::Debug>(
    open: impl FnOnce(&Segment, &str) -> Result<T, E>,
    name: &str,
) -> (Segment, T) {
    let seg = child_segment();
    let s = open(&seg, name).unwrap();
    (seg, s)
}

/// The child's side of a test whose children only wait: asserts that the parent's future
/// `name` completes with `want`.
pub(crate) fn child_gets<T: bytemuck::Pod + PartialEq + std::fmt::Debug>(name: &str, want: T) {
    let (_seg, f) = child_open(zeroipc_codata::Future::<T>::open, name);
    assert_eq!(f.get_timeout(LIMIT).unwrap(), want, "{name}");
}

/// Starts one child in `role` running `test`, with the segment name in `SEG`.
pub(crate) fn spawn_one(test: &str, role: &str, seg: &str) -> Child {
    Child::spawn(test, role, &[("SEG", seg)])
}

/// The child's side of a hand-shake: sets the parent's future `flag` (see [`spawn_ready`]).
pub(crate) fn signal(seg: &Segment, flag: &str) {
    zeroipc_codata::Future::<u8>::open(seg, flag)
        .unwrap()
        .set_value(1)
        .unwrap();
}

/// Starts one child in `role` running `test` on the segment `seg` (named `name`) and returns
/// it once the child has [`signal`]led `flag`, a future this creates first.
pub(crate) fn spawn_ready(test: &str, role: &str, seg: &Segment, name: &str, flag: &str) -> Child {
    let ready = zeroipc_codata::Future::<u8>::create(seg, flag).unwrap();
    let kid = spawn_one(test, role, name);
    ready.get_timeout(LIMIT).unwrap();
    kid
}

/// Starts one child per role running `test`, with the segment name in `SEG`.
pub(crate) fn spawn(test: &str, roles: &[&str], seg: &str) -> Vec<Child> {
    roles
        .iter()
        .map(|r| Child::spawn(test, r, &[("SEG", seg)]))
        .collect()
}

/// Runs eight racers `0`..`7` of `test` on the segment `seg` (named `name`): they all wait on
/// the future `go`, which is set once at least six of them are waiting, so they start
/// together; each reports its outcome in the future `r<i>` (see [`racer`]). Returns those
/// futures once every racer has exited successfully.
pub(crate) fn race_eight<T: bytemuck::Pod>(
    test: &str,
    seg: &Segment,
    name: &str,
) -> Vec<zeroipc_codata::Future<T>> {
    let go = zeroipc_codata::Future::<u8>::create(seg, "go").unwrap();
    let results: Vec<_> = (0..8)
        .map(|i| zeroipc_codata::Future::<T>::create(seg, &format!("r{i}")).unwrap())
        .collect();
    let roles: Vec<String> = (0..8).map(|i| i.to_string()).collect();
    let kids = spawn(
        test,
        &roles.iter().map(String::as_str).collect::<Vec<_>>(),
        name,
    );
    assert!(
        eventually(std::time::Duration::from_secs(60), || go.waiters().unwrap()
            >= 6),
        "racers ready"
    );
    go.set_value(1).unwrap();
    for k in kids {
        k.wait_success(LIMIT);
    }
    results
}

/// A racer's side of [`race_eight`] (`me` is its role): waits for `go`, then reports what
/// `race` gives in the future `r<me>`.
pub(crate) fn racer<T: bytemuck::Pod>(me: &str, race: impl FnOnce(&Segment, u64) -> T) {
    let (seg, go) = child_open(zeroipc_codata::Future::<u8>::open, "go");
    go.get_timeout(LIMIT).unwrap();
    let me: u64 = me.parse().unwrap();
    let v = race(&seg, me);
    zeroipc_codata::Future::<T>::open(&seg, &format!("r{me}"))
        .unwrap()
        .set_value(v)
        .unwrap();
}

/// Polls `cond` every millisecond until it holds or `limit` passes (a liveness bound).
pub(crate) fn eventually(limit: std::time::Duration, mut cond: impl FnMut() -> bool) -> bool {
    let end = std::time::Instant::now() + limit;
    while std::time::Instant::now() < end {
        if cond() {
            return true;
        }
        std::thread::sleep(std::time::Duration::from_millis(1));
    }
    cond()
}
