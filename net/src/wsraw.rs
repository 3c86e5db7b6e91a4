//! Test support: a minimal blocking websocket client over a plain TCP stream, for tests that
//! play a stranger on a signaling server (raw frames, junk, many idle connections). Nothing
//! here is used by the game itself.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::Duration;

/// Longest frame [`RawWs::read_text`] accepts.
const READ_MAX: u64 = 1 << 20;

/// One websocket connection.
pub struct RawWs {
    stream: TcpStream,
}

impl RawWs {
    /// Connects to `ws://addr/path` and completes the upgrade.
    ///
    /// # Errors
    /// When the connection fails or the server does not answer `101` (the error names the
    /// status line it gave).
    pub fn connect(addr: SocketAddr, path: &str) -> std::io::Result<RawWs> {
        let mut stream = TcpStream::connect_timeout(&addr, Duration::from_secs(5))?;
        stream.set_read_timeout(Some(Duration::from_secs(5)))?;
        stream.set_write_timeout(Some(Duration::from_secs(5)))?;
        write!(
            stream,
            "GET /{path} HTTP/1.1\r\nHost: {addr}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
             Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"
        )?;
        let mut head = Vec::new();
        let mut byte = [0u8; 1];
        while !head.ends_with(b"\r\n\r\n") {
            if stream.read(&mut byte)? == 0 || head.len() > 8192 {
                return Err(std::io::Error::other(format!(
                    "the server closed during the upgrade: {:?}",
                    String::from_utf8_lossy(&head)
                )));
            }
            head.push(byte[0]);
        }
        let head = String::from_utf8_lossy(&head);
        let status = head.lines().next().unwrap_or("").to_string();
        if !status.contains(" 101 ") {
            return Err(std::io::Error::other(format!("upgrade refused: {status}")));
        }
        Ok(RawWs { stream })
    }

    /// Sends one text frame (masked, as a client must).
    ///
    /// # Errors
    /// When the write fails.
    pub fn send_text(&mut self, text: &str) -> std::io::Result<()> {
        self.send_frame(0x1, text.as_bytes())
    }

    /// Sends one frame of `opcode` with `payload`.
    ///
    /// # Errors
    /// When the write fails.
    pub fn send_frame(&mut self, opcode: u8, payload: &[u8]) -> std::io::Result<()> {
        self.send_start(opcode, payload.len() as u64, payload)
    }

    /// Sends the start of one frame of `opcode` that announces `len` bytes of payload, of
    /// which only `payload` follows (the rest never does, or comes in later writes).
    ///
    /// # Errors
    /// When the write fails (or takes over 5 s).
    pub fn send_start(&mut self, opcode: u8, len: u64, payload: &[u8]) -> std::io::Result<()> {
        let mut frame = vec![0x80 | opcode];
        if len < 126 {
            frame.push(0x80 | len as u8);
        } else if let Ok(len) = u16::try_from(len) {
            frame.push(0x80 | 126);
            frame.extend_from_slice(&len.to_be_bytes());
        } else {
            frame.push(0x80 | 127);
            frame.extend_from_slice(&len.to_be_bytes());
        }
        let mask = [0x5a, 0x17, 0xc3, 0x8e];
        frame.extend_from_slice(&mask);
        frame.extend(payload.iter().enumerate().map(|(i, b)| b ^ mask[i % 4]));
        self.stream.write_all(&frame)
    }

    /// Reads the id the server assigns first (`{"IdAssigned":"<uuid>"}`).
    ///
    /// # Errors
    /// When nothing, or something else, comes within 5 s.
    pub fn read_id(&mut self) -> std::io::Result<String> {
        let text = self.read_text(Duration::from_secs(5))?.unwrap_or_default();
        text.strip_prefix("{\"IdAssigned\":\"")
            .and_then(|rest| rest.strip_suffix("\"}"))
            .map(str::to_string)
            .ok_or_else(|| std::io::Error::other(format!("not an id: {text:?}")))
    }

    /// Sends a signal of `kind` (`Offer`, `Answer` or `IceCandidate`) holding `content` (no
    /// quotes or backslashes) to the peer with id `to`.
    ///
    /// # Errors
    /// When the write fails.
    pub fn send_signal(&mut self, to: &str, kind: &str, content: &str) -> std::io::Result<()> {
        self.send_text(&format!(
            r#"{{"Signal":{{"receiver":"{to}","data":{{"{kind}":"{content}"}}}}}}"#
        ))
    }

    /// Reads frames until a text frame arrives (`None` on close or after `timeout`).
    ///
    /// # Errors
    /// When the read fails other than by timing out, or a frame is over 1 MiB.
    pub fn read_text(&mut self, timeout: Duration) -> std::io::Result<Option<String>> {
        self.stream.set_read_timeout(Some(timeout))?;
        loop {
            let mut head = [0u8; 2];
            match self.stream.read_exact(&mut head) {
                Ok(()) => {}
                Err(err)
                    if matches!(
                        err.kind(),
                        std::io::ErrorKind::WouldBlock
                            | std::io::ErrorKind::TimedOut
                            | std::io::ErrorKind::UnexpectedEof
                    ) =>
                {
                    return Ok(None)
                }
                Err(err) => return Err(err),
            }
            let opcode = head[0] & 0x0f;
            let mut len = u64::from(head[1] & 0x7f);
            if len == 126 {
                let mut b = [0u8; 2];
                self.stream.read_exact(&mut b)?;
                len = u64::from(u16::from_be_bytes(b));
            } else if len == 127 {
                let mut b = [0u8; 8];
                self.stream.read_exact(&mut b)?;
                len = u64::from_be_bytes(b);
            }
            if len > READ_MAX {
                return Err(std::io::Error::other(format!("a frame of {len} bytes")));
            }
            let mut payload = vec![0u8; len as usize];
            self.stream.read_exact(&mut payload)?;
            match opcode {
                0x1 => return Ok(Some(String::from_utf8_lossy(&payload).into_owned())),
                0x8 => return Ok(None),
                _ => {}
            }
        }
    }
}
