//! Honest screens: how model- and data-derived text is shown to a person.
//!
//! A proposal's arguments and a source row's values are written by the model or by whoever
//! filled the database. Printed raw, a carriage return, a cursor move (`ESC [1A`), an erase,
//! an OSC-8 hyperlink or a bidi override lets them rewrite what the reviewer sees: a diff of
//! `7000 -> 0` can be redrawn as `7000 -> 7000`. Every human view therefore builds its text
//! through this module, which makes each control character *visible* instead of obeyed:
//!
//! - [`is_control`] is the rule: C0 (U+0000–U+001F, so CR, LF, TAB and ESC too), DEL, C1
//!   (U+0080–U+009F), the bidi controls (U+061C, U+200E, U+200F, U+202A–U+202E,
//!   U+2066–U+2069), the line and paragraph separators (U+2028, U+2029, which some
//!   renderers break lines at), and the characters a renderer draws as nothing (Unicode's
//!   default-ignorable code points: zero-width spaces and joiners, the soft hyphen, variation
//!   selectors, Hangul fillers, tag characters; and the interlinear annotation marks). An
//!   emoji sequence joined by U+200D shows its joiners: a reviewer sees every code point.
//! - [`visible_controls`] (and its view-facing name [`text`]) writes each one as an escape:
//!   `\r`, `\n`, `\t`, `\x1b`, `\x7f`, `\u{9b}`, `\u{202e}`. The HTML review UI reuses
//!   [`is_control`] and [`escape`] so both screens agree.
//! - [`value`] shows a JSON value in a diff: strings always quoted (so `"7000"` and `7000`, or
//!   `""` and `null`, differ), with the same escapes inside.
//! - [`screen`] is the last line of defence for a whole rendered view: every control except the
//!   `\n` line breaks the view itself emits.
//! - [`inert_json`] keeps JSON output valid while escaping what JSON leaves raw (C1, DEL,
//!   bidi) as `\uXXXX`: the parsed value is unchanged, the printed text is inert.

use std::borrow::Cow;
use std::fmt::Write as _;

use serde_json::Value;

use crate::json::js_number;

/// Whether `c` steers a terminal or a renderer instead of being read, or is not drawn at all:
/// see the module docs.
pub fn is_control(c: char) -> bool {
    c.is_control() // C0, DEL and C1
        || matches!(
            c,
            '\u{061c}'
                | '\u{200e}'
                | '\u{200f}'
                | '\u{202a}'..='\u{202e}'
                | '\u{2066}'..='\u{2069}'
                | '\u{2028}'
                | '\u{2029}'
        )
        || is_invisible(c)
}

/// Unicode's default-ignorable code points (DerivedCoreProperties.txt, Unicode 15.1), which a
/// renderer draws as nothing, and the interlinear annotation marks (U+FFF9–U+FFFB), which hide
/// the text between them. Unescaped, they carry text no reviewer sees: a whole hidden sentence
/// in tag characters (U+E0000–U+E007F), or an id that looks like another
/// (`INV-3001` + U+200B).
fn is_invisible(c: char) -> bool {
    matches!(
        c,
        '\u{00ad}'
            | '\u{034f}'
            | '\u{115f}'
            | '\u{1160}'
            | '\u{17b4}'
            | '\u{17b5}'
            | '\u{180b}'..='\u{180f}'
            | '\u{200b}'..='\u{200d}'
            | '\u{2060}'..='\u{2065}'
            | '\u{206a}'..='\u{206f}'
            | '\u{3164}'
            | '\u{fe00}'..='\u{fe0f}'
            | '\u{feff}'
            | '\u{ffa0}'
            | '\u{fff0}'..='\u{fffb}'
            | '\u{1bca0}'..='\u{1bca3}'
            | '\u{1d173}'..='\u{1d17a}'
            | '\u{e0000}'..='\u{e0fff}'
    )
}

/// The visible form of a control character: `\r`, `\n`, `\t`, `\xNN` for the rest of C0 and
/// DEL, `\u{…}` for everything else [`is_control`] accepts. Other characters are themselves.
pub fn escape(c: char, out: &mut String) {
    match c {
        '\n' => out.push_str("\\n"),
        '\r' => out.push_str("\\r"),
        '\t' => out.push_str("\\t"),
        c if (c as u32) < 0x20 || c == '\u{7f}' => {
            let _ = write!(out, "\\x{:02x}", c as u32);
        }
        c if is_control(c) => {
            let _ = write!(out, "\\u{{{:x}}}", c as u32);
        }
        c => out.push(c),
    }
}

/// `s` with every control character made visible (borrowed when there is none).
pub fn visible_controls(s: &str) -> Cow<'_, str> {
    visible_except(s, |_| false)
}

/// Model- or data-derived free text (a reason, an object id, a principal, a tenant) as a view
/// shows it: on one line, every control character visible.
pub fn text(s: &str) -> Cow<'_, str> {
    visible_controls(s)
}

/// A whole rendered view for a terminal: controls visible, except the `\n` line breaks the view
/// emits itself. Fields must still go through [`text`] or [`value`]: a field's own newline
/// would otherwise start a forged line here.
pub fn screen(s: &str) -> Cow<'_, str> {
    visible_except(s, |c| c == '\n')
}

fn visible_except(s: &str, keep: impl Fn(char) -> bool) -> Cow<'_, str> {
    if !s.chars().any(|c| is_control(c) && !keep(c)) {
        return Cow::Borrowed(s);
    }
    let mut out = String::with_capacity(s.len() + 8);
    for c in s.chars() {
        if keep(c) {
            out.push(c);
        } else {
            escape(c, &mut out);
        }
    }
    Cow::Owned(out)
}

/// A value as a diff or a row shows it: compact JSON, strings always quoted, and every control
/// character inside a string visible (`"courtesy\r\x1b[1A"`).
pub fn value(v: &Value) -> String {
    let mut out = String::new();
    write_value(v, &mut out);
    out
}

fn write_value(v: &Value, out: &mut String) {
    match v {
        Value::Null => out.push_str("null"),
        Value::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        Value::Number(n) => out.push_str(&js_number(n)),
        Value::String(s) => quote(s, out),
        Value::Array(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_value(item, out);
            }
            out.push(']');
        }
        Value::Object(map) => {
            out.push('{');
            for (i, (k, item)) in map.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                quote(k, out);
                out.push(':');
                write_value(item, out);
            }
            out.push('}');
        }
    }
}

/// `"s"` with `"` and `\` escaped (so the quotes cannot be closed early and a literal `\x1b`
/// reads `\\x1b`, unlike a real ESC) and controls visible.
fn quote(s: &str, out: &mut String) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            c => escape(c, out),
        }
    }
    out.push('"');
}

/// Serialized JSON (as `serde_json` writes it) with the control characters JSON may leave raw
/// inside strings (DEL, C1, bidi, U+2028/U+2029, invisible characters) written as `\uXXXX`
/// escapes (a surrogate pair above U+FFFF). The document
/// stays valid and parses to the same value; only its printed form becomes inert. (C0 is
/// already escaped by every JSON serializer, and outside strings serialized JSON is ASCII.)
pub fn inert_json(serialized: &str) -> Cow<'_, str> {
    if !serialized.chars().any(is_control_in_json) {
        return Cow::Borrowed(serialized);
    }
    let mut out = String::with_capacity(serialized.len() + 8);
    for c in serialized.chars() {
        if is_control_in_json(c) {
            for unit in c.encode_utf16(&mut [0; 2]) {
                let _ = write!(out, "\\u{unit:04x}");
            }
        } else {
            out.push(c);
        }
    }
    Cow::Owned(out)
}

/// Controls a JSON serializer leaves raw: everything [`is_control`] accepts above C0 (pretty
/// JSON's own line breaks and indentation are C0 and stay).
fn is_control_in_json(c: char) -> bool {
    c as u32 >= 0x20 && is_control(c)
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    /// (input, what `text` shows): every class of the rule, and text that must pass untouched.
    const TEXT: &[(&str, &str)] = &[
        ("plain text, ünïcode, 日本", "plain text, ünïcode, 日本"),
        ("a\\x1b stays", "a\\x1b stays"),
        ("line\nbreak", "line\\nbreak"),
        ("cr\rtab\t", "cr\\rtab\\t"),
        ("\u{1b}[1A\u{1b}[2K", "\\x1b[1A\\x1b[2K"),
        ("bell\u{7}nul\u{0}", "bell\\x07nul\\x00"),
        ("del\u{7f}", "del\\x7f"),
        ("csi\u{9b}31m nel\u{85}", "csi\\u{9b}31m nel\\u{85}"),
        (
            "\u{1b}]8;;https://evil.example\u{1b}\\click\u{1b}]8;;\u{1b}\\",
            "\\x1b]8;;https://evil.example\\x1b\\click\\x1b]8;;\\x1b\\",
        ),
        ("\u{202e}0007\u{202c}", "\\u{202e}0007\\u{202c}"),
        (
            "\u{2066}a\u{2069}\u{2067}\u{2068}",
            "\\u{2066}a\\u{2069}\\u{2067}\\u{2068}",
        ),
        (
            "\u{200e}\u{200f}\u{61c}\u{202a}\u{202b}\u{202d}",
            "\\u{200e}\\u{200f}\\u{61c}\\u{202a}\\u{202b}\\u{202d}",
        ),
        ("ls\u{2028}ps\u{2029}", "ls\\u{2028}ps\\u{2029}"),
        // Drawn as nothing: a hidden sentence in tag characters, zero-width characters, a
        // soft hyphen, a byte-order mark, a Hangul filler, a variation selector.
        (
            "ok\u{e0049}\u{e0047}\u{e004e}",
            "ok\\u{e0049}\\u{e0047}\\u{e004e}",
        ),
        (
            "INV-3001\u{200b}\u{200c}\u{200d}\u{2060}\u{feff}",
            "INV-3001\\u{200b}\\u{200c}\\u{200d}\\u{2060}\\u{feff}",
        ),
        (
            "re\u{ad}fund\u{3164}\u{fe0f}\u{fff9}",
            "re\\u{ad}fund\\u{3164}\\u{fe0f}\\u{fff9}",
        ),
    ];

    #[test]
    fn text_makes_every_control_visible() {
        for (input, shown) in TEXT {
            assert_eq!(text(input), *shown, "{input:?}");
            assert!(!text(input).chars().any(is_control), "{input:?}");
        }
        assert!(matches!(text("clean"), Cow::Borrowed("clean")));
    }

    #[test]
    fn the_rule_covers_its_ranges_and_nothing_next_to_them() {
        let controls = (0..0x20)
            .chain([0x7f])
            .chain(0x80..0xa0)
            .chain([0x61c, 0x200e, 0x200f, 0x2028, 0x2029])
            .chain(0x202a..=0x202e)
            .chain(0x2066..=0x2069)
            .chain([
                0xad, 0x34f, 0x115f, 0x1160, 0x17b4, 0x17b5, 0x3164, 0xfeff, 0xffa0,
            ])
            .chain(0x180b..=0x180f)
            .chain(0x200b..=0x200d)
            .chain(0x2060..=0x206f)
            .chain(0xfe00..=0xfe0f)
            .chain(0xfff0..=0xfffb)
            .chain(0x1bca0..=0x1bca3)
            .chain(0x1d173..=0x1d17a)
            .chain(0xe0000..=0xe0fff);
        for cp in controls {
            let c = char::from_u32(cp).unwrap();
            assert!(is_control(c), "U+{cp:04X}");
        }
        for cp in [
            0x20, 0x7e, 0xa0, 0xac, 0xae, 0x34e, 0x350, 0x61b, 0x115e, 0x1161, 0x17b3, 0x17b6,
            0x180a, 0x1810, 0x200a, 0x2027, 0x202f, 0x205f, 0x2070, 0x3163, 0x3165, 0xfdff, 0xfe10,
            0xfefe, 0xff9f, 0xffa1, 0xffef, 0xfffc, 0x1bc9f, 0x1bca4, 0x1d172, 0x1d17b, 0xdffff,
            0xe1000,
        ] {
            let c = char::from_u32(cp).unwrap();
            assert!(!is_control(c), "U+{cp:04X}");
        }
    }

    #[test]
    fn screen_keeps_only_line_breaks() {
        assert_eq!(screen("a\nb\r\n\u{1b}[2K"), "a\nb\\r\n\\x1b[2K");
        assert_eq!(screen("one\ntwo\n"), "one\ntwo\n");
    }

    /// (value, how a diff shows it).
    #[test]
    fn values_are_unambiguous_and_inert() {
        let cases = [
            (json!(7000), "7000"),
            (json!("7000"), "\"7000\""),
            (json!(null), "null"),
            (json!(""), "\"\""),
            (json!(true), "true"),
            (json!(0.5), "0.5"),
            (json!("say \"hi\" \\ bye"), "\"say \\\"hi\\\" \\\\ bye\""),
            (
                json!("courtesy\r\u{1b}[1A\u{1b}[2K  fee_cents: 7000 -> 7000"),
                "\"courtesy\\r\\x1b[1A\\x1b[2K  fee_cents: 7000 -> 7000\"",
            ),
            (json!("\u{202e}0 \u{9b}"), "\"\\u{202e}0 \\u{9b}\""),
            (
                json!({"a\nb": ["x\u{7f}", 1, null]}),
                "{\"a\\nb\":[\"x\\x7f\",1,null]}",
            ),
        ];
        for (v, shown) in cases {
            assert_eq!(value(&v), shown, "{v}");
            assert!(!value(&v).chars().any(is_control), "{v}");
        }
    }

    #[test]
    fn json_stays_valid_and_equal_but_inert() {
        let v = json!({
            "r": "a\u{202e}b\u{9b}c\u{7f}\u{2028}\u{1b}",
            "n": [1, "\n"],
            "hidden": "ok\u{e0049}\u{200b}"
        });
        for serialized in [
            serde_json::to_string(&v).unwrap(),
            serde_json::to_string_pretty(&v).unwrap(),
        ] {
            let inert = inert_json(&serialized);
            assert!(
                inert.contains("a\\u202eb\\u009bc\\u007f\\u2028\\u001b"),
                "{inert}"
            );
            // Above U+FFFF as a surrogate pair, as JSON requires.
            assert!(inert.contains("ok\\udb40\\udc49\\u200b"), "{inert}");
            assert!(!inert.chars().any(|c| is_control(c) && c != '\n'));
            let back: Value = serde_json::from_str(&inert).unwrap();
            assert_eq!(back, v);
        }
        assert!(matches!(inert_json("{\"a\":1}"), Cow::Borrowed(_)));
    }
}
