//! Warehouse resources in the spec's ARN style, as RAM policies name them:
//! `acs:odps:<region>:<uid>:projects/<project>` and
//! `acs:odps:<region>:<uid>:projects/<project>/tables/<table>`.

use sealhouse_iam::{AccountId, Arn};

use crate::SqlError;

/// A project's ARN.
pub(crate) fn project_arn(region: &str, account: &str, project: &str) -> Result<Arn, SqlError> {
    arn(&format!("acs:odps:{region}:{account}:projects/{project}"))
}

/// A table's ARN.
pub(crate) fn table_arn(
    region: &str,
    account: &str,
    project: &str,
    table: &str,
) -> Result<Arn, SqlError> {
    arn(&format!(
        "acs:odps:{region}:{account}:projects/{project}/tables/{table}"
    ))
}

fn arn(text: &str) -> Result<Arn, SqlError> {
    // Project and table names are checked identifiers, and account ids are
    // digits: a failure here is a bug, reported rather than allowed.
    Arn::parse(text).map_err(|e| SqlError::plan(format!("internal: resource ARN {text}: {e}")))
}

/// Whether `account` is a well-formed uid (as project owners record it).
pub(crate) fn account_id(text: &str) -> Result<AccountId, SqlError> {
    AccountId::new(text).map_err(|e| SqlError::plan(format!("internal: project account: {e}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn arns_have_the_spec_shape() {
        let t = table_arn("cn-hangzhou", "1892732288741234", "sales", "orders").expect("arn");
        assert_eq!(
            t.to_string(),
            "acs:odps:cn-hangzhou:1892732288741234:projects/sales/tables/orders"
        );
        assert_eq!(t.service(), "odps");
        let p = project_arn("cn-hangzhou", "1892732288741234", "sales").expect("arn");
        assert_eq!(
            p.to_string(),
            "acs:odps:cn-hangzhou:1892732288741234:projects/sales"
        );
    }
}
