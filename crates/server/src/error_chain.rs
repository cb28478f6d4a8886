//! `error_chain`: an error and its causes as one line, each cause said once.

/// `error: cause: its cause…`. Errors here often quote their cause in their own message already (`"secret: {0}"`):
/// a cause whose text the line already holds is not repeated.
pub fn error_chain(error: &(dyn std::error::Error + 'static)) -> String {
    let mut line = error.to_string();
    let mut cause = error.source();
    while let Some(current) = cause {
        let text = current.to_string();
        if !line.contains(&text) {
            line.push_str(": ");
            line.push_str(&text);
        }
        cause = current.source();
    }
    line
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, thiserror::Error)]
    #[error("cannot listen on 127.0.0.1:80: {0}")]
    struct Quoting(#[source] std::io::Error);

    #[derive(Debug, thiserror::Error)]
    #[error("reading the keys in /etc/users/keys")]
    struct Silent(#[source] std::io::Error);

    #[test]
    fn each_cause_is_said_once_whether_or_not_its_parent_quotes_it() {
        let denied = || std::io::Error::new(std::io::ErrorKind::PermissionDenied, "permission denied");

        assert_eq!(error_chain(&Quoting(denied())), "cannot listen on 127.0.0.1:80: permission denied");
        assert_eq!(error_chain(&Silent(denied())), "reading the keys in /etc/users/keys: permission denied");
    }
}
