//! The calling client and the context a callback runs in: [`Context::client_id`],
//! [`Context::client_info`], [`Context::current_user_name`], [`Context::flags`] and the
//! server's version ([`Context::server_version`]).

use crate::{Context, Error, Result};

/// Where and how the current callback runs (`RedisModule_GetContextFlags`): each method is one
/// flag. [`Context::is_resp3`] is the same as `ctx.flags().resp3()`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ContextFlags(u32);

macro_rules! flags {
    ($($(#[$doc:meta])* $name:ident = $bit:expr;)*) => {
        impl ContextFlags {
            $($(#[$doc])* #[inline] pub fn $name(self) -> bool { self.0 & $bit != 0 })*
        }
    };
}

flags! {
    /// Called from a Lua script (or a function).
    lua = 1 << 0;
    /// Called inside `MULTI`/`EXEC`.
    multi = 1 << 1;
    /// This server is a master.
    master = 1 << 2;
    /// This server is a replica.
    replica = 1 << 3;
    /// This server is a read-only replica.
    readonly = 1 << 4;
    /// Cluster mode is on.
    cluster = 1 << 5;
    /// AOF is on.
    aof = 1 << 6;
    /// RDB snapshots are configured.
    rdb = 1 << 7;
    /// `maxmemory` is set.
    maxmemory = 1 << 8;
    /// `maxmemory` is set with an eviction policy.
    evict = 1 << 9;
    /// Used memory is over `maxmemory`.
    oom = 1 << 10;
    /// Less than 25% of `maxmemory` is left.
    oom_warning = 1 << 11;
    /// The command came from the master (replication stream).
    replicated = 1 << 12;
    /// The server is loading (RDB or AOF).
    loading = 1 << 13;
    /// A replica whose link to its master is down.
    replica_is_stale = 1 << 14;
    /// A replica connecting to its master.
    replica_is_connecting = 1 << 15;
    /// A replica receiving the master's RDB.
    replica_is_transferring = 1 << 16;
    /// A replica online and in sync.
    replica_is_online = 1 << 17;
    /// A fork child (RDB, AOF rewrite, module fork) is running.
    active_child = 1 << 18;
    /// Inside a `MULTI` that will fail (a watched key changed).
    multi_dirty = 1 << 19;
    /// Running in a fork child.
    is_child = 1 << 20;
    /// The client may not be blocked (inside `MULTI`, a script, ...).
    deny_blocking = 1 << 21;
    /// The calling client speaks RESP3.
    resp3 = 1 << 22;
    /// Replica loading asynchronously (`repl-diskless-load swapdb`).
    async_loading = 1 << 23;
}

impl ContextFlags {
    /// The raw `REDISMODULE_CTX_FLAGS_*` bits.
    pub fn bits(self) -> u32 {
        self.0
    }
}

/// A client's connection (`RedisModule_GetClientInfoById`, as `CLIENT LIST` shows it; also
/// what [`ServerEvent::ClientConnected`](crate::server::events::ServerEvent::ClientConnected)
/// carries).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientInfo {
    /// The client id (`CLIENT ID`).
    pub id: u64,
    /// The peer address (an IP address; empty for a Unix socket).
    pub addr: String,
    /// The peer port (0 for a Unix socket).
    pub port: u16,
    /// The selected database.
    pub db: u16,
    /// `REDISMODULE_CLIENTINFO_FLAG_*` bits; see the `is_*` methods.
    pub(crate) flags: u64,
}

impl ClientInfo {
    /// Connected over TLS.
    pub fn is_ssl(&self) -> bool {
        self.flags & 1 != 0
    }
    /// In subscriber (pub/sub) mode.
    pub fn is_pubsub(&self) -> bool {
        self.flags & 2 != 0
    }
    /// Blocked in a command.
    pub fn is_blocked(&self) -> bool {
        self.flags & 4 != 0
    }
    /// Client-side caching tracking is on.
    pub fn is_tracking(&self) -> bool {
        self.flags & 8 != 0
    }
    /// Connected over a Unix socket.
    pub fn is_unix_socket(&self) -> bool {
        self.flags & 16 != 0
    }
    /// Inside `MULTI`.
    pub fn is_multi(&self) -> bool {
        self.flags & 32 != 0
    }
}

/// A server version, `major.minor.patch` (for Valkey, Valkey's own version).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct ServerVersion {
    /// Major version.
    pub major: u8,
    /// Minor version.
    pub minor: u8,
    /// Patch level.
    pub patch: u8,
}

impl std::fmt::Display for ServerVersion {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}.{}.{}", self.major, self.minor, self.patch)
    }
}

impl ServerVersion {
    fn parse(s: &str) -> Option<ServerVersion> {
        let mut it = s.trim().split('.').map(|p| p.parse::<u8>().ok());
        Some(ServerVersion {
            major: it.next()??,
            minor: it.next().flatten().unwrap_or(0),
            patch: it.next().flatten().unwrap_or(0),
        })
    }
}

impl Context {
    /// The calling client's id (`CLIENT ID`), or `None` where the callback has no client
    /// (a timer, a server event, a thread-safe context).
    pub fn client_id(&self) -> Option<u64> {
        Some(self.raw().client_id()).filter(|&id| id != 0)
    }

    /// The connection of client `id`, or `None` if no client has that id.
    ///
    /// ```no_run
    /// # fn f(ctx: &rmkit::Context) -> Option<()> {
    /// let me = ctx.client_info(ctx.client_id()?)?;
    /// let _where_from = format!("{}:{} db {}", me.addr, me.port, me.db);
    /// # Some(()) }
    /// ```
    pub fn client_info(&self, id: u64) -> Option<ClientInfo> {
        self.raw().client_info(id).map(|ci| ClientInfo {
            id: ci.id,
            addr: ci.addr,
            port: ci.port,
            db: ci.db,
            flags: ci.flags,
        })
    }

    /// The ACL user the calling client is authenticated as (`ACL WHOAMI`), or `None` where
    /// the callback has no client.
    pub fn current_user_name(&self) -> Option<String> {
        self.raw()
            .current_user_name()
            .map(|s| String::from_utf8_lossy(s.as_bytes()).into_owned())
    }

    /// The ACL user client `id` is authenticated as, or `None` if no client has that id.
    pub fn client_user_name(&self, id: u64) -> Option<String> {
        self.raw()
            .client_user_name(id)
            .map(|s| String::from_utf8_lossy(s.as_bytes()).into_owned())
    }

    /// The name client `id` gave itself (`CLIENT SETNAME`), `None` if it has none (or there
    /// is no such client).
    pub fn client_name(&self, id: u64) -> Option<crate::RedisString> {
        self.raw().client_name(id)
    }

    /// Names client `id` (as `CLIENT SETNAME` would): `ERR` for no such client or a name with
    /// spaces or newlines (`Invalid argument`).
    pub fn set_client_name(&self, id: u64, name: &crate::RedisStr) -> Result<()> {
        self.raw()
            .set_client_name(id, name)
            .map_err(|e| Error::new(format!("cannot name client {id}: {e}")))
    }

    /// The X.509 certificate (PEM) client `id` presented over TLS; `None` without TLS or
    /// without a certificate.
    pub fn client_certificate(&self, id: u64) -> Option<crate::RedisString> {
        self.raw().client_certificate(id)
    }

    /// Where and how this callback runs: replica or master, loading, over maxmemory, in a
    /// script or `MULTI`, RESP3, ...
    ///
    /// ```no_run
    /// # fn f(ctx: &rmkit::Context) -> rmkit::Result<()> {
    /// if ctx.flags().deny_blocking() {
    ///     return Err(rmkit::Error::new("cannot block inside MULTI or a script"));
    /// }
    /// # Ok(()) }
    /// ```
    pub fn flags(&self) -> ContextFlags {
        ContextFlags(self.raw().context_flags())
    }

    /// The server's version: `RedisModule_GetServerVersion` where the server has it, else
    /// `INFO server`'s `valkey_version` or `redis_version` (Valkey reports `redis_version:7.2.4`
    /// for compatibility, so its own version is preferred).
    pub fn server_version(&self) -> Result<ServerVersion> {
        let from_info = |field| {
            self.raw()
                .server_info_str("server", field)
                .and_then(|v| ServerVersion::parse(&v))
        };
        if let Some(v) = from_info("valkey_version") {
            return Ok(v);
        }
        if let Some(v) = self.raw().server_version() {
            return Ok(ServerVersion {
                major: (v >> 16) as u8,
                minor: (v >> 8) as u8,
                patch: v as u8,
            });
        }
        from_info("redis_version")
            .ok_or_else(|| Error::new("the server reports no version in INFO server"))
    }
}

#[cfg(test)]
mod tests {
    use super::ServerVersion;

    #[test]
    fn parses_versions() {
        let v = ServerVersion::parse("7.0.15").unwrap();
        assert_eq!((v.major, v.minor, v.patch), (7, 0, 15));
        assert_eq!(ServerVersion::parse("8.1").unwrap().to_string(), "8.1.0");
        assert!(ServerVersion::parse("x").is_none());
    }
}
