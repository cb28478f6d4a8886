//! A statement written around another: `EXPLAIN …` of it, or the count of its rows. diesel builds neither around a
//! statement made for every backend.

use diesel::QueryResult;
use diesel::backend::Backend;
use diesel::query_builder::{AstPass, Query, QueryFragment, QueryId};
use diesel::sql_types::BigInt;

/// `prefix statement suffix`, its binds bound as when the statement runs alone, read as rows of `ST`.
pub(crate) struct Wrapped<Q, ST> {
    prefix: &'static str,
    statement: Q,
    suffix: &'static str,
    rows: std::marker::PhantomData<ST>,
}

impl<Q, ST> Wrapped<Q, ST> {
    /// `EXPLAIN …` (`prefix`, options and all) of `statement`.
    pub(crate) fn explained(prefix: &'static str, statement: Q) -> Self {
        Self { prefix, statement, suffix: "", rows: std::marker::PhantomData }
    }
}

impl<Q> Wrapped<Q, BigInt> {
    /// The number of rows `statement` returns.
    pub(crate) fn counted(statement: Q) -> Self {
        Self { prefix: "SELECT count(*) FROM (", statement, suffix: ") AS counted", rows: std::marker::PhantomData }
    }
}

impl<Q: QueryFragment<DB>, ST, DB: Backend> QueryFragment<DB> for Wrapped<Q, ST> {
    fn walk_ast<'b>(&'b self, mut out: AstPass<'_, 'b, DB>) -> QueryResult<()> {
        out.push_sql(self.prefix);
        self.statement.walk_ast(out.reborrow())?;
        out.push_sql(self.suffix);
        Ok(())
    }
}

impl<Q, ST> QueryId for Wrapped<Q, ST> {
    type QueryId = ();
    // Never prepared and cached: the statements inside are built for their parameters (boxed), or run once.
    const HAS_STATIC_QUERY_ID: bool = false;
}

impl<Q, ST> Query for Wrapped<Q, ST> {
    type SqlType = ST;
}
