//! The list type's storage.

/// A list value. Never empty while stored.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct List {}

impl List {
    pub fn len(&self) -> usize {
        0
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    pub fn encoding(&self) -> &'static str {
        "listpack"
    }
}
