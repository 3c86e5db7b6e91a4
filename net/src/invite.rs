//! Invite codes: how a host tells a player where to connect and with which secret.
//!
//! A code carries the host's socket address, a 96-bit secret (the pre-shared key of the Noise
//! handshake, see [`crate::secure`]) and an expiry. It is written in Crockford base32, in
//! groups of five separated by `-`, and ends with a Luhn mod 32 check character, so a mistyped
//! or swapped character is caught as "invalid invite code" before any packet is sent.
//!
//! Layout of the encoded bytes (little-endian):
//!
//! | bytes  | content                                                   |
//! |--------|-----------------------------------------------------------|
//! | 1      | `version << 1 | is_ipv6` (version is [`INVITE_VERSION`])    |
//! | 4 / 16 | IPv4 or IPv6 address                                      |
//! | 2      | port                                                      |
//! | 12     | secret                                                    |
//! | 4      | expiry, minutes since the Unix epoch                      |

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// Version of the code layout.
pub const INVITE_VERSION: u8 = 1;
/// How long a new code stays valid unless the host says otherwise.
pub const DEFAULT_TTL: Duration = Duration::from_secs(30 * 60);
/// Bytes of secret in a code.
pub const SECRET_LEN: usize = 12;
/// Longest code accepted, separators included: bounds the decoder's work.
pub const CODE_LEN_MAX: usize = 80;

const ALPHABET: &[u8; 32] = b"0123456789ABCDEFGHJKMNPQRSTVWXYZ";
const GROUP: usize = 5;

/// The secret shared by everyone holding the code.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct Secret(pub [u8; SECRET_LEN]);

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Secret(..)")
    }
}

impl Secret {
    /// A fresh secret from the operating system's random source.
    ///
    /// # Errors
    /// When the OS has no randomness to give.
    pub fn generate() -> Result<Secret, getrandom::Error> {
        let mut bytes = [0u8; SECRET_LEN];
        getrandom::fill(&mut bytes)?;
        Ok(Secret(bytes))
    }

    /// The 32-byte pre-shared key the Noise handshake uses, derived from the secret.
    pub fn psk(&self) -> [u8; 32] {
        blake3::derive_key("healer-td 2026 invite psk v1", &self.0)
    }
}

/// A decoded invite.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Invite {
    /// Where the host listens.
    pub host: SocketAddr,
    /// The shared secret.
    pub secret: Secret,
    /// Expiry, in minutes since the Unix epoch.
    pub expires_min: u32,
}

/// Why a code was refused.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum InviteError {
    /// Nothing but separators.
    #[error("invalid invite code: it is empty")]
    Empty,
    /// Longer than any code.
    #[error("invalid invite code: too long ({0} characters)")]
    TooLong(usize),
    /// A character outside the code's alphabet.
    #[error("invalid invite code: '{ch}' at position {pos} is not a code character")]
    BadChar {
        /// 1-based position in the text as typed.
        pos: usize,
        /// The character.
        ch: char,
    },
    /// The check character does not match: a typo.
    #[error("invalid invite code: it does not check out (a character is mistyped or missing)")]
    Check,
    /// The right shape but the wrong length for its content.
    #[error("invalid invite code: wrong length")]
    Length,
    /// Made by another version of the program.
    #[error("invalid invite code: made by an incompatible version ({0})")]
    Version(u8),
    /// Past its expiry.
    #[error("invite code expired {0} minutes ago: ask the host for a new one")]
    Expired(u64),
}

impl Invite {
    /// A new invite for `host` with a fresh secret, valid for `ttl` from now.
    ///
    /// # Errors
    /// When the OS has no randomness to give.
    pub fn new(host: SocketAddr, ttl: Duration) -> Result<Invite, getrandom::Error> {
        let expires = now_min().saturating_add(ttl.as_secs().div_ceil(60));
        Ok(Invite {
            host,
            secret: Secret::generate()?,
            expires_min: u32::try_from(expires).unwrap_or(u32::MAX),
        })
    }

    /// The code to read out, e.g. `0A3F7-...-K`.
    pub fn encode(&self) -> String {
        let mut bytes = Vec::with_capacity(35);
        let v6 = matches!(self.host.ip(), IpAddr::V6(_));
        bytes.push(INVITE_VERSION << 1 | u8::from(v6));
        match self.host.ip() {
            IpAddr::V4(ip) => bytes.extend_from_slice(&ip.octets()),
            IpAddr::V6(ip) => bytes.extend_from_slice(&ip.octets()),
        }
        bytes.extend_from_slice(&self.host.port().to_le_bytes());
        bytes.extend_from_slice(&self.secret.0);
        bytes.extend_from_slice(&self.expires_min.to_le_bytes());
        let mut digits = to_base32(&bytes);
        digits.push(luhn32(&digits));
        let mut code = String::with_capacity(digits.len() * 6 / 5 + 1);
        for (i, d) in digits.iter().enumerate() {
            if i > 0 && i % GROUP == 0 {
                code.push('-');
            }
            code.push(char::from(ALPHABET[usize::from(*d)]));
        }
        code
    }

    /// Reads a code as typed: case does not matter, `-` and spaces are ignored, and `I`, `L`
    /// read as `1`, `O` as `0` (Crockford). Does not check the expiry: see [`Invite::check_expiry`].
    ///
    /// # Errors
    /// [`InviteError`] says what is wrong with the text.
    pub fn decode(text: &str) -> Result<Invite, InviteError> {
        let chars = text.chars().count();
        if chars > CODE_LEN_MAX {
            return Err(InviteError::TooLong(chars));
        }
        let mut digits = Vec::with_capacity(chars);
        for (i, ch) in text.chars().enumerate() {
            if ch == '-' || ch.is_whitespace() {
                continue;
            }
            let d = digit(ch).ok_or(InviteError::BadChar { pos: i + 1, ch })?;
            digits.push(d);
        }
        let Some((&check, body)) = digits.split_last() else {
            return Err(InviteError::Empty);
        };
        if body.is_empty() || luhn32(body) != check {
            return Err(InviteError::Check);
        }
        let bytes = from_base32(body).ok_or(InviteError::Length)?;
        parse(&bytes)
    }

    /// Refuses an expired invite.
    ///
    /// # Errors
    /// [`InviteError::Expired`] with how long ago.
    pub fn check_expiry(&self) -> Result<(), InviteError> {
        let now = now_min();
        if now > u64::from(self.expires_min) {
            return Err(InviteError::Expired(now - u64::from(self.expires_min)));
        }
        Ok(())
    }

    /// [`Invite::decode`] then [`Invite::check_expiry`].
    ///
    /// # Errors
    /// As those two.
    pub fn parse_valid(text: &str) -> Result<Invite, InviteError> {
        let invite = Invite::decode(text)?;
        invite.check_expiry()?;
        Ok(invite)
    }
}

fn parse(bytes: &[u8]) -> Result<Invite, InviteError> {
    let (&head, rest) = bytes.split_first().ok_or(InviteError::Length)?;
    if head >> 1 != INVITE_VERSION {
        return Err(InviteError::Version(head >> 1));
    }
    let ip_len = if head & 1 == 1 { 16 } else { 4 };
    if rest.len() != ip_len + 2 + SECRET_LEN + 4 {
        return Err(InviteError::Length);
    }
    let (ip, rest) = rest.split_at(ip_len);
    let ip = match <[u8; 4]>::try_from(ip) {
        Ok(v4) => IpAddr::V4(Ipv4Addr::from(v4)),
        Err(_) => IpAddr::V6(Ipv6Addr::from(
            <[u8; 16]>::try_from(ip).map_err(|_| InviteError::Length)?,
        )),
    };
    let port = u16::from_le_bytes([rest[0], rest[1]]);
    let mut secret = [0u8; SECRET_LEN];
    secret.copy_from_slice(&rest[2..2 + SECRET_LEN]);
    let tail = &rest[2 + SECRET_LEN..];
    let expires_min = u32::from_le_bytes([tail[0], tail[1], tail[2], tail[3]]);
    Ok(Invite {
        host: SocketAddr::new(ip, port),
        secret: Secret(secret),
        expires_min,
    })
}

fn now_min() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() / 60)
}

fn digit(ch: char) -> Option<u8> {
    let up = match ch.to_ascii_uppercase() {
        'I' | 'L' => '1',
        'O' => '0',
        other => other,
    };
    ALPHABET
        .iter()
        .position(|&a| char::from(a) == up)
        .map(|p| p as u8)
}

/// Big-endian bit stream into 5-bit digits, the last one padded with zero bits.
fn to_base32(bytes: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(bytes.len() * 8 / 5 + 1);
    let (mut acc, mut bits) = (0u32, 0u32);
    for &b in bytes {
        acc = (acc << 8) | u32::from(b);
        bits += 8;
        while bits >= 5 {
            bits -= 5;
            out.push(((acc >> bits) & 31) as u8);
        }
    }
    if bits > 0 {
        out.push(((acc << (5 - bits)) & 31) as u8);
    }
    out
}

/// Inverse of [`to_base32`]; `None` when the padding bits are not zero or a byte is partial.
fn from_base32(digits: &[u8]) -> Option<Vec<u8>> {
    let mut out = Vec::with_capacity(digits.len() * 5 / 8);
    let (mut acc, mut bits) = (0u32, 0u32);
    for &d in digits {
        acc = (acc << 5) | u32::from(d);
        bits += 5;
        if bits >= 8 {
            bits -= 8;
            out.push((acc >> bits) as u8);
        }
        acc &= (1 << bits) - 1;
    }
    (bits < 5 && acc == 0).then_some(out)
}

/// Luhn mod N check digit for N = 32: catches every single-digit substitution and most
/// adjacent transpositions.
fn luhn32(digits: &[u8]) -> u8 {
    let mut sum = 0u32;
    let mut double = true;
    for &d in digits.iter().rev() {
        let mut addend = u32::from(d);
        if double {
            addend *= 2;
            addend = addend / 32 + addend % 32;
        }
        sum += addend;
        double = !double;
    }
    ((32 - sum % 32) % 32) as u8
}

/// Random characters in a WebRTC room code: 15 base-32 digits, 75 bits (see [`RoomCode`]).
pub const ROOM_RANDOM_LEN: usize = 15;
/// Characters in a WebRTC room code: the random digits and a check digit.
pub const ROOM_CODE_LEN: usize = ROOM_RANDOM_LEN + 1;
/// A room code is written in groups of this many characters, `-` between them.
const ROOM_GROUP: usize = 4;

/// A WebRTC room code: 16 Crockford base-32 characters in groups of four
/// (`7KQ2-XW9P-M3RT-A5CZ`), the last a Luhn mod 32 check digit, so a mistyped code is refused
/// before anything is sent.
///
/// The code is the room's credential, as an invite code is for UDP: the name of the room on
/// the signaling server ([`RoomCode::room_name`]) and the key that authenticates every signal
/// ([`RoomCode::key`]) are both derived from it, and the name does not give the key. Its 75
/// random bits are sized for an offline search: whoever sees an authenticated signal (the
/// signaling server's operator, an eavesdropper on a `ws://` link) can test guesses against its
/// MAC without asking anyone.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct RoomCode([u8; ROOM_CODE_LEN]);

impl std::fmt::Debug for RoomCode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("RoomCode(..)")
    }
}

/// Why a room code was refused.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum RoomCodeError {
    /// Not sixteen characters once spaces and dashes are removed.
    #[error("a room code has {ROOM_CODE_LEN} characters (such as 7KQ2-XW9P-M3RT-A5CZ), this one has {0}")]
    Length(usize),
    /// A character outside the alphabet.
    #[error("'{0}' cannot appear in a room code (letters and digits, without U)")]
    Character(char),
    /// The check digit does not match: a typo.
    #[error("the room code has a typo (its check character does not match)")]
    Check,
}

impl RoomCode {
    /// A fresh random code.
    ///
    /// # Errors
    /// When the OS has no randomness to give.
    pub fn generate() -> Result<RoomCode, getrandom::Error> {
        let mut random = [0u8; ROOM_RANDOM_LEN];
        getrandom::fill(&mut random)?;
        let mut digits = [0u8; ROOM_CODE_LEN];
        for (d, r) in digits.iter_mut().zip(random) {
            // 256 is a multiple of 32: uniform.
            *d = r % 32;
        }
        digits[ROOM_RANDOM_LEN] = luhn32(&digits[..ROOM_RANDOM_LEN]);
        Ok(RoomCode(digits))
    }

    /// Parses a code as a person may type it: any case, `I`/`L` for 1, `O` for 0, spaces and
    /// dashes ignored.
    ///
    /// # Errors
    /// [`RoomCodeError`] naming what is wrong.
    pub fn parse(text: &str) -> Result<RoomCode, RoomCodeError> {
        let mut digits = Vec::with_capacity(ROOM_CODE_LEN);
        for ch in text.chars().filter(|c| !matches!(c, ' ' | '-')) {
            digits.push(digit(ch).ok_or(RoomCodeError::Character(ch))?);
            if digits.len() > 64 {
                break;
            }
        }
        let digits: [u8; ROOM_CODE_LEN] = digits
            .as_slice()
            .try_into()
            .map_err(|_| RoomCodeError::Length(digits.len()))?;
        if luhn32(&digits[..ROOM_RANDOM_LEN]) != digits[ROOM_RANDOM_LEN] {
            return Err(RoomCodeError::Check);
        }
        Ok(RoomCode(digits))
    }

    /// Whether `text` is shaped like a room code (16 characters once dashes and spaces are
    /// removed) rather than an invite code.
    pub fn looks_like(text: &str) -> bool {
        text.chars().filter(|c| !matches!(c, ' ' | '-')).count() == ROOM_CODE_LEN
    }

    /// The room's name on the signaling server (the URL path): 32 hex digits derived from the
    /// code. The server sees it; it does not give the key.
    pub fn room_name(&self) -> String {
        let name = blake3::derive_key("healer-td 2026 webrtc room name v1", &self.0);
        name[..16].iter().map(|b| format!("{b:02x}")).collect()
    }

    /// The key that authenticates the room's signals (see `net::signaller`).
    pub fn key(&self) -> [u8; 32] {
        blake3::derive_key("healer-td 2026 webrtc room key v1", &self.0)
    }
}

impl std::fmt::Display for RoomCode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        for (i, &d) in self.0.iter().enumerate() {
            if i > 0 && i % ROOM_GROUP == 0 {
                f.write_str("-")?;
            }
            write!(f, "{}", char::from(ALPHABET[usize::from(d)]))?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Invite {
        Invite {
            host: "127.0.0.1:40123".parse().expect("addr"),
            secret: Secret(*b"0123456789ab"),
            expires_min: 29_000_000,
        }
    }

    /// Codes round-trip for IPv4 and IPv6, forgivingly typed.
    #[test]
    fn round_trip() {
        let invite = sample();
        let code = invite.encode();
        assert_eq!(
            code.len(),
            45,
            "{code}: 37 digits and a check, in groups of 5"
        );
        assert_eq!(Invite::decode(&code), Ok(invite));
        let sloppy = code.to_lowercase().replace('-', " ");
        assert_eq!(Invite::decode(&sloppy), Ok(invite));
        let v6 = Invite {
            host: "[::1]:9".parse().expect("addr"),
            ..invite
        };
        assert_eq!(Invite::decode(&v6.encode()), Ok(v6));
    }

    /// Every single-character substitution and every adjacent swap of different characters is
    /// refused.
    #[test]
    fn typos_are_caught() {
        let code: Vec<char> = sample().encode().chars().collect();
        for i in 0..code.len() {
            if code[i] == '-' {
                continue;
            }
            for &a in ALPHABET {
                let sub = char::from(a);
                if sub == code[i] {
                    continue;
                }
                let mut typo = code.clone();
                typo[i] = sub;
                let text: String = typo.iter().collect();
                assert!(
                    Invite::decode(&text).is_err(),
                    "substitution at {i}: {text}"
                );
            }
        }
        let digits: Vec<char> = code.iter().copied().filter(|&c| c != '-').collect();
        let mut missed = 0;
        for i in 0..digits.len() - 1 {
            if digits[i] == digits[i + 1] {
                continue;
            }
            let mut swapped = digits.clone();
            swapped.swap(i, i + 1);
            let text: String = swapped.iter().collect();
            missed += usize::from(Invite::decode(&text).is_ok());
        }
        // Luhn mod 32 misses swaps of digit pairs that sum to 31 when doubled; none here.
        assert_eq!(missed, 0);
    }

    /// Garbage is refused with a reason, never a panic.
    #[test]
    fn garbage_is_refused() {
        assert_eq!(Invite::decode(""), Err(InviteError::Empty));
        assert_eq!(Invite::decode("- -"), Err(InviteError::Empty));
        assert!(matches!(
            Invite::decode("NOT-A-CODE"),
            Err(InviteError::Check | InviteError::Length)
        ));
        assert_eq!(
            Invite::decode("AB-CU1"),
            Err(InviteError::BadChar { pos: 5, ch: 'U' })
        );
        assert!(matches!(
            Invite::decode(&"0".repeat(200)),
            Err(InviteError::TooLong(200))
        ));
        for len in 1..=CODE_LEN_MAX {
            for fill in ["7", "Z", "0"] {
                let text = fill.repeat(len);
                assert!(Invite::decode(&text).is_err(), "{text}");
            }
        }
    }

    /// Expired codes are refused with how long ago they expired.
    #[test]
    fn expiry() {
        let mut invite = sample();
        invite.expires_min = 1;
        assert!(matches!(invite.check_expiry(), Err(InviteError::Expired(m)) if m > 1_000_000));
        let fresh = Invite::new("127.0.0.1:1".parse().expect("addr"), DEFAULT_TTL).expect("random");
        assert_eq!(fresh.check_expiry(), Ok(()));
        let decoded = Invite::parse_valid(&fresh.encode()).expect("fresh code");
        assert_eq!(decoded, fresh);
    }

    #[test]
    fn room_codes_round_trip_and_catch_typos() {
        for _ in 0..100 {
            let code = RoomCode::generate().expect("randomness");
            let text = code.to_string();
            assert_eq!(text.len(), ROOM_CODE_LEN + 3, "{text}: four groups of four");
            assert_eq!(text.matches('-').count(), 3, "{text}");
            assert!(RoomCode::looks_like(&text));
            assert_eq!(RoomCode::parse(&text), Ok(code));
            assert_eq!(RoomCode::parse(&text.to_lowercase()), Ok(code));
            assert_eq!(RoomCode::parse(&text.replace('-', "")), Ok(code));
            // Every single-character substitution is caught.
            for pos in (0..text.len()).filter(|&p| text.as_bytes()[p] != b'-') {
                for &other in ALPHABET.iter() {
                    let mut typo = text.clone().into_bytes();
                    if typo[pos] == other {
                        continue;
                    }
                    typo[pos] = other;
                    let typo = String::from_utf8(typo).expect("ascii");
                    assert_eq!(RoomCode::parse(&typo), Err(RoomCodeError::Check), "{typo}");
                }
            }
        }
        assert_eq!(RoomCode::parse("ABC"), Err(RoomCodeError::Length(3)));
        assert_eq!(RoomCode::parse("7KQ2MX"), Err(RoomCodeError::Length(6)));
        assert_eq!(
            RoomCode::parse("ABCD-EFGH-JKMN-PQRU"),
            Err(RoomCodeError::Character('U'))
        );
        assert_eq!(RoomCode::parse(""), Err(RoomCodeError::Length(0)));
        assert!(!RoomCode::looks_like(&sample().encode()));
    }

    /// The room's name and key differ from each other and between codes; neither is the code.
    #[test]
    fn room_names_and_keys_are_derived() {
        let a = RoomCode::generate().expect("randomness");
        let b = RoomCode::generate().expect("randomness");
        assert_ne!(a.room_name(), b.room_name());
        assert_ne!(a.key(), b.key());
        assert_eq!(a.room_name().len(), 32);
        assert!(a.room_name().bytes().all(|c| c.is_ascii_hexdigit()));
        assert!(!a.room_name().contains(&a.to_string().replace('-', "")));
        assert_eq!(format!("{a:?}"), "RoomCode(..)");
    }
}
