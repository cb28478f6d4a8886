//! The CPU cost of what every request or sign-in does: validating a full profile (every field of `PUT
//! /users/current`), signing and verifying an access token (EdDSA, and HS256 for comparison), and one Argon2id hash
//! with the production parameters.

use std::hint::black_box;

use argon2::password_hash::PasswordHasher as _;
use argon2::{Algorithm, Argon2, Params, Version};
use chrono::{Duration, Utc};
use criterion::{BatchSize, Criterion, criterion_group, criterion_main};
use users_domain::{Email, ObjectId, Password, PersonName, ProfileUrl, Role, UserId, Username};
use users_jwt::{Ed25519KeyPair, JwtIssuer, KeyId, RefreshSecret};
use users_ports::{SessionId, TokenIssuer, TokenSubject};

fn full_profile(c: &mut Criterion) {
    c.bench_function("validate a full profile", |b| {
        b.iter(|| {
            let email = Email::parse(black_box("ada.lovelace@example.com")).unwrap();
            let username = Username::parse(black_box("ada_lovelace")).unwrap();
            let password = Password::parse(black_box("correct horse battery staple")).unwrap();
            password.check_not_personal(&email, Some(&username)).unwrap();
            let first = PersonName::parse(black_box("Ada")).unwrap();
            let last = PersonName::parse(black_box("Lovelace")).unwrap();
            let links = [
                "https://ada.example.com/about",
                "https://facebook.com/ada.lovelace",
                "https://instagram.com/ada",
                "https://linkedin.com/in/ada-lovelace",
                "https://x.com/ada",
                "https://youtube.com/@ada",
            ]
            .map(|link| ProfileUrl::parse(black_box(link)).unwrap());
            (email, username, password, first, last, links)
        })
    });
}

fn access_tokens(c: &mut Criterion) {
    let key = Ed25519KeyPair::generate(KeyId::parse("bench").unwrap()).unwrap();
    let refresh_secret = RefreshSecret::new(&[9u8; 64]).unwrap();
    let eddsa = JwtIssuer::ed25519(&key, &[], Duration::minutes(15), refresh_secret.clone()).unwrap();
    let hs256 = JwtIssuer::hs256(&[7u8; 64], Duration::minutes(15), refresh_secret).unwrap();
    let object_id = ObjectId::parse("507f1f77bcf86cd799439011").unwrap();
    for (name, issuer) in [("EdDSA", &eddsa), ("HS256", &hs256)] {
        let mut user = 0;
        let mut issue = || {
            user += 1; // a new token each time, so none is remembered from before
            let now = Utc::now();
            let subject = TokenSubject {
                user_id: UserId(user),
                object_id,
                session_id: SessionId(7),
                roles: vec![Role::User],
                authenticated_at: now,
            };
            issuer.issue_access_token(&subject, now)
        };
        c.bench_function(&format!("issue an access token ({name})"), |b| b.iter(|| issue().unwrap()));
        c.bench_function(&format!("verify a new access token ({name})"), |b| {
            b.iter_batched(
                || issue().unwrap().token,
                |token| issuer.verify_access_token(&token, Utc::now()).unwrap(),
                BatchSize::SmallInput,
            )
        });
        let token = issue().unwrap().token;
        c.bench_function(&format!("verify a remembered access token ({name})"), |b| {
            b.iter(|| issuer.verify_access_token(black_box(&token), Utc::now()).unwrap())
        });
    }
}

fn argon2_hash(c: &mut Criterion) {
    let params = Params::new(users_argon2::MEMORY_KIB, users_argon2::ITERATIONS, users_argon2::PARALLELISM, None);
    let argon2 = Argon2::new(Algorithm::Argon2id, Version::V0x13, params.unwrap());
    let mut group = c.benchmark_group("argon2id");
    group.sample_size(20);
    group.bench_function("hash a password (m=19456 KiB, t=2, p=1)", |b| {
        b.iter(|| argon2.hash_password(black_box(b"correct horse battery staple")).unwrap())
    });
    // What the service's hashing threads do: the same hash in memory kept from one hash to the next.
    let mut memory = vec![argon2::Block::new(); argon2.params().block_count()];
    group.bench_function("hash a password in kept memory (m=19456 KiB, t=2, p=1)", |b| {
        let mut output = [0u8; 32];
        b.iter(|| {
            argon2
                .hash_password_into_with_memory(
                    black_box(b"correct horse battery staple"),
                    b"saltsaltsalt",
                    &mut output,
                    &mut memory,
                )
                .unwrap()
        })
    });
    group.finish();
}

criterion_group!(benches, full_profile, access_tokens, argon2_hash);
criterion_main!(benches);
