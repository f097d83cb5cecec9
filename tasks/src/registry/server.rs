//! `Server`: binds 127.0.0.1, accepts connections and answers each one on its
//! own thread.

use std::io::{BufReader, Write};
use std::net::{Ipv4Addr, SocketAddr, TcpListener, TcpStream};
use std::sync::Arc;
use std::time::Duration;

use super::{CheckpointStore, ReadError, handle, read_request};
use crate::Failure;

/// Port used when `--port` is not given.
pub const DEFAULT_PORT: u16 = 8787;

/// How long a connection may take to send its request.
const READ_TIMEOUT: Duration = Duration::from_secs(10);

/// Refuses to run as a production service.
///
/// # Errors
/// A runtime [`Failure`] (exit 1) when `runner_env` (the value of
/// `RUNNER_ENV`) is `production`, in any letter case.
pub fn check_environment(runner_env: Option<&str>) -> Result<(), Failure> {
    match runner_env {
        Some(value) if value.trim().eq_ignore_ascii_case("production") => Err(Failure::runtime(
            "refusing to start: RUNNER_ENV=production, and the registry dev stub keeps state in \
             memory only; point production at the real registry",
        )),
        _ => Ok(()),
    }
}

/// A bound dev stub with its in-memory store.
#[derive(Debug)]
pub struct Server {
    listener: TcpListener,
    store: Arc<CheckpointStore>,
}

impl Server {
    /// Binds `127.0.0.1:port` (0 picks a free port).
    ///
    /// # Errors
    /// A runtime [`Failure`] naming the address when binding fails.
    pub fn bind(port: u16) -> Result<Self, Failure> {
        let address = SocketAddr::from((Ipv4Addr::LOCALHOST, port));
        let listener = TcpListener::bind(address)
            .map_err(|err| Failure::runtime(format!("cannot listen on {address}: {err}")))?;
        Ok(Self {
            listener,
            store: Arc::new(CheckpointStore::new()),
        })
    }

    /// The bound address (with the real port when 0 was asked for).
    ///
    /// # Errors
    /// A runtime [`Failure`] if the socket cannot say.
    pub fn local_addr(&self) -> Result<SocketAddr, Failure> {
        self.listener
            .local_addr()
            .map_err(|err| Failure::runtime(format!("cannot read the bound address: {err}")))
    }

    /// Serves until the process is stopped (SIGTERM's default action ends it;
    /// there is no state worth saving).
    pub fn serve(self) {
        for stream in self.listener.incoming() {
            match stream {
                Ok(stream) => {
                    let store = Arc::clone(&self.store);
                    std::thread::spawn(move || answer(stream, &store));
                }
                Err(err) => eprintln!("registry-stub: accept failed: {err}"),
            }
        }
    }
}

/// Reads one request, answers it, and closes the connection.
fn answer(stream: TcpStream, store: &CheckpointStore) {
    let _ = stream.set_read_timeout(Some(READ_TIMEOUT));
    let Ok(mut writer) = stream.try_clone() else {
        return;
    };
    let mut reader = BufReader::new(stream);
    let (line, response) = match read_request(&mut reader, &mut writer) {
        Ok(request) => {
            let response = handle(&request, store);
            (format!("{} {}", request.method, request.path), response)
        }
        Err(ReadError::Malformed(response)) => ("(malformed request)".to_owned(), response),
        Err(ReadError::Io(_)) => return,
    };
    if let Err(err) = response.write_to(&mut writer) {
        eprintln!("registry-stub: {line}: cannot answer: {err}");
        return;
    }
    let _ = writer.flush();
    eprintln!("registry-stub: {line} -> {}", response.status);
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Read;

    fn exchange(address: SocketAddr, raw: &str) -> String {
        let mut stream = TcpStream::connect(address).unwrap();
        stream.write_all(raw.as_bytes()).unwrap();
        let mut text = String::new();
        stream.read_to_string(&mut text).unwrap();
        text
    }

    #[test]
    fn production_is_refused_in_any_case() {
        for value in ["production", "PRODUCTION", " Production "] {
            let failure = check_environment(Some(value)).unwrap_err();
            assert_eq!(failure.code, 1);
            assert!(failure.message.contains("RUNNER_ENV=production"));
        }
        for value in [None, Some("dev"), Some("ci"), Some("")] {
            check_environment(value).unwrap();
        }
    }

    #[test]
    fn serves_requests_over_tcp() {
        let server = Server::bind(0).unwrap();
        let address = server.local_addr().unwrap();
        assert_ne!(address.port(), 0);
        std::thread::spawn(move || server.serve());

        let health = exchange(address, "GET /health HTTP/1.1\r\nHost: x\r\n\r\n");
        assert!(health.starts_with("HTTP/1.1 200 OK\r\n"), "{health}");
        assert!(health.contains("X-Dev-Stub: active\r\n"));
        let body = health.split("\r\n\r\n").nth(1).unwrap();
        let body: serde_json::Value = serde_json::from_str(body).unwrap();
        assert_eq!(
            body,
            serde_json::json!({"status": "healthy", "mode": "dev-stub"})
        );

        let body = "{\"node\":\"embedder\",\"epoch\":4}";
        let created = exchange(
            address,
            &format!(
                "POST /checkpoints HTTP/1.1\r\nContent-Length: {}\r\n\r\n{body}",
                body.len()
            ),
        );
        assert!(created.starts_with("HTTP/1.1 201 Created\r\n"), "{created}");
        let fetched = exchange(address, "GET /checkpoints/ckpt-000001 HTTP/1.1\r\n\r\n");
        assert!(fetched.starts_with("HTTP/1.1 200 OK\r\n"), "{fetched}");
        assert!(fetched.contains("\"epoch\":4"), "{fetched}");

        let malformed = exchange(address, "NONSENSE\r\n\r\n");
        assert!(
            malformed.starts_with("HTTP/1.1 400 Bad Request\r\n"),
            "{malformed}"
        );
        assert!(malformed.contains("X-Dev-Stub: active\r\n"));
    }
}
