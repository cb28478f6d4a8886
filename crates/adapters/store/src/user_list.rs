//! The admin lists' queries: the users a `UserQuery` selects, in its order, a page of them, and how many there are;
//! and the plans the database makes for them, for the tests that hold the indexes to their promise.
//!
//! Each condition has an index to start from (see the `finding_users` migration), and each order one to walk: a
//! prefix is a range of a case-folded key in byte order, a role its members in `user_roles (role_id, user_id)`, the
//! rare side of the status and verification filters a partial index; the common sides, and the orders, are read down
//! `(key, id)` indexes. The page is found first among the ids alone (read from an index wherever the planner can),
//! then only its own rows are read: a deep page skips index entries, not table rows. A filter's matches are counted
//! up to the query's limit, so that a broad filter over millions of users costs a bounded walk; the whole population
//! is counted by the store as it changes (`Dialect::count_users`).

use diesel::backend::Backend;
use diesel::dsl::sql;
use diesel::prelude::*;
use diesel::query_builder::{AstPass, Query, QueryFragment, QueryId};
use diesel::sql_types::{BigInt, Bool, Text};
use diesel_async::RunQueryDsl;
use users_domain::{AccountStatus, Role, SearchPrefix};
use users_ports::{Total, UserFilter, UserOrder, UserQuery, UserSortKey};

use crate::schema::{Stamp, user_roles, users};
use crate::wrapped::Wrapped;

/// The keys a search prefix is compared with, as a database spells them (and its indexes name them): case-folded, in
/// byte order, so that the texts that start with a prefix are one range.
#[derive(Clone, Copy, Debug)]
pub(crate) struct SearchKeys {
    /// `Email::key`, folded by the service.
    email: &'static str,
    /// ASCII only (`Username`), so every database folds it alike.
    username: &'static str,
    first_name: &'static str,
    last_name: &'static str,
}

impl SearchKeys {
    /// The four keys, each the start of one branch of a search's union.
    fn each(&self) -> [&'static str; 4] {
        [self.email, self.username, self.first_name, self.last_name]
    }
}

/// PostgreSQL compares in the database's collation unless told: "C" is byte order.
pub(crate) const POSTGRES_KEYS: SearchKeys = SearchKeys {
    email: "email_key COLLATE \"C\"",
    username: "lower(username) COLLATE \"C\"",
    first_name: "lower(first_name) COLLATE \"C\"",
    last_name: "lower(last_name) COLLATE \"C\"",
};

/// SQLite compares in byte order (`BINARY`) unless told otherwise.
pub(crate) const SQLITE_KEYS: SearchKeys = SearchKeys {
    email: "email_key",
    username: "lower(username)",
    first_name: "lower(first_name)",
    last_name: "lower(last_name)",
};

/// `[from, to)`: the texts that start with `prefix`, in byte (code point) order. `to` is the prefix with its last
/// character stepped to the next; a prefix of nothing but the last code point has no such bound and takes the
/// largest text there can be.
pub(crate) fn prefix_range(prefix: &SearchPrefix) -> (String, String) {
    let from = prefix.as_str().to_owned();
    let mut to = from.clone();
    while let Some(last) = to.pop() {
        if let Some(next) = (u32::from(last) + 1..=u32::from(char::MAX)).find_map(char::from_u32) {
            to.push(next);
            return (from, to);
        }
    }
    (from, char::MAX.to_string().repeat(SearchPrefix::MAX_CHARS + 1))
}

/// The `ORDER BY` of `order`, the same in the page's id lookup and in the reading of its rows.
pub(crate) fn order_by(order: UserOrder, keys: &SearchKeys) -> String {
    let direction = if order.descending { "DESC" } else { "ASC" };
    match order.key {
        UserSortKey::Id => format!("id {direction}"),
        UserSortKey::Email => format!("{} {direction}, id {direction}", keys.email),
        UserSortKey::CreatedAt => format!("created_at {direction}, id {direction}"),
        // Never signed in is the earliest: first going up, last going down, as the index keeps it.
        UserSortKey::LastSignInAt if order.descending => "last_sign_in_at DESC NULLS LAST, id DESC".to_owned(),
        UserSortKey::LastSignInAt => "last_sign_in_at ASC NULLS FIRST, id ASC".to_owned(),
    }
}

/// `$key >= from AND $key < to`, as raw SQL with its two binds.
macro_rules! key_in_range {
    ($key:expr, $from:expr, $to:expr) => {
        sql::<Bool>($key)
            .sql(" >= ")
            .bind::<Text, _>($from.clone())
            .sql(" AND ")
            .sql($key)
            .sql(" < ")
            .bind::<Text, _>($to.clone())
    };
}

/// The users `$query`'s filter lets through, as a boxed statement of the backend the surrounding arm is compiled for
/// (each use is type-checked against that arm's connection), selecting nothing yet.
macro_rules! matching_users {
    ($query:expr, $keys:expr) => {{
        let query: &UserQuery = $query;
        let keys: &SearchKeys = $keys;
        let filter = &query.filter;
        let mut matching = users::table.into_boxed();
        if let Some(text) = &filter.text {
            let (from, to) = prefix_range(text);
            matching = matching.filter(
                key_in_range!(keys.email, from, to)
                    .or(key_in_range!(keys.username, from, to))
                    .or(key_in_range!(keys.first_name, from, to))
                    .or(key_in_range!(keys.last_name, from, to)),
            );
        }
        if let Some(role) = filter.role {
            let members = user_roles::table.filter(user_roles::role_id.eq(role.id())).select(user_roles::user_id);
            matching = matching.filter(users::id.eq_any(members));
        }
        match filter.status {
            None => {}
            // The partial index's condition first, spelled as the migration spells it.
            Some(AccountStatus::Suspended) => {
                matching = matching
                    .filter(users::suspended_at.is_not_null())
                    .filter(users::suspended_until.is_null().or(users::suspended_until.gt(Stamp(query.now))));
            }
            Some(AccountStatus::Active) => {
                matching =
                    matching.filter(users::suspended_at.is_null().or(users::suspended_until.le(Stamp(query.now))));
            }
        }
        match filter.verified {
            None => {}
            Some(true) => matching = matching.filter(users::email_verified),
            Some(false) => matching = matching.filter(diesel::dsl::not(users::email_verified)),
        }
        if let Some(after) = filter.created_after {
            matching = matching.filter(users::created_at.gt(Stamp(after)));
        }
        if let Some(before) = filter.created_before {
            matching = matching.filter(users::created_at.lt(Stamp(before)));
        }
        matching
    }};
}

/// The ids of the page `$query` asks for, in its order: a boxed statement for the surrounding arm's backend.
macro_rules! page_ids {
    ($query:expr, $keys:expr) => {{
        let query: &UserQuery = $query;
        let offset = i64::try_from(query.page.offset).unwrap_or(i64::MAX);
        matching_users!(query, $keys)
            .select(users::id)
            .order(sql::<Text>(&order_by(query.order, $keys)))
            .offset(offset)
            .limit(i64::from(query.page.limit))
    }};
}

/// The rows of the page `$query` asks for, in its order: a boxed statement for the surrounding arm's backend.
macro_rules! page_rows {
    ($query:expr, $keys:expr) => {{
        let query: &UserQuery = $query;
        users::table
            .select(crate::rows::UserRow::columns())
            .filter(users::id.eq_any(page_ids!(query, $keys)))
            .order(sql::<Text>(&order_by(query.order, $keys)))
            .into_boxed()
    }};
}

/// Runs `$body` with `$statement` bound to the statement that reads the rows of `$query`'s page, for the surrounding
/// arm's backend: [`page_rows!`], or for a search alone in id order the union of its four ranges' pages.
///
/// The `OR` of the four ranges leaves the planner two ways to a page in id order: walk the ids testing every row
/// against all four (cheap when matches are common), or read every match's row from the table and sort them (a table
/// row for each: 14 ms for the 3,000 users of `patricia.w`, 22 ms for `linda.g` on a million users). As a union, each
/// range makes that choice alone, and can read its matches' ids from its own index (each holds the id): the same
/// `patricia.w` takes 0.6 ms; a common prefix costs what it did. The other orders need a column of the table for each
/// match whichever way: they keep the `OR`, which reads each match once.
macro_rules! with_page {
    ($query:expr, $keys:expr, |$statement:ident| $body:expr) => {{
        let query: &UserQuery = $query;
        let keys: &SearchKeys = $keys;
        if let (Some(text), UserSortKey::Id) = (only_text(&query.filter), query.order.key) {
            let (from, to) = prefix_range(text);
            // Each range's own page, as deep as the page asked for ends.
            let reach =
                i64::try_from(query.page.offset.saturating_add(u64::from(query.page.limit))).unwrap_or(i64::MAX);
            let order = order_by(query.order, keys);
            let range = |key: &'static str| {
                users::table
                    .into_boxed()
                    .filter(key_in_range!(key, from, to))
                    .select(users::id)
                    .order(sql::<Text>(&order))
                    .limit(reach)
            };
            let $statement = PageOfUnion {
                rows: users::table.select(crate::rows::UserRow::columns()).into_boxed(),
                branches: keys.each().map(range),
                order,
                offset: i64::try_from(query.page.offset).unwrap_or(i64::MAX),
                limit: query.page.limit,
            };
            $body
        } else {
            let $statement = page_rows!(query, keys);
            $body
        }
    }};
}

/// `rows WHERE users.id IN (SELECT id FROM (SELECT id FROM (branch) AS branch0 UNION ...) AS matches ORDER BY order
/// LIMIT limit OFFSET offset) ORDER BY order`: the rows of a page of the ids the branches hold together. `rows`
/// selects from `users` and nothing else.
pub(crate) struct PageOfUnion<R, Q> {
    rows: R,
    branches: [Q; 4],
    order: String,
    offset: i64,
    limit: u32,
}

impl<R: QueryFragment<DB>, Q: QueryFragment<DB>, DB: Backend> QueryFragment<DB> for PageOfUnion<R, Q> {
    fn walk_ast<'b>(&'b self, mut out: AstPass<'_, 'b, DB>) -> QueryResult<()> {
        self.rows.walk_ast(out.reborrow())?;
        out.push_sql(" WHERE users.id IN (SELECT id FROM (");
        walk_union(&self.branches, out.reborrow())?;
        // Numbers the store computed, not values from a request.
        out.push_sql(&format!(
            ") AS matches ORDER BY {order} LIMIT {} OFFSET {}) ORDER BY {order}",
            self.limit,
            self.offset,
            order = self.order
        ));
        Ok(())
    }
}

impl<R, Q> QueryId for PageOfUnion<R, Q> {
    type QueryId = ();
    // Never prepared and cached: the branches are built for their parameters (boxed).
    const HAS_STATIC_QUERY_ID: bool = false;
}

impl<R: Query, Q> Query for PageOfUnion<R, Q> {
    type SqlType = R::SqlType;
}

/// Runs `$body` with `$statement` bound to the count of `$query`'s matches, up to one more than its count limit: a
/// statement for the surrounding arm's backend, of one of three shapes (so the body is compiled once for each).
///
/// Each shape reads its matches from indexes and stops at the limit:
/// - a role alone is counted in `user_roles (role_id, user_id)` alone, in its order, never joined to `users` (every
///   row has its user: the foreign key deletes the row with the user);
/// - a search alone is the union of its four prefixes' ranges, each stopped at the limit, read from the prefix
///   indexes alone (each holds the id); as the union of ranges each cut at the limit holds the limit's worth of users
///   as soon as there are that many, its count up to the limit is exact (the `OR` of the ranges would read a table
///   row for every match, to tell the users apart);
/// - any other filter is read in the order of an index that leads to its matches (by creation when it bounds it, else
///   by id), so that reading the table through is never cheaper: a count that stopped early on a table scan would
///   read the whole table for a filter rarer than the planner guessed. (Without the order, PostgreSQL chose to scan
///   `users` for `status=active`, `verified=true` and a one-letter search.)
macro_rules! with_counted_matches {
    ($query:expr, $keys:expr, |$statement:ident| $body:expr) => {{
        let query: &UserQuery = $query;
        let keys: &SearchKeys = $keys;
        let beyond = i64::try_from(query.count_limit.saturating_add(1)).unwrap_or(i64::MAX);
        if let Some(role) = only_role(&query.filter) {
            let members = user_roles::table
                .filter(user_roles::role_id.eq(role.id()))
                .select(user_roles::user_id)
                .order(user_roles::user_id)
                .limit(beyond)
                .into_boxed();
            let $statement = Wrapped::counted(members);
            $body
        } else if let Some(text) = only_text(&query.filter) {
            let (from, to) = prefix_range(text);
            let range = |key: &'static str| {
                users::table.into_boxed().filter(key_in_range!(key, from, to)).select(users::id).limit(beyond)
            };
            let $statement = CountedUnion { branches: keys.each().map(range), limit: beyond };
            $body
        } else {
            // Not by id when creation is bounded: ids grow with creation, so the planner, which takes the matches to
            // be spread evenly along the ids, would walk every id older than the bound before the first match.
            let filter = &query.filter;
            let created = filter.created_after.is_some() || filter.created_before.is_some();
            let order = if created { "created_at, id" } else { "id" };
            let $statement = Wrapped::counted(
                matching_users!(query, keys).select(users::id).order(sql::<Text>(order)).limit(beyond),
            );
            $body
        }
    }};
}

/// The role of a filter that asks for nothing else.
fn only_role(filter: &UserFilter) -> Option<Role> {
    let role = filter.role?;
    (*filter == UserFilter { role: Some(role), ..UserFilter::default() }).then_some(role)
}

/// The prefix of a filter that asks for nothing else.
fn only_text(filter: &UserFilter) -> Option<&SearchPrefix> {
    let text = filter.text.as_ref()?;
    (*filter == UserFilter { text: Some(text.clone()), ..UserFilter::default() }).then_some(text)
}

/// `SELECT id FROM (branch) AS branch0 UNION SELECT id FROM (branch) AS branch1 ...`: each branch in a subquery of its
/// own, as SQLite wants a `LIMIT` inside a compound select to be.
fn walk_union<'b, Q: QueryFragment<DB>, DB: Backend>(
    branches: &'b [Q],
    mut out: AstPass<'_, 'b, DB>,
) -> QueryResult<()> {
    for (n, branch) in branches.iter().enumerate() {
        if n > 0 {
            out.push_sql(" UNION ");
        }
        out.push_sql("SELECT id FROM (");
        branch.walk_ast(out.reborrow())?;
        out.push_sql(&format!(") AS branch{n}"));
    }
    Ok(())
}

/// `SELECT count(*) FROM (SELECT id FROM (branch) AS branch0 UNION ... LIMIT limit) AS counted`: how many ids the
/// branches hold together, up to `limit`. Each branch is wrapped in a subquery of its own, as SQLite wants a `LIMIT`
/// inside a compound select to be.
pub(crate) struct CountedUnion<Q> {
    branches: [Q; 4],
    limit: i64,
}

impl<Q: QueryFragment<DB>, DB: Backend> QueryFragment<DB> for CountedUnion<Q> {
    fn walk_ast<'b>(&'b self, mut out: AstPass<'_, 'b, DB>) -> QueryResult<()> {
        out.push_sql("SELECT count(*) FROM (");
        walk_union(&self.branches, out.reborrow())?;
        // A number the store computed, not a value from a request.
        out.push_sql(&format!(" LIMIT {}) AS counted", self.limit));
        Ok(())
    }
}

impl<Q> QueryId for CountedUnion<Q> {
    type QueryId = ();
    // Never prepared and cached: the branches are built for their parameters (boxed).
    const HAS_STATIC_QUERY_ID: bool = false;
}

impl<Q> Query for CountedUnion<Q> {
    type SqlType = BigInt;
}

/// The total of a filtered list, from the count of its matches up to one past `limit`.
pub(crate) fn filtered_total(counted: i64, limit: u64) -> Total {
    let counted = u64::try_from(counted).unwrap_or_default();
    if counted > limit { Total::AtLeast(limit) } else { Total::Exact(counted) }
}

/// A statement of the admin lists, as [`crate::StoreUsers::explain`] asks the database how it runs it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum UserListStatement {
    /// The rows of the query's page (its ids found first, in a subquery).
    Page(UserQuery),
    /// The count of the query's matches, up to its limit.
    Count(UserQuery),
}

/// Loads the page's rows on a connection of either backend.
pub(crate) async fn load_page(
    conn: crate::connection::Conn<'_>,
    query: &UserQuery,
) -> Result<Vec<crate::rows::UserRow>, diesel::result::Error> {
    use crate::connection::Conn;
    match conn {
        Conn::Postgres(c) => {
            Box::pin(async { with_page!(query, &POSTGRES_KEYS, |statement| statement.load(c).await) }).await
        }
        Conn::Sqlite(c) => with_page!(query, &SQLITE_KEYS, |statement| statement.load(c).await),
    }
}

/// Counts the query's matches (up to one past its limit) on a connection of either backend.
pub(crate) async fn count_matches(
    conn: crate::connection::Conn<'_>,
    query: &UserQuery,
) -> Result<i64, diesel::result::Error> {
    use crate::connection::Conn;
    match conn {
        Conn::Postgres(c) => {
            Box::pin(async { with_counted_matches!(query, &POSTGRES_KEYS, |counted| counted.get_result(c).await) })
                .await
        }
        Conn::Sqlite(c) => with_counted_matches!(query, &SQLITE_KEYS, |counted| counted.get_result(c).await),
    }
}

/// How the database runs `statement`: on PostgreSQL its plan as JSON (`EXPLAIN (FORMAT JSON)`, run with `ANALYZE`
/// when asked: the statements only read), on SQLite the lines of `EXPLAIN QUERY PLAN`.
pub(crate) async fn explain(
    conn: crate::connection::Conn<'_>,
    statement: &UserListStatement,
    analyze: bool,
) -> Result<Vec<String>, diesel::result::Error> {
    use crate::connection::Conn;
    use diesel::sql_types::Integer;
    match conn {
        Conn::Postgres(c) => {
            let prefix = if analyze { "EXPLAIN (ANALYZE, FORMAT JSON) " } else { "EXPLAIN (FORMAT JSON) " };
            Box::pin(async {
                match statement {
                    UserListStatement::Page(query) => with_page!(query, &POSTGRES_KEYS, |statement| {
                        Wrapped::<_, Text>::explained(prefix, statement).load(c).await
                    }),
                    UserListStatement::Count(query) => {
                        with_counted_matches!(query, &POSTGRES_KEYS, |counted| {
                            Wrapped::<_, Text>::explained(prefix, counted).load(c).await
                        })
                    }
                }
            })
            .await
        }
        Conn::Sqlite(c) => {
            type PlanLine = (Integer, Integer, Integer, Text);
            let prefix = "EXPLAIN QUERY PLAN ";
            let lines: Vec<(i32, i32, i32, String)> = match statement {
                UserListStatement::Page(query) => with_page!(query, &SQLITE_KEYS, |statement| {
                    Wrapped::<_, PlanLine>::explained(prefix, statement).load(c).await?
                }),
                UserListStatement::Count(query) => {
                    with_counted_matches!(query, &SQLITE_KEYS, |counted| {
                        Wrapped::<_, PlanLine>::explained(prefix, counted).load(c).await?
                    })
                }
            };
            Ok(lines.into_iter().map(|(_, _, _, detail)| detail).collect())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn range(prefix: &str) -> (String, String) {
        prefix_range(&SearchPrefix::parse(prefix).unwrap())
    }

    #[test]
    fn a_prefix_ranges_up_to_its_last_character_stepped() {
        assert_eq!(range("ada"), ("ada".to_owned(), "adb".to_owned()));
        assert_eq!(range("é"), ("é".to_owned(), "ê".to_owned()));
    }

    #[test]
    fn stepping_skips_the_surrogates_and_carries_past_the_last_code_point() {
        assert_eq!(range("a\u{d7ff}").1, "a\u{e000}");
        assert_eq!(range("a\u{10ffff}").1, "b");
    }
}
