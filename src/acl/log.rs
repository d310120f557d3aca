//! The ACL log (ACL LOG): recent denials, grouped like Redis's.
//!
//! Each shard logs the denials of its own clients; ACL LOG merges the
//! shards' logs (similar entries of different shards are folded together
//! the way one Redis log would have grouped them).

use std::collections::VecDeque;
use std::sync::atomic::{AtomicU64, Ordering};

use super::Denial;

/// Entries within this many ms of each other with the same reason,
/// context, object and user are one entry with a count.
const GROUPING_MS: u64 = 60_000;

/// Entry ids are unique across shards. One relaxed increment per new
/// entry (a denial, never the common path), so sharing it is cheap.
static NEXT_ENTRY_ID: AtomicU64 = AtomicU64::new(0);

/// Where the denied command ran.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Context {
    Toplevel,
    Multi,
    Lua,
}

impl Context {
    pub fn name(self) -> &'static str {
        match self {
            Context::Toplevel => "toplevel",
            Context::Multi => "multi",
            Context::Lua => "lua",
        }
    }
}

#[derive(Debug, Clone)]
pub struct LogEntry {
    pub count: u64,
    pub reason: Denial,
    pub context: Context,
    pub object: Vec<u8>,
    pub username: Vec<u8>,
    /// Last update, unix ms.
    pub ctime: u64,
    pub client_info: String,
    pub entry_id: u64,
    pub created: u64,
}

impl LogEntry {
    fn matches(&self, o: &LogEntry) -> bool {
        self.reason == o.reason
            && self.context == o.context
            && self.ctime.abs_diff(o.ctime) <= GROUPING_MS
            && self.object == o.object
            && self.username == o.username
    }
}

/// One shard's log, newest first.
#[derive(Default)]
pub struct Log {
    pub entries: VecDeque<LogEntry>,
}

impl Log {
    /// Records a denial (`max_len` is acllog-max-len).
    #[allow(clippy::too_many_arguments)]
    pub fn add(
        &mut self,
        reason: Denial,
        context: Context,
        object: &[u8],
        username: &[u8],
        client_info: String,
        now_ms: u64,
        max_len: usize,
    ) {
        if max_len == 0 {
            self.entries.clear();
            return;
        }
        let e = LogEntry {
            count: 1,
            reason,
            context,
            object: object.to_vec(),
            username: username.to_vec(),
            ctime: now_ms,
            client_info,
            entry_id: 0,
            created: now_ms,
        };
        if let Some(pos) = self.entries.iter().take(10).position(|o| o.matches(&e)) {
            let mut m = self.entries.remove(pos).expect("found above");
            m.count += 1;
            m.ctime = e.ctime;
            m.client_info = e.client_info;
            self.entries.push_front(m);
            return;
        }
        let e = LogEntry {
            entry_id: NEXT_ENTRY_ID.fetch_add(1, Ordering::Relaxed),
            ..e
        };
        self.entries.push_front(e);
        self.entries.truncate(max_len);
    }
}

/// Merges the shards' logs into one, newest update first.
pub fn merge(parts: Vec<Vec<LogEntry>>, max_len: usize) -> Vec<LogEntry> {
    let mut all: Vec<LogEntry> = parts.into_iter().flatten().collect();
    all.sort_by(|a, b| b.ctime.cmp(&a.ctime).then(b.entry_id.cmp(&a.entry_id)));
    let mut out: Vec<LogEntry> = Vec::new();
    for e in all {
        match out.iter_mut().find(|o| o.matches(&e)) {
            Some(o) => {
                o.count += e.count;
                o.created = o.created.min(e.created);
                o.entry_id = o.entry_id.min(e.entry_id);
            }
            None => out.push(e),
        }
    }
    // Like Redis, a lowered acllog-max-len trims only on the next entry.
    if max_len > 0 {
        out.truncate(max_len);
    }
    out
}
