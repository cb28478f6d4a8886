//! The mail adapter: `MailSender`s that word each `Mail` from templates (`Composer`) and deliver it as an `.eml`
//! file in a folder (`FileMailer`, the default) or over SMTP (`SmtpMailer`); `Transport` is whichever the settings
//! choose.

mod compose;
mod file;
mod smtp;

use std::path::PathBuf;

use users_ports::{Mail, MailError, MailSender};

pub use compose::{ComposeError, Composer, ComposerError, MailSettings};
pub use file::FileMailer;
pub use smtp::{SmtpMailer, SmtpUrlError};

/// The transport the settings choose: SMTP when a URL is set, otherwise files.
#[derive(Clone, Debug)]
pub enum Transport {
    File(FileMailer),
    Smtp(SmtpMailer),
}

impl Transport {
    /// SMTP through `smtp_url` when it is set and not blank (an empty `MAIL_SMTP_URL=` means unset), otherwise
    /// `.eml` files in `dir`.
    pub fn new(smtp_url: Option<&str>, dir: PathBuf, composer: Composer) -> Result<Self, SmtpUrlError> {
        match smtp_url.map(str::trim).filter(|url| !url.is_empty()) {
            Some(url) => SmtpMailer::from_url(url, composer).map(Self::Smtp),
            None => Ok(Self::File(FileMailer::new(dir, composer))),
        }
    }

    /// The transport and its destination, without any password, for the startup log.
    pub fn describe(&self) -> String {
        match self {
            Self::File(files) => files.describe(),
            Self::Smtp(smtp) => smtp.describe().to_owned(),
        }
    }
}

impl MailSender for Transport {
    async fn send(&self, mail: &Mail) -> Result<(), MailError> {
        match self {
            Self::File(files) => files.send(mail).await,
            Self::Smtp(smtp) => smtp.send(mail).await,
        }
    }
}

#[cfg(test)]
mod tests {
    use url::Url;
    use users_domain::Email;
    use users_ports::{Mail, MailContent, MailSender as _};

    use super::*;

    /// A delivery worker may run on any thread of a multi-threaded runtime.
    #[test]
    fn sending_through_either_transport_is_a_send_future() {
        fn is_send<F: Future + Send>(_: F) {}
        let settings = MailSettings {
            from: "no-reply@example.com".to_owned(),
            link_base: Url::parse("https://example.com").unwrap(),
            product_name: "Users".to_owned(),
            templates_dir: None,
        };
        let composer = Composer::new(settings).unwrap();
        let mail = Mail { to: Email::parse("ada@example.com").unwrap(), content: MailContent::Test };
        let files = Transport::new(None, PathBuf::from("unused"), composer.clone()).unwrap();
        let smtp = Transport::new(Some("smtp://127.0.0.1:25"), PathBuf::from("unused"), composer).unwrap();

        // Never polled: only the type is checked.
        is_send(files.send(&mail));
        is_send(smtp.send(&mail));
    }
}
