//! Redis Cluster: this node's id, the node list and node info, cluster flags, and module
//! messages between the nodes (sending, and the receiver Redis calls).

use super::{OK, RawCtx, api, guard};
use crate::Context;
use crate::server::cluster::{CLUSTER_RECEIVERS, NodeFlags, NodeId, NodeInfo};
use redis_module::raw;
use std::ffi::{c_char, c_int, c_uchar};

const ID_LEN: usize = raw::REDISMODULE_NODE_ID_LEN as usize;
/// Redis's NET_IP_STR_LEN (INET6_ADDRSTRLEN).
const IP_LEN: usize = 46;

fn node_id(p: *const c_char) -> Option<NodeId> {
    if p.is_null() {
        return None;
    }
    // SAFETY: Redis node names are exactly REDISMODULE_NODE_ID_LEN bytes (not NUL-terminated).
    let bytes = unsafe { std::slice::from_raw_parts(p.cast::<u8>(), ID_LEN) };
    NodeId::from_bytes(bytes)
}

/// The id NUL-terminated, as the lookups (`strlen`) need it.
fn c_id(id: &NodeId) -> [u8; ID_LEN + 1] {
    let mut b = [0u8; ID_LEN + 1];
    b[..ID_LEN].copy_from_slice(id.as_bytes());
    b
}

/// `RedisModule_GetMyClusterID`: `None` outside cluster mode.
pub(crate) fn my_id() -> Option<NodeId> {
    // SAFETY: no arguments; returns NULL or this node's 40-byte name.
    node_id(unsafe { api!(RedisModule_GetMyClusterID)() })
}

/// `RedisModule_GetClusterSize`: the nodes this node knows (0 outside cluster mode).
pub(crate) fn size() -> usize {
    // SAFETY: no arguments.
    unsafe { api!(RedisModule_GetClusterSize)() }
}

impl RawCtx {
    /// `RedisModule_GetClusterNodesList` (copied, then freed): empty outside cluster mode.
    pub(crate) fn cluster_nodes(&self) -> Vec<NodeId> {
        let mut n = 0usize;
        // SAFETY: a live context; the list is NULL or `n` node names, freed below.
        let list = unsafe { api!(RedisModule_GetClusterNodesList)(self.as_ptr(), &mut n) };
        if list.is_null() {
            return Vec::new();
        }
        // SAFETY: `list` holds `n` valid pointers (and a NULL after them).
        let ids = (0..n)
            .filter_map(|i| node_id(unsafe { *list.add(i) }))
            .collect();
        // SAFETY: the list returned above, freed once.
        unsafe { api!(RedisModule_FreeClusterNodesList)(list) };
        ids
    }

    /// `RedisModule_GetClusterNodeInfo`: `None` for an unknown node (or one in handshake).
    pub(crate) fn cluster_node_info(&self, id: &NodeId) -> Option<NodeInfo> {
        let cid = c_id(id);
        let mut ip = [0u8; IP_LEN + 1];
        let mut master = [0u8; ID_LEN];
        let (mut port, mut flags): (c_int, c_int) = (0, 0);
        // SAFETY: a live context; a NUL-terminated id; buffers of the sizes Redis writes
        // (NET_IP_STR_LEN for the ip, plus a NUL that strncpy may leave out; 40 for the master).
        let r = unsafe {
            api!(RedisModule_GetClusterNodeInfo)(
                self.as_ptr(),
                cid.as_ptr().cast(),
                ip.as_mut_ptr().cast(),
                master.as_mut_ptr().cast(),
                &mut port,
                &mut flags,
            )
        };
        if r != OK {
            return None;
        }
        let ip_len = ip.iter().position(|&b| b == 0).unwrap_or(IP_LEN);
        let f = flags as u32;
        Some(NodeInfo {
            id: *id,
            ip: String::from_utf8_lossy(&ip[..ip_len]).into_owned(),
            port: u16::try_from(port).unwrap_or(0),
            master: if master.iter().all(|&b| b == 0) {
                None
            } else {
                NodeId::from_bytes(&master)
            },
            flags: NodeFlags {
                myself: f & raw::REDISMODULE_NODE_MYSELF != 0,
                master: f & raw::REDISMODULE_NODE_MASTER != 0,
                replica: f & raw::REDISMODULE_NODE_SLAVE != 0,
                pfail: f & raw::REDISMODULE_NODE_PFAIL != 0,
                fail: f & raw::REDISMODULE_NODE_FAIL != 0,
                no_failover: f & raw::REDISMODULE_NODE_NOFAILOVER != 0,
            },
        })
    }

    /// `RedisModule_SendClusterMessage` to one node or (`None`) all: false if Redis refused
    /// (not in cluster mode, unknown node).
    pub(crate) fn send_cluster_message(
        &self,
        target: Option<&NodeId>,
        kind: u8,
        payload: &[u8],
    ) -> bool {
        let Ok(len) = u32::try_from(payload.len()) else {
            return false;
        };
        let cid = target.map(c_id);
        // SAFETY: a live context; NULL or a NUL-terminated id; Redis copies the payload.
        let r = unsafe {
            api!(RedisModule_SendClusterMessage)(
                self.as_ptr(),
                cid.as_ref().map_or(std::ptr::null(), |c| c.as_ptr().cast()),
                kind,
                payload.as_ptr().cast(),
                len,
            )
        };
        r == OK
    }

    /// `RedisModule_SetClusterFlags`.
    pub(crate) fn set_cluster_flags(&self, no_failover: bool, no_redirection: bool) {
        let mut flags = u64::from(raw::REDISMODULE_CLUSTER_FLAG_NONE);
        if no_failover {
            flags |= u64::from(raw::REDISMODULE_CLUSTER_FLAG_NO_FAILOVER);
        }
        if no_redirection {
            flags |= u64::from(raw::REDISMODULE_CLUSTER_FLAG_NO_REDIRECTION);
        }
        // SAFETY: a live context.
        unsafe { api!(RedisModule_SetClusterFlags)(self.as_ptr(), flags) };
    }

    /// Registers the dispatcher for every message type a receiver was declared for (at load;
    /// Redis ignores it outside cluster mode).
    pub(crate) fn register_cluster_receivers(&self) {
        let mut seen = [false; 256];
        for r in CLUSTER_RECEIVERS.iter() {
            if std::mem::replace(&mut seen[usize::from(r.kind)], true) {
                continue;
            }
            // SAFETY: the load context; the dispatcher is a plain function of this image.
            unsafe {
                api!(RedisModule_RegisterClusterMessageReceiver)(
                    self.as_ptr(),
                    r.kind,
                    Some(dispatch_message),
                )
            };
        }
    }
}

unsafe extern "C" fn dispatch_message(
    ctx: *mut raw::RedisModuleCtx,
    sender: *const c_char,
    kind: u8,
    payload: *const c_uchar,
    len: u32,
) {
    let Some(sender) = node_id(sender) else {
        return;
    };
    let payload: &[u8] = if payload.is_null() || len == 0 {
        &[]
    } else {
        // SAFETY: Redis passes `len` bytes of payload valid for this call.
        unsafe { std::slice::from_raw_parts(payload, len as usize) }
    };
    // SAFETY: Redis passes a valid context for this call.
    let ctx = Context::new(unsafe { RawCtx::from_raw(ctx) });
    for r in CLUSTER_RECEIVERS.iter().filter(|r| r.kind == kind) {
        guard("a cluster message receiver", || {
            (r.handler)(&ctx, &sender, payload)
        });
    }
}
