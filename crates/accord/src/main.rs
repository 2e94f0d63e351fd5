//! The `accord` command line: parses arguments, runs the command, prints its outcome for people
//! or as JSON, and exits 0 on success, 1 when something was rejected or failed a check, 2 when
//! the command could not run.

mod cli;
mod commands;
mod logging;
mod outcome;
mod serve;

use std::io::IsTerminal;
use std::process::ExitCode;

use clap::Parser;

// Parsing allocates many small JSON values; mimalloc handles that pattern much faster than glibc.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
    let cli = cli::Cli::parse();
    // A server logs its requests by default; one-shot commands only warnings. ACCORD_LOG overrides.
    let default = if matches!(cli.command, cli::Command::Serve { .. } | cli::Command::Up) {
        "info"
    } else {
        "warn"
    };
    // Log lines are gathered in memory and written by one thread in batches (a warning or an
    // error at once), so a request's line costs no wake-up of its own; none is dropped.
    let (writer, _log_guard) = match logging::batched(std::io::stderr()) {
        Ok(w) => w,
        Err(e) => {
            eprintln!("error: cannot start the log writer: {e}");
            return ExitCode::from(2);
        }
    };
    tracing_subscriber::fmt()
        .with_writer(writer)
        .with_ansi(std::io::stderr().is_terminal())
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("ACCORD_LOG").unwrap_or_else(|_| default.into()),
        )
        .init();
    let json = cli.json;
    let printed = commands::run(cli).and_then(|outcome| Ok(outcome.print(json)?));
    match printed {
        Ok(code) => code,
        // A closed pipe (`accord export | head`) is the reader's choice, not an error.
        Err(e) if is_broken_pipe(&e) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::from(2)
        }
    }
}

/// Whether writing the output failed because its reader went away: an `io::Error` anywhere in
/// the chain, as itself or inside the node's or serde_json's errors, of kind `BrokenPipe`.
fn is_broken_pipe(e: &anyhow::Error) -> bool {
    e.chain().any(|c| {
        let kind = c
            .downcast_ref::<std::io::Error>()
            .map(std::io::Error::kind)
            .or_else(|| {
                c.downcast_ref::<serde_json::Error>()
                    .and_then(serde_json::Error::io_error_kind)
            })
            .or_else(|| match c.downcast_ref::<accord_node::NodeError>() {
                Some(accord_node::NodeError::Io { source, .. }) => Some(source.kind()),
                _ => None,
            });
        kind == Some(std::io::ErrorKind::BrokenPipe)
    })
}
