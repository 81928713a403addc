//! `cache list` and `cache clear [NAME]`. Never prints a token.

use crate::cache::{self, Cache};
use crate::cli::CacheCommand;
use crate::clock;
use crate::commands::print;
use crate::config::{Config, Overrides};
use crate::error::Result;
use crate::issuer;

pub fn run(config: &Config, command: CacheCommand) -> Result<i32> {
    let cache = Cache::open(cache::default_dir()?)?;
    match command {
        CacheCommand::List => list(&cache),
        CacheCommand::Clear { name: Some(name) } => {
            let mut removed = cache.remove_connection(&name)?;
            match config.resolve(Some(&name), &Overrides::default()) {
                Ok(connection) => {
                    removed += usize::from(cache.remove(&issuer::cache_key(&connection))?)
                }
                // A connection gone from the config may still have tokens to clear.
                Err(err) if removed == 0 => return Err(err),
                Err(_) => {}
            }
            eprintln!("rdsiam-helper: removed {removed} cached token(s) for `{name}`");
            Ok(0)
        }
        CacheCommand::Clear { name: None } => {
            let removed = cache.clear()?;
            eprintln!(
                "rdsiam-helper: removed {removed} cached token(s) from {}",
                cache.dir().display()
            );
            Ok(0)
        }
    }
}

fn list(cache: &Cache) -> Result<i32> {
    let entries = cache.entries()?;
    if entries.is_empty() {
        eprintln!(
            "rdsiam-helper: no cached tokens in {}",
            cache.dir().display()
        );
        return Ok(0);
    }
    let now = clock::unix_seconds(clock::now());
    let mut out =
        String::from("CONNECTION\tENDPOINT\tREGION\tCREDENTIALS\tSIGNED\tVALID UNTIL\tSTATE\n");
    for (_, entry) in entries {
        let state = if clock::unix_seconds(entry.valid_until) > now {
            "valid"
        } else {
            "expired"
        };
        out.push_str(&format!(
            "{}\t{}@{}:{}\t{}\t{}\t{}\t{}\t{state}\n",
            entry.connection.as_deref().unwrap_or("-"),
            entry.user,
            entry.host,
            entry.port,
            entry.region,
            entry.source.split('|').next().unwrap_or_default(),
            clock::rfc3339(entry.signed_at),
            clock::rfc3339(entry.valid_until),
        ));
    }
    print(&out)?;
    Ok(0)
}
