//! The hash type's storage (filled in by the hash family).

/// A hash value. Never empty while stored.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Hash {}

impl Hash {
    pub fn len(&self) -> usize {
        0
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The name OBJECT ENCODING reports.
    pub fn encoding(&self) -> &'static str {
        "listpack"
    }
}
