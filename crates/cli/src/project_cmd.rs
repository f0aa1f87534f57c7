//! `sealhouse project`: projects and their storage encryption from the
//! command line. Each command is the SQL statement of the same meaning run
//! in a session of the caller's identity, so the same authorisation and
//! immutability rules apply as in `sealhouse sql`.

use anyhow::Result;
use clap::{Args, Subcommand};
use sealhouse_sql::format::OutputFormat;

use crate::identity::IdentityArgs;
use crate::sql_cmd;

#[derive(Args)]
pub(crate) struct ProjectArgs {
    #[command(subcommand)]
    command: ProjectCommand,
    /// Data directory and identity (the local root unless credentials are given).
    #[command(flatten)]
    who: IdentityArgs,
}

#[derive(Subcommand)]
enum ProjectCommand {
    /// Create a project, optionally with storage encryption from the start.
    Create {
        /// The project's name.
        name: String,
        #[command(flatten)]
        encryption: EncryptionArgs,
    },
    /// Show a project's owner and storage encryption.
    Describe {
        /// The project's name.
        name: String,
    },
    /// Enable storage encryption on a project that has none (Super_Administrator
    /// only; once set it can never be disabled or changed).
    EnableEncryption {
        /// The project's name.
        name: String,
        #[command(flatten)]
        encryption: EncryptionArgs,
    },
    /// Re-encrypt in place the files written before encryption was enabled:
    /// a whole project, or one table (atomically per table).
    Rewrite {
        /// The project's name.
        name: String,
        /// Only this table.
        #[arg(long)]
        table: Option<String>,
    },
}

#[derive(Args)]
struct EncryptionArgs {
    /// Encrypt the project's storage with this algorithm: AES256 (standard
    /// encrypted Parquet), AESCTR, or RC4 (insecure; compatibility only).
    #[arg(long, value_name = "ALGORITHM")]
    encryption: Option<String>,
    /// The key: DEFAULT (the project's own key, owned by the service) or a
    /// CMK of yours (BYOK) by key id, alias/<name> or ARN. Implies
    /// --encryption AES256 if that is not given.
    #[arg(long, value_name = "DEFAULT|KEY")]
    key: Option<String>,
}

impl EncryptionArgs {
    /// The `ENCRYPTION ...` clause, if encryption was asked for.
    fn clause(&self) -> Option<String> {
        if self.encryption.is_none() && self.key.is_none() {
            return None;
        }
        let mut clause = String::from(" ENCRYPTION");
        if let Some(a) = &self.encryption {
            clause.push_str(&format!(" ALGORITHM {}", quote(a)));
        }
        if let Some(k) = &self.key {
            clause.push_str(&format!(" KEY {}", quote(k)));
        }
        Some(clause)
    }
}

/// A value as a single-quoted word (the statement parser splits on spaces,
/// so a value with one is refused there with its usage).
fn quote(value: &str) -> String {
    format!("'{}'", value.replace('\'', ""))
}

pub(crate) fn run(args: ProjectArgs) -> Result<()> {
    let sql = match &args.command {
        ProjectCommand::Create { name, encryption } => {
            format!(
                "CREATE PROJECT {name}{}",
                encryption.clause().unwrap_or_default()
            )
        }
        ProjectCommand::Describe { name } => format!("DESC PROJECT {name}"),
        ProjectCommand::EnableEncryption { name, encryption } => format!(
            "ALTER PROJECT {name} ENABLE{}",
            encryption.clause().unwrap_or_else(|| " ENCRYPTION".into())
        ),
        ProjectCommand::Rewrite { name, table } => match table {
            Some(t) => format!("REWRITE TABLE {name}.{t}"),
            None => format!("REWRITE PROJECT {name}"),
        },
    };
    sql_cmd::run_in_session(&args.who, None, Some(sql), OutputFormat::Table, false, None)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encryption_flags_become_the_sql_clause() {
        let none = EncryptionArgs {
            encryption: None,
            key: None,
        };
        assert_eq!(none.clause(), None);
        let both = EncryptionArgs {
            encryption: Some("RC4".into()),
            key: Some("acs:kms:cn-hangzhou:1:key/k".into()),
        };
        assert_eq!(
            both.clause().as_deref(),
            Some(" ENCRYPTION ALGORITHM 'RC4' KEY 'acs:kms:cn-hangzhou:1:key/k'")
        );
    }
}
