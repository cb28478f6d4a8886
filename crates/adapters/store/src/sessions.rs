//! The sessions' queries: `SessionRepository` on diesel, for every backend.

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel::result::Error as DieselError;
use diesel_async::RunQueryDsl;
use users_domain::{ClientDetails, UserId};
use users_ports::{
    EndSessions, NewSession, RefreshTokenHash, RefreshTokenUse, SessionId, SessionKey, SessionRecord,
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
    async fn create(&self, session: NewSession) -> Result<Option<SessionId>, StoreError> {
        let mut conn = self.pools.writer().await?;
        let created = on_backend!(conn.any(), |c| Dialect::create_session(c, &session).await)
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
        let revoked: Option<i64> = on_backend!(conn.any(), |c| revoke.get_result(c).await.optional())
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

    async fn revoke(&self, session: SessionId, now: DateTime<Utc>) -> Result<(), StoreError> {
        let mut conn = self.pools.writer().await?;
        on_backend!(conn.any(), |c| diesel::update(
            sessions::table.find(session.0).filter(sessions::revoked_at.is_null())
        )
        .set(sessions::revoked_at.eq(Stamp(now)))
        .execute(c)
        .await)
        .map_err(|error| self.pools.fault(error))?;
        Ok(())
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
    ) -> Result<(), StoreError> {
        let mut conn = self.pools.writer().await?;
        let ends = keep.map_or(EndSessions::All, EndSessions::AllBut);
        end_sessions(conn.any(), user.0, ends, now).await.map_err(|error| self.pools.fault(error))?;
        Ok(())
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
