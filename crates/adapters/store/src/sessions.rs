//! The sessions' queries: `SessionRepository` on diesel, for every backend.

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel::result::Error as DieselError;
use diesel_async::{AsyncConnection, RunQueryDsl};
use users_domain::{ClientDetails, UserId};
use users_ports::{
    AuditRecord, EndSessions, NewSession, RefreshTokenHash, RefreshTokenUse, SessionId, SessionKey, SessionRecord,
    SessionRepository, SessionState, StoreError,
};

use crate::connection::{AnyConnection as _, Conn, on_backend};
use crate::dialect::Dialect;
use crate::pool::Pools;
use crate::rows::SessionRow;
use crate::schema::{Stamp, refresh_tokens, sessions};

#[derive(Clone)]
pub(crate) struct SessionQueries {
    pools: Pools,
}

impl std::fmt::Debug for SessionQueries {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SessionQueries").finish_non_exhaustive()
    }
}

impl SessionQueries {
    pub(crate) fn new(pools: Pools) -> Self {
        Self { pools }
    }
}

impl SessionRepository for SessionQueries {
    /// The sign-in's event is written with the session, only if the session was started.
    async fn create(&self, session: NewSession) -> Result<Option<SessionId>, StoreError> {
        let mut conn = self.pools.writer().await?;
        let created = on_backend!(conn.any(), |conn| conn
            .transaction::<_, DieselError, _>(async |conn| {
                let created = Dialect::create_session(conn, &session).await?;
                if created.is_some() {
                    crate::audit::record(conn.any(), session.user_id, std::slice::from_ref(&session.audit)).await?;
                }
                Ok(created)
            })
            .await)
        .map_err(|error| self.pools.fault(error))?;
        Ok(created.map(SessionId))
    }

    async fn rotate_refresh_token(
        &self,
        used: &RefreshTokenHash,
        successor: &RefreshTokenHash,
        now: DateTime<Utc>,
        expires_at: DateTime<Utc>,
        client: &ClientDetails,
    ) -> Result<RefreshTokenUse, StoreError> {
        let mut conn = self.pools.writer().await?;
        let rotated = on_backend!(conn.any(), |c| Dialect::rotate_refresh_token(
            c,
            &used.0,
            &successor.0,
            now,
            expires_at,
            client
        )
        .await)
        .map_err(|error| self.pools.fault(error))?;
        if let Some(session) = rotated {
            // The statement stored a successor only for a live session; the state is as it stood before, so the
            // same test tells which it did.
            return Ok(if session.is_live(now) {
                RefreshTokenUse::Rotated(session)
            } else {
                RefreshTokenUse::SessionEnded(session)
            });
        }
        // Not current: used before, unknown, or gone with its user since.
        let earlier: Option<(i64, Option<DateTime<Utc>>)> = on_backend!(conn.any(), |c| refresh_tokens::table
            .filter(refresh_tokens::token_hash.eq(&used.0))
            .select((refresh_tokens::session_id, refresh_tokens::used_at))
            .first(c)
            .await
            .optional())
        .map_err(|error| self.pools.fault(error))?;
        let Some((session_id, Some(used_at))) = earlier else { return Ok(RefreshTokenUse::Unknown) };
        let Some(session) = session_state(conn.any(), session_id).await.map_err(|error| self.pools.fault(error))?
        else {
            return Ok(RefreshTokenUse::Unknown);
        };
        let successor_issued = on_backend!(conn.any(), |c| diesel::select(diesel::dsl::exists(
            refresh_tokens::table
                .filter(refresh_tokens::token_hash.eq(&successor.0))
                .filter(refresh_tokens::session_id.eq(session_id)),
        ))
        .get_result(c)
        .await)
        .map_err(|error| self.pools.fault(error))?;
        Ok(RefreshTokenUse::Replayed { session, used_at, successor_issued })
    }

    async fn list_live(&self, user: UserId, now: DateTime<Utc>) -> Result<Vec<SessionRecord>, StoreError> {
        let mut conn = self.pools.reader().await?;
        let live = sessions::table
            .filter(sessions::user_id.eq(user.0))
            .filter(sessions::revoked_at.is_null())
            .filter(sessions::expires_at.gt(Stamp(now)))
            .order((sessions::last_used_at.desc(), sessions::id.desc()))
            .select(SessionRow::columns());
        let rows: Vec<SessionRow> =
            on_backend!(conn.any(), |c| live.load(c).await).map_err(|error| self.pools.fault(error))?;
        rows.into_iter().map(SessionRow::into_record).collect()
    }

    async fn revoke_by_key(
        &self,
        user: UserId,
        key: &SessionKey,
        now: DateTime<Utc>,
        audit: AuditRecord,
    ) -> Result<Option<SessionId>, StoreError> {
        let mut conn = self.pools.writer().await?;
        // The owner is part of the match: a key names no session of anyone else's, whoever learnt it.
        let revoke = diesel::update(
            sessions::table
                .filter(sessions::public_id.eq(key.as_str()))
                .filter(sessions::user_id.eq(user.0))
                .filter(sessions::revoked_at.is_null())
                .filter(sessions::expires_at.gt(Stamp(now))),
        )
        .set(sessions::revoked_at.eq(Stamp(now)))
        .returning(sessions::id);
        let revoked: Option<i64> = on_backend!(conn.any(), |conn| conn
            .transaction::<_, DieselError, _>(async |conn| {
                let revoked = revoke.get_result(conn).await.optional()?;
                if revoked.is_some() {
                    crate::audit::record(conn.any(), user, std::slice::from_ref(&audit)).await?;
                }
                Ok(revoked)
            })
            .await)
        .map_err(|error| self.pools.fault(error))?;
        Ok(revoked.map(SessionId))
    }

    async fn find_by_refresh_token(&self, hash: &RefreshTokenHash) -> Result<Option<SessionId>, StoreError> {
        let mut conn = self.pools.reader().await?;
        let session: Option<i64> = on_backend!(conn.any(), |c| refresh_tokens::table
            .filter(refresh_tokens::token_hash.eq(&hash.0))
            .select(refresh_tokens::session_id)
            .first(c)
            .await
            .optional())
        .map_err(|error| self.pools.fault(error))?;
        Ok(session.map(SessionId))
    }

    /// The event is written whenever the session exists, also when it had ended already: the port records the
    /// request (a second tab signing out, a replayed refresh token) about the session's user, not only the change.
    /// A session that is gone (purged, or with its user) has no user to record it about.
    async fn revoke(&self, session: SessionId, now: DateTime<Utc>, audit: AuditRecord) -> Result<(), StoreError> {
        let mut conn = self.pools.writer().await?;
        let end = diesel::update(sessions::table.find(session.0).filter(sessions::revoked_at.is_null()))
            .set(sessions::revoked_at.eq(Stamp(now)));
        let owner = sessions::table.find(session.0).select(sessions::user_id);
        on_backend!(conn.any(), |conn| conn
            .transaction::<_, DieselError, _>(async |conn| {
                // Written first, so that the transaction holds the session's row (SQLite: the write lock) before it
                // reads whose it is.
                end.execute(conn).await?;
                if let Some(user) = owner.first::<i64>(conn).await.optional()? {
                    crate::audit::record(conn.any(), UserId(user), std::slice::from_ref(&audit)).await?;
                }
                Ok(())
            })
            .await)
        .map_err(|error| self.pools.fault(error))
    }

    async fn purge_ended(&self, before: DateTime<Utc>) -> Result<u64, StoreError> {
        let mut conn = self.pools.writer().await?;
        // Their refresh tokens go with them (ON DELETE CASCADE).
        let purged = on_backend!(conn.any(), |c| diesel::delete(
            sessions::table.filter(sessions::expires_at.lt(Stamp(before)).or(sessions::revoked_at.lt(Stamp(before))))
        )
        .execute(c)
        .await)
        .map_err(|error| self.pools.fault(error))?;
        Ok(u64::try_from(purged).unwrap_or_default())
    }

    async fn revoke_all_of_user(
        &self,
        user: UserId,
        keep: Option<SessionId>,
        now: DateTime<Utc>,
        audit: AuditRecord,
    ) -> Result<(), StoreError> {
        let mut conn = self.pools.writer().await?;
        let ends = keep.map_or(EndSessions::All, EndSessions::AllBut);
        // Recorded whether or not a session was live: the request was made about the user.
        on_backend!(conn.any(), |conn| conn
            .transaction::<_, DieselError, _>(async |conn| {
                end_sessions(conn.any(), user.0, ends, now).await?;
                crate::audit::record(conn.any(), user, std::slice::from_ref(&audit)).await
            })
            .await)
        .map_err(|error| self.pools.fault(error))
    }
}

/// Ends the user's live sessions that `ends` names; also run inside a user update's transaction.
pub(crate) async fn end_sessions(
    conn: Conn<'_>,
    user_id: i64,
    ends: EndSessions,
    now: DateTime<Utc>,
) -> Result<(), DieselError> {
    on_backend!(conn, |c| {
        let mut query = diesel::update(sessions::table)
            .filter(sessions::user_id.eq(user_id))
            .filter(sessions::revoked_at.is_null())
            .into_boxed();
        if let EndSessions::AllBut(keep) = ends {
            query = query.filter(sessions::id.ne(keep.0));
        }
        query.set(sessions::revoked_at.eq(Stamp(now))).execute(c).await
    })?;
    Ok(())
}

/// The session `session_id` as the refresh flow judges it; `None` if it no longer exists.
pub(crate) async fn session_state(conn: Conn<'_>, session_id: i64) -> Result<Option<SessionState>, DieselError> {
    type SessionRow = (i64, DateTime<Utc>, DateTime<Utc>, Option<DateTime<Utc>>);
    let session: Option<SessionRow> = on_backend!(conn, |c| sessions::table
        .find(session_id)
        .select((sessions::user_id, sessions::created_at, sessions::expires_at, sessions::revoked_at))
        .first(c)
        .await
        .optional())?;
    Ok(session.map(|(user_id, created_at, expires_at, revoked_at)| SessionState {
        id: SessionId(session_id),
        user_id: UserId(user_id),
        // A session is made by a sign-in (or sign-up): its password was entered when it began.
        authenticated_at: created_at,
        expires_at,
        revoked: revoked_at.is_some(),
    }))
}
