//! The audit log's queries: the writing of a change's events in the change's own transaction, the pages of
//! `AuditLog::list_events` and the batches of its pruning, for every backend; and the plans the database makes for
//! them, for the tests that hold the indexes to their promise.
//!
//! Every page can be a walk down one index in id order, stopped after `limit` rows, however large the log (see the
//! `audit_log` migration): the primary key backwards for the newest events, `(kind, id)` for a kind. A user's page
//! is two such walks, each stopped after a page, and the newest of both: the events about the user
//! (`(subject_id[, kind], id)`), and those the user did to another account (`(actor_id[, kind], id)`, partial
//! indexes holding only the events whose actor is not their subject). The second walk repeats the partial indexes'
//! condition, so each event is found by one walk only (UNION ALL, nothing to deduplicate), and so that the planners
//! may use those indexes at all. The planners may choose otherwise where their statistics say it is cheaper (a
//! common kind read down the primary key, a user with few events collected from the index then sorted), never
//! reading the table through: the plan tests of both backends hold them to that.
//!
//! `AuditQueries` holds the queries; `StoreAuditLog` implements `AuditLog` on them, its pruning a loop of
//! `AuditQueries::prune_batch` calls.

use chrono::{DateTime, Utc};
use diesel::dsl::sql;
use diesel::pg::Pg;
use diesel::prelude::*;
use diesel::query_builder::{QueryFragment, QueryId};
use diesel::query_dsl::positional_order_dsl::{OrderColumn, PositionalOrderDsl as _};
use diesel::result::Error as DieselError;
use diesel::sql_types::{Bool, Integer, Text};
use diesel::sqlite::Sqlite;
use diesel_async::{AsyncConnection, RunQueryDsl};
use users_domain::UserId;
use users_ports::{AuditEvent, AuditQuery, AuditRecord, StoreError};

use crate::connection::{AnyConnection as _, Conn, on_backend};
use crate::pool::Pools;
use crate::rows::{AuditEventRow, NewAuditEventRow};
use crate::schema::{Stamp, audit_events};
use crate::wrapped::Wrapped;

/// How many events one batch of pruning deletes: small enough that a batch holds the database (SQLite's single
/// writer, above all) for milliseconds, so that the changes of requests slip in between batches.
pub(crate) const PRUNE_BATCH: i64 = 5_000;

#[derive(Clone)]
pub(crate) struct AuditQueries {
    pools: Pools,
}

impl std::fmt::Debug for AuditQueries {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AuditQueries").finish_non_exhaustive()
    }
}

impl AuditQueries {
    pub(crate) fn new(pools: Pools) -> Self {
        Self { pools }
    }
}

/// Writes `records` about the user `subject`, in the caller's transaction: an event that cannot be written fails the
/// change it records.
pub(crate) async fn record(mut conn: Conn<'_>, subject: UserId, records: &[AuditRecord]) -> Result<(), DieselError> {
    for record in records {
        let row =
            NewAuditEventRow::new(subject, record).map_err(|error| DieselError::SerializationError(Box::new(error)))?;
        let insert = diesel::insert_into(audit_events::table).values(row);
        on_backend!(conn.any(), |c| insert.execute(c).await)?;
    }
    Ok(())
}

/// The condition of the partial indexes on `actor_id`, as the migrations write it: an event done to another account
/// than its actor's. (Raw SQL: diesel spells `IS DISTINCT FROM` only for PostgreSQL, and SQLite, since 3.39, reads
/// it as its own `IS NOT`.)
fn done_to_another() -> diesel::expression::SqlLiteral<Bool> {
    sql::<Bool>("actor_id IS NOT NULL AND subject_id IS DISTINCT FROM actor_id")
}

/// Binds `$page` to the statement that reads `$query`'s page and evaluates `$then`, inside one arm of `on_backend!`
/// (the statement is built for that arm's backend). The statement has one type when no user is named and another,
/// the union of two walks, when one is: `$then` is compiled for each.
macro_rules! with_page {
    ($query:expr, |$page:ident| $then:expr) => {{
        let query: &AuditQuery = $query;
        let limit = i64::from(query.limit);
        let walk = || {
            let mut walk = audit_events::table
                .select(AuditEventRow::columns())
                .order(audit_events::id.desc())
                .limit(limit)
                .into_boxed();
            if let Some(kind) = query.kind {
                walk = walk.filter(audit_events::kind.eq(kind.as_str()));
            }
            if let Some(before) = query.before {
                walk = walk.filter(audit_events::id.lt(before.0));
            }
            walk
        };
        match query.user {
            None => {
                let $page = walk();
                $then
            }
            Some(user) => {
                let about = walk().filter(audit_events::subject_id.eq(user.0));
                let done_to_others = walk().filter(audit_events::actor_id.eq(user.0)).filter(done_to_another());
                // By position: the id is the rows' first column (`AuditEventRow`).
                let $page = about.union_all(done_to_others).positional_order_by(OrderColumn(1).desc()).limit(limit);
                $then
            }
        }
    }};
}

/// One batch of pruning: up to `PRUNE_BATCH` of the events before `before` (any of them: each batch takes the next),
/// found through `audit_events_at_idx`.
fn prune_batch_statement(
    before: DateTime<Utc>,
) -> impl QueryFragment<Pg> + QueryFragment<Sqlite> + QueryId + Send + 'static {
    let old = diesel::alias!(audit_events as old);
    let batch = old
        .select(old.field(audit_events::id))
        .filter(old.field(audit_events::at).lt(Stamp(before)))
        .limit(PRUNE_BATCH);
    diesel::delete(audit_events::table.filter(audit_events::id.eq_any(batch)))
}

impl AuditQueries {
    /// `AuditLog::list_events`, newest first.
    pub(crate) async fn list_events(&self, query: AuditQuery) -> Result<Vec<AuditEvent>, StoreError> {
        let mut conn = self.pools.reader().await?;
        let rows: Vec<AuditEventRow> = on_backend!(conn.any(), |c| with_page!(&query, |page| page.load(c).await))
            .map_err(|error| self.pools.fault(error))?;
        rows.into_iter().map(AuditEventRow::into_event).collect()
    }

    /// Deletes one batch of the events older than `before` (at most [`PRUNE_BATCH`]); how many it deleted. The
    /// pruning repeats it until a batch comes back short, each batch a store call (and a transaction) of its own.
    pub(crate) async fn prune_batch(&self, before: DateTime<Utc>) -> Result<u64, StoreError> {
        let mut conn = self.pools.writer().await?;
        let prune = prune_batch_statement(before);
        let pruned = on_backend!(conn.any(), |c| prune.execute(c).await).map_err(|error| self.pools.fault(error))?;
        Ok(u64::try_from(pruned).unwrap_or_default())
    }

    /// How the database runs `statement`: on PostgreSQL its plan as JSON (`EXPLAIN (FORMAT JSON)`, with `ANALYZE`
    /// when asked: the statement then runs, in a transaction rolled back afterwards, so a pruning deletes nothing);
    /// on SQLite the lines of `EXPLAIN QUERY PLAN` (which has no `ANALYZE`).
    pub(crate) async fn explain(&self, statement: AuditStatement, analyze: bool) -> Result<Vec<String>, StoreError> {
        let mut conn = self.pools.writer().await?;
        let mut explained = None;
        let rolled_back = match conn.any() {
            Conn::Postgres(c) => {
                let prefix = if analyze { "EXPLAIN (ANALYZE, FORMAT JSON) " } else { "EXPLAIN (FORMAT JSON) " };
                c.transaction::<(), DieselError, _>(async |c| {
                    let plan: Vec<String> = match &statement {
                        AuditStatement::List(query) => {
                            with_page!(query, |page| Wrapped::<_, Text>::explained(prefix, page).load(c).await)?
                        }
                        AuditStatement::Prune(before) => {
                            Wrapped::<_, Text>::explained(prefix, prune_batch_statement(*before)).load(c).await?
                        }
                    };
                    explained = Some(plan);
                    Err(DieselError::RollbackTransaction)
                })
                .await
            }
            Conn::Sqlite(c) => {
                type PlanLine = (Integer, Integer, Integer, Text);
                let prefix = "EXPLAIN QUERY PLAN ";
                let lines: Vec<(i32, i32, i32, String)> = match &statement {
                    AuditStatement::List(query) => {
                        with_page!(query, |page| Wrapped::<_, PlanLine>::explained(prefix, page).load(c).await)
                    }
                    AuditStatement::Prune(before) => {
                        Wrapped::<_, PlanLine>::explained(prefix, prune_batch_statement(*before)).load(c).await
                    }
                }
                .map_err(|error| self.pools.fault(error))?;
                explained = Some(lines.into_iter().map(|(_, _, _, detail)| detail).collect());
                Ok(())
            }
        };
        match (explained, rolled_back) {
            (Some(explained), Ok(()) | Err(DieselError::RollbackTransaction)) => Ok(explained),
            (_, Err(error)) => Err(self.pools.fault(error)),
            (None, Ok(())) => Err(StoreError::new("the database explained nothing")),
        }
    }
}

/// A statement of the audit log, as [`crate::StoreAuditLog::explain`] asks the database how it runs it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AuditStatement {
    /// The page `AuditLog::list_events` reads for the query.
    List(AuditQuery),
    /// One batch of `AuditLog::prune_events`, of the events older than this.
    Prune(DateTime<Utc>),
}
