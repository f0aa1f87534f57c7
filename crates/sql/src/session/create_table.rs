//! CREATE TABLE [AS]: the table is made from the plan's schema, then the
//! query's rows are inserted; a failure drops the new table again.

use std::sync::Arc;

use datafusion::arrow::datatypes::{Field, Schema};
use datafusion::catalog::default_table_source::provider_as_source;
use datafusion::common::TableReference;
use datafusion::logical_expr::dml::InsertOp;
use datafusion::logical_expr::{CreateMemoryTable, LogicalPlan, LogicalPlanBuilder};

use super::{SqlSession, StatementOutput, count_of};
use crate::tables::CATALOG_NAME;
use crate::{SqlError, column_names};

impl SqlSession {
    /// CREATE TABLE, and CREATE TABLE AS SELECT: creates the table, then
    /// streams the query's rows into it; if that fails the new table is
    /// dropped again, so the statement has no effect.
    pub(super) async fn create_table(
        &mut self,
        sql: &str,
        create: CreateMemoryTable,
    ) -> Result<StatementOutput, SqlError> {
        let (project, table) = self.resolve(&create.name)?;
        if create.temporary {
            return Err(SqlError::unsupported("temporary tables are not supported"));
        }
        let exists = self.catalog.table(&project, &table).is_ok();
        if exists && create.or_replace {
            self.catalog.drop_table(&project, &table, true)?;
        } else if exists && create.if_not_exists {
            return Ok(StatementOutput::Done(format!(
                "OK: table {table} already exists"
            )));
        }
        let input = Arc::unwrap_or_clone(create.input);
        let input_schema = input.schema().as_arrow();
        let names = column_names::display_names(sql, input_schema);
        let fields: Vec<Field> = input_schema
            .fields()
            .iter()
            .zip(&names)
            .map(|(f, name)| Field::new(name, f.data_type().clone(), true))
            .collect();
        self.catalog
            .create_table(&project, &table, &Schema::new(fields), false)?;
        let is_query = !matches!(&input, LogicalPlan::EmptyRelation(e) if !e.produce_one_row);
        if !is_query {
            return Ok(StatementOutput::Done("OK".into()));
        }
        let written = self.insert_plan(&project, &table, input).await;
        match written {
            Ok(rows) => Ok(StatementOutput::Written(rows)),
            Err(e) => {
                // The statement as a whole failed: leave no half-made table behind.
                let _ = self.catalog.drop_table(&project, &table, true);
                Err(e)
            }
        }
    }

    async fn insert_plan(
        &self,
        project: &str,
        table: &str,
        input: LogicalPlan,
    ) -> Result<u64, SqlError> {
        let reference = TableReference::full(CATALOG_NAME, project, table);
        let provider = self.ctx.table_provider(reference.clone()).await?;
        let plan = LogicalPlanBuilder::insert_into(
            input,
            reference,
            provider_as_source(provider),
            InsertOp::Append,
        )?
        .build()?;
        let frame = self.ctx.execute_logical_plan(plan).await?;
        let batches = self.run_write(frame).await?;
        Ok(count_of(&batches))
    }
}
