//! Repository tidy checks. They run as ordinary tests (`cargo test -p xtask`), so CI enforces
//! the architecture rules written in ARCHITECTURE.md.
