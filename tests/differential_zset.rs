//! Randomized differential test of the sorted set family: a seeded stream of
//! writes and reads over a few keys (crossing the listpack/skiplist
//! threshold, spread over shards) goes to Spindle and to `redis-server`;
//! every reply and, regularly, every key's full contents must be identical.
//! ZSCAN and ZRANDMEMBER are left out (their order is not specified).

mod common;

use common::{connect, encode, Raw, Redis, Server};

struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
    fn range(&mut self, lo: i64, hi: i64) -> i64 {
        lo + self.below((hi - lo) as u64) as i64
    }
    fn chance(&mut self, p: u64) -> bool {
        self.below(100) < p
    }
    fn pick<'a>(&mut self, v: &[&'a str]) -> &'a str {
        v[self.below(v.len() as u64) as usize]
    }
}

const KEYS: [&str; 3] = ["z1", "z2", "z3"];
const LEX_KEY: &str = "{z1}lex";

/// Scores print the same in Redis 7.0 (%.17g) and 7.4 (shortest).
fn score(r: &mut Rng) -> String {
    match r.below(20) {
        0 => "inf".into(),
        1 => "-inf".into(),
        2..=9 => r.range(-50, 50).to_string(),
        _ => (r.range(-100, 100) as f64 / 4.0).to_string(),
    }
}

fn member(r: &mut Rng) -> String {
    format!("m{}", r.below(300))
}

fn bound(r: &mut Rng) -> String {
    let v = match r.below(10) {
        0 => "-inf".to_string(),
        1 => "+inf".to_string(),
        _ => (r.range(-100, 100) as f64 / 2.0).to_string(),
    };
    if r.chance(30) {
        format!("({v}")
    } else {
        v
    }
}

fn lex(r: &mut Rng) -> String {
    match r.below(10) {
        0 => "-".into(),
        1 => "+".into(),
        _ => format!("{}m{}", if r.chance(50) { "[" } else { "(" }, r.below(300)),
    }
}

fn rank(r: &mut Rng) -> String {
    r.range(-320, 320).to_string()
}

fn limit(r: &mut Rng, c: &mut Vec<String>) {
    if r.chance(50) {
        c.extend(["LIMIT".into(), r.range(-1, 30).to_string(), r.range(-1, 30).to_string()]);
    }
}

fn command(r: &mut Rng) -> Vec<String> {
    let k = r.pick(&KEYS).to_string();
    let mut c: Vec<String> = Vec::new();
    match r.below(24) {
        0..=4 => {
            c = vec!["ZADD".into(), k];
            if r.chance(30) {
                c.push(r.pick(&["NX", "XX", "GT", "LT", "CH"]).into());
            }
            for _ in 0..r.range(1, 40) {
                c.push(score(r));
                c.push(member(r));
            }
        }
        5 => {
            c = vec!["ZREM".into(), k];
            for _ in 0..r.range(1, 10) {
                c.push(member(r));
            }
        }
        6 => c = vec!["ZINCRBY".into(), k, r.range(-5, 5).to_string(), member(r)],
        7 => {
            c = vec!["ZRANGE".into(), k, rank(r), rank(r)];
            if r.chance(50) {
                c.push("REV".into());
            }
            if r.chance(50) {
                c.push("WITHSCORES".into());
            }
        }
        8 => {
            c = vec!["ZRANGE".into(), k, bound(r), bound(r), "BYSCORE".into()];
            if r.chance(50) {
                c.push("REV".into());
            }
            limit(r, &mut c);
            if r.chance(50) {
                c.push("WITHSCORES".into());
            }
        }
        9 => {
            c = vec![
                r.pick(&["ZRANGEBYLEX", "ZREVRANGEBYLEX"]).into(),
                LEX_KEY.into(),
                lex(r),
                lex(r),
            ];
            limit(r, &mut c);
        }
        10 => c = vec!["ZCOUNT".into(), k, bound(r), bound(r)],
        11 => c = vec!["ZLEXCOUNT".into(), LEX_KEY.into(), lex(r), lex(r)],
        12 => c = vec![r.pick(&["ZRANK", "ZREVRANK"]).into(), k, member(r)],
        13 => {
            c = if r.chance(50) {
                vec!["ZREMRANGEBYRANK".into(), k, rank(r), rank(r)]
            } else {
                vec!["ZREMRANGEBYSCORE".into(), k, bound(r), bound(r)]
            }
        }
        14 => c = vec![r.pick(&["ZPOPMIN", "ZPOPMAX"]).into(), k, r.below(8).to_string()],
        15 | 16 => {
            let n = r.range(1, 4) as usize;
            let ks: Vec<String> = (0..n).map(|_| r.pick(&KEYS).to_string()).collect();
            let store = r.chance(50);
            c.push(
                if store {
                    r.pick(&["ZUNIONSTORE", "ZINTERSTORE"])
                } else {
                    r.pick(&["ZUNION", "ZINTER"])
                }
                .into(),
            );
            if store {
                c.push(r.pick(&KEYS).into());
            }
            c.push(n.to_string());
            c.extend(ks);
            if r.chance(50) {
                c.push("WEIGHTS".into());
                for _ in 0..n {
                    c.push(r.range(-3, 4).to_string());
                }
            }
            if r.chance(50) {
                c.extend(["AGGREGATE".into(), r.pick(&["SUM", "MIN", "MAX"]).into()]);
            }
            if !store {
                c.push("WITHSCORES".into());
            }
        }
        17 => {
            c = vec!["ZADD".into(), LEX_KEY.into()];
            for _ in 0..r.range(1, 30) {
                c.push("0".into());
                c.push(member(r));
            }
        }
        18 => c = vec!["ZREMRANGEBYLEX".into(), LEX_KEY.into(), lex(r), lex(r)],
        19 => {
            c = vec![
                "ZRANGESTORE".into(),
                r.pick(&KEYS).into(),
                k,
                bound(r),
                bound(r),
                "BYSCORE".into(),
            ];
            if r.chance(50) {
                c.push("REV".into());
            }
            limit(r, &mut c);
        }
        20 => {
            c = vec![
                "ZMPOP".into(),
                "2".into(),
                r.pick(&KEYS).into(),
                k,
                r.pick(&["MIN", "MAX"]).into(),
            ];
            if r.chance(50) {
                c.extend(["COUNT".into(), r.range(1, 5).to_string()]);
            }
        }
        21 => {
            c = vec!["ZADD".into(), k, "INCR".into()];
            if r.chance(50) {
                c.push(r.pick(&["NX", "XX", "GT", "LT"]).into());
            }
            c.push(score(r));
            c.push(member(r));
        }
        22 => {
            let n = r.range(1, 4) as usize;
            c = vec!["ZDIFFSTORE".into(), r.pick(&KEYS).into(), n.to_string()];
            for _ in 0..n {
                c.push(r.pick(&KEYS).into());
            }
        }
        _ => {
            c = vec![
                "ZADD".into(),
                k,
                score(r),
                format!("long{}", "x".repeat(r.range(58, 66) as usize)),
            ]
        }
    }
    c
}

#[test]
fn random_operations_match_redis() {
    let redis = Redis::start();
    let spindle = Server::start(2);
    let mut a = connect(redis.port);
    let mut b = connect(spindle.port);
    let seeds: u64 = std::env::var("ZSET_FUZZ_SEEDS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(3);
    let mut checked = 0;
    for seed in 0..seeds {
        run_seed(&mut a, &mut b, seed, &mut checked);
    }
    assert!(checked > 0);
}

fn run_seed(a: &mut Raw, b: &mut Raw, seed: u64, checked: &mut usize) {
    for c in [&mut *a, &mut *b] {
        c.send(&encode(&["FLUSHALL"]));
        c.reply();
    }
    let mut rng = Rng(0x5EED_2024_0001 ^ (seed.wrapping_mul(0x9E37_79B9_7F4A_7C15)) | 1);
    for step in 0..2500 {
        let c = command(&mut rng);
        let args: Vec<&str> = c.iter().map(|s| s.as_str()).collect();
        let req = encode(&args);
        a.send(&req);
        b.send(&req);
        let want = a.reply();
        let got = b.reply();
        assert_eq!(
            String::from_utf8_lossy(&want),
            String::from_utf8_lossy(&got),
            "seed {seed} step {step}: {}",
            c.join(" ")
        );
        if step % 10 == 0 {
            for k in KEYS.iter().chain([&LEX_KEY]) {
                for q in [
                    &["ZRANGE", k, "0", "-1", "WITHSCORES"][..],
                    &["OBJECT", "ENCODING", k][..],
                ] {
                    a.send(&encode(q));
                    b.send(&encode(q));
                    let (x, y) = (a.reply(), b.reply());
                    assert_eq!(
                        String::from_utf8_lossy(&x),
                        String::from_utf8_lossy(&y),
                        "seed {seed} step {step}: {} after {}",
                        q.join(" "),
                        c.join(" ")
                    );
                    *checked += 1;
                }
            }
        }
    }
}
