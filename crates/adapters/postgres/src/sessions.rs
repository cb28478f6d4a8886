//! `SessionRepository` on PostgreSQL.

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel::result::Error as DieselError;
use diesel_async::pooled_connection::deadpool::Pool;
use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl};
use users_domain::UserId;
use users_ports::{
    NewSession, RefreshTokenHash, RefreshTokenUse, SessionId, SessionRepository, SessionState, StoreError,
};

use crate::schema::{refresh_tokens, sessions};
use crate::{checkout, fault};

#[derive(Clone)]
pub struct PgSessionRepository {
    pool: Pool<AsyncPgConnection>,
}

impl std::fmt::Debug for PgSessionRepository {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PgSessionRepository").finish_non_exhaustive()
    }
}

impl PgSessionRepository {
    pub(crate) fn new(pool: Pool<AsyncPgConnection>) -> Self {
        Self { pool }
    }
}

impl SessionRepository for PgSessionRepository {
    async fn create(&self, session: NewSession) -> Result<SessionId, StoreError> {
        let mut conn = checkout(&self.pool).await?;
        let id = conn
            .transaction(async |conn| {
                let id: i64 = diesel::insert_into(sessions::table)
                    .values((
                        sessions::user_id.eq(session.user_id.0),
                        sessions::created_at.eq(session.created_at),
                        sessions::expires_at.eq(session.expires_at),
                    ))
                    .returning(sessions::id)
                    .get_result(conn)
                    .await?;
                diesel::insert_into(refresh_tokens::table)
                    .values((
                        refresh_tokens::token_hash.eq(&session.refresh_token_hash.0),
                        refresh_tokens::session_id.eq(id),
                        refresh_tokens::created_at.eq(session.created_at),
                    ))
                    .execute(conn)
                    .await?;
                Ok::<_, DieselError>(id)
            })
            .await
            .map_err(fault)?;
        Ok(SessionId(id))
    }

    async fn consume_refresh_token(
        &self,
        hash: &RefreshTokenHash,
        now: DateTime<Utc>,
    ) -> Result<RefreshTokenUse, StoreError> {
        let mut conn = checkout(&self.pool).await?;
        // The conditional update is the atomic step: of two concurrent callers, only one finds `used_at` NULL.
        let consumed: Option<i64> = diesel::update(
            refresh_tokens::table
                .filter(refresh_tokens::token_hash.eq(&hash.0))
                .filter(refresh_tokens::used_at.is_null()),
        )
        .set(refresh_tokens::used_at.eq(now))
        .returning(refresh_tokens::session_id)
        .get_result(&mut conn)
        .await
        .optional()
        .map_err(fault)?;
        let Some(session_id) = consumed else {
            let used: Option<i64> = refresh_tokens::table
                .filter(refresh_tokens::token_hash.eq(&hash.0))
                .select(refresh_tokens::session_id)
                .first(&mut conn)
                .await
                .optional()
                .map_err(fault)?;
            return Ok(used.map_or(RefreshTokenUse::Unknown, |id| RefreshTokenUse::Replayed(SessionId(id))));
        };
        let (user_id, expires_at, revoked_at): (i64, DateTime<Utc>, Option<DateTime<Utc>>) = sessions::table
            .find(session_id)
            .select((sessions::user_id, sessions::expires_at, sessions::revoked_at))
            .first(&mut conn)
            .await
            .map_err(fault)?;
        Ok(RefreshTokenUse::Fresh(SessionState {
            id: SessionId(session_id),
            user_id: UserId(user_id),
            expires_at,
            revoked: revoked_at.is_some(),
        }))
    }

    async fn add_refresh_token(
        &self,
        session: SessionId,
        hash: &RefreshTokenHash,
        now: DateTime<Utc>,
        expires_at: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        let mut conn = checkout(&self.pool).await?;
        conn.transaction(async |conn| {
            diesel::insert_into(refresh_tokens::table)
                .values((
                    refresh_tokens::token_hash.eq(&hash.0),
                    refresh_tokens::session_id.eq(session.0),
                    refresh_tokens::created_at.eq(now),
                ))
                .execute(conn)
                .await?;
            diesel::update(sessions::table.find(session.0))
                .set(sessions::expires_at.eq(expires_at))
                .execute(conn)
                .await?;
            Ok::<_, DieselError>(())
        })
        .await
        .map_err(fault)
    }

    async fn find_by_refresh_token(&self, hash: &RefreshTokenHash) -> Result<Option<SessionId>, StoreError> {
        let mut conn = checkout(&self.pool).await?;
        let session: Option<i64> = refresh_tokens::table
            .filter(refresh_tokens::token_hash.eq(&hash.0))
            .select(refresh_tokens::session_id)
            .first(&mut conn)
            .await
            .optional()
            .map_err(fault)?;
        Ok(session.map(SessionId))
    }

    async fn revoke(&self, session: SessionId, now: DateTime<Utc>) -> Result<(), StoreError> {
        let mut conn = checkout(&self.pool).await?;
        diesel::update(sessions::table.find(session.0).filter(sessions::revoked_at.is_null()))
            .set(sessions::revoked_at.eq(now))
            .execute(&mut conn)
            .await
            .map_err(fault)?;
        Ok(())
    }

    async fn revoke_all_of_user(
        &self,
        user: UserId,
        keep: Option<SessionId>,
        now: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        let mut conn = checkout(&self.pool).await?;
        let mut query = diesel::update(sessions::table)
            .filter(sessions::user_id.eq(user.0))
            .filter(sessions::revoked_at.is_null())
            .into_boxed();
        if let Some(keep) = keep {
            query = query.filter(sessions::id.ne(keep.0));
        }
        query.set(sessions::revoked_at.eq(now)).execute(&mut conn).await.map_err(fault)?;
        Ok(())
    }
}
