//! Geohash arithmetic for the GEO commands: a position is a 52-bit
//! interleaved geohash stored as a sorted set score, as Redis stores it.
//!
//! - Encoding: longitude and latitude are scaled to `step` bits each over
//!   [-180, 180] and [-85.05112878, 85.05112878] (the Web Mercator limits)
//!   and interleaved, latitude in the even bits and longitude in the odd
//!   ones. At `STEP_MAX` (26) the hash is the score itself.
//! - Decoding gives the cell; a position is its centre, clamped to the
//!   limits.
//! - A search around a centre picks a step whose cells cover the search
//!   area with the cell of the centre and its eight neighbours, then scans
//!   each cell's score range ([`Search::cells`], [`score_range`]) and keeps
//!   the members inside the circle or box ([`Search::distance_if_inside`]).
//! - Distances are great-circle (haversine) on a sphere of radius
//!   [`EARTH_RADIUS_M`].
//!
//! Every floating point operation follows Redis 7.4's order, so replies
//! (coordinates, distances, which border points are inside) come out the
//! same bit for bit.

/// Bits per coordinate of a stored position (52 bits in all).
pub const STEP_MAX: u8 = 26;
pub const LAT_MIN: f64 = -85.05112878;
pub const LAT_MAX: f64 = 85.05112878;
pub const LONG_MIN: f64 = -180.0;
pub const LONG_MAX: f64 = 180.0;
/// Earth's quadratic mean radius for WGS-84, in metres.
pub const EARTH_RADIUS_M: f64 = 6372797.560856;
const MERCATOR_MAX: f64 = 20037726.37;
const DEG_TO_RAD: f64 = std::f64::consts::PI / 180.0;

/// A geohash of `step` bits per coordinate. The zero value (bits 0, step
/// 0) marks a cell left out of a search.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Hash {
    pub bits: u64,
    pub step: u8,
}

impl Hash {
    pub fn is_zero(self) -> bool {
        self.bits == 0 && self.step == 0
    }
}

/// A closed interval of one coordinate.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Range {
    pub min: f64,
    pub max: f64,
}

/// The ranges hashed over: longitude, latitude (Web Mercator limits).
pub const WGS84: (Range, Range) = (
    Range {
        min: LONG_MIN,
        max: LONG_MAX,
    },
    Range {
        min: LAT_MIN,
        max: LAT_MAX,
    },
);

/// The ranges of the standard geohash (GEOHASH's strings).
pub const STANDARD: (Range, Range) = (
    Range {
        min: -180.0,
        max: 180.0,
    },
    Range { min: -90.0, max: 90.0 },
);

/// The cell a hash stands for.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Area {
    pub longitude: Range,
    pub latitude: Range,
}

/// Spreads the 32 bits of `v` to the even bits of a u64.
fn spread(v: u32) -> u64 {
    let mut x = v as u64;
    x = (x | (x << 16)) & 0x0000_FFFF_0000_FFFF;
    x = (x | (x << 8)) & 0x00FF_00FF_00FF_00FF;
    x = (x | (x << 4)) & 0x0F0F_0F0F_0F0F_0F0F;
    x = (x | (x << 2)) & 0x3333_3333_3333_3333;
    (x | (x << 1)) & 0x5555_5555_5555_5555
}

/// Gathers the even bits of `v` into a u32 (the inverse of [`spread`]).
fn squash(v: u64) -> u32 {
    let mut x = v & 0x5555_5555_5555_5555;
    x = (x | (x >> 1)) & 0x3333_3333_3333_3333;
    x = (x | (x >> 2)) & 0x0F0F_0F0F_0F0F_0F0F;
    x = (x | (x >> 4)) & 0x00FF_00FF_00FF_00FF;
    x = (x | (x >> 8)) & 0x0000_FFFF_0000_FFFF;
    ((x | (x >> 16)) & 0x0000_0000_FFFF_FFFF) as u32
}

/// Hashes a position over `ranges` (longitude, latitude) with `step` bits
/// per coordinate; None outside the ranges or the Web Mercator limits.
pub fn encode(ranges: (Range, Range), longitude: f64, latitude: f64, step: u8) -> Option<Hash> {
    let (lon_r, lat_r) = ranges;
    if step == 0 || step > 32 {
        return None;
    }
    let outside = |v: f64, r: Range| v < r.min || v > r.max;
    let mercator = Range {
        min: LAT_MIN,
        max: LAT_MAX,
    };
    let world = Range {
        min: LONG_MIN,
        max: LONG_MAX,
    };
    if outside(longitude, world) || outside(latitude, mercator) || outside(longitude, lon_r) || outside(latitude, lat_r)
    {
        return None;
    }
    let lat_offset = (latitude - lat_r.min) / (lat_r.max - lat_r.min) * (1u64 << step) as f64;
    let lon_offset = (longitude - lon_r.min) / (lon_r.max - lon_r.min) * (1u64 << step) as f64;
    // The offsets are in [0, 2^step]; C truncates them to uint32 the same way.
    Some(Hash {
        bits: spread(lat_offset as u32) | (spread(lon_offset as u32) << 1),
        step,
    })
}

/// [`encode`] over the Web Mercator ranges.
pub fn encode_wgs84(longitude: f64, latitude: f64, step: u8) -> Option<Hash> {
    encode(WGS84, longitude, latitude, step)
}

/// The cell of `hash` over `ranges`; None for the zero hash.
pub fn decode(ranges: (Range, Range), hash: Hash) -> Option<Area> {
    if hash.is_zero() {
        return None;
    }
    let (lon_r, lat_r) = ranges;
    let lat_cells = squash(hash.bits) as f64;
    let lon_cells = squash(hash.bits >> 1) as f64;
    let div = (1u64 << hash.step) as f64;
    let lat_scale = lat_r.max - lat_r.min;
    let lon_scale = lon_r.max - lon_r.min;
    Some(Area {
        latitude: Range {
            min: lat_r.min + (lat_cells / div) * lat_scale,
            max: lat_r.min + ((lat_cells + 1.0) / div) * lat_scale,
        },
        longitude: Range {
            min: lon_r.min + (lon_cells / div) * lon_scale,
            max: lon_r.min + ((lon_cells + 1.0) / div) * lon_scale,
        },
    })
}

/// The position of a hash: its cell's centre, clamped to the limits.
pub fn decode_position(hash: Hash) -> Option<(f64, f64)> {
    let a = decode(WGS84, hash)?;
    let lon = ((a.longitude.min + a.longitude.max) / 2.0).clamp(LONG_MIN, LONG_MAX);
    let lat = ((a.latitude.min + a.latitude.max) / 2.0).clamp(LAT_MIN, LAT_MAX);
    Some((lon, lat))
}

/// A double converted to uint64 as x86-64 C code does it (cvttsd2si, with
/// the 2^63 adjustment): scores that are not geohashes (negative, huge)
/// decode to the same clamped positions as in Redis.
fn c_double_to_u64(x: f64) -> u64 {
    const TWO63: f64 = 9_223_372_036_854_775_808.0;
    const INDEFINITE: u64 = 1 << 63;
    let trunc = |v: f64| -> u64 {
        if v > -TWO63 - 1025.0 && v < TWO63 {
            v as i64 as u64
        } else {
            INDEFINITE
        }
    };
    if x < TWO63 {
        trunc(x)
    } else {
        trunc(x - TWO63) ^ INDEFINITE
    }
}

/// The position stored as sorted set score `score`.
pub fn score_position(score: f64) -> Option<(f64, f64)> {
    decode_position(Hash {
        bits: c_double_to_u64(score),
        step: STEP_MAX,
    })
}

/// The score (a 52-bit integer) of a position already validated against
/// the limits.
pub fn position_score(longitude: f64, latitude: f64) -> Option<u64> {
    encode_wgs84(longitude, latitude, STEP_MAX).map(align52)
}

/// A hash shifted to 52 bits (the score range its cell covers starts here).
pub fn align52(hash: Hash) -> u64 {
    hash.bits << (52 - hash.step as u32 * 2)
}

/// The scores of the members in the cell `hash`: `min <= score < max`.
pub fn score_range(hash: Hash) -> (f64, f64) {
    let min = align52(hash);
    let max = align52(Hash {
        bits: hash.bits + 1,
        step: hash.step,
    });
    (min as f64, max as f64)
}

/// Moves a hash one cell east (`d > 0`) or west in its longitude lane.
fn move_x(hash: &mut Hash, d: i8) {
    move_in_lane(hash, d, 0xAAAA_AAAA_AAAA_AAAA);
}

/// Moves a hash one cell north (`d > 0`) or south in its latitude lane.
fn move_y(hash: &mut Hash, d: i8) {
    move_in_lane(hash, d, 0x5555_5555_5555_5555);
}

/// Adds or subtracts one (by `d`'s sign) to the coordinate interleaved in
/// the bits `lane` of `hash`, leaving the other coordinate as it was: the
/// other lane's bits are filled with ones so the carry or borrow crosses
/// them.
fn move_in_lane(hash: &mut Hash, d: i8, lane: u64) {
    if d == 0 {
        return;
    }
    let shift = 64 - hash.step as u32 * 2;
    let moving = hash.bits & lane;
    let other = hash.bits & !lane;
    let holes = !lane >> shift;
    let moved = if d > 0 {
        moving.wrapping_add(holes + 1)
    } else {
        (moving | holes).wrapping_sub(holes + 1)
    };
    hash.bits = (moved & (lane >> shift)) | other;
}

/// The eight neighbours of a cell (wrapping around each lane).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Neighbors {
    pub north: Hash,
    pub south: Hash,
    pub east: Hash,
    pub west: Hash,
    pub north_east: Hash,
    pub north_west: Hash,
    pub south_east: Hash,
    pub south_west: Hash,
}

pub fn neighbors(hash: Hash) -> Neighbors {
    let at = |dx: i8, dy: i8| {
        let mut h = hash;
        move_x(&mut h, dx);
        move_y(&mut h, dy);
        h
    };
    Neighbors {
        north: at(0, 1),
        south: at(0, -1),
        east: at(1, 0),
        west: at(-1, 0),
        north_east: at(1, 1),
        north_west: at(-1, 1),
        south_east: at(1, -1),
        south_west: at(-1, -1),
    }
}

fn deg_rad(ang: f64) -> f64 {
    ang * DEG_TO_RAD
}

fn rad_deg(ang: f64) -> f64 {
    ang / DEG_TO_RAD
}

/// Distance along a meridian between two latitudes, in metres.
pub fn lat_distance(lat1: f64, lat2: f64) -> f64 {
    EARTH_RADIUS_M * (deg_rad(lat2) - deg_rad(lat1)).abs()
}

/// Great-circle distance between two positions, in metres (haversine).
pub fn distance(lon1: f64, lat1: f64, lon2: f64, lat2: f64) -> f64 {
    let lon1r = deg_rad(lon1);
    let lon2r = deg_rad(lon2);
    let v = ((lon2r - lon1r) / 2.0).sin();
    if v == 0.0 {
        return lat_distance(lat1, lat2);
    }
    let lat1r = deg_rad(lat1);
    let lat2r = deg_rad(lat2);
    let u = ((lat2r - lat1r) / 2.0).sin();
    let a = u * u + lat1r.cos() * lat2r.cos() * v * v;
    2.0 * EARTH_RADIUS_M * a.sqrt().asin()
}

/// The step whose cells are about as large as a search of `range_m`
/// metres around latitude `lat` needs.
pub fn estimate_step(range_m: f64, lat: f64) -> u8 {
    if range_m == 0.0 {
        return 26;
    }
    let mut range = range_m;
    let mut step: i32 = 1;
    while range < MERCATOR_MAX {
        range *= 2.0;
        step += 1;
    }
    step -= 2;
    // Cells narrow towards the poles.
    if !(-66.0..=66.0).contains(&lat) {
        step -= 1;
        if !(-80.0..=80.0).contains(&lat) {
            step -= 1;
        }
    }
    step.clamp(1, 26) as u8
}

/// The area searched: a circle or an axis-aligned box, in the search unit.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Shape {
    Radius(f64),
    Box { width: f64, height: f64 },
}

/// A search: a centre, a shape and the unit's size in metres.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Search {
    pub longitude: f64,
    pub latitude: f64,
    pub shape: Shape,
    /// Metres per unit of the shape's sizes (1, 1000, 0.3048, 1609.34).
    pub unit: f64,
}

impl Search {
    /// The distance of a position from the centre, in metres, when it lies
    /// inside the shape.
    pub fn distance_if_inside(&self, lon: f64, lat: f64) -> Option<f64> {
        match self.shape {
            Shape::Radius(r) => {
                let d = distance(self.longitude, self.latitude, lon, lat);
                // Written as Redis's test, so that NaN counts as inside.
                if d > r * self.unit {
                    None
                } else {
                    Some(d)
                }
            }
            Shape::Box { width, height } => {
                let (w, h) = (width * self.unit, height * self.unit);
                if lat_distance(lat, self.latitude) > h / 2.0 {
                    return None;
                }
                if distance(lon, lat, self.longitude, lat) > w / 2.0 {
                    return None;
                }
                Some(distance(self.longitude, self.latitude, lon, lat))
            }
        }
    }

    /// The bounding box of the shape: (min lon, min lat, max lon, max lat).
    fn bounds(&self) -> (f64, f64, f64, f64) {
        let (half_h, half_w) = match self.shape {
            Shape::Radius(r) => (self.unit * r, self.unit * r),
            Shape::Box { width, height } => (self.unit * (height / 2.0), self.unit * (width / 2.0)),
        };
        let (lon, lat) = (self.longitude, self.latitude);
        let lat_delta = rad_deg(half_h / EARTH_RADIUS_M);
        let lon_delta_top = rad_deg(half_w / EARTH_RADIUS_M / deg_rad(lat + lat_delta).cos());
        let lon_delta_bottom = rad_deg(half_w / EARTH_RADIUS_M / deg_rad(lat - lat_delta).cos());
        // The box is widest on the side nearer the equator.
        let lon_delta = if lat < 0.0 { lon_delta_bottom } else { lon_delta_top };
        (lon - lon_delta, lat - lat_delta, lon + lon_delta, lat + lat_delta)
    }

    /// The cells to scan, in Redis's order: the centre's cell, then north,
    /// south, east, west, north-east, north-west, south-east, south-west.
    /// Cells that cannot hold a match are zero.
    pub fn cells(&self) -> [Hash; 9] {
        let (min_lon, min_lat, max_lon, max_lat) = self.bounds();
        let radius_m = match self.shape {
            Shape::Radius(r) => r,
            Shape::Box { width, height } => ((width / 2.0) * (width / 2.0) + (height / 2.0) * (height / 2.0)).sqrt(),
        } * self.unit;
        let mut step = estimate_step(radius_m, self.latitude);
        // The centre was validated, so it encodes at every step.
        let at = |step: u8| {
            let hash = encode_wgs84(self.longitude, self.latitude, step).unwrap_or_default();
            (hash, neighbors(hash), decode(WGS84, hash))
        };
        let (mut hash, mut n, mut area) = at(step);
        // Near a cell's edge the neighbours may not reach the bounding box:
        // then one step coarser.
        let reach = |h: Hash| decode(WGS84, h);
        let short = reach(n.north).is_some_and(|a| a.latitude.max < max_lat)
            || reach(n.south).is_some_and(|a| a.latitude.min > min_lat)
            || reach(n.east).is_some_and(|a| a.longitude.max < max_lon)
            || reach(n.west).is_some_and(|a| a.longitude.min > min_lon);
        if step > 1 && short {
            step -= 1;
            (hash, n, area) = at(step);
        }
        if step >= 2 {
            if let Some(a) = area {
                let zero = Hash::default();
                if a.latitude.min < min_lat {
                    (n.south, n.south_west, n.south_east) = (zero, zero, zero);
                }
                if a.latitude.max > max_lat {
                    (n.north, n.north_east, n.north_west) = (zero, zero, zero);
                }
                if a.longitude.min < min_lon {
                    (n.west, n.south_west, n.north_west) = (zero, zero, zero);
                }
                if a.longitude.max > max_lon {
                    (n.east, n.south_east, n.north_east) = (zero, zero, zero);
                }
            }
        }
        [
            hash,
            n.north,
            n.south,
            n.east,
            n.west,
            n.north_east,
            n.north_west,
            n.south_east,
            n.south_west,
        ]
    }
}

/// The 11-character standard geohash of a position (GEOHASH): re-encoded
/// over latitude [-90, 90], 52 bits, the last character always `0`.
pub fn standard_string(longitude: f64, latitude: f64) -> [u8; 11] {
    const ALPHABET: &[u8; 32] = b"0123456789bcdefghjkmnpqrstuvwxyz";
    let bits = encode(STANDARD, longitude, latitude, STEP_MAX).map_or(0, |h| h.bits);
    let mut out = [b'0'; 11];
    for (i, c) in out.iter_mut().enumerate().take(10) {
        *c = ALPHABET[((bits >> (52 - (i + 1) * 5)) & 0x1f) as usize];
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spread_and_squash_are_inverse() {
        for v in [0u32, 1, 2, 0x3ff_ffff, 0xdead_beef, u32::MAX] {
            assert_eq!(squash(spread(v)), v);
            assert_eq!(spread(v) & 0xAAAA_AAAA_AAAA_AAAA, 0);
        }
        assert_eq!(spread(0b111), 0b10101);
    }

    #[test]
    fn encodes_as_redis() {
        // Scores Redis 7 stores for these positions (GEOADD then ZSCORE).
        assert_eq!(position_score(13.361389, 38.115556), Some(3479099956230698));
        assert_eq!(position_score(15.087269, 37.502669), Some(3479447370796909));
        assert_eq!(position_score(-73.9454966, 40.747533), Some(1791875804419201));
        assert_eq!(position_score(LONG_MIN, LAT_MIN), Some(0));
        assert_eq!(position_score(180.1, 0.0), None);
        assert_eq!(position_score(0.0, 85.06), None);
    }

    #[test]
    fn decodes_to_cell_centre() {
        let (lon, lat) = score_position(3479099956230698.0).unwrap();
        assert_eq!(format!("{lon:.17}"), "13.36138933897018433");
        assert_eq!(format!("{lat:.17}"), "38.11555639549629859");
        // Round trip stays within a cell (~0.6 m at step 26).
        for &(lo, la) in &[(0.0, 0.0), (-179.99, 84.9), (179.99, -84.9), (2.35, 48.85)] {
            let (x, y) = score_position(position_score(lo, la).unwrap() as f64).unwrap();
            assert!((x - lo).abs() < 1e-5 && (y - la).abs() < 1e-5, "{lo},{la} -> {x},{y}");
        }
        // A score that is no geohash decodes, clamped, like Redis's cast.
        let (x, y) = score_position(-5.0).unwrap();
        assert!((LONG_MIN..=LONG_MAX).contains(&x) && (LAT_MIN..=LAT_MAX).contains(&y));
        assert_eq!(c_double_to_u64(-5.0), (-5i64) as u64);
        assert_eq!(c_double_to_u64(1e30), 0);
        assert_eq!(c_double_to_u64(1.5e19), 15_000_000_000_000_000_000);
    }

    #[test]
    fn neighbours_step_one_cell() {
        let h = encode_wgs84(10.0, 10.0, 10).unwrap();
        let c = decode(WGS84, h).unwrap();
        let n = neighbors(h);
        let north = decode(WGS84, n.north).unwrap();
        let east = decode(WGS84, n.east).unwrap();
        let sw = decode(WGS84, n.south_west).unwrap();
        assert_eq!(north.latitude.min, c.latitude.max);
        assert_eq!(north.longitude, c.longitude);
        assert_eq!(east.longitude.min, c.longitude.max);
        assert_eq!(east.latitude, c.latitude);
        assert_eq!(sw.latitude.max, c.latitude.min);
        assert_eq!(sw.longitude.max, c.longitude.min);
        // Wraps around the antimeridian.
        let edge = encode_wgs84(179.9, 0.0, 4).unwrap();
        let wrapped = decode(WGS84, neighbors(edge).east).unwrap();
        assert_eq!(wrapped.longitude.min, LONG_MIN);
    }

    #[test]
    fn score_ranges_cover_cells() {
        let h = encode_wgs84(13.361389, 38.115556, 8).unwrap();
        let (min, max) = score_range(h);
        let s = position_score(13.361389, 38.115556).unwrap() as f64;
        assert!(min <= s && s < max);
        assert_eq!(max - min, (1u64 << 36) as f64);
    }

    #[test]
    fn distances() {
        // Palermo to Catania, as Redis's GEODIST documents it.
        let (a, b) = (
            score_position(3479099956230698.0).unwrap(),
            score_position(3479447370796909.0).unwrap(),
        );
        assert_eq!(format!("{:.4}", distance(a.0, a.1, b.0, b.1)), "166274.1516");
        assert_eq!(distance(1.0, 2.0, 1.0, 3.0), lat_distance(2.0, 3.0));
        assert_eq!(distance(5.0, 5.0, 5.0, 5.0), 0.0);
    }

    #[test]
    fn steps_by_radius() {
        assert_eq!(estimate_step(0.0, 0.0), 26);
        assert_eq!(estimate_step(1000.0, 0.0), 14);
        assert_eq!(estimate_step(1000.0, 70.0), 13);
        assert_eq!(estimate_step(1000.0, -85.0), 12);
        assert_eq!(estimate_step(5e7, 0.0), 1);
        assert_eq!(estimate_step(1e-9, 0.0), 26);
    }

    #[test]
    fn search_cells() {
        let s = Search {
            longitude: 15.0,
            latitude: 37.0,
            shape: Shape::Radius(200.0),
            unit: 1000.0,
        };
        let cells = s.cells();
        assert!(!cells[0].is_zero());
        // Every cell found has the centre's step.
        assert!(cells.iter().all(|c| c.is_zero() || c.step == cells[0].step));
        let inside = s.distance_if_inside(15.087269, 37.502669).unwrap();
        assert!((inside - 56441.0).abs() < 1.0, "{inside}");
        assert_eq!(s.distance_if_inside(13.361389, 39.5), None);
        let b = Search {
            shape: Shape::Box {
                width: 400.0,
                height: 2.0,
            },
            ..s
        };
        assert!(b.distance_if_inside(12.75, 36.995).is_some());
        assert!(b.distance_if_inside(12.75, 36.5).is_none());
    }

    #[test]
    fn standard_geohash_strings() {
        let (lon, lat) = score_position(position_score(-5.6, 42.6).unwrap() as f64).unwrap();
        assert_eq!(&standard_string(lon, lat), b"ezs42e44yx0");
    }
}
