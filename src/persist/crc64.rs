//! Redis's CRC-64 (Jones polynomial, reflected, init 0, no final xor), the
//! checksum of RDB files and DUMP payloads, and its combination for
//! concatenated segments (each shard can checksum its own part).

const POLY: u64 = 0x95ac_9329_ac4b_c9b5;

fn table() -> &'static [u64; 256] {
    static TABLE: std::sync::OnceLock<[u64; 256]> = std::sync::OnceLock::new();
    TABLE.get_or_init(|| {
        let mut t = [0u64; 256];
        for (i, slot) in t.iter_mut().enumerate() {
            let mut c = i as u64;
            for _ in 0..8 {
                c = if c & 1 != 0 { (c >> 1) ^ POLY } else { c >> 1 };
            }
            *slot = c;
        }
        t
    })
}

/// Continues `crc` over `data` (start from 0: Redis's `crc64(0, ..)`).
pub fn crc64(mut crc: u64, data: &[u8]) -> u64 {
    let t = table();
    for &b in data {
        crc = t[((crc ^ b as u64) & 0xff) as usize] ^ (crc >> 8);
    }
    crc
}

/// The GF(2) matrix (64 columns) times vector.
fn gf2_times(mat: &[u64; 64], mut vec: u64) -> u64 {
    let mut sum = 0;
    let mut i = 0;
    while vec != 0 {
        if vec & 1 != 0 {
            sum ^= mat[i];
        }
        vec >>= 1;
        i += 1;
    }
    sum
}

fn gf2_square(sq: &mut [u64; 64], mat: &[u64; 64]) {
    for n in 0..64 {
        sq[n] = gf2_times(mat, mat[n]);
    }
}

/// The CRC of A‖B from `crc_a` = crc64(0, A), `crc_b` = crc64(0, B) and
/// `len_b` = |B| (zlib's crc32_combine method, O(log len_b)).
pub fn combine(crc_a: u64, crc_b: u64, mut len_b: u64) -> u64 {
    if len_b == 0 {
        return crc_a;
    }
    let mut even = [0u64; 64];
    let mut odd = [0u64; 64];
    // Operator for one zero bit.
    odd[0] = POLY;
    let mut row = 1u64;
    for slot in odd.iter_mut().skip(1) {
        *slot = row;
        row <<= 1;
    }
    gf2_square(&mut even, &odd); // two zero bits
    gf2_square(&mut odd, &even); // four zero bits
    let mut crc = crc_a;
    loop {
        gf2_square(&mut even, &odd);
        if len_b & 1 != 0 {
            crc = gf2_times(&even, crc);
        }
        len_b >>= 1;
        if len_b == 0 {
            break;
        }
        gf2_square(&mut odd, &even);
        if len_b & 1 != 0 {
            crc = gf2_times(&odd, crc);
        }
        len_b >>= 1;
        if len_b == 0 {
            break;
        }
    }
    crc ^ crc_b
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn check_value() {
        assert_eq!(crc64(0, b"123456789"), 0xe9c6d914c4b8d9ca);
        assert_eq!(crc64(0, b""), 0);
    }

    #[test]
    fn combines() {
        let data: Vec<u8> = (0..5000u32).map(|i| (i * 7 + i / 13) as u8).collect();
        for cut in [0, 1, 7, 100, 4096, 4999, 5000] {
            let (a, b) = data.split_at(cut);
            assert_eq!(combine(crc64(0, a), crc64(0, b), b.len() as u64), crc64(0, &data));
        }
    }
}
