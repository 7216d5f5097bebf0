//! Starting the binary with a chosen environment, and a minimal HTTP client to talk to it.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::{Arc, Mutex};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

/// The binary under test.
pub const BINARY: &str = env!("CARGO_BIN_EXE_shopstack-app");

/// A running `shopstack-app`, killed when dropped.
pub struct App {
    child: Child,
    /// Where it listens.
    pub address: SocketAddr,
    stdout: Arc<Mutex<String>>,
    reader: Option<JoinHandle<()>>,
}

impl App {
    /// Starts the binary on `127.0.0.1:0` with only `env` in its environment.
    pub fn start(env: &[(&str, &str)]) -> Self {
        let mut child = Command::new(BINARY)
            .env_clear()
            .envs(env.iter().copied())
            .args(["--listen", "127.0.0.1:0"])
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("start shopstack-app");
        let mut stdout = BufReader::new(child.stdout.take().expect("piped stdout"));
        let mut first = String::new();
        stdout
            .read_line(&mut first)
            .expect("read the first log line");
        let address = first
            .split_whitespace()
            .find_map(|field| field.strip_prefix("address="))
            .unwrap_or_else(|| panic!("no address in the first log line {first:?}"))
            .parse()
            .expect("a socket address");
        let collected = Arc::new(Mutex::new(first));
        let sink = Arc::clone(&collected);
        let reader = thread::spawn(move || {
            for line in stdout.lines() {
                let Ok(line) = line else { break };
                sink.lock()
                    .expect("log lock")
                    .push_str(&format!("{line}\n"));
            }
        });
        Self {
            child,
            address,
            stdout: collected,
            reader: Some(reader),
        }
    }

    /// The process id, for `kill`.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Sends `GET path`.
    pub fn get(&self, path: &str) -> Reply {
        self.request("GET", path)
    }

    /// Sends `method path` with no body.
    pub fn request(&self, method: &str, path: &str) -> Reply {
        self.raw(
            format!("{method} {path} HTTP/1.1\r\nHost: test\r\nUser-Agent: it\r\n\r\n").as_bytes(),
        )
    }

    /// Sends `bytes` as they are and reads the answer until the server closes.
    pub fn raw(&self, bytes: &[u8]) -> Reply {
        let mut stream = TcpStream::connect(self.address).expect("connect");
        stream
            .set_read_timeout(Some(Duration::from_secs(5)))
            .expect("read timeout");
        // A server may answer an oversized request before taking all of it.
        let _ = stream.write_all(bytes);
        let mut answer = Vec::new();
        stream.read_to_end(&mut answer).expect("read the answer");
        Reply::parse(&answer)
    }

    /// Sends SIGTERM, as Kubernetes does to stop a pod.
    pub fn terminate(&self) {
        let status = Command::new("kill")
            .args(["-TERM", &self.pid().to_string()])
            .status()
            .expect("run kill");
        assert!(status.success(), "kill -TERM failed: {status}");
    }

    /// Waits up to `limit` for the process to exit.
    pub fn wait_for_exit(&mut self, limit: Duration) -> Option<ExitStatus> {
        let deadline = Instant::now() + limit;
        while Instant::now() < deadline {
            if let Some(status) = self.child.try_wait().expect("try_wait") {
                return Some(status);
            }
            thread::sleep(Duration::from_millis(10));
        }
        None
    }

    /// Everything logged so far; complete once the process has exited.
    pub fn log(&mut self) -> String {
        if self.child.try_wait().expect("try_wait").is_some()
            && let Some(reader) = self.reader.take()
        {
            reader.join().expect("stdout reader");
        }
        self.stdout.lock().expect("log lock").clone()
    }
}

impl Drop for App {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A parsed HTTP response.
#[derive(Debug)]
pub struct Reply {
    /// The status code.
    pub status: u16,
    /// Header names (lowercased) and values, in order.
    pub headers: Vec<(String, String)>,
    /// The body.
    pub body: String,
}

impl Reply {
    fn parse(answer: &[u8]) -> Self {
        let text = String::from_utf8(answer.to_vec()).expect("UTF-8 answer");
        let (head, body) = text
            .split_once("\r\n\r\n")
            .unwrap_or_else(|| panic!("no blank line in {text:?}"));
        let mut lines = head.split("\r\n");
        let status_line = lines.next().unwrap_or_default();
        let status = status_line
            .strip_prefix("HTTP/1.1 ")
            .and_then(|rest| rest.get(..3))
            .and_then(|code| code.parse().ok())
            .unwrap_or_else(|| panic!("bad status line {status_line:?}"));
        let headers = lines
            .map(|line| {
                let (name, value) = line.split_once(':').expect("header line");
                (name.to_ascii_lowercase(), value.trim().to_owned())
            })
            .collect();
        Self {
            status,
            headers,
            body: body.to_owned(),
        }
    }

    /// The value of header `name` (any case).
    pub fn header(&self, name: &str) -> Option<&str> {
        let name = name.to_ascii_lowercase();
        self.headers
            .iter()
            .find(|(candidate, _)| *candidate == name)
            .map(|(_, value)| value.as_str())
    }
}
