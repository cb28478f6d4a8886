//! `users-server import FILE`: the lines of a JSON Lines file read into accounts to bring over (`ImportedUser`), a
//! few at a time through `UserService::import_user`, with a running count and the reason for every refused line.

use std::collections::HashSet;
use std::io::BufRead;
use std::time::{Duration, Instant};

use futures_util::StreamExt as _;
use futures_util::stream::FuturesUnordered;
use serde::Deserialize;
use users_app::{ImportUserError, Imported, ImportedUser};
use users_domain::{Email, PersonName, Role, Username};
use users_ports::PasswordHash;

/// One line of the file as another system exported the account. Fields it does not name are ignored.
#[derive(Debug, Deserialize)]
struct ImportLine {
    email: String,
    username: Option<String>,
    first_name: Option<String>,
    last_name: Option<String>,
    roles: Option<Vec<String>>,
    email_verified: Option<bool>,
    password_hash: Option<String>,
}

/// Reads one line into an account, or says everything wrong with it.
fn parse_line(line: &str) -> Result<ImportedUser, String> {
    let raw: ImportLine = serde_json::from_str(line).map_err(|error| format!("not a user as JSON: {error}"))?;
    let mut wrong = Vec::new();
    let mut field = |name: &str, error: &dyn std::fmt::Display| wrong.push(format!("{name} {error}"));
    let email = Email::parse(raw.email).map_err(|error| field("email", &error)).ok();
    let username = raw.username.map(Username::parse).transpose().map_err(|error| field("username", &error)).ok();
    let first_name =
        raw.first_name.map(PersonName::parse).transpose().map_err(|error| field("first_name", &error)).ok();
    let last_name = raw.last_name.map(PersonName::parse).transpose().map_err(|error| field("last_name", &error)).ok();
    let roles = raw
        .roles
        .unwrap_or_default()
        .iter()
        .map(|name| Role::from_name(name).map_err(|_| name.clone()))
        .collect::<Result<Vec<_>, _>>()
        .map_err(|name| {
            let known = Role::ALL.map(Role::name).join(", ");
            field("roles", &format!("names an unknown role {name:?} (known: {known})"))
        })
        .ok();
    match (email, username, first_name, last_name, roles) {
        (Some(email), Some(username), Some(first_name), Some(last_name), Some(roles)) if wrong.is_empty() => {
            Ok(ImportedUser {
                email,
                username,
                first_name,
                last_name,
                roles,
                email_verified: raw.email_verified.unwrap_or(false),
                password_hash: raw.password_hash.map(PasswordHash::new),
            })
        }
        _ => Err(wrong.join("; ")),
    }
}

/// What an import did, line by line.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ImportReport {
    pub imported: u64,
    /// Lines whose address already had an account.
    pub skipped: u64,
    /// Each refused line's number (from 1) and why, in line order.
    pub refused: Vec<(u64, String)>,
}

impl ImportReport {
    fn lines(&self) -> u64 {
        self.imported + self.skipped + self.refused.len() as u64
    }
}

/// How many accounts are written at once: enough to keep a database busy while the next lines are read and
/// checked, few enough to leave it to the service sharing it.
const AT_ONCE: usize = 8;

/// How often a long import says how far it is.
const PROGRESS_EVERY: Duration = Duration::from_secs(2);

/// What two accounts cannot share: the address (as `Email::key` folds it) and the username (as the stores compare
/// usernames, ASCII case aside).
fn unique_keys(user: &ImportedUser) -> Vec<String> {
    let mut keys = vec![format!("email {}", user.email.key().as_str())];
    if let Some(username) = &user.username {
        keys.push(format!("username {}", username.as_str().to_ascii_lowercase()));
    }
    keys
}

/// A line written, or refused by the store: its number, the keys it held while in flight, and what became of it.
type Landed = (u64, Vec<String>, Result<Imported, ImportUserError>);

/// Imports every line of `file` (blank lines are passed over) through `import`, telling `progress` how far it is
/// every couple of seconds. A fault of the store stops it: the lines before it are in, and running it again skips
/// them. Of two lines with the same address or username, the earlier always goes in first (the later is skipped or
/// refused), however the writes in flight finish.
pub async fn import_lines<F>(
    file: impl BufRead,
    import: impl Fn(ImportedUser) -> F,
    mut progress: impl FnMut(&ImportReport),
) -> Result<ImportReport, ImportFailed>
where
    F: Future<Output = Result<Imported, ImportUserError>>,
{
    let mut report = ImportReport::default();
    let mut in_flight = FuturesUnordered::new();
    // The keys of the lines in flight: a line naming one waits for the line that holds it.
    let mut held = HashSet::new();
    let mut last_told = Instant::now();
    for (index, line) in file.lines().enumerate() {
        let number = index as u64 + 1;
        let line = line.map_err(|error| ImportFailed::Read { line: number, error })?;
        if line.trim().is_empty() {
            continue;
        }
        match parse_line(&line) {
            Ok(user) => {
                let keys = unique_keys(&user);
                while keys.iter().any(|key| held.contains(key))
                    && let Some(landed) = in_flight.next().await
                {
                    record(&mut report, &mut held, landed)?;
                }
                held.extend(keys.iter().cloned());
                let imported = import(user);
                in_flight.push(async move { (number, keys, imported.await) });
            }
            Err(reason) => report.refused.push((number, reason)),
        }
        if in_flight.len() >= AT_ONCE
            && let Some(landed) = in_flight.next().await
        {
            record(&mut report, &mut held, landed)?;
        }
        if last_told.elapsed() >= PROGRESS_EVERY {
            progress(&report);
            last_told = Instant::now();
        }
    }
    while let Some(landed) = in_flight.next().await {
        record(&mut report, &mut held, landed)?;
    }
    report.refused.sort_by_key(|(number, _)| *number);
    Ok(report)
}

fn record(
    report: &mut ImportReport,
    held: &mut HashSet<String>,
    (number, keys, outcome): Landed,
) -> Result<(), ImportFailed> {
    for key in &keys {
        held.remove(key);
    }
    match outcome {
        Ok(Imported::Created(_)) => report.imported += 1,
        Ok(Imported::AlreadyThere) => report.skipped += 1,
        Err(ImportUserError::Unexpected(error)) => {
            return Err(ImportFailed::Store { line: number, done: report.lines(), cause: error.to_string() });
        }
        Err(refused) => report.refused.push((number, refused.to_string())),
    }
    Ok(())
}

#[derive(Debug, thiserror::Error)]
pub enum ImportFailed {
    #[error("cannot read line {line}: {error}")]
    Read { line: u64, error: std::io::Error },
    #[error(
        "the store failed at line {line} ({done} lines done before it, which stay imported; running the import again \
         skips them): {cause}"
    )]
    Store { line: u64, done: u64, cause: String },
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_full_line_is_read_into_an_account() {
        let line = r#"{"email": "Ada@Example.com", "username": "ada", "first_name": "Ada", "last_name": "Lovelace",
            "roles": ["admin", "user"], "email_verified": true, "password_hash": "$2b$04$x", "plan": "pro"}"#;
        let user = parse_line(&line.replace('\n', " ")).unwrap();
        assert_eq!(user.email.as_ref(), "Ada@Example.com");
        assert_eq!(user.username.unwrap().as_str(), "ada");
        assert_eq!((user.first_name.unwrap().as_str(), user.last_name.unwrap().as_str()), ("Ada", "Lovelace"));
        assert_eq!((user.roles, user.email_verified), (vec![Role::Admin, Role::User], true));
        assert_eq!(user.password_hash, Some(PasswordHash::new("$2b$04$x")));
    }

    #[test]
    fn an_address_alone_is_an_unverified_user_without_a_password() {
        let user = parse_line(r#"{"email": "grace@example.com"}"#).unwrap();
        assert_eq!((user.username, user.roles, user.email_verified, user.password_hash), (None, vec![], false, None));
    }

    #[test]
    fn every_wrong_field_of_a_line_is_named() {
        let line = r#"{"email": "not an address", "username": "a b", "roles": ["root"]}"#;
        let reason = parse_line(line).unwrap_err();
        assert!(reason.starts_with("email "), "{reason}");
        assert!(reason.contains("; username "), "{reason}");
        assert!(reason.contains("; roles names an unknown role \"root\""), "{reason}");
    }

    /// A store where `Slow` first names take a while to write: lines finish out of order, as they do on a real
    /// store under load. Each address and username is kept by the first write that reaches it.
    #[derive(Default)]
    struct RacyStore {
        taken: std::sync::Mutex<std::collections::HashMap<String, u64>>,
    }

    impl RacyStore {
        async fn import(&self, user: ImportedUser) -> Result<Imported, ImportUserError> {
            let slow = user.first_name.as_ref().is_some_and(|name| name.as_str() == "Slow");
            tokio::time::sleep(Duration::from_millis(if slow { 100 } else { 0 })).await;
            let line: u64 = user.last_name.as_ref().map_or(0, |name| name.as_str().parse().unwrap());
            let mut taken = self.taken.lock().unwrap();
            if taken.contains_key(&format!("email {}", user.email.key().as_str())) {
                return Ok(Imported::AlreadyThere);
            }
            let username = user.username.as_ref().map(|name| format!("username {}", name.as_str().to_lowercase()));
            if username.as_ref().is_some_and(|key| taken.contains_key(key)) {
                return Err(ImportUserError::UsernameTaken);
            }
            taken.insert(format!("email {}", user.email.key().as_str()), line);
            taken.extend(username.map(|key| (key, line)));
            let now = chrono::Utc::now();
            Ok(Imported::Created(Box::new(users_domain::User {
                id: users_domain::UserId(line.cast_signed()),
                object_id: users_domain::ObjectId::parse(&format!("{line:024x}")).unwrap(),
                username: user.username,
                email: user.email,
                profile: users_domain::Profile::default(),
                roles: vec![Role::User],
                email_verified: false,
                mfa_enabled: false,
                suspension: None,
                created_at: now,
                updated_at: now,
                last_sign_in_at: None,
            })))
        }
    }

    #[tokio::test]
    async fn of_two_lines_with_the_same_address_or_username_the_earlier_goes_in_whatever_finishes_first() {
        let file = [
            r#"{"email": "ada@example.com", "username": "ada", "first_name": "Slow", "last_name": "1"}"#,
            r#"{"email": "lovelace@example.com", "username": "ADA", "last_name": "2"}"#,
            r#"{"email": "grace@example.com", "first_name": "Slow", "last_name": "3"}"#,
            r#"{"email": "Grace@Example.com", "last_name": "4"}"#,
            r#"{"email": "alan@example.com", "username": "alan", "last_name": "5"}"#,
        ]
        .join("\n");
        let store = RacyStore::default();

        let report = import_lines(file.as_bytes(), |user| store.import(user), |_| {}).await.unwrap();

        assert_eq!(report.refused, [(2, "username is already taken".to_owned())]);
        let taken = store.taken.lock().unwrap();
        assert_eq!((taken["username ada"], taken["email grace@example.com"], taken["username alan"]), (1, 3, 5));
        assert_eq!((report.imported, report.skipped), (3, 1));
    }

    #[test]
    fn a_line_that_is_not_a_user_says_so() {
        assert!(parse_line("[1, 2]").unwrap_err().starts_with("not a user as JSON"));
        assert!(parse_line(r#"{"username": "ada"}"#).unwrap_err().contains("missing field `email`"));
    }
}
