//! The one-time tokens' queries: `OneTimeTokenRepository` on diesel, for every backend, and the storing of a token
//! with its mail in the transaction that creates or changes its user.

use chrono::{DateTime, Duration, Utc};
use diesel::prelude::*;
use diesel::result::Error as DieselError;
use diesel_async::{AsyncConnection, RunQueryDsl};
use users_domain::{Email, User, UserId};
use users_ports::{
    AuditRecord, EndSessions, Mail, MailedToken, OneTimeTokenHash, OneTimeTokenRepository, PasswordHash, StoreError,
    TokenIssue, TokenPurpose,
};

use crate::connection::{AnyConnection as _, Conn, on_backend};
use crate::dialect::Dialect;
use crate::pool::Pools;
use crate::rows::{NewOneTimeTokenRow, UserRow};
use crate::schema::{Stamp, one_time_tokens, user_roles, users};
use crate::users::{forget_sign_in_failures, single_user, user_rows};

#[derive(Clone)]
pub(crate) struct OneTimeTokenQueries {
    pools: Pools,
}

impl std::fmt::Debug for OneTimeTokenQueries {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OneTimeTokenQueries").finish_non_exhaustive()
    }
}

impl OneTimeTokenQueries {
    pub(crate) fn new(pools: Pools) -> Self {
        Self { pools }
    }
}

/// Stores the token of user `user_id` and queues the mail that carries it, in the caller's transaction.
pub(crate) async fn store_mailed(mut conn: Conn<'_>, user_id: i64, mailed: &MailedToken) -> Result<(), DieselError> {
    let insert = diesel::insert_into(one_time_tokens::table).values(NewOneTimeTokenRow::new(user_id, &mailed.token));
    on_backend!(conn.any(), |c| insert.execute(c).await)?;
    crate::outbox::queue(conn, &mailed.mail, mailed.token.created_at).await
}

/// Whether `address` was sent a verification (for any account) after `since`.
pub(crate) async fn verified_since(conn: Conn<'_>, address: &Email, since: DateTime<Utc>) -> Result<bool, DieselError> {
    let sent = one_time_tokens::table
        .filter(one_time_tokens::email_key.eq(address.key().into_string()))
        .filter(one_time_tokens::purpose.eq(TokenPurpose::VerifyEmail.as_str()))
        .filter(one_time_tokens::created_at.gt(Stamp(since)));
    on_backend!(conn, |c| diesel::select(diesel::dsl::exists(sent)).get_result(c).await)
}

/// Voids the user's unused tokens, as used at `at`: all of them, or (`Some(key)`) those made for another address than
/// `key`. Links mailed before a new password, or to a former address, do nothing.
pub(crate) async fn void_tokens(
    conn: Conn<'_>,
    user_id: i64,
    keeping_address: Option<&str>,
    at: DateTime<Utc>,
) -> Result<(), DieselError> {
    let unused =
        one_time_tokens::table.filter(one_time_tokens::user_id.eq(user_id)).filter(one_time_tokens::used_at.is_null());
    let used_at = one_time_tokens::used_at.eq(Stamp(at));
    match keeping_address {
        None => {
            let void = diesel::update(unused).set(used_at);
            on_backend!(conn, |c| void.execute(c).await)?
        }
        Some(key) => {
            let void = diesel::update(unused.filter(one_time_tokens::email_key.ne(key))).set(used_at);
            on_backend!(conn, |c| void.execute(c).await)?
        }
    };
    Ok(())
}

/// Voids the user's unused tokens of `purposes`, as used at `at`: only the newest mailed link, or none after a reset,
/// works.
pub(crate) async fn void_tokens_of(
    conn: Conn<'_>,
    user_id: i64,
    purposes: &[TokenPurpose],
    at: DateTime<Utc>,
) -> Result<(), DieselError> {
    let purposes: Vec<&str> = purposes.iter().map(|purpose| purpose.as_str()).collect();
    let void = diesel::update(
        one_time_tokens::table
            .filter(one_time_tokens::user_id.eq(user_id))
            .filter(one_time_tokens::purpose.eq_any(purposes))
            .filter(one_time_tokens::used_at.is_null()),
    )
    .set(one_time_tokens::used_at.eq(Stamp(at)));
    on_backend!(conn, |c| void.execute(c).await)?;
    Ok(())
}

/// Uses up the token if it is usable at `now`: of this purpose, unused, unexpired, and made for the address its user
/// has now. Returns its user. The token's owner is read, then the owner's row locked before anything is written, so
/// that concurrent uses of the token, and a change of the user's address, take turns; of concurrent uses, only the
/// first finds the token unused.
pub(crate) async fn use_up(
    mut conn: Conn<'_>,
    token: &OneTimeTokenHash,
    purpose: TokenPurpose,
    now: DateTime<Utc>,
) -> Result<Option<i64>, DieselError> {
    on_backend!(conn.any(), |c| Dialect::begin_writes(c).await)?;
    let owner = one_time_tokens::table
        .find(&token.0)
        .filter(one_time_tokens::purpose.eq(purpose.as_str()))
        .select(one_time_tokens::user_id);
    let Some(user_id) = on_backend!(conn.any(), |c| owner.first(c).await.optional())? else { return Ok(None) };
    let Some(email_key) = on_backend!(conn.any(), |c| Dialect::lock_user_email_key(c, user_id).await)? else {
        return Ok(None);
    };
    let used = diesel::update(
        one_time_tokens::table
            .find(&token.0)
            .filter(one_time_tokens::purpose.eq(purpose.as_str()))
            .filter(one_time_tokens::used_at.is_null())
            .filter(one_time_tokens::expires_at.gt(Stamp(now)))
            .filter(one_time_tokens::email_key.eq(&email_key)),
    )
    .set(one_time_tokens::used_at.eq(Stamp(now)));
    let used = on_backend!(conn, |c| used.execute(c).await)?;
    Ok((used > 0).then_some(user_id))
}

impl OneTimeTokenRepository for OneTimeTokenQueries {
    async fn issue_token(
        &self,
        user: UserId,
        token: MailedToken,
        min_interval: Duration,
        audit: Option<AuditRecord>,
    ) -> Result<TokenIssue, StoreError> {
        let mut conn = self.pools.writer().await?;
        let new = &token.token;
        on_backend!(conn.any(), |conn| conn
            .transaction::<_, DieselError, _>(async |conn| {
                // The user's row stays locked to the end of the transaction: of concurrent requests, each sees the
                // token the one before it stored, so only one of them queues a mail.
                let email_key = Dialect::lock_user_email_key(conn, user.0).await?;
                if email_key.as_deref() != Some(new.email.key().as_str()) {
                    return Ok(TokenIssue::NotIssued);
                }
                let recent = one_time_tokens::table
                    .filter(one_time_tokens::user_id.eq(user.0))
                    .filter(one_time_tokens::purpose.eq(new.purpose.as_str()))
                    .filter(one_time_tokens::created_at.gt(Stamp(new.created_at - min_interval)));
                if diesel::select(diesel::dsl::exists(recent)).get_result(conn).await? {
                    return Ok(TokenIssue::TooSoon);
                }
                if new.purpose == TokenPurpose::ResetPassword {
                    void_tokens_of(conn.any(), user.0, &[TokenPurpose::ResetPassword], new.created_at).await?;
                }
                store_mailed(conn.any(), user.0, &token).await?;
                crate::audit::record(conn.any(), user, audit.as_slice()).await?;
                Ok(TokenIssue::Queued)
            })
            .await)
        .map_err(|error| self.pools.fault(error))
    }

    async fn find_token_user(
        &self,
        token: &OneTimeTokenHash,
        purpose: TokenPurpose,
        now: DateTime<Utc>,
    ) -> Result<Option<User>, StoreError> {
        let mut conn = self.pools.reader().await?;
        let rows = users::table
            .inner_join(one_time_tokens::table)
            .left_join(user_roles::table)
            .filter(one_time_tokens::token_hash.eq(&token.0))
            .filter(one_time_tokens::purpose.eq(purpose.as_str()))
            .filter(one_time_tokens::used_at.is_null())
            .filter(one_time_tokens::expires_at.gt(Stamp(now)))
            .filter(users::email_key.eq(one_time_tokens::email_key.nullable()))
            .select((UserRow::columns(), user_roles::role_id.nullable()));
        let rows = on_backend!(conn.any(), |c| rows.load(c).await).map_err(|error| self.pools.fault(error))?;
        single_user(rows)
    }

    async fn confirm_email(
        &self,
        token: &OneTimeTokenHash,
        now: DateTime<Utc>,
        audit: AuditRecord,
    ) -> Result<Option<User>, StoreError> {
        let mut conn = self.pools.writer().await?;
        let rows = on_backend!(conn.any(), |conn| conn
            .transaction::<_, DieselError, _>(async |conn| {
                let Some(user_id) = use_up(conn.any(), token, TokenPurpose::VerifyEmail, now).await? else {
                    return Ok(None);
                };
                diesel::update(users::table.find(user_id))
                    .set((users::email_verified.eq(true), users::updated_at.eq(Stamp(now))))
                    .execute(conn)
                    .await?;
                crate::audit::record(conn.any(), UserId(user_id), std::slice::from_ref(&audit)).await?;
                Ok(Some(user_rows(conn.any(), user_id).await?))
            })
            .await)
        .map_err(|error| self.pools.fault(error))?;
        rows.map_or(Ok(None), single_user)
    }

    async fn reset_password(
        &self,
        token: &OneTimeTokenHash,
        password_hash: PasswordHash,
        notice: &Mail,
        now: DateTime<Utc>,
        audit: AuditRecord,
    ) -> Result<Option<User>, StoreError> {
        let mut conn = self.pools.writer().await?;
        let rows = on_backend!(conn.any(), |conn| conn
            .transaction::<_, DieselError, _>(async |conn| {
                let Some(user_id) = use_up(conn.any(), token, TokenPurpose::ResetPassword, now).await? else {
                    return Ok(None);
                };
                // The mail reached the address: it is verified.
                diesel::update(users::table.find(user_id))
                    .set((
                        users::password_hash.eq(password_hash.as_str()),
                        users::email_verified.eq(true),
                        users::updated_at.eq(Stamp(now)),
                    ))
                    .execute(conn)
                    .await?;
                // No sign-in made with the old password survives, and the owner is not kept out by the guesses that
                // may have made them ask for the reset.
                crate::sessions::end_sessions(conn.any(), user_id, EndSessions::All, now).await?;
                forget_sign_in_failures(conn.any(), user_id).await?;
                void_tokens_of(conn.any(), user_id, &TokenPurpose::VOIDED_BY_A_RESET, now).await?;
                crate::outbox::queue(conn.any(), notice, now).await?;
                crate::audit::record(conn.any(), UserId(user_id), std::slice::from_ref(&audit)).await?;
                Ok(Some(user_rows(conn.any(), user_id).await?))
            })
            .await)
        .map_err(|error| self.pools.fault(error))?;
        rows.map_or(Ok(None), single_user)
    }

    async fn purge_tokens(&self, before: DateTime<Utc>) -> Result<u64, StoreError> {
        let mut conn = self.pools.writer().await?;
        let purge = diesel::delete(
            one_time_tokens::table
                .filter(one_time_tokens::expires_at.lt(Stamp(before)).or(one_time_tokens::used_at.lt(Stamp(before)))),
        );
        let purged = on_backend!(conn.any(), |c| purge.execute(c).await).map_err(|error| self.pools.fault(error))?;
        Ok(u64::try_from(purged).unwrap_or_default())
    }
}
