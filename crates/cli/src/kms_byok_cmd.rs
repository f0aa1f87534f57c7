//! `sealhouse kms get-parameters-for-import`, `import-key-material` and
//! `delete-key-material`: bringing your own key material as the cloud's KMS
//! takes it. Create the key with `--origin EXTERNAL`, fetch the RSA public
//! key and import token, wrap the 32-byte key with RSA-OAEP-SHA256 under it
//! (openssl does this), import it with the token; delete it to make the key
//! unusable until the same material is imported again.

use std::path::PathBuf;

use anyhow::{Context, Result};
use base64::Engine;
use base64::engine::general_purpose::STANDARD as BASE64;
use clap::Args;
use sealhouse_kms::Kms;
use sealhouse_kms::api::{
    DeleteKeyMaterialRequest, GetParametersForImportRequest, ImportKeyMaterialRequest,
};

use crate::kms_cmd::{date, kms_err};

#[derive(Args)]
pub(crate) struct ParametersArgs {
    /// The EXTERNAL key (id, ARN or alias).
    #[arg(long)]
    key_id: String,
    /// Also write the public key (DER SubjectPublicKeyInfo) to this file,
    /// for `openssl pkeyutl -encrypt -pubin -keyform DER -inkey FILE
    /// -pkeyopt rsa_padding_mode:oaep -pkeyopt rsa_oaep_md:sha256
    /// -pkeyopt rsa_mgf1_md:sha256`.
    #[arg(long, value_name = "FILE")]
    public_key_out: Option<PathBuf>,
}

#[derive(Args)]
pub(crate) struct ImportArgs {
    /// The EXTERNAL key (id, ARN or alias).
    #[arg(long)]
    key_id: String,
    /// The token GetParametersForImport gave (used once). Base64url, so it
    /// may start with '-': taken as a value, never as an option.
    #[arg(long, allow_hyphen_values = true)]
    import_token: String,
    /// The wrapped key material, base64.
    #[arg(
        long,
        conflicts_with = "encrypted_key_material_file",
        required_unless_present = "encrypted_key_material_file"
    )]
    encrypted_key_material: Option<String>,
    /// A file holding the wrapped key material (raw bytes, as openssl writes it).
    #[arg(long, value_name = "FILE")]
    encrypted_key_material_file: Option<PathBuf>,
    /// When the material expires, Unix seconds (default: never).
    #[arg(long, value_name = "UNIX_SECONDS")]
    expire_unix: Option<i64>,
}

pub(crate) fn parameters(kms: &dyn Kms, args: ParametersArgs) -> Result<()> {
    let response = kms
        .get_parameters_for_import(&GetParametersForImportRequest::new(args.key_id))
        .map_err(kms_err("GetParametersForImport"))?;
    if let Some(path) = &args.public_key_out {
        std::fs::write(path, &response.public_key)
            .with_context(|| format!("writing the public key to {}", path.display()))?;
    }
    println!("key_id: {}", response.key_id);
    println!("import_token: {}", response.import_token);
    println!("token_expire_time: {}", date(response.token_expire_time));
    println!("public_key: {}", BASE64.encode(&response.public_key));
    Ok(())
}

pub(crate) fn import(kms: &dyn Kms, args: ImportArgs) -> Result<()> {
    let material = match (
        &args.encrypted_key_material,
        &args.encrypted_key_material_file,
    ) {
        (Some(text), _) => BASE64
            .decode(text.trim())
            .context("--encrypted-key-material is not base64")?,
        (None, Some(path)) => std::fs::read(path)
            .with_context(|| format!("reading the wrapped key material {}", path.display()))?,
        (None, None) => unreachable!("clap requires one of them"),
    };
    kms.import_key_material(&ImportKeyMaterialRequest {
        key_id: args.key_id.clone(),
        encrypted_key_material: material,
        import_token: args.import_token,
        key_material_expire_unix: args.expire_unix,
    })
    .map_err(kms_err("ImportKeyMaterial"))?;
    println!("{}: key material imported", args.key_id);
    Ok(())
}

#[derive(Args)]
pub(crate) struct DeleteArgs {
    /// The EXTERNAL key (id, ARN or alias).
    #[arg(long)]
    key_id: String,
}

pub(crate) fn delete(kms: &dyn Kms, args: DeleteArgs) -> Result<()> {
    kms.delete_key_material(&DeleteKeyMaterialRequest::new(args.key_id.clone()))
        .map_err(kms_err("DeleteKeyMaterial"))?;
    println!(
        "{}: key material deleted; the key is PendingImport until the same material is \
         imported again",
        args.key_id
    );
    Ok(())
}
