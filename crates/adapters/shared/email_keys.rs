//! The data step of the `email_key` migration, which SQL cannot do: each account's case-folded email key is computed
//! by the domain's rule, then made unique. Shared by the PostgreSQL and SQLite adapters, each compiling it against
//! its own `schema` and `backend` modules and running it under its own migration lock.

use diesel::connection::SimpleConnection as _;
use diesel::prelude::*;
use diesel::sql_types::{BigInt, Text};
use users_domain::Email;

use crate::backend::{EMAIL_KEY_INDEX_EXISTS, FINISH_EMAIL_KEY, MigrationConnection};
use crate::schema::users;

type Failure = Box<dyn std::error::Error + Send + Sync>;

/// Rows keyed per statement batch: a transaction each, so a large table is filled without one huge transaction.
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

/// Fills every missing key and makes the key unique, unless that was done before. Accounts whose emails are the same
/// once case is folded (two accounts on SQLite, which compared ASCII letters only) are reported by id, and nothing is
/// made unique until they are resolved.
pub(crate) fn complete_email_keys(conn: &mut MigrationConnection) -> Result<(), Failure> {
    let Present { present } = diesel::sql_query(EMAIL_KEY_INDEX_EXISTS).get_result(conn)?;
    if present > 0 {
        return Ok(());
    }
    while fill_batch(conn)? > 0 {}
    let holders: Vec<Holder> = diesel::sql_query(
        "SELECT email_key, id FROM users WHERE email_key IN \
         (SELECT email_key FROM users GROUP BY email_key HAVING count(*) > 1) ORDER BY email_key, id",
    )
    .load(conn)?;
    if !holders.is_empty() {
        return Err(SharedEmails::from(holders).into());
    }
    Ok(conn.batch_execute(FINISH_EMAIL_KEY)?)
}

/// Keys up to [`BATCH`] rows that have none, in one transaction; returns how many.
fn fill_batch(conn: &mut MigrationConnection) -> Result<usize, Failure> {
    let rows: Vec<(i64, String)> = users::table
        .filter(users::email_key.is_null())
        .order(users::id)
        .limit(BATCH)
        .select((users::id, users::email))
        .load(conn)?;
    let keys = rows
        .into_iter()
        .map(|(id, email)| match Email::parse(email) {
            Ok(email) => Ok((id, email.key())),
            Err(error) => Err(format!("account {id} has an invalid stored email: {error}")),
        })
        .collect::<Result<Vec<_>, _>>()?;
    conn.transaction(|conn| {
        for (id, key) in &keys {
            diesel::update(users::table.find(id)).set(users::email_key.eq(key.as_str())).execute(conn)?;
        }
        Ok::<_, diesel::result::Error>(())
    })?;
    Ok(keys.len())
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
