//! Socket reads and writes mapped to outcomes the loop acts on (the only
//! place, with `mod.rs`, that calls read/write on a socket).

use std::io::{self, IoSlice, Read, Write};

use crate::endpoint::Outbox;

/// Why a read loop stopped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReadOutcome {
    /// Drained: wait for the next readable edge.
    WouldBlock,
    /// The per-turn budget ran out with data possibly left: read again later.
    Budget,
    /// The peer closed its side (read returned 0).
    Closed,
    Error(io::ErrorKind),
}

/// Read until WouldBlock, EOF, an error, or `budget` bytes, handing each
/// read to `sink`. Each read goes into `scratch` (one server-wide buffer,
/// zeroed once) and only the bytes read are passed on: no zero-filling per
/// read, and the receiver grows by what arrived, not by the read size.
///
/// With `short_read_drains` a read that fills less than `scratch` ends the
/// loop as WouldBlock without asking again: the kernel gave all it had, and
/// with edge-triggered readiness anything arriving later raises a new edge
/// (nginx does the same). That saves the second, empty `recv` per message
/// a publisher sends. The caller passes false for TLS (a short plaintext
/// read says nothing about the socket) and once the peer's close was seen
/// (that edge is not repeated, so the EOF must be read now).
pub fn read_some<R: Read>(
    socket: &mut R,
    budget: usize,
    scratch: &mut [u8],
    short_read_drains: bool,
    mut sink: impl FnMut(&[u8]),
) -> (usize, ReadOutcome) {
    let mut total = 0;
    loop {
        if total >= budget {
            return (total, ReadOutcome::Budget);
        }
        match socket.read(scratch) {
            Ok(0) => return (total, ReadOutcome::Closed),
            Ok(n) => {
                sink(&scratch[..n]);
                total += n;
                if short_read_drains && n < scratch.len() {
                    return (total, ReadOutcome::WouldBlock);
                }
            }
            Err(e) => match e.kind() {
                io::ErrorKind::WouldBlock => return (total, ReadOutcome::WouldBlock),
                io::ErrorKind::Interrupted => continue,
                kind => return (total, ReadOutcome::Error(kind)),
            },
        }
    }
}

/// Why a write loop stopped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WriteOutcome {
    /// Everything queued was written.
    Drained,
    /// The per-turn budget ran out with output left: write again next turn.
    Budget,
    /// The kernel buffer is full: wait for the next writable edge.
    WouldBlock,
    Error(io::ErrorKind),
}

/// Most slices handed to one `writev` call (Linux's `IOV_MAX` is 1024). A
/// relayed RTMP frame takes two slices per chunk (a chunk header, then a
/// body lent from the shared payload), so at a chunk size of 4096 a 100 KB
/// keyframe is about 50 slices and 256 slices carry up to ~512 KB of large
/// frames, or 128 small ones, per call: more than a socket's send buffer
/// usually takes, so a write is rarely cut short by the slice count.
const MAX_IOV: usize = 256;

/// Slices of a first `writev`: a live viewer usually has a frame or two
/// waiting (at the default chunk size of 60000, 2 slices per frame up to
/// 60 KB), and the array is filled on every call, so it is kept small;
/// only a write that used them all (a late joiner's burst) goes on with
/// [`MAX_IOV`].
const FIRST_IOV: usize = 32;

/// Write the outbox with vectored writes until it is empty, the socket
/// would block, or `budget` bytes went out (so one viewer's late-join burst
/// cannot hold up everyone else's live frames). Returns bytes written and
/// why it stopped.
pub fn write_outbox<W: Write>(
    socket: &mut W,
    queue: &mut Outbox,
    budget: usize,
) -> (usize, WriteOutcome) {
    let mut total = 0;
    let mut wide = false;
    loop {
        if total >= budget {
            return (total, WriteOutcome::Budget);
        }
        let step = if wide {
            write_once::<W, MAX_IOV>(socket, queue)
        } else {
            write_once::<W, FIRST_IOV>(socket, queue)
        };
        let Some((res, full)) = step else {
            return (total, WriteOutcome::Drained);
        };
        wide |= full;
        match res {
            Ok(0) => return (total, WriteOutcome::Error(io::ErrorKind::WriteZero)),
            Ok(n) => {
                queue.advance(n);
                total += n;
                if queue.is_empty() {
                    return (total, WriteOutcome::Drained);
                }
            }
            Err(e) => match e.kind() {
                io::ErrorKind::WouldBlock => return (total, WriteOutcome::WouldBlock),
                io::ErrorKind::Interrupted => continue,
                kind => return (total, WriteOutcome::Error(kind)),
            },
        }
    }
}

/// One vectored write of what `queue` holds, in at most `N` slices: `None`
/// if nothing is queued, else the result and whether all `N` slices were
/// used (so more may wait).
fn write_once<W: Write, const N: usize>(
    socket: &mut W,
    queue: &Outbox,
) -> Option<(io::Result<usize>, bool)> {
    let mut slices = [IoSlice::new(&[]); N];
    let n = queue.io_slices(&mut slices);
    (n > 0).then(|| (socket.write_vectored(&slices[..n]), n == N))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A reader that yields scripted results.
    struct Script(Vec<io::Result<Vec<u8>>>);

    impl Read for Script {
        fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
            if self.0.is_empty() {
                return Err(io::ErrorKind::WouldBlock.into());
            }
            match self.0.remove(0) {
                Ok(data) => {
                    buf[..data.len()].copy_from_slice(&data);
                    Ok(data.len())
                }
                Err(e) => Err(e),
            }
        }
    }

    #[test]
    fn reads_until_would_block() {
        let mut s = Script(vec![
            Ok(b"abc".to_vec()),
            Err(io::ErrorKind::Interrupted.into()),
            Ok(b"de".to_vec()),
        ]);
        let mut buf = Vec::new();
        assert_eq!(
            read_some(&mut s, 1000, &mut [0; 16], false, |b| buf
                .extend_from_slice(b)),
            (5, ReadOutcome::WouldBlock)
        );
        assert_eq!(&buf[..], b"abcde");
    }

    #[test]
    fn stops_at_budget_and_eof() {
        let mut s = Script(vec![Ok(vec![1; 10]), Ok(vec![2; 10]), Ok(vec![])]);
        let mut buf = Vec::new();
        assert_eq!(
            read_some(&mut s, 10, &mut [0; 16], false, |b| buf
                .extend_from_slice(b)),
            (10, ReadOutcome::Budget)
        );
        assert_eq!(
            read_some(&mut s, 100, &mut [0; 16], false, |b| buf
                .extend_from_slice(b)),
            (10, ReadOutcome::Closed)
        );
        assert_eq!(buf.len(), 20);
    }

    #[test]
    fn short_read_ends_the_loop_only_when_it_proves_the_socket_empty() {
        let script = || Script(vec![Ok(vec![1; 16]), Ok(vec![2; 5]), Ok(vec![3; 7])]);
        // A full read asks again; the short one (5 of 16) stops there.
        let (mut s, mut buf) = (script(), Vec::new());
        assert_eq!(
            read_some(&mut s, 1000, &mut [0; 16], true, |b| buf
                .extend_from_slice(b)),
            (21, ReadOutcome::WouldBlock)
        );
        assert_eq!(s.0.len(), 1, "the third read was left for the next edge");
        // Without the rule (TLS, or the peer's close seen) it reads on.
        let (mut s, mut buf) = (script(), Vec::new());
        assert_eq!(
            read_some(&mut s, 1000, &mut [0; 16], false, |b| buf
                .extend_from_slice(b)),
            (28, ReadOutcome::WouldBlock)
        );
        assert!(s.0.is_empty());
    }

    /// A writer that takes up to `room` bytes per call and records the
    /// number of slices of each call.
    struct Sink {
        room: usize,
        got: Vec<u8>,
        calls: Vec<usize>,
    }

    impl Write for Sink {
        fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
            self.write_vectored(&[IoSlice::new(buf)])
        }

        fn write_vectored(&mut self, bufs: &[IoSlice<'_>]) -> io::Result<usize> {
            self.calls.push(bufs.len());
            let mut n = 0;
            for b in bufs {
                let take = b.len().min(self.room - n);
                self.got.extend_from_slice(&b[..take]);
                n += take;
            }
            if n == 0 {
                return Err(io::ErrorKind::WouldBlock.into());
            }
            Ok(n)
        }

        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }

    fn outbox_of(pieces: usize) -> (Outbox, Vec<u8>) {
        let mut out = Outbox::default();
        let mut all = Vec::new();
        for i in 0..pieces {
            let piece = vec![i as u8; 3];
            all.extend_from_slice(&piece);
            assert_eq!(
                out.push_control(piece.into(), 0),
                crate::endpoint::Pushed::Queued
            );
        }
        (out, all)
    }

    /// Write all of an outbox of `pieces` 3-byte slices into a sink taking
    /// `room` bytes a call; checks the bytes and their order, returns the
    /// slice count of each call.
    fn write_all(pieces: usize, room: usize) -> Vec<usize> {
        let (mut out, all) = outbox_of(pieces);
        let mut sink = Sink {
            room,
            got: Vec::new(),
            calls: Vec::new(),
        };
        assert_eq!(
            write_outbox(&mut sink, &mut out, 1 << 20),
            (all.len(), WriteOutcome::Drained)
        );
        assert_eq!(sink.got, all, "every byte, in order");
        sink.calls
    }

    #[test]
    fn a_write_that_takes_everything_is_the_only_call() {
        assert_eq!(
            write_all(3, usize::MAX),
            [3],
            "one writev, no second look at an empty queue"
        );
    }

    #[test]
    fn a_long_queue_starts_small_then_writes_wide() {
        assert_eq!(
            write_all(600, usize::MAX),
            [FIRST_IOV, MAX_IOV, MAX_IOV, 600 - FIRST_IOV - 2 * MAX_IOV]
        );
        // A short write resumes mid-slice until everything is out.
        assert_eq!(write_all(10, 7).len(), 5, "7 bytes a call: 30 bytes in 5");
    }

    #[test]
    fn read_error_kind_is_reported() {
        let mut s = Script(vec![Err(io::ErrorKind::ConnectionReset.into())]);
        let mut buf = Vec::new();
        assert_eq!(
            read_some(&mut s, 100, &mut [0; 16], false, |b| buf
                .extend_from_slice(b)),
            (0, ReadOutcome::Error(io::ErrorKind::ConnectionReset))
        );
        assert!(buf.is_empty());
    }
}
