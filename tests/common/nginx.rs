//! A private nginx-rtmp for interop tests: its own config and prefix under
//! the temp directory, a free loopback port, killed by PID on drop. Skips
//! (printing why) when nginx or its RTMP module is missing, unless
//! `RTMP_REQUIRE_INTEROP` is set.
#![allow(dead_code)]

use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub const MODULE: &str = "/usr/lib/nginx/modules/ngx_rtmp_module.so";

fn skip_or_panic(reason: &str) {
    if std::env::var_os("RTMP_REQUIRE_INTEROP").is_some() {
        panic!("RTMP_REQUIRE_INTEROP is set but {reason}");
    }
    println!("SKIPPED: {reason}");
}

/// A private nginx-rtmp on a free loopback port; killed by PID on drop.
pub struct Nginx {
    pub child: Child,
    pub port: u16,
    pub dir: PathBuf,
}

impl Nginx {
    pub fn start(tag: &str) -> Option<Nginx> {
        Nginx::start_with(tag, "")
    }

    /// Like `start`, with `app_extra` added to the `live` application.
    pub fn start_with(tag: &str, app_extra: &str) -> Option<Nginx> {
        if Command::new("nginx").arg("-v").output().is_err() {
            skip_or_panic("nginx is not installed");
            return None;
        }
        if !Path::new(MODULE).exists() {
            skip_or_panic("the nginx RTMP module is not installed");
            return None;
        }
        let port = TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("free port")
            .port();
        let dir = std::env::temp_dir().join(format!(
            "rtmp-client-test-{}-{tag}-{port}",
            std::process::id()
        ));
        std::fs::create_dir_all(&dir).expect("temp dir");
        let conf = dir.join("nginx.conf");
        std::fs::write(
            &conf,
            format!(
                "load_module {MODULE}; daemon off; master_process off; error_log stderr warn; \
                 pid {}/nginx.pid; events {{ worker_connections 256; }} \
                 rtmp {{ server {{ listen 127.0.0.1:{port}; chunk_size 4096; \
                 application live {{ live on; publish_notify on; {app_extra} }} }} }}\n",
                dir.display()
            ),
        )
        .expect("write conf");
        let child = Command::new("nginx")
            .arg("-e")
            .arg("stderr")
            .arg("-c")
            .arg(&conf)
            .arg("-p")
            .arg(&dir)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("spawn nginx");
        let mut n = Nginx { child, port, dir };
        let deadline = Instant::now() + Duration::from_secs(5);
        while TcpStream::connect(("127.0.0.1", port)).is_err() {
            if let Ok(Some(st)) = n.child.try_wait() {
                panic!("nginx exited early: {st}");
            }
            assert!(Instant::now() < deadline, "nginx did not listen on {port}");
            std::thread::sleep(Duration::from_millis(20));
        }
        Some(n)
    }

    pub fn url(&self, name: &str) -> String {
        format!("rtmp://127.0.0.1:{}/live/{name}", self.port)
    }
}

impl Drop for Nginx {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}
