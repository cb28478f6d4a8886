//! The second factor's adapters: RFC 6238 codes and otpauth URIs ([`TotpCodes`], a `OneTimePasswords` on totp-rs), and
//! TOTP secrets sealed at rest ([`SealingKeys`], a `SecretSealer` with XChaCha20-Poly1305 under keys derived from the
//! configured secrets, current and previous).

mod codes;
mod sealing;

pub use codes::{InvalidIssuer, TotpCodes};
pub use sealing::{MIN_SEALING_SECRET_BYTES, SealingKeyError, SealingKeys};
