mod aws_api;
mod ca_bundle;
mod cache;
mod child;
mod cli;
mod clients;
mod clock;
mod commands;
mod config;
mod credentials;
mod doctor;
mod error;
mod files;
mod identity_cache;
mod issuer;
mod report;
mod token;
mod values;
mod verify;

fn main() {
    // Shell completion asks through this variable; an ordinary run only reads it.
    clap_complete::CompleteEnv::with_factory(cli::command)
        .var(cli::COMPLETE_VAR)
        .complete();
    let cli = cli::parse();
    report::set_verbose(cli.verbose);
    let code = match commands::run(cli) {
        Ok(code) => code,
        Err(err) => {
            eprintln!("{err}");
            err.exit_code()
        }
    };
    std::process::exit(code);
}
