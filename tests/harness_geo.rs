//! Ring 2 for the GEO family: exact reply bytes through the real dispatch
//! path, for what the differential test (Redis 7.0, `tests/cases/geo.txt`)
//! cannot check: RESP3 replies, stored distances in 7.4's shortest double
//! form, the 7.4 distance on a meridian, key positions, and a fuzzed
//! comparison of searches with a brute-force scan.

use spindle::server::harness::Harness;

fn sicily() -> Harness {
    let mut h = Harness::new();
    assert_eq!(
        h.cmd("GEOADD Sicily 13.361389 38.115556 Palermo 15.087269 37.502669 Catania"),
        ":2\r\n"
    );
    h
}

#[test]
fn geoadd_replies_and_errors() {
    let mut h = sicily();
    assert_eq!(h.cmd("GEOADD Sicily 13.361389 38.115556 Palermo"), ":0\r\n");
    assert_eq!(h.cmd("GEOADD Sicily CH 13.361389 38.1156 Palermo"), ":1\r\n");
    assert_eq!(h.cmd("GEOADD Sicily XX 1 1 nope"), ":0\r\n");
    assert_eq!(h.cmd("GEOADD Sicily NX CH 1 1 Palermo 2 2 new"), ":1\r\n");
    assert_eq!(h.cmd("GEOADD Sicily XX NX 1 1 a"), "-ERR syntax error\r\n");
    assert_eq!(
        h.cmd("GEOADD Sicily 1 1"),
        "-ERR wrong number of arguments for 'geoadd' command\r\n"
    );
    assert_eq!(h.cmd("GEOADD Sicily 1 1 a 2"), "-ERR syntax error\r\n");
    assert_eq!(h.cmd("GEOADD Sicily x 1 a"), "-ERR value is not a valid float\r\n");
    assert_eq!(
        h.cmd("GEOADD Sicily 1 1 a -180.5 85.06 b"),
        "-ERR invalid longitude,latitude pair -180.500000,85.060000\r\n"
    );
    assert_eq!(h.cmd("ZCARD Sicily"), ":3\r\n");
    assert_eq!(h.cmd("ZSCORE Sicily Catania"), "$16\r\n3479447370796909\r\n");
    h.cmd("SET s x");
    assert_eq!(
        h.cmd("GEOADD s 1 1 a"),
        "-WRONGTYPE Operation against a key holding the wrong kind of value\r\n"
    );
    assert_eq!(
        h.cmd("GEOADD s 1 100 a"),
        "-ERR invalid longitude,latitude pair 1.000000,100.000000\r\n"
    );
}

#[test]
fn positions_hashes_and_distances() {
    let mut h = sicily();
    assert_eq!(
        h.cmd("GEOPOS Sicily Palermo nosuch"),
        "*2\r\n*2\r\n$20\r\n13.36138933897018433\r\n$20\r\n38.11555639549629859\r\n*-1\r\n"
    );
    assert_eq!(
        h.cmd("GEOHASH Sicily Palermo Catania nosuch"),
        "*3\r\n$11\r\nsqc8b49rny0\r\n$11\r\nsqdtr74hyu0\r\n$-1\r\n"
    );
    assert_eq!(h.cmd("GEODIST Sicily Palermo Catania"), "$11\r\n166274.1516\r\n");
    assert_eq!(h.cmd("GEODIST Sicily Palermo Catania KM"), "$8\r\n166.2742\r\n");
    assert_eq!(h.cmd("GEODIST Sicily Palermo Catania mi"), "$8\r\n103.3182\r\n");
    assert_eq!(h.cmd("GEODIST Sicily Palermo Catania ft"), "$11\r\n545518.8700\r\n");
    assert_eq!(h.cmd("GEODIST Sicily Palermo Palermo"), "$6\r\n0.0000\r\n");
    assert_eq!(h.cmd("GEODIST Sicily Palermo nosuch"), "$-1\r\n");
    assert_eq!(h.cmd("GEODIST nokey a b"), "$-1\r\n");
    assert_eq!(
        h.cmd("GEODIST Sicily Palermo Catania yd"),
        "-ERR unsupported unit provided. please use M, KM, FT, MI\r\n"
    );
    assert_eq!(h.cmd("GEODIST Sicily Palermo Catania km x"), "-ERR syntax error\r\n");
    // Redis 7.4 measures along a meridian without the haversine: the same
    // longitude gives exactly R * |Δlat| in radians.
    h.cmd("GEOADD m 10 10 a 10 20 b");
    assert_eq!(h.cmd("GEODIST m a b"), "$12\r\n1112262.9623\r\n");
}

#[test]
fn resp3_shapes() {
    let mut h = sicily();
    h.cmd("HELLO 3");
    assert_eq!(
        h.cmd("GEOPOS Sicily Palermo nosuch"),
        "*2\r\n*2\r\n,13.36138933897018433\r\n,38.11555639549629859\r\n_\r\n"
    );
    assert_eq!(h.cmd("GEOHASH Sicily nosuch"), "*1\r\n_\r\n");
    assert_eq!(h.cmd("GEODIST Sicily Palermo nosuch"), "_\r\n");
    assert_eq!(h.cmd("GEODIST nokey a b"), "_\r\n");
    assert_eq!(
        h.cmd("GEOSEARCH Sicily FROMLONLAT 15 37 BYRADIUS 200 km ASC WITHCOORD WITHDIST WITHHASH"),
        "*2\r\n*4\r\n$7\r\nCatania\r\n$7\r\n56.4413\r\n:3479447370796909\r\n*2\r\n,15.08726745843887329\r\n,37.50266842333162032\r\n\
         *4\r\n$7\r\nPalermo\r\n$8\r\n190.4424\r\n:3479099956230698\r\n*2\r\n,13.36138933897018433\r\n,38.11555639549629859\r\n"
    );
}

#[test]
fn stores_keep_distances_as_7_4_prints_them() {
    let mut h = sicily();
    assert_eq!(
        h.cmd("GEOSEARCHSTORE d Sicily FROMLONLAT 15 37 BYRADIUS 200 km STOREDIST ASC"),
        ":2\r\n"
    );
    assert_eq!(
        h.cmd("ZRANGE d 0 -1 WITHSCORES"),
        "*4\r\n$7\r\nCatania\r\n$16\r\n56.4412578701582\r\n$7\r\nPalermo\r\n$18\r\n190.44242984775784\r\n"
    );
    assert_eq!(h.cmd("OBJECT ENCODING d"), "$8\r\nlistpack\r\n");
    assert_eq!(h.cmd("GEORADIUS Sicily 15 37 200 km STORE d COUNT 1"), ":1\r\n");
    assert_eq!(
        h.cmd("ZRANGE d 0 -1 WITHSCORES"),
        "*2\r\n$7\r\nCatania\r\n$16\r\n3479447370796909\r\n"
    );
    // A stored result larger than the listpack limit is a skiplist.
    h.cmd("CONFIG SET zset-max-listpack-entries 1");
    assert_eq!(h.cmd("GEORADIUSBYMEMBER Sicily Palermo 200 km STORE d"), ":2\r\n");
    assert_eq!(h.cmd("OBJECT ENCODING d"), "$8\r\nskiplist\r\n");
    // Nothing found: the destination goes.
    assert_eq!(h.cmd("GEOSEARCHSTORE d Sicily FROMLONLAT 0 0 BYBOX 1 1 km"), ":0\r\n");
    assert_eq!(h.cmd("EXISTS d"), ":0\r\n");
}

#[test]
fn search_errors_name_the_command_as_sent() {
    let mut h = sicily();
    assert_eq!(
        h.cmd("GeoSearch Sicily BYBOX 1 1 km WITHDIST"),
        "-ERR exactly one of FROMMEMBER or FROMLONLAT can be specified for GeoSearch\r\n"
    );
    assert_eq!(
        h.cmd("geosearchstore d Sicily FROMLONLAT 1 1 STOREDIST ASC"),
        "-ERR exactly one of BYRADIUS and BYBOX can be specified for geosearchstore\r\n"
    );
    assert_eq!(
        h.cmd("GEOSEARCHSTORE d Sicily FROMLONLAT 1 1 BYRADIUS 1 km WITHHASH"),
        "-ERR GEOSEARCHSTORE is not compatible with WITHDIST, WITHHASH and WITHCOORD options\r\n"
    );
    assert_eq!(
        h.cmd("GEORADIUS Sicily 1 1 1 km WITHCOORD STORE d"),
        "-ERR STORE option in GEORADIUS is not compatible with WITHDIST, WITHHASH and WITHCOORD options\r\n"
    );
    assert_eq!(
        h.cmd("GEOSEARCH Sicily FROMMEMBER nosuch BYRADIUS 1 km"),
        "-ERR could not decode requested zset member\r\n"
    );
    assert_eq!(
        h.cmd("GEOSEARCH Sicily FROMLONLAT 1 1 BYRADIUS 1 km COUNT 0"),
        "-ERR COUNT must be > 0\r\n"
    );
    assert_eq!(
        h.cmd("GEOSEARCH Sicily FROMLONLAT 1 1 BYRADIUS 1 km ANY"),
        "-ERR the ANY argument requires COUNT argument\r\n"
    );
    assert_eq!(h.cmd("GEORADIUS_RO Sicily 1 1 1 km STORE d"), "-ERR syntax error\r\n");
}

#[test]
fn key_positions_and_flags() {
    let mut h = Harness::new();
    // As Redis lists them (its key specs): the first STORE and the first
    // STOREDIST key, though only the last one is written.
    assert_eq!(
        h.cmd("COMMAND GETKEYS GEORADIUS k 1 2 3 m STORE a STOREDIST b"),
        "*3\r\n$1\r\nk\r\n$1\r\na\r\n$1\r\nb\r\n"
    );
    assert_eq!(
        h.cmd("COMMAND GETKEYS GEORADIUSBYMEMBER k m 3 m STOREDIST b"),
        "*2\r\n$1\r\nk\r\n$1\r\nb\r\n"
    );
    assert_eq!(h.cmd("COMMAND GETKEYS GEORADIUS k 1 2 3 m"), "*1\r\n$1\r\nk\r\n");
    assert_eq!(
        h.cmd("COMMAND GETKEYS GEOSEARCHSTORE d s FROMLONLAT 0 0 BYRADIUS 1 m"),
        "*2\r\n$1\r\nd\r\n$1\r\ns\r\n"
    );
    let info = h.cmd("COMMAND INFO georadius");
    assert!(
        info.starts_with("*1\r\n*10\r\n$9\r\ngeoradius\r\n:-6\r\n*3\r\n+write\r\n+denyoom\r\n+movablekeys\r\n:1\r\n:1\r\n:1\r\n*3\r\n+@write\r\n+@geo\r\n+@slow\r\n"),
        "{info}"
    );
    let info = h.cmd("COMMAND INFO geosearch");
    assert!(
        info.starts_with("*1\r\n*10\r\n$9\r\ngeosearch\r\n:-7\r\n*1\r\n+readonly\r\n:1\r\n:1\r\n:1\r\n*3\r\n+@read\r\n+@geo\r\n+@slow\r\n"),
        "{info}"
    );
    // The ACL category lists the family.
    let cat = h.cmd("ACL CAT geo");
    for c in [
        "geoadd",
        "geodist",
        "geohash",
        "geopos",
        "georadius",
        "georadius_ro",
        "georadiusbymember",
        "georadiusbymember_ro",
        "geosearch",
        "geosearchstore",
    ] {
        assert!(
            cat.contains(&format!("${}\r\n{c}\r\n", c.len())),
            "{c} missing from {cat}"
        );
    }
}

/// A small deterministic generator (xorshift), so the fuzz is reproducible.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> f64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        (self.0 >> 11) as f64 / (1u64 << 53) as f64
    }
}

fn haversine(lon1: f64, lat1: f64, lon2: f64, lat2: f64) -> f64 {
    let r = std::f64::consts::PI / 180.0;
    let (la1, la2) = (lat1 * r, lat2 * r);
    let u = ((la2 - la1) / 2.0).sin();
    let v = ((lon2 * r - lon1 * r) / 2.0).sin();
    2.0 * 6372797.560856 * (u * u + la1.cos() * la2.cos() * v * v).sqrt().asin()
}

/// Like the Tcl suite's fuzz test: searches agree with a scan of every
/// point, up to points within 0.1% of the border.
#[test]
fn searches_match_a_brute_force_scan() {
    let mut h = Harness::new();
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    for round in 0..8 {
        h.cmd("DEL pts");
        let (clon, clat) = (-180.0 + rng.next() * 360.0, -70.0 + rng.next() * 140.0);
        let radius_km = 10.0 + (rng.next() * 200.0).floor();
        let mut cmd = String::from("GEOADD pts");
        let mut pts = Vec::new();
        for j in 0..2000 {
            // Points around the centre, so that some fall inside.
            let lon = (clon + (rng.next() - 0.5) * 8.0).clamp(-180.0, 180.0);
            let lat = (clat + (rng.next() - 0.5) * 8.0).clamp(-80.0, 80.0);
            cmd += &format!(" {lon} {lat} p{j}");
            pts.push((lon, lat));
        }
        h.cmd(&cmd);
        let reply = h.cmd(&format!(
            "GEOSEARCH pts FROMLONLAT {clon} {clat} BYRADIUS {radius_km} km"
        ));
        let mut got: Vec<usize> = reply
            .split("\r\n")
            .filter_map(|l| l.strip_prefix('p'))
            .map(|n| n.parse().unwrap())
            .collect();
        got.sort();
        for (j, &(lon, lat)) in pts.iter().enumerate() {
            let d = haversine(lon, lat, clon, clat);
            let inside = got.binary_search(&j).is_ok();
            let border = (d - radius_km * 1000.0).abs() < radius_km;
            assert!(
                inside == (d <= radius_km * 1000.0) || border,
                "round {round}: p{j} at {d} m, radius {radius_km} km, found {inside}"
            );
        }
    }
}
