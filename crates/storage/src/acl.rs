//! What the warehouse's access control keeps per project: its owner, its
//! members, its custom roles, who holds which role, and the privileges
//! granted on the project and its tables.
//!
//! Stored here, beside the projects and tables they name, so that dropping a
//! project drops its grants (foreign keys cascade) and dropping a table drops
//! the grants on it (a table recreated under the same name starts with none).
//! Principals, roles and privileges are opaque strings to this crate: the SQL
//! layer decides what they mean and checks them.

use rusqlite::{OptionalExtension, TransactionBehavior, params};

use crate::StorageError;
use crate::catalog::Catalog;
use crate::names::normalize_name;

pub(crate) const ACL_SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS project_owners (
    project TEXT PRIMARY KEY REFERENCES projects(name) ON DELETE CASCADE,
    account TEXT NOT NULL,
    owner TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS project_members (
    project TEXT NOT NULL REFERENCES projects(name) ON DELETE CASCADE,
    principal TEXT NOT NULL,
    PRIMARY KEY (project, principal)
);
CREATE TABLE IF NOT EXISTS project_roles (
    project TEXT NOT NULL REFERENCES projects(name) ON DELETE CASCADE,
    role TEXT NOT NULL,
    PRIMARY KEY (project, role)
);
CREATE TABLE IF NOT EXISTS role_assignments (
    project TEXT NOT NULL REFERENCES projects(name) ON DELETE CASCADE,
    role TEXT NOT NULL,
    principal TEXT NOT NULL,
    PRIMARY KEY (project, role, principal)
);
CREATE TABLE IF NOT EXISTS grants (
    project TEXT NOT NULL REFERENCES projects(name) ON DELETE CASCADE,
    object TEXT NOT NULL,
    grantee TEXT NOT NULL,
    privilege TEXT NOT NULL,
    PRIMARY KEY (project, object, grantee, privilege)
);
";

/// Who owns a project: the account it belongs to and the principal that
/// created it (both as the identity layer spells them).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProjectOwner {
    /// The owning account's uid.
    pub account: String,
    /// The creator's ARN.
    pub owner: String,
}

/// One grant: `privilege` on `object` (a table name, or `""` for the
/// project itself) to `grantee`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Grant {
    /// A table name, or empty for the project.
    pub object: String,
    /// Whom it is granted to, as the SQL layer spells it.
    pub grantee: String,
    /// The privilege.
    pub privilege: String,
}

impl Catalog {
    /// The project's owner, if one was recorded.
    pub fn project_owner(&self, project: &str) -> Result<Option<ProjectOwner>, StorageError> {
        let project = normalize_name("project", project)?;
        Ok(self
            .conn()
            .prepare_cached("SELECT account, owner FROM project_owners WHERE project = ?1")?
            .query_row([&project], |r| {
                Ok(ProjectOwner {
                    account: r.get(0)?,
                    owner: r.get(1)?,
                })
            })
            .optional()?)
    }

    /// Records `owner` for a project that has none yet; returns the owner
    /// the project has afterwards (an earlier one wins).
    pub fn claim_project(
        &self,
        project: &str,
        owner: &ProjectOwner,
    ) -> Result<ProjectOwner, StorageError> {
        let name = normalize_name("project", project)?;
        self.project(&name)?;
        self.conn().execute(
            "INSERT INTO project_owners (project, account, owner) VALUES (?1, ?2, ?3)
             ON CONFLICT (project) DO NOTHING",
            params![name, owner.account, owner.owner],
        )?;
        self.project_owner(&name)?
            .ok_or_else(|| StorageError::ProjectNotFound(name))
    }

    /// Adds a member (idempotent).
    pub fn add_member(&self, project: &str, principal: &str) -> Result<(), StorageError> {
        let project = self.existing_project(project)?;
        self.conn().execute(
            "INSERT INTO project_members (project, principal) VALUES (?1, ?2)
             ON CONFLICT DO NOTHING",
            params![project, principal],
        )?;
        Ok(())
    }

    /// Removes a member with their role assignments and grants; `false` if
    /// they were not a member.
    pub fn remove_member(&self, project: &str, principal: &str) -> Result<bool, StorageError> {
        let project = self.existing_project(project)?;
        let mut conn = self.conn();
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let removed = tx.execute(
            "DELETE FROM project_members WHERE project = ?1 AND principal = ?2",
            params![project, principal],
        )?;
        tx.execute(
            "DELETE FROM role_assignments WHERE project = ?1 AND principal = ?2",
            params![project, principal],
        )?;
        tx.execute(
            "DELETE FROM grants WHERE project = ?1 AND grantee = ?2",
            params![project, user_grantee(principal)],
        )?;
        tx.commit()?;
        Ok(removed > 0)
    }

    /// Whether `principal` is a member.
    pub fn is_member(&self, project: &str, principal: &str) -> Result<bool, StorageError> {
        let project = normalize_name("project", project)?;
        Ok(self
            .conn()
            .query_row(
                "SELECT 1 FROM project_members WHERE project = ?1 AND principal = ?2",
                params![project, principal],
                |_| Ok(()),
            )
            .optional()?
            .is_some())
    }

    /// The members, sorted.
    pub fn members(&self, project: &str) -> Result<Vec<String>, StorageError> {
        let project = self.existing_project(project)?;
        self.strings(
            "SELECT principal FROM project_members WHERE project = ?1 ORDER BY principal",
            &project,
        )
    }

    /// Creates a custom role; `false` if it existed.
    pub fn create_role(&self, project: &str, role: &str) -> Result<bool, StorageError> {
        let project = self.existing_project(project)?;
        Ok(self.conn().execute(
            "INSERT INTO project_roles (project, role) VALUES (?1, ?2) ON CONFLICT DO NOTHING",
            params![project, role],
        )? > 0)
    }

    /// Drops a custom role, its assignments and its grants; `false` if it
    /// did not exist.
    pub fn drop_role(&self, project: &str, role: &str) -> Result<bool, StorageError> {
        let project = self.existing_project(project)?;
        let mut conn = self.conn();
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let dropped = tx.execute(
            "DELETE FROM project_roles WHERE project = ?1 AND role = ?2",
            params![project, role],
        )?;
        tx.execute(
            "DELETE FROM role_assignments WHERE project = ?1 AND role = ?2",
            params![project, role],
        )?;
        tx.execute(
            "DELETE FROM grants WHERE project = ?1 AND grantee = ?2",
            params![project, role_grantee(role)],
        )?;
        tx.commit()?;
        Ok(dropped > 0)
    }

    /// The custom roles, sorted.
    pub fn custom_roles(&self, project: &str) -> Result<Vec<String>, StorageError> {
        let project = self.existing_project(project)?;
        self.strings(
            "SELECT role FROM project_roles WHERE project = ?1 ORDER BY role",
            &project,
        )
    }

    /// Gives `principal` a role (idempotent).
    pub fn assign_role(
        &self,
        project: &str,
        role: &str,
        principal: &str,
    ) -> Result<(), StorageError> {
        let project = self.existing_project(project)?;
        self.conn().execute(
            "INSERT INTO role_assignments (project, role, principal) VALUES (?1, ?2, ?3)
             ON CONFLICT DO NOTHING",
            params![project, role, principal],
        )?;
        Ok(())
    }

    /// Takes a role from `principal`; `false` if they did not hold it.
    pub fn unassign_role(
        &self,
        project: &str,
        role: &str,
        principal: &str,
    ) -> Result<bool, StorageError> {
        let project = self.existing_project(project)?;
        Ok(self.conn().execute(
            "DELETE FROM role_assignments WHERE project = ?1 AND role = ?2 AND principal = ?3",
            params![project, role, principal],
        )? > 0)
    }

    /// The roles any of `principals` holds, sorted and unique.
    pub fn roles_of(
        &self,
        project: &str,
        principals: &[String],
    ) -> Result<Vec<String>, StorageError> {
        let project = normalize_name("project", project)?;
        let conn = self.conn();
        let mut stmt = conn.prepare_cached(
            "SELECT role FROM role_assignments WHERE project = ?1 AND principal = ?2",
        )?;
        let mut roles = Vec::new();
        for p in principals {
            for role in stmt.query_map(params![project, p], |r| r.get::<_, String>(0))? {
                roles.push(role?);
            }
        }
        roles.sort();
        roles.dedup();
        Ok(roles)
    }

    /// All role assignments as `(role, principal)`, sorted.
    pub fn role_assignments(&self, project: &str) -> Result<Vec<(String, String)>, StorageError> {
        let project = self.existing_project(project)?;
        let conn = self.conn();
        let mut stmt = conn.prepare(
            "SELECT role, principal FROM role_assignments WHERE project = ?1 ORDER BY role, principal",
        )?;
        let rows = stmt.query_map([&project], |r| Ok((r.get(0)?, r.get(1)?)))?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// Grants privileges (idempotent).
    pub fn grant(
        &self,
        project: &str,
        object: &str,
        grantee: &str,
        privileges: &[&str],
    ) -> Result<(), StorageError> {
        let project = self.existing_project(project)?;
        let mut conn = self.conn();
        let tx = conn.transaction()?;
        for privilege in privileges {
            tx.execute(
                "INSERT INTO grants (project, object, grantee, privilege) VALUES (?1, ?2, ?3, ?4)
                 ON CONFLICT DO NOTHING",
                params![project, object, grantee, privilege],
            )?;
        }
        tx.commit()?;
        Ok(())
    }

    /// Revokes privileges; returns how many grants went.
    pub fn revoke(
        &self,
        project: &str,
        object: &str,
        grantee: &str,
        privileges: &[&str],
    ) -> Result<usize, StorageError> {
        let project = self.existing_project(project)?;
        let mut conn = self.conn();
        let tx = conn.transaction()?;
        let mut revoked = 0;
        for privilege in privileges {
            revoked += tx.execute(
                "DELETE FROM grants WHERE project = ?1 AND object = ?2 AND grantee = ?3 AND privilege = ?4",
                params![project, object, grantee, privilege],
            )?;
        }
        tx.commit()?;
        Ok(revoked)
    }

    /// The privileges on `object` held by any of `grantees`, sorted, unique.
    pub fn privileges_of(
        &self,
        project: &str,
        object: &str,
        grantees: &[String],
    ) -> Result<Vec<String>, StorageError> {
        let project = normalize_name("project", project)?;
        let conn = self.conn();
        let mut stmt = conn.prepare_cached(
            "SELECT privilege FROM grants WHERE project = ?1 AND object = ?2 AND grantee = ?3",
        )?;
        let mut privileges = Vec::new();
        for g in grantees {
            for p in stmt.query_map(params![project, object, g], |r| r.get::<_, String>(0))? {
                privileges.push(p?);
            }
        }
        privileges.sort();
        privileges.dedup();
        Ok(privileges)
    }

    /// Every grant of the project, sorted by object, grantee, privilege.
    pub fn grants(&self, project: &str) -> Result<Vec<Grant>, StorageError> {
        let project = self.existing_project(project)?;
        let conn = self.conn();
        let mut stmt = conn.prepare(
            "SELECT object, grantee, privilege FROM grants WHERE project = ?1
             ORDER BY object, grantee, privilege",
        )?;
        let rows = stmt.query_map([&project], |r| {
            Ok(Grant {
                object: r.get(0)?,
                grantee: r.get(1)?,
                privilege: r.get(2)?,
            })
        })?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// Forgets the grants on a table (it was dropped).
    pub(crate) fn drop_table_grants(
        tx: &rusqlite::Transaction<'_>,
        project: &str,
        table: &str,
    ) -> Result<(), StorageError> {
        tx.execute(
            "DELETE FROM grants WHERE project = ?1 AND object = ?2",
            params![project, table],
        )?;
        Ok(())
    }

    fn existing_project(&self, project: &str) -> Result<String, StorageError> {
        Ok(self.project(project)?.name)
    }

    fn strings(&self, sql: &str, project: &str) -> Result<Vec<String>, StorageError> {
        let conn = self.conn();
        let mut stmt = conn.prepare(sql)?;
        let rows = stmt.query_map([project], |r| r.get::<_, String>(0))?;
        Ok(rows.collect::<Result<_, _>>()?)
    }
}

/// How a user (principal ARN) appears as a grantee.
pub fn user_grantee(principal: &str) -> String {
    format!("user:{principal}")
}

/// How a role appears as a grantee.
pub fn role_grantee(role: &str) -> String {
    format!("role:{role}")
}

#[cfg(test)]
mod tests {
    use arrow::datatypes::{DataType, Field, Schema};

    use super::*;

    #[test]
    fn grants_follow_their_table_member_and_project() {
        let dir = tempfile::tempdir().expect("tempdir");
        let c = Catalog::open(dir.path(), crate::CatalogKey::random().expect("key")).expect("open");
        c.create_project("p", false).expect("project");
        let owner = ProjectOwner {
            account: "1".into(),
            owner: "acs:ram::1:root".into(),
        };
        assert_eq!(c.claim_project("p", &owner).expect("claim"), owner);
        let other = ProjectOwner {
            account: "2".into(),
            owner: "acs:ram::2:root".into(),
        };
        assert_eq!(
            c.claim_project("p", &other).expect("claim"),
            owner,
            "first wins"
        );

        let schema = Schema::new(vec![Field::new("a", DataType::Utf8, true)]);
        c.create_table("p", "t", &schema, false).expect("table");
        let alice = "acs:ram::1:user/alice";
        c.add_member("p", alice).expect("member");
        assert!(c.is_member("p", alice).expect("member"));
        c.create_role("p", "readers").expect("role");
        c.assign_role("p", "readers", alice).expect("assign");
        c.grant("p", "t", &user_grantee(alice), &["SELECT", "INSERT"])
            .expect("grant");
        c.grant("p", "t", &role_grantee("readers"), &["DESCRIBE"])
            .expect("grant");
        let holders = [user_grantee(alice), role_grantee("readers")];
        assert_eq!(
            c.privileges_of("p", "t", &holders).expect("privileges"),
            ["DESCRIBE", "INSERT", "SELECT"]
        );
        assert_eq!(
            c.revoke("p", "t", &user_grantee(alice), &["INSERT"])
                .expect("revoke"),
            1
        );

        // A table recreated under the same name starts with no grants.
        c.drop_table("p", "t", false).expect("drop");
        c.create_table("p", "t", &schema, false).expect("again");
        assert!(
            c.privileges_of("p", "t", &holders)
                .expect("privileges")
                .is_empty()
        );

        // Removing a member takes their roles and grants.
        c.grant("p", "", &user_grantee(alice), &["CREATETABLE"])
            .expect("grant");
        assert!(c.remove_member("p", alice).expect("remove"));
        assert!(
            c.roles_of("p", &[alice.to_owned()])
                .expect("roles")
                .is_empty()
        );
        assert!(c.grants("p").expect("grants").is_empty());

        // Dropping the project drops everything it held.
        c.drop_table("p", "t", false).expect("drop");
        c.drop_project("p", false).expect("drop project");
        c.create_project("p", false).expect("again");
        assert_eq!(c.project_owner("p").expect("owner"), None);
        assert!(c.custom_roles("p").expect("roles").is_empty());
    }
}
