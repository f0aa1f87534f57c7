//! The interactive shell's history file (issue 18): statements that carry
//! keys or values to encrypt are never written; others are. Driven through
//! a pseudo-terminal made by util-linux's `script`, since the shell is only
//! interactive on a terminal.

mod sandbox;

use std::io::{Read, Write};
use std::process::{Child, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use sandbox::Sandbox;

/// The shell on a pseudo-terminal, and everything it has printed.
struct Shell {
    child: Child,
    output: Arc<Mutex<String>>,
}

impl Shell {
    fn start(sandbox: &Sandbox) -> Self {
        let binary = assert_cmd::cargo::cargo_bin("sealhouse");
        let mut cmd = std::process::Command::new("script");
        // -q: no banner; -e: its exit status is the shell's; -c: the command.
        // TERM=dumb: plain line input, so the output has no escape sequences.
        cmd.args(["-qec", &format!("'{}' sql", binary.display()), "/dev/null"])
            .env("SHELL", "/bin/sh")
            .env("TERM", "dumb")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit());
        sandbox.configure(&mut cmd);
        let mut child = cmd
            .spawn()
            .expect("util-linux `script` runs (Debian: bsdutils)");
        let output = Arc::new(Mutex::new(String::new()));
        let sink = Arc::clone(&output);
        let mut stdout = child.stdout.take().expect("stdout");
        std::thread::spawn(move || {
            let mut buf = [0u8; 4096];
            while let Ok(n) = stdout.read(&mut buf) {
                if n == 0 {
                    break;
                }
                sink.lock()
                    .expect("output")
                    .push_str(&String::from_utf8_lossy(&buf[..n]));
            }
        });
        Self { child, output }
    }

    /// Waits until the shell has printed `text` `count` times in all.
    fn wait_for(&self, text: &str, count: usize) {
        let deadline = Instant::now() + Duration::from_secs(120);
        loop {
            let seen = self.output.lock().expect("output").matches(text).count();
            if seen >= count {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "the shell did not print {text:?} {count} times: {}",
                self.output.lock().expect("output")
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    fn type_line(&mut self, line: &str) {
        let stdin = self.child.stdin.as_mut().expect("stdin");
        stdin.write_all(line.as_bytes()).expect("type");
        stdin.write_all(b"\n").expect("type");
        stdin.flush().expect("flush");
    }

    /// Ctrl-D at the prompt, and the exit status.
    fn end(mut self) -> String {
        let stdin = self.child.stdin.as_mut().expect("stdin");
        stdin.write_all(b"\x04").expect("type");
        stdin.flush().expect("flush");
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            if let Some(status) = self.child.try_wait().expect("wait") {
                assert!(status.success(), "the shell failed: {}", self.output());
                break;
            }
            if Instant::now() > deadline {
                let _ = self.child.kill();
                panic!("the shell did not end on Ctrl-D: {}", self.output());
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        self.output()
    }

    fn output(&self) -> String {
        self.output.lock().expect("output").clone()
    }
}

const PROMPT: &str = "sealhouse:default> ";

#[test]
fn the_shell_history_keeps_ordinary_statements_and_no_secrets() {
    let sandbox = Sandbox::new();
    // A history written by an earlier version, with a raw key in it.
    std::fs::create_dir_all(sandbox.data()).expect("data dir");
    let history = sandbox.data().join("sql_history");
    std::fs::write(
        &history,
        "#V2\nSELECT 'from before' AS old;\n\
         SELECT ADD_KEY_TO_KEYSET(NEW_KEYSET('AES-GCM-256'), 'AES-GCM-256', \
         UNHEX('00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff'), 'old');\n",
    )
    .expect("old history");

    let mut shell = Shell::start(&sandbox);
    shell.wait_for(PROMPT, 1);
    shell.type_line("SELECT 40 + 2 AS harmless;");
    shell.wait_for(PROMPT, 2);
    shell.type_line("@k := NEW_KEYSET('AES-GCM-256', 'typed');");
    shell.wait_for(PROMPT, 3);
    shell.type_line(
        "SELECT ENHANCED_SYM_DECRYPT(@k, ENHANCED_SYM_ENCRYPT(@k, 'plaintext 13900001234')) \
         IS NOT NULL AS roundtrip;",
    );
    shell.wait_for(PROMPT, 4);
    shell.type_line(
        "SELECT length(UNHEX('b75585cf321cdcad42451690cdb7bfc49c26092f60f854e72d43244c55620a3d')) AS n;",
    );
    shell.wait_for(PROMPT, 5);
    // Over two lines: the statement is one history entry.
    shell.type_line("SELECT 'two' AS");
    shell.type_line("  lines;");
    shell.wait_for(PROMPT, 6);
    let output = shell.end();

    let saved = std::fs::read_to_string(&history).expect("history written");
    for kept in [
        "SELECT 40 + 2 AS harmless;",
        "SELECT 'from before' AS old;",
        "lines;",
    ] {
        assert!(saved.contains(kept), "{kept:?} missing from: {saved}");
    }
    for secret in [
        "13900001234",
        "ENHANCED_SYM_ENCRYPT",
        "NEW_KEYSET",
        "b75585cf",
        "00112233445566778899",
    ] {
        assert!(!saved.contains(secret), "{secret:?} kept in: {saved}");
    }
    // The statements ran, and the old secret's removal was said.
    assert!(output.contains("| 42 "), "{output}");
    assert!(output.contains("| true "), "{output}");
    assert!(output.contains("removed 1 statement(s)"), "{output}");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&history)
            .expect("history")
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
    }
}
