//! Duplex placeholder
