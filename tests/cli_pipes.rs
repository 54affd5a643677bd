//! Every `leadgate` command ends cleanly when the reader of its output has
//! gone (`leadgate … | head`) or its standard error is closed: an exit
//! code, never a panic.

mod common;

use std::process::{Command, Stdio};

use common::config_text;

fn leadgate() -> Command {
    Command::new(env!("CARGO_BIN_EXE_leadgate"))
}

#[test]
fn every_command_survives_closed_pipes() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("leadgate.toml");
    std::fs::write(&config, config_text(&dir.path().join("leads.db"), "")).unwrap();
    let broken = dir.path().join("broken.toml");
    std::fs::write(&broken, "[server]\nlisten = \"nowhere\"\n").unwrap();
    let config = config.display().to_string();
    let broken = broken.display().to_string();
    let commands: Vec<Vec<&str>> = vec![
        vec!["check", "--config", &config],
        vec!["check", "--config", &broken],
        vec!["check", "--config", "/no/such/file.toml"],
        vec!["deliveries", "--config", &config, "list"],
        vec!["deliveries", "--config", &config, "list", "--json"],
        vec!["deliveries", "--config", &config, "retry"],
        vec![
            "deliveries",
            "--config",
            &config,
            "replay",
            "--target",
            "none",
        ],
        vec!["translate", "--from", "salesman", "--to", "bitrix24"],
        vec!["translate", "--from", "nowhere", "--to", "bitrix24"],
        vec!["--help"],
        vec!["--version"],
        vec!["no-such-command"],
    ];
    for args in &commands {
        // Standard output closed, standard error read.
        let (reader, writer) = std::io::pipe().unwrap();
        drop(reader);
        let mut child = leadgate()
            .args(args)
            .stdin(Stdio::piped())
            .stdout(writer)
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        if let Some(mut stdin) = child.stdin.take() {
            use std::io::Write;
            let _ = stdin.write_all(b"login=a&apikey=b&action=add&title=x&phone=%2B79001112233");
        }
        let output = child.wait_with_output().unwrap();
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(!stderr.contains("panicked"), "{args:?}: {stderr}");
        assert_ne!(output.status.code(), Some(101), "{args:?}: {stderr}");
        assert!(
            output.status.code().is_some(),
            "{args:?} killed by a signal"
        );

        // Both closed.
        let (out_reader, out_writer) = std::io::pipe().unwrap();
        let (err_reader, err_writer) = std::io::pipe().unwrap();
        drop(out_reader);
        drop(err_reader);
        let status = leadgate()
            .args(args)
            .stdin(Stdio::null())
            .stdout(out_writer)
            .stderr(err_writer)
            .status()
            .unwrap();
        assert_ne!(status.code(), Some(101), "{args:?} with both closed");
        assert!(status.code().is_some(), "{args:?} killed by a signal");
    }
}
