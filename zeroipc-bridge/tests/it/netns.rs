//! Two network namespaces joined by a veth pair stand in for two machines (as root): the
//! bridges run inside them and zenoh crosses a real (virtual) link, not the loopback.

use std::process::{Command, Stdio};

use crate::{Bridge, LIMIT, Setup, eventually, link_status};

/// Runs `ip <args>`; `Err` with its stderr if it fails.
fn ip(args: &[&str]) -> Result<(), String> {
    let out = Command::new("ip")
        .args(args)
        .stdin(Stdio::null())
        .output()
        .map_err(|e| format!("ip {args:?}: {e}"))?;
    if out.status.success() {
        Ok(())
    } else {
        Err(format!(
            "ip {}: {}",
            args.join(" "),
            String::from_utf8_lossy(&out.stderr).trim()
        ))
    }
}

/// Two namespaces and the veth pair between them, deleted on drop (deleting a namespace
/// deletes the veth end inside it, and with it the pair).
struct Netns {
    a: String,
    b: String,
}

impl Netns {
    /// `a` at 10.77.0.1/30, `b` at 10.77.0.2/30 (addresses are per namespace, so parallel
    /// runs do not collide; names are unique per process).
    fn create() -> Result<Self, String> {
        let id = std::process::id() % 100_000;
        let ns = Self {
            a: format!("zbr{id}a"),
            b: format!("zbr{id}b"),
        };
        let (va, vb) = (ns.veth('a'), ns.veth('b'));
        ip(&["netns", "add", &ns.a])?;
        ip(&["netns", "add", &ns.b])?;
        ip(&["link", "add", &va, "type", "veth", "peer", "name", &vb])?;
        ip(&["link", "set", &va, "netns", &ns.a])?;
        ip(&["link", "set", &vb, "netns", &ns.b])?;
        for (n, v, addr) in [(&ns.a, &va, "10.77.0.1/30"), (&ns.b, &vb, "10.77.0.2/30")] {
            ip(&["-n", n, "addr", "add", addr, "dev", v])?;
            ip(&["-n", n, "link", "set", v, "up"])?;
            ip(&["-n", n, "link", "set", "lo", "up"])?;
        }
        Ok(ns)
    }
}

impl Netns {
    /// The veth end in namespace `side` (`'a'` or `'b'`).
    fn veth(&self, side: char) -> String {
        format!("zbv{}{side}", std::process::id() % 100_000)
    }

    /// Bytes the veth end in namespace `b` has received.
    fn rx_bytes_b(&self) -> u64 {
        let out = Command::new("ip")
            .args([
                "-n",
                &self.b,
                "-j",
                "-s",
                "link",
                "show",
                "dev",
                &self.veth('b'),
            ])
            .output()
            .unwrap();
        let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        v[0]["stats64"]["rx"]["bytes"].as_u64().unwrap()
    }
}

impl Drop for Netns {
    fn drop(&mut self) {
        // A pair whose end never moved into its namespace is in ours: delete it too.
        let _ = ip(&["link", "del", &self.veth('a')]);
        let _ = ip(&["netns", "del", &self.a]);
        let _ = ip(&["netns", "del", &self.b]);
    }
}

/// Why this machine cannot run the test, if it cannot.
fn cannot() -> Option<String> {
    if !rustix::process::geteuid().is_root() {
        return Some("not running as root (network namespaces need it)".into());
    }
    match Command::new("ip").arg("-V").output() {
        Ok(o) if o.status.success() => None,
        _ => Some("no `ip` command (iproute2)".into()),
    }
}

#[test]
fn stream_crosses_a_veth_pair_between_two_network_namespaces() {
    const N: u64 = 20_000;
    let name = "stream_crosses_a_veth_pair_between_two_network_namespaces";
    if let Some(why) = cannot() {
        eprintln!("SKIPPED {name}: {why}");
        return;
    }
    let ns = match Netns::create() {
        Ok(ns) => ns,
        Err(why) => {
            eprintln!("SKIPPED {name}: cannot create the namespaces: {why}");
            return;
        }
    };
    let setup = Setup::new("bn");
    let d = setup.d();

    let (src, _far, mut sub, _segs) = setup.streams();
    let common = [
        "--kind",
        "stream",
        "--name",
        "ticks",
        "--type",
        "u64",
        "--key",
        &setup.key,
        "--status-dir",
        d,
    ];
    let bin = env!("CARGO_BIN_EXE_zeroipc-bridge");
    // `ip netns exec` execs the bridge: the child's pid is the bridge's.
    let importer = Bridge::start_with(
        "ip",
        &[
            &["netns", "exec", &ns.b, bin, "import", "--segment", &setup.b][..],
            &["--listen", "tcp/10.77.0.2:7447"],
            &common,
        ]
        .concat(),
    );
    let exporter = Bridge::start_with(
        "ip",
        &[
            &["netns", "exec", &ns.a, bin, "export", "--segment", &setup.a][..],
            &["--connect", "tcp/10.77.0.2:7447"],
            &common,
        ]
        .concat(),
    );
    let producer = std::thread::spawn(move || {
        for i in 0..N {
            src.emit(i).unwrap();
        }
        src
    });
    for want in 0..N {
        assert_eq!(sub.recv_timeout(LIMIT).unwrap(), Some(want), "item {want}");
    }
    let src = producer.join().unwrap();
    eventually("the importer's status to show every item", || {
        link_status(&setup.dir.0, importer.pid).is_some_and(|s| s.items == N)
    });
    assert_eq!(
        link_status(&setup.dir.0, importer.pid).unwrap().gap_items,
        0
    );
    // The items crossed the veth pair (the only way from one namespace to the other).
    let rx = ns.rx_bytes_b();
    assert!(rx >= N * 8, "the veth end in {} received {rx} bytes", ns.b);
    src.close().unwrap();
    assert_eq!(sub.recv_timeout(LIMIT).unwrap(), None);
    exporter.wait_success();
    importer.wait_success();
    drop(ns);
}
