// Fixture for `module_doc_fixture_is_refused`: this file opens with an ordinary comment instead
// of a `//!` doc line.

pub fn pure(x: u32) -> u32 {
    x + 1
}
