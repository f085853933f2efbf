//! Range interop of the firmware's HTTP client with a web server nobody here wrote: nginx
//! from Debian (`nginx-light`), started on a free loopback port, serving the test-vector
//! image with Range support on, and in a second location told to ignore `Range`
//! (`max_ranges 0`), which answers 200 with the whole file.

use ota::http::{write_range_request, HttpError, RangeDownload, Url};
use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

const WAIT: Duration = Duration::from_secs(10);

/// nginx in the foreground as one process of this user, killed on drop.
struct Nginx {
    child: Child,
    directory: PathBuf,
    port: u16,
}

impl Nginx {
    fn start(image: &[u8]) -> Self {
        static INSTANCE: AtomicU32 = AtomicU32::new(0);
        let instance = INSTANCE.fetch_add(1, Ordering::Relaxed);
        let directory =
            std::env::temp_dir().join(format!("tc-at-nginx-{}-{instance}", std::process::id()));
        let root = directory.join("www");
        std::fs::create_dir_all(root.join("ignore")).unwrap();
        std::fs::write(root.join("image.bin"), image).unwrap();
        std::fs::write(root.join("ignore").join("image.bin"), image).unwrap();
        let port = TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let path = directory.display();
        let configuration = format!(
            "daemon off;\nmaster_process off;\npid {path}/nginx.pid;\nerror_log {path}/error.log;\n\
             events {{}}\nhttp {{\n  access_log {path}/access.log;\n  client_body_temp_path {path}/body;\n\
             proxy_temp_path {path}/proxy;\n  fastcgi_temp_path {path}/fastcgi;\n  uwsgi_temp_path {path}/uwsgi;\n\
             scgi_temp_path {path}/scgi;\n  server {{\n    listen 127.0.0.1:{port};\n    root {path}/www;\n\
             location /ignore/ {{ max_ranges 0; }}\n  }}\n}}\n"
        );
        let configuration_file = directory.join("nginx.conf");
        std::fs::write(&configuration_file, configuration).unwrap();
        let child = Command::new("/usr/sbin/nginx")
            .args(["-p", &directory.display().to_string(), "-c"])
            .arg(&configuration_file)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("nginx from Debian (apt-get install nginx-light)");
        let nginx = Self {
            child,
            directory,
            port,
        };
        nginx.wait_until_listening();
        nginx
    }

    /// Connect attempts until nginx accepts, bounded by `WAIT`.
    fn wait_until_listening(&self) {
        let deadline = Instant::now() + WAIT;
        while TcpStream::connect(("127.0.0.1", self.port)).is_err() {
            assert!(
                Instant::now() < deadline,
                "nginx did not listen within {WAIT:?}"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for Nginx {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.directory);
    }
}

fn image(size: usize) -> Vec<u8> {
    (0..size).map(|index| (index * 7 + 3) as u8).collect()
}

/// One GET by the firmware's client; returns the status line seen and the image bytes.
fn fetch(port: u16, path: &str, offset: u32, size: u32) -> Result<(String, Vec<u8>), HttpError> {
    let mut stream = TcpStream::connect(("127.0.0.1", port)).unwrap();
    stream.set_read_timeout(Some(WAIT)).unwrap();
    let url = format!("http://127.0.0.1:{port}{path}");
    let url = Url::parse(url.as_bytes()).unwrap();
    let mut request = [0u8; 512];
    let length = write_range_request(&url, offset, size, &mut request).unwrap();
    stream.write_all(&request[..length]).unwrap();
    let mut download = RangeDownload::new(offset, size, 0);
    let mut received = Vec::new();
    let mut data = Vec::new();
    let mut buffer = [0u8; 1460];
    // nginx keeps the connection alive: the image ends the exchange, not the close.
    while !download.is_complete() {
        let count = stream.read(&mut buffer).unwrap();
        if count == 0 {
            download.closed()?;
        }
        received.extend_from_slice(&buffer[..count]);
        let mut input = &buffer[..count];
        while !input.is_empty() && !download.is_complete() {
            let chunk = download.feed(input, 0)?;
            data.extend_from_slice(chunk.data);
            input = &input[chunk.consumed..];
        }
    }
    let status = String::from_utf8_lossy(&received)
        .lines()
        .next()
        .unwrap_or_default()
        .to_owned();
    Ok((status, data))
}

#[test]
fn nginx_answers_the_range_request_with_206_and_the_client_resumes() {
    let bytes = image(900_000);
    let nginx = Nginx::start(&bytes);
    let (status, data) = fetch(nginx.port, "/image.bin", 0, 900_000).unwrap();
    assert_eq!(status, "HTTP/1.1 206 Partial Content");
    assert_eq!(data, bytes);
    // The range end is the size, one past the last byte: nginx clamps it.
    let (status, data) = fetch(nginx.port, "/image.bin", 123_457, 900_000).unwrap();
    assert_eq!(status, "HTTP/1.1 206 Partial Content");
    assert_eq!(data, &bytes[123_457..]);
    assert_eq!(
        fetch(nginx.port, "/missing.bin", 0, 10),
        Err(HttpError::Status(404))
    );
}

#[test]
fn nginx_ignoring_range_answers_200_and_the_prefix_is_skipped() {
    let bytes = image(5000);
    let nginx = Nginx::start(&bytes);
    let (status, data) = fetch(nginx.port, "/ignore/image.bin", 2048, 5000).unwrap();
    assert_eq!(status, "HTTP/1.1 200 OK");
    assert_eq!(data, &bytes[2048..]);
}
