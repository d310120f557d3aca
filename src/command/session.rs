//! A connection's state as commands see it.

use std::rc::Rc;

use crate::shard::{ClientInfo, Shard, TxId};

pub use super::multi::{MultiState, WatchState};

/// Per-connection state: selected database, protocol, authentication.
pub struct Session {
    pub shard: Rc<Shard>,
    pub info: Rc<ClientInfo>,
    pub db: usize,
    pub resp3: bool,
    pub authenticated: bool,
    /// Close once the pending replies are written (QUIT, CLIENT KILL of
    /// oneself, protocol errors).
    pub close_after_reply: bool,
    pub no_touch: bool,
    /// Whether the peer is on a loopback address (DEBUG "local" mode).
    pub local: bool,
    /// The transaction this connection's commands run inside (EXEC, a
    /// script): coordinator calls use it so they pass the locks it holds.
    /// 0 outside.
    pub tx: TxId,
    /// Commands queued since MULTI.
    pub multi: Option<MultiState>,
    /// Keys under WATCH.
    pub watch: Option<WatchState>,
    /// CLIENT REPLY SKIP: drop the next command's reply.
    pub skip_next_reply: bool,
    /// The ACL user (the default user until AUTH).
    pub user: std::sync::Arc<crate::acl::User>,
    /// The shard's ACL generation at which this connection was found free
    /// to run anything (authenticated, unrestricted user); 0 when not.
    /// Dispatch skips every ACL check while it equals the shard's.
    pub acl_ok: u64,
    /// The running EXEC found memory over maxmemory with nothing left to
    /// evict when it started: scripts inside it check their writes against
    /// this (Redis's pre_command_oom_state).
    pub exec_oom: bool,
    /// The command just run was refused when it came to be served (a
    /// blocked command its user may no longer run): its stats count a
    /// rejected call, not a call.
    pub refused: std::cell::Cell<bool>,
    /// The error reply just written was already counted in errorstats (a
    /// script's error raised by a command it called): its stats count a
    /// failed call only.
    pub error_counted: std::cell::Cell<bool>,
}

impl Session {
    pub fn new(shard: Rc<Shard>, info: Rc<ClientInfo>, local: bool) -> Session {
        let (authenticated, user) = {
            let users = shard.acl.users.borrow();
            (!users.auth_required(), users.default_user().clone())
        };
        Session {
            shard,
            info,
            db: 0,
            resp3: false,
            authenticated,
            close_after_reply: false,
            no_touch: false,
            local,
            tx: 0,
            multi: None,
            watch: None,
            skip_next_reply: false,
            user,
            acl_ok: 0,
            exec_oom: false,
            refused: std::cell::Cell::new(false),
            error_counted: std::cell::Cell::new(false),
        }
    }

    pub fn id(&self) -> u64 {
        self.info.id
    }
}
