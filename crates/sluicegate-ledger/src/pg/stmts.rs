//! Statements prepared once per connection. Sent as text, every statement costs a second round
//! trip to be parsed and described before it runs; the ledger's statements are few and fixed
//! (the listings' filters make a few dozen shapes), so each connection's thread keeps them.
//!
//! A thread owns exactly one connection (`session.rs`), so the cache is the thread's, and it
//! is emptied whenever that thread connects again (a statement belongs to its connection).

use std::cell::RefCell;
use std::collections::HashMap;

use postgres::types::ToSql;
use postgres::{Error, GenericClient, Row, Statement};

/// More shapes than this on one connection (an unusual mix of filters) start the cache afresh.
const MAX_STATEMENTS: usize = 256;

thread_local! {
    static STATEMENTS: RefCell<HashMap<String, Statement>> = RefCell::new(HashMap::new());
}

/// Forget this thread's statements: its connection is new.
pub(crate) fn forget() {
    STATEMENTS.with(|s| s.borrow_mut().clear());
}

fn prepared<C: GenericClient>(c: &mut C, sql: &str) -> Result<Statement, Error> {
    if let Some(st) = STATEMENTS.with(|s| s.borrow().get(sql).cloned()) {
        return Ok(st);
    }
    let st = c.prepare(sql)?;
    STATEMENTS.with(|s| {
        let mut s = s.borrow_mut();
        if s.len() >= MAX_STATEMENTS {
            s.clear();
        }
        s.insert(sql.to_string(), st.clone());
    });
    Ok(st)
}

/// The client and transaction calls of the ledger, on prepared statements.
pub(crate) trait Prepared {
    fn exec(&mut self, sql: &str, params: &[&(dyn ToSql + Sync)]) -> Result<u64, Error>;
    fn rows(&mut self, sql: &str, params: &[&(dyn ToSql + Sync)]) -> Result<Vec<Row>, Error>;
    fn row(&mut self, sql: &str, params: &[&(dyn ToSql + Sync)]) -> Result<Row, Error>;
    fn row_opt(&mut self, sql: &str, params: &[&(dyn ToSql + Sync)]) -> Result<Option<Row>, Error>;
}

impl<C: GenericClient> Prepared for C {
    fn exec(&mut self, sql: &str, params: &[&(dyn ToSql + Sync)]) -> Result<u64, Error> {
        let st = prepared(self, sql)?;
        self.execute(&st, params)
    }

    fn rows(&mut self, sql: &str, params: &[&(dyn ToSql + Sync)]) -> Result<Vec<Row>, Error> {
        let st = prepared(self, sql)?;
        self.query(&st, params)
    }

    fn row(&mut self, sql: &str, params: &[&(dyn ToSql + Sync)]) -> Result<Row, Error> {
        let st = prepared(self, sql)?;
        self.query_one(&st, params)
    }

    fn row_opt(&mut self, sql: &str, params: &[&(dyn ToSql + Sync)]) -> Result<Option<Row>, Error> {
        let st = prepared(self, sql)?;
        self.query_opt(&st, params)
    }
}
