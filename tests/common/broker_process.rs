//! The real `broker` binary as a child process, for the tests that must kill it or flood it.
//!
//! [`BrokerProcess::start`] runs `broker --listen 127.0.0.1:0 …`, reads the one line it prints
//! to stdout (`listening on ADDR`, docs/cli.md) and sends its stderr to a file the
//! test names, so a failure can show what the broker said. Dropping a `BrokerProcess` that is
//! still running kills it (SIGKILL) and reaps it: a panicking test never leaves a broker behind.

use std::fs::File;
use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::mpsc;
use std::thread;
use std::time::{Duration, Instant};

/// How long a broker may take to print `listening on` or to exit after SIGTERM.
pub const START_STOP_TIMEOUT: Duration = Duration::from_secs(20);

/// A running `broker` child process.
pub struct BrokerProcess {
    /// `None` once the process has been reaped.
    child: Option<Child>,
    /// The address it printed.
    pub addr: SocketAddr,
    /// Where its stderr goes (appended across restarts).
    stderr_path: PathBuf,
}

impl BrokerProcess {
    /// Starts `broker` with `args` (the listen address is added: 127.0.0.1, port 0) and waits
    /// for its `listening on ADDR` line. Its stderr is appended to `stderr_path`.
    pub fn start(args: &[&str], stderr_path: &Path) -> BrokerProcess {
        Self::start_with(Command::new(env!("CARGO_BIN_EXE_broker")), args, stderr_path)
    }

    /// [`BrokerProcess::start`], with these environment variables set for the broker (the
    /// storage's test hooks, such as `synclog::storage::topic::HOLD_INTERVAL_SYNC_ENV`).
    pub fn start_with_env(args: &[&str], env: &[(&str, &str)], stderr_path: &Path) -> BrokerProcess {
        let mut command = Command::new(env!("CARGO_BIN_EXE_broker"));
        command.envs(env.iter().copied());
        Self::start_with(command, args, stderr_path)
    }

    /// [`BrokerProcess::start`], with no file the broker writes allowed past `kib` KiB
    /// (`ulimit -f`; a write past it fails with EFBIG): a disk that fills up, on demand.
    pub fn start_with_file_limit(args: &[&str], kib: u64, stderr_path: &Path) -> BrokerProcess {
        let mut command = Command::new("bash");
        command.args(["-c", "ulimit -f \"$1\" && trap '' XFSZ && shift && exec \"$@\"", "bash"]);
        command.arg(kib.to_string()).arg(env!("CARGO_BIN_EXE_broker"));
        Self::start_with(command, args, stderr_path)
    }

    /// [`BrokerProcess::start`], with both limits on open files set to `fds` (`ulimit -n`) as
    /// a stock system would have them, so the broker cannot raise its own past it.
    #[allow(dead_code)]
    pub fn start_with_fd_limit(args: &[&str], fds: u64, stderr_path: &Path) -> BrokerProcess {
        let mut command = Command::new("bash");
        command.args(["-c", "ulimit -n \"$1\" && shift && exec \"$@\"", "bash"]);
        command.arg(fds.to_string()).arg(env!("CARGO_BIN_EXE_broker"));
        Self::start_with(command, args, stderr_path)
    }

    fn start_with(mut command: Command, args: &[&str], stderr_path: &Path) -> BrokerProcess {
        let stderr =
            File::options().create(true).append(true).open(stderr_path).expect("open the stderr file");
        let mut child = command
            .args(["--listen", "127.0.0.1:0"])
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::from(stderr))
            .spawn()
            .expect("spawn the broker binary");
        let stdout = child.stdout.take().expect("piped stdout");
        // Read the line on a thread so that a broker which hangs before printing cannot hang the
        // test; the thread then drains stdout until the broker exits.
        let (tx, rx) = mpsc::channel();
        thread::spawn(move || {
            let mut lines = BufReader::new(stdout).lines();
            let _ = tx.send(lines.next());
            for _ in lines {}
        });
        let mut process = BrokerProcess {
            child: Some(child),
            addr: SocketAddr::from(([0, 0, 0, 0], 0)),
            stderr_path: stderr_path.to_path_buf(),
        };
        let line = match rx.recv_timeout(START_STOP_TIMEOUT) {
            Ok(Some(Ok(line))) => line,
            other => panic!(
                "the broker did not print `listening on ADDR` within {START_STOP_TIMEOUT:?} ({other:?}); its stderr:\n{}",
                process.stderr_tail()
            ),
        };
        let addr = line.strip_prefix("listening on ").and_then(|a| a.trim().parse().ok());
        match addr {
            Some(addr) => process.addr = addr,
            None => panic!("the broker's first line is {line:?}, not `listening on ADDR`"),
        }
        process
    }

    /// The process id.
    pub fn pid(&self) -> u32 {
        self.child.as_ref().map(Child::id).expect("the broker is running")
    }

    /// The process's peak resident memory in KiB (`VmHWM`, Linux).
    pub fn peak_kib(&self) -> u64 {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.pid())).expect("/proc status");
        let line = status.lines().find(|l| l.starts_with("VmHWM:")).expect("VmHWM");
        line.split_whitespace().nth(1).and_then(|v| v.parse().ok()).expect("a number")
    }

    /// Bytes the process has passed to write calls so far (`wchar` of /proc/PID/io, Linux): its
    /// files' writes and its sockets' sends.
    #[allow(dead_code)]
    pub fn bytes_written(&self) -> u64 {
        let io = std::fs::read_to_string(format!("/proc/{}/io", self.pid())).expect("/proc io");
        let line = io.lines().find_map(|l| l.strip_prefix("wchar: ")).expect("wchar");
        line.trim().parse().expect("a number")
    }

    /// The voluntary context switches of every thread of the process so far (Linux).
    #[allow(dead_code)]
    pub fn context_switches(&self) -> u64 {
        let tasks = std::fs::read_dir(format!("/proc/{}/task", self.pid())).expect("/proc tasks");
        let count = |status: String| {
            let line = status.lines().find_map(|l| l.strip_prefix("voluntary_ctxt_switches:"))?;
            line.trim().parse::<u64>().ok()
        };
        let statuses = tasks.flatten().filter_map(|t| std::fs::read_to_string(t.path().join("status")).ok());
        statuses.filter_map(count).sum()
    }

    /// True while the process has not exited.
    pub fn is_running(&mut self) -> bool {
        match self.child.as_mut() {
            Some(child) => matches!(child.try_wait(), Ok(None)),
            None => false,
        }
    }

    /// SIGKILL (`Child::kill` on Unix), then reaps the process.
    pub fn kill(mut self) {
        let mut child = self.child.take().expect("the broker is running");
        child.kill().expect("SIGKILL the broker");
        child.wait().expect("reap the broker");
    }

    /// SIGTERM, then waits for the exit (a clean shutdown: handlers joined, logs synced and
    /// closed). Panics if the broker is still running after [`START_STOP_TIMEOUT`].
    pub fn terminate(mut self) -> ExitStatus {
        let pid = rustix::process::Pid::from_raw(self.pid() as i32).expect("a positive pid");
        rustix::process::kill_process(pid, rustix::process::Signal::TERM).expect("SIGTERM the broker");
        let deadline = Instant::now() + START_STOP_TIMEOUT;
        let child = self.child.as_mut().expect("the broker is running");
        loop {
            if let Some(status) = child.try_wait().expect("wait for the broker") {
                self.child = None;
                return status;
            }
            if Instant::now() > deadline {
                panic!(
                    "the broker did not exit within {START_STOP_TIMEOUT:?} of SIGTERM; its stderr:\n{}",
                    self.stderr_tail()
                );
            }
            thread::sleep(Duration::from_millis(5));
        }
    }

    /// The last lines the broker (and its earlier runs) wrote to stderr.
    pub fn stderr_tail(&self) -> String {
        stderr_tail(&self.stderr_path)
    }
}

/// The last 40 lines of a broker's stderr file.
pub fn stderr_tail(path: &Path) -> String {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(40)..].join("\n")
}

impl Drop for BrokerProcess {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// A small, seedable PRNG (SplitMix64): the tests' random moments are reproducible from the
/// seed they print.
pub struct SplitMix64(pub u64);

impl SplitMix64 {
    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// A number in `range` (inclusive).
    pub fn in_range(&mut self, range: std::ops::RangeInclusive<u64>) -> u64 {
        let (lo, hi) = (*range.start(), *range.end());
        lo + self.next_u64() % (hi - lo + 1)
    }

    /// Fills `buf` with random bytes.
    pub fn fill(&mut self, buf: &mut [u8]) {
        for chunk in buf.chunks_mut(8) {
            let bytes = self.next_u64().to_le_bytes();
            chunk.copy_from_slice(&bytes[..chunk.len()]);
        }
    }
}

/// The seed from the environment variable `var` (decimal), or `default`; printed so a failing
/// run can be repeated.
pub fn seed_from_env(var: &str, default: u64) -> u64 {
    let seed = std::env::var(var).ok().and_then(|s| s.parse().ok()).unwrap_or(default);
    eprintln!("{var}={seed} (set it to repeat this run)");
    seed
}

/// A broker process with a Kafka listener too, its data dir (`data`) and stderr file
/// (`broker.stderr`) in `dir`: the process and its Kafka listener's address.
pub fn start_with_kafka(dir: &Path) -> (BrokerProcess, String) {
    let stderr = dir.join("broker.stderr");
    let data = dir.join("data");
    let args = ["--data-dir", data.to_str().expect("utf-8"), "--kafka-listen", "127.0.0.1:0"];
    let broker = BrokerProcess::start(&args, &stderr);
    (broker, kafka_addr_of(&stderr))
}

/// The Kafka address a broker process logged to `stderr` (the last one: after a restart on the
/// same file, the new one). Only whole lines count: the broker writes its line in pieces, and a
/// read between them would see half an address.
pub fn kafka_addr_of(stderr: &Path) -> String {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let log = std::fs::read_to_string(stderr).unwrap_or_default();
        let logged = log
            .split_inclusive('\n')
            .filter(|l| l.ends_with('\n'))
            .filter_map(|l| l.strip_prefix("synclog broker: kafka listener on "))
            .filter_map(|a| a.trim().parse::<SocketAddr>().ok())
            .next_back();
        if let Some(addr) = logged {
            return addr.to_string();
        }
        assert!(Instant::now() < deadline, "no Kafka address on stderr: {log}");
        thread::sleep(Duration::from_millis(20));
    }
}
