//! `Cluster`: three masters with a replica each, formed and serving every slot.

use rmkit_test::{Cluster, Server, q};

#[test]
fn three_masters_with_a_replica_each_serve_every_slot() {
    let cluster = Cluster::start(3, 1, Server::builder());
    assert_eq!(cluster.nodes().len(), 6);
    assert_eq!(cluster.addrs().len(), 6);
    let mut roles = Vec::new();
    for node in cluster.nodes() {
        let mut con = node.client();
        let info: String = q(&mut con, &["CLUSTER", "INFO"]);
        assert!(info.contains("cluster_state:ok"), "{info}");
        assert!(info.contains("cluster_slots_ok:16384"), "{info}");
        roles.push(node.info("replication")["role"].clone());
    }
    assert_eq!(
        roles.iter().filter(|r| *r == "master").count(),
        3,
        "{roles:?}"
    );
    assert_eq!(
        roles.iter().filter(|r| *r == "slave").count(),
        3,
        "{roles:?}"
    );
}
