//! One request and its whole response on a raw TCP connection, read byte-exact with `httparse`, so the caller
//! knows the instant the response's last byte arrived and can then watch the same socket for the peer's close.
//!
//! Owns the wire exchange only: what the times mean is `close_time.rs`'s and `round_trip.rs`'s.

use std::io;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use super::ProbeError;

/// The most bytes a response head may take.
const MAX_HEAD_BYTES: usize = 64 * 1024;

/// The request the probe sends straight to a server: a plain HTTP/1.1 request, persistent by default.
pub(crate) fn request_bytes(host: &str, path: &str) -> Vec<u8> {
    format!("GET {path} HTTP/1.1\r\nHost: {host}\r\nUser-Agent: badgateway-probe\r\n\r\n")
        .into_bytes()
}

/// Writes `request` and reads one complete response (Content-Length or chunked framing). Returns its status.
pub(crate) async fn exchange(
    stream: &mut TcpStream,
    request: &[u8],
    limit: Duration,
) -> Result<u16, ProbeError> {
    let addr = stream
        .peer_addr()
        .map_or_else(|_| "the server".to_owned(), |a| a.to_string());
    tokio::time::timeout(limit, exchange_unbounded(stream, request))
        .await
        .map_err(|_| ProbeError::Exchange {
            addr: addr.clone(),
            reason: format!("no complete response within {limit:?}"),
        })?
        .map_err(|reason| ProbeError::Exchange { addr, reason })
}

async fn exchange_unbounded(stream: &mut TcpStream, request: &[u8]) -> Result<u16, String> {
    stream
        .write_all(request)
        .await
        .map_err(|e| format!("write: {e}"))?;
    let mut buffer = Vec::with_capacity(1024);
    let (status, head_len, framing) = loop {
        read_more(stream, &mut buffer).await?;
        let mut headers = [httparse::EMPTY_HEADER; 64];
        let mut response = httparse::Response::new(&mut headers);
        match response.parse(&buffer) {
            Ok(httparse::Status::Complete(len)) => {
                let status = response.code.unwrap_or(0);
                break (status, len, Framing::of(response.headers)?);
            }
            Ok(httparse::Status::Partial) if buffer.len() < MAX_HEAD_BYTES => {}
            Ok(httparse::Status::Partial) => return Err("response head too large".to_owned()),
            Err(e) => return Err(format!("unparsable response head: {e}")),
        }
    };
    buffer.drain(..head_len);
    match framing {
        Framing::Length(length) => {
            while (buffer.len() as u64) < length {
                read_more(stream, &mut buffer).await?;
            }
        }
        Framing::Chunked => {
            while !chunked_body_complete(&buffer)? {
                read_more(stream, &mut buffer).await?;
            }
        }
    }
    Ok(status)
}

async fn read_more(stream: &mut TcpStream, buffer: &mut Vec<u8>) -> Result<(), String> {
    let mut chunk = [0_u8; 4096];
    match stream.read(&mut chunk).await {
        Ok(0) => Err("the server closed the connection before a complete response".to_owned()),
        Ok(n) => {
            buffer.extend_from_slice(&chunk[..n]);
            Ok(())
        }
        Err(e) if e.kind() == io::ErrorKind::ConnectionReset => {
            Err("the server reset the connection before a complete response".to_owned())
        }
        Err(e) => Err(format!("read: {e}")),
    }
}

/// How the response body is delimited.
enum Framing {
    Length(u64),
    Chunked,
}

impl Framing {
    fn of(headers: &[httparse::Header<'_>]) -> Result<Self, String> {
        let mut framing = Framing::Length(0);
        for header in headers {
            if header.name.eq_ignore_ascii_case("transfer-encoding") {
                return Ok(Framing::Chunked);
            }
            if header.name.eq_ignore_ascii_case("content-length") {
                let text = std::str::from_utf8(header.value).unwrap_or("");
                let length = text
                    .trim()
                    .parse()
                    .map_err(|_| format!("bad Content-Length {text:?}"))?;
                framing = Framing::Length(length);
            }
        }
        Ok(framing)
    }
}

/// True once `body` holds a whole chunked body (chunks, the last chunk and the empty trailer line).
fn chunked_body_complete(body: &[u8]) -> Result<bool, String> {
    let mut at = 0;
    loop {
        let Some(line_end) = find_crlf(&body[at..]) else {
            return Ok(false);
        };
        let line = std::str::from_utf8(&body[at..at + line_end]).map_err(|_| "bad chunk size")?;
        let size_text = line.split(';').next().unwrap_or("").trim();
        let size = usize::from_str_radix(size_text, 16)
            .map_err(|_| format!("bad chunk size {size_text:?}"))?;
        at += line_end + 2;
        if size == 0 {
            // Trailer fields, then an empty line.
            loop {
                let Some(end) = find_crlf(&body[at..]) else {
                    return Ok(false);
                };
                at += end + 2;
                if end == 0 {
                    return Ok(true);
                }
            }
        }
        if body.len() < at + size + 2 {
            return Ok(false);
        }
        at += size + 2;
    }
}

fn find_crlf(bytes: &[u8]) -> Option<usize> {
    bytes.windows(2).position(|w| w == b"\r\n")
}

#[cfg(test)]
mod tests {
    use super::chunked_body_complete;

    #[test]
    fn chunked_bodies_are_complete_only_at_their_last_chunk() {
        assert_eq!(chunked_body_complete(b"5\r\nhello\r\n"), Ok(false));
        assert_eq!(chunked_body_complete(b"5\r\nhello\r\n0\r\n"), Ok(false));
        assert_eq!(chunked_body_complete(b"5\r\nhello\r\n0\r\n\r\n"), Ok(true));
        assert_eq!(
            chunked_body_complete(b"0;ext=1\r\nx-t: 1\r\n\r\n"),
            Ok(true)
        );
        assert!(chunked_body_complete(b"zz\r\n").is_err());
    }
}
