"""Makes the password hashes of tests/import.rs's import file with the reference tools: one account per form of hash
`users-server import` accepts, each with a password of its own (so a hash given to the wrong account cannot pass).

Run with Python 3.11 (its `crypt` module is libxcrypt, the system's C crypt), after
`pip install bcrypt==5.0.0 argon2-cffi==25.1.0 django==5.2.*`:

    python3 crates/server/tests/testdata/make_import_vectors.py

Salts are fixed, so the output is the same on every run and matches the constants in the test.
"""

import base64
import hashlib
import warnings

import bcrypt
from argon2 import PasswordHasher, Type, low_level
from django.conf import settings

with warnings.catch_warnings():
    warnings.simplefilter("ignore", DeprecationWarning)
    import crypt  # removed in Python 3.13

settings.configure(PASSWORD_HASHERS=["django.contrib.auth.hashers.PBKDF2PasswordHasher"])
from django.contrib.auth.hashers import PBKDF2PasswordHasher  # noqa: E402


def b64(raw: bytes) -> str:
    """The PHC string format's "B64": standard alphabet, no padding (as passlib and RustCrypto write it)."""
    return base64.b64encode(raw).decode().rstrip("=")


def argon2(password, salt, kind, version, m, t, p, length=32):
    return low_level.hash_secret(
        password.encode(), salt, time_cost=t, memory_cost=m, parallelism=p, hash_len=length, type=kind,
        version=version,
    ).decode()


def scrypt_phc(password, salt, ln, r, p, length=32):
    key = hashlib.scrypt(password.encode(), salt=salt, n=2**ln, r=r, p=p, dklen=length, maxmem=2**30)
    return f"$scrypt$ln={ln},r={r},p={p}${b64(salt)}${b64(key)}"


def pbkdf2_phc(password, salt, iterations, length=32):
    key = hashlib.pbkdf2_hmac("sha256", password.encode(), salt, iterations, length)
    return f"$pbkdf2-sha256$i={iterations},l={length}${b64(salt)}${b64(key)}"


cffi = PasswordHasher()  # argon2-cffi's defaults (RFC 9106's low-memory profile)
vectors = [
    # (email, password, hash)
    ("argon2id@old.example", "Tr0ub4dor&3",
     argon2("Tr0ub4dor&3", b"salt-of-argon2id", Type.ID, 0x13, cffi.memory_cost, cffi.time_cost, cffi.parallelism)),
    ("argon2i@old.example", "argon2i pass phrase",
     argon2("argon2i pass phrase", b"salt-of-argon2i!", Type.I, 0x13, 128, 3, 1)),
    ("argon2d@old.example", "d for data-dependent",
     argon2("d for data-dependent", b"salt-of-argon2d!", Type.D, 0x13, 64, 2, 2)),
    ("argon2-v16@old.example", "version sixteen",
     argon2("version sixteen", b"salt-of-v16-hash", Type.ID, 0x10, 64, 1, 1)),
    # as libraries before Argon2 1.3 wrote it: no v= (read as version 1.0)
    ("argon2-v10@old.example", "no version at all",
     argon2("no version at all", b"salt-of-v10-hash", Type.ID, 0x10, 64, 1, 1).replace("$v=16$", "$")),
    # pyca/bcrypt; a short and common password, as old systems let people have
    ("bcrypt-2b@old.example", "123456", bcrypt.hashpw(b"123456", b"$2b$04$SaltOfTheBcrypt2bUserO").decode()),
    ("bcrypt-2a@old.example", "hunter2", bcrypt.hashpw(b"hunter2", b"$2a$05$SaltOfTheBcrypt2aUserO").decode()),
    # libxcrypt, PHP's $2y$
    ("bcrypt-2y@old.example", "pässwörd ñ 密码", crypt.crypt("pässwörd ñ 密码", "$2y$04$SaltOfTheBcrypt2yUserO")),
    # hashlib (OpenSSL), PHC as passlib writes it
    ("scrypt@old.example", "scrypt me up", scrypt_phc("scrypt me up", b"salt-of-scrypt!!", 10, 8, 1)),
    ("pbkdf2@old.example", "pbkdf2 in phc", pbkdf2_phc("pbkdf2 in phc", b"salt-of-pbkdf2!!", 1200)),
    # Django 5.2's own hasher
    ("django@old.example", "django unchained",
     PBKDF2PasswordHasher().encode("django unchained", "DjangoSaltOf22Letters0", 1500)),
]

ph = PasswordHasher()
for email, password, hashed in vectors:
    if hashed.startswith("$argon2"):
        assert ph.verify(hashed, password)
    elif hashed.startswith("$2"):
        assert crypt.crypt(password, hashed) == hashed and bcrypt.checkpw(password.encode(), hashed.encode())
    elif hashed.startswith("pbkdf2_sha256$"):
        assert PBKDF2PasswordHasher().verify(password, hashed)
    print(f'    ("{email}", "{password}", "{hashed}"),')
