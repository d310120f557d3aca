//! Small helpers shared by several modules: glob matching, clocks, random
//! numbers, human-readable sizes.

use std::time::{SystemTime, UNIX_EPOCH};

/// Unix time in milliseconds.
#[inline]
pub fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}

/// Unix time in microseconds.
pub fn now_us() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_micros() as u64)
        .unwrap_or(0)
}

/// Runs `fut` for at most `d`: `Some(output)`, or `None` when `d` passed
/// first (the future is dropped).
pub async fn within<T>(d: std::time::Duration, fut: impl std::future::Future<Output = T>) -> Option<T> {
    futures_lite::future::or(async { Some(fut.await) }, async {
        glommio::timer::sleep(d).await;
        None
    })
    .await
}

/// Awaits `fut`, polling it again every `d` even without a wake-up: for
/// futures woken from another thread, whose wake-up glommio 0.9 can lose
/// (see ARCHITECTURE.md, Lost wake-ups).
pub async fn repolled<T>(d: std::time::Duration, fut: impl std::future::Future<Output = T>) -> T {
    let mut fut = std::pin::pin!(fut);
    loop {
        if let Some(v) = within(d, fut.as_mut()).await {
            return v;
        }
    }
}

/// A small xorshift generator; one per shard or connection, never shared.
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Rng {
        Rng(seed.max(1) ^ 0x9E37_79B9_7F4A_7C15)
    }

    pub fn next_u64(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        self.0 = x;
        x
    }
}

/// Glob-style matching with Redis's rules: `*`, `?`, `[abc]`, `[^a-z]`,
/// `\x` escapes. Iterative with backtracking on the last `*`, so patterns
/// like `a*a*a*a*b` cannot blow up.
pub fn glob_match(pattern: &[u8], s: &[u8], nocase: bool) -> bool {
    // Redis gives up (no match) past 1000 nested stars; patterns that deep
    // exist only to attack the matcher.
    let stars = pattern
        .windows(2)
        .filter(|w| w[1] == b'*' && w[0] != b'*' && w[0] != b'\\')
        .count()
        + (pattern.first() == Some(&b'*')) as usize;
    if stars > 1000 {
        return false;
    }
    let eq = |a: u8, b: u8| if nocase { a.eq_ignore_ascii_case(&b) } else { a == b };
    let (mut p, mut i) = (0usize, 0usize);
    let mut star: Option<(usize, usize)> = None;
    loop {
        if p < pattern.len() {
            match pattern[p] {
                b'*' => {
                    while p + 1 < pattern.len() && pattern[p + 1] == b'*' {
                        p += 1;
                    }
                    if p + 1 == pattern.len() {
                        return true;
                    }
                    star = Some((p, i));
                    p += 1;
                    continue;
                }
                b'?' if i < s.len() => {
                    p += 1;
                    i += 1;
                    continue;
                }
                b'[' if i < s.len() => {
                    let (matched, next) = match_class(pattern, p, s[i], nocase);
                    if matched {
                        p = next;
                        i += 1;
                        continue;
                    }
                }
                b'\\' if p + 1 < pattern.len() && i < s.len() => {
                    if eq(pattern[p + 1], s[i]) {
                        p += 2;
                        i += 1;
                        continue;
                    }
                }
                c if i < s.len() && c != b'?' && c != b'[' && eq(c, s[i]) => {
                    p += 1;
                    i += 1;
                    continue;
                }
                _ => {}
            }
        } else if i == s.len() {
            return true;
        }
        // Mismatch: let the last star swallow one more byte.
        match star {
            Some((sp, si)) if si < s.len() => {
                star = Some((sp, si + 1));
                p = sp + 1;
                i = si + 1;
            }
            _ => return false,
        }
    }
}

/// Matches `c` against the class starting at `pattern[p] == '['`; returns
/// (matched, index after the class).
fn match_class(pattern: &[u8], p: usize, c: u8, nocase: bool) -> (bool, usize) {
    let mut j = p + 1;
    let not = j < pattern.len() && pattern[j] == b'^';
    if not {
        j += 1;
    }
    let mut matched = false;
    let norm = |x: u8| if nocase { x.to_ascii_lowercase() } else { x };
    let c = norm(c);
    loop {
        if j >= pattern.len() {
            // Unterminated class: Redis treats the end of pattern as the end
            // of the class.
            break;
        }
        if pattern[j] == b'\\' && j + 1 < pattern.len() {
            j += 1;
            if norm(pattern[j]) == c {
                matched = true;
            }
        } else if pattern[j] == b']' {
            break;
        } else if j + 2 < pattern.len() && pattern[j + 1] == b'-' {
            let (mut lo, mut hi) = (norm(pattern[j]), norm(pattern[j + 2]));
            if lo > hi {
                std::mem::swap(&mut lo, &mut hi);
            }
            if c >= lo && c <= hi {
                matched = true;
            }
            j += 2;
        } else if norm(pattern[j]) == c {
            matched = true;
        }
        j += 1;
    }
    let next = if j < pattern.len() { j + 1 } else { j };
    (matched != not, next)
}

/// Bytes in Redis's human form: `1.23M`, `512B`.
pub fn human_bytes(n: u64) -> String {
    let n = n as f64;
    const K: f64 = 1024.0;
    if n < K {
        format!("{}B", n as u64)
    } else if n < K * K {
        format!("{:.2}K", n / K)
    } else if n < K * K * K {
        format!("{:.2}M", n / (K * K))
    } else if n < K * K * K * K {
        format!("{:.2}G", n / (K * K * K))
    } else {
        format!("{:.2}T", n / (K * K * K * K))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn globs() {
        assert!(glob_match(b"*", b"anything", false));
        assert!(glob_match(b"h?llo", b"hello", false));
        assert!(glob_match(b"h*llo", b"heeeello", false));
        assert!(glob_match(b"h[ae]llo", b"hallo", false));
        assert!(!glob_match(b"h[^e]llo", b"hello", false));
        assert!(glob_match(b"h[a-b]llo", b"hbllo", false));
        assert!(glob_match(b"foo\\*", b"foo*", false));
        assert!(!glob_match(b"foo\\*", b"foox", false));
        assert!(glob_match(b"KEY*", b"key:1", true));
        assert!(!glob_match(b"a*a*a*a*a*a*a*b", &[b'a'; 60], false));
        assert!(glob_match(b"*a", b"ba", false));
        assert!(!glob_match(b"a", b"", false));
        assert!(glob_match(b"", b"", false));
    }
}
