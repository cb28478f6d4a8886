//! `FileMailer`: one whole, parseable `.eml` file per message, named to sort by time, never seen half-written.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use users_mail::{FileMailer, Transport};
use users_ports::{MailError, MailSender as _};

use crate::support::{FROM, ReadBack, Scratch, TOKEN, composer, reset_mail, verify_mail};

fn is_time_sorted_name(name: &str) -> bool {
    let Some((millis, rest)) = name.split_once('-') else { return false };
    let Some(random) = rest.strip_suffix(".eml") else { return false };
    millis.len() == 13
        && millis.bytes().all(|b| b.is_ascii_digit())
        && random.len() == 16
        && random.bytes().all(|b| b.is_ascii_hexdigit())
}

#[tokio::test]
async fn each_message_becomes_one_parseable_eml_file_in_a_folder_made_for_it() {
    let scratch = Scratch::new("files");
    let dir = scratch.path().join("data").join("mail");
    let mailer = FileMailer::new(&dir, composer());

    mailer.send(&reset_mail("ada@example.com")).await.unwrap();
    mailer.send(&verify_mail("bob@example.com")).await.unwrap();

    let names = Scratch::names_in(&dir);
    assert_eq!(names.len(), 2, "{names:?}");
    assert!(names.iter().all(|name| is_time_sorted_name(name)), "{names:?}");
    let raw: Vec<Vec<u8>> = names.iter().map(|name| std::fs::read(dir.join(name)).unwrap()).collect();
    let reset_link = format!("http://127.0.0.1:8080/reset-password?token={TOKEN}");
    let (reset, verify) = match ReadBack::parse(&raw[0]) {
        first if first.to == "ada@example.com" => (first, ReadBack::parse(&raw[1])),
        first => (ReadBack::parse(&raw[1]), first),
    };
    assert_eq!((reset.to.as_str(), reset.from.as_str()), ("ada@example.com", FROM));
    assert_eq!(reset.subject, "Reset your Users password");
    assert_eq!(reset.content_type, "multipart/alternative");
    assert!(reset.text_has_line(&reset_link), "{}", reset.text);
    assert_eq!(verify.to, "bob@example.com");
    assert_eq!(verify.subject, "Confirm your email address for Users");

    let reset_raw = raw.iter().find(|raw| String::from_utf8_lossy(raw).contains("To: ada@example.com")).unwrap();
    let reset_raw = String::from_utf8_lossy(reset_raw);
    assert!(reset_raw.lines().any(|line| line == reset_link), "the link stands whole in the file itself");
}

/// A race by nature: a mailer writing straight to the `.eml` name is caught in most runs (the reader must look in
/// the instant between create and write), never wrongly blamed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reader_of_the_folder_never_sees_a_half_written_message() {
    const MESSAGES: usize = 200;
    let scratch = Scratch::new("whole");
    let dir = scratch.path().to_owned();
    let mailer = Arc::new(FileMailer::new(&dir, composer()));
    let done = Arc::new(AtomicBool::new(false));
    let reader = {
        let (dir, done) = (dir.clone(), Arc::clone(&done));
        std::thread::spawn(move || {
            let mut files_read = 0;
            while !done.load(Ordering::Acquire) {
                for name in Scratch::names_in(&dir).into_iter().filter(|name| name.ends_with(".eml")) {
                    let raw = std::fs::read(dir.join(&name)).unwrap();
                    // The last line of a multipart message closes its outer boundary: `--boundary--`.
                    let text = String::from_utf8(raw).unwrap();
                    assert!(text.trim_end().ends_with("--"), "{name} was seen half-written");
                    files_read += 1;
                }
            }
            files_read
        })
    };

    let sends = (0..MESSAGES).map(|i| {
        let mailer = Arc::clone(&mailer);
        tokio::spawn(async move { mailer.send(&reset_mail(&format!("user{i}@example.com"))).await })
    });
    for send in sends.collect::<Vec<_>>() {
        send.await.unwrap().unwrap();
    }
    done.store(true, Ordering::Release);
    let files_read = reader.join().expect("the reader saw only whole files");

    let names = Scratch::names_in(&dir);
    assert_eq!(names.len(), MESSAGES, "one file per message and no leftovers: {names:?}");
    assert!(names.iter().all(|name| is_time_sorted_name(name)), "{names:?}");
    assert!(files_read > 0);
}

#[tokio::test]
async fn a_folder_that_cannot_be_made_gives_unavailable() {
    let scratch = Scratch::new("blocked");
    let in_the_way = scratch.path().join("mail");
    std::fs::write(&in_the_way, "a file where the folder should be").unwrap();

    let error = FileMailer::new(&in_the_way, composer()).send(&reset_mail("ada@example.com")).await.unwrap_err();

    assert!(matches!(error, MailError::Unavailable(_)), "{error:?}");
}

#[test]
fn without_an_smtp_url_the_transport_writes_files_and_with_one_it_speaks_smtp() {
    let folder = std::path::PathBuf::from("data/mail");
    for unset in [None, Some(""), Some("  ")] {
        let transport = Transport::new(unset, folder.clone(), composer()).unwrap();
        assert!(matches!(transport, Transport::File(_)), "{unset:?}");
        assert_eq!(transport.describe(), "files in data/mail");
    }

    let smtp =
        Transport::new(Some("smtp://mailer:s3cret@relay.example.com:587?tls=required"), folder.clone(), composer())
            .unwrap();
    assert!(matches!(smtp, Transport::Smtp(_)));
    assert_eq!(smtp.describe(), "SMTP smtp://mailer@relay.example.com:587 (STARTTLS)");
    assert!(!format!("{smtp:?}").contains("s3cret"));

    let error = Transport::new(Some("smtp://mailer:s3cret@relay example.com"), folder, composer()).unwrap_err();
    assert!(!error.to_string().contains("s3cret"), "{error}");
}
