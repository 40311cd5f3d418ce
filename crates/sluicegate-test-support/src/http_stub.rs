//! [`HttpStub`], the one HTTP server tests talk to in place of a real handler or MCP server:
//! axum on a loopback port-0 listener, run by its own thread and runtime (so sync and async
//! tests use it alike), keeping a log of every request and answering from a script.

use std::collections::HashMap;
use std::convert::Infallible;
use std::pin::Pin;
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError};
use std::task::{Context, Poll};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use axum::Router;
use axum::body::Body;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderName, HeaderValue, Method, StatusCode, Uri, header};
use axum::response::Response;
use bytes::Bytes;
use http_body::Frame;
use serde_json::Value;
use tokio::sync::oneshot;

/// One request as it arrived.
#[derive(Debug, Clone)]
pub struct Request {
    pub method: String,
    /// Path and query, as sent.
    pub path: String,
    /// Header names in lower case; a repeated header keeps its last value.
    pub headers: HashMap<String, String>,
    pub body: Vec<u8>,
}

impl Request {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .get(&name.to_ascii_lowercase())
            .map(String::as_str)
    }

    /// The body parsed as JSON, if it is JSON.
    pub fn json(&self) -> Option<Value> {
        serde_json::from_slice(&self.body).ok()
    }
}

/// What the stub answers to one request.
#[derive(Debug, Clone)]
pub enum Reply {
    /// A complete response.
    Full {
        status: u16,
        headers: Vec<(String, String)>,
        body: Vec<u8>,
    },
    /// A `text/event-stream` response carrying these events (each already framed, ending in
    /// a blank line) that then stays open until the stub is dropped: a client that waits for
    /// the end of the stream never gets it.
    Events(Vec<String>),
    /// No answer at all until the stub is dropped (for timeout tests).
    Hang,
}

impl Reply {
    /// `status` with an empty body.
    pub fn status(status: u16) -> Reply {
        Reply::Full {
            status,
            headers: Vec::new(),
            body: Vec::new(),
        }
    }

    /// `status` with `body` as `application/json`.
    pub fn json(status: u16, body: &Value) -> Reply {
        Reply::text(status, "application/json", body.to_string())
    }

    /// `status` with `body` as it is, labelled `content_type` (which may well lie: a test of
    /// a garbled answer sends HTML as JSON).
    pub fn text(status: u16, content_type: &str, body: impl Into<Vec<u8>>) -> Reply {
        Reply::Full {
            status,
            headers: vec![(header::CONTENT_TYPE.to_string(), content_type.to_string())],
            body: body.into(),
        }
    }

    /// The same reply with one more header (no effect on [`Reply::Hang`]).
    pub fn with_header(mut self, name: &str, value: &str) -> Reply {
        if let Reply::Full { headers, .. } = &mut self {
            headers.push((name.to_string(), value.to_string()));
        }
        self
    }
}

/// Decides the reply to a request; `n` is its 1-based position among all requests so far.
type Script = dyn Fn(&Request, usize) -> Reply + Send + Sync;

#[derive(Default)]
struct Log {
    requests: Mutex<Vec<Request>>,
    arrived: Condvar,
}

impl Log {
    fn lock(&self) -> MutexGuard<'_, Vec<Request>> {
        // A test thread that panicked while looking at the log leaves it as good as it was.
        self.requests.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

struct Shared {
    log: Log,
    script: Box<Script>,
}

/// A running stub server; it stops (and drops hanging requests) when dropped.
pub struct HttpStub {
    port: u16,
    shared: Arc<Shared>,
    stop: Option<oneshot::Sender<()>>,
    thread: Option<JoinHandle<()>>,
}

impl HttpStub {
    /// Start a stub on `127.0.0.1:0` answering each request with `script(request, n)`. It
    /// accepts connections as soon as this returns.
    pub fn start(script: impl Fn(&Request, usize) -> Reply + Send + Sync + 'static) -> HttpStub {
        let listener =
            std::net::TcpListener::bind("127.0.0.1:0").expect("bind a loopback port for the stub");
        listener
            .set_nonblocking(true)
            .expect("a nonblocking stub listener");
        let port = listener.local_addr().expect("the stub's address").port();
        let shared = Arc::new(Shared {
            log: Log::default(),
            script: Box::new(script),
        });
        let app = Router::new()
            .fallback(answer)
            .with_state(Arc::clone(&shared));
        let (stop, stopped) = oneshot::channel::<()>();
        let thread = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("the stub's runtime");
            runtime.block_on(async move {
                let listener = tokio::net::TcpListener::from_std(listener)
                    .expect("the stub listener on the runtime");
                tokio::select! {
                    _ = axum::serve(listener, app).into_future() => {}
                    _ = stopped => {}
                }
            });
            // Hanging requests and open event streams are dropped, not waited for.
            runtime.shutdown_background();
        });
        HttpStub {
            port,
            shared,
            stop: Some(stop),
            thread: Some(thread),
        }
    }

    /// Answer the n-th request with `replies[n - 1]`; the last reply repeats.
    pub fn replying(replies: Vec<Reply>) -> HttpStub {
        assert!(!replies.is_empty(), "a stub needs at least one reply");
        HttpStub::start(move |_, n| replies[(n - 1).min(replies.len() - 1)].clone())
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// `http://127.0.0.1:<port><path>`; `path` starts with `/`.
    pub fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.port)
    }

    /// Every request so far, in arrival order.
    pub fn requests(&self) -> Vec<Request> {
        self.shared.log.lock().clone()
    }

    pub fn count(&self) -> usize {
        self.shared.log.lock().len()
    }

    /// The latest request; panics when there is none.
    pub fn last(&self) -> Request {
        self.shared
            .log
            .lock()
            .last()
            .cloned()
            .expect("the stub has not been called")
    }

    /// Block until at least `n` requests have arrived, and return them all. A request the
    /// client sends after its caller has moved on (a best-effort goodbye) is waited for
    /// here, on the log's own signal; `within` only bounds a test that would otherwise hang.
    pub fn wait_for(&self, n: usize, within: Duration) -> Vec<Request> {
        let deadline = Instant::now() + within;
        let mut requests = self.shared.log.lock();
        while requests.len() < n {
            let left = deadline.saturating_duration_since(Instant::now());
            assert!(
                !left.is_zero(),
                "the stub saw {} of {n} requests within {within:?}: {requests:?}",
                requests.len()
            );
            requests = self
                .shared
                .log
                .arrived
                .wait_timeout(requests, left)
                .unwrap_or_else(PoisonError::into_inner)
                .0;
        }
        requests.clone()
    }
}

impl Drop for HttpStub {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

async fn answer(
    State(shared): State<Arc<Shared>>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let request = Request {
        method: method.to_string(),
        path: uri
            .path_and_query()
            .map_or_else(|| uri.path().to_string(), ToString::to_string),
        headers: headers
            .iter()
            .map(|(k, v)| {
                (
                    k.as_str().to_string(),
                    String::from_utf8_lossy(v.as_bytes()).into_owned(),
                )
            })
            .collect(),
        body: body.to_vec(),
    };
    let n = {
        let mut log = shared.log.lock();
        log.push(request.clone());
        shared.log.arrived.notify_all();
        log.len()
    };
    match (shared.script)(&request, n) {
        Reply::Full {
            status,
            headers,
            body,
        } => response(status, &headers, Body::from(body)),
        Reply::Events(events) => response(
            200,
            &[
                ("content-type".into(), "text/event-stream".into()),
                ("cache-control".into(), "no-cache".into()),
            ],
            Body::new(OpenStream(events.into_iter().map(Bytes::from).collect())),
        ),
        Reply::Hang => std::future::pending().await,
    }
}

fn response(status: u16, headers: &[(String, String)], body: Body) -> Response {
    let mut response = Response::new(body);
    *response.status_mut() = StatusCode::from_u16(status).expect("a valid status in the script");
    for (name, value) in headers {
        response.headers_mut().append(
            HeaderName::try_from(name.as_str()).expect("a valid header name in the script"),
            HeaderValue::try_from(value.as_str()).expect("a valid header value in the script"),
        );
    }
    response
}

/// A body that sends its events, then neither ends nor sends more.
struct OpenStream(std::collections::VecDeque<Bytes>);

impl http_body::Body for OpenStream {
    type Data = Bytes;
    type Error = Infallible;

    fn poll_frame(
        self: Pin<&mut Self>,
        _: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Infallible>>> {
        match self.get_mut().0.pop_front() {
            Some(event) => Poll::Ready(Some(Ok(Frame::data(event)))),
            // Never woken: the stream stays open until the connection is dropped.
            None => Poll::Pending,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::{Read, Write};

    /// A raw HTTP/1.1 exchange, so the stub is checked without the clients it stands in for.
    fn exchange(port: u16, request: &str) -> String {
        let mut stream = std::net::TcpStream::connect(("127.0.0.1", port)).expect("connect");
        stream.write_all(request.as_bytes()).expect("send");
        let mut answer = String::new();
        stream.read_to_string(&mut answer).expect("read");
        answer
    }

    #[test]
    fn logs_requests_and_answers_in_order() {
        let stub = HttpStub::replying(vec![
            Reply::json(201, &serde_json::json!({"ok": true})).with_header("x-one", "1"),
            Reply::status(405),
        ]);
        let first = exchange(
            stub.port(),
            "POST /hook?x=1 HTTP/1.1\r\nHost: a\r\nX-Token: t\r\nContent-Length: 2\r\nConnection: close\r\n\r\n{}",
        );
        assert!(first.starts_with("HTTP/1.1 201"), "{first}");
        assert!(first.contains("x-one: 1"), "{first}");
        assert!(first.ends_with("{\"ok\":true}"), "{first}");
        for _ in 0..2 {
            let again = exchange(
                stub.port(),
                "OPTIONS / HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n",
            );
            assert!(again.starts_with("HTTP/1.1 405"), "{again}");
        }
        let seen = stub.wait_for(3, Duration::from_secs(5));
        assert_eq!(seen[0].method, "POST");
        assert_eq!(seen[0].path, "/hook?x=1");
        assert_eq!(seen[0].header("X-TOKEN"), Some("t"));
        assert_eq!(seen[0].json(), Some(serde_json::json!({})));
        assert_eq!(stub.last().method, "OPTIONS");
        assert_eq!(
            stub.url("/a"),
            format!("http://127.0.0.1:{}/a", stub.port())
        );
    }

    /// Events arrive while the stream stays open, and a hanging request never answers; the
    /// stub still stops promptly when dropped.
    #[test]
    fn event_streams_stay_open_and_hangs_never_answer() {
        let stub = HttpStub::start(|request, _| match request.path.as_str() {
            "/events" => Reply::Events(vec!["data: 1\n\n".into()]),
            _ => Reply::Hang,
        });
        let read_with_deadline = |request: &str| {
            let mut stream =
                std::net::TcpStream::connect(("127.0.0.1", stub.port())).expect("connect");
            stream
                .set_read_timeout(Some(Duration::from_millis(500)))
                .expect("timeout");
            stream.write_all(request.as_bytes()).expect("send");
            let mut buf = vec![0; 4096];
            let mut got = Vec::new();
            loop {
                match stream.read(&mut buf) {
                    Ok(0) => return (String::from_utf8_lossy(&got).into_owned(), true),
                    Ok(n) => got.extend_from_slice(&buf[..n]),
                    Err(_) => return (String::from_utf8_lossy(&got).into_owned(), false),
                }
            }
        };
        let (events, closed) = read_with_deadline("GET /events HTTP/1.1\r\nHost: a\r\n\r\n");
        assert!(events.contains("text/event-stream"), "{events}");
        assert!(events.contains("data: 1"), "{events}");
        assert!(!closed, "the event stream ended");
        let (nothing, closed) = read_with_deadline("GET /hang HTTP/1.1\r\nHost: a\r\n\r\n");
        assert!(nothing.is_empty() && !closed, "{nothing}");
        let started = Instant::now();
        drop(stub);
        assert!(started.elapsed() < Duration::from_secs(2));
    }
}
