//! `OneTimePasswords` on totp-rs: RFC 6238 codes (HMAC-SHA1, six digits, 30-second steps), fresh random secrets, and
//! the `otpauth://` URI an authenticator app reads from a QR code.

use chrono::{DateTime, Utc};
use subtle::ConstantTimeEq as _;
use totp_rs::{Algorithm, Builder, Totp};
use url::Url;
use users_domain::{TOTP_DIGITS, TOTP_PERIOD_SECS, TotpCode, TotpStep};
use users_ports::{NewTotpSecret, OneTimePasswords, SecondFactorError, TotpSecret};

/// The length of a new secret: 160 bits, the HMAC-SHA1 output size RFC 4226 recommends (and what authenticator apps
/// expect; 32 base32 characters to type by hand).
const SECRET_BYTES: usize = 20;

// totp-rs accepts 6 to 8 digits, and a step of zero seconds would divide by zero: the domain's constants must stay
// within what it computes.
const _: () = assert!(TOTP_DIGITS >= 6 && TOTP_DIGITS <= 8);
const _: () = assert!(TOTP_PERIOD_SECS > 0);
const DIGITS: u8 = TOTP_DIGITS as u8;
const PERIOD: u64 = TOTP_PERIOD_SECS as u64;

/// RFC 6238's arithmetic for the second factor, through totp-rs. Holds only the issuer name apps show beside the
/// account; secrets are passed in at each call.
#[derive(Clone, Debug)]
pub struct TotpCodes {
    issuer: String,
}

/// An issuer name an `otpauth://` label cannot carry.
#[derive(Debug, PartialEq, Eq, thiserror::Error)]
pub enum InvalidIssuer {
    #[error("the TOTP issuer name is empty")]
    Empty,
    /// The label is `Issuer:account`: a colon in the issuer would move the split (apps would show a wrong name).
    #[error("the TOTP issuer name {0:?} contains a colon, which an otpauth label cannot carry")]
    Colon(String),
}

impl TotpCodes {
    /// `issuer` is the name apps show above the code (e.g. the service's or the company's name); spaces around it are
    /// dropped.
    pub fn new(issuer: impl Into<String>) -> Result<Self, InvalidIssuer> {
        let issuer = issuer.into().trim().to_owned();
        if issuer.is_empty() {
            return Err(InvalidIssuer::Empty);
        }
        if issuer.contains(':') {
            return Err(InvalidIssuer::Colon(issuer));
        }
        Ok(Self { issuer })
    }

    pub fn issuer(&self) -> &str {
        &self.issuer
    }
}

/// A generator with our fixed parameters. `build_noncompliant` because a secret already stored is used whatever its
/// length (ours are 20 bytes; totp-rs's `build` refuses fewer than 16), and skew is ours to handle
/// (`TotpStep::window`).
fn generator(secret: &[u8]) -> Builder {
    Builder::new()
        .with_algorithm(Algorithm::SHA1)
        .with_digits(DIGITS)
        .with_step_duration(PERIOD)
        .with_skew(0)
        .with_secret(secret)
}

/// The code of `step`, or none for a step before the Unix epoch (RFC 6238 counts from it; there is no such code) or
/// one whose start is beyond the 64-bit seconds totp-rs takes.
fn code_of(totp: &Totp, step: TotpStep) -> Option<String> {
    let start = step.0.checked_mul(TOTP_PERIOD_SECS)?;
    let start = u64::try_from(start).ok()?;
    Some(totp.generate(start).to_string())
}

/// The account as the label's second half: the label is `Issuer:account`, so a colon in the account (possible in a
/// quoted local part of an email address) would be read as the split; it is only shown, so an underscore does.
fn label_account(account: &str) -> String {
    let account = account.replace(':', "_");
    // totp-rs refuses an empty account name; an email address is never empty, but a label should not fail for it.
    if account.is_empty() { "account".to_owned() } else { account }
}

/// totp-rs's URI, with the parameters it leaves out when they are the defaults (algorithm, digits, period) written
/// out: apps assume the same defaults, but one that reads them explicitly cannot guess wrong.
fn with_explicit_parameters(uri: String) -> String {
    let Ok(parsed) = Url::parse(&uri) else { return uri };
    let present: Vec<String> = parsed.query_pairs().map(|(name, _)| name.into_owned()).collect();
    let mut uri = uri;
    for (name, value) in
        [("algorithm", "SHA1".to_owned()), ("digits", TOTP_DIGITS.to_string()), ("period", PERIOD.to_string())]
    {
        if !present.iter().any(|seen| seen == name) {
            uri.push_str(&format!("&{name}={value}"));
        }
    }
    uri
}

impl OneTimePasswords for TotpCodes {
    fn new_secret(&self, account: &str) -> Result<NewTotpSecret, SecondFactorError> {
        let mut bytes = vec![0; SECRET_BYTES];
        getrandom::fill(&mut bytes).map_err(|error| SecondFactorError::Random(error.to_string()))?;
        let totp = generator(&bytes)
            .with_account_name(label_account(account))
            .with_issuer(Some(self.issuer.as_str()))
            .build_noncompliant();
        let uri = totp
            .to_url()
            // `to_url` refuses only an empty account name or one with a colon, and `label_account` leaves neither.
            .expect("the account name of an otpauth label is never empty and has no colon");
        Ok(NewTotpSecret {
            text: totp.secret().to_base32(),
            otpauth_uri: with_explicit_parameters(uri),
            secret: TotpSecret::new(bytes),
        })
    }

    fn matching_step(&self, secret: &TotpSecret, code: &TotpCode, now: DateTime<Utc>) -> Option<TotpStep> {
        let totp = generator(secret.as_bytes()).build_noncompliant();
        let mut latest = None;
        // Every step of the window is computed and compared, in constant time, whichever matched: how long a check
        // takes tells nothing of how close a guess came. The latest match wins, so that a code shared by two steps
        // (one in a million) is remembered as the later one and cannot be replayed in it.
        for step in TotpStep::window(now) {
            let Some(expected) = code_of(&totp, step) else { continue };
            if bool::from(expected.as_bytes().ct_eq(code.as_str().as_bytes())) {
                latest = Some(step);
            }
        }
        latest
    }
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone as _;
    use hmac::{Hmac, Mac as _};
    use sha1::Sha1;

    use super::*;

    const RFC_SECRET: &[u8] = b"12345678901234567890";

    fn codes() -> TotpCodes {
        TotpCodes::new("Acme Users").unwrap()
    }

    fn at(seconds: i64) -> DateTime<Utc> {
        Utc.timestamp_opt(seconds, 0).unwrap()
    }

    fn code(digits: &str) -> TotpCode {
        TotpCode::parse(digits).unwrap()
    }

    fn secret(bytes: &[u8]) -> TotpSecret {
        TotpSecret::new(bytes.to_vec())
    }

    /// RFC 4226's HOTP, written here from the RFC with RustCrypto's HMAC-SHA1, to check totp-rs against something
    /// that is not totp-rs.
    fn independent_code(secret: &[u8], step: i64) -> String {
        let mut mac = Hmac::<Sha1>::new_from_slice(secret).unwrap();
        mac.update(&u64::try_from(step).unwrap().to_be_bytes());
        let digest = mac.finalize().into_bytes();
        let offset = usize::from(digest[19] & 0x0f);
        let binary = u32::from_be_bytes(digest[offset..offset + 4].try_into().unwrap()) & 0x7fff_ffff;
        format!("{:06}", binary % 1_000_000)
    }

    fn random_u64() -> u64 {
        let mut bytes = [0; 8];
        getrandom::fill(&mut bytes).unwrap();
        u64::from_be_bytes(bytes)
    }

    /// RFC 4648 base32 (no padding), decoded here rather than by totp-rs, whose encoding is what is checked.
    fn decode_base32(text: &str) -> Vec<u8> {
        const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
        let (mut bits, mut count, mut out) = (0u32, 0, Vec::new());
        for character in text.bytes() {
            let value = ALPHABET.iter().position(|&a| a == character).expect("a base32 character");
            bits = (bits << 5) | u32::try_from(value).unwrap();
            count += 5;
            if count >= 8 {
                count -= 8;
                out.push(u8::try_from((bits >> count) & 0xff).unwrap());
            }
        }
        out
    }

    #[test]
    fn given_rfc_6238_appendix_b_sha1_vectors_when_their_codes_are_checked_then_each_matches_its_own_step() {
        // RFC 6238 Appendix B gives eight digits; six-digit codes are their last six.
        let vectors = [
            (59, "287082"),
            (1_111_111_109, "081804"),
            (1_111_111_111, "050471"),
            (1_234_567_890, "005924"),
            (2_000_000_000, "279037"),
            (20_000_000_000, "353130"),
        ];
        for (time, expected) in vectors {
            let now = at(time);
            assert_eq!(
                codes().matching_step(&secret(RFC_SECRET), &code(expected), now),
                Some(TotpStep::at(now)),
                "at {time}"
            );
        }
    }

    #[test]
    fn given_a_code_of_the_previous_or_the_next_step_when_checked_then_it_matches_that_step() {
        // 287082 is the code of step 1 (RFC 6238, time 59).
        let rfc = code("287082");
        assert_eq!(codes().matching_step(&secret(RFC_SECRET), &rfc, at(60)), Some(TotpStep(1)), "a step late");
        assert_eq!(codes().matching_step(&secret(RFC_SECRET), &rfc, at(29)), Some(TotpStep(1)), "a step early");
        assert_eq!(codes().matching_step(&secret(RFC_SECRET), &rfc, at(89)), Some(TotpStep(1)), "last second");
    }

    #[test]
    fn given_a_code_two_steps_away_when_checked_then_it_does_not_match() {
        let rfc = code("287082");
        assert_eq!(codes().matching_step(&secret(RFC_SECRET), &rfc, at(90)), None, "two steps late");
        let at_1111111109 = code("081804"); // step 37037036
        let two_early = at(1_111_111_109 - 2 * TOTP_PERIOD_SECS);
        assert_eq!(codes().matching_step(&secret(RFC_SECRET), &at_1111111109, two_early), None, "two steps early");
    }

    #[test]
    fn given_a_code_of_two_steps_of_the_window_when_checked_then_the_latest_step_is_returned() {
        // Found by search: with the RFC secret, steps 153567 and 153569 share 468457, and steps 910737 and 910738
        // share 911617 (both checked against the independent HOTP below).
        for step in [153_567, 153_569] {
            assert_eq!(independent_code(RFC_SECRET, step), "468457");
        }
        for step in [910_737, 910_738] {
            assert_eq!(independent_code(RFC_SECRET, step), "911617");
        }
        let in_step = |step: i64| at(step * TOTP_PERIOD_SECS + 7);
        let totp = codes();
        let rfc = secret(RFC_SECRET);
        assert_eq!(totp.matching_step(&rfc, &code("468457"), in_step(153_568)), Some(TotpStep(153_569)));
        assert_eq!(totp.matching_step(&rfc, &code("911617"), in_step(910_737)), Some(TotpStep(910_738)));
        assert_eq!(totp.matching_step(&rfc, &code("911617"), in_step(910_738)), Some(TotpStep(910_738)));
    }

    #[test]
    fn given_a_wrong_code_when_checked_then_it_does_not_match() {
        // The window at 59 s is steps 0, 1 and 2; none of them has 287083 (or 000000).
        for step in 0..=2 {
            assert!(!["287083", "000000"].contains(&independent_code(RFC_SECRET, step).as_str()));
        }
        assert_eq!(codes().matching_step(&secret(RFC_SECRET), &code("287083"), at(59)), None);
        assert_eq!(codes().matching_step(&secret(RFC_SECRET), &code("000000"), at(59)), None);
        assert_eq!(codes().matching_step(&secret(b"another secret, 20 b"), &code("287082"), at(59)), None);
    }

    #[test]
    fn given_a_time_before_the_epoch_when_checked_then_no_step_before_it_matches_and_nothing_panics() {
        let step_zero = independent_code(RFC_SECRET, 0);
        // At -15 s the window is steps -1, 0 and 1: step 0 is real.
        assert_eq!(codes().matching_step(&secret(RFC_SECRET), &code(&step_zero), at(-15)), Some(TotpStep(0)));
        // At -61 s it is steps -4, -3 and -2: there are no such codes.
        assert_eq!(codes().matching_step(&secret(RFC_SECRET), &code(&step_zero), at(-61)), None);
        let long_ago = Utc.with_ymd_and_hms(1901, 12, 13, 20, 45, 52).unwrap();
        assert_eq!(codes().matching_step(&secret(RFC_SECRET), &code(&step_zero), long_ago), None);
        assert_eq!(codes().matching_step(&secret(RFC_SECRET), &code(&step_zero), DateTime::<Utc>::MIN_UTC), None);
        // And the other end of time computes without overflow.
        let _ = codes().matching_step(&secret(RFC_SECRET), &code(&step_zero), DateTime::<Utc>::MAX_UTC);
    }

    #[test]
    fn given_random_secrets_and_times_when_checked_then_totp_rs_agrees_with_an_independent_hotp() {
        let totp = codes();
        for round in 0..500 {
            // Our 20-byte secrets in half the rounds, other lengths (beyond a SHA-1 block too) in the rest.
            let length = if round % 2 == 0 { SECRET_BYTES } else { 10 + usize::try_from(random_u64() % 60).unwrap() };
            let mut bytes = vec![0; length];
            getrandom::fill(&mut bytes).unwrap();
            let now = at(i64::try_from(random_u64() % (1 << 40)).unwrap());
            let window = TotpStep::window(now);
            for step in window {
                let of_step = independent_code(&bytes, step.0);
                // The latest step of the window with that code: `step` itself, unless a later one shares it.
                let latest = window.into_iter().rev().find(|other| independent_code(&bytes, other.0) == of_step);
                assert!(latest >= Some(step));
                assert_eq!(totp.matching_step(&secret(&bytes), &code(&of_step), now), latest, "round {round}");
            }
        }
    }

    #[test]
    fn given_an_issuer_and_an_email_when_a_secret_is_made_then_the_uri_names_them_and_carries_the_secret() {
        let made = codes().new_secret("ada.lovelace+2fa@example.org").unwrap();

        assert_eq!(made.secret.as_bytes().len(), SECRET_BYTES);
        assert_eq!(decode_base32(&made.text), made.secret.as_bytes());
        let uri = Url::parse(&made.otpauth_uri).unwrap();
        assert_eq!(uri.scheme(), "otpauth");
        assert_eq!(uri.host_str(), Some("totp"));
        let label = percent_decode(uri.path());
        assert_eq!(label, "/Acme Users:ada.lovelace+2fa@example.org");
        let query: Vec<(String, String)> = uri.query_pairs().map(|(k, v)| (k.into_owned(), v.into_owned())).collect();
        let value = |name: &str| {
            let found: Vec<&str> = query.iter().filter(|(k, _)| k == name).map(|(_, v)| v.as_str()).collect();
            assert_eq!(found.len(), 1, "{name} once in {}", made.otpauth_uri);
            found[0].to_owned()
        };
        assert_eq!(value("secret"), made.text);
        assert_eq!(decode_base32(&value("secret")), made.secret.as_bytes());
        assert_eq!(value("issuer"), "Acme Users");
        assert_eq!(value("algorithm"), "SHA1");
        assert_eq!(value("digits"), "6");
        assert_eq!(value("period"), "30");

        // An app reading it (totp-rs's own parser, as one) gets the same secret and names.
        let read = Totp::from_url(&made.otpauth_uri).unwrap();
        assert_eq!(read.secret().as_bytes(), made.secret.as_bytes());
        assert_eq!(read.issuer(), Some("Acme Users"));
        assert_eq!(read.account_name(), "ada.lovelace+2fa@example.org");
        assert_eq!((read.digits(), read.step(), read.algorithm()), (6, 30, Algorithm::SHA1));
    }

    #[test]
    fn given_a_new_secret_when_its_code_is_typed_then_it_matches_the_current_step() {
        let totp = codes();
        let made = totp.new_secret("a@example.com").unwrap();
        let now = at(1_700_000_000);
        let typed = independent_code(made.secret.as_bytes(), TotpStep::at(now).0);
        assert!(totp.matching_step(&made.secret, &code(&typed), now).is_some());
    }

    #[test]
    fn given_two_new_secrets_then_they_differ() {
        let totp = codes();
        let first = totp.new_secret("a@example.com").unwrap();
        let second = totp.new_secret("a@example.com").unwrap();
        assert_ne!(first.secret, second.secret);
        assert_ne!(first.otpauth_uri, second.otpauth_uri);
    }

    #[test]
    fn given_an_account_with_a_colon_when_a_secret_is_made_then_the_label_still_splits_at_the_issuer() {
        let made = codes().new_secret("\"odd:name\"@example.com").unwrap();
        let read = Totp::from_url(&made.otpauth_uri).unwrap();
        assert_eq!(read.issuer(), Some("Acme Users"));
        assert_eq!(read.account_name(), "\"odd_name\"@example.com");
    }

    #[test]
    fn given_an_empty_issuer_or_one_with_a_colon_then_it_is_refused() {
        assert_eq!(TotpCodes::new("  ").unwrap_err(), InvalidIssuer::Empty);
        assert!(matches!(TotpCodes::new("Acme:Users"), Err(InvalidIssuer::Colon(_))));
        assert_eq!(TotpCodes::new(" Acme ").unwrap().issuer(), "Acme");
    }

    fn percent_decode(text: &str) -> String {
        let mut out = Vec::new();
        let bytes = text.as_bytes();
        let mut index = 0;
        while index < bytes.len() {
            if bytes[index] == b'%' {
                out.push(u8::from_str_radix(&text[index + 1..index + 3], 16).unwrap());
                index += 3;
            } else {
                out.push(bytes[index]);
                index += 1;
            }
        }
        String::from_utf8(out).unwrap()
    }
}
