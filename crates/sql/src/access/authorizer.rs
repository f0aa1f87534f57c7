//! The decision: may this session's principal do this to this project or
//! table? Made once per statement, before it runs.
//!
//! In order:
//!
//! 1. **Roots of authority.** The project's owner and the root of the
//!    owner's account may do anything in it.
//! 2. **RAM policies.** The principal's policies are evaluated for the
//!    privilege's action (`odps:Select`, ...) on the resource's ARN. An
//!    explicit Deny refuses outright, whatever the project grants; an Allow
//!    allows (within the principal's own account only: another account's
//!    policies cannot reach this account's projects).
//! 3. **The project's own authorisation.** Holders of the built-in roles
//!    `Super_Administrator` and `Admin` may do anything but change storage
//!    encryption (Super_Administrator only) or hand out Super_Administrator;
//!    otherwise a grant of the privilege (or of ADMIN) to the principal, to
//!    its RAM role, or to a project role it holds, on the table or on the
//!    whole project, allows.
//!
//! A refusal names the principal, the action and the resource, and says
//! which grant would allow it. Nothing about the data is revealed.

use std::sync::Arc;

use sealhouse_iam::{AccessDenied, Arn, DenyReason, Principal, RequestContext};
use sealhouse_storage::{Catalog, ProjectOwner, normalize_name, role_grantee, user_grantee};

use super::privilege::{Privilege, Scope};
use super::resource::{project_arn, table_arn};
use crate::SqlError;
use crate::wrapped::IdentityServices;

/// The built-in project role that may do everything, encryption included.
pub(crate) const SUPER_ADMINISTRATOR: &str = "Super_Administrator";
/// The built-in project role that may do everything but change encryption.
pub(crate) const ADMIN: &str = "Admin";

/// The request context key saying whether a project being created has
/// storage encryption (`"true"` / `"false"`), for policies such as
/// `{"Effect": "Deny", "Action": "odps:CreateProject", "Resource": "*",
///   "Condition": {"Bool": {"odps:StorageEncryption": "false"}}}`.
pub(crate) const STORAGE_ENCRYPTION_KEY: &str = "odps:StorageEncryption";

/// How much authority a principal has in a project, before grants.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum Authority {
    None,
    Admin,
    SuperAdministrator,
    Owner,
}

/// A project or table name as the catalog keeps it (lower case), so that
/// `SALES` and `sales` are one resource to policies and grants alike.
fn canonical(kind: &'static str, name: &str) -> Result<String, SqlError> {
    Ok(normalize_name(kind, name)?)
}

/// RAM's refusal as the statement's error.
fn ram_refusal(d: &AccessDenied) -> SqlError {
    SqlError::denied(
        d.principal(),
        d.action(),
        d.resource(),
        format!(
            "{} is not allowed {} on {}: {}",
            d.principal(),
            d.action(),
            d.resource(),
            d.reason()
        ),
    )
}

/// One session's authorisation.
#[derive(Clone)]
pub(crate) struct Authorizer {
    services: Arc<IdentityServices>,
    principal: Principal,
    /// What grants may name this principal by: its ARN, and its role's ARN
    /// when it is a role session.
    names: Vec<String>,
}

impl Authorizer {
    pub(crate) fn new(services: Arc<IdentityServices>, principal: Principal) -> Self {
        // A role session is known by its role first: what it owns and is
        // granted belongs to the role, not to one session of it.
        let mut names = Vec::new();
        if let Principal::AssumedRole { account, role, .. } = &principal {
            names.push(Arn::role(account, role).to_string());
        }
        names.extend(principal.arn().map(|a| a.to_string()));
        Self {
            services,
            principal,
            names,
        }
    }

    /// The principal's ARN as grants and ownership name it (a role
    /// session's role).
    pub(crate) fn principal_name(&self) -> String {
        self.names
            .first()
            .cloned()
            .unwrap_or_else(|| self.principal.to_string())
    }

    pub(crate) fn principal(&self) -> &Principal {
        &self.principal
    }

    pub(crate) fn services(&self) -> &IdentityServices {
        &self.services
    }

    /// The project's owner; a project without one (made before owners were
    /// recorded, like `default`) becomes the local account's.
    pub(crate) fn owner(&self, catalog: &Catalog, project: &str) -> Result<ProjectOwner, SqlError> {
        let project = &canonical("project", project)?;
        if let Some(owner) = catalog.project_owner(project)? {
            return Ok(owner);
        }
        let account = &self.services.local_account;
        Ok(catalog.claim_project(
            project,
            &ProjectOwner {
                account: account.to_string(),
                owner: Arn::root(account).to_string(),
            },
        )?)
    }

    /// The principal's standing in a project before grants.
    pub(crate) fn authority(
        &self,
        catalog: &Catalog,
        project: &str,
    ) -> Result<Authority, SqlError> {
        let project = &canonical("project", project)?;
        let owner = self.owner(catalog, project)?;
        let is_owner_root = matches!(&self.principal, Principal::Root { account }
            if account.to_string() == owner.account);
        if is_owner_root || self.names.first() == Some(&owner.owner) {
            return Ok(Authority::Owner);
        }
        let roles = catalog.roles_of(project, &self.names)?;
        Ok(if roles.iter().any(|r| r == SUPER_ADMINISTRATOR) {
            Authority::SuperAdministrator
        } else if roles.iter().any(|r| r == ADMIN) {
            Authority::Admin
        } else {
            Authority::None
        })
    }

    /// Whether the principal may use the project at all (for SHOW PROJECTS
    /// and USE): its account owns it, or it is a member.
    pub(crate) fn can_see(&self, catalog: &Catalog, project: &str) -> Result<bool, SqlError> {
        let project = &canonical("project", project)?;
        let owner = self.owner(catalog, project)?;
        if self.principal.account().map(|a| a.to_string()) == Some(owner.account) {
            return Ok(true);
        }
        for name in &self.names {
            if catalog.is_member(project, name)? {
                return Ok(true);
            }
        }
        Ok(false)
    }

    /// Checks `privilege` on `table` of `project` (or on the project when
    /// `table` is `None`).
    pub(crate) fn check(
        &self,
        catalog: &Catalog,
        project: &str,
        table: Option<&str>,
        privilege: Privilege,
    ) -> Result<(), SqlError> {
        let project = &canonical("project", project)?;
        let table = table.map(|t| canonical("table", t)).transpose()?;
        let table = table.as_deref();
        let authority = self.authority(catalog, project)?;
        if authority == Authority::Owner {
            return Ok(());
        }
        let owner = self.owner(catalog, project)?;
        let resource = match table {
            Some(t) => table_arn(&self.services.region, &owner.account, project, t)?,
            None => project_arn(&self.services.region, &owner.account, project)?,
        };
        let ram = self.services.iam.authorize(
            &self.principal,
            privilege.action(),
            &resource,
            &RequestContext::new(),
        );
        let denied = match ram {
            Ok(()) => return Ok(()),
            Err(d) if matches!(d.reason(), DenyReason::ExplicitDeny(_)) => {
                return Err(ram_refusal(&d));
            }
            Err(d) => d,
        };
        if authority >= Authority::Admin || self.granted(catalog, project, table, privilege)? {
            return Ok(());
        }
        Err(self.refusal(&denied, project, table, privilege))
    }

    /// Whether a grant gives `privilege`.
    fn granted(
        &self,
        catalog: &Catalog,
        project: &str,
        table: Option<&str>,
        privilege: Privilege,
    ) -> Result<bool, SqlError> {
        let roles = catalog.roles_of(project, &self.names)?;
        let grantees: Vec<String> = self
            .names
            .iter()
            .map(|n| user_grantee(n))
            .chain(roles.iter().map(|r| role_grantee(r)))
            .collect();
        let mut held = catalog.privileges_of(project, "", &grantees)?;
        if let Some(t) = table {
            held.extend(catalog.privileges_of(project, t, &grantees)?);
        }
        // ADMIN on the project implies every privilege in it.
        Ok(held
            .iter()
            .any(|p| p == privilege.name() || p == Privilege::Admin.name()))
    }

    fn refusal(
        &self,
        ram: &AccessDenied,
        project: &str,
        table: Option<&str>,
        privilege: Privilege,
    ) -> SqlError {
        let object = match table {
            Some(t) => format!("TABLE {t}"),
            None => format!("PROJECT {project}"),
        };
        SqlError::denied(
            ram.principal(),
            ram.action(),
            ram.resource(),
            format!(
                "{} may not {} on {}: {}; no project role or grant gives {privilege} either \
                 (the project's owner or an admin can run: GRANT {privilege} ON {object} TO \
                 USER '{}')",
                ram.principal(),
                ram.action(),
                ram.resource(),
                ram.reason(),
                self.principal_name(),
            ),
        )
    }

    /// Gives the principal every table privilege on a table it just
    /// created, unless it already holds them all as the project's owner.
    pub(crate) fn grant_to_creator(
        &self,
        catalog: &Catalog,
        project: &str,
        table: &str,
    ) -> Result<(), SqlError> {
        let project = &canonical("project", project)?;
        if self.authority(catalog, project)? == Authority::Owner {
            return Ok(());
        }
        let table = catalog.table(project, table)?.name;
        let privileges: Vec<&str> = Privilege::ALL
            .iter()
            .filter(|p| p.scope() == Scope::Table)
            .map(|p| p.name())
            .collect();
        catalog.grant(
            project,
            &table,
            &user_grantee(&self.principal_name()),
            &privileges,
        )?;
        Ok(())
    }

    /// Checks that the principal may create project `name` (RAM
    /// `odps:CreateProject`, with the storage-encryption condition key), and
    /// returns the owner to record.
    pub(crate) fn check_create_project(
        &self,
        name: &str,
        encrypted: bool,
    ) -> Result<ProjectOwner, SqlError> {
        let name = &canonical("project", name)?;
        let account = self.principal.account().ok_or_else(|| {
            SqlError::denied(
                &self.principal,
                "odps:CreateProject",
                name,
                format!("{} cannot own projects", self.principal),
            )
        })?;
        let resource = project_arn(&self.services.region, &account.to_string(), name)?;
        let context = RequestContext::new().with(STORAGE_ENCRYPTION_KEY, encrypted.to_string());
        self.services
            .iam
            .authorize(&self.principal, "odps:CreateProject", &resource, &context)
            .map_err(|d| ram_refusal(&d))?;
        Ok(ProjectOwner {
            account: account.to_string(),
            owner: self.principal_name(),
        })
    }

    /// Checks that the principal may drop project `name`: its owner, the
    /// owner account's root, a Super_Administrator, or RAM
    /// `odps:DeleteProject` on it without an explicit Deny.
    pub(crate) fn check_drop_project(&self, catalog: &Catalog, name: &str) -> Result<(), SqlError> {
        let name = &canonical("project", name)?;
        if self.authority(catalog, name)? >= Authority::SuperAdministrator {
            return Ok(());
        }
        let owner = self.owner(catalog, name)?;
        let resource = project_arn(&self.services.region, &owner.account, name)?;
        self.services
            .iam
            .authorize(
                &self.principal,
                "odps:DeleteProject",
                &resource,
                &RequestContext::new(),
            )
            .map_err(|d| ram_refusal(&d))
    }

    /// Refuses unless the principal is the project's owner, its account's
    /// root or a Super_Administrator (changing storage encryption, handing
    /// out Super_Administrator).
    pub(crate) fn require_super_administrator(
        &self,
        catalog: &Catalog,
        project: &str,
        what: &str,
    ) -> Result<(), SqlError> {
        let project = &canonical("project", project)?;
        if self.authority(catalog, project)? >= Authority::SuperAdministrator {
            return Ok(());
        }
        Err(SqlError::denied(
            self.principal_name(),
            what,
            project,
            format!(
                "{} may not {what} in project {project}: only its owner, its account's root or \
                 a holder of the {SUPER_ADMINISTRATOR} role may",
                self.principal_name()
            ),
        ))
    }
}
