//! The storage encryption statements of a session: CREATE PROJECT ...
//! ENCRYPTION, ALTER PROJECT ... ENABLE / DISABLE ENCRYPTION, DESC PROJECT
//! and REWRITE. The setting is fixed once enabled (the catalog refuses any
//! change); enabling it needs the project's Super_Administrator authority.

use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use datafusion::physical_plan::collect;
use sealhouse_storage::{KeySource, StorageAlgorithm, StorageError, TableInfo};

use super::{SqlSession, StatementOutput, text_rows};
use crate::SqlError;
use crate::access::Privilege;
use crate::own_statements::RewriteTarget;
use crate::tables::{ProjectKeysHeld, SinkTarget, StoredTable};
use sealhouse_storage::encryption::setup::{self, EncryptionRequest, RC4_WARNING};

impl SqlSession {
    /// `CREATE PROJECT p ENCRYPTION ...`.
    pub(super) fn create_encrypted_project(
        &mut self,
        name: &str,
        if_not_exists: bool,
        request: &EncryptionRequest,
    ) -> Result<StatementOutput, SqlError> {
        let auth = self.authorizer.as_ref().ok_or_else(no_identity)?;
        let owner = auth.check_create_project(name, true)?;
        if let Ok(existing) = self.catalog.project(name) {
            if if_not_exists {
                return Ok(StatementOutput::Done(format!(
                    "OK: project {} exists; its storage encryption is unchanged",
                    existing.name
                )));
            }
            return Err(StorageError::ProjectExists(existing.name).into());
        }
        let setting = setup::prepare(
            auth.services().setup(),
            auth.principal(),
            name,
            request,
            unix_now(),
        )?;
        self.catalog.create_encrypted_project(name, &setting)?;
        self.catalog.claim_project(name, &owner)?;
        Ok(StatementOutput::Done(done_message(
            &format!("project {name} created with storage encryption"),
            setting.algorithm,
            setting.key_source,
            &setting.key_arn,
        )))
    }

    /// `ALTER PROJECT p ENABLE ENCRYPTION ...` (`Some`) or `DISABLE` (`None`).
    pub(super) fn alter_encryption(
        &mut self,
        project: &str,
        enable: Option<&EncryptionRequest>,
    ) -> Result<StatementOutput, SqlError> {
        let info = self.catalog.project(project)?;
        let auth = self.authorizer.as_ref().ok_or_else(no_identity)?;
        auth.require_super_administrator(&self.catalog, &info.name, "change storage encryption")?;
        match (info.encryption()?, enable) {
            (Some(current), None) => Err(SqlError::plan(format!(
                "project '{}' has storage encryption ({} with key {}), and storage encryption \
                 cannot be disabled once enabled: its files stay encrypted. To keep data \
                 unencrypted, copy it to an unencrypted project",
                info.name, current.algorithm, current.key_arn
            ))),
            (Some(current), Some(_)) => Err(StorageError::EncryptionFixed {
                project: info.name,
                algorithm: current.algorithm.name(),
                key_arn: current.key_arn,
            }
            .into()),
            (None, None) => Err(SqlError::plan(format!(
                "project '{}' has no storage encryption; there is nothing to disable",
                info.name
            ))),
            (None, Some(request)) => {
                let setting = setup::prepare(
                    auth.services().setup(),
                    auth.principal(),
                    &info.name,
                    request,
                    unix_now(),
                )?;
                self.catalog.enable_encryption(&info.name, &setting)?;
                Ok(StatementOutput::Done(done_message(
                    &format!(
                        "storage encryption enabled for project {}; files written before stay \
                         readable unencrypted until REWRITE PROJECT {} encrypts them",
                        info.name, info.name
                    ),
                    setting.algorithm,
                    setting.key_source,
                    &setting.key_arn,
                )))
            }
        }
    }

    /// `DESC PROJECT p`: its owner and storage encryption, and how many of
    /// its files are not encrypted as it says.
    pub(super) fn describe_project(&self, project: &str) -> Result<StatementOutput, SqlError> {
        let info = self.catalog.project(project)?;
        if let Some(auth) = &self.authorizer {
            auth.check(&self.catalog, &info.name, None, Privilege::List)?;
        }
        let setting = info.encryption()?;
        let mut rows = vec![vec!["name".to_owned(), info.name.clone()]];
        if let Some(owner) = self.catalog.project_owner(&info.name)? {
            rows.push(vec!["owner".into(), owner.owner]);
        }
        let (mut files, mut plain, mut other) = (0usize, 0usize, 0usize);
        for table in self.catalog.tables(&info.name)? {
            for file in self.catalog.files(&table)? {
                files += 1;
                match (file.encryption, &setting) {
                    (None, _) => plain += 1,
                    (Some(a), Some(s)) if a == s.algorithm => {}
                    (Some(_), _) => other += 1,
                }
            }
        }
        match &setting {
            None => rows.push(vec!["storage_encryption".into(), "disabled".into()]),
            Some(s) => {
                rows.push(vec!["storage_encryption".into(), "enabled".into()]);
                rows.push(vec!["algorithm".into(), s.algorithm.name().into()]);
                rows.push(vec!["key_type".into(), s.key_source.name().into()]);
                rows.push(vec!["key_arn".into(), s.key_arn.clone()]);
                rows.push(vec!["enabled_at".into(), rfc3339(s.enabled_at)]);
                rows.push(vec!["enabled_by".into(), s.enabled_by.clone()]);
                if s.algorithm == StorageAlgorithm::Rc4 {
                    let text = RC4_WARNING.trim_start_matches("warning: ");
                    rows.push(vec!["warning".into(), text.into()]);
                }
            }
        }
        rows.push(vec!["data_files".into(), files.to_string()]);
        rows.push(vec!["unencrypted_files".into(), plain.to_string()]);
        if other > 0 {
            rows.push(vec![
                "files_with_another_algorithm".into(),
                other.to_string(),
            ]);
        }
        text_rows(&["property", "value"], rows)
    }

    /// `REWRITE TABLE t` / `REWRITE PROJECT p`: every file not encrypted as
    /// the project says is read and written again encrypted, and swapped in
    /// atomically per table (appends committed meanwhile stay).
    pub(super) async fn rewrite(
        &mut self,
        target: RewriteTarget,
    ) -> Result<StatementOutput, SqlError> {
        let (info, tables): (_, Vec<TableInfo>) = match &target {
            RewriteTarget::Table(name) => {
                let (project, table) = match name.split_once('.') {
                    Some((p, t)) => (p.to_owned(), t.to_owned()),
                    None => (self.project.clone(), name.clone()),
                };
                let table = self.catalog.table(&project, &table)?;
                (self.catalog.project(&table.project)?, vec![table])
            }
            RewriteTarget::Project(project) => {
                let info = self.catalog.project(project)?;
                let tables = self.catalog.tables(&info.name)?;
                (info, tables)
            }
        };
        let project = info.name.clone();
        let Some(setting) = info.encryption()? else {
            return Err(SqlError::plan(format!(
                "project '{project}' has no storage encryption, so there is nothing to \
                 re-encrypt; enable it first: ALTER PROJECT {project} ENABLE ENCRYPTION"
            )));
        };
        // Rewriting reads and writes every row: whoever may do both.
        if let Some(auth) = &self.authorizer {
            for table in &tables {
                auth.check(
                    &self.catalog,
                    &table.project,
                    Some(&table.name),
                    Privilege::Select,
                )?;
                auth.check(
                    &self.catalog,
                    &table.project,
                    Some(&table.name),
                    Privilege::Insert,
                )?;
            }
        }
        let storage = self.storage_keys.as_ref().ok_or_else(no_identity)?;
        let keys = Arc::new(storage.project(&project, &setting)?);
        let (mut rewritten_files, mut rewritten_tables, mut rows) = (0usize, 0usize, 0u64);
        for table in tables {
            let old: Vec<_> = self
                .catalog
                .files(&table)?
                .into_iter()
                .filter(|f| f.encryption != Some(setting.algorithm))
                .collect();
            if old.is_empty() {
                continue;
            }
            let provider = StoredTable::new(
                Arc::clone(&self.catalog),
                (table.clone(), old.clone()),
                ProjectKeysHeld::Held(Arc::clone(&keys)),
            );
            let state = self.ctx.state();
            let scan = provider.scan_exactly(&state, &old).await?;
            let plan = provider.writer(&state, scan, SinkTarget::Replacing(old.clone()))?;
            let batches = collect(plan, self.ctx.task_ctx()).await?;
            rows += super::count_of(&batches);
            rewritten_files += old.len();
            rewritten_tables += 1;
        }
        Ok(StatementOutput::Done(format!(
            "OK: rewrote {rewritten_files} files of {rewritten_tables} tables ({rows} rows); \
             every file of {} is now encrypted with {}",
            match &target {
                RewriteTarget::Table(t) => format!("table {t}"),
                RewriteTarget::Project(p) => format!("project {p}"),
            },
            setting.algorithm
        )))
    }
}

/// Seconds since the Unix epoch as RFC 3339 UTC (`2026-12-03T17:05:54Z`).
fn rfc3339(seconds: i64) -> String {
    datafusion::arrow::temporal_conversions::timestamp_s_to_datetime(seconds)
        .map(|t| t.format("%Y-%m-%dT%H:%M:%SZ").to_string())
        .unwrap_or_else(|| seconds.to_string())
}

fn no_identity() -> SqlError {
    SqlError::unsupported(
        "storage encryption needs the KMS, and this session has no identity to reach it: run \
         it through `sealhouse sql` (which acts as the local account's root, an access key or \
         a profile)",
    )
}

fn done_message(what: &str, algorithm: StorageAlgorithm, source: KeySource, arn: &str) -> String {
    let key = match source {
        KeySource::Default => {
            format!("the project's default key {arn}, owned by the warehouse service")
        }
        KeySource::Byok => format!("your key {arn}"),
    };
    let mut message = format!("OK: {what}: {algorithm} with {key}");
    if algorithm == StorageAlgorithm::Rc4 {
        message.push('\n');
        message.push_str(RC4_WARNING);
    }
    message
}

fn unix_now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64)
}
