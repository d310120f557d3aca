//! LEB128 numbers, the length and delta encoding of the packed collection
//! encodings (hash listpacks, stream nodes).

/// Appends `v` as LEB128.
#[inline]
pub fn put(buf: &mut Vec<u8>, mut v: u64) {
    while v >= 0x80 {
        buf.push((v as u8) | 0x80);
        v >>= 7;
    }
    buf.push(v as u8);
}

/// Reads a LEB128 number at `*at`, advancing it.
#[inline]
pub fn get(buf: &[u8], at: &mut usize) -> u64 {
    let mut v = 0u64;
    let mut shift = 0;
    loop {
        let b = buf[*at];
        *at += 1;
        v |= ((b & 0x7f) as u64) << shift;
        if b < 0x80 {
            return v;
        }
        shift += 7;
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn round_trips() {
        let mut buf = Vec::new();
        let values = [0, 1, 127, 128, 300, 16383, 16384, u32::MAX as u64, u64::MAX];
        for v in values {
            super::put(&mut buf, v);
        }
        assert_eq!(buf[..4], [0, 1, 127, 0x80]);
        let mut at = 0;
        for v in values {
            assert_eq!(super::get(&buf, &mut at), v);
        }
        assert_eq!(at, buf.len());
    }
}
