//! Writing a table's new data files: one file from record batches, its
//! column layout decided from the data (`column_layout`), encrypted as the
//! project says (`file_writer`), staged for a commit.

mod column_layout;
mod file_writer;
mod new_file;

pub use new_file::{NewFile, conform, rows_bytes};
