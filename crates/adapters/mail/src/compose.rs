//! `Composer`: the words of each kind of message, from Jinja templates (built in, or an operator's folder that
//! replaces them one by one), made into an RFC 5322 message with a plain-text and an HTML part.

use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use lettre::Message;
use lettre::address::AddressError;
use lettre::message::header::{ContentTransferEncoding, ContentType};
use lettre::message::{Body, Mailbox, MultiPart, SinglePart};
use minijinja::{AutoEscape, Environment, Output, State, UndefinedBehavior, Value};
use url::Url;
use users_domain::Email;
use users_ports::{Mail, MailContent, OneTimeToken};

/// What the messages say about their sender and where their links lead.
#[derive(Clone, Debug)]
pub struct MailSettings {
    /// The `From` of every message: an address, or `Name <address>`.
    pub from: String,
    /// Where the pages that finish each flow live: links are `{link_base}/verify-email?token=…` and
    /// `{link_base}/reset-password?token=…`, under whatever path `link_base` has.
    pub link_base: Url,
    /// How the messages name the service.
    pub product_name: String,
    /// A folder whose `{kind}.subject.txt`, `{kind}.txt` and `{kind}.html` files replace the built-in ones.
    pub templates_dir: Option<PathBuf>,
    /// How long the tokens the messages carry work, as the policy that makes them says, for the messages to state.
    pub lifetimes: TokenLifetimes,
}

/// How long a verification link and a reset link work.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TokenLifetimes {
    pub verify_email: Duration,
    pub reset_password: Duration,
}

/// A lifetime as a message says it: "30 minutes", "24 hours", "2 days", "1 hour".
fn spoken(lifetime: Duration) -> String {
    let minutes = lifetime.as_secs() / 60;
    let (count, unit) = match minutes {
        0 => (lifetime.as_secs(), "second"),
        _ if minutes.is_multiple_of(24 * 60) && minutes > 24 * 60 => (minutes / (24 * 60), "day"),
        _ if minutes.is_multiple_of(60) => (minutes / 60, "hour"),
        _ => (minutes, "minute"),
    };
    format!("{count} {unit}{}", if count == 1 { "" } else { "s" })
}

/// Why a `Composer` could not be built: a setting or a template that would make every message of its kind fail.
#[derive(Debug, thiserror::Error)]
pub enum ComposerError {
    #[error("the sender {from:?} is not an address or \"Name <address>\": {cause}")]
    From { from: String, cause: AddressError },
    #[error("the link base {0} cannot have paths under it (it needs a scheme and a host, like https://example.com)")]
    LinkBase(Url),
    #[error("mail template {}: {cause}", path.display())]
    Read { path: PathBuf, cause: std::io::Error },
    /// `template` is the file it came from, or the built-in name.
    #[error("mail template {template}: {cause}")]
    Template { template: String, cause: minijinja::Error },
    #[error("no randomness for message ids: {0}")]
    Random(#[from] getrandom::Error),
}

/// Why one message could not be made; the same message would fail again.
#[derive(Debug, thiserror::Error)]
pub enum ComposeError {
    #[error("rendering the message: {0}")]
    Render(#[from] minijinja::Error),
    #[error("the recipient's address does not suit a mail header: {0}")]
    Recipient(#[from] AddressError),
    #[error("building the message: {0}")]
    Build(#[from] lettre::error::Error),
}

/// The built-in templates, one per kind and part, compiled into the binary.
const BUILT_IN: [(&str, &str); 15] = [
    ("verify_email.subject.txt", include_str!("../templates/verify_email.subject.txt")),
    ("verify_email.txt", include_str!("../templates/verify_email.txt")),
    ("verify_email.html", include_str!("../templates/verify_email.html")),
    ("reset_password.subject.txt", include_str!("../templates/reset_password.subject.txt")),
    ("reset_password.txt", include_str!("../templates/reset_password.txt")),
    ("reset_password.html", include_str!("../templates/reset_password.html")),
    ("email_changed.subject.txt", include_str!("../templates/email_changed.subject.txt")),
    ("email_changed.txt", include_str!("../templates/email_changed.txt")),
    ("email_changed.html", include_str!("../templates/email_changed.html")),
    ("password_changed.subject.txt", include_str!("../templates/password_changed.subject.txt")),
    ("password_changed.txt", include_str!("../templates/password_changed.txt")),
    ("password_changed.html", include_str!("../templates/password_changed.html")),
    ("test.subject.txt", include_str!("../templates/test.subject.txt")),
    ("test.txt", include_str!("../templates/test.txt")),
    ("test.html", include_str!("../templates/test.html")),
];

/// RFC 5322's limit on a line, CRLF excluded.
const MAX_LINE: usize = 998;

/// Turns a `Mail` into a message ready to send. Cheap to clone; the templates are parsed once.
#[derive(Clone)]
pub struct Composer(Arc<Inner>);

struct Inner {
    templates: Environment<'static>,
    from: Mailbox,
    link_base: Url,
    product_name: String,
    lifetimes: TokenLifetimes,
    /// Random per process, so Message-IDs of instances sharing a sender domain never collide.
    id_prefix: String,
    /// Messages composed so far: numbers the Message-IDs.
    messages: AtomicU64,
}

impl Composer {
    /// Reads and parses every template and renders each once with sample values, so a broken or misspelt one
    /// stops the service at startup rather than failing each message of its kind later.
    pub fn new(settings: MailSettings) -> Result<Self, ComposerError> {
        let from = settings
            .from
            .parse::<Mailbox>()
            .map_err(|cause| ComposerError::From { from: settings.from.clone(), cause })?;
        if settings.link_base.cannot_be_a_base() {
            return Err(ComposerError::LinkBase(settings.link_base));
        }
        let mut templates = Environment::new();
        // A misspelt variable fails loudly instead of leaving a blank where the link should be.
        templates.set_undefined_behavior(UndefinedBehavior::SemiStrict);
        templates.set_formatter(escape_html_but_slashes);
        let mut origins = Vec::with_capacity(BUILT_IN.len());
        for (name, built_in) in BUILT_IN {
            let file = settings.templates_dir.as_deref().map(|dir| dir.join(name));
            let replacement = match &file {
                Some(path) => read_if_present(path)?,
                None => None,
            };
            let (source, origin) = match (replacement, file) {
                (Some(source), Some(path)) => (source, path.display().to_string()),
                _ => (built_in.to_owned(), format!("built-in {name}")),
            };
            templates
                .add_template_owned(name, source)
                .map_err(|cause| ComposerError::Template { template: origin.clone(), cause })?;
            origins.push((name, origin));
        }
        let id_prefix = format!("{:016x}", getrandom::u64()?);
        let inner = Inner {
            templates,
            from,
            link_base: settings.link_base,
            product_name: settings.product_name,
            lifetimes: settings.lifetimes,
            id_prefix,
            messages: AtomicU64::new(0),
        };
        let composer = Self(Arc::new(inner));
        composer.try_every_template(&origins)?;
        Ok(composer)
    }

    /// The message for `mail`: From, To, Subject, Date, Message-ID and a multipart/alternative body (plain text
    /// first, then HTML, both UTF-8).
    pub fn compose(&self, mail: &Mail) -> Result<Message, ComposeError> {
        let context = self.context(mail);
        let kind = mail.kind().as_str();
        let render = |part: &str| self.0.templates.get_template(&format!("{kind}.{part}"))?.render(&context);
        let subject = render("subject.txt")?.split_whitespace().collect::<Vec<_>>().join(" ");
        let (text, html) = (render("txt")?, render("html")?);
        let to = Mailbox::new(None, mail.to.as_str().parse()?);
        let body = MultiPart::alternative()
            .singlepart(SinglePart::builder().header(ContentType::TEXT_PLAIN).body(text_body(&text)))
            .singlepart(SinglePart::html(html));
        let message = Message::builder()
            .from(self.0.from.clone())
            .to(to)
            .subject(subject)
            .message_id(Some(self.message_id()))
            .multipart(body)?;
        Ok(message)
    }

    /// The values a template of `mail`'s kind can use. A value a kind has no use for is left out, so a template
    /// that names it fails at startup.
    fn context(&self, mail: &Mail) -> Value {
        let mut values =
            vec![("product_name", Value::from(self.0.product_name.as_str())), ("email", Value::from(mail.to.as_str()))];
        match &mail.content {
            MailContent::VerifyEmail { token } => {
                values.push(("link", Value::from(self.link("verify-email", token))));
                values.push(("expires_in", Value::from(spoken(self.0.lifetimes.verify_email))));
            }
            MailContent::ResetPassword { token } => {
                values.push(("link", Value::from(self.link("reset-password", token))));
                values.push(("expires_in", Value::from(spoken(self.0.lifetimes.reset_password))));
            }
            MailContent::EmailChanged { new_email } => values.push(("new_email", Value::from(new_email.as_str()))),
            MailContent::PasswordChanged | MailContent::Test => {}
        }
        Value::from_pairs(values)
    }

    /// `{link_base}/{page}?token=…`, keeping the base's path (with or without its trailing slash) and query.
    fn link(&self, page: &str, token: &OneTimeToken) -> String {
        let mut link = self.0.link_base.clone();
        // Never an error: `new` refused bases that cannot have paths.
        if let Ok(mut path) = link.path_segments_mut() {
            path.pop_if_empty().push(page);
        }
        link.query_pairs_mut().append_pair("token", token.as_str());
        link.into()
    }

    /// `<{millis}.{count}.{process random}@{sender's domain}>`: unique without asking for randomness per message.
    fn message_id(&self) -> String {
        let millis = SystemTime::now().duration_since(UNIX_EPOCH).unwrap_or_default().as_millis();
        let count = self.0.messages.fetch_add(1, Ordering::Relaxed);
        format!("<{millis}.{count}.{}@{}>", self.0.id_prefix, self.0.from.email.domain())
    }

    fn try_every_template(&self, origins: &[(&str, String)]) -> Result<(), ComposerError> {
        let token = || OneTimeToken::new("sample-token");
        let someone = Email::parse("someone@example.com").expect("a valid sample address");
        for content in [
            MailContent::VerifyEmail { token: token() },
            MailContent::ResetPassword { token: token() },
            MailContent::EmailChanged { new_email: someone.clone() },
            MailContent::PasswordChanged,
            MailContent::Test,
        ] {
            let sample = Mail { to: someone.clone(), content };
            if let Err(ComposeError::Render(cause)) = self.compose(&sample) {
                let name = cause.name().unwrap_or(sample.kind().as_str());
                let template = origins.iter().find(|(known, _)| *known == name).map_or(name, |(_, origin)| origin);
                return Err(ComposerError::Template { template: template.to_owned(), cause });
            }
        }
        Ok(())
    }
}

impl fmt::Debug for Composer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Composer")
            .field("from", &self.0.from)
            .field("link_base", &self.0.link_base.as_str())
            .field("product_name", &self.0.product_name)
            .finish_non_exhaustive()
    }
}

/// minijinja's formatter, except that HTML escaping leaves `/` alone (HTML gives it no meaning), so the links in the
/// HTML part read `https://…` in the source rather than `https:&#x2f;&#x2f;…`, for people and spam filters alike.
fn escape_html_but_slashes(out: &mut Output, state: &mut State, value: &Value) -> Result<(), minijinja::Error> {
    if *state.auto_escape() != AutoEscape::Html || value.is_safe() {
        return minijinja::escape_formatter(out, state, value);
    }
    let text = value.to_string();
    let mut escaped = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => escaped.push_str("&amp;"),
            '<' => escaped.push_str("&lt;"),
            '>' => escaped.push_str("&gt;"),
            '"' => escaped.push_str("&quot;"),
            '\'' => escaped.push_str("&#x27;"),
            other => escaped.push(other),
        }
    }
    Ok(out.write_str(&escaped)?)
}

/// An override's text, or `None` when the folder has no such file (the built-in one is used).
fn read_if_present(path: &Path) -> Result<Option<String>, ComposerError> {
    match std::fs::read_to_string(path) {
        Ok(source) => Ok(Some(source)),
        Err(cause) if cause.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(cause) => Err(ComposerError::Read { path: path.to_owned(), cause }),
    }
}

/// The text part, as 7bit when it is ASCII with lines of at most 998 characters, so the link stands whole in the
/// raw message for anyone reading the file; lettre would quote-print every line over 76, splitting the link and
/// writing its `=` as `=3D`. Other text is left to lettre, which picks quoted-printable or base64.
fn text_body(text: &str) -> Body {
    let mut crlf = text.lines().collect::<Vec<_>>().join("\r\n");
    crlf.push_str("\r\n");
    let plain_lines = crlf.lines().all(|line| line.len() <= MAX_LINE && !line.contains(['\r', '\0']));
    if crlf.is_ascii() && plain_lines {
        Body::dangerous_pre_encoded(crlf.into_bytes(), ContentTransferEncoding::SevenBit)
    } else {
        Body::new(crlf)
    }
}

#[cfg(test)]
mod tests {
    use users_ports::MailKind;

    use super::*;

    #[test]
    fn every_kind_has_a_built_in_subject_text_and_html() {
        let built_in: Vec<&str> = BUILT_IN.iter().map(|(name, _)| *name).collect();
        for kind in MailKind::ALL {
            for part in ["subject.txt", "txt", "html"] {
                let name = format!("{}.{part}", kind.as_str());
                assert!(built_in.contains(&name.as_str()), "{name} has no built-in template");
            }
        }
        assert_eq!(built_in.len(), MailKind::ALL.len() * 3);
    }

    #[test]
    fn an_ascii_text_stays_7bit_with_long_lines_whole_and_other_text_is_encoded() {
        let long_link = format!("https://example.com/reset-password?token={}", "a".repeat(90));
        let ascii = text_body(&format!("Hello,\n\n{long_link}\n"));
        assert_eq!(ascii.encoding(), ContentTransferEncoding::SevenBit);
        assert_eq!(String::from_utf8(ascii.into_vec()).unwrap(), format!("Hello,\r\n\r\n{long_link}\r\n"));

        let accented = text_body("Grüße,\n");
        assert_ne!(accented.encoding(), ContentTransferEncoding::SevenBit);
    }

    #[test]
    fn lifetimes_are_said_in_the_largest_whole_unit() {
        let said = [30 * 60, 24 * 3600, 3600, 48 * 3600, 90 * 60, 45].map(|secs| spoken(Duration::from_secs(secs)));
        assert_eq!(said, ["30 minutes", "24 hours", "1 hour", "2 days", "90 minutes", "45 seconds"]);
    }
}
