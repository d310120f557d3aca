//! LZF as Redis's bundled liblzf (HLOG 16, VERY_FAST): the compressor
//! reproduces Redis's output byte for byte, so DUMP payloads and RDB strings
//! equal redis-server's when `rdbcompression` is on.

/// LZF-compresses `input` into at most `max_out` bytes exactly as Redis's
/// liblzf build does (HLOG 16, VERY_FAST), or None when it does not fit.
pub fn lzf_compress(input: &[u8], max_out: usize) -> Option<Vec<u8>> {
    if input.is_empty() || max_out == 0 {
        return None;
    }
    HTAB.with(|t| {
        let mut t = t.borrow_mut();
        let (tab, base) = &mut *t;
        if tab.is_empty() || *base as u64 + input.len() as u64 + 1 >= u32::MAX as u64 {
            *tab = vec![0u32; HSIZE];
            *base = 0;
        }
        let b = *base;
        *base += input.len() as u32 + 1;
        compress_with(input, max_out, tab, b)
    })
}

const HSIZE: usize = 1 << 16;
/// The longest literal run.
const MAX_LIT: usize = 1 << 5;

thread_local! {
    /// The compressor's hash table, kept between calls (a fresh one would
    /// cost a 256 KiB clear per string), and the base of the current call:
    /// a call stores `base + position + 1`, so whatever earlier calls left
    /// (at most `base`) reads as empty.
    static HTAB: std::cell::RefCell<(Vec<u32>, u32)> = const { std::cell::RefCell::new((Vec::new(), 0)) };
}

fn compress_with(input: &[u8], max_out: usize, htab: &mut [u32], base: u32) -> Option<Vec<u8>> {
    const MAX_OFF: usize = 1 << 13;
    const MAX_REF: usize = (1 << 8) + (1 << 3);
    let in_len = input.len();
    if in_len == 0 || max_out == 0 {
        return None;
    }
    let idx = |h: u32| -> usize { ((h >> (3 * 8 - 16)).wrapping_sub(h.wrapping_mul(5)) as usize) & (HSIZE - 1) };
    let frst = |p: usize| -> u32 { ((input[p] as u32) << 8) | input[p + 1] as u32 };
    let next = |v: u32, p: usize| -> u32 { (v << 8) | input[p + 2] as u32 };
    // Positions + 1 above `base`, anything else meaning empty (Redis leaves
    // the table uninitialised and relies on its range checks; an empty
    // slot never matches).
    let mut out = vec![0u8; max_out];
    let mut op = 0usize;
    let mut ip = 0usize;
    let mut lit: usize = 0;
    op += 1; // start run
    let mut hval: u32 = if in_len >= 2 { frst(0) } else { 0 };
    while in_len > 2 && ip < in_len - 2 {
        hval = next(hval, ip);
        let slot = idx(hval);
        let r = htab[slot].checked_sub(base).unwrap_or(0);
        htab[slot] = base + ip as u32 + 1;
        let matched = if r != 0 {
            let rf = (r - 1) as usize;
            let off = ip.wrapping_sub(rf).wrapping_sub(1);
            rf < ip
                && off < MAX_OFF
                && rf > 0
                && input[rf + 2] == input[ip + 2]
                && input[rf] == input[ip]
                && input[rf + 1] == input[ip + 1]
        } else {
            false
        };
        if matched {
            let rf = (r - 1) as usize;
            let off = ip - rf - 1;
            let mut len = 2usize;
            let maxlen = (in_len - ip - len).min(MAX_REF);
            if op + 3 + 1 >= max_out && op - (lit == 0) as usize + 3 + 1 >= max_out {
                return None;
            }
            out[op - lit - 1] = (lit as u8).wrapping_sub(1); // stop run
            op -= (lit == 0) as usize; // undo run if length is zero
                                       // As liblzf: 16 unrolled steps without the maxlen test when
                                       // maxlen > 16, then one step at a time.
            'scan: {
                if maxlen > 16 {
                    for _ in 0..16 {
                        len += 1;
                        if input[rf + len] != input[ip + len] {
                            break 'scan;
                        }
                    }
                }
                loop {
                    len += 1;
                    if !(len < maxlen && input[rf + len] == input[ip + len]) {
                        break;
                    }
                }
            }
            len -= 2; // len is now #octets - 1
            ip += 1;
            if len < 7 {
                out[op] = ((off >> 8) + (len << 5)) as u8;
                op += 1;
            } else {
                out[op] = ((off >> 8) + (7 << 5)) as u8;
                out[op + 1] = (len - 7) as u8;
                op += 2;
            }
            out[op] = off as u8;
            op += 1;
            lit = 0;
            op += 1; // start run
            ip += len + 1;
            if ip >= in_len - 2 {
                break;
            }
            // VERY_FAST: re-hash the last two positions of the match.
            ip -= 2;
            hval = frst(ip);
            hval = next(hval, ip);
            htab[idx(hval)] = base + ip as u32 + 1;
            ip += 1;
            hval = next(hval, ip);
            htab[idx(hval)] = base + ip as u32 + 1;
            ip += 1;
        } else {
            if op >= max_out {
                return None;
            }
            push_literal(&mut out, &mut op, &mut lit, input[ip]);
            ip += 1;
        }
    }
    if op + 3 > max_out {
        return None;
    }
    while ip < in_len {
        push_literal(&mut out, &mut op, &mut lit, input[ip]);
        ip += 1;
    }
    out[op - lit - 1] = (lit as u8).wrapping_sub(1); // end run
    op -= (lit == 0) as usize;
    out.truncate(op);
    Some(out)
}

/// Appends one literal byte to the open run, closing the run (its
/// length byte written back) when it reaches the longest a run can be.
#[inline]
fn push_literal(out: &mut [u8], op: &mut usize, lit: &mut usize, b: u8) {
    *lit += 1;
    out[*op] = b;
    *op += 1;
    if *lit == MAX_LIT {
        out[*op - *lit - 1] = (*lit - 1) as u8;
        *lit = 0;
        *op += 1;
    }
}

/// Decompresses LZF data that must expand to exactly `out_len` bytes.
pub fn lzf_decompress(data: &[u8], out_len: usize) -> Option<Vec<u8>> {
    let mut out = Vec::with_capacity(out_len);
    let mut ip = 0;
    while ip < data.len() {
        let ctrl = data[ip] as usize;
        ip += 1;
        if ctrl < 32 {
            let n = ctrl + 1;
            if ip + n > data.len() || out.len() + n > out_len {
                return None;
            }
            out.extend_from_slice(&data[ip..ip + n]);
            ip += n;
        } else {
            let mut len = ctrl >> 5;
            if len == 7 {
                len += *data.get(ip)? as usize;
                ip += 1;
            }
            let back = ((ctrl & 0x1f) << 8) + *data.get(ip)? as usize + 1;
            ip += 1;
            len += 2;
            if back > out.len() || out.len() + len > out_len {
                return None;
            }
            let start = out.len() - back;
            for k in 0..len {
                let b = out[start + k];
                out.push(b);
            }
        }
    }
    (out.len() == out_len).then_some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips() {
        let text = b"#!lua name=lib2\nredis.register_function{function_name='f2', callback=function(k, a) error('boom') end, flags={'no-writes', 'allow-stale'}, description='d'}".repeat(3);
        let c = lzf_compress(&text, text.len() - 4).unwrap();
        assert!(c.len() < text.len());
        assert_eq!(lzf_decompress(&c, text.len()).unwrap(), text);
        assert!(lzf_compress(b"abcdefghijklmnopqrstuvwxyz", 22).is_none());
        let zeros = vec![0u8; 1000];
        let c = lzf_compress(&zeros, 996).unwrap();
        assert_eq!(lzf_decompress(&c, 1000).unwrap(), zeros);
        assert!(lzf_decompress(&c, 999).is_none());
        // Redis 7.0's bytes for 100 x 'a' and 21 x 'x' (memo 2.3).
        assert_eq!(lzf_compress(&[b'a'; 100], 96).unwrap(), b"\x01aa\xe0\x57\x00\x01aa");
        assert_eq!(lzf_compress(&[b'x'; 21], 17).unwrap(), b"\x01xx\xe0\x0a\x00");
        // Pseudo-random data of many sizes round-trips.
        let mut x: u32 = 7;
        for n in [1usize, 2, 3, 5, 33, 100, 1000, 9000, 70000] {
            let data: Vec<u8> = (0..n)
                .map(|i| {
                    x = x.wrapping_mul(1103515245).wrapping_add(12345);
                    if i % 7 < 3 {
                        b'q'
                    } else {
                        (x >> 24) as u8 % 4
                    }
                })
                .collect();
            if let Some(c) = lzf_compress(&data, n + 64) {
                assert_eq!(lzf_decompress(&c, n).unwrap(), data);
            }
        }
    }
}
