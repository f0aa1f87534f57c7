//! `sealhouse sql`: run SQL from `-e`, a script file, or interactively.

use std::io::{IsTerminal, Write};
use std::path::PathBuf;
use std::sync::Arc;

use anyhow::{Context, Result, bail};
use clap::{Args, ValueEnum};
use sealhouse_cluster::{Cluster, SchedulerUrl};
use sealhouse_sql::format::{OutputFormat, write_rows};
use sealhouse_sql::{SqlSession, StatementOutput};

use crate::cluster_tls::{self, ClusterTlsArgs};
use crate::identity::IdentityArgs;
use crate::local::Local;
use crate::{data_dir, history, identity};

#[derive(Args)]
pub(crate) struct SqlArgs {
    /// Statements to run (separated by semicolons).
    #[arg(
        short = 'e',
        long = "execute",
        value_name = "SQL",
        conflicts_with = "file"
    )]
    execute: Option<String>,
    /// A script file to run: statements separated by semicolons, `--` comments.
    #[arg(short = 'f', long = "file", value_name = "PATH")]
    file: Option<PathBuf>,
    /// Data directory and identity (the local root unless credentials are given).
    #[command(flatten)]
    who: IdentityArgs,
    /// Project to start in (default: `default`).
    #[arg(long)]
    project: Option<String>,
    /// How to print rows.
    #[arg(long, value_enum, default_value = "table")]
    format: FormatArg,
    /// Print each statement before its result.
    #[arg(long)]
    echo: bool,
    /// Run queries on the cluster whose scheduler is at this address
    /// (http://HOST:PORT, or https://HOST:PORT with --cluster-ca,
    /// --cluster-cert and --cluster-key; see `sealhouse cluster`): queries that read
    /// tables, and the query of an INSERT or CREATE TABLE AS (which writes
    /// here). Keyset functions over tables are refused there.
    #[arg(long, env = "SEALHOUSE_CLUSTER", value_name = "URL")]
    cluster: Option<SchedulerUrl>,
    #[command(flatten)]
    cluster_tls: ClusterTlsArgs,
}

#[derive(Clone, Copy, ValueEnum)]
enum FormatArg {
    Table,
    Csv,
    Json,
}

impl From<FormatArg> for OutputFormat {
    fn from(f: FormatArg) -> Self {
        match f {
            FormatArg::Table => OutputFormat::Table,
            FormatArg::Csv => OutputFormat::Csv,
            FormatArg::Json => OutputFormat::Json,
        }
    }
}

pub(crate) fn run(args: SqlArgs) -> Result<()> {
    let script = match (&args.execute, &args.file) {
        (Some(sql), _) => Some(sql.clone()),
        (None, Some(path)) => Some(
            std::fs::read_to_string(path)
                .with_context(|| format!("cannot read script {}", path.display()))?,
        ),
        (None, None) => None,
    };
    run_in_session(
        &args.who,
        args.project.as_deref(),
        script,
        args.format.into(),
        args.echo,
        cluster_tls::cluster(args.cluster.as_ref(), &args.cluster_tls)?,
    )
}

/// Runs `script` (or reads statements from the terminal or standard input)
/// in a session of the identity `who`, starting in `project`.
pub(crate) fn run_in_session(
    who: &IdentityArgs,
    project: Option<&str>,
    script: Option<String>,
    format: OutputFormat,
    echo: bool,
    cluster: Option<Arc<Cluster>>,
) -> Result<()> {
    let dir = data_dir::resolve(who.data_dir.clone())?;
    let local = Local::open(&dir)?;
    let principal = identity::resolve(&local, who)?;
    let keys = local.identity_services()?;
    let runtime = crate::runtime::build("query")?;
    runtime.block_on(async {
        let catalog = local.catalog()?;
        let mut warehouse = SqlSession::with_identity(catalog, principal, keys);
        if let Some(cluster) = cluster {
            warehouse = warehouse.with_remote_execution(cluster);
        }
        if let Some(project) = project {
            warehouse.execute(&format!("USE {project}")).await?;
        }
        match script {
            Some(script) => run_script(&mut warehouse, &script, format, echo).await,
            None if std::io::stdin().is_terminal() => {
                interactive(&mut warehouse, &dir, format).await
            }
            None => {
                let mut script = String::new();
                std::io::Read::read_to_string(&mut std::io::stdin(), &mut script)
                    .context("reading SQL from standard input")?;
                run_script(&mut warehouse, &script, format, echo).await
            }
        }
    })
}

async fn run_script(
    warehouse: &mut SqlSession,
    script: &str,
    format: OutputFormat,
    echo: bool,
) -> Result<()> {
    let mut stdout = std::io::stdout().lock();
    let mut failed = None;
    let result = warehouse
        .run_script(script, |statement, output| {
            if echo {
                let _ = writeln!(stdout, "sealhouse> {};", statement.text);
            }
            if let Err(e) = print_output(&mut stdout, output, format) {
                failed.get_or_insert(e);
            }
        })
        .await;
    if let Some(e) = failed {
        return Err(e).context("writing results");
    }
    result?;
    Ok(())
}

fn print_output(
    out: &mut dyn Write,
    output: StatementOutput,
    format: OutputFormat,
) -> std::io::Result<()> {
    match output {
        StatementOutput::Rows(rows) => write_rows(&rows, format, out),
        done => {
            let message = done.message().unwrap_or_default();
            // Warnings (RC4 chosen) go to stderr only: seen once on a
            // terminal, and still seen when results are redirected.
            let (warnings, said): (Vec<&str>, Vec<&str>) =
                message.lines().partition(|l| l.starts_with("warning:"));
            for line in warnings {
                eprintln!("{line}");
            }
            writeln!(out, "{}", said.join("\n"))
        }
    }
}

/// A line editor with history, kept in the data directory (mode 0600)
/// without the statements that carry keys or values to encrypt (see
/// `history.rs`). A statement runs once a line ends with `;`.
async fn interactive(
    warehouse: &mut SqlSession,
    dir: &std::path::Path,
    format: OutputFormat,
) -> Result<()> {
    let mut editor = rustyline::DefaultEditor::new().context("starting the line editor")?;
    let history_file = dir.join("sql_history");
    let dropped = history::load(&mut editor, &history_file);
    if dropped > 0 {
        eprintln!(
            "sealhouse: removed {dropped} statement(s) holding key material or encryption calls \
             from {}",
            history_file.display()
        );
    }
    let mut buffer = String::new();
    loop {
        let prompt = if buffer.is_empty() {
            format!("sealhouse:{}> ", warehouse.project())
        } else {
            "        -> ".into()
        };
        let line = match editor.readline(&prompt) {
            Ok(line) => line,
            Err(rustyline::error::ReadlineError::Interrupted) => {
                buffer.clear();
                continue;
            }
            Err(rustyline::error::ReadlineError::Eof) => break,
            Err(e) => bail!("reading input: {e}"),
        };
        buffer.push_str(&line);
        buffer.push('\n');
        if !line.trim_end().ends_with(';') {
            continue;
        }
        if history::may_keep(&buffer) {
            let _ = editor.add_history_entry(buffer.trim());
        }
        let script = std::mem::take(&mut buffer);
        let mut stdout = std::io::stdout().lock();
        let result = warehouse.run_script(&script, |_, output| {
            let _ = print_output(&mut stdout, output, format);
        });
        if let Err(e) = result.await {
            eprintln!("error: {}", e.error);
        }
    }
    history::save(&mut editor, &history_file);
    Ok(())
}
