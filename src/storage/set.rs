//! The set type's storage (filled in by the set family).

/// A set value. Never empty while stored.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Set {}

impl Set {
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
