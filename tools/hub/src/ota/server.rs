//! The OTA file server on HTTP and HTTPS (`hub.md` §5).
//!
//! One request per connection, `Connection: close`, files at `/ota/<id>` whatever the
//! `Host` (so the ESP8266-style `https`→`http` fallback works on the HTTPS host names).
//! `Range: bytes=a-b` is clamped to the file, `a` ≥ size gets a 416, no `Range` a 200. The
//! fault switches of the file shape the answer. Every request line and header goes to the
//! event log (`http_request`), and the outcome (`http_response`: status, body bytes sent)
//! when the answer ends, so tests can assert `Range: bytes=<offset>-<size>` and what was sent.

use super::Faults;
use crate::tls::certificates::HubCertificates;
use crate::Hub;
use openssl::error::ErrorStack;
use openssl::ssl::{Ssl, SslAcceptor, SslMethod, SslVersion};
use serde_json::json;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio_openssl::SslStream;

/// Longest request head read.
const MAX_HEAD: usize = 16 * 1024;
/// Bytes written per write call without throttling.
const SLICE: usize = 16 * 1024;
/// A client that sends no complete head within this time is dropped.
const HEAD_TIMEOUT: Duration = Duration::from_secs(10);

static NEXT_REQUEST: AtomicU64 = AtomicU64::new(1);

/// The TLS acceptor of the HTTPS listener: the hub server certificate, TLS 1.2 and 1.3.
///
/// # Errors
/// OpenSSL refused the certificate or key.
pub fn https_acceptor(certificates: &HubCertificates) -> Result<SslAcceptor, ErrorStack> {
    let mut builder = SslAcceptor::mozilla_intermediate_v5(SslMethod::tls_server())?;
    builder.set_min_proto_version(Some(SslVersion::TLS1_2))?;
    builder.set_certificate(&certificates.server)?;
    builder.add_extra_chain_cert(certificates.ca.clone())?;
    builder.set_private_key(&certificates.server_key)?;
    builder.check_private_key()?;
    Ok(builder.build())
}

/// Serves plain HTTP forever.
pub async fn serve_http(hub: Arc<Hub>, listener: TcpListener) {
    loop {
        match listener.accept().await {
            Ok((stream, peer)) => {
                let _ = stream.set_nodelay(true);
                tokio::spawn(serve_connection(hub.clone(), stream, peer, false));
            }
            Err(error) => log::warn!("HTTP accept failed: {error}"),
        }
    }
}

/// Serves HTTPS forever.
pub async fn serve_https(hub: Arc<Hub>, listener: TcpListener, acceptor: Arc<SslAcceptor>) {
    loop {
        match listener.accept().await {
            Ok((stream, peer)) => {
                let _ = stream.set_nodelay(true);
                let (hub, acceptor) = (hub.clone(), acceptor.clone());
                tokio::spawn(async move {
                    match handshake(&acceptor, stream).await {
                        Ok(stream) => serve_connection(hub, stream, peer, true).await,
                        Err(error) => log::info!("HTTPS handshake with {peer} failed: {error}"),
                    }
                });
            }
            Err(error) => log::warn!("HTTPS accept failed: {error}"),
        }
    }
}

async fn handshake(
    acceptor: &SslAcceptor,
    stream: TcpStream,
) -> Result<SslStream<TcpStream>, String> {
    let ssl = Ssl::new(acceptor.context()).map_err(|error| error.to_string())?;
    let mut stream = SslStream::new(ssl, stream).map_err(|error| error.to_string())?;
    tokio::time::timeout(HEAD_TIMEOUT, Pin::new(&mut stream).accept())
        .await
        .map_err(|_| "no TLS handshake in time".to_owned())?
        .map_err(|error| error.to_string())?;
    Ok(stream)
}

/// A parsed request head.
struct Request {
    method: String,
    target: String,
    range: Option<String>,
}

async fn serve_connection<S: AsyncRead + AsyncWrite + Unpin>(
    hub: Arc<Hub>,
    mut stream: S,
    peer: SocketAddr,
    secure: bool,
) {
    let number = NEXT_REQUEST.fetch_add(1, Ordering::Relaxed);
    let (head, rest) = match tokio::time::timeout(HEAD_TIMEOUT, read_head(&mut stream)).await {
        Ok(Ok(Some(head))) => head,
        _ => return,
    };
    let text = String::from_utf8_lossy(&head);
    let mut lines = text.split("\r\n");
    let line = lines.next().unwrap_or_default().to_owned();
    let headers: Vec<String> = lines
        .filter(|line| !line.is_empty())
        .map(str::to_owned)
        .collect();
    hub.events.record(
        "http_request",
        json!({"request": number, "peer": peer.to_string(), "tls": secure, "line": line,
               "headers": headers}),
    );
    let mut parts = line.split(' ');
    let request = Request {
        method: parts.next().unwrap_or_default().to_owned(),
        target: parts.next().unwrap_or_default().to_owned(),
        range: headers.iter().find_map(|header| {
            let (name, value) = header.split_once(':')?;
            name.trim()
                .eq_ignore_ascii_case("range")
                .then(|| value.trim().to_owned())
        }),
    };
    let registration =
        request.method == "POST" && request.target.split('?').next() == Some(crate::dynreg::PATH);
    let outcome = if registration {
        crate::dynreg::server::answer(&hub, &mut stream, &headers, rest).await
    } else {
        answer(&hub, &mut stream, &request).await
    };
    let (status, sent) = match outcome {
        Ok(outcome) => outcome,
        Err(error) => {
            log::debug!("HTTP request {number}: {error}");
            (0, 0)
        }
    };
    let _ = stream.shutdown().await;
    hub.events.record(
        "http_response",
        json!({"request": number, "status": status, "bytes_sent": sent}),
    );
}

/// The head without its final empty line, and the bytes read after it (a request body).
async fn read_head<S: AsyncRead + Unpin>(
    stream: &mut S,
) -> std::io::Result<Option<(Vec<u8>, Vec<u8>)>> {
    let mut buffer = Vec::new();
    loop {
        if let Some(end) = buffer.windows(4).position(|window| window == b"\r\n\r\n") {
            let rest = buffer.split_off(end + 4);
            buffer.truncate(end);
            return Ok(Some((buffer, rest)));
        }
        if buffer.len() > MAX_HEAD {
            return Ok(None);
        }
        let mut chunk = [0u8; 2048];
        let count = stream.read(&mut chunk).await?;
        if count == 0 {
            return Ok(None);
        }
        buffer.extend_from_slice(&chunk[..count]);
    }
}

fn reason(status: u16) -> &'static str {
    match status {
        200 => "OK",
        206 => "Partial Content",
        301 => "Moved Permanently",
        302 => "Found",
        401 => "Unauthorized",
        403 => "Forbidden",
        404 => "Not Found",
        405 => "Method Not Allowed",
        416 => "Range Not Satisfiable",
        500 => "Internal Server Error",
        _ => "Status",
    }
}

/// Writes a head; returns the status for the log.
async fn write_head<S: AsyncWrite + Unpin>(
    stream: &mut S,
    status: u16,
    headers: &[String],
) -> std::io::Result<u16> {
    let mut head = format!("HTTP/1.1 {status} {}\r\n", reason(status));
    for header in headers {
        head.push_str(header);
        head.push_str("\r\n");
    }
    head.push_str("Connection: close\r\n\r\n");
    stream.write_all(head.as_bytes()).await?;
    Ok(status)
}

/// `bytes=a-b`, `bytes=a-` or `bytes=-n` against `size`: `Some(Ok(first..=last))`,
/// `Some(Err(()))` when unsatisfiable, `None` when the header is to be ignored.
fn parse_range(value: &str, size: u64) -> Option<Result<(u64, u64), ()>> {
    let spec = value.strip_prefix("bytes=")?.trim();
    if spec.contains(',') {
        return None; // multiple ranges: answered with the whole file
    }
    let (first, last) = spec.split_once('-')?;
    let last = if last.is_empty() {
        None
    } else {
        Some(last.parse::<u64>().ok()?)
    };
    if first.is_empty() {
        let suffix = last?;
        return Some(if suffix == 0 || size == 0 {
            Err(())
        } else {
            Ok((size.saturating_sub(suffix), size - 1))
        });
    }
    let first = first.parse::<u64>().ok()?;
    if last.is_some_and(|last| last < first) {
        return None;
    }
    if first >= size {
        return Some(Err(()));
    }
    Some(Ok((
        first,
        last.map_or(size - 1, |last| last.min(size - 1)),
    )))
}

/// Answers one request; returns the status and the body bytes sent.
async fn answer<S: AsyncWrite + Unpin>(
    hub: &Hub,
    stream: &mut S,
    request: &Request,
) -> std::io::Result<(u16, u64)> {
    if request.method != "GET" {
        return Ok((
            write_head(stream, 405, &["Content-Length: 0".into()]).await?,
            0,
        ));
    }
    let path = request.target.split('?').next().unwrap_or_default();
    let file = path
        .strip_prefix("/ota/")
        .and_then(|id| id.parse::<u64>().ok())
        .and_then(|id| hub.ota.take_for_request(id));
    let Some((bytes, faults)) = file else {
        return Ok((
            write_head(stream, 404, &["Content-Length: 0".into()]).await?,
            0,
        ));
    };
    if let Some(status) = faults.status {
        let mut headers = vec!["Content-Length: 0".to_owned()];
        if (300..400).contains(&status) {
            headers.push(format!("Location: {}.moved", request.target));
        }
        return Ok((write_head(stream, status, &headers).await?, 0));
    }
    let size = bytes.len() as u64;
    let range = match &request.range {
        Some(value) if !faults.ignore_range => parse_range(value, size),
        _ => None,
    };
    let (status, first, last) = match range {
        Some(Err(())) => {
            let headers = [
                format!("Content-Range: bytes */{size}"),
                "Content-Length: 0".into(),
            ];
            return Ok((write_head(stream, 416, &headers).await?, 0));
        }
        Some(Ok((first, last))) => (206, first, last + 1),
        None => (200, 0, size),
    };
    let mut headers = vec!["Content-Type: application/octet-stream".to_owned()];
    if status == 206 {
        headers.push(format!("Content-Range: bytes {first}-{}/{size}", last - 1));
    }
    if faults.chunked {
        headers.push("Transfer-Encoding: chunked".into());
    } else {
        headers.push(format!("Content-Length: {}", last - first));
    }
    write_head(stream, status, &headers).await?;
    let mut body = bytes[first as usize..last as usize].to_vec();
    if let Some(offset) = faults
        .flip_offset
        .filter(|offset| (first..last).contains(offset))
    {
        body[(offset - first) as usize] ^= 0xFF;
    }
    let sent = send_body(stream, &body, &faults).await?;
    Ok((status, sent))
}

/// Writes the body with the throttle, stall, early close and chunked faults applied.
async fn send_body<S: AsyncWrite + Unpin>(
    stream: &mut S,
    body: &[u8],
    faults: &Faults,
) -> std::io::Result<u64> {
    let length = body.len() as u64;
    let limit = faults.close_after.map_or(length, |close| close.min(length)) as usize;
    let stall_at = faults
        .stall_s
        .map(|_| faults.stall_after.unwrap_or(length / 2) as usize);
    let slice = faults
        .throttle_bps
        .map_or(SLICE, |rate| (rate as usize / 10).clamp(1, SLICE));
    let mut sent = 0;
    let mut stalled = false;
    while sent < limit {
        if !stalled && stall_at.is_some_and(|at| sent >= at) {
            stalled = true;
            stream.flush().await?;
            tokio::time::sleep(Duration::from_secs_f64(faults.stall_s.unwrap_or(0.0))).await;
        }
        let mut end = (sent + slice).min(limit);
        if let Some(at) = stall_at.filter(|at| !stalled && *at > sent) {
            end = end.min(at);
        }
        let piece = &body[sent..end];
        if faults.chunked {
            stream
                .write_all(format!("{:x}\r\n", piece.len()).as_bytes())
                .await?;
            stream.write_all(piece).await?;
            stream.write_all(b"\r\n").await?;
        } else {
            stream.write_all(piece).await?;
        }
        sent = end;
        if faults.throttle_bps.is_some() {
            stream.flush().await?;
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
    if faults.chunked && limit == body.len() {
        stream.write_all(b"0\r\n\r\n").await?;
    }
    stream.flush().await?;
    Ok(sent as u64)
}

#[cfg(test)]
mod tests {
    use super::parse_range;

    #[test]
    fn ranges_are_clamped_and_bad_ones_ignored() {
        assert_eq!(parse_range("bytes=0-5000", 5000), Some(Ok((0, 4999))));
        assert_eq!(parse_range("bytes=2048-5000", 5000), Some(Ok((2048, 4999))));
        assert_eq!(parse_range("bytes=2048-", 5000), Some(Ok((2048, 4999))));
        assert_eq!(parse_range("bytes=10-19", 5000), Some(Ok((10, 19))));
        assert_eq!(parse_range("bytes=-100", 5000), Some(Ok((4900, 4999))));
        assert_eq!(parse_range("bytes=5000-5000", 5000), Some(Err(())));
        assert_eq!(parse_range("bytes=9-3", 5000), None);
        assert_eq!(parse_range("bytes=0-1,5-6", 5000), None);
        assert_eq!(parse_range("items=0-1", 5000), None);
        assert_eq!(parse_range("bytes=x-1", 5000), None);
    }
}
