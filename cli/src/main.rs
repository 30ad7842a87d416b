//! `cargo rmkit`: the module author's tool for rmkit.
//!
//! - `new` scaffolds a module crate that builds and passes its own `cargo test` at once;
//! - `build` / `run` build the current crate in release, load it into a throwaway server and
//!   print what it registered (or serve it on localhost);
//! - `package` / `repo list` keep built modules in a local repository, checksummed;
//! - `install` / `modules` / `upgrade` load, show and replace modules on a running server;
//! - `cluster up|status|watch|install|down` runs a local Redis Cluster of real `redis-server`
//!   processes, and upgrades its modules node by node (`install`).
//!
//! The tool links no module code: it drives cargo, `redis-server` and `redis-cli`.

#![forbid(unsafe_code)]

mod build;
mod cluster;
mod new;
mod remote;
mod repo;
mod util;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, Parser, Subcommand};

/// `cargo rmkit`: scaffold, build, package, install and upgrade Redis modules written with
/// rmkit, and run a local Redis Cluster with them.
#[derive(Debug, Parser)]
#[command(name = "cargo rmkit", bin_name = "cargo rmkit", version, about)]
struct Cli {
    /// What to do.
    #[command(subcommand)]
    command: Command,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
enum Command {
    /// Create a new module crate (cdylib, one command, an integration test) in NAME/.
    New(new::NewArgs),
    /// Build the current crate in release, load it into a throwaway server and print what it
    /// registered; refuse a module that does not load.
    Build(CrateArgs),
    /// Build the current crate and serve it on localhost until Ctrl-C.
    Run(RunArgs),
    /// Build the current crate and store it in the local module repository as NAME/VERSION/.
    Package(PackageArgs),
    /// The local module repository.
    Repo {
        /// What to do with it.
        #[command(subcommand)]
        command: RepoCommand,
    },
    /// Load a packaged module into a running server (MODULE LOADEX).
    Install(remote::InstallArgs),
    /// Show the modules a running server has loaded: versions, commands, allocator figures.
    Modules(remote::ModulesArgs),
    /// Replace a loaded module with another packaged version (MODULE UNLOAD + LOADEX).
    Upgrade(remote::UpgradeArgs),
    /// A local Redis Cluster of real redis-server processes.
    Cluster {
        /// What to do with it.
        #[command(subcommand)]
        command: cluster::ClusterCommand,
    },
}

/// Which crate to build.
#[derive(Debug, Args, Clone)]
pub struct CrateArgs {
    /// The crate's Cargo.toml (default: the one cargo finds from the current directory).
    #[arg(long, value_name = "PATH")]
    manifest_path: Option<PathBuf>,
    /// The package to build, in a workspace with several.
    #[arg(short, long, value_name = "NAME")]
    package: Option<String>,
}

/// `cargo rmkit run`.
#[derive(Debug, Args)]
struct RunArgs {
    /// Which crate.
    #[command(flatten)]
    krate: CrateArgs,
    /// The port to serve on (127.0.0.1).
    #[arg(long, default_value_t = 6379)]
    port: u16,
    /// Arguments for the module (`--loadmodule <lib> ARG...`).
    #[arg(long = "arg", value_name = "ARG")]
    module_args: Vec<String>,
    /// Extra redis-server arguments, after `--` (e.g. `-- --maxmemory 100mb`).
    #[arg(last = true)]
    server_args: Vec<String>,
}

/// `cargo rmkit package`.
#[derive(Debug, Args)]
struct PackageArgs {
    /// Which crate.
    #[command(flatten)]
    krate: CrateArgs,
    /// Replace a stored package of the same version whose checksum differs.
    #[arg(long)]
    force: bool,
}

/// `cargo rmkit repo ...`.
#[derive(Debug, Subcommand)]
enum RepoCommand {
    /// List every packaged module and version, checking each file's checksum.
    List {
        /// Print JSON instead of a table.
        #[arg(long)]
        json: bool,
    },
}

/// Runs the tool; cargo calls `cargo-rmkit rmkit ARGS`, a person may call `cargo-rmkit ARGS`.
fn main() -> ExitCode {
    let mut args: Vec<std::ffi::OsString> = std::env::args_os().collect();
    if args.get(1).is_some_and(|a| a == "rmkit") {
        args.remove(1);
    }
    let cli = Cli::parse_from(args);
    let result = match cli.command {
        Command::New(a) => new::run(&a),
        Command::Build(a) => build::build(&a).map(|_| ()),
        Command::Run(a) => build::serve(&a.krate, a.port, &a.module_args, &a.server_args),
        Command::Package(a) => repo::package(&a.krate, a.force),
        Command::Repo {
            command: RepoCommand::List { json },
        } => repo::list(json),
        Command::Install(a) => remote::install(&a),
        Command::Modules(a) => remote::modules(&a),
        Command::Upgrade(a) => remote::upgrade(&a),
        Command::Cluster { command } => cluster::run(command),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("error: {message}");
            ExitCode::FAILURE
        }
    }
}

#[cfg(test)]
mod tests {
    use super::Cli;
    use clap::CommandFactory;

    #[test]
    fn the_command_line_definition_is_consistent() {
        Cli::command().debug_assert();
    }
}
