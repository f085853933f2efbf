//! The HTTP client: URLs, the exact request, every response shape of
//! `cloud.md` §4.5, the stall, and input split anywhere.

use proptest::prelude::*;
use std::vec::Vec;

use super::vector_image;
use crate::http::{
    range_request_parts, write_post_head, write_range_request, HttpError, Piece, RangeDownload,
    RequestDigits, Response, Url, UrlError, STALL_TIMEOUT_MS,
};

const VECTOR_URL: &[u8] = b"https://ota-1255858890.cos.ap-guangzhou.myqcloud.com/100008768029_CTQS08Y5LG_1.0.1?sign=q-sign-algorithm%3Dsha1%26q-ak%3DAKIDexample%26q-sign-time%3D1700000000%3B1700086400";

fn request(url: &Url<'_>, offset: u32, size: u32) -> std::string::String {
    let mut out = [0u8; 512];
    let length = write_range_request(url, offset, size, &mut out).unwrap();
    std::string::String::from_utf8(out[..length].to_vec()).unwrap()
}

#[test]
fn requests_match_the_session_vectors() {
    let url = Url::parse(VECTOR_URL).unwrap().downgraded();
    assert_eq!((url.secure, url.port), (false, 80));
    let head = "GET /100008768029_CTQS08Y5LG_1.0.1?sign=q-sign-algorithm%3Dsha1%26q-ak%3DAKIDexample%26q-sign-time%3D1700000000%3B1700086400 HTTP/1.1\r\nHost: ota-1255858890.cos.ap-guangzhou.myqcloud.com\r\nAccept: text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8\r\nAccept-Encoding: gzip, deflate\r\n";
    assert_eq!(
        request(&url, 0, 5000),
        std::format!("{head}Range: bytes=0-5000\r\n\r\n")
    );
    assert_eq!(
        request(&url, 2048, 5000),
        std::format!("{head}Range: bytes=2048-5000\r\n\r\n")
    );
}

#[test]
fn the_request_in_parts_is_the_written_request_and_points_into_the_url() {
    let urls: [&[u8]; 3] = [VECTOR_URL, b"http://127.0.0.1:18080/ota/1", b"http://h"];
    for text in urls {
        let url = Url::parse(text).unwrap();
        let mut digits = RequestDigits::default();
        let parts = range_request_parts(&url, 2048, 4_294_967_295, &mut digits);
        assert_eq!(
            parts.concat(),
            request(&url, 2048, 4_294_967_295).into_bytes()
        );
        assert!(core::ptr::eq(parts[1], url.target) && core::ptr::eq(parts[3], url.host));
    }
}

#[test]
fn urls_are_split_and_ports_shown_only_when_not_default() {
    let url = Url::parse(b"http://127.0.0.1:18080/ota/1#frag").unwrap();
    assert_eq!(
        (url.host, url.port, url.target),
        (&b"127.0.0.1"[..], 18080, &b"/ota/1"[..])
    );
    assert!(request(&url, 0, 1).contains("\r\nHost: 127.0.0.1:18080\r\n"));
    let url = Url::parse(b"HTTPS://h.example:443?x=1").unwrap();
    assert_eq!((url.secure, url.target), (true, &b"?x=1"[..]));
    assert!(request(&url, 0, 1).starts_with("GET ?x=1 HTTP/1.1\r\nHost: h.example\r\n"));
    let url = Url::parse(b"https://h:8443/a").unwrap();
    assert!(request(&url, 0, 1).contains("Host: h:8443\r\n"));
    assert_eq!(
        url.downgraded().port,
        80,
        "the fallback always uses port 80"
    );
    assert_eq!(Url::parse(b"http://h").unwrap().target, b"/");
    assert_eq!(Url::parse(b"ftp://h/"), Err(UrlError::Scheme));
    assert_eq!(Url::parse(b"http:///a"), Err(UrlError::Host));
    assert_eq!(Url::parse(b"http://u@h/a"), Err(UrlError::Host));
    assert_eq!(Url::parse(b"http://[::1]/a"), Err(UrlError::Host));
    for port in ["0", "65536", "", "8a", "123456"] {
        let text = std::format!("http://h:{port}/a");
        assert_eq!(Url::parse(text.as_bytes()), Err(UrlError::Port), "{port}");
    }
    let mut short = [0u8; 40];
    assert!(write_range_request(&url, 0, 1, &mut short).is_err());
}

/// Feeds `input` in the pieces `splits` makes, then reports the close.
fn download(input: &[u8], offset: u32, size: u32, splits: &[usize]) -> Result<Vec<u8>, HttpError> {
    let mut client = RangeDownload::new(offset, size, 0);
    let mut data = Vec::new();
    let mut start = 0;
    let mut cuts: Vec<usize> = splits
        .iter()
        .map(|split| split % (input.len() + 1))
        .collect();
    cuts.sort_unstable();
    cuts.push(input.len());
    for end in cuts {
        let mut piece = &input[start.min(end)..end];
        start = start.max(end);
        while !piece.is_empty() && !client.is_complete() {
            let before = client.position();
            let chunk = client.feed(piece, 1)?;
            assert_eq!(before + chunk.data.len() as u32, client.position());
            data.extend_from_slice(chunk.data);
            piece = &piece[chunk.consumed..];
            assert_eq!(chunk.complete, client.is_complete());
        }
    }
    client.closed()?;
    Ok(data)
}

fn head(status: &str, headers: &[&str]) -> Vec<u8> {
    let mut text = std::format!("HTTP/1.1 {status}\r\n");
    for header in headers {
        text.push_str(header);
        text.push_str("\r\n");
    }
    text.push_str("\r\n");
    text.into_bytes()
}

fn with_body(mut head: Vec<u8>, body: &[u8]) -> Vec<u8> {
    head.extend_from_slice(body);
    head
}

#[test]
fn a_206_from_the_offset_is_taken_as_is() {
    let image = vector_image(5000);
    let response = with_body(
        head(
            "206 Partial Content",
            &[
                "Content-Type: application/octet-stream",
                "Content-Range: bytes 2048-4999/5000",
                "Content-Length: 2952",
                "Connection: close",
            ],
        ),
        &image[2048..],
    );
    assert_eq!(
        download(&response, 2048, 5000, &[]).unwrap(),
        &image[2048..]
    );
    let wrong = with_body(
        head(
            "206 Partial Content",
            &["Content-Range: bytes 0-4999/5000", "Content-Length: 5000"],
        ),
        &image,
    );
    assert_eq!(
        download(&wrong, 2048, 5000, &[]),
        Err(HttpError::Status(206))
    );
    let no_range = with_body(
        head("206 Partial Content", &["Content-Length: 2952"]),
        &image[2048..],
    );
    assert_eq!(
        download(&no_range, 2048, 5000, &[]),
        Err(HttpError::Status(206))
    );
}

#[test]
fn a_200_restarts_at_zero_and_the_prefix_is_skipped() {
    let image = vector_image(5000);
    let response = with_body(head("200 OK", &["content-length: 5000"]), &image);
    for splits in [&[][..], &[50, 100, 2100, 3000], &[80, 81, 82]] {
        assert_eq!(
            download(&response, 2048, 5000, splits).unwrap(),
            &image[2048..]
        );
    }
    assert_eq!(download(&response, 0, 5000, &[]).unwrap(), image);
    // A longer file than announced is cut at the size (the MD5 decides).
    let longer = with_body(
        head("200 OK", &["Content-Length: 5010"]),
        &vector_image(5010),
    );
    assert_eq!(download(&longer, 0, 5000, &[]).unwrap(), image);
}

#[test]
fn failing_statuses_and_encodings_are_errors() {
    for status in [
        "401 Unauthorized",
        "403 Forbidden",
        "404 Not Found",
        "302 Found",
        "500 Internal Server Error",
        "100 Continue",
        "416 Range Not Satisfiable",
        "204 No Content",
    ] {
        let code: u16 = status[..3].parse().unwrap();
        let response = head(status, &["Content-Length: 0"]);
        assert_eq!(
            download(&response, 0, 10, &[]),
            Err(HttpError::Status(code)),
            "{status}"
        );
    }
    let gzip = with_body(
        head("200 OK", &["Content-Encoding: gzip", "Content-Length: 3"]),
        b"abc",
    );
    assert_eq!(
        download(&gzip, 0, 3, &[]),
        Err(HttpError::UnsupportedEncoding)
    );
    let identity = with_body(
        head(
            "200 OK",
            &["Content-Encoding:  Identity ", "Content-Length: 3"],
        ),
        b"abc",
    );
    assert_eq!(download(&identity, 0, 3, &[]).unwrap(), b"abc");
    let compressed = with_body(head("200 OK", &["Transfer-Encoding: gzip, chunked"]), b"");
    assert_eq!(
        download(&compressed, 0, 3, &[]),
        Err(HttpError::UnsupportedEncoding)
    );
}

#[test]
fn bodies_end_by_length_chunks_or_close() {
    let close = with_body(head("200 OK", &["Connection: close"]), b"hello");
    assert_eq!(download(&close, 0, 5, &[]).unwrap(), b"hello");
    let chunked = with_body(
        head("200 OK", &["Transfer-Encoding: Chunked"]),
        b"2;name=\"v\"\r\nhe\r\n3\r\nllo\r\n0\r\nTrailer: x\r\n\r\n",
    );
    assert_eq!(download(&chunked, 0, 5, &[]).unwrap(), b"hello");
    assert_eq!(download(&chunked, 1, 5, &[]).unwrap(), b"ello");
}

#[test]
fn short_bodies_are_truncated() {
    let short = with_body(head("200 OK", &["Content-Length: 4"]), b"hell");
    assert_eq!(download(&short, 0, 5, &[]), Err(HttpError::Truncated));
    let chunked = with_body(
        head("200 OK", &["Transfer-Encoding: chunked"]),
        b"4\r\nhell\r\n0\r\n\r\n",
    );
    assert_eq!(download(&chunked, 0, 5, &[]), Err(HttpError::Truncated));
    let close = with_body(head("200 OK", &[]), b"hell");
    assert_eq!(download(&close, 0, 5, &[]), Err(HttpError::Truncated));
    assert_eq!(
        download(b"HTTP/1.1 200 OK\r\nContent-Le", 0, 5, &[]),
        Err(HttpError::Truncated)
    );
    let empty = head("200 OK", &["Content-Length: 0"]);
    assert_eq!(download(&empty, 0, 5, &[]), Err(HttpError::Truncated));
}

#[test]
fn malformed_heads_are_refused() {
    for bad in [
        &b"HTTP/2 200 OK\r\n\r\n"[..],
        b"HTTP/1.1 2x0 OK\r\n\r\n",
        b"HTTP/1.1 200 OK\r\n folded: x\r\n\r\n",
        b"HTTP/1.1 200 OK\r\nName only\r\n\r\n",
        b"HTTP/1.1 200 OK\r\nContent-Length: 1x\r\n\r\n",
        b"HTTP/1.1 200 OK\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n",
        // Out of range: u64::MAX (the head's mark for an absent length) and beyond.
        b"HTTP/1.1 200 OK\r\nContent-Length: 18446744073709551615\r\n\r\n",
        b"HTTP/1.1 200 OK\r\nContent-Length: 18446744073709551616\r\n\r\n",
        b"HTTP/1.1 200 OK\rX\r\n\r\n",
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nz\r\n",
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n1\r\nab\r\n",
    ] {
        assert_eq!(
            download(bad, 0, 5, &[]),
            Err(HttpError::Malformed),
            "{}",
            bad.escape_ascii()
        );
    }
    let mut endless = b"HTTP/1.1 200 OK\r\n".to_vec();
    endless.extend(std::iter::repeat_n(b'X', 17 * 1024));
    assert_eq!(download(&endless, 0, 5, &[]), Err(HttpError::Malformed));
    let bare_lf = b"HTTP/1.1 200 OK\nContent-Length: 2\n\nab";
    assert_eq!(download(bare_lf, 0, 2, &[]).unwrap(), b"ab");
    let no_reason = b"HTTP/1.0 200\r\nContent-Length: 2\r\n\r\nab";
    assert_eq!(download(no_reason, 0, 2, &[]).unwrap(), b"ab");
}

#[test]
fn twenty_seconds_without_data_is_a_stall() {
    let mut client = RangeDownload::new(0, 10, 1_000);
    assert_eq!(client.deadline_ms(), 1_000 + STALL_TIMEOUT_MS);
    assert_eq!(client.check_stall(20_999), Ok(()));
    assert_eq!(client.check_stall(21_000), Err(HttpError::Stalled));
    client.feed(b"HTTP/1.1 200 OK\r\n", 15_000).unwrap();
    assert_eq!(client.check_stall(34_999), Ok(()));
    assert_eq!(client.check_stall(35_000), Err(HttpError::Stalled));
    client.feed(b"", 34_000).unwrap();
    assert_eq!(
        client.check_stall(35_000),
        Err(HttpError::Stalled),
        "no bytes, no reset"
    );
}

#[test]
fn the_generic_reader_reports_head_body_and_end() {
    let mut response = Response::new();
    let input = b"HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\nabc";
    let (used, piece) = response.feed(input).unwrap();
    let Piece::Head(head) = piece else {
        panic!("{piece:?}")
    };
    assert_eq!(
        (head.status, head.content_length(), head.chunked),
        (200, Some(3), false)
    );
    assert_eq!(
        response.feed(&input[used..]).unwrap(),
        (3, Piece::Body(b"abc"))
    );
    assert!(response.is_done());
    assert_eq!(response.closed(), Ok(()));
}

/// A chunked response carrying `body` in chunks of the given sizes.
fn chunked(body: &[u8], sizes: &[usize]) -> Vec<u8> {
    let mut out = head(
        "200 OK",
        &[
            "Server: x",
            "Transfer-Encoding: chunked",
            "X-Long: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
        ],
    );
    let mut rest = body;
    let mut index = 0;
    while !rest.is_empty() {
        let take = sizes[index % sizes.len()].clamp(1, rest.len());
        out.extend_from_slice(std::format!("{take:x}\r\n").as_bytes());
        out.extend_from_slice(&rest[..take]);
        out.extend_from_slice(b"\r\n");
        rest = &rest[take..];
        index += 1;
    }
    out.extend_from_slice(b"0\r\n\r\n");
    out
}

#[test]
fn a_chunked_response_split_at_every_byte_gives_the_same_image() {
    let image = vector_image(300);
    let response = chunked(&image, &[1, 7, 64, 250]);
    for split in 0..=response.len() {
        assert_eq!(
            download(&response, 0, 300, &[split]).unwrap(),
            image,
            "split at {split}"
        );
        assert_eq!(
            download(&response, 123, 300, &[split]).unwrap(),
            &image[123..],
            "split at {split}"
        );
    }
    let every_byte: Vec<usize> = (0..response.len()).collect();
    assert_eq!(
        download(&response, 5, 300, &every_byte).unwrap(),
        &image[5..]
    );
}

proptest! {
    #[test]
    fn any_split_of_any_response_gives_the_same_image(
        size in 1usize..600,
        offset_share in 0usize..100,
        sizes in prop::collection::vec(1usize..300, 1..5),
        splits in prop::collection::vec(0usize..2000, 0..12),
        use_chunks in any::<bool>(),
    ) {
        let image = vector_image(size);
        let offset = size * offset_share / 100;
        let response = if use_chunks {
            chunked(&image, &sizes)
        } else {
            with_body(head("206 Partial Content", &[
                &std::format!("Content-Range: bytes {offset}-{}/{size}", size - 1),
                &std::format!("Content-Length: {}", size - offset),
            ]), &image[offset..])
        };
        prop_assert_eq!(download(&response, offset as u32, size as u32, &splits).unwrap(), &image[offset..]);
    }
}

proptest! {
    #[test]
    fn unknown_headers_of_any_content_are_skipped_split_anywhere(
        headers in prop::collection::vec(("[A-Za-z][A-Za-z0-9-]{0,30}", "[ -~]{0,80}"), 0..6),
        splits in prop::collection::vec(0usize..1200, 0..8),
        case in 0usize..3,
    ) {
        let body = vector_image(64);
        let length_header = ["Content-Length: 64", "content-length:64", "CONTENT-LENGTH:   64  "][case];
        let mut lines: Vec<std::string::String> = headers
            .iter()
            .filter(|(name, _)| {
                let lower = name.to_ascii_lowercase();
                !matches!(lower.as_str(), "content-length" | "content-range" | "transfer-encoding" | "content-encoding")
            })
            .map(|(name, value)| std::format!("{name}: {value}"))
            .collect();
        lines.insert(lines.len() / 2, length_header.into());
        let refs: Vec<&str> = lines.iter().map(std::string::String::as_str).collect();
        let response = with_body(head("200 OK", &refs), &body);
        prop_assert_eq!(download(&response, 10, 64, &splits).unwrap(), &body[10..]);
    }

    #[test]
    fn arbitrary_input_never_panics(input in prop::collection::vec(any::<u8>(), 0..400), splits in prop::collection::vec(0usize..400, 0..4)) {
        let _ = download(&input, 3, 100, &splits);
        let mut prefixed = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n".to_vec();
        prefixed.extend_from_slice(&input);
        let _ = download(&prefixed, 0, 100, &splits);
    }
}

#[test]
fn post_head_matches_the_registration_vector_and_names_a_non_default_port() {
    let url = Url::parse(b"https://gateway.tencentdevices.com/register/dev").unwrap();
    let mut out = [0u8; 256];
    let accept = b"text/xml,application/json;*/*";
    let content_type = b"application/x-www-form-urlencoded";
    let length = write_post_head(&url, accept, content_type, 159, &mut out).unwrap();
    assert_eq!(
        &out[..length],
        b"POST /register/dev HTTP/1.1\r\nHost: gateway.tencentdevices.com\r\nAccept: text/xml,application/json;*/*\r\nContent-Length: 159\r\nContent-Type: application/x-www-form-urlencoded\r\n\r\n"
    );
    let url = Url::parse(b"http://127.0.0.1:18080/register/dev").unwrap();
    let length = write_post_head(&url, accept, content_type, 7, &mut out).unwrap();
    assert!(out[..length].starts_with(b"POST /register/dev HTTP/1.1\r\nHost: 127.0.0.1:18080\r\n"));
    assert_eq!(
        write_post_head(&url, accept, content_type, 7, &mut out[..length - 1]),
        Err(crate::BufferTooSmall)
    );
}
