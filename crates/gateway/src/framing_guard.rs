//! The request-smuggling guard: which client requests carried both `Content-Length` and `Transfer-Encoding`.
//!
//! RFC 9112 §6.1 lets a server either reject such a request or frame it by `Transfer-Encoding` alone and close
//! the connection after it. hyper does the latter and removes `Content-Length` from the parsed head, so the
//! request service can no longer see that both were sent. A proxy must not let such a request through: the
//! two framings are how a front and a back are made to disagree on where a request ends. So the gateway
//! watches the bytes hyper reads: [`GuardedStream`] feeds them to a [`FramingTracker`], which follows the
//! request framing (head, `Content-Length` body, chunked body and trailers) just far enough to find each
//! head, and records in the connection's [`FramingLedger`] the number of the first head that carried both
//! headers. The service asks the ledger before proxying request `n` and answers `400` instead.
//!
//! The tracker never rejects anything itself. Where it cannot follow (a head hyper will reject anyway, a
//! `CONNECT`, a chunk line it cannot read), it stops and flags nothing more: hyper ends those connections.
//! This module owns the tracking only; `server.rs` asks the ledger and the `400` is made in `proxy.rs`
//! (`Proxy::refuse_ambiguous_framing`).

use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::task::{Context, Poll, ready};

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;

/// hyper's default limit on the number of headers of a request; a head with more is rejected by hyper.
const MAX_HEADERS: usize = 100;

/// Longest chunk-size or trailer line followed before the tracker gives up (hyper rejects far shorter ones).
const MAX_LINE: usize = 16 * 1024;

/// What one connection's tracker found, read by the connection's request service and its task.
#[derive(Debug)]
pub(crate) struct FramingLedger {
    /// The 1-based number of the first request head with both `Content-Length` and `Transfer-Encoding`; 0 =
    /// none.
    ambiguous: AtomicU64,
    /// Complete request heads read so far.
    heads: AtomicU64,
    /// Every byte read so far belongs to complete requests: no head, body or chunk is partly read.
    at_boundary: AtomicBool,
}

impl Default for FramingLedger {
    fn default() -> Self {
        FramingLedger {
            ambiguous: AtomicU64::new(0),
            heads: AtomicU64::new(0),
            at_boundary: AtomicBool::new(true),
        }
    }
}

impl FramingLedger {
    /// True when request `number` (1-based, in the order hyper hands requests to the service) carried both
    /// `Content-Length` and `Transfer-Encoding`.
    pub(crate) fn is_ambiguous(&self, number: u64) -> bool {
        number != 0 && self.ambiguous.load(Ordering::Acquire) == number
    }

    /// How many complete request heads were read, when every byte read so far belongs to complete requests
    /// (the tracker is between two requests); `None` mid-request, or once the tracker stopped following.
    pub(crate) fn complete_heads(&self) -> Option<u64> {
        self.at_boundary
            .load(Ordering::Acquire)
            .then(|| self.heads.load(Ordering::Acquire))
    }
}

/// Where the tracker is in the request stream.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    /// Collecting a request head up to its blank line.
    Head,
    /// Skipping a `Content-Length` body.
    Body { remaining: u64 },
    /// Collecting a chunk-size line.
    ChunkSize,
    /// Skipping chunk data.
    ChunkData { remaining: u64 },
    /// Skipping the CRLF after chunk data.
    ChunkEnd { remaining: u8 },
    /// Collecting trailer lines up to the blank one.
    Trailers,
    /// Not following any more: nothing more is flagged.
    Stopped,
}

/// Follows the framing of the requests on one connection, byte by byte as they are read.
#[derive(Debug)]
pub(crate) struct FramingTracker {
    state: State,
    /// The head or line being collected.
    line: Vec<u8>,
    /// A head longer than this is hyper's `431`: the tracker stops.
    max_head: usize,
    /// Complete request heads seen.
    heads: u64,
    /// The number of the first head with both framings.
    ambiguous: Option<u64>,
}

/// How a parsed head frames its body.
enum Framing {
    None,
    Length(u64),
    Chunked,
    /// Both `Content-Length` and `Transfer-Encoding`.
    Ambiguous,
    /// Something hyper rejects or handles without a body to follow (CONNECT).
    Unfollowable,
}

impl FramingTracker {
    /// A tracker for a new connection whose heads hyper limits to `max_head` bytes.
    pub(crate) fn new(max_head: usize) -> FramingTracker {
        FramingTracker {
            state: State::Head,
            line: Vec::new(),
            max_head: max_head.max(1),
            heads: 0,
            ambiguous: None,
        }
    }

    /// The number of the first head with both framings, if one was seen.
    pub(crate) fn ambiguous(&self) -> Option<u64> {
        self.ambiguous
    }

    /// True between two requests: every byte fed belongs to complete requests.
    pub(crate) fn at_boundary(&self) -> bool {
        self.state == State::Head && self.line.is_empty()
    }

    /// Frees the line buffer if it holds nothing (between requests); it grows again with the next head.
    fn release_buffer(&mut self) {
        if self.line.is_empty() {
            self.line = Vec::new();
        }
    }

    /// Follows `bytes`, the next bytes the client sent.
    pub(crate) fn feed(&mut self, mut bytes: &[u8]) {
        while !bytes.is_empty() {
            bytes = match self.state {
                State::Stopped => return,
                State::Head => self.feed_head(bytes),
                State::Body { remaining } => {
                    let (rest, left) = skip(bytes, remaining);
                    self.state = if left == 0 {
                        State::Head
                    } else {
                        State::Body { remaining: left }
                    };
                    rest
                }
                State::ChunkSize => self.feed_chunk_size(bytes),
                State::ChunkData { remaining } => {
                    let (rest, left) = skip(bytes, remaining);
                    self.state = if left == 0 {
                        State::ChunkEnd { remaining: 2 }
                    } else {
                        State::ChunkData { remaining: left }
                    };
                    rest
                }
                State::ChunkEnd { remaining } => {
                    let (rest, left) = skip(bytes, u64::from(remaining));
                    self.state = match u8::try_from(left) {
                        Ok(0) => State::ChunkSize,
                        Ok(left) => State::ChunkEnd { remaining: left },
                        Err(_) => State::Stopped,
                    };
                    rest
                }
                State::Trailers => self.feed_trailers(bytes),
            };
        }
    }

    fn feed_head<'a>(&mut self, bytes: &'a [u8]) -> &'a [u8] {
        let mut bytes = bytes;
        if self.line.is_empty() {
            // hyper skips empty lines before a request line (RFC 9112 §2.2).
            let start = bytes
                .iter()
                .position(|byte| !matches!(byte, b'\r' | b'\n'))
                .unwrap_or(bytes.len());
            bytes = &bytes[start..];
            if bytes.is_empty() {
                return bytes;
            }
        }
        if self.line.is_empty()
            && let Some((end, framing)) = parsed(bytes)
            && bytes[..end].ends_with(b"\r\n\r\n")
        {
            // The whole head is in this read (the usual case): parsed where it is, without a copy or a search
            // for its end (httparse finds it). Ending in CRLF CRLF, it ends where the search below would end it.
            self.head_done(framing);
            return &bytes[end..];
        }
        let before = self.line.len();
        self.line.extend_from_slice(bytes);
        // Only the new bytes and the three before them can complete the blank line.
        let from = before.saturating_sub(3);
        let Some(end) = find(&self.line[from..], b"\r\n\r\n").map(|at| from + at + 4) else {
            if self.line.len() > self.max_head {
                self.stop();
            }
            return &[];
        };
        let consumed = end - before;
        self.line.truncate(end);
        self.head_done(parsed(&self.line).map_or(Framing::Unfollowable, |(_, framing)| framing));
        self.line.clear();
        &bytes[consumed..]
    }

    /// Counts a complete head and follows its framing.
    fn head_done(&mut self, framing: Framing) {
        self.heads += 1;
        self.state = match framing {
            Framing::None => State::Head,
            Framing::Length(0) => State::Head,
            Framing::Length(length) => State::Body { remaining: length },
            Framing::Chunked => State::ChunkSize,
            Framing::Ambiguous => {
                self.ambiguous.get_or_insert(self.heads);
                // hyper closes the connection after this request: nothing after it is a request.
                State::Stopped
            }
            Framing::Unfollowable => State::Stopped,
        };
    }

    fn feed_chunk_size<'a>(&mut self, bytes: &'a [u8]) -> &'a [u8] {
        let Some((line_done, rest)) = self.collect_line(bytes) else {
            return &[];
        };
        let digits = line_done
            .split(|byte| matches!(byte, b';' | b' ' | b'\t' | b'\r'))
            .next()
            .unwrap_or_default();
        let size = std::str::from_utf8(digits)
            .ok()
            .and_then(|digits| u64::from_str_radix(digits, 16).ok());
        self.line.clear();
        self.state = match size {
            Some(0) => State::Trailers,
            Some(size) => State::ChunkData { remaining: size },
            None => State::Stopped,
        };
        rest
    }

    fn feed_trailers<'a>(&mut self, bytes: &'a [u8]) -> &'a [u8] {
        let Some((line_done, rest)) = self.collect_line(bytes) else {
            return &[];
        };
        let blank = line_done == b"\r\n" || line_done == b"\n";
        self.line.clear();
        if blank {
            self.state = State::Head;
        }
        rest
    }

    /// Collects bytes up to a line feed; the complete line (with its end) and the bytes after it, or `None`
    /// when the line is not complete yet (or too long: the tracker stops).
    fn collect_line<'a>(&mut self, bytes: &'a [u8]) -> Option<(Vec<u8>, &'a [u8])> {
        match bytes.iter().position(|byte| *byte == b'\n') {
            Some(at) => {
                self.line.extend_from_slice(&bytes[..=at]);
                Some((std::mem::take(&mut self.line), &bytes[at + 1..]))
            }
            None => {
                self.line.extend_from_slice(bytes);
                if self.line.len() > MAX_LINE {
                    self.stop();
                }
                None
            }
        }
    }

    fn stop(&mut self) {
        self.state = State::Stopped;
        self.line = Vec::new();
    }
}

/// The length of the request head at the start of `bytes` and how it frames its body, as hyper reads it;
/// `None` when `bytes` holds no complete, valid head.
fn parsed(bytes: &[u8]) -> Option<(usize, Framing)> {
    // Uninitialised: zeroing 100 fields for every request cost more than parsing a short head.
    let mut headers =
        [const { std::mem::MaybeUninit::<httparse::Header<'_>>::uninit() }; MAX_HEADERS];
    let mut request = httparse::Request::new(&mut []);
    match request.parse_with_uninit_headers(bytes, &mut headers) {
        Ok(httparse::Status::Complete(length)) => Some((length, framing(&request))),
        _ => None,
    }
}

/// How a parsed request head frames its body, as hyper reads it.
fn framing(request: &httparse::Request<'_, '_>) -> Framing {
    if request.method == Some("CONNECT") {
        return Framing::Unfollowable;
    }
    let is_length =
        |header: &&httparse::Header<'_>| header.name.eq_ignore_ascii_case("content-length");
    let mut has_length = false;
    let mut chunked = None;
    for header in request.headers.iter() {
        if is_length(&header) {
            has_length = true;
        } else if header.name.eq_ignore_ascii_case("transfer-encoding") {
            // As hyper: the last Transfer-Encoding header decides, by its last coding.
            chunked = Some(
                header
                    .value
                    .rsplit(|byte| *byte == b',')
                    .next()
                    .is_some_and(|coding| coding.trim_ascii().eq_ignore_ascii_case(b"chunked")),
            );
        }
    }
    match (chunked, has_length) {
        (Some(_), true) => Framing::Ambiguous,
        // HTTP/1.0 with Transfer-Encoding, or a coding other than chunked last: hyper answers 400.
        (Some(true), false) if request.version == Some(1) => Framing::Chunked,
        (Some(_), false) => Framing::Unfollowable,
        (None, false) => Framing::None,
        // A second pass over the fields instead of a list of the values: no allocation per request.
        (None, true) => content_length(request.headers.iter().filter(is_length).map(|h| h.value))
            .map_or(Framing::Unfollowable, Framing::Length),
    }
}

/// The one length all `Content-Length` values agree on (each may be a list, `5, 5`), or `None` when they
/// differ or do not parse (hyper answers 400).
fn content_length<'a>(values: impl IntoIterator<Item = &'a [u8]>) -> Option<u64> {
    let mut length = None;
    for value in values {
        for item in value.split(|byte| *byte == b',') {
            let item = std::str::from_utf8(item.trim_ascii()).ok()?;
            if item.is_empty() || !item.bytes().all(|byte| byte.is_ascii_digit()) {
                return None;
            }
            let parsed: u64 = item.parse().ok()?;
            if length.is_some_and(|length| length != parsed) {
                return None;
            }
            length = Some(parsed);
        }
    }
    length
}

/// Skips up to `count` bytes of `bytes`: the bytes after them and how many are still to skip.
fn skip(bytes: &[u8], count: u64) -> (&[u8], u64) {
    let available = u64::try_from(bytes.len()).unwrap_or(u64::MAX);
    if available >= count {
        // `count <= bytes.len()`, so it fits in usize.
        let count = usize::try_from(count).unwrap_or(bytes.len());
        (&bytes[count..], 0)
    } else {
        (&[], count - available)
    }
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack
        .windows(needle.len())
        .position(|window| window == needle)
}

/// A client socket whose reads are followed by a [`FramingTracker`] that reports to a [`FramingLedger`].
#[derive(Debug)]
pub(crate) struct GuardedStream {
    inner: TcpStream,
    tracker: FramingTracker,
    ledger: Arc<FramingLedger>,
}

impl GuardedStream {
    /// Follows the requests read from `inner`, whose heads hyper limits to `max_head` bytes.
    pub(crate) fn new(
        inner: TcpStream,
        max_head: usize,
        ledger: Arc<FramingLedger>,
    ) -> GuardedStream {
        GuardedStream {
            inner,
            tracker: FramingTracker::new(max_head),
            ledger,
        }
    }

    /// Waits until the client sent something (or closed), reading nothing.
    pub(crate) async fn readable(&self) -> io::Result<()> {
        self.inner.readable().await
    }

    /// The socket, for a connection that leaves HTTP (an upgrade's tunnel): nothing is followed any more.
    pub(crate) fn into_inner(self) -> TcpStream {
        self.inner
    }

    /// Frees what the tracker holds between requests, for a connection that waits idle.
    pub(crate) fn release_buffers(&mut self) {
        self.tracker.release_buffer();
    }
}

impl AsyncRead for GuardedStream {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        let before = buf.filled().len();
        ready!(Pin::new(&mut this.inner).poll_read(cx, buf))?;
        if this.tracker.ambiguous().is_none() && buf.filled().len() > before {
            this.tracker.feed(&buf.filled()[before..]);
            if let Some(number) = this.tracker.ambiguous() {
                this.ledger.ambiguous.store(number, Ordering::Release);
            }
            let ledger = &this.ledger;
            ledger.heads.store(this.tracker.heads, Ordering::Release);
            ledger.at_boundary.store(
                this.tracker.at_boundary() && this.tracker.ambiguous().is_none(),
                Ordering::Release,
            );
        }
        Poll::Ready(Ok(()))
    }
}

impl AsyncWrite for GuardedStream {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().inner).poll_write(cx, buf)
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().inner).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_shutdown(cx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The ambiguous head's number after feeding `stream` in pieces of `piece` bytes.
    fn ambiguous_after(stream: &[u8], piece: usize) -> Option<u64> {
        let mut tracker = FramingTracker::new(64 * 1024);
        for part in stream.chunks(piece) {
            tracker.feed(part);
        }
        tracker.ambiguous()
    }

    fn every_split(stream: &[u8]) -> Vec<Option<u64>> {
        (1..=stream.len())
            .map(|piece| ambiguous_after(stream, piece))
            .collect()
    }

    #[test]
    fn flags_content_length_with_transfer_encoding_in_either_order() {
        for head in [
            &b"POST / HTTP/1.1\r\nhost: x\r\ncontent-length: 4\r\ntransfer-encoding: chunked\r\n\r\n"[..],
            b"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\nContent-Length: 4\r\n\r\n",
        ] {
            assert!(every_split(head).iter().all(|found| *found == Some(1)));
        }
    }

    #[test]
    fn finds_the_head_after_length_and_chunked_bodies_and_trailers() {
        let stream = b"\r\nGET / HTTP/1.1\r\nhost: x\r\n\r\n\
            POST /a HTTP/1.1\r\ncontent-length: 28\r\n\r\ncontent-length: 1\r\n\r\nxxxxxxx\
            POST /b HTTP/1.1\r\ntransfer-encoding: gzip, chunked\r\n\r\n\
            1a;ext=1\r\ntransfer-encoding: chunked\r\n0\r\nx-trailer: content-length: 2\r\n\r\n\
            POST /c HTTP/1.1\r\ncontent-length: 0\r\ntransfer-encoding: chunked\r\n\r\n";
        assert!(
            every_split(stream).iter().all(|found| *found == Some(4)),
            "{:?}",
            every_split(stream)
        );
    }

    #[test]
    fn plain_requests_are_never_flagged() {
        let stream = b"GET / HTTP/1.1\r\n\r\nPOST / HTTP/1.1\r\ncontent-length: 5, 5\r\n\r\nhello\
            POST / HTTP/1.1\r\ntransfer-encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n";
        assert!(every_split(stream).iter().all(Option::is_none));
    }

    #[test]
    fn stops_where_hyper_rejects_and_flags_nothing_after() {
        for stream in [
            &b"POST / HTTP/1.1\r\ncontent-length: 5\r\ncontent-length: 6\r\n\r\n"[..],
            b"POST / HTTP/1.0\r\ntransfer-encoding: chunked\r\n\r\n",
            b"bad request line\r\n\r\n",
            b"POST / HTTP/1.1\r\ntransfer-encoding: chunked\r\n\r\nzz\r\n",
        ] {
            let mut tracked = stream.to_vec();
            tracked.extend_from_slice(
                b"POST / HTTP/1.1\r\ncontent-length: 1\r\ntransfer-encoding: chunked\r\n\r\n",
            );
            assert_eq!(ambiguous_after(&tracked, 7), None);
        }
    }

    proptest::proptest! {
        #[test]
        fn any_bytes_in_any_pieces_never_panic(
            stream in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..2048),
            piece in 1usize..64,
        ) {
            let _ = ambiguous_after(&stream, piece);
        }
    }

    #[test]
    fn a_ledger_answers_for_the_flagged_request_only() {
        let ledger = FramingLedger::default();
        assert!(!ledger.is_ambiguous(0) && !ledger.is_ambiguous(1));
        ledger.ambiguous.store(2, Ordering::Release);
        assert!(!ledger.is_ambiguous(1));
        assert!(ledger.is_ambiguous(2));
    }
}
