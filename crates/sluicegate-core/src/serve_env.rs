//! The env vars a server needs before it can answer any call: the read URL of every source a
//! served capability reads, the tenant and principal of every trusted context it resolves, and
//! the URL of a PostgreSQL ledger (`storage.url_env`).
//!
//! A server started without one of them would list its tools and then refuse every call (a
//! missing URL reads to the model as an outage, a missing tenant as a bad argument), so
//! `mcp serve` and `up --serve` refuse to start instead, naming each variable, where the config
//! uses it, and how to provide it. The writer URL is not among them: only `apply` uses it, and a
//! model-facing server never holds it. Names only: values are looked up through the `env`
//! function the caller passes in, and never shown.

use std::fmt::Write as _;

use serde_json::Value;

use crate::call::{DEFAULT_PRINCIPAL_ENV, DEFAULT_TENANT_ENV};
use crate::config::{Config, LedgerStorage, Provider};

/// One env var a server needs, and every place the config uses it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EnvNeed {
    pub name: String,
    /// Where it is used, in config order: `read URL of source billing_app`, `trusted context
    /// tenant of billing.inspect_invoice, billing.propose_late_fee_waiver`.
    pub uses: Vec<String>,
    /// A database URL (a credential) rather than an identity value.
    pub secret: bool,
}

impl EnvNeed {
    /// `NAME: use; use`.
    pub fn line(&self) -> String {
        format!("{}: {}", self.name, self.uses.join("; "))
    }
}

/// Every env var serving `config` needs, in config order: each served capability's source
/// read URL, then its trusted context's tenant and principal (environment provider; a
/// `static_dev` env binding only when no literal value stands in for it). Capabilities a
/// server does not list (proposals in `read_only` mode) need nothing.
pub fn serve_needs(config: &Config) -> Vec<EnvNeed> {
    let mut needs: Vec<EnvNeed> = Vec::new();
    let mut add = |name: &str, use_: &str, who: &str, secret: bool| {
        let idx = match needs.iter().position(|n| n.name == name) {
            Some(i) => i,
            None => {
                needs.push(EnvNeed {
                    name: name.to_string(),
                    uses: Vec::new(),
                    secret,
                });
                needs.len() - 1
            }
        };
        let need = &mut needs[idx];
        // Uses of one kind share a line: `trusted context tenant of a, b`.
        let prefix = format!("{use_} of ");
        match need.uses.iter_mut().find(|u| u.starts_with(&prefix)) {
            Some(u) if !u[prefix.len()..].split(", ").any(|w| w == who) => {
                u.push_str(", ");
                u.push_str(who);
            }
            Some(_) => {}
            None => need.uses.push(format!("{prefix}{who}")),
        }
    };
    for cap in config.exposed_capabilities() {
        if let Some(source) = config.sources.get(&cap.source) {
            add(
                &source.read_url_env,
                "read URL",
                &source_label(&source.name),
                true,
            );
        }
        let Some(spec) = config.context_for(cap) else {
            continue;
        };
        let env_name = |key: &str| spec.values.get(key).and_then(Value::as_str);
        let literal = |key: &str| {
            spec.values
                .get(key)
                .and_then(Value::as_str)
                .is_some_and(|v| !v.is_empty())
        };
        let bindings = [
            ("tenant_id_env", "tenant_id", DEFAULT_TENANT_ENV, "tenant"),
            (
                "principal_env",
                "principal",
                DEFAULT_PRINCIPAL_ENV,
                "principal",
            ),
        ];
        for (env_key, literal_key, default, what) in bindings {
            let name = match spec.provider {
                Provider::Environment => Some(env_name(env_key).unwrap_or(default)),
                Provider::StaticDev if !literal(literal_key) => env_name(env_key),
                _ => None,
            };
            if let Some(name) = name {
                add(name, &format!("trusted context {what}"), &cap.name, false);
            }
        }
    }
    // Every call is recorded before it is answered: no ledger, no call.
    if let LedgerStorage::Postgres { url_env } = &config.ledger {
        add(url_env, "ledger URL", "storage.url_env", true);
    }
    needs
}

fn source_label(name: &str) -> String {
    format!("source {name}")
}

/// The needs `env` has no non-empty value for.
pub fn missing<'a>(needs: &'a [EnvNeed], env: &dyn Fn(&str) -> Option<String>) -> Vec<&'a EnvNeed> {
    needs
        .iter()
        .filter(|n| env(&n.name).is_none_or(|v| v.is_empty()))
        .collect()
}

/// Why a server refuses to start without `missing` (non-empty), and the fix. `env_file` is the
/// `--env-file` it was given, if any.
pub fn missing_message(missing: &[&EnvNeed], env_file: Option<&str>) -> String {
    let mut out = String::new();
    let count = missing.len();
    let _ = writeln!(
        out,
        "cannot serve: {count} env var{} the config needs {} not set (every call would be refused)",
        if count == 1 { "" } else { "s" },
        if count == 1 { "is" } else { "are" }
    );
    for need in missing {
        let _ = writeln!(out, "  {}", need.line());
    }
    let names: Vec<&str> = missing.iter().map(|n| n.name.as_str()).collect();
    let _ = match env_file {
        Some(file) => write!(
            out,
            "Fix: add {} to {file} (NAME=value lines), or export {} in the environment that starts the server",
            names.join(", "),
            if count == 1 { "it" } else { "them" }
        ),
        None => write!(
            out,
            "Fix: put {} in an env file only you can read (chmod 600) and pass --env-file <path>, or export {} in the environment that starts the server (an MCP client's \"env\" block)",
            names.join(", "),
            if count == 1 { "it" } else { "them" }
        ),
    };
    out
}

/// An env file template for `needs`: a comment per variable saying where it is used, then
/// `NAME=` with the value left empty. It never holds a value.
pub fn env_template(needs: &[EnvNeed], extra: &[(&str, &str)]) -> String {
    let mut out = String::from(
        "# Env file for `sluicegate mcp serve --env-file <this file>`.\n# Fill in the values and keep it readable by you only (chmod 600); variables already set in\n# the server's environment win over this file.\n",
    );
    for need in needs {
        let _ = writeln!(out, "\n# {}", need.uses.join("; "));
        let _ = writeln!(out, "{}=", need.name);
    }
    for (name, why) in extra {
        let _ = writeln!(out, "\n# {why}");
        let _ = writeln!(out, "{name}=");
    }
    out
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::config::load_str;

    fn config(doc: Value) -> Config {
        let (v, c) = load_str(&doc.to_string());
        c.unwrap_or_else(|| panic!("valid config: {:?}", v.error_lines()))
    }

    fn cap(name: &str, kind: &str, source: &str, context: Option<&str>) -> Value {
        let mut c = json!({
            "name": name, "kind": kind, "source": source,
            "target": {"schema": "main", "table": "t", "primary_key": "id", "tenant_key": "tenant_id"},
            "args": {"id": {"type": "string"}},
            "lookup": {"id_from_arg": "id"},
            "visible_columns": ["id", "v", "updated_at"],
        });
        if kind == "proposal" {
            c["patch"] = json!({"v": {"fixed": 0}});
            c["allowed_columns"] = json!(["v"]);
            c["conflict_guard"] = json!({"column": "updated_at"});
        }
        if let Some(ctx) = context {
            c["context"] = json!(ctx);
        }
        c
    }

    fn doc(mode: &str) -> Value {
        json!({
            "version": 1, "mode": mode,
            "sources": {
                "app": {"engine": "sqlite", "read_url_env": "APP_URL", "write_url_env": "APP_WRITE_URL"},
                "crm": {"engine": "sqlite", "read_url_env": "CRM_URL"},
                "unused": {"engine": "sqlite", "read_url_env": "UNUSED_URL"}
            },
            "trusted_context": {"provider": "environment", "values": {"tenant_id_env": "T", "principal_env": "P"}},
            "contexts": {
                "dev": {"provider": "static_dev", "values": {"tenant_id": "acme", "principal_env": "DEV_P"}}
            },
            "capabilities": [
                cap("a.read", "read", "app", None),
                cap("a.propose", "proposal", "app", None),
                cap("c.read", "read", "crm", Some("dev")),
                cap("crm.propose", "proposal", "crm", Some("dev")),
            ]
        })
    }

    #[test]
    fn every_served_source_and_context_variable_with_its_uses() {
        let needs = serve_needs(&config(doc("review")));
        let lines: Vec<String> = needs.iter().map(EnvNeed::line).collect();
        assert_eq!(
            lines,
            [
                "APP_URL: read URL of source app",
                "T: trusted context tenant of a.read, a.propose",
                "P: trusted context principal of a.read, a.propose",
                "CRM_URL: read URL of source crm",
                "DEV_P: trusted context principal of c.read, crm.propose",
            ]
        );
        assert!(needs[0].secret && !needs[1].secret);
        // The writer URL and an unused source are not needed to serve.
        assert!(
            !lines
                .iter()
                .any(|l| l.contains("WRITE") || l.contains("UNUSED"))
        );
    }

    #[test]
    fn read_only_mode_needs_only_what_reads_use() {
        let mut d = doc("read_only");
        d["capabilities"] = json!([
            cap("a.read", "read", "app", None),
            cap("crm.propose", "proposal", "crm", Some("dev"))
        ]);
        let names: Vec<String> = serve_needs(&config(d))
            .into_iter()
            .map(|n| n.name)
            .collect();
        assert_eq!(names, ["APP_URL", "T", "P"]);
    }

    #[test]
    fn environment_provider_defaults_its_names() {
        let mut d = doc("review");
        d["trusted_context"] = json!({"provider": "environment", "values": {}});
        d["capabilities"] = json!([cap("a.read", "read", "app", None)]);
        let names: Vec<String> = serve_needs(&config(d))
            .into_iter()
            .map(|n| n.name)
            .collect();
        assert_eq!(
            names,
            ["APP_URL", DEFAULT_TENANT_ENV, DEFAULT_PRINCIPAL_ENV]
        );
    }

    #[test]
    fn missing_needs_and_the_message_that_names_them() {
        let needs = serve_needs(&config(doc("review")));
        let env = |name: &str| match name {
            "APP_URL" | "CRM_URL" | "DEV_P" => Some("x".to_string()),
            "P" => Some(String::new()),
            _ => None,
        };
        let gone = missing(&needs, &env);
        let names: Vec<&str> = gone.iter().map(|n| n.name.as_str()).collect();
        assert_eq!(names, ["T", "P"], "an empty value counts as unset");
        let text = missing_message(&gone, None);
        assert!(
            text.starts_with("cannot serve: 2 env vars the config needs are not set"),
            "{text}"
        );
        assert!(
            text.contains("\n  T: trusted context tenant of a.read, a.propose\n"),
            "{text}"
        );
        assert!(
            text.contains("pass --env-file <path>, or export them"),
            "{text}"
        );
        let one = missing_message(&gone[..1], Some("/srv/app/.env"));
        assert!(
            one.starts_with("cannot serve: 1 env var the config needs is not set"),
            "{one}"
        );
        assert!(one.contains("Fix: add T to /srv/app/.env"), "{one}");
    }

    #[test]
    fn the_template_names_variables_and_holds_no_value() {
        let needs = serve_needs(&config(doc("review")));
        let text = env_template(&needs, &[("SLUICEGATE_HTTP_TOKEN", "bearer token")]);
        let assignments: Vec<&str> = text
            .lines()
            .filter(|l| !l.starts_with('#') && !l.is_empty())
            .collect();
        assert_eq!(
            assignments,
            [
                "APP_URL=",
                "T=",
                "P=",
                "CRM_URL=",
                "DEV_P=",
                "SLUICEGATE_HTTP_TOKEN="
            ]
        );
        assert!(
            text.contains("# read URL of source app\nAPP_URL=\n"),
            "{text}"
        );
    }
}
