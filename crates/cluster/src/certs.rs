//! `sealhouse cluster certs`: a cluster CA and a certificate for each
//! named process, for tests and trials. A production cluster can use any
//! CA: each process needs the CA's certificate, and its own certificate
//! (valid for the addresses it listens on, usable for server and client
//! authentication) and key.

use std::path::{Path, PathBuf};

use rcgen::{
    BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair,
    KeyUsagePurpose,
};

use crate::ClusterError;

/// What [`generate`] wrote.
#[derive(Debug)]
pub struct GeneratedCerts {
    /// The CA's certificate (`ca.pem`); its key is not kept.
    pub ca: PathBuf,
    /// For each name: its certificate (`NAME.pem`) and key (`NAME.key`).
    pub nodes: Vec<(String, PathBuf, PathBuf)>,
}

/// Makes a new CA and, for each of `names`, a certificate for `hosts`
/// (IP addresses or DNS names), in `dir` (made if missing; files that
/// exist are not overwritten). The CA's key is dropped once they are
/// signed: adding a process later means a new CA for the whole cluster.
pub fn generate(
    dir: &Path,
    names: &[String],
    hosts: &[String],
) -> Result<GeneratedCerts, ClusterError> {
    let failed = |what: &str| {
        let what = what.to_owned();
        move |e: rcgen::Error| ClusterError::Setup(format!("making the {what}: {e}"))
    };
    if names.is_empty() {
        return Err(ClusterError::Setup(
            "name at least one process to make a certificate for (--name)".to_owned(),
        ));
    }
    for name in names {
        if name.is_empty()
            || name == "ca"
            || !name
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        {
            return Err(ClusterError::Setup(format!(
                "'{name}' cannot name a certificate: use letters, digits, - and _ (not 'ca')"
            )));
        }
    }
    let ca_path = dir.join("ca.pem");
    let mut paths = vec![ca_path.clone()];
    for name in names {
        paths.push(dir.join(format!("{name}.pem")));
        paths.push(dir.join(format!("{name}.key")));
    }
    if let Some(existing) = paths.iter().find(|p| p.exists()) {
        return Err(ClusterError::Setup(format!(
            "{} exists: choose an empty directory (a new CA does not reuse old files)",
            existing.display()
        )));
    }
    private_dir(dir)?;

    let ca_key = KeyPair::generate().map_err(failed("CA key"))?;
    let mut ca = CertificateParams::new(Vec::<String>::new()).map_err(failed("CA"))?;
    ca.is_ca = IsCa::Ca(BasicConstraints::Constrained(0));
    ca.distinguished_name
        .push(DnType::CommonName, "Sealhouse cluster CA");
    ca.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
    let ca_cert = ca.self_signed(&ca_key).map_err(failed("CA certificate"))?;
    write(&ca_path, ca_cert.pem().as_bytes())?;
    let issuer = Issuer::new(ca, ca_key);

    let mut nodes = Vec::new();
    for name in names {
        let key = KeyPair::generate().map_err(failed("key"))?;
        let mut params = CertificateParams::new(hosts.to_vec())
            .map_err(failed(&format!("certificate of {name}")))?;
        params.distinguished_name.push(DnType::CommonName, name);
        params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
        params.extended_key_usages = vec![
            ExtendedKeyUsagePurpose::ServerAuth,
            ExtendedKeyUsagePurpose::ClientAuth,
        ];
        let cert = params
            .signed_by(&key, &issuer)
            .map_err(failed(&format!("certificate of {name}")))?;
        let cert_path = dir.join(format!("{name}.pem"));
        let key_path = dir.join(format!("{name}.key"));
        write(&cert_path, cert.pem().as_bytes())?;
        write(&key_path, key.serialize_pem().as_bytes())?;
        nodes.push((name.clone(), cert_path, key_path));
    }
    Ok(GeneratedCerts { ca: ca_path, nodes })
}

/// Makes `dir` if missing, readable by this user only.
fn private_dir(dir: &Path) -> Result<(), ClusterError> {
    let made = std::fs::create_dir_all(dir);
    #[cfg(unix)]
    let made = made.and_then(|()| {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700))
    });
    made.map_err(|e| ClusterError::Setup(format!("making {}: {e}", dir.display())))
}

/// Writes a new file readable by this user only.
fn write(path: &Path, bytes: &[u8]) -> Result<(), ClusterError> {
    use std::io::Write;
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    options
        .open(path)
        .and_then(|mut f| f.write_all(bytes))
        .map_err(|e| ClusterError::Setup(format!("writing {}: {e}", path.display())))
}
