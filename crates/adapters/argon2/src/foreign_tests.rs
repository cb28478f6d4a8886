//! Hashes made by other systems' tools, as imported accounts bring them: each verifies its own password only, asks to
//! be replaced, and a malformed or too costly one is refused by `check_hash` and by `verify` without being hashed.
//!
//! Every vector below was made by the reference tool named above it, with the fixed salts of
//! `testdata/make_vectors.py` (which prints them all again): argon2-cffi 25.1.0 (the reference C implementation),
//! pyca/bcrypt 5.0.0 and libxcrypt's `crypt` (through Python 3.11's `crypt` module), Python's `hashlib.scrypt` and
//! `hashlib.pbkdf2_hmac` (OpenSSL) written as PHC strings (standard base64 without padding; scrypt's `ln`), and
//! Django's `pbkdf2_sha256$` built with `hashlib` as Django's `PBKDF2PasswordHasher` does (checked with Django 5.2).
//! pyca/bcrypt is itself built on the Rust `bcrypt` crate (0.17), so libxcrypt, an independent C implementation, made
//! bcrypt vectors too; where both made one, they agree.

use std::time::{Duration, Instant};

use super::*;

const PASSWORD: &str = "correct horse battery staple";
const WRONG: &str = "correct horse battery stapler";
const NON_ASCII: &str = "pässwörd ñ 密码";
/// 84 bytes; bcrypt reads the first 72.
const LONG: &str = "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxtail ignored";

// argon2-cffi 25.1.0: `argon2.low_level.hash_secret(password, b"import-vector-16", time_cost=t, memory_cost=m,
// parallelism=p, hash_len=32, type=..., version=...)`.
const ARGON2ID_V19: &str =
    "$argon2id$v=19$m=256,t=2,p=2$aW1wb3J0LXZlY3Rvci0xNg$QvC+wwAJ8niU++5BK2IOeDqBElVvQNuxtss5p/LQZVM";
const ARGON2I_V19: &str =
    "$argon2i$v=19$m=128,t=3,p=1$aW1wb3J0LXZlY3Rvci0xNg$aAJq/4gkS3/xs/TeDnUOLomkusrnQsM+E7aFBIb1HNs";
const ARGON2D_V19: &str =
    "$argon2d$v=19$m=64,t=1,p=1$aW1wb3J0LXZlY3Rvci0xNg$KTEqn/UBx6uY3tr+0b1zirTTs/vcvvZksM3VtkTjH6Q";
const ARGON2ID_V16: &str =
    "$argon2id$v=16$m=64,t=1,p=1$aW1wb3J0LXZlY3Rvci0xNg$MB+9PWOfj0ZGEkaQ/DrhMQw9euFdcO2BVoUlYsg0agk";
/// The version-1.0 hash above without its `v=16`, as libraries before Argon2 1.3 wrote it; argon2-cffi verifies it.
const ARGON2ID_NO_VERSION: &str =
    "$argon2id$m=64,t=1,p=1$aW1wb3J0LXZlY3Rvci0xNg$MB+9PWOfj0ZGEkaQ/DrhMQw9euFdcO2BVoUlYsg0agk";
/// Our own parameters (m=19456, t=2, p=1, 32-byte output).
const ARGON2ID_OURS: &str =
    "$argon2id$v=19$m=19456,t=2,p=1$aW1wb3J0LXZlY3Rvci0xNg$McsIQi8wJNVO7qeRJC2FUzaLcg4T1BtTPmGMVzYHbjI";
/// Our own parameters with `hash_len=16`.
const ARGON2ID_OURS_SHORT_OUTPUT: &str = "$argon2id$v=19$m=19456,t=2,p=1$aW1wb3J0LXZlY3Rvci0xNg$VlqcMun7Jc+KFMgfE2pSAQ";
/// `NON_ASCII`, m=64, t=1, p=1.
const ARGON2ID_NON_ASCII: &str =
    "$argon2id$v=19$m=64,t=1,p=1$aW1wb3J0LXZlY3Rvci0xNg$8cN3s5IeRxzMDTvZaLHQB2X7U2BE0VUGxqhK5BZJHr4";
/// The parameters of argon2-cffi's `PasswordHasher()` (RFC 9106's low-memory profile: 64 MiB, t=3, p=4).
const ARGON2ID_CFFI_DEFAULTS: &str =
    "$argon2id$v=19$m=65536,t=3,p=4$aW1wb3J0LXZlY3Rvci0xNg$/KXPwkTIoZTLHquTfo5HhVoftzK2PX9ubr1RyBmfrmM";

// pyca/bcrypt 5.0.0: `bcrypt.hashpw(password, b"$2b$04$abcdefghijklmnopqrstuu")` (and `$2a$05$`).
const BCRYPT_2B_PYCA: &str = "$2b$04$abcdefghijklmnopqrstuu7EJV7kdjBBQxyb0HjTh9KS7.Lah/6CG";
const BCRYPT_2A_PYCA: &str = "$2a$05$abcdefghijklmnopqrstuuFiPhXf1sVd3pCCRO.uVh34H/qI/ZsuS";
// libxcrypt (glibc's crypt on Debian): `crypt.crypt(password, "$2y$04$abcdefghijklmnopqrstuu")` and so on.
const BCRYPT_2Y_LIBXCRYPT: &str = "$2y$04$abcdefghijklmnopqrstuu7EJV7kdjBBQxyb0HjTh9KS7.Lah/6CG";
const BCRYPT_2B_LIBXCRYPT: &str = "$2b$05$abcdefghijklmnopqrstuuFiPhXf1sVd3pCCRO.uVh34H/qI/ZsuS";
/// `NON_ASCII`, `$2b$04$`.
const BCRYPT_NON_ASCII_LIBXCRYPT: &str = "$2b$04$abcdefghijklmnopqrstuuADXCqy7FpbJSFeeO86GYOPhIULiHmQS";
/// `LONG`, `$2b$04$`.
const BCRYPT_LONG_LIBXCRYPT: &str = "$2b$04$abcdefghijklmnopqrstuubzadhGtS2zEF.gu0yd0opP6cVzb.e0i";

// `hashlib.scrypt(password, salt=b"import-vector-16", n=2**ln, r=r, p=p, dklen=l)`, written
// `$scrypt$ln={ln},r={r},p={p}${b64(salt)}${b64(key)}` with b64 = standard base64 without padding, as passlib does.
const SCRYPT_LN10: &str = "$scrypt$ln=10,r=8,p=1$aW1wb3J0LXZlY3Rvci0xNg$vQffD9AU2t1l2DFw+D+6nn0G9lGeois5AKz5MA0tznI";
/// ln=8, r=4, p=2, a 64-byte key.
const SCRYPT_LN8_P2_L64: &str = "$scrypt$ln=8,r=4,p=2$aW1wb3J0LXZlY3Rvci0xNg$D6GasDm9fje1dLoSt+om49FeM8VdYBooUwBhxoIf9w0\
    jqvn9JISjzjOhjvR6RF1t6EVXfhK5HnDAgxPpC/CkSg";
/// `NON_ASCII`, ln=6, r=8, p=1.
const SCRYPT_NON_ASCII: &str =
    "$scrypt$ln=6,r=8,p=1$aW1wb3J0LXZlY3Rvci0xNg$BRwBGuwrbn/8hn5lUNl8Vp3O2qqIXHGjMA6bb1zoyvk";

// `hashlib.pbkdf2_hmac("sha256", password, b"import-vector-16", i, l)`, written
// `$pbkdf2-sha256$i={i},l={l}${b64(salt)}${b64(key)}` as RustCrypto's pbkdf2 writes it.
const PBKDF2_I1000: &str =
    "$pbkdf2-sha256$i=1000,l=32$aW1wb3J0LXZlY3Rvci0xNg$nQ2uPmCaH3Z8VlktP1osRbGbfFnPy3371bWFg09EWtw";
const PBKDF2_I2000_L64: &str = "$pbkdf2-sha256$i=2000,l=64$aW1wb3J0LXZlY3Rvci0xNg$iROLW8C0SKo8u+7fEA4NXgv0gFBl1BffDCKEx\
    Imo3BfZIGHkQ3x7oI5b4xU18jNt6xTZQ3FMZNB9H3kIE9IRSQ";
/// `NON_ASCII`, 1500 iterations.
const PBKDF2_NON_ASCII: &str =
    "$pbkdf2-sha256$i=1500,l=32$aW1wb3J0LXZlY3Rvci0xNg$6pF5NGbGY7CTaOW0A50FGWFiFypP4L7995LXfLhS/+k";

// Django's PBKDF2PasswordHasher, by hand: `"pbkdf2_sha256$%d$%s$%s" % (iterations, salt,
// base64.b64encode(hashlib.pbkdf2_hmac("sha256", password, salt.encode(), iterations)).decode())`, with a 22-character
// salt as Django's `get_random_string` makes them. Django 5.2's own `PBKDF2PasswordHasher().encode` gives the same.
const DJANGO_I1500: &str = "pbkdf2_sha256$1500$XsUq1eY3rJ7mQ2vKp9LbZa$gkLbplJH5ng1lCnRTdRBSV5vxfkRpcxTqpIASDWiVdo=";
/// `NON_ASCII` with the salt `sälty-salt` (its UTF-8 bytes), 1000 iterations.
const DJANGO_NON_ASCII: &str = "pbkdf2_sha256$1000$sälty-salt$Y+JdC7RoF1zEXYtPBrcPfQ94qaWXypJw7EifsTxw+Kc=";
/// Django 5.1's default of 870 000 iterations.
const DJANGO_I870000: &str = "pbkdf2_sha256$870000$XsUq1eY3rJ7mQ2vKp9LbZa$VUIZTuic2dmGEjyWqsM2NIYAUTEfPyecHBJ/rRPibJw=";

/// Each made from `PASSWORD`.
const FROM_PASSWORD: &[&str] = &[
    ARGON2ID_V19,
    ARGON2I_V19,
    ARGON2D_V19,
    ARGON2ID_V16,
    ARGON2ID_NO_VERSION,
    ARGON2ID_OURS,
    ARGON2ID_OURS_SHORT_OUTPUT,
    ARGON2ID_CFFI_DEFAULTS,
    BCRYPT_2B_PYCA,
    BCRYPT_2A_PYCA,
    BCRYPT_2Y_LIBXCRYPT,
    BCRYPT_2B_LIBXCRYPT,
    SCRYPT_LN10,
    SCRYPT_LN8_P2_L64,
    PBKDF2_I1000,
    PBKDF2_I2000_L64,
    DJANGO_I1500,
];

/// Each made from `NON_ASCII`.
const FROM_NON_ASCII: &[&str] =
    &[ARGON2ID_NON_ASCII, BCRYPT_NON_ASCII_LIBXCRYPT, SCRYPT_NON_ASCII, PBKDF2_NON_ASCII, DJANGO_NON_ASCII];

fn hasher() -> Argon2Hasher {
    Argon2Hasher::with_params(MEMORY_KIB, ITERATIONS, PARALLELISM, 2, 64).unwrap()
}

fn password(raw: &str) -> Password {
    Password::parse(raw).unwrap()
}

fn stored(raw: &str) -> PasswordHash {
    PasswordHash::new(raw)
}

/// `hash` with `from` replaced by `to`, which must be in it.
fn with(hash: &str, from: &str, to: &str) -> String {
    assert!(hash.contains(from), "{from} is not in {hash}");
    hash.replacen(from, to, 1)
}

async fn verifies(hasher: &Argon2Hasher, raw_password: &str, hash: &str) -> bool {
    hasher.verify(&password(raw_password), &stored(hash)).await.unwrap_or_else(|error| panic!("{hash}: {error}"))
}

/// Refused by `check_hash`, and by `verify` as malformed.
async fn assert_refused(hasher: &Argon2Hasher, hash: &str) {
    assert!(matches!(hasher.check_hash(&stored(hash)), Err(PasswordHashError::MalformedHash)), "check_hash: {hash:?}");
    let verified = hasher.verify(&password(PASSWORD), &stored(hash)).await;
    assert!(matches!(verified, Err(PasswordHashError::MalformedHash)), "verify: {hash:?} gave {verified:?}");
}

#[tokio::test]
async fn every_foreign_form_verifies_its_own_password_and_not_a_wrong_one() {
    // Given hashes made by the reference tools of each accepted form
    let hasher = hasher();
    for &hash in FROM_PASSWORD {
        // When the account's password, then a near miss, are checked against them
        // Then only the right one verifies
        assert!(verifies(&hasher, PASSWORD, hash).await, "{hash}");
        assert!(!verifies(&hasher, WRONG, hash).await, "{hash}");
    }
}

#[tokio::test]
async fn non_ascii_passwords_verify_in_every_form_as_their_utf8_bytes() {
    // Given hashes of a password with accents and CJK characters (and a Django salt with an accent)
    let hasher = hasher();
    for &hash in FROM_NON_ASCII {
        // Then that password verifies, and one without its accents does not
        assert!(verifies(&hasher, NON_ASCII, hash).await, "{hash}");
        assert!(!verifies(&hasher, "passwörd ñ 密码", hash).await, "{hash}");
    }
}

#[tokio::test]
async fn an_argon2_hash_without_a_version_is_read_as_version_1_0_as_the_reference_implementation_does() {
    // Given a version-1.0 hash written without `v=`, as libraries before Argon2 1.3 did
    let hasher = hasher();
    // Then it verifies as 1.0 (it would not as 1.3), and is the same hash as the one that says `v=16`
    assert!(verifies(&hasher, PASSWORD, ARGON2ID_NO_VERSION).await);
    assert!(verifies(&hasher, PASSWORD, &with(ARGON2ID_NO_VERSION, "$m=", "$v=16$m=")).await);
    assert!(!verifies(&hasher, PASSWORD, &with(ARGON2ID_NO_VERSION, "$m=", "$v=19$m=")).await);
}

#[tokio::test]
async fn bcrypt_checks_only_the_first_72_bytes_of_a_password_as_every_bcrypt_does() {
    // Given a bcrypt hash of an 84-byte password
    let hasher = hasher();
    // Then any password with the same first 72 bytes verifies, and one differing within them does not
    assert!(verifies(&hasher, LONG, BCRYPT_LONG_LIBXCRYPT).await);
    assert!(verifies(&hasher, &format!("{}another tail", "x".repeat(72)), BCRYPT_LONG_LIBXCRYPT).await);
    assert!(!verifies(&hasher, &format!("{}ytail ignored", "x".repeat(71)), BCRYPT_LONG_LIBXCRYPT).await);
}

#[tokio::test]
async fn a_django_hash_with_djangos_real_iteration_count_verifies() {
    // Given a Django hash at Django 5.1's default of 870 000 iterations
    let hasher = hasher();
    // Then it verifies (the PBKDF2 crates are optimised in dev builds, so this takes well under a second)
    assert!(verifies(&hasher, PASSWORD, DJANGO_I870000).await);
}

#[test]
fn check_hash_accepts_every_form_and_only_our_own_argon2id_needs_no_rehash() {
    // Given the hasher's production parameters
    let hasher = hasher();
    for &hash in FROM_PASSWORD.iter().chain(FROM_NON_ASCII).chain(&[BCRYPT_LONG_LIBXCRYPT, DJANGO_I870000]) {
        // Then every form is accepted without hashing
        assert!(hasher.check_hash(&stored(hash)).is_ok(), "{hash}");
        // And every one but our own Argon2id with our parameters and output length is to be replaced at sign-in
        assert_eq!(hasher.needs_rehash(&stored(hash)), hash != ARGON2ID_OURS, "{hash}");
    }
}

#[tokio::test]
async fn our_own_fresh_hash_needs_no_rehash_and_a_hasher_with_new_parameters_replaces_it() {
    // Given a hash made by the hasher itself
    let hasher = hasher();
    let ours = hasher.hash(&password(PASSWORD)).await.unwrap();
    assert!(hasher.check_hash(&ours).is_ok());
    assert!(!hasher.needs_rehash(&ours));
    // When the service moves to other parameters
    let moved_on = Argon2Hasher::with_params(2 * MEMORY_KIB, ITERATIONS, PARALLELISM, 1, 8).unwrap();
    // Then the old hashes still verify and are replaced at the next sign-in
    assert!(moved_on.verify(&password(PASSWORD), &ours).await.unwrap());
    assert!(moved_on.needs_rehash(&ours));
    assert!(moved_on.needs_rehash(&stored(ARGON2ID_OURS)));
}

#[test]
fn needs_rehash_is_true_for_argon2_with_associated_data_and_for_refused_hashes() {
    let hasher = hasher();
    let with_data = with(ARGON2ID_OURS, "p=1$", "p=1,data=c29tZWRhdGE$");
    assert!(hasher.check_hash(&stored(&with_data)).is_ok());
    assert!(hasher.needs_rehash(&stored(&with_data)));
    for refused in ["", "plaintext", "$md5$x", &with(ARGON2ID_OURS, "m=19456", "m=0")] {
        assert!(hasher.needs_rehash(&stored(refused)), "{refused}");
    }
}

#[tokio::test]
async fn unknown_and_unsupported_forms_are_refused_by_check_hash_and_verify() {
    let hasher = hasher();
    for hash in [
        "",
        " ",
        "plaintext",
        PASSWORD,
        "$",
        "$$",
        "$md5$rounds=1000$saltsalt$dZ1GfX2U5JfV6o9zfJCNy/",
        "$1$saltsalt$qjXMvbEw8oaL.CzflDugX/",
        "$5$rounds=5000$saltsaltsaltsalt$7vUdbGYxQHOxv8yE.0n2uw2C4g4cJ5Uu4Hxs2PnTYl6",
        "$6$saltsalt$qFmFH.bQmmtXzyBY0s9v7Oicd2z4XSIecDzlB5KiA2/jctKu9YterLp8wwnSq.qc.eoxqOmSuNp2xS0ktL3nh/",
        "sha1$XsUq1eY3rJ7m$2aae6c35c94fcfb415dbe95f408b9ce91ee846ed",
        "md5$XsUq1eY3rJ7m$5f4dcc3b5aa765d61d8327deb882cf99",
        "unsalted_md5$5f4dcc3b5aa765d61d8327deb882cf99",
        "bcrypt_sha256$$2b$04$abcdefghijklmnopqrstuu7EJV7kdjBBQxyb0HjTh9KS7.Lah/6CG",
        "pbkdf2_sha1$1500$XsUq1eY3rJ7mQ2vKp9LbZa$gkLbplJH5ng1lCnRTdRB",
        "$7$C6..../....SodiumChloride$kBGj9fHznVYFQMEn/qDCfrDevf9YDtcDdKvEqHJLV8D",
        "$bcrypt$x",
        // bcrypt's buggy `$2x$` and the original `$2$`, and an upper-case prefix
        &with(BCRYPT_2B_PYCA, "$2b$", "$2x$"),
        &with(BCRYPT_2B_PYCA, "$2b$04$", "$2$04$"),
        &with(BCRYPT_2B_PYCA, "$2b$", "$2B$"),
        // PBKDF2 with another digest, and passlib's own PBKDF2 form (a bare iteration count, ab64)
        &with(PBKDF2_I1000, "pbkdf2-sha256", "pbkdf2-sha512"),
        &with(PBKDF2_I1000, "pbkdf2-sha256", "pbkdf2"),
        "$pbkdf2-sha256$29000$N2ZMSsoJz1mDcBgD.rIqZQ$HhY7ctA.cGZlEGpmSh2FaEXcQ1Ik5d7DPjBeoPwG3OQ",
        // an Argon2 variant that does not exist, and one with a secret key this service does not have
        &with(ARGON2ID_V19, "argon2id", "argon2x"),
        &with(ARGON2ID_V19, "p=2$", "p=2,keyid=a2V5$"),
    ] {
        assert_refused(&hasher, hash).await;
    }
}

#[tokio::test]
async fn truncated_or_padded_hashes_are_refused() {
    let hasher = hasher();
    for &hash in FROM_PASSWORD.iter().chain(FROM_NON_ASCII) {
        // the last field gone, the hash cut in half, surrounding whitespace
        let last_field = &hash[..hash.rfind('$').unwrap()];
        let half = &hash[..hash.char_indices().nth(hash.chars().count() / 2).unwrap().0];
        for malformed in [last_field, half, &format!(" {hash}"), &format!("{hash}\n"), &format!("{hash}$")] {
            assert_refused(&hasher, malformed).await;
        }
    }
}

#[tokio::test]
async fn a_hash_missing_its_last_character_is_refused_or_never_verifies() {
    let hasher = hasher();
    for &hash in FROM_PASSWORD {
        let cut = &hash[..hash.len() - 1];
        let recorded_length = hash.starts_with("$2") || hash.contains("pbkdf2");
        if recorded_length {
            // bcrypt and Django have fixed lengths, PBKDF2 PHC records its output's (`l`): a cut is always seen
            assert_refused(&hasher, cut).await;
        } else {
            // Argon2 and scrypt record their output's length only as the output itself: a cut that leaves valid
            // base64 is a hash with a shorter output, which no password verifies against
            let refused = hasher.check_hash(&stored(cut)).is_err();
            let verified = hasher.verify(&password(PASSWORD), &stored(cut)).await;
            assert!(
                matches!(verified, Err(PasswordHashError::MalformedHash)) == refused && !matches!(verified, Ok(true)),
                "{cut}"
            );
        }
    }
}

#[tokio::test]
async fn hashes_with_bad_base64_or_bad_fields_are_refused() {
    let hasher = hasher();
    for hash in [
        // characters outside each alphabet
        with(ARGON2ID_V19, "$QvC+", "$QvC!"),
        with(ARGON2ID_V19, "aW1wb3J0", "aW1w*3J0"),
        with(BCRYPT_2B_PYCA, "7EJV", "7EJ!"),
        with(BCRYPT_2B_PYCA, "7EJV", "7EJ+"),
        with(SCRYPT_LN10, "$vQff", "$vQ_f"),
        with(PBKDF2_I1000, "$nQ2u", "$nQ-u"),
        with(DJANGO_I1500, "$gkLb", "$gk_b"),
        // padding where the PHC format has none, and none where Django's base64 has it
        format!("{SCRYPT_LN10}="),
        format!("{PBKDF2_I1000}="),
        DJANGO_I1500.trim_end_matches('=').to_owned(),
        // a non-canonical last character (its unused bits set)
        with(BCRYPT_2B_PYCA, "/6CG", "/6CH"),
        with(ARGON2ID_V19, "LQZVM", "LQZVN"),
        with(DJANGO_I1500, "Vdo=", "Vdp="),
        // a Django key of the wrong length, an empty salt, a `$` too many
        with(DJANGO_I1500, "gkLbplJH5ng1lCnRTdRBSV5vxfkRpcxTqpIASDWiVdo=", "gkLbplJH5ng1lCnRTdRBSV5v"),
        with(DJANGO_I1500, "$XsUq1eY3rJ7mQ2vKp9LbZa$", "$$"),
        with(DJANGO_I1500, "$XsUq1eY3rJ7mQ2vKp9LbZa$", "$XsUq1eY3$rJ7mQ2vKp9LbZa$"),
        // iterations and costs written in other ways than their tools write them
        with(DJANGO_I1500, "$1500$", "$01500$"),
        with(DJANGO_I1500, "$1500$", "$+1500$"),
        with(DJANGO_I1500, "$1500$", "$ 1500$"),
        with(BCRYPT_2B_PYCA, "$04$", "$+4$"),
        with(BCRYPT_2B_PYCA, "$04$", "$4$"),
        with(SCRYPT_LN10, "r=8", "r=08"),
        with(PBKDF2_I1000, "i=1000", "i=1e3"),
        // a parameter missing, unknown or given twice; a PBKDF2 length that is not the output's
        with(SCRYPT_LN10, "ln=10,r=8,p=1", "ln=10,r=8"),
        with(SCRYPT_LN10, "ln=10,", ""),
        with(SCRYPT_LN10, "p=1", "p=1,x=1"),
        with(SCRYPT_LN10, "p=1", "p=1,r=8"),
        with(ARGON2ID_V19, "m=256,", ""),
        with(ARGON2ID_V19, "p=2", "p=2,m=256"),
        with(PBKDF2_I1000, "i=1000,", ""),
        with(PBKDF2_I1000, "l=32", "l=31"),
        // a version where the form has none, and an Argon2 version that does not exist
        with(SCRYPT_LN10, "$ln=", "$v=1$ln="),
        with(PBKDF2_I1000, "$i=", "$v=1$i="),
        with(ARGON2ID_V19, "v=19", "v=20"),
        // Argon2 parameters its definition forbids: no memory, fewer than 8 KiB per lane, no pass, no lane
        with(ARGON2ID_V19, "m=256", "m=0"),
        with(ARGON2ID_V19, "m=256", "m=15"),
        with(ARGON2ID_V19, "t=2", "t=0"),
        with(ARGON2ID_V19, "p=2", "p=0"),
        // scrypt's N must be above 1, r and p at least 1
        with(SCRYPT_LN10, "ln=10", "ln=0"),
        with(SCRYPT_LN10, "r=8", "r=0"),
        with(SCRYPT_LN10, "p=1", "p=0"),
    ] {
        assert_refused(&hasher, &hash).await;
    }
}

#[tokio::test]
async fn hashes_costing_more_than_the_bounds_are_refused_without_being_hashed() {
    // Given stored hashes asking for more work than the bounds allow: hashing any of them would take from seconds to
    // days, or gigabytes of memory
    let hasher = hasher();
    let costly = [
        with(BCRYPT_2B_PYCA, "$04$", "$17$"),
        with(BCRYPT_2B_PYCA, "$04$", "$31$"),
        with(BCRYPT_2B_PYCA, "$04$", "$99$"),
        with(ARGON2ID_V19, "m=256", "m=1048577"),
        with(ARGON2ID_V19, "m=256", "m=4294967295"),
        with(ARGON2ID_V19, "t=2", "t=21"),
        with(ARGON2ID_V19, "m=256,t=2", "m=1048576,t=5"),
        with(ARGON2ID_V19, "m=256,t=2,p=2", "m=256,t=2,p=17"),
        with(SCRYPT_LN10, "ln=10", "ln=21"),
        with(SCRYPT_LN10, "ln=10", "ln=63"),
        with(SCRYPT_LN10, "ln=10,r=8", "ln=20,r=9"),
        with(SCRYPT_LN10, "ln=10,r=8,p=1", "ln=20,r=8,p=2"),
        with(SCRYPT_LN10, "r=8", "r=33"),
        with(SCRYPT_LN10, "p=1", "p=17"),
        with(PBKDF2_I1000, "i=1000", "i=10000001"),
        with(PBKDF2_I1000, "i=1000", "i=4294967295"),
        with(PBKDF2_I2000_L64, "i=2000", "i=5000001"),
        with(DJANGO_I1500, "$1500$", "$10000001$"),
        with(DJANGO_I1500, "$1500$", "$99999999999$"),
        // and too little: fewer PBKDF2 iterations than anyone should accept, bcrypt below its minimum cost
        with(PBKDF2_I1000, "i=1000", "i=999"),
        with(DJANGO_I1500, "$1500$", "$999$"),
        with(BCRYPT_2B_PYCA, "$04$", "$03$"),
    ];
    let started = Instant::now();
    for hash in &costly {
        // Then check_hash refuses them, and verify too, at once
        assert_refused(&hasher, hash).await;
    }
    assert!(started.elapsed() < Duration::from_secs(5), "nothing was hashed: {:?}", started.elapsed());
}

#[test]
fn hashes_at_the_bounds_are_accepted() {
    // Given stored hashes at the most each bound allows (only checked here: verifying them takes seconds)
    let hasher = hasher();
    for hash in [
        with(BCRYPT_2B_PYCA, "$04$", "$16$"),
        with(ARGON2ID_V19, "m=256,t=2", "m=1048576,t=4"),
        with(ARGON2ID_V19, "m=256,t=2", "m=209715,t=20"),
        with(ARGON2ID_V19, "m=256,t=2,p=2", "m=256,t=2,p=16"),
        with(SCRYPT_LN10, "ln=10,r=8,p=1", "ln=20,r=8,p=1"),
        with(SCRYPT_LN10, "ln=10,r=8,p=1", "ln=15,r=32,p=8"),
        with(SCRYPT_LN10, "ln=10,r=8,p=1", "ln=16,r=8,p=16"),
        with(PBKDF2_I1000, "i=1000", "i=10000000"),
        with(PBKDF2_I2000_L64, "i=2000", "i=5000000"),
        with(DJANGO_I1500, "$1500$", "$10000000$"),
        // and at the least
        with(SCRYPT_LN10, "ln=10,r=8,p=1", "ln=1,r=1,p=1"),
    ] {
        // Then check_hash accepts them
        assert!(hasher.check_hash(&stored(&hash)).is_ok(), "{hash}");
    }
}
