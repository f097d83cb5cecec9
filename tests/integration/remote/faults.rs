//! Faults a real server does not make on demand, from a small fault-injecting HTTP server:
//! wrong bytes, a short body, a wrong Content-Length, HTTP 500, a hang past the timeout, and a
//! refused connection. Each is a miss with a warning, nothing from the remote is kept locally,
//! and the time it adds is bounded by one timeout, not one per gate.

use std::io::{Read as _, Write as _};
use std::net::{TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use runner::cache::{Entry, FileRecord, Manifest};
use runner::fingerprint::KeyMaterial;

use super::{free_port, local_entries, runs, walk_files, warnings};
use crate::harness::Repo;

/// What the server does with every request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Fault {
    /// A well-formed entry for the key with one byte flipped.
    WrongBytes,
    /// Content-Length of the whole entry, half of it sent, then the connection closes.
    ShortBody,
    /// Content-Length larger than the body sent.
    LongContentLength,
    /// Content-Length smaller than the body sent: the client reads a truncated entry.
    SmallContentLength,
    /// HTTP 500.
    ServerError,
    /// Reads the request, then says nothing for 4 s (the runner's timeout is 1 s).
    Hang,
}

/// A bounded fault server: it stops accepting when dropped, or after 60 s regardless.
struct FaultServer {
    port: u16,
    stop: Arc<AtomicBool>,
    /// Bodies it sent (before any fault was applied to them).
    served: Arc<Mutex<Vec<Vec<u8>>>>,
    thread: Option<JoinHandle<()>>,
}

impl FaultServer {
    fn start(fault: Fault) -> FaultServer {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
        listener.set_nonblocking(true).expect("nonblocking");
        let port = listener.local_addr().expect("addr").port();
        let stop = Arc::new(AtomicBool::new(false));
        let served = Arc::new(Mutex::new(Vec::new()));
        let (stop2, served2) = (stop.clone(), served.clone());
        let thread = std::thread::spawn(move || {
            let deadline = Instant::now() + Duration::from_secs(60);
            let mut handlers = Vec::new();
            while !stop2.load(Ordering::Relaxed) && Instant::now() < deadline && handlers.len() < 64
            {
                match listener.accept() {
                    Ok((stream, _)) => {
                        let served = served2.clone();
                        handlers.push(std::thread::spawn(move || handle(stream, fault, &served)));
                    }
                    Err(_) => std::thread::sleep(Duration::from_millis(5)),
                }
            }
            for h in handlers {
                let _ = h.join();
            }
        });
        FaultServer {
            port,
            stop,
            served,
            thread: Some(thread),
        }
    }

    fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }
}

impl Drop for FaultServer {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// Answer one request according to `fault`.
fn handle(mut stream: TcpStream, fault: Fault, served: &Mutex<Vec<Vec<u8>>>) {
    let _ = stream.set_nonblocking(false);
    let _ = stream.set_read_timeout(Some(Duration::from_secs(5)));
    let mut head = Vec::new();
    let mut byte = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") && head.len() < 16 * 1024 {
        match stream.read(&mut byte) {
            Ok(1) => head.push(byte[0]),
            _ => return,
        }
    }
    let head = String::from_utf8_lossy(&head);
    let key = head
        .split_whitespace()
        .nth(1)
        .and_then(|p| p.strip_prefix("/v8/artifacts/"))
        .unwrap_or("")
        .split('?')
        .next()
        .unwrap_or("");
    let body = entry_for(key);
    served.lock().unwrap().push(body.clone());
    let reply = |stream: &mut TcpStream, status: &str, length: usize, body: &[u8]| {
        let _ = write!(
            stream,
            "HTTP/1.1 {status}\r\nContent-Length: {length}\r\nContent-Type: application/octet-stream\r\nConnection: close\r\n\r\n"
        );
        let _ = stream.write_all(body);
        let _ = stream.flush();
    };
    match fault {
        Fault::WrongBytes => {
            let mut bad = body.clone();
            let mid = bad.len() / 2;
            bad[mid] ^= 0x20;
            reply(&mut stream, "200 OK", bad.len(), &bad);
        }
        Fault::ShortBody => reply(&mut stream, "200 OK", body.len(), &body[..body.len() / 2]),
        Fault::LongContentLength => reply(&mut stream, "200 OK", body.len() + 100, &body),
        Fault::SmallContentLength => reply(&mut stream, "200 OK", body.len() - 40, &body),
        Fault::ServerError => reply(&mut stream, "500 Internal Server Error", 5, b"oops\n"),
        Fault::Hang => {
            std::thread::sleep(Duration::from_secs(4));
            reply(&mut stream, "200 OK", body.len(), &body);
        }
    }
}

/// A well-formed, unsigned entry for `key` holding `out/<gate>.txt`-like content.
fn entry_for(key: &str) -> Vec<u8> {
    let content = b"from the remote\n".to_vec();
    Entry {
        manifest: Manifest {
            key: key.to_owned(),
            gate: "g0".into(),
            created_at: String::new(),
            files: vec![FileRecord {
                path: "out/g0.txt".into(),
                size: content.len() as u64,
                executable: false,
                hash: blake3::hash(&content).to_hex().to_string(),
                link: None,
            }],
            log_bytes: 0,
            material: KeyMaterial::default(),
            signature: None,
        },
        contents: vec![content],
        log: Vec::new(),
    }
    .encode()
}

/// Ten independent gates against the remote at `url` (1 s timeout, no signing, read only).
fn ten_gates(url: &str) -> Repo {
    let mut text =
        format!("[settings.remote_cache]\nurl = \"{url}\"\nteam = \"gates\"\ntimeout = \"1s\"\n\n");
    for i in 0..10 {
        text.push_str(&format!(
            "[gates.g{i}]\nrun = \"echo g{i} >> runs.log; mkdir -p out; echo {i} > out/g{i}.txt\"\nartifacts = [\"out/g{i}.txt\"]\n\n"
        ));
    }
    Repo::new()
        .gates(&text)
        .env("RUNNER_REMOTE_CACHE_TOKEN", "t")
        .env("NO_PROXY", "127.0.0.1,localhost")
        .env("no_proxy", "127.0.0.1,localhost")
}

/// Run ten gates against a faulty remote: all run, their own outputs stand, nothing the remote
/// sent is kept, and the remote is given up after its first failure (the circuit breaker:
/// one warning, so one timeout at most, not one per gate).
fn check(url: &str, served: Option<&Mutex<Vec<Vec<u8>>>>) -> Vec<String> {
    let repo = ten_gates(url);
    let out = repo.run(&["run"]);
    out.expect_code(0);
    assert_eq!(runs(&repo).matches('g').count(), 10, "every gate ran");
    for i in 0..10 {
        assert_eq!(
            repo.read(&format!("out/g{i}.txt")),
            format!("{i}\n"),
            "g{i}'s own output"
        );
    }
    assert_eq!(
        local_entries(&repo),
        10,
        "only the gates' own entries are kept"
    );
    if let Some(served) = served {
        let served = served.lock().unwrap();
        assert!(!served.is_empty(), "the fault server was asked");
        for path in walk_files(&repo.path("cache/entries")) {
            let local = std::fs::read(path).unwrap();
            assert!(!served.contains(&local), "a remote body was kept locally");
        }
    }
    warnings(&out).into_iter().map(str::to_owned).collect()
}

/// Faults of the connection trip the breaker: exactly one warning for the run.
fn one_warning(fault: Fault) {
    let server = FaultServer::start(fault);
    let w = check(&server.url(), Some(&server.served));
    assert_eq!(w.len(), 1, "{fault:?}: {w:#?}");
    assert!(
        w[0].contains("remote cache") && w[0].contains("off for the rest of this run"),
        "{fault:?}: {}",
        w[0]
    );
}

/// Bad bodies are the entry's fault, not the server's: a warning naming each gate.
fn rejected_per_gate(fault: Fault) {
    let server = FaultServer::start(fault);
    let w = check(&server.url(), Some(&server.served));
    assert_eq!(w.len(), 10, "{fault:?}: {w:#?}");
    for i in 0..10 {
        assert!(
            w.iter()
                .any(|w| w.contains(&format!("gate `g{i}`")) && w.contains("rejected")),
            "{fault:?}: g{i}: {w:#?}"
        );
    }
}

#[test]
fn wrong_bytes_are_rejected() {
    rejected_per_gate(Fault::WrongBytes);
}

#[test]
fn content_length_smaller_than_the_body_is_rejected() {
    rejected_per_gate(Fault::SmallContentLength);
}

#[test]
fn short_body_is_one_warning() {
    one_warning(Fault::ShortBody);
}

#[test]
fn content_length_larger_than_the_body_is_one_warning() {
    one_warning(Fault::LongContentLength);
}

#[test]
fn server_error_is_one_warning() {
    one_warning(Fault::ServerError);
}

#[test]
fn hang_past_the_timeout_is_one_warning() {
    one_warning(Fault::Hang);
}

#[test]
fn connection_refused_is_one_warning() {
    let w = check(&format!("http://127.0.0.1:{}", free_port()), None);
    assert_eq!(w.len(), 1, "{w:#?}");
    assert!(w[0].contains("off for the rest of this run"), "{}", w[0]);
}
