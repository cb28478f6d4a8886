//! `SecondFactorRepository` in memory: each user's TOTP factor and recovery codes, and the sign-ins waiting for one
//! of them (one-time tokens of their own purpose), each call's checks all made before anything is written.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use users_domain::{TotpStep, UserId};
use users_ports::{
    AuditRecord, MfaSignIn, NewOneTimeToken, NewSession, OneTimeTokenHash, RecoveryCodeHash, SealedSecret,
    SecondFactorProof, SecondFactorRepository, StoreError, TokenPurpose, TotpEnrolment, TotpFactor, TotpRemoval,
};

use crate::{MemoryStore, State, StoredOneTimeToken};

#[derive(Clone, Debug)]
pub struct MemorySecondFactors {
    store: MemoryStore,
}

impl MemorySecondFactors {
    pub(crate) fn new(store: MemoryStore) -> Self {
        Self { store }
    }
}

/// A user's factor as the SQL stores' `totp_factors` row keeps it.
pub(crate) struct StoredFactor {
    secret: SealedSecret,
    enabled: bool,
    last_used_step: Option<TotpStep>,
}

impl State {
    /// Whether the proof would be accepted for the user now: a step later than the last one used, of a confirmed
    /// factor; or a recovery code the user has unused.
    fn accepts(&self, user: UserId, proof: &SecondFactorProof) -> bool {
        match proof {
            SecondFactorProof::Totp { step, .. } => self.totp_factors.get(&user).is_some_and(|factor| {
                factor.enabled && factor.last_used_step.is_none_or(|last_used| last_used < *step)
            }),
            SecondFactorProof::RecoveryCode(code) => {
                self.recovery_codes.get(&user).and_then(|codes| codes.get(code)).is_some_and(Option::is_none)
            }
        }
    }

    /// Uses up a proof [`State::accepts`] accepted.
    fn use_proof(&mut self, user: UserId, proof: SecondFactorProof, now: DateTime<Utc>) {
        match proof {
            SecondFactorProof::Totp { step, resealed } => {
                if let Some(factor) = self.totp_factors.get_mut(&user) {
                    factor.last_used_step = Some(step);
                    if let Some(resealed) = resealed {
                        factor.secret = resealed;
                    }
                }
            }
            SecondFactorProof::RecoveryCode(code) => {
                if let Some(used_at) = self.recovery_codes.get_mut(&user).and_then(|codes| codes.get_mut(&code)) {
                    *used_at = Some(now);
                }
            }
        }
    }
}

impl SecondFactorRepository for MemorySecondFactors {
    async fn start_totp_enrolment(
        &self,
        user: UserId,
        secret: SealedSecret,
        _now: DateTime<Utc>,
    ) -> Result<TotpEnrolment, StoreError> {
        let mut state = self.store.lock();
        if !state.users.contains_key(&user) {
            return Ok(TotpEnrolment::UnknownUser);
        }
        if state.totp_factors.get(&user).is_some_and(|factor| factor.enabled) {
            return Ok(TotpEnrolment::AlreadyEnabled);
        }
        state.totp_factors.insert(user, StoredFactor { secret, enabled: false, last_used_step: None });
        Ok(TotpEnrolment::Started)
    }

    async fn find_totp(&self, user: UserId) -> Result<Option<TotpFactor>, StoreError> {
        let state = self.store.lock();
        Ok(state.totp_factors.get(&user).map(|factor| TotpFactor {
            secret: factor.secret.clone(),
            enabled: factor.enabled,
            last_used_step: factor.last_used_step,
        }))
    }

    /// The user's `updated_at` moves with `mfa_enabled` (here and when a confirmed factor is removed), as the SQL
    /// stores move it.
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
        let mut state = self.store.lock();
        let pending = state.users.contains_key(&user)
            && state.totp_factors.get(&user).is_some_and(|factor| !factor.enabled && factor.secret == *checked);
        if !pending {
            return Ok(false);
        }
        let codes: HashMap<RecoveryCodeHash, Option<DateTime<Utc>>> =
            recovery_codes.iter().map(|code| (code.clone(), None)).collect();
        // As the SQL stores' primary key refuses a code given twice.
        if codes.len() != recovery_codes.len() {
            return Err(StoreError::new("recovery code given twice"));
        }
        if let Some(factor) = state.totp_factors.get_mut(&user) {
            factor.enabled = true;
            factor.last_used_step = Some(step);
            if let Some(resealed) = resealed {
                factor.secret = resealed;
            }
        }
        if let Some(stored) = state.users.get_mut(&user) {
            stored.user.mfa_enabled = true;
            stored.user.updated_at = now;
        }
        state.recovery_codes.insert(user, codes);
        state.record(user, [audit]);
        Ok(true)
    }

    async fn remove_totp(
        &self,
        user: UserId,
        now: DateTime<Utc>,
        audit: AuditRecord,
    ) -> Result<TotpRemoval, StoreError> {
        let mut state = self.store.lock();
        state.recovery_codes.remove(&user);
        let Some(removed) = state.totp_factors.remove(&user) else { return Ok(TotpRemoval::Nothing) };
        if !removed.enabled {
            return Ok(TotpRemoval::Pending);
        }
        if let Some(stored) = state.users.get_mut(&user) {
            stored.user.mfa_enabled = false;
            stored.user.updated_at = now;
        }
        state.record(user, [audit]);
        Ok(TotpRemoval::Enabled)
    }

    /// Of the sign-in's purpose whatever `token` says, as the SQL stores write it.
    async fn start_mfa_sign_in(&self, user: UserId, token: NewOneTimeToken) -> Result<bool, StoreError> {
        let mut state = self.store.lock();
        let key = token.email.key();
        if state.users.get(&user).is_none_or(|stored| stored.user.email.key() != key) {
            return Ok(false);
        }
        if state.one_time_tokens.contains_key(&token.hash) {
            return Err(StoreError::new("one-time token already stored"));
        }
        let waiting = StoredOneTimeToken {
            user,
            purpose: TokenPurpose::MfaSignIn,
            email_key: key,
            created_at: token.created_at,
            expires_at: token.expires_at,
            used_at: None,
        };
        state.one_time_tokens.insert(token.hash, waiting);
        Ok(true)
    }

    async fn finish_mfa_sign_in(
        &self,
        token: &OneTimeTokenHash,
        proof: SecondFactorProof,
        session: NewSession,
    ) -> Result<MfaSignIn, StoreError> {
        let mut state = self.store.lock();
        let (user, now) = (session.user_id, session.created_at);
        if state.token_user(token, TokenPurpose::MfaSignIn, now) != Some(user) {
            return Ok(MfaSignIn::TokenUnusable);
        }
        if !state.accepts(user, &proof) {
            return Ok(MfaSignIn::ProofRefused);
        }
        if !state.may_start_session(&session)? {
            return Ok(MfaSignIn::NotStarted);
        }
        state.use_up(token, TokenPurpose::MfaSignIn, now);
        state.use_proof(user, proof, now);
        Ok(MfaSignIn::Started(state.start_session(session)))
    }
}
