//! What a source's writer can and cannot do, found without touching a business row: where its
//! unqualified statements find the receipt table (apply's check before anything is
//! recorded), which privileges it lacks for what direct writeback needs (the doctor), and
//! the receipt table created through an admin connection (`doctor --fix`).
//!
//! Every probe reads the catalog, selects `WHERE <never>`, or runs inside a transaction that
//! is rolled back; each column is probed on its own so a missing privilege is named exactly.

use serde_json::Value;
use sluicegate_core::config::Engine;
use sluicegate_core::ident::is_safe_identifier;
use sluicegate_core::secrets::Secret;

use super::dialect;
use super::writer::Writer;
use crate::error::{SourceError, SourceErrorKind};
use crate::privileges::TableNeed;
use crate::render::grants::{Grantee, Privilege, receipt_grant};
use crate::render::migration::receipt_table_ddl_in_schema;
use crate::render::{self, RECEIPT_TABLE};
use crate::{mysql, sqlite};

/// Where the writer's unqualified statements go, and whether they find the receipt table.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct WriterLookup {
    /// PostgreSQL `current_user`, MySQL `CURRENT_USER()` (`user@host`); none on SQLite.
    pub user: Option<String>,
    /// The database connected to (MySQL: the default database, if the URL names one).
    pub database: Option<String>,
    /// Where an unqualified name resolves: PostgreSQL's first schema of the search_path the
    /// writer may use, MySQL's default database, SQLite's `main`.
    pub schema: Option<String>,
    /// The schema (or database) of the receipt table the writer's statements find; `None`
    /// when they find none. Apply then refuses: it never creates the table.
    pub receipt_schema: Option<String>,
}

impl WriterLookup {
    /// The writer as a GRANT names it, when it has a name that can be spelt in one.
    pub fn grantee(&self, engine: Engine) -> Option<Grantee> {
        self.user
            .as_deref()
            .and_then(|u| Grantee::parse(engine, u).ok())
    }
}

pub(super) async fn lookup(w: &mut Writer) -> Result<WriterLookup, SourceError> {
    let sql = match w {
        Writer::Postgres(_) => render::postgres::WRITER_LOOKUP,
        Writer::Mysql(_) => render::mysql::WRITER_LOOKUP,
        Writer::Sqlite(_) => render::sqlite::WRITER_LOOKUP,
    };
    let mut row = w
        .query_text(sql, &[])
        .await?
        .into_iter()
        .next()
        .unwrap_or_default();
    row.resize(4, None);
    Ok(WriterLookup {
        user: row[0].take(),
        database: row[1].take(),
        schema: row[2].take(),
        receipt_schema: row[3].take(),
    })
}

async fn connect(url: &Secret, engine: Engine, what: &str) -> Result<Writer, SourceError> {
    if url.is_blank() {
        return Err(SourceError::credential_missing(what));
    }
    Writer::connect(engine, url.expose()).await
}

/// Connect as the writer and look where its statements go (catalog reads only).
pub async fn lookup_writer(
    writer_url: &Secret,
    engine: Engine,
) -> Result<WriterLookup, SourceError> {
    let mut w = connect(writer_url, engine, "the writer URL env var").await?;
    let result = lookup(&mut w).await;
    w.close().await;
    result
}

/// A privilege the writer lacks.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Lack {
    /// USAGE on a schema (PostgreSQL): its tables could not be probed.
    Usage { schema: String },
    /// Column privileges on one table: the part of what the writer needs that it lacks.
    Columns(TableNeed),
    /// Privileges on the receipt table found in `schema`.
    Receipt {
        schema: String,
        privileges: Vec<Privilege>,
    },
}

/// A probe that failed for another reason than a missing privilege (a column that does not
/// exist, a lock that is refused): `object` and a safe category.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Trouble {
    pub object: String,
    pub category: &'static str,
}

/// What [`check_writer`] found.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct WriterCheck {
    pub lookup: WriterLookup,
    /// Schemas holding a receipt table the writer does not find (PostgreSQL: not on its
    /// search_path, or no USAGE on the schema).
    pub receipt_elsewhere: Vec<String>,
    pub lacks: Vec<Lack>,
    pub troubles: Vec<Trouble>,
}

/// Probe everything the writer needs (`needs`, from [`crate::privileges::writer_needs`], and
/// the receipt table): a SELECT of each column it reads `WHERE <never>`, an `UPDATE … SET c =
/// NULL WHERE <never>` of each column it writes and the row lock, each in a transaction that
/// is rolled back, and the receipt table's SELECT, INSERT (a probe row) and UPDATE likewise.
/// No business row is read, locked or changed, and nothing is created.
pub async fn check_writer(
    writer_url: &Secret,
    engine: Engine,
    needs: &[TableNeed],
) -> Result<WriterCheck, SourceError> {
    let mut w = connect(writer_url, engine, "the writer URL env var").await?;
    let result = inspect(&mut w, engine, needs).await;
    w.close().await;
    result
}

/// Run `sql` inside a transaction that is always rolled back.
async fn rolled_back(w: &mut Writer, sql: &str) -> Result<(), SourceError> {
    w.begin().await?;
    let r = w.probe(sql).await;
    w.rollback().await;
    r
}

fn denied(e: &SourceError) -> bool {
    e.kind() == &SourceErrorKind::PermissionDenied
}

async fn inspect(
    w: &mut Writer,
    engine: Engine,
    needs: &[TableNeed],
) -> Result<WriterCheck, SourceError> {
    let d = dialect(engine);
    let mut check = WriterCheck {
        lookup: lookup(w).await?,
        ..WriterCheck::default()
    };
    if engine == Engine::Postgres && check.lookup.receipt_schema.is_none() {
        check.receipt_elsewhere = w
            .query_text(render::postgres::RECEIPT_SCHEMAS, &[])
            .await?
            .into_iter()
            .filter_map(|r| r.into_iter().next().flatten())
            .collect();
    }
    let mut unusable: Vec<&str> = Vec::new();
    if engine == Engine::Postgres {
        let mut seen: Vec<&str> = Vec::new();
        for n in needs {
            if seen.contains(&n.schema.as_str()) {
                continue;
            }
            seen.push(&n.schema);
            let schema = Value::String(n.schema.clone());
            match w
                .query_text(render::postgres::SCHEMA_USAGE, &[schema])
                .await
            {
                Ok(rows) if rows.first().and_then(|r| r.first()) == Some(&Some("true".into())) => {}
                Ok(_) => {
                    unusable.push(&n.schema);
                    check.lacks.push(Lack::Usage {
                        schema: n.schema.clone(),
                    });
                }
                Err(e) => {
                    unusable.push(&n.schema);
                    check.troubles.push(Trouble {
                        object: format!("schema {}", n.schema),
                        category: e.category(),
                    });
                }
            }
        }
    }
    for need in needs
        .iter()
        .filter(|n| !unusable.contains(&n.schema.as_str()))
    {
        let mut missing = TableNeed {
            select: Vec::new(),
            update: Vec::new(),
            ..need.clone()
        };
        let troubles_before = check.troubles.len();
        for (privilege, columns) in [
            (Privilege::Select, &need.select),
            (Privilege::Update, &need.update),
        ] {
            for c in columns {
                let r = match privilege {
                    Privilege::Select => {
                        let sql = render::probe_select(d, &need.schema, &need.table, &[c], false)?;
                        w.probe(&sql).await
                    }
                    _ => {
                        let sql = render::probe_update(d, &need.schema, &need.table, c)?;
                        rolled_back(w, &sql).await
                    }
                };
                match r {
                    Ok(()) => {}
                    Err(e) if denied(&e) => match privilege {
                        Privilege::Select => missing.select.push(c.clone()),
                        _ => missing.update.push(c.clone()),
                    },
                    Err(e) => check.troubles.push(Trouble {
                        object: format!("{}.{c}", need.qualified()),
                        category: e.category(),
                    }),
                }
            }
        }
        if !missing.select.is_empty() || !missing.update.is_empty() {
            check.lacks.push(Lack::Columns(missing));
        } else if check.troubles.len() == troubles_before && !need.select.is_empty() {
            let columns: Vec<&str> = need.select.iter().map(String::as_str).collect();
            let sql = render::probe_select(d, &need.schema, &need.table, &columns, true)?;
            if let Err(e) = rolled_back(w, &sql).await {
                check.troubles.push(Trouble {
                    object: format!("{} (row lock)", need.qualified()),
                    category: e.category(),
                });
            }
        }
    }
    if let Some(schema) = check.lookup.receipt_schema.clone() {
        let mut privileges = Vec::new();
        for privilege in [Privilege::Select, Privilege::Insert, Privilege::Update] {
            let r = match privilege {
                Privilege::Select => w.probe(&render::probe_receipt_select(d)).await,
                Privilege::Insert => insert_probe(w).await,
                Privilege::Update => rolled_back(w, &render::probe_receipt_update(d)).await,
            };
            match r {
                Ok(()) => {}
                Err(e) if denied(&e) => privileges.push(privilege),
                Err(e) => check.troubles.push(Trouble {
                    object: format!("{schema}.{RECEIPT_TABLE}"),
                    category: e.category(),
                }),
            }
        }
        if !privileges.is_empty() {
            check.lacks.push(Lack::Receipt { schema, privileges });
        }
    }
    Ok(check)
}

/// Insert a probe receipt inside a transaction that is rolled back.
async fn insert_probe(w: &mut Writer) -> Result<(), SourceError> {
    let key = Value::String(format!(
        "doctor-{}",
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_millis())
            .unwrap_or(0)
    ));
    w.begin().await?;
    let inserted = match w {
        Writer::Postgres(pg) => pg
            .execute(
                render::postgres::PROBE_RECEIPT,
                &[crate::postgres::PgParam::Json(&key)],
            )
            .await
            .map(|_| ()),
        Writer::Mysql(my) => my
            .execute(
                render::mysql::PROBE_RECEIPT,
                vec![mysql::param(&key), mysql::param(&key)],
            )
            .await
            .map(|_| ()),
        Writer::Sqlite(lite) => lite
            .execute(
                render::sqlite::PROBE_RECEIPT.to_string(),
                vec![sqlite::param(&key), sqlite::param(&key)],
            )
            .await
            .map(|_| ()),
    };
    w.rollback().await;
    inserted
}

/// What [`create_receipt_table`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ReceiptFix {
    /// Created in `schema` (where the writer looks), and SELECT, INSERT, UPDATE granted to
    /// `granted_to` (none on SQLite).
    Created {
        schema: String,
        granted_to: Option<String>,
    },
    /// The writer already finds one in `schema`: nothing was done.
    Present { schema: String },
    /// The admin URL reaches another database than the writer's: nothing was done.
    OtherDatabase,
    /// The writer has no schema on its search_path (or no default database) to find the
    /// table in: nothing was done.
    NoSchema,
    /// The writer's name cannot be spelt in a GRANT: nothing was done.
    UnsafeWriter,
}

/// `doctor --fix`: create the receipt table through `admin_url` where the writer's statements
/// will find it (PostgreSQL: the writer's current schema; MySQL: its default database;
/// SQLite: its file) and grant the writer what apply needs on it. Checks first that the
/// admin reaches the writer's database.
pub async fn create_receipt_table(
    admin_url: &Secret,
    writer_url: &Secret,
    engine: Engine,
) -> Result<ReceiptFix, SourceError> {
    let found = lookup_writer(writer_url, engine).await?;
    if let Some(schema) = found.receipt_schema {
        return Ok(ReceiptFix::Present { schema });
    }
    let Some(schema) = found.schema.clone().filter(|s| is_safe_identifier(s)) else {
        return Ok(ReceiptFix::NoSchema);
    };
    let grantee = match engine {
        Engine::Sqlite => None,
        _ => match found.grantee(engine) {
            Some(g) => Some(g),
            None => return Ok(ReceiptFix::UnsafeWriter),
        },
    };
    if engine == Engine::Sqlite {
        let file = |u: &Secret| std::fs::canonicalize(crate::sqlite_path(u.expose())).ok();
        if file(admin_url).is_none() || file(admin_url) != file(writer_url) {
            return Ok(ReceiptFix::OtherDatabase);
        }
    }
    let mut admin = connect(admin_url, engine, "the admin URL env var").await?;
    let result = async {
        if engine == Engine::Postgres {
            let db = admin
                .query_text(render::postgres::CURRENT_DATABASE, &[])
                .await?
                .into_iter()
                .next()
                .and_then(|r| r.into_iter().next().flatten());
            if db != found.database {
                return Ok(ReceiptFix::OtherDatabase);
            }
        }
        admin
            .batch(&receipt_table_ddl_in_schema(engine, &schema)?)
            .await?;
        if let Some(g) = &grantee {
            let all = [Privilege::Select, Privilege::Insert, Privilege::Update];
            admin
                .batch(&receipt_grant(engine, &schema, &all, g))
                .await?;
        }
        Ok(ReceiptFix::Created {
            schema: schema.clone(),
            granted_to: grantee.map(|g| g.as_str().to_string()),
        })
    }
    .await;
    admin.close().await;
    result
}
