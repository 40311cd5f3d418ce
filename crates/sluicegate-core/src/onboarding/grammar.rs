//! Value grammars shared by flags, answers files and the wizard (onboarding.md §4.2): patch
//! mappings, numeric bounds, transition guards, and the naming rules that derive an object
//! name and a namespace from a table name.

use indexmap::IndexMap;
use serde_json::Value;

use super::OnboardingError;
use super::selection::{BoundSpec, GuardSpec, PatchSpec};

fn grammar(msg: impl Into<String>) -> OnboardingError {
    OnboardingError::Grammar(msg.into())
}

/// Items of comma-separated lists, trimmed, empty ones dropped.
pub fn split_list<'a>(items: impl IntoIterator<Item = &'a str>) -> Vec<String> {
    items
        .into_iter()
        .flat_map(|s| s.split(','))
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_string)
        .collect()
}

/// Up to `n` of `items` joined with `, `, then `and N more` for the rest; `none` when there
/// are none. Every list onboarding prints is shortened this way, so nothing is cut silently.
pub fn listing(items: &[String], n: usize) -> String {
    match items.len() {
        0 => "none".into(),
        len if len <= n => items.join(", "),
        len => format!("{} and {} more", items[..n].join(", "), len - n),
    }
}

/// A fixed patch value: `null`, `true`/`false`, a decimal number, else a string.
pub fn fixed_value(text: &str) -> Value {
    match text {
        "null" => Value::Null,
        "true" => Value::Bool(true),
        "false" => Value::Bool(false),
        _ if is_decimal(text) => text
            .parse::<i64>()
            .map(Value::from)
            .ok()
            .or_else(|| {
                text.parse::<f64>()
                    .ok()
                    .and_then(serde_json::Number::from_f64)
                    .map(Value::Number)
            })
            .unwrap_or_else(|| Value::String(text.to_string())),
        _ => Value::String(text.to_string()),
    }
}

/// `^-?\d+(\.\d+)?$`
fn is_decimal(s: &str) -> bool {
    let s = s.strip_prefix('-').unwrap_or(s);
    let (int, frac) = match s.split_once('.') {
        Some((i, f)) => (i, Some(f)),
        None => (s, None),
    };
    !int.is_empty()
        && int.bytes().all(|b| b.is_ascii_digit())
        && frac.is_none_or(|f| !f.is_empty() && f.bytes().all(|b| b.is_ascii_digit()))
}

/// `column=fixed:VALUE` / `column=arg:NAME` entries (comma-separated) into `patch`.
pub fn parse_patch(
    entries: &[String],
    patch: &mut IndexMap<String, PatchSpec>,
) -> Result<(), OnboardingError> {
    for entry in split_list(entries.iter().map(String::as_str)) {
        let (col, rest) = entry.split_once('=').ok_or_else(|| {
            grammar(format!(
                "patch entry `{entry}` must look like column=fixed:value or column=arg:name"
            ))
        })?;
        let (kind, value) = rest.split_once(':').ok_or_else(|| {
            grammar(format!(
                "patch entry `{entry}` must look like column=fixed:value or column=arg:name"
            ))
        })?;
        let col = col.trim();
        if col.is_empty() || value.is_empty() {
            return Err(grammar(format!(
                "patch entry `{entry}` needs a column and a value or argument name"
            )));
        }
        let spec = match kind.trim() {
            "fixed" => PatchSpec::Fixed {
                fixed: fixed_value(value),
            },
            "arg" => PatchSpec::FromArg {
                from_arg: value.trim().to_string(),
            },
            other => {
                return Err(grammar(format!(
                    "patch kind `{other}` for {col} must be fixed or arg"
                )));
            }
        };
        patch.insert(col.to_string(), spec);
    }
    Ok(())
}

/// `column=VALUE` (`fixed`) or `column=ARG` (`from_arg`) entries into `patch`.
pub fn parse_patch_pairs(
    entries: &[String],
    from_arg: bool,
    patch: &mut IndexMap<String, PatchSpec>,
) -> Result<(), OnboardingError> {
    let flag = if from_arg {
        "--patch-from-arg"
    } else {
        "--patch-fixed"
    };
    for entry in split_list(entries.iter().map(String::as_str)) {
        let (col, value) = entry
            .split_once('=')
            .filter(|(c, v)| !c.trim().is_empty() && !v.is_empty())
            .ok_or_else(|| grammar(format!("{flag} `{entry}` must look like column=value")))?;
        let spec = if from_arg {
            PatchSpec::FromArg {
                from_arg: value.trim().to_string(),
            }
        } else {
            PatchSpec::Fixed {
                fixed: fixed_value(value),
            }
        };
        patch.insert(col.trim().to_string(), spec);
    }
    Ok(())
}

/// `column=MIN:MAX` entries; either side may be empty, not both.
pub fn parse_bounds(entries: &[String]) -> Result<IndexMap<String, BoundSpec>, OnboardingError> {
    let mut out = IndexMap::new();
    for entry in split_list(entries.iter().map(String::as_str)) {
        let (col, range) = entry
            .split_once('=')
            .and_then(|(c, r)| {
                r.split_once(':')
                    .map(|(a, b)| (c.trim(), (a.trim(), b.trim())))
            })
            .filter(|(c, _)| !c.is_empty())
            .ok_or_else(|| {
                grammar(format!(
                    "numeric bound `{entry}` must look like column=minimum:maximum"
                ))
            })?;
        let number = |side: &str, text: &str| -> Result<Option<f64>, OnboardingError> {
            if text.is_empty() {
                return Ok(None);
            }
            match text.parse::<f64>() {
                Ok(n) if n.is_finite() => Ok(Some(n)),
                _ => Err(grammar(format!(
                    "numeric bound {side} for {col} must be a finite number"
                ))),
            }
        };
        let bound = BoundSpec {
            minimum: number("minimum", range.0)?,
            maximum: number("maximum", range.1)?,
        };
        if bound.minimum.is_none() && bound.maximum.is_none() {
            return Err(grammar(format!(
                "numeric bound for {col} must define minimum, maximum, or both"
            )));
        }
        out.insert(col.to_string(), bound);
    }
    Ok(out)
}

/// `column=FROM:TO|TO;FROM:TO` entries.
pub fn parse_guards(entries: &[String]) -> Result<IndexMap<String, GuardSpec>, OnboardingError> {
    let mut out: IndexMap<String, GuardSpec> = IndexMap::new();
    for entry in split_list(entries.iter().map(String::as_str)) {
        let (col, rules) = entry
            .split_once('=')
            .filter(|(c, r)| !c.trim().is_empty() && !r.trim().is_empty())
            .ok_or_else(|| {
                grammar(format!(
                    "transition guard `{entry}` must look like column=from:to|to;from:to"
                ))
            })?;
        let col = col.trim();
        let guard = out.entry(col.to_string()).or_insert_with(|| GuardSpec {
            from_column: None,
            allowed: IndexMap::new(),
        });
        for rule in rules.split(';').map(str::trim).filter(|r| !r.is_empty()) {
            let (from, to) = rule
                .split_once(':')
                .map(|(f, t)| (f.trim(), t))
                .filter(|(f, _)| !f.is_empty())
                .ok_or_else(|| {
                    grammar(format!(
                        "transition guard for {col} must use from:to|to (got `{rule}`)"
                    ))
                })?;
            let targets: Vec<String> = to
                .split('|')
                .map(str::trim)
                .filter(|t| !t.is_empty())
                .map(str::to_string)
                .collect();
            if targets.is_empty() {
                return Err(grammar(format!(
                    "transition guard for {col} must use from:to|to (got `{rule}`)"
                )));
            }
            let list = guard.allowed.entry(from.to_string()).or_default();
            for t in targets {
                if !list.contains(&t) {
                    list.push(t);
                }
            }
        }
    }
    Ok(out)
}

/// A lowercase safe identifier from any table name: runs of other characters become `_`,
/// leading/trailing `_` are trimmed, `record` when nothing is left, and `record_` is prefixed
/// when it would start with a digit.
pub fn safe_name(name: &str) -> String {
    let mut out = String::with_capacity(name.len());
    for c in name.to_ascii_lowercase().chars() {
        if c.is_ascii_alphanumeric() || c == '_' {
            out.push(c);
        } else if !out.ends_with('_') {
            out.push('_');
        }
    }
    let trimmed = out.trim_matches('_');
    match trimmed.chars().next() {
        None => "record".into(),
        Some(c) if c.is_ascii_digit() => format!("record_{trimmed}"),
        Some(_) => trimmed.to_string(),
    }
}

/// Singular of a table name: `…ies` → `…y`, else one trailing `s` dropped (`invoices` →
/// `invoice`, `categories` → `category`, `status` stays a word the user can rename).
pub fn singular(name: &str) -> String {
    if let Some(stem) = name.strip_suffix("ies").filter(|s| !s.is_empty()) {
        return format!("{stem}y");
    }
    match name.strip_suffix('s') {
        Some(stem) if !stem.is_empty() && !stem.ends_with('s') => stem.to_string(),
        _ => name.to_string(),
    }
}

/// The business-object name derived from a table: `support_tickets` → `support_ticket`.
pub fn object_name_for(table: &str) -> String {
    singular(&safe_name(table))
}

/// The namespace derived from an object name: its first `_`-separated segment
/// (`support_ticket` → `support`, `invoice` → `invoice`).
pub fn namespace_for(object_name: &str) -> String {
    object_name
        .split('_')
        .find(|s| !s.is_empty())
        .map(str::to_string)
        .unwrap_or_else(|| "records".into())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn patch_grammar() {
        let mut p = IndexMap::new();
        parse_patch(
            &["late_fee_cents=fixed:0,waiver_reason=arg:reason".into()],
            &mut p,
        )
        .unwrap();
        parse_patch(&["note=fixed:a:b".into(), "flag=fixed:true".into()], &mut p).unwrap();
        parse_patch_pairs(&["status=closed".into()], false, &mut p).unwrap();
        parse_patch_pairs(&["late_fee_cents=amount".into()], true, &mut p).unwrap();
        let v = serde_json::to_value(&p).unwrap();
        assert_eq!(
            v,
            json!({
                "late_fee_cents": {"from_arg": "amount"},
                "waiver_reason": {"from_arg": "reason"},
                "note": {"fixed": "a:b"},
                "flag": {"fixed": true},
                "status": {"fixed": "closed"}
            })
        );
        for bad in ["x", "x=fixed", "x=other:1", "=arg:a", "x=arg:"] {
            assert!(parse_patch(&[bad.into()], &mut p).is_err(), "{bad}");
        }
        assert_eq!(fixed_value("-1.5"), json!(-1.5));
        assert_eq!(fixed_value("12"), json!(12));
        assert_eq!(fixed_value("null"), json!(null));
        assert_eq!(fixed_value("1e3"), json!("1e3"));
    }

    #[test]
    fn bounds_and_guards() {
        let b = parse_bounds(&["late_fee_cents=0:5500,credit_cents=:10000".into()]).unwrap();
        assert_eq!(b["late_fee_cents"].minimum, Some(0.0));
        assert_eq!(b["credit_cents"].minimum, None);
        assert_eq!(b["credit_cents"].maximum, Some(10000.0));
        for bad in ["x=:", "x=a:1", "x", "x=1"] {
            assert!(parse_bounds(&[bad.into()]).is_err(), "{bad}");
        }
        let g = parse_guards(&["status=open:pending_review;pending_review:resolved|closed".into()])
            .unwrap();
        assert_eq!(
            serde_json::to_value(&g).unwrap(),
            json!({"status": {"allowed": {"open": ["pending_review"], "pending_review": ["resolved", "closed"]}}})
        );
        for bad in ["status", "status=open", "status=open:"] {
            assert!(parse_guards(&[bad.into()]).is_err(), "{bad}");
        }
    }

    #[test]
    fn lists_say_how_many_more() {
        let items: Vec<String> = (1..=5).map(|i| format!("t{i}")).collect();
        assert_eq!(listing(&items, 5), "t1, t2, t3, t4, t5");
        assert_eq!(listing(&items, 2), "t1, t2 and 3 more");
        assert_eq!(listing(&[], 3), "none");
    }

    #[test]
    fn naming() {
        assert_eq!(object_name_for("support_tickets"), "support_ticket");
        assert_eq!(object_name_for("invoices"), "invoice");
        assert_eq!(object_name_for("categories"), "category");
        assert_eq!(object_name_for("Order-Items"), "order_item");
        assert_eq!(object_name_for("2024_logs"), "record_2024_log");
        assert_eq!(object_name_for("address"), "address");
        assert_eq!(object_name_for("--"), "record");
        assert_eq!(namespace_for("support_ticket"), "support");
        assert_eq!(namespace_for("invoice"), "invoice");
    }
}
