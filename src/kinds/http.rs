//! The `http` kind: a latency smoke against a local URL, with an optional service around it.

use std::fs::File;
use std::io::{self, Seek, SeekFrom, Write};
use std::net::IpAddr;
use std::path::Path;
use std::time::{Duration, Instant};

use serde_json::{Map, Value, json};
use ureq::Agent;

use super::latency::{millis, percentile};
use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::{BuiltinContext, BuiltinError, BuiltinOutcome, Kind, KindParser};
use crate::fields::{Fields, to_json};

/// `kind = "http"`: latency smoke against a URL. Never cached.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct HttpSpec {
    /// Where every request goes: loopback, or a host in `allow_hosts`.
    pub url: String,
    /// GET (default), POST, PUT, DELETE or HEAD.
    pub method: String,
    /// Request body for POST and PUT (sent as JSON when it parses as JSON, else text).
    pub body: Option<String>,
    /// Number of requests (default 20).
    pub requests: u32,
    /// Expected status of every request (default 200).
    pub expect_status: u16,
    /// Headers every response must carry (name compared case-insensitively, value exactly).
    pub expect_headers: BTreeMap<String, String>,
    /// A JSON value the response body must contain (subset match).
    pub expect_json: Option<Value>,
    /// Hosts besides loopback that may be contacted (`allow_hosts`).
    pub allow_hosts: Vec<String>,
    /// A service started before the requests and stopped after.
    pub service: Option<ServiceSpec>,
}

/// A process the http gate starts before its requests and stops after them.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ServiceSpec {
    /// Shell command, run with `sh -c` from the config folder in its own process group.
    pub run: String,
    /// Polled until it answers (any status below 500) or `ready_timeout` passes.
    pub ready_url: String,
    /// How long the service has to become ready (default 30 s); serialized as milliseconds.
    #[serde(with = "super::duration_ms")]
    pub ready_timeout: Duration,
}

const SERVICE_KEYS: &[&str] = &["run", "ready_url", "ready_timeout"];

impl Kind for HttpSpec {
    const NAME: &'static str = "http";
    const KEYS: &'static [&'static str] = &[
        "url",
        "method",
        "body",
        "requests",
        "expect_status",
        "expect_headers",
        "expect_json",
        "allow_hosts",
        "service",
    ];
    const ITEMS: &'static str = "HTTP answers";

    fn parse(p: &mut KindParser<'_, '_, '_>) -> Option<Self> {
        let url = p.required("url")?;
        let name = p.gate;
        let f = p.fields;
        let service = match f.table(p.sink, "service") {
            Some((t, s)) => {
                let sf = Fields::new(t, format!("the service of gate `{name}`"));
                sf.reject_unknown(p.sink, SERVICE_KEYS, |_| None);
                let run = sf.string(p.sink, "run");
                let ready_url = sf
                    .string(p.sink, "ready_url")
                    .map(|(u, _)| u)
                    .or_else(|| Some(url.clone()));
                if run.is_none() {
                    p.sink
                        .error(s, format!("the service of gate `{name}` lacks `run`"));
                }
                Some(ServiceSpec {
                    run: run?.0,
                    ready_url: ready_url?,
                    ready_timeout: sf
                        .duration(p.sink, "ready_timeout")
                        .unwrap_or(Duration::from_secs(30)),
                })
            }
            None => None,
        };
        let status = f.uint(p.sink, "expect_status").map_or(200, |(s, span)| {
            u16::try_from(s)
                .ok()
                .filter(|s| (100..600).contains(s))
                .unwrap_or_else(|| {
                    p.sink.error(
                        span,
                        format!(
                            "`expect_status` in gate `{name}` must be an HTTP status (100-599)"
                        ),
                    );
                    200
                })
        });
        let method = match f.string(p.sink, "method") {
            None => "GET".to_owned(),
            Some((m, span)) => {
                let upper = m.to_ascii_uppercase();
                if !["GET", "POST", "PUT", "DELETE", "HEAD"].contains(&upper.as_str()) {
                    p.sink.error_help(
                        span,
                        format!("unsupported method `{m}` in gate `{name}`"),
                        "use GET, POST, PUT, DELETE or HEAD",
                    );
                }
                upper
            }
        };
        Some(HttpSpec {
            url,
            method,
            body: f.string(p.sink, "body").map(|(b, _)| b),
            requests: f.u32(p.sink, "requests").unwrap_or(20).max(1),
            expect_status: status,
            expect_headers: f
                .string_map(p.sink, "expect_headers")
                .into_iter()
                .map(|(k, v, _)| (k, v))
                .collect(),
            expect_json: f.value("expect_json").map(|v| to_json(v.get_ref())),
            allow_hosts: f
                .strings(p.sink, "allow_hosts")
                .into_iter()
                .map(|(h, _)| h)
                .collect(),
            service,
        })
    }

    fn measures(&self) -> bool {
        true
    }

    fn evaluate(&self, ctx: &mut BuiltinContext<'_>) -> Result<BuiltinOutcome, BuiltinError> {
        evaluate(self, ctx)
    }
}
use crate::proc::tail::{last_lines, tail_bytes};
use crate::proc::{GRACE, Group, Spawn, SpawnEnv};

/// The time limits of an `http` gate; tests pass short ones.
#[derive(Debug, Clone)]
pub struct Limits {
    /// Limit of one request, connection to last body byte.
    pub request_timeout: Duration,
    /// Limit of one readiness probe (less when `ready_timeout` is nearer).
    pub probe_timeout: Duration,
    /// Pause between readiness probes.
    pub poll_interval: Duration,
    /// How long the service has between SIGTERM and SIGKILL.
    pub stop_grace: Duration,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            request_timeout: Duration::from_secs(10),
            probe_timeout: Duration::from_secs(1),
            poll_interval: Duration::from_millis(50),
            stop_grace: GRACE,
        }
    }
}
/// Bodies are read (their time is part of the latency) up to this size.
const BODY_LIMIT: u64 = 10 * 1024 * 1024;
/// How much of the service's output an error quotes.
const TAIL_BYTES: u64 = 4096;
const TAIL_LINES: usize = 20;

/// Run the requests of an `http` gate, starting and stopping its service around them.
///
/// A request that fails (refused, timed out, wrong status, header or body) is a failure of the
/// check, named in the reason; latencies cover every request, failed ones included.
///
/// # Errors
///
/// A URL that is not `http://` to loopback or an allowed host (checked before anything else),
/// zero requests, or a service that cannot start, exits early or is not ready in time (the error
/// quotes the end of its output).
pub fn evaluate(
    spec: &HttpSpec,
    ctx: &mut BuiltinContext<'_>,
) -> Result<BuiltinOutcome, BuiltinError> {
    evaluate_with(spec, ctx, &Limits::default())
}

/// `evaluate` with other time limits.
///
/// # Errors
///
/// As `evaluate`.
pub fn evaluate_with(
    spec: &HttpSpec,
    ctx: &mut BuiltinContext<'_>,
    limits: &Limits,
) -> Result<BuiltinOutcome, BuiltinError> {
    check_url(&spec.url, &spec.allow_hosts)?;
    if let Some(service) = &spec.service {
        check_url(&service.ready_url, &spec.allow_hosts)?;
    }
    if spec.requests == 0 {
        return Err(BuiltinError::Other(
            "http: requests must be at least 1".to_owned(),
        ));
    }
    let Some(service_spec) = &spec.service else {
        return Ok(measure(spec, limits, ctx.log));
    };

    // A failed log write must not fail the check; the same holds for every log line below.
    let _ = writeln!(
        ctx.log,
        "http: starting service `{}` in {}",
        service_spec.run,
        ctx.root.display()
    );
    let mut service = Service::start(service_spec, ctx.root, ctx.env, limits.stop_grace)?;
    let result = service
        .wait_ready(service_spec, limits, ctx.log)
        .map(|()| measure(spec, limits, ctx.log));
    service.stop();
    let _ = writeln!(ctx.log, "http: service stopped");
    let tail = service.tail();
    service.copy_output(ctx.log);
    result.map_err(|reason| BuiltinError::Other(format!("http: {reason}{tail}")))
}

/// Send the requests one after the other and judge them.
fn measure(spec: &HttpSpec, limits: &Limits, log: &mut dyn Write) -> BuiltinOutcome {
    let agent = agent(limits.request_timeout);
    let mut latencies = Vec::with_capacity(usize::try_from(spec.requests).unwrap_or(0));
    let mut ok = 0_u32;
    let mut answered = 0_usize;
    let mut first_failure = None;
    for number in 1..=spec.requests {
        let start = Instant::now();
        let verdict = request(&agent, spec);
        let elapsed = millis(start.elapsed());
        latencies.push(elapsed);
        match verdict {
            Ok(status) => {
                ok += 1;
                answered += 1;
                let _ = writeln!(log, "http: request {number}: {status} in {elapsed} ms");
            }
            Err((was_answered, failure)) => {
                answered += usize::from(was_answered);
                let _ = writeln!(log, "http: request {number}: {failure} ({elapsed} ms)");
                first_failure.get_or_insert(format!("request {number}: {failure}"));
            }
        }
    }
    latencies.sort_by(f64::total_cmp);
    let artifact = json!({
        "requests": spec.requests,
        "ok": ok,
        "p50_ms": percentile(&latencies, 50.0),
        "p95_ms": percentile(&latencies, 95.0),
        "max_ms": latencies.last().copied().unwrap_or(0.0),
    });
    let _ = writeln!(log, "http: {artifact}");
    let reason = first_failure.map(|first| {
        format!(
            "{} of {} requests failed; {first}",
            spec.requests - ok,
            spec.requests
        )
    });
    BuiltinOutcome {
        passed: ok == spec.requests,
        artifact,
        reason,
        judged: answered,
        findings: Vec::new(),
    }
}

/// One request (GET by default), judged: its status, or what did not match. The error says
/// whether an answer came at all (`Err((true, _))`: answered, but wrong).
fn request(agent: &Agent, spec: &HttpSpec) -> Result<u16, (bool, String)> {
    judge_answer(agent, spec).map_err(|e| match e {
        Answer::None(why) => (false, why),
        Answer::Wrong(why) => (true, why),
    })
}

/// Why a request did not pass.
enum Answer {
    /// No answer came (refused, timed out).
    None(String),
    /// An answer came, and it was not the one expected.
    Wrong(String),
}

fn judge_answer(agent: &Agent, spec: &HttpSpec) -> Result<u16, Answer> {
    let body = spec.body.as_deref().unwrap_or("");
    let content_type = if serde_json::from_str::<Value>(body).is_ok() {
        "application/json"
    } else {
        "text/plain"
    };
    let sent = match spec.method.as_str() {
        "POST" => agent
            .post(&spec.url)
            .header("content-type", content_type)
            .send(body.as_bytes()),
        "PUT" => agent
            .put(&spec.url)
            .header("content-type", content_type)
            .send(body.as_bytes()),
        "DELETE" => agent.delete(&spec.url).call(),
        "HEAD" => agent.head(&spec.url).call(),
        _ => agent.get(&spec.url).call(),
    };
    let mut response = sent.map_err(|err| Answer::None(err.to_string()))?;
    let status = response.status().as_u16();
    let body = response
        .body_mut()
        .with_config()
        .limit(BODY_LIMIT)
        .read_to_vec()
        .map_err(|err| Answer::Wrong(format!("status {status}, cannot read the body: {err}")))?;
    if status != spec.expect_status {
        return Err(Answer::Wrong(format!(
            "status {status}, expected {}",
            spec.expect_status
        )));
    }
    for (name, expected) in &spec.expect_headers {
        // `get_all` compares names case-insensitively and finds nothing for an invalid name.
        let values: Vec<String> = response
            .headers()
            .get_all(name.as_str())
            .iter()
            .map(|value| String::from_utf8_lossy(value.as_bytes()).into_owned())
            .collect();
        if values.is_empty() {
            return Err(Answer::Wrong(format!("missing header {name}")));
        }
        if !values.iter().any(|value| value == expected) {
            return Err(Answer::Wrong(format!(
                "header {name} is \"{}\", expected \"{expected}\"",
                values.join(", ")
            )));
        }
    }
    if let Some(expected) = &spec.expect_json {
        let actual: Value = serde_json::from_slice(&body)
            .map_err(|err| Answer::Wrong(format!("body is not JSON ({err})")))?;
        if let Some(lack) = missing(expected, &actual) {
            return Err(Answer::Wrong(format!("body lacks {lack}")));
        }
    }
    Ok(status)
}

/// The part of `expected` that `actual` does not contain (objects match as subsets, recursively;
/// arrays and scalars must be equal), shaped like `expected`; `None` when it is all there.
fn missing(expected: &Value, actual: &Value) -> Option<Value> {
    match (expected, actual) {
        (Value::Object(wanted), Value::Object(found)) => wanted.iter().find_map(|(key, value)| {
            let lack = match found.get(key) {
                None => value.clone(),
                Some(found) => missing(value, found)?,
            };
            Some(Value::Object(Map::from_iter([(key.clone(), lack)])))
        }),
        _ => (expected != actual).then(|| expected.clone()),
    }
}

/// An agent that never follows redirects or proxies (they could leave loopback) and returns
/// every status as a response.
fn agent(timeout: Duration) -> Agent {
    Agent::config_builder()
        .timeout_global(Some(timeout))
        .http_status_as_error(false)
        .max_redirects(0)
        .proxy(None)
        .build()
        .new_agent()
}

/// Refuse a URL that is not plain `http://` to loopback or to one of `allow_hosts`.
fn check_url(url: &str, allow_hosts: &[String]) -> Result<(), BuiltinError> {
    let refuse = |why: String| Err(BuiltinError::Other(format!("http: refusing {url}: {why}")));
    let Ok(uri) = url.parse::<ureq::http::Uri>() else {
        return refuse("not a valid URL".to_owned());
    };
    let Some(host) = uri.host() else {
        return refuse("it has no host".to_owned());
    };
    let host = host.trim_start_matches('[').trim_end_matches(']');
    let loopback = host.eq_ignore_ascii_case("localhost")
        || host.parse::<IpAddr>().is_ok_and(|ip| ip.is_loopback());
    if !loopback
        && !allow_hosts
            .iter()
            .any(|allowed| allowed.eq_ignore_ascii_case(host))
    {
        return refuse(format!(
            "{host} is not loopback; add it to allow_hosts to contact it"
        ));
    }
    match uri.scheme_str() {
        Some("http") => Ok(()),
        Some("https") => refuse("https is not supported: TLS is not built into runner".to_owned()),
        _ => refuse("only http:// URLs are supported".to_owned()),
    }
}

/// A service started in its own process group; stopped with the grace policy when dropped.
struct Service {
    group: Group,
    /// Where the service's stdout and stderr go: an unlinked temp file, read back at the end.
    output: File,
    grace: Duration,
    stopped: bool,
}

impl Service {
    fn start(
        spec: &ServiceSpec,
        root: &Path,
        env: &SpawnEnv,
        grace: Duration,
    ) -> Result<Self, BuiltinError> {
        let fail =
            |what: &str, err: io::Error| BuiltinError::Other(format!("http: cannot {what}: {err}"));
        let output = tempfile::tempfile().map_err(|err| fail("create the service's log", err))?;
        let stdout = output
            .try_clone()
            .map_err(|err| fail("create the service's log", err))?;
        let group = Group::spawn(Spawn {
            run: &spec.run,
            cwd: root,
            base: env,
            env: &[],
            output: stdout,
            stderr: None,
        })
        .map_err(|err| fail(&format!("start service `{}`", spec.run), err))?;
        Ok(Service {
            group,
            output,
            grace,
            stopped: false,
        })
    }

    /// Poll `ready_url` until it answers below 500, the service exits, or `ready_timeout` passes.
    fn wait_ready(
        &mut self,
        spec: &ServiceSpec,
        limits: &Limits,
        log: &mut dyn Write,
    ) -> Result<(), String> {
        let start = Instant::now();
        let deadline = start + spec.ready_timeout;
        loop {
            if let Some(status) = self.group.try_status() {
                return Err(format!(
                    "service `{}` exited before it was ready ({status})",
                    spec.run
                ));
            }
            let remaining = deadline.saturating_duration_since(Instant::now());
            let last = match agent(remaining.clamp(limits.poll_interval, limits.probe_timeout))
                .get(&spec.ready_url)
                .call()
            {
                Ok(response) if response.status().as_u16() < 500 => {
                    let _ = writeln!(
                        log,
                        "http: service ready after {} ms",
                        millis(start.elapsed())
                    );
                    return Ok(());
                }
                Ok(response) => format!("status {}", response.status().as_u16()),
                Err(err) => err.to_string(),
            };
            let remaining = deadline.saturating_duration_since(Instant::now());
            if remaining.is_zero() {
                return Err(format!(
                    "service `{}` not ready at {} after {} ms (last attempt: {last})",
                    spec.run,
                    spec.ready_url,
                    spec.ready_timeout.as_millis()
                ));
            }
            std::thread::sleep(limits.poll_interval.min(remaining));
        }
    }

    /// Stop the group (SIGTERM, the grace, SIGKILL) and reap the shell. Idempotent.
    fn stop(&mut self) {
        if !self.stopped {
            self.stopped = true;
            self.group.stop(self.grace);
        }
    }

    /// The last lines of the service's output, ready to append to an error message.
    fn tail(&mut self) -> String {
        let lines = last_lines(&tail_bytes(&mut self.output, TAIL_BYTES), TAIL_LINES);
        if lines.is_empty() {
            return "\n(the service printed nothing)".to_owned();
        }
        format!("\nlast lines of the service's output:\n{lines}")
    }

    /// Append everything the service printed to the gate's log.
    fn copy_output(&mut self, log: &mut dyn Write) {
        let _ = writeln!(log, "http: service output:");
        if self.output.seek(SeekFrom::Start(0)).is_ok() {
            let _ = io::copy(&mut self.output, log);
        }
    }
}

impl Drop for Service {
    fn drop(&mut self) {
        self.stop();
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;
    use std::io::Read as _;
    use std::net::TcpListener;
    use std::path::PathBuf;

    use super::*;

    /// A response with `Connection: close`, so every request is one connection.
    fn reply(status: &str, headers: &str, body: &str) -> String {
        format!(
            "HTTP/1.1 {status}\r\nContent-Length: {}\r\nConnection: close\r\n{headers}\r\n{body}",
            body.len()
        )
    }

    /// Serve `response` on 127.0.0.1 for 10 s at most (after `wait_for` exists, if given).
    fn serve(response: String, wait_for: Option<PathBuf>) -> String {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
        let url = format!("http://{}/health", listener.local_addr().expect("addr"));
        listener.set_nonblocking(true).expect("nonblocking");
        std::thread::spawn(move || {
            let deadline = Instant::now() + Duration::from_secs(10);
            while wait_for.as_ref().is_some_and(|path| !path.exists()) && Instant::now() < deadline
            {
                std::thread::sleep(Duration::from_millis(5));
            }
            while Instant::now() < deadline {
                match listener.accept() {
                    Ok((mut stream, _)) => {
                        let _ = stream.set_nonblocking(false);
                        let _ = stream.set_read_timeout(Some(Duration::from_secs(2)));
                        let mut head = Vec::new();
                        let mut byte = [0_u8; 1];
                        while !head.ends_with(b"\r\n\r\n")
                            && matches!(stream.read(&mut byte), Ok(1))
                        {
                            head.push(byte[0]);
                        }
                        let _ = stream.write_all(response.as_bytes());
                    }
                    Err(_) => std::thread::sleep(Duration::from_millis(5)),
                }
            }
        });
        url
    }

    /// A URL on which nothing listens.
    fn closed_url() -> String {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
        format!("http://{}/health", listener.local_addr().expect("addr"))
    }

    fn spec(url: &str) -> HttpSpec {
        HttpSpec {
            url: url.to_owned(),
            method: "GET".to_owned(),
            body: None,
            requests: 3,
            expect_status: 200,
            expect_headers: BTreeMap::from([("x-dev-stub".to_owned(), "active".to_owned())]),
            expect_json: Some(json!({"mode": "dev-stub"})),
            allow_hosts: Vec::new(),
            service: None,
        }
    }

    /// Short limits, so a test never waits on the production graces.
    fn limits() -> Limits {
        Limits {
            stop_grace: Duration::from_millis(300),
            ..Limits::default()
        }
    }

    fn run(spec: &HttpSpec, root: &Path) -> (Result<BuiltinOutcome, BuiltinError>, String) {
        let mut log = Vec::new();
        let mut ctx = BuiltinContext {
            root,
            inputs: &[],
            log: &mut log,
            env: &crate::proc::SpawnEnv::default(),
        };
        let result = evaluate_with(spec, &mut ctx, &limits());
        (result, String::from_utf8_lossy(&log).into_owned())
    }

    const STUB: &str = "X-Dev-Stub: active\r\n";
    const HEALTHY: &str = r#"{"status":"healthy","mode":"dev-stub"}"#;

    #[test]
    fn responses_are_judged() {
        // (status line, headers, body, ok, reason contains; "" = passed)
        let cases = [
            ("200 OK", STUB, HEALTHY, 3, ""),
            (
                "500 Oops",
                STUB,
                HEALTHY,
                0,
                "3 of 3 requests failed; request 1: status 500, expected 200",
            ),
            (
                "200 OK",
                "",
                HEALTHY,
                0,
                "request 1: missing header x-dev-stub",
            ),
            (
                "200 OK",
                "X-Dev-Stub: off\r\n",
                HEALTHY,
                0,
                r#"x-dev-stub is "off", expected "active""#,
            ),
            (
                "200 OK",
                STUB,
                r#"{"mode":"prod"}"#,
                0,
                r#"request 1: body lacks {"mode":"dev-stub"}"#,
            ),
            ("200 OK", STUB, "<html>", 0, "request 1: body is not JSON"),
        ];
        for (status, headers, body, ok, reason) in cases {
            let url = serve(reply(status, headers, body), None);
            let (result, log) = run(&spec(&url), Path::new("."));
            let outcome = result.expect("judged");
            assert_eq!(outcome.artifact["requests"], 3);
            assert_eq!(
                outcome.artifact["ok"], ok,
                "{status} {headers} {body}: {log}"
            );
            assert_eq!(outcome.passed, ok == 3);
            assert_eq!(outcome.reason.is_some(), !reason.is_empty());
            let shown = outcome.reason.unwrap_or_default();
            assert!(shown.contains(reason), "{shown}");
            let [p50, p95, max] =
                ["p50_ms", "p95_ms", "max_ms"].map(|key| outcome.artifact[key].as_f64());
            assert!(
                Some(0.0) < p50 && p50 <= p95 && p95 <= max,
                "{}",
                outcome.artifact
            );
            assert!(log.contains("http: request 3:"), "{log}");
        }
    }

    #[test]
    fn unreachable_url_fails_the_check() {
        let (result, _) = run(&spec(&closed_url()), Path::new("."));
        let outcome = result.expect("judged");
        assert!(!outcome.passed);
        assert_eq!(outcome.artifact["ok"], 0);
        assert!(
            outcome
                .reason
                .is_some_and(|reason| reason.starts_with("3 of 3 requests failed; request 1: "))
        );
    }

    #[test]
    fn urls_are_checked() {
        let allowed = vec!["Example.com".to_owned()];
        // (url, allowed hosts, error contains; None = accepted)
        let cases: &[(&str, &[String], Option<&str>)] = &[
            ("http://127.0.0.1:1/x", &[], None),
            ("http://127.8.9.10/", &[], None),
            ("http://localhost:8080/", &[], None),
            ("http://LocalHost/", &[], None),
            ("http://[::1]:8080/", &[], None),
            ("http://example.com/", &allowed, None),
            (
                "http://example.com/",
                &[],
                Some("example.com is not loopback"),
            ),
            ("http://10.0.0.1/", &[], Some("not loopback")),
            ("http://[::2]/", &[], Some("not loopback")),
            ("http://127.0.0.1.evil.test/", &[], Some("not loopback")),
            ("http://127.0.0.1@evil.test/", &[], Some("evil.test is not")),
            ("https://127.0.0.1/", &[], Some("TLS is not built in")),
            ("ftp://127.0.0.1/", &[], Some("only http://")),
            ("/relative", &[], Some("no host")),
            ("not a url at all", &[], Some("not a valid URL")),
        ];
        for (url, allow, expected) in cases {
            match (check_url(url, allow), expected) {
                (Ok(()), None) => {}
                (Err(err), Some(expected)) => {
                    assert!(err.to_string().contains(expected), "{url}: {err}");
                }
                (result, _) => panic!("{url}: unexpected {result:?}"),
            }
        }
    }

    #[test]
    fn refused_host_is_an_error_before_anything_runs() {
        let dir = tempfile::tempdir().expect("tempdir");
        let mut spec = spec("http://192.0.2.1/");
        spec.service = Some(ServiceSpec {
            run: "touch started".to_owned(),
            ready_url: "http://127.0.0.1:1/".to_owned(),
            ready_timeout: Duration::from_millis(100),
        });
        let (result, _) = run(&spec, dir.path());
        assert!(
            matches!(result, Err(BuiltinError::Other(message)) if message.contains("not loopback"))
        );
        assert!(!dir.path().join("started").exists());
    }

    #[test]
    fn subset_matching() {
        // (expected, actual, what is missing)
        let cases = [
            (r#"{"a": 1}"#, r#"{"a": 1, "b": 2}"#, None),
            (r#"{"a": {"b": 1}}"#, r#"{"a": {"b": 1, "c": 2}}"#, None),
            (
                r#"{"a": {"b": 1}}"#,
                r#"{"a": {"b": 2}}"#,
                Some(r#"{"a": {"b": 1}}"#),
            ),
            (r#"{"a": 1, "z": 2}"#, r#"{"a": 1}"#, Some(r#"{"z": 2}"#)),
            (
                r#"{"a": [1, 2]}"#,
                r#"{"a": [1, 2, 3]}"#,
                Some(r#"{"a": [1, 2]}"#),
            ),
            ("[1]", "[1]", None),
            (r#""x""#, r#"{"x": 1}"#, Some(r#""x""#)),
            ("{}", "3", Some("{}")),
        ];
        let parse = |text: &str| serde_json::from_str::<Value>(text).expect("JSON");
        for (expected, actual, lack) in cases {
            let found = missing(&parse(expected), &parse(actual));
            assert_eq!(found, lack.map(parse), "{expected} in {actual}");
        }
    }

    /// Whether no process is left in the group whose id the service wrote to `pid`.
    fn group_gone(dir: &Path) -> bool {
        let text = std::fs::read_to_string(dir.join("pid")).expect("the service wrote its pid");
        !crate::proc::group::group_alive(text.trim().parse().expect("a pid"))
    }

    fn with_service(url: &str, run: &str, ready_url: &str, ready_ms: u64) -> HttpSpec {
        let mut spec = spec(url);
        let service = ServiceSpec {
            run: run.to_owned(),
            ready_url: ready_url.to_owned(),
            ready_timeout: Duration::from_millis(ready_ms),
        };
        spec.service = Some(service);
        spec
    }

    #[test]
    fn service_is_started_and_stopped() {
        let dir = tempfile::tempdir().expect("tempdir");
        // The server answers only once the service has written its pid, so readiness depends on it.
        let url = serve(
            reply("200 OK", "X-Dev-Stub: active\r\n", r#"{"mode":"dev-stub"}"#),
            Some(dir.path().join("pid")),
        );
        let spec = with_service(
            &url,
            "echo $$ > pid; echo service-up; exec sleep 30",
            &url,
            5000,
        );
        let (result, log) = run(&spec, dir.path());
        assert!(result.expect("judged").passed, "{log}");
        assert!(
            log.contains("service ready") && log.contains("service-up"),
            "{log}"
        );
        assert!(group_gone(dir.path()));
    }

    #[test]
    fn service_never_ready_is_stopped() {
        // With `exec` the shell becomes `sleep`; without it, `sleep` is a second member of the group.
        for run_line in [
            "echo $$ > pid; echo booting; exec sleep 30",
            "echo $$ > pid; echo booting; sleep 30; true",
        ] {
            let dir = tempfile::tempdir().expect("tempdir");
            let url = closed_url();
            let spec = with_service(&url, run_line, &url, 500);
            let start = Instant::now();
            let (result, log) = run(&spec, dir.path());
            let elapsed = start.elapsed();
            match result {
                Err(BuiltinError::Other(message)) => {
                    assert!(
                        message.contains("not ready") && message.contains("after 500 ms"),
                        "{message}"
                    );
                    assert!(
                        message.ends_with("last lines of the service's output:\nbooting"),
                        "{message}"
                    );
                }
                other => panic!("expected an error, got {other:?}"),
            }
            // It waited the whole readiness timeout, no less.
            assert!(
                elapsed >= Duration::from_millis(500),
                "{run_line}: {elapsed:?}"
            );
            assert!(log.contains("booting"), "{log}");
            assert!(group_gone(dir.path()));
        }
    }

    #[test]
    fn service_ignoring_term_is_killed() {
        let dir = tempfile::tempdir().expect("tempdir");
        let url = closed_url();
        let spec = with_service(&url, "trap '' TERM; echo $$ > pid; sleep 30", &url, 300);
        let start = Instant::now();
        let (result, _) = run(&spec, dir.path());
        let elapsed = start.elapsed();
        assert!(matches!(result, Err(BuiltinError::Other(_))));
        // TERM was ignored: the group got the whole grace before SIGKILL.
        assert!(elapsed >= limits().stop_grace, "{elapsed:?}");
        assert!(group_gone(dir.path()));
    }

    #[test]
    fn service_exiting_early_is_an_error() {
        let dir = tempfile::tempdir().expect("tempdir");
        let url = closed_url();
        let spec = with_service(&url, "echo oops >&2; exit 3", &url, 5000);
        let (result, _) = run(&spec, dir.path());
        match result {
            Err(BuiltinError::Other(message)) => {
                assert!(
                    message.contains("exited before it was ready") && message.contains("oops"),
                    "{message}"
                );
            }
            other => panic!("expected an error, got {other:?}"),
        }
    }
}
