//! Second factors: a TOTP enrolment pending until confirmed, then a factor the user's row says they have, with
//! single-use recovery codes; a sign-in that waits for a code as a one-time token, finished at most once, with a code
//! of a step later than the last one used or an unused recovery code; and every refusal writing nothing.

use chrono::{DateTime, Utc};
use futures_util::future::join_all;
use users_domain::{LoginIdentifier, RecoveryCode, TotpStep, User, UserId};
use users_ports::{
    AuditEvent, AuditKind, AuditLog, AuditQuery, MfaSignIn, NewSession, OneTimeTokenRepository, RecoveryCodeHash,
    SealedSecret, SecondFactorProof, SecondFactorRepository, SessionRepository, TokenPurpose, TotpEnrolment,
    TotpFactor, TotpRemoval, UserRepository, UserUpdate,
};

use crate::fixtures::{
    audit, email, insert_ok, mailed_token, mfa_token, new_session, new_user, now, one_time, other_password_hash,
    seconds, signed_in_at, suspension, touch,
};

/// The step Ada's factor is confirmed with in these tests: any step will do, the store does no arithmetic.
const CONFIRMED: TotpStep = TotpStep(58_000_000);

fn sealed(text: &str) -> SealedSecret {
    SealedSecret(format!("v1.test-key.{text}"))
}

/// The `n`th of a user's recovery codes, distinct for every `n`.
fn recovery_code(n: u8) -> RecoveryCode {
    RecoveryCode::from_random([n, 0x5a, 0xc3, n, 0x11, 0x22, 0x33, 0x44, 0x55, n])
}

fn recovery(n: u8) -> RecoveryCodeHash {
    RecoveryCodeHash::of(&recovery_code(n))
}

/// The hashes of recovery codes `first` to `first + 9`, as a confirmation stores them.
fn ten_codes(first: u8) -> Vec<RecoveryCodeHash> {
    (first..first + 10).map(recovery).collect()
}

fn code_of(step: i64) -> SecondFactorProof {
    SecondFactorProof::Totp { step: TotpStep(step), resealed: None }
}

/// A session of `user` started at `at` by a second step, its refresh token named `refresh`.
fn session(user: UserId, refresh: &str, at: DateTime<Utc>) -> NewSession {
    new_session(user, refresh, at, at + seconds(3600))
}

/// The user's events of `kind`, newest first.
async fn events<A: AuditLog>(log: &A, user: UserId, kind: AuditKind) -> Vec<AuditEvent> {
    let query = AuditQuery { user: Some(user), kind: Some(kind), before: None, limit: 100 };
    log.list_events(query).await.expect("list events")
}

async fn factor<F: SecondFactorRepository>(factors: &F, user: UserId) -> Option<TotpFactor> {
    factors.find_totp(user).await.expect("find the factor")
}

/// Whether the sign-in token `text` would still be taken at `at`.
async fn waiting<T: OneTimeTokenRepository>(tokens: &T, text: &str, at: DateTime<Utc>) -> Option<User> {
    tokens.find_token_user(&one_time(text), TokenPurpose::MfaSignIn, at).await.expect("find the token's user")
}

/// Ada, with a TOTP factor confirmed at `t` with a code of [`CONFIRMED`] and recovery codes 0 to 9; as she is then.
async fn ada_with_a_factor<U: UserRepository, F: SecondFactorRepository>(
    users: &U,
    factors: &F,
    t: DateTime<Utc>,
) -> User {
    let ada = insert_ok(users, new_user(1, "ada@example.com", t)).await;
    assert_eq!(factors.start_totp_enrolment(ada.id, sealed("ada"), t).await.unwrap(), TotpEnrolment::Started);
    let enabled = factors
        .enable_totp(ada.id, &sealed("ada"), CONFIRMED, None, ten_codes(0), t, audit(AuditKind::MfaEnabled, t))
        .await
        .unwrap();
    assert!(enabled);
    User { mfa_enabled: true, ..ada }
}

/// Starts the sign-in `text` of Ada at `at`, waiting for her code.
async fn waiting_for_a_code<F: SecondFactorRepository>(factors: &F, ada: &User, text: &str, at: DateTime<Utc>) {
    let started = factors.start_mfa_sign_in(ada.id, mfa_token(text, "ada@example.com", at)).await.unwrap();
    assert!(started, "the sign-in {text} waits");
}

async fn finish<F: SecondFactorRepository>(
    factors: &F,
    text: &str,
    proof: SecondFactorProof,
    session: NewSession,
) -> MfaSignIn {
    factors.finish_mfa_sign_in(&one_time(text), proof, session).await.expect("finish the sign-in")
}

pub async fn an_enrolment_is_pending_until_confirmed<
    U: UserRepository,
    S: SessionRepository,
    T: OneTimeTokenRepository,
    F: SecondFactorRepository,
    A: AuditLog,
>(
    users: U,
    _sessions: S,
    _tokens: T,
    factors: F,
    _log: A,
) {
    // Given a user with no second factor,
    let t = now();
    let ada = insert_ok(&users, new_user(1, "ada@example.com", t)).await;
    assert_eq!(factor(&factors, ada.id).await, None);

    // when she starts an enrolment, then her secret is stored, pending, with no step used,
    assert_eq!(factors.start_totp_enrolment(ada.id, sealed("first"), t).await.unwrap(), TotpEnrolment::Started);
    let pending = TotpFactor { secret: sealed("first"), enabled: false, last_used_step: None };
    assert_eq!(factor(&factors, ada.id).await, Some(pending));
    // and she is not yet a user with a second factor.
    assert_eq!(users.find_by_id(ada.id).await.unwrap(), Some(ada.clone()));
    assert!(!ada.mfa_enabled);

    // An enrolment for a user who does not exist stores nothing.
    let nobody = UserId(ada.id.0 + 1000);
    assert_eq!(factors.start_totp_enrolment(nobody, sealed("x"), t).await.unwrap(), TotpEnrolment::UnknownUser);
    assert_eq!(factor(&factors, nobody).await, None);
}

pub async fn a_new_enrolment_replaces_a_pending_one<
    U: UserRepository,
    S: SessionRepository,
    T: OneTimeTokenRepository,
    F: SecondFactorRepository,
    A: AuditLog,
>(
    users: U,
    _sessions: S,
    _tokens: T,
    factors: F,
    _log: A,
) {
    // Given a user with a pending enrolment,
    let t = now();
    let ada = insert_ok(&users, new_user(1, "ada@example.com", t)).await;
    assert_eq!(factors.start_totp_enrolment(ada.id, sealed("first"), t).await.unwrap(), TotpEnrolment::Started);

    // when she starts another (she lost the first QR code), then the new secret replaces the first, still pending.
    let again = factors.start_totp_enrolment(ada.id, sealed("second"), t + seconds(60)).await.unwrap();
    assert_eq!(again, TotpEnrolment::Started);
    let pending = TotpFactor { secret: sealed("second"), enabled: false, last_used_step: None };
    assert_eq!(factor(&factors, ada.id).await, Some(pending));
}

pub async fn an_enrolment_is_refused_once_a_factor_is_confirmed<
    U: UserRepository,
    S: SessionRepository,
    T: OneTimeTokenRepository,
    F: SecondFactorRepository,
    A: AuditLog,
>(
    users: U,
    _sessions: S,
    _tokens: T,
    factors: F,
    _log: A,
) {
    // Given a user with a confirmed factor,
    let t = now();
    let ada = ada_with_a_factor(&users, &factors, t).await;
    let confirmed = factor(&factors, ada.id).await;

    // when an enrolment is started, then it is refused, and her factor is as it was.
    let refused = factors.start_totp_enrolment(ada.id, sealed("other"), t + seconds(1)).await.unwrap();
    assert_eq!(refused, TotpEnrolment::AlreadyEnabled);
    assert_eq!(factor(&factors, ada.id).await, confirmed);
    assert_eq!(confirmed.map(|factor| factor.secret), Some(sealed("ada")));
}

pub async fn confirming_enables_the_factor_marks_the_user_and_records_it<
    U: UserRepository,
    S: SessionRepository,
    T: OneTimeTokenRepository,
    F: SecondFactorRepository,
    A: AuditLog,
>(
    users: U,
    _sessions: S,
    _tokens: T,
    factors: F,
    log: A,
) {
    // Given a user with a pending enrolment,
    let t = now();
    let ada = insert_ok(&users, new_user(1, "ada@example.com", t)).await;
    factors.start_totp_enrolment(ada.id, sealed("old-key"), t).await.unwrap();

    // when she confirms it with a code, its secret sealed again with the current key,
    let at = t + seconds(30);
    let record = audit(AuditKind::MfaEnabled, at);
    let enabled = factors
        .enable_totp(ada.id, &sealed("old-key"), CONFIRMED, Some(sealed("new-key")), ten_codes(0), at, record.clone())
        .await
        .unwrap();

    // then the factor is enabled, with the code's step used and the secret resealed;
    assert!(enabled);
    let confirmed = TotpFactor { secret: sealed("new-key"), enabled: true, last_used_step: Some(CONFIRMED) };
    assert_eq!(factor(&factors, ada.id).await, Some(confirmed.clone()));
    // she has a second factor as of then, however she is read;
    let marked = User { mfa_enabled: true, updated_at: at, ..ada.clone() };
    assert_eq!(users.find_by_id(ada.id).await.unwrap(), Some(marked.clone()));
    let login = LoginIdentifier::Email(email("ada@example.com"));
    assert_eq!(users.find_credentials(&login).await.unwrap().map(|found| found.user), Some(marked.clone()));
    // and the confirmation is recorded about her.
    let recorded = events(&log, ada.id, AuditKind::MfaEnabled).await;
    assert_eq!(recorded.len(), 1);
    assert_eq!((recorded[0].at, recorded[0].subject), (at, Some(ada.id)));

    // A second confirmation finds nothing pending: nothing changes, nothing more is recorded.
    let (checked, step) = (sealed("new-key"), TotpStep(CONFIRMED.0 + 1));
    let again = factors.enable_totp(ada.id, &checked, step, None, ten_codes(20), at + seconds(1), record).await;
    assert!(!again.unwrap());
    assert_eq!(factor(&factors, ada.id).await, Some(confirmed));
    assert_eq!(users.find_by_id(ada.id).await.unwrap(), Some(marked));
    assert_eq!(events(&log, ada.id, AuditKind::MfaEnabled).await.len(), 1);
}

pub async fn a_code_of_a_replaced_secret_confirms_nothing<
    U: UserRepository,
    S: SessionRepository,
    T: OneTimeTokenRepository,
    F: SecondFactorRepository,
    A: AuditLog,
>(
    users: U,
    _sessions: S,
    _tokens: T,
    factors: F,
    log: A,
) {
    // Given an enrolment started again (from another tab) after a code was checked against the first secret,
    let t = now();
    let ada = insert_ok(&users, new_user(1, "ada@example.com", t)).await;
    factors.start_totp_enrolment(ada.id, sealed("first"), t).await.unwrap();
    factors.start_totp_enrolment(ada.id, sealed("second"), t + seconds(1)).await.unwrap();

    // when the confirmation checked against the first secret arrives, then nothing is enabled or recorded:
    let record = audit(AuditKind::MfaEnabled, t + seconds(2));
    let first = sealed("first");
    let stale = factors.enable_totp(ada.id, &first, CONFIRMED, None, ten_codes(0), t, record.clone()).await;
    assert!(!stale.unwrap());
    let pending = TotpFactor { secret: sealed("second"), enabled: false, last_used_step: None };
    assert_eq!(factor(&factors, ada.id).await, Some(pending));
    assert_eq!(events(&log, ada.id, AuditKind::MfaEnabled).await, vec![]);
    // the new secret waits for a code of its own.
    assert!(factors.enable_totp(ada.id, &sealed("second"), CONFIRMED, None, ten_codes(0), t, record).await.unwrap());
}

pub async fn a_password_reset_or_a_suspension_voids_the_sign_ins_waiting_for_a_code<
    U: UserRepository,
    S: SessionRepository,
    T: OneTimeTokenRepository,
    F: SecondFactorRepository,
    A: AuditLog,
>(
    users: U,
    _sessions: S,
    tokens: T,
    factors: F,
    _log: A,
) {
    // Given a sign-in waiting for its code, and a reset link mailed to the account,
    let t = now();
    let ada = ada_with_a_factor(&users, &factors, t).await;
    waiting_for_a_code(&factors, &ada, "before-reset", t).await;
    let link = mailed_token("reset-link", TokenPurpose::ResetPassword, "ada@example.com", t, seconds(1800));
    tokens.issue_token(ada.id, link.clone(), seconds(0), None).await.unwrap();

    // when the link sets a new password, then the waiting sign-in can no longer finish;
    let at = t + seconds(10);
    let (reset_link, reset) = (one_time("reset-link"), audit(AuditKind::PasswordReset, at));
    let reset = tokens.reset_password(&reset_link, other_password_hash(), &link.mail, at, reset).await;
    assert!(reset.unwrap().is_some());
    assert!(waiting(&tokens, "before-reset", at).await.is_none());
    let refused =
        finish(&factors, "before-reset", SecondFactorProof::RecoveryCode(recovery(0)), session(ada.id, "r", at));
    assert_eq!(refused.await, MfaSignIn::TokenUnusable);

    // and a suspension voids a sign-in that waits then, even after it is lifted.
    waiting_for_a_code(&factors, &ada, "before-suspension", at).await;
    let record = audit(AuditKind::UserSuspended, at + seconds(1));
    users.suspend(ada.id, suspension(at + seconds(1), None, None), record).await.unwrap();
    users.unsuspend(ada.id, at + seconds(2), audit(AuditKind::UserUnsuspended, at + seconds(2))).await.unwrap();
    assert!(waiting(&tokens, "before-suspension", at + seconds(3)).await.is_none());
}

pub async fn confirming_without_a_pending_enrolment_does_nothing<
    U: UserRepository,
    S: SessionRepository,
    T: OneTimeTokenRepository,
    F: SecondFactorRepository,
    A: AuditLog,
>(
    users: U,
    _sessions: S,
    _tokens: T,
    factors: F,
    log: A,
) {
    // Given a user who never started an enrolment,
    let t = now();
    let ada = insert_ok(&users, new_user(1, "ada@example.com", t)).await;

    // when a confirmation comes for her, or for no one, then nothing is enabled, written or recorded.
    let record = audit(AuditKind::MfaEnabled, t);
    assert!(
        !factors.enable_totp(ada.id, &sealed("ada"), CONFIRMED, None, ten_codes(0), t, record.clone()).await.unwrap()
    );
    let nobody = UserId(ada.id.0 + 1000);
    assert!(!factors.enable_totp(nobody, &sealed("ada"), CONFIRMED, None, ten_codes(0), t, record).await.unwrap());
    assert_eq!(factor(&factors, ada.id).await, None);
    assert_eq!(users.find_by_id(ada.id).await.unwrap(), Some(ada.clone()));
    assert_eq!(events(&log, ada.id, AuditKind::MfaEnabled).await, vec![]);
}

pub async fn removing_a_confirmed_factor_clears_it_with_its_codes_and_records_it<
    U: UserRepository,
    S: SessionRepository,
    T: OneTimeTokenRepository,
    F: SecondFactorRepository,
    A: AuditLog,
>(
    users: U,
    _sessions: S,
    tokens: T,
    factors: F,
    log: A,
) {
    // Given a user with a confirmed factor and recovery codes,
    let t = now();
    let ada = ada_with_a_factor(&users, &factors, t).await;

    // when the factor is removed,
    let at = t + seconds(10);
    let removed = factors.remove_totp(ada.id, at, audit(AuditKind::MfaDisabled, at)).await.unwrap();

    // then it was a confirmed one, and is gone; she no longer has a second factor, as of then;
    assert_eq!(removed, TotpRemoval::Enabled);
    assert_eq!(factor(&factors, ada.id).await, None);
    assert_eq!(
        users.find_by_id(ada.id).await.unwrap(),
        Some(User { mfa_enabled: false, updated_at: at, ..ada.clone() })
    );
    // the removal is recorded about her;
    let recorded = events(&log, ada.id, AuditKind::MfaDisabled).await;
    assert_eq!(recorded.len(), 1);
    assert_eq!(recorded[0].at, at);
    // and her recovery codes went with it.
    waiting_for_a_code(&factors, &ada, "sign-in", at).await;
    let refused = finish(&factors, "sign-in", SecondFactorProof::RecoveryCode(recovery(0)), session(ada.id, "r", at));
    assert_eq!(refused.await, MfaSignIn::ProofRefused);
    assert!(waiting(&tokens, "sign-in", at).await.is_some());

    // She may enrol again, and a confirmation gives her new codes only.
    assert_eq!(factors.start_totp_enrolment(ada.id, sealed("again"), at).await.unwrap(), TotpEnrolment::Started);
    let step = TotpStep(CONFIRMED.0 + 10);
    let record = audit(AuditKind::MfaEnabled, at);
    assert!(factors.enable_totp(ada.id, &sealed("again"), step, None, ten_codes(100), at, record).await.unwrap());
    let old = finish(&factors, "sign-in", SecondFactorProof::RecoveryCode(recovery(1)), session(ada.id, "r", at));
    assert_eq!(old.await, MfaSignIn::ProofRefused);
}

pub async fn removing_a_pending_factor_or_none_records_nothing<
    U: UserRepository,
    S: SessionRepository,
    T: OneTimeTokenRepository,
    F: SecondFactorRepository,
    A: AuditLog,
>(
    users: U,
    _sessions: S,
    _tokens: T,
    factors: F,
    log: A,
) {
    // Given a user with a pending enrolment,
    let t = now();
    let ada = insert_ok(&users, new_user(1, "ada@example.com", t)).await;
    factors.start_totp_enrolment(ada.id, sealed("pending"), t).await.unwrap();

    // when it is removed, then it was pending, and is gone, and she is as she was;
    let at = t + seconds(1);
    assert_eq!(factors.remove_totp(ada.id, at, audit(AuditKind::MfaDisabled, at)).await.unwrap(), TotpRemoval::Pending);
    assert_eq!(factor(&factors, ada.id).await, None);
    assert_eq!(users.find_by_id(ada.id).await.unwrap(), Some(ada.clone()));
    // when it is removed again, or for no one, then there was nothing;
    assert_eq!(factors.remove_totp(ada.id, at, audit(AuditKind::MfaDisabled, at)).await.unwrap(), TotpRemoval::Nothing);
    let nobody = UserId(ada.id.0 + 1000);
    assert_eq!(factors.remove_totp(nobody, at, audit(AuditKind::MfaDisabled, at)).await.unwrap(), TotpRemoval::Nothing);
    // and no removal is recorded.
    assert_eq!(events(&log, ada.id, AuditKind::MfaDisabled).await, vec![]);
}

pub async fn a_waiting_sign_in_is_a_token_of_its_own_purpose<
    U: UserRepository,
    S: SessionRepository,
    T: OneTimeTokenRepository,
    F: SecondFactorRepository,
    A: AuditLog,
>(
    users: U,
    _sessions: S,
    tokens: T,
    factors: F,
    _log: A,
) {
    // Given a user with a factor,
    let t = now();
    let ada = ada_with_a_factor(&users, &factors, t).await;

    // when her sign-in waits for a code, then its token finds her as a sign-in's token, and as nothing else;
    waiting_for_a_code(&factors, &ada, "sign-in", t).await;
    assert_eq!(waiting(&tokens, "sign-in", t + seconds(1)).await, Some(ada.clone()));
    let as_reset = tokens.find_token_user(&one_time("sign-in"), TokenPurpose::ResetPassword, t).await.unwrap();
    assert_eq!(as_reset, None);

    // when a sign-in is started for an address she does not have, or for no one, then nothing is stored.
    let elsewhere = factors.start_mfa_sign_in(ada.id, mfa_token("elsewhere", "grace@example.com", t)).await;
    assert!(!elsewhere.unwrap());
    assert_eq!(waiting(&tokens, "elsewhere", t).await, None);
    let nobody = UserId(ada.id.0 + 1000);
    assert!(!factors.start_mfa_sign_in(nobody, mfa_token("nobody", "ada@example.com", t)).await.unwrap());
    assert_eq!(waiting(&tokens, "nobody", t).await, None);
}

pub async fn a_sign_in_finished_with_a_code_starts_the_session_and_uses_the_token<
    U: UserRepository,
    S: SessionRepository,
    T: OneTimeTokenRepository,
    F: SecondFactorRepository,
    A: AuditLog,
>(
    users: U,
    _sessions: S,
    tokens: T,
    factors: F,
    log: A,
) {
    // Given a user with a factor whose sign-in waits for a code,
    let t = now();
    let ada = ada_with_a_factor(&users, &factors, t).await;
    waiting_for_a_code(&factors, &ada, "sign-in", t).await;

    // when she gives a code of a later step, its secret sealed again with the current key,
    let at = t + seconds(20);
    let step = TotpStep(CONFIRMED.0 + 1);
    let proof = SecondFactorProof::Totp { step, resealed: Some(sealed("new-key")) };
    let started = finish(&factors, "sign-in", proof, session(ada.id, "ada-1", at)).await;

    // then her session starts, as a sign-in's does, and is recorded;
    let MfaSignIn::Started(id) = started else { panic!("the session started: {started:?}") };
    let signed_in = users.find_session(ada.id, id, at).await.unwrap().expect("signed in");
    assert_eq!(signed_in.user, signed_in_at(ada.clone(), at));
    let signed_ins = events(&log, ada.id, AuditKind::UserSignedIn).await;
    assert_eq!(signed_ins.iter().map(|event| event.at).collect::<Vec<_>>(), vec![at]);
    // the step is used and the secret resealed;
    let used = TotpFactor { secret: sealed("new-key"), enabled: true, last_used_step: Some(step) };
    assert_eq!(factor(&factors, ada.id).await, Some(used.clone()));
    // and the token is used up: it finds no one, and finishes nothing more, whatever the code.
    assert_eq!(waiting(&tokens, "sign-in", at).await, None);
    let again = finish(&factors, "sign-in", code_of(CONFIRMED.0 + 2), session(ada.id, "ada-2", at)).await;
    assert_eq!(again, MfaSignIn::TokenUnusable);
    assert_eq!(factor(&factors, ada.id).await, Some(used));
    assert_eq!(events(&log, ada.id, AuditKind::UserSignedIn).await.len(), 1);
}

pub async fn a_code_of_a_step_used_before_is_refused_and_uses_nothing_up<
    U: UserRepository,
    S: SessionRepository,
    T: OneTimeTokenRepository,
    F: SecondFactorRepository,
    A: AuditLog,
>(
    users: U,
    _sessions: S,
    tokens: T,
    factors: F,
    log: A,
) {
    // Given a user who signed in with a code of a step,
    let t = now();
    let ada = ada_with_a_factor(&users, &factors, t).await;
    let step = CONFIRMED.0 + 1;
    waiting_for_a_code(&factors, &ada, "first", t).await;
    let first = finish(&factors, "first", code_of(step), session(ada.id, "ada-1", t)).await;
    assert!(matches!(first, MfaSignIn::Started(_)), "{first:?}");

    // when another sign-in gives a code of the same step (a replay), its secret resealed,
    waiting_for_a_code(&factors, &ada, "second", t + seconds(1)).await;
    let replayed = SecondFactorProof::Totp { step: TotpStep(step), resealed: Some(sealed("new-key")) };
    let refused = finish(&factors, "second", replayed, session(ada.id, "ada-2", t + seconds(2))).await;

    // then it is refused, and nothing is written: the token still waits, the secret is as it was, no session began;
    assert_eq!(refused, MfaSignIn::ProofRefused);
    assert_eq!(waiting(&tokens, "second", t + seconds(2)).await, Some(signed_in_at(ada.clone(), t)));
    let unchanged = TotpFactor { secret: sealed("ada"), enabled: true, last_used_step: Some(TotpStep(step)) };
    assert_eq!(factor(&factors, ada.id).await, Some(unchanged));
    assert_eq!(events(&log, ada.id, AuditKind::UserSignedIn).await.len(), 1);
    // and the same sign-in goes through with the next step's code.
    let next = finish(&factors, "second", code_of(step + 1), session(ada.id, "ada-2", t + seconds(3))).await;
    assert!(matches!(next, MfaSignIn::Started(_)), "{next:?}");
}

pub async fn a_code_of_an_older_step_is_refused<
    U: UserRepository,
    S: SessionRepository,
    T: OneTimeTokenRepository,
    F: SecondFactorRepository,
    A: AuditLog,
>(
    users: U,
    _sessions: S,
    tokens: T,
    factors: F,
    _log: A,
) {
    // Given a user who last signed in with a code some steps after her confirmation,
    let t = now();
    let ada = ada_with_a_factor(&users, &factors, t).await;
    waiting_for_a_code(&factors, &ada, "first", t).await;
    let first = finish(&factors, "first", code_of(CONFIRMED.0 + 5), session(ada.id, "ada-1", t)).await;
    assert!(matches!(first, MfaSignIn::Started(_)), "{first:?}");

    // when a sign-in gives a code of a step between, or of the confirmation's, then each is refused.
    waiting_for_a_code(&factors, &ada, "second", t).await;
    for older in [CONFIRMED.0 + 4, CONFIRMED.0 + 1, CONFIRMED.0] {
        let refused = finish(&factors, "second", code_of(older), session(ada.id, "ada-2", t)).await;
        assert_eq!(refused, MfaSignIn::ProofRefused, "step {older}");
    }
    assert!(waiting(&tokens, "second", t).await.is_some());
    assert_eq!(
        factor(&factors, ada.id).await.and_then(|factor| factor.last_used_step),
        Some(TotpStep(CONFIRMED.0 + 5))
    );
}

pub async fn the_confirmation_step_is_used_and_a_pending_factor_admits_no_code<
    U: UserRepository,
    S: SessionRepository,
    T: OneTimeTokenRepository,
    F: SecondFactorRepository,
    A: AuditLog,
>(
    users: U,
    _sessions: S,
    _tokens: T,
    factors: F,
    _log: A,
) {
    // Given a user with a pending enrolment and a sign-in waiting for a code,
    let t = now();
    let ada = insert_ok(&users, new_user(1, "ada@example.com", t)).await;
    factors.start_totp_enrolment(ada.id, sealed("pending"), t).await.unwrap();
    waiting_for_a_code(&factors, &ada, "sign-in", t).await;

    // when a code is given, then it is refused: a pending factor proves nothing;
    let refused = finish(&factors, "sign-in", code_of(CONFIRMED.0), session(ada.id, "ada-1", t)).await;
    assert_eq!(refused, MfaSignIn::ProofRefused);

    // once confirmed with that step's code, then that code is used: the next step's is needed.
    let record = audit(AuditKind::MfaEnabled, t);
    assert!(factors.enable_totp(ada.id, &sealed("pending"), CONFIRMED, None, ten_codes(0), t, record).await.unwrap());
    let replayed = finish(&factors, "sign-in", code_of(CONFIRMED.0), session(ada.id, "ada-1", t)).await;
    assert_eq!(replayed, MfaSignIn::ProofRefused);
    let next = finish(&factors, "sign-in", code_of(CONFIRMED.0 + 1), session(ada.id, "ada-1", t)).await;
    assert!(matches!(next, MfaSignIn::Started(_)), "{next:?}");
}

pub async fn a_recovery_code_works_once<
    U: UserRepository,
    S: SessionRepository,
    T: OneTimeTokenRepository,
    F: SecondFactorRepository,
    A: AuditLog,
>(
    users: U,
    _sessions: S,
    tokens: T,
    factors: F,
    _log: A,
) {
    // Given a user with a factor and recovery codes,
    let t = now();
    let ada = ada_with_a_factor(&users, &factors, t).await;
    let code = || SecondFactorProof::RecoveryCode(recovery(3));

    // when she signs in with one of them, then her session starts;
    waiting_for_a_code(&factors, &ada, "first", t).await;
    let first = finish(&factors, "first", code(), session(ada.id, "ada-1", t)).await;
    assert!(matches!(first, MfaSignIn::Started(_)), "{first:?}");

    // when it is given again, or a code she was never given, then it is refused and the token still waits;
    waiting_for_a_code(&factors, &ada, "second", t).await;
    assert_eq!(finish(&factors, "second", code(), session(ada.id, "ada-2", t)).await, MfaSignIn::ProofRefused);
    let unknown = SecondFactorProof::RecoveryCode(recovery(200));
    assert_eq!(finish(&factors, "second", unknown, session(ada.id, "ada-2", t)).await, MfaSignIn::ProofRefused);
    assert!(waiting(&tokens, "second", t).await.is_some());
    // and her other codes, and her authenticator, still work; a recovery code uses no step.
    let other = SecondFactorProof::RecoveryCode(recovery(4));
    assert!(matches!(finish(&factors, "second", other, session(ada.id, "ada-2", t)).await, MfaSignIn::Started(_)));
    assert_eq!(factor(&factors, ada.id).await.and_then(|factor| factor.last_used_step), Some(CONFIRMED));
}

pub async fn an_expired_sign_in_token_is_refused<
    U: UserRepository,
    S: SessionRepository,
    T: OneTimeTokenRepository,
    F: SecondFactorRepository,
    A: AuditLog,
>(
    users: U,
    _sessions: S,
    tokens: T,
    factors: F,
    _log: A,
) {
    // Given a user whose sign-in has waited for a code for five minutes (as long as a token lives),
    let t = now();
    let ada = ada_with_a_factor(&users, &factors, t).await;
    waiting_for_a_code(&factors, &ada, "sign-in", t).await;
    let expired = t + seconds(300);

    // then the token is no longer found, and finishes nothing: the code's step is not used.
    assert!(waiting(&tokens, "sign-in", expired - seconds(1)).await.is_some());
    assert_eq!(waiting(&tokens, "sign-in", expired).await, None);
    let refused = finish(&factors, "sign-in", code_of(CONFIRMED.0 + 1), session(ada.id, "ada-1", expired)).await;
    assert_eq!(refused, MfaSignIn::TokenUnusable);
    assert_eq!(factor(&factors, ada.id).await.and_then(|factor| factor.last_used_step), Some(CONFIRMED));
}

pub async fn a_token_finishes_only_its_own_users_sign_in<
    U: UserRepository,
    S: SessionRepository,
    T: OneTimeTokenRepository,
    F: SecondFactorRepository,
    A: AuditLog,
>(
    users: U,
    _sessions: S,
    tokens: T,
    factors: F,
    _log: A,
) {
    // Given two users with factors, Grace's sign-in waiting for a code,
    let t = now();
    let ada = ada_with_a_factor(&users, &factors, t).await;
    let grace = insert_ok(&users, new_user(2, "grace@example.com", t)).await;
    factors.start_totp_enrolment(grace.id, sealed("grace"), t).await.unwrap();
    factors
        .enable_totp(grace.id, &sealed("grace"), CONFIRMED, None, ten_codes(50), t, audit(AuditKind::MfaEnabled, t))
        .await
        .unwrap();
    assert!(factors.start_mfa_sign_in(grace.id, mfa_token("grace", "grace@example.com", t)).await.unwrap());

    // when Grace's token is given to finish a session of Ada's, with Ada's good code,
    let refused = finish(&factors, "grace", code_of(CONFIRMED.0 + 1), session(ada.id, "ada-1", t)).await;

    // then it is unusable, and nothing is used: Grace's token still waits, Ada's step is free.
    assert_eq!(refused, MfaSignIn::TokenUnusable);
    assert!(waiting(&tokens, "grace", t).await.is_some());
    assert_eq!(factor(&factors, ada.id).await.and_then(|factor| factor.last_used_step), Some(CONFIRMED));
}

pub async fn a_new_password_voids_a_waiting_sign_in<
    U: UserRepository,
    S: SessionRepository,
    T: OneTimeTokenRepository,
    F: SecondFactorRepository,
    A: AuditLog,
>(
    users: U,
    _sessions: S,
    tokens: T,
    factors: F,
    _log: A,
) {
    // Given a user whose sign-in waits for a code,
    let t = now();
    let ada = ada_with_a_factor(&users, &factors, t).await;
    waiting_for_a_code(&factors, &ada, "sign-in", t).await;

    // when her password changes,
    let change = UserUpdate { password_hash: Some(other_password_hash()), ..touch(t + seconds(1)) };
    users.update(ada.id, change).await.expect("change the password");

    // then the sign-in made with the old one finishes nothing, even with the new password's hash.
    assert_eq!(waiting(&tokens, "sign-in", t + seconds(2)).await, None);
    let with_new = NewSession { password_hash: other_password_hash(), ..session(ada.id, "ada-1", t + seconds(2)) };
    let refused = finish(&factors, "sign-in", code_of(CONFIRMED.0 + 1), with_new).await;
    assert_eq!(refused, MfaSignIn::TokenUnusable);
}

pub async fn a_password_changed_between_the_steps_starts_no_session<
    U: UserRepository,
    S: SessionRepository,
    T: OneTimeTokenRepository,
    F: SecondFactorRepository,
    A: AuditLog,
>(
    users: U,
    _sessions: S,
    tokens: T,
    factors: F,
    log: A,
) {
    // Given a user whose sign-in waits for a code,
    let t = now();
    let ada = ada_with_a_factor(&users, &factors, t).await;
    waiting_for_a_code(&factors, &ada, "sign-in", t).await;

    // when it is finished for a password hash she no longer has,
    let stale = NewSession { password_hash: other_password_hash(), ..session(ada.id, "ada-1", t + seconds(1)) };
    let refused = finish(&factors, "sign-in", code_of(CONFIRMED.0 + 1), stale).await;

    // then no session starts, and nothing is used: the token waits, the step is free, nothing is recorded.
    assert_eq!(refused, MfaSignIn::NotStarted);
    assert!(waiting(&tokens, "sign-in", t + seconds(1)).await.is_some());
    assert_eq!(factor(&factors, ada.id).await.and_then(|factor| factor.last_used_step), Some(CONFIRMED));
    assert_eq!(events(&log, ada.id, AuditKind::UserSignedIn).await, vec![]);
}

pub async fn deleting_a_user_deletes_the_factor_and_the_waiting_sign_ins<
    U: UserRepository,
    S: SessionRepository,
    T: OneTimeTokenRepository,
    F: SecondFactorRepository,
    A: AuditLog,
>(
    users: U,
    _sessions: S,
    tokens: T,
    factors: F,
    _log: A,
) {
    // Given a user with a factor, recovery codes and a sign-in waiting for a code,
    let t = now();
    let ada = ada_with_a_factor(&users, &factors, t).await;
    waiting_for_a_code(&factors, &ada, "sign-in", t).await;

    // when she is deleted,
    users.delete(ada.id, audit(AuditKind::UserDeleted, t + seconds(1))).await.expect("delete");

    // then her factor and her waiting sign-in are gone, and none of her codes signs anyone in.
    assert_eq!(factor(&factors, ada.id).await, None);
    assert_eq!(waiting(&tokens, "sign-in", t + seconds(1)).await, None);
    let code = SecondFactorProof::RecoveryCode(recovery(0));
    let refused = finish(&factors, "sign-in", code, session(ada.id, "ada-1", t + seconds(1))).await;
    assert_eq!(refused, MfaSignIn::TokenUnusable);
    assert_eq!(factors.remove_totp(ada.id, t, audit(AuditKind::MfaDisabled, t)).await.unwrap(), TotpRemoval::Nothing);
}

pub async fn concurrent_sign_ins_with_one_code_admit_one<
    U: UserRepository,
    S: SessionRepository,
    T: OneTimeTokenRepository,
    F: SecondFactorRepository,
    A: AuditLog,
>(
    users: U,
    _sessions: S,
    tokens: T,
    factors: F,
    _log: A,
) {
    // Given a user with ten sign-ins waiting for a code (a code seen over her shoulder, replayed at once),
    let t = now();
    let ada = ada_with_a_factor(&users, &factors, t).await;
    for n in 0..10 {
        waiting_for_a_code(&factors, &ada, &format!("sign-in-{n}"), t).await;
    }

    // when all of them give a code of the same step at once,
    let (step, factors) = (CONFIRMED.0 + 1, &factors);
    let finishing = (0..10).map(|n| {
        let text = format!("sign-in-{n}");
        let session = session(ada.id, &format!("ada-{n}"), t);
        async move { finish(factors, &text, code_of(step), session).await }
    });
    let finished = join_all(finishing).await;

    // then exactly one session starts; the others are refused, and their tokens still wait.
    let started = finished.iter().filter(|outcome| matches!(outcome, MfaSignIn::Started(_))).count();
    assert_eq!(started, 1, "{finished:?}");
    assert!(finished.iter().all(|outcome| matches!(outcome, MfaSignIn::Started(_) | MfaSignIn::ProofRefused)));
    let mut still_waiting = 0;
    for n in 0..10 {
        still_waiting += usize::from(waiting(&tokens, &format!("sign-in-{n}"), t).await.is_some());
    }
    assert_eq!(still_waiting, 9);
}
