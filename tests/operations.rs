//! Operator commands: `leadgate store backup` beside a running gateway
//! (the copy is a whole store another gateway serves the same leads from)
//! and `leadgate completions`.

mod common;

use std::process::Command;

use common::TestGateway;

fn leadgate(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_leadgate"))
        .args(args)
        .output()
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_backup_beside_a_running_gateway_holds_every_acknowledged_lead() {
    let gateway = TestGateway::start().await;
    let mut ids = Vec::new();
    for n in 0..20 {
        ids.push(
            gateway
                .add(&[("title", &format!("Лид {n}")), ("phone", "+79001112233")])
                .await,
        );
    }
    let config = gateway.dir.path().join("leadgate.toml");
    let backups = tempfile::tempdir().unwrap();
    let copy = backups.path().join("copy.db");
    let output = leadgate(&[
        "store",
        "backup",
        "--config",
        config.to_str().unwrap(),
        copy.to_str().unwrap(),
    ]);
    let said = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "{said}{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(said.contains("20 leads"), "{said}");
    // Still serving while and after the copy was taken.
    gateway
        .add(&[("title", "после"), ("phone", "+79001112244")])
        .await;

    // Never over an existing file.
    let again = leadgate(&[
        "store",
        "backup",
        "--config",
        config.to_str().unwrap(),
        copy.to_str().unwrap(),
    ]);
    assert_eq!(again.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&again.stderr).contains("never overwrites"));

    // The copy is a store: a gateway on it serves the same leads.
    let dir = tempfile::tempdir().unwrap();
    std::fs::copy(&copy, dir.path().join("leads.db")).unwrap();
    let restored = TestGateway::start_in(dir, "").await;
    for id in ids {
        let info = restored.get_json(&format!("action=info&id={id}")).await;
        assert_eq!(
            info["result"]["id"].to_string().trim_matches('"'),
            id.to_string(),
            "{info}"
        );
    }
}

#[test]
fn completions_are_printed_for_a_shell() {
    let output = leadgate(&["completions", "bash"]);
    assert!(output.status.success());
    let script = String::from_utf8_lossy(&output.stdout);
    assert!(script.contains("leadgate"), "{script}");
    assert!(script.contains("deliveries"), "{script}");
    let unknown = leadgate(&["completions", "cmd.exe"]);
    assert_eq!(unknown.status.code(), Some(2));
}
