//! Headless Chromium with WebGPU for the tests that need a second WGSL compiler (Tint) or the
//! browser build: serves files from memory on 127.0.0.1, opens the page, and returns what the
//! page POSTs to `/result`. WebGPU promises run in real time (not Chromium's virtual time), so
//! the page reports when it is done rather than being read at a fixed moment.

#![allow(dead_code)] // each test binary uses its own part

use std::collections::HashMap;
use std::time::{Duration, Instant};

/// Whether Chromium is installed. Where it is not, the caller skips — unless CI asked for the
/// browser checks (`FASTSHAP_REQUIRE_CHROMIUM`, set by .ci/run), when this panics.
pub fn have_chromium(what: &str) -> bool {
    let have = std::process::Command::new("chromium")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success());
    if !have {
        assert!(
            std::env::var_os("FASTSHAP_REQUIRE_CHROMIUM").is_none(),
            "FASTSHAP_REQUIRE_CHROMIUM is set but chromium is not installed"
        );
        eprintln!("chromium not installed: {what} skipped");
    }
    have
}

/// A file the page may load: its bytes and content type.
pub struct Served {
    pub body: Vec<u8>,
    pub mime: &'static str,
}

impl Served {
    pub fn new(body: impl Into<Vec<u8>>, mime: &'static str) -> Served {
        Served {
            body: body.into(),
            mime,
        }
    }
}

/// Opens `/index.html` of `files` in headless Chromium (see [`run_page_at`]).
pub fn run_page(files: HashMap<String, Served>, timeout: Duration, flags: &[&str]) -> String {
    run_page_at("index.html", files, timeout, flags)
}

/// Opens `/{start}` of `files` in headless Chromium with WebGPU on and returns the body of
/// the page's first `POST /result`, or panics after `timeout` with Chromium's last words.
/// Extra Chromium flags (e.g. a window size) go in `flags`.
pub fn run_page_at(
    start: &str,
    files: HashMap<String, Served>,
    timeout: Duration,
    flags: &[&str],
) -> String {
    let server = tiny_http::Server::http("127.0.0.1:0").expect("bind 127.0.0.1");
    let port = server.server_addr().to_ip().expect("an IP address").port();
    let profile = tempfile::tempdir().unwrap();
    let log = profile.path().join("chromium.log");
    let mut child = std::process::Command::new("chromium")
        .args([
            "--headless=new",
            "--no-sandbox",
            "--enable-unsafe-webgpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
        ])
        .arg(format!("--user-data-dir={}", profile.path().display()))
        .args(flags)
        .arg(format!("http://127.0.0.1:{port}/{start}"))
        .stdout(std::fs::File::create(&log).unwrap())
        .stderr(std::fs::File::create(profile.path().join("chromium.err")).unwrap())
        .spawn()
        .expect("start chromium");
    // A page may load `hold` (e.g. an <img>): its answer, and so the page's load event, waits
    // for the result. With `--screenshot`, Chromium shoots after the load event, so the picture
    // shows the finished page; the server then keeps serving until Chromium exits.
    let screenshot = flags.iter().any(|f| f.starts_with("--screenshot"));
    let deadline = Instant::now() + timeout;
    let mut held = Vec::new();
    let mut result = None;
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() || (result.is_some() && !screenshot) {
            break;
        }
        if result.is_some() && child.try_wait().ok().flatten().is_some() {
            break;
        }
        let Ok(Some(mut req)) = server.recv_timeout(left.min(Duration::from_millis(200))) else {
            continue;
        };
        let path = req.url().split('?').next().unwrap_or("").to_string();
        if *req.method() == tiny_http::Method::Post && path == "/result" {
            let mut body = String::new();
            std::io::Read::read_to_string(req.as_reader(), &mut body).unwrap();
            let _ = req.respond(tiny_http::Response::empty(200));
            result.get_or_insert(body);
            for r in held.drain(..) {
                let _ = tiny_http::Request::respond(r, tiny_http::Response::empty(204));
            }
            continue;
        }
        if path == "/hold" && result.is_none() {
            held.push(req);
            continue;
        }
        let response = match files.get(path.trim_start_matches('/')) {
            Some(f) => {
                let ct = tiny_http::Header::from_bytes("Content-Type", f.mime).unwrap();
                tiny_http::Response::from_data(f.body.clone()).with_header(ct)
            }
            None => tiny_http::Response::from_data(Vec::new()).with_status_code(404),
        };
        let _ = req.respond(response);
    }
    let _ = child.kill();
    let _ = child.wait();
    match result {
        Some(r) => r,
        None => {
            let err =
                std::fs::read_to_string(profile.path().join("chromium.err")).unwrap_or_default();
            let tail: Vec<&str> = err.lines().rev().take(20).collect();
            panic!(
                "the page did not report within {timeout:?}; chromium's stderr ends:\n{}",
                tail.into_iter().rev().collect::<Vec<_>>().join("\n")
            )
        }
    }
}
