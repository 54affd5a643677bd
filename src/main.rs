//! The `leadgate` command: `serve` runs the gateway, `check` validates a
//! configuration and its mapping files and says exactly what is wrong.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use leadgate::config::Settings;
use leadgate::gateway::Gateway;

#[derive(Parser)]
#[command(
    name = "leadgate",
    version,
    about = "Compatibility gateway for CRM lead APIs"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the gateway until SIGINT or SIGTERM.
    Serve {
        /// TOML configuration; LEADGATE__SECTION__KEY variables override it.
        #[arg(long, short)]
        config: PathBuf,
    },
    /// Validate the configuration and mapping files, then exit.
    Check {
        #[arg(long, short)]
        config: PathBuf,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("LEADGATE_LOG")
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .init();
    match cli.command {
        Command::Check { config } => check(&config),
        Command::Serve { config } => serve(&config),
    }
}

fn load(config: &std::path::Path) -> Result<Settings, ExitCode> {
    Settings::load(config).map_err(|problems| {
        for problem in problems {
            eprintln!("{problem}");
        }
        ExitCode::from(2)
    })
}

fn check(config: &std::path::Path) -> ExitCode {
    let settings = match load(config) {
        Ok(settings) => settings,
        Err(code) => return code,
    };
    match settings.check() {
        Ok(_) => {
            println!("{}: ok", config.display());
            ExitCode::SUCCESS
        }
        Err(problems) => {
            for problem in &problems {
                eprintln!("{problem}");
            }
            eprintln!("{} problem(s)", problems.len());
            ExitCode::from(2)
        }
    }
}

fn serve(config: &std::path::Path) -> ExitCode {
    let settings = match load(config) {
        Ok(settings) => settings,
        Err(code) => return code,
    };
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("cannot start the runtime: {error}");
            return ExitCode::FAILURE;
        }
    };
    runtime.block_on(async {
        let gateway = match Gateway::start(&settings, None).await {
            Ok(gateway) => gateway,
            Err(error) => {
                eprintln!("{error}");
                return ExitCode::from(2);
            }
        };
        match gateway.run_until_signal().await {
            Ok(()) => {
                tracing::info!("stopped; every acknowledged lead is on disk");
                ExitCode::SUCCESS
            }
            Err(error) => {
                tracing::error!(%error, "store did not close cleanly");
                ExitCode::FAILURE
            }
        }
    })
}
