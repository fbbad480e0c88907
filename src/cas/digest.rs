//! [`Digest`]: a SHA-256 hash and a size, the name of every object in the
//! cache, as REAPI names blobs.
//!
//! Invariant: inside Bitzel a digest is always this typed value (32 raw
//! bytes and an unsigned size); the REAPI proto form, a lowercase hex
//! string and a signed size, exists only at the edge
//! ([`Digest::to_proto`], [`Digest::from_proto`]), where it is validated.

use std::fmt;
use std::io::{self, Write};
use std::str::FromStr;

use sha2::{Digest as _, Sha256};

use super::reapi;

/// The SHA-256 hash of a blob and its size in bytes.
///
/// Displayed and parsed as `<64 lowercase hex digits>/<size>`, the form of
/// REAPI resource names (`blobs/{hash}/{size}`); parsing also accepts
/// buck2's `<hash>:<size>`.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Digest {
    pub hash: [u8; 32],
    pub size_bytes: u64,
}

impl Digest {
    /// The digest of the empty blob.
    pub const EMPTY: Digest = Digest {
        hash: [
            0xe3, 0xb0, 0xc4, 0x42, 0x98, 0xfc, 0x1c, 0x14, 0x9a, 0xfb, 0xf4, 0xc8, 0x99, 0x6f,
            0xb9, 0x24, 0x27, 0xae, 0x41, 0xe4, 0x64, 0x9b, 0x93, 0x4c, 0xa4, 0x95, 0x99, 0x1b,
            0x78, 0x52, 0xb8, 0x55,
        ],
        size_bytes: 0,
    };

    /// The digest of `bytes`.
    pub fn of_bytes(bytes: &[u8]) -> Digest {
        Digest {
            hash: Sha256::digest(bytes).into(),
            size_bytes: bytes.len() as u64,
        }
    }

    /// The hash as 64 lowercase hex digits (REAPI's form, and the blob's
    /// file name in the cache).
    pub fn hex(&self) -> String {
        let mut out = [0u8; 64];
        hex_into(&self.hash, &mut out);
        // Only ASCII hex digits were written.
        String::from_utf8_lossy(&out).into_owned()
    }

    /// The REAPI proto form.
    pub fn to_proto(&self) -> reapi::Digest {
        reapi::Digest {
            hash: self.hex(),
            // A blob larger than i64::MAX bytes cannot exist on disk.
            size_bytes: i64::try_from(self.size_bytes).unwrap_or(i64::MAX),
        }
    }

    /// Reads a REAPI digest: 64 lowercase hex digits and a non-negative
    /// size.
    pub fn from_proto(proto: &reapi::Digest) -> Result<Digest, DigestError> {
        let hash = parse_hex(&proto.hash)?;
        let size_bytes = u64::try_from(proto.size_bytes)
            .map_err(|_| DigestError(format!("negative size {}", proto.size_bytes)))?;
        Ok(Digest { hash, size_bytes })
    }
}

/// A digest that does not parse, with the reason.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid digest: {0}")]
pub struct DigestError(pub String);

impl fmt::Display for Digest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.hex(), self.size_bytes)
    }
}

impl fmt::Debug for Digest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

impl FromStr for Digest {
    type Err = DigestError;

    fn from_str(text: &str) -> Result<Digest, DigestError> {
        let (hash, size) = text
            .split_once(['/', ':'])
            .ok_or_else(|| DigestError(format!("`{text}` is not HASH/SIZE")))?;
        let size_bytes = size
            .parse()
            .map_err(|_| DigestError(format!("`{size}` is not a size in bytes")))?;
        Ok(Digest {
            hash: parse_hex(hash)?,
            size_bytes,
        })
    }
}

impl From<Digest> for reapi::Digest {
    fn from(digest: Digest) -> reapi::Digest {
        digest.to_proto()
    }
}

impl TryFrom<&reapi::Digest> for Digest {
    type Error = DigestError;

    fn try_from(proto: &reapi::Digest) -> Result<Digest, DigestError> {
        Digest::from_proto(proto)
    }
}

/// Writes the lowercase hex form of `hash` into `out`.
pub(crate) fn hex_into(hash: &[u8; 32], out: &mut [u8; 64]) {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    for (i, byte) in hash.iter().enumerate() {
        out[2 * i] = DIGITS[usize::from(byte >> 4)];
        out[2 * i + 1] = DIGITS[usize::from(byte & 0xf)];
    }
}

/// 64 lowercase hex digits to a hash. Uppercase is refused: REAPI
/// requires lowercase, and a second spelling would name a second file.
pub(crate) fn parse_hex(text: &str) -> Result<[u8; 32], DigestError> {
    fn nibble(c: u8) -> Option<u8> {
        match c {
            b'0'..=b'9' => Some(c - b'0'),
            b'a'..=b'f' => Some(c - b'a' + 10),
            _ => None,
        }
    }
    let bytes = text.as_bytes();
    if bytes.len() != 64 {
        return Err(DigestError(format!(
            "`{text}` is not 64 hex digits of a SHA-256 hash"
        )));
    }
    let mut hash = [0u8; 32];
    for (i, pair) in bytes.chunks_exact(2).enumerate() {
        match (nibble(pair[0]), nibble(pair[1])) {
            (Some(high), Some(low)) => hash[i] = (high << 4) | low,
            _ => {
                return Err(DigestError(format!("`{text}` is not lowercase hex digits")));
            }
        }
    }
    Ok(hash)
}

/// Hashes what is written through it, counting the bytes.
#[derive(Default)]
pub(crate) struct DigestWriter {
    hasher: Sha256,
    size_bytes: u64,
}

impl DigestWriter {
    pub(crate) fn update(&mut self, bytes: &[u8]) {
        self.hasher.update(bytes);
        self.size_bytes += bytes.len() as u64;
    }

    pub(crate) fn size_bytes(&self) -> u64 {
        self.size_bytes
    }

    pub(crate) fn finish(self) -> Digest {
        Digest {
            hash: self.hasher.finalize().into(),
            size_bytes: self.size_bytes,
        }
    }
}

impl Write for DigestWriter {
    fn write(&mut self, bytes: &[u8]) -> io::Result<usize> {
        self.update(bytes);
        Ok(bytes.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn empty_digest_is_sha256_of_nothing() {
        assert_eq!(Digest::of_bytes(b""), Digest::EMPTY);
        assert_eq!(
            Digest::EMPTY.hex(),
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
        );
    }

    #[test]
    fn display_and_parse_round_trip() {
        let digest = Digest::of_bytes(b"hello\n");
        let text = digest.to_string();
        assert_eq!(
            text,
            "5891b5b522d5df086d0ff0b110fbd9d21bb4fc7163af34d08286a2e846f6be03/6"
        );
        assert_eq!(text.parse::<Digest>(), Ok(digest));
        let buck2_style = text.replace('/', ":");
        assert_eq!(buck2_style.parse::<Digest>(), Ok(digest));
    }

    #[test]
    fn parse_rejects_bad_text() {
        for bad in [
            "",
            "abc/1",
            "5891B5B522D5DF086D0FF0B110FBD9D21BB4FC7163AF34D08286A2E846F6BE03/6",
            "5891b5b522d5df086d0ff0b110fbd9d21bb4fc7163af34d08286a2e846f6be03",
            "5891b5b522d5df086d0ff0b110fbd9d21bb4fc7163af34d08286a2e846f6be03/-1",
            "5891b5b522d5df086d0ff0b110fbd9d21bb4fc7163af34d08286a2e846f6bez3/6",
        ] {
            assert!(bad.parse::<Digest>().is_err(), "{bad:?} parsed");
        }
    }

    #[test]
    fn proto_round_trip_and_validation() {
        let digest = Digest::of_bytes(b"x");
        let proto = digest.to_proto();
        assert_eq!(proto.hash, digest.hex());
        assert_eq!(proto.size_bytes, 1);
        assert_eq!(Digest::from_proto(&proto), Ok(digest));
        let negative = reapi::Digest {
            hash: digest.hex(),
            size_bytes: -1,
        };
        assert!(Digest::from_proto(&negative).is_err());
    }

    #[test]
    fn writer_matches_one_shot_hash() {
        let mut writer = DigestWriter::default();
        writer.update(b"hel");
        writer.update(b"lo\n");
        assert_eq!(writer.finish(), Digest::of_bytes(b"hello\n"));
    }
}
