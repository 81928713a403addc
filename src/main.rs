mod arn;
mod aws_api;
mod aws_profiles;
mod ca_bundle;
mod cache;
mod cli;
mod clients;
mod clock;
mod commands;
mod config;
mod credentials;
mod doctor;
mod error;
mod files;
mod issuer;
mod local_password;
mod login;
mod platform;
mod proxy;
mod report;
mod secret;
mod tls_policy;
mod token;
mod trust_store;
mod values;
mod verify;

fn main() {
    // Shell completion asks through this variable; an ordinary run only reads it.
    clap_complete::CompleteEnv::with_factory(cli::command)
        .var(cli::COMPLETE_VAR)
        .complete();
    let result = cli::parse().and_then(|cli| {
        report::set_verbose(cli.verbose);
        commands::run(cli)
    });
    let code = match result {
        Ok(code) => code,
        Err(err) => {
            eprint!("{}", render(&err));
            err.exit_code()
        }
    };
    std::process::exit(code);
}

/// The one place errors become text: `rdsiam-helper: error: MESSAGE: CAUSE: ...` and a line
/// per hint, each failure that came before it first.
fn render(err: &error::Error) -> String {
    let mut out = String::new();
    for earlier in &err.earlier {
        out.push_str(&render(earlier));
    }
    out.push_str(&format!("rdsiam-helper: error: {}\n", err.one_line()));
    for hint in &err.hints {
        out.push_str(&format!("  hint: {hint}\n"));
    }
    out
}
