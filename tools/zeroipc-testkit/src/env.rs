//! Settings that a benchmark or a child process reads from its environment.

/// The environment variable `key` parsed as a `T`; `None` when it is unset or does not parse.
pub fn env_parse<T: std::str::FromStr>(key: &str) -> Option<T> {
    std::env::var(key).ok().and_then(|v| v.parse().ok())
}
