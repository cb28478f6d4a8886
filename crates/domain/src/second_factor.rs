//! What a second factor is made of: the code a user types at the second step of a sign-in (`SecondFactorCode`, a
//! `TotpCode` from an authenticator app or a `RecoveryCode`), the time step a TOTP code belongs to (`TotpStep`), and
//! how recovery codes are made and written.

use chrono::{DateTime, Utc};

/// The length of a TOTP code, RFC 6238's usual six digits (what every authenticator app shows).
pub const TOTP_DIGITS: usize = 6;

/// The seconds a TOTP code stands for (RFC 6238's default, the one authenticator apps assume).
pub const TOTP_PERIOD_SECS: i64 = 30;

/// How many recovery codes a confirmed enrolment gives out.
pub const RECOVERY_CODES: usize = 10;

/// Characters of a recovery code: 16 of the base32 alphabet (RFC 4648, lowercase) carry 80 random bits, beyond
/// guessing and beyond reversing their SHA-256 by brute force.
const RECOVERY_CODE_CHARS: usize = 16;
const RECOVERY_ALPHABET: &[u8; 32] = b"abcdefghijklmnopqrstuvwxyz234567";

/// A time step of RFC 6238: the number of whole periods since the Unix epoch. A code is accepted for one step at most
/// once per account, so a step is what the store remembers of the last accepted code.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct TotpStep(pub i64);

impl TotpStep {
    /// The step `at` falls in.
    pub fn at(at: DateTime<Utc>) -> Self {
        Self(at.timestamp().div_euclid(TOTP_PERIOD_SECS))
    }

    /// The first second of the step, as a Unix time (what a TOTP generator is given to compute its code).
    pub fn start(self) -> i64 {
        self.0.saturating_mul(TOTP_PERIOD_SECS)
    }

    /// The steps a code is accepted in at `at`: the current one and one either side (a phone's clock a little off,
    /// a code typed as it changed), oldest first.
    pub fn window(at: DateTime<Utc>) -> [Self; 3] {
        let current = Self::at(at).0;
        [Self(current - 1), Self(current), Self(current + 1)]
    }
}

/// Six ASCII digits, as an authenticator app shows them (spaces a user may type between them are dropped).
#[derive(Clone, PartialEq, Eq)]
pub struct TotpCode(String);

impl TotpCode {
    pub fn parse(raw: &str) -> Option<Self> {
        let digits: String = raw.chars().filter(|c| !c.is_whitespace()).collect();
        (digits.len() == TOTP_DIGITS && digits.bytes().all(|b| b.is_ascii_digit())).then_some(Self(digits))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A code is a credential: it is never printed.
impl std::fmt::Debug for TotpCode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("TotpCode(<redacted>)")
    }
}

/// A single-use recovery code, as given out (`xxxx-xxxx-xxxx-xxxx`) and as typed back: case, dashes and spaces do
/// not matter. Kept in its canonical form (16 lowercase base32 characters), the form the store's hash is made of.
#[derive(Clone, PartialEq, Eq)]
pub struct RecoveryCode(String);

impl RecoveryCode {
    /// A code from 10 bytes of randomness (80 bits: 16 base32 characters of 5 bits each).
    pub fn from_random(bytes: [u8; 10]) -> Self {
        let mut bits: u128 = 0;
        for byte in bytes {
            bits = (bits << 8) | u128::from(byte);
        }
        let code = (0..RECOVERY_CODE_CHARS)
            .rev()
            .map(|position| char::from(RECOVERY_ALPHABET[((bits >> (position * 5)) & 0x1f) as usize]))
            .collect();
        Self(code)
    }

    pub fn parse(raw: &str) -> Option<Self> {
        let code: String =
            raw.chars().filter(|c| *c != '-' && !c.is_whitespace()).map(|c| c.to_ascii_lowercase()).collect();
        let valid = code.len() == RECOVERY_CODE_CHARS && code.bytes().all(|b| RECOVERY_ALPHABET.contains(&b));
        valid.then_some(Self(code))
    }

    /// The canonical form, which the store's hash is made of.
    pub fn canonical(&self) -> &str {
        &self.0
    }

    /// As given out: four groups of four, easier to copy by hand.
    pub fn display(&self) -> String {
        let groups: Vec<&str> = (0..RECOVERY_CODE_CHARS).step_by(4).map(|at| &self.0[at..at + 4]).collect();
        groups.join("-")
    }
}

impl std::fmt::Debug for RecoveryCode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("RecoveryCode(<redacted>)")
    }
}

/// What a user typed at the second step of a sign-in.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SecondFactorCode {
    Totp(TotpCode),
    Recovery(RecoveryCode),
    /// Text that is neither: refused like a wrong code (and counted as one).
    Impossible,
}

impl SecondFactorCode {
    pub fn parse(raw: &str) -> Self {
        if let Some(code) = TotpCode::parse(raw) {
            Self::Totp(code)
        } else if let Some(code) = RecoveryCode::parse(raw) {
            Self::Recovery(code)
        } else {
            Self::Impossible
        }
    }
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;

    use super::*;

    #[test]
    fn a_step_is_whole_periods_since_the_epoch_and_its_window_is_one_either_side() {
        // RFC 6238's test time 59 s is step 1; 1111111109 s is step 37037036.
        assert_eq!(TotpStep::at(Utc.timestamp_opt(59, 0).unwrap()), TotpStep(1));
        let at = Utc.timestamp_opt(1_111_111_109, 0).unwrap();
        assert_eq!(TotpStep::at(at), TotpStep(37_037_036));
        assert_eq!(TotpStep::window(at), [TotpStep(37_037_035), TotpStep(37_037_036), TotpStep(37_037_037)]);
        assert_eq!(TotpStep(37_037_036).start(), 1_111_111_080);
    }

    #[test]
    fn a_totp_code_is_six_digits_spaces_aside() {
        assert_eq!(TotpCode::parse("123 456").unwrap().as_str(), "123456");
        for refused in ["12345", "1234567", "12345a", "１２３４５６", ""] {
            assert!(TotpCode::parse(refused).is_none(), "{refused}");
        }
    }

    #[test]
    fn a_recovery_code_reads_back_in_any_case_with_or_without_dashes() {
        let code = RecoveryCode::from_random([0xff, 0, 0x12, 0x34, 0x56, 0x78, 0x9a, 0xbc, 0xde, 0xf0]);
        let shown = code.display();
        assert_eq!(shown.len(), 19);
        assert_eq!(shown.matches('-').count(), 3);
        assert_eq!(RecoveryCode::parse(&shown.to_uppercase()), Some(code.clone()));
        assert_eq!(RecoveryCode::parse(&shown.replace('-', " ")), Some(code.clone()));
        assert_eq!(code.canonical().len(), 16);
        assert!(RecoveryCode::parse("abcd-efgh-ijkl-mno1").is_none(), "1 is not in the alphabet");
        assert!(RecoveryCode::parse("abcd-efgh-ijkl").is_none());
    }

    #[test]
    fn eighty_random_bits_make_sixteen_characters_all_of_them_used() {
        let zeros = RecoveryCode::from_random([0; 10]);
        let ones = RecoveryCode::from_random([0xff; 10]);
        assert_eq!(zeros.canonical(), "aaaaaaaaaaaaaaaa");
        assert_eq!(ones.canonical(), "7777777777777777");
    }

    #[test]
    fn a_code_is_a_totp_code_a_recovery_code_or_neither() {
        assert!(matches!(SecondFactorCode::parse("000000"), SecondFactorCode::Totp(_)));
        assert!(matches!(SecondFactorCode::parse("abcd-efgh-ijkl-mnop"), SecondFactorCode::Recovery(_)));
        assert_eq!(SecondFactorCode::parse("nope"), SecondFactorCode::Impossible);
    }

    #[test]
    fn codes_are_never_printed() {
        let code = RecoveryCode::parse("abcd-efgh-ijkl-mnop").unwrap();
        assert!(!format!("{code:?}").contains("abcd"));
        assert!(!format!("{:?}", TotpCode::parse("123456").unwrap()).contains("123"));
    }
}
