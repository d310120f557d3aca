//! The zset type's storage (filled in by the zset family).

/// A zset value. Never empty while stored.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct ZSet {}

impl ZSet {
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
