//! The proposal part of a capability: patch, numeric bounds, transition guards, allowed
//! columns, conflict guard, approval and writeback readiness.

use super::*;

impl Validator {
    pub(super) fn proposal_parts(
        &mut self,
        obj: &Map<String, Value>,
        path: &str,
        args: Option<&IndexMap<String, ArgSpec>>,
        target: Option<&Target>,
        visible: Option<&[String]>,
    ) -> ProposalParts {
        let mut parts = ProposalParts {
            patch: self.patch(obj.get("patch"), path, args),
            ..Default::default()
        };
        let patch_cols: Vec<&str> = match obj.get("patch").and_then(Value::as_object) {
            Some(p) => p.keys().map(String::as_str).collect(),
            None => Vec::new(),
        };
        if let Some(nb) = obj.get("numeric_bounds") {
            parts.numeric_bounds = self.numeric_bounds(nb, path, &patch_cols);
        }
        let conflict_col = obj
            .get("conflict_guard")
            .and_then(|g| g.get("column"))
            .and_then(Value::as_str);
        if let Some(tg) = obj.get("transition_guards") {
            let readable = |c: &str| {
                visible.is_some_and(|v| v.iter().any(|x| x == c))
                    || target
                        .is_some_and(|t| t.primary_key == c || t.tenant_key.as_deref() == Some(c))
                    || conflict_col == Some(c)
            };
            parts.transition_guards = self.transition_guards(tg, path, &patch_cols, &readable);
        }
        parts.allowed_columns =
            self.allowed_columns(obj.get("allowed_columns"), path, &patch_cols, target);
        parts.conflict_guard = self.conflict_guard(obj.get("conflict_guard"), path);
        if let Some(approval) = obj.get("approval") {
            parts.approval = self.approval(approval, path);
        }
        parts
    }

    pub(super) fn patch(
        &mut self,
        patch: Option<&Value>,
        path: &str,
        args: Option<&IndexMap<String, ArgSpec>>,
    ) -> IndexMap<String, PatchBinding> {
        let ppath = format!("{path}.patch");
        let mut out = IndexMap::new();
        let Some(obj) = patch.and_then(Value::as_object).filter(|o| !o.is_empty()) else {
            self.error(
                &ppath,
                "PATCH_REQUIRED",
                "proposal capabilities need a non-empty patch",
            );
            return out;
        };
        for (col, binding) in obj {
            let cpath = format!("{ppath}.{col}");
            if !is_safe_identifier(col) {
                self.error(
                    &cpath,
                    "INVALID_PATCH_COLUMN",
                    "patch columns must be safe identifiers",
                );
            }
            let Some(b) = binding.as_object() else {
                self.error(
                    &cpath,
                    "PATCH_BINDING_NOT_OBJECT",
                    "a patch binding must be an object",
                );
                continue;
            };
            self.unknown_keys(b, &["fixed", "from_arg"], &cpath);
            match (b.get("fixed"), b.get("from_arg")) {
                (Some(fixed), None) if is_scalar(fixed) => {
                    out.insert(col.clone(), PatchBinding::Fixed(fixed.clone()));
                }
                (None, Some(from)) => match non_empty_str(Some(from)) {
                    None => self.error(
                        format!("{cpath}.from_arg"),
                        "INVALID_PATCH_ARG",
                        "from_arg must name an arg",
                    ),
                    Some(arg) => {
                        if args.is_some_and(|a| !a.contains_key(arg)) {
                            self.error(
                                format!("{cpath}.from_arg"),
                                "UNKNOWN_PATCH_ARG",
                                format!("from_arg names {arg}, which is not declared in args"),
                            );
                        }
                        out.insert(col.clone(), PatchBinding::FromArg(arg.to_string()));
                    }
                },
                _ => self.error(
                    &cpath,
                    "INVALID_PATCH_BINDING",
                    "a patch binding needs exactly one of fixed (a scalar) or from_arg",
                ),
            }
        }
        out
    }

    pub(super) fn numeric_bounds(
        &mut self,
        nb: &Value,
        path: &str,
        patch_cols: &[&str],
    ) -> IndexMap<String, Bounds> {
        let npath = format!("{path}.numeric_bounds");
        let mut out = IndexMap::new();
        let Some(obj) = nb.as_object() else {
            self.error(
                &npath,
                "NUMERIC_BOUNDS_NOT_OBJECT",
                "numeric_bounds must be an object",
            );
            return out;
        };
        for (col, bound) in obj {
            let bpath = format!("{npath}.{col}");
            if !is_safe_identifier(col) {
                self.error(
                    &bpath,
                    "INVALID_NUMERIC_BOUND_COLUMN",
                    "bound columns must be safe identifiers",
                );
            } else if !patch_cols.contains(&col.as_str()) {
                self.error(
                    &bpath,
                    "NUMERIC_BOUND_PATCH_COLUMN_REQUIRED",
                    "bounds apply to patch columns only",
                );
            }
            let Some(b) = bound.as_object() else {
                self.error(
                    &bpath,
                    "NUMERIC_BOUND_NOT_OBJECT",
                    "a numeric bound must be an object",
                );
                continue;
            };
            self.unknown_keys(b, &["minimum", "maximum"], &bpath);
            if !b.contains_key("minimum") && !b.contains_key("maximum") {
                self.error(
                    &bpath,
                    "NUMERIC_BOUND_EMPTY",
                    "a numeric bound needs minimum or maximum",
                );
                continue;
            }
            let (minimum, maximum) = self.bounds_pair(b, &bpath, &bpath);
            out.insert(col.clone(), Bounds { minimum, maximum });
        }
        out
    }

    pub(super) fn transition_guards(
        &mut self,
        tg: &Value,
        path: &str,
        patch_cols: &[&str],
        readable: &dyn Fn(&str) -> bool,
    ) -> IndexMap<String, TransitionGuard> {
        let tpath = format!("{path}.transition_guards");
        let mut out = IndexMap::new();
        let Some(obj) = tg.as_object() else {
            self.error(
                &tpath,
                "TRANSITION_GUARDS_NOT_OBJECT",
                "transition_guards must be an object",
            );
            return out;
        };
        for (col, guard) in obj {
            let gpath = format!("{tpath}.{col}");
            if !is_safe_identifier(col) {
                self.error(
                    &gpath,
                    "INVALID_TRANSITION_GUARD_COLUMN",
                    "guard columns must be safe identifiers",
                );
            } else if !patch_cols.contains(&col.as_str()) {
                self.error(
                    &gpath,
                    "TRANSITION_PATCH_COLUMN_REQUIRED",
                    "transition guards apply to patch columns only",
                );
            }
            let Some(g) = guard.as_object() else {
                self.error(
                    &gpath,
                    "TRANSITION_GUARD_NOT_OBJECT",
                    "a transition guard must be an object",
                );
                continue;
            };
            self.unknown_keys(g, &["from_column", "allowed"], &gpath);
            let mut from_column = None;
            if let Some(fc) = g.get("from_column") {
                match fc.as_str().filter(|s| is_safe_identifier(s)) {
                    None => self.error(
                        format!("{gpath}.from_column"),
                        "INVALID_TRANSITION_FROM_COLUMN",
                        "from_column must be a safe identifier",
                    ),
                    Some(c) if !readable(c) => self.error(
                        format!("{gpath}.from_column"),
                        "TRANSITION_FROM_COLUMN_NOT_VISIBLE",
                        "from_column must be a column the capability reads",
                    ),
                    Some(c) => from_column = Some(c.to_string()),
                }
            }
            let apath = format!("{gpath}.allowed");
            let Some(allowed) = g
                .get("allowed")
                .and_then(Value::as_object)
                .filter(|a| !a.is_empty())
            else {
                self.error(
                    &apath,
                    "TRANSITION_ALLOWED_REQUIRED",
                    "allowed must map current states to next states",
                );
                continue;
            };
            let mut map = IndexMap::new();
            for (from, tos) in allowed {
                let fpath = format!("{apath}.{from}");
                if from.trim().is_empty() {
                    self.error(
                        &fpath,
                        "TRANSITION_FROM_REQUIRED",
                        "a current state must be non-empty",
                    );
                }
                let list = tos.as_array().filter(|a| {
                    !a.is_empty() && a.iter().all(|t| non_empty_str(Some(t)).is_some())
                });
                match list {
                    Some(a) => {
                        map.insert(
                            from.clone(),
                            a.iter()
                                .filter_map(|t| t.as_str().map(str::to_string))
                                .collect(),
                        );
                    }
                    None => self.error(
                        &fpath,
                        "TRANSITION_TO_VALUES_REQUIRED",
                        "allowed next states must be a non-empty array of strings",
                    ),
                }
            }
            out.insert(
                col.clone(),
                TransitionGuard {
                    from_column,
                    allowed: map,
                },
            );
        }
        out
    }

    pub(super) fn allowed_columns(
        &mut self,
        allowed: Option<&Value>,
        path: &str,
        patch_cols: &[&str],
        target: Option<&Target>,
    ) -> Vec<String> {
        let apath = format!("{path}.allowed_columns");
        let Some(arr) = allowed.and_then(Value::as_array).filter(|a| !a.is_empty()) else {
            self.error(
                &apath,
                "ALLOWED_COLUMNS_REQUIRED",
                "proposal capabilities need allowed_columns",
            );
            return Vec::new();
        };
        let Some(cols) = self.identifier_list(arr, &apath, "INVALID_ALLOWED_COLUMN") else {
            return Vec::new();
        };
        if let Some(t) = target {
            for (j, c) in cols.iter().enumerate() {
                if *c == t.primary_key {
                    self.error(
                        format!("{apath}[{j}]"),
                        "PRIMARY_KEY_ALLOWLISTED",
                        "the primary key column must never be writable",
                    );
                }
                if t.tenant_key.as_deref() == Some(c.as_str()) {
                    self.error(
                        format!("{apath}[{j}]"),
                        "TENANT_KEY_ALLOWLISTED",
                        "the tenant column must never be writable",
                    );
                }
            }
        }
        for col in patch_cols {
            if !cols.iter().any(|c| c == col) {
                self.error(
                    format!("{path}.patch.{col}"),
                    "PATCH_COLUMN_NOT_ALLOWED",
                    format!("patch column {col} is not listed in allowed_columns"),
                );
            }
        }
        cols
    }

    pub(super) fn conflict_guard(
        &mut self,
        guard: Option<&Value>,
        path: &str,
    ) -> Option<ConflictGuardSpec> {
        let gpath = format!("{path}.conflict_guard");
        let Some(obj) = guard.and_then(Value::as_object) else {
            self.error(
                &gpath,
                "CONFLICT_GUARD_REQUIRED",
                "proposal capabilities need a conflict_guard",
            );
            return None;
        };
        self.unknown_keys(obj, &["column", "weak_guard_ack"], &gpath);
        let weak_guard_ack = obj.get("weak_guard_ack") == Some(&Value::Bool(true));
        let column = obj
            .get("column")
            .and_then(Value::as_str)
            .filter(|s| is_safe_identifier(s));
        if column.is_none() && !weak_guard_ack {
            self.error(
                format!("{gpath}.column"),
                "CONFLICT_GUARD_COLUMN_REQUIRED",
                "conflict_guard.column must name a version column (or set weak_guard_ack: true)",
            );
        }
        Some(ConflictGuardSpec {
            column: column.map(str::to_string),
            weak_guard_ack,
        })
    }

    pub(super) fn approval(
        &mut self,
        approval: &Value,
        path: &str,
    ) -> Option<(Option<String>, Option<String>)> {
        let apath = format!("{path}.approval");
        let Some(obj) = approval.as_object() else {
            self.error(&apath, "APPROVAL_NOT_OBJECT", "approval must be an object");
            return None;
        };
        self.unknown_keys(obj, &["mode", "required_role"], &apath);
        let text = |k: &str| obj.get(k).and_then(Value::as_str).map(str::to_string);
        Some((text("mode"), text("required_role")))
    }

    pub(super) fn writeback_readiness(
        &mut self,
        caps: &[(usize, Capability)],
        sources: &Option<IndexMap<String, Source>>,
    ) {
        let Some(sources) = sources else { return };
        for (i, cap) in caps {
            let direct = matches!(cap.executor.as_deref(), None | Some("sql_update"));
            if cap.kind != Kind::Proposal || !direct {
                continue;
            }
            let Some(source) = sources.get(&cap.source) else {
                continue;
            };
            if source.read_only {
                self.error(
                    format!("$.capabilities[{i}].executor"),
                    "READ_ONLY_SOURCE_DIRECT_WRITEBACK",
                    "a read_only source cannot use direct SQL writeback; route it to an app-owned executor",
                );
            } else if source.write_url_env.is_none() {
                self.warning(
                    format!("$.sources.{}.write_url_env", cap.source),
                    "WRITEBACK_DISABLED",
                    "no write_url_env: approved proposals from this source cannot be applied",
                );
            }
        }
    }
}
