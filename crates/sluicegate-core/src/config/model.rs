//! The typed, validated config. Built only by the validator, so every identifier in it is safe.

use indexmap::IndexMap;
use serde_json::Value;

use crate::columns::ColumnInfo;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    ReadOnly,
    Shadow,
    Review,
    Cloud,
}

impl Mode {
    pub fn parse(s: &str) -> Option<Mode> {
        Some(match s {
            "read_only" => Mode::ReadOnly,
            "shadow" => Mode::Shadow,
            "review" => Mode::Review,
            "cloud" => Mode::Cloud,
            _ => return None,
        })
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Mode::ReadOnly => "read_only",
            Mode::Shadow => "shadow",
            Mode::Review => "review",
            Mode::Cloud => "cloud",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Engine {
    Postgres,
    Mysql,
    Sqlite,
}

impl Engine {
    pub fn parse(s: &str) -> Option<Engine> {
        Some(match s {
            "postgres" => Engine::Postgres,
            "mysql" => Engine::Mysql,
            "sqlite" => Engine::Sqlite,
            _ => return None,
        })
    }

    /// The engine of a database URL by its scheme (or, for SQLite, its file extension).
    pub fn from_url(url: &str) -> Option<Engine> {
        let lower = url.trim().to_ascii_lowercase();
        if lower.starts_with("postgres://") || lower.starts_with("postgresql://") {
            Some(Engine::Postgres)
        } else if lower.starts_with("mysql://") || lower.starts_with("mariadb://") {
            Some(Engine::Mysql)
        } else if lower.starts_with("sqlite:")
            || lower.ends_with(".db")
            || lower.ends_with(".sqlite")
            || lower.ends_with(".sqlite3")
        {
            Some(Engine::Sqlite)
        } else {
            None
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Engine::Postgres => "postgres",
            Engine::Mysql => "mysql",
            Engine::Sqlite => "sqlite",
        }
    }

    /// The change-set `source.kind` for rows read from this engine.
    pub fn source_kind(self) -> &'static str {
        match self {
            Engine::Postgres => "external_postgres",
            Engine::Mysql => "external_mysql",
            Engine::Sqlite => "external_sqlite",
        }
    }

    pub fn from_source_kind(kind: &str) -> Option<Engine> {
        Some(match kind {
            "external_postgres" => Engine::Postgres,
            "external_mysql" => Engine::Mysql,
            "external_sqlite" => Engine::Sqlite,
            _ => return None,
        })
    }
}

/// How hard a commit of the ledger is pushed to disk before a caller hears it was recorded
/// (`storage.durability`, a Sluicegate extension).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Durability {
    /// Every commit group is fsynced before any of its callers is answered: a record a client
    /// was told about survives a power loss or an OS crash. The default.
    #[default]
    Full,
    /// Commits reach the OS before callers are answered, and disk at checkpoints: a record
    /// survives a crash of the server process, but a power loss can drop the last few
    /// hundred milliseconds. For throwaway ledgers (demos, load tests).
    Relaxed,
}

impl Durability {
    pub fn parse(s: &str) -> Option<Durability> {
        match s {
            "full" => Some(Durability::Full),
            "relaxed" => Some(Durability::Relaxed),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Durability::Full => "full",
            Durability::Relaxed => "relaxed",
        }
    }
}

/// The ledger's engine and where to find it (`storage`, a Sluicegate extension).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LedgerStorage {
    /// A local SQLite file (the default); `None` means the runtime's default path.
    Sqlite { path: Option<String> },
    /// A PostgreSQL database shared by many servers; the URL is read from the env var named.
    Postgres { url_env: String },
}

impl Default for LedgerStorage {
    fn default() -> Self {
        LedgerStorage::Sqlite { path: None }
    }
}

impl LedgerStorage {
    /// `sqlite` or `postgres`, as `storage.engine` spells it.
    pub fn engine(&self) -> &'static str {
        match self {
            LedgerStorage::Sqlite { .. } => "sqlite",
            LedgerStorage::Postgres { .. } => "postgres",
        }
    }
}

#[derive(Debug, Clone)]
pub struct Config {
    pub mode: Mode,
    /// `None` means the runtime default (1).
    pub result_format: Option<u8>,
    /// Where the ledger lives (`storage.engine`, `storage.sqlite_path`, `storage.url_env`).
    pub ledger: LedgerStorage,
    pub durability: Durability,
    pub sources: IndexMap<String, Source>,
    pub trusted_context: Option<ContextSpec>,
    pub contexts: IndexMap<String, ContextSpec>,
    pub executors: IndexMap<String, Executor>,
    pub capabilities: Vec<Capability>,
    /// People whose signed decisions `apply` accepts. Empty: decisions are unsigned, and
    /// anyone who can write the ledger can approve (doctor and `up` say so).
    pub reviewers: Vec<Reviewer>,
}

/// A reviewer: a name and the Ed25519 public key their decisions are signed with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reviewer {
    pub name: String,
    /// `ed25519:<base64>`, as written in the config (checked when validated).
    pub public_key: String,
}

impl Config {
    /// The configured reviewer called `name`.
    pub fn reviewer(&self, name: &str) -> Option<&Reviewer> {
        self.reviewers.iter().find(|r| r.name == name)
    }
}

#[derive(Debug, Clone)]
pub struct Source {
    pub name: String,
    pub engine: Engine,
    pub read_url_env: String,
    pub write_url_env: Option<String>,
    pub read_only: bool,
    pub statement_timeout_ms: Option<u64>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Provider {
    StaticDev,
    Environment,
    HttpClaims,
    CloudSession,
}

impl Provider {
    pub fn parse(s: &str) -> Option<Provider> {
        Some(match s {
            "static_dev" => Provider::StaticDev,
            "environment" => Provider::Environment,
            "http_claims" => Provider::HttpClaims,
            "cloud_session" => Provider::CloudSession,
            _ => return None,
        })
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Provider::StaticDev => "static_dev",
            Provider::Environment => "environment",
            Provider::HttpClaims => "http_claims",
            Provider::CloudSession => "cloud_session",
        }
    }
}

#[derive(Debug, Clone)]
pub struct ContextSpec {
    pub provider: Provider,
    /// Free-form; the runtime understands `tenant_id_env`, `principal_env`, `tenant_id`,
    /// `principal`.
    pub values: serde_json::Map<String, Value>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HttpMethod {
    Post,
    Put,
    Patch,
}

impl HttpMethod {
    pub fn as_str(self) -> &'static str {
        match self {
            HttpMethod::Post => "POST",
            HttpMethod::Put => "PUT",
            HttpMethod::Patch => "PATCH",
        }
    }
}

#[derive(Debug, Clone)]
pub enum Executor {
    SqlUpdate,
    HttpHandler {
        url_env: String,
        method: HttpMethod,
        token_env: Option<String>,
        signing_secret_env: Option<String>,
        timeout_ms: Option<u64>,
    },
    CommandHandler {
        command_env: String,
        timeout_ms: Option<u64>,
    },
}

impl Executor {
    pub fn type_name(&self) -> &'static str {
        match self {
            Executor::SqlUpdate => "sql_update",
            Executor::HttpHandler { .. } => "http_handler",
            Executor::CommandHandler { .. } => "command_handler",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Read,
    Proposal,
}

impl Kind {
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Read => "read",
            Kind::Proposal => "proposal",
        }
    }
}

#[derive(Debug, Clone)]
pub struct Target {
    pub schema: String,
    pub table: String,
    pub primary_key: String,
    pub tenant_key: Option<String>,
    pub single_tenant_dev: bool,
    /// The `target` object exactly as written (key order kept): the query fingerprint hashes it.
    pub raw: Value,
}

impl Target {
    /// `schema.table`, as shown in evidence and audit records.
    pub fn qualified(&self) -> String {
        format!("{}.{}", self.schema, self.table)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ArgType {
    String,
    Number,
    Boolean,
    /// A whole number. Never written in a config: an argument gets it from an integer column
    /// it looks up or patches (`crate::typed`), and then also accepts a string of digits.
    Integer,
}

impl ArgType {
    pub fn as_str(self) -> &'static str {
        match self {
            ArgType::String => "string",
            ArgType::Number => "number",
            ArgType::Boolean => "boolean",
            ArgType::Integer => "integer",
        }
    }
}

/// The JSON Schema `format` of a string argument typed from a date or timestamp column.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ArgFormat {
    /// `YYYY-MM-DD`.
    Date,
    /// RFC 3339 with a zone.
    DateTime,
}

impl ArgFormat {
    pub fn as_str(self) -> &'static str {
        match self {
            ArgFormat::Date => "date",
            ArgFormat::DateTime => "date-time",
        }
    }
}

#[derive(Debug, Clone)]
pub struct ArgSpec {
    pub name: String,
    pub arg_type: ArgType,
    pub description: Option<String>,
    pub required: bool,
    pub max_length: Option<u64>,
    pub minimum: Option<f64>,
    pub maximum: Option<f64>,
    pub enum_values: Option<Vec<Value>>,
    /// Set only on specs typed from a column (`crate::typed`); `None` as declared.
    pub format: Option<ArgFormat>,
    /// For [`ArgType::Integer`]: the column's range, inclusive. `None` as declared.
    pub range: Option<(i128, i128)>,
}

#[derive(Debug, Clone)]
pub enum PatchBinding {
    Fixed(Value),
    FromArg(String),
}

#[derive(Debug, Clone, Copy)]
pub struct Bounds {
    pub minimum: Option<f64>,
    pub maximum: Option<f64>,
}

#[derive(Debug, Clone)]
pub struct TransitionGuard {
    pub from_column: Option<String>,
    pub allowed: IndexMap<String, Vec<String>>,
}

#[derive(Debug, Clone)]
pub struct ConflictGuardSpec {
    pub column: Option<String>,
    pub weak_guard_ack: bool,
    /// Who moves the version column forward on every write (`conflict_guard.maintained_by`).
    pub maintained_by: MaintainedBy,
}

/// Who advances a version column. Without an advance, two proposals made from one read both
/// match the same version and the second silently overwrites the first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum MaintainedBy {
    /// The guarded UPDATE sets it: the database clock for timestamps, `+ 1` for integers.
    #[default]
    Sluicegate,
    /// The application (or a trigger) changes it on every write; the UPDATE leaves it alone.
    App,
}

impl MaintainedBy {
    pub fn parse(s: &str) -> Option<MaintainedBy> {
        Some(match s {
            "sluicegate" => MaintainedBy::Sluicegate,
            "app" => MaintainedBy::App,
            _ => return None,
        })
    }

    pub fn as_str(self) -> &'static str {
        match self {
            MaintainedBy::Sluicegate => "sluicegate",
            MaintainedBy::App => "app",
        }
    }
}

#[derive(Debug, Clone)]
pub struct Capability {
    pub name: String,
    pub kind: Kind,
    pub description: Option<String>,
    pub returns_hint: Option<String>,
    pub source: String,
    pub context: Option<String>,
    /// `None` means the default direct `sql_update`.
    pub executor: Option<String>,
    pub target: Target,
    pub args: IndexMap<String, ArgSpec>,
    pub lookup_arg: String,
    pub visible_columns: Vec<String>,
    pub max_rows: Option<u64>,
    pub patch: IndexMap<String, PatchBinding>,
    pub allowed_columns: Vec<String>,
    pub numeric_bounds: IndexMap<String, Bounds>,
    pub transition_guards: IndexMap<String, TransitionGuard>,
    pub conflict_guard: Option<ConflictGuardSpec>,
    /// Column types declared in the config (`column_types`); they take the place of the
    /// catalog's for those columns.
    pub column_types: IndexMap<String, ColumnInfo>,
    pub approval_mode: Option<String>,
    pub required_role: Option<String>,
    /// Derived from the fields above by the validator; see [`ReadShape`].
    pub(crate) shape: ReadShape,
}

/// What every read of a capability needs and no call changes, worked out once when the config
/// is validated: rebuilding these strings (and re-serialising the target for the fingerprint)
/// on every call was a measurable part of the read path. Fields of a validated capability are
/// not changed afterwards, so the shape cannot go stale.
#[derive(Debug, Clone, Default)]
pub(crate) struct ReadShape {
    /// Columns selected by a read, in order and de-duplicated: visible columns, then the
    /// primary key, the tenant key and the conflict column when not already present.
    pub(crate) columns: Vec<String>,
    /// `schema.table`.
    pub(crate) qualified_table: String,
    /// The audit form of the statement (`crate::evidence::statement_template`).
    pub(crate) statement_template: String,
    /// Canonical JSON of the query-fingerprint document up to, not including, the tenant
    /// value, which comes last (`crate::evidence::query_fingerprint`).
    pub(crate) fingerprint_prefix: String,
}

impl Capability {
    /// Fill in the derived [`ReadShape`]; the validator calls this once per capability.
    pub(crate) fn with_read_shape(mut self) -> Capability {
        let mut columns: Vec<String> = Vec::with_capacity(self.visible_columns.len() + 3);
        let extra = [
            Some(&self.target.primary_key),
            self.target.tenant_key.as_ref(),
            self.conflict_guard.as_ref().and_then(|g| g.column.as_ref()),
        ];
        for col in self
            .visible_columns
            .iter()
            .chain(extra.into_iter().flatten())
        {
            if !columns.contains(col) {
                columns.push(col.clone());
            }
        }
        self.shape.columns = columns;
        self.shape.qualified_table = self.target.qualified();
        self.shape.statement_template = crate::evidence::build_statement_template(&self);
        self.shape.fingerprint_prefix = crate::evidence::fingerprint_prefix(&self);
        self
    }

    /// Columns selected by a read, in order and de-duplicated: visible columns, then the primary
    /// key, the tenant key and the conflict column when not already present.
    pub fn read_columns(&self) -> &[String] {
        &self.shape.columns
    }

    /// `schema.table` of the target.
    pub fn qualified_table(&self) -> &str {
        &self.shape.qualified_table
    }

    /// The executor name recorded in the change set.
    pub fn executor_name(&self) -> &str {
        self.executor.as_deref().unwrap_or("sql_update")
    }

    /// `LIMIT` of the read: `max(1, max_rows or 1)`.
    pub fn limit(&self) -> u64 {
        self.max_rows.unwrap_or(1).max(1)
    }
}

impl Config {
    pub fn capability(&self, name: &str) -> Option<&Capability> {
        self.capabilities.iter().find(|c| c.name == name)
    }

    /// Capabilities a model may see: all of them, except proposals in `read_only` mode.
    pub fn exposed_capabilities(&self) -> impl Iterator<Item = &Capability> {
        let read_only = self.mode == Mode::ReadOnly;
        self.capabilities
            .iter()
            .filter(move |c| !(read_only && c.kind == Kind::Proposal))
    }

    /// The trusted context a capability resolves against: its named context, else the default.
    pub fn context_for(&self, cap: &Capability) -> Option<&ContextSpec> {
        match &cap.context {
            Some(name) => self.contexts.get(name),
            None => self.trusted_context.as_ref(),
        }
    }

    pub fn result_format(&self) -> u8 {
        self.result_format.unwrap_or(1)
    }
}

#[cfg(test)]
mod tests {
    use super::Engine;

    #[test]
    fn engines_by_url() {
        for (url, engine) in [
            ("postgres://u@h/db", Some(Engine::Postgres)),
            (" PostgreSQL://h/db", Some(Engine::Postgres)),
            ("mysql://h/db", Some(Engine::Mysql)),
            ("mariadb://h/db", Some(Engine::Mysql)),
            ("sqlite:///tmp/app.db", Some(Engine::Sqlite)),
            ("/data/app.sqlite3", Some(Engine::Sqlite)),
            ("redis://h", None),
        ] {
            assert_eq!(Engine::from_url(url), engine, "{url}");
        }
    }
}
