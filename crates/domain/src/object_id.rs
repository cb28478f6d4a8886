//! `ObjectId`: the 12-byte public identifier of a user, written as 24 lowercase hex digits.

use serde::{Deserialize, Serialize};

/// A MongoDB-style ObjectId: 4 bytes of seconds since the epoch, 5 bytes unique to the generating process and a
/// 3-byte counter. The Profile API names users by it, so their numeric ids (and the user count) stay private there.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct ObjectId([u8; 12]);

#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("must be a 24-character hexadecimal ObjectId")]
pub struct ObjectIdError;

impl ObjectId {
    /// Builds an id from its three parts; only the low 24 bits of `counter` are used.
    pub fn from_parts(timestamp_secs: u32, process_unique: [u8; 5], counter: u32) -> Self {
        let mut bytes = [0u8; 12];
        bytes[..4].copy_from_slice(&timestamp_secs.to_be_bytes());
        bytes[4..9].copy_from_slice(&process_unique);
        bytes[9..].copy_from_slice(&counter.to_be_bytes()[1..]);
        Self(bytes)
    }

    /// Parses 24 hex digits; upper case is accepted and normalised to lower case.
    pub fn parse(raw: &str) -> Result<Self, ObjectIdError> {
        let raw = raw.as_bytes();
        if raw.len() != 24 {
            return Err(ObjectIdError);
        }
        let mut bytes = [0u8; 12];
        for (byte, pair) in bytes.iter_mut().zip(raw.chunks_exact(2)) {
            *byte = (hex_value(pair[0])? << 4) | hex_value(pair[1])?;
        }
        Ok(Self(bytes))
    }

    pub fn bytes(&self) -> [u8; 12] {
        self.0
    }
}

fn hex_value(digit: u8) -> Result<u8, ObjectIdError> {
    match digit {
        b'0'..=b'9' => Ok(digit - b'0'),
        b'a'..=b'f' => Ok(digit - b'a' + 10),
        b'A'..=b'F' => Ok(digit - b'A' + 10),
        _ => Err(ObjectIdError),
    }
}

impl std::fmt::Display for ObjectId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.0.iter().try_for_each(|byte| write!(f, "{byte:02x}"))
    }
}

impl std::fmt::Debug for ObjectId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "ObjectId({self})")
    }
}

impl std::str::FromStr for ObjectId {
    type Err = ObjectIdError;
    fn from_str(raw: &str) -> Result<Self, Self::Err> {
        Self::parse(raw)
    }
}

impl TryFrom<String> for ObjectId {
    type Error = ObjectIdError;
    fn try_from(raw: String) -> Result<Self, Self::Error> {
        Self::parse(&raw)
    }
}

impl From<ObjectId> for String {
    fn from(id: ObjectId) -> Self {
        id.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_through_lowercase_hex() {
        let id = ObjectId::parse("507f1f77bcf86cd799439011").unwrap();
        assert_eq!(id.to_string(), "507f1f77bcf86cd799439011");
        assert_eq!(ObjectId::parse("507F1F77BCF86CD799439011").unwrap(), id);
    }

    #[test]
    fn is_built_from_timestamp_process_and_counter() {
        let id = ObjectId::from_parts(0x6565_6565, [1, 2, 3, 4, 5], 0xAB_CDEF);
        assert_eq!(id.to_string(), "656565650102030405abcdef");
        // Only the counter's low 24 bits are kept.
        assert_eq!(ObjectId::from_parts(0, [0; 5], 0xFF00_0001).to_string(), "000000000000000000000001");
    }

    #[test]
    fn rejects_wrong_length_and_non_hex() {
        for bad in ["", "507f1f77bcf86cd79943901", "507f1f77bcf86cd7994390111", "507f1f77bcf86cd79943901g", "current"] {
            assert_eq!(ObjectId::parse(bad), Err(ObjectIdError), "{bad:?}");
        }
        // 24 bytes but not 24 ASCII hex digits.
        assert_eq!(ObjectId::parse("507f1f77bcf86cd7994390é"), Err(ObjectIdError));
    }
}
