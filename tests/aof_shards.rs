//! Per-shard logs: the keyspace-wide commands a shard logs (FLUSHALL,
//! FLUSHDB, SWAPDB, inside transactions or not) apply to that shard's
//! slots on replay, so a directory written with one number of shards
//! loads the same data set under any other.

mod common;

use common::{dataset, AofDir, Server};

fn q(c: &mut redis::Connection, args: &[&str]) -> redis::Value {
    let mut cmd = redis::cmd(args[0]);
    for a in &args[1..] {
        cmd.arg(*a);
    }
    cmd.query(c).unwrap()
}

#[test]
fn logs_load_under_any_shard_count() {
    let dir = AofDir::new("aof-shards");
    let start = |shards: usize| {
        Server::start_with(
            shards,
            &["--dir", dir.path(), "--appendonly", "yes", "--appendfsync", "always"],
        )
    };
    let want = {
        let srv = start(2);
        let mut c = srv.client();
        for i in 0..40 {
            q(&mut c, &["SET", &format!("junk{i}"), "x"]);
        }
        q(&mut c, &["FLUSHALL"]);
        for db in 0..3 {
            q(&mut c, &["SELECT", &db.to_string()]);
            for i in 0..60 {
                let k = format!("d{db}:{i}");
                q(&mut c, &["SET", &k, &format!("v{i}")]);
                q(&mut c, &["RPUSH", &format!("l{db}:{i}"), "a", "b"]);
            }
            q(&mut c, &["HSET", &format!("h{db}"), "f", "1"]);
        }
        q(&mut c, &["SELECT", "0"]);
        q(&mut c, &["SWAPDB", "0", "1"]);
        q(&mut c, &["SELECT", "2"]);
        q(&mut c, &["FLUSHDB"]);
        q(&mut c, &["SET", "after-flush", "1"]);
        // A transaction mixing keys of both shards with SWAPDB.
        q(&mut c, &["MULTI"]);
        q(&mut c, &["SET", "t:a", "1"]);
        q(&mut c, &["SWAPDB", "2", "0"]);
        q(&mut c, &["SET", "t:b", "2"]);
        q(&mut c, &["MSET", "t:c", "3", "t:d", "4"]);
        q(&mut c, &["EXEC"]);
        q(&mut c, &["SELECT", "0"]);
        q(&mut c, &["RENAME", "after-flush", "renamed"]);
        q(&mut c, &["EXPIRE", "d1:3", "1000"]);
        let d = dataset(&mut c, 3);
        assert!(d.len() > 200, "{}", d.len());
        d
    };
    for shards in [3, 1, 4, 2] {
        let srv = start(shards);
        let mut c = srv.client();
        let got = dataset(&mut c, 3);
        assert!(got == want, "{shards} shards load a different data set");
    }
}
