//! Placeholder: the script libraries land from their own branch.
