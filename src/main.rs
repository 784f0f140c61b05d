//! The `recoverd` binary: parse the command line, set up logging, run, print an error once.

use std::process::ExitCode;

use clap::Parser as _;

fn main() -> ExitCode {
    let cli = recoverd::cli::Cli::parse();
    recoverd::logging::init(cli.verbose, cli.quiet);
    match recoverd::app::run(cli) {
        Ok(code) => code,
        Err(err) => {
            eprintln!("recoverd: {err:#}");
            if err.is::<recoverd::app::UsageError>() {
                ExitCode::from(2)
            } else {
                ExitCode::from(1)
            }
        }
    }
}
