//! `capabilities` (config.md §8–§9): names, kinds, targets, lookups and visible columns.

use super::*;

impl Validator {
    pub(super) fn capabilities(
        &mut self,
        caps: Option<&Value>,
        raw_sources: Option<&Value>,
        cloud: bool,
        sources: &Option<IndexMap<String, Source>>,
        contexts: &Option<IndexMap<String, ContextSpec>>,
        executors: &Option<IndexMap<String, Executor>>,
    ) -> Option<Vec<(usize, Capability)>> {
        if cloud && caps.is_none() {
            return None;
        }
        let Some(arr) = caps.and_then(Value::as_array).filter(|a| !a.is_empty()) else {
            self.error(
                "$.capabilities",
                "CAPABILITIES_REQUIRED",
                "capabilities must be a non-empty array",
            );
            return None;
        };
        let mut out = Vec::with_capacity(arr.len());
        let mut seen_names: Vec<&str> = Vec::new();
        let source_names: Vec<&str> = raw_sources
            .and_then(Value::as_object)
            .map(|o| o.keys().map(String::as_str).collect())
            .unwrap_or_default();
        let ctx = CapContext {
            sources,
            source_names,
            contexts,
            executors,
        };
        for (i, cap) in arr.iter().enumerate() {
            let path = format!("$.capabilities[{i}]");
            let Some(obj) = cap.as_object() else {
                self.error(
                    &path,
                    "CAPABILITY_NOT_OBJECT",
                    "each capability must be an object",
                );
                continue;
            };
            if let Some(name) = obj.get("name").and_then(Value::as_str) {
                if seen_names.contains(&name) {
                    self.error(
                        format!("{path}.name"),
                        "DUPLICATE_CAPABILITY_NAME",
                        format!("capability name {name} is already used by an earlier capability"),
                    );
                }
                seen_names.push(name);
            }
            if let Some(c) = self.capability(obj, &path, &ctx) {
                out.push((i, c));
            }
        }
        Some(out)
    }

    pub(super) fn capability(
        &mut self,
        obj: &Map<String, Value>,
        path: &str,
        ctx: &CapContext,
    ) -> Option<Capability> {
        let errors_before = self.errors.len();
        self.unknown_keys(obj, CAPABILITY_KEYS, path);

        let name = obj
            .get("name")
            .and_then(Value::as_str)
            .filter(|n| is_capability_name(n));
        if name.is_none() {
            self.error(
                format!("{path}.name"),
                "INVALID_CAPABILITY_NAME",
                "name must be exactly namespace.name (two safe identifiers)",
            );
        }
        let kind = match obj.get("kind").and_then(Value::as_str) {
            Some("read") => Some(Kind::Read),
            Some("proposal") => Some(Kind::Proposal),
            _ => {
                self.error(
                    format!("{path}.kind"),
                    "INVALID_CAPABILITY_KIND",
                    "kind must be read or proposal",
                );
                None
            }
        };
        let description =
            self.optional_text(obj, "description", path, "INVALID_CAPABILITY_DESCRIPTION");
        let returns_hint = self.optional_text(obj, "returns_hint", path, "INVALID_RETURNS_HINT");

        let source_name = obj.get("source").and_then(Value::as_str);
        let source = source_name.and_then(|s| ctx.sources.as_ref().and_then(|m| m.get(s)));
        let source_exists = source_name.is_some_and(|s| ctx.source_names.contains(&s));
        if !source_exists {
            self.error(
                format!("{path}.source"),
                "UNKNOWN_SOURCE",
                "source must name a configured source",
            );
        }

        let context = obj
            .get("context")
            .and_then(Value::as_str)
            .map(str::to_string);
        if obj.contains_key("context") {
            let known = context
                .as_ref()
                .is_some_and(|c| ctx.contexts.as_ref().is_some_and(|m| m.contains_key(c)));
            if !known {
                self.error(
                    format!("{path}.context"),
                    "UNKNOWN_CONTEXT",
                    "context must name a key of contexts",
                );
            }
        }

        let executor = match obj.get("executor") {
            None => None,
            Some(e) => match non_empty_str(Some(e)) {
                None => {
                    self.error(
                        format!("{path}.executor"),
                        "INVALID_EXECUTOR_REFERENCE",
                        "executor must be a non-empty string",
                    );
                    None
                }
                Some(e) => {
                    let known = e == "sql_update"
                        || ctx.executors.as_ref().is_some_and(|m| m.contains_key(e));
                    if !known {
                        self.error(
                            format!("{path}.executor"),
                            "UNKNOWN_EXECUTOR",
                            "executor must be sql_update or a key of executors",
                        );
                    }
                    Some(e.to_string())
                }
            },
        };

        let engine = source.map(|s| s.engine);
        let target = self.target(obj.get("target"), path, engine);
        let args = self.args(obj.get("args"), path, target.as_ref());
        let lookup_arg = self.lookup(obj.get("lookup"), path, args.as_ref());
        let visible_columns = self.visible_columns(obj.get("visible_columns"), path);
        let max_rows = match obj.get("max_rows") {
            None => None,
            Some(m) => match is_positive_integer(m) {
                Some(n) => Some(n),
                None => {
                    self.error(
                        format!("{path}.max_rows"),
                        "INVALID_MAX_ROWS",
                        "max_rows must be a positive integer",
                    );
                    None
                }
            },
        };

        let mut proposal = ProposalParts::default();
        if kind == Some(Kind::Proposal) {
            proposal = self.proposal_parts(
                obj,
                path,
                args.as_ref(),
                target.as_ref(),
                visible_columns.as_deref(),
            );
        } else if let Some(types) = obj.get("column_types") {
            // A read's columns type its lookup argument and its results too.
            proposal.column_types = self.column_types(types, path);
        }
        if self.errors.len() > errors_before {
            return None;
        }
        let target = target?;
        let (approval_mode, required_role) = proposal.approval.unwrap_or_default();
        Some(
            Capability {
                name: name?.to_string(),
                kind: kind?,
                description,
                returns_hint,
                source: source_name?.to_string(),
                context,
                executor,
                target,
                args: args?,
                lookup_arg: lookup_arg?,
                visible_columns: visible_columns?,
                max_rows,
                patch: proposal.patch,
                allowed_columns: proposal.allowed_columns,
                numeric_bounds: proposal.numeric_bounds,
                transition_guards: proposal.transition_guards,
                conflict_guard: proposal.conflict_guard,
                column_types: proposal.column_types,
                approval_mode,
                required_role,
                shape: Default::default(),
            }
            .with_read_shape(),
        )
    }

    pub(super) fn optional_text(
        &mut self,
        obj: &Map<String, Value>,
        key: &str,
        path: &str,
        code: &str,
    ) -> Option<String> {
        let v = obj.get(key)?;
        match non_empty_str(Some(v)) {
            Some(s) => Some(s.to_string()),
            None => {
                self.error(
                    format!("{path}.{key}"),
                    code,
                    format!("{key} must be a non-empty string"),
                );
                None
            }
        }
    }

    pub(super) fn target(
        &mut self,
        target: Option<&Value>,
        path: &str,
        engine: Option<Engine>,
    ) -> Option<Target> {
        let tpath = format!("{path}.target");
        let Some(obj) = target.and_then(Value::as_object) else {
            self.error(&tpath, "TARGET_REQUIRED", "target must be an object");
            return None;
        };
        self.unknown_keys(
            obj,
            &[
                "schema",
                "table",
                "primary_key",
                "tenant_key",
                "single_tenant_dev",
            ],
            &tpath,
        );
        let ident = |v: &mut Self, key: &str| -> Option<String> {
            match obj
                .get(key)
                .and_then(Value::as_str)
                .filter(|s| is_safe_identifier(s))
            {
                Some(s) => Some(s.to_string()),
                // SQLite has one schema per attached database; `main` is the file itself.
                None if key == "schema"
                    && engine == Some(Engine::Sqlite)
                    && !obj.contains_key(key) =>
                {
                    Some("main".to_string())
                }
                None => {
                    v.error(
                        format!("{tpath}.{key}"),
                        "INVALID_TARGET_IDENTIFIER",
                        format!("target.{key} must be a safe identifier"),
                    );
                    None
                }
            }
        };
        let schema = ident(self, "schema");
        let table = ident(self, "table");
        let primary_key = ident(self, "primary_key");
        let single_tenant_dev = obj.get("single_tenant_dev") == Some(&Value::Bool(true));
        let tenant_key = obj
            .get("tenant_key")
            .and_then(Value::as_str)
            .filter(|s| is_safe_identifier(s))
            .map(str::to_string);
        if tenant_key.is_none() && !single_tenant_dev {
            self.error(
                format!("{tpath}.tenant_key"),
                "TENANT_GUARD_REQUIRED",
                "target.tenant_key is required so every read and write is scoped to the trusted tenant",
            );
        }
        if single_tenant_dev {
            self.warning(
                format!("{tpath}.single_tenant_dev"),
                "SINGLE_TENANT_DEV_EXCEPTION",
                "single_tenant_dev drops the tenant guard; use it only for local development",
            );
        }
        Some(Target {
            schema: schema?,
            table: table?,
            primary_key: primary_key?,
            tenant_key,
            single_tenant_dev,
            raw: target.cloned().unwrap_or(Value::Null),
        })
    }

    pub(super) fn lookup(
        &mut self,
        lookup: Option<&Value>,
        path: &str,
        args: Option<&IndexMap<String, ArgSpec>>,
    ) -> Option<String> {
        let lpath = format!("{path}.lookup");
        let Some(obj) = lookup.and_then(Value::as_object) else {
            self.error(
                &lpath,
                "LOOKUP_REQUIRED",
                "lookup must be an object with id_from_arg",
            );
            return None;
        };
        self.unknown_keys(obj, &["id_from_arg"], &lpath);
        let Some(arg) = non_empty_str(obj.get("id_from_arg")) else {
            self.error(
                format!("{lpath}.id_from_arg"),
                "LOOKUP_ARG_REQUIRED",
                "lookup.id_from_arg must name an arg",
            );
            return None;
        };
        if let Some(args) = args
            && !args.contains_key(arg)
        {
            self.error(
                format!("{lpath}.id_from_arg"),
                "UNKNOWN_LOOKUP_ARG",
                format!("lookup.id_from_arg names {arg}, which is not declared in args"),
            );
        }
        Some(arg.to_string())
    }

    pub(super) fn visible_columns(
        &mut self,
        cols: Option<&Value>,
        path: &str,
    ) -> Option<Vec<String>> {
        let vpath = format!("{path}.visible_columns");
        let Some(arr) = cols.and_then(Value::as_array).filter(|a| !a.is_empty()) else {
            self.error(
                &vpath,
                "VISIBLE_COLUMNS_REQUIRED",
                "visible_columns must be a non-empty array",
            );
            return None;
        };
        self.identifier_list(arr, &vpath, "INVALID_VISIBLE_COLUMN")
    }

    pub(super) fn identifier_list(
        &mut self,
        arr: &[Value],
        path: &str,
        code: &str,
    ) -> Option<Vec<String>> {
        let mut out = Vec::with_capacity(arr.len());
        let mut ok = true;
        for (j, c) in arr.iter().enumerate() {
            match c.as_str().filter(|s| is_safe_identifier(s)) {
                Some(s) => out.push(s.to_string()),
                None => {
                    self.error(
                        format!("{path}[{j}]"),
                        code,
                        "columns must be safe identifiers",
                    );
                    ok = false;
                }
            }
        }
        ok.then_some(out)
    }
}
