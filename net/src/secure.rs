//! The encrypted datagram layer: framing, the Noise handshake, and sealed channels.
//!
//! Every datagram starts with a 12-byte header that is authenticated (as AEAD associated data)
//! but not encrypted:
//!
//! | bytes | content                                                                  |
//! |-------|--------------------------------------------------------------------------|
//! | 4     | magic `HLTD`                                                             |
//! | 1     | wire version [`WIRE_VERSION`]                                            |
//! | 1     | kind: 1 handshake hello, 2 handshake welcome, 3 data                     |
//! | 6     | counter (48-bit little-endian): the nonce of a data packet, 0 in handshakes |
//!
//! Handshakes are `Noise_NNpsk0_25519_ChaChaPoly_BLAKE2s` (the `snow` crate): both sides
//! prove they hold the invite's secret (the PSK) and agree on fresh ephemeral keys, so
//! recorded traffic stays secret even if the invite code leaks later. The encrypted handshake
//! payload carries a digest of the session configuration, so peers with different rules or
//! settings are refused with a clear reason instead of desyncing.
//!
//! Data packets are sealed with ChaCha20-Poly1305 (the `chacha20poly1305` crate) under the
//! handshake's split keys, with the counter as nonce and the header as associated data. A
//! sliding window of [`REPLAY_WINDOW`] counters refuses replays, and a key seals at most
//! [`PACKETS_PER_KEY_MAX`] packets.

use chacha20poly1305::aead::{AeadInPlace, KeyInit};
use chacha20poly1305::{ChaCha20Poly1305, Key, Nonce, Tag};

/// Magic at the start of every datagram.
pub const MAGIC: [u8; 4] = *b"HLTD";
/// Version of the datagram layout and handshake.
pub const WIRE_VERSION: u8 = 2;
/// Bytes of header.
pub const HEADER_LEN: usize = 12;
/// Bytes of authentication tag.
pub const TAG_LEN: usize = 16;
/// Largest datagram sent or accepted: fits an IPv6 minimum MTU path with room to spare.
pub const DATAGRAM_MAX: usize = 1200;
/// Largest plaintext in one data packet.
pub const PAYLOAD_MAX: usize = DATAGRAM_MAX - HEADER_LEN - TAG_LEN;
/// Data packets one key may seal; then the channel must be re-established.
pub const PACKETS_PER_KEY_MAX: u64 = 1 << 32;

const _: () = assert!(PACKETS_PER_KEY_MAX < 1 << 48, "counters travel in 48 bits");
/// Counters below the highest seen by at least this much are refused as too old.
pub const REPLAY_WINDOW: u64 = 128;
/// Bytes of the configuration digest carried in the handshake.
pub const DIGEST_LEN: usize = 32;

const NOISE_PARAMS: &str = "Noise_NNpsk0_25519_ChaChaPoly_BLAKE2s";
/// Bytes of a Noise NNpsk0 message here: an ephemeral key and the sealed digest.
const NOISE_MSG_LEN: usize = 32 + DIGEST_LEN + TAG_LEN;

/// What a datagram claims to be.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u8)]
pub enum Kind {
    /// First handshake message, initiator to responder.
    Hello = 1,
    /// Second handshake message, responder to initiator.
    Welcome = 2,
    /// A sealed payload on an established channel.
    Data = 3,
}

/// Why a datagram was dropped. Every variant has a counter.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum DropReason {
    /// Shorter than a header and a tag.
    TooShort,
    /// Longer than [`DATAGRAM_MAX`].
    TooLong,
    /// Not our magic.
    BadMagic,
    /// Another wire version.
    BadVersion,
    /// An unknown kind byte.
    BadKind,
    /// From an address that is not a peer and may not become one now.
    UnknownSource,
    /// Failed authentication: wrong key, tampered, or garbage.
    NotAuthentic,
    /// A counter already seen, or too old for the window.
    Replayed,
    /// Over the per-source rate limit.
    RateLimited,
    /// A handshake message that is malformed or under another secret.
    HandshakeFailed,
    /// A peer whose configuration digest differs from ours.
    ConfigMismatch,
    /// An authentic payload that does not decode as a message.
    Malformed,
    /// A decodable message that fails validation (could crash or mislead GGRS).
    Invalid,
    /// The sending key is used up.
    KeyExhausted,
}

impl DropReason {
    /// Short name for logs and reports.
    pub fn name(self) -> &'static str {
        match self {
            Self::TooShort => "too_short",
            Self::TooLong => "too_long",
            Self::BadMagic => "bad_magic",
            Self::BadVersion => "bad_version",
            Self::BadKind => "bad_kind",
            Self::UnknownSource => "unknown_source",
            Self::NotAuthentic => "not_authentic",
            Self::Replayed => "replayed",
            Self::RateLimited => "rate_limited",
            Self::HandshakeFailed => "handshake_failed",
            Self::ConfigMismatch => "config_mismatch",
            Self::Malformed => "malformed",
            Self::Invalid => "invalid",
            Self::KeyExhausted => "key_exhausted",
        }
    }
}

/// Reads the header of a datagram: its kind and counter, and the rest.
///
/// # Errors
/// The [`DropReason`] for anything that is not one of our datagrams.
pub fn parse_header(datagram: &[u8]) -> Result<(Kind, u64, &[u8]), DropReason> {
    if datagram.len() > DATAGRAM_MAX {
        return Err(DropReason::TooLong);
    }
    if datagram.len() < HEADER_LEN + TAG_LEN {
        return Err(DropReason::TooShort);
    }
    let (header, body) = datagram.split_at(HEADER_LEN);
    if header[..4] != MAGIC {
        return Err(DropReason::BadMagic);
    }
    if header[4] != WIRE_VERSION {
        return Err(DropReason::BadVersion);
    }
    let kind = match header[5] {
        1 => Kind::Hello,
        2 => Kind::Welcome,
        3 => Kind::Data,
        _ => return Err(DropReason::BadKind),
    };
    let mut counter = [0u8; 8];
    counter[..6].copy_from_slice(&header[6..12]);
    Ok((kind, u64::from_le_bytes(counter), body))
}

fn write_header(out: &mut Vec<u8>, kind: Kind, counter: u64) {
    out.extend_from_slice(&MAGIC);
    out.push(WIRE_VERSION);
    out.push(kind as u8);
    out.extend_from_slice(&counter.to_le_bytes()[..6]);
}

/// Counters seen recently, to refuse replays.
#[derive(Clone, Debug, Default)]
pub struct ReplayWindow {
    highest: u64,
    /// Bit i set: counter `highest - i` was seen.
    seen: u128,
}

const _: () = assert!(REPLAY_WINDOW == u128::BITS as u64);

impl ReplayWindow {
    /// Whether `counter` may be accepted (not yet seen, not too old). Counter 0 never is.
    pub fn fresh(&self, counter: u64) -> bool {
        if counter == 0 {
            return false;
        }
        if counter > self.highest {
            return true;
        }
        let age = self.highest - counter;
        age < REPLAY_WINDOW && self.seen & (1u128 << age) == 0
    }

    /// Records `counter` as seen; call only after the packet authenticated.
    pub fn mark(&mut self, counter: u64) {
        debug_assert!(self.fresh(counter), "mark only fresh counters");
        if counter > self.highest {
            let shift = counter - self.highest;
            self.seen = if shift >= REPLAY_WINDOW {
                0
            } else {
                self.seen << shift
            };
            self.seen |= 1;
            self.highest = counter;
        } else {
            self.seen |= 1u128 << (self.highest - counter);
        }
    }
}

/// An established channel to one peer: two keys, a send counter and a replay window.
pub struct Channel {
    send: ChaCha20Poly1305,
    recv: ChaCha20Poly1305,
    sent: u64,
    window: ReplayWindow,
}

impl std::fmt::Debug for Channel {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Channel")
            .field("sent", &self.sent)
            .finish_non_exhaustive()
    }
}

fn nonce(counter: u64) -> Nonce {
    let mut n = [0u8; 12];
    n[4..].copy_from_slice(&counter.to_le_bytes());
    Nonce::from(n)
}

impl Channel {
    fn new(send_key: [u8; 32], recv_key: [u8; 32]) -> Channel {
        Channel {
            send: ChaCha20Poly1305::new(Key::from_slice(&send_key)),
            recv: ChaCha20Poly1305::new(Key::from_slice(&recv_key)),
            sent: 0,
            window: ReplayWindow::default(),
        }
    }

    /// Seals `payload` into a data datagram written to `out` (cleared first).
    ///
    /// # Errors
    /// [`DropReason::TooLong`] for a payload over [`PAYLOAD_MAX`];
    /// [`DropReason::KeyExhausted`] once the key has sealed [`PACKETS_PER_KEY_MAX`] packets.
    pub fn seal(&mut self, payload: &[u8], out: &mut Vec<u8>) -> Result<(), DropReason> {
        if payload.len() > PAYLOAD_MAX {
            return Err(DropReason::TooLong);
        }
        if self.sent >= PACKETS_PER_KEY_MAX {
            return Err(DropReason::KeyExhausted);
        }
        self.sent += 1;
        out.clear();
        write_header(out, Kind::Data, self.sent);
        out.extend_from_slice(payload);
        let (header, body) = out.split_at_mut(HEADER_LEN);
        let tag = self
            .send
            .encrypt_in_place_detached(&nonce(self.sent), header, body)
            .map_err(|_| DropReason::TooLong)?;
        out.extend_from_slice(&tag);
        Ok(())
    }

    /// Opens a data datagram into `out` (cleared first): authenticates header and payload,
    /// then refuses replays.
    ///
    /// # Errors
    /// The [`DropReason`] the datagram is dropped for.
    pub fn open(&mut self, datagram: &[u8], out: &mut Vec<u8>) -> Result<(), DropReason> {
        let (kind, counter, body) = parse_header(datagram)?;
        if kind != Kind::Data {
            return Err(DropReason::BadKind);
        }
        if !self.window.fresh(counter) {
            return Err(DropReason::Replayed);
        }
        let (ciphertext, tag) = body.split_at(body.len() - TAG_LEN);
        out.clear();
        out.extend_from_slice(ciphertext);
        self.recv
            .decrypt_in_place_detached(
                &nonce(counter),
                &datagram[..HEADER_LEN],
                out,
                Tag::from_slice(tag),
            )
            .map_err(|_| DropReason::NotAuthentic)?;
        self.window.mark(counter);
        Ok(())
    }
}

/// The initiator's half-finished handshake.
pub struct Initiator {
    noise: snow::HandshakeState,
}

impl std::fmt::Debug for Initiator {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Initiator(..)")
    }
}

/// A finished handshake.
#[derive(Debug)]
pub struct Established {
    /// The channel, ready for data.
    pub channel: Channel,
    /// The peer's configuration digest (compare it with ours).
    pub peer_digest: [u8; DIGEST_LEN],
}

fn builder(psk: &[u8; 32]) -> Result<snow::Builder<'_>, DropReason> {
    let params = NOISE_PARAMS
        .parse()
        .map_err(|_| DropReason::HandshakeFailed)?;
    snow::Builder::new(params)
        .prologue(b"healer-td wire v1")
        .and_then(|b| b.psk(0, psk))
        .map_err(|_| DropReason::HandshakeFailed)
}

impl Initiator {
    /// Starts a handshake; returns the state and the hello datagram to send.
    ///
    /// # Errors
    /// [`DropReason::HandshakeFailed`] if Noise cannot start (no randomness).
    pub fn start(
        psk: &[u8; 32],
        digest: &[u8; DIGEST_LEN],
    ) -> Result<(Initiator, Vec<u8>), DropReason> {
        let mut noise = builder(psk)?
            .build_initiator()
            .map_err(|_| DropReason::HandshakeFailed)?;
        let hello = write_handshake(&mut noise, Kind::Hello, digest)?;
        Ok((Initiator { noise }, hello))
    }

    /// Completes the handshake with the peer's welcome datagram.
    ///
    /// # Errors
    /// The [`DropReason`] if the welcome is malformed or not from a holder of the secret.
    pub fn finish(&mut self, datagram: &[u8]) -> Result<Established, DropReason> {
        let peer_digest = read_handshake(&mut self.noise, Kind::Welcome, datagram)?;
        if !self.noise.is_handshake_finished() {
            return Err(DropReason::HandshakeFailed);
        }
        let (to_responder, to_initiator) = self.noise.dangerously_get_raw_split();
        Ok(Established {
            channel: Channel::new(to_responder, to_initiator),
            peer_digest,
        })
    }
}

/// A handshake datagram of `kind`: the header, then the Noise message carrying our digest.
fn write_handshake(
    noise: &mut snow::HandshakeState,
    kind: Kind,
    digest: &[u8; DIGEST_LEN],
) -> Result<Vec<u8>, DropReason> {
    let mut out = Vec::with_capacity(HEADER_LEN + NOISE_MSG_LEN);
    write_header(&mut out, kind, 0);
    let mut msg = [0u8; NOISE_MSG_LEN];
    let n = noise
        .write_message(digest, &mut msg)
        .map_err(|_| DropReason::HandshakeFailed)?;
    out.extend_from_slice(&msg[..n]);
    Ok(out)
}

/// Reads a handshake datagram that must be of `kind`; returns the peer's digest.
fn read_handshake(
    noise: &mut snow::HandshakeState,
    kind: Kind,
    datagram: &[u8],
) -> Result<[u8; DIGEST_LEN], DropReason> {
    let (got, _, body) = parse_header(datagram)?;
    if got != kind || body.len() != NOISE_MSG_LEN {
        return Err(DropReason::HandshakeFailed);
    }
    let mut peer_digest = [0u8; DIGEST_LEN];
    let n = noise
        .read_message(body, &mut peer_digest)
        .map_err(|_| DropReason::HandshakeFailed)?;
    if n != DIGEST_LEN {
        return Err(DropReason::HandshakeFailed);
    }
    Ok(peer_digest)
}

/// Answers a hello datagram: returns the channel, the peer's digest, and the welcome datagram
/// to send back.
///
/// # Errors
/// The [`DropReason`] if the hello is malformed or not from a holder of the secret.
pub fn respond(
    psk: &[u8; 32],
    digest: &[u8; DIGEST_LEN],
    datagram: &[u8],
) -> Result<(Established, Vec<u8>), DropReason> {
    let mut noise = builder(psk)?
        .build_responder()
        .map_err(|_| DropReason::HandshakeFailed)?;
    let peer_digest = read_handshake(&mut noise, Kind::Hello, datagram)?;
    let out = write_handshake(&mut noise, Kind::Welcome, digest)?;
    let (to_responder, to_initiator) = noise.dangerously_get_raw_split();
    Ok((
        Established {
            channel: Channel::new(to_initiator, to_responder),
            peer_digest,
        },
        out,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    const PSK: [u8; 32] = [7; 32];
    const DIGEST: [u8; DIGEST_LEN] = [9; DIGEST_LEN];

    fn pair() -> (Channel, Channel) {
        let (mut initiator, hello) = Initiator::start(&PSK, &DIGEST).expect("start");
        let (responder, welcome) = respond(&PSK, &DIGEST, &hello).expect("respond");
        let initiator = initiator.finish(&welcome).expect("finish");
        assert_eq!(initiator.peer_digest, DIGEST);
        assert_eq!(responder.peer_digest, DIGEST);
        (initiator.channel, responder.channel)
    }

    /// Both directions carry data after a handshake; headers are authenticated.
    #[test]
    fn handshake_then_data_both_ways() {
        let (mut a, mut b) = pair();
        let mut wire = Vec::new();
        let mut plain = Vec::new();
        a.seal(b"hello b", &mut wire).expect("seal");
        assert_eq!(wire.len(), HEADER_LEN + 7 + TAG_LEN);
        b.open(&wire, &mut plain).expect("open");
        assert_eq!(plain, b"hello b");
        b.seal(b"hello a", &mut wire).expect("seal");
        a.open(&wire, &mut plain).expect("open");
        assert_eq!(plain, b"hello a");
        // A flipped bit anywhere, header included, fails authentication or parsing.
        a.seal(b"payload", &mut wire).expect("seal");
        for i in 0..wire.len() {
            for bit in 0..8 {
                let mut bad = wire.clone();
                bad[i] ^= 1 << bit;
                assert!(b.open(&bad, &mut plain).is_err(), "byte {i} bit {bit}");
            }
        }
        b.open(&wire, &mut plain).expect("the original still opens");
    }

    /// Replays are refused, reordering within the window is fine, old counters are refused.
    #[test]
    fn replay_window() {
        let (mut a, mut b) = pair();
        let mut plain = Vec::new();
        let packets: Vec<Vec<u8>> = (0..300)
            .map(|i| {
                let mut wire = Vec::new();
                a.seal(&[i as u8], &mut wire).expect("seal");
                wire
            })
            .collect();
        b.open(&packets[5], &mut plain).expect("first");
        assert_eq!(b.open(&packets[5], &mut plain), Err(DropReason::Replayed));
        b.open(&packets[2], &mut plain)
            .expect("late but inside the window");
        b.open(&packets[200], &mut plain).expect("jump ahead");
        assert_eq!(b.open(&packets[2], &mut plain), Err(DropReason::Replayed));
        assert_eq!(
            b.open(&packets[50], &mut plain),
            Err(DropReason::Replayed),
            "too old"
        );
        b.open(&packets[150], &mut plain)
            .expect("inside the window");
    }

    /// A different secret fails the handshake; a different digest is reported, not hidden.
    #[test]
    fn wrong_secret_and_digest() {
        let (_, hello) = Initiator::start(&PSK, &DIGEST).expect("start");
        assert_eq!(
            respond(&[8; 32], &DIGEST, &hello).map(|_| ()),
            Err(DropReason::HandshakeFailed)
        );
        let (mut initiator, hello) = Initiator::start(&PSK, &DIGEST).expect("start");
        let (responder, welcome) = respond(&PSK, &[1; DIGEST_LEN], &hello).expect("respond");
        assert_eq!(responder.peer_digest, DIGEST);
        let done = initiator.finish(&welcome).expect("finish");
        assert_eq!(done.peer_digest, [1; DIGEST_LEN]);
    }

    /// Headers: garbage of every short length and bad fields are refused by reason.
    #[test]
    fn header_checks() {
        for len in 0..HEADER_LEN + TAG_LEN {
            assert_eq!(
                parse_header(&vec![0; len]).map(|_| ()),
                Err(DropReason::TooShort)
            );
        }
        assert_eq!(
            parse_header(&vec![0; DATAGRAM_MAX + 1]).map(|_| ()),
            Err(DropReason::TooLong)
        );
        let mut ok = Vec::new();
        write_header(&mut ok, Kind::Data, 1);
        ok.extend_from_slice(&[0; TAG_LEN]);
        assert!(parse_header(&ok).is_ok());
        let mut bad = ok.clone();
        bad[0] = b'X';
        assert_eq!(parse_header(&bad).map(|_| ()), Err(DropReason::BadMagic));
        let mut bad = ok.clone();
        bad[4] = 9;
        assert_eq!(parse_header(&bad).map(|_| ()), Err(DropReason::BadVersion));
        let mut bad = ok.clone();
        bad[5] = 0;
        assert_eq!(parse_header(&bad).map(|_| ()), Err(DropReason::BadKind));
    }
}
