"""Makes the foreign password-hash test vectors of src/foreign_tests.rs with the reference tools.

Run with Python 3.11 (its `crypt` module is libxcrypt, the system's C crypt), after
`pip install bcrypt==5.0.0 argon2-cffi==25.1.0` (and, to check the Django strings with Django itself, `django`):

    python3 crates/adapters/argon2/testdata/make_vectors.py

Salts are fixed, so the output is the same on every run and matches the constants in the tests.
pyca/bcrypt 5 is built on the Rust `bcrypt` crate (0.17) itself, so the bcrypt vectors also come from libxcrypt, an
independent C implementation (Openwall's crypt_blowfish), where both tools can make them.
"""

import base64
import hashlib
import warnings

import bcrypt
from argon2 import PasswordHasher, Type, low_level

with warnings.catch_warnings():
    warnings.simplefilter("ignore", DeprecationWarning)
    import crypt  # removed in Python 3.13

PASSWORD = "correct horse battery staple"
NON_ASCII = "pässwörd ñ 密码"
LONG = "x" * 72 + "tail ignored"  # 84 bytes: bcrypt reads the first 72
SALT16 = b"import-vector-16"
BCRYPT_SALT = "abcdefghijklmnopqrstuu"  # 22 characters of bcrypt's alphabet, canonical (16 bytes)
DEFAULTS = PasswordHasher()
DJANGO_SALT = "XsUq1eY3rJ7mQ2vKp9LbZa"  # 22 characters, as Django's get_random_string makes them


def b64(raw: bytes) -> str:
    """The PHC string format's "B64": standard alphabet, no padding (as passlib and RustCrypto write it)."""
    return base64.b64encode(raw).decode().rstrip("=")


def argon2_phc(password, kind, version, m, t, p, length=32):
    return low_level.hash_secret(
        password.encode(), SALT16, time_cost=t, memory_cost=m, parallelism=p, hash_len=length, type=kind,
        version=version,
    ).decode()


def scrypt_phc(password, ln, r, p, length=32):
    key = hashlib.scrypt(password.encode(), salt=SALT16, n=2**ln, r=r, p=p, dklen=length, maxmem=2**30)
    return f"$scrypt$ln={ln},r={r},p={p}${b64(SALT16)}${b64(key)}"


def pbkdf2_phc(password, iterations, length=32):
    key = hashlib.pbkdf2_hmac("sha256", password.encode(), SALT16, iterations, length)
    return f"$pbkdf2-sha256$i={iterations},l={length}${b64(SALT16)}${b64(key)}"


def django(password, iterations, salt=DJANGO_SALT):
    """As Django's PBKDF2PasswordHasher.encode: the salt's UTF-8 bytes, the key in standard base64 with padding."""
    key = hashlib.pbkdf2_hmac("sha256", password.encode(), salt.encode(), iterations)
    return f"pbkdf2_sha256${iterations}${salt}${base64.b64encode(key).decode().strip()}"


vectors = {
    # argon2-cffi (the reference C implementation)
    "ARGON2ID_V19": argon2_phc(PASSWORD, Type.ID, 0x13, 256, 2, 2),
    "ARGON2I_V19": argon2_phc(PASSWORD, Type.I, 0x13, 128, 3, 1),
    "ARGON2D_V19": argon2_phc(PASSWORD, Type.D, 0x13, 64, 1, 1),
    "ARGON2ID_V16": argon2_phc(PASSWORD, Type.ID, 0x10, 64, 1, 1),
    # as libraries before Argon2 1.3 wrote it: no v= (the reference implementation then reads version 1.0)
    "ARGON2ID_NO_VERSION": argon2_phc(PASSWORD, Type.ID, 0x10, 64, 1, 1).replace("$v=16$", "$"),
    "ARGON2ID_OURS": argon2_phc(PASSWORD, Type.ID, 0x13, 19456, 2, 1),
    "ARGON2ID_OURS_SHORT_OUTPUT": argon2_phc(PASSWORD, Type.ID, 0x13, 19456, 2, 1, length=16),
    "ARGON2ID_NON_ASCII": argon2_phc(NON_ASCII, Type.ID, 0x13, 64, 1, 1),
    # the parameters of argon2-cffi's PasswordHasher() (RFC 9106's low-memory profile), with our fixed salt
    "ARGON2ID_CFFI_DEFAULTS": argon2_phc(PASSWORD, Type.ID, 0x13, DEFAULTS.memory_cost, DEFAULTS.time_cost,
                                         DEFAULTS.parallelism, DEFAULTS.hash_len),
    # pyca/bcrypt
    "BCRYPT_2B_PYCA": bcrypt.hashpw(PASSWORD.encode(), f"$2b$04${BCRYPT_SALT}".encode()).decode(),
    "BCRYPT_2A_PYCA": bcrypt.hashpw(PASSWORD.encode(), f"$2a$05${BCRYPT_SALT}".encode()).decode(),
    # libxcrypt
    "BCRYPT_2Y_LIBXCRYPT": crypt.crypt(PASSWORD, f"$2y$04${BCRYPT_SALT}"),
    "BCRYPT_2B_LIBXCRYPT": crypt.crypt(PASSWORD, f"$2b$05${BCRYPT_SALT}"),
    "BCRYPT_NON_ASCII_LIBXCRYPT": crypt.crypt(NON_ASCII, f"$2b$04${BCRYPT_SALT}"),
    "BCRYPT_LONG_LIBXCRYPT": crypt.crypt(LONG, f"$2b$04${BCRYPT_SALT}"),
    # hashlib.scrypt (OpenSSL), PHC as passlib writes it
    "SCRYPT_LN10": scrypt_phc(PASSWORD, 10, 8, 1),
    "SCRYPT_LN8_P2_L64": scrypt_phc(PASSWORD, 8, 4, 2, length=64),
    "SCRYPT_NON_ASCII": scrypt_phc(NON_ASCII, 6, 8, 1),
    # hashlib.pbkdf2_hmac (OpenSSL), PHC as RustCrypto's pbkdf2 writes it
    "PBKDF2_I1000": pbkdf2_phc(PASSWORD, 1000),
    "PBKDF2_I2000_L64": pbkdf2_phc(PASSWORD, 2000, length=64),
    "PBKDF2_NON_ASCII": pbkdf2_phc(NON_ASCII, 1500),
    # Django's pbkdf2_sha256$ form, built as Django's PBKDF2PasswordHasher does
    "DJANGO_I1500": django(PASSWORD, 1500),
    "DJANGO_NON_ASCII": django(NON_ASCII, 1000, salt="sälty-salt"),
    "DJANGO_I870000": django(PASSWORD, 870000),  # Django 5.1's default iterations
}

assert PasswordHasher().verify(vectors["ARGON2ID_NO_VERSION"], PASSWORD), "argon2-cffi reads no v= as 1.0"
assert vectors["BCRYPT_2B_PYCA"][7:] == crypt.crypt(PASSWORD, f"$2b$04${BCRYPT_SALT}")[7:], "pyca and libxcrypt agree"
try:  # Django itself, where it is installed (`pip install django`; checked with 5.2): it makes the same strings
    from django.conf import settings

    settings.configure(PASSWORD_HASHERS=["django.contrib.auth.hashers.PBKDF2PasswordHasher"])
    from django.contrib.auth.hashers import PBKDF2PasswordHasher

    assert PBKDF2PasswordHasher().encode(PASSWORD, DJANGO_SALT, 1500) == vectors["DJANGO_I1500"]
    assert PBKDF2PasswordHasher().verify(NON_ASCII, vectors["DJANGO_NON_ASCII"])
except ImportError:
    pass

for name, value in vectors.items():
    print(f"{name} = {value}")
