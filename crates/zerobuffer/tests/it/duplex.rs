//! Duplex channel tests (added with the duplex module).
