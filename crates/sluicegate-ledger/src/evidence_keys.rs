//! Every `evidence list` filter searched through one side index, filled in batches off the
//! call path.
//!
//! Each SQLite index on `evidence_bundles` is one more B-tree page, so one more WAL frame,
//! written by every recorded call: four of them cost a lone read about 30 µs. Instead, one
//! `evidence_keys` table maps `(kind, value)` to bundle rowids for every filter kind
//! ([`KINDS`]). The ledger writer fills it for the bundles recorded since its mark
//! (`runner_state` key [`MARK`]) when it has nothing else to do, or in the middle of a busy
//! stretch once the backlog reaches [`BUSY_BACKLOG`]; one batch touches each page once for
//! many bundles.
//!
//! A search reads the unindexed tail (rowids above the mark: a backlog, worked off a batch at
//! a time in the writer's next lull) and then
//! the index below the mark, both newest first, so the answer is the same as one scan of
//! the table. Key values are the first [`KEY_CHARS`] characters: the key narrows the search
//! and the exact filter on the bundle row decides, so truncation never changes an answer.

use rusqlite::{Connection, OptionalExtension};

use crate::LedgerError;
use crate::query::{Filter, Where, limit_sql};
use crate::views::StoredEvidence;

/// The `runner_state` key holding the highest bundle rowid already in `evidence_keys`.
pub(crate) const MARK: &str = "evidence_keys_upto";

/// Characters of a value kept in the key (a time to the minute; 16 hex digits of a
/// fingerprint). Time bounds are cut to the same length, so a range search finds a superset
/// that the exact filter then narrows.
pub(crate) const KEY_CHARS: i64 = 16;

/// The writer indexes in the middle of a busy stretch once this many bundles wait.
pub(crate) const BUSY_BACKLOG: i64 = 512;

/// Bundles indexed per busy step. The step rides in a group's transaction (about 3 µs a
/// bundle), so every caller of that group waits for it: small steps, often (every fourth
/// group), drain a backlog faster than 16 concurrent sessions fill it without one long
/// stall. A batch of 1,024 in a transaction of its own stalled every session for several
/// milliseconds and an fsync, a few times a second, and that was the p99 under load.
pub(crate) const BUSY_BATCH: i64 = 128;

/// The writer indexes when idle once this many bundles wait. A caller that arrives during
/// a batch waits for it, so batches are rare rather than tiny: one call in 256 waits, and
/// the p99 of a lone caller stays clear of it.
pub(crate) const IDLE_BACKLOG: i64 = 256;

/// Bundles per idle transaction: a lull under load is short, and the next caller waits for
/// the batch in progress (the writer looks at its queue between batches).
pub(crate) const IDLE_BATCH: i64 = 256;

/// Bundles per transaction when everything waiting is indexed at once (maintenance).
pub(crate) const FULL_BATCH: i64 = 1024;

/// The table without a `public.` schema, so a `--table x` filter, which matches `x` and
/// `public.x` (and nothing else), finds both under one key.
const BARE_TABLE: &str = "CASE WHEN substr(source_table, 1, 7) = 'public.' THEN substr(source_table, 8) ELSE source_table END";

/// Filter kinds: the key's letter and the SQL expression over a bundle row it indexes.
/// `d` (time) is `created_at`, searched by range.
pub(crate) const KINDS: &[(&str, &str)] = &[
    ("t", "tenant_id"),
    ("p", "principal"),
    ("o", "object_id"),
    ("c", "capability"),
    ("s", "source_id"),
    ("b", BARE_TABLE),
    ("f", "query_fingerprint"),
    ("d", "created_at"),
];

/// The `INSERT … SELECT` that indexes bundles with rowids in `(?1, ?2]`.
///
/// Time keys are sparse: only the first bundle of each minute (the key's 16 characters) gets
/// one. A time bound asks for the first bundle of the smallest minute at or past a time
/// (`ORDER BY value, bundle_rowid LIMIT 1`), and that is the same row whether every bundle of
/// the minute has a key or only its first; one key per minute instead of per call saves
/// about 24 bytes of every recorded read. (Ledgers indexed before schema 14 keep their dense
/// keys; the extra ones change no answer.)
pub(crate) fn index_sql() -> String {
    let selects: Vec<String> = KINDS
        .iter()
        .map(|&(kind, expr)| {
            if kind == "d" {
                return format!(
                    "SELECT 'd', substr({expr}, 1, {KEY_CHARS}) AS minute, MIN(rowid) FROM evidence_bundles WHERE rowid > ?1 AND rowid <= ?2 GROUP BY minute \
                     HAVING NOT EXISTS (SELECT 1 FROM evidence_keys WHERE kind = 'd' AND value = minute)"
                );
            }
            format!(
                "SELECT '{kind}', substr({expr}, 1, {KEY_CHARS}), rowid FROM evidence_bundles WHERE rowid > ?1 AND rowid <= ?2 AND {expr} IS NOT NULL"
            )
        })
        .collect();
    format!(
        "INSERT OR IGNORE INTO evidence_keys (kind, value, bundle_rowid) {}",
        selects.join(" UNION ALL ")
    )
}

/// The highest bundle rowid already indexed.
pub(crate) fn mark(conn: &Connection) -> Result<i64, LedgerError> {
    let v: Option<String> = conn
        .prepare_cached("SELECT value_json FROM runner_state WHERE key = ?1")?
        .query_row([MARK], |r| r.get(0))
        .optional()?;
    Ok(v.and_then(|v| v.parse().ok()).unwrap_or(0))
}

/// How many bundles wait to be indexed.
pub(crate) fn backlog(conn: &Connection) -> Result<i64, LedgerError> {
    let last: i64 = conn
        .prepare_cached("SELECT COALESCE(MAX(rowid), 0) FROM evidence_bundles")?
        .query_row([], |r| r.get(0))?;
    Ok(last - mark(conn)?)
}

/// Index up to `batch` waiting bundles in the caller's transaction; returns how many.
pub(crate) fn index_batch(conn: &Connection, now: &str, batch: i64) -> Result<i64, LedgerError> {
    let from = mark(conn)?;
    let last: i64 = conn
        .prepare_cached("SELECT COALESCE(MAX(rowid), 0) FROM evidence_bundles")?
        .query_row([], |r| r.get(0))?;
    let upto = last.min(from + batch);
    if upto <= from {
        return Ok(0);
    }
    conn.prepare_cached(&index_sql())?.execute([from, upto])?;
    conn.prepare_cached(
        "INSERT INTO runner_state (key, value_json, updated_at) VALUES (?1, ?2, ?3) ON CONFLICT (key) DO UPDATE SET value_json = excluded.value_json, updated_at = excluded.updated_at",
    )?
    .execute(rusqlite::params![MARK, upto.to_string(), now])?;
    Ok(upto - from)
}

/// After bundles were deleted (`store prune`): drop their keys, and bring the mark back to the
/// last bundle left, so a rowid SQLite hands out again is indexed like any new one.
pub(crate) fn forget_deleted(conn: &Connection) -> Result<(), LedgerError> {
    conn.execute(
        "DELETE FROM evidence_keys WHERE NOT EXISTS (SELECT 1 FROM evidence_bundles WHERE evidence_bundles.rowid = evidence_keys.bundle_rowid)",
        [],
    )?;
    conn.execute(
        "UPDATE runner_state SET value_json = (SELECT CAST(COALESCE(MAX(rowid), 0) AS TEXT) FROM evidence_bundles) WHERE key = ?1 AND CAST(value_json AS INTEGER) > (SELECT COALESCE(MAX(rowid), 0) FROM evidence_bundles)",
        [MARK],
    )?;
    // A minute whose first bundle went keeps its other bundles: its time key moves to the
    // first of those (time keys are sparse, see `index_sql`).
    conn.execute(
        &format!(
            "INSERT OR IGNORE INTO evidence_keys (kind, value, bundle_rowid) \
             SELECT 'd', substr(created_at, 1, {KEY_CHARS}) AS minute, MIN(rowid) FROM evidence_bundles \
             WHERE rowid <= COALESCE({MARK_SQL}, 0) GROUP BY minute \
             HAVING NOT EXISTS (SELECT 1 FROM evidence_keys WHERE kind = 'd' AND value = minute)"
        ),
        [],
    )?;
    Ok(())
}

/// The filter that drives an indexed search: the most selective one set, as `(kind, value)`.
fn driving_key(f: &Filter) -> Option<(&'static str, String)> {
    let set = |v: &Option<String>| v.clone().filter(|v| !v.is_empty());
    let bare = |t: String| match t.strip_prefix("public.") {
        Some(name) => name.to_string(),
        None => t,
    };
    [
        ("o", set(&f.object_id)),
        ("f", set(&f.query_fingerprint)),
        ("p", set(&f.principal)),
        ("c", set(&f.capability)),
        ("b", set(&f.table).map(bare)),
        ("t", set(&f.tenant)),
        ("s", set(&f.source)),
    ]
    .into_iter()
    .find_map(|(kind, v)| v.map(|v| (kind, v)))
}

/// The filters every search applies to the bundle rows themselves (exact, untruncated).
pub(crate) fn row_filters(f: &Filter) -> Where {
    let mut w = Where::default();
    w.eq("evidence_bundle_id", &f.evidence)
        .eq("tenant_id", &f.tenant)
        .eq("principal", &f.principal)
        .eq("capability", &f.capability)
        .proposal_link(&f.proposal)
        .eq("source_id", &f.source)
        .table("source_table", &f.table)
        .eq("query_fingerprint", &f.query_fingerprint)
        .object_type("business_object", "source_table", &f.object_type)
        .eq("object_id", &f.object_id)
        .range("created_at", &f.from, &f.to);
    w
}

/// Bound `rowid_col` to the rowids recorded between `from` and `to`, found through the
/// time keys (bundles are appended in recording order): at least the first indexed bundle at
/// or after `from` (else only the unindexed tail can match), and below the first indexed
/// bundle after `to` (else nothing indexed is too late).
/// `mark` is SQL for the highest indexed rowid (a literal, or [`MARK_SQL`]).
fn time_bounds(w: &mut Where, rowid_col: &str, f: &Filter, mark: &str) {
    if let Some(from) = f.from.as_ref().filter(|v| !v.is_empty()) {
        w.clauses.push(format!(
            "{rowid_col} >= COALESCE((SELECT bundle_rowid FROM evidence_keys WHERE kind = 'd' AND value >= substr(?, 1, {KEY_CHARS}) ORDER BY value, bundle_rowid LIMIT 1), COALESCE({mark}, 0) + 1)"
        ));
        w.params.push(Box::new(from.clone()));
    }
    if let Some(to) = f.to.as_ref().filter(|v| !v.is_empty()) {
        w.clauses.push(format!(
            "{rowid_col} < COALESCE((SELECT bundle_rowid FROM evidence_keys WHERE kind = 'd' AND value > substr(?, 1, {KEY_CHARS}) ORDER BY value, bundle_rowid LIMIT 1), 9223372036854775807)"
        ));
        w.params.push(Box::new(to.clone()));
    }
}

/// The highest indexed bundle rowid, as a scalar subquery (one statement reads it once, so
/// both sides of a split agree).
const MARK_SQL: &str =
    "(SELECT CAST(value_json AS INTEGER) FROM runner_state WHERE key = 'evidence_keys_upto')";

/// One statement over `evidence_bundles` for a caller that adds the exact filters itself
/// (`activity search`'s reads): `build` is called for each part with the name of the bundle's
/// rowid in that part and adds the caller's clauses. `columns` are selected (their second must
/// be the rowid) newest first, at most `limit` rows.
///
/// With a key to look up, two parts, each walking an index newest first and stopping at
/// `limit`: the unindexed tail above the mark, then the side index's entries for the filter's
/// most selective key joined to their bundles (`rowid IN (…)` over the key would materialise
/// every match first, O(matches)). Without one, a walk of the bundles newest first.
pub(crate) fn reads_query(
    f: &Filter,
    columns: &str,
    limit: u32,
    build: impl Fn(&mut Where, &str),
) -> (String, Where) {
    let Some((kind, value)) = driving_key(f) else {
        let mut w = Where::default();
        build(&mut w, "rowid");
        time_bounds(&mut w, "rowid", f, MARK_SQL);
        let sql = format!(
            "SELECT {columns} FROM evidence_bundles{} ORDER BY rowid DESC LIMIT {limit}",
            w.sql()
        );
        return (sql, w);
    };
    let mut tail = Where::default();
    tail.clauses
        .push(format!("rowid > COALESCE({MARK_SQL}, 0)"));
    build(&mut tail, "rowid");
    let mut keyed = Where::default();
    keyed.clauses.push(format!(
        "k.kind = '{kind}' AND k.value = substr(?, 1, {KEY_CHARS}) AND k.bundle_rowid <= COALESCE({MARK_SQL}, 0)"
    ));
    keyed.params.push(Box::new(value));
    build(&mut keyed, "k.bundle_rowid");
    time_bounds(&mut keyed, "k.bundle_rowid", f, MARK_SQL);
    let sql = format!(
        "SELECT * FROM (SELECT {columns} FROM evidence_bundles{} ORDER BY rowid DESC LIMIT {limit}) \
         UNION ALL SELECT * FROM (SELECT {columns} FROM evidence_keys AS k JOIN evidence_bundles ON evidence_bundles.rowid = k.bundle_rowid{} ORDER BY k.bundle_rowid DESC LIMIT {limit}) \
         ORDER BY 2 DESC LIMIT {limit}",
        tail.sql(),
        keyed.sql()
    );
    let mut w = Where {
        params: tail.params,
        ..Where::default()
    };
    w.params.extend(keyed.params);
    (sql, w)
}

/// The queries of one `evidence list`, run in order and concatenated (each newest first, the
/// later ones older than the earlier ones), stopping once `f.limit` rows are found.
pub(crate) fn evidence_queries(f: &Filter, mark: i64) -> Vec<(String, Where)> {
    let columns = StoredEvidence::COLUMNS;
    let limit = limit_sql(f.limit);
    let Some((kind, value)) = driving_key(f) else {
        // Nothing to look up: walk newest first, within the time bounds when given.
        let mut w = row_filters(f);
        time_bounds(&mut w, "rowid", f, &mark.to_string());
        let sql = format!(
            "SELECT {columns} FROM evidence_bundles{} ORDER BY rowid DESC{limit}",
            w.sql()
        );
        return vec![(sql, w)];
    };
    let mut tail = row_filters(f);
    tail.clauses.push("rowid > ?".into());
    tail.params.push(Box::new(mark));
    let tail_sql = format!(
        "SELECT {columns} FROM evidence_bundles{} ORDER BY rowid DESC{limit}",
        tail.sql()
    );
    let mut keyed = row_filters(f);
    keyed.clauses.insert(0, "k.bundle_rowid <= ?".into());
    keyed.params.insert(0, Box::new(mark));
    keyed.clauses.insert(
        0,
        format!("k.kind = '{kind}' AND k.value = substr(?, 1, {KEY_CHARS})"),
    );
    keyed.params.insert(0, Box::new(value));
    time_bounds(&mut keyed, "k.bundle_rowid", f, &mark.to_string());
    let keyed_sql = format!(
        "SELECT {columns} FROM evidence_keys AS k JOIN evidence_bundles ON evidence_bundles.rowid = k.bundle_rowid{} ORDER BY k.bundle_rowid DESC{limit}",
        keyed.sql()
    );
    vec![(tail_sql, tail), (keyed_sql, keyed)]
}
