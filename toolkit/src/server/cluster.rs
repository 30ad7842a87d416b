//! Redis Cluster from a module: this node's id, the nodes and what they are, the slot of a key,
//! and messages between the module's instances on the nodes.
//!
//! ```no_run
//! use rmkit::server::cluster::{self, NodeId};
//! use rmkit::Context;
//!
//! /// Message type 1: "reset your counters" (payload: a reason).
//! const RESET: u8 = 1;
//!
//! fn on_reset(ctx: &Context, from: &NodeId, payload: &[u8]) {
//!     ctx.log(rmkit::LogLevel::Notice, &format!("reset by {from}: {}", String::from_utf8_lossy(payload)));
//! }
//! rmkit::on_cluster_message!(RESET, on_reset);
//!
//! fn broadcast(ctx: &Context) -> rmkit::Result<()> {
//!     ctx.send_cluster_message(None, RESET, b"flushall")?;
//!     let slot = cluster::key_slot(b"user:{42}:visits"); // the slot of "42"
//!     # let _ = slot;
//!     Ok(())
//! }
//! # fn main() {}
//! ```
//! Outside cluster mode the node list is empty, [`Context::my_node_id`] is `None` and sending
//! is an error; receivers are simply never called.

use crate::{Context, Error, Result};

/// A cluster node's id: the 40 hexadecimal characters of `CLUSTER NODES` / `CLUSTER MYID`.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct NodeId([u8; 40]);

impl NodeId {
    /// The id from its 40 bytes (`None` for another length).
    pub fn from_bytes(b: &[u8]) -> Option<NodeId> {
        Some(NodeId(b.try_into().ok()?))
    }
    /// The 40 bytes.
    pub fn as_bytes(&self) -> &[u8; 40] {
        &self.0
    }
    /// As text (ids are hexadecimal; anything else is shown lossily).
    pub fn as_str(&self) -> std::borrow::Cow<'_, str> {
        String::from_utf8_lossy(&self.0)
    }
}

impl std::fmt::Display for NodeId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.as_str())
    }
}

impl std::fmt::Debug for NodeId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "NodeId({})", self.as_str())
    }
}

/// What a node is, as `CLUSTER NODES` flags it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct NodeFlags {
    /// This node (`myself`).
    pub myself: bool,
    /// A master.
    pub master: bool,
    /// A replica (`slave`).
    pub replica: bool,
    /// Possibly failing (`fail?`).
    pub pfail: bool,
    /// Failing (`fail`).
    pub fail: bool,
    /// Never fails over (`nofailover`).
    pub no_failover: bool,
}

/// One node of the cluster.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NodeInfo {
    /// Its id.
    pub id: NodeId,
    /// Its address (as the cluster bus knows it).
    pub ip: String,
    /// Its client port.
    pub port: u16,
    /// For a replica, its master (when known).
    pub master: Option<NodeId>,
    /// Its flags.
    pub flags: NodeFlags,
}

/// The hash slot (0..16384) of a key, as Redis Cluster computes it: CRC16 of the key, or of
/// the part between the first `{` and the next `}` when that part is not empty (a hash tag).
///
/// ```
/// use rmkit::server::cluster::key_slot;
/// assert_eq!(key_slot(b"foo"), 12182);
/// assert_eq!(key_slot(b"{user1000}.following"), key_slot(b"user1000"));
/// assert_eq!(key_slot(b"foo{bar}{zap}"), key_slot(b"bar")); // the first tag only
/// assert_eq!(key_slot(b"foo{}{bar}"), 8363); // an empty tag: the whole key
/// ```
pub fn key_slot(key: &[u8]) -> u16 {
    let hashed = match key.iter().position(|&b| b == b'{') {
        Some(open) => match key[open + 1..].iter().position(|&b| b == b'}') {
            Some(len) if len > 0 => &key[open + 1..open + 1 + len],
            _ => key,
        },
        None => key,
    };
    crc16(hashed) & 0x3FFF
}

/// CRC16-CCITT (XMODEM), the checksum Redis Cluster uses for slots.
fn crc16(data: &[u8]) -> u16 {
    let mut crc: u16 = 0;
    for &b in data {
        crc ^= u16::from(b) << 8;
        for _ in 0..8 {
            crc = if crc & 0x8000 != 0 {
                (crc << 1) ^ 0x1021
            } else {
                crc << 1
            };
        }
    }
    crc
}

/// Cluster behaviours a module may turn off ([`Context::set_cluster_flags`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct ClusterFlags {
    /// This node never takes over for a failed master.
    pub no_failover: bool,
    /// Commands are served for any key without `-MOVED`/`-ASK` (the module distributes
    /// data itself).
    pub no_redirection: bool,
}

impl Context {
    /// This node's id, or `None` outside cluster mode.
    pub fn my_node_id(&self) -> Option<NodeId> {
        crate::ffi::cluster::my_id()
    }

    /// The number of nodes this node knows, masters and replicas, in any state (0 outside
    /// cluster mode).
    pub fn cluster_size(&self) -> usize {
        crate::ffi::cluster::size()
    }

    /// The ids of every node the cluster knows (not those still in handshake); empty outside
    /// cluster mode.
    pub fn cluster_nodes(&self) -> Vec<NodeId> {
        self.raw().cluster_nodes()
    }

    /// What the cluster knows of node `id`; `None` for an unknown one.
    pub fn cluster_node_info(&self, id: &NodeId) -> Option<NodeInfo> {
        self.raw().cluster_node_info(id)
    }

    /// Sends `payload` to the module's receivers of message type `kind` on node `target`, or
    /// on every other node with `None` (over the cluster bus: delivery is best effort, like
    /// the bus itself). `ERR` outside cluster mode or for an unknown node.
    pub fn send_cluster_message(
        &self,
        target: Option<&NodeId>,
        kind: u8,
        payload: &[u8],
    ) -> Result<()> {
        if self.my_node_id().is_none() {
            return Err(Error::new(
                "this server is not in cluster mode (cluster-enabled no): no cluster messages",
            ));
        }
        if self.raw().send_cluster_message(target, kind, payload) {
            Ok(())
        } else {
            Err(Error::new(format!(
                "cannot send the cluster message to {}",
                target.map_or("the cluster".into(), |t| format!("node {t} (unknown?)"))
            )))
        }
    }

    /// Turns off failover and/or redirection for this node (`RedisModule_SetClusterFlags`).
    pub fn set_cluster_flags(&self, flags: ClusterFlags) {
        self.raw()
            .set_cluster_flags(flags.no_failover, flags.no_redirection);
    }
}

/// A cluster message receiver (macro plumbing).
#[doc(hidden)]
#[derive(Debug)]
pub struct ClusterReceiver {
    /// The message type.
    pub kind: u8,
    /// Called on the main thread with the sender and the payload.
    pub handler: fn(&Context, &NodeId, &[u8]),
}

#[doc(hidden)]
pub use crate::ffi::registry::CLUSTER_RECEIVERS;

/// Receives the cluster messages of type `kind` (a `u8`) other nodes' instances of this module
/// send: `handler: fn(&Context, &NodeId, &[u8])` runs on the main thread with the sender and
/// the payload. Several handlers may take the same type.
#[macro_export]
macro_rules! on_cluster_message {
    ($kind:expr, $handler:path) => {
        const _: () = {
            #[$crate::__private::linkme::distributed_slice(
                $crate::server::cluster::CLUSTER_RECEIVERS
            )]
            #[linkme(crate = $crate::__private::linkme)]
            static RECEIVER: $crate::server::cluster::ClusterReceiver =
                $crate::server::cluster::ClusterReceiver {
                    kind: $kind,
                    handler: $handler,
                };
        };
    };
}
