//! How `create-admin` gets the new admin's password: asked for twice, with the typing hidden, on a terminal;
//! otherwise the first line of standard input.

use std::io::{BufRead, IsTerminal};

use users_domain::{Password, PasswordError};

#[derive(Debug, thiserror::Error)]
pub enum AdminPasswordError {
    #[error(
        "no password on standard input: give the new admin's password as its first line \
         (`echo \"$PASSWORD\" | users-server create-admin ...`), or run create-admin in a terminal to be asked for it"
    )]
    NotGiven,
    #[error("the two passwords differ; nothing was changed")]
    Mismatch,
    #[error("password {0}")]
    Invalid(#[from] PasswordError),
    #[error("cannot read the password: {0}")]
    Io(#[from] std::io::Error),
}

/// Asks on the terminal when standard input is one, else reads standard input's first line. Blocks.
pub fn read() -> Result<Password, AdminPasswordError> {
    if std::io::stdin().is_terminal() { ask_on_terminal() } else { first_line(std::io::stdin().lock()) }
}

/// The first line of `input` without its line ending, as a password.
pub fn first_line(mut input: impl BufRead) -> Result<Password, AdminPasswordError> {
    let mut line = String::new();
    input.read_line(&mut line)?;
    let password = line.trim_end_matches(['\r', '\n']);
    if password.is_empty() {
        return Err(AdminPasswordError::NotGiven);
    }
    Ok(Password::parse(password.to_owned())?)
}

/// The prompts go to stderr, so that stdout carries only the outcome.
fn ask_on_terminal() -> Result<Password, AdminPasswordError> {
    let hidden = || rpassword::ConfigBuilder::new().output_writer(std::io::stderr()).build();
    let first = rpassword::prompt_password_with_config("Password for the new admin: ", hidden())?;
    if first.is_empty() {
        return Err(AdminPasswordError::NotGiven);
    }
    let password = Password::parse(first)?;
    let again = rpassword::prompt_password_with_config("The same password again: ", hidden())?;
    if again != password.expose() {
        return Err(AdminPasswordError::Mismatch);
    }
    Ok(password)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_first_line_without_its_ending() {
        let password = first_line("a long secret passphrase\r\nsecond line\n".as_bytes()).unwrap();
        assert_eq!(password.expose(), "a long secret passphrase");
        assert_eq!(first_line("no newline at the end".as_bytes()).unwrap().expose(), "no newline at the end");
    }

    #[test]
    fn empty_input_or_an_empty_first_line_is_no_password() {
        for input in ["", "\n", "\r\nlater line\n"] {
            let error = first_line(input.as_bytes()).unwrap_err();
            assert!(matches!(error, AdminPasswordError::NotGiven), "{input:?}: {error:?}");
            assert!(error.to_string().starts_with("no password on standard input"), "{error}");
        }
    }

    #[test]
    fn a_password_the_rules_refuse_says_why() {
        let error = first_line("short\n".as_bytes()).unwrap_err();
        assert!(matches!(error, AdminPasswordError::Invalid(PasswordError::TooShort)), "{error:?}");
        assert!(error.to_string().starts_with("password must be at least"), "{error}");
    }
}
