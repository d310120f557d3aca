//! Sampled memory estimates for MEMORY USAGE ... SAMPLES: like Redis's
//! objectComputeSize, a big collection's elements are measured from the
//! first `samples` of them and scaled to the element count.

/// The bytes of `count` elements whose sizes `sizes` yields in order: all
/// of them when `samples` covers the count, else the first `samples`
/// scaled by `count / samples`.
pub fn scaled(count: usize, samples: usize, sizes: impl Iterator<Item = usize>) -> usize {
    if samples >= count {
        return sizes.sum();
    }
    let sum: usize = sizes.take(samples.max(1)).sum();
    (sum as f64 / samples.max(1) as f64 * count as f64) as usize
}

#[cfg(test)]
mod tests {
    use super::scaled;

    #[test]
    fn scales_the_first_samples_to_the_count() {
        assert_eq!(scaled(4, 10, [1, 2, 3, 4].into_iter()), 10);
        assert_eq!(scaled(4, 2, [8, 8, 100, 100].into_iter()), 32);
        assert_eq!(scaled(0, 5, std::iter::empty()), 0);
    }
}
