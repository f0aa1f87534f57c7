//! One value as text.

use datafusion::arrow::array::{Array, AsArray};
use datafusion::arrow::datatypes::DataType;
use datafusion::arrow::util::display::{ArrayFormatter, FormatOptions};

/// BINARY as the original service prints it: printable ASCII other than `=`
/// and space as itself, every other byte as `=XX`.
pub fn quoted_printable(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len() * 2);
    for &b in bytes {
        if (0x21..=0x7E).contains(&b) && b != b'=' {
            out.push(b as char);
        } else {
            out.push_str(&format!("={b:02X}"));
        }
    }
    out
}

/// Which values of `column` are NULL. Logical nulls, so that a column of
/// the NULL type (`SELECT NULL`) counts as all NULL.
pub(super) fn null_mask(column: &dyn Array) -> Vec<bool> {
    let nulls = column.logical_nulls();
    (0..column.len())
        .map(|i| nulls.as_ref().is_some_and(|n| n.is_null(i)))
        .collect()
}

/// The text of every value of `column`; `None` for NULL.
pub(super) fn column_text(column: &dyn Array) -> Vec<Option<String>> {
    let nulls = null_mask(column);
    let text = |i: usize, value: String| (!nulls[i]).then_some(value);
    match column.data_type() {
        DataType::Binary => {
            let a = column.as_binary::<i32>();
            (0..a.len())
                .map(|i| text(i, quoted_printable(a.value(i))))
                .collect()
        }
        DataType::LargeBinary => {
            let a = column.as_binary::<i64>();
            (0..a.len())
                .map(|i| text(i, quoted_printable(a.value(i))))
                .collect()
        }
        DataType::BinaryView => {
            let a = column.as_binary_view();
            (0..a.len())
                .map(|i| text(i, quoted_printable(a.value(i))))
                .collect()
        }
        _ => match ArrayFormatter::try_new(column, &FormatOptions::default()) {
            Ok(f) => (0..column.len())
                .map(|i| text(i, f.value(i).to_string()))
                .collect(),
            Err(e) => vec![Some(format!("<{e}>")); column.len()],
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quoted_printable_matches_the_documented_rendering() {
        // From the ROTATE_KEYSET page: "=0A=10BVIuZQEAcHHPLfn1=12X=0A3=0A=0BAES-GCM-256=12=20&..."
        let bytes = hex::decode(
            "0A10425649755A514541634848504C666E3112580A330A0B4145532D47434D2D3235361220",
        )
        .expect("hex");
        assert_eq!(
            quoted_printable(&bytes),
            "=0A=10BVIuZQEAcHHPLfn1=12X=0A3=0A=0BAES-GCM-256=12=20"
        );
        assert_eq!(quoted_printable(b"a=b c"), "a=3Db=20c");
    }
}
