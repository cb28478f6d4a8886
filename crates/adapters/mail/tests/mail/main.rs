//! The mail adapter from the outside: the messages it composes, the files it writes, and what a real SMTP server
//! receives from it. One test binary, so the crate is linked once.

mod compose;
mod files;
mod smtp;
mod support;
