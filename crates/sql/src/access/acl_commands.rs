//! Running the access-control statements of `acl_statement.rs` in the
//! session's current project, each authorised first: members, custom roles,
//! Admin and grants need ADMIN (owner, Super_Administrator, Admin, a custom
//! role granted ADMIN, or RAM `odps:UpdateProject`); handing out or taking
//! back Super_Administrator needs Super_Administrator.

use sealhouse_iam::Arn;
use sealhouse_storage::{Catalog, normalize_name, role_grantee, user_grantee};

use super::acl_statement::{AclStatement, Grantee, Object};
use super::authorizer::{ADMIN, Authorizer, SUPER_ADMINISTRATOR};
use super::privilege::{Privilege, Scope};
use crate::SqlError;
use crate::error::ObjectKind;

/// What an access-control statement gives back.
pub(crate) enum AclOutput {
    Done(String),
    Rows(&'static [&'static str], Vec<Vec<String>>),
}

/// Runs `statement` in `project` as `auth`'s principal.
pub(crate) fn run(
    catalog: &Catalog,
    auth: &Authorizer,
    project: &str,
    statement: AclStatement,
) -> Result<AclOutput, SqlError> {
    let admin = || auth.check(catalog, project, None, Privilege::Admin);
    let done = |m: String| Ok(AclOutput::Done(m));
    match statement {
        AclStatement::AddUser(user) => {
            admin()?;
            let user = principal(catalog, auth, project, &user)?;
            catalog.add_member(project, &user)?;
            done(format!("OK: {user} is a member of project {project}"))
        }
        AclStatement::RemoveUser(user) => {
            admin()?;
            let user = principal(catalog, auth, project, &user)?;
            if catalog
                .roles_of(project, std::slice::from_ref(&user))?
                .iter()
                .any(|r| r == SUPER_ADMINISTRATOR)
            {
                auth.require_super_administrator(catalog, project, "remove a Super_Administrator")?;
            }
            if !catalog.remove_member(project, &user)? {
                return Err(SqlError::not_found(
                    ObjectKind::User,
                    format!("{user} is not a member of project {project}"),
                ));
            }
            done(format!(
                "OK: {user} removed from project {project}, with their roles and grants"
            ))
        }
        AclStatement::CreateRole(role) => {
            admin()?;
            let role = custom_role_name(&role)?;
            if !catalog.create_role(project, &role)? {
                return Err(SqlError::Duplicate {
                    kind: ObjectKind::Role,
                    message: format!("role {role} already exists in project {project}"),
                });
            }
            done(format!("OK: role {role} created"))
        }
        AclStatement::DropRole(role) => {
            admin()?;
            let role = custom_role_name(&role)?;
            if !catalog.drop_role(project, &role)? {
                return Err(SqlError::not_found(
                    ObjectKind::Role,
                    format!("no role {role} in project {project}"),
                ));
            }
            done(format!(
                "OK: role {role} dropped, with its assignments and grants"
            ))
        }
        AclStatement::GrantRole { role, user } => {
            let role = role_name(catalog, auth, project, &role)?;
            let user = member(catalog, auth, project, &user)?;
            catalog.assign_role(project, &role, &user)?;
            done(format!("OK: {user} holds role {role} in project {project}"))
        }
        AclStatement::RevokeRole { role, user } => {
            let role = role_name(catalog, auth, project, &role)?;
            let user = principal(catalog, auth, project, &user)?;
            if !catalog.unassign_role(project, &role, &user)? {
                return Err(SqlError::plan(format!("{user} does not hold role {role}")));
            }
            done(format!("OK: {user} no longer holds role {role}"))
        }
        AclStatement::Grant { privileges, on, to } => {
            admin()?;
            let (object, names) = object_and_privileges(catalog, project, &on, &privileges)?;
            let grantee = grantee(catalog, auth, project, &to, true)?;
            catalog.grant(project, &object, &grantee, &names)?;
            done(format!(
                "OK: granted {} on {} to {grantee}",
                names.join(", "),
                describe(&object, project)
            ))
        }
        AclStatement::Revoke {
            privileges,
            on,
            from,
        } => {
            admin()?;
            let (object, names) = object_and_privileges(catalog, project, &on, &privileges)?;
            let grantee = grantee(catalog, auth, project, &from, false)?;
            let revoked = catalog.revoke(project, &object, &grantee, &names)?;
            done(format!("OK: {revoked} grants revoked from {grantee}"))
        }
        AclStatement::ShowGrants { user } => {
            let filter = match user {
                Some(u) => {
                    let u = principal(catalog, auth, project, &u)?;
                    if u != auth.principal_name() {
                        admin()?;
                    }
                    Some(u)
                }
                None => {
                    admin()?;
                    None
                }
            };
            let mut rows: Vec<Vec<String>> = Vec::new();
            for (role, who) in catalog.role_assignments(project)? {
                if filter.as_ref().is_none_or(|f| *f == who) {
                    rows.push(vec![
                        user_grantee(&who),
                        format!("PROJECT {project}"),
                        format!("ROLE {role}"),
                    ]);
                }
            }
            let roles_of_filter = match &filter {
                Some(f) => catalog.roles_of(project, std::slice::from_ref(f))?,
                None => Vec::new(),
            };
            for g in catalog.grants(project)? {
                let shown = match &filter {
                    None => true,
                    Some(f) => {
                        g.grantee == user_grantee(f)
                            || roles_of_filter.iter().any(|r| g.grantee == role_grantee(r))
                    }
                };
                if shown {
                    rows.push(vec![g.grantee, describe(&g.object, project), g.privilege]);
                }
            }
            Ok(AclOutput::Rows(&["grantee", "object", "privilege"], rows))
        }
        AclStatement::ShowRoles => {
            if !auth.can_see(catalog, project)? {
                admin()?;
            }
            let mut rows = vec![
                vec![SUPER_ADMINISTRATOR.to_owned(), "built-in".to_owned()],
                vec![ADMIN.to_owned(), "built-in".to_owned()],
            ];
            rows.extend(
                catalog
                    .custom_roles(project)?
                    .into_iter()
                    .map(|r| vec![r, "custom".to_owned()]),
            );
            Ok(AclOutput::Rows(&["role", "kind"], rows))
        }
        AclStatement::ShowUsers => {
            admin()?;
            let rows = catalog
                .members(project)?
                .into_iter()
                .map(|m| vec![m])
                .collect();
            Ok(AclOutput::Rows(&["member"], rows))
        }
    }
}

/// A principal as written → its ARN text; a bare name is a user of the
/// project's account. Users and roles must exist in the identity service.
fn principal(
    catalog: &Catalog,
    auth: &Authorizer,
    project: &str,
    written: &str,
) -> Result<String, SqlError> {
    let iam = &auth.services().iam;
    let arn = if written.starts_with("acs:") {
        Arn::parse(written).map_err(|e| SqlError::InvalidInput(format!("USER {written}: {e}")))?
    } else {
        let owner = auth.owner(catalog, project)?;
        let account = super::resource::account_id(&owner.account)?;
        Arn::user(&account, written)
    };
    let exists = match &arn {
        Arn::User { account, name } => iam.user(account, name).map(drop),
        Arn::Role { .. } => iam.role(&arn).map(drop),
        Arn::Root { .. } => Ok(()),
        _ => {
            return Err(SqlError::plan(format!(
                "USER {written}: grants go to users ('acs:ram::<uid>:user/<name>'), RAM roles \
                 ('acs:ram::<uid>:role/<name>') or account roots ('acs:ram::<uid>:root')"
            )));
        }
    };
    exists.map_err(|e| {
        let message = format!("USER {written}: {e}");
        match e {
            sealhouse_iam::Error::NotFound { .. } => SqlError::not_found(ObjectKind::User, message),
            _ => SqlError::Execution(message),
        }
    })?;
    Ok(arn.to_string())
}

/// A principal that must already be a member.
fn member(
    catalog: &Catalog,
    auth: &Authorizer,
    project: &str,
    written: &str,
) -> Result<String, SqlError> {
    let user = principal(catalog, auth, project, written)?;
    if !catalog.is_member(project, &user)? {
        return Err(SqlError::not_found(
            ObjectKind::User,
            format!(
                "{user} is not a member of project {project}; add them first: ADD USER '{user}'"
            ),
        ));
    }
    Ok(user)
}

/// A role named in GRANT/REVOKE <role>, checking who may hand it out.
fn role_name(
    catalog: &Catalog,
    auth: &Authorizer,
    project: &str,
    written: &str,
) -> Result<String, SqlError> {
    if written.eq_ignore_ascii_case(SUPER_ADMINISTRATOR) {
        auth.require_super_administrator(catalog, project, "grant or revoke Super_Administrator")?;
        return Ok(SUPER_ADMINISTRATOR.to_owned());
    }
    auth.check(catalog, project, None, Privilege::Admin)?;
    if written.eq_ignore_ascii_case(ADMIN) {
        return Ok(ADMIN.to_owned());
    }
    let role = custom_role_name(written)?;
    if !catalog.custom_roles(project)?.contains(&role) {
        return Err(SqlError::not_found(
            ObjectKind::Role,
            format!("no role {role} in project {project}; create it first: CREATE ROLE {role}"),
        ));
    }
    Ok(role)
}

/// A custom role's stored name (lower case); the built-in names are taken.
fn custom_role_name(written: &str) -> Result<String, SqlError> {
    if written.eq_ignore_ascii_case(SUPER_ADMINISTRATOR) || written.eq_ignore_ascii_case(ADMIN) {
        return Err(SqlError::plan(format!(
            "{written} is a built-in role: it always exists and cannot be created or dropped"
        )));
    }
    Ok(normalize_name("role", written)?)
}

fn grantee(
    catalog: &Catalog,
    auth: &Authorizer,
    project: &str,
    written: &Grantee,
    must_be_member: bool,
) -> Result<String, SqlError> {
    Ok(match written {
        Grantee::User(u) if must_be_member => user_grantee(&member(catalog, auth, project, u)?),
        Grantee::User(u) => user_grantee(&principal(catalog, auth, project, u)?),
        Grantee::Role(r) => {
            let role = custom_role_name(r)?;
            if !catalog.custom_roles(project)?.contains(&role) {
                return Err(SqlError::not_found(
                    ObjectKind::Role,
                    format!("no role {role} in project {project}"),
                ));
            }
            role_grantee(&role)
        }
    })
}

/// The stored object (`""` for the project) and privilege names; table
/// privileges only on tables and projects, project privileges only on
/// projects.
fn object_and_privileges(
    catalog: &Catalog,
    project: &str,
    on: &Object,
    privileges: &[Privilege],
) -> Result<(String, Vec<&'static str>), SqlError> {
    let object = match on {
        Object::Project(p) => {
            if normalize_name("project", p)? != project {
                return Err(SqlError::plan(format!(
                    "grants on project {p} are made while using it: USE {p} first"
                )));
            }
            String::new()
        }
        Object::Table(t) => {
            if t.contains('.') {
                return Err(SqlError::plan(format!(
                    "name the table without its project ({t}): grants are made in the project in use"
                )));
            }
            catalog.table(project, t)?.name
        }
    };
    let all = privileges.len() == Privilege::ALL.len();
    let names = privileges
        .iter()
        .filter(|p| !(all && !object.is_empty() && p.scope() == Scope::Project))
        .map(|p| {
            if !object.is_empty() && p.scope() == Scope::Project {
                Err(SqlError::plan(format!(
                    "{p} is granted on a project, not on a table"
                )))
            } else {
                Ok(p.name())
            }
        })
        .collect::<Result<Vec<_>, _>>()?;
    Ok((object, names))
}

fn describe(object: &str, project: &str) -> String {
    if object.is_empty() {
        format!("PROJECT {project}")
    } else {
        format!("TABLE {object}")
    }
}
