//! Masking the passwords a database URL holds, for logs, messages and errors.
//!
//! A stretch of the URL is masked when any reader would take it as a password: a URL reader, tokio-postgres's own
//! parser (the driver that connects), or, for a string that is not a `postgres://` URL, tokio-postgres's
//! `key=value` parser. A parameter is a password when its key, percent-decoded as the driver decodes it, ends with
//! `password` in any case (`password`, `sslpassword`, `pass%77ord`). The driver does not take `+` for a space, so
//! neither does this.

use std::ops::Range;

const MASK: &str = "***";

/// A password found in a connection string: where it is written, and the value the driver would use.
struct Found {
    written: Range<usize>,
    value: String,
}

/// `url` with every password in it masked: the user-info password (`user:***@`) and the values of the password
/// parameters in the query or in a `key=value` string. An unencoded `@` or `/` in a user-info password is masked
/// with it.
pub fn redact_url(url: &str) -> String {
    let mut ranges: Vec<Range<usize>> = passwords(url).into_iter().map(|found| found.written).collect();
    ranges.sort_by_key(|range| (range.start, range.end));
    let mut merged: Vec<Range<usize>> = Vec::with_capacity(ranges.len());
    for range in ranges {
        match merged.last_mut() {
            Some(last) if range.start <= last.end => last.end = last.end.max(range.end),
            _ => merged.push(range),
        }
    }
    let mut redacted = String::with_capacity(url.len());
    let mut copied = 0;
    for range in merged {
        redacted.push_str(&url[copied..range.start]);
        redacted.push_str(MASK);
        copied = range.end;
    }
    redacted.push_str(&url[copied..]);
    redacted
}

/// `text` with `url` and every password it holds masked, in every form the text might quote a password: as
/// written in the URL, as the driver decodes it, and that value percent-encoded.
pub fn scrub(url: &str, text: &str) -> String {
    let mut scrubbed = text.replace(url, &redact_url(url));
    for password in password_forms(url) {
        scrubbed = scrubbed.replace(&password, MASK);
    }
    scrubbed
}

/// Every password in `url`, in each of its forms, the longest first so that a password containing another is
/// masked whole.
fn password_forms(url: &str) -> Vec<String> {
    let mut forms = Vec::new();
    for found in passwords(url) {
        forms.push(url[found.written].to_owned());
        forms.push(percent_encoded(&found.value, false));
        forms.push(percent_encoded(&found.value, true));
        forms.push(found.value);
    }
    forms.retain(|form| !form.is_empty());
    forms.sort_by(|a, b| b.len().cmp(&a.len()).then_with(|| a.cmp(b)));
    forms.dedup();
    forms
}

/// The passwords of every reading of `url` (they may overlap).
fn passwords(url: &str) -> Vec<Found> {
    let mut found = url_reading(url);
    // tokio-postgres parses these two prefixes as URLs and anything else as `key=value` pairs.
    match ["postgres://", "postgresql://"].into_iter().find(|prefix| url.starts_with(prefix)) {
        Some(prefix) => found.extend(driver_url_reading(url, prefix.len())),
        None => found.extend(key_value_reading(url)),
    }
    found
}

/// As a URL reads: the user-info password runs from the first `:` to the last `@` before the query, and the
/// query's `&`-separated parameters follow the first `?`. A string without `://` is read from its start, so that
/// `scheme:user:password@host` is masked too.
fn url_reading(url: &str) -> Vec<Found> {
    let start = url.find("://").map_or(0, |at| at + 3);
    let query = url[start..].find('?').map(|at| start + at);
    let location = &url[start..query.unwrap_or(url.len())];
    let mut found = Vec::new();
    if let Some(at) = location.rfind('@')
        && let Some(colon) = location[..at].find(':')
    {
        found.push(user_info_password(url, start + colon + 1..start + at));
    }
    if let Some(query) = query {
        found.extend(query_passwords(url, query + 1));
    }
    found
}

/// As tokio-postgres reads a `postgres://` URL: the credentials end at the first `@` anywhere (even one in the
/// query), the password after their first `:`, and the parameters follow the first `?` after them.
fn driver_url_reading(url: &str, start: usize) -> Vec<Found> {
    let mut found = Vec::new();
    let mut host = start;
    if let Some(at) = url[start..].find('@').map(|at| start + at) {
        if let Some(colon) = url[start..at].find(':') {
            found.push(user_info_password(url, start + colon + 1..at));
        }
        host = at + 1;
    }
    if let Some(query) = url[host..].find('?') {
        found.extend(query_passwords(url, host + query + 1));
    }
    found
}

fn user_info_password(url: &str, written: Range<usize>) -> Found {
    let value = percent_decoded(&url[written.clone()]);
    Found { written, value }
}

/// The password parameters of the `&`-separated `key=value` pairs from `from` to the end of `url`.
fn query_passwords(url: &str, from: usize) -> Vec<Found> {
    let mut found = Vec::new();
    let mut pair_start = from;
    for pair in url[from..].split('&') {
        if let Some((key, value)) = pair.split_once('=')
            && is_password_key(key)
        {
            let value_start = pair_start + key.len() + 1;
            found.push(Found { written: value_start..value_start + value.len(), value: percent_decoded(value) });
        }
        pair_start += pair.len() + 1;
    }
    found
}

/// As tokio-postgres (like libpq) reads `key = value` pairs separated by whitespace: a value is quoted with `'` or
/// ends at whitespace, and a backslash escapes the character after it. Reading stops where the driver would refuse.
fn key_value_reading(text: &str) -> Vec<Found> {
    type Chars<'a> = std::iter::Peekable<std::str::CharIndices<'a>>;
    let position = |chars: &mut Chars<'_>| chars.peek().map_or(text.len(), |&(i, _)| i);
    let skip_whitespace = |chars: &mut Chars<'_>| while chars.next_if(|(_, c)| c.is_whitespace()).is_some() {};
    let mut found = Vec::new();
    let mut chars = text.char_indices().peekable();
    loop {
        skip_whitespace(&mut chars);
        let key_start = position(&mut chars);
        while chars.next_if(|&(_, c)| !c.is_whitespace() && c != '=').is_some() {}
        let key = &text[key_start..position(&mut chars)];
        skip_whitespace(&mut chars);
        if key.is_empty() || chars.next_if(|&(_, c)| c == '=').is_none() {
            return found;
        }
        skip_whitespace(&mut chars);
        let value_start = position(&mut chars);
        let quoted = chars.next_if(|&(_, c)| c == '\'').is_some();
        let mut value = String::new();
        while let Some((_, c)) = chars.next_if(|&(_, c)| if quoted { c != '\'' } else { !c.is_whitespace() }) {
            match c {
                '\\' => value.extend(chars.next().map(|(_, escaped)| escaped)),
                c => value.push(c),
            }
        }
        if quoted {
            chars.next_if(|&(_, c)| c == '\'');
        }
        if is_password_key(key) {
            found.push(Found { written: value_start..position(&mut chars), value });
        }
    }
}

/// Whether a parameter named `key` holds a password. The driver percent-decodes a key once; decoding until nothing
/// changes also catches a key encoded twice.
fn is_password_key(key: &str) -> bool {
    let mut key = key.to_owned();
    loop {
        let decoded = percent_decoded(&key);
        if decoded == key {
            break;
        }
        key = decoded;
    }
    key.trim().to_ascii_lowercase().ends_with("password")
}

/// `%XX` sequences decoded, as tokio-postgres decodes URL parts (`+` is left as it is).
fn percent_decoded(text: &str) -> String {
    percent_encoding::percent_decode_str(text).decode_utf8_lossy().into_owned()
}

/// Every byte but the unreserved ones (`A-Z a-z 0-9 - . _ ~`) as `%XX`.
fn percent_encoded(text: &str, lowercase: bool) -> String {
    text.bytes()
        .map(|byte| match byte {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => char::from(byte).to_string(),
            _ if lowercase => format!("%{byte:02x}"),
            _ => format!("%{byte:02X}"),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::{redact_url, scrub};

    #[test]
    fn redacts_the_database_password_only() {
        assert_eq!(redact_url("postgres://app:s3cret@db:5432/users"), "postgres://app:***@db:5432/users");
        assert_eq!(redact_url("postgres://postgres@127.0.0.1/users"), "postgres://postgres@127.0.0.1/users");
        assert_eq!(redact_url("postgres://db/users"), "postgres://db/users");
        assert_eq!(redact_url("sqlite://data/users.db"), "sqlite://data/users.db");
    }

    #[test]
    fn redacts_passwords_in_the_query_string() {
        assert_eq!(
            redact_url("postgres://u@h/db?password=secret"),
            "postgres://u@h/db?password=***",
            "libpq and tokio-postgres take the password from the query too"
        );
        assert_eq!(
            redact_url("postgres://u:one@h/db?sslmode=require&sslpassword=two&application_name=a@b"),
            "postgres://u:***@h/db?sslmode=require&sslpassword=***&application_name=a@b"
        );
        assert_eq!(redact_url("postgres://h/db?PassWord=x&user=u"), "postgres://h/db?PassWord=***&user=u");
        assert_eq!(redact_url("postgres://h/db?password=&user=u"), "postgres://h/db?password=***&user=u");
    }

    #[test]
    fn judges_a_query_key_after_percent_decoding_it_as_the_driver_does() {
        assert_eq!(
            redact_url("postgres://u@127.0.0.1:1/db?pass%77ord=S3cretEnc_1"),
            "postgres://u@127.0.0.1:1/db?pass%77ord=***"
        );
        assert_eq!(
            redact_url("postgres://h/db?%70%61%73%73%77%6F%72%64=x"),
            "postgres://h/db?%70%61%73%73%77%6F%72%64=***"
        );
        assert_eq!(redact_url("postgres://h/db?ssl%50assword=x&a=b"), "postgres://h/db?ssl%50assword=***&a=b");
        assert_eq!(redact_url("postgres://h/db?pass%2577ord=x"), "postgres://h/db?pass%2577ord=***", "encoded twice");
        assert_eq!(redact_url("postgresql://h/db?pass%77ord=x"), "postgresql://h/db?pass%77ord=***");
        // tokio-postgres does not decode `+`, and `pass word` would not be a password key anyway.
        assert_eq!(redact_url("postgres://h/db?pass+word=x"), "postgres://h/db?pass+word=x");
    }

    #[test]
    fn redacts_an_encoded_user_info_password() {
        assert_eq!(redact_url("postgres://u:p%40ss@h/db"), "postgres://u:***@h/db");
        assert_eq!(redact_url("postgres://u%40corp:p%3Ass%2F@h:5432/db"), "postgres://u%40corp:***@h:5432/db");
    }

    #[test]
    fn redacts_passwords_holding_at_signs_and_slashes() {
        assert_eq!(redact_url("postgres://u:p@ss/w@h:5432/db"), "postgres://u:***@h:5432/db");
    }

    #[test]
    fn redacts_what_the_driver_reads_as_credentials_when_the_first_at_sign_is_in_the_query() {
        // tokio-postgres takes everything before the first `@` as credentials: here user `h`, password `s`.
        assert_eq!(redact_url("postgres://h/db?a=b:s@h2/db"), "postgres://h/db?a=b:***@h2/db");
        // And the parameters after the host it finds; a URL reader sees `password=s@h2` in the first query.
        assert_eq!(redact_url("postgres://h/db?password=s@h2/db"), "postgres://h/db?password=***");
        assert_eq!(redact_url("postgres://h/db?a=b@h2/db?password=s"), "postgres://h/db?a=b@h2/db?password=***");
    }

    #[test]
    fn redacts_passwords_in_key_value_connection_strings() {
        assert_eq!(redact_url("host=db password=secret user=u"), "host=db password=*** user=u");
        assert_eq!(redact_url("host=db password = 'se cr\\'et' user=u"), "host=db password = *** user=u");
        assert_eq!(redact_url("host=db pass%77ord=s\\ ecret user=u"), "host=db pass%77ord=*** user=u");
    }

    #[test]
    fn redacts_user_info_in_strings_that_are_not_urls() {
        assert_eq!(redact_url("postgres:/u:secret@h/db"), "postgres:***@h/db");
    }

    #[test]
    fn scrubs_the_url_and_its_passwords_as_written_or_decoded_from_a_message() {
        let url = "postgres://u:p%40ss@h/db?sslpassword=other";
        let message = "cannot reach postgres://u:p%40ss@h/db?sslpassword=other as u with p@ss, p%40ss or other";
        let scrubbed = scrub(url, message);
        assert_eq!(
            scrubbed, "cannot reach postgres://u:***@h/db?sslpassword=*** as u with ***, *** or ***",
            "{scrubbed}"
        );
        assert_eq!(scrub("postgres://h/db", "nothing to hide"), "nothing to hide");
    }

    #[test]
    fn scrubs_a_password_under_an_encoded_key_in_every_form() {
        let url = "postgres://u@h/db?pass%77ord=S3cret%2Fenc%2f1";
        let message = "a S3cret/enc/1 b S3cret%2Fenc%2f1 c S3cret%2Fenc%2F1 d S3cret%2fenc%2f1 e pass%77ord";
        assert_eq!(scrub(url, message), "a *** b *** c *** d *** e pass%77ord");
    }

    #[test]
    fn scrubs_an_unencoded_password_in_its_encoded_form() {
        let url = "postgres://u:p@ss@h/db";
        assert_eq!(scrub(url, "failed for p%40ss and p@ss at h"), "failed for *** and *** at h");
    }

    /// URLs that tokio-postgres accepts, with a password in every place it takes one from.
    const HOSTILE_URLS: &[&str] = &[
        "postgres://u:Zq9-secret@h/db",
        "postgres://u:Zq9%2Fsec%40ret@h:5432/db?sslmode=disable",
        "postgres://u:Zq9@sec/ret@h/db",
        "postgresql://u@h/db?password=Zq9-secret",
        "postgres://u@127.0.0.1:1/db?pass%77ord=Zq9-secret",
        "postgres://u@h/db?application_name=a&%70assword=Zq9%20secret&sslmode=disable",
        "postgres://h/db?application_name=a:Zq9-secret@h2/db",
        "postgres://h/db?application_name=a@h2/db?password=Zq9-secret",
        "postgres://u:one@h/db?password=Zq9-secret&password=Zq9-other",
        "password=Zq9-secret host=h",
        "host=h password = 'Zq9 \\'secret' user=u",
        "host=h password=Zq9\\ secret",
    ];

    #[test]
    fn no_password_the_driver_would_use_is_left_in_the_redacted_url_or_a_scrubbed_message() {
        for url in HOSTILE_URLS {
            let config: tokio_postgres::Config = url.parse().unwrap_or_else(|error| panic!("{url}: {error}"));
            let password = String::from_utf8(config.get_password().expect(url).to_vec()).unwrap();
            assert!(password.starts_with("Zq9"), "{url} gives the driver {password:?}");
            let redacted = redact_url(url);
            assert!(!redacted.contains("Zq9"), "{url} is shown as {redacted}");
            let scrubbed = scrub(url, &format!("{url} {password}"));
            assert!(!scrubbed.contains("Zq9"), "{url} scrubs to {scrubbed}");
        }
    }
}
