//! What the tests share: settings, sample mails, scratch folders, and a reader of the messages written or received.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};

use mail_parser::{MessageParser, MimeHeaders as _};
use url::Url;
use users_domain::Email;
use users_mail::{Composer, MailSettings};
use users_ports::{Mail, MailContent, OneTimeToken};

pub const FROM: &str = "Users <no-reply@localhost>";
pub const TOKEN: &str = "k1Lm0-Zx_9QwErTyUiOpAsDfGhJkLzXcVbNm1234567";

pub fn settings(link_base: &str) -> MailSettings {
    MailSettings {
        from: FROM.to_owned(),
        link_base: Url::parse(link_base).unwrap(),
        product_name: "Users".to_owned(),
        templates_dir: None,
    }
}

pub fn composer() -> Composer {
    Composer::new(settings("http://127.0.0.1:8080")).unwrap()
}

pub fn email(address: &str) -> Email {
    Email::parse(address).unwrap()
}

pub fn reset_mail(to: &str) -> Mail {
    Mail { to: email(to), content: MailContent::ResetPassword { token: OneTimeToken::new(TOKEN) } }
}

pub fn verify_mail(to: &str) -> Mail {
    Mail { to: email(to), content: MailContent::VerifyEmail { token: OneTimeToken::new(TOKEN) } }
}

/// A message as a reader gets it back: headers decoded, the parts of a multipart/alternative body.
#[derive(Debug)]
pub struct ReadBack {
    pub content_type: String,
    pub subject: String,
    pub from: String,
    pub to: String,
    pub has_date: bool,
    pub message_id: Option<String>,
    pub text_type: String,
    pub text: String,
    pub html: String,
}

impl ReadBack {
    pub fn parse(raw: &[u8]) -> Self {
        let message = MessageParser::default().parse(raw).expect("a parseable message");
        let media = |t: &mail_parser::ContentType| format!("{}/{}", t.ctype(), t.subtype().unwrap_or_default());
        let text_part = message.text_part(0).expect("a text part");
        let text_type = text_part
            .content_type()
            .map(|t| format!("{}; charset={}", media(t), t.attribute("charset").unwrap_or("none")))
            .unwrap_or_default();
        let mailbox = |address: Option<&mail_parser::Address>| {
            let first = address.and_then(|a| a.first()).expect("an address");
            match first.name() {
                Some(name) => format!("{name} <{}>", first.address().unwrap_or_default()),
                None => first.address().unwrap_or_default().to_owned(),
            }
        };
        Self {
            content_type: message.content_type().map(media).unwrap_or_default(),
            subject: message.subject().unwrap_or_default().to_owned(),
            from: mailbox(message.from()),
            to: mailbox(message.to()),
            has_date: message.date().is_some(),
            message_id: message.message_id().map(str::to_owned),
            text_type,
            text: text_part.text_contents().unwrap_or_default().to_owned(),
            html: message.body_html(0).map(|html| html.into_owned()).unwrap_or_default(),
        }
    }

    /// Whether the text part has `line` as a line of its own.
    pub fn text_has_line(&self, line: &str) -> bool {
        self.text.lines().any(|candidate| candidate.trim_end() == line)
    }
}

/// A folder of its own for one test, removed afterwards.
#[derive(Debug)]
pub struct Scratch(PathBuf);

impl Scratch {
    pub fn new(name: &str) -> Self {
        static COUNT: AtomicUsize = AtomicUsize::new(0);
        let count = COUNT.fetch_add(1, Ordering::Relaxed);
        let path = std::env::temp_dir().join(format!("users-mail-{name}-{}-{count}", std::process::id()));
        let _ = std::fs::remove_dir_all(&path);
        std::fs::create_dir_all(&path).unwrap();
        Self(path)
    }

    pub fn path(&self) -> &Path {
        &self.0
    }

    /// The names of the files in `dir`, sorted, hidden ones included.
    pub fn names_in(dir: &Path) -> Vec<String> {
        let mut names: Vec<String> = match std::fs::read_dir(dir) {
            Ok(entries) => entries.map(|entry| entry.unwrap().file_name().into_string().unwrap()).collect(),
            Err(_) => Vec::new(),
        };
        names.sort();
        names
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}
