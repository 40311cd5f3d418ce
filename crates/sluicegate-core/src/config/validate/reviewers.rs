//! `reviewers` (ours, not in the reference): the people whose signed decisions `apply`
//! accepts, each a name and an Ed25519 public key.

use super::*;
use crate::decision::parse_public_key;

impl Validator {
    pub(super) fn reviewers(&mut self, value: Option<&Value>) -> Vec<Reviewer> {
        let Some(value) = value else {
            return Vec::new();
        };
        let Some(items) = value.as_array() else {
            self.error(
                "$.reviewers",
                "REVIEWERS_NOT_ARRAY",
                "reviewers must be an array of {name, public_key}",
            );
            return Vec::new();
        };
        let mut out: Vec<Reviewer> = Vec::new();
        for (i, item) in items.iter().enumerate() {
            let path = format!("$.reviewers[{i}]");
            let Some(obj) = item.as_object() else {
                self.error(
                    &path,
                    "REVIEWER_NOT_OBJECT",
                    "a reviewer is {name, public_key}",
                );
                continue;
            };
            self.unknown_keys(obj, &["name", "public_key"], &path);
            let name = obj.get("name").and_then(Value::as_str);
            let name = match name {
                Some(n) if is_safe_name(n) => Some(n),
                _ => {
                    self.error(
                        format!("{path}.name"),
                        "INVALID_REVIEWER_NAME",
                        "reviewer name must start with a letter or _ and use letters, digits, _ . -",
                    );
                    None
                }
            };
            if let Some(n) = name
                && out.iter().any(|r| r.name == n)
            {
                self.error(
                    format!("{path}.name"),
                    "DUPLICATE_REVIEWER",
                    format!("reviewer {n} is listed twice"),
                );
                continue;
            }
            let key = obj.get("public_key").and_then(Value::as_str);
            let key = match key.map(|k| (k, parse_public_key(k))) {
                Some((k, Ok(_))) => Some(k),
                Some((_, Err(why))) => {
                    self.error(format!("{path}.public_key"), "INVALID_REVIEWER_KEY", why);
                    None
                }
                None => {
                    self.error(
                        format!("{path}.public_key"),
                        "INVALID_REVIEWER_KEY",
                        "public_key is required: the line `sluicegate reviewer init` printed",
                    );
                    None
                }
            };
            if let (Some(name), Some(key)) = (name, key) {
                out.push(Reviewer {
                    name: name.to_string(),
                    public_key: key.to_string(),
                });
            }
        }
        out
    }
}
