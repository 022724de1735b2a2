//! Cross-process tests (below).
