//! COMMAND DOCS argument specs, in the format of Redis 7.4.
//!
//! Each command's arguments are written once, as the syntax line of the
//! Redis documentation (`key value [NX | XX] ...`), with small annotations
//! in braces for what that line cannot say. A parser turns the line into the
//! argument tree COMMAND DOCS reports; clients such as redis-cli 7 build
//! their argument hints from it.
//!
//! The syntax lines:
//! - a lowercase word is an argument, its type following from its name
//!   (`key`, `pattern`, `unix-time-*`, numeric names; string otherwise);
//! - an uppercase word is a token: alone it is a `pure-token`; followed by
//!   one argument it becomes that argument's `token` (`EX seconds`);
//!   followed by several it heads a `block` (`AUTH username password`);
//! - `[ ... ]` is optional, `< ... >` only groups, `a | b` is a `oneof`;
//! - `x [x ...]` repeats `x` (flag `multiple`, and `multiple_token` when
//!   the repeated part starts with its token);
//! - `{name=..,since=..,type=..}` right after an element annotates it. A
//!   oneof, or a block without a token, needs a name. [`syntax`] returns the
//!   line without its annotations.

use std::sync::OnceLock;

use crate::protocol::Reply;

/// Every command of the table with its annotated syntax line. Containers
/// (CLIENT, CONFIG, OBJECT, COMMAND, DEBUG) have no top-level arguments, as
/// in Redis; neither do commands that take none.
const SPECS: &[(&str, &str)] = &[
    // string
    ("get", "key"),
    (
        "set",
        "key value [NX | XX]{name=condition,since=2.6.12} [GET]{since=6.2.0} \
         [EX seconds{since=2.6.12} | PX milliseconds{since=2.6.12} | \
         EXAT unix-time-seconds{since=6.2.0} | PXAT unix-time-milliseconds{since=6.2.0} | \
         KEEPTTL{since=6.0.0}]{name=expiration}",
    ),
    ("setnx", "key value"),
    ("setex", "key seconds value"),
    ("psetex", "key milliseconds value"),
    ("getset", "key value"),
    ("getdel", "key"),
    (
        "getex",
        "key [EX seconds | PX milliseconds | EXAT unix-time-seconds | \
         PXAT unix-time-milliseconds | PERSIST]{name=expiration}",
    ),
    ("mget", "key [key ...]"),
    ("mset", "key value [key value ...]{name=data}"),
    ("msetnx", "key value [key value ...]{name=data}"),
    ("incr", "key"),
    ("incrby", "key increment"),
    ("decr", "key"),
    ("decrby", "key decrement"),
    ("incrbyfloat", "key increment{type=double}"),
    ("append", "key value"),
    ("strlen", "key"),
    ("getrange", "key start end"),
    ("substr", "key start end"),
    ("setrange", "key offset value"),
    (
        "lcs",
        "key1 key2 [LEN] [IDX] [MINMATCHLEN min-match-len] [WITHMATCHLEN]",
    ),
    // bitmap
    ("setbit", "key offset value{type=integer}"),
    ("getbit", "key offset"),
    ("bitcount", "key [start end [BYTE | BIT]{name=unit,since=7.0.0}]{name=range}"),
    (
        "bitpos",
        "key bit{type=integer} [start [end [BYTE | BIT]{name=unit,since=7.0.0}]{name=end-unit-block}]{name=range}",
    ),
    ("bitop", "<AND | OR | XOR | NOT>{name=operation} destkey{type=key} key [key ...]"),
    (
        "bitfield",
        "key [<GET encoding offset>{name=get-block} | <[OVERFLOW <WRAP | SAT | FAIL>{name=overflow-type}]{name=overflow-block} \
         <SET encoding offset value{type=integer} | INCRBY encoding offset increment>{name=write-operation}>{name=write}]{name=operation}",
    ),
    ("bitfield_ro", "key [GET encoding offset [GET encoding offset ...]]{name=get-block}"),
    // (end of bitmap)
    // list
    ("lpush", "key element [element ...]"),
    ("rpush", "key element [element ...]"),
    ("lpushx", "key element [element ...]"),
    ("rpushx", "key element [element ...]"),
    ("lpop", "key [count]{since=6.2.0}"),
    ("rpop", "key [count]{since=6.2.0}"),
    ("llen", "key"),
    ("lrange", "key start stop"),
    ("lindex", "key index"),
    ("lset", "key index element"),
    ("linsert", "key <BEFORE | AFTER>{name=where} pivot element"),
    ("lrem", "key count element"),
    ("ltrim", "key start stop"),
    ("lpos", "key element [RANK rank] [COUNT num-matches] [MAXLEN len]"),
    (
        "lmove",
        "source destination <LEFT | RIGHT>{name=wherefrom} <LEFT | RIGHT>{name=whereto}",
    ),
    ("rpoplpush", "source destination"),
    (
        "lmpop",
        "numkeys key [key ...] <LEFT | RIGHT>{name=where} [COUNT count]",
    ),
    ("blpop", "key [key ...] timeout{type=double}"),
    ("brpop", "key [key ...] timeout{type=double}"),
    (
        "blmove",
        "source destination <LEFT | RIGHT>{name=wherefrom} <LEFT | RIGHT>{name=whereto} timeout{type=double}",
    ),
    ("brpoplpush", "source destination timeout{type=double}"),
    (
        "blmpop",
        "timeout{type=double} numkeys key [key ...] <LEFT | RIGHT>{name=where} [COUNT count]",
    ),
    // (end of list)
    // set
    ("sadd", "key member [member ...]"),
    ("srem", "key member [member ...]"),
    ("smembers", "key"),
    ("sismember", "key member"),
    ("smismember", "key member [member ...]"),
    ("scard", "key"),
    ("spop", "key [count]{since=3.2.0}"),
    ("srandmember", "key [count]{since=2.6.0}"),
    ("smove", "source{type=key} destination{type=key} member"),
    ("sinter", "key [key ...]"),
    (
        "sintercard",
        "numkeys{type=integer} key [key ...] [LIMIT limit{type=integer}]",
    ),
    ("sinterstore", "destination{type=key} key [key ...]"),
    ("sunion", "key [key ...]"),
    ("sunionstore", "destination{type=key} key [key ...]"),
    ("sdiff", "key [key ...]"),
    ("sdiffstore", "destination{type=key} key [key ...]"),
    ("sscan", "key cursor [MATCH pattern] [COUNT count]"),
    // (end of set)
    // sorted set
    (
        "zadd",
        "key [NX | XX]{name=condition,since=3.0.2} [GT | LT]{name=comparison,since=6.2.0} \
         [CH]{since=3.0.2} [INCR]{since=3.0.2} score{type=double} member [score{type=double} member ...]{name=data}",
    ),
    ("zincrby", "key increment member"),
    ("zrem", "key member [member ...]"),
    ("zcard", "key"),
    ("zscore", "key member"),
    ("zmscore", "key member [member ...]"),
    ("zrank", "key member [WITHSCORE]{since=7.2.0}"),
    ("zrevrank", "key member [WITHSCORE]{since=7.2.0}"),
    (
        "zrange",
        "key start{type=string} stop{type=string} [BYSCORE | BYLEX]{name=sortby,since=6.2.0} [REV]{since=6.2.0} \
         [LIMIT offset count]{since=6.2.0} [WITHSCORES]",
    ),
    (
        "zrangestore",
        "dst{type=key} src{type=key} min max [BYSCORE | BYLEX]{name=sortby} [REV] [LIMIT offset count]",
    ),
    ("zrevrange", "key start stop{type=integer} [WITHSCORES]"),
    (
        "zrangebyscore",
        "key min{type=double} max{type=double} [WITHSCORES]{since=2.0.0} [LIMIT offset count]",
    ),
    (
        "zrevrangebyscore",
        "key max{type=double} min{type=double} [WITHSCORES] [LIMIT offset count]",
    ),
    ("zrangebylex", "key min max [LIMIT offset count]"),
    ("zrevrangebylex", "key max min [LIMIT offset count]"),
    ("zcount", "key min{type=double} max{type=double}"),
    ("zlexcount", "key min max"),
    ("zremrangebyrank", "key start stop{type=integer}"),
    ("zremrangebyscore", "key min{type=double} max{type=double}"),
    ("zremrangebylex", "key min max"),
    ("zpopmin", "key [count]"),
    ("zpopmax", "key [count]"),
    (
        "zmpop",
        "numkeys{type=integer} key [key ...] <MIN | MAX>{name=where} [COUNT count]",
    ),
    ("zrandmember", "key [count [WITHSCORES]]{name=options}"),
    (
        "zunion",
        "numkeys{type=integer} key [key ...] [WEIGHTS weight{type=integer} [weight{type=integer} ...]] \
         [AGGREGATE SUM | MIN | MAX]{name=aggregate} [WITHSCORES]",
    ),
    (
        "zinter",
        "numkeys{type=integer} key [key ...] [WEIGHTS weight{type=integer} [weight{type=integer} ...]] \
         [AGGREGATE SUM | MIN | MAX]{name=aggregate} [WITHSCORES]",
    ),
    ("zdiff", "numkeys{type=integer} key [key ...] [WITHSCORES]"),
    (
        "zunionstore",
        "destination{type=key} numkeys{type=integer} key [key ...] \
         [WEIGHTS weight{type=integer} [weight{type=integer} ...]] [AGGREGATE SUM | MIN | MAX]{name=aggregate}",
    ),
    (
        "zinterstore",
        "destination{type=key} numkeys{type=integer} key [key ...] \
         [WEIGHTS weight{type=integer} [weight{type=integer} ...]] [AGGREGATE SUM | MIN | MAX]{name=aggregate}",
    ),
    (
        "zdiffstore",
        "destination{type=key} numkeys{type=integer} key [key ...]",
    ),
    (
        "zintercard",
        "numkeys{type=integer} key [key ...] [LIMIT limit{type=integer}]",
    ),
    ("zscan", "key cursor [MATCH pattern] [COUNT count]"),
    ("bzpopmin", "key [key ...] timeout{type=double}"),
    ("bzpopmax", "key [key ...] timeout{type=double}"),
    ("bzmpop", "timeout{type=double} numkeys key [key ...] <MIN | MAX>{name=where} [COUNT count]"),
    // (end of sorted set)
    // hyperloglog
    ("pfadd", "key [element [element ...]]"),
    ("pfcount", "key [key ...]"),
    ("pfmerge", "destkey{type=key} [sourcekey{type=key} [sourcekey ...]]"),
    ("pfdebug", "subcommand key"),
    ("pfselftest", ""),
    // (end of hyperloglog)
    // geo
    (
        "geoadd",
        "key [NX | XX]{name=condition,since=6.2.0} [CH]{name=change,since=6.2.0} \
         longitude{type=double} latitude{type=double} member \
         [longitude{type=double} latitude{type=double} member ...]{name=data}",
    ),
    ("geodist", "key member1 member2 [m{type=pure-token,token=m} | km{type=pure-token,token=km} | ft{type=pure-token,token=ft} | mi{type=pure-token,token=mi}]{name=unit}"),
    ("geohash", "key [member [member ...]]"),
    ("geopos", "key [member [member ...]]"),
    (
        "georadius",
        "key longitude{type=double} latitude{type=double} radius{type=double} \
         <m{type=pure-token,token=m} | km{type=pure-token,token=km} | ft{type=pure-token,token=ft} | mi{type=pure-token,token=mi}>{name=unit} [WITHCOORD] [WITHDIST] [WITHHASH] \
         [<COUNT count> [ANY]{since=6.2.0}]{name=count-block} [ASC | DESC]{name=order} \
         [STORE key{name=storekey} | STOREDIST key{name=storedistkey}]{name=store}",
    ),
    (
        "georadius_ro",
        "key longitude{type=double} latitude{type=double} radius{type=double} \
         <m{type=pure-token,token=m} | km{type=pure-token,token=km} | ft{type=pure-token,token=ft} | mi{type=pure-token,token=mi}>{name=unit} [WITHCOORD] [WITHDIST] [WITHHASH] \
         [<COUNT count> [ANY]{since=6.2.0}]{name=count-block} [ASC | DESC]{name=order}",
    ),
    (
        "georadiusbymember",
        "key member radius{type=double} \
         <m{type=pure-token,token=m} | km{type=pure-token,token=km} | ft{type=pure-token,token=ft} | mi{type=pure-token,token=mi}>{name=unit} [WITHCOORD] [WITHDIST] [WITHHASH] \
         [<COUNT count> [ANY]]{name=count-block} [ASC | DESC]{name=order} \
         [STORE key{name=storekey} | STOREDIST key{name=storedistkey}]{name=store}",
    ),
    (
        "georadiusbymember_ro",
        "key member radius{type=double} \
         <m{type=pure-token,token=m} | km{type=pure-token,token=km} | ft{type=pure-token,token=ft} | mi{type=pure-token,token=mi}>{name=unit} [WITHCOORD] [WITHDIST] [WITHHASH] \
         [<COUNT count> [ANY]]{name=count-block} [ASC | DESC]{name=order}",
    ),
    (
        "geosearch",
        "key <FROMMEMBER member | FROMLONLAT longitude{type=double} latitude{type=double}>{name=from} \
         <<<BYRADIUS radius{type=double}> <m{type=pure-token,token=m} | km{type=pure-token,token=km} | ft{type=pure-token,token=ft} | mi{type=pure-token,token=mi}>{name=unit}>{name=circle} | \
         <<BYBOX width{type=double}> height{type=double} <m{type=pure-token,token=m} | km{type=pure-token,token=km} | ft{type=pure-token,token=ft} | mi{type=pure-token,token=mi}>{name=unit}>{name=box}>{name=by} \
         [ASC | DESC]{name=order} [<COUNT count> [ANY]]{name=count-block} [WITHCOORD] [WITHDIST] [WITHHASH]",
    ),
    (
        "geosearchstore",
        "destination{type=key} source{type=key} \
         <FROMMEMBER member | FROMLONLAT longitude{type=double} latitude{type=double}>{name=from} \
         <<<BYRADIUS radius{type=double}> <m{type=pure-token,token=m} | km{type=pure-token,token=km} | ft{type=pure-token,token=ft} | mi{type=pure-token,token=mi}>{name=unit}>{name=circle} | \
         <<BYBOX width{type=double}> height{type=double} <m{type=pure-token,token=m} | km{type=pure-token,token=km} | ft{type=pure-token,token=ft} | mi{type=pure-token,token=mi}>{name=unit}>{name=box}>{name=by} \
         [ASC | DESC]{name=order} [<COUNT count> [ANY]]{name=count-block} [STOREDIST]",
    ),
    // (end of geo)
    // hash
    ("hset", "key field value [field value ...]{name=data}"),
    ("hsetnx", "key field value"),
    ("hmset", "key field value [field value ...]{name=data}"),
    ("hget", "key field"),
    ("hmget", "key field [field ...]"),
    ("hgetall", "key"),
    ("hdel", "key field [field ...]"),
    ("hexists", "key field"),
    ("hlen", "key"),
    ("hkeys", "key"),
    ("hvals", "key"),
    ("hincrby", "key field increment"),
    ("hincrbyfloat", "key field increment{type=double}"),
    ("hstrlen", "key field"),
    ("hrandfield", "key [count [WITHVALUES]]{name=options}"),
    (
        "hscan",
        "key cursor [MATCH pattern] [COUNT count] [NOVALUES]{since=7.4.0}",
    ),
    (
        "hexpire",
        "key seconds [NX | XX | GT | LT]{name=condition} <FIELDS numfields{type=integer} field [field ...]>{name=fields}",
    ),
    (
        "hpexpire",
        "key milliseconds [NX | XX | GT | LT]{name=condition} <FIELDS numfields{type=integer} field [field ...]>{name=fields}",
    ),
    (
        "hexpireat",
        "key unix-time-seconds [NX | XX | GT | LT]{name=condition} \
         <FIELDS numfields{type=integer} field [field ...]>{name=fields}",
    ),
    (
        "hpexpireat",
        "key unix-time-milliseconds [NX | XX | GT | LT]{name=condition} \
         <FIELDS numfields{type=integer} field [field ...]>{name=fields}",
    ),
    ("httl", "key <FIELDS numfields{type=integer} field [field ...]>{name=fields}"),
    ("hpttl", "key <FIELDS numfields{type=integer} field [field ...]>{name=fields}"),
    ("hexpiretime", "key <FIELDS numfields{type=integer} field [field ...]>{name=fields}"),
    ("hpexpiretime", "key <FIELDS numfields{type=integer} field [field ...]>{name=fields}"),
    ("hpersist", "key <FIELDS numfields{type=integer} field [field ...]>{name=fields}"),
    ("hgetdel", "key <FIELDS numfields{type=integer} field [field ...]>{name=fields}"),
    (
        "hgetex",
        "key [EX seconds | PX milliseconds | EXAT unix-time-seconds | \
         PXAT unix-time-milliseconds | PERSIST]{name=expiration} <FIELDS numfields{type=integer} field [field ...]>{name=fields}",
    ),
    (
        "hsetex",
        "key [FNX | FXX]{name=condition} [EX seconds | PX milliseconds | EXAT unix-time-seconds | \
         PXAT unix-time-milliseconds | KEEPTTL]{name=expiration} \
         <FIELDS numfields{type=integer} field value [field value ...]{name=data}>{name=fields}",
    ),
    // (end of hash)
    // list (end of list)
    // set (end of set)
    // sorted set (end of sorted set)
    // hyperloglog (end of hyperloglog)
    // stream
    (
        "xadd",
        "key [NOMKSTREAM]{since=6.2.0} [<MAXLEN | MINID{since=6.2.0}>{name=strategy} [= | ~]{name=operator} \
         threshold [LIMIT count{since=6.2.0}]]{name=trim} <* | id>{name=id-selector} field value [field value ...]{name=data}",
    ),
    ("xrange", "key start end [COUNT count]"),
    ("xrevrange", "key end start [COUNT count]"),
    ("xlen", "key"),
    ("xdel", "key id [id ...]"),
    (
        "xtrim",
        "key <MAXLEN | MINID{since=6.2.0}>{name=strategy} [= | ~]{name=operator} threshold [LIMIT count{since=6.2.0}]{name=trim}",
    ),
    (
        "xread",
        "[COUNT count] [BLOCK milliseconds] STREAMS key [key ...] id [id ...]{name=streams}",
    ),
    (
        "xreadgroup",
        "GROUP group consumer [COUNT count] [BLOCK milliseconds] [NOACK] STREAMS key [key ...] id [id ...]{name=streams}",
    ),
    ("xgroup", ""),
    ("xack", "key group id [id ...]"),
    (
        "xpending",
        "key group [[IDLE min-idle-time{since=6.2.0}] start end count [consumer]]{name=filters}",
    ),
    (
        "xclaim",
        "key group consumer min-idle-time id [id ...] [IDLE ms] [TIME unix-time-milliseconds] [RETRYCOUNT count] \
         [FORCE] [JUSTID] [LASTID lastid]",
    ),
    ("xautoclaim", "key group consumer min-idle-time start [COUNT count] [JUSTID]"),
    ("xinfo", ""),
    (
        "xsetid",
        "key last-id [ENTRIESADDED entries-added{since=7.0.0}] [MAXDELETEDID max-deleted-id{since=7.0.0}]",
    ),
    // (end of stream)
    // generic
    ("del", "key [key ...]"),
    ("unlink", "key [key ...]"),
    ("exists", "key [key ...]"),
    ("touch", "key [key ...]"),
    ("type", "key"),
    ("expire", "key seconds [NX | XX | GT | LT]{name=condition,since=7.0.0}"),
    (
        "pexpire",
        "key milliseconds [NX | XX | GT | LT]{name=condition,since=7.0.0}",
    ),
    (
        "expireat",
        "key unix-time-seconds [NX | XX | GT | LT]{name=condition,since=7.0.0}",
    ),
    (
        "pexpireat",
        "key unix-time-milliseconds [NX | XX | GT | LT]{name=condition,since=7.0.0}",
    ),
    ("ttl", "key"),
    ("pttl", "key"),
    ("expiretime", "key"),
    ("pexpiretime", "key"),
    ("persist", "key"),
    ("rename", "key newkey"),
    ("renamenx", "key newkey"),
    (
        "copy",
        "source{type=key} destination{type=key} [DB destination-db] [REPLACE]",
    ),
    ("move", "key db"),
    ("dump", "key"),
    (
        "restore",
        "key ttl{type=integer} serialized-value [REPLACE]{since=3.0.0} [ABSTTL]{since=5.0.0} \
         [IDLETIME seconds]{since=5.0.0} [FREQ frequency{type=integer}]{since=5.0.0}",
    ),
    ("object", ""),
    ("memory", ""),
    ("keys", "pattern"),
    ("scan", "cursor [MATCH pattern] [COUNT count] [TYPE type]{since=6.0.0}"),
    ("randomkey", ""),
    // server
    ("dbsize", ""),
    ("flushdb", "[ASYNC{since=4.0.0} | SYNC{since=6.2.0}]{name=flush-type}"),
    ("flushall", "[ASYNC{since=4.0.0} | SYNC{since=6.2.0}]{name=flush-type}"),
    ("swapdb", "index1 index2"),
    ("info", "[section [section ...]]"),
    ("config", ""),
    ("acl", ""),
    ("debug", ""),
    ("command", ""),
    ("time", ""),
    ("save", ""),
    ("bgsave", "[SCHEDULE]{since=3.2.2}"),
    ("bgrewriteaof", ""),
    ("lastsave", ""),
    (
        "shutdown",
        "[NOSAVE | SAVE]{name=save-selector} [NOW]{since=7.0.0} [FORCE]{since=7.0.0} \
         [ABORT]{since=7.0.0}",
    ),
    // connection
    ("ping", "[message]"),
    ("echo", "message"),
    ("select", "index"),
    (
        "hello",
        "[protover [AUTH username password] [SETNAME clientname]]{name=arguments}",
    ),
    ("auth", "[username]{since=6.0.0} password"),
    ("quit", ""),
    ("reset", ""),
    ("multi", ""),
    ("exec", ""),
    ("discard", ""),
    ("watch", "key [key ...]"),
    ("unwatch", ""),
    ("eval", "script numkeys [key [key ...]] [arg [arg ...]]"),
    ("evalsha", "sha1 numkeys [key [key ...]] [arg [arg ...]]"),
    ("eval_ro", "script numkeys [key [key ...]] [arg [arg ...]]"),
    ("evalsha_ro", "sha1 numkeys [key [key ...]] [arg [arg ...]]"),
    ("fcall", "function numkeys [key [key ...]] [arg [arg ...]]"),
    ("fcall_ro", "function numkeys [key [key ...]] [arg [arg ...]]"),
    ("script", ""),
    ("function", ""),
    ("subscribe", "channel [channel ...]"),
    ("unsubscribe", "[channel [channel ...]]"),
    ("psubscribe", "pattern [pattern ...]"),
    ("punsubscribe", "[pattern [pattern ...]]"),
    ("ssubscribe", "shardchannel [shardchannel ...]"),
    ("sunsubscribe", "[shardchannel [shardchannel ...]]"),
    ("publish", "channel message"),
    ("spublish", "shardchannel message"),
    ("pubsub", ""),
    ("client", ""),
    // observability
    ("slowlog", ""),
    ("slowlog|get", "[count]"),
    ("latency", ""),
    ("latency|graph", "event"),
    ("latency|histogram", "[command [command ...]]"),
    ("latency|history", "event"),
    ("latency|reset", "[event [event ...]]"),
    ("monitor", ""),
    ("config|get", "parameter [parameter ...]"),
];

/// Argument syntax of a command, Redis docs style, e.g. for "set":
/// "key value [NX | XX] [GET] [EX seconds | PX milliseconds | EXAT unix-time-seconds | PXAT unix-time-milliseconds | KEEPTTL]".
/// `Some("")` for a known command without arguments.
pub fn syntax(name: &str) -> Option<&'static str> {
    find(name).map(|d| d.syntax.as_str())
}

/// Whether COMMAND DOCS reports an "arguments" field for `name` (Redis
/// leaves the field out for commands without arguments).
pub fn has_arguments(name: &str) -> bool {
    find(name).is_some_and(|d| !d.args.is_empty())
}

/// Writes the "arguments" value of COMMAND DOCS for `name` (an array of
/// argument maps) with the given encoder. Writes nothing and returns false
/// when the command is unknown or takes no arguments.
pub fn write_arguments(r: &mut Reply, name: &str) -> bool {
    match find(name) {
        Some(d) if !d.args.is_empty() => {
            write_args(r, &d.args, true);
            true
        }
        _ => false,
    }
}

// ---------------------------------------------------------------- model

/// An argument's type, as COMMAND DOCS names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    String,
    Integer,
    Double,
    Key,
    Pattern,
    UnixTime,
    PureToken,
    OneOf,
    Block,
}

impl Kind {
    fn as_str(self) -> &'static str {
        match self {
            Kind::String => "string",
            Kind::Integer => "integer",
            Kind::Double => "double",
            Kind::Key => "key",
            Kind::Pattern => "pattern",
            Kind::UnixTime => "unix-time",
            Kind::PureToken => "pure-token",
            Kind::OneOf => "oneof",
            Kind::Block => "block",
        }
    }

    fn parse(s: &str) -> Option<Kind> {
        [
            Kind::String,
            Kind::Integer,
            Kind::Double,
            Kind::Key,
            Kind::Pattern,
            Kind::UnixTime,
            Kind::PureToken,
            Kind::OneOf,
            Kind::Block,
        ]
        .into_iter()
        .find(|k| k.as_str() == s)
    }

    fn nested(self) -> bool {
        matches!(self, Kind::OneOf | Kind::Block)
    }

    /// The type of a plain argument, from its name.
    fn infer(word: &str) -> Kind {
        let numbered_key = word
            .strip_prefix("key")
            .is_some_and(|n| !n.is_empty() && n.bytes().all(|c| c.is_ascii_digit()));
        match word {
            "key" | "newkey" => Kind::Key,
            _ if numbered_key => Kind::Key,
            "pattern" => Kind::Pattern,
            _ if word.starts_with("unix-time") => Kind::UnixTime,
            "seconds" | "milliseconds" | "count" | "cursor" | "offset" | "start" | "end" | "increment"
            | "decrement" | "index" | "index1" | "index2" | "db" | "destination-db" | "min-match-len" | "protover"
            | "timeout" => Kind::Integer,
            _ => Kind::String,
        }
    }
}

/// One argument of the COMMAND DOCS tree.
#[derive(Debug, Clone, PartialEq)]
struct Arg {
    name: String,
    kind: Kind,
    /// Shown text when it differs from the name (non-nested kinds only).
    display: Option<String>,
    token: Option<String>,
    since: Option<String>,
    optional: bool,
    multiple: bool,
    multiple_token: bool,
    /// Sub-arguments of a oneof or block.
    args: Vec<Arg>,
}

impl Arg {
    fn new(name: &str, kind: Kind) -> Arg {
        Arg {
            name: name.to_string(),
            kind,
            display: None,
            token: None,
            since: None,
            optional: false,
            multiple: false,
            multiple_token: false,
            args: Vec::new(),
        }
    }
}

struct Doc {
    name: &'static str,
    syntax: String,
    args: Vec<Arg>,
}

fn docs() -> &'static [Doc] {
    static DOCS: OnceLock<Vec<Doc>> = OnceLock::new();
    DOCS.get_or_init(|| {
        SPECS
            .iter()
            .map(|&(name, spec)| Doc {
                name,
                syntax: strip_annotations(spec),
                // Every line parses (tested); a broken one reports no arguments.
                args: parse(spec).unwrap_or_default(),
            })
            .collect()
    })
}

fn find(name: &str) -> Option<&'static Doc> {
    docs().iter().find(|d| d.name.eq_ignore_ascii_case(name))
}

fn strip_annotations(spec: &str) -> String {
    let mut out = String::with_capacity(spec.len());
    let mut depth = 0usize;
    for c in spec.chars() {
        match c {
            '{' => depth += 1,
            '}' => depth = depth.saturating_sub(1),
            _ if depth == 0 => out.push(c),
            _ => {}
        }
    }
    out
}

// ---------------------------------------------------------------- encoder

/// Writes `args` as Redis's addReplyCommandArgList does. `display_text` is
/// false for Redis 7.0's format, which did not have the field.
fn write_args(r: &mut Reply, args: &[Arg], display_text: bool) {
    r.array_len(args.len());
    for a in args {
        let nested = a.kind.nested();
        let flags: Vec<&str> = [
            (a.optional, "optional"),
            (a.multiple, "multiple"),
            (a.multiple_token, "multiple_token"),
        ]
        .into_iter()
        .filter_map(|(on, f)| on.then_some(f))
        .collect();
        let len = 2
            + (display_text && !nested) as usize
            + (a.kind == Kind::Key) as usize
            + a.token.is_some() as usize
            + a.since.is_some() as usize
            + !flags.is_empty() as usize
            + nested as usize;
        r.map_len(len);
        r.bulk(b"name");
        r.bulk(a.name.as_bytes());
        r.bulk(b"type");
        r.bulk(a.kind.as_str().as_bytes());
        if display_text && !nested {
            r.bulk(b"display_text");
            r.bulk(a.display.as_deref().unwrap_or(&a.name).as_bytes());
        }
        if a.kind == Kind::Key {
            // One key spec covers every key (see COMMAND INFO).
            r.bulk(b"key_spec_index");
            r.int(0);
        }
        if let Some(t) = &a.token {
            r.bulk(b"token");
            r.bulk(t.as_bytes());
        }
        if let Some(s) = &a.since {
            r.bulk(b"since");
            r.bulk(s.as_bytes());
        }
        if !flags.is_empty() {
            r.bulk(b"flags");
            r.set_len(flags.len());
            for f in flags {
                r.simple(f);
            }
        }
        if nested {
            r.bulk(b"arguments");
            write_args(r, &a.args, display_text);
        }
    }
}

// ---------------------------------------------------------------- parser

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Lex<'a> {
    /// `[` (optional) or `<` (group).
    Open(char),
    Close(char),
    Bar,
    Ellipsis,
    Word(&'a str),
    Annot(&'a str),
}

fn lex(s: &str) -> Result<Vec<Lex<'_>>, String> {
    let mut out = Vec::new();
    let mut rest = s;
    while let Some(c) = rest.chars().next() {
        match c {
            _ if c.is_whitespace() => rest = &rest[c.len_utf8()..],
            '[' | '<' => {
                out.push(Lex::Open(c));
                rest = &rest[1..];
            }
            ']' | '>' => {
                out.push(Lex::Close(c));
                rest = &rest[1..];
            }
            '|' => {
                out.push(Lex::Bar);
                rest = &rest[1..];
            }
            '{' => {
                let end = rest.find('}').ok_or("unclosed `{`")?;
                out.push(Lex::Annot(&rest[1..end]));
                rest = &rest[end + 1..];
            }
            _ => {
                let end = rest
                    .find(|c: char| c.is_whitespace() || "[]<>|{}".contains(c))
                    .unwrap_or(rest.len());
                let w = &rest[..end];
                out.push(if w == "..." { Lex::Ellipsis } else { Lex::Word(w) });
                rest = &rest[end..];
            }
        }
    }
    Ok(out)
}

/// What an annotation sets.
#[derive(Debug, Default)]
struct Annot {
    name: Option<String>,
    since: Option<String>,
    kind: Option<Kind>,
    /// A token spelled in lowercase (GEO's units `m`, `km` ...).
    token: Option<String>,
}

impl Annot {
    fn parse(&mut self, text: &str) -> Result<(), String> {
        for part in text.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            let (k, v) = part.split_once('=').ok_or_else(|| format!("bad annotation `{part}`"))?;
            match k.trim() {
                "name" => self.name = Some(v.trim().to_string()),
                "since" => self.since = Some(v.trim().to_string()),
                "type" => self.kind = Some(Kind::parse(v.trim()).ok_or_else(|| format!("bad type `{v}`"))?),
                "token" => self.token = Some(v.trim().to_string()),
                _ => return Err(format!("bad annotation `{part}`")),
            }
        }
        Ok(())
    }

    fn apply(self, a: &mut Arg) {
        if let Some(n) = self.name {
            if !a.kind.nested() && a.display.is_none() {
                a.display = Some(std::mem::take(&mut a.name));
            }
            a.name = n;
        }
        if self.since.is_some() {
            a.since = self.since;
        }
        if let Some(k) = self.kind {
            a.kind = k;
        }
        if self.token.is_some() {
            a.token = self.token;
        }
    }
}

#[derive(Debug)]
enum Node {
    Word(String),
    Token(String),
    /// `[a | b]` or `<a | b>`: alternatives, each a sequence.
    Group {
        optional: bool,
        alts: Vec<Vec<Item>>,
    },
    /// `[x ...]`, before it is joined with the `x` in front of it.
    Repeat(Vec<Item>),
    /// `x [x ...]`.
    Multiple(Vec<Item>),
    Ellipsis,
}

#[derive(Debug)]
struct Item {
    node: Node,
    annot: Annot,
}

/// Parses an annotated syntax line into COMMAND DOCS arguments.
fn parse(spec: &str) -> Result<Vec<Arg>, String> {
    let toks = lex(spec)?;
    let mut pos = 0;
    let alts = parse_alts(&toks, &mut pos, None)?;
    let [seq]: [Vec<Item>; 1] = alts.try_into().map_err(|_| "top-level `|` needs a group".to_string())?;
    lower_seq(seq)
}

fn is_token(word: &str) -> bool {
    word.bytes().any(|c| c.is_ascii_uppercase()) && !word.bytes().any(|c| c.is_ascii_lowercase())
}

fn parse_alts(toks: &[Lex], pos: &mut usize, close: Option<char>) -> Result<Vec<Vec<Item>>, String> {
    let mut alts: Vec<Vec<Item>> = vec![Vec::new()];
    loop {
        let Some(&tok) = toks.get(*pos) else {
            if close.is_some() {
                return Err("unclosed group".into());
            }
            break;
        };
        *pos += 1;
        let seq = alts.last_mut().expect("at least one alternative");
        let node = match tok {
            Lex::Close(c) if Some(c) == close => break,
            Lex::Close(c) => return Err(format!("unexpected `{c}`")),
            Lex::Bar => {
                alts.push(Vec::new());
                continue;
            }
            Lex::Annot(text) => {
                let last = seq.last_mut().ok_or("annotation without an element")?;
                last.annot.parse(text)?;
                continue;
            }
            Lex::Word(w) if is_token(w) => Node::Token(w.to_string()),
            Lex::Word(w) => Node::Word(w.to_string()),
            Lex::Ellipsis => Node::Ellipsis,
            Lex::Open(c) => {
                let mut inner = parse_alts(toks, pos, Some(if c == '[' { ']' } else { '>' }))?;
                let repeat = c == '['
                    && inner.len() == 1
                    && matches!(
                        inner[0].last(),
                        Some(Item {
                            node: Node::Ellipsis,
                            ..
                        })
                    );
                if repeat {
                    let mut items = inner.pop().expect("one alternative");
                    items.pop();
                    Node::Repeat(items)
                } else {
                    Node::Group {
                        optional: c == '[',
                        alts: inner,
                    }
                }
            }
        };
        seq.push(Item {
            node,
            annot: Annot::default(),
        });
    }
    alts.into_iter().map(fold_repeats).collect()
}

/// Joins each `[x ...]` with the `x` in front of it.
fn fold_repeats(seq: Vec<Item>) -> Result<Vec<Item>, String> {
    let mut out: Vec<Item> = Vec::with_capacity(seq.len());
    for item in seq {
        let Node::Repeat(rep) = &item.node else {
            out.push(item);
            continue;
        };
        let k = rep.len();
        let start = out
            .len()
            .checked_sub(k)
            .filter(|_| k > 0)
            .ok_or("`[x ...]` must follow x")?;
        if !out[start..].iter().zip(rep).all(|(a, b)| same_shape(a, b)) {
            return Err("`[x ...]` must follow x".into());
        }
        let items = out.split_off(start);
        out.push(Item {
            node: Node::Multiple(items),
            annot: item.annot,
        });
    }
    Ok(out)
}

fn same_shape(a: &Item, b: &Item) -> bool {
    match (&a.node, &b.node) {
        (Node::Word(x), Node::Word(y)) | (Node::Token(x), Node::Token(y)) => x == y,
        _ => false,
    }
}

/// Whether `item` lowers to one argument a token in front of it can carry.
fn takes_token(item: &Item) -> bool {
    match &item.node {
        Node::Word(_) => true,
        Node::Multiple(items) => matches!(
            items[..],
            [Item {
                node: Node::Word(_),
                ..
            }]
        ),
        _ => false,
    }
}

/// A sequence as a list of arguments; a token followed by an argument
/// becomes that argument's token.
fn lower_seq(seq: Vec<Item>) -> Result<Vec<Arg>, String> {
    let mut out = Vec::with_capacity(seq.len());
    let mut it = seq.into_iter().peekable();
    while let Some(item) = it.next() {
        if let Node::Token(t) = &item.node {
            if let Some(value) = it.next_if(takes_token) {
                let t = t.clone();
                let mut a = lower(value)?;
                a.token = Some(t);
                item.annot.apply(&mut a);
                out.push(a);
                continue;
            }
        }
        out.push(lower(item)?);
    }
    Ok(out)
}

fn lower(item: Item) -> Result<Arg, String> {
    let Item { node, annot } = item;
    let mut a = match node {
        Node::Word(w) => Arg::new(&w, Kind::infer(&w)),
        Node::Token(t) => {
            let mut a = Arg::new(&t.to_ascii_lowercase(), Kind::PureToken);
            a.token = Some(t);
            a
        }
        Node::Group { optional, alts } => {
            let mut a = lower_alts(alts, annot.name.as_deref())?;
            a.optional |= optional;
            a
        }
        Node::Multiple(items) => {
            let mut a = collapse(items, annot.name.as_deref())?;
            a.multiple = true;
            a.multiple_token = a.token.is_some();
            a
        }
        Node::Repeat(_) => return Err("`[x ...]` must follow x".into()),
        Node::Ellipsis => return Err("`...` outside `[x ...]`".into()),
    };
    annot.apply(&mut a);
    Ok(a)
}

/// Alternatives as one argument: a oneof, or the single alternative.
fn lower_alts(mut alts: Vec<Vec<Item>>, name: Option<&str>) -> Result<Arg, String> {
    if alts.len() == 1 {
        return collapse(alts.pop().expect("one alternative"), name);
    }
    let mut a = Arg::new(name.ok_or("a oneof needs a name")?, Kind::OneOf);
    for alt in alts {
        a.args.push(collapse(alt, None)?);
    }
    Ok(a)
}

/// A sequence as one argument: the argument itself (`x`, `TOKEN x`), a
/// block headed by a token (`TOKEN x y`), or a named block.
fn collapse(mut seq: Vec<Item>, name: Option<&str>) -> Result<Arg, String> {
    if seq.is_empty() {
        return Err("empty group".into());
    }
    let token_block =
        seq.len() >= 2 && matches!(seq[0].node, Node::Token(_)) && !(seq.len() == 2 && takes_token(&seq[1]));
    if token_block {
        let head = seq.remove(0);
        let Node::Token(t) = head.node else {
            unreachable!("checked above")
        };
        let mut a = Arg::new(&t.to_ascii_lowercase(), Kind::Block);
        a.token = Some(t);
        a.args = lower_seq(seq)?;
        head.annot.apply(&mut a);
        return Ok(a);
    }
    let mut args = lower_seq(seq)?;
    if args.len() == 1 {
        return Ok(args.pop().expect("one argument"));
    }
    let mut a = Arg::new(name.ok_or("a block needs a name")?, Kind::Block);
    a.args = args;
    Ok(a)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// RESP lines as written one per line, joined with CRLF.
    fn resp(lines: &str) -> Vec<u8> {
        let mut out = Vec::new();
        for l in lines.lines().map(str::trim).filter(|l| !l.is_empty()) {
            out.extend_from_slice(l.as_bytes());
            out.extend_from_slice(b"\r\n");
        }
        out
    }

    /// The arguments of `name` as Redis 7.0 encodes them (no display_text).
    fn encode_7_0(name: &str, resp3: bool) -> Vec<u8> {
        let mut buf = Vec::new();
        write_args(&mut Reply::new(&mut buf, resp3), &find(name).unwrap().args, false);
        buf
    }

    /// A compact rendering of the tree: `name:type[:token][@since][:flags](...)`.
    fn render(args: &[Arg]) -> String {
        let mut out = Vec::new();
        for a in args {
            let mut s = format!("{}:{}", a.name, a.kind.as_str());
            if let Some(t) = &a.token {
                s += &format!(":{t}");
            }
            if let Some(v) = &a.since {
                s += &format!("@{v}");
            }
            for (on, f) in [
                (a.optional, ":optional"),
                (a.multiple, ":multiple"),
                (a.multiple_token, ":multiple_token"),
            ] {
                if on {
                    s += f;
                }
            }
            if a.kind.nested() {
                s += &format!("({})", render(&a.args));
            }
            out.push(s);
        }
        out.join(" ")
    }

    fn tree(name: &str) -> String {
        render(&find(name).unwrap().args)
    }

    #[test]
    fn every_command_has_a_parsing_syntax_line() {
        for c in crate::command::TABLE {
            assert!(syntax(c.name).is_some(), "no docs for {}", c.name);
        }
        for &(name, spec) in SPECS {
            parse(spec).unwrap_or_else(|e| panic!("{name}: {e}"));
            let plain = syntax(name).unwrap();
            assert!(!plain.contains(['{', '}']), "{name}: {plain}");
            assert_eq!(has_arguments(name), !plain.is_empty(), "{name}");
        }
    }

    #[test]
    fn syntax_lines() {
        assert_eq!(
            syntax("set"),
            Some(
                "key value [NX | XX] [GET] [EX seconds | PX milliseconds | EXAT unix-time-seconds | \
                 PXAT unix-time-milliseconds | KEEPTTL]"
            )
        );
        assert_eq!(syntax("SET"), syntax("set"));
        assert_eq!(syntax("mset"), Some("key value [key value ...]"));
        assert_eq!(
            syntax("hello"),
            Some("[protover [AUTH username password] [SETNAME clientname]]")
        );
        assert_eq!(syntax("copy"), Some("source destination [DB destination-db] [REPLACE]"));
        assert_eq!(syntax("time"), Some(""));
        assert_eq!(syntax("nosuchcommand"), None);
    }

    #[test]
    fn no_arguments_writes_nothing() {
        let mut buf = Vec::new();
        let mut r = Reply::new(&mut buf, false);
        assert!(!write_arguments(&mut r, "time"));
        assert!(!write_arguments(&mut r, "client"));
        assert!(!write_arguments(&mut r, "nosuchcommand"));
        assert!(buf.is_empty());
        assert!(!has_arguments("time") && !has_arguments("nosuchcommand") && has_arguments("get"));
    }

    /// Trees as Redis 7.4 declares them (src/commands.def).
    #[test]
    fn trees_match_redis_7_4() {
        assert_eq!(
            tree("set"),
            "key:key value:string condition:oneof@2.6.12:optional(nx:pure-token:NX xx:pure-token:XX) \
             get:pure-token:GET@6.2.0:optional \
             expiration:oneof:optional(seconds:integer:EX@2.6.12 milliseconds:integer:PX@2.6.12 \
             unix-time-seconds:unix-time:EXAT@6.2.0 unix-time-milliseconds:unix-time:PXAT@6.2.0 \
             keepttl:pure-token:KEEPTTL@6.0.0)"
        );
        assert_eq!(tree("mset"), "data:block:multiple(key:key value:string)");
        assert_eq!(tree("del"), "key:key:multiple");
        assert_eq!(tree("info"), "section:string:optional:multiple");
        assert_eq!(tree("incrbyfloat"), "key:key increment:double");
        assert_eq!(tree("setbit"), "key:key offset:integer value:integer");
        assert_eq!(
            tree("lcs"),
            "key1:key key2:key len:pure-token:LEN:optional idx:pure-token:IDX:optional \
             min-match-len:integer:MINMATCHLEN:optional withmatchlen:pure-token:WITHMATCHLEN:optional"
        );
        assert_eq!(
            tree("copy"),
            "source:key destination:key destination-db:integer:DB:optional replace:pure-token:REPLACE:optional"
        );
        assert_eq!(
            tree("scan"),
            "cursor:integer pattern:pattern:MATCH:optional count:integer:COUNT:optional \
             type:string:TYPE@6.0.0:optional"
        );
        assert_eq!(
            tree("pexpireat"),
            "key:key unix-time-milliseconds:unix-time condition:oneof@7.0.0:optional(nx:pure-token:NX \
             xx:pure-token:XX gt:pure-token:GT lt:pure-token:LT)"
        );
        assert_eq!(
            tree("flushall"),
            "flush-type:oneof:optional(async:pure-token:ASYNC@4.0.0 sync:pure-token:SYNC@6.2.0)"
        );
        assert_eq!(
            tree("hello"),
            "arguments:block:optional(protover:integer auth:block:AUTH:optional(username:string \
             password:string) clientname:string:SETNAME:optional)"
        );
        assert_eq!(tree("auth"), "username:string@6.0.0:optional password:string");
        assert_eq!(
            tree("shutdown"),
            "save-selector:oneof:optional(nosave:pure-token:NOSAVE save:pure-token:SAVE) \
             now:pure-token:NOW@7.0.0:optional force:pure-token:FORCE@7.0.0:optional \
             abort:pure-token:ABORT@7.0.0:optional"
        );
    }

    #[test]
    fn parser_handles_repeated_tokens_and_display_names() {
        let args = parse("[PREFIX prefix [PREFIX prefix ...]] [ID client-id [client-id ...]]").unwrap();
        assert_eq!(
            render(&args),
            "prefix:string:PREFIX:optional:multiple:multiple_token client-id:string:ID:optional:multiple"
        );
        let args = parse("[BY pattern]{name=by-pattern}").unwrap();
        assert_eq!(args[0].name, "by-pattern");
        assert_eq!(args[0].display.as_deref(), Some("pattern"));
        assert!(parse("[NX | XX]").is_err(), "oneof without a name");
        assert!(parse("key [value ...]").is_err());
        assert!(parse("key [value").is_err());
    }

    // Captured from redis-server 7.0.15: `COMMAND DOCS set`, the value of
    // "arguments" (7.0 has no display_text; the rest is unchanged in 7.4).
    const SET_7_0: &str = "
        *5
        *6 $4 name $3 key $4 type $3 key $14 key_spec_index :0
        *4 $4 name $5 value $4 type $6 string
        *10 $4 name $9 condition $4 type $5 oneof $5 since $6 2.6.12 $5 flags *1 +optional $9 arguments
        *2
        *6 $4 name $2 nx $4 type $10 pure-token $5 token $2 NX
        *6 $4 name $2 xx $4 type $10 pure-token $5 token $2 XX
        *10 $4 name $3 get $4 type $10 pure-token $5 token $3 GET $5 since $5 6.2.0 $5 flags *1 +optional
        *8 $4 name $10 expiration $4 type $5 oneof $5 flags *1 +optional $9 arguments
        *5
        *8 $4 name $7 seconds $4 type $7 integer $5 token $2 EX $5 since $6 2.6.12
        *8 $4 name $12 milliseconds $4 type $7 integer $5 token $2 PX $5 since $6 2.6.12
        *8 $4 name $17 unix-time-seconds $4 type $9 unix-time $5 token $4 EXAT $5 since $5 6.2.0
        *8 $4 name $22 unix-time-milliseconds $4 type $9 unix-time $5 token $4 PXAT $5 since $5 6.2.0
        *8 $4 name $7 keepttl $4 type $10 pure-token $5 token $7 KEEPTTL $5 since $5 6.0.0
    ";

    /// RESP lines written several to a line, separated by spaces (no value
    /// here contains a space).
    fn resp_words(text: &str) -> Vec<u8> {
        resp(&text.split_whitespace().collect::<Vec<_>>().join("\n"))
    }

    #[test]
    fn set_resp2_matches_redis_7_0() {
        assert_eq!(
            String::from_utf8(encode_7_0("set", false)).unwrap(),
            String::from_utf8(resp_words(SET_7_0)).unwrap()
        );
    }

    #[test]
    fn getex_matches_redis_7_0_in_resp2_and_resp3() {
        let resp2 = "
            *2
            *6 $4 name $3 key $4 type $3 key $14 key_spec_index :0
            *8 $4 name $10 expiration $4 type $5 oneof $5 flags *1 +optional $9 arguments
            *5
            *6 $4 name $7 seconds $4 type $7 integer $5 token $2 EX
            *6 $4 name $12 milliseconds $4 type $7 integer $5 token $2 PX
            *6 $4 name $17 unix-time-seconds $4 type $9 unix-time $5 token $4 EXAT
            *6 $4 name $22 unix-time-milliseconds $4 type $9 unix-time $5 token $4 PXAT
            *6 $4 name $7 persist $4 type $10 pure-token $5 token $7 PERSIST
        ";
        assert_eq!(encode_7_0("getex", false), resp_words(resp2));
        let resp3 = "
            *2
            %3 $4 name $3 key $4 type $3 key $14 key_spec_index :0
            %4 $4 name $10 expiration $4 type $5 oneof $5 flags ~1 +optional $9 arguments
            *5
            %3 $4 name $7 seconds $4 type $7 integer $5 token $2 EX
            %3 $4 name $12 milliseconds $4 type $7 integer $5 token $2 PX
            %3 $4 name $17 unix-time-seconds $4 type $9 unix-time $5 token $4 EXAT
            %3 $4 name $22 unix-time-milliseconds $4 type $9 unix-time $5 token $4 PXAT
            %3 $4 name $7 persist $4 type $10 pure-token $5 token $7 PERSIST
        ";
        assert_eq!(encode_7_0("getex", true), resp_words(resp3));
    }

    #[test]
    fn more_commands_match_redis_7_0() {
        let cases = [
            (
                "mget",
                "*1 *8 $4 name $3 key $4 type $3 key $14 key_spec_index :0 $5 flags *1 +multiple",
            ),
            (
                "auth",
                "*2 *8 $4 name $8 username $4 type $6 string $5 since $5 6.0.0 $5 flags *1 +optional \
                 *4 $4 name $8 password $4 type $6 string",
            ),
            (
                "info",
                "*1 *6 $4 name $7 section $4 type $6 string $5 flags *2 +optional +multiple",
            ),
            (
                "incrbyfloat",
                "*2 *6 $4 name $3 key $4 type $3 key $14 key_spec_index :0 *4 $4 name $9 increment $4 type $6 double",
            ),
            (
                "scan",
                "*4 *4 $4 name $6 cursor $4 type $7 integer \
                 *8 $4 name $7 pattern $4 type $7 pattern $5 token $5 MATCH $5 flags *1 +optional \
                 *8 $4 name $5 count $4 type $7 integer $5 token $5 COUNT $5 flags *1 +optional \
                 *10 $4 name $4 type $4 type $6 string $5 token $4 TYPE $5 since $5 6.0.0 $5 flags *1 +optional",
            ),
            (
                "expire",
                "*3 *6 $4 name $3 key $4 type $3 key $14 key_spec_index :0 *4 $4 name $7 seconds $4 type $7 integer \
                 *10 $4 name $9 condition $4 type $5 oneof $5 since $5 7.0.0 $5 flags *1 +optional $9 arguments *4 \
                 *6 $4 name $2 nx $4 type $10 pure-token $5 token $2 NX \
                 *6 $4 name $2 xx $4 type $10 pure-token $5 token $2 XX \
                 *6 $4 name $2 gt $4 type $10 pure-token $5 token $2 GT \
                 *6 $4 name $2 lt $4 type $10 pure-token $5 token $2 LT",
            ),
        ];
        for (name, want) in cases {
            assert_eq!(encode_7_0(name, false), resp_words(want), "{name}");
        }
    }

    /// Redis 7.2+ adds display_text right after type for all but oneof and
    /// block arguments.
    #[test]
    fn write_arguments_adds_display_text() {
        let mut buf = Vec::new();
        assert!(write_arguments(&mut Reply::new(&mut buf, true), "getex"));
        let want = "
            *2
            %4 $4 name $3 key $4 type $3 key $12 display_text $3 key $14 key_spec_index :0
            %4 $4 name $10 expiration $4 type $5 oneof $5 flags ~1 +optional $9 arguments
            *5
            %4 $4 name $7 seconds $4 type $7 integer $12 display_text $7 seconds $5 token $2 EX
            %4 $4 name $12 milliseconds $4 type $7 integer $12 display_text $12 milliseconds $5 token $2 PX
            %4 $4 name $17 unix-time-seconds $4 type $9 unix-time $12 display_text $17 unix-time-seconds \
               $5 token $4 EXAT
            %4 $4 name $22 unix-time-milliseconds $4 type $9 unix-time $12 display_text $22 unix-time-milliseconds \
               $5 token $4 PXAT
            %4 $4 name $7 persist $4 type $10 pure-token $12 display_text $7 persist $5 token $7 PERSIST
        ";
        assert_eq!(buf, resp_words(want));
    }
}
