//! A small Redis Cluster of [`Server`]s on loopback, formed by `redis-cli --cluster create`.

use std::net::{Ipv4Addr, TcpListener};
use std::process::{Command, Stdio};
use std::time::Duration;

use crate::{Server, ServerBuilder, tool_binary};

/// How long the nodes may take to agree on `cluster_state:ok` after the cluster is created.
const CLUSTER_OK_TIMEOUT: Duration = Duration::from_secs(30);

/// Running cluster nodes; dropping it kills every node.
///
/// ```no_run
/// use rmkit_test::{Cluster, Server};
///
/// // 3 masters with one replica each, every node loading the workspace's `hashex`.
/// let cluster = Cluster::start(3, 1, Server::builder().module("hashex"));
/// assert_eq!(cluster.nodes().len(), 6);
/// let mut con = cluster.nodes()[0].client();
/// let info: String = redis::cmd("CLUSTER").arg("INFO").query(&mut con).unwrap();
/// assert!(info.contains("cluster_state:ok"));
/// ```
#[derive(Debug)]
pub struct Cluster {
    /// Masters first (as `redis-cli --cluster create` assigned them), then replicas.
    nodes: Vec<Server>,
}

impl Cluster {
    /// Starts `masters * (1 + replicas)` servers configured like `node` plus cluster mode (each
    /// with its own bus port and `nodes.conf` in its own directory, node timeout 5 s), forms
    /// the cluster with `redis-cli --cluster create --cluster-replicas <replicas>` and waits
    /// (at most 30 s) until every node reports `cluster_state:ok` and knows every other.
    ///
    /// # Panics
    ///
    /// If a node does not start, `redis-cli` fails (with its output), or the cluster does not
    /// become ok in time (with the node's log).
    pub fn start(masters: usize, replicas: usize, node: ServerBuilder) -> Cluster {
        assert!(
            masters >= 3,
            "redis-cli --cluster create needs at least 3 masters"
        );
        let total = masters * (1 + replicas);
        let nodes: Vec<Server> = (0..total)
            .map(|_| {
                node.clone()
                    .config("cluster-enabled", "yes")
                    .config("cluster-config-file", "nodes.conf")
                    .config("cluster-port", &bus_port().to_string())
                    .config("cluster-node-timeout", "5000")
                    .start()
            })
            .collect();
        let out = Command::new(tool_binary("redis-cli"))
            .arg("--cluster")
            .arg("create")
            .args(nodes.iter().map(Server::addr))
            .args(["--cluster-replicas", &replicas.to_string(), "--cluster-yes"])
            .stdin(Stdio::null())
            .output()
            .unwrap_or_else(|e| panic!("rmkit-test: cannot run redis-cli: {e}"));
        let text = String::from_utf8_lossy(&out.stdout);
        assert!(
            out.status.success() && text.contains("[OK] All 16384 slots covered."),
            "redis-cli --cluster create failed ({}):\n{text}\n{}",
            out.status,
            String::from_utf8_lossy(&out.stderr)
        );
        for node in &nodes {
            node.wait_for("cluster_state:ok", CLUSTER_OK_TIMEOUT, |s| {
                let info: String = redis::cmd("CLUSTER")
                    .arg("INFO")
                    .query(&mut s.client())
                    .unwrap_or_default();
                info.contains("cluster_state:ok")
                    && info.contains(&format!("cluster_known_nodes:{total}"))
            });
        }
        Cluster { nodes }
    }

    /// Every node, masters first.
    pub fn nodes(&self) -> &[Server] {
        &self.nodes
    }

    /// Every node, mutable (to [`Server::stop`] one, say).
    pub fn nodes_mut(&mut self) -> &mut [Server] {
        &mut self.nodes
    }

    /// The `host:port` of every node, for `redis-cli -c -h .. -p ..` or a cluster client.
    pub fn addrs(&self) -> Vec<String> {
        self.nodes.iter().map(Server::addr).collect()
    }
}

/// A loopback port free right now, for a node's cluster bus (the default, port + 10000, may be
/// above 65535 for the high ports the harness hands out).
fn bus_port() -> u16 {
    TcpListener::bind((Ipv4Addr::LOCALHOST, 0))
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .unwrap_or_else(|e| panic!("rmkit-test: cannot bind 127.0.0.1:0: {e}"))
}
