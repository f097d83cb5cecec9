//! `Request` and `Response`: just enough HTTP/1.1 for the dev stub (one
//! request per connection, bodies sized by `Content-Length`).

use std::fmt::Write as _;
use std::io::{self, BufRead, Read, Write};

use serde_json::{Value, json};

/// Longest request line or header line accepted.
const MAX_LINE: u64 = 8 * 1024;
/// Most header lines accepted.
const MAX_HEADERS: usize = 64;
/// Largest body accepted.
const MAX_BODY: usize = 1024 * 1024;

/// A parsed request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Request {
    /// Method, as sent (`GET`, `POST`, ...).
    pub method: String,
    /// Path without the query string.
    pub path: String,
    /// Headers in order, names lower-cased.
    pub headers: Vec<(String, String)>,
    /// Body bytes (empty without `Content-Length`).
    pub body: Vec<u8>,
}

impl Request {
    /// The first header called `name` (case-insensitive).
    #[must_use]
    pub fn header(&self, name: &str) -> Option<&str> {
        let name = name.to_ascii_lowercase();
        self.headers
            .iter()
            .find(|(key, _)| *key == name)
            .map(|(_, value)| value.as_str())
    }
}

/// Why no request could be read.
#[derive(Debug)]
pub enum ReadError {
    /// The peer closed the connection before sending a request, or the socket
    /// failed: nothing to answer.
    Io(io::Error),
    /// The request is malformed: answer with this response.
    Malformed(Response),
}

impl From<io::Error> for ReadError {
    fn from(err: io::Error) -> Self {
        Self::Io(err)
    }
}

/// Reads one request from `reader`. A client that sent
/// `Expect: 100-continue` gets the interim `100 Continue` on `interim`
/// before its body is read.
///
/// # Errors
/// [`ReadError::Io`] on a closed or failing socket, [`ReadError::Malformed`]
/// with a 400, 411, 413 or 431 response for a request the stub will not take.
pub fn read_request(
    reader: &mut impl BufRead,
    interim: &mut impl Write,
) -> Result<Request, ReadError> {
    let line = read_line(reader)?
        .ok_or_else(|| io::Error::new(io::ErrorKind::UnexpectedEof, "no request"))?;
    let mut parts = line.split_whitespace();
    let (Some(method), Some(target), Some(version), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(bad(
            400,
            "bad_request",
            &format!("malformed request line `{line}`"),
        ));
    };
    if !version.starts_with("HTTP/1.") {
        return Err(bad(
            400,
            "bad_request",
            &format!("unsupported protocol `{version}`"),
        ));
    }
    let path = target.split('?').next().unwrap_or_default().to_owned();

    let mut headers = Vec::new();
    loop {
        let Some(line) = read_line(reader)? else {
            return Err(bad(
                400,
                "bad_request",
                "connection closed inside the headers",
            ));
        };
        if line.is_empty() {
            break;
        }
        if headers.len() == MAX_HEADERS {
            return Err(bad(
                431,
                "headers_too_large",
                &format!("more than {MAX_HEADERS} headers"),
            ));
        }
        let Some((name, value)) = line.split_once(':') else {
            return Err(bad(
                400,
                "bad_request",
                &format!("malformed header `{line}`"),
            ));
        };
        headers.push((name.trim().to_ascii_lowercase(), value.trim().to_owned()));
    }

    let mut request = Request {
        method: method.to_owned(),
        path,
        headers,
        body: Vec::new(),
    };
    if request.header("transfer-encoding").is_some() {
        return Err(bad(
            411,
            "length_required",
            "send the body with Content-Length",
        ));
    }
    if let Some(length) = request.header("content-length") {
        let length: usize = length.parse().map_err(|_| {
            bad(
                400,
                "bad_request",
                &format!("invalid Content-Length `{length}`"),
            )
        })?;
        if length > MAX_BODY {
            return Err(bad(
                413,
                "payload_too_large",
                &format!("body over {MAX_BODY} bytes"),
            ));
        }
        let expects_continue = request
            .header("expect")
            .is_some_and(|value| value.eq_ignore_ascii_case("100-continue"));
        if expects_continue && length > 0 {
            interim.write_all(b"HTTP/1.1 100 Continue\r\n\r\n")?;
            interim.flush()?;
        }
        let mut body = vec![0; length];
        reader.read_exact(&mut body)?;
        request.body = body;
    }
    Ok(request)
}

/// One line without its CRLF; `None` at end of stream.
fn read_line(reader: &mut impl BufRead) -> Result<Option<String>, ReadError> {
    let mut bytes = Vec::new();
    reader
        .by_ref()
        .take(MAX_LINE)
        .read_until(b'\n', &mut bytes)?;
    if bytes.is_empty() {
        return Ok(None);
    }
    if bytes.last() != Some(&b'\n') {
        return Err(bad(
            431,
            "headers_too_large",
            &format!("line over {MAX_LINE} bytes"),
        ));
    }
    let text = String::from_utf8(bytes)
        .map_err(|_| bad(400, "bad_request", "request head is not UTF-8"))?;
    Ok(Some(text.trim_end_matches(['\r', '\n']).to_owned()))
}

fn bad(status: u16, code: &str, message: &str) -> ReadError {
    ReadError::Malformed(Response::error(status, code, message))
}

/// A JSON response. Every response carries `Content-Type: application/json`,
/// `X-Dev-Stub: active` and `Connection: close`.
#[derive(Debug, Clone, PartialEq)]
pub struct Response {
    /// Status code.
    pub status: u16,
    /// JSON body.
    pub body: Value,
    /// Headers beyond the fixed ones (`Location`, `Allow`).
    pub headers: Vec<(&'static str, String)>,
}

impl Response {
    /// A response with a JSON body.
    #[must_use]
    pub fn json(status: u16, body: Value) -> Self {
        Self {
            status,
            body,
            headers: Vec::new(),
        }
    }

    /// An error response `{"error": code, "message": message}`.
    #[must_use]
    pub fn error(status: u16, code: &str, message: &str) -> Self {
        Self::json(status, json!({"error": code, "message": message}))
    }

    /// Adds a header.
    #[must_use]
    pub fn with_header(mut self, name: &'static str, value: String) -> Self {
        self.headers.push((name, value));
        self
    }

    /// Writes the status line, headers and body.
    ///
    /// # Errors
    /// When the socket fails.
    pub fn write_to(&self, out: &mut impl Write) -> io::Result<()> {
        let body = self.body.to_string();
        let mut head = format!(
            "HTTP/1.1 {} {}\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\
             X-Dev-Stub: active\r\nConnection: close\r\n",
            self.status,
            reason(self.status),
            body.len()
        );
        for (name, value) in &self.headers {
            let _ = write!(head, "{name}: {value}\r\n");
        }
        head.push_str("\r\n");
        out.write_all(head.as_bytes())?;
        out.write_all(body.as_bytes())?;
        out.flush()
    }
}

fn reason(status: u16) -> &'static str {
    match status {
        200 => "OK",
        201 => "Created",
        400 => "Bad Request",
        404 => "Not Found",
        405 => "Method Not Allowed",
        411 => "Length Required",
        413 => "Payload Too Large",
        431 => "Request Header Fields Too Large",
        _ => "Internal Server Error",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(raw: &str) -> Result<Request, ReadError> {
        read_request(&mut raw.as_bytes(), &mut io::sink())
    }

    fn status_of(raw: &str) -> u16 {
        match parse(raw) {
            Err(ReadError::Malformed(response)) => response.status,
            other => panic!("{raw:?}: expected a malformed request, got {other:?}"),
        }
    }

    #[test]
    fn reads_method_path_headers_and_body() {
        let request = parse(
            "POST /checkpoints?x=1 HTTP/1.1\r\nHost: a\r\nContent-Length: 4\r\n\r\n{}\r\nrest",
        )
        .unwrap();
        assert_eq!(request.method, "POST");
        assert_eq!(request.path, "/checkpoints");
        assert_eq!(request.header("HOST"), Some("a"));
        assert_eq!(request.body, b"{}\r\n");
    }

    #[test]
    fn answers_expect_100_continue_before_the_body() {
        let raw =
            "POST /checkpoints HTTP/1.1\r\nExpect: 100-continue\r\nContent-Length: 2\r\n\r\n{}";
        let mut interim = Vec::new();
        let request = read_request(&mut raw.as_bytes(), &mut interim).unwrap();
        assert_eq!(interim, b"HTTP/1.1 100 Continue\r\n\r\n");
        assert_eq!(request.body, b"{}");
    }

    #[test]
    fn accepts_bare_newlines() {
        let request = parse("GET /health HTTP/1.0\n\n").unwrap();
        assert_eq!(request.path, "/health");
        assert!(request.body.is_empty());
    }

    #[test]
    fn malformed_requests_get_a_status() {
        let table = [
            ("GARBAGE\r\n\r\n", 400),
            ("GET / SPDY/3\r\n\r\n", 400),
            ("GET / HTTP/1.1\r\nNoColon\r\n\r\n", 400),
            ("GET / HTTP/1.1\r\nContent-Length: ten\r\n\r\n", 400),
            ("POST / HTTP/1.1\r\nContent-Length: 99999999\r\n\r\n", 413),
            ("POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n", 411),
            ("GET / HTTP/1.1\r\nHost: a\r\n", 400),
        ];
        for (raw, status) in table {
            assert_eq!(status_of(raw), status, "{raw:?}");
        }
        let long = format!("GET /{} HTTP/1.1\r\n\r\n", "a".repeat(9000));
        assert_eq!(status_of(&long), 431);
    }

    #[test]
    fn empty_stream_and_short_body_are_io_errors() {
        assert!(matches!(parse(""), Err(ReadError::Io(_))));
        assert!(matches!(
            parse("POST / HTTP/1.1\r\nContent-Length: 10\r\n\r\n{}"),
            Err(ReadError::Io(_))
        ));
    }

    #[test]
    fn response_has_the_fixed_headers() {
        let mut out = Vec::new();
        Response::json(201, json!({"id": "ckpt-1"}))
            .with_header("Location", "/checkpoints/ckpt-1".into())
            .write_to(&mut out)
            .unwrap();
        let text = String::from_utf8(out).unwrap();
        assert!(text.starts_with("HTTP/1.1 201 Created\r\n"), "{text}");
        for header in [
            "Content-Type: application/json\r\n",
            "X-Dev-Stub: active\r\n",
            "Connection: close\r\n",
            "Location: /checkpoints/ckpt-1\r\n",
            "Content-Length: 15\r\n",
        ] {
            assert!(text.contains(header), "missing {header:?} in {text}");
        }
        assert!(text.ends_with("\r\n\r\n{\"id\":\"ckpt-1\"}"));
    }
}
