//! The session an access token names (`sid`), sealed so that a token never shows the store's session number.

use aes::cipher::{BlockDecrypt, BlockEncrypt, KeyInit};
use aes::{Aes128, Block};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use users_domain::UserId;
use users_ports::SessionId;

/// Keys one AES-128 block cipher, derived from the refresh secret that every instance shares, so that any instance
/// opens what another sealed. A session number and its user's id make one 16-byte block: under a block cipher each
/// pair gives a different block that says nothing of the numbers (counting sessions from tokens is not possible),
/// and a block opens only for the user it was sealed for.
pub(crate) struct SessionSeal(Aes128);

impl SessionSeal {
    pub(crate) fn new(key: &[u8; 32]) -> Self {
        let first_half: [u8; 16] = key[..16].try_into().expect("16 of 32 bytes");
        Self(Aes128::new(&first_half.into()))
    }

    /// 22 base64url characters.
    pub(crate) fn seal(&self, session: SessionId, user: UserId) -> String {
        let mut block: Block = plain_block(session, user).into();
        self.0.encrypt_block(&mut block);
        URL_SAFE_NO_PAD.encode(block)
    }

    /// The session `sealed` names, if it was sealed with this key for `user`.
    pub(crate) fn open(&self, sealed: &str, user: UserId) -> Option<SessionId> {
        let bytes: [u8; 16] = URL_SAFE_NO_PAD.decode(sealed).ok()?.try_into().ok()?;
        let mut block: Block = bytes.into();
        self.0.decrypt_block(&mut block);
        let (session, owner) = block.split_at(8);
        let session = i64::from_be_bytes(session.try_into().ok()?);
        (owner == user.0.to_be_bytes()).then_some(SessionId(session))
    }
}

fn plain_block(session: SessionId, user: UserId) -> [u8; 16] {
    let mut block = [0u8; 16];
    block[..8].copy_from_slice(&session.0.to_be_bytes());
    block[8..].copy_from_slice(&user.0.to_be_bytes());
    block
}

#[cfg(test)]
mod tests {
    use super::*;

    fn seal(key_byte: u8) -> SessionSeal {
        SessionSeal::new(&[key_byte; 32])
    }

    #[test]
    fn a_sealed_session_opens_for_its_user_only() {
        let sealed = seal(1).seal(SessionId(4), UserId(2));
        assert_eq!(seal(1).open(&sealed, UserId(2)), Some(SessionId(4)));
        assert_eq!(seal(1).open(&sealed, UserId(3)), None);
        assert_eq!(seal(2).open(&sealed, UserId(2)), None, "another key opens nothing");
    }

    #[test]
    fn consecutive_sessions_seal_to_unrelated_text_that_names_no_number() {
        let (first, second) = (seal(1).seal(SessionId(4), UserId(2)), seal(1).seal(SessionId(5), UserId(2)));
        assert_eq!(first.len(), 22);
        let shared = first.chars().zip(second.chars()).take_while(|(a, b)| a == b).count();
        assert!(shared < 4, "{first} and {second} share a prefix of {shared}");
        let sealed = URL_SAFE_NO_PAD.decode(&first).unwrap();
        assert_ne!(sealed[..8], 4i64.to_be_bytes(), "the number is not left in the clear");
    }

    #[test]
    fn text_that_is_not_a_sealed_block_opens_nothing() {
        for text in ["", "4", "not base64!", "AAAAAAAAAAAAAAAAAAAAAAAA", &"A".repeat(22)] {
            assert_eq!(seal(1).open(text, UserId(0)), None, "{text:?}");
        }
    }
}
