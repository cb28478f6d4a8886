//! `users-server import FILE` run as an operator runs it, on the embedded store in a fresh folder and on PostgreSQL:
//! one account per form of password hash the service accepts, made by the reference tools, each of which then signs
//! in with its own password (its hash replaced by the service's Argon2id at that first sign-in); an account without a
//! hash that cannot sign in until a reset gives it a password; refused lines reported by number and reason;
//! `user.imported` in the audit log; and a second run that skips everything already there.

use std::io::Write as _;
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use reqwest::StatusCode;
use serde_json::{Value, json};

/// One account per accepted form: its address, its password and its hash, printed by
/// `testdata/make_import_vectors.py` (argon2-cffi 25.1.0, pyca/bcrypt 5.0.0, libxcrypt through Python 3.11's `crypt`,
/// `hashlib` for scrypt and PBKDF2, Django 5.2's `PBKDF2PasswordHasher`), with fixed salts.
const HASHED: [(&str, &str, &str); 11] = [
    // argon2-cffi's `PasswordHasher()` parameters: 64 MiB, t=3, p=4.
    (
        "argon2id@old.example",
        "Tr0ub4dor&3",
        "$argon2id$v=19$m=65536,t=3,p=4$c2FsdC1vZi1hcmdvbjJpZA$1TcKPDSIHe3HA8aZKlgg5R9Y7by7Mfgr89WwPWklPmo",
    ),
    (
        "argon2i@old.example",
        "argon2i pass phrase",
        "$argon2i$v=19$m=128,t=3,p=1$c2FsdC1vZi1hcmdvbjJpIQ$t2dle7+guRU2XghPC0MmY+t6UGo7xTwxVMrly1rUEc0",
    ),
    (
        "argon2d@old.example",
        "d for data-dependent",
        "$argon2d$v=19$m=64,t=2,p=2$c2FsdC1vZi1hcmdvbjJkIQ$A+wr8btIKErZPTYuaAHA8KcW75zeJgzcNcqtdiuLbAk",
    ),
    // Argon2 1.0, with its version and (as libraries before Argon2 1.3 wrote it) without.
    (
        "argon2-v16@old.example",
        "version sixteen",
        "$argon2id$v=16$m=64,t=1,p=1$c2FsdC1vZi12MTYtaGFzaA$/2/ZEfLT2cjS59QWD/0z0vjCnrHj2axoK/weFzsFKDo",
    ),
    (
        "argon2-v10@old.example",
        "no version at all",
        "$argon2id$m=64,t=1,p=1$c2FsdC1vZi12MTAtaGFzaA$xKdt2vdcTn+LWMls8vaZAqC5KulXYwitw61AZJdeKnU",
    ),
    // A short, common password, as old systems let people have: it still signs in.
    ("bcrypt-2b@old.example", "123456", "$2b$04$SaltOfTheBcrypt2bUserOEagMUcUqieynUwwisxdCoNq1jiHlYA2"),
    ("bcrypt-2a@old.example", "hunter2", "$2a$05$SaltOfTheBcrypt2aUserOU3pNYwAEaOUPvJivZK3tJDyo9n9CoY."),
    ("bcrypt-2y@old.example", "pässwörd ñ 密码", "$2y$04$SaltOfTheBcrypt2yUserOQvFWHyxnfUgh6hyi.fE3dGAHMhFUU1W"),
    (
        "scrypt@old.example",
        "scrypt me up",
        "$scrypt$ln=10,r=8,p=1$c2FsdC1vZi1zY3J5cHQhIQ$7mqdJs6N+HzOORd3DBdfA+Gs8sgoYr8CQuC/fpIGN6g",
    ),
    (
        "pbkdf2@old.example",
        "pbkdf2 in phc",
        "$pbkdf2-sha256$i=1200,l=32$c2FsdC1vZi1wYmtkZjIhIQ$PgvQstOWzZZoWPB16n/P4viEWxNcrTciE9IBP/LwFM8",
    ),
    (
        "django@old.example",
        "django unchained",
        "pbkdf2_sha256$1500$DjangoSaltOf22Letters0$pUlOTqX+nFvmwETuy696+7pjoW7sFDp4nFToTgMSGCw=",
    ),
];

/// The first account, the old system's admin: it reads the audit log once signed in.
const ADMIN: usize = 0;
const NO_HASH: &str = "nohash@old.example";
/// What the service's own hashes start with: Argon2id 1.3 with its parameters.
const OURS: &str = "$argon2id$v=19$m=19456,t=2,p=1$";

/// The file to import, as an export from another system: the accounts of `HASHED` (lines 1 to 11), one without a
/// hash (12), a blank line (13, passed over), then lines to refuse (14 to 19) and an address already imported above
/// in other letters (20).
fn import_file() -> String {
    let mut lines: Vec<String> = HASHED
        .iter()
        .enumerate()
        .map(|(index, (email, _, hash))| {
            let mut line = json!({ "email": email, "password_hash": hash, "last_name": format!("Hashed{index}") });
            if index == ADMIN {
                line = json!({ "email": email, "password_hash": hash, "username": "countess", "first_name": "Augusta",
                               "last_name": "King", "roles": ["admin", "user"], "email_verified": true });
            }
            line.to_string()
        })
        .collect();
    lines.extend(
        [
            // Fields the service does not know are ignored; a null hash is no hash.
            r#"{"email": "nohash@old.example", "username": "nohash", "password_hash": null, "plan": "pro"}"#,
            "",
            r#"{"email": "not an address", "password_hash": "$2b$04$SaltOfTheBcrypt2bUserOEagMUcUqieynUwwisxdCoNq1jiHlYA2"}"#,
            r#"{"email": "role@old.example", "roles": ["user", "superuser"]}"#,
            // Sun's MD5-crypt and FreeBSD's MD5-crypt, by libxcrypt: forms the service cannot check.
            r#"{"email": "md5@old.example", "password_hash": "$md5$rounds=904$Vc3VgyFx$$VOB4oMErNMqUZV0u.YAnP/"}"#,
            r#"{"email": "md5crypt@old.example", "password_hash": "$1$saltsalt$9xy1btjgzLYfb7hivXtC//"}"#,
            // The first account's username, in capitals.
            r#"{"email": "impostor@old.example", "username": "COUNTESS"}"#,
            r#"{"email": "broken@old.example", "#,
            r#"{"email": "Argon2ID@Old.Example", "first_name": "Someone", "last_name": "Else"}"#,
        ]
        .map(str::to_owned),
    );
    lines.join("\n") + "\n"
}

const UNSUPPORTED: &str = "password_hash is not a hash this service can check: Argon2 or scrypt (PHC), bcrypt ($2a$, \
                           $2b$, $2y$) or PBKDF2-SHA256 (PHC, or Django's pbkdf2_sha256$), with a cost within bounds";

/// What an import of `import_file()` prints into an empty store shown as `store`: every refused line, then the counts.
fn expected_output(imported: u64, skipped: u64, store: &str) -> String {
    [
        "line 14: refused: email must be a valid email address".to_owned(),
        "line 15: refused: roles names an unknown role \"superuser\" (known: admin, user)".to_owned(),
        format!("line 16: refused: {UNSUPPORTED}"),
        format!("line 17: refused: {UNSUPPORTED}"),
        "line 18: refused: username is already taken".to_owned(),
        "line 19: refused: not a user as JSON: EOF while parsing a value at line 1 column 32".to_owned(),
        format!("imported {imported}, skipped {skipped} (already there), refused 6, into {store}"),
    ]
    .join("\n")
        + "\n"
}

/// `users-server ARGS` in `folder`, on the store `database_url` names (the embedded one in `folder` when `None`), with
/// nothing else from the test's environment standing in for the defaults.
fn users_server(folder: &Path, database_url: Option<&str>, args: &[&str]) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_users-server"));
    command.args(args).current_dir(folder);
    for variable in ["DATABASE_URL", "JWT_SECRET", "JWT_ALGORITHM", "JWT_KEYS_DIR", "HOST", "USERS_CONFIG", "RUST_LOG"]
    {
        command.env_remove(variable);
    }
    if let Some(url) = database_url {
        command.env("DATABASE_URL", url);
    }
    command
}

/// A command's end: whether it succeeded, and what it printed.
struct Finished {
    success: bool,
    stdout: String,
    stderr: String,
}

/// Runs `command` to its end, within 120 s, its output through files (which never fill up as pipes can).
fn run(mut command: Command) -> Finished {
    static NEXT: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
    let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let file = |name: &str| std::env::temp_dir().join(format!("users-import-{}-{n}.{name}", std::process::id()));
    let (stdout_file, stderr_file) = (file("stdout"), file("stderr"));
    let mut child = command
        .stdin(Stdio::null())
        .stdout(std::fs::File::create(&stdout_file).unwrap())
        .stderr(std::fs::File::create(&stderr_file).unwrap())
        .spawn()
        .expect("run users-server");
    let deadline = Instant::now() + Duration::from_secs(120);
    let status = loop {
        if let Some(status) = child.try_wait().expect("wait for users-server") {
            break status;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("users-server did not finish within 120 s");
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    let read = |path: &PathBuf| {
        let text = std::fs::read_to_string(path).unwrap();
        let _ = std::fs::remove_file(path);
        text
    };
    Finished { success: status.success(), stdout: read(&stdout_file), stderr: read(&stderr_file) }
}

/// A running server, stopped with SIGTERM when dropped.
struct Server {
    child: Child,
    base: String,
}

impl Server {
    async fn start(folder: &Path, database_url: Option<&str>) -> Self {
        let port = TcpListener::bind("127.0.0.1:0").and_then(|listener| listener.local_addr()).unwrap().port();
        let child = users_server(folder, database_url, &[])
            .env("PORT", port.to_string())
            // Off: the test signs many accounts in from one address.
            .env("USERS__RATE_LIMIT__AUTH_PER_MINUTE", "0")
            .env("USERS__RATE_LIMIT__AUTH_BURST", "0")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start users-server");
        let server = Self { child, base: format!("http://127.0.0.1:{port}") };
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            if let Ok(response) = reqwest::get(format!("{}/health/ready", server.base)).await
                && response.status() == StatusCode::OK
            {
                return server;
            }
            assert!(Instant::now() < deadline, "users-server did not become ready within 60 s");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    async fn sign_in(&self, email: &str, password: &str) -> (StatusCode, Value) {
        let body = json!({ "email": email, "password": password });
        let response =
            reqwest::Client::new().post(format!("{}/auth/login", self.base)).json(&body).send().await.unwrap();
        (response.status(), response.json().await.unwrap_or(Value::Null))
    }

    async fn get(&self, path: &str, token: &str) -> (StatusCode, Value) {
        let response =
            reqwest::Client::new().get(format!("{}{path}", self.base)).bearer_auth(token).send().await.unwrap();
        (response.status(), response.json().await.unwrap_or(Value::Null))
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = Command::new("kill").arg("-TERM").arg(self.child.id().to_string()).status();
        let _ = self.child.wait();
    }
}

/// An empty folder of the test's own under the system's temporary folder.
fn fresh_folder(name: &str) -> PathBuf {
    let folder = std::env::temp_dir().join(format!("users-import-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&folder);
    std::fs::create_dir_all(&folder).unwrap();
    folder
}

#[derive(diesel::QueryableByName)]
struct StoredHash {
    #[diesel(sql_type = diesel::sql_types::Text)]
    email: String,
    #[diesel(sql_type = diesel::sql_types::Text)]
    password_hash: String,
}

const STORED_HASHES: &str = "SELECT email, password_hash FROM users ORDER BY id";

/// Where the imported accounts are, to read their rows behind the service's back.
enum Store {
    Sqlite(PathBuf),
    Postgres(users_postgres::testing::TestDatabase),
}

impl Store {
    fn url(&self) -> Option<&str> {
        match self {
            Self::Sqlite(_) => None,
            Self::Postgres(db) => Some(db.url()),
        }
    }

    /// Every account's address and stored hash, in id order.
    async fn hashes(&self) -> Vec<(String, String)> {
        let rows: Vec<StoredHash> = match self {
            Self::Sqlite(path) => {
                use diesel::{Connection as _, RunQueryDsl as _};
                let mut connection = diesel::SqliteConnection::establish(path.to_str().unwrap()).unwrap();
                diesel::sql_query(STORED_HASHES).load(&mut connection).unwrap()
            }
            Self::Postgres(db) => {
                use diesel_async::RunQueryDsl as _;
                diesel::sql_query(STORED_HASHES).load(&mut db.connect().await).await.unwrap()
            }
        };
        rows.into_iter().map(|row| (row.email, row.password_hash)).collect()
    }

    async fn hash_of(&self, email: &str) -> String {
        let hashes = self.hashes().await;
        hashes.into_iter().find(|(stored, _)| stored == email).unwrap_or_else(|| panic!("no account {email}")).1
    }
}

async fn imported_accounts_sign_in_with_their_old_passwords(store: Store, folder: &Path, shown_as: &str) {
    let file = folder.join("export.jsonl");
    std::fs::File::create(&file).unwrap().write_all(import_file().as_bytes()).unwrap();

    // When the file is imported
    let first = run(users_server(folder, store.url(), &["import", "export.jsonl"]));

    // Then every refused line is told by number and reason, and the rest went in: the twelve accounts; the address
    // given again in other letters is already there.
    assert!(first.success, "{}", first.stderr);
    assert_eq!(first.stdout, expected_output(12, 1, shown_as), "stderr: {}", first.stderr);
    let mut stored = store.hashes().await;
    stored.sort();
    let mut expected: Vec<(String, String)> =
        HASHED.iter().map(|(email, _, hash)| ((*email).to_owned(), (*hash).to_owned())).collect();
    let no_hash = stored.iter().find(|(email, _)| email == NO_HASH).expect("the account without a hash").1.clone();
    expected.push((NO_HASH.to_owned(), no_hash.clone()));
    expected.sort();
    assert_eq!(stored, expected, "each with its hash as it came, until it signs in");
    assert!(!no_hash.starts_with('$') && !no_hash.starts_with("pbkdf2"), "no hash of any form: {no_hash:?}");

    // And no account signs in with another's password: the hash it came with is its own
    let server = Server::start(folder, store.url()).await;
    for (index, (email, _, hash)) in HASHED.iter().enumerate() {
        let (_, someone_elses, _) = HASHED[(index + 1) % HASHED.len()];
        let (status, refused) = server.sign_in(email, someone_elses).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{email} with another's password: {refused}");
        assert_eq!(refused["type"], "/problems/invalid-credentials");
        assert_eq!(store.hash_of(email).await, *hash, "{email}: a refused password changes nothing");
    }

    // And the accounts are as the file describes them, never signed in
    let (admin_email, admin_password, _) = HASHED[ADMIN];
    let (status, signed_in) = server.sign_in(admin_email, admin_password).await;
    assert_eq!(status, StatusCode::OK, "{signed_in}");
    let admin_token = signed_in["access_token"].as_str().unwrap().to_owned();
    let (status, listed) = server.get("/api/users?limit=100", &admin_token).await;
    assert_eq!(status, StatusCode::OK, "{listed}");
    let users = listed["data"].as_array().unwrap();
    assert_eq!(users.len(), 12);
    let user = |email: &str| users.iter().find(|user| user["email"] == email).unwrap_or_else(|| panic!("{email}"));
    let admin = user(admin_email);
    assert_eq!(
        (&admin["username"], &admin["firstName"], &admin["lastName"]),
        (&json!("countess"), &json!("Augusta"), &json!("King"))
    );
    assert_eq!((&admin["roles"], &admin["emailVerified"]), (&json!(["admin", "user"]), &json!(true)));
    for other in users.iter().filter(|other| other["email"] != admin_email) {
        assert_eq!((&other["roles"], &other["emailVerified"]), (&json!(["user"]), &json!(false)), "{other}");
        assert_eq!(other["lastSignInAt"], Value::Null, "{other}");
    }
    assert_eq!((&user(HASHED[1].0)["lastName"], &user(HASHED[1].0)["username"]), (&json!("Hashed1"), &Value::Null));
    assert_eq!((&user(NO_HASH)["username"], &user(NO_HASH)["lastName"]), (&json!("nohash"), &Value::Null));

    // When each account signs in with its own password (the admin did, above)
    for (email, password, _) in HASHED.iter().filter(|(email, _, _)| *email != admin_email) {
        let (status, signed_in) = server.sign_in(email, password).await;

        assert_eq!(status, StatusCode::OK, "{email}: {signed_in}");
        assert_eq!(signed_in["user"]["email"], *email);
        assert!(signed_in["user"]["last_sign_in_at"].is_string(), "{signed_in}");
    }
    // Then every hash is the service's own, made at that first sign-in
    let rehashed = store.hashes().await;
    for (email, _, old) in HASHED {
        let now = &rehashed.iter().find(|(stored, _)| stored == email).unwrap().1;
        assert!(now.starts_with(OURS), "{email}: {now}");
        assert_ne!(now, old);
    }
    // And a second sign-in works with the new hash, which stays as it is
    for (email, password, _) in HASHED {
        let before = store.hash_of(email).await;
        let (status, body) = server.sign_in(email, password).await;
        assert_eq!(status, StatusCode::OK, "{email}, again: {body}");
        assert_eq!(store.hash_of(email).await, before, "{email}: no second re-hash");
    }

    // The account without a hash cannot sign in with any password: it is for a reset to give it one.
    for password in ["", "x", "Tr0ub4dor&3", NO_HASH] {
        let (status, refused) = server.sign_in(NO_HASH, password).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{password:?}: {refused}");
        assert_eq!(refused["type"], "/problems/invalid-credentials");
    }
    assert_eq!(store.hash_of(NO_HASH).await, no_hash);

    // And the audit log has each import, done by no one, without a hash
    let (status, events) = server.get("/api/audit-events?kind=user.imported&limit=100", &admin_token).await;
    assert_eq!(status, StatusCode::OK, "{events}");
    let events = events["data"].as_array().unwrap();
    let mut recorded: Vec<(String, bool)> = events
        .iter()
        .map(|event| {
            assert_eq!((&event["kind"], &event["actorId"]), (&json!("user.imported"), &Value::Null), "{event}");
            assert!(event["subjectId"].is_i64(), "{event}");
            let details = &event["details"];
            (details["email"].as_str().unwrap().to_owned(), details["with_password"].as_bool().unwrap())
        })
        .collect();
    recorded.sort();
    let mut expected: Vec<(String, bool)> =
        HASHED.iter().map(|(email, _, _)| ((*email).to_owned(), true)).chain([(NO_HASH.to_owned(), false)]).collect();
    expected.sort();
    assert_eq!(recorded, expected);
    for (_, _, hash) in HASHED {
        assert!(!Value::Array(events.clone()).to_string().contains(hash), "no event holds a hash");
    }

    // And a reset gives the account without a hash a password of the service's own
    let forgot = json!({ "email": NO_HASH });
    let response = reqwest::Client::new().post(format!("{}/auth/password/forgot", server.base)).json(&forgot).send();
    assert_eq!(response.await.unwrap().status(), StatusCode::ACCEPTED);
    let token = reset_token(&folder.join("data/mail"), NO_HASH).await;
    let reset = json!({ "token": token, "password": "a password of my own" });
    let response = reqwest::Client::new().post(format!("{}/auth/password/reset", server.base)).json(&reset).send();
    assert_eq!(response.await.unwrap().status(), StatusCode::NO_CONTENT);
    let (status, body) = server.sign_in(NO_HASH, "a password of my own").await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert!(store.hash_of(NO_HASH).await.starts_with(OURS));
    let before_again = store.hashes().await;

    // When the same file is imported again, with the server running
    let again = run(users_server(folder, store.url(), &["import", "export.jsonl"]));

    // Then everything already there is skipped, the same lines are refused, and nothing changed
    assert!(again.success, "{}", again.stderr);
    assert_eq!(again.stdout, expected_output(0, 13, shown_as), "stderr: {}", again.stderr);
    assert_eq!(store.hashes().await, before_again, "no account was replaced");
    let (status, body) = server.sign_in(HASHED[1].0, HASHED[1].1).await;
    assert_eq!(status, StatusCode::OK, "the password stays good: {body}");
    let (_, events) = server.get("/api/audit-events?kind=user.imported&limit=100", &admin_token).await;
    assert_eq!(events["data"].as_array().unwrap().len(), 12, "no import recorded again");
}

/// The token of the reset link mailed to `to`, once its message is in the mail folder `dir` (within 10 s).
async fn reset_token(dir: &Path, to: &str) -> String {
    const LINK: &str = "/reset-password?token=";
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let texts = std::fs::read_dir(dir).into_iter().flatten().filter_map(|entry| {
            let raw = std::fs::read(entry.ok()?.path()).ok()?;
            let message = mail_parser::MessageParser::default().parse(&raw)?;
            let recipient = message.to()?.first()?.address()?.to_owned();
            (recipient == to).then(|| message.body_text(0).map(|text| text.into_owned())).flatten()
        });
        if let Some(text) = texts.into_iter().find(|text| text.contains(LINK)) {
            let start = text.find(LINK).unwrap() + LINK.len();
            return text[start..].chars().take_while(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_')).collect();
        }
        assert!(Instant::now() < deadline, "no reset link was mailed to {to} within 10 s");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test]
async fn given_an_export_of_another_system_when_imported_into_the_embedded_store_then_its_accounts_sign_in() {
    let folder = fresh_folder("sqlite");
    let store = Store::Sqlite(folder.join("data/users.db"));

    imported_accounts_sign_in_with_their_old_passwords(store, &folder, "sqlite://data/users.db").await;

    std::fs::remove_dir_all(&folder).unwrap();
}

#[tokio::test]
async fn given_an_export_of_another_system_when_imported_into_postgres_then_its_accounts_sign_in() {
    let Some(db) = users_postgres::testing::TestDatabase::create().await else { return };
    let folder = fresh_folder("postgres");
    let shown_as = db.url().to_owned();

    imported_accounts_sign_in_with_their_old_passwords(Store::Postgres(db), &folder, &shown_as).await;

    std::fs::remove_dir_all(&folder).unwrap();
}

#[test]
fn a_file_that_cannot_be_read_is_an_error_naming_it() {
    let folder = fresh_folder("missing-file");

    let finished = run(users_server(&folder, None, &["import", "absent.jsonl"]));

    assert!(!finished.success, "{}", finished.stdout);
    assert!(finished.stderr.contains("absent.jsonl"), "{}", finished.stderr);
    assert!(!finished.stdout.contains("imported"), "{}", finished.stdout);
    std::fs::remove_dir_all(&folder).unwrap();
}
