//! Engine tests against a mock backend. Expected replies were recorded from
//! redis-server 7.0.15 unless marked "7.4" (then they come from the 7.4.1
//! sources or Tcl tests, where 7.4 differs).

use std::collections::HashMap;
use std::sync::{Mutex, MutexGuard};

use super::*;
use crate::script::{Abort, Backend, Kind, Outcome, ScriptFlags};

/// The stores are process-wide: tests that use them run one at a time.
fn lock() -> MutexGuard<'static, ()> {
    static L: Mutex<()> = Mutex::new(());
    L.lock().unwrap_or_else(|p| p.into_inner())
}

#[derive(Clone)]
enum Val {
    Str(Vec<u8>),
    Hash(Vec<(Vec<u8>, Vec<u8>)>),
}

/// A tiny store answering like Redis (RESP2 or RESP3 as asked).
#[derive(Default)]
struct Mock {
    data: HashMap<Vec<u8>, Val>,
    abort_on: Option<Vec<u8>>,
    calls: Vec<Vec<Vec<u8>>>,
    began: Vec<(Kind, ScriptFlags, bool)>,
    begin_err: Option<Vec<u8>>,
    read_only: bool,
}

fn bulk(out: &mut Vec<u8>, s: &[u8]) {
    out.extend_from_slice(format!("${}\r\n", s.len()).as_bytes());
    out.extend_from_slice(s);
    out.extend_from_slice(b"\r\n");
}

impl Backend for Mock {
    fn begin(&mut self, kind: Kind, flags: ScriptFlags, read_only: bool) -> Result<(), Vec<u8>> {
        self.began.push((kind, flags, read_only));
        self.read_only = read_only || flags.no_writes;
        match &self.begin_err {
            Some(e) => Err(e.clone()),
            None => Ok(()),
        }
    }

    fn call(&mut self, argv: &[&[u8]], resp3: bool, out: &mut Vec<u8>) -> Result<(), Abort> {
        self.calls.push(argv.iter().map(|a| a.to_vec()).collect());
        if let (Some(k), Some(a)) = (&self.abort_on, argv.get(1)) {
            if k.as_slice() == *a {
                return Err(Abort);
            }
        }
        let cmd = argv[0].to_ascii_lowercase();
        let arity = |n: usize, exact: bool| if exact { argv.len() == n } else { argv.len() >= n };
        let ok_arity = match cmd.as_slice() {
            b"get" | b"incr" | b"hgetall" => arity(2, true),
            b"set" => arity(3, true),
            b"del" => arity(2, false),
            b"hset" => arity(4, true),
            b"ping" | b"proto" => arity(1, false),
            b"echo" => arity(2, false),
            _ => {
                out.extend_from_slice(b"-ERR Unknown Redis command called from script\r\n");
                return Ok(());
            }
        };
        if !ok_arity {
            out.extend_from_slice(b"-ERR Wrong number of args calling Redis command from script\r\n");
            return Ok(());
        }
        let write = matches!(cmd.as_slice(), b"set" | b"incr" | b"del" | b"hset");
        if write && self.read_only {
            out.extend_from_slice(b"-ERR Write commands are not allowed from read-only scripts.\r\n");
            return Ok(());
        }
        let wrongtype = b"-WRONGTYPE Operation against a key holding the wrong kind of value\r\n";
        match cmd.as_slice() {
            b"get" => match self.data.get(argv[1]) {
                Some(Val::Str(s)) => bulk(out, &s.clone()),
                Some(Val::Hash(_)) => out.extend_from_slice(wrongtype),
                None => out.extend_from_slice(if resp3 { b"_\r\n" } else { b"$-1\r\n" }),
            },
            b"set" => {
                self.data.insert(argv[1].to_vec(), Val::Str(argv[2].to_vec()));
                crate::script::note_write();
                out.extend_from_slice(b"+OK\r\n");
            }
            b"incr" => {
                let cur = match self.data.get(argv[1]) {
                    None => 0,
                    Some(Val::Str(s)) => match std::str::from_utf8(s).ok().and_then(|s| s.parse::<i64>().ok()) {
                        Some(n) => n,
                        None => {
                            out.extend_from_slice(b"-ERR value is not an integer or out of range\r\n");
                            return Ok(());
                        }
                    },
                    Some(Val::Hash(_)) => {
                        out.extend_from_slice(wrongtype);
                        return Ok(());
                    }
                };
                self.data
                    .insert(argv[1].to_vec(), Val::Str((cur + 1).to_string().into_bytes()));
                crate::script::note_write();
                out.extend_from_slice(format!(":{}\r\n", cur + 1).as_bytes());
            }
            b"del" => {
                let n = argv[1..].iter().filter(|k| self.data.remove(**k).is_some()).count();
                out.extend_from_slice(format!(":{}\r\n", n).as_bytes());
            }
            b"hset" => {
                let e = self.data.entry(argv[1].to_vec()).or_insert(Val::Hash(Vec::new()));
                match e {
                    Val::Hash(h) => {
                        let new = !h.iter().any(|(f, _)| f == argv[2]);
                        h.retain(|(f, _)| f != argv[2]);
                        h.push((argv[2].to_vec(), argv[3].to_vec()));
                        out.extend_from_slice(format!(":{}\r\n", new as i32).as_bytes());
                    }
                    Val::Str(_) => out.extend_from_slice(wrongtype),
                }
            }
            b"hgetall" => match self.data.get(argv[1]) {
                Some(Val::Hash(h)) => {
                    let h = h.clone();
                    out.extend_from_slice(
                        if resp3 {
                            format!("%{}\r\n", h.len())
                        } else {
                            format!("*{}\r\n", h.len() * 2)
                        }
                        .as_bytes(),
                    );
                    for (f, v) in h {
                        bulk(out, &f);
                        bulk(out, &v);
                    }
                }
                Some(Val::Str(_)) => out.extend_from_slice(wrongtype),
                None => out.extend_from_slice(if resp3 { b"%0\r\n" } else { b"*0\r\n" }),
            },
            b"ping" => {
                if argv.len() > 1 {
                    bulk(out, argv[1]);
                } else {
                    out.extend_from_slice(b"+PONG\r\n");
                }
            }
            b"echo" => bulk(out, argv[1]),
            _ => {
                // proto <type>: DEBUG PROTOCOL-like replies.
                let t = argv.get(1).map(|t| t.to_vec()).unwrap_or_default();
                let r: &[u8] = match (t.as_slice(), resp3) {
                    (b"map", true) => b"%2\r\n:1\r\n#t\r\n:2\r\n#f\r\n",
                    (b"map", false) => b"*4\r\n:1\r\n:1\r\n:2\r\n:0\r\n",
                    (b"set", true) => b"~2\r\n:0\r\n:1\r\n",
                    (b"set", false) => b"*2\r\n:0\r\n:1\r\n",
                    (b"double", true) => b",3.141\r\n",
                    (b"double", false) => b"$5\r\n3.141\r\n",
                    (b"null", true) => b"_\r\n",
                    (b"null", false) => b"$-1\r\n",
                    (b"bignum", true) => b"(1234567999999999999999999999999999999\r\n",
                    (b"bignum", false) => b"$37\r\n1234567999999999999999999999999999999\r\n",
                    (b"verbatim", true) => b"=29\r\ntxt:This is a verbatim\nstring\r\n",
                    (b"verbatim", false) => b"$25\r\nThis is a verbatim\nstring\r\n",
                    (b"true", true) => b"#t\r\n",
                    (b"true", false) => b":1\r\n",
                    (b"false", true) => b"#f\r\n",
                    (b"false", false) => b":0\r\n",
                    (b"attrib", true) => b"|1\r\n$14\r\nkey-popularity\r\n*2\r\n$7\r\nkey:123\r\n:90\r\n$39\r\nSome real reply following the attribute\r\n",
                    (b"attrib", false) => b"$39\r\nSome real reply following the attribute\r\n",
                    (b"nested", _) => b"*2\r\n*1\r\n-ERR inner\r\n+OK\r\n",
                    (b"nullarray", _) => b"*-1\r\n",
                    _ => b"-ERR Wrong protocol type name\r\n",
                };
                out.extend_from_slice(r);
            }
        }
        Ok(())
    }
}

fn sha(body: &str) -> String {
    String::from_utf8(sha1_hex(body.as_bytes()).to_vec()).unwrap()
}

fn show(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

/// EVAL with a fresh mock: the raw reply.
fn eval_with(m: &mut Mock, body: &str, keys: &[&str], args: &[&str], ro: bool, resp3: bool) -> String {
    let keys: Vec<&[u8]> = keys.iter().map(|k| k.as_bytes()).collect();
    let args: Vec<&[u8]> = args.iter().map(|k| k.as_bytes()).collect();
    let mut out = Vec::new();
    let o = Engine::with(|e| e.eval(body.as_bytes(), &keys, &args, ro, resp3, m, &mut out));
    assert_eq!(o, Outcome::Done);
    show(&out)
}

fn eval(body: &str) -> String {
    eval_with(&mut Mock::default(), body, &[], &[], false, false)
}

fn eval3(body: &str) -> String {
    eval_with(&mut Mock::default(), body, &[], &[], false, true)
}

/// The error suffix of a runtime error at `line`.
fn at(body: &str, line: u32) -> String {
    format!(" script: {}, on @user_script:{}.\r\n", sha(body), line)
}

fn script(args: &[&str], resp3: bool) -> String {
    let a: Vec<&[u8]> = args.iter().map(|s| s.as_bytes()).collect();
    let mut out = Vec::new();
    Engine::with(|e| e.script_command(&a, resp3, &mut out));
    show(&out)
}

fn function(args: &[&str], resp3: bool) -> String {
    let a: Vec<&[u8]> = args.iter().map(|s| s.as_bytes()).collect();
    let mut out = Vec::new();
    Engine::with(|e| e.function_command(&a, resp3, &mut out));
    show(&out)
}

fn fcall_with(m: &mut Mock, name: &str, keys: &[&str], args: &[&str], ro: bool, resp3: bool) -> String {
    let keys: Vec<&[u8]> = keys.iter().map(|k| k.as_bytes()).collect();
    let args: Vec<&[u8]> = args.iter().map(|k| k.as_bytes()).collect();
    let mut out = Vec::new();
    let o = Engine::with(|e| e.fcall(name.as_bytes(), &keys, &args, ro, resp3, m, &mut out));
    assert_eq!(o, Outcome::Done);
    show(&out)
}

fn fcall(name: &str) -> String {
    fcall_with(&mut Mock::default(), name, &[], &[], false, false)
}

fn load(code: &str) -> String {
    function(&["FUNCTION", "LOAD", "REPLACE", code], false)
}

#[test]
fn lua_to_resp2() {
    let _g = lock();
    assert_eq!(eval("return 'hello'"), "$5\r\nhello\r\n");
    assert_eq!(eval("return _G"), "*0\r\n");
    assert_eq!(
        eval("local a = {}; setmetatable(a,{__index=function() foo() end}) return a"),
        "*0\r\n"
    );
    assert_eq!(eval("return 100.5"), ":100\r\n");
    assert_eq!(eval("return -3.99"), ":-3\r\n");
    assert_eq!(eval("return 1e300"), ":-9223372036854775808\r\n");
    assert_eq!(eval("return 0/0"), ":-9223372036854775808\r\n");
    assert_eq!(eval("return true"), ":1\r\n");
    assert_eq!(eval("return false"), "$-1\r\n");
    assert_eq!(eval("return nil"), "$-1\r\n");
    assert_eq!(eval("return {ok='fine'}"), "+fine\r\n");
    assert_eq!(eval("return {err='ERR this is an error'}"), "-ERR this is an error\r\n");
    assert_eq!(eval("return {err=''}"), "-\r\n");
    assert_eq!(
        eval("return {1,2,3,'ciao',{1,2}}"),
        "*5\r\n:1\r\n:2\r\n:3\r\n$4\r\nciao\r\n*2\r\n:1\r\n:2\r\n"
    );
    assert_eq!(eval("return {1,2,nil,4}"), "*2\r\n:1\r\n:2\r\n");
    assert_eq!(eval("return {true, false, nil, 1}"), "*2\r\n:1\r\n$-1\r\n");
    assert_eq!(eval("return {double=0.1}"), "$3\r\n0.1\r\n", "7.4 formats with fpconv");
    assert_eq!(eval("return {double=3.0}"), "$1\r\n3\r\n");
    assert_eq!(eval("return {big_number='123'}"), "$3\r\n123\r\n");
    assert_eq!(
        eval("return {verbatim_string={format='txt', string='hi'}}"),
        "$2\r\nhi\r\n"
    );
    assert_eq!(eval("return {map={a=1}}"), "*2\r\n$1\r\na\r\n:1\r\n");
    assert_eq!(eval("return {set={a=true}}"), "*1\r\n$1\r\na\r\n");
    assert_eq!(eval("redis.setresp(3); return {true, false}"), "*2\r\n:1\r\n:0\r\n");
}

#[test]
fn lua_to_resp3() {
    let _g = lock();
    assert_eq!(eval3("return {true, false, nil, 1}"), "*2\r\n:1\r\n_\r\n");
    assert_eq!(eval3("redis.setresp(3); return {true, false}"), "*2\r\n#t\r\n#f\r\n");
    assert_eq!(eval3("return {double=3.0}"), ",3\r\n");
    assert_eq!(eval3("return {double=1/0}"), ",inf\r\n");
    assert_eq!(eval3("return {big_number='123'}"), "(123\r\n");
    assert_eq!(eval3("return {big_number='123\\r\\n123'}"), "(123  123\r\n");
    assert_eq!(
        eval3("return {verbatim_string={format='txt', string='hi'}}"),
        "=6\r\ntxt:hi\r\n"
    );
    assert_eq!(
        eval3("return {verbatim_string={format='x', string='hi'}}"),
        "=6\r\nx  :hi\r\n"
    );
    assert_eq!(eval3("return {map={a=1}}"), "%1\r\n$1\r\na\r\n:1\r\n");
    assert_eq!(eval3("return {set={a=true}}"), "~1\r\n$1\r\na\r\n");
    assert_eq!(eval3("return nil"), "_\r\n");
    assert_eq!(
        eval3("return {map={a={1,{ok='x'}}}}"),
        "%1\r\n$1\r\na\r\n*2\r\n:1\r\n+x\r\n"
    );
}

#[test]
fn resp_to_lua() {
    let _g = lock();
    let mut m = Mock::default();
    m.data.insert(b"mykey".to_vec(), Val::Str(b"myval".to_vec()));
    m.data.insert(b"x".to_vec(), Val::Str(b"0".to_vec()));
    let e = |m: &mut Mock, s: &str, keys: &[&str]| eval_with(m, s, keys, &[], false, false);
    assert_eq!(
        e(&mut m, "return redis.call('get',KEYS[1])", &["mykey"]),
        "$5\r\nmyval\r\n"
    );
    assert_eq!(
        e(
            &mut m,
            "local foo = redis.pcall('incr',KEYS[1]) return {type(foo),foo}",
            &["x"]
        ),
        "*2\r\n$6\r\nnumber\r\n:1\r\n"
    );
    assert_eq!(
        e(
            &mut m,
            "local foo = redis.pcall('set',KEYS[1],'myval') return {type(foo),foo['ok']}",
            &["mykey"]
        ),
        "*2\r\n$5\r\ntable\r\n$2\r\nOK\r\n"
    );
    assert_eq!(
        e(
            &mut m,
            "local foo = redis.pcall('incr',KEYS[1]) return {type(foo),foo['err']}",
            &["mykey"]
        ),
        "*2\r\n$5\r\ntable\r\n$43\r\nERR value is not an integer or out of range\r\n"
    );
    assert_eq!(
        e(
            &mut m,
            "local foo = redis.pcall('get',KEYS[1]) return {type(foo),foo == false}",
            &["nokey"]
        ),
        "*2\r\n$7\r\nboolean\r\n:1\r\n"
    );
    assert_eq!(
        eval_with(
            &mut m,
            "return {KEYS[1],KEYS[2],ARGV[1],ARGV[2]}",
            &["a{t}", "b{t}"],
            &["c{t}", "d{t}"],
            false,
            false
        ),
        "*4\r\n$4\r\na{t}\r\n$4\r\nb{t}\r\n$4\r\nc{t}\r\n$4\r\nd{t}\r\n"
    );
    // RESP3 from the backend after setresp(3), to both kinds of client.
    m.data.insert(
        b"hash".to_vec(),
        Val::Hash(vec![(b"field".to_vec(), b"value".to_vec())]),
    );
    let hgetall = |resp: u8| format!("redis.setresp({}); return redis.call('hgetall', KEYS[1])", resp);
    assert_eq!(
        eval_with(&mut m, &hgetall(3), &["hash"], &[], false, true),
        "%1\r\n$5\r\nfield\r\n$5\r\nvalue\r\n"
    );
    assert_eq!(
        eval_with(&mut m, &hgetall(2), &["hash"], &[], false, true),
        "*2\r\n$5\r\nfield\r\n$5\r\nvalue\r\n"
    );
    assert_eq!(
        eval_with(&mut m, &hgetall(3), &["hash"], &[], false, false),
        "*2\r\n$5\r\nfield\r\n$5\r\nvalue\r\n"
    );
    // DEBUG PROTOCOL-like replies, as in scripting.tcl "test RESP3/3 ...".
    let proto = |t: &str, lua: u8, client3: bool| {
        eval_with(
            &mut Mock::default(),
            &format!("redis.setresp({}); return redis.call('proto', '{}')", lua, t),
            &[],
            &[],
            false,
            client3,
        )
    };
    assert_eq!(proto("bignum", 3, true), "(1234567999999999999999999999999999999\r\n");
    assert_eq!(
        proto("bignum", 2, true),
        "$37\r\n1234567999999999999999999999999999999\r\n"
    );
    assert_eq!(
        proto("bignum", 3, false),
        "$37\r\n1234567999999999999999999999999999999\r\n"
    );
    assert_eq!(proto("map", 3, true), "%2\r\n:1\r\n#t\r\n:2\r\n#f\r\n");
    assert_eq!(proto("map", 3, false), "*4\r\n:1\r\n:1\r\n:2\r\n:0\r\n");
    assert_eq!(proto("set", 3, true), "~2\r\n:0\r\n:1\r\n");
    assert_eq!(proto("double", 3, true), ",3.141\r\n");
    assert_eq!(proto("double", 3, false), "$5\r\n3.141\r\n");
    assert_eq!(proto("double", 2, true), "$5\r\n3.141\r\n");
    assert_eq!(proto("null", 3, true), "_\r\n");
    assert_eq!(proto("null", 3, false), "$-1\r\n");
    assert_eq!(proto("null", 2, false), "$-1\r\n");
    assert_eq!(proto("verbatim", 3, true), "=29\r\ntxt:This is a verbatim\nstring\r\n");
    assert_eq!(proto("verbatim", 3, false), "$25\r\nThis is a verbatim\nstring\r\n");
    assert_eq!(proto("true", 3, true), "#t\r\n");
    assert_eq!(proto("true", 3, false), ":1\r\n");
    assert_eq!(proto("false", 3, true), "#f\r\n");
    assert_eq!(proto("false", 2, true), ":0\r\n");
    assert_eq!(
        proto("attrib", 3, true),
        "$39\r\nSome real reply following the attribute\r\n"
    );
    // Types as Lua sees them.
    let types = "redis.setresp(3); local t = {}; for _, n in ipairs({'double','bignum','verbatim','null','true','nullarray'}) do local v = redis.call('proto', n); if type(v) == 'table' then for k, _ in pairs(v) do table.insert(t, k) end else table.insert(t, type(v)) end end; return t";
    assert_eq!(
        eval(types),
        "*6\r\n$6\r\ndouble\r\n$10\r\nbig_number\r\n$15\r\nverbatim_string\r\n$3\r\nnil\r\n$7\r\nboolean\r\n$7\r\nboolean\r\n"
    );
    // Errors inside arrays stay tables and do not raise.
    assert_eq!(
        eval("local r = redis.call('proto', 'nested'); return {r[1][1]['err'], r[2]['ok']}"),
        "*2\r\n$9\r\nERR inner\r\n$2\r\nOK\r\n"
    );
}

#[test]
fn runtime_errors() {
    let _g = lock();
    let cases: &[(&str, &str)] = &[
        ("error('x')", "-ERR user_script:1: x"),
        (
            "return a",
            "-ERR user_script:1: Script attempted to access nonexistent global variable 'a'",
        ),
        ("a=10", "-ERR user_script:1: Attempt to modify a readonly table"),
        ("setmetatable(_G, {})", "-ERR Attempt to modify a readonly table"),
        (
            "local g = getmetatable(_G); g.__index = {}",
            "-ERR user_script:1: Attempt to modify a readonly table",
        ),
        (
            "redis.call = function() return 1 end",
            "-ERR user_script:1: Attempt to modify a readonly table",
        ),
        (
            "redis = function() return 1 end",
            "-ERR user_script:1: Attempt to modify a readonly table",
        ),
        ("_G = {}", "-ERR user_script:1: Attempt to modify a readonly table"),
        (
            "string.rep = 1",
            "-ERR user_script:1: Attempt to modify a readonly table",
        ),
        ("rawset(_G, 'x', 1)", "-ERR Attempt to modify a readonly table"),
        ("rawset(redis, 'call', 1)", "-ERR Attempt to modify a readonly table"),
        ("table.insert(redis, 1)", "-ERR Attempt to modify a readonly table"),
        (
            "table.insert(string, 1, 'x')",
            "-ERR Attempt to modify a readonly table",
        ),
        (
            "table.insert(nil, 1)",
            "-ERR user_script:1: bad argument #1 to 'insert' (table expected, got nil)",
        ),
        (
            "table.insert({}, 1, 2, 3)",
            "-ERR user_script:1: wrong number of arguments to 'insert'",
        ),
        (
            "getmetatable('').__index.rep = 1",
            "-ERR user_script:1: Attempt to modify a readonly table",
        ),
        (
            "return string.rep()",
            "-ERR user_script:1: bad argument #1 to 'rep' (string expected, got no value)",
        ),
        (
            "redis.call('nosuchcommand')",
            "-ERR Unknown Redis command called from script",
        ),
        (
            "redis.call('get','a','b','c')",
            "-ERR Wrong number of args calling Redis command from script",
        ),
        ("error({err='boom'})", "-boom"),
        ("error()", "-ERR nil"),
        ("error(true)", "-ERR true"),
        (
            "return redis.call()",
            "-ERR Please specify at least one argument for this redis lib call",
        ),
        (
            "return redis.call('ping', {})",
            "-ERR Lua redis lib command arguments must be strings or integers",
        ),
        ("redis.setresp(4)", "-ERR RESP version must be 2 or 3."),
        ("redis.setresp()", "-ERR redis.setresp() requires one argument."),
        ("redis.set_repl()", "-ERR redis.set_repl() requires one argument."),
        (
            "redis.set_repl(12345)",
            "-ERR Invalid replication flags. Use REPL_AOF, REPL_REPLICA, REPL_ALL or REPL_NONE.",
        ),
        ("redis.log(1)", "-ERR redis.log() requires two arguments or more."),
        ("redis.log('x',1)", "-ERR First argument must be a number (log level)."),
        ("redis.log(9,1)", "-ERR Invalid log level."),
        ("redis.sha1hex()", "-ERR wrong number of arguments"),
        (
            "return redis.acl_check_cmd('nosuch-cmd','arg')",
            "-ERR Invalid command passed to redis.acl_check_cmd()",
        ),
        (
            "print('some data')",
            "-ERR user_script:1: Script attempted to access nonexistent global variable 'print'",
        ),
        (
            "loadfile('x')",
            "-ERR user_script:1: Script attempted to access nonexistent global variable 'loadfile'",
        ),
        (
            "dofile('x')",
            "-ERR user_script:1: Script attempted to access nonexistent global variable 'dofile'",
        ),
        (
            "require('x')",
            "-ERR user_script:1: Script attempted to access nonexistent global variable 'require'",
        ),
        (
            "debug.getinfo(1)",
            "-ERR user_script:1: Script attempted to access nonexistent global variable 'debug'",
        ),
        (
            "os.execute()",
            "-ERR user_script:1: attempt to call field 'execute' (a nil value)",
        ),
        (
            "os.exit()",
            "-ERR user_script:1: attempt to call field 'exit' (a nil value)",
        ),
        (
            "os.getenv()",
            "-ERR user_script:1: attempt to call field 'getenv' (a nil value)",
        ),
        (
            "return loadstring(string.dump(function() return 1 end))()",
            "-ERR user_script:1: attempt to call a nil value",
        ),
        ("error('a\\nb')", "-ERR user_script:1: a b"),
        ("error('a\\n')", "-ERR user_script:1: a "),
        ("error({err='\\r\\nx\\n'})", "-  x "),
    ];
    for (body, want) in cases {
        assert_eq!(eval(body), format!("{}{}", want, at(body, 1)), "{}", body);
    }
    let body = "local x = 1\nredis.call('nosuch')";
    assert_eq!(
        eval(body),
        format!("-ERR Unknown Redis command called from script{}", at(body, 2))
    );
    // Errors Lua code returns are replies as they are.
    assert_eq!(
        eval("return redis.pcall('nosuch')"),
        "-ERR Unknown Redis command called from script\r\n"
    );
    assert_eq!(
        eval("return redis.pcall()"),
        "-ERR Please specify at least one argument for this redis lib call\r\n"
    );
    assert_eq!(
        eval("return redis.pcall('ping', {})"),
        "-ERR Lua redis lib command arguments must be strings or integers\r\n"
    );
    assert_eq!(eval("return redis.error_reply('')"), "-ERR \r\n");
    assert_eq!(eval("return redis.error_reply('MYERR')"), "-ERR MYERR\r\n");
    assert_eq!(eval("return redis.error_reply('-MYERR x')"), "-MYERR x\r\n");
    assert_eq!(
        eval("return redis.error_reply('MY_ERR_CODE custom msg')"),
        "-MY_ERR_CODE custom msg\r\n"
    );
    assert_eq!(eval("return redis.error_reply('x\\ny\\n')"), "-ERR x y\r\n");
    assert_eq!(eval("return redis.error_reply('\\r\\nx')"), "-ERR x\r\n");
    assert_eq!(
        eval("return redis.error_reply()"),
        "-ERR wrong number or type of arguments\r\n"
    );
    assert_eq!(
        eval("return redis.status_reply(1)"),
        "-ERR wrong number or type of arguments\r\n"
    );
    assert_eq!(
        eval("return redis.status_reply('MY_OK_CODE custom msg')"),
        "+MY_OK_CODE custom msg\r\n"
    );
    assert_eq!(eval("return redis.status_reply('x\\ny')"), "+x y\r\n");
    assert_eq!(eval("return {err='x\\ny'}"), "-x y\r\n");
    assert_eq!(eval("return {err='\\nx'}"), "- x\r\n");
    assert_eq!(
        eval("return {pcall(redis.call, 'nosuch')}"),
        "*2\r\n$-1\r\n$44\r\nERR Unknown Redis command called from script\r\n"
    );
    assert_eq!(eval("return {pcall(error, {x=1})}"), "*2\r\n$-1\r\n*0\r\n");
    assert_eq!(
        eval("local status, res = pcall(function() return 1 end); return 'status: ' .. tostring(status) .. ' result: ' .. res"),
        "$22\r\nstatus: true result: 1\r\n"
    );
    assert_eq!(
        eval("local status, res = pcall(function() return foo end); return 'status: ' .. tostring(status) .. ' result: ' .. res"),
        "$97\r\nstatus: false result: user_script:1: Script attempted to access nonexistent global variable 'foo'\r\n"
    );
    // WRONGTYPE keeps its code.
    let mut m = Mock::default();
    m.data.insert(b"foo".to_vec(), Val::Hash(vec![]));
    let body = "redis.call('get',KEYS[1])";
    assert_eq!(
        eval_with(&mut m, body, &["foo"], &[], false, false),
        format!(
            "-WRONGTYPE Operation against a key holding the wrong kind of value{}",
            at(body, 1)
        )
    );
}

#[test]
fn errors_from_commands_are_marked_counted() {
    let _g = lock();
    let mut m = Mock::default();
    let counted = |m: &mut Mock, body: &str| {
        let mut out = Vec::new();
        Engine::with(|e| {
            e.eval(body.as_bytes(), &[], &[], false, false, m, &mut out);
            e.last_error_counted()
        })
    };
    assert!(counted(&mut m, "return redis.call('nosuch')"));
    assert!(counted(&mut m, "return redis.pcall('nosuch')"));
    assert!(!counted(&mut m, "error('x')"));
    assert!(!counted(&mut m, "return redis.error_reply('X y')"));
    assert!(!counted(&mut m, "return {err='x'}"));
    assert!(!counted(&mut m, "return 1"));
}

#[test]
fn compile_and_shebang_errors() {
    let _g = lock();
    assert_eq!(
        eval("return 1 +"),
        "-ERR Error compiling script (new function): user_script:1: unexpected symbol near '<eof>'\r\n"
    );
    assert_eq!(
        eval("#!lua flags=no-writes\nreturn 1 +"),
        "-ERR Error compiling script (new function): user_script:2: unexpected symbol near '<eof>'\r\n"
    );
    assert_eq!(
        eval("\x1bLuaQ\x00\x01"),
        "-ERR Error compiling script (new function): user_script:1: unexpected symbol near 'char(27)'\r\n"
    );
    assert_eq!(eval("#!lua flags=no-writes,bad"), "-ERR Invalid script shebang\r\n");
    assert_eq!(eval("#!lua x=y\nreturn 1"), "-ERR Unknown lua shebang option: x=y\r\n");
    assert_eq!(
        eval("#!not-lua\nreturn 1"),
        "-ERR Unexpected engine in script shebang: #!not-lua\r\n"
    );
    assert_eq!(
        eval("#!lua flags=allow-oom,what?\nreturn 1"),
        "-ERR Unexpected flag in script shebang: what?\r\n"
    );
    assert_eq!(eval("#!lua\nreturn 1"), ":1\r\n");
    assert_eq!(eval("#!\"lua\" flags=\"no-writes\"\nreturn 1"), ":1\r\n");
    assert_eq!(eval("return 'hello' --trailing comment"), "$5\r\nhello\r\n");
    // Line numbers count the shebang line.
    let body = "#!lua\nerror('x')";
    assert_eq!(eval(body), format!("-ERR user_script:2: x{}", at(body, 2)));
}

#[test]
fn flags_reach_the_backend() {
    let _g = lock();
    let mut m = Mock::default();
    eval_with(
        &mut m,
        "#!lua flags=no-writes,allow-stale\nreturn 1",
        &[],
        &[],
        true,
        false,
    );
    eval_with(&mut m, "return 2", &[], &[], false, false);
    let nw = ScriptFlags {
        declared: true,
        no_writes: true,
        allow_stale: true,
        ..Default::default()
    };
    assert_eq!(
        m.began,
        vec![(Kind::Eval, nw, true), (Kind::Eval, ScriptFlags::default(), false)]
    );
    let body = "#!lua flags=no-writes,allow-stale\nreturn 1";
    Engine::with(|e| {
        assert_eq!(e.eval_flags(body.as_bytes()), Some(nw));
        assert_eq!(e.evalsha_flags(sha(body).to_uppercase().as_bytes()), Some(nw));
        assert_eq!(e.eval_flags(b"#!lua flags=bad\nreturn 1"), None);
        assert_eq!(
            e.eval_flags(b"#!lua flags=allow-oom\nreturn 1 +").map(|f| f.allow_oom),
            Some(true)
        );
        assert_eq!(e.eval_flags(b"return 99 -- never run"), Some(ScriptFlags::default()));
        assert_eq!(e.evalsha_flags(b"ffd632c7d33e571e9f24556ebed26c3479a87130"), None);
    });
    // begin() refusing: its error is the reply, nothing runs.
    let mut m = Mock {
        begin_err: Some(
            b"OOM allow-oom flag is not set on the script, can not run it when used memory > 'maxmemory'".to_vec(),
        ),
        ..Default::default()
    };
    assert_eq!(
        eval_with(&mut m, "#!lua\nredis.call('set','x','1')", &[], &[], false, false),
        "-OOM allow-oom flag is not set on the script, can not run it when used memory > 'maxmemory'\r\n"
    );
    assert!(m.calls.is_empty());
    // A read-only run: the backend refuses writes.
    let mut m = Mock::default();
    let body = "redis.call('del', KEYS[1]);";
    assert_eq!(
        eval_with(&mut m, body, &["foo"], &[], true, false),
        format!(
            "-ERR Write commands are not allowed from read-only scripts.{}",
            at(body, 1)
        )
    );
}

#[test]
fn redis_api() {
    let _g = lock();
    assert_eq!(
        eval("return {redis.sha1hex(''), redis.sha1hex('Pizza & Mandolino'), redis.sha1hex(nil), redis.sha1hex(1.5)}"),
        "*4\r\n$40\r\nda39a3ee5e6b4b0d3255bfef95601890afd80709\r\n$40\r\n74822d82031af7493c20eefa13bd07ec4fada82f\r\n$40\r\nda39a3ee5e6b4b0d3255bfef95601890afd80709\r\n$40\r\naa8f289ebe6d4db1b4a1038b8931ec8c2b5399fb\r\n"
    );
    assert_eq!(
        eval("return {redis.breakpoint(), redis.debug(1), redis.replicate_commands()}"),
        "*1\r\n$-1\r\n"
    );
    assert_eq!(eval("return redis.replicate_commands()"), ":1\r\n");
    assert_eq!(eval("return redis.REDIS_VERSION_NUM"), ":459777\r\n");
    assert_eq!(eval("return redis.REDIS_VERSION"), "$5\r\n7.4.1\r\n");
    assert_eq!(
        eval("return {redis.REPL_NONE, redis.REPL_AOF, redis.REPL_SLAVE, redis.REPL_REPLICA, redis.REPL_ALL, redis.LOG_DEBUG, redis.LOG_VERBOSE, redis.LOG_NOTICE, redis.LOG_WARNING}"),
        "*9\r\n:0\r\n:1\r\n:2\r\n:2\r\n:3\r\n:0\r\n:1\r\n:2\r\n:3\r\n"
    );
    assert_eq!(
        eval("redis.set_repl(redis.REPL_ALL); redis.set_repl(redis.REPL_NONE); return 1"),
        ":1\r\n"
    );
    assert_eq!(eval("redis.log(redis.LOG_DEBUG, 'x', 1, {}, 'y'); return 1"), ":1\r\n");
    assert_eq!(eval("return redis.acl_check_cmd('set','xx',1)"), ":1\r\n");
    assert_eq!(eval("return redis.acl_check_cmd('config','get','x')"), ":1\r\n");
    assert_eq!(eval("return _VERSION"), "$7\r\nLua 5.1\r\n");
    // Number arguments (7.4 formats non-integers with fpconv).
    let mut m = Mock::default();
    eval_with(
        &mut m,
        "redis.call('echo', 1.5, 1e20, 3, 1/0, -0.0, 1e-7, 123456789012345678, 0.1, 9007199254740991)",
        &[],
        &[],
        false,
        false,
    );
    let args: Vec<String> = m.calls[0].iter().map(|a| show(a)).collect();
    assert_eq!(
        args,
        [
            "echo",
            "1.5",
            "1e+20",
            "3",
            "inf",
            "0",
            "1e-7",
            "123456789012345680",
            "0.1",
            "9007199254740991"
        ]
    );
    // The PRNG: lrand48 seeded like Redis.
    assert_eq!(
        eval("math.randomseed(10); return tostring(math.random())"),
        "$16\r\n0.87885112309775\r\n"
    );
    assert_eq!(
        eval("math.randomseed(10); return {math.random(100), math.random(5,10)}"),
        "*2\r\n:88\r\n:9\r\n"
    );
    let a = eval("return tostring(math.random())");
    assert_ne!(a, eval("return tostring(math.random())"));
    assert!(eval("return math.random(0)").contains("interval is empty"));
    // os.clock exists and counts.
    assert_eq!(eval("return type(os.clock())"), "$6\r\nnumber\r\n");
}

#[test]
fn sandbox() {
    let _g = lock();
    let only_clock = r#"
        local found = {}
        for key, value in pairs(os) do table.insert(found, key .. ":" .. type(value)) end
        return found"#;
    assert_eq!(eval(only_clock), "*1\r\n$14\r\nclock:function\r\n");
    let globals = "local n = {} for k in pairs(_G) do n[#n+1] = k end table.sort(n) return n";
    let got = eval(globals);
    #[rustfmt::skip]
    let want = [
        "_G", "_VERSION", "__redis__err__handler", "assert", "bit", "cjson", "cmsgpack", "collectgarbage",
        "coroutine", "error", "gcinfo", "getmetatable", "ipairs", "load", "loadstring", "math", "next", "os",
        "pairs", "pcall", "rawequal", "rawget", "rawset", "redis", "select", "setmetatable", "string", "struct",
        "table", "tonumber", "tostring", "type", "unpack", "xpcall",
    ];
    for w in want {
        assert!(got.contains(&format!("\r\n{}\r\n", w)), "{} missing from {}", w, got);
    }
    assert!(!got.contains("print"));
    // The list above plus KEYS and ARGV.
    assert!(got.starts_with(&format!("*{}\r\n", want.len() + 2)), "{}", got);
    assert_eq!(eval("return rawget(_G, 'redis') ~= nil"), ":1\r\n");
    assert_eq!(eval("return rawget(_G, 'nosuch') == nil"), ":1\r\n");
    assert_eq!(eval("return getmetatable(redis) == nil"), ":1\r\n");
    assert_eq!(eval("return type(getmetatable(_G).__index)"), "$8\r\nfunction\r\n");
    assert_eq!(eval("return next(redis) ~= nil"), ":1\r\n");
    assert_eq!(
        eval("local n = 0 for _ in pairs(redis) do n = n + 1 end return n"),
        ":23\r\n"
    );
    assert_eq!(eval("return select(1, pairs({})) == next"), ":1\r\n");
    assert_eq!(eval("return ('abc'):upper()"), "$3\r\nABC\r\n");
    assert_eq!(eval("return getmetatable('').__index == string"), ":1\r\n");
    assert_eq!(eval("return getmetatable('abc') == getmetatable('')"), ":1\r\n");
    assert_eq!(
        eval("local t = setmetatable({}, {}) return getmetatable(t) ~= nil"),
        ":1\r\n"
    );
    assert_eq!(
        eval("local t = setmetatable({}, {__metatable='no'}) return getmetatable(t)"),
        "$2\r\nno\r\n"
    );
    assert_eq!(eval("local f = loadstring('return 1 + 1') return f()"), ":2\r\n");
    assert_eq!(
        eval("local f, e = loadstring('x +') return e"),
        "$39\r\n[string \"x +\"]:1: '=' expected near '+'\r\n"
    );
    assert!(eval("local f, e = loadstring(string.dump(function() end)) return e").contains("char(27)"));
    assert_eq!(
        eval("local p = {'return ', '4'} local i = 0 local f = load(function() i = i + 1 return p[i] end) return f()"),
        ":4\r\n"
    );
    assert_eq!(
        eval("local t = {} for i, v in ipairs({5,6,7}) do t[#t+1] = i * v end return t"),
        "*3\r\n:5\r\n:12\r\n:21\r\n"
    );
    assert_eq!(eval("local co = coroutine.create(function(a) coroutine.yield(a + 1) end) local ok, v = coroutine.resume(co, 1) return v"), ":2\r\n");
    assert_eq!(eval("return type(redis)"), "$5\r\ntable\r\n");
    // Local variables and functions are fine.
    assert_eq!(
        eval("local function f(x) return x * 2 end local a = f(21) return a"),
        ":42\r\n"
    );
    // KEYS and ARGV are per call.
    assert_eq!(
        eval_with(
            &mut Mock::default(),
            "return #KEYS + #ARGV",
            &["a"],
            &["b", "c"],
            false,
            false
        ),
        ":3\r\n"
    );
    assert_eq!(eval("return #KEYS + #ARGV"), ":0\r\n");
}

#[test]
fn recursive_result_hits_the_stack_limit() {
    let _g = lock();
    let out = eval("local a = {}; local b = {a}; a[1] = b; return a");
    assert!(out.ends_with("-ERR reached lua stack limit\r\n"));
    let depth = out.matches("*1\r\n").count();
    assert!(depth > 7000 && depth < 8000, "{}", depth);
    assert_eq!(out.len(), depth * 4 + "-ERR reached lua stack limit\r\n".len());
}

#[test]
fn evalsha_and_script_commands() {
    let _g = lock();
    let mut m = Mock::default();
    m.data.insert(b"mykey".to_vec(), Val::Str(b"myval".to_vec()));
    let body = "return redis.call('get',KEYS[1])";
    assert_eq!(sha(body), "fd758d1589d044dd850a6f05d52f2eefd27f033f");
    assert_eq!(
        script(&["SCRIPT", "LOAD", body], false),
        "$40\r\nfd758d1589d044dd850a6f05d52f2eefd27f033f\r\n"
    );
    let evalsha = |m: &mut Mock, s: &str| {
        let mut out = Vec::new();
        Engine::with(|e| e.evalsha(s.as_bytes(), &[b"mykey"], &[], false, false, m, &mut out));
        show(&out)
    };
    assert_eq!(
        evalsha(&mut m, "fd758d1589d044dd850a6f05d52f2eefd27f033f"),
        "$5\r\nmyval\r\n"
    );
    assert_eq!(
        evalsha(&mut m, "FD758D1589D044DD850A6F05D52F2EEFD27F033F"),
        "$5\r\nmyval\r\n"
    );
    assert_eq!(
        evalsha(&mut m, "NotValidShaSUM"),
        "-NOSCRIPT No matching script. Please use EVAL.\r\n"
    );
    assert_eq!(
        evalsha(&mut m, "ffd632c7d33e571e9f24556ebed26c3479a87130"),
        "-NOSCRIPT No matching script. Please use EVAL.\r\n"
    );
    assert_eq!(script(&["SCRIPT", "FLUSH"], false), "+OK\r\n");
    assert_eq!(
        evalsha(&mut m, "fd758d1589d044dd850a6f05d52f2eefd27f033f"),
        "-NOSCRIPT No matching script. Please use EVAL.\r\n"
    );
    eval("return 1+1");
    assert_eq!(
        script(
            &[
                "SCRIPT",
                "EXISTS",
                "a27e7e8a43702b7046d4f6a7ccf5b60cef6b9bd9",
                "A27E7E8A43702B7046D4F6A7CCF5B60CEF6B9BD9",
                "a27e7e8a43702b7046d4f6a7ccf5b60cef6b9bda",
                "x"
            ],
            false
        ),
        "*4\r\n:1\r\n:1\r\n:0\r\n:0\r\n"
    );
    assert_eq!(
        script(&["SCRIPT", "LOAD", "return 'loaded'"], false),
        "$40\r\nb534286061d4b9e4026607613b95c06c06015ae8\r\n"
    );
    assert_eq!(
        evalsha(&mut m, "b534286061d4b9e4026607613b95c06c06015ae8"),
        "$6\r\nloaded\r\n"
    );
    assert_eq!(
        script(&["SCRIPT", "LOAD", "return 1 +"], false),
        "-ERR Error compiling script (new function): user_script:1: unexpected symbol near '<eof>'\r\n"
    );
    assert_eq!(
        script(&["SCRIPT", "LOAD", "#!lua x=1\n"], false),
        "-ERR Unknown lua shebang option: x=1\r\n"
    );
    assert_eq!(script(&["SCRIPT", "FLUSH", "ASYNC"], false), "+OK\r\n");
    assert_eq!(script(&["SCRIPT", "FLUSH", "sync"], false), "+OK\r\n");
    assert_eq!(
        script(&["SCRIPT", "FLUSH", "x"], false),
        "-ERR SCRIPT FLUSH only support SYNC|ASYNC option\r\n"
    );
    assert_eq!(
        script(&["SCRIPT", "FLUSH", "sync", "x"], false),
        "-ERR SCRIPT FLUSH only support SYNC|ASYNC option\r\n"
    );
    assert_eq!(
        script(&["SCRIPT", "FOO"], false),
        "-ERR unknown subcommand 'FOO'. Try SCRIPT HELP.\r\n"
    );
    assert_eq!(
        script(&["SCRIPT"], false),
        "-ERR wrong number of arguments for 'script' command\r\n"
    );
    assert_eq!(
        script(&["SCRIPT", "LOAD"], false),
        "-ERR wrong number of arguments for 'script|load' command\r\n"
    );
    assert_eq!(
        script(&["SCRIPT", "exists"], false),
        "-ERR wrong number of arguments for 'script|exists' command\r\n"
    );
    assert_eq!(
        script(&["SCRIPT", "KILL"], false),
        "-NOTBUSY No scripts in execution right now.\r\n"
    );
    assert_eq!(script(&["SCRIPT", "DEBUG", "no"], false), "+OK\r\n");
    assert_eq!(
        script(&["SCRIPT", "DEBUG", "x"], false),
        "-ERR Use SCRIPT DEBUG YES/SYNC/NO\r\n"
    );
    let help = script(&["SCRIPT", "HELP"], false);
    assert!(help.starts_with(
        "*17\r\n+SCRIPT <subcommand> [<arg> [value] [opt] ...]. Subcommands are:\r\n+DEBUG (YES|SYNC|NO)\r\n"
    ));
    assert!(help.ends_with("+LOAD <script>\r\n+    Load a script into the scripts cache without executing it.\r\n+HELP\r\n+    Print this help.\r\n"));
    // EVALSHA on another thread finds a script EVAL cached here.
    let body = "return 'cross-thread'";
    eval(body);
    let s = sha(body);
    let got = std::thread::spawn(move || {
        let mut out = Vec::new();
        Engine::with(|e| e.evalsha(s.as_bytes(), &[], &[], false, false, &mut Mock::default(), &mut out));
        show(&out)
    })
    .join()
    .unwrap();
    assert_eq!(got, "$12\r\ncross-thread\r\n");
    // SCRIPT FLUSH on another thread is seen here.
    std::thread::spawn(|| script(&["SCRIPT", "FLUSH"], false))
        .join()
        .unwrap();
    let s = sha(body);
    assert_eq!(
        evalsha(&mut m, &s),
        "-NOSCRIPT No matching script. Please use EVAL.\r\n"
    );
}

#[test]
fn eval_scripts_are_evicted_lru() {
    let _g = lock();
    script(&["SCRIPT", "FLUSH"], false);
    reset_stats();
    for j in 1..=250 {
        eval(&format!("return {}", j));
    }
    for j in 251..=500 {
        eval_with(&mut Mock::default(), &format!("return {}", j), &[], &[], true, false);
    }
    assert_eq!(stats().cached_scripts, 500);
    let evalsha = |s: &str| {
        let mut out = Vec::new();
        Engine::with(|e| e.evalsha(s.as_bytes(), &[], &[], false, false, &mut Mock::default(), &mut out));
        show(&out)
    };
    // "return 1" e0e1f9fa..., "return 2" 7f923f79..., "return 3" 09d3822d..., "return 500" 98fe6589...
    assert_eq!(evalsha("e0e1f9fabfc9d4800c877a703b823ac0578ff8db"), ":1\r\n");
    assert_eq!(evalsha("7f923f79fe76194c868d7e1d0820de36700eb649"), ":2\r\n");
    eval("return 1000");
    assert_eq!(evalsha("e0e1f9fabfc9d4800c877a703b823ac0578ff8db"), ":1\r\n");
    assert_eq!(
        evalsha("09d3822de862f46d784e6a36848b4f0736dda47a"),
        "-NOSCRIPT No matching script. Please use EVAL.\r\n"
    );
    assert_eq!(evalsha("98fe65896b61b785c5ed328a5a0a1421f4f1490c"), ":500\r\n");
    assert_eq!(stats().evicted_scripts, 1);
    assert_eq!(stats().cached_scripts, 500);
    // SCRIPT LOAD scripts are never evicted.
    for j in 1..=20 {
        script(&["SCRIPT", "LOAD", &format!("return 'loaded {}'", j)], false);
    }
    for j in 2000..2100 {
        eval(&format!("return {}", j));
    }
    assert_eq!(stats().cached_scripts, 520);
    assert_eq!(stats().evicted_scripts, 101);
    script(&["SCRIPT", "FLUSH"], false);
    assert_eq!(stats().cached_scripts, 0);
}

const LIB_TEST: &str = "#!lua name=test\nredis.register_function('test', function(KEYS, ARGV)\n return 'hello' \nend)";

#[test]
fn functions_basics() {
    let _g = lock();
    assert_eq!(function(&["FUNCTION", "FLUSH"], false), "+OK\r\n");
    assert_eq!(function(&["FUNCTION", "LOAD", LIB_TEST], false), "$4\r\ntest\r\n");
    assert_eq!(fcall("test"), "$5\r\nhello\r\n");
    assert_eq!(fcall("TEST"), "$5\r\nhello\r\n");
    assert_eq!(
        function(&["FUNCTION", "LOAD", "foo", "bar", LIB_TEST], false),
        "-ERR Unknown option given: foo\r\n"
    );
    assert_eq!(
        function(&["FUNCTION", "LOAD", LIB_TEST], false),
        "-ERR Library 'test' already exists\r\n"
    );
    assert_eq!(
        function(&["FUNCTION", "LOAD", "#!lua name=bad\\0foramat\nx"], false),
        "-ERR Library names can only contain letters, numbers, or underscores(_) and must be at least one character long\r\n"
    );
    assert_eq!(
        function(&["FUNCTION", "LOAD", "#!bad_engine name=test\nx"], false),
        "-ERR Engine 'bad_engine' not found\r\n"
    );
    assert_eq!(
        load("#!lua name=test\nredis.register_function('test', function(KEYS, ARGV)\n bad script \nend)"),
        "-ERR Error compiling function: user_function:3: '=' expected near 'script'\r\n"
    );
    assert_eq!(fcall("test"), "$5\r\nhello\r\n", "failed REPLACE keeps the old library");
    assert_eq!(load(&LIB_TEST.replace("'hello'", "'hello1'")), "$4\r\ntest\r\n");
    assert_eq!(fcall("test"), "$6\r\nhello1\r\n");
    assert_eq!(function(&["FUNCTION", "DELETE", "test"], false), "+OK\r\n");
    assert_eq!(fcall("test"), "-ERR Function not found\r\n");
    assert_eq!(
        function(&["FUNCTION", "DELETE", "test1"], false),
        "-ERR Library not found\r\n"
    );
    assert_eq!(
        function(&["FUNCTION", "KILL"], false),
        "-NOTBUSY No scripts in execution right now.\r\n"
    );
    assert_eq!(
        function(&["FUNCTION", "bad_subcommand"], false),
        "-ERR unknown subcommand 'bad_subcommand'. Try FUNCTION HELP.\r\n"
    );
    assert_eq!(
        function(&["FUNCTION"], false),
        "-ERR wrong number of arguments for 'function' command\r\n"
    );
    assert_eq!(
        function(&["FUNCTION", "LOAD"], false),
        "-ERR wrong number of arguments for 'function|load' command\r\n"
    );
    assert_eq!(
        function(&["FUNCTION", "DUMP", "x"], false),
        "-ERR wrong number of arguments for 'function|dump' command\r\n"
    );
    assert_eq!(
        function(&["FUNCTION", "FLUSH", "bad_arg"], false),
        "-ERR FUNCTION FLUSH only supports SYNC|ASYNC option\r\n"
    );
    assert_eq!(
        function(&["FUNCTION", "flush", "sync", "extra_arg"], false),
        "-ERR unknown subcommand or wrong number of arguments for 'flush'. Try FUNCTION HELP.\r\n"
    );
    assert_eq!(
        function(&["FUNCTION", "restore", "arg1", "args2", "arg3"], false),
        "-ERR unknown subcommand or wrong number of arguments for 'restore'. Try FUNCTION HELP.\r\n"
    );
    let help = function(&["FUNCTION", "HELP"], false);
    assert!(help.starts_with("*39\r\n+FUNCTION <subcommand> [<arg> [value] [opt] ...]. Subcommands are:\r\n+LOAD [REPLACE] <FUNCTION CODE>\r\n"));
    // Runtime errors name the function.
    load("#!lua name=lib2\nredis.register_function{function_name='f2', callback=function(k, a) error('boom') end, flags={'no-writes', 'allow-stale'}, description='d'}");
    assert_eq!(
        fcall("f2"),
        "-ERR user_function:2: boom script: f2, on @user_function:2.\r\n"
    );
    // KEYS and ARGV are the callback's arguments.
    load("#!lua name=lib4\nredis.register_function{function_name='g1', callback=function(k, a) return {k[1], a[1], redis.setresp(3)} end, flags={'NO-WRITES', 'allow-oom'}, description='desc'}");
    assert_eq!(
        fcall_with(&mut Mock::default(), "G1", &["k1"], &["a1"], false, false),
        "*2\r\n$2\r\nk1\r\n$2\r\na1\r\n"
    );
    Engine::with(|e| {
        let f = e.fcall_flags(b"g1").unwrap();
        assert!(f.declared && f.no_writes && f.allow_oom && !f.allow_stale);
        assert_eq!(e.fcall_flags(b"nosuch"), None);
        assert_eq!(
            e.fcall_flags(b"f2").map(|f| (f.no_writes, f.allow_stale)),
            Some((true, true))
        );
    });
    let mut m = Mock::default();
    fcall_with(&mut m, "g1", &[], &[], true, false);
    assert_eq!(m.began[0].0, Kind::Function);
    assert!(m.began[0].2);
    function(&["FUNCTION", "FLUSH"], false);
}

#[test]
fn function_load_errors() {
    let _g = lock();
    function(&["FUNCTION", "FLUSH"], false);
    let cases: &[(&str, &str)] = &[
        ("redis.register_function('f1')", "-ERR Error registering functions: ERR calling redis.register_function with a single argument is only applicable to Lua table (representing named arguments).\r\n"),
        ("redis.register_function()", "-ERR Error registering functions: ERR wrong number of arguments to redis.register_function\r\n"),
        ("redis.register_function('f1', function() return 1 end, {}, 'description', 'extra arg')", "-ERR Error registering functions: ERR wrong number of arguments to redis.register_function\r\n"),
        ("redis.register_function(nil, function() return 1 end)", "-ERR Error registering functions: ERR first argument to redis.register_function must be a string\r\n"),
        ("redis.register_function('f1', 'x')", "-ERR Error registering functions: ERR second argument to redis.register_function must be a function\r\n"),
        ("redis.register_function('a-b', function() end)", "-ERR Error registering functions: ERR Library names can only contain letters, numbers, or underscores(_) and must be at least one character long\r\n"),
        ("redis.register_function('', function() end)", "-ERR Error registering functions: ERR Library names can only contain letters, numbers, or underscores(_) and must be at least one character long\r\n"),
        ("redis.register_function{function_name='f1'}", "-ERR Error registering functions: ERR redis.register_function must get a callback argument\r\n"),
        ("redis.register_function{callback=function() end}", "-ERR Error registering functions: ERR redis.register_function must get a function name argument\r\n"),
        ("redis.register_function{function_name=function() return 1 end, callback=function() end}", "-ERR Error registering functions: ERR function_name argument given to redis.register_function must be a string\r\n"),
        ("redis.register_function{function_name='f1', callback='bad'}", "-ERR Error registering functions: ERR callback argument given to redis.register_function must be a function\r\n"),
        ("redis.register_function{function_name='f1', callback=function() end, description=function() end}", "-ERR Error registering functions: ERR description argument given to redis.register_function must be a string\r\n"),
        ("redis.register_function{function_name='f1', callback=function() end, some_unknown='x'}", "-ERR Error registering functions: ERR unknown argument given to redis.register_function\r\n"),
        ("redis.register_function{function_name='f1', callback=function() end, flags='x'}", "-ERR Error registering functions: ERR flags argument to redis.register_function must be a table representing function flags\r\n"),
        ("redis.register_function{function_name='f1', callback=function() end, flags={'bad'}}", "-ERR Error registering functions: ERR unknown flag given\r\n"),
        ("redis.register_function{function_name='f1', callback=function() end, flags={function() end}}", "-ERR Error registering functions: ERR unknown flag given\r\n"),
        ("redis.register_function('f1', function() end)\nredis.register_function('f1', function() end)", "-ERR Error registering functions: ERR Function already exists in the library\r\n"),
        ("return math.random()", "-ERR Error registering functions: ERR user_function:2: Script attempted to access nonexistent global variable 'math'\r\n"),
        ("return redis.call('ping')", "-ERR Error registering functions: ERR user_function:2: Script attempted to access nonexistent global variable 'call'\r\n"),
        ("return redis.setresp(3)", "-ERR Error registering functions: ERR user_function:2: Script attempted to access nonexistent global variable 'setresp'\r\n"),
        ("return redis.set_repl(redis.REPL_NONE)", "-ERR Error registering functions: ERR user_function:2: Script attempted to access nonexistent global variable 'set_repl'\r\n"),
        ("return redis.acl_check_cmd('set','xx',1)", "-ERR Error registering functions: ERR user_function:2: Script attempted to access nonexistent global variable 'acl_check_cmd'\r\n"),
        ("mt = getmetatable(_G)", "-ERR Error registering functions: ERR user_function:2: Script attempted to access nonexistent global variable 'getmetatable'\r\n"),
        ("a = 1", "-ERR Error registering functions: ERR user_function:2: Attempt to modify a readonly table\r\n"),
        ("redis.math.random()", "-ERR Error registering functions: ERR user_function:2: Script attempted to access nonexistent global variable 'math'\r\n"),
        ("redis.redis.call('ping')", "-ERR Error registering functions: ERR user_function:2: Script attempted to access nonexistent global variable 'redis'\r\n"),
        ("return 1", "-ERR No functions registered\r\n"),
    ];
    for (body, want) in cases {
        assert_eq!(load(&format!("#!lua name=lib2\n{}", body)), *want, "{}", body);
    }
    assert_eq!(load("#! name=test\nx"), "-ERR Engine '' not found\r\n");
    assert_eq!(
        load("#!lua name=test foo=bar\nx"),
        "-ERR Invalid metadata value given: foo=bar\r\n"
    );
    assert_eq!(load("#!lua\nx"), "-ERR Library name was not given\r\n");
    assert_eq!(
        load("#!lua name=foo name=bar\nx"),
        "-ERR Invalid metadata value, name argument was given multiple times\r\n"
    );
    assert_eq!(
        load("#!lua name=\"foo\"\nredis.register_function('foo', function() return 1 end)"),
        "$3\r\nfoo\r\n"
    );
    assert_eq!(load("lua name=x\n"), "-ERR Missing library metadata\r\n");
    // The library API logs and reports the version at load time.
    assert_eq!(
        load("#!lua name=ver\nlocal v = redis.REDIS_VERSION_NUM\nredis.log(redis.LOG_DEBUG, 'loading')\nredis.register_function('ver', function() return {v, redis.REDIS_VERSION} end)"),
        "$3\r\nver\r\n"
    );
    assert_eq!(fcall("ver"), "*2\r\n:459777\r\n$5\r\n7.4.1\r\n");
    // Load timeout (500 ms).
    let t = std::time::Instant::now();
    assert_eq!(
        load("#!lua name=lib\nlocal a = 1\nwhile 1 do a = a + 1 end"),
        "-ERR Error registering functions: ERR FUNCTION LOAD timeout\r\n"
    );
    assert!(t.elapsed() >= std::time::Duration::from_millis(500));
    function(&["FUNCTION", "FLUSH"], false);
}

#[test]
fn function_libraries() {
    let _g = lock();
    function(&["FUNCTION", "FLUSH"], false);
    let lib1 = "#!lua name=lib1\nlocal function add1(a) return a + 1 end\nredis.register_function('f1', function(keys, args) return add1(1) end)\nredis.register_function('f2', function(keys, args) return add1(2) end)";
    assert_eq!(load(lib1), "$4\r\nlib1\r\n");
    assert_eq!(fcall("f1"), ":2\r\n");
    assert_eq!(fcall("f2"), ":3\r\n");
    // A failing registration reverts the whole load.
    assert_eq!(
        load("#!lua name=lib1\nredis.register_function('f1', function() return 9 end)\nredis.register_function('f2', 'not a function')"),
        "-ERR Error registering functions: ERR second argument to redis.register_function must be a function\r\n"
    );
    assert_eq!(fcall("f2"), ":3\r\n");
    assert_eq!(
        load("#!lua name=lib2\nredis.register_function('f1', function() return 1 end)"),
        "-ERR Function f1 already exists\r\n"
    );
    assert_eq!(
        load("#!lua name=lib2\nredis.register_function('F1', function() return 1 end)"),
        "-ERR Function F1 already exists\r\n"
    );
    assert_eq!(fcall("f1"), ":2\r\n");
    // The malicious-access test of functions.tcl.
    let lib = "#!lua name=lib1\nlocal lib = redis\nlib.register_function('f1', function ()\n lib.redis = redis\n lib.math = math\n return {ok='OK'}\n end)\nlib.register_function('f2', function ()\n lib.register_function('f1', function ()\n lib.redis = redis\n return {ok='OK'}\n end)\nend)";
    assert_eq!(load(lib), "$4\r\nlib1\r\n");
    assert_eq!(
        fcall("f1"),
        "-ERR user_function:4: Attempt to modify a readonly table script: f1, on @user_function:4.\r\n"
    );
    assert_eq!(
        fcall("f2"),
        "-ERR redis.register_function can only be called on FUNCTION LOAD command script: f2, on @user_function:9.\r\n"
    );
    assert_eq!(
        load("#!lua name=lib1\nredis.register_function('f1', function(keys, args)\n redis.register_function('f2', function(key, args) return 2 end)\n return 1\n end)"),
        "$4\r\nlib1\r\n"
    );
    assert_eq!(
        fcall("f1"),
        "-ERR user_function:3: attempt to call field 'register_function' (a nil value) script: f1, on @user_function:3.\r\n"
    );
    // Global protection while functions run.
    load("#!lua name=lib1\nredis.register_function('f1', function()\n mt = getmetatable(_G)\n original_globals = mt.__index\n original_globals['redis'] = function() return 1 end\n end)");
    assert_eq!(
        fcall("f1"),
        "-ERR user_function:3: Attempt to modify a readonly table script: f1, on @user_function:3.\r\n"
    );
    // _G is the globals table; its metatable's __index is the error function.
    load("#!lua name=lib1\nredis.register_function('f1', function()\n local mt = getmetatable(_G)\n local g = mt.__index\n g['redis'] = 1\n end)");
    assert_eq!(
        fcall("f1"),
        "-ERR user_function:5: attempt to index local 'g' (a function value) script: f1, on @user_function:5.\r\n"
    );
    load("#!lua name=lib1\nredis.register_function('f1', function()\n local mt = getmetatable(_G)\n mt.__index = {}\n end)");
    assert_eq!(
        fcall("f1"),
        "-ERR user_function:4: Attempt to modify a readonly table script: f1, on @user_function:4.\r\n"
    );
    load("#!lua name=lib1\nredis.register_function('h', function() return getmetatable(_G) == nil end)\nredis.register_function('h2', function() return {rawget(_G, 'redis') == nil, redis.call('ping')} end)");
    assert_eq!(fcall("h"), "$-1\r\n");
    assert_eq!(fcall("h2"), "*2\r\n$-1\r\n+PONG\r\n");
    // Named arguments and LIST.
    function(&["FUNCTION", "FLUSH"], false);
    load("#!lua name=lib\nredis.register_function{function_name='f1', callback=function() return 'hello' end, description='some desc'}");
    assert_eq!(
        function(&["FUNCTION", "LIST"], false),
        "*1\r\n*6\r\n$12\r\nlibrary_name\r\n$3\r\nlib\r\n$6\r\nengine\r\n$3\r\nLUA\r\n$9\r\nfunctions\r\n*1\r\n*6\r\n$4\r\nname\r\n$2\r\nf1\r\n$11\r\ndescription\r\n$9\r\nsome desc\r\n$5\r\nflags\r\n*0\r\n"
    );
    assert_eq!(
        function(&["FUNCTION", "LIST"], true),
        "*1\r\n%3\r\n$12\r\nlibrary_name\r\n$3\r\nlib\r\n$6\r\nengine\r\n$3\r\nLUA\r\n$9\r\nfunctions\r\n*1\r\n%3\r\n$4\r\nname\r\n$2\r\nf1\r\n$11\r\ndescription\r\n$9\r\nsome desc\r\n$5\r\nflags\r\n~0\r\n"
    );
    function(&["FUNCTION", "FLUSH"], false);
    let l1 = "#!lua name=library1\nredis.register_function('f6', function(keys, args) return 7 end)";
    load(l1);
    load("#!lua name=lib1\nredis.register_function{function_name='f7', callback=function(keys, args) return 7 end, flags={'no-writes', 'allow-cross-slot-keys', 'no-cluster'}}");
    assert_eq!(
        function(&["FUNCTION", "LIST", "WITHCODE", "LIBRARYNAME", "library*"], false),
        format!("*1\r\n*8\r\n$12\r\nlibrary_name\r\n$8\r\nlibrary1\r\n$6\r\nengine\r\n$3\r\nLUA\r\n$9\r\nfunctions\r\n*1\r\n*6\r\n$4\r\nname\r\n$2\r\nf6\r\n$11\r\ndescription\r\n$-1\r\n$5\r\nflags\r\n*0\r\n$12\r\nlibrary_code\r\n${}\r\n{}\r\n", l1.len(), l1)
    );
    assert!(function(&["FUNCTION", "LIST", "libraryname", "LIB1"], false)
        .contains("*3\r\n+no-writes\r\n+no-cluster\r\n+allow-cross-slot-keys\r\n"));
    assert_eq!(
        function(&["FUNCTION", "LIST", "libraryname", "nomatch"], false),
        "*0\r\n"
    );
    assert_eq!(
        function(&["FUNCTION", "LIST", "bad_argument"], false),
        "-ERR Unknown argument bad_argument\r\n"
    );
    assert_eq!(
        function(&["FUNCTION", "LIST", "libraryname"], false),
        "-ERR library name argument was not given\r\n"
    );
    assert_eq!(
        function(&["FUNCTION", "LIST", "withcode", "withcode"], false),
        "-ERR Unknown argument withcode\r\n"
    );
    assert_eq!(
        function(
            &[
                "FUNCTION",
                "LIST",
                "withcode",
                "libraryname",
                "foo",
                "libraryname",
                "foo"
            ],
            false
        ),
        "-ERR Unknown argument libraryname\r\n"
    );
    // STATS
    assert_eq!(
        function(&["FUNCTION", "STATS"], false),
        "*4\r\n$14\r\nrunning_script\r\n$-1\r\n$7\r\nengines\r\n*2\r\n$3\r\nLUA\r\n*4\r\n$15\r\nlibraries_count\r\n:2\r\n$15\r\nfunctions_count\r\n:2\r\n"
    );
    assert_eq!(
        function(&["FUNCTION", "STATS"], true),
        "%2\r\n$14\r\nrunning_script\r\n_\r\n$7\r\nengines\r\n%1\r\n$3\r\nLUA\r\n%2\r\n$15\r\nlibraries_count\r\n:2\r\n$15\r\nfunctions_count\r\n:2\r\n"
    );
    assert_eq!(stats().libraries, 2);
    assert_eq!(stats().functions, 2);
    // Another thread sees libraries loaded here, and changes made there.
    let got = std::thread::spawn(|| {
        let r = fcall("f6");
        load("#!lua name=other\nredis.register_function('o1', function() return 'from other' end)");
        r
    })
    .join()
    .unwrap();
    assert_eq!(got, ":7\r\n");
    assert_eq!(fcall("o1"), "$10\r\nfrom other\r\n");
    std::thread::spawn(|| function(&["FUNCTION", "DELETE", "other"], false))
        .join()
        .unwrap();
    assert_eq!(fcall("o1"), "-ERR Function not found\r\n");
    std::thread::spawn(|| function(&["FUNCTION", "FLUSH"], false))
        .join()
        .unwrap();
    assert_eq!(fcall("f6"), "-ERR Function not found\r\n");
    assert_eq!(function(&["FUNCTION", "LIST"], false), "*0\r\n");
}

#[test]
fn function_dump_restore() {
    let _g = lock();
    function(&["FUNCTION", "FLUSH"], false);
    load(LIB_TEST);
    let dump = Engine::with(|e| {
        let mut out = Vec::new();
        e.function_command(&[b"FUNCTION", b"DUMP"], false, &mut out);
        out
    });
    // bulk header, then the payload
    let start = dump.iter().position(|&c| c == b'\n').unwrap() + 1;
    let payload = dump[start..dump.len() - 2].to_vec();
    assert_eq!(payload[0], 0xF5);
    let restore = |args: &[&[u8]]| {
        let mut v: Vec<&[u8]> = vec![b"FUNCTION", b"RESTORE"];
        v.extend_from_slice(args);
        let mut out = Vec::new();
        Engine::with(|e| e.function_command(&v, false, &mut out));
        show(&out)
    };
    let listed = "*1\r\n*6\r\n$12\r\nlibrary_name\r\n$4\r\ntest\r\n$6\r\nengine\r\n$3\r\nLUA\r\n$9\r\nfunctions\r\n*1\r\n*6\r\n$4\r\nname\r\n$4\r\ntest\r\n$11\r\ndescription\r\n$-1\r\n$5\r\nflags\r\n*0\r\n";
    function(&["FUNCTION", "DELETE", "test"], false);
    assert_eq!(function(&["FUNCTION", "LIST"], false), "*0\r\n");
    assert_eq!(restore(&[&payload]), "+OK\r\n");
    assert_eq!(function(&["FUNCTION", "LIST"], false), listed);
    assert_eq!(fcall("test"), "$5\r\nhello\r\n");
    function(&["FUNCTION", "FLUSH"], false);
    assert_eq!(restore(&[&payload, b"FLUSH"]), "+OK\r\n");
    assert_eq!(function(&["FUNCTION", "LIST"], false), listed);
    // APPEND conflicts on the library name.
    function(&["FUNCTION", "FLUSH"], false);
    load(&LIB_TEST.replace("'hello'", "'hello1'"));
    assert_eq!(restore(&[&payload, b"APPEND"]), "-ERR Library test already exists\r\n");
    function(&["FUNCTION", "FLUSH"], false);
    load("#!lua name=test1\nredis.register_function('test1', function() return 'hello1' end)");
    assert_eq!(restore(&[&payload, b"append"]), "+OK\r\n");
    assert_eq!(fcall("test"), "$5\r\nhello\r\n");
    assert_eq!(fcall("test1"), "$6\r\nhello1\r\n");
    // REPLACE swaps the library.
    function(&["FUNCTION", "FLUSH"], false);
    load(&LIB_TEST.replace("'hello'", "'hello1'"));
    assert_eq!(fcall("test"), "$6\r\nhello1\r\n");
    assert_eq!(restore(&[&payload, b"REPLACE"]), "+OK\r\n");
    assert_eq!(fcall("test"), "$5\r\nhello\r\n");
    // Bad payloads leave everything in place.
    assert_eq!(
        restore(&[b"bad_payload"]),
        "-ERR DUMP payload version or checksum are wrong\r\n"
    );
    assert_eq!(
        restore(&[&payload, b"bad"]),
        "-ERR Wrong restore policy given, value should be either FLUSH, APPEND or REPLACE.\r\n"
    );
    assert_eq!(fcall("test"), "$5\r\nhello\r\n");
    // Function name collisions (functions.tcl "restore with function name collision").
    function(&["FUNCTION", "FLUSH"], false);
    load("#!lua name=lib1\nlocal function add1(a) return a + 1 end\nredis.register_function('f1', function() return add1(1) end)\nredis.register_function('f2', function() return add1(2) end)\nredis.register_function('f3', function() return add1(3) end)");
    let e = Engine::with(|e| {
        let mut out = Vec::new();
        e.function_command(&[b"FUNCTION", b"DUMP"], false, &mut out);
        out
    });
    let start = e.iter().position(|&c| c == b'\n').unwrap() + 1;
    let p2 = e[start..e.len() - 2].to_vec();
    function(&["FUNCTION", "FLUSH"], false);
    load("#!lua name=lib1\nredis.register_function('f6', function() return 7 end)");
    load("#!lua name=lib2\nlocal function add1(a) return a + 1 end\nredis.register_function('f4', function() return add1(4) end)\nredis.register_function('f5', function() return add1(5) end)\nredis.register_function('f3', function() return add1(3) end)");
    assert_eq!(restore(&[&p2]), "-ERR Library lib1 already exists\r\n");
    assert_eq!(restore(&[&p2, b"replace"]), "-ERR Function f3 already exists\r\n");
    for (f, v) in [("f3", 4), ("f4", 5), ("f5", 6), ("f6", 7)] {
        assert_eq!(fcall(f), format!(":{}\r\n", v));
    }
    // A payload holding the same library twice.
    let twice = super::super::payload::dump([LIB_TEST.as_bytes(), LIB_TEST.as_bytes()].into_iter());
    function(&["FUNCTION", "FLUSH"], false);
    assert_eq!(restore(&[&twice]), "-ERR Library 'test' already exists\r\n");
    assert_eq!(function(&["FUNCTION", "LIST"], false), "*0\r\n");
}

#[test]
fn abort_leaves_out_untouched() {
    let _g = lock();
    let mut m = Mock {
        abort_on: Some(b"boom".to_vec()),
        ..Default::default()
    };
    let run = |m: &mut Mock, body: &str| {
        let mut out = b"previous".to_vec();
        let o = Engine::with(|e| e.eval(body.as_bytes(), &[], &[], false, false, m, &mut out));
        (o, show(&out))
    };
    let body = "redis.call('set','a','1')\nlocal ok = pcall(redis.call, 'get', 'boom')\nredis.call('set','b','2')\nreturn 'done'";
    assert_eq!(run(&mut m, body), (Outcome::Aborted, "previous".to_string()));
    let cmds: Vec<String> = m.calls.iter().map(|c| show(&c[0])).collect();
    assert_eq!(cmds, ["set", "get"]);
    // Same line: redis.call refuses to run anything after the abort.
    m.calls.clear();
    let body =
        "local ok = pcall(redis.call, 'get', 'boom'); local ok2 = pcall(redis.call, 'set', 'b', '2'); return 'done'";
    assert_eq!(run(&mut m, body), (Outcome::Aborted, "previous".to_string()));
    assert_eq!(m.calls.len(), 1);
    // redis.pcall does not swallow it either, nor a loop of pcalls.
    m.calls.clear();
    let body = "while true do pcall(redis.pcall, 'get', 'boom') end";
    assert_eq!(run(&mut m, body), (Outcome::Aborted, "previous".to_string()));
    assert_eq!(m.calls.len(), 1);
    // Inside a coroutine too.
    m.calls.clear();
    let body = "local co = coroutine.create(function() redis.call('get', 'boom') end)\ncoroutine.resume(co)\nwhile true do redis.call('set', 'c', '3') end";
    assert_eq!(run(&mut m, body), (Outcome::Aborted, "previous".to_string()));
    assert_eq!(m.calls.len(), 1);
    // Returning right after catching it is still an abort.
    let body = "return pcall(redis.call, 'get', 'boom')";
    assert_eq!(run(&mut m, body), (Outcome::Aborted, "previous".to_string()));
    // The engine is fine afterwards.
    assert_eq!(eval("return 'after'"), "$5\r\nafter\r\n");
    // Functions abort the same way.
    function(&["FUNCTION", "FLUSH"], false);
    load("#!lua name=ab\nredis.register_function('ab', function() pcall(redis.call, 'get', 'boom') return 1 end)");
    let mut out = b"previous".to_vec();
    let o = Engine::with(|e| e.fcall(b"ab", &[], &[], false, false, &mut m, &mut out));
    assert_eq!((o, show(&out)), (Outcome::Aborted, "previous".to_string()));
    function(&["FUNCTION", "FLUSH"], false);
}

/// Waits until some script is busy (or panics after 5 s).
fn wait_busy() -> Kind {
    let t = std::time::Instant::now();
    loop {
        if let Some(k) = busy() {
            return k;
        }
        assert!(
            t.elapsed() < std::time::Duration::from_secs(5),
            "script never became busy"
        );
        std::thread::sleep(std::time::Duration::from_millis(5));
    }
}

fn wait_idle() {
    let t = std::time::Instant::now();
    while busy().is_some() {
        assert!(t.elapsed() < std::time::Duration::from_secs(5), "script never stopped");
        std::thread::sleep(std::time::Duration::from_millis(5));
    }
}

#[test]
fn script_kill_from_another_thread() {
    let _g = lock();
    set_busy_threshold_ms(20);
    assert_eq!(busy(), None);
    for body in [
        "while true do end",
        "local f = function() while 1 do redis.call('ping') end end while 1 do pcall(f) end",
    ] {
        let b = body.to_string();
        let victim = std::thread::spawn(move || eval(&b));
        assert_eq!(wait_busy(), Kind::Eval);
        assert_eq!(
            busy_error(Kind::Eval),
            "BUSY Redis is busy running a script. You can only call SCRIPT KILL or SHUTDOWN NOSAVE."
        );
        assert_eq!(
            function(&["FUNCTION", "KILL"], false),
            "-BUSY Redis is busy running a script. You can only call SCRIPT KILL or SHUTDOWN NOSAVE.\r\n"
        );
        assert_eq!(
            function(&["FUNCTION", "STATS"], false),
            "-BUSY Redis is busy running a script. You can only call SCRIPT KILL or SHUTDOWN NOSAVE.\r\n"
        );
        assert_eq!(script(&["SCRIPT", "KILL"], false), "+OK\r\n");
        let out = victim.join().unwrap();
        let line = 1;
        assert_eq!(
            out,
            format!("-ERR Script killed by user with SCRIPT KILL...{}", at(body, line))
        );
        wait_idle();
    }
    // A script that wrote cannot be killed.
    let victim = std::thread::spawn(|| {
        eval("redis.call('set','x','y') local t = os.clock() while os.clock() - t < 0.5 do end return 'survived'")
    });
    wait_busy();
    assert_eq!(
        script(&["SCRIPT", "KILL"], false),
        "-UNKILLABLE Sorry the script already executed write commands against the dataset. You can either wait the script termination or kill the server in a hard way using the SHUTDOWN NOSAVE command.\r\n"
    );
    assert_eq!(victim.join().unwrap(), "$8\r\nsurvived\r\n");
    wait_idle();
    assert_eq!(
        script(&["SCRIPT", "KILL"], false),
        "-NOTBUSY No scripts in execution right now.\r\n"
    );
    set_busy_threshold_ms(5000);
}

#[test]
fn function_kill_from_another_thread() {
    let _g = lock();
    set_busy_threshold_ms(20);
    function(&["FUNCTION", "FLUSH"], false);
    load("#!lua name=test\nredis.register_function('test', function(KEYS, ARGV)\n local a = 1 while true do a = a + 1 end \nend)");
    let victim = std::thread::spawn(|| fcall_with(&mut Mock::default(), "test", &["k"], &["v"], false, false));
    assert_eq!(wait_busy(), Kind::Function);
    assert_eq!(
        script(&["SCRIPT", "KILL"], false),
        "-BUSY Redis is busy running a script. You can only call FUNCTION KILL or SHUTDOWN NOSAVE.\r\n"
    );
    let stats = function(&["FUNCTION", "STATS"], false);
    assert!(
        stats.starts_with("*4\r\n$14\r\nrunning_script\r\n*6\r\n$4\r\nname\r\n$4\r\ntest\r\n$7\r\ncommand\r\n*5\r\n$5\r\nfcall\r\n$4\r\ntest\r\n$1\r\n1\r\n$1\r\nk\r\n$1\r\nv\r\n$11\r\nduration_ms\r\n:"),
        "{}",
        stats
    );
    assert!(stats.ends_with(
        "$7\r\nengines\r\n*2\r\n$3\r\nLUA\r\n*4\r\n$15\r\nlibraries_count\r\n:1\r\n$15\r\nfunctions_count\r\n:1\r\n"
    ));
    assert_eq!(function(&["FUNCTION", "KILL"], false), "+OK\r\n");
    assert_eq!(
        victim.join().unwrap(),
        "-ERR Script killed by user with SCRIPT KILL... script: test, on @user_function:3.\r\n"
    );
    wait_idle();
    function(&["FUNCTION", "FLUSH"], false);
    set_busy_threshold_ms(5000);
}

#[test]
fn scripts_run_concurrently_on_threads() {
    let _g = lock();
    let threads: Vec<_> = (0..4)
        .map(|i| {
            std::thread::spawn(move || {
                let mut m = Mock::default();
                let mut last = String::new();
                for _ in 0..200 {
                    last = eval_with(
                        &mut m,
                        "return redis.call('incr', KEYS[1])",
                        &[&format!("k{}", i)],
                        &[],
                        false,
                        false,
                    );
                }
                last
            })
        })
        .collect();
    for t in threads {
        assert_eq!(t.join().unwrap(), ":200\r\n");
    }
}

#[test]
fn eval_does_not_leak() {
    let _g = lock();
    let mut m = Mock::default();
    let body = "return redis.call('incr',KEYS[1])";
    for _ in 0..10_000 {
        eval_with(&mut m, body, &["x"], &[], false, false);
    }
    assert_eq!(
        eval_with(&mut m, "return redis.call('get',KEYS[1])", &["x"], &[], false, false),
        "$5\r\n10000\r\n"
    );
    // scripting.tcl: used_memory_lua < 100 KB after 10000 runs.
    let (lua, _) = Engine::with(|e| e.lua_memory());
    assert!(lua < 100 * 1024, "{}", lua);
}
