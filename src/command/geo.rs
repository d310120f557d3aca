//! GEO family: GEOADD, GEOPOS, GEODIST, GEOHASH, GEOSEARCH, GEOSEARCHSTORE
//! and the older GEORADIUS, GEORADIUSBYMEMBER and their `_RO` forms.
//!
//! A geospatial index is a plain sorted set whose scores are 52-bit
//! geohashes (`storage::geohash`), as in Redis, so every zset command works
//! on it. A search scans the score ranges of nine cells around its centre
//! and keeps the members inside the circle or box, then sorts by distance.
//!
//! `cmd_*` handlers parse arguments and shape replies; [`op_search`] works
//! on one zset. The stores (GEOSEARCHSTORE, GEORADIUS ... STORE) see one
//! keyspace: the coordinator gathers their keys when they span shards.

use super::args::parse_i64;
use super::errors as err;
use super::notify::{class, notify};
use super::zset::{self, op_zadd, parse_score, AddFlags, WrongType};
use super::{Args, Ctx};
use crate::protocol::Reply;
use crate::storage::geohash::{self, Search, Shape};
use crate::storage::zset::{cmp_entry, PackLimits, ZSet};
use crate::storage::Value;

pub const UNIT: &str = "ERR unsupported unit provided. please use M, KM, FT, MI";
pub const NEED_RADIUS: &str = "ERR need numeric radius";
pub const NEED_WIDTH: &str = "ERR need numeric width";
pub const NEED_HEIGHT: &str = "ERR need numeric height";
pub const RADIUS_NEGATIVE: &str = "ERR radius cannot be negative";
pub const BOX_NEGATIVE: &str = "ERR height or width cannot be negative";
pub const BAD_MEMBER: &str = "ERR could not decode requested zset member";
pub const COUNT_POSITIVE: &str = "ERR COUNT must be > 0";
pub const ANY_NEEDS_COUNT: &str = "ERR the ANY argument requires COUNT argument";
pub const STORE_WITH: &str =
    "ERR STORE option in GEORADIUS is not compatible with WITHDIST, WITHHASH and WITHCOORD options";
pub const SEARCHSTORE_WITH: &str = "ERR GEOSEARCHSTORE is not compatible with WITHDIST, WITHHASH and WITHCOORD options";

/// `ERR invalid longitude,latitude pair <lon>,<lat>` (C's `%f`).
fn invalid_pair(lon: f64, lat: f64) -> Fail {
    Fail::Owned(format!("ERR invalid longitude,latitude pair {lon:.6},{lat:.6}").into_bytes())
}

/// `ERR exactly one of FROMMEMBER or FROMLONLAT can be specified for <cmd>`
/// (the command name as the client spelled it).
fn need_from(cmd: &[u8]) -> Fail {
    Fail::Owned(err::with_arg(
        "ERR exactly one of FROMMEMBER or FROMLONLAT can be specified for ",
        cmd,
        "",
    ))
}

/// `ERR exactly one of BYRADIUS and BYBOX can be specified for <cmd>`
fn need_by(cmd: &[u8]) -> Fail {
    Fail::Owned(err::with_arg(
        "ERR exactly one of BYRADIUS and BYBOX can be specified for ",
        cmd,
        "",
    ))
}

/// An error reply: a constant, or one built from arguments.
#[derive(Debug, Clone, PartialEq)]
pub enum Fail {
    Static(&'static str),
    Owned(Vec<u8>),
}

impl Fail {
    fn reply(&self, out: &mut Reply) {
        match self {
            Fail::Static(s) => out.error(s),
            Fail::Owned(b) => out.error_bytes(b),
        }
    }
}

impl From<&'static str> for Fail {
    fn from(s: &'static str) -> Fail {
        Fail::Static(s)
    }
}

// ---------------------------------------------------------------- parsing

/// A longitude and latitude argument pair, validated against the limits.
fn parse_position(lon: &[u8], lat: &[u8]) -> Result<(f64, f64), Fail> {
    let lon = parse_score(lon).ok_or(err::NOT_FLOAT)?;
    let lat = parse_score(lat).ok_or(err::NOT_FLOAT)?;
    if !(geohash::LONG_MIN..=geohash::LONG_MAX).contains(&lon) || !(geohash::LAT_MIN..=geohash::LAT_MAX).contains(&lat)
    {
        return Err(invalid_pair(lon, lat));
    }
    Ok((lon, lat))
}

/// Metres per unit (`m`, `km`, `ft`, `mi`, any case).
fn parse_unit(b: &[u8]) -> Result<f64, Fail> {
    let to_meters = match b.to_ascii_lowercase().as_slice() {
        b"m" => 1.0,
        b"km" => 1000.0,
        b"ft" => 0.3048,
        b"mi" => 1609.34,
        _ => return Err(UNIT.into()),
    };
    Ok(to_meters)
}

/// `<radius> <unit>` → (radius, metres per unit).
fn parse_radius(radius: &[u8], unit: &[u8]) -> Result<(f64, f64), Fail> {
    let r = parse_score(radius).ok_or(NEED_RADIUS)?;
    if r < 0.0 {
        return Err(RADIUS_NEGATIVE.into());
    }
    Ok((r, parse_unit(unit)?))
}

/// `<width> <height> <unit>` → (width, height, metres per unit).
fn parse_box(width: &[u8], height: &[u8], unit: &[u8]) -> Result<(f64, f64, f64), Fail> {
    let w = parse_score(width).ok_or(NEED_WIDTH)?;
    let h = parse_score(height).ok_or(NEED_HEIGHT)?;
    if h < 0.0 || w < 0.0 {
        return Err(BOX_NEGATIVE.into());
    }
    Ok((w, h, parse_unit(unit)?))
}

/// The position of `member` in `z`.
fn member_position(z: &ZSet, member: &[u8]) -> Option<(f64, f64)> {
    z.score(member).and_then(geohash::score_position)
}

// ---------------------------------------------------------------- replies

/// A distance as Redis prints it: rounded (half to even, as llrint) to 4
/// decimals.
pub fn format_distance(d: f64) -> String {
    if d == 0.0 {
        return "0.0000".to_string();
    }
    let scaled = d * 10000.0;
    // llrint: out of range and NaN give the "integer indefinite" value.
    let v = if scaled.is_finite() && scaled.abs() < 9.2e18 {
        scaled.round_ties_even() as i64
    } else {
        i64::MIN
    };
    let mag = v.unsigned_abs();
    format!("{}{}.{:04}", if v < 0 { "-" } else { "" }, mag / 10000, mag % 10000)
}

/// A coordinate as Redis's human long double form: `%.17Lf` without
/// trailing zeros (the exact value of the double, 17 decimals).
pub fn format_coordinate(v: f64) -> String {
    let mut s = format!("{v:.17}");
    if s.contains('.') {
        let keep = s.trim_end_matches('0').trim_end_matches('.').len();
        s.truncate(keep);
    }
    if s == "-0" {
        s = "0".to_string();
    }
    s
}

/// A coordinate reply: RESP3 double, RESP2 bulk string.
fn reply_coordinate(out: &mut Reply, v: f64) {
    let s = format_coordinate(v);
    if out.resp3 {
        out.raw(b",");
        out.raw(s.as_bytes());
        out.raw(b"\r\n");
    } else {
        out.bulk(s.as_bytes());
    }
}

// ---------------------------------------------------------------- lookups

/// The zset at `key` for reading (hit/miss counted, `keymiss` raised,
/// access time refreshed), with the reply encoder borrowed alongside.
fn open_read<'c, 'a>(ctx: &'c mut Ctx<'a>, key: &[u8]) -> (Result<Option<&'c ZSet>, WrongType>, &'c mut Reply<'a>) {
    let (now, clock, touch) = (ctx.now_ms, ctx.clock, !ctx.no_touch);
    let db = &mut ctx.ks.dbs[ctx.db];
    if touch {
        if let Some(e) = db.lookup(key, now) {
            e.touch(clock);
        }
    }
    let z = zset::lookup(db, key, now, true).map(|z| z.map(|z| &*z));
    (z, &mut ctx.out)
}

// ---------------------------------------------------------------- GEOADD

/// `GEOADD key [NX|XX] [CH] longitude latitude member [...]` → members
/// added (or changed, with CH). Raises `zadd`, as Redis runs it as ZADD.
pub fn cmd_geoadd(ctx: &mut Ctx, args: &Args) {
    let mut f = AddFlags::default();
    let mut i = 2;
    while i < args.len() {
        if args.is(i, "nx") {
            f.nx = true;
        } else if args.is(i, "xx") {
            f.xx = true;
        } else if args.is(i, "ch") {
            f.ch = true;
        } else {
            break;
        }
        i += 1;
    }
    let rest = args.len() - i;
    if !rest.is_multiple_of(3) || (f.xx && f.nx) || rest == 0 {
        return ctx.out.error(err::SYNTAX);
    }
    let mut pairs = Vec::with_capacity(rest / 3);
    for j in (i..args.len()).step_by(3) {
        match parse_position(args.get(j), args.get(j + 1)) {
            Ok((lon, lat)) => {
                let score = geohash::position_score(lon, lat).unwrap_or(0);
                pairs.push((score as f64, args.get(j + 2)));
            }
            Err(e) => return e.reply(&mut ctx.out),
        }
    }
    let lim = PackLimits::from(&ctx.limits);
    let (now, clock) = (ctx.now_ms, ctx.clock);
    match op_zadd(ctx.db(), args.get(1), &pairs, f, lim, now, clock) {
        Err(e) => ctx.out.error(e),
        Ok(o) => ctx.out.int((o.added + if f.ch { o.updated } else { 0 }) as i64),
    }
}

// ---------------------------------------------------------------- GEOPOS, GEOHASH, GEODIST

/// `GEOPOS key [member ...]` → per member [longitude, latitude] or a null
/// array.
pub fn cmd_geopos(ctx: &mut Ctx, args: &Args) {
    let (z, out) = open_read(ctx, args.get(1));
    let z = match z {
        Err(WrongType) => return out.error(err::WRONGTYPE),
        Ok(z) => z,
    };
    out.array_len(args.len() - 2);
    for i in 2..args.len() {
        match z.and_then(|z| member_position(z, args.get(i))) {
            Some((lon, lat)) => {
                out.array_len(2);
                reply_coordinate(out, lon);
                reply_coordinate(out, lat);
            }
            None => out.null_array(),
        }
    }
}

/// `GEOHASH key [member ...]` → per member an 11-character geohash or null.
pub fn cmd_geohash(ctx: &mut Ctx, args: &Args) {
    let (z, out) = open_read(ctx, args.get(1));
    let z = match z {
        Err(WrongType) => return out.error(err::WRONGTYPE),
        Ok(z) => z,
    };
    out.array_len(args.len() - 2);
    for i in 2..args.len() {
        match z.and_then(|z| member_position(z, args.get(i))) {
            Some((lon, lat)) => out.bulk(&geohash::standard_string(lon, lat)),
            None => out.null(),
        }
    }
}

/// `GEODIST key member1 member2 [m|km|ft|mi]` → the distance (4 decimals),
/// or null when the key or a member is missing.
pub fn cmd_geodist(ctx: &mut Ctx, args: &Args) {
    let to_meters = match args.len() {
        4 => 1.0,
        5 => match parse_unit(args.get(4)) {
            Ok(u) => u,
            Err(e) => return e.reply(&mut ctx.out),
        },
        _ => return ctx.out.error(err::SYNTAX),
    };
    let (z, out) = open_read(ctx, args.get(1));
    let z = match z {
        Err(WrongType) => return out.error(err::WRONGTYPE),
        Ok(None) => return out.null(),
        Ok(Some(z)) => z,
    };
    let (Some(s1), Some(s2)) = (z.score(args.get(2)), z.score(args.get(3))) else {
        return out.null();
    };
    match (geohash::score_position(s1), geohash::score_position(s2)) {
        (Some(a), Some(b)) => out.bulk(format_distance(geohash::distance(a.0, a.1, b.0, b.1) / to_meters).as_bytes()),
        _ => out.null(),
    }
}

// ---------------------------------------------------------------- searches

/// Which search command runs (they share one body, as in Redis).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Variant {
    /// GEORADIUS(_RO) key longitude latitude radius unit ...
    Radius,
    /// GEORADIUSBYMEMBER(_RO) key member radius unit ...
    RadiusByMember,
    /// GEOSEARCH key ...
    Search,
    /// GEOSEARCHSTORE destination source ...
    SearchStore,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Sort {
    None,
    Asc,
    Desc,
}

/// A member found by a search.
#[derive(Debug, Clone, PartialEq)]
pub struct Found<'z> {
    pub member: &'z [u8],
    pub longitude: f64,
    pub latitude: f64,
    /// Metres from the centre.
    pub distance: f64,
    pub score: f64,
}

/// Finds the members of `z` inside `search`, in Redis's order: cell by
/// cell (centre, N, S, E, W, NE, NW, SE, SW), by score within a cell, then
/// sorted by distance when `sort` asks. With `limit` (COUNT ... ANY) the
/// scan stops once that many are found.
pub fn op_search<'z>(z: &'z ZSet, search: &Search, limit: usize, sort: Sort) -> Vec<Found<'z>> {
    let cells = search.cells();
    let mut found: Vec<Found<'z>> = Vec::new();
    // Redis skips a cell equal to the last one scanned (huge radii make
    // neighbours coincide), except when that was the centre (index 0).
    let mut last = 0usize;
    for (i, &cell) in cells.iter().enumerate() {
        if cell.is_zero() {
            continue;
        }
        if last != 0 && cells[last] == cell {
            continue;
        }
        if limit > 0 && found.len() >= limit {
            break;
        }
        let (min, max) = geohash::score_range(cell);
        let start = z.count_prefix(|s, _| s < min);
        let end = z.count_prefix(|s, _| s < max);
        // The closure sees members for its call only: note the ranks of the
        // matches, then borrow their members from the zset.
        let mut matches: Vec<(usize, f64, f64, f64, f64)> = Vec::new();
        let mut rank = start;
        let mut full = false;
        z.for_range(start, end, false, |_, score| {
            let at = rank;
            rank += 1;
            if full {
                return;
            }
            if let Some((longitude, latitude)) = geohash::score_position(score) {
                if let Some(distance) = search.distance_if_inside(longitude, latitude) {
                    matches.push((at, longitude, latitude, distance, score));
                }
            }
            full = limit > 0 && found.len() + matches.len() >= limit;
        });
        for (at, longitude, latitude, distance, score) in matches {
            if let Some((member, _)) = z.get_by_rank(at) {
                found.push(Found {
                    member,
                    longitude,
                    latitude,
                    distance,
                    score,
                });
            }
        }
        last = i;
    }
    // Stable, like the merge sort glibc's qsort uses: ties keep scan order.
    match sort {
        Sort::None => {}
        Sort::Asc => found.sort_by(|a, b| a.distance.total_cmp(&b.distance)),
        Sort::Desc => found.sort_by(|a, b| b.distance.total_cmp(&a.distance)),
    }
    found
}

/// What a search command asked for, once parsed.
struct Query {
    search: Option<Search>,
    /// Argument index of the destination key, and whether to store
    /// distances instead of geohashes.
    store: Option<(usize, bool)>,
    withdist: bool,
    withhash: bool,
    withcoord: bool,
    sort: Sort,
    count: usize,
    any: bool,
}

/// Parses a search command's arguments, in Redis's order (errors come out
/// as Redis's would). `z` is the source zset: the member positions are
/// read from it while parsing.
fn parse_query(args: &Args, v: Variant, nostore: bool, z: Option<&ZSet>) -> Result<Query, Fail> {
    let is_search = matches!(v, Variant::Search | Variant::SearchStore);
    let mut center: Option<(f64, f64)> = None;
    let mut shape: Option<(Shape, f64)> = None;
    let base = match v {
        Variant::Radius => {
            center = Some(parse_position(args.get(2), args.get(3))?);
            let (r, unit) = parse_radius(args.get(4), args.get(5))?;
            shape = Some((Shape::Radius(r), unit));
            6
        }
        // Without a source there is nothing to search; the options are
        // still parsed for their errors and the STORE choice.
        Variant::RadiusByMember if z.is_none() => 5,
        Variant::RadiusByMember => {
            center = Some(z.and_then(|z| member_position(z, args.get(2))).ok_or(BAD_MEMBER)?);
            let (r, unit) = parse_radius(args.get(3), args.get(4))?;
            shape = Some((Shape::Radius(r), unit));
            5
        }
        Variant::Search => 2,
        Variant::SearchStore => 3,
    };
    let mut q = Query {
        search: None,
        store: None,
        withdist: false,
        withhash: false,
        withcoord: false,
        sort: Sort::None,
        count: 0,
        any: false,
    };
    let (mut frommember, mut fromloc, mut byradius, mut bybox, mut storedist) = (false, false, false, false, false);
    let argc = args.len();
    let mut j = base;
    while j < argc {
        let has = |n: usize| j + n < argc;
        let a = args.get(j);
        let is = |w: &str| a.eq_ignore_ascii_case(w.as_bytes());
        if is("withdist") {
            q.withdist = true;
        } else if is("withhash") {
            q.withhash = true;
        } else if is("withcoord") {
            q.withcoord = true;
        } else if is("any") {
            q.any = true;
        } else if is("asc") {
            q.sort = Sort::Asc;
        } else if is("desc") {
            q.sort = Sort::Desc;
        } else if is("count") && has(1) {
            let n = parse_i64(args.get(j + 1)).ok_or(err::NOT_INTEGER)?;
            if n <= 0 {
                return Err(COUNT_POSITIVE.into());
            }
            q.count = n as usize;
            j += 1;
        } else if (is("store") || is("storedist")) && has(1) && !nostore && !is_search {
            q.store = Some((j + 1, is("storedist")));
            j += 1;
        } else if is("storedist") && v == Variant::SearchStore {
            storedist = true;
        } else if is("frommember") && has(1) && is_search && !fromloc {
            if let Some(z) = z {
                center = Some(member_position(z, args.get(j + 1)).ok_or(BAD_MEMBER)?);
            }
            frommember = true;
            j += 1;
        } else if is("fromlonlat") && has(2) && is_search && !frommember {
            center = Some(parse_position(args.get(j + 1), args.get(j + 2))?);
            fromloc = true;
            j += 2;
        } else if is("byradius") && has(2) && is_search && !bybox {
            let (r, unit) = parse_radius(args.get(j + 1), args.get(j + 2))?;
            shape = Some((Shape::Radius(r), unit));
            byradius = true;
            j += 2;
        } else if is("bybox") && has(3) && is_search && !byradius {
            let (width, height, unit) = parse_box(args.get(j + 1), args.get(j + 2), args.get(j + 3))?;
            shape = Some((Shape::Box { width, height }, unit));
            bybox = true;
            j += 3;
        } else {
            return Err(err::SYNTAX.into());
        }
        j += 1;
    }
    if v == Variant::SearchStore {
        q.store = Some((1, storedist));
    }
    if q.store.is_some() && (q.withdist || q.withhash || q.withcoord) {
        return Err(if v == Variant::SearchStore {
            SEARCHSTORE_WITH
        } else {
            STORE_WITH
        }
        .into());
    }
    if is_search && !(frommember || fromloc) {
        return Err(need_from(args.get(0)));
    }
    if is_search && !(byradius || bybox) {
        return Err(need_by(args.get(0)));
    }
    if q.any && q.count == 0 {
        return Err(ANY_NEEDS_COUNT.into());
    }
    // COUNT picks the nearest, so it sorts unless ANY said otherwise.
    if q.count != 0 && q.sort == Sort::None && !q.any {
        q.sort = Sort::Asc;
    }
    if let (Some((longitude, latitude)), Some((shape, unit))) = (center, shape) {
        q.search = Some(Search {
            longitude,
            latitude,
            shape,
            unit,
        });
    }
    Ok(q)
}

/// The body of every search command. `src_at` is the source key's index.
fn search_generic(ctx: &mut Ctx, args: &Args, v: Variant, nostore: bool) {
    let src_at = if v == Variant::SearchStore { 2 } else { 1 };
    let lim = PackLimits::from(&ctx.limits);
    let (z, out) = open_read(ctx, args.get(src_at));
    let z = match z {
        Err(WrongType) => return out.error(err::WRONGTYPE),
        Ok(z) => z,
    };
    let q = match parse_query(args, v, nostore, z) {
        Ok(q) => q,
        Err(e) => return e.reply(out),
    };
    let found = match (z, &q.search) {
        (Some(z), Some(search)) => op_search(z, search, if q.any { q.count } else { 0 }, q.sort),
        _ => Vec::new(),
    };
    let unit = q.search.map_or(1.0, |s| s.unit);
    let n = if q.count == 0 {
        found.len()
    } else {
        found.len().min(q.count)
    };
    let Some((dst_at, storedist)) = q.store else {
        out.array_len(n);
        let options = q.withdist as usize + q.withhash as usize + q.withcoord as usize;
        for f in &found[..n] {
            if options > 0 {
                out.array_len(options + 1);
            }
            out.bulk(f.member);
            if q.withdist {
                out.bulk(format_distance(f.distance / unit).as_bytes());
            }
            if q.withhash {
                out.int(f.score as i64);
            }
            if q.withcoord {
                out.array_len(2);
                reply_coordinate(out, f.longitude);
                reply_coordinate(out, f.latitude);
            }
        }
        return;
    };
    // The stored zset, built before the source is let go.
    let stored = (n > 0).then(|| {
        let mut entries: Vec<(f64, Box<[u8]>)> = found[..n]
            .iter()
            .map(|f| (if storedist { f.distance / unit } else { f.score }, f.member.into()))
            .collect();
        entries.sort_by(|a, b| cmp_entry(a.0, &a.1, b.0, &b.1));
        ZSet::from_sorted(entries, lim)
    });
    drop(found);
    let dst = args.get(dst_at);
    let clock = ctx.clock;
    match stored {
        None => {
            if ctx.db().remove(dst).is_some() {
                notify(class::GENERIC, "del", ctx.db, dst);
                crate::persist::bump(1);
            }
        }
        Some(s) => {
            ctx.db().insert(dst, Value::ZSet(Box::new(s)), 0, clock);
            let event = if matches!(v, Variant::Search | Variant::SearchStore) {
                "geosearchstore"
            } else {
                "georadiusstore"
            };
            notify(class::ZSET, event, ctx.db, dst);
            crate::persist::bump(1);
        }
    }
    ctx.out.int(n as i64);
}

/// `GEOSEARCH key <FROMMEMBER member | FROMLONLAT lon lat> <BYRADIUS r unit
/// | BYBOX w h unit> [ASC|DESC] [COUNT n [ANY]] [WITHCOORD] [WITHDIST]
/// [WITHHASH]` → members, or [member, dist?, hash?, [lon, lat]?] entries.
pub fn cmd_geosearch(ctx: &mut Ctx, args: &Args) {
    search_generic(ctx, args, Variant::Search, true)
}

/// `GEOSEARCHSTORE destination source ... [STOREDIST]` → members stored.
pub fn cmd_geosearchstore(ctx: &mut Ctx, args: &Args) {
    search_generic(ctx, args, Variant::SearchStore, false)
}

/// `GEORADIUS key longitude latitude radius unit [WITHCOORD] [WITHDIST]
/// [WITHHASH] [COUNT n [ANY]] [ASC|DESC] [STORE key | STOREDIST key]`
pub fn cmd_georadius(ctx: &mut Ctx, args: &Args) {
    search_generic(ctx, args, Variant::Radius, false)
}

/// `GEORADIUS_RO`: GEORADIUS without STORE.
pub fn cmd_georadius_ro(ctx: &mut Ctx, args: &Args) {
    search_generic(ctx, args, Variant::Radius, true)
}

/// `GEORADIUSBYMEMBER key member radius unit [...]`: GEORADIUS around a
/// member.
pub fn cmd_georadiusbymember(ctx: &mut Ctx, args: &Args) {
    search_generic(ctx, args, Variant::RadiusByMember, false)
}

/// `GEORADIUSBYMEMBER_RO`: GEORADIUSBYMEMBER without STORE.
pub fn cmd_georadiusbymember_ro(ctx: &mut Ctx, args: &Args) {
    search_generic(ctx, args, Variant::RadiusByMember, true)
}

/// Argument index of the key GEORADIUS / GEORADIUSBYMEMBER store to,
/// options searched from `from` as the command's parser reads them: the
/// last STORE or STOREDIST option wins, COUNT's argument is no keyword.
/// Redis's key specs name the first STORE and the first STOREDIST key
/// instead; they differ only when the option is repeated, and then this is
/// the key actually written (routing must lock it).
pub fn store_key_index(args: &Args, from: usize) -> Option<usize> {
    let argc = args.len();
    let mut written = None;
    let mut j = from;
    while j + 1 < argc {
        if args.is(j, "store") || args.is(j, "storedist") {
            written = Some(j + 1);
            j += 1;
        } else if args.is(j, "count") {
            j += 1;
        }
        j += 1;
    }
    written
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn distances_print_like_fixedpoint_d2string() {
        assert_eq!(format_distance(0.0), "0.0000");
        assert_eq!(format_distance(0.775), "0.7750");
        assert_eq!(format_distance(166274.15156960033), "166274.1516");
        // Ties go to even, as llrint does.
        for (d, want) in [(0.5f64, "0.0000"), (1.5, "0.0002"), (2.5, "0.0002")] {
            let d = d / 10000.0;
            if d * 10000.0 == (d * 10000.0).floor() + 0.5 {
                assert_eq!(format_distance(d), want);
            }
        }
        assert_eq!(format_distance(f64::NAN), "-922337203685477.5808");
    }

    #[test]
    fn coordinates_print_like_ld2string_human() {
        assert_eq!(format_coordinate(13.361389338970184), "13.36138933897018433");
        assert_eq!(format_coordinate(15.0), "15");
        assert_eq!(format_coordinate(-0.5), "-0.5");
        assert_eq!(format_coordinate(-0.0), "0");
        assert_eq!(format_coordinate(0.1), "0.10000000000000001");
    }

    #[test]
    fn units_and_positions() {
        assert_eq!(parse_unit(b"KM"), Ok(1000.0));
        assert_eq!(parse_unit(b"Mi"), Ok(1609.34));
        assert_eq!(parse_unit(b"yd"), Err(Fail::Static(UNIT)));
        assert_eq!(parse_position(b"1", b"2"), Ok((1.0, 2.0)));
        assert_eq!(parse_position(b"x", b"2"), Err(Fail::Static(err::NOT_FLOAT)));
        assert_eq!(
            parse_position(b"200", b"100"),
            Err(Fail::Owned(
                b"ERR invalid longitude,latitude pair 200.000000,100.000000".to_vec()
            ))
        );
        assert_eq!(parse_radius(b"-1", b"m"), Err(Fail::Static(RADIUS_NEGATIVE)));
        assert_eq!(parse_radius(b"r", b"m"), Err(Fail::Static(NEED_RADIUS)));
        assert_eq!(parse_box(b"1", b"h", b"m"), Err(Fail::Static(NEED_HEIGHT)));
        assert_eq!(parse_box(b"1", b"-1", b"zz"), Err(Fail::Static(BOX_NEGATIVE)));
    }

    use crate::command::args::args_of;

    #[test]
    fn store_keys() {
        let words = "georadius k 1 2 3 m STORE a storedist b store c";
        let (b, r) = args_of(&words.split(' ').collect::<Vec<_>>());
        assert_eq!(store_key_index(&Args::new(&b, &r), 6), Some(11));
        let (b, r) = args_of(&[
            "georadius",
            "k",
            "1",
            "2",
            "3",
            "m",
            "withdist",
            "storedist",
            "b",
            "asc",
        ]);
        assert_eq!(store_key_index(&Args::new(&b, &r), 6), Some(8));
        // COUNT's argument is no keyword to the command.
        let (b, r) = args_of(&["georadius", "k", "1", "2", "3", "m", "count", "store", "x"]);
        assert_eq!(store_key_index(&Args::new(&b, &r), 6), None);
        let (b, r) = args_of(&["georadiusbymember", "k", "m", "3", "m", "store"]);
        assert_eq!(store_key_index(&Args::new(&b, &r), 5), None);
    }

    #[test]
    fn search_finds_and_sorts() {
        let lim = PackLimits {
            entries: 128,
            value: 64,
        };
        let mut z = ZSet::default();
        for (m, lon, lat) in [
            ("Palermo", 13.361389, 38.115556),
            ("Catania", 15.087269, 37.502669),
            ("far", 100.0, 10.0),
        ] {
            z.insert(m.as_bytes(), geohash::position_score(lon, lat).unwrap() as f64, lim);
        }
        let s = Search {
            longitude: 15.0,
            latitude: 37.0,
            shape: Shape::Radius(200.0),
            unit: 1000.0,
        };
        let names = |f: &[Found]| {
            f.iter()
                .map(|f| String::from_utf8_lossy(f.member).into_owned())
                .collect::<Vec<_>>()
        };
        assert_eq!(names(&op_search(&z, &s, 0, Sort::Asc)), ["Catania", "Palermo"]);
        assert_eq!(names(&op_search(&z, &s, 0, Sort::Desc)), ["Palermo", "Catania"]);
        assert_eq!(op_search(&z, &s, 1, Sort::None).len(), 1);
        let small = Search {
            shape: Shape::Radius(100.0),
            ..s
        };
        assert_eq!(names(&op_search(&z, &small, 0, Sort::Asc)), ["Catania"]);
    }
}
