//! Capability `args` (config.md §8.2): declared tool arguments and their constraints.

use super::*;

impl Validator {
    pub(super) fn args(
        &mut self,
        args: Option<&Value>,
        path: &str,
        target: Option<&Target>,
    ) -> Option<IndexMap<String, ArgSpec>> {
        let apath = format!("{path}.args");
        let Some(obj) = args.and_then(Value::as_object).filter(|o| !o.is_empty()) else {
            self.error(&apath, "ARGS_REQUIRED", "args must be a non-empty object");
            return None;
        };
        let tenant_key = target.and_then(|t| t.tenant_key.as_deref());
        let mut out = IndexMap::new();
        let mut ok = true;
        for (name, spec) in obj {
            let path = format!("{apath}.{name}");
            if TRUSTED_BINDING_NAMES.contains(&name.as_str())
                || IDENTIFIER_ARG_NAMES.contains(&name.as_str())
                || Some(name.as_str()) == tenant_key
            {
                self.error(
                    &path,
                    "MODEL_CONTROLLED_RESERVED_ARG",
                    format!(
                        "{name} is trusted context or an identifier and cannot be a model argument"
                    ),
                );
                ok = false;
                continue;
            }
            match self.arg_spec(name, spec, &path) {
                Some(a) => {
                    out.insert(name.clone(), a);
                }
                None => ok = false,
            }
        }
        ok.then_some(out)
    }

    pub(super) fn arg_spec(&mut self, name: &str, spec: &Value, path: &str) -> Option<ArgSpec> {
        let Some(obj) = spec.as_object() else {
            self.error(path, "ARG_NOT_OBJECT", "each arg must be an object");
            return None;
        };
        let before = self.errors.len();
        self.unknown_keys(
            obj,
            &[
                "type",
                "description",
                "required",
                "max_length",
                "minimum",
                "maximum",
                "enum",
            ],
            path,
        );
        let arg_type = match obj.get("type").and_then(Value::as_str) {
            Some("string") => Some(ArgType::String),
            Some("number") => Some(ArgType::Number),
            Some("boolean") => Some(ArgType::Boolean),
            _ => {
                self.error(
                    format!("{path}.type"),
                    "INVALID_ARG_TYPE",
                    "type must be string, number or boolean",
                );
                None
            }
        };
        let description = self.optional_text(obj, "description", path, "INVALID_ARG_DESCRIPTION");
        let max_length = match obj.get("max_length") {
            None => None,
            Some(m) => match is_positive_integer(m) {
                Some(n) => Some(n),
                None => {
                    self.error(
                        format!("{path}.max_length"),
                        "INVALID_MAX_LENGTH",
                        "max_length must be a positive integer",
                    );
                    None
                }
            },
        };
        let has_bounds = obj.contains_key("minimum") || obj.contains_key("maximum");
        let (mut minimum, mut maximum) = (None, None);
        if has_bounds && arg_type.is_some() && arg_type != Some(ArgType::Number) {
            self.error(
                path,
                "NUMERIC_BOUNDS_REQUIRE_NUMBER",
                "minimum and maximum need type number",
            );
        } else if has_bounds {
            (minimum, maximum) = self.bounds_pair(obj, path, path);
        }
        let enum_values = match obj.get("enum") {
            None => None,
            Some(e) => match e
                .as_array()
                .filter(|a| !a.is_empty() && a.iter().all(is_scalar))
            {
                Some(a) => Some(a.clone()),
                None => {
                    self.error(
                        format!("{path}.enum"),
                        "INVALID_ARG_ENUM",
                        "enum must be a non-empty array of scalars",
                    );
                    None
                }
            },
        };
        if self.errors.len() > before {
            return None;
        }
        Some(ArgSpec {
            name: name.to_string(),
            arg_type: arg_type?,
            description,
            required: obj.get("required") != Some(&Value::Bool(false)),
            max_length,
            minimum,
            maximum,
            enum_values,
            format: None,
            range: None,
        })
    }

    /// `minimum`/`maximum` checks shared by args and numeric bounds.
    pub(super) fn bounds_pair(
        &mut self,
        obj: &Map<String, Value>,
        path: &str,
        range_path: &str,
    ) -> (Option<f64>, Option<f64>) {
        let get = |v: &mut Self, key: &str, code: &str| -> Option<f64> {
            let raw = obj.get(key)?;
            match raw.as_f64().filter(|f| f.is_finite()) {
                Some(f) => Some(f),
                None => {
                    v.error(
                        format!("{path}.{key}"),
                        code,
                        format!("{key} must be a finite number"),
                    );
                    None
                }
            }
        };
        let minimum = get(self, "minimum", "INVALID_MINIMUM");
        let maximum = get(self, "maximum", "INVALID_MAXIMUM");
        if let (Some(lo), Some(hi)) = (minimum, maximum)
            && lo > hi
        {
            self.error(
                range_path,
                "INVALID_NUMERIC_RANGE",
                "minimum must not exceed maximum",
            );
        }
        (minimum, maximum)
    }
}
