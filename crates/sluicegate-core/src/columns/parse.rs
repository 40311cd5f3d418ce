//! Strict parsers for the text forms a proposal may carry: ISO-8601 dates, RFC 3339
//! timestamps and exact decimals. Words like `yesterday` or `now`, which a database would
//! read relative to the moment of the write, never parse.

use chrono::{Datelike, NaiveDate, NaiveDateTime, NaiveTime, TimeDelta, Timelike};

/// A parsed timestamp: the wall-clock value as written, and its offset from UTC when one was
/// written (`Z` is offset 0).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Timestamp {
    pub local: NaiveDateTime,
    pub offset_seconds: Option<i32>,
    /// Fractional-second digits written, trailing zeros not counted.
    pub fraction_digits: u32,
}

impl Timestamp {
    /// The instant in UTC, reading a zone-less value at `assumed` seconds east of UTC.
    pub fn utc(&self, assumed: Option<i32>) -> Option<NaiveDateTime> {
        let offset = self.offset_seconds.or(assumed)?;
        self.local
            .checked_sub_signed(TimeDelta::seconds(i64::from(offset)))
    }
}

/// `YYYY-MM-DD`, a real calendar date.
pub fn parse_date(text: &str) -> Option<NaiveDate> {
    let b = text.as_bytes();
    if b.len() != 10 || !b.is_ascii() || b[4] != b'-' || b[7] != b'-' {
        return None;
    }
    let year = digits(&text[0..4])?;
    let month = digits(&text[5..7])?;
    let day = digits(&text[8..10])?;
    NaiveDate::from_ymd_opt(i32::try_from(year).ok()?, month, day)
}

/// An RFC 3339 timestamp: `YYYY-MM-DDTHH:MM:SS[.fraction](Z|±HH:MM)`, with `T` or a space
/// between date and time. The zone may be missing (the caller decides whether that is
/// allowed); everything else must be there. Up to 9 fractional digits; leap seconds and
/// hour 24 are refused.
pub fn parse_timestamp(text: &str) -> Option<Timestamp> {
    if text.len() < 19 || !text.as_bytes()[..19].is_ascii() {
        return None;
    }
    let date = parse_date(&text[0..10])?;
    if !matches!(text.as_bytes()[10], b'T' | b't' | b' ') {
        return None;
    }
    let clock = &text.as_bytes()[11..19];
    if clock[2] != b':' || clock[5] != b':' {
        return None;
    }
    let hour = digits(&text[11..13])?;
    let minute = digits(&text[14..16])?;
    let second = digits(&text[17..19])?;
    let mut rest = &text[19..];
    let mut nanos = 0_u32;
    let mut fraction_digits = 0_u32;
    if let Some(after_dot) = rest.strip_prefix('.') {
        let len = after_dot.bytes().take_while(u8::is_ascii_digit).count();
        if len == 0 || len > 9 {
            return None;
        }
        let frac = &after_dot[..len];
        nanos = digits(&format!("{frac:0<9}"))?;
        fraction_digits = frac.trim_end_matches('0').len() as u32;
        rest = &after_dot[len..];
    }
    let offset_seconds = match rest {
        "" => None,
        "Z" | "z" => Some(0),
        _ => Some(parse_offset(rest)?),
    };
    let time = NaiveTime::from_hms_nano_opt(hour, minute, second, nanos)?;
    if second > 59 {
        return None;
    }
    Some(Timestamp {
        local: date.and_time(time),
        offset_seconds,
        fraction_digits,
    })
}

/// A timestamp as engines write it in text columns (SQLite): RFC 3339 as above, with or
/// without a zone. Used to recognise a version column's current value.
pub(crate) fn parse_timestamp_lenient(text: &str) -> Option<Timestamp> {
    parse_timestamp(text.trim())
}

/// `±HH:MM`, hours up to 23.
fn parse_offset(text: &str) -> Option<i32> {
    let b = text.as_bytes();
    if b.len() != 6 || !b.is_ascii() || b[3] != b':' {
        return None;
    }
    let sign = match b[0] {
        b'+' => 1,
        b'-' => -1,
        _ => return None,
    };
    let hours = digits(&text[1..3])?;
    let minutes = digits(&text[4..6])?;
    if hours > 23 || minutes > 59 {
        return None;
    }
    Some(sign * i32::try_from(hours * 3600 + minutes * 60).ok()?)
}

/// ASCII digits only (no sign, no spaces) as a number.
fn digits(text: &str) -> Option<u32> {
    if text.is_empty() || !text.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    text.parse().ok()
}

/// RFC 3339 UTC with milliseconds, or microseconds when there are any below the millisecond:
/// the form every engine's reads produce, so a proposed value reads back identical.
pub fn format_utc(t: NaiveDateTime) -> String {
    let micros = t.nanosecond() / 1000;
    let fraction = if micros.is_multiple_of(1000) {
        format!("{:03}", micros / 1000)
    } else {
        format!("{micros:06}")
    };
    format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{fraction}Z",
        t.year(),
        t.month(),
        t.day(),
        t.hour(),
        t.minute(),
        t.second()
    )
}

/// An exact decimal: sign, the digits without leading zeros (at least one), and how many of
/// them come after the point. `-0` is read as `0`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Decimal {
    pub negative: bool,
    pub digits: String,
    pub scale: u32,
}

impl Decimal {
    /// Digits before the point (0 for `0.5`).
    pub fn integer_digits(&self) -> u32 {
        let n = self.digits.len() as u32;
        let int = n.saturating_sub(self.scale);
        if int == 1 && self.digits.starts_with('0') {
            0
        } else {
            int
        }
    }

    /// Fraction digits that matter (trailing zeros dropped).
    pub fn significant_scale(&self) -> u32 {
        let frac_len = self.scale as usize;
        let frac = &self.digits[self.digits.len() - frac_len..];
        frac.trim_end_matches('0').len() as u32
    }

    /// The value written with exactly `scale` fraction digits; callers make sure no
    /// significant digit is dropped.
    pub fn with_scale(&self, scale: u32) -> String {
        let mut digits = self.digits.clone();
        let mut have = self.scale;
        while have < scale {
            digits.push('0');
            have += 1;
        }
        while have > scale {
            digits.pop();
            have -= 1;
        }
        let split = digits.len().saturating_sub(have as usize);
        let (int, frac) = digits.split_at(split);
        let int = int.trim_start_matches('0');
        let int = if int.is_empty() { "0" } else { int };
        let zero = int == "0" && frac.bytes().all(|b| b == b'0');
        let sign = if self.negative && !zero { "-" } else { "" };
        if frac.is_empty() {
            format!("{sign}{int}")
        } else {
            format!("{sign}{int}.{frac}")
        }
    }
}

/// `[-]digits[.digits]` (strings) or a number's ECMAScript text, which may also carry an
/// exponent (`1e+21`, `5e-7`).
pub(crate) fn parse_decimal(text: &str, allow_exponent: bool) -> Option<Decimal> {
    let (negative, body) = match text.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, text),
    };
    let (mantissa, exponent) = match body.find(['e', 'E']) {
        Some(i) if allow_exponent => {
            let exp = body[i + 1..].strip_prefix('+').unwrap_or(&body[i + 1..]);
            (&body[..i], exp.parse::<i32>().ok()?)
        }
        Some(_) => return None,
        None => (body, 0),
    };
    let (int, frac) = match mantissa.split_once('.') {
        Some((i, f)) => (i, f),
        None => (mantissa, ""),
    };
    let all_digits = |s: &str| s.bytes().all(|b| b.is_ascii_digit());
    if int.is_empty() || !all_digits(int) || !all_digits(frac) || mantissa.ends_with('.') {
        return None;
    }
    let mut digits = format!("{int}{frac}");
    let mut scale = frac.len() as i64 - i64::from(exponent);
    if scale < 0 {
        digits.push_str(&"0".repeat(usize::try_from(-scale).ok()?));
        scale = 0;
    }
    let scale = u32::try_from(scale).ok()?;
    while digits.len() <= scale as usize {
        digits.insert(0, '0');
    }
    let keep_from = digits
        .bytes()
        .take(digits.len() - scale as usize - 1)
        .take_while(|b| *b == b'0')
        .count();
    let digits = digits[keep_from..].to_string();
    Some(Decimal {
        negative: negative && digits.bytes().any(|b| b != b'0'),
        digits,
        scale,
    })
}
