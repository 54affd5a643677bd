//! The `leadgate` command: `serve` runs the gateway, `check` validates a
//! configuration and its mapping files and says exactly what is wrong,
//! `deliveries` inspects and re-drives forwarded leads.

#![forbid(unsafe_code)]

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use leadgate::app::Gateway;

/// Writes a line of a listing to standard output, inside a block that
/// returns `Result<(), _>`. A reader that has gone away (`leadgate
/// deliveries list | head`) ends the listing quietly instead of a panic;
/// any other write error is reported on standard error and ends it too.
macro_rules! out {
    ($($arg:tt)*) => {
        if let Err(error) = writeln!(std::io::stdout().lock(), $($arg)*) {
            if error.kind() != std::io::ErrorKind::BrokenPipe {
                say_err!("cannot write the output: {error}");
            }
            return Ok(());
        }
    };
}
use leadgate::config::Settings;

/// `eprintln!` that cannot panic: a closed standard error
/// (`leadgate check 2>&- …`) loses the message, not the exit code.
macro_rules! say_err {
    ($($arg:tt)*) => {{
        let _ = writeln!(std::io::stderr().lock(), $($arg)*);
    }};
}

/// `println!` for single results that cannot panic on a closed pipe.
macro_rules! say {
    ($($arg:tt)*) => {{
        if let Err(error) = writeln!(std::io::stdout().lock(), $($arg)*) {
            if error.kind() != std::io::ErrorKind::BrokenPipe {
                say_err!("cannot write the output: {error}");
            }
        }
    }};
}

/// See Cargo.toml for why and BENCHMARKS.md for the measurement; the library
/// leaves the choice of allocator to the binary that embeds it.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

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
    /// Read one request on stdin (or a canonical lead as JSON) and print
    /// what the gateway would send to a target of another dialect.
    Translate {
        /// salesman, bitrix24, livetex, uis or canonical.
        #[arg(long)]
        from: String,
        /// salesman, bitrix24, livetex, uis, webhook or canonical.
        #[arg(long)]
        to: String,
        /// Use this configuration's mapping files and target settings
        /// (the built-in mappings and placeholders otherwise).
        #[arg(long, short)]
        config: Option<PathBuf>,
        /// The gateway id the preview gives the lead (ORIGIN_ID, ext_id).
        #[arg(long, default_value_t = 1)]
        id: i64,
    },
    /// Copy an old system's leads into the store through its list API, so
    /// the old clients see the history. Each lead once (origin = the
    /// source and its id there), resumable after an interruption.
    Import {
        #[arg(long, short)]
        config: PathBuf,
        #[command(flatten)]
        source: ImportArgs,
    },
    /// Bring the store's schema up to this release and exit (a gateway
    /// also does this at start; replicas starting together apply each
    /// migration once).
    Migrate {
        #[arg(long, short)]
        config: PathBuf,
    },
    /// Store upkeep.
    Store {
        #[command(subcommand)]
        action: StoreAction,
    },
    /// Inspect and re-drive forwarded deliveries (works beside a running gateway).
    Deliveries {
        #[arg(long, short)]
        config: PathBuf,
        #[command(subcommand)]
        action: DeliveriesAction,
    },
    /// Print a completion script for a shell (bash, zsh, fish, elvish,
    /// powershell): `leadgate completions bash > /etc/bash_completion.d/leadgate`.
    Completions { shell: clap_complete::Shell },
}

#[derive(Subcommand)]
enum StoreAction {
    /// Copy leads, deliveries and sessions from one store to another (an
    /// SQLite file or a postgres:// URL), with no gateway running on
    /// either. Run again, it resumes where it stopped and adds nothing
    /// twice; the counts on both sides are compared at the end.
    Copy {
        /// An SQLite file or a postgres:// URL.
        #[arg(long)]
        from: String,
        /// An SQLite file or a postgres:// URL.
        #[arg(long)]
        to: String,
        /// The PostgreSQL schema on the PostgreSQL side (as `[store] schema`).
        #[arg(long)]
        schema: Option<String>,
    },
    /// An online, consistent copy of the SQLite store into a new file,
    /// taken beside a running gateway.
    Backup {
        #[arg(long, short)]
        config: PathBuf,
        /// The copy; must not exist yet.
        destination: PathBuf,
    },
}

#[derive(Subcommand)]
enum DeliveriesAction {
    /// Per-target counts, then delivery rows oldest first.
    List {
        /// pending, delivered or dead.
        #[arg(long)]
        state: Option<String>,
        #[arg(long)]
        target: Option<String>,
        /// Only the deliveries of this lead.
        #[arg(long)]
        lead: Option<i64>,
        /// Only the deliveries of the lead with this id at the target.
        #[arg(long)]
        external_id: Option<String>,
        /// Rows after this delivery id (paging).
        #[arg(long)]
        after: Option<i64>,
        #[arg(long, default_value_t = 50)]
        limit: u64,
        /// One JSON object per line instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// Put dead deliveries (or the given ones) back in the queue, due now.
    Retry {
        /// Delivery ids; repeat for several.
        #[arg(long = "id")]
        ids: Vec<i64>,
        #[arg(long)]
        target: Option<String>,
        /// Which rows: dead (the default) or pending (stuck in backoff).
        #[arg(long)]
        state: Option<String>,
    },
    /// Queue every lead created in [since, until) for a target again,
    /// delivered or not (a target that lost data, or one added later).
    Replay {
        #[arg(long)]
        target: String,
        /// RFC 3339 time or YYYY-MM-DD; unbounded when omitted.
        #[arg(long)]
        since: Option<String>,
        #[arg(long)]
        until: Option<String>,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let filter = leadgate::logging::filter(std::env::var("LEADGATE_LOG").ok().as_deref());
    let logs = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    match leadgate::logging::Format::from_env(std::env::var("LEADGATE_LOG_FORMAT").ok().as_deref())
    {
        // One JSON object per line, the span's fields (route, request id)
        // beside the event's, for log shippers.
        leadgate::logging::Format::Json => logs
            .json()
            .with_current_span(true)
            .with_span_list(false)
            .init(),
        leadgate::logging::Format::Text => logs
            .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
            .init(),
    }
    match cli.command {
        Command::Check { config } => check(&config),
        Command::Serve { config } => serve(&config),
        Command::Migrate { config } => migrate(&config),
        Command::Store {
            action: StoreAction::Copy { from, to, schema },
        } => store_copy(&from, &to, schema),
        Command::Store {
            action:
                StoreAction::Backup {
                    config,
                    destination,
                },
        } => store_backup(&config, &destination),
        Command::Completions { shell } => {
            clap_complete::generate(
                shell,
                &mut <Cli as clap::CommandFactory>::command(),
                "leadgate",
                &mut std::io::stdout(),
            );
            ExitCode::SUCCESS
        }
        Command::Deliveries { config, action } => deliveries(&config, action),
        Command::Translate {
            from,
            to,
            config,
            id,
        } => translate(&from, &to, config.as_deref(), id),
        Command::Import { config, source } => import(&config, source),
    }
}

fn load(config: &std::path::Path) -> Result<Settings, ExitCode> {
    Settings::load(config).map_err(|problems| {
        for problem in problems {
            say_err!("{problem}");
        }
        ExitCode::from(2)
    })
}

fn check(config: &std::path::Path) -> ExitCode {
    let settings = match load(config) {
        Ok(settings) => settings,
        Err(code) => return code,
    };
    match leadgate::app::wiring::check(&settings) {
        Ok(wiring) => {
            for warning in leadgate::app::wiring::warnings(&settings, &wiring) {
                say_err!("warning: {warning}");
            }
            for note in leadgate::app::wiring::update_notes(&settings, &wiring) {
                say!("note: {note}");
            }
            say!("{}: ok", config.display());
            ExitCode::SUCCESS
        }
        Err(problems) => {
            for problem in &problems {
                say_err!("{problem}");
            }
            say_err!("{} problem(s)", problems.len());
            ExitCode::from(2)
        }
    }
}

/// The settings and a single-threaded runtime, for a command that runs
/// beside or instead of a gateway.
fn command_setup(
    config: &std::path::Path,
) -> Result<(Settings, tokio::runtime::Runtime), ExitCode> {
    let settings = load(config)?;
    Ok((settings, command_runtime()?))
}

/// A single-threaded runtime for a command.
fn command_runtime() -> Result<tokio::runtime::Runtime, ExitCode> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|error| {
            say_err!("cannot start the runtime: {error}");
            ExitCode::FAILURE
        })
}

/// A store's settings from a place named on the command line: a
/// postgres:// URL, or an SQLite file.
fn store_at(place: &str, schema: &Option<String>) -> leadgate::config::StoreSettings {
    let mut settings = leadgate::config::StoreSettings::default();
    if place.starts_with("postgres://") || place.starts_with("postgresql://") {
        settings.url = Some(place.to_owned());
        settings.schema = schema.clone();
    } else {
        settings.path = PathBuf::from(place);
    }
    settings
}

/// The copy's progress as a bar with counts and rate, on standard error.
struct Bar(indicatif::ProgressBar);

impl leadgate::store::copy::Progress for Bar {
    fn total(&self, leads: u64) {
        self.0.set_length(leads);
    }

    fn advance(&self, leads: u64) {
        self.0.inc(leads);
    }
}

/// The configured store, opened beside a running gateway: no checkpoints
/// of its own.
async fn store_beside_gateway(
    settings: &Settings,
) -> Result<std::sync::Arc<dyn leadgate::store::Store>, ExitCode> {
    leadgate::app::stores::open(&settings.store, leadgate::app::stores::Opener::Command)
        .await
        .map_err(|error| {
            say_err!("{error}");
            ExitCode::from(2)
        })
}

/// The import's progress as a bar with counts and rate, on standard error.
struct ImportBar(indicatif::ProgressBar);

impl leadgate::import::ImportProgress for ImportBar {
    fn total(&self, leads: u64) {
        self.0.set_length(leads);
    }

    fn advance(&self, leads: u64) {
        self.0.inc(leads);
    }
}

/// Where `leadgate import` reads from.
#[derive(clap::Args)]
struct ImportArgs {
    /// salesman, bitrix24, livetex or uis.
    #[arg(long)]
    from: String,
    /// The old system's API: the SalesMan leads endpoint, the Bitrix24
    /// webhook URL, the LiveTex API base, the UIS Data API URL.
    #[arg(long)]
    url: String,
    #[arg(long)]
    login: Option<String>,
    #[arg(long)]
    apikey: Option<String>,
    #[arg(long)]
    password: Option<String>,
    /// A Bearer token (LiveTex) or access token (UIS). `--apikey`,
    /// `--password` and `--token` also take `env:NAME` or `file:PATH`.
    #[arg(long)]
    token: Option<String>,
    /// Only leads created on or after this day (YYYY-MM-DD, UTC).
    #[arg(long)]
    since: Option<chrono::NaiveDate>,
    /// Where the position is kept between runs.
    #[arg(long)]
    state: Option<PathBuf>,
    /// `origin.system` of the imported leads (default: the dialect and
    /// the source's host).
    #[arg(long)]
    origin: Option<String>,
}

fn import(config: &Path, args: ImportArgs) -> ExitCode {
    let (settings, runtime) = match command_setup(config) {
        Ok(setup) => setup,
        Err(code) => return code,
    };
    let wiring = match leadgate::app::wiring::check(&settings) {
        Ok(wiring) => wiring,
        Err(problems) => {
            for problem in &problems {
                say_err!("{problem}");
            }
            return ExitCode::from(2);
        }
    };
    let Some(protocol) = wiring.protocol(&args.from) else {
        say_err!(
            "--from {}: the sources are salesman, bitrix24, livetex, uis",
            args.from
        );
        return ExitCode::from(2);
    };
    let mut connection = leadgate::app::wiring::target_or_example(&settings, "", protocol);
    connection.name = format!("import-{}", args.from);
    connection.kind = args.from.clone();
    connection.url = args.url.clone();
    // Secrets as `env:NAME` or `file:PATH` keep them out of `ps` and the
    // shell's history.
    let secret = |value: Option<String>, option: &str| match value {
        None => Ok(None),
        Some(text) => leadgate::config::secrets::resolve_one(&text)
            .map(Some)
            .map_err(|reason| format!("--{option}: {reason}")),
    };
    let resolved = (
        secret(args.apikey, "apikey"),
        secret(args.password, "password"),
        secret(args.token, "token"),
    );
    let (Ok(apikey), Ok(password), Ok(token)) = resolved else {
        let (a, b, c) = resolved;
        for reason in [a.err(), b.err(), c.err()].into_iter().flatten() {
            say_err!("{reason}");
        }
        return ExitCode::from(2);
    };
    connection.login = args.login;
    connection.apikey = apikey;
    connection.password = password;
    connection.token = token;
    let host = reqwest::Url::parse(&args.url)
        .ok()
        .and_then(|url| url.host_str().map(str::to_owned))
        .unwrap_or_default();
    let options = leadgate::import::ImportOptions {
        origin_system: args
            .origin
            .unwrap_or_else(|| format!("{}:{host}", args.from)),
        state_path: args
            .state
            .unwrap_or_else(|| PathBuf::from(format!("leadgate-import-{}.json", args.from))),
        from: args.from,
        url: args.url,
        retry_delay: std::time::Duration::from_secs(1),
    };
    let source = leadgate::import::SourceSettings {
        connection,
        since: args
            .since
            .map(|day| day.and_time(chrono::NaiveTime::MIN).and_utc()),
    };
    runtime.block_on(async {
        let store = match store_beside_gateway(&settings).await {
            Ok(store) => store,
            Err(code) => return code,
        };
        let bar = indicatif::ProgressBar::new(0);
        bar.set_style(
            indicatif::ProgressStyle::with_template("{bar:40} {pos}/{len} leads, {per_sec}")
                .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
        );
        let outcome = leadgate::app::import::run(
            &settings,
            &wiring,
            store.clone(),
            source,
            &options,
            &ImportBar(bar.clone()),
        )
        .await;
        bar.finish_and_clear();
        let closed = store.close().await;
        match outcome {
            Ok(summary) => {
                if let Some(cursor) = &summary.resumed_at {
                    say!("resumed at {cursor}");
                }
                say!(
                    "imported {} new leads, {} already here ({} read in {} pages)",
                    summary.added,
                    summary.already_here,
                    summary.read,
                    summary.pages
                );
                if summary.unknown_assignees > 0 {
                    say!(
                        "{} leads named an assignee who is not an employee here; they are unassigned",
                        summary.unknown_assignees
                    );
                }
                match closed {
                    Ok(()) => ExitCode::SUCCESS,
                    Err(error) => {
                        say_err!("closing the store: {error}");
                        ExitCode::FAILURE
                    }
                }
            }
            Err(error) => {
                say_err!(
                    "import stopped: {error}; run it again to resume from {}",
                    options.state_path.display()
                );
                ExitCode::FAILURE
            }
        }
    })
}

fn store_backup(config: &Path, destination: &Path) -> ExitCode {
    let settings = match Settings::load(config) {
        Ok(settings) => settings,
        Err(problems) => {
            for problem in problems {
                say_err!("{problem}");
            }
            return ExitCode::from(2);
        }
    };
    if settings.store.url.is_some() {
        say_err!(
            "the store is PostgreSQL: back it up with pg_dump (or your database's own backups)"
        );
        return ExitCode::from(2);
    }
    match leadgate::store::sqlite::backup::backup(&settings.store.path, destination) {
        Ok(backup) => {
            say!(
                "{}: {} leads, {} deliveries, {} bytes",
                destination.display(),
                backup.leads,
                backup.deliveries,
                backup.bytes
            );
            ExitCode::SUCCESS
        }
        Err(error) => {
            say_err!("backup failed: {error}");
            ExitCode::FAILURE
        }
    }
}

fn store_copy(from: &str, to: &str, schema: Option<String>) -> ExitCode {
    use leadgate::app::stores::{open, Opener};

    let runtime = match command_runtime() {
        Ok(runtime) => runtime,
        Err(code) => return code,
    };
    runtime.block_on(async {
        let redacted = |place: &str| leadgate::store::postgres::redacted(place);
        let source = match open(&store_at(from, &schema), Opener::Gateway).await {
            Ok(store) => store,
            Err(error) => {
                say_err!("--from {}: {error}", redacted(from));
                return ExitCode::from(2);
            }
        };
        let destination = match open(&store_at(to, &schema), Opener::Gateway).await {
            Ok(store) => store,
            Err(error) => {
                say_err!("--to {}: {error}", redacted(to));
                return ExitCode::from(2);
            }
        };
        let bar = indicatif::ProgressBar::new(0);
        bar.set_style(
            indicatif::ProgressStyle::with_template(
                "{bar:40} {pos}/{len} leads, {per_sec}, {eta} left",
            )
            .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
        );
        let outcome =
            leadgate::store::copy::copy(source.as_ref(), destination.as_ref(), &Bar(bar.clone()))
                .await;
        bar.finish_and_clear();
        let closed = (source.close().await, destination.close().await);
        let copied = match outcome {
            Ok(copied) => copied,
            Err(error) => {
                say_err!("copy stopped: {error}; run it again to resume");
                return ExitCode::FAILURE;
            }
        };
        if let (Err(error), _) | (_, Err(error)) = closed {
            say_err!("closing the stores: {error}");
            return ExitCode::FAILURE;
        }
        say!(
            "copied {} leads, {} deliveries, {} sessions",
            copied.leads_copied,
            copied.deliveries_copied,
            copied.sessions_copied
        );
        say!(
            "leads: {} in the source, {} in the destination; deliveries: {} and {}",
            copied.leads.source,
            copied.leads.destination,
            copied.deliveries.source,
            copied.deliveries.destination
        );
        if copied.complete() {
            ExitCode::SUCCESS
        } else {
            say_err!("the destination holds fewer rows than the source");
            ExitCode::FAILURE
        }
    })
}

fn migrate(config: &std::path::Path) -> ExitCode {
    let (settings, runtime) = match command_setup(config) {
        Ok(setup) => setup,
        Err(code) => return code,
    };
    runtime.block_on(async {
        // Opening migrates; a gateway already holding an SQLite file makes
        // this refuse, as the schema is then that gateway's to change.
        match leadgate::app::stores::open(&settings.store, leadgate::app::stores::Opener::Gateway)
            .await
        {
            Ok(store) => {
                if let Err(error) = store.close().await {
                    say_err!("{error}");
                    return ExitCode::FAILURE;
                }
                say!("store schema is current");
                ExitCode::SUCCESS
            }
            Err(error) => {
                say_err!("{error}");
                ExitCode::from(2)
            }
        }
    })
}

fn serve(config: &std::path::Path) -> ExitCode {
    let settings = match load(config) {
        Ok(settings) => settings,
        Err(code) => return code,
    };
    // Each connection is a file; the usual soft limit of 1024 would make a
    // few hundred idle clients enough to refuse everyone else.
    match rlimit::increase_nofile_limit(u64::MAX) {
        Ok(files) => tracing::info!(files, "open-files limit"),
        Err(error) => tracing::warn!(%error, "cannot raise the open-files limit"),
    }
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(error) => {
            say_err!("cannot start the runtime: {error}");
            return ExitCode::FAILURE;
        }
    };
    runtime.block_on(async {
        let gateway = match Gateway::start(&settings, None).await {
            Ok(gateway) => gateway,
            Err(error) => {
                say_err!("{error}");
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

fn deliveries(config: &std::path::Path, action: DeliveriesAction) -> ExitCode {
    use leadgate::forward::admin::{parse_state, DeliveryAdmin};
    use leadgate::store::DeliveryFilter;

    let (settings, runtime) = match command_setup(config) {
        Ok(setup) => setup,
        Err(code) => return code,
    };
    runtime.block_on(async {
        let store = match store_beside_gateway(&settings).await {
            Ok(store) => store,
            Err(code) => return code,
        };
        let targets =
            leadgate::forward::admin::TargetNames::new(settings.forwarding.target_names());
        let admin = DeliveryAdmin::new(store.clone(), targets);
        let outcome = async {
            match action {
                DeliveriesAction::List {
                    state,
                    target,
                    lead,
                    external_id,
                    after,
                    limit,
                    json,
                } => {
                    let filter = DeliveryFilter {
                        ids: None,
                        target,
                        state: state.as_deref().map(parse_state).transpose()?,
                        lead_id: lead,
                        external_id,
                        after_id: after,
                        limit: Some(limit),
                    };
                    let rows = admin.list(filter).await?;
                    if json {
                        for row in &rows {
                            out!("{}", serde_json::to_string(row).unwrap_or_default());
                        }
                        return Ok(());
                    }
                    for counts in admin.counts().await? {
                        out!(
                            "{}: {} pending, {} in flight, {} delivered, {} dead",
                            counts.target,
                            counts.pending,
                            counts.in_flight,
                            counts.delivered,
                            counts.dead
                        );
                    }
                    out!(
                        "{:>8} {:>8} {:<16} {:<10} {:>8}  {:<20} {:<12} last error",
                        "id",
                        "lead",
                        "target",
                        "state",
                        "attempts",
                        "due",
                        "external id"
                    );
                    for row in rows {
                        let state = if row.in_flight {
                            "in flight"
                        } else {
                            row.state.as_str()
                        };
                        // A change's row names its revision: `crm#2`.
                        let target = if row.revision > 0 {
                            format!("{}#{}", row.target, row.revision)
                        } else {
                            row.target.clone()
                        };
                        out!(
                            "{:>8} {:>8} {:<16} {:<10} {:>8}  {:<20} {:<12} {}",
                            row.id,
                            row.lead_id,
                            target,
                            state,
                            row.attempts,
                            row.due_at.format("%Y-%m-%d %H:%M:%S"),
                            row.external_id.as_deref().unwrap_or("-"),
                            row.last_error.as_deref().unwrap_or("")
                        );
                    }
                    Ok(())
                }
                DeliveriesAction::Retry { ids, target, state } => {
                    let filter = DeliveryFilter {
                        ids: (!ids.is_empty()).then_some(ids),
                        target,
                        state: state.as_deref().map(parse_state).transpose()?,
                        ..Default::default()
                    };
                    let moved = admin.retry(filter).await?;
                    out!("{moved} deliveries back in the queue");
                    Ok(())
                }
                DeliveriesAction::Replay {
                    target,
                    since,
                    until,
                } => {
                    let queued = admin
                        .replay(&target, since.as_deref(), until.as_deref())
                        .await?;
                    out!("{queued} leads queued for {target}");
                    Ok(())
                }
            }
        }
        .await;
        if let Err(error) = store.close().await {
            say_err!("note: {error} (the operation itself completed)");
        }
        match outcome {
            Ok(()) => ExitCode::SUCCESS,
            Err(error) => {
                let error: leadgate::forward::admin::AdminError = error;
                say_err!("{error}");
                ExitCode::from(2)
            }
        }
    })
}

fn translate(from: &str, to: &str, config: Option<&std::path::Path>, id: i64) -> ExitCode {
    use std::io::Read;

    let settings = match config {
        Some(config) => match load(config) {
            Ok(settings) => settings,
            Err(code) => return code,
        },
        None => match toml::from_str::<Settings>("") {
            Ok(settings) => settings,
            Err(error) => {
                say_err!("{error}");
                return ExitCode::FAILURE;
            }
        },
    };
    let mut input = Vec::new();
    if let Err(error) = std::io::stdin().read_to_end(&mut input) {
        say_err!("cannot read stdin: {error}");
        return ExitCode::FAILURE;
    }
    match leadgate::app::translate::translate(&settings, from, to, &input, id) {
        Ok(preview) => {
            use std::io::Write;
            match std::io::stdout().lock().write_all(preview.text.as_bytes()) {
                Err(error) if error.kind() != std::io::ErrorKind::BrokenPipe => {
                    say_err!("cannot write the output: {error}");
                    ExitCode::FAILURE
                }
                _ => ExitCode::SUCCESS,
            }
        }
        Err(error) => {
            say_err!("{error}");
            ExitCode::from(2)
        }
    }
}
