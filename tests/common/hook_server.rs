//! A hook server for tests (std `TcpListener` on a thread, loopback only):
//! records every request (method, path, headers, body) and answers with a
//! scripted reply chosen by the request path, or never answers.
#![allow(dead_code)]

use std::io::{self, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{self, Receiver, Sender};
use std::sync::Arc;
use std::thread::{self, JoinHandle};
use std::time::Duration;

/// Upper bound for anything that should be quick.
pub const BOUND: Duration = Duration::from_secs(10);

#[derive(Debug, Clone)]
pub struct Recorded {
    pub method: String,
    pub path: String,
    pub headers: Vec<(String, String)>,
    pub body: String,
}

impl Recorded {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

#[derive(Clone)]
pub enum Reply {
    /// Status line code and extra headers.
    Status(u16, Vec<(&'static str, &'static str)>),
    /// Read the request, then hold the connection open without answering.
    Hang,
    /// Read the request, then close the connection without answering.
    Close,
    /// Read the request, then answer with something that is not HTTP.
    Garbage,
}

pub struct HookServer {
    pub addr: SocketAddr,
    pub requests: Receiver<Recorded>,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl HookServer {
    /// Every request gets `reply`.
    pub fn start(reply: Reply) -> HookServer {
        HookServer::routed(move |_| reply.clone())
    }

    /// The reply for each request comes from its path.
    pub fn routed(reply: impl Fn(&str) -> Reply + Send + 'static) -> HookServer {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let (tx, requests) = mpsc::channel();
        let stop = Arc::new(AtomicBool::new(false));
        let flag = Arc::clone(&stop);
        let thread = thread::spawn(move || serve(listener, &reply, tx, flag));
        HookServer {
            addr,
            requests,
            stop,
            thread: Some(thread),
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    /// The next request, waiting at most `BOUND`.
    pub fn next_request(&self) -> Recorded {
        self.requests.recv_timeout(BOUND).expect("a hook request")
    }

    /// Every request received so far.
    pub fn drain(&self) -> Vec<Recorded> {
        self.requests.try_iter().collect()
    }
}

impl Drop for HookServer {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        let _ = TcpStream::connect_timeout(&self.addr, Duration::from_secs(1));
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// Accepts one connection at a time until stopped; hung connections stay
/// open until then.
fn serve(
    listener: TcpListener,
    reply: &dyn Fn(&str) -> Reply,
    tx: Sender<Recorded>,
    stop: Arc<AtomicBool>,
) {
    let mut held = Vec::new();
    for stream in listener.incoming() {
        if stop.load(Ordering::SeqCst) {
            return;
        }
        let Ok(mut stream) = stream else { continue };
        let _ = stream.set_read_timeout(Some(BOUND));
        let Ok(req) = read_request(&mut stream) else {
            continue;
        };
        let chosen = reply(&req.path);
        let _ = tx.send(req);
        match &chosen {
            Reply::Hang => held.push(stream),
            Reply::Close => drop(stream),
            Reply::Garbage => {
                let _ = stream.write_all(b"SSH-2.0-OpenSSH_9.6\r\n\r\n");
            }
            Reply::Status(code, headers) => {
                let mut head = format!("HTTP/1.1 {code} Scripted\r\n");
                for (k, v) in headers {
                    head.push_str(&format!("{k}: {v}\r\n"));
                }
                head.push_str("Content-Length: 0\r\nConnection: close\r\n\r\n");
                let _ = stream.write_all(head.as_bytes());
                let _ = stream.shutdown(Shutdown::Write);
            }
        }
    }
}

fn read_request(stream: &mut TcpStream) -> io::Result<Recorded> {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 4096];
    let head_end = loop {
        if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            break i + 4;
        }
        let n = stream.read(&mut chunk)?;
        if n == 0 {
            return Err(io::ErrorKind::UnexpectedEof.into());
        }
        buf.extend_from_slice(&chunk[..n]);
    };
    let head = String::from_utf8_lossy(&buf[..head_end]).into_owned();
    let mut lines = head.split("\r\n");
    let mut start = lines.next().unwrap_or("").split(' ');
    let method = start.next().unwrap_or("").to_owned();
    let path = start.next().unwrap_or("").to_owned();
    let headers: Vec<(String, String)> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_owned(), v.trim().to_owned()))
        .collect();
    let len: usize = headers
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case("content-length"))
        .and_then(|(_, v)| v.parse().ok())
        .unwrap_or(0);
    while buf.len() < head_end + len {
        let n = stream.read(&mut chunk)?;
        if n == 0 {
            return Err(io::ErrorKind::UnexpectedEof.into());
        }
        buf.extend_from_slice(&chunk[..n]);
    }
    let body = String::from_utf8_lossy(&buf[head_end..head_end + len]).into_owned();
    Ok(Recorded {
        method,
        path,
        headers,
        body,
    })
}

/// A form body decoded independently of the crate: `+` and `%XX` only.
pub fn decode_form(body: &str) -> Vec<(String, String)> {
    fn dec(s: &str) -> String {
        let b = s.as_bytes();
        let mut out = Vec::new();
        let mut i = 0;
        while i < b.len() {
            if b[i] == b'%' && i + 2 < b.len() {
                let hex = std::str::from_utf8(&b[i + 1..i + 3]).unwrap();
                out.push(u8::from_str_radix(hex, 16).expect("valid escape"));
                i += 3;
            } else {
                out.push(if b[i] == b'+' { b' ' } else { b[i] });
                i += 1;
            }
        }
        String::from_utf8(out).unwrap()
    }
    body.split('&')
        .map(|kv| {
            let (k, v) = kv.split_once('=').expect("key=value");
            (dec(k), dec(v))
        })
        .collect()
}
