//! Waiting for a condition that nothing announces, such as the PostgreSQL event feed's
//! horizon passing (it hands out an event only once every older transaction on the server has
//! ended, other tests' included): look again every few milliseconds until it holds or a
//! deadline passes. The deadline only ends a test that would hang.

use std::time::{Duration, Instant};

/// How long between looks.
const EVERY: Duration = Duration::from_millis(20);

/// Call `look` until `holds` accepts what it returned or `within` has passed, and return the
/// last value either way, for the caller's assertion to show.
pub fn until<T>(within: Duration, mut look: impl FnMut() -> T, holds: impl Fn(&T) -> bool) -> T {
    let deadline = Instant::now() + within;
    loop {
        let seen = look();
        if holds(&seen) || Instant::now() >= deadline {
            return seen;
        }
        std::thread::sleep(EVERY);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn looks_until_the_condition_holds() {
        let mut n = 0;
        assert_eq!(
            until(
                Duration::from_secs(60),
                || {
                    n += 1;
                    n
                },
                |n| *n == 3
            ),
            3
        );
    }

    #[test]
    fn gives_up_at_the_deadline_with_the_last_value() {
        let mut n = 0;
        assert_eq!(
            until(
                Duration::ZERO,
                || {
                    n += 1;
                    n
                },
                |_| false
            ),
            1
        );
    }
}
