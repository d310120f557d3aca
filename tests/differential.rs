//! Differential test: every command in `tests/cases/*.txt` is sent to
//! Spindle (4 shards) and to a real `redis-server`, and the raw reply bytes
//! must be identical.
//!
//! Case files: one command per line in redis-cli quoting, `#` comments.
//! Each file starts from an empty server (FLUSHALL, HELLO 2) and runs on one
//! connection. Replies to HELLO lines are not compared (they carry the
//! connection id and server version).

mod common;

use common::{connect, encode_bytes, split_line, Redis, Server};

#[test]
fn replies_match_redis_byte_for_byte() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/cases");
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .expect("tests/cases")
        .map(|e| e.unwrap().path())
        .collect();
    files.retain(|p| p.extension().is_some_and(|e| e == "txt"));
    files.sort();
    assert!(!files.is_empty(), "no case files in {}", dir.display());
    let redis = Redis::start();
    let spindle = Server::start(4);
    let mut mismatches = Vec::new();
    let mut compared = 0;
    for file in &files {
        let text = std::fs::read_to_string(file).unwrap();
        let mut r = connect(redis.port);
        let mut s = connect(spindle.port);
        for c in [&mut r, &mut s] {
            c.send(&encode_bytes(&split_line("FLUSHALL")));
            c.reply();
            c.send(&encode_bytes(&split_line("HELLO 2")));
            c.reply();
        }
        for (n, line) in text.lines().enumerate() {
            let line = line.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let args = split_line(line);
            let req = encode_bytes(&args);
            r.send(&req);
            s.send(&req);
            let where_ = format!("{}:{}: {}", file.display(), n + 1, line);
            let want = r
                .try_reply()
                .unwrap_or_else(|| panic!("redis-server gave no reply to {where_}"));
            let got = s
                .try_reply()
                .unwrap_or_else(|| panic!("spindle gave no reply to {where_}"));
            if args[0].eq_ignore_ascii_case(b"hello") {
                assert_eq!(
                    want.first(),
                    got.first(),
                    "{}:{}: HELLO reply kind",
                    file.display(),
                    n + 1
                );
                continue;
            }
            compared += 1;
            if want != got {
                mismatches.push(format!(
                    "{}:{}: {}\n  redis:   {:?}\n  spindle: {:?}",
                    file.file_name().unwrap().to_string_lossy(),
                    n + 1,
                    line,
                    String::from_utf8_lossy(&want),
                    String::from_utf8_lossy(&got)
                ));
            }
        }
    }
    assert!(compared > 0);
    assert!(
        mismatches.is_empty(),
        "{} of {} replies differ:\n{}",
        mismatches.len(),
        compared,
        mismatches.join("\n")
    );
    println!("{compared} replies identical to redis-server");
}
