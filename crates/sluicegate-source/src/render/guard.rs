//! The guard parts of the guarded UPDATE, per dialect: how the version column is advanced
//! (`SET`), and how each column of a reviewed row is compared with its bound value (`WHERE`).
//!
//! Every fragment is built from a quoted, re-checked identifier, a placeholder and fixed SQL
//! chosen from a closed set of forms; the only numbers in the text are a column's precision
//! and scale as the catalog reported them.

use super::Dialect;
use crate::error::SourceError;

/// How the guarded UPDATE moves the version column forward.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Advance {
    /// `COALESCE(v, 0) + 1`.
    Increment,
    /// The database clock in the column's type, never earlier than one tick (10^-precision
    /// seconds) after the current value, so two writes in one clock tick, or a clock that
    /// stepped back, still change the version.
    Clock {
        with_zone: bool,
        /// Fractional-second digits the column keeps (0..=6).
        precision: u32,
    },
    /// SQLite text timestamps: the clock written in the same shape as the current value.
    SqliteClock(TextShape),
}

/// The shape of an ISO-8601 text timestamp, as SQLite applications store them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct TextShape {
    /// `T` or a space between date and time.
    pub t_separator: bool,
    /// Fractional digits: 0, 3 or 6 (SQLite's clock has milliseconds; 6 pads with zeros).
    pub fraction: u8,
    pub zone: TextZone,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum TextZone {
    None,
    Z,
    /// `+00:00`: the value is written in UTC whatever offset the current one had.
    Offset,
}

impl TextShape {
    /// What Sluicegate's own reads and receipts write: `2026-06-20T14:31:08.000Z`.
    pub(crate) const DEFAULT: TextShape = TextShape {
        t_separator: true,
        fraction: 3,
        zone: TextZone::Z,
    };

    /// The shape of `text`, if it is an ISO-8601 timestamp.
    pub(crate) fn of(text: &str) -> Option<TextShape> {
        let t = sluicegate_core::columns::parse_timestamp(text.trim())?;
        let text = text.trim();
        let rest = &text[19..];
        let digits = rest
            .strip_prefix('.')
            .map(|f| f.bytes().take_while(u8::is_ascii_digit).count())
            .unwrap_or(0);
        Some(TextShape {
            t_separator: text.as_bytes()[10] != b' ',
            fraction: match digits {
                0 => 0,
                1..=3 => 3,
                _ => 6,
            },
            zone: match t.offset_seconds {
                None => TextZone::None,
                Some(_) if rest.ends_with(['Z', 'z']) => TextZone::Z,
                Some(_) => TextZone::Offset,
            },
        })
    }

    /// The `strftime` format writing this shape.
    fn format(self) -> String {
        let sep = if self.t_separator { "T" } else { " " };
        let seconds = match self.fraction {
            0 => "%S",
            3 => "%f",
            _ => "%f000",
        };
        let zone = match self.zone {
            TextZone::None => "",
            TextZone::Z => "Z",
            TextZone::Offset => "+00:00",
        };
        format!("%Y-%m-%d{sep}%H:%M:{seconds}{zone}")
    }
}

/// `10^(6 - precision)`: one tick of a column keeping `precision` fractional digits, in
/// microseconds.
fn tick_micros(precision: u32) -> u64 {
    10_u64.pow(6 - precision.min(6))
}

/// The `SET` assignment advancing `column` (already quoted as `q`).
pub(crate) fn advance(d: Dialect, q: &str, how: Advance) -> Result<String, SourceError> {
    Ok(match (d, how) {
        (Dialect::Postgres | Dialect::Mysql | Dialect::Sqlite, Advance::Increment) => {
            format!("{q} = COALESCE({q}, 0) + 1")
        }
        (
            Dialect::Postgres,
            Advance::Clock {
                with_zone,
                precision,
            },
        ) => {
            // `timestamp` columns hold UTC wall-clock time, which is how reads present them.
            let clock = if with_zone {
                "clock_timestamp()"
            } else {
                "(clock_timestamp() AT TIME ZONE 'UTC')"
            };
            format!(
                "{q} = GREATEST({clock}, {q} + interval '{} microseconds')",
                tick_micros(precision)
            )
        }
        (Dialect::Mysql, Advance::Clock { precision, .. }) => {
            // The writer session runs in UTC, so CURRENT_TIMESTAMP is UTC for DATETIME too.
            // MySQL's GREATEST is NULL when any argument is, hence the COALESCE.
            let p = precision.min(6);
            format!(
                "{q} = GREATEST(CURRENT_TIMESTAMP({p}), COALESCE({q} + INTERVAL {} MICROSECOND, CURRENT_TIMESTAMP({p})))",
                tick_micros(p)
            )
        }
        (Dialect::Sqlite, Advance::SqliteClock(shape)) => {
            let f = shape.format();
            let step = if shape.fraction == 0 {
                "+1 seconds"
            } else {
                "+0.001 seconds"
            };
            // Same-shape ISO text sorts like the instants it names.
            format!(
                "{q} = max(strftime('{f}', 'now'), coalesce(strftime('{f}', {q}, '{step}'), ''))"
            )
        }
        (Dialect::Sqlite, Advance::Clock { .. }) => {
            return advance(d, q, Advance::SqliteClock(TextShape::DEFAULT));
        }
        (Dialect::Postgres | Dialect::Mysql, Advance::SqliteClock(_)) => {
            return Err(crate::error::refused(
                "a text-timestamp version advance exists only on SQLite",
            ));
        }
    })
}

/// How one column of the reviewed row is compared with its bound value, NULL-safely.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Compare {
    /// The engine's null-safe equality with a parameter of the column's type.
    Plain,
    /// As exact text: PostgreSQL compares the column's text form (types read through
    /// `::text`); MySQL compares UTF-8 bytes, so a case-insensitive or PAD SPACE collation
    /// cannot hide a change; SQLite compares with the BINARY collation.
    Text,
    /// As JSON values, with SQL NULL and JSON `null` alike (reads do not tell them apart).
    /// `native` is MySQL's JSON type; otherwise MariaDB's JSON-checked LONGTEXT.
    Json { native: bool },
    /// MySQL: against the bound text cast to the column's exact DECIMAL type.
    Decimal { precision: u32, scale: u32 },
    /// SQLite timestamp text: as stored, or as reads show it (RFC 3339 UTC milliseconds,
    /// what `strftime('%Y-%m-%dT%H:%M:%fZ', …)` makes of it).
    Timestamp,
}

/// `<column> <null-safe equals> <placeholder>` in the form `how` asks for.
pub(crate) fn compare(d: Dialect, q: &str, p: &str, how: Compare) -> String {
    match (d, how) {
        (Dialect::Postgres, Compare::Text) => format!("{q}::text IS NOT DISTINCT FROM {p}"),
        (Dialect::Postgres, Compare::Json { .. }) => {
            format!("COALESCE({q}::jsonb, 'null'::jsonb) = {p}::jsonb")
        }
        (Dialect::Postgres, _) => format!("{q} IS NOT DISTINCT FROM {p}"),
        (Dialect::Mysql, Compare::Text) => {
            format!("CAST(CONVERT({q} USING utf8mb4) AS BINARY) <=> CAST({p} AS BINARY)")
        }
        (Dialect::Mysql, Compare::Json { native: true }) => {
            format!("COALESCE({q}, CAST('null' AS JSON)) = CAST({p} AS JSON)")
        }
        (Dialect::Mysql, Compare::Json { native: false }) => {
            format!("JSON_EQUALS(COALESCE({q}, 'null'), {p})")
        }
        (Dialect::Mysql, Compare::Decimal { precision, scale }) => {
            format!("{q} <=> CAST({p} AS DECIMAL({precision},{scale}))")
        }
        (Dialect::Mysql, Compare::Plain | Compare::Timestamp) => format!("{q} <=> {p}"),
        (Dialect::Sqlite, Compare::Text) => format!("{q} IS {p} COLLATE BINARY"),
        (Dialect::Sqlite, Compare::Json { .. }) => format!(
            "(CASE WHEN json_valid({q}) THEN json({q}) ELSE json_quote({q}) END) IS json({p})"
        ),
        // One placeholder, NULL-safe: a blob never equals text, so x'00' stands for NULL.
        (Dialect::Sqlite, Compare::Timestamp) => format!(
            "COALESCE({p}, x'00') IN (COALESCE({q}, x'00'), strftime('%Y-%m-%dT%H:%M:%fZ', {q}))"
        ),
        (Dialect::Sqlite, _) => format!("{q} IS {p}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_shapes() {
        let shape = |s: &str| TextShape::of(s).map(|s| s.format());
        assert_eq!(
            shape("2026-06-20T14:31:08.000Z").as_deref(),
            Some("%Y-%m-%dT%H:%M:%fZ")
        );
        assert_eq!(
            shape("2026-06-20 14:31:08").as_deref(),
            Some("%Y-%m-%d %H:%M:%S")
        );
        assert_eq!(
            shape("2026-06-20T14:31:08.123456Z").as_deref(),
            Some("%Y-%m-%dT%H:%M:%f000Z")
        );
        assert_eq!(
            shape("2026-06-20T16:31:08.5+02:00").as_deref(),
            Some("%Y-%m-%dT%H:%M:%f+00:00")
        );
        assert_eq!(shape("yesterday"), None);
    }

    #[test]
    fn advances() {
        let a = |d, how| advance(d, "\"v\"", how).expect("renders");
        assert_eq!(
            a(Dialect::Postgres, Advance::Increment),
            r#""v" = COALESCE("v", 0) + 1"#
        );
        assert_eq!(
            a(
                Dialect::Postgres,
                Advance::Clock {
                    with_zone: true,
                    precision: 6
                }
            ),
            r#""v" = GREATEST(clock_timestamp(), "v" + interval '1 microseconds')"#
        );
        assert_eq!(
            a(
                Dialect::Postgres,
                Advance::Clock {
                    with_zone: false,
                    precision: 0
                }
            ),
            r#""v" = GREATEST((clock_timestamp() AT TIME ZONE 'UTC'), "v" + interval '1000000 microseconds')"#
        );
        assert_eq!(
            advance(
                Dialect::Mysql,
                "`v`",
                Advance::Clock {
                    with_zone: false,
                    precision: 3
                }
            )
            .expect("renders"),
            "`v` = GREATEST(CURRENT_TIMESTAMP(3), COALESCE(`v` + INTERVAL 1000 MICROSECOND, CURRENT_TIMESTAMP(3)))"
        );
        assert_eq!(
            a(Dialect::Sqlite, Advance::SqliteClock(TextShape::DEFAULT)),
            r#""v" = max(strftime('%Y-%m-%dT%H:%M:%fZ', 'now'), coalesce(strftime('%Y-%m-%dT%H:%M:%fZ', "v", '+0.001 seconds'), ''))"#
        );
        assert!(
            advance(
                Dialect::Postgres,
                "\"v\"",
                Advance::SqliteClock(TextShape::DEFAULT)
            )
            .is_err()
        );
    }

    #[test]
    fn comparisons() {
        let c = |d, how| compare(d, "c", "?", how);
        assert_eq!(
            c(Dialect::Postgres, Compare::Plain),
            "c IS NOT DISTINCT FROM ?"
        );
        assert_eq!(
            c(Dialect::Postgres, Compare::Text),
            "c::text IS NOT DISTINCT FROM ?"
        );
        assert_eq!(
            c(
                Dialect::Mysql,
                Compare::Decimal {
                    precision: 10,
                    scale: 2
                }
            ),
            "c <=> CAST(? AS DECIMAL(10,2))"
        );
        assert_eq!(
            c(Dialect::Mysql, Compare::Json { native: false }),
            "JSON_EQUALS(COALESCE(c, 'null'), ?)"
        );
        assert_eq!(c(Dialect::Sqlite, Compare::Text), "c IS ? COLLATE BINARY");
        assert_eq!(
            c(Dialect::Sqlite, Compare::Timestamp),
            "COALESCE(?, x'00') IN (COALESCE(c, x'00'), strftime('%Y-%m-%dT%H:%M:%fZ', c))"
        );
    }
}
