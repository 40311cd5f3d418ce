//! What the fuzz targets share: JSON values built from fuzz input with `arbitrary` (biased
//! towards the keys, strings and numbers the code under test cares about), and the small
//! checks more than one target makes.
//!
//! A target's input either is JSON text (when it starts like JSON: the committed seeds are
//! plain, readable files) or drives [`Gen`], so libFuzzer can both mutate real documents byte
//! by byte and build structured ones it would rarely reach by flipping bytes.

use arbitrary::{Result, Unstructured};
use serde_json::{Map, Number, Value};

/// Whether fuzz input should be read as JSON text rather than as generator choices.
pub fn looks_like_json(data: &[u8]) -> bool {
    matches!(
        data.first(),
        Some(b'{' | b'[' | b'"' | b' ' | b'\t' | b'\n' | b'\r')
    )
}

/// Characters that matter to length and encoding checks: ASCII, two- and three-byte UTF-8,
/// astral-plane characters (two UTF-16 units, one code point), the last code point, controls
/// and characters that are special in JSON, URLs and SQL.
const CHARS: &[char] = &[
    'a',
    'Z',
    '0',
    '_',
    '.',
    '-',
    ' ',
    'é',
    '中',
    '\u{FFFF}',
    '\u{E000}',
    '😀',
    '🟥',
    '🟩',
    '\u{10000}',
    '\u{10FFFF}',
    '\0',
    '\n',
    '"',
    '\\',
    '\'',
    '/',
    ':',
    '%',
    '$',
    ';',
];

/// Numbers at the edges: zero of both signs, the exactly-representable integer limit 2^53 and
/// its neighbours, the integer type limits, huge and tiny floats.
pub fn edge_numbers() -> Vec<Number> {
    let mut out: Vec<Number> = vec![
        0u64.into(),
        1u64.into(),
        (-1i64).into(),
        (1u64 << 53).into(),
        ((1u64 << 53) + 1).into(),
        (-(1i64 << 53)).into(),
        (-(1i64 << 53) - 1).into(),
        u64::MAX.into(),
        (u64::MAX - 1).into(),
        i64::MIN.into(),
        i64::MAX.into(),
        ((i64::MAX as u64) + 1).into(),
    ];
    for f in [
        -0.0,
        0.5,
        -1.5,
        2.25,
        100.000_000_000_001,
        9_007_199_254_740_992.0,
        9_007_199_254_740_994.0,
        18_446_744_073_709_551_616.0,
        -9_223_372_036_854_775_808.0,
        1e300,
        -1e300,
        f64::MAX,
        f64::MIN,
        f64::MIN_POSITIVE,
        5e-324,
        1e-7,
    ] {
        out.extend(Number::from_f64(f));
    }
    out
}

/// Builds JSON values from fuzz input. `keys` and `strings` are vocabularies the generator
/// prefers (object keys and string values the code under test looks for); it still makes
/// arbitrary ones too.
pub struct Gen<'a> {
    pub keys: &'a [&'a str],
    pub strings: &'a [&'a str],
    pub max_depth: u32,
}

impl Gen<'_> {
    /// Any JSON value, nested at most `max_depth` levels.
    pub fn value(&self, u: &mut Unstructured<'_>) -> Result<Value> {
        self.value_at(u, 0)
    }

    fn value_at(&self, u: &mut Unstructured<'_>, depth: u32) -> Result<Value> {
        let nested = depth < self.max_depth;
        Ok(match u.int_in_range(0..=if nested { 7 } else { 5 })? {
            0 => Value::Null,
            1 => Value::Bool(u.arbitrary()?),
            2 => Value::Number(self.number(u)?),
            3 | 4 => Value::String(self.string(u)?),
            5 => Value::String(self.vocab_string(u)?),
            6 => {
                let n = u.int_in_range(0..=4)?;
                let mut items = Vec::with_capacity(n);
                for _ in 0..n {
                    items.push(self.value_at(u, depth + 1)?);
                }
                Value::Array(items)
            }
            _ => Value::Object(self.object_at(u, depth + 1)?),
        })
    }

    /// An object of up to six entries, keys mostly from the vocabulary.
    pub fn object(&self, u: &mut Unstructured<'_>) -> Result<Map<String, Value>> {
        self.object_at(u, 0)
    }

    fn object_at(&self, u: &mut Unstructured<'_>, depth: u32) -> Result<Map<String, Value>> {
        let n = u.int_in_range(0..=6)?;
        let mut map = Map::new();
        for _ in 0..n {
            let key = self.key(u)?;
            let value = self.value_at(u, depth)?;
            map.insert(key, value);
        }
        Ok(map)
    }

    /// A key: from the vocabulary four times in five, otherwise any string.
    pub fn key(&self, u: &mut Unstructured<'_>) -> Result<String> {
        if !self.keys.is_empty() && u.ratio(4, 5)? {
            Ok((*u.choose(self.keys)?).to_string())
        } else {
            self.string(u)
        }
    }

    /// A string from the vocabulary, sometimes with a character appended or repeated.
    pub fn vocab_string(&self, u: &mut Unstructured<'_>) -> Result<String> {
        let mut s = if self.strings.is_empty() {
            String::new()
        } else {
            (*u.choose(self.strings)?).to_string()
        };
        if u.ratio(1, 4)? {
            let c = *u.choose(CHARS)?;
            for _ in 0..u.int_in_range(1..=3)? {
                s.push(c);
            }
        }
        Ok(s)
    }

    /// Any string: arbitrary UTF-8, or runs of the interesting [`CHARS`] (long runs included,
    /// so length limits are crossed in every encoding).
    pub fn string(&self, u: &mut Unstructured<'_>) -> Result<String> {
        if u.ratio(1, 2)? {
            return u.arbitrary();
        }
        let mut s = String::new();
        for _ in 0..u.int_in_range(0..=4)? {
            let c = *u.choose(CHARS)?;
            let times = match u.int_in_range(0..=9)? {
                9 => u.int_in_range(64..=400)?,
                n => n,
            };
            for _ in 0..times {
                s.push(c);
            }
        }
        Ok(s)
    }

    /// A number: an edge value, a small integer, any `i64`/`u64` or any finite `f64`.
    pub fn number(&self, u: &mut Unstructured<'_>) -> Result<Number> {
        Ok(match u.int_in_range(0..=5)? {
            0 | 1 => u.choose(&edge_numbers())?.clone(),
            2 => Number::from(u.int_in_range(-3i64..=120)?),
            3 => Number::from(u.arbitrary::<i64>()?),
            4 => Number::from(u.arbitrary::<u64>()?),
            _ => {
                let f: f64 = u.arbitrary()?;
                Number::from_f64(f).unwrap_or_else(|| Number::from(0))
            }
        })
    }
}

/// Whether `s` is a stable error code: SCREAMING_SNAKE_CASE, starting with a letter.
pub fn is_screaming_snake(s: &str) -> bool {
    s.starts_with(|c: char| c.is_ascii_uppercase())
        && s.chars()
            .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || c == '_')
        && !s.ends_with('_')
        && !s.contains("__")
}
