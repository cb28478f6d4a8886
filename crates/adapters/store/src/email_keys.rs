//! The data step of the `email_key` migration, which SQL cannot do: each account's case-folded email key is computed
//! by the domain's rule, then made unique. Each backend runs it after its migrations, under its own migration lock.

use diesel::connection::SimpleConnection as _;
use diesel::prelude::*;
use diesel::sql_types::{BigInt, Text};
use users_domain::Email;

use diesel::SqliteConnection;
use diesel_async::AsyncPgConnection;
use diesel_async::async_connection_wrapper::AsyncConnectionWrapper;

use crate::dialect::EmailKeyStatements;
use crate::schema::users;

/// The synchronous connection a backend's migrations run on.
#[allow(missing_debug_implementations)] // neither connection type implements `Debug`
pub enum MigrationConnection<'a> {
    Postgres(&'a mut AsyncConnectionWrapper<AsyncPgConnection>),
    Sqlite(&'a mut SqliteConnection),
}

/// [`crate::connection::on_backend!`] for the migration connections.
macro_rules! on_migration_backend {
    ($conn:expr, |$c:ident| $body:expr) => {
        match $conn {
            MigrationConnection::Postgres($c) => $body,
            MigrationConnection::Sqlite($c) => $body,
        }
    };
}

impl MigrationConnection<'_> {
    fn reborrow(&mut self) -> MigrationConnection<'_> {
        match self {
            Self::Postgres(c) => MigrationConnection::Postgres(c),
            Self::Sqlite(c) => MigrationConnection::Sqlite(c),
        }
    }

    fn statements(&self) -> EmailKeyStatements {
        match self {
            Self::Postgres(_) => crate::dialect::postgres::EMAIL_KEY,
            Self::Sqlite(_) => crate::dialect::sqlite::EMAIL_KEY,
        }
    }
}

impl<'a> From<&'a mut AsyncConnectionWrapper<AsyncPgConnection>> for MigrationConnection<'a> {
    fn from(connection: &'a mut AsyncConnectionWrapper<AsyncPgConnection>) -> Self {
        Self::Postgres(connection)
    }
}

impl<'a> From<&'a mut SqliteConnection> for MigrationConnection<'a> {
    fn from(connection: &'a mut SqliteConnection) -> Self {
        Self::Sqlite(connection)
    }
}

type Failure = Box<dyn std::error::Error + Send + Sync>;

/// Rows read per page, and keyed per transaction.
const BATCH: i64 = 1_000;

#[derive(QueryableByName)]
struct Present {
    #[diesel(sql_type = BigInt)]
    present: i64,
}

#[derive(QueryableByName)]
struct Holder {
    #[diesel(sql_type = Text)]
    email_key: String,
    #[diesel(sql_type = BigInt)]
    id: i64,
}

/// Keys every account and makes the key unique, unless that was done before. Accounts whose emails are the same once
/// case is folded (two accounts on SQLite, which compared ASCII letters only) are reported by id, and nothing is made
/// unique until they are resolved: the next start keys again whatever an operator changed meanwhile.
pub fn complete_email_keys(mut conn: MigrationConnection<'_>) -> Result<(), Failure> {
    let statements = conn.statements();
    let exists = diesel::sql_query(statements.index_exists);
    let Present { present } = on_migration_backend!(conn.reborrow(), |c| exists.get_result(c))?;
    if present > 0 {
        return Ok(());
    }
    // The bulk of the work first, without holding writers back.
    rekey(conn.reborrow())?;
    // Then, with writes held back (instances of the previous version may still be running: they write no key, and
    // may change an email), key what changed meanwhile, check, and finish, so that nothing slips in between.
    on_migration_backend!(conn, |c| c.transaction(|c| {
        if let Some(hold) = statements.hold_user_writes {
            c.batch_execute(hold)?;
        }
        rekey(MigrationConnection::from(&mut *c))?;
        let holders: Vec<Holder> = diesel::sql_query(
            "SELECT email_key, id FROM users WHERE email_key IN \
             (SELECT email_key FROM users GROUP BY email_key HAVING count(*) > 1) ORDER BY email_key, id",
        )
        .load(c)?;
        if !holders.is_empty() {
            return Err(SharedEmails::from(holders).into());
        }
        Ok(c.batch_execute(statements.finish)?)
    }))
}

/// Gives every account whose key is missing, or no longer its email's, the key of its email, page by page in id
/// order; returns how many changed. A row is updated only if its email is still the one the key was computed from.
fn rekey(mut conn: MigrationConnection<'_>) -> Result<usize, Failure> {
    let (mut after, mut changed) = (0_i64, 0_usize);
    loop {
        let page = users::table.filter(users::id.gt(after)).order(users::id).limit(BATCH).select((
            users::id,
            users::email,
            users::email_key,
        ));
        let rows: Vec<(i64, String, Option<String>)> = on_migration_backend!(conn.reborrow(), |c| page.load(c))?;
        let Some(last) = rows.last().map(|(id, _, _)| *id) else { return Ok(changed) };
        after = last;
        let mut stale = Vec::new();
        for (id, email, stored) in rows {
            let key = Email::parse(email.as_str())
                .map_err(|error| format!("account {id} has an invalid stored email: {error}"))?
                .key();
            if stored.as_deref() != Some(key.as_str()) {
                stale.push((id, email, key));
            }
        }
        on_migration_backend!(conn.reborrow(), |c| c.transaction(|c| {
            for (id, email, key) in &stale {
                diesel::update(users::table.find(id).filter(users::email.eq(email)))
                    .set(users::email_key.eq(key.as_str()))
                    .execute(c)?;
            }
            Ok::<_, diesel::result::Error>(())
        }))?;
        changed += stale.len();
    }
}

/// Accounts that share an email once case is folded, grouped; each group must come down to one account.
#[derive(Debug)]
struct SharedEmails(Vec<Vec<i64>>);

impl From<Vec<Holder>> for SharedEmails {
    fn from(holders: Vec<Holder>) -> Self {
        let mut groups: Vec<Vec<i64>> = Vec::new();
        let mut last_key: Option<String> = None;
        for Holder { email_key, id } in holders {
            match groups.last_mut() {
                Some(group) if last_key.as_deref() == Some(email_key.as_str()) => group.push(id),
                _ => groups.push(vec![id]),
            }
            last_key = Some(email_key);
        }
        Self(groups)
    }
}

impl std::fmt::Display for SharedEmails {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let groups: Vec<String> = self.0.iter().map(|ids| format!("{ids:?}")).collect();
        write!(
            f,
            "accounts share an email address once letter case is ignored ({} addresses; the accounts by users.id: \
             {}). An email is now one account whatever its case: change the email of all but one account of each \
             group, or delete the extra accounts, then start the service again",
            self.0.len(),
            groups.join(", ")
        )
    }
}

impl std::error::Error for SharedEmails {}
