//! The second factor's queries: `SecondFactorRepository` on diesel, for every backend. A user's TOTP factor (pending
//! until confirmed, with the last time step a code was accepted in), their recovery codes by hash, and the sign-ins
//! that wait for one of them, which are one-time tokens of their own purpose.
//!
//! Every transaction that writes a factor or its codes locks the user's row first (on SQLite, takes the write lock),
//! as the use of a sign-in's token does and as the user's deletion cascades: they take turns in one order, and never
//! wait for each other the other way round.

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel::result::Error as DieselError;
use diesel::sql_types::Text;
use diesel_async::{AsyncConnection, RunQueryDsl};
use users_domain::{TotpStep, UserId};
use users_ports::{
    AuditRecord, MfaSignIn, NewOneTimeToken, NewSession, OneTimeTokenHash, RecoveryCodeHash, SealedSecret,
    SecondFactorProof, SecondFactorRepository, SessionId, StoreError, TokenPurpose, TotpEnrolment, TotpFactor,
    TotpRemoval,
};

use crate::connection::{AnyConnection as _, Conn, on_backend};
use crate::dialect::Dialect;
use crate::pool::Pools;
use crate::schema::{Stamp, StoredTime, one_time_tokens, recovery_codes, totp_factors, users};

#[derive(Clone)]
pub(crate) struct SecondFactorQueries {
    pools: Pools,
}

impl std::fmt::Debug for SecondFactorQueries {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SecondFactorQueries").finish_non_exhaustive()
    }
}

impl SecondFactorQueries {
    pub(crate) fn new(pools: Pools) -> Self {
        Self { pools }
    }
}

/// A factor's use by a code of `last_used_step`: by its confirmation (which also sets `enabled_at`) or by a sign-in.
/// The secret is written only when it was sealed again with the current key.
#[derive(AsChangeset)]
#[diesel(table_name = totp_factors)]
struct TotpUse<'a> {
    secret: Option<&'a str>,
    enabled_at: Option<Stamp>,
    last_used_step: i64,
}

/// Why finishing a sign-in wrote nothing: a refusal, which rolls the transaction back like an error (the token the
/// transaction had used up is usable again), or a database error.
enum Finish {
    Refused(MfaSignIn),
    Database(DieselError),
}

impl From<DieselError> for Finish {
    fn from(error: DieselError) -> Self {
        Self::Database(error)
    }
}

/// Locks the user's row for the rest of the transaction (see the module's documentation); whether the user exists.
async fn lock_user(mut conn: Conn<'_>, user: UserId) -> Result<bool, DieselError> {
    let key = on_backend!(conn.any(), |c| Dialect::lock_user_email_key(c, user.0).await)?;
    Ok(key.is_some())
}

async fn delete_recovery_codes(conn: Conn<'_>, user: UserId) -> Result<(), DieselError> {
    let delete = diesel::delete(recovery_codes::table.filter(recovery_codes::user_id.eq(user.0)));
    on_backend!(conn, |c| delete.execute(c).await)?;
    Ok(())
}

/// Replaces the user's recovery codes with `codes`, unused, made at `now`. One insert each: not every backend takes
/// a multi-row `VALUES` through diesel-async, and ten small statements in a rare transaction cost little.
async fn replace_recovery_codes(
    mut conn: Conn<'_>,
    user: UserId,
    codes: &[RecoveryCodeHash],
    now: DateTime<Utc>,
) -> Result<(), DieselError> {
    delete_recovery_codes(conn.any(), user).await?;
    for code in codes {
        let insert = diesel::insert_into(recovery_codes::table).values((
            recovery_codes::user_id.eq(user.0),
            recovery_codes::code_hash.eq(&code.0),
            recovery_codes::created_at.eq(Stamp(now)),
        ));
        on_backend!(conn.any(), |c| insert.execute(c).await)?;
    }
    Ok(())
}

/// Uses up the proof for the user, in the caller's transaction; whether it was accepted. A code's step must be later
/// than the last one accepted: of two sign-ins presenting one code at once, on this instance or another, the second
/// finds the step used (PostgreSQL re-reads the row once the first's lock is let go; SQLite's writer runs them one
/// after the other).
async fn use_proof(
    mut conn: Conn<'_>,
    user: UserId,
    proof: &SecondFactorProof,
    now: DateTime<Utc>,
) -> Result<bool, DieselError> {
    let used = match proof {
        SecondFactorProof::Totp { step, resealed } => {
            let unused_step = totp_factors::table
                .find(user.0)
                .filter(totp_factors::enabled_at.is_not_null())
                .filter(totp_factors::last_used_step.is_null().or(totp_factors::last_used_step.lt(step.0)));
            let use_step = diesel::update(unused_step).set(TotpUse {
                secret: resealed.as_ref().map(|sealed| sealed.0.as_str()),
                enabled_at: None,
                last_used_step: step.0,
            });
            on_backend!(conn.any(), |c| use_step.execute(c).await)?
        }
        SecondFactorProof::RecoveryCode(code) => {
            let unused = recovery_codes::table
                .filter(recovery_codes::user_id.eq(user.0))
                .filter(recovery_codes::code_hash.eq(&code.0))
                .filter(recovery_codes::used_at.is_null());
            let use_code = diesel::update(unused).set(recovery_codes::used_at.eq(Stamp(now)));
            on_backend!(conn.any(), |c| use_code.execute(c).await)?
        }
    };
    Ok(used > 0)
}

impl SecondFactorRepository for SecondFactorQueries {
    async fn start_totp_enrolment(
        &self,
        user: UserId,
        secret: SealedSecret,
        now: DateTime<Utc>,
    ) -> Result<TotpEnrolment, StoreError> {
        let mut conn = self.pools.writer().await?;
        let secret = secret.0.as_str();
        on_backend!(conn.any(), |conn| conn
            .transaction::<_, DieselError, _>(async |conn| {
                if !lock_user(conn.any(), user).await? {
                    return Ok(TotpEnrolment::UnknownUser);
                }
                // A pending enrolment is replaced; a confirmed factor is left as it is (the update's condition), and
                // nothing is written.
                let upsert = diesel::insert_into(totp_factors::table)
                    .values((
                        totp_factors::user_id.eq(user.0),
                        totp_factors::secret.eq(secret),
                        totp_factors::created_at.eq(Stamp(now)),
                    ))
                    .on_conflict(totp_factors::user_id)
                    .do_update()
                    .set((totp_factors::secret.eq(secret), totp_factors::created_at.eq(Stamp(now))));
                // The `WHERE` of `DO UPDATE` (the statement is no query, so `QueryDsl::filter` is not its own).
                let stored = diesel::query_dsl::methods::FilterDsl::filter(upsert, totp_factors::enabled_at.is_null())
                    .execute(conn)
                    .await?;
                Ok(if stored == 0 { TotpEnrolment::AlreadyEnabled } else { TotpEnrolment::Started })
            })
            .await)
        .map_err(|error| self.pools.fault(error))
    }

    async fn find_totp(&self, user: UserId) -> Result<Option<TotpFactor>, StoreError> {
        let mut conn = self.pools.reader().await?;
        let factor = totp_factors::table.find(user.0).select((
            totp_factors::secret,
            totp_factors::enabled_at,
            totp_factors::last_used_step,
        ));
        let row: Option<(String, Option<DateTime<Utc>>, Option<i64>)> =
            on_backend!(conn.any(), |c| factor.first(c).await.optional()).map_err(|error| self.pools.fault(error))?;
        Ok(row.map(|(secret, enabled_at, last_used_step)| TotpFactor {
            secret: SealedSecret(secret),
            enabled: enabled_at.is_some(),
            last_used_step: last_used_step.map(TotpStep),
        }))
    }

    /// The user's `updated_at` moves with `mfa_enabled` (here and when a confirmed factor is removed), as it does when
    /// the address is verified.
    async fn enable_totp(
        &self,
        user: UserId,
        checked: &SealedSecret,
        step: TotpStep,
        resealed: Option<SealedSecret>,
        recovery_codes: Vec<RecoveryCodeHash>,
        now: DateTime<Utc>,
        audit: AuditRecord,
    ) -> Result<bool, StoreError> {
        let mut conn = self.pools.writer().await?;
        on_backend!(conn.any(), |conn| conn
            .transaction::<_, DieselError, _>(async |conn| {
                if !lock_user(conn.any(), user).await? {
                    return Ok(false);
                }
                let pending = totp_factors::table
                    .find(user.0)
                    .filter(totp_factors::enabled_at.is_null())
                    .filter(totp_factors::secret.eq(&checked.0));
                let confirmed = diesel::update(pending)
                    .set(TotpUse {
                        secret: resealed.as_ref().map(|sealed| sealed.0.as_str()),
                        enabled_at: Some(Stamp(now)),
                        last_used_step: step.0,
                    })
                    .execute(conn)
                    .await?;
                if confirmed == 0 {
                    return Ok(false);
                }
                diesel::update(users::table.find(user.0))
                    .set((users::mfa_enabled.eq(true), users::updated_at.eq(Stamp(now))))
                    .execute(conn)
                    .await?;
                replace_recovery_codes(conn.any(), user, &recovery_codes, now).await?;
                crate::audit::record(conn.any(), user, std::slice::from_ref(&audit)).await?;
                Ok(true)
            })
            .await)
        .map_err(|error| self.pools.fault(error))
    }

    async fn remove_totp(
        &self,
        user: UserId,
        now: DateTime<Utc>,
        audit: AuditRecord,
    ) -> Result<TotpRemoval, StoreError> {
        let mut conn = self.pools.writer().await?;
        on_backend!(conn.any(), |conn| conn
            .transaction::<_, DieselError, _>(async |conn| {
                if !lock_user(conn.any(), user).await? {
                    return Ok(TotpRemoval::Nothing);
                }
                let removed: Option<Option<DateTime<Utc>>> = diesel::delete(totp_factors::table.find(user.0))
                    .returning(totp_factors::enabled_at)
                    .get_result(conn)
                    .await
                    .optional()?;
                delete_recovery_codes(conn.any(), user).await?;
                match removed {
                    None => Ok(TotpRemoval::Nothing),
                    Some(None) => Ok(TotpRemoval::Pending),
                    Some(Some(_)) => {
                        diesel::update(users::table.find(user.0))
                            .set((users::mfa_enabled.eq(false), users::updated_at.eq(Stamp(now))))
                            .execute(conn)
                            .await?;
                        crate::audit::record(conn.any(), user, std::slice::from_ref(&audit)).await?;
                        Ok(TotpRemoval::Enabled)
                    }
                }
            })
            .await)
        .map_err(|error| self.pools.fault(error))
    }

    /// One statement: the token is stored only while the user has the address it names, as its later use requires.
    /// It is of the sign-in's purpose whatever `token` says, so that it can never be taken for a mailed link.
    async fn start_mfa_sign_in(&self, user: UserId, token: NewOneTimeToken) -> Result<bool, StoreError> {
        let mut conn = self.pools.writer().await?;
        let key = token.email.key().into_string();
        let waiting = users::table.filter(users::id.eq(user.0)).filter(users::email_key.eq(&key)).select((
            token.hash.0.as_str().into_sql::<Text>(),
            users::id,
            TokenPurpose::MfaSignIn.as_str().into_sql::<Text>(),
            key.as_str().into_sql::<Text>(),
            Stamp(token.created_at).into_sql::<StoredTime>(),
            Stamp(token.expires_at).into_sql::<StoredTime>(),
        ));
        let insert = diesel::insert_into(one_time_tokens::table).values(waiting).into_columns((
            one_time_tokens::token_hash,
            one_time_tokens::user_id,
            one_time_tokens::purpose,
            one_time_tokens::email_key,
            one_time_tokens::created_at,
            one_time_tokens::expires_at,
        ));
        let stored = on_backend!(conn.any(), |c| insert.execute(c).await).map_err(|error| self.pools.fault(error))?;
        Ok(stored > 0)
    }

    /// The token is used up first: that locks the user's row (on SQLite, takes the write lock), so sign-ins of one
    /// user finish one after the other, and each sees the step or code the one before used.
    async fn finish_mfa_sign_in(
        &self,
        token: &OneTimeTokenHash,
        proof: SecondFactorProof,
        session: NewSession,
    ) -> Result<MfaSignIn, StoreError> {
        let mut conn = self.pools.writer().await?;
        let (user, now) = (session.user_id, session.created_at);
        let finished = on_backend!(conn.any(), |conn| conn
            .transaction::<_, Finish, _>(async |conn| {
                let owner = crate::one_time_tokens::use_up(conn.any(), token, TokenPurpose::MfaSignIn, now).await?;
                if owner != Some(user.0) {
                    return Err(Finish::Refused(MfaSignIn::TokenUnusable));
                }
                if !use_proof(conn.any(), user, &proof, now).await? {
                    return Err(Finish::Refused(MfaSignIn::ProofRefused));
                }
                let Some(started) = Dialect::create_session(conn, &session).await? else {
                    return Err(Finish::Refused(MfaSignIn::NotStarted));
                };
                crate::audit::record(conn.any(), user, std::slice::from_ref(&session.audit)).await?;
                Ok(MfaSignIn::Started(SessionId(started)))
            })
            .await);
        match finished {
            Ok(started) => Ok(started),
            Err(Finish::Refused(refused)) => Ok(refused),
            Err(Finish::Database(error)) => Err(self.pools.fault(error)),
        }
    }
}
