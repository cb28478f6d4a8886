//! Composition: the parts, headers and links of each kind of message, escaping, and the override folder.

use users_mail::{Composer, ComposerError, MailSettings};
use users_ports::{Mail, MailContent, OneTimeToken};

use crate::support::{FROM, ReadBack, Scratch, TOKEN, composer, email, reset_mail, settings, verify_mail};

fn composed(composer: &Composer, mail: &Mail) -> ReadBack {
    ReadBack::parse(&composer.compose(mail).unwrap().formatted())
}

fn reset_link_with_base(link_base: &str) -> String {
    let read = composed(&Composer::new(settings(link_base)).unwrap(), &reset_mail("ada@example.com"));
    let link = read.text.lines().find(|line| line.contains("reset-password")).expect("a link line").trim();
    let in_html = link.replace('&', "&amp;");
    assert!(read.html.contains(&format!("href=\"{in_html}\"")), "the HTML part links to {link}:\n{}", read.html);
    link.to_owned()
}

#[test]
fn a_reset_mail_has_a_text_and_an_html_part_with_the_link() {
    let read = composed(&composer(), &reset_mail("ada@example.com"));

    assert_eq!(read.content_type, "multipart/alternative");
    assert_eq!(read.text_type, "text/plain; charset=utf-8");
    assert_eq!(read.subject, "Reset your Users password");
    assert_eq!(read.from, FROM);
    assert_eq!(read.to, "ada@example.com");
    assert!(read.has_date);
    assert!(read.message_id.as_deref().is_some_and(|id| id.ends_with("@localhost")), "{:?}", read.message_id);
    let link = format!("http://127.0.0.1:8080/reset-password?token={TOKEN}");
    assert!(read.text_has_line(&link), "the link on a line of its own in:\n{}", read.text);
    assert!(read.text.contains("30 minutes"));
    assert!(read.html.contains(&format!("href=\"{link}\"")));
    assert!(read.html.contains("30 minutes"));
}

#[test]
fn a_verification_mail_links_to_verify_email_and_lasts_24_hours() {
    let read = composed(&composer(), &verify_mail("ada@example.com"));

    assert_eq!(read.subject, "Confirm your email address for Users");
    assert!(read.text_has_line(&format!("http://127.0.0.1:8080/verify-email?token={TOKEN}")), "{}", read.text);
    assert!(read.text.contains("ada@example.com") && read.text.contains("24 hours"));
    assert!(read.html.contains("24 hours"));
}

#[test]
fn an_email_changed_notice_names_the_old_and_the_new_address_and_has_no_link() {
    let notice = Mail {
        to: email("old@example.com"),
        content: MailContent::EmailChanged { new_email: email("new@example.org") },
    };
    let read = composed(&composer(), &notice);

    assert_eq!(read.to, "old@example.com");
    assert_eq!(read.subject, "Your Users email address was changed");
    for part in [&read.text, &read.html] {
        assert!(part.contains("old@example.com") && part.contains("new@example.org"), "{part}");
        assert!(!part.contains("http"), "{part}");
    }
}

#[test]
fn a_test_message_says_delivery_works() {
    let read = composed(&composer(), &Mail { to: email("ops@example.com"), content: MailContent::Test });

    assert_eq!(read.subject, "Test message from Users");
    assert!(read.text.contains("mail delivery works"));
}

#[test]
fn links_join_the_base_with_or_without_a_trailing_slash_and_under_a_path_prefix() {
    let expected = format!("https://app.example.com/reset-password?token={TOKEN}");
    assert_eq!(reset_link_with_base("https://app.example.com"), expected);
    assert_eq!(reset_link_with_base("https://app.example.com/"), expected);

    let prefixed = format!("https://app.example.com/accounts/reset-password?token={TOKEN}");
    assert_eq!(reset_link_with_base("https://app.example.com/accounts"), prefixed);
    assert_eq!(reset_link_with_base("https://app.example.com/accounts/"), prefixed);

    let with_query = format!("https://app.example.com/reset-password?lang=en&token={TOKEN}");
    assert_eq!(reset_link_with_base("https://app.example.com/?lang=en"), with_query);
}

#[test]
fn a_token_with_characters_that_mean_something_in_a_url_is_percent_encoded() {
    let mail = Mail {
        to: email("ada@example.com"),
        content: MailContent::VerifyEmail { token: OneTimeToken::new("a+b/c&d=e") },
    };
    let read = composed(&composer(), &mail);

    assert!(read.text_has_line("http://127.0.0.1:8080/verify-email?token=a%2Bb%2Fc%26d%3De"), "{}", read.text);
}

#[test]
fn the_html_part_escapes_a_product_name_with_markup_and_the_text_part_keeps_it() {
    let composer =
        Composer::new(MailSettings { product_name: "<b>Acme & Co</b>".to_owned(), ..settings("https://acme.example") })
            .unwrap();
    let read = composed(&composer, &reset_mail("ada@example.com"));

    assert!(read.html.contains("the &lt;b&gt;Acme &amp; Co&lt;/b&gt; account"), "{}", read.html);
    assert!(!read.html.contains("<b>Acme"));
    assert!(read.text.contains("<b>Acme & Co</b>"));
    assert_eq!(read.subject, "Reset your <b>Acme & Co</b> password");
}

#[test]
fn a_text_with_accents_is_encoded_and_reads_back_with_the_link_whole() {
    let composer =
        Composer::new(MailSettings { product_name: "Zürich Konten".to_owned(), ..settings("https://zh.example") })
            .unwrap();
    let read = composed(&composer, &reset_mail("ada@example.com"));

    assert_eq!(read.subject, "Reset your Zürich Konten password");
    assert!(read.text.contains("Zürich Konten"));
    assert!(read.text_has_line(&format!("https://zh.example/reset-password?token={TOKEN}")), "{}", read.text);
}

#[test]
fn a_template_in_the_override_folder_replaces_that_template_only() {
    let folder = Scratch::new("override");
    std::fs::write(folder.path().join("reset_password.subject.txt"), "Password help for {{ product_name }}\n").unwrap();
    std::fs::write(folder.path().join("reset_password.txt"), "Go to:\n{{ link }}\n").unwrap();
    let composer =
        Composer::new(MailSettings { templates_dir: Some(folder.path().to_owned()), ..settings("https://a.example") })
            .unwrap();

    let reset = composed(&composer, &reset_mail("ada@example.com"));
    assert_eq!(reset.subject, "Password help for Users");
    assert_eq!(
        reset.text.replace("\r\n", "\n").trim_end(),
        format!("Go to:\nhttps://a.example/reset-password?token={TOKEN}")
    );
    assert!(reset.html.contains("Choose a new password"), "the built-in HTML part stays");

    let verify = composed(&composer, &verify_mail("ada@example.com"));
    assert_eq!(verify.subject, "Confirm your email address for Users");
}

#[test]
fn a_broken_override_template_stops_the_composer_and_names_the_file() {
    let folder = Scratch::new("broken");
    std::fs::write(folder.path().join("verify_email.html"), "<p>{% if %}</p>").unwrap();

    let error =
        Composer::new(MailSettings { templates_dir: Some(folder.path().to_owned()), ..settings("https://a.example") })
            .unwrap_err();

    assert!(matches!(error, ComposerError::Template { .. }), "{error:?}");
    let file = folder.path().join("verify_email.html");
    assert!(error.to_string().contains(&file.display().to_string()), "{error}");
}

#[test]
fn an_override_naming_a_value_its_kind_lacks_stops_the_composer_and_names_the_file() {
    let folder = Scratch::new("undefined");
    std::fs::write(folder.path().join("email_changed.txt"), "Open {{ link }}\n").unwrap();

    let error =
        Composer::new(MailSettings { templates_dir: Some(folder.path().to_owned()), ..settings("https://a.example") })
            .unwrap_err();

    let file = folder.path().join("email_changed.txt");
    assert!(error.to_string().contains(&file.display().to_string()), "{error}");
}

#[test]
fn a_sender_that_is_not_a_mailbox_is_refused_and_named() {
    let error =
        Composer::new(MailSettings { from: "Users no-reply".to_owned(), ..settings("https://a.example") }).unwrap_err();

    assert!(matches!(error, ComposerError::From { .. }), "{error:?}");
    assert!(error.to_string().contains("Users no-reply"), "{error}");
}

#[test]
fn a_link_base_that_cannot_have_paths_is_refused() {
    let error = Composer::new(settings("mailto:someone@example.com")).unwrap_err();

    assert!(matches!(error, ComposerError::LinkBase(_)), "{error:?}");
}
