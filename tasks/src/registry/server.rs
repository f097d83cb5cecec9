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

/// The variables that may name the deployment environment, in the order
/// they are checked.
pub const ENVIRONMENT_VARS: [&str; 4] = ["RUNNER_ENV", "APP_ENV", "NODE_ENV", "ENV"];

/// Values that name a production environment (compared after trimming
/// whitespace, in any letter case).
const PRODUCTION_NAMES: [&str; 2] = ["production", "prod"];

/// Refuses to run as a production service. `var` looks a variable up in the
/// environment (`None` when unset), so the decision is testable without
/// touching the process environment.
///
/// # Errors
/// A runtime [`Failure`] (exit 1) naming the first of [`ENVIRONMENT_VARS`]
/// whose value is `production` or `prod`, and that value.
pub fn check_environment<F>(var: F) -> Result<(), Failure>
where
    F: Fn(&str) -> Option<String>,
{
    for name in ENVIRONMENT_VARS {
        let Some(value) = var(name) else { continue };
        let trimmed = value.trim();
        if PRODUCTION_NAMES
            .iter()
            .any(|production| trimmed.eq_ignore_ascii_case(production))
        {
            // Quoted only when whitespace would otherwise hide in the message.
            let shown = if trimmed == value {
                value
            } else {
                format!("{value:?}")
            };
            return Err(Failure::runtime(format!(
                "refusing to start: {name}={shown} names a production environment; \
                 the dev stub keeps state in memory only"
            )));
        }
    }
    Ok(())
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

    /// An environment holding only `vars`.
    fn lookup<'a>(vars: &'a [(&'a str, &'a str)]) -> impl Fn(&str) -> Option<String> + 'a {
        move |name| {
            vars.iter()
                .find(|(key, _)| *key == name)
                .map(|(_, value)| (*value).to_owned())
        }
    }

    #[test]
    fn every_variable_and_value() {
        // (value, the name shown in the message when refused).
        let table: &[(&str, Option<&str>)] = &[
            ("production", Some("production")),
            ("Production", Some("Production")),
            ("PRODUCTION", Some("PRODUCTION")),
            ("prod", Some("prod")),
            ("Prod", Some("Prod")),
            (" prod ", Some("\" prod \"")),
            ("\tproduction\n", Some("\"\\tproduction\\n\"")),
            ("staging", None),
            ("development", None),
            ("dev", None),
            ("ci", None),
            ("", None),
            ("   ", None),
            ("preprod", None),
            ("production-eu", None),
            ("pro d", None),
        ];
        for name in ENVIRONMENT_VARS {
            for (value, refused) in table {
                let vars = [(name, *value)];
                let result = check_environment(lookup(&vars));
                match refused {
                    None => assert_eq!(result, Ok(()), "{name}={value:?}"),
                    Some(shown) => {
                        let failure = result.unwrap_err();
                        assert_eq!(failure.code, 1, "{name}={value:?}");
                        assert_eq!(
                            failure.message,
                            format!(
                                "refusing to start: {name}={shown} names a production \
                                 environment; the dev stub keeps state in memory only"
                            ),
                            "{name}={value:?}"
                        );
                    }
                }
            }
        }
        // Every variable unset, or only unrelated ones set.
        assert_eq!(check_environment(lookup(&[])), Ok(()));
        assert_eq!(
            check_environment(lookup(&[("RAILS_ENV", "production"), ("env", "prod")])),
            Ok(())
        );
    }

    #[test]
    fn the_first_production_variable_is_named() {
        let vars = [
            ("RUNNER_ENV", "development"),
            ("APP_ENV", "staging"),
            ("NODE_ENV", "production"),
            ("ENV", "prod"),
        ];
        let failure = check_environment(lookup(&vars)).unwrap_err();
        assert!(
            failure.message.contains("NODE_ENV=production names"),
            "{}",
            failure.message
        );
        let vars = [("ENV", "prod"), ("RUNNER_ENV", "PRODUCTION")];
        let failure = check_environment(lookup(&vars)).unwrap_err();
        assert!(
            failure.message.contains("RUNNER_ENV=PRODUCTION names"),
            "{}",
            failure.message
        );
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
