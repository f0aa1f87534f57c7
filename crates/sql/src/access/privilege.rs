//! What a statement needs: a privilege on a project or one of its tables,
//! each with the RAM action a policy names to allow or deny it.

use std::fmt;

/// A privilege, as GRANT names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub(crate) enum Privilege {
    /// Read a table's rows.
    Select,
    /// Write rows into a table (INSERT, INSERT OVERWRITE).
    Insert,
    /// See a table's columns.
    Describe,
    /// Drop a table.
    Drop,
    /// Create tables in a project.
    CreateTable,
    /// List a project's tables.
    List,
    /// Administer a project: members, roles, grants (not its encryption).
    Admin,
}

/// Where a privilege applies.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Scope {
    /// On a table (also grantable on a project, for all its tables).
    Table,
    /// On the project only.
    Project,
}

impl Privilege {
    /// Every privilege, for ALL.
    pub(crate) const ALL: [Self; 7] = [
        Self::Select,
        Self::Insert,
        Self::Describe,
        Self::Drop,
        Self::CreateTable,
        Self::List,
        Self::Admin,
    ];

    /// The name GRANT takes and SHOW GRANTS prints.
    pub(crate) fn name(self) -> &'static str {
        match self {
            Self::Select => "SELECT",
            Self::Insert => "INSERT",
            Self::Describe => "DESCRIBE",
            Self::Drop => "DROP",
            Self::CreateTable => "CREATETABLE",
            Self::List => "LIST",
            Self::Admin => "ADMIN",
        }
    }

    /// The RAM action a policy names for it.
    pub(crate) fn action(self) -> &'static str {
        match self {
            Self::Select => "odps:Select",
            Self::Insert => "odps:Update",
            Self::Describe => "odps:Describe",
            Self::Drop => "odps:Drop",
            Self::CreateTable => "odps:CreateTable",
            Self::List => "odps:List",
            Self::Admin => "odps:UpdateProject",
        }
    }

    pub(crate) fn scope(self) -> Scope {
        match self {
            Self::Select | Self::Insert | Self::Describe | Self::Drop => Scope::Table,
            Self::CreateTable | Self::List | Self::Admin => Scope::Project,
        }
    }

    /// A privilege by name (any case; UPDATE is INSERT, as the original
    /// service calls writing rows).
    pub(crate) fn parse(name: &str) -> Option<Self> {
        let upper = name.to_ascii_uppercase();
        if upper == "UPDATE" {
            return Some(Self::Insert);
        }
        Self::ALL.into_iter().find(|p| p.name() == upper)
    }
}

impl fmt::Display for Privilege {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_parse_back() {
        for p in Privilege::ALL {
            assert_eq!(Privilege::parse(&p.name().to_lowercase()), Some(p));
            assert!(p.action().starts_with("odps:"));
        }
        assert_eq!(Privilege::parse("update"), Some(Privilege::Insert));
        assert_eq!(Privilege::parse("SELEKT"), None);
    }
}
