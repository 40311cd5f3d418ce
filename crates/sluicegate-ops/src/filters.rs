//! Checks of the filter flags `activity search` and `events` share: each bad value is refused
//! with a message naming the flag and what it takes (the binary exits 2).

use anyhow::{Result, bail};
use chrono::{DateTime, NaiveDate, SecondsFormat, Utc};

/// The most rows one page may hold.
pub const MAX_LIMIT: u32 = 200;

/// `--limit`: 1 to 200.
pub fn limit(n: u32) -> Result<u32> {
    if n == 0 || n > MAX_LIMIT {
        bail!("--limit must be a positive integer no greater than {MAX_LIMIT} (got {n})");
    }
    Ok(n)
}

/// `--from`/`--to`: a date (`2026-06-20`) or an RFC 3339 time in any offset, turned into the
/// ledger's own form (UTC, milliseconds) so the comparison is exact. A `--to` date means the
/// end of that day.
pub fn time(flag: &str, value: &Option<String>, end_of_day: bool) -> Result<Option<String>> {
    let Some(v) = value.as_deref().map(str::trim).filter(|v| !v.is_empty()) else {
        return Ok(None);
    };
    if let Ok(t) = DateTime::parse_from_rfc3339(v) {
        return Ok(Some(
            t.with_timezone(&Utc)
                .to_rfc3339_opts(SecondsFormat::Millis, true),
        ));
    }
    if let Ok(d) = NaiveDate::parse_from_str(v, "%Y-%m-%d") {
        let time = if end_of_day {
            "T23:59:59.999Z"
        } else {
            "T00:00:00.000Z"
        };
        return Ok(Some(format!("{}{time}", d.format("%Y-%m-%d"))));
    }
    bail!(
        "{flag} must be a date (2026-06-20) or an RFC 3339 time (2026-06-20T14:31:09Z), not {v:?}"
    )
}

/// `--interval-ms`/`--timeout-ms`: at least 250.
pub fn at_least_250(flag: &str, ms: u64) -> Result<std::time::Duration> {
    if ms < 250 {
        bail!("{flag} must be at least 250 (got {ms})");
    }
    Ok(std::time::Duration::from_millis(ms))
}

/// ` --store <path>` when `--store` was given, so a printed command finds the same ledger.
pub fn store_suffix(store: &Option<std::path::PathBuf>) -> String {
    match store {
        Some(p) => format!(" --store {}", shell_word(&p.display().to_string())),
        None => String::new(),
    }
}

/// A word a shell reads back as itself.
fn shell_word(s: &str) -> String {
    if !s.is_empty()
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || "/._-+:,=@".contains(c))
    {
        s.to_string()
    } else {
        format!("'{}'", s.replace('\'', "'\\''"))
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    #[test]
    fn times_become_the_ledgers_form_and_bad_ones_are_named() {
        let t = |v: &str, end| time("--from", &Some(v.into()), end);
        assert_eq!(
            t("2026-06-20T16:31:09+02:00", false).unwrap().unwrap(),
            "2026-06-20T14:31:09.000Z"
        );
        assert_eq!(
            t("2026-06-20", false).unwrap().unwrap(),
            "2026-06-20T00:00:00.000Z"
        );
        assert_eq!(
            t("2026-06-20", true).unwrap().unwrap(),
            "2026-06-20T23:59:59.999Z"
        );
        for bad in ["yesterday", "2026-13-01", "2026-06-20 14:00", "20260620"] {
            let e = t(bad, false).unwrap_err().to_string();
            assert!(e.starts_with("--from must be a date"), "{e}");
        }
        assert_eq!(time("--to", &None, true).unwrap(), None);
    }

    #[test]
    fn limits_and_intervals_have_bounds() {
        assert!(limit(0).is_err());
        assert!(limit(201).is_err());
        assert_eq!(limit(200).unwrap(), 200);
        assert!(at_least_250("--interval-ms", 249).is_err());
        assert!(at_least_250("--interval-ms", 250).is_ok());
    }

    #[test]
    fn store_paths_are_quoted_for_the_shell() {
        assert_eq!(
            store_suffix(&Some("/tmp/a b.db".into())),
            " --store '/tmp/a b.db'"
        );
        assert_eq!(store_suffix(&Some("x.db".into())), " --store x.db");
        assert_eq!(store_suffix(&None), "");
    }
}
