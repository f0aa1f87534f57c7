//! Authorisation of planned statements: the privileges a plan needs, and
//! planning errors screened so they tell nothing about tables the session
//! may not read.

use datafusion::common::TableReference;
use datafusion::logical_expr::{DdlStatement, LogicalPlan};
use datafusion::sql::parser::Statement as DfStatement;

use super::Warehouse;
use crate::SqlError;
use crate::access::{self, Privilege};
use crate::script;
use crate::tables::CATALOG_NAME;

impl Warehouse {
    /// Checks, before anything runs, every privilege the statement needs.
    pub(super) fn authorize_plan(&self, plan: &LogicalPlan) -> Result<(), SqlError> {
        let Some(auth) = &self.authorizer else {
            return Ok(());
        };
        match plan {
            LogicalPlan::Ddl(DdlStatement::CreateMemoryTable(create)) => {
                let (project, table) = self.resolve(&create.name)?;
                auth.check(&self.catalog, &project, None, Privilege::CreateTable)?;
                if create.or_replace && self.catalog.table(&project, &table).is_ok() {
                    // Replacing drops the table that is there.
                    auth.check(&self.catalog, &project, Some(&table), Privilege::Drop)?;
                }
            }
            LogicalPlan::DescribeTable(_) => {
                // DataFusion's DESCRIBE forms carry no table name to check.
                return Err(SqlError::plan(
                    "this DESCRIBE form is not supported; use DESC <table>",
                ));
            }
            LogicalPlan::Ddl(DdlStatement::DropTable(drop)) => {
                let (project, table) = self.resolve(&drop.name)?;
                if self.catalog.table(&project, &table).is_ok() {
                    auth.check(&self.catalog, &project, Some(&table), Privilege::Drop)?;
                }
            }
            LogicalPlan::Ddl(DdlStatement::CreateCatalogSchema(schema)) => {
                auth.check_create_project(&schema.schema_name, false)?;
            }
            _ => {}
        }
        for need in access::table_needs(plan)? {
            auth.check(
                &self.catalog,
                &need.project,
                Some(&need.table),
                need.privilege,
            )?;
        }
        Ok(())
    }

    /// A planning error can tell what a table holds ("Valid fields are
    /// ..."): with an identity, it is shown only when every stored table
    /// the statement names may be read; otherwise the refusal is.
    pub(super) fn screen_planning_error(&self, sql: &str, error: SqlError) -> SqlError {
        if self.authorizer.is_none() {
            return error;
        }
        let state = self.ctx.state();
        let dialect = state.config().options().sql_parser.dialect;
        let Ok((prepared, _)) = script::prepare(sql) else {
            return error;
        };
        let Ok(statement) = state.sql_to_statement(&prepared, &dialect) else {
            return error;
        };
        self.screen_statement_error(&statement, error)
    }

    /// [`Warehouse::screen_planning_error`] for a parsed statement.
    pub(crate) fn screen_statement_error(
        &self,
        statement: &DfStatement,
        error: SqlError,
    ) -> SqlError {
        let Some(auth) = &self.authorizer else {
            return error;
        };
        let Ok(references) = self.ctx.state().resolve_table_references(statement) else {
            return error;
        };
        for reference in references {
            let Ok((project, table)) = self.resolve(&reference) else {
                continue;
            };
            if self.catalog.table(&project, &table).is_ok()
                && let Err(refused) =
                    auth.check(&self.catalog, &project, Some(&table), Privilege::Select)
            {
                return refused;
            }
        }
        error
    }

    /// The project and table a table reference names.
    pub(super) fn resolve(&self, name: &TableReference) -> Result<(String, String), SqlError> {
        match name {
            TableReference::Bare { table } => Ok((self.project.clone(), table.to_string())),
            TableReference::Partial { schema, table } => {
                Ok((schema.to_string(), table.to_string()))
            }
            TableReference::Full {
                catalog,
                schema,
                table,
            } if catalog.as_ref() == CATALOG_NAME => Ok((schema.to_string(), table.to_string())),
            TableReference::Full { catalog, .. } => Err(SqlError::plan(format!(
                "unknown catalog '{catalog}'; name tables as table or project.table"
            ))),
        }
    }
}
