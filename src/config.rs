//! Configuration: redis.conf-style files, `--name value` flags, defaults,
//! and the parameter table behind CONFIG GET / CONFIG SET.
//!
//! Every shard keeps its own copy; CONFIG SET validates once and the
//! coordinator applies the change on every shard.

use crate::protocol::parser::split_args;

/// Server settings. Field names follow redis.conf where the option exists.
#[derive(Clone, Debug)]
pub struct Config {
    pub port: u16,
    pub bind: Vec<String>,
    pub protected_mode: bool,
    pub requirepass: Option<String>,
    pub databases: usize,
    pub maxclients: usize,
    pub timeout: u64,
    pub tcp_keepalive: u64,
    pub tcp_backlog: u32,
    /// Port of the Prometheus text endpoint (`GET /metrics`); 0: off.
    pub metrics_port: u16,
    pub hz: u32,
    /// Milliseconds after which a running script makes others get -BUSY.
    pub busy_reply_threshold: u64,
    pub logfile: String,
    pub loglevel: String,
    pub shards: usize,
    pub proto_max_bulk_len: usize,
    pub client_query_buffer_limit: usize,
    pub active_expire_enabled: bool,
    pub config_file: String,
    pub enable_debug_command: String,
    /// sanitize-dump-payload: "no", "yes" or "clients" (RESTORE's deep checks).
    pub sanitize_dump_payload: String,
    pub dir: String,
    /// The append-only log's parameters (appendonly, appendfsync ...).
    pub aof: crate::persist::aof::AofConfig,
    /// Snapshot parameters (dbfilename, save, rdbcompression ...).
    pub persist: crate::persist::snapshot::SaveConfig,
    /// Keyspace notification classes (`command::notify::class`).
    pub notify_keyspace_events: u32,
    /// client-output-buffer-limit per class (normal, replica, pubsub):
    /// hard limit, soft limit (bytes, 0 = none), soft seconds.
    pub client_output_buffer_limit: [ObufLimit; 3],
    /// maxmemory-clients: bytes all clients may use together before the
    /// biggest are closed; negative: a percentage of maxmemory; 0: off.
    pub maxmemory_clients: i64,
    /// Most keys remembered for client-side caching (0 = no limit).
    pub tracking_table_max_keys: usize,
    /// Encoding thresholds of the collection types (hash-max-listpack-entries
    /// ...), by index into [`ENCODING_PARAMS`].
    pub encoding: Vec<i64>,
    /// The same thresholds, typed, as command handlers read them.
    pub limits: Limits,
    /// maxmemory, its eviction policy and the lazy-free switches.
    pub memory: MemoryConfig,
    /// ACL file (`aclfile`), empty for none.
    pub aclfile: String,
    /// Most ACL LOG entries kept.
    pub acllog_max_len: usize,
    /// `acl-pubsub-default allchannels`: new users may use every channel.
    pub acl_pubsub_default_all: bool,
    /// `user <name> <rules...>` directives of the config file, in order.
    pub users: Vec<Vec<String>>,
    /// Microseconds from which a command enters the slow log (-1: never).
    pub slowlog_log_slower_than: i64,
    pub slowlog_max_len: usize,
    /// Milliseconds from which the latency monitor records an event (0: off).
    pub latency_monitor_threshold: u64,
    /// Per-command latency histograms (INFO latencystats).
    pub latency_tracking: bool,
    /// Percentiles INFO latencystats reports.
    pub latency_tracking_info_percentiles: Vec<f64>,
}

/// The memory limit and how it is kept (maxmemory-*, lfu-*, lazyfree-*).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct MemoryConfig {
    /// Bytes; 0 = no limit.
    pub maxmemory: u64,
    pub policy: crate::shard::evict::Policy,
    pub samples: usize,
    pub tenacity: u32,
    pub lfu_log_factor: u32,
    /// Minutes per halving step of an LFU counter (0 = never decays).
    pub lfu_decay_time: u32,
    pub lazy_eviction: bool,
    pub lazy_expire: bool,
    pub lazy_server_del: bool,
    pub lazy_user_del: bool,
    pub lazy_user_flush: bool,
}

impl Default for MemoryConfig {
    fn default() -> Self {
        MemoryConfig {
            maxmemory: 0,
            policy: crate::shard::evict::Policy::NoEviction,
            samples: 5,
            tenacity: 10,
            lfu_log_factor: 10,
            lfu_decay_time: 1,
            lazy_eviction: false,
            lazy_expire: false,
            lazy_server_del: false,
            lazy_user_del: false,
            lazy_user_flush: false,
        }
    }
}

/// Encoding thresholds of the collection types, as handlers see them (a
/// copy travels with every command's context).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    pub hash_max_listpack_entries: usize,
    pub hash_max_listpack_value: usize,
    /// Positive: entries per list node; negative: node size class (-1 = 4 KiB
    /// ... -5 = 64 KiB), as Redis's list-max-listpack-size.
    pub list_max_listpack_size: i64,
    pub set_max_intset_entries: usize,
    pub set_max_listpack_entries: usize,
    pub set_max_listpack_value: usize,
    pub zset_max_listpack_entries: usize,
    pub zset_max_listpack_value: usize,
    pub hll_sparse_max_bytes: usize,
    pub stream_node_max_bytes: usize,
    pub stream_node_max_entries: usize,
}

impl Limits {
    fn from_params(v: &[i64]) -> Limits {
        let at = |name: &str| v[encoding_param(name).expect("known parameter")];
        let u = |name: &str| at(name).clamp(0, i64::MAX) as usize;
        Limits {
            hash_max_listpack_entries: u("hash-max-listpack-entries"),
            hash_max_listpack_value: u("hash-max-listpack-value"),
            list_max_listpack_size: at("list-max-listpack-size"),
            set_max_intset_entries: u("set-max-intset-entries"),
            set_max_listpack_entries: u("set-max-listpack-entries"),
            set_max_listpack_value: u("set-max-listpack-value"),
            zset_max_listpack_entries: u("zset-max-listpack-entries"),
            zset_max_listpack_value: u("zset-max-listpack-value"),
            hll_sparse_max_bytes: u("hll-sparse-max-bytes"),
            stream_node_max_bytes: u("stream-node-max-bytes"),
            stream_node_max_entries: u("stream-node-max-entries"),
        }
    }
}

impl Default for Limits {
    fn default() -> Self {
        Limits::from_params(&ENCODING_PARAMS.iter().map(|p| p.default).collect::<Vec<_>>())
    }
}

/// An integer parameter that tunes collection encodings: name, old
/// (ziplist-era) alias, default, min, max.
pub struct EncodingParam {
    pub name: &'static str,
    pub alias: Option<&'static str>,
    pub default: i64,
    pub min: i64,
    pub max: i64,
}

/// The encoding thresholds Redis exposes, with its defaults and ranges.
/// The collection families read them to pick compact encodings.
pub const ENCODING_PARAMS: &[EncodingParam] = &[
    EncodingParam {
        name: "hash-max-listpack-entries",
        alias: Some("hash-max-ziplist-entries"),
        default: 128,
        min: 0,
        max: i64::MAX,
    },
    EncodingParam {
        name: "hash-max-listpack-value",
        alias: Some("hash-max-ziplist-value"),
        default: 64,
        min: 0,
        max: i64::MAX,
    },
    EncodingParam {
        name: "list-max-listpack-size",
        alias: Some("list-max-ziplist-size"),
        default: -2,
        min: i32::MIN as i64,
        max: i32::MAX as i64,
    },
    EncodingParam {
        name: "list-compress-depth",
        alias: None,
        default: 0,
        min: 0,
        max: i32::MAX as i64,
    },
    EncodingParam {
        name: "set-max-intset-entries",
        alias: None,
        default: 512,
        min: 0,
        max: i64::MAX,
    },
    EncodingParam {
        name: "set-max-listpack-entries",
        alias: None,
        default: 128,
        min: 0,
        max: i64::MAX,
    },
    EncodingParam {
        name: "set-max-listpack-value",
        alias: None,
        default: 64,
        min: 0,
        max: i64::MAX,
    },
    EncodingParam {
        name: "zset-max-listpack-entries",
        alias: Some("zset-max-ziplist-entries"),
        default: 128,
        min: 0,
        max: i64::MAX,
    },
    EncodingParam {
        name: "zset-max-listpack-value",
        alias: Some("zset-max-ziplist-value"),
        default: 64,
        min: 0,
        max: i64::MAX,
    },
    EncodingParam {
        name: "hll-sparse-max-bytes",
        alias: None,
        default: 3000,
        min: 0,
        max: i64::MAX,
    },
    EncodingParam {
        name: "stream-node-max-bytes",
        alias: None,
        default: 4096,
        min: 0,
        max: i64::MAX,
    },
    EncodingParam {
        name: "stream-node-max-entries",
        alias: None,
        default: 100,
        min: 0,
        max: i64::MAX,
    },
];

/// Index of an encoding parameter by name or alias.
pub fn encoding_param(name: &str) -> Option<usize> {
    ENCODING_PARAMS
        .iter()
        .position(|p| p.name.eq_ignore_ascii_case(name) || p.alias.is_some_and(|a| a.eq_ignore_ascii_case(name)))
}

impl Default for Config {
    fn default() -> Self {
        Config {
            port: 6379,
            bind: vec!["127.0.0.1".into(), "-::1".into()],
            protected_mode: true,
            requirepass: None,
            databases: 16,
            maxclients: 10000,
            timeout: 0,
            tcp_keepalive: 300,
            tcp_backlog: 511,
            metrics_port: 0,
            hz: 10,
            busy_reply_threshold: 5000,
            logfile: String::new(),
            loglevel: "notice".into(),
            shards: 0,
            proto_max_bulk_len: 512 * 1024 * 1024,
            client_query_buffer_limit: 1024 * 1024 * 1024,
            active_expire_enabled: true,
            config_file: String::new(),
            enable_debug_command: "local".into(),
            sanitize_dump_payload: "no".into(),
            dir: std::env::current_dir()
                .map(|p| p.display().to_string())
                .unwrap_or_else(|_| "/".into()),
            aof: Default::default(),
            persist: Default::default(),
            notify_keyspace_events: 0,
            client_output_buffer_limit: [
                ObufLimit::default(),
                ObufLimit {
                    hard: 256 << 20,
                    soft: 64 << 20,
                    soft_secs: 60,
                },
                ObufLimit {
                    hard: 32 << 20,
                    soft: 8 << 20,
                    soft_secs: 60,
                },
            ],
            maxmemory_clients: 0,
            tracking_table_max_keys: 1_000_000,
            encoding: ENCODING_PARAMS.iter().map(|p| p.default).collect(),
            limits: Limits::default(),
            memory: MemoryConfig::default(),
            aclfile: String::new(),
            acllog_max_len: 128,
            acl_pubsub_default_all: false,
            users: Vec::new(),
            slowlog_log_slower_than: 10_000,
            slowlog_max_len: 128,
            latency_monitor_threshold: 0,
            latency_tracking: true,
            latency_tracking_info_percentiles: vec![50.0, 99.0, 99.9],
        }
    }
}

/// One class's client-output-buffer-limit.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ObufLimit {
    pub hard: u64,
    pub soft: u64,
    pub soft_secs: u64,
}

/// Client classes of client-output-buffer-limit, in CONFIG GET's order.
pub const OBUF_CLASSES: [&str; 3] = ["normal", "slave", "pubsub"];
/// Index of the pubsub class.
pub const OBUF_PUBSUB: usize = 2;

/// Parses `<class> <hard> <soft> <seconds>` groups onto `limits`.
fn parse_obuf_limits(v: &str, limits: &mut [ObufLimit; 3]) -> Result<(), String> {
    let words: Vec<&str> = v.split_whitespace().collect();
    if words.len() % 4 != 0 {
        return Err("Wrong number of arguments in buffer limit configuration.".into());
    }
    let mut out = *limits;
    for g in words.chunks(4) {
        let class = match g[0].to_ascii_lowercase().as_str() {
            "normal" => 0,
            "slave" | "replica" => 1,
            "pubsub" => 2,
            _ => return Err("Invalid client class specified in buffer limit configuration.".into()),
        };
        let hard = parse_memory(g[1]);
        let soft = parse_memory(g[2]);
        let secs: Result<u64, _> = g[3].parse();
        match (hard, soft, secs) {
            (Ok(hard), Ok(soft), Ok(soft_secs)) => out[class] = ObufLimit { hard, soft, soft_secs },
            _ => return Err("Error in hard, soft or soft_seconds setting in buffer limit configuration.".into()),
        }
    }
    *limits = out;
    Ok(())
}

/// How a parameter may be changed.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Mutability {
    Runtime,
    StartupOnly,
}

/// One row of the parameter table.
pub struct Param {
    pub name: &'static str,
    pub mutability: Mutability,
}

/// Every parameter CONFIG GET lists, in a stable order.
pub const PARAMS: &[Param] = &[
    Param {
        name: "port",
        mutability: Mutability::StartupOnly,
    },
    Param {
        name: "bind",
        mutability: Mutability::StartupOnly,
    },
    Param {
        name: "protected-mode",
        mutability: Mutability::Runtime,
    },
    Param {
        name: "requirepass",
        mutability: Mutability::Runtime,
    },
    Param {
        name: "databases",
        mutability: Mutability::StartupOnly,
    },
    Param {
        name: "maxclients",
        mutability: Mutability::Runtime,
    },
    Param {
        name: "timeout",
        mutability: Mutability::Runtime,
    },
    Param {
        name: "tcp-keepalive",
        mutability: Mutability::Runtime,
    },
    Param {
        name: "tcp-backlog",
        mutability: Mutability::StartupOnly,
    },
    Param {
        name: "metrics-port",
        mutability: Mutability::StartupOnly,
    },
    Param {
        name: "hz",
        mutability: Mutability::Runtime,
    },
    Param {
        name: "busy-reply-threshold",
        mutability: Mutability::Runtime,
    },
    Param {
        name: "lua-time-limit",
        mutability: Mutability::Runtime,
    },
    Param {
        name: "logfile",
        mutability: Mutability::StartupOnly,
    },
    Param {
        name: "loglevel",
        mutability: Mutability::Runtime,
    },
    Param {
        name: "shards",
        mutability: Mutability::StartupOnly,
    },
    Param {
        name: "proto-max-bulk-len",
        mutability: Mutability::Runtime,
    },
    Param {
        name: "client-query-buffer-limit",
        mutability: Mutability::Runtime,
    },
    Param {
        name: "enable-debug-command",
        mutability: Mutability::StartupOnly,
    },
    Param {
        name: "dir",
        mutability: Mutability::StartupOnly,
    },
    // Spindle never daemonizes itself (service managers run it in the
    // foreground); reported so tools that check it see the truth.
    Param {
        name: "daemonize",
        mutability: Mutability::StartupOnly,
    },
    Param {
        name: "save",
        mutability: Mutability::Runtime,
    },
    Param {
        name: "dbfilename",
        mutability: Mutability::Runtime,
    },
    Param {
        name: "rdbcompression",
        mutability: Mutability::Runtime,
    },
    Param {
        name: "rdbchecksum",
        mutability: Mutability::Runtime,
    },
    Param {
        name: "stop-writes-on-bgsave-error",
        mutability: Mutability::Runtime,
    },
    Param {
        name: "rdb-del-sync-files",
        mutability: Mutability::Runtime,
    },
    Param {
        name: "rdb-key-save-delay",
        mutability: Mutability::Runtime,
    },
    Param {
        name: "maxmemory",
        mutability: Mutability::Runtime,
    },
    Param {
        name: "maxmemory-policy",
        mutability: Mutability::Runtime,
    },
    Param {
        name: "sanitize-dump-payload",
        mutability: Mutability::Runtime,
    },
    Param {
        name: "maxmemory-samples",
        mutability: Mutability::Runtime,
    },
    Param {
        name: "maxmemory-eviction-tenacity",
        mutability: Mutability::Runtime,
    },
    Param {
        name: "lfu-log-factor",
        mutability: Mutability::Runtime,
    },
    Param {
        name: "lfu-decay-time",
        mutability: Mutability::Runtime,
    },
    Param {
        name: "lazyfree-lazy-eviction",
        mutability: Mutability::Runtime,
    },
    Param {
        name: "lazyfree-lazy-expire",
        mutability: Mutability::Runtime,
    },
    Param {
        name: "lazyfree-lazy-server-del",
        mutability: Mutability::Runtime,
    },
    Param {
        name: "lazyfree-lazy-user-del",
        mutability: Mutability::Runtime,
    },
    Param {
        name: "lazyfree-lazy-user-flush",
        mutability: Mutability::Runtime,
    },
    Param {
        name: "appendonly",
        mutability: Mutability::Runtime,
    },
    Param {
        name: "appendfsync",
        mutability: Mutability::Runtime,
    },
    Param {
        name: "appenddirname",
        mutability: Mutability::StartupOnly,
    },
    Param {
        name: "appendfilename",
        mutability: Mutability::StartupOnly,
    },
    Param {
        name: "aof-load-truncated",
        mutability: Mutability::Runtime,
    },
    Param {
        name: "auto-aof-rewrite-percentage",
        mutability: Mutability::Runtime,
    },
    Param {
        name: "auto-aof-rewrite-min-size",
        mutability: Mutability::Runtime,
    },
    Param {
        name: "aof-use-rdb-preamble",
        mutability: Mutability::Runtime,
    },
    Param {
        name: "notify-keyspace-events",
        mutability: Mutability::Runtime,
    },
    Param {
        name: "client-output-buffer-limit",
        mutability: Mutability::Runtime,
    },
    Param {
        name: "maxmemory-clients",
        mutability: Mutability::Runtime,
    },
    Param {
        name: "tracking-table-max-keys",
        mutability: Mutability::Runtime,
    },
    Param {
        name: "aclfile",
        mutability: Mutability::StartupOnly,
    },
    Param {
        name: "acllog-max-len",
        mutability: Mutability::Runtime,
    },
    Param {
        name: "acl-pubsub-default",
        mutability: Mutability::Runtime,
    },
    Param {
        name: "slowlog-log-slower-than",
        mutability: Mutability::Runtime,
    },
    Param {
        name: "slowlog-max-len",
        mutability: Mutability::Runtime,
    },
    Param {
        name: "latency-monitor-threshold",
        mutability: Mutability::Runtime,
    },
    Param {
        name: "latency-tracking",
        mutability: Mutability::Runtime,
    },
    Param {
        name: "latency-tracking-info-percentiles",
        mutability: Mutability::Runtime,
    },
];

/// The encoding parameters as rows of the main parameter table.
const ENCODING_PARAM_ROWS: [Param; 12] = {
    let mut rows = [const {
        Param {
            name: "",
            mutability: Mutability::Runtime,
        }
    }; 12];
    let mut i = 0;
    while i < 12 {
        rows[i] = Param {
            name: ENCODING_PARAMS[i].name,
            mutability: Mutability::Runtime,
        };
        i += 1;
    }
    rows
};

fn parse_bool(v: &str) -> Result<bool, String> {
    match v.to_ascii_lowercase().as_str() {
        "yes" => Ok(true),
        "no" => Ok(false),
        _ => Err("argument must be 'yes' or 'no'".into()),
    }
}

/// Parses sizes like `512mb`, `1gb`, `100k` (Redis's memtoull).
pub fn parse_memory(v: &str) -> Result<u64, String> {
    let lower = v.to_ascii_lowercase();
    let (num, mul): (&str, u64) = if let Some(n) = lower.strip_suffix("gb") {
        (n, 1 << 30)
    } else if let Some(n) = lower.strip_suffix("mb") {
        (n, 1 << 20)
    } else if let Some(n) = lower.strip_suffix("kb") {
        (n, 1 << 10)
    } else if let Some(n) = lower.strip_suffix('g') {
        (n, 1_000_000_000)
    } else if let Some(n) = lower.strip_suffix('m') {
        (n, 1_000_000)
    } else if let Some(n) = lower.strip_suffix('k') {
        (n, 1000)
    } else if let Some(n) = lower.strip_suffix('b') {
        (n, 1)
    } else {
        (lower.as_str(), 1)
    };
    let n: u64 = num.parse().map_err(|_| "argument must be a memory value".to_string())?;
    n.checked_mul(mul)
        .ok_or_else(|| "argument must be a memory value".to_string())
}

/// Parses a memory value or a percentage (`10%`, kept negated, as Redis
/// keeps its PERCENT_CONFIG values), up to `max_percent`.
fn parse_memory_or_percent(v: &str, max_percent: i64) -> Result<i64, String> {
    if let Ok(n) = parse_memory(v) {
        return i64::try_from(n)
            .map_err(|_| format!("argument must be between {} and {} inclusive", -max_percent, i64::MAX));
    }
    let pct = v
        .strip_suffix('%')
        .filter(|n| !n.is_empty())
        .and_then(|n| n.parse::<i64>().ok())
        .filter(|n| *n >= 0)
        .ok_or_else(|| "argument must be a memory or percent value".to_string())?;
    if pct > max_percent {
        return Err(format!("percentage argument must be less or equal to {}", max_percent));
    }
    Ok(-pct)
}

fn parse_int<T: std::str::FromStr>(v: &str, min: i64, max: i64) -> Result<T, String> {
    let n: i64 = v
        .parse()
        .map_err(|_| "argument couldn't be parsed into an integer".to_string())?;
    if n < min || n > max {
        return Err(format!("argument must be between {} and {} inclusive", min, max));
    }
    v.parse()
        .map_err(|_| "argument couldn't be parsed into an integer".to_string())
}

impl Config {
    /// Looks a parameter up by name (or alias), case-insensitively.
    pub fn param(name: &str) -> Option<&'static Param> {
        PARAMS
            .iter()
            .find(|p| p.name.eq_ignore_ascii_case(name))
            .or_else(|| encoding_param(name).map(|i| &ENCODING_PARAM_ROWS[i]))
    }

    /// Every parameter name CONFIG GET can list, canonical names only.
    pub fn all_names() -> impl Iterator<Item = &'static str> {
        PARAMS
            .iter()
            .map(|p| p.name)
            .chain(ENCODING_PARAMS.iter().map(|p| p.name))
    }

    /// The value CONFIG GET reports.
    pub fn get(&self, name: &str) -> Option<String> {
        if let Some(v) = self.persist.get(name) {
            return Some(v);
        }
        Some(match name {
            "port" => self.port.to_string(),
            "bind" => self.bind.join(" "),
            "protected-mode" => yes_no(self.protected_mode),
            "requirepass" => self.requirepass.clone().unwrap_or_default(),
            "databases" => self.databases.to_string(),
            "maxclients" => self.maxclients.to_string(),
            "timeout" => self.timeout.to_string(),
            "tcp-keepalive" => self.tcp_keepalive.to_string(),
            "tcp-backlog" => self.tcp_backlog.to_string(),
            "metrics-port" => self.metrics_port.to_string(),
            "hz" => self.hz.to_string(),
            "busy-reply-threshold" | "lua-time-limit" => self.busy_reply_threshold.to_string(),
            "logfile" => self.logfile.clone(),
            "loglevel" => self.loglevel.clone(),
            "shards" => self.shards.to_string(),
            "proto-max-bulk-len" => self.proto_max_bulk_len.to_string(),
            "client-query-buffer-limit" => self.client_query_buffer_limit.to_string(),
            "enable-debug-command" => self.enable_debug_command.clone(),
            "sanitize-dump-payload" => self.sanitize_dump_payload.clone(),
            "dir" => self.dir.clone(),
            "daemonize" => "no".into(),
            "maxmemory" => self.memory.maxmemory.to_string(),
            "maxmemory-policy" => self.memory.policy.name().into(),
            "maxmemory-samples" => self.memory.samples.to_string(),
            "maxmemory-eviction-tenacity" => self.memory.tenacity.to_string(),
            "lfu-log-factor" => self.memory.lfu_log_factor.to_string(),
            "lfu-decay-time" => self.memory.lfu_decay_time.to_string(),
            "lazyfree-lazy-eviction" => yes_no(self.memory.lazy_eviction),
            "lazyfree-lazy-expire" => yes_no(self.memory.lazy_expire),
            "lazyfree-lazy-server-del" => yes_no(self.memory.lazy_server_del),
            "lazyfree-lazy-user-del" => yes_no(self.memory.lazy_user_del),
            "lazyfree-lazy-user-flush" => yes_no(self.memory.lazy_user_flush),
            "appendonly"
            | "appendfsync"
            | "appenddirname"
            | "appendfilename"
            | "aof-load-truncated"
            | "auto-aof-rewrite-percentage"
            | "auto-aof-rewrite-min-size"
            | "aof-use-rdb-preamble" => self.aof.get(name)?,
            "notify-keyspace-events" => crate::command::notify::format(self.notify_keyspace_events),
            "client-output-buffer-limit" => {
                let parts: Vec<String> = OBUF_CLASSES
                    .iter()
                    .zip(&self.client_output_buffer_limit)
                    .map(|(c, l)| format!("{} {} {} {}", c, l.hard, l.soft, l.soft_secs))
                    .collect();
                parts.join(" ")
            }
            "maxmemory-clients" if self.maxmemory_clients < 0 => format!("{}%", -self.maxmemory_clients),
            "maxmemory-clients" => self.maxmemory_clients.to_string(),
            "tracking-table-max-keys" => self.tracking_table_max_keys.to_string(),
            "aclfile" => self.aclfile.clone(),
            "acllog-max-len" => self.acllog_max_len.to_string(),
            "acl-pubsub-default" => if self.acl_pubsub_default_all {
                "allchannels"
            } else {
                "resetchannels"
            }
            .into(),
            "slowlog-log-slower-than" => self.slowlog_log_slower_than.to_string(),
            "slowlog-max-len" => self.slowlog_max_len.to_string(),
            "latency-monitor-threshold" => self.latency_monitor_threshold.to_string(),
            "latency-tracking" => yes_no(self.latency_tracking),
            "latency-tracking-info-percentiles" => self
                .latency_tracking_info_percentiles
                .iter()
                .map(|p| crate::command::observe::trim_double(*p))
                .collect::<Vec<_>>()
                .join(" "),
            other => return encoding_param(other).map(|i| self.encoding[i].to_string()),
        })
    }

    /// Sets a parameter from its text form; the error is the reason shown
    /// after "CONFIG SET failed ... - " or in a startup error.
    pub fn set(&mut self, name: &str, v: &str) -> Result<(), String> {
        if let Some(r) = self.persist.set(name, v) {
            return r;
        }
        match name {
            "port" => self.port = parse_int(v, 0, 65535)?,
            "bind" => self.bind = v.split_whitespace().map(String::from).collect(),
            "protected-mode" => self.protected_mode = parse_bool(v)?,
            "requirepass" => self.requirepass = if v.is_empty() { None } else { Some(v.to_string()) },
            "databases" => self.databases = parse_int(v, 1, i32::MAX as i64)?,
            "maxclients" => {
                let n: usize = parse_int(v, 1, u32::MAX as i64)?;
                if n > self.maxclients {
                    if let Err(can) = crate::server::adjust_open_files_limit(n) {
                        return Err(format!(
                            "The operating system is not able to handle the specified number of clients, try with {}",
                            can
                        ));
                    }
                }
                self.maxclients = n;
            }
            "timeout" => self.timeout = parse_int(v, 0, i32::MAX as i64)?,
            "tcp-keepalive" => self.tcp_keepalive = parse_int(v, 0, i32::MAX as i64)?,
            "tcp-backlog" => self.tcp_backlog = parse_int(v, 0, i32::MAX as i64)?,
            "metrics-port" => self.metrics_port = parse_int(v, 0, 65535)?,
            "hz" => {
                let hz: u32 = parse_int(v, 0, i32::MAX as i64)?;
                self.hz = hz.clamp(1, 500);
            }
            "busy-reply-threshold" | "lua-time-limit" => {
                self.busy_reply_threshold = parse_int(v, 0, i64::MAX)?;
                crate::script::engine::set_busy_threshold_ms(self.busy_reply_threshold);
            }
            "logfile" => self.logfile = v.to_string(),
            "loglevel" => {
                let l = v.to_ascii_lowercase();
                if !["debug", "verbose", "notice", "warning", "nothing"].contains(&l.as_str()) {
                    return Err(
                        "argument(s) must be one of the following: debug, verbose, notice, warning, nothing".into(),
                    );
                }
                self.loglevel = l;
            }
            "shards" => self.shards = parse_int(v, 0, 1024)?,
            "proto-max-bulk-len" => {
                let n = parse_memory(v)?;
                if n < 1024 * 1024 {
                    return Err("argument must be a memory value greater than 1mb".into());
                }
                self.proto_max_bulk_len = n as usize;
            }
            "client-query-buffer-limit" => {
                let n = parse_memory(v)?;
                if n < 1024 * 1024 {
                    return Err("argument must be a memory value greater than 1mb".into());
                }
                self.client_query_buffer_limit = n as usize;
            }
            "enable-debug-command" => {
                let l = v.to_ascii_lowercase();
                if !["yes", "no", "local"].contains(&l.as_str()) {
                    return Err("argument(s) must be one of the following: no, yes, local".into());
                }
                self.enable_debug_command = l;
            }
            "dir" => {
                std::env::set_current_dir(v).map_err(|e| e.to_string())?;
                // Reported as Redis does (getcwd), and saves stay put if a
                // relative path was given.
                self.dir = std::env::current_dir()
                    .map(|p| p.display().to_string())
                    .unwrap_or_else(|_| v.to_string());
            }
            "appendonly" | "appendfsync" | "appenddirname" | "appendfilename" | "aof-load-truncated"
            | "auto-aof-rewrite-percentage" | "auto-aof-rewrite-min-size" | "aof-use-rdb-preamble" => {
                self.aof.set(name, v).expect("a log parameter")?
            }
            "notify-keyspace-events" => {
                self.notify_keyspace_events = crate::command::notify::parse(v)
                    .ok_or_else(|| "Invalid event class character. Use 'Ag$lshzxeKEtmdn'.".to_string())?
            }
            "client-output-buffer-limit" => parse_obuf_limits(v, &mut self.client_output_buffer_limit)?,
            "maxmemory-clients" => self.maxmemory_clients = parse_memory_or_percent(v, 100)?,
            "tracking-table-max-keys" => self.tracking_table_max_keys = parse_int(v, 0, i64::MAX)?,
            "aclfile" => self.aclfile = v.to_string(),
            "acllog-max-len" => self.acllog_max_len = parse_int(v, 0, i64::MAX)?,
            "acl-pubsub-default" => {
                self.acl_pubsub_default_all = match v.to_ascii_lowercase().as_str() {
                    "allchannels" => true,
                    "resetchannels" => false,
                    _ => return Err("argument(s) must be one of the following: allchannels, resetchannels".into()),
                }
            }
            "slowlog-log-slower-than" => self.slowlog_log_slower_than = parse_int(v, -1, i64::MAX)?,
            "slowlog-max-len" => self.slowlog_max_len = parse_int(v, 0, i64::MAX)?,
            "latency-monitor-threshold" => self.latency_monitor_threshold = parse_int(v, 0, i64::MAX)?,
            "latency-tracking" => self.latency_tracking = parse_bool(v)?,
            "latency-tracking-info-percentiles" => {
                let mut ps = Vec::new();
                for w in v.split_whitespace() {
                    match w.parse::<f64>() {
                        Ok(p) if (0.0..=100.0).contains(&p) => ps.push(p),
                        _ => return Err("Invalid latency-tracking-info-percentiles parameters".into()),
                    }
                }
                self.latency_tracking_info_percentiles = ps;
            }
            "maxmemory" => self.memory.maxmemory = parse_memory(v)?,
            "maxmemory-policy" => {
                self.memory.policy = crate::shard::evict::Policy::parse(v).ok_or_else(|| {
                    "argument(s) must be one of the following: volatile-lru, volatile-lfu, volatile-random, volatile-ttl, allkeys-lru, allkeys-lfu, allkeys-random, noeviction".to_string()
                })?
            }
            "maxmemory-samples" => self.memory.samples = parse_int(v, 1, 64)?,
            "sanitize-dump-payload" => {
                let l = v.to_ascii_lowercase();
                if !matches!(l.as_str(), "no" | "yes" | "clients") {
                    return Err("argument(s) must be one of the following: no, yes, clients".into());
                }
                self.sanitize_dump_payload = l;
            }
            "maxmemory-eviction-tenacity" => self.memory.tenacity = parse_int(v, 0, 100)?,
            "lfu-log-factor" => self.memory.lfu_log_factor = parse_int(v, 0, i32::MAX as i64)?,
            "lfu-decay-time" => self.memory.lfu_decay_time = parse_int(v, 0, i32::MAX as i64)?,
            "lazyfree-lazy-eviction" => self.memory.lazy_eviction = parse_bool(v)?,
            "lazyfree-lazy-expire" => {
                self.memory.lazy_expire = parse_bool(v)?;
                crate::persist::propagate::set_lazy_expire(self.memory.lazy_expire);
            }
            "lazyfree-lazy-server-del" => self.memory.lazy_server_del = parse_bool(v)?,
            "lazyfree-lazy-user-del" => self.memory.lazy_user_del = parse_bool(v)?,
            "lazyfree-lazy-user-flush" => self.memory.lazy_user_flush = parse_bool(v)?,
            other => {
                let Some(i) = encoding_param(other) else {
                    return Err("Bad directive or wrong number of arguments".into());
                };
                let p = &ENCODING_PARAMS[i];
                self.encoding[i] = parse_int(v, p.min, p.max)?;
                self.limits = Limits::from_params(&self.encoding);
            }
        }
        Ok(())
    }

    /// Parses redis-server-style command-line arguments:
    /// `[config-file] [--name value ...]`.
    pub fn from_args(args: &[String]) -> Result<Config, String> {
        let mut cfg = Config::default();
        let mut i = 0;
        if let Some(first) = args.first() {
            if !first.starts_with("--") {
                let text =
                    std::fs::read_to_string(first).map_err(|e| format!("can't open config file '{}': {}", first, e))?;
                cfg.apply_text(&text)?;
                cfg.config_file = std::fs::canonicalize(first)
                    .map(|p| p.display().to_string())
                    .unwrap_or_else(|_| first.clone());
                i = 1;
            }
        }
        while i < args.len() {
            let a = &args[i];
            let Some(name) = a.strip_prefix("--") else {
                return Err(format!("unexpected argument '{}'", a));
            };
            let mut values = Vec::new();
            i += 1;
            while i < args.len() && !args[i].starts_with("--") {
                values.push(args[i].clone());
                i += 1;
            }
            // `--save ""` style empty values arrive as an empty string.
            let value = values.join(" ");
            cfg.apply_option(name, &value)
                .map_err(|e| format!("option '--{} {}': {}", name, value, e))?;
        }
        Ok(cfg)
    }

    /// Applies a config file's text.
    pub fn apply_text(&mut self, text: &str) -> Result<(), String> {
        for (n, line) in text.lines().enumerate() {
            let line = line.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let mut ranges = Vec::new();
            let mut buf = Vec::new();
            if split_args(line.as_bytes(), &mut ranges, &mut buf).is_err() {
                return Err(format!("config file line {}: '{}': unbalanced quotes", n + 1, line));
            }
            let words: Vec<String> = ranges
                .iter()
                .map(|&(o, l)| String::from_utf8_lossy(&buf[o as usize..(o + l) as usize]).into_owned())
                .collect();
            let Some((name, rest)) = words.split_first() else {
                continue;
            };
            self.apply_option(name, &rest.join(" "))
                .map_err(|e| format!("config file line {}: '{}': {}", n + 1, line, e))?;
        }
        Ok(())
    }

    fn apply_option(&mut self, name: &str, value: &str) -> Result<(), String> {
        let lname = name.to_ascii_lowercase();
        match lname.as_str() {
            // Accepted for drop-in compatibility with redis.conf files and
            // benchmark scripts: Spindle has no persistence yet, so the only
            // values that are true are the disabled ones.
            "daemonize" if value.eq_ignore_ascii_case("no") => Ok(()),
            // ACL users (see `acl::startup_users`).
            "user" if !value.is_empty() => {
                self.users.push(value.split_whitespace().map(String::from).collect());
                Ok(())
            }
            _ => {
                if Config::param(&lname).is_none() {
                    return Err("Bad directive or wrong number of arguments".into());
                }
                self.set(&lname, value)
            }
        }
    }
}

/// Parameters written as several words on one line (never quoted whole).
const LIST_PARAMS: &[&str] = &["bind", "latency-tracking-info-percentiles", "save"];

/// Parameters CONFIG REWRITE leaves alone: fixed at start-up on the
/// command line of a Spindle process, not settings of its file.
const NOT_REWRITTEN: &[&str] = &["shards"];

impl Config {
    /// The config file's text after CONFIG REWRITE: comments, blank lines
    /// and lines Spindle does not know stay as they are; the first line of
    /// each known parameter gets its current value, later duplicates go;
    /// parameters not in the file whose value differs from the default are
    /// appended after a `# Generated by CONFIG REWRITE` line.
    pub fn rewrite_text(&self, old: &str) -> String {
        let defaults = Config::default();
        let mut out: Vec<String> = Vec::new();
        let mut done: Vec<&'static str> = Vec::new();
        let generated = "# Generated by CONFIG REWRITE";
        // A file rewritten before keeps its signature line; new lines then
        // go at the end without a second one.
        let mut appended = false;
        for line in old.lines() {
            let t = line.trim();
            if t == generated {
                appended = true;
            }
            let word = t.split_whitespace().next().unwrap_or("");
            let known = if t.is_empty() || t.starts_with('#') {
                None
            } else {
                Config::param(word)
                    .map(|p| p.name)
                    .filter(|n| !NOT_REWRITTEN.contains(n))
            };
            match known {
                None => out.push(line.to_string()),
                Some(name) if done.contains(&name) => {}
                Some(name) => {
                    done.push(name);
                    out.extend(self.rewrite_lines(name));
                }
            }
        }
        for name in Config::all_names() {
            if done.contains(&name) || NOT_REWRITTEN.contains(&name) || name == "lua-time-limit" {
                continue;
            }
            if self.get(name) == defaults.get(name) {
                continue;
            }
            if !appended {
                out.push(generated.to_string());
                appended = true;
            }
            out.extend(self.rewrite_lines(name));
        }
        let mut text = out.join("\n");
        text.push('\n');
        text
    }

    /// The config file lines that set `name` to its current value.
    fn rewrite_lines(&self, name: &str) -> Vec<String> {
        let v = self.get(name).unwrap_or_default();
        if name == "client-output-buffer-limit" {
            let words: Vec<&str> = v.split_whitespace().collect();
            return words.chunks(4).map(|g| format!("{} {}", name, g.join(" "))).collect();
        }
        if LIST_PARAMS.contains(&name) && !v.is_empty() {
            return vec![format!("{} {}", name, v)];
        }
        vec![format!("{} {}", name, quote_if_needed(&v))]
    }

    /// CONFIG REWRITE: writes [`Config::rewrite_text`] of the config file
    /// back in its place (through a temporary file and a rename).
    pub fn rewrite_file(&self) -> Result<(), String> {
        if self.config_file.is_empty() {
            return Err("The server is running without a config file".into());
        }
        let old = std::fs::read_to_string(&self.config_file).unwrap_or_default();
        let text = self.rewrite_text(&old);
        let tmp = format!("{}.tmp-{}", self.config_file, std::process::id());
        std::fs::write(&tmp, text)
            .and_then(|_| std::fs::rename(&tmp, &self.config_file))
            .map_err(|e| {
                let _ = std::fs::remove_file(&tmp);
                format!("Rewriting config file: {}", e)
            })
    }
}

/// A value as a config file needs it: bare when it is one plain word,
/// quoted and escaped (as Redis's sdscatrepr) otherwise.
fn quote_if_needed(v: &str) -> String {
    let plain = !v.is_empty()
        && v.bytes()
            .all(|c| c.is_ascii_graphic() && c != b'"' && c != b'\'' && c != b'\\');
    if plain {
        return v.to_string();
    }
    let mut out = Vec::new();
    crate::command::observe::repr(&mut out, v.as_bytes());
    String::from_utf8_lossy(&out).into_owned()
}

fn yes_no(b: bool) -> String {
    if b { "yes" } else { "no" }.to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn args_and_files() {
        let c = Config::from_args(&["--port".into(), "7000".into(), "--shards".into(), "4".into()]).unwrap();
        assert_eq!(c.port, 7000);
        assert_eq!(c.shards, 4);
        assert!(Config::from_args(&["--port".into(), "x".into()]).is_err());
        assert!(Config::from_args(&["--nonsense".into(), "1".into()]).is_err());
        let mut c = Config::default();
        c.apply_text("# comment\nport 6380\nbind 127.0.0.1 ::1\nrequirepass \"a b\"\n")
            .unwrap();
        assert_eq!(c.port, 6380);
        assert_eq!(c.bind, vec!["127.0.0.1", "::1"]);
        assert_eq!(c.requirepass.as_deref(), Some("a b"));
        assert!(c.apply_text("port 1 2 3\n").is_err());
    }

    #[test]
    fn rewrite_keeps_comments_and_unknown_lines() {
        let mut c = Config::default();
        c.set("maxclients", "77").unwrap();
        c.set("slowlog-max-len", "5").unwrap();
        c.set("notify-keyspace-events", "KEA").unwrap();
        let old = "# my comment\nmaxclients 10\nsome-unknown thing\n\nmaxclients 11\nport 6379\n";
        let text = c.rewrite_text(old);
        assert_eq!(
            text,
            "# my comment\nmaxclients 77\nsome-unknown thing\n\nport 6379\n# Generated by CONFIG REWRITE\nnotify-keyspace-events AKE\nslowlog-max-len 5\n"
        );
        // A second rewrite changes nothing.
        assert_eq!(c.rewrite_text(&text), text);
    }

    #[test]
    fn memory_values() {
        assert_eq!(parse_memory("512mb"), Ok(512 << 20));
        assert_eq!(parse_memory("1gb"), Ok(1 << 30));
        assert_eq!(parse_memory("100"), Ok(100));
        assert!(parse_memory("abc").is_err());
    }
}
