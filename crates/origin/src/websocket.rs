//! A WebSocket echo endpoint (RFC 6455), for the proxy tiers' upgrade tests: a request with
//! `Upgrade: websocket`, `Connection: upgrade` and a `Sec-WebSocket-Key` is answered `101 Switching
//! Protocols` with its `Sec-WebSocket-Accept`, on any path; then every data frame is echoed back as it came
//! (text, binary, continuation), a ping gets its pong, and a close is answered with a close before the
//! connection ends. Counted as one request. No extensions, no subprotocols.
//!
//! This module owns the handshake and the frames; `service.rs` only routes an upgrade request here.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use bytes::Bytes;
use http::header::{CONNECTION, HeaderValue, UPGRADE};
use http::{Request, Response, StatusCode};
use http_body_util::Full;
use hyper::body::Incoming;
use hyper_util::rt::TokioIo;
use sha1::{Digest, Sha1};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

/// The GUID of RFC 6455 §1.3, appended to the key before hashing.
const ACCEPT_GUID: &[u8] = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11";

/// Largest frame payload echoed; a larger frame ends the connection.
const MAX_PAYLOAD: u64 = 1024 * 1024;

/// True for a WebSocket opening handshake.
pub(crate) fn is_upgrade<B>(request: &Request<B>) -> bool {
    let upgrade = request
        .headers()
        .get(UPGRADE)
        .is_some_and(|value| value.as_bytes().eq_ignore_ascii_case(b"websocket"));
    let connection = request
        .headers()
        .get_all(CONNECTION)
        .iter()
        .flat_map(|value| value.as_bytes().split(|byte| *byte == b','))
        .any(|token| token.trim_ascii().eq_ignore_ascii_case(b"upgrade"));
    upgrade && connection && request.headers().contains_key("sec-websocket-key")
}

/// The `101` for `request`, and the echo task on the upgraded connection once hyper hands it over.
pub(crate) fn accept(request: &mut Request<Incoming>) -> Response<Full<Bytes>> {
    let key = request
        .headers()
        .get("sec-websocket-key")
        .map(|key| key.as_bytes().to_vec())
        .unwrap_or_default();
    let upgrade = hyper::upgrade::on(request);
    tokio::spawn(async move {
        match upgrade.await {
            Ok(upgraded) => {
                if let Err(error) = echo(TokioIo::new(upgraded)).await {
                    tracing::debug!(%error, "websocket echo ended with an error");
                }
            }
            Err(error) => tracing::debug!(%error, "websocket upgrade failed"),
        }
    });
    let mut response = Response::new(Full::new(Bytes::new()));
    *response.status_mut() = StatusCode::SWITCHING_PROTOCOLS;
    let headers = response.headers_mut();
    headers.insert(UPGRADE, HeaderValue::from_static("websocket"));
    headers.insert(CONNECTION, HeaderValue::from_static("upgrade"));
    if let Ok(accept) = HeaderValue::from_str(&accept_value(&key)) {
        headers.insert("sec-websocket-accept", accept);
    }
    response
}

/// `Sec-WebSocket-Accept` for `key`: base64(SHA-1(key + GUID)).
pub(crate) fn accept_value(key: &[u8]) -> String {
    let mut hasher = Sha1::new();
    hasher.update(key);
    hasher.update(ACCEPT_GUID);
    STANDARD.encode(hasher.finalize())
}

/// Echoes frames until a close, the peer's EOF or an error.
async fn echo<S: AsyncRead + AsyncWrite + Unpin>(mut stream: S) -> std::io::Result<()> {
    loop {
        let mut head = [0u8; 2];
        if stream.read_exact(&mut head).await.is_err() {
            return Ok(());
        }
        let opcode = head[0] & 0x0f;
        let masked = head[1] & 0x80 != 0;
        let length = match head[1] & 0x7f {
            126 => u64::from(stream.read_u16().await?),
            127 => stream.read_u64().await?,
            short => u64::from(short),
        };
        if length > MAX_PAYLOAD {
            return Err(std::io::Error::other(format!("frame of {length} bytes")));
        }
        let mut mask = [0u8; 4];
        if masked {
            stream.read_exact(&mut mask).await?;
        }
        let mut payload = vec![0u8; usize::try_from(length).unwrap_or(0)];
        stream.read_exact(&mut payload).await?;
        if masked {
            for (index, byte) in payload.iter_mut().enumerate() {
                *byte ^= mask[index % 4];
            }
        }
        let reply_opcode = match opcode {
            0x8 => 0x8,
            0x9 => 0xA,
            0xA => continue,
            data => data,
        };
        let fin = if opcode >= 0x8 { 0x80 } else { head[0] & 0x80 };
        stream
            .write_all(&frame(fin | reply_opcode, &payload))
            .await?;
        if opcode == 0x8 {
            stream.shutdown().await?;
            return Ok(());
        }
    }
}

/// An unmasked server frame.
fn frame(first: u8, payload: &[u8]) -> Vec<u8> {
    let mut out = vec![first];
    match payload.len() {
        short @ 0..=125 => out.push(u8::try_from(short).unwrap_or(125)),
        medium @ 126..=65535 => {
            out.push(126);
            out.extend_from_slice(&u16::try_from(medium).unwrap_or(u16::MAX).to_be_bytes());
        }
        long => {
            out.push(127);
            out.extend_from_slice(&(long as u64).to_be_bytes());
        }
    }
    out.extend_from_slice(payload);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_accept_value_of_rfc_6455s_example() {
        assert_eq!(
            accept_value(b"dGhlIHNhbXBsZSBub25jZQ=="),
            "s3pPLMBiTxaQ9kYGzzhZRbK+xOo="
        );
    }

    #[tokio::test]
    async fn frames_are_echoed_pings_ponged_and_a_close_answered() {
        let (mut client, server) = tokio::io::duplex(4096);
        let task = tokio::spawn(echo(server));
        let mask = [1u8, 2, 3, 4];
        let masked = |first: u8, payload: &[u8]| {
            let mut out = vec![first, 0x80 | u8::try_from(payload.len()).unwrap()];
            out.extend_from_slice(&mask);
            out.extend(
                payload
                    .iter()
                    .enumerate()
                    .map(|(index, byte)| byte ^ mask[index % 4]),
            );
            out
        };
        client.write_all(&masked(0x81, b"hello")).await.unwrap();
        client.write_all(&masked(0x89, b"p")).await.unwrap();
        client.write_all(&masked(0x88, b"")).await.unwrap();
        let mut got = Vec::new();
        client.read_to_end(&mut got).await.unwrap();
        assert_eq!(
            got,
            [&b"\x81\x05hello"[..], b"\x8a\x01p", b"\x88\x00"].concat()
        );
        task.await.unwrap().unwrap();
    }
}
