//! `sql-user USER --engine postgres|mysql`: the guide's statements that create a database user
//! for IAM authentication, with the name quoted as an identifier (`jane.doe@example.com`,
//! `O'Brien` and `"quoted"` are all valid user names).

use crate::cli::SqlUserArgs;
use crate::commands::print;
use crate::config::Engine;
use crate::error::{Error, Result};
use crate::report;

/// PostgreSQL truncates identifiers to NAMEDATALEN - 1 bytes; MySQL 5.7+ allows 32 characters
/// in a user name (MariaDB 80).
const POSTGRES_MAX_BYTES: usize = 63;
const MYSQL_MAX_CHARS: usize = 32;

pub fn run(args: &SqlUserArgs) -> Result<i32> {
    let user = args.user.as_str();
    let sql = match args.engine {
        Engine::Postgres => postgres(user),
        Engine::Mysql => mysql(user),
        Engine::Dsql => {
            return Err(Error::usage(
                "Aurora DSQL grants roles to IAM principals, not to database users made here",
            )
            .hint("as admin: CREATE ROLE name WITH LOGIN; AWS IAM GRANT name TO 'arn:aws:iam::ACCOUNT:role/ROLE';"));
        }
    };
    print(&sql)?;
    Ok(0)
}

fn postgres(user: &str) -> String {
    if user.len() > POSTGRES_MAX_BYTES {
        report::warn(format_args!(
            "PostgreSQL cuts user names to {POSTGRES_MAX_BYTES} bytes; the token's user would not match"
        ));
    }
    let name = postgres_identifier(user);
    format!(
        "-- PostgreSQL: a user that logs in with IAM tokens (rds_iam) and no password\n\
         CREATE USER {name};\n\
         GRANT rds_iam TO {name};\n"
    )
}

fn mysql(user: &str) -> String {
    if user.chars().count() > MYSQL_MAX_CHARS {
        report::warn(format_args!(
            "MySQL allows at most {MYSQL_MAX_CHARS} characters in a user name (MariaDB 80)"
        ));
    }
    let name = mysql_identifier(user);
    format!(
        "-- MySQL / MariaDB: a user that logs in with IAM tokens, over TLS only\n\
         CREATE USER {name}@'%' IDENTIFIED WITH AWSAuthenticationPlugin AS 'RDS' REQUIRE SSL;\n"
    )
}

/// A double-quoted identifier: `"` doubled, nothing else special.
pub fn postgres_identifier(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

/// A back-quoted identifier: `` ` `` doubled. Unlike a '...' string it means the same under
/// every sql_mode (NO_BACKSLASH_ESCAPES, ANSI_QUOTES), so a `\` or `'` in a name is safe.
pub fn mysql_identifier(name: &str) -> String {
    format!("`{}`", name.replace('`', "``"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn identifiers_double_their_own_quote_only() {
        assert_eq!(postgres_identifier("O'Brien"), "\"O'Brien\"");
        assert_eq!(postgres_identifier("\"q\""), "\"\"\"q\"\"\"");
        assert_eq!(mysql_identifier("a`b'c\\"), "`a``b'c\\`");
    }
}
