//! What a planned query or INSERT touches: every stored table it scans
//! (subqueries included) needs SELECT, and the table it writes needs INSERT.

use datafusion::common::tree_node::TreeNodeRecursion;
use datafusion::error::Result;
use datafusion::logical_expr::{LogicalPlan, TableSource, WriteOp};

use super::privilege::Privilege;
use crate::tables::StoredTable;

/// One need: `privilege` on `table` of `project`.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) struct Need {
    pub(crate) project: String,
    pub(crate) table: String,
    pub(crate) privilege: Privilege,
}

/// The privileges `plan` needs on stored tables, sorted and unique. Scans
/// of anything else (`range()`, VALUES) need nothing.
pub(crate) fn table_needs(plan: &LogicalPlan) -> Result<Vec<Need>> {
    let mut needs = Vec::new();
    plan.apply_with_subqueries(|node| {
        match node {
            LogicalPlan::TableScan(scan) => {
                needs.extend(stored(scan.source.as_ref(), Privilege::Select));
            }
            // Every write needs INSERT (the original's Update); DELETE,
            // UPDATE and TRUNCATE are refused later by the table itself.
            LogicalPlan::Dml(dml)
                if matches!(
                    dml.op,
                    WriteOp::Insert(_) | WriteOp::Delete | WriteOp::Update | WriteOp::Truncate
                ) =>
            {
                needs.extend(stored(dml.target.as_ref(), Privilege::Insert));
            }
            _ => {}
        }
        Ok(TreeNodeRecursion::Continue)
    })?;
    needs.sort();
    needs.dedup();
    Ok(needs)
}

fn stored(source: &dyn TableSource, privilege: Privilege) -> Option<Need> {
    // A source that is not one of our providers is not a stored table.
    let table = StoredTable::behind(source)?;
    Some(Need {
        project: table.info().project.clone(),
        table: table.info().name.clone(),
        privilege,
    })
}
