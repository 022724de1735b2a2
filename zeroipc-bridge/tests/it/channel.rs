//! Channel links.

use std::time::Duration;

use zeroipc_codata::Channel;
use zeroipc_format::Segment;

use crate::{LIMIT, Setup, eventually, link_status};

#[test]
fn channel_slow_remote_consumer_blocks_the_sender_and_loses_nothing() {
    const N: u64 = 20_000;
    const CAP_A: usize = 64;
    const CAP_B: usize = 128;
    let setup = Setup::new("bc");
    let (a, b, key) = (setup.a.clone(), setup.b.clone(), setup.key.clone());
    let ep = setup.ep.clone();

    let seg_a = Segment::create(&a, 1 << 20, 64).unwrap();
    let seg_b = Segment::create(&b, 1 << 20, 64).unwrap();
    let local = Channel::<u64>::create(&seg_a, "jobs", CAP_A).unwrap();
    let remote = Channel::<u64>::create(&seg_b, "jobs", CAP_B).unwrap();
    let common = [
        "--kind", "channel", "--name", "jobs", "--type", "u64", "--key", &key,
    ];
    let importer = setup.bridge(&["import", "--segment", &b, "--listen", &ep], &common);
    let exporter = setup.bridge(&["export", "--segment", &a, "--connect", &ep], &common);

    // Nobody reads the remote channel yet: exactly CAP_B items cross, CAP_A wait locally,
    // and then the local sender blocks.
    let fill = (CAP_A + CAP_B) as u64;
    for i in 0..fill {
        local.send_timeout(i, LIMIT).unwrap();
    }
    eventually("the remote channel to fill", || {
        remote.len().unwrap() == CAP_B
    });
    assert_eq!(local.len().unwrap(), CAP_A);
    let e = local
        .send_timeout(fill, Duration::from_millis(300))
        .unwrap_err();
    assert!(e.is_timeout(), "the sender must block, got {e}");
    assert_eq!(remote.len().unwrap(), CAP_B, "nothing more crossed");

    // A slow consumer drains the remote side while the sender sends the rest.
    let sender = std::thread::spawn(move || {
        for i in fill..N {
            local.send_timeout(i, LIMIT).unwrap();
        }
        local.close().unwrap();
    });
    for want in 0..N {
        assert_eq!(
            remote.recv_timeout(LIMIT).unwrap(),
            Some(want),
            "item {want}"
        );
        if want % 500 == 0 {
            // The consumer is slow: the bridge must hold back, not drop.
            std::thread::sleep(Duration::from_millis(20));
        }
    }
    sender.join().unwrap();
    // close() travelled: the remote channel ends after the last item.
    assert_eq!(remote.recv_timeout(LIMIT).unwrap(), None);
    let st = link_status(&setup.dir.0, importer.pid);
    if let Some(st) = st {
        assert_eq!(st.gap_items, 0);
    }
    exporter.wait_success();
    importer.wait_success();
}
