//! The stored password hashes this adapter checks passwords against: its own Argon2id, other Argon2 PHC strings, and
//! the forms accounts imported from other systems keep until their first sign-in (bcrypt, scrypt PHC, PBKDF2-SHA256
//! PHC and Django's `pbkdf2_sha256$`). [`parse`] reads a stored hash and refuses it, without hashing anything, unless
//! its form is one of these and its cost is within the bounds below: an import file cannot make a sign-in spend
//! minutes of CPU or gigabytes of memory. Every bound keeps one verification under 1 GiB of memory and about 6 seconds
//! of one hashing thread; the times below are of a release build on this project's 2-core machines, where our own
//! Argon2id takes 38 ms.
//!
//! Nothing here logs or formats a password or a hash; `Stored` has no `Debug`.

use std::ops::RangeInclusive;

use argon2::password_hash::phc::{Output, PasswordHash as Phc, Salt};
use argon2::password_hash::{Error as PhcError, PasswordVerifier as _};
use argon2::{Algorithm, Params, Version};
use base64::Engine as _;
use subtle::ConstantTimeEq as _;
use users_ports::PasswordHashError;

/// Argon2: at most 1 GiB of memory (`m`, in KiB).
pub const MAX_ARGON2_MEMORY_KIB: u32 = 1 << 20;
/// Argon2: at most 20 passes (`t`).
pub const MAX_ARGON2_ITERATIONS: u32 = 20;
/// Argon2: at most 16 lanes (`p`).
pub const MAX_ARGON2_PARALLELISM: u32 = 16;
/// Argon2: at most 4 GiB of memory passes (`m` × `t`, in KiB), about 100 times our own hash: 1 GiB with 4 passes
/// (libsodium's "sensitive" limits) takes 5.7 s, 205 MiB with 20 passes 3.8 s.
pub const MAX_ARGON2_WORK_KIB: u64 = 4 << 20;
/// bcrypt: cost (log₂ of the rounds) 4 to 16; 4 is bcrypt's own minimum, 16 (5.0 s) is 16 times the 12 (0.34 s) most
/// systems use.
pub const BCRYPT_COSTS: RangeInclusive<u32> = 4..=16;
/// scrypt: `ln` (log₂ N) 1 to 20.
pub const SCRYPT_LOG_N: RangeInclusive<u8> = 1..=20;
/// scrypt: `r` at most 32.
pub const MAX_SCRYPT_R: u32 = 32;
/// scrypt: `p` at most 16.
pub const MAX_SCRYPT_P: u32 = 16;
/// scrypt: at most 1 GiB of memory (128 × `r` × N bytes).
pub const MAX_SCRYPT_MEMORY_BYTES: u64 = 1 << 30;
/// scrypt: at most 2²³ block mixes (N × `r` × `p`): ln=20 with r=8 and p=1 (1 GiB, 3.1 s), or 8 times OWASP's ln=17,
/// r=8, p=1 (0.39 s).
pub const MAX_SCRYPT_WORK: u64 = 1 << 23;
/// PBKDF2-SHA256 (PHC and Django): 1 000 to 10 000 000 iterations (1.4 s). Django's defaults are within (1 000 000 in
/// 5.2); fewer than 1 000 (RustCrypto's minimum) protect nothing.
pub const PBKDF2_ITERATIONS: RangeInclusive<u32> = 1_000..=10_000_000;
/// PBKDF2-SHA256: at most 10 000 000 iterations of 32-byte blocks (the iterations × the output's 32-byte blocks), so a
/// 64-byte output has at most half the iterations.
pub const MAX_PBKDF2_WORK: u64 = 10_000_000;

/// Django's salts are 12 or 22 characters (its `get_random_string`); 128 bytes is ample room.
const MAX_DJANGO_SALT_BYTES: usize = 128;
/// Django's PBKDF2-SHA256 key: the SHA-256 digest size.
const DJANGO_KEY_BYTES: usize = 32;

/// A stored hash in one of the accepted forms, with a cost within the bounds: ready to verify.
pub(crate) enum Stored<'a> {
    /// Argon2 PHC, `$argon2id$`, `$argon2i$` or `$argon2d$`.
    Argon2 { algorithm: Algorithm, version: Version, params: Params, salt: Salt, expected: Output },
    /// bcrypt, `$2a$`, `$2b$` or `$2y$`.
    Bcrypt(&'a str),
    /// scrypt PHC, `$scrypt$ln=…,r=…,p=…$salt$hash`.
    Scrypt(Phc),
    /// PBKDF2-SHA256 PHC, `$pbkdf2-sha256$i=…,l=…$salt$hash`.
    Pbkdf2(Phc),
    /// Django's `pbkdf2_sha256$iterations$salt$base64(key)`: the salt is used as its UTF-8 bytes.
    Django { iterations: u32, salt: &'a str, key: [u8; DJANGO_KEY_BYTES] },
}

/// Reads `hash` as one of the accepted forms, or refuses it (`MalformedHash`): an unknown form, a malformed one, or a
/// cost beyond the bounds. Hashes nothing.
pub(crate) fn parse(hash: &str) -> Result<Stored<'_>, PasswordHashError> {
    if hash.starts_with("$2") {
        return parse_bcrypt(hash).ok_or(PasswordHashError::MalformedHash);
    }
    if hash.starts_with("pbkdf2_sha256$") {
        return parse_django(hash).ok_or(PasswordHashError::MalformedHash);
    }
    let phc = Phc::new(hash).map_err(|_| PasswordHashError::MalformedHash)?;
    let parsed = match phc.algorithm.as_str() {
        "argon2id" | "argon2i" | "argon2d" => parse_argon2(phc),
        "scrypt" => parse_scrypt(phc),
        "pbkdf2-sha256" => parse_pbkdf2(phc),
        _ => None,
    };
    parsed.ok_or(PasswordHashError::MalformedHash)
}

/// Only these parameter names, each once, the required ones present. (The PHC parser lets a name come twice, and the
/// crates would then take its last value.)
fn has_exactly_params(phc: &Phc, required: &[&str], optional: &[&str]) -> bool {
    let count = |wanted: &str| phc.params.iter().filter(|(name, _)| name.as_str() == wanted).count();
    phc.params.iter().all(|(name, _)| required.contains(&name.as_str()) || optional.contains(&name.as_str()))
        && required.iter().all(|&name| count(name) == 1)
        && optional.iter().all(|&name| count(name) <= 1)
}

fn parse_argon2<'a>(phc: Phc) -> Option<Stored<'a>> {
    let algorithm = Algorithm::try_from(phc.algorithm.as_str()).ok()?;
    // Without `v=`, the reference implementation (and argon2-cffi on it) reads version 1.0: hashes from before
    // Argon2 1.3 have none. (RustCrypto's own verifier would take 1.3, and refuse such a hash's right password.)
    let version = match phc.version {
        Some(version) => Version::try_from(version).ok()?,
        None => Version::V0x10,
    };
    // `keyid` names a secret key, which this service does not have; `data` is associated data, fine.
    if !has_exactly_params(&phc, &["m", "t", "p"], &["data"]) {
        return None;
    }
    let params = Params::try_from(&phc).ok()?;
    let work = u64::from(params.m_cost()) * u64::from(params.t_cost());
    if params.m_cost() > MAX_ARGON2_MEMORY_KIB
        || params.t_cost() > MAX_ARGON2_ITERATIONS
        || params.p_cost() > MAX_ARGON2_PARALLELISM
        || work > MAX_ARGON2_WORK_KIB
    {
        return None;
    }
    let (Some(salt), Some(expected)) = (phc.salt, phc.hash) else { return None };
    if salt.len() < argon2::MIN_SALT_LEN {
        return None;
    }
    Some(Stored::Argon2 { algorithm, version, params, salt, expected })
}

/// `$2a$`, `$2b$` or `$2y$`, two digits of cost, `$`, 22 characters of salt and 31 of hash in bcrypt's base64. `$2x$`
/// (crypt_blowfish's hashes made with its sign-extension bug) and the original `$2$` are refused.
fn parse_bcrypt(hash: &str) -> Option<Stored<'_>> {
    let bytes = hash.as_bytes();
    if bytes.len() != 60 || !matches!(&bytes[..4], b"$2a$" | b"$2b$" | b"$2y$") || bytes[6] != b'$' {
        return None;
    }
    let [tens, units] = [bytes[4], bytes[5]];
    if !tens.is_ascii_digit() || !units.is_ascii_digit() {
        return None;
    }
    if !BCRYPT_COSTS.contains(&(u32::from(tens - b'0') * 10 + u32::from(units - b'0'))) {
        return None;
    }
    // The salt and hash decode, canonically, in bcrypt's alphabet.
    hash.parse::<bcrypt::HashParts>().ok()?;
    Some(Stored::Bcrypt(hash))
}

fn parse_scrypt<'a>(phc: Phc) -> Option<Stored<'a>> {
    // The crate takes OWASP's values for a missing parameter; a stored hash names all three, as passlib writes them.
    if phc.version.is_some() || !has_exactly_params(&phc, &["ln", "r", "p"], &[]) {
        return None;
    }
    let params = scrypt::Params::try_from(&phc).ok()?;
    let (log_n, r, p) = (params.log_n(), u64::from(params.r()), u64::from(params.p()));
    if !SCRYPT_LOG_N.contains(&log_n)
        || r > u64::from(MAX_SCRYPT_R)
        || p > u64::from(MAX_SCRYPT_P)
        || 128 * r * params.n() > MAX_SCRYPT_MEMORY_BYTES
        || params.n() * r * p > MAX_SCRYPT_WORK
    {
        return None;
    }
    (phc.salt.is_some() && phc.hash.is_some()).then_some(Stored::Scrypt(phc))
}

fn parse_pbkdf2<'a>(phc: Phc) -> Option<Stored<'a>> {
    // `l` (output bytes) may be left out, as the crate then takes 32 and checks the output has that length.
    if phc.version.is_some() || !has_exactly_params(&phc, &["i"], &["l"]) {
        return None;
    }
    // Refuses fewer than 1 000 iterations, an output of more than 64 bytes, and an output of another length than `l`.
    let params = pbkdf2::Params::try_from(&phc).ok()?;
    if !PBKDF2_ITERATIONS.contains(&params.rounds()) || pbkdf2_work(params) > MAX_PBKDF2_WORK {
        return None;
    }
    (phc.salt.is_some() && phc.hash.is_some()).then_some(Stored::Pbkdf2(phc))
}

fn pbkdf2_work(params: pbkdf2::Params) -> u64 {
    u64::from(params.rounds()) * params.output_len().div_ceil(32) as u64
}

/// `pbkdf2_sha256$<iterations>$<salt>$<key>` as Django's `PBKDF2PasswordHasher` writes it: decimal iterations, a salt
/// without `$`, and the 32-byte key in standard base64 with padding.
fn parse_django(hash: &str) -> Option<Stored<'_>> {
    let mut fields = hash.split('$');
    let (Some("pbkdf2_sha256"), Some(iterations), Some(salt), Some(key), None) =
        (fields.next(), fields.next(), fields.next(), fields.next(), fields.next())
    else {
        return None;
    };
    if iterations.is_empty() || iterations.starts_with('0') || !iterations.bytes().all(|digit| digit.is_ascii_digit()) {
        return None;
    }
    let iterations: u32 = iterations.parse().ok()?;
    if !PBKDF2_ITERATIONS.contains(&iterations)
        || salt.is_empty()
        || salt.len() > MAX_DJANGO_SALT_BYTES
        || salt.chars().any(char::is_control)
    {
        return None;
    }
    let key = base64::engine::general_purpose::STANDARD.decode(key).ok()?.try_into().ok()?;
    Some(Stored::Django { iterations, salt, key })
}

/// Whether `password` matches `stored`, each form recomputed with its own parameters and salt and compared in
/// constant time. Argon2 is left to the caller, which has memory kept for it.
pub(crate) fn verify_foreign(password: &str, stored: &Stored<'_>) -> Result<bool, PasswordHashError> {
    let password = password.as_bytes();
    match stored {
        // bcrypt reads at most 72 bytes of the password, as every bcrypt does; compares with `subtle`.
        Stored::Bcrypt(hash) => bcrypt::verify(password, hash).map_err(|_| PasswordHashError::MalformedHash),
        // The crates' own verification: recomputes and compares `Output`s in constant time.
        Stored::Scrypt(phc) => verified(scrypt::Scrypt::default().verify_password(password, phc)),
        Stored::Pbkdf2(phc) => verified(pbkdf2::Pbkdf2::default().verify_password(password, phc)),
        Stored::Django { iterations, salt, key } => {
            let params = pbkdf2::Params::new_with_output_len(*iterations, DJANGO_KEY_BYTES)
                .map_err(|_| PasswordHashError::MalformedHash)?;
            let mut computed = [0u8; DJANGO_KEY_BYTES];
            pbkdf2::pbkdf2_hmac_with_params(
                password,
                salt.as_bytes(),
                pbkdf2::Algorithm::Pbkdf2Sha256,
                params,
                &mut computed,
            );
            Ok(computed.ct_eq(key).into())
        }
        Stored::Argon2 { .. } => Err(PasswordHashError::Unexpected("Argon2 is verified with the kept memory".into())),
    }
}

fn verified(result: Result<(), PhcError>) -> Result<bool, PasswordHashError> {
    match result {
        Ok(()) => Ok(true),
        Err(PhcError::PasswordInvalid) => Ok(false),
        Err(_) => Err(PasswordHashError::MalformedHash),
    }
}
