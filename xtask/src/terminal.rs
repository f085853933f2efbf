//! The terminal command `cargo xtask run` prints for talking to the virtual module by hand.
//!
//! The module answers a line only once it has seen CR LF (`at-engine.md` §3), and it echoes
//! what it receives (ATE1 after boot). So the terminal must turn the Enter key's CR into CR LF
//! (`--omap crcrlf`; `crlf` would replace the CR by a LF, and the module would never answer)
//! and must not echo locally (no `--echo`, or every typed line shows twice). The test below
//! runs the exact printed line in a real terminal (tmux) against the real module binary.

/// The line to type to connect a terminal to the module's PTY at `path`.
pub fn command_line(path: &str) -> String {
    format!("picocom -b 115200 --omap crcrlf {path}")
}

#[cfg(test)]
mod tests {
    use super::command_line;
    use crate::artifact;
    use std::fs::File;
    use std::io::{BufRead, BufReader, Read};
    use std::path::{Path, PathBuf};
    use std::process::{Child, Command, Stdio};
    use std::sync::mpsc::{self, Receiver};
    use std::time::{Duration, Instant};

    /// Start-up of the module, tmux and picocom on a loaded machine.
    const START_DEADLINE: Duration = Duration::from_secs(20);
    /// The module's answer to one `AT`.
    const ANSWER_DEADLINE: Duration = Duration::from_secs(5);

    /// A private tmux server (its own socket), ended by name when dropped.
    struct Tmux {
        socket: String,
    }

    impl Tmux {
        fn command(&self) -> Command {
            let mut command = Command::new("tmux");
            command
                .args(["-L", &self.socket, "-f", "/dev/null"])
                .env("TERM", "xterm");
            command
        }

        fn run(&self, arguments: &[&str]) {
            let status = self
                .command()
                .args(arguments)
                .status()
                .expect("run tmux (apt-get install -y tmux)");
            assert!(status.success(), "tmux {arguments:?} failed ({status})");
        }
    }

    impl Drop for Tmux {
        fn drop(&mut self) {
            let _ = self.command().arg("kill-server").status();
        }
    }

    /// The module process, killed (by its own id) when dropped, and its scratch directory.
    struct Module {
        child: Child,
        directory: PathBuf,
    }

    impl Drop for Module {
        fn drop(&mut self) {
            let _ = self.child.kill();
            let _ = self.child.wait();
            let _ = std::fs::remove_dir_all(&self.directory);
        }
    }

    fn start_module(directory: &Path) -> (Module, PathBuf) {
        let executable = artifact::build_executable("tc-at-linux", "tc-at-module", false)
            .expect("build tc-at-module");
        let link = directory.join("uart");
        let mut child = Command::new(executable)
            .args(["--uart", "pty", "--pty-link"])
            .arg(&link)
            .arg("--flash")
            .arg(directory.join("flash.bin"))
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("start tc-at-module");
        let mut stdout = BufReader::new(child.stdout.take().expect("module stdout"));
        let module = Module {
            child,
            directory: directory.to_path_buf(),
        };
        let mut line = String::new();
        stdout.read_line(&mut line).expect("read the UART line");
        assert!(line.starts_with("UART "), "unexpected first line {line:?}");
        wait_for_banner(&link);
        (module, link)
    }

    /// Reads the PTY until the boot banner: the module ignores input before it, and picocom
    /// flushes what is waiting in the port when it opens it. The board keeps its own side
    /// open, so closing this reader leaves the port as the user finds it.
    fn wait_for_banner(link: &Path) {
        use nix::poll::{poll, PollFd, PollFlags, PollTimeout};
        use nix::sys::termios::{cfmakeraw, tcgetattr, tcsetattr, SetArg};
        use std::os::fd::AsFd;

        let mut port = File::open(link).expect("open the module's PTY");
        let mut attributes = tcgetattr(&port).expect("tcgetattr");
        cfmakeraw(&mut attributes);
        tcsetattr(&port, SetArg::TCSANOW, &attributes).expect("tcsetattr");
        let until = Instant::now() + START_DEADLINE;
        let mut seen = Vec::new();
        while !seen.windows(9).any(|window| window == b"\r\nready\r\n") {
            let left = until.saturating_duration_since(Instant::now());
            let timeout = PollTimeout::try_from(left).unwrap_or(PollTimeout::MAX);
            let mut descriptors = [PollFd::new(port.as_fd(), PollFlags::POLLIN)];
            let ready = poll(&mut descriptors, timeout).expect("poll the PTY");
            assert!(
                ready > 0,
                "no boot banner within {START_DEADLINE:?}; got {:?}",
                String::from_utf8_lossy(&seen)
            );
            let mut buffer = [0u8; 256];
            let count = port.read(&mut buffer).expect("read the PTY");
            seen.extend_from_slice(&buffer[..count]);
        }
    }

    /// Streams what the pane's program writes, as tmux's `pipe-pane` hands it to a FIFO.
    fn pane_output(fifo: &Path) -> Receiver<Vec<u8>> {
        nix::unistd::mkfifo(fifo, nix::sys::stat::Mode::S_IRWXU).expect("mkfifo");
        let (sender, receiver) = mpsc::channel();
        let fifo = fifo.to_path_buf();
        std::thread::spawn(move || {
            // Opening blocks until tmux starts its writer.
            let Ok(mut file) = File::open(&fifo) else {
                return;
            };
            let mut buffer = [0u8; 4096];
            while let Ok(count) = file.read(&mut buffer) {
                if count == 0 || sender.send(buffer[..count].to_vec()).is_err() {
                    return;
                }
            }
        });
        receiver
    }

    /// Collects pane output until it contains `wanted` after `from`; returns where it ends.
    fn wait_for(
        output: &Receiver<Vec<u8>>,
        seen: &mut Vec<u8>,
        from: usize,
        wanted: &[u8],
        deadline: Duration,
    ) -> usize {
        let until = Instant::now() + deadline;
        loop {
            if let Some(position) = seen[from..]
                .windows(wanted.len())
                .position(|window| window == wanted)
            {
                return from + position + wanted.len();
            }
            let wait = until.saturating_duration_since(Instant::now());
            match output.recv_timeout(wait) {
                Ok(chunk) => seen.extend_from_slice(&chunk),
                Err(_) => panic!(
                    "no {:?} in the terminal within {deadline:?}; it showed {:?}",
                    String::from_utf8_lossy(wanted),
                    String::from_utf8_lossy(seen)
                ),
            }
        }
    }

    #[test]
    fn the_printed_picocom_line_gets_ok_for_at_in_a_real_terminal() {
        let directory = std::env::temp_dir().join(format!("tc-at-terminal-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&directory);
        std::fs::create_dir_all(&directory).expect("create the scratch directory");
        let (_module, link) = start_module(&directory);
        let output = pane_output(&directory.join("pane"));
        let tmux = Tmux {
            socket: format!("tc-at-terminal-{}", std::process::id()),
        };
        // The shell waits for one Enter, so the pane is piped before picocom starts.
        let line = command_line(&link.display().to_string());
        tmux.run(&[
            "new-session",
            "-d",
            "-s",
            "terminal",
            "-x",
            "120",
            "-y",
            "30",
            &format!("read go && exec {line}"),
        ]);
        let pipe = format!("cat >> {}", directory.join("pane").display());
        tmux.run(&["pipe-pane", "-t", "terminal", "-O", &pipe]);
        tmux.run(&["send-keys", "-t", "terminal", "Enter"]);

        let mut seen = Vec::new();
        let ready = wait_for(&output, &mut seen, 0, b"Terminal ready\r\n", START_DEADLINE);
        tmux.run(&["send-keys", "-t", "terminal", "-l", "AT"]);
        tmux.run(&["send-keys", "-t", "terminal", "Enter"]);
        // The module's echo of the line, then its answer: shown once, as typed.
        wait_for(
            &output,
            &mut seen,
            ready,
            b"AT\r\n\r\nOK\r\n",
            ANSWER_DEADLINE,
        );
    }
}
