//! The retry policy of contract §0.5 (being written).
