//! Authorisation of planned statements: the privileges a plan needs, and
//! planning errors screened so they tell nothing about tables the session
//! may not read.

use datafusion::common::TableReference;
use datafusion::logical_expr::{DdlStatement, LogicalPlan};
use std::ops::ControlFlow;

use datafusion::sql::parser::Statement as DfStatement;
use datafusion::sql::sqlparser::ast::{Expr, visit_expressions};
use sealhouse_storage::{RESERVED_PROJECT_NAMES, StorageError};

use super::SqlSession;
use super::kept_plans::BoundPlan;
use crate::SqlError;
use crate::access::{self, Need, Privilege};
use crate::error::ObjectKind;
use crate::script;
use crate::tables::CATALOG_NAME;

impl SqlSession {
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
                return Err(SqlError::unsupported(
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
        self.authorize_needs(&access::table_needs(plan)?)
    }

    /// Checks a statement's privileges on stored tables.
    pub(super) fn authorize_needs(&self, needs: &[Need]) -> Result<(), SqlError> {
        let Some(auth) = &self.authorizer else {
            return Ok(());
        };
        for need in needs {
            auth.check(
                &self.catalog,
                &need.project,
                Some(&need.table),
                need.privilege,
            )?;
        }
        Ok(())
    }

    /// Checks what a bound plan needs: a kept plan's needs are those of the
    /// statement as written (optimisation may have removed a scan).
    pub(super) fn authorize_bound(&self, bound: &BoundPlan) -> Result<(), SqlError> {
        match &bound.kept_needs {
            Some(needs) => self.authorize_needs(needs),
            None => self.authorize_plan(&bound.plan),
        }
    }

    /// A planning error as the user sees it. It can tell what a table
    /// holds ("Valid fields are ..."): with an identity, it is shown only
    /// when every stored table the statement names may be read; otherwise
    /// the refusal is. A planning error of a statement naming a table or a
    /// function that does not exist says so by its kind
    /// ([`SqlError::NotFound`]).
    pub(super) fn screen_planning_error(&self, sql: &str, error: SqlError) -> SqlError {
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

    /// [`SqlSession::screen_planning_error`] for a parsed statement.
    pub(crate) fn screen_statement_error(
        &self,
        statement: &DfStatement,
        error: SqlError,
    ) -> SqlError {
        let Ok(references) = self.ctx.state().resolve_table_references(statement) else {
            return error;
        };
        let mut missing_table = false;
        for reference in references {
            let Ok((project, table)) = self.resolve(&reference) else {
                continue;
            };
            match self.catalog.table(&project, &table) {
                Ok(_) => {}
                // Only a name that is not there is "not found"; a table
                // whose entry fails its check keeps its own error.
                Err(
                    StorageError::TableNotFound { .. }
                    | StorageError::ProjectNotFound(_)
                    | StorageError::InvalidName { .. },
                ) => {
                    missing_table |= !self.is_system_table(&reference);
                    continue;
                }
                Err(_) => continue,
            }
            if let Some(auth) = &self.authorizer
                && let Err(refused) =
                    auth.check(&self.catalog, &project, Some(&table), Privilege::Select)
            {
                return refused;
            }
        }
        match error {
            SqlError::Plan(message) if missing_table => {
                SqlError::not_found(ObjectKind::Table, message)
            }
            SqlError::Plan(message) if self.names_unknown_function(statement) => {
                SqlError::not_found(ObjectKind::Function, message)
            }
            other => other,
        }
    }

    /// Whether `reference` names a table of a system schema
    /// (`pg_catalog`, `information_schema`), which the catalog does not hold.
    fn is_system_table(&self, reference: &TableReference) -> bool {
        let Some(schema) = reference.schema() else {
            return false;
        };
        let state = self.ctx.state();
        let Some(catalog) = state.catalog_list().catalog(CATALOG_NAME) else {
            return false;
        };
        RESERVED_PROJECT_NAMES.contains(&schema)
            && catalog
                .schema(schema)
                .is_some_and(|s| s.table_exist(reference.table()))
    }

    /// Whether the statement calls a function this session does not have.
    fn names_unknown_function(&self, statement: &DfStatement) -> bool {
        let DfStatement::Statement(statement) = statement else {
            return false;
        };
        let state = self.ctx.state();
        let mut unknown = false;
        let _ = visit_expressions(statement.as_ref(), |expr| {
            if let Expr::Function(call) = expr
                && let [part] = call.name.0.as_slice()
                && let Some(ident) = part.as_ident()
            {
                let name = if ident.quote_style.is_some() {
                    ident.value.clone()
                } else {
                    ident.value.to_lowercase()
                };
                unknown |= !(state.scalar_functions().contains_key(&name)
                    || state.aggregate_functions().contains_key(&name)
                    || state.window_functions().contains_key(&name));
            }
            ControlFlow::<()>::Continue(())
        });
        unknown
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
            TableReference::Full { catalog, .. } => Err(SqlError::not_found(
                ObjectKind::Table,
                format!("unknown catalog '{catalog}'; name tables as table or project.table"),
            )),
        }
    }
}
