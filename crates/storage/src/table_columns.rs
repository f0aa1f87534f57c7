//! A table's columns as its catalog row keeps them (`tables.columns`, under
//! the table's MAC): a JSON list of `{"name", "type"}` entries, and a
//! `"width"` on a column whose values' mean size writes measured. The width
//! decides how scans read the column (`ColumnType::scan_type`): it is a
//! fact about the data, kept apart from the rule that uses it, so the rule
//! can change without rewriting catalogs. Catalogs written before widths
//! existed read as unmeasured (0): text as `Utf8`, as before.

use serde::{Deserialize, Serialize};

use crate::ColumnType;

/// One column of a table's catalog row.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct ColumnEntry {
    pub(crate) name: String,
    #[serde(rename = "type", with = "type_name")]
    pub(crate) column_type: ColumnType,
    /// Mean bytes per value, the widest any write since the table was
    /// created or overwritten measured; 0: never measured.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub(crate) width: u32,
}

fn is_zero(width: &u32) -> bool {
    *width == 0
}

impl ColumnEntry {
    /// The entries of a `tables.columns` value.
    pub(crate) fn parse_all(json: &str) -> Result<Vec<Self>, String> {
        serde_json::from_str(json).map_err(|e| e.to_string())
    }

    /// The `tables.columns` value of `entries`.
    pub(crate) fn to_json(entries: &[Self]) -> String {
        serde_json::to_string(entries).unwrap_or_else(|e| {
            // Strings and numbers only.
            unreachable!("column entries always serialise: {e}")
        })
    }
}

/// How a commit's measured widths combine with the table's.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Widths {
    /// The new files are the table's whole content: their widths replace
    /// the table's (a column they did not measure keeps its width, since
    /// an unmeasured file says nothing).
    Replace,
    /// The new files join the table's: the wider of the two stays.
    Widen,
}

/// `json` (a `tables.columns` value) with `measured` (mean bytes per value
/// per column, 0 where not measured) folded in as `how` says; `None` when
/// nothing changes, so a commit leaves the row as it was.
pub(crate) fn with_widths(
    json: &str,
    measured: &[u32],
    how: Widths,
) -> Result<Option<String>, String> {
    let mut entries = ColumnEntry::parse_all(json)?;
    let mut changed = false;
    for (entry, &width) in entries.iter_mut().zip(measured) {
        let new = match how {
            _ if width == 0 => entry.width,
            Widths::Replace => width,
            Widths::Widen => entry.width.max(width),
        };
        changed |= new != entry.width;
        entry.width = new;
    }
    Ok(changed.then(|| ColumnEntry::to_json(&entries)))
}

/// The widths several files measured, column by column: the widest.
pub(crate) fn widest(files: impl IntoIterator<Item = impl AsRef<[u32]>>) -> Vec<u32> {
    let mut out: Vec<u32> = Vec::new();
    for widths in files {
        let widths = widths.as_ref();
        if out.len() < widths.len() {
            out.resize(widths.len(), 0);
        }
        for (o, &w) in out.iter_mut().zip(widths) {
            *o = (*o).max(w);
        }
    }
    out
}

/// A column type as its SQL name (`ColumnType`'s `Display` and `parse`).
mod type_name {
    use serde::{Deserialize, Deserializer, Serializer, de::Error};

    use crate::ColumnType;

    pub(super) fn serialize<S: Serializer>(ty: &ColumnType, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(ty)
    }

    pub(super) fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<ColumnType, D::Error> {
        let text = String::deserialize(d)?;
        ColumnType::parse(&text).ok_or_else(|| D::Error::custom(format!("unknown type {text}")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const LEGACY: &str = r#"[{"name":"id","type":"BIGINT"},{"name":"x","type":"STRING"}]"#;

    #[test]
    fn entries_without_widths_read_as_unmeasured_and_write_back_the_same() {
        let entries = ColumnEntry::parse_all(LEGACY).expect("parses");
        assert_eq!(entries[1].column_type, ColumnType::String);
        assert_eq!(entries[1].width, 0);
        // The catalog's earlier form, byte for byte: the table's MAC was
        // made over it.
        assert_eq!(ColumnEntry::to_json(&entries), LEGACY);
    }

    #[test]
    fn widths_replace_or_widen() {
        let json = with_widths(LEGACY, &[0, 1024], Widths::Widen)
            .expect("parses")
            .expect("changed");
        assert_eq!(
            json,
            r#"[{"name":"id","type":"BIGINT"},{"name":"x","type":"STRING","width":1024}]"#
        );
        // An append of narrower values keeps the width; the same width is
        // no change at all.
        assert_eq!(with_widths(&json, &[0, 11], Widths::Widen), Ok(None));
        assert_eq!(with_widths(&json, &[0, 1024], Widths::Replace), Ok(None));
        // An overwrite's measure replaces it; an unmeasured file keeps it.
        let narrow = with_widths(&json, &[0, 11], Widths::Replace)
            .expect("parses")
            .expect("changed");
        assert_eq!(
            ColumnEntry::parse_all(&narrow).expect("parses")[1].width,
            11
        );
        assert_eq!(with_widths(&json, &[0, 0], Widths::Replace), Ok(None));
    }

    #[test]
    fn bad_entries_are_refused() {
        assert!(ColumnEntry::parse_all(r#"[{"name":"x","type":"LIST"}]"#).is_err());
        assert!(ColumnEntry::parse_all(r#"[{"name":"x"}]"#).is_err());
        assert!(ColumnEntry::parse_all(r#"[{"name":"x","type":"INT","width":-1}]"#).is_err());
    }

    #[test]
    fn the_widest_of_several_files() {
        assert_eq!(widest([vec![0, 30], vec![8, 12, 5]]), vec![8, 30, 5]);
        assert_eq!(widest(Vec::<Vec<u32>>::new()), Vec::<u32>::new());
    }
}
