//! Outgoing connections for the endpoint's relays: host names are resolved
//! on a worker thread (never on the loop), which wakes the loop with the
//! result; addresses are connected without blocking.

use std::io;
use std::net::{SocketAddr, ToSocketAddrs};
use std::sync::mpsc::{channel, Receiver, Sender};
use std::sync::Arc;
use std::thread::{self, JoinHandle};

use log::debug;
use mio::Waker;

/// A resolved (or failed) name, by ticket.
pub type Resolved = (u64, Result<SocketAddr, String>);

/// One resolver thread.
pub struct Resolver {
    tx: Option<Sender<(u64, String, u16)>>,
    rx: Receiver<Resolved>,
    thread: Option<JoinHandle<()>>,
}

impl Resolver {
    pub fn new(waker: Arc<Waker>) -> io::Result<Resolver> {
        let (tx, jobs) = channel::<(u64, String, u16)>();
        let (results, rx) = channel();
        let thread = thread::Builder::new()
            .name("resolver".to_owned())
            .spawn(move || {
                for (ticket, host, port) in jobs {
                    let found = (host.as_str(), port)
                        .to_socket_addrs()
                        .map_err(|e| format!("cannot resolve {host}: {e}"))
                        .and_then(|mut addrs| {
                            addrs.next().ok_or_else(|| format!("{host} has no address"))
                        });
                    if results.send((ticket, found)).is_err() {
                        break;
                    }
                    let _ = waker.wake();
                }
                debug!("resolver thread exits");
            })?;
        Ok(Resolver {
            tx: Some(tx),
            rx,
            thread: Some(thread),
        })
    }

    pub fn submit(&self, ticket: u64, host: String, port: u16) {
        if let Some(tx) = &self.tx {
            let _ = tx.send((ticket, host, port));
        }
    }

    pub fn try_results(&self, out: &mut Vec<Resolved>) {
        out.extend(self.rx.try_iter());
    }
}

impl Drop for Resolver {
    fn drop(&mut self) {
        // Closing the channel ends the thread after its current lookup; a
        // lookup that hangs is not waited for.
        self.tx.take();
        if let Some(t) = self.thread.take() {
            if t.is_finished() {
                let _ = t.join();
            }
        }
    }
}
