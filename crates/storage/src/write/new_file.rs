//! One new data file of a table, written from record batches and staged for
//! a commit: its column layout decided from the first rows, encrypted as
//! the project says (Parquet modular encryption for AES256, the segmented
//! format for AESCTR and RC4, block tags for plain files). INSERTs and
//! group commits write through it.

use std::sync::Arc;

use datafusion::arrow::array::{AsArray, RecordBatch};
use datafusion::arrow::compute::cast;
use datafusion::arrow::datatypes::{DataType, SchemaRef};
use datafusion::error::{DataFusionError, Result};
use parquet::arrow::arrow_writer::ArrowWriterOptions;
use parquet::arrow::{ArrowWriter, add_encoded_arrow_schema_to_metadata};

use super::column_layout::{base_properties, with_column_layouts};
use super::file_writer::FileWriter;
use crate::encryption::{FileEncryption, ProjectKeys, StorageAlgorithm};
use crate::{Catalog, StagedFile, TableInfo};

/// A new data file being written.
pub struct NewFile {
    staged: StagedFile,
    writer: ArrowWriter<FileWriter>,
    /// What the writer takes: the table's scan schema.
    schema: SchemaRef,
    algorithm: Option<StorageAlgorithm>,
    rows: u64,
}

impl NewFile {
    /// Stages a file of `table`; `sample` (the first rows, if any) decides
    /// each column's encoding (column_layout.rs). Dropping the result before
    /// [`NewFile::finish`] deletes the partial file.
    pub async fn create(
        catalog: &Catalog,
        table: &TableInfo,
        keys: Option<&ProjectKeys>,
        sample: Option<&RecordBatch>,
    ) -> Result<Self> {
        let mut staged = catalog
            .stage()
            .map_err(|e| DataFusionError::External(Box::new(e)))?;
        let mut props = base_properties();
        if let Some(sample) = sample {
            let widths;
            (props, widths) = with_column_layouts(props, sample);
            staged.set_widths(widths);
        }
        let location = object_store::path::Path::from(staged.path().to_string_lossy().as_ref());
        let encryption = FileEncryption::for_new_file(keys, &table.schema, &location).await?;
        let algorithm = encryption.algorithm();
        if let FileEncryption::Parquet(properties) = &encryption {
            props = props.with_file_encryption_properties(Arc::clone(properties));
        }
        let file = FileWriter::create(catalog, &staged, table.id, encryption)?;
        // Rows arrive as queries see them (BINARY as `BinaryView`, wide text
        // as `Utf8View`, which Parquet stores exactly as BINARY and STRING)
        // and are written without a conversion; the file records the stored
        // types as its Arrow schema, so it reads back, here or in pyarrow, as
        // it always did.
        let mut props = props.build();
        add_encoded_arrow_schema_to_metadata(&table.schema, &mut props);
        let schema = table.scan_schema();
        let writer = ArrowWriter::try_new_with_options(
            file,
            Arc::clone(&schema),
            ArrowWriterOptions::new()
                .with_properties(props)
                .with_skip_arrow_metadata(true),
        )?;
        Ok(Self {
            staged,
            writer,
            schema,
            algorithm,
            rows: 0,
        })
    }

    /// Appends `batch` (in the table's columns: [`conform`]; a column of
    /// the stored type rather than the scan type is converted here).
    pub fn write(&mut self, batch: &RecordBatch) -> Result<()> {
        self.rows += batch.num_rows() as u64;
        if batch.schema_ref() == &self.schema {
            self.writer.write(batch)?;
        } else {
            self.writer.write(&cast_to(&self.schema, batch)?)?;
        }
        Ok(())
    }

    /// Ends the file; `None` when it holds no rows (nothing to commit).
    pub fn finish(self) -> Result<Option<StagedFile>> {
        let Self {
            mut staged,
            writer,
            algorithm,
            rows,
            ..
        } = self;
        if let Some(tags) = writer.into_inner()?.finish()? {
            staged.set_block_tags(tags);
        }
        staged.set_rows(rows);
        staged.set_encryption(algorithm);
        Ok((rows > 0).then_some(staged))
    }
}

/// `batch` with `table`'s column names and the types its scans produce
/// (`TableInfo::scan_schema`), which is what [`NewFile`] writes.
pub fn conform(table: &TableInfo, batch: RecordBatch) -> Result<RecordBatch> {
    cast_to(&table.scan_schema(), &batch)
}

/// `batch`'s columns cast where needed to `schema`'s types, under its names.
fn cast_to(schema: &SchemaRef, batch: &RecordBatch) -> Result<RecordBatch> {
    let columns = batch
        .columns()
        .iter()
        .zip(schema.fields())
        .map(|(column, field)| {
            if column.data_type() == field.data_type() {
                Ok(Arc::clone(column))
            } else {
                cast(column, field.data_type()).map_err(DataFusionError::from)
            }
        })
        .collect::<Result<Vec<_>>>()?;
    Ok(RecordBatch::try_new(Arc::clone(schema), columns)?)
}

/// The bytes `batch`'s rows take, not counting spare capacity: a function's
/// output often sits in buffers allocated for many more rows than one
/// INSERT's, which must not make a single-row append look large.
pub fn rows_bytes(batch: &RecordBatch) -> usize {
    batch
        .columns()
        .iter()
        .map(|c| match c.data_type() {
            // Arrow sizes a view column by its views alone (16 bytes a
            // row), not the values they point to: count those too, or a
            // batch of long values looks a fraction of its size.
            DataType::BinaryView => views_bytes(c.as_binary_view().views()),
            DataType::Utf8View => views_bytes(c.as_string_view().views()),
            _ => c
                .to_data()
                .get_slice_memory_size()
                .unwrap_or_else(|_| c.get_array_memory_size()),
        })
        .sum()
}

/// The bytes of view rows: each view, and the value of each that is too
/// long to sit in its view (more than 12 bytes; the low 32 bits of a view
/// are its value's length).
fn views_bytes(views: &[u128]) -> usize {
    views
        .iter()
        .map(|&view| {
            let len = view as u32 as usize;
            16 + if len > 12 { len } else { 0 }
        })
        .sum()
}

#[cfg(test)]
mod tests {
    use super::*;
    use datafusion::arrow::array::{BinaryArray, BinaryViewArray, StringViewArray};
    use datafusion::arrow::datatypes::{Field, Schema};

    fn one_column(column: Arc<dyn datafusion::arrow::array::Array>) -> RecordBatch {
        let schema = Schema::new(vec![Field::new("c", column.data_type().clone(), true)]);
        RecordBatch::try_new(Arc::new(schema), vec![column]).expect("batch")
    }

    #[test]
    fn view_columns_count_their_long_values() {
        let long = vec![7u8; 1000];
        let values = [&long[..], b"short", &long[..]];
        let views = one_column(Arc::new(BinaryViewArray::from_iter_values(values)));
        assert_eq!(rows_bytes(&views), 3 * 16 + 2 * 1000);
        let text = "t".repeat(100);
        let strings = one_column(Arc::new(StringViewArray::from_iter_values([&text, "x"])));
        assert_eq!(rows_bytes(&strings), 2 * 16 + 100);
        // A slice counts its own rows only, as for offset arrays.
        assert_eq!(rows_bytes(&views.slice(1, 1)), 16);
        let offsets = one_column(Arc::new(BinaryArray::from_iter_values(values)));
        assert_eq!(rows_bytes(&offsets), 3 * 4 + 2005);
    }
}
