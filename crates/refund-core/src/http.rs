//! The HTTP layer shared by every provider crate (being written).
