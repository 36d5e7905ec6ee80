//! The real binaries, as a user runs them (docs/cli.md): `broker` as a child
//! process on 127.0.0.1 port 0, and `synclog produce | consume | topics | verify` against it.
//!
//! What is checked, beyond the outputs themselves:
//!
//! | contract                                   | how                                                               |
//! |--------------------------------------------|-------------------------------------------------------------------|
//! | broker prints exactly `listening on ADDR`  | its first stdout line, and nothing more until it exits            |
//! | exit 0 on success                          | every command that should work                                    |
//! | exit 1, one stderr line, on an error       | unknown topic, unreachable broker, a silent peer (after 10 s), missing data dir, a bad stdin line, a full stdout |
//! | broker exit 1 when it cannot start         | address in use, data dir is a file; no `listening on` line        |
//! | exit 2 on bad usage                        | unknown flag or command, bad `--strategy` / `--format` / `--from` / `--broker` / `--topic`, `--race-window-us` past its bound, a frame, message or connection limit of 0 (`verify`'s too) |
//! | exit 0 when stdout's reader went away      | `consume` into a pipe closed before it is read                    |
//! | `--follow` waits for a topic not yet made   | stderr says so once; the first message produced is printed        |
//! | SIGTERM stops the broker cleanly (exit 0)  | `kill -TERM <pid>` with a follower connected, bounded wait        |
//! | a restart keeps every acknowledged message | everything consumed again after the restart                       |
//! | `verify` finds the data dir clean          | exit 0 after the broker stopped                                   |
//!
//! Every child is waited for with a deadline and killed by a guard if a test fails, so a
//! failing test never leaks a process.

use std::fs::{self, File};
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpListener};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::mpsc;
use std::thread;
use std::time::{Duration, Instant};

const BROKER: &str = env!("CARGO_BIN_EXE_broker");
const SYNCLOG: &str = env!("CARGO_BIN_EXE_synclog");

/// How long a broker may take to start or to stop, and a `synclog` command to finish.
const PATIENCE: Duration = Duration::from_secs(20);

// ---------------------------------------------------------------------------------------------
// A broker child process, and `synclog` runs
// ---------------------------------------------------------------------------------------------

/// A `broker` child process. Dropping it kills the process if it still runs.
struct BrokerProcess {
    child: Child,
    /// The address from its `listening on ADDR` line.
    addr: SocketAddr,
    /// Its stdout after the first line, one line per message; disconnected at EOF.
    stdout: mpsc::Receiver<String>,
    /// Where its stderr goes (its logs), for failure messages.
    stderr_path: PathBuf,
}

impl BrokerProcess {
    /// Starts `broker --listen 127.0.0.1:0 --data-dir DATA_DIR` and waits for its one line.
    fn start(data_dir: &Path, stderr_path: &Path) -> BrokerProcess {
        BrokerProcess::start_with(data_dir, stderr_path, &[])
    }

    /// As [`BrokerProcess::start`], with `extra` flags.
    fn start_with(data_dir: &Path, stderr_path: &Path, extra: &[&str]) -> BrokerProcess {
        let stderr = File::create(stderr_path).expect("stderr file");
        let mut child = Command::new(BROKER)
            .args(["--listen", "127.0.0.1:0", "--data-dir"])
            .arg(data_dir)
            .args(extra)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(stderr)
            .spawn()
            .expect("spawn the broker");
        let stdout = lines_of(child.stdout.take().expect("piped stdout"));
        let mut broker = BrokerProcess {
            child,
            addr: SocketAddr::from(([0, 0, 0, 0], 0)),
            stdout,
            stderr_path: stderr_path.into(),
        };
        let first = broker
            .stdout
            .recv_timeout(PATIENCE)
            .unwrap_or_else(|e| panic!("no `listening on` line ({e}); stderr: {}", broker.stderr()));
        let addr = first.strip_prefix("listening on ").unwrap_or_else(|| panic!("first line: {first:?}"));
        broker.addr = addr.parse().unwrap_or_else(|e| panic!("{addr:?} is not an address: {e}"));
        assert!(broker.addr.ip().is_loopback() && broker.addr.port() != 0, "{first}");
        broker
    }

    fn addr(&self) -> String {
        self.addr.to_string()
    }

    fn stderr(&self) -> String {
        fs::read_to_string(&self.stderr_path).unwrap_or_default()
    }

    /// Waits (bounded) for a line of its stderr containing `needle`; returns that line.
    fn stderr_line(&self, needle: &str) -> String {
        let deadline = Instant::now() + PATIENCE;
        while Instant::now() < deadline {
            // Whole lines only: the broker may be part-way through writing the one wanted.
            let stderr = self.stderr();
            if let Some(line) =
                stderr.split_inclusive('\n').find(|line| line.ends_with('\n') && line.contains(needle))
            {
                return line.trim_end().to_string();
            }
            thread::sleep(Duration::from_millis(20));
        }
        panic!("no stderr line with {needle:?} within {PATIENCE:?}: {}", self.stderr())
    }

    /// Sends SIGTERM, waits (bounded) for the exit, and returns the exit status and whatever
    /// the broker printed to stdout after its first line.
    fn terminate(mut self) -> (ExitStatus, Vec<String>) {
        let pid = self.child.id().to_string();
        let kill = Command::new("kill").args(["-TERM", &pid]).status().expect("run kill");
        assert!(kill.success(), "kill -TERM {pid}: {kill}");
        let status = wait_bounded(&mut self.child).unwrap_or_else(|| {
            panic!("the broker did not exit within {PATIENCE:?} of SIGTERM; stderr: {}", self.stderr())
        });
        // The process is gone, so its stdout is at EOF: the reader drains and disconnects.
        let mut rest = Vec::new();
        let deadline = Instant::now() + PATIENCE;
        while let Ok(line) = self.stdout.recv_timeout(deadline.saturating_duration_since(Instant::now())) {
            rest.push(line);
        }
        (status, rest)
    }
}

impl Drop for BrokerProcess {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// A child process killed on drop if it still runs (a failing test leaks no process).
struct Guarded(Child);

impl Drop for Guarded {
    fn drop(&mut self) {
        if let Ok(None) = self.0.try_wait() {
            let _ = self.0.kill();
            let _ = self.0.wait();
        }
    }
}

/// The lines of a child's output, as they come. A thread reads them until EOF (the child's
/// exit), which disconnects the channel.
fn lines_of(pipe: impl Read + Send + 'static) -> mpsc::Receiver<String> {
    let (lines, receiver) = mpsc::channel();
    thread::spawn(move || {
        for line in BufReader::new(pipe).lines() {
            let Ok(line) = line else { break };
            if lines.send(line).is_err() {
                break;
            }
        }
    });
    receiver
}

/// Waits for `child` to exit, for at most `PATIENCE`; `None` if it still runs.
fn wait_bounded(child: &mut Child) -> Option<ExitStatus> {
    let deadline = Instant::now() + PATIENCE;
    while Instant::now() < deadline {
        if let Some(status) = child.try_wait().expect("try_wait") {
            return Some(status);
        }
        thread::sleep(Duration::from_millis(20));
    }
    None
}

/// What a finished command did.
#[derive(Debug)]
struct Run {
    code: Option<i32>,
    stdout: String,
    stderr: String,
}

impl Run {
    /// Asserts exit 0 with nothing on stderr; returns stdout.
    fn ok(&self) -> &str {
        assert_eq!(self.code, Some(0), "{self:#?}");
        assert_eq!(self.stderr, "", "{self:#?}");
        &self.stdout
    }

    /// Asserts exit 1 with exactly one line on stderr (and nothing on stdout); returns it.
    fn error(&self) -> &str {
        assert_eq!(self.code, Some(1), "{self:#?}");
        assert_eq!(self.stderr.lines().count(), 1, "{self:#?}");
        assert_eq!(self.stdout, "", "{self:#?}");
        self.stderr.trim_end()
    }
}

/// Runs `program` with `args`, feeding it `stdin` (or nothing), and waits for it, at most
/// `PATIENCE`: a command still running then is killed (by its id) and the test fails.
fn run(program: &str, args: &[&str], stdin: Option<&[u8]>) -> Run {
    let mut child = Command::new(program)
        .args(args)
        .stdin(if stdin.is_some() { Stdio::piped() } else { Stdio::null() })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("spawn {program}: {e}"));
    if let Some(input) = stdin {
        // Dropping the pipe at the end of this block is the EOF the command reads to.
        let mut pipe = child.stdin.take().expect("piped stdin");
        pipe.write_all(input).expect("write stdin");
    }
    let pid = child.id();
    let (done, outcome) = mpsc::channel();
    thread::spawn(move || {
        let _ = done.send(child.wait_with_output());
    });
    match outcome.recv_timeout(PATIENCE) {
        Ok(output) => {
            let output = output.expect("wait for the command");
            Run {
                code: output.status.code(),
                stdout: String::from_utf8(output.stdout).expect("UTF-8 stdout"),
                stderr: String::from_utf8(output.stderr).expect("UTF-8 stderr"),
            }
        }
        Err(_) => {
            let _ = Command::new("kill").args(["-KILL", &pid.to_string()]).status();
            panic!("{program} {args:?} did not finish within {PATIENCE:?}");
        }
    }
}

fn synclog(args: &[&str]) -> Run {
    run(SYNCLOG, args, None)
}

/// An address on 127.0.0.1 where nothing listens: port 1, below the ephemeral range, so no
/// broker a parallel test starts on port 0 can take it (as it could a port just released).
fn unreachable_addr() -> String {
    let addr = "127.0.0.1:1";
    assert!(std::net::TcpStream::connect(addr).is_err(), "something listens on {addr}");
    addr.to_string()
}

fn path_str(path: &Path) -> &str {
    path.to_str().expect("a UTF-8 temp path")
}

// ---------------------------------------------------------------------------------------------
// Tests
// ---------------------------------------------------------------------------------------------

#[test]
fn both_binaries_print_help_naming_their_flags_and_exit_0() {
    let broker_help = run(BROKER, &["--help"], None);
    let text = broker_help.ok();
    for flag in [
        "--listen",
        "--data-dir",
        "--strategy",
        "--fsync",
        "--fsync-interval-ms",
        "--race-window-us",
        "--max-frame-bytes",
        "--max-message-bytes",
        "--max-connections",
        "--frame-timeout-ms",
        "--idle-timeout-ms",
    ] {
        assert!(text.contains(flag), "broker --help does not mention {flag}:\n{text}");
    }
    let synclog_help = synclog(&["--help"]);
    let text = synclog_help.ok();
    for command in ["produce", "consume", "topics", "verify", "--help"] {
        assert!(text.contains(command), "synclog --help does not mention {command}:\n{text}");
    }
    // The client's own description, not the crate's.
    for words in ["The client of a synclog broker", "Exit codes", "3 integrity violated"] {
        assert!(text.contains(words), "synclog --help does not say {words:?}:\n{text}");
    }
    assert!(!text.contains("harness that races it"), "synclog --help describes the crate:\n{text}");
    let commands: [(&str, &[&str]); 4] = [
        ("produce", &["--broker", "--topic"]),
        ("consume", &["--broker", "--topic", "--from", "--max", "--follow", "--format"]),
        ("topics", &["--broker"]),
        ("verify", &["--data-dir", "--topic"]),
    ];
    for (command, flags) in commands {
        let help = synclog(&[command, "--help"]);
        let text = help.ok();
        for flag in flags {
            assert!(text.contains(flag), "synclog {command} --help does not mention {flag}:\n{text}");
        }
    }
}

#[test]
fn bad_usage_exits_2() {
    let cases: [(&str, &[&str]); 18] = [
        (SYNCLOG, &["produce", "--topic", "t", "--no-such-flag"]),
        // A --broker that is not HOST:PORT does not parse: bad usage, not an unreachable broker.
        (SYNCLOG, &["produce", "--broker", "bad", "--topic", "t", "m"]),
        (SYNCLOG, &["consume", "--broker", "127.0.0.1", "--topic", "t"]),
        (SYNCLOG, &["topics", "--broker", "localhost:99999"]),
        // A race window past its bound (one second) would stall every append for hours.
        (BROKER, &["--race-window-us", "99999999999"]),
        (SYNCLOG, &["consume", "--topic", "t", "--format", "xml"]),
        (SYNCLOG, &["consume", "--topic", "t", "--from", "minus-one"]),
        (SYNCLOG, &["no-such-command"]),
        (BROKER, &["--no-such-flag"]),
        (BROKER, &["--strategy", "spinlock"]),
        (BROKER, &["--listen", "not-an-address"]),
        // A limit of 0 would start a broker that refuses every request.
        (BROKER, &["--max-frame-bytes", "0"]),
        (BROKER, &["--max-message-bytes", "0"]),
        (BROKER, &["--max-connections", "0"]),
        (BROKER, &["--max-topics", "0"]),
        // Zero durations were silently raised to 1 ms: refused instead, as documented.
        (BROKER, &["--fsync-interval-ms", "0"]),
        (BROKER, &["--frame-timeout-ms", "0"]),
        (BROKER, &["--idle-timeout-ms", "0"]),
    ];
    for (program, args) in cases {
        let result = run(program, args, None);
        assert_eq!(result.code, Some(2), "{program} {args:?}: {result:#?}");
        assert!(!result.stderr.trim().is_empty(), "{program} {args:?} says nothing: {result:#?}");
        assert_eq!(result.stdout, "", "{program} {args:?}");
    }
}

#[test]
fn an_unreachable_broker_or_a_missing_data_dir_exits_1_with_one_line() {
    let addr = unreachable_addr();
    for args in [
        &["produce", "--broker", &addr, "--topic", "t", "m"][..],
        &["consume", "--broker", &addr, "--topic", "t", "--from", "0"],
        &["topics", "--broker", &addr],
    ] {
        let line = synclog(args).error().to_string();
        assert!(line.contains(&addr), "{args:?}: the error should name the address: {line}");
    }
    let root = tempfile::tempdir().expect("temp dir");
    let missing = root.path().join("missing");
    synclog(&["verify", "--data-dir", path_str(&missing)]).error();
    assert!(!missing.exists(), "verify is read-only: it created {}", missing.display());
}

/// Everything a client can see of the topics `t1` ("a" to "d") and `t2` (`t2_text`), at `moment`.
fn check_contents(addr: &str, t2_text: &str, moment: &str) {
    let at = ["--broker", addr];
    let consume = |topic: &str, extra: &[&str]| {
        let args = [&["consume"][..], &at, &["--topic", topic, "--from", "0"], extra].concat();
        synclog(&args).ok().to_string()
    };
    assert_eq!(consume("t1", &[]), "a\nb\nc\nd\n", "{moment}: text");
    assert_eq!(consume("t2", &[]), t2_text, "{moment}: text from stdin");
    assert_eq!(
        synclog(&[&["consume"][..], &at, &["--topic", "t1", "--from", "2"]].concat()).ok(),
        "c\nd\n",
        "{moment}: --from 2"
    );
    assert_eq!(consume("t1", &["--format", "hex"]), "0\t61\n1\t62\n2\t63\n3\t64\n", "{moment}: hex");
    let json = consume("t1", &["--format", "json"]);
    let objects: Vec<serde_json::Value> = json
        .lines()
        .map(|line| serde_json::from_str(line).unwrap_or_else(|e| panic!("{moment}: {line:?}: {e}")))
        .collect();
    let expected: Vec<serde_json::Value> = ["a", "b", "c", "d"]
        .iter()
        .enumerate()
        .map(|(offset, payload)| {
            serde_json::json!({
                "topic": "t1",
                "offset": offset,
                "payload": payload,
                "hex": format!("{:02x}", payload.as_bytes()[0]),
            })
        })
        .collect();
    assert_eq!(objects, expected, "{moment}: json");
    assert_eq!(consume("t2", &["--max", "2"]), "line 0\nline 1\n", "{moment}: --max 2");
    assert_eq!(synclog(&[&["topics"][..], &at].concat()).ok(), "t1\t4\nt2\t2500\n", "{moment}: topics");
}

/// Errors a user can act on (exit 1, one line), and a second broker refused an address in use
/// and a file as its data dir. `root` holds the running broker's files; `addr` is its address.
fn refusals(root: &Path, addr: &str) {
    let at = ["--broker", addr];
    // Errors a user can act on: exit 1, one line.
    let unknown = synclog(&[&["consume"][..], &at, &["--topic", "no-such-topic", "--from", "0"]].concat());
    assert!(unknown.error().contains("no-such-topic"), "{unknown:#?}");
    // A topic name the broker would refuse is refused before connecting: bad usage.
    assert_eq!(synclog(&[&["produce"][..], &at, &["--topic", "../escape", "m"]].concat()).code, Some(2));
    assert!(!root.join("escape").exists());

    // A second broker cannot take the address, nor use a file as its data dir: exit 1 with the
    // reason on stderr, and no `listening on` line.
    let not_a_dir = root.join("not-a-dir");
    fs::write(&not_a_dir, "a file").expect("write a file");
    for args in [
        &["--listen", addr, "--data-dir", path_str(&root.join("other"))][..],
        &["--listen", "127.0.0.1:0", "--data-dir", path_str(&not_a_dir)],
    ] {
        let refused = run(BROKER, args, None);
        assert_eq!(refused.code, Some(1), "broker {args:?}: {refused:#?}");
        assert_eq!(refused.stdout, "", "broker {args:?}");
        assert!(!refused.stderr.trim().is_empty(), "broker {args:?}: {refused:#?}");
    }
}

/// `synclog consume --follow` of `topic` from offset 0, and its stdout's lines as they come.
fn follow(addr: &str, topic: &str) -> (Guarded, mpsc::Receiver<String>) {
    let mut follower = Guarded(
        Command::new(SYNCLOG)
            .args(["consume", "--broker", addr, "--topic", topic, "--from", "0", "--follow"])
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn the follower"),
    );
    let followed = lines_of(follower.0.stdout.take().expect("piped stdout"));
    (follower, followed)
}

/// A follower in a long poll, then SIGTERM to the broker: a clean exit although the follower is
/// connected, and the follower stopping with an error.
fn follow_then_terminate(broker: BrokerProcess, addr: &str, stderr_path: &Path) {
    // A follower waits in a long poll: it has printed t1, and holds a connection open.
    let (mut follower, followed) = follow(addr, "t1");
    for expected in ["a", "b", "c", "d"] {
        assert_eq!(followed.recv_timeout(PATIENCE).as_deref(), Ok(expected), "the follower's output");
    }

    // SIGTERM: a clean exit although a client is connected, and nothing on stdout but the one
    // line. The follower, its broker gone, stops with an error.
    let (status, rest) = broker.terminate();
    assert_eq!(
        status.code(),
        Some(0),
        "the broker's exit after SIGTERM; stderr: {}",
        fs::read_to_string(stderr_path).unwrap_or_default()
    );
    assert_eq!(rest, Vec::<String>::new(), "the broker printed more than its one line");
    let follower_status = wait_bounded(&mut follower.0).expect("the follower ends with its broker");
    assert_eq!(follower_status.code(), Some(1), "the follower's exit once the broker stopped");
}

#[test]
fn the_binaries_produce_consume_and_list_and_a_restart_keeps_every_acknowledged_message() {
    let root = tempfile::tempdir().expect("temp dir");
    let data_dir = root.path().join("data");
    let stderr_path = root.path().join("broker.stderr");
    let broker = BrokerProcess::start(&data_dir, &stderr_path);
    let addr = broker.addr();
    let at = ["--broker", addr.as_str()];

    // t1 from arguments; t2 from stdin, more lines than one produce batch (1000) holds.
    let produced = synclog(&[&["produce"][..], &at, &["--topic", "t1", "a", "b", "c"]].concat());
    assert!(produced.ok().contains("3 messages"), "{produced:#?}");
    let t2_lines: Vec<String> = (0..2500)
        .map(|i| if i % 500 == 7 { format!("héllo wörld {i}") } else { format!("line {i}") })
        .collect();
    let t2_text = t2_lines.iter().map(|l| format!("{l}\n")).collect::<String>();
    run(SYNCLOG, &[&["produce"][..], &at, &["--topic", "t2"]].concat(), Some(t2_text.as_bytes())).ok();
    // A second produce to t1 appends after the first.
    synclog(&[&["produce"][..], &at, &["--topic", "t1", "d"]].concat()).ok();

    check_contents(&addr, &t2_text, "before the restart");

    refusals(root.path(), &addr);

    follow_then_terminate(broker, &addr, &stderr_path);

    // The same data dir again: every acknowledged message is still there, and the topics
    // take new messages at the next offsets.
    let broker = BrokerProcess::start(&data_dir, &root.path().join("restarted.stderr"));
    let addr = broker.addr();
    check_contents(&addr, &t2_text, "after the restart");
    synclog(&["produce", "--broker", &addr, "--topic", "t1", "e"]).ok();
    assert_eq!(synclog(&["consume", "--broker", &addr, "--topic", "t1", "--from", "4"]).ok(), "e\n");
    let (status, rest) = broker.terminate();
    assert_eq!(status.code(), Some(0));
    assert_eq!(rest, Vec::<String>::new());

    // Offline, the data dir checks clean, whole and topic by topic.
    let verified = synclog(&["verify", "--data-dir", path_str(&data_dir)]);
    let report = verified.ok();
    assert!(report.contains("t1") && report.contains("t2"), "{report}");
    for topic in ["t1", "t2"] {
        synclog(&["verify", "--data-dir", path_str(&data_dir), "--topic", topic]).ok();
    }
}

/// `synclog` reads all of stdin before it sends the last batch: a slow writer loses nothing.
/// `synclog produce --broker addr --topic topic` reading its stdin, with stdin, stdout and
/// stderr piped to the test.
fn produce_from_stdin(addr: &str, topic: &str) -> Guarded {
    Guarded(
        Command::new(SYNCLOG)
            .args(["produce", "--broker", addr, "--topic", topic])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn"),
    )
}

#[test]
fn produce_from_a_stdin_that_arrives_slowly_sends_every_line() {
    let root = tempfile::tempdir().expect("temp dir");
    let broker = BrokerProcess::start(&root.path().join("data"), &root.path().join("broker.stderr"));
    let addr = broker.addr();
    let mut child = produce_from_stdin(&addr, "slow");
    let mut stdin = child.0.stdin.take().expect("stdin");
    for i in 0..5 {
        writeln!(stdin, "slow {i}").expect("write");
        stdin.flush().expect("flush");
        thread::sleep(Duration::from_millis(20));
    }
    drop(stdin);
    // Panics (and the guard kills it) if it still runs; only then is its stderr at EOF.
    let status = wait_bounded(&mut child.0).expect("produce finishes once stdin closes");
    let mut stderr = String::new();
    child.0.stderr.take().expect("stderr").read_to_string(&mut stderr).expect("read stderr");
    assert_eq!(status.code(), Some(0), "{stderr}");
    let consumed = synclog(&["consume", "--broker", &addr, "--topic", "slow", "--from", "0"]);
    assert_eq!(consumed.ok(), "slow 0\nslow 1\nslow 2\nslow 3\nslow 4\n");
    let (status, _) = broker.terminate();
    assert_eq!(status.code(), Some(0));
}

/// A topic name the broker would refuse, and a `verify --max-message-bytes` of 0, are bad usage
/// (exit 2) with the reason, found before any connection: the broker here is unreachable, which
/// would be exit 1.
#[test]
fn bad_topic_names_and_a_zero_max_message_bytes_are_refused_before_connecting() {
    let addr = unreachable_addr();
    let long = "t".repeat(250);
    let cases: [(&str, &str); 5] = [
        ("", "cannot be empty"),
        ("a/b", "may only contain"),
        ("héllo", "may only contain"),
        (&long, "at most 249"),
        ("..", "not topic names"),
    ];
    for (topic, reason) in cases {
        for args in [
            &["produce", "--broker", &addr, "--topic", topic, "m"][..],
            &["consume", "--broker", &addr, "--topic", topic],
            &["verify", "--data-dir", "/nonexistent-synclog-dir", "--topic", topic],
        ] {
            let result = synclog(args);
            assert_eq!(result.code, Some(2), "{args:?}: {result:#?}");
            assert!(result.stderr.contains(reason), "{args:?} should say {reason:?}: {result:#?}");
            assert_eq!(result.stdout, "", "{args:?}");
        }
    }
    // The broker refuses a limit of 0 too; verify would call every record corrupt.
    let root = tempfile::tempdir().expect("temp dir");
    let zero = synclog(&["verify", "--data-dir", path_str(root.path()), "--max-message-bytes", "0"]);
    assert_eq!(zero.code, Some(2), "{zero:#?}");
    assert!(zero.stderr.contains("--max-message-bytes"), "{zero:#?}");
    synclog(&["verify", "--data-dir", path_str(root.path()), "--max-message-bytes", "1"]).ok();
}

/// A bad stdin line after 1000 acknowledged ones (a full batch): exit 1 with one line naming the
/// line, why, and what was acknowledged at which offsets; the lines read before it and not yet
/// sent are not sent, so the topic holds exactly what the error says.
#[test]
fn produce_stops_at_a_bad_stdin_line_and_says_what_was_acknowledged() {
    let root = tempfile::tempdir().expect("temp dir");
    let broker = BrokerProcess::start_with(
        &root.path().join("data"),
        &root.path().join("broker.stderr"),
        &["--max-message-bytes", "100"],
    );
    let addr = broker.addr();
    let lines = |range: std::ops::RangeInclusive<u32>| range.map(|i| format!("{i}\n")).collect::<String>();
    let topic_count = |topic: &str| {
        let listed = synclog(&["topics", "--broker", &addr]).ok().to_string();
        listed.lines().find_map(|l| l.strip_prefix(&format!("{topic}\t"))?.parse::<u64>().ok())
    };

    // Not UTF-8 at line 1501: lines 1..=1000 were sent as one batch, 1001..=1500 were not.
    let mut input = lines(1..=1500).into_bytes();
    input.extend_from_slice(b"\xff\n1502\n");
    assert_eq!(
        produce_stdin(&addr, "part", &input).error(),
        "synclog: stdin line 1501 is not UTF-8 (stdin lines 1001..=1500, read before it, were not sent); \
         1000 messages, from stdin lines 1..=1000, were acknowledged first, at offsets 0..=999"
    );
    assert_eq!(topic_count("part"), Some(1000));

    // Too large for the broker (over 100 bytes) at line 1201: its batch, lines 1001..=1300, is
    // refused whole.
    let mut input = lines(1..=1200);
    input.push_str(&format!("{}\n", "x".repeat(200)));
    input.push_str(&lines(1202..=1300));
    let result = produce_stdin(&addr, "big", input.as_bytes());
    let line = result.error();
    let expected = "synclog: the broker refused stdin lines 1001..=1300 and stored none of them (stdin \
                    line 1201 has 200 bytes, more than its maximum of 100); 1000 messages, from stdin \
                    lines 1..=1000, were acknowledged first, at offsets 0..=999: the broker answered \
                    MessageTooLarge";
    assert!(line.starts_with(expected), "{line}");
    assert_eq!(topic_count("big"), Some(1000));

    // A bad first line: nothing was sent.
    let result = produce_stdin(&addr, "first", b"\xfe\n");
    assert_eq!(result.error(), "synclog: stdin line 1 is not UTF-8; nothing was acknowledged");
    assert_eq!(topic_count("first"), None);
    let (status, _) = broker.terminate();
    assert_eq!(status.code(), Some(0));
}

/// `synclog produce --broker ADDR --topic TOPIC` with `input` on stdin.
fn produce_stdin(addr: &str, topic: &str, input: &[u8]) -> Run {
    run(SYNCLOG, &["produce", "--broker", addr, "--topic", topic], Some(input))
}

/// `consume` into a pipe whose reader went away (as under `| head -1`) stops quietly with exit
/// 0; a full stdout (/dev/full) is an error that names stdout.
#[test]
fn a_closed_stdout_ends_consume_quietly_and_a_full_one_is_named() {
    let root = tempfile::tempdir().expect("temp dir");
    let broker = BrokerProcess::start(&root.path().join("data"), &root.path().join("broker.stderr"));
    let addr = broker.addr();
    // More than a pipe holds (64 KiB), so consume is still writing when the reader is gone.
    let text: String = (0..3000).map(|i| format!("{i:0>99}\n")).collect();
    produce_stdin(&addr, "many", text.as_bytes()).ok();

    let mut consumer = Guarded(
        Command::new(SYNCLOG)
            .args(["consume", "--broker", &addr, "--topic", "many"])
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn consume"),
    );
    let mut stdout = consumer.0.stdout.take().expect("piped stdout");
    let mut first = [0u8; 100];
    stdout.read_exact(&mut first).expect("the first line");
    assert_eq!(&first[..], format!("{:0>99}\n", 0).as_bytes());
    drop(stdout);
    let status = wait_bounded(&mut consumer.0).expect("consume ends once its reader is gone");
    let mut stderr = String::new();
    consumer.0.stderr.take().expect("stderr").read_to_string(&mut stderr).expect("read stderr");
    assert_eq!((status.code(), stderr.as_str()), (Some(0), ""));

    let full = File::options().write(true).open("/dev/full").expect("open /dev/full");
    let output = Command::new(SYNCLOG)
        .args(["topics", "--broker", &addr])
        .stdin(Stdio::null())
        .stdout(full)
        .stderr(Stdio::piped())
        .output()
        .expect("run topics");
    assert_eq!(output.status.code(), Some(1));
    assert_eq!(
        String::from_utf8_lossy(&output.stderr),
        "synclog: cannot write to stdout: No space left on device (os error 28)\n"
    );
    let (status, _) = broker.terminate();
    assert_eq!(status.code(), Some(0));
}

/// Stdin that pauses past the broker's idle timeout between two batches: the broker closes the
/// idle connection, and produce opens a new one for the next batch (which had not been sent), so
/// every line is stored once.
#[test]
fn produce_reconnects_when_the_broker_closed_the_connection_between_batches() {
    let root = tempfile::tempdir().expect("temp dir");
    let broker = BrokerProcess::start_with(
        &root.path().join("data"),
        &root.path().join("broker.stderr"),
        &["--idle-timeout-ms", "200"],
    );
    let addr = broker.addr();
    let mut child = produce_from_stdin(&addr, "idle");
    let mut stdin = child.0.stdin.take().expect("stdin");
    for i in 0..1000 {
        writeln!(stdin, "m{i}").expect("write");
    }
    stdin.flush().expect("flush");
    // The first batch was sent on a connection the broker then closed as idle.
    broker.stderr_line("idle timeout");
    writeln!(stdin, "m1000").expect("write");
    drop(stdin);
    let status = wait_bounded(&mut child.0).expect("produce finishes once stdin closes");
    let (mut out, mut err) = (String::new(), String::new());
    child.0.stdout.take().expect("stdout").read_to_string(&mut out).expect("read stdout");
    child.0.stderr.take().expect("stderr").read_to_string(&mut err).expect("read stderr");
    assert_eq!(
        (status.code(), out.as_str(), err.as_str()),
        (Some(0), "produced 1001 messages to idle at offsets 0..=1000\n", "")
    );
    let consumed = synclog(&["consume", "--broker", &addr, "--topic", "idle", "--from", "999"]);
    assert_eq!(consumed.ok(), "m999\nm1000\n");
    let (status, _) = broker.terminate();
    assert_eq!(status.code(), Some(0));
}

/// `--broker` pointed at the Kafka listener: the undecodable reply is named with a hint.
#[test]
fn a_kafka_port_given_as_broker_gets_a_hint() {
    let root = tempfile::tempdir().expect("temp dir");
    let broker = BrokerProcess::start_with(
        &root.path().join("data"),
        &root.path().join("broker.stderr"),
        &["--kafka-listen", "127.0.0.1:0"],
    );
    let line = broker.stderr_line("kafka listener on ");
    let kafka = line.rsplit(' ').next().expect("an address").to_string();
    // A Produce draws an answer that does not decode; a topic listing, a closed connection.
    for args in [&["produce", "--broker", &kafka, "--topic", "t", "m"][..], &["topics", "--broker", &kafka]] {
        let result = synclog(args);
        assert!(result.error().contains("is this the broker's native port?"), "{args:?}: {result:#?}");
    }
    let (status, _) = broker.terminate();
    assert_eq!(status.code(), Some(0));
}

/// A server that accepts connections and never answers (here a listener nobody accepts from: the
/// kernel completes the connection and holds what is sent): each command names the silence
/// after the probe's 10 s instead of waiting the 60 s a busy broker's answers get.
#[test]
fn a_silent_peer_is_named_after_the_probe_timeout() {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let addr = listener.local_addr().expect("addr").to_string();
    let commands: Vec<Vec<String>> = [
        &["produce", "--broker", &addr, "--topic", "t", "m"][..],
        &["consume", "--broker", &addr, "--topic", "t", "--follow"],
        &["topics", "--broker", &addr],
    ]
    .iter()
    .map(|args| args.iter().map(|a| a.to_string()).collect())
    .collect();
    // All at once, so the test waits one timeout, not three.
    let runs: Vec<_> = commands
        .into_iter()
        .map(|args| {
            thread::spawn(move || (synclog(&args.iter().map(String::as_str).collect::<Vec<_>>()), args))
        })
        .collect();
    for handle in runs {
        let (result, args) = handle.join().expect("a command's thread");
        let line = result.error();
        assert!(line.contains("no answer to a topic listing within 10 s"), "{args:?}: {line}");
        assert!(line.contains("native port?"), "{args:?}: {line}");
    }
    drop(listener);
}

/// `consume --follow` of a topic that does not exist yet says so once on stderr and prints the
/// topic's first message when a producer makes it (as `tail -F` waits for a file).
#[test]
fn following_a_topic_not_yet_made_waits_for_its_first_message() {
    let root = tempfile::tempdir().expect("temp dir");
    let broker = BrokerProcess::start(&root.path().join("data"), &root.path().join("broker.stderr"));
    let addr = broker.addr();
    let (mut follower, followed) = follow(&addr, "later");
    let told = lines_of(follower.0.stderr.take().expect("piped stderr"));
    let line = told.recv_timeout(PATIENCE).expect("the follower says it waits");
    assert!(line.contains("later does not exist yet; waiting for it"), "{line}");
    synclog(&["produce", "--broker", &addr, "--topic", "later", "first", "second"]).ok();
    for expected in ["first", "second"] {
        assert_eq!(followed.recv_timeout(PATIENCE).as_deref(), Ok(expected), "the follower's output");
    }
    assert!(told.try_recv().is_err(), "the follower said it waits only once");
    let (status, _) = broker.terminate();
    assert_eq!(status.code(), Some(0));
    assert_eq!(wait_bounded(&mut follower.0).and_then(|s| s.code()), Some(1));
}

/// A peer that answers every fetch with no records below a high watermark of 10 (no synclog
/// broker does: a damaged log is answered CorruptLog): `consume` stops with an error naming the
/// answer instead of asking again for ever. The peer answers at most 1 000 fetches, then closes.
#[test]
fn consume_stops_when_a_broker_answers_no_records_below_its_high_watermark() {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let addr = listener.local_addr().expect("addr").to_string();
    thread::spawn(move || {
        let Ok((mut stream, _)) = listener.accept() else { return };
        for _ in 0..1_000 {
            let mut length = [0u8; 4];
            if stream.read_exact(&mut length).is_err() {
                return;
            }
            let mut frame = vec![0u8; u32::from_be_bytes(length) as usize];
            if stream.read_exact(&mut frame).is_err() {
                return;
            }
            // The request: api, version, correlation id, body. The response: correlation id,
            // error 0, then a ListTopics body (topic t, next offset 10) or a Fetch body (high
            // watermark 10, no records).
            let mut reply = frame[2..6].to_vec();
            reply.extend_from_slice(&0u16.to_be_bytes());
            match frame[0] {
                2 => {
                    reply.extend_from_slice(&1u32.to_be_bytes());
                    reply.extend_from_slice(&1u16.to_be_bytes());
                    reply.extend_from_slice(b"t");
                    reply.extend_from_slice(&10u64.to_be_bytes());
                }
                _ => {
                    reply.extend_from_slice(&10u64.to_be_bytes());
                    reply.extend_from_slice(&0u32.to_be_bytes());
                }
            }
            let mut out = (reply.len() as u32).to_be_bytes().to_vec();
            out.extend_from_slice(&reply);
            if stream.write_all(&out).is_err() {
                return;
            }
        }
    });
    let result = synclog(&["consume", "--broker", &addr, "--topic", "t"]);
    let line = result.error();
    assert!(line.contains("no records at offset 0 below its high watermark 10"), "{result:#?}");
}
