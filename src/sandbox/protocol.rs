//! Messages between bitzel, the zygote and a sandbox's helper and init.
//!
//! - bitzel → zygote (a `SOCK_SEQPACKET` socket, one datagram per
//!   request): [`ISOLATED`] or [`NETWORK`] and three descriptors, the
//!   sandbox's own socket and the task's stdout and stderr.
//! - bitzel → init (the sandbox's socket): the [`super::view::Plan`] as a
//!   frame, then [`KILL`] bytes; end of file also means kill.
//! - zygote → bitzel: [`Reply::Forked`] (or `Failed`), written before
//!   the zygote hands the socket to the init, so the two never write at
//!   the same time. init → bitzel: `Started` (or `Failed`), then
//!   `Exited`.
//!
//! A frame is a little-endian `u32` length and that many bytes of JSON.
//! Both ends are built from the same crate (the plan carries the version),
//! so the format is not a compatibility promise.

use std::io::{Read, Write};
use std::os::fd::AsRawFd;
use std::os::unix::net::UnixStream;

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

/// bitzel asks the init to kill the task.
pub(crate) const KILL: u8 = b'K';
/// A request for a task in its own network namespace.
pub(crate) const ISOLATED: u8 = b'I';
/// A request for a task in the host's network namespace.
pub(crate) const NETWORK: u8 = b'N';

/// A frame larger than this is a protocol error (plans are kilobytes).
const MAX_FRAME: u32 = 64 << 20;

/// What the zygote and an init report.
#[derive(Debug, Serialize, Deserialize)]
pub(crate) enum Reply {
    /// The init exists, with this host pid.
    Forked { pid: u32 },
    /// The task was exec'd.
    Started,
    Failed {
        /// The plan op that failed, when one did.
        op: Option<usize>,
        /// Otherwise the step in words.
        step: String,
        errno: i32,
        unsupported: bool,
    },
    /// The task ended with this raw wait status.
    Exited { status: i32 },
}

/// Writes to a socket whose reader may be gone, without SIGPIPE.
pub(crate) struct NoSigPipe<'a>(pub &'a UnixStream);

impl Write for NoSigPipe<'_> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        use nix::sys::socket::{MsgFlags, send};
        send(self.0.as_raw_fd(), buf, MsgFlags::MSG_NOSIGNAL).map_err(std::io::Error::from)
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

pub(crate) fn write_frame<T: Serialize>(out: &mut impl Write, value: &T) -> std::io::Result<()> {
    let body = serde_json::to_vec(value).map_err(std::io::Error::other)?;
    let len = u32::try_from(body.len()).map_err(std::io::Error::other)?;
    let mut frame = Vec::with_capacity(4 + body.len());
    frame.extend_from_slice(&len.to_le_bytes());
    frame.extend_from_slice(&body);
    // One write: a small frame reaches the reader whole.
    out.write_all(&frame)
}

/// The next frame, or None at end of file before one starts.
pub(crate) fn read_frame<T: DeserializeOwned>(input: &mut impl Read) -> std::io::Result<Option<T>> {
    let mut len = [0u8; 4];
    let mut got = 0;
    while got < 4 {
        match input.read(&mut len[got..]) {
            Ok(0) if got == 0 => return Ok(None),
            Ok(0) => return Err(std::io::ErrorKind::UnexpectedEof.into()),
            Ok(n) => got += n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    let len = u32::from_le_bytes(len);
    if len > MAX_FRAME {
        return Err(std::io::Error::other(format!("a frame of {len} bytes")));
    }
    let mut body = vec![0u8; len as usize];
    input.read_exact(&mut body)?;
    serde_json::from_slice(&body)
        .map(Some)
        .map_err(std::io::Error::other)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frames_round_trip_and_end_cleanly() {
        let mut buf = Vec::new();
        write_frame(&mut buf, &Reply::Exited { status: 9 }).unwrap();
        write_frame(&mut buf, &Reply::Forked { pid: 42 }).unwrap();
        let mut input = &buf[..];
        assert!(matches!(
            read_frame::<Reply>(&mut input).unwrap(),
            Some(Reply::Exited { status: 9 })
        ));
        assert!(matches!(
            read_frame::<Reply>(&mut input).unwrap(),
            Some(Reply::Forked { pid: 42 })
        ));
        assert!(read_frame::<Reply>(&mut input).unwrap().is_none());
        let mut cut = &buf[..6];
        assert!(read_frame::<Reply>(&mut cut).is_err());
    }
}
