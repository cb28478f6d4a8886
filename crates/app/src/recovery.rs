//! Proof of an address and a way back into an account: verification mails, password recovery, and the one-time
//! tokens they carry (how long each lives, how often one may be mailed).

use chrono::{DateTime, Duration, Utc};
use users_domain::{ClientDetails, Email, LoginIdentifier, Password, PasswordError, User};
use users_ports::{
    AuditKind, AuditRecord, Clock, Mail, MailContent, MailedToken, NewOneTimeToken, OneTimeToken,
    OneTimeTokenRepository, PasswordHasher, TokenIssue, TokenPurpose, UserRepository,
};

use crate::admin::UserRef;
use crate::audit::{by, by_nobody, by_owner};
use crate::{Adapters, Administrator, Unexpected, UserService, busy_from_hash_errors, unexpected_from_port_errors};

/// How the mailed tokens behave, and whether an address must be proven before its account may sign in.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct EmailPolicy {
    pub verification_ttl: Duration,
    pub reset_ttl: Duration,
    /// At most one mail of each kind per account this often, whoever asks: a mailbox cannot be flooded through us.
    pub mail_interval: Duration,
    /// A correct sign-in of an account whose address is not verified is refused.
    pub require_verified_email: bool,
    /// Asking for a mail is answered no sooner than this, whether an account has the address (a lookup and a write)
    /// or not (a lookup alone), so that the time of the answer tells nothing about accounts.
    pub ask_floor: Duration,
}

impl Default for EmailPolicy {
    fn default() -> Self {
        Self {
            verification_ttl: Duration::hours(24),
            reset_ttl: Duration::minutes(30),
            mail_interval: Duration::seconds(60),
            require_verified_email: false,
            ask_floor: Duration::milliseconds(300),
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum RequestVerificationError {
    #[error(transparent)]
    Unexpected(#[from] Unexpected),
}

#[derive(Debug, thiserror::Error)]
pub enum RequestPasswordResetError {
    #[error(transparent)]
    Unexpected(#[from] Unexpected),
}

#[derive(Debug, thiserror::Error)]
pub enum ConfirmEmailError {
    /// Unknown, used, expired, or made for an address the account no longer has.
    #[error("the token is invalid, used or expired")]
    InvalidToken,
    #[error(transparent)]
    Unexpected(#[from] Unexpected),
}

#[derive(Debug, thiserror::Error)]
pub enum ResetPasswordError {
    /// Unknown, used, expired, voided by a newer one, or made for an address the account no longer has.
    #[error("the token is invalid, used or expired")]
    InvalidToken,
    /// The new password is refused; the token stays usable for a better one.
    #[error("password {0}")]
    WeakPassword(PasswordError),
    /// The password hashers are busy: try again shortly (the token stays usable).
    #[error("the service is busy")]
    Busy,
    /// An admin suspended the account after the link was mailed: a suspended account takes no new password.
    #[error("the account is suspended")]
    AccountSuspended,
    #[error(transparent)]
    Unexpected(#[from] Unexpected),
}

#[derive(Debug, thiserror::Error)]
pub enum SendPasswordResetError {
    #[error("user not found")]
    NotFound,
    /// A suspended account gets no reset mail: lift the suspension first.
    #[error("the account is suspended")]
    AccountSuspended,
    #[error(transparent)]
    Unexpected(#[from] Unexpected),
}

unexpected_from_port_errors!(
    RequestVerificationError,
    RequestPasswordResetError,
    ConfirmEmailError,
    ResetPasswordError,
    SendPasswordResetError
);
busy_from_hash_errors!(ResetPasswordError);

impl<A: Adapters> UserService<A> {
    /// Mails a verification link if an account with an unverified address `email` exists; otherwise does nothing.
    /// Either way it succeeds, no sooner than [`EmailPolicy::ask_floor`]: neither the answer nor its time tells
    /// anything about accounts. What it queued is stored before it returns.
    pub async fn request_verification(&self, email: Email) -> Result<(), RequestVerificationError> {
        let started = self.now();
        let asked = async {
            match self.user_with_email(email).await? {
                Some(user) if !user.email_verified => self.mail_token(&user, TokenPurpose::VerifyEmail, None).await,
                _ => Ok(()),
            }
        };
        let outcome = asked.await;
        self.answer_no_sooner_than_the_floor(started).await;
        Ok(outcome?)
    }

    /// Mails a password-reset link if an account has the address `email`; otherwise does nothing. As with
    /// [`Self::request_verification`], the answer and its time are the same either way.
    pub async fn request_password_reset(
        &self,
        email: Email,
        client: &ClientDetails,
    ) -> Result<(), RequestPasswordResetError> {
        let started = self.now();
        let asked = async {
            match self.user_with_email(email).await? {
                Some(user) => {
                    let asked = by_nobody(AuditKind::PasswordResetRequested, started, client);
                    self.mail_token(&user, TokenPurpose::ResetPassword, Some(asked)).await
                }
                None => Ok(()),
            }
        };
        let outcome = asked.await;
        self.answer_no_sooner_than_the_floor(started).await;
        Ok(outcome?)
    }

    /// Waits out what remains of [`EmailPolicy::ask_floor`] since `started`.
    async fn answer_no_sooner_than_the_floor(&self, started: DateTime<Utc>) {
        let remaining = self.policy.email.ask_floor - (self.now() - started);
        if remaining > Duration::zero() {
            self.clock.sleep(remaining).await;
        }
    }

    /// An admin has a reset link mailed to a user (who keeps their password until they use it).
    pub async fn send_password_reset(
        &self,
        admin: &Administrator,
        user: impl Into<UserRef>,
    ) -> Result<(), SendPasswordResetError> {
        let user = self.find(user.into()).await?.ok_or(SendPasswordResetError::NotFound)?;
        if user.is_suspended(self.now()) {
            return Err(SendPasswordResetError::AccountSuspended);
        }
        let asked = by(admin.current(), AuditKind::PasswordResetRequested, self.now());
        self.mail_token(&user, TokenPurpose::ResetPassword, Some(asked)).await?;
        Ok(())
    }

    /// Uses up a verification token: the address it was mailed to is now verified.
    pub async fn confirm_email(&self, token: &OneTimeToken, client: &ClientDetails) -> Result<User, ConfirmEmailError> {
        let now = self.now();
        let verified = by_owner(AuditKind::EmailVerified, now, client);
        let user = self.one_time_tokens.confirm_email(&token.hash(), now, verified).await?;
        user.map(|user| user.as_of(now)).ok_or(ConfirmEmailError::InvalidToken)
    }

    /// Uses up a reset token to set a new password. Every session of the account ends, its failed sign-ins and locks
    /// are forgotten, and its address counts as verified (the link reached it). A refused password leaves the token
    /// usable.
    pub async fn reset_password(
        &self,
        token: &OneTimeToken,
        password: Password,
        client: &ClientDetails,
    ) -> Result<(), ResetPasswordError> {
        let hash = token.hash();
        let user = self
            .one_time_tokens
            .find_token_user(&hash, TokenPurpose::ResetPassword, self.now())
            .await?
            .ok_or(ResetPasswordError::InvalidToken)?;
        // Suspending voids reset links; one issued as the suspension was written must not undo it either.
        if user.is_suspended(self.now()) {
            return Err(ResetPasswordError::AccountSuspended);
        }
        password.check_not_personal(&user.email, user.username.as_ref()).map_err(ResetPasswordError::WeakPassword)?;
        let password_hash = self.hasher.hash(&password).await?;
        // Checked again as it is used up: it may have been used, or voided, while the password was hashed. The owner
        // hears of it, in case the link was not theirs to use.
        let notice = password_changed_notice(&user.email);
        let now = self.now();
        let reset = by_owner(AuditKind::PasswordReset, now, client);
        let reset = self.one_time_tokens.reset_password(&hash, password_hash, &notice, now, reset).await?;
        reset.map(|_| ()).ok_or(ResetPasswordError::InvalidToken)
    }

    /// A token of `purpose` for `email`, made `now`, and the message that carries it there.
    fn mailed_token(
        &self,
        purpose: TokenPurpose,
        email: &Email,
        now: DateTime<Utc>,
    ) -> Result<MailedToken, Unexpected> {
        let token = OneTimeToken::generate().map_err(|error| Unexpected::fault(error.to_string()))?;
        let (lifetime, content) = match purpose {
            TokenPurpose::VerifyEmail => {
                (self.policy.email.verification_ttl, MailContent::VerifyEmail { token: token.clone() })
            }
            TokenPurpose::ResetPassword => {
                (self.policy.email.reset_ttl, MailContent::ResetPassword { token: token.clone() })
            }
            // Handed to the client that signed in, never mailed.
            TokenPurpose::MfaSignIn => return Err(Unexpected::fault("a sign-in's token is not mailed")),
        };
        Ok(MailedToken {
            token: NewOneTimeToken {
                hash: token.hash(),
                purpose,
                email: email.clone(),
                created_at: now,
                expires_at: now + lifetime,
            },
            mail: Mail { to: email.clone(), content },
        })
    }

    /// Stores a token for the user's address and queues its mail, at most once per [`EmailPolicy::mail_interval`];
    /// a request within it, or for a suspended account, is dropped (and logged), as the caller's answer is the same.
    /// `audit`, if any, is recorded with the token.
    async fn mail_token(
        &self,
        user: &User,
        purpose: TokenPurpose,
        audit: Option<AuditRecord>,
    ) -> Result<(), Unexpected> {
        if user.is_suspended(self.now()) {
            tracing::info!(user = user.id.0, purpose = purpose.as_str(), "mail not sent: the account is suspended");
            return Ok(());
        }
        let mailed = self.mailed_token(purpose, &user.email, self.now())?;
        match self.one_time_tokens.issue_token(user.id, mailed, self.policy.email.mail_interval, audit).await? {
            TokenIssue::Queued => {}
            TokenIssue::TooSoon => tracing::info!(
                user = user.id.0,
                purpose = purpose.as_str(),
                "mail not sent: one was sent within the mail interval"
            ),
            TokenIssue::NotIssued => tracing::info!(
                user = user.id.0,
                purpose = purpose.as_str(),
                "mail not sent: the account or its address changed meanwhile"
            ),
        }
        Ok(())
    }

    async fn user_with_email(&self, email: Email) -> Result<Option<User>, Unexpected> {
        let found = self.users.find_credentials(&LoginIdentifier::Email(email)).await?;
        Ok(found.map(|credentials| credentials.user))
    }

    /// The verification a new address needs: none when it is vouched for (an admin said so), otherwise a token and
    /// its mail, to be stored with the change that brings the address.
    pub(crate) fn verification_for(
        &self,
        email: &Email,
        verified: bool,
        now: DateTime<Utc>,
    ) -> Result<Option<MailedToken>, Unexpected> {
        if verified { Ok(None) } else { self.mailed_token(TokenPurpose::VerifyEmail, email, now).map(Some) }
    }
}

/// What changing an account's address brings with it, stored in the transaction of the change.
#[derive(Debug, Default)]
pub(crate) struct AddressChange {
    pub(crate) email_verified: Option<bool>,
    pub(crate) verification: Option<MailedToken>,
    pub(crate) notices: Vec<Mail>,
}

impl<A: Adapters> UserService<A> {
    /// A new address is unverified and is mailed a verification link; the former one is told of the change, so
    /// that an owner whose account was taken over hears of it. The same address in another spelling is no change.
    pub(crate) fn address_change(
        &self,
        old: &Email,
        new: &Email,
        now: DateTime<Utc>,
    ) -> Result<AddressChange, Unexpected> {
        if !is_new_address(old, new) {
            return Ok(AddressChange::default());
        }
        Ok(AddressChange {
            email_verified: Some(false),
            verification: Some(self.mailed_token(TokenPurpose::VerifyEmail, new, now)?),
            notices: vec![Mail { to: old.clone(), content: MailContent::EmailChanged { new_email: new.clone() } }],
        })
    }
}

/// The notice an account's address gets when its password changes, so that an owner whose account was taken over
/// (a stolen reset link, a stolen session) hears of it.
pub(crate) fn password_changed_notice(address: &Email) -> Mail {
    Mail { to: address.clone(), content: MailContent::PasswordChanged }
}

/// Whether `new` is another address than `old` (not merely another spelling of it).
pub(crate) fn is_new_address(old: &Email, new: &Email) -> bool {
    old.key() != new.key()
}
