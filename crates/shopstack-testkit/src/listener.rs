//! Loopback listeners for tests: one that counts connections (proof that a command sent nothing),
//! one that never answers (a hung server).

use std::net::TcpListener;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::thread;

/// Accepts and immediately closes every connection on a loopback port, counting them.
pub struct ConnectionCounter {
    port: u16,
    count: Arc<AtomicUsize>,
}

impl ConnectionCounter {
    /// Binds a free loopback port and starts counting in a background thread.
    pub fn start() -> std::io::Result<Self> {
        let listener = TcpListener::bind("127.0.0.1:0")?;
        let port = listener.local_addr()?.port();
        let count = Arc::new(AtomicUsize::new(0));
        let counted = Arc::clone(&count);
        thread::spawn(move || {
            for stream in listener.incoming() {
                counted.fetch_add(1, Ordering::SeqCst);
                drop(stream);
            }
        });
        Ok(Self { port, count })
    }

    /// `http://127.0.0.1:PORT`, to use as an endpoint.
    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// Connections accepted so far.
    pub fn connections(&self) -> usize {
        self.count.load(Ordering::SeqCst)
    }
}

/// Accepts connections on a loopback port and never answers: a server that hangs.
pub struct SilentServer {
    port: u16,
}

impl SilentServer {
    /// Binds a free loopback port; accepted connections stay open, unanswered, for the life of
    /// the process.
    pub fn start() -> std::io::Result<Self> {
        let listener = TcpListener::bind("127.0.0.1:0")?;
        let port = listener.local_addr()?.port();
        thread::spawn(move || {
            let mut held = Vec::new();
            for stream in listener.incoming() {
                held.push(stream);
            }
        });
        Ok(Self { port })
    }

    /// `http://127.0.0.1:PORT`.
    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::TcpStream;

    #[test]
    fn counts_each_connection() -> std::io::Result<()> {
        let counter = ConnectionCounter::start()?;
        assert_eq!(counter.connections(), 0);
        drop(TcpStream::connect(("127.0.0.1", counter.port))?);
        drop(TcpStream::connect(("127.0.0.1", counter.port))?);
        for _ in 0..200 {
            if counter.connections() == 2 {
                break;
            }
            thread::sleep(std::time::Duration::from_millis(5));
        }
        assert_eq!(counter.connections(), 2);
        Ok(())
    }
}
