//! A second factor: enrolling a TOTP authenticator (pending until a code confirms it, which hands out the recovery
//! codes), removing it, the second step of a sign-in that presents a code, and an admin's removal of a user's factor.

use chrono::{DateTime, Duration, Utc};
use users_domain::{
    AttemptOutcome, ClientDetails, ClientNetwork, LoginIdentifier, RECOVERY_CODES, RecoveryCode, SecondFactorCode,
    TotpCode, TotpStep, User, UserId,
};
use users_ports::{
    AuditKind, MfaSignIn, NewOneTimeToken, OneTimePasswords, OneTimeToken, OneTimeTokenHash, OneTimeTokenRepository,
    RecoveryCodeHash, SealedSecret, SecondFactorError, SecondFactorProof, SecondFactorRepository, SecretSealer,
    StoredCredentials, TokenPurpose, TotpEnrolment, TotpFactor, UserRepository,
};

use crate::account::{PresenceError, presence_errors};
use crate::admin::UserRef;
use crate::audit::by;
use crate::auth::{PasswordCheckError, SecondFactorChallenge};
use crate::{
    Adapters, Administrator, CurrentUser, Reauthentication, SignedIn, Unexpected, UserService,
    unexpected_from_port_errors,
};

/// How long a sign-in waits for its code: long enough to open an app and type six digits, short enough that a
/// token taken from a client's memory soon expires.
pub const MFA_TOKEN_TTL: Duration = Duration::minutes(5);

/// An enrolment under way: the secret, as an app takes it (typed or from a QR code of the URI), shown this once.
#[derive(Clone)]
pub struct TotpEnrolmentStarted {
    /// Base32, to type into an app by hand.
    pub secret: String,
    pub otpauth_uri: String,
}

/// Both fields hold the secret: never printed.
impl std::fmt::Debug for TotpEnrolmentStarted {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("TotpEnrolmentStarted(<redacted>)")
    }
}

#[derive(Debug, thiserror::Error)]
pub enum EnrolTotpError {
    /// A confirmed factor exists: remove it first.
    #[error("a second factor is already enabled")]
    AlreadyEnabled,
    /// The account was deleted while the request was under way.
    #[error("the account no longer exists")]
    AccountGone,
    /// As for [`crate::UpdateProfileError::ReauthenticationRequired`].
    #[error("enrolling a second factor needs the current password")]
    ReauthenticationRequired,
    #[error("too many failed sign-ins; try again later")]
    Locked { retry_after: Duration },
    #[error("the service is busy")]
    Busy,
    #[error(transparent)]
    Unexpected(#[from] Unexpected),
}

#[derive(Debug, thiserror::Error)]
pub enum ConfirmTotpError {
    /// No enrolment waits for a code (none was started, or it is confirmed already).
    #[error("no second factor is waiting to be confirmed")]
    NotPending,
    /// The code is not the current one of the enrolment's secret; counted as a failed sign-in.
    #[error("the code is not valid")]
    InvalidCode,
    /// Too many failed sign-ins (or wrong codes) in a row from this network, or from everywhere.
    #[error("too many failed sign-ins; try again later")]
    Locked { retry_after: Duration },
    #[error(transparent)]
    Unexpected(#[from] Unexpected),
}

#[derive(Debug, thiserror::Error)]
pub enum DisableTotpError {
    #[error("removing the second factor needs the current password")]
    ReauthenticationRequired,
    #[error("too many failed sign-ins; try again later")]
    Locked { retry_after: Duration },
    #[error("the service is busy")]
    Busy,
    #[error(transparent)]
    Unexpected(#[from] Unexpected),
}

#[derive(Debug, thiserror::Error)]
pub enum RemoveSecondFactorError {
    #[error("user not found")]
    NotFound,
    /// An admin's own factor through the admin route needs a recent sign-in, as `DELETE /users/current/mfa/totp`
    /// needs proof of presence: a stolen admin token must not strip it.
    #[error("removing your own second factor needs a recent sign-in")]
    ReauthenticationRequired,
    #[error(transparent)]
    Unexpected(#[from] Unexpected),
}

#[derive(Debug, thiserror::Error)]
pub enum SecondFactorLoginError {
    /// The sign-in's token is unknown, used, expired, or voided (a new password, a new address): sign in again.
    #[error("the sign-in token is invalid, used or expired")]
    InvalidToken,
    /// Neither the current code nor an unused recovery code; counted as a failed sign-in.
    #[error("the code is not valid")]
    InvalidCode,
    #[error("too many failed sign-ins; try again later")]
    Locked { retry_after: Duration },
    /// An admin suspended the account since its password was checked.
    #[error("the account is suspended")]
    AccountSuspended,
    #[error(transparent)]
    Unexpected(#[from] Unexpected),
}

unexpected_from_port_errors!(
    EnrolTotpError,
    ConfirmTotpError,
    DisableTotpError,
    RemoveSecondFactorError,
    SecondFactorLoginError
);
presence_errors!(EnrolTotpError, DisableTotpError);

impl From<SecondFactorError> for ConfirmTotpError {
    fn from(error: SecondFactorError) -> Self {
        Self::Unexpected(error.into())
    }
}

impl From<SecondFactorError> for EnrolTotpError {
    fn from(error: SecondFactorError) -> Self {
        Self::Unexpected(error.into())
    }
}

impl From<PasswordCheckError> for ConfirmTotpError {
    fn from(error: PasswordCheckError) -> Self {
        match error {
            PasswordCheckError::Wrong => Self::InvalidCode,
            PasswordCheckError::Locked { retry_after } => Self::Locked { retry_after },
            PasswordCheckError::Busy => Self::Locked { retry_after: Duration::seconds(1) },
            PasswordCheckError::Unexpected(error) => Self::Unexpected(error),
        }
    }
}

impl From<PasswordCheckError> for SecondFactorLoginError {
    fn from(error: PasswordCheckError) -> Self {
        match error {
            PasswordCheckError::Wrong => Self::InvalidCode,
            PasswordCheckError::Locked { retry_after } => Self::Locked { retry_after },
            // Checking a code takes no hasher.
            PasswordCheckError::Busy => Self::Locked { retry_after: Duration::seconds(1) },
            PasswordCheckError::Unexpected(error) => Self::Unexpected(error),
        }
    }
}

/// A code checked against the user's factor: the proof to use up, or nothing the store need be asked about.
enum CheckedCode {
    Proof(SecondFactorProof),
    Wrong,
    /// The factor was removed since the password was checked: the sign-in is to start again, with the password alone.
    NoFactor,
}

impl<A: Adapters> UserService<A> {
    /// Starts enrolling a TOTP authenticator, given proof of presence: a new secret, stored sealed and pending until
    /// [`Self::confirm_totp`]; sign-ins ask for nothing until then. Starting again replaces a pending secret.
    pub async fn enrol_totp(
        &self,
        current: &CurrentUser,
        proof: Reauthentication,
    ) -> Result<TotpEnrolmentStarted, EnrolTotpError> {
        self.confirm_presence(current, proof).await?;
        let new = self.totp.codes.new_secret(current.user.email.as_ref())?;
        let sealed = self.totp.sealer.seal(&new.secret)?;
        match self.second_factors.start_totp_enrolment(current.user.id, sealed, self.now()).await? {
            TotpEnrolment::Started => Ok(TotpEnrolmentStarted { secret: new.text, otpauth_uri: new.otpauth_uri }),
            TotpEnrolment::AlreadyEnabled => Err(EnrolTotpError::AlreadyEnabled),
            TotpEnrolment::UnknownUser => Err(EnrolTotpError::AccountGone),
        }
    }

    /// Confirms the pending enrolment with a current code of its secret: sign-ins ask for a code from now on, and
    /// the ten recovery codes returned (shown this once; only their hashes are kept) each stand in for one. Throttled
    /// like a sign-in from `network`: a wrong code counts toward the lockout, so a token taken from the owner cannot
    /// guess its way through an enrolment left pending.
    pub async fn confirm_totp(
        &self,
        current: &CurrentUser,
        code: &SecondFactorCode,
        network: &ClientNetwork,
    ) -> Result<Vec<RecoveryCode>, ConfirmTotpError> {
        let user = current.user.id;
        let factor = self.second_factors.find_totp(user).await?;
        let Some(factor) = factor.filter(|factor| !factor.enabled) else { return Err(ConfirmTotpError::NotPending) };
        let credentials = self.users.find_credentials(&LoginIdentifier::Email(current.user.email.clone())).await?;
        // Gone, or its address changed, since the token was checked: nothing to confirm for.
        let credentials = credentials.filter(|found| found.user.id == user).ok_or(ConfirmTotpError::NotPending)?;
        let now = self.now();
        self.begin_attempt(&credentials, network, now).await?;
        let matched = match code {
            SecondFactorCode::Totp(code) => self.match_code(&factor, code, now),
            SecondFactorCode::Recovery(_) | SecondFactorCode::Impossible => Ok(None),
        };
        let outcome = match &matched {
            Ok(Some(_)) => AttemptOutcome::Verified,
            Ok(None) => AttemptOutcome::Refused,
            Err(_) => AttemptOutcome::Abandoned,
        };
        self.end_attempt(user, network, outcome, &current.client).await?;
        let (step, resealed) = matched?.ok_or(ConfirmTotpError::InvalidCode)?;
        let codes = recovery_codes()?;
        let hashes = codes.iter().map(RecoveryCodeHash::of).collect();
        let enabled = by(current, AuditKind::MfaEnabled, now).with("method", "totp");
        // The confirmation proves the app is set up; it is no sign-in. Its own code may still sign in once (a client
        // that confirms and signs in within one step sends the same code twice); every earlier one is refused.
        let before = TotpStep(step.0 - 1);
        let confirmed = self.second_factors.enable_totp(user, &factor.secret, before, resealed, hashes, now, enabled);
        if confirmed.await? {
            Ok(codes)
        } else {
            // Confirmed, or removed, by a concurrent request.
            Err(ConfirmTotpError::NotPending)
        }
    }

    /// Removes the user's second factor (confirmed or pending) and recovery codes, given proof of presence. Removing
    /// none succeeds: the account is as asked.
    pub async fn disable_totp(&self, current: &CurrentUser, proof: Reauthentication) -> Result<(), DisableTotpError> {
        self.confirm_presence(current, proof).await?;
        let now = self.now();
        let disabled = by(current, AuditKind::MfaDisabled, now).with("method", "totp");
        self.second_factors.remove_totp(current.user.id, now, disabled).await?;
        Ok(())
    }

    /// An admin removes a user's second factor (a lost phone and lost recovery codes): the user signs in with their
    /// password alone until they enrol again.
    pub async fn remove_second_factor(
        &self,
        admin: &Administrator,
        user: impl Into<UserRef>,
    ) -> Result<(), RemoveSecondFactorError> {
        let user = self.find(user.into()).await?.ok_or(RemoveSecondFactorError::NotFound)?;
        if user.id == admin.current().user.id && !self.signed_in_recently(admin.current()) {
            return Err(RemoveSecondFactorError::ReauthenticationRequired);
        }
        let now = self.now();
        let disabled = by(admin.current(), AuditKind::MfaDisabled, now).with("method", "totp");
        self.second_factors.remove_totp(user.id, now, disabled).await?;
        Ok(())
    }

    /// The second step of a sign-in: the token the first step handed out and a code, a current TOTP code (each
    /// accepted once per account, on every instance) or an unused recovery code. Throttled like a password: a wrong
    /// code counts toward the lockout from `network`, a right one forgets the failures. The token is used up only
    /// by a right code.
    pub async fn login_with_second_factor(
        &self,
        mfa_token: &OneTimeToken,
        code: &SecondFactorCode,
        network: &ClientNetwork,
        client: &ClientDetails,
    ) -> Result<SignedIn, SecondFactorLoginError> {
        let token = mfa_token.hash();
        let now = self.now();
        let user = self.one_time_tokens.find_token_user(&token, TokenPurpose::MfaSignIn, now).await?;
        let user = user.ok_or(SecondFactorLoginError::InvalidToken)?;
        if user.is_suspended(now) {
            return Err(SecondFactorLoginError::AccountSuspended);
        }
        let credentials = self.users.find_credentials(&LoginIdentifier::Email(user.email.clone())).await?;
        let credentials =
            credentials.filter(|found| found.user.id == user.id).ok_or(SecondFactorLoginError::InvalidToken)?;
        self.begin_attempt(&credentials, network, now).await?;
        let checked = self.check_code(user.id, code, now).await;
        let (outcome, answer) = match checked {
            Ok(CheckedCode::Proof(proof)) => self.finish_second_step(&token, proof, &credentials, client, now).await,
            Ok(CheckedCode::Wrong) => (AttemptOutcome::Refused, Err(SecondFactorLoginError::InvalidCode)),
            Ok(CheckedCode::NoFactor) => (AttemptOutcome::Abandoned, Err(SecondFactorLoginError::InvalidToken)),
            Err(error) => (AttemptOutcome::Abandoned, Err(error)),
        };
        self.end_attempt(user.id, network, outcome, client).await?;
        answer
    }

    /// Starts the session of a sign-in whose code was right, using up its token and the code with it; the attempt's
    /// outcome for the lockout, and the answer.
    async fn finish_second_step(
        &self,
        token: &OneTimeTokenHash,
        proof: SecondFactorProof,
        credentials: &StoredCredentials,
        client: &ClientDetails,
        now: DateTime<Utc>,
    ) -> (AttemptOutcome, Result<SignedIn, SecondFactorLoginError>) {
        let factor = match &proof {
            SecondFactorProof::Totp { .. } => "totp",
            SecondFactorProof::RecoveryCode(_) => "recovery_code",
        };
        let user = &credentials.user;
        let started = async {
            let (mut session, refresh_token) = self.new_session(user, &credentials.password_hash, None, client, now)?;
            session.audit = session.audit.with("second_factor", factor);
            let finished = self.second_factors.finish_mfa_sign_in(token, proof, session).await?;
            Ok::<_, Unexpected>((finished, refresh_token))
        };
        match started.await {
            Ok((MfaSignIn::Started(session), refresh_token)) => {
                let tokens = self.token_pair(user, session, now, refresh_token, now);
                let signed_in = tokens
                    .map(|tokens| SignedIn { user: User { last_sign_in_at: Some(now), ..user.clone() }, tokens })
                    .map_err(SecondFactorLoginError::from);
                (AttemptOutcome::Verified, signed_in)
            }
            // A replay of a code used meanwhile, here or on another instance, or a recovery code used up.
            Ok((MfaSignIn::ProofRefused, _)) => (AttemptOutcome::Refused, Err(SecondFactorLoginError::InvalidCode)),
            // Used by a concurrent request, or voided, or the password changed, since the token was read.
            Ok((MfaSignIn::TokenUnusable | MfaSignIn::NotStarted, _)) => {
                (AttemptOutcome::Abandoned, Err(SecondFactorLoginError::InvalidToken))
            }
            Err(error) => (AttemptOutcome::Abandoned, Err(error.into())),
        }
    }

    /// What `code` proves of the user's factor at `now`: for a TOTP code, the step it matches (if later than the
    /// last used; the store checks that again as it uses it up); a recovery code is the store's to judge. Nothing,
    /// once the factor is gone.
    async fn check_code(
        &self,
        user: UserId,
        code: &SecondFactorCode,
        now: DateTime<Utc>,
    ) -> Result<CheckedCode, SecondFactorLoginError> {
        let factor = self.second_factors.find_totp(user).await?;
        let Some(factor) = factor.filter(|factor| factor.enabled) else { return Ok(CheckedCode::NoFactor) };
        match code {
            SecondFactorCode::Totp(code) => {
                let matched = self.match_code(&factor, code, now).map_err(SecondFactorLoginError::Unexpected)?;
                Ok(match matched {
                    Some((step, resealed)) => CheckedCode::Proof(SecondFactorProof::Totp { step, resealed }),
                    None => CheckedCode::Wrong,
                })
            }
            SecondFactorCode::Recovery(code) => {
                Ok(CheckedCode::Proof(SecondFactorProof::RecoveryCode(RecoveryCodeHash::of(code))))
            }
            SecondFactorCode::Impossible => Ok(CheckedCode::Wrong),
        }
    }

    /// The step `code` belongs to in the factor's window at `now`, if it is later than the last step used, with the
    /// secret sealed again with the current key when an older one sealed it.
    fn match_code(
        &self,
        factor: &TotpFactor,
        code: &TotpCode,
        now: DateTime<Utc>,
    ) -> Result<Option<(TotpStep, Option<SealedSecret>)>, Unexpected> {
        let opened = self.totp.sealer.open(&factor.secret)?;
        let Some(step) = self.totp.codes.matching_step(&opened.secret, code, now) else { return Ok(None) };
        if factor.last_used_step.is_some_and(|last| step <= last) {
            return Ok(None);
        }
        let resealed = if opened.sealed_with_old_key { Some(self.totp.sealer.seal(&opened.secret)?) } else { None };
        Ok(Some((step, resealed)))
    }

    /// The token of a sign-in waiting for its code, stored for the user's address as it is; `None` if the user is
    /// gone or has another address now.
    pub(crate) async fn challenge(
        &self,
        user: &User,
        now: DateTime<Utc>,
    ) -> Result<Option<SecondFactorChallenge>, Unexpected> {
        let mfa_token = OneTimeToken::generate().map_err(|error| Unexpected::fault(error.to_string()))?;
        let token = NewOneTimeToken {
            hash: mfa_token.hash(),
            purpose: TokenPurpose::MfaSignIn,
            email: user.email.clone(),
            created_at: now,
            expires_at: now + MFA_TOKEN_TTL,
        };
        let stored = self.second_factors.start_mfa_sign_in(user.id, token).await?;
        Ok(stored.then(|| SecondFactorChallenge { mfa_token, expires_in: MFA_TOKEN_TTL.num_seconds() }))
    }
}

/// Ten fresh recovery codes from the operating system's generator.
fn recovery_codes() -> Result<Vec<RecoveryCode>, Unexpected> {
    (0..RECOVERY_CODES)
        .map(|_| {
            let mut bytes = [0u8; 10];
            getrandom::fill(&mut bytes).map_err(|error| Unexpected::fault(error.to_string()))?;
            Ok(RecoveryCode::from_random(bytes))
        })
        .collect()
}
