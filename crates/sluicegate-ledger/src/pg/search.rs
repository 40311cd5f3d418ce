//! The text search of proposals on PostgreSQL, shared by the review inbox and `activity search
//! --text`: the words of a proposal's id, capability, target (source, schema, table, row,
//! object type), principal, tenant, proposed values (the agent's reason among them) and every
//! reviewer's reason, as on SQLite (`crate::search`).
//!
//! **Why a `tsvector` GIN index.** PostgreSQL keeps it current inside each writing transaction, so every server and UI of a fleet searches the same ledger without the
//! SQLite ledger's catch-up step (which writes, and whose "indexed up to" mark would skip a
//! proposal whose `bigserial` committed after a larger one). The planner combines the GIN
//! index with the b-tree index of any other filter (a bitmap AND), so a search with filters
//! stays on indexes. `ILIKE` on an indexed expression needs the `pg_trgm` extension (which a
//! managed PostgreSQL may not let the ledger's role create) and matches inside words, not words.
//!
//! **Words.** Before PostgreSQL's text parser sees the document, every run of characters
//! that are not letters or digits becomes one space, so its special tokens (host names, file
//! paths, e-mail addresses) cannot split `billing.propose_waiver` otherwise than SQLite's
//! `unicode61` tokenizer does: the words are the lowercased runs of letters and digits, with
//! their positions (a phrase such as `INV-7` is two words in a row), exactly the words a search
//! splits its text into (`words`). The `simple` configuration neither stems nor drops stop
//! words. The query is built from lexemes directly (`$n::text::tsquery`), so no word a reviewer
//! types is syntax. (SQLite also folds diacritics; PostgreSQL keeps them.)
//!
//! **Reasons.** A reviewer's reason lives in `approvals`; a trigger appends it to the
//! proposal's `decision_reasons` column in the decision's own transaction (which already holds
//! the proposal's row lock), and another recomputes the proposal's `search_doc` column (the
//! indexed words), so the proposal's index entry carries it.
//!
//! **A column, not an expression index.** The words are computed once per recorded proposal
//! and kept: the planner may answer a common word by walking `seq` order and checking each
//! row (stopping after one page), and a check of a stored `tsvector` costs about a
//! microsecond where recomputing the words costs tens. Measured at 100,000 proposals: a rare
//! word through the index about 1 ms, a misestimated walk (an id prefix) 63–83 ms, where an
//! expression index made the same walk recompute every row's words: 4.2 s.
//!
//! **Cost.** Each recorded proposal computes its words once (a trigger) and adds one GIN entry
//! (into the index's pending list, merged by autovacuum): about 37 µs of the database's CPU
//! (docs/scaling.md); each decision with a reason recomputes its proposal's. The migration
//! fills the column and builds the index over the proposals already recorded (one pass, at
//! `store migrate`).

/// The migration (appended to `schema::MIGRATIONS`): the reasons column and its trigger, the
/// words column and its trigger, the search index, and the partial indexes of the inbox's
/// decided phase and `activity search`'s reads and stray query-audit records.
pub(crate) const MIGRATION: &str = r#"
ALTER TABLE proposals ADD COLUMN decision_reasons text;
UPDATE proposals p SET decision_reasons = r.reasons
  FROM (SELECT proposal_id, string_agg(reason, ' ' ORDER BY approval_id) AS reasons
          FROM approvals WHERE reason <> '' GROUP BY proposal_id) r
 WHERE r.proposal_id = p.proposal_id;

-- The words are kept in a column, computed once per row by a trigger (PL/pgSQL keeps its
-- statements' plans, which an SQL function called per row does not): a walk that checks them,
-- or a recheck of the index's candidates, reads them instead of computing them again. The
-- patch's text and number values are unescaped; PostgreSQL refuses to unescape \u0000 (a NUL
-- a model may send), so it becomes \u0020 first (in `\\u0000`, an escaped backslash, that
-- leaves valid JSON too). At most the first 200,000 characters are indexed.
ALTER TABLE proposals ADD COLUMN search_doc tsvector;
CREATE FUNCTION sluicegate_keep_search_doc() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
  cs json := replace(NEW.change_set_json, '\u0000', '\u0020')::json;
  patch_words text;
BEGIN
  IF json_typeof(cs -> 'patch') = 'object' THEN
    SELECT string_agg(value #>> '{}', ' ') INTO patch_words FROM json_each(cs -> 'patch')
      WHERE json_typeof(value) IN ('string', 'number');
  END IF;
  NEW.search_doc := to_tsvector('simple', regexp_replace(lower(left(concat_ws(' ',
    NEW.proposal_id, NEW.action, NEW.capability, NEW.source_id, NEW.source_schema,
    NEW.source_table, NEW.object_id, NEW.business_object, NEW.principal, NEW.tenant_id,
    patch_words, NEW.decision_reasons), 200000)), '[^[:alnum:]]+', ' ', 'g'));
  RETURN NEW;
END
$$;
CREATE TRIGGER proposals_keep_search_doc BEFORE INSERT OR UPDATE OF decision_reasons
  ON proposals FOR EACH ROW EXECUTE FUNCTION sluicegate_keep_search_doc();
UPDATE proposals SET decision_reasons = decision_reasons;
CREATE INDEX proposals_search ON proposals USING gin (search_doc);

CREATE FUNCTION sluicegate_keep_reason() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF NEW.reason IS NOT NULL AND NEW.reason <> '' THEN
    UPDATE proposals SET decision_reasons = concat_ws(' ', decision_reasons, NEW.reason)
     WHERE proposal_id = NEW.proposal_id;
  END IF;
  RETURN NULL;
END
$$;
CREATE TRIGGER approvals_keep_reason AFTER INSERT ON approvals
  FOR EACH ROW EXECUTE FUNCTION sluicegate_keep_reason();

-- The inbox's decided phase (every state but pending_review), oldest first.
CREATE INDEX proposals_decided_created ON proposals (created_at, seq)
  WHERE state <> 'pending_review';
-- `activity search`: reads (bundles no proposal owns) and stray query-audit records.
CREATE INDEX evidence_bundles_reads ON evidence_bundles (seq) WHERE proposal_id IS NULL;
CREATE INDEX query_audit_orphan_created ON query_audit (created_at, audit_id)
  WHERE evidence_bundle_id IS NULL AND proposal_id IS NULL;
"#;

/// The indexed words of a row of `proposals`.
pub(crate) const DOC: &str = "proposals.search_doc";

/// The words of `text` as the document splits them: lowercased runs of letters and digits.
fn words(text: &str) -> Vec<String> {
    text.split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
        .map(str::to_lowercase)
        .collect()
}

/// A lexeme as `tsquery` text (words are letters and digits only; quoted all the same).
fn lexeme(word: &str) -> String {
    format!("'{}'", word.replace('\'', "''").replace('\\', "\\\\"))
}

/// The inbox's search (`crate::inbox::match_expression`): every word of `text`, the last one
/// also as the start of a word; `None` when `text` has no word.
pub(crate) fn inbox_query(text: &str) -> Option<String> {
    let words: Vec<String> = words(text).into_iter().take(16).collect();
    let last = words.len().checked_sub(1)?;
    let parts: Vec<String> = words
        .iter()
        .enumerate()
        .map(|(i, w)| {
            let star = if i == last { ":*" } else { "" };
            format!("{}{star}", lexeme(w))
        })
        .collect();
    Some(parts.join(" & "))
}

/// `activity search --text`'s search (`crate::activity`): every whitespace-separated term must
/// occur, a term of several words (`INV-7`) as those words in a row.
pub(crate) fn activity_query(text: &str) -> Option<String> {
    let terms: Vec<String> = text
        .split_whitespace()
        .filter_map(|term| {
            let ws = words(term);
            (!ws.is_empty()).then(|| {
                let phrase: Vec<String> = ws.iter().map(|w| lexeme(w)).collect();
                format!("({})", phrase.join(" <-> "))
            })
        })
        .collect();
    (!terms.is_empty()).then(|| terms.join(" & "))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn searches_are_lexemes_not_syntax() {
        assert_eq!(inbox_query("Late FEE").as_deref(), Some("'late' & 'fee':*"));
        assert_eq!(
            inbox_query("INV-3001 | !x & (").as_deref(),
            Some("'inv' & '3001' & 'x':*")
        );
        assert_eq!(inbox_query(" -*- "), None);
        assert_eq!(
            activity_query("INV-7 goodwill").as_deref(),
            Some("('inv' <-> '7') & ('goodwill')")
        );
        assert_eq!(activity_query(" -- "), None);
    }
}
