//! The key material format, the local wrap, and the factory against a real
//! (embedded) KMS: 256-bit keys, round trips through Parquet files, files
//! written by parquet-key-management 0.8 (the code before, 128-bit keys),
//! damaged material, caching, and what errors and Debug show.

use std::sync::Arc;
use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use bytes::Bytes;
use datafusion::arrow::array::{Int64Array, RecordBatch, StringArray};
use datafusion::arrow::datatypes::{DataType, Field, Schema};
use parquet::arrow::ArrowWriter;
use parquet::arrow::arrow_reader::{ArrowReaderOptions, ParquetRecordBatchReaderBuilder};
use parquet::encryption::decrypt::FileDecryptionProperties;
use parquet::encryption::encrypt::FileEncryptionProperties;
use parquet::file::properties::WriterProperties;
use parquet_key_management::crypto_factory::{CryptoFactory, EncryptionConfiguration};
use parquet_key_management::kms::{
    KmsClient, KmsClientRef, KmsConnectionConfig, KmsConnectionInfo,
};
use proptest::prelude::*;
use sealhouse_crypto::SecretBytes;
use sealhouse_iam::{AccountId, Iam, NoSealing, Principal, SqliteStore, SystemClock};
use sealhouse_kms::api::{CreateKeyRequest, KeyRequest, ListAuditEventsRequest};
use sealhouse_kms::{CachingKms, Kms, KmsHandle, KmsService, RootKey};

use super::material::{KeyMaterial, Wrapping};
use super::{
    DATA_KEY_LEN, KEK_LEN, ParquetKeyError, ParquetKeyFactory, ParquetKeyOptions, kms_wrap,
    local_wrap,
};

const ACCOUNT: &str = "1892732288741234";
const ROWS: i64 = 1000;

/// An embedded KMS with one key, used as the account's root.
struct Fixture {
    _dir: tempfile::TempDir,
    kms: KmsService,
    key_arn: String,
    other_key_arn: String,
}

impl Fixture {
    fn new() -> Self {
        let dir = tempfile::tempdir().expect("tempdir");
        let iam = Arc::new(Iam::new(
            SqliteStore::open_in_memory().expect("iam store"),
            NoSealing,
        ));
        iam.create_account(&account()).expect("account");
        let kms = KmsService::open(
            &dir.path().join("kms"),
            iam,
            RootKey::generate().expect("root key"),
            SystemClock,
        )
        .expect("kms");
        let new_key = || {
            kms.as_principal(root())
                .create_key(&CreateKeyRequest::default())
                .expect("create key")
                .key_metadata
                .arn
        };
        let key_arn = new_key();
        let other_key_arn = new_key();
        Self {
            _dir: dir,
            kms,
            key_arn,
            other_key_arn,
        }
    }

    fn handle(&self) -> KmsHandle {
        self.kms.as_principal(root())
    }

    /// A factory over the KMS directly: every unwrap is a KMS call.
    fn factory(&self) -> ParquetKeyFactory {
        ParquetKeyFactory::new(Arc::new(self.handle()))
    }

    /// Decrypt calls the KMS has audited so far.
    fn decrypt_calls(&self) -> u64 {
        self.handle()
            .list_audit_events(&ListAuditEventsRequest {
                action: Some("Decrypt".into()),
                ..Default::default()
            })
            .expect("audit events")
            .total_count
    }
}

fn account() -> AccountId {
    AccountId::new(ACCOUNT).expect("account id")
}

fn root() -> Principal {
    Principal::Root { account: account() }
}

fn options(f: &Fixture) -> ParquetKeyOptions {
    ParquetKeyOptions::new("p1", &f.key_arn)
}

fn batch() -> RecordBatch {
    let schema = Arc::new(Schema::new(vec![
        Field::new("id", DataType::Int64, false),
        Field::new("note", DataType::Utf8, false),
    ]));
    RecordBatch::try_new(
        schema,
        vec![
            Arc::new(Int64Array::from_iter_values(0..ROWS)),
            Arc::new(StringArray::from_iter_values(
                (0..ROWS).map(|i| format!("secret-{i}")),
            )),
        ],
    )
    .expect("batch")
}

/// A Parquet file of [`batch`] in row groups of 100 rows.
fn write_file(encryption: Arc<FileEncryptionProperties>) -> Bytes {
    let batch = batch();
    let properties = WriterProperties::builder()
        .set_max_row_group_row_count(Some(100))
        .with_file_encryption_properties(encryption)
        .build();
    let mut out = Vec::new();
    let mut writer =
        ArrowWriter::try_new(&mut out, batch.schema(), Some(properties)).expect("writer");
    writer.write(&batch).expect("write");
    writer.close().expect("close");
    Bytes::from(out)
}

/// Reads `file` whole: (row groups, rows), or the error as text.
fn read_file(
    file: &Bytes,
    decryption: Arc<FileDecryptionProperties>,
) -> Result<(usize, Vec<RecordBatch>), String> {
    let builder = ParquetRecordBatchReaderBuilder::try_new_with_options(
        file.clone(),
        ArrowReaderOptions::new().with_file_decryption_properties(decryption),
    )
    .map_err(|e| e.to_string())?;
    let row_groups = builder.metadata().num_row_groups();
    let batches = builder
        .build()
        .map_err(|e| e.to_string())?
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| e.to_string())?;
    Ok((row_groups, batches))
}

fn assert_rows(batches: &[RecordBatch]) {
    let all =
        datafusion::arrow::compute::concat_batches(&batch().schema(), batches).expect("concat");
    assert_eq!(all, batch());
}

/// The footer key metadata of a file written with `encryption`.
fn material_of(encryption: &FileEncryptionProperties) -> KeyMaterial {
    KeyMaterial::parse(
        encryption
            .footer_key_metadata()
            .expect("footer key metadata"),
    )
    .expect("material")
}

// ---- the material format -------------------------------------------------

fn double() -> KeyMaterial {
    KeyMaterial {
        is_footer_key: true,
        master_key_id: "acs:kms:cn-hangzhou:1892732288741234:key/key-abc".into(),
        wrapping: Wrapping::Double {
            kek_id: "GYGCZ/PvN8oiA/2WYMu48A==".into(),
            wrapped_kek: "AQdrZXktYWJj".into(),
            wrapped_dek: "Kjm/CQfJmfB54Y8x".into(),
        },
    }
}

#[test]
fn material_is_written_in_the_standard_layout() {
    assert_eq!(
        String::from_utf8(double().to_json()).expect("utf-8"),
        r#"{"keyMaterialType":"PKMT1","internalStorage":true,"isFooterKey":true,"kmsInstanceID":"DEFAULT","kmsInstanceURL":"DEFAULT","masterKeyID":"acs:kms:cn-hangzhou:1892732288741234:key/key-abc","wrappedDEK":"Kjm/CQfJmfB54Y8x","doubleWrapping":true,"keyEncryptionKeyID":"GYGCZ/PvN8oiA/2WYMu48A==","wrappedKEK":"AQdrZXktYWJj"}"#
    );
    let single = KeyMaterial {
        is_footer_key: false,
        master_key_id: "k\"1".into(),
        wrapping: Wrapping::Single {
            wrapped_dek: "AAAA".into(),
        },
    };
    assert_eq!(
        String::from_utf8(single.to_json()).expect("utf-8"),
        r#"{"keyMaterialType":"PKMT1","internalStorage":true,"isFooterKey":false,"masterKeyID":"k\"1","wrappedDEK":"AAAA","doubleWrapping":false}"#
    );
}

#[test]
fn material_round_trips() {
    for material in [
        double(),
        KeyMaterial {
            is_footer_key: false,
            master_key_id: "alias/x".into(),
            wrapping: Wrapping::Single {
                wrapped_dek: "AAAA".into(),
            },
        },
    ] {
        assert_eq!(
            KeyMaterial::parse(&material.to_json()).expect("parse"),
            material
        );
    }
}

#[test]
fn material_as_parquet_key_management_writes_it_parses() {
    // parquet-key-management 0.8 writes `null` for absent fields.
    let old = br#"{"keyMaterialType":"PKMT1","internalStorage":true,"keyReference":null,"isFooterKey":true,"kmsInstanceID":"DEFAULT","kmsInstanceURL":"DEFAULT","masterKeyID":"acs:kms:cn-hangzhou:1892732288741234:key/key-abc","wrappedDEK":"Kjm/CQfJmfB54Y8x","doubleWrapping":true,"keyEncryptionKeyID":"GYGCZ/PvN8oiA/2WYMu48A==","wrappedKEK":"AQdrZXktYWJj"}"#;
    assert_eq!(KeyMaterial::parse(old).expect("parse"), double());
    let column = br#"{"keyMaterialType":"PKMT1","internalStorage":true,"keyReference":null,"isFooterKey":false,"kmsInstanceID":null,"kmsInstanceURL":null,"masterKeyID":"kc1","wrappedDEK":"AAAA","doubleWrapping":false,"keyEncryptionKeyID":null,"wrappedKEK":null}"#;
    let parsed = KeyMaterial::parse(column).expect("parse");
    assert_eq!(
        parsed.wrapping,
        Wrapping::Single {
            wrapped_dek: "AAAA".into()
        }
    );
    assert!(!parsed.is_footer_key);
}

#[test]
fn damaged_material_is_an_error_naming_the_field_not_its_value() {
    let good = String::from_utf8(double().to_json()).expect("utf-8");
    let cases: Vec<(Vec<u8>, &str)> = vec![
        (Vec::new(), "no key metadata"),
        (b"not json".to_vec(), "not JSON"),
        (vec![0xff, 0xfe, 0x00], "not JSON"),
        (b"[1,2]".to_vec(), "not a JSON object"),
        ("[".repeat(100_000).into_bytes(), "not JSON"),
        (b"{}".to_vec(), "keyMaterialType is missing"),
        (
            good.replace("\"PKMT1\"", "\"PKMT2\"").into_bytes(),
            "keyMaterialType is not PKMT1",
        ),
        (
            good.replace("\"internalStorage\":true", "\"internalStorage\":false")
                .into_bytes(),
            "stored outside the file",
        ),
        (
            good.replace(
                "\"internalStorage\":true",
                "\"internalStorage\":\"SECRETVALUE\"",
            )
            .into_bytes(),
            "internalStorage is not true or false",
        ),
        (
            good.replace(",\"wrappedKEK\":\"AQdrZXktYWJj\"", "")
                .into_bytes(),
            "wrappedKEK is missing",
        ),
        (
            good.replace("\"wrappedDEK\":\"Kjm/CQfJmfB54Y8x\"", "\"wrappedDEK\":7")
                .into_bytes(),
            "wrappedDEK is not a string",
        ),
        (
            good.replace(
                "\"masterKeyID\":\"acs:kms:cn-hangzhou:1892732288741234:key/key-abc\"",
                "\"masterKeyID\":\"\"",
            )
            .into_bytes(),
            "masterKeyID is empty",
        ),
        (
            good.replace("\"doubleWrapping\":true", "\"doubleWrapping\":null")
                .into_bytes(),
            "doubleWrapping is missing",
        ),
    ];
    for (bytes, expected) in cases {
        let e = KeyMaterial::parse(&bytes).expect_err("damaged material parsed");
        let message = e.to_string();
        assert!(
            message.contains(expected),
            "{}: {message}",
            String::from_utf8_lossy(&bytes[..bytes.len().min(200)])
        );
        assert!(!message.contains("SECRETVALUE"), "{message}");
        assert!(!message.contains("Kjm/"), "{message}");
    }
}

proptest! {
    #[test]
    fn parsing_any_bytes_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..300)) {
        let _ = KeyMaterial::parse(&bytes);
    }

    #[test]
    fn parsing_mutated_material_never_panics(at in 0usize..400, byte in any::<u8>()) {
        let mut bytes = double().to_json();
        let at = at % bytes.len();
        bytes[at] = byte;
        let _ = KeyMaterial::parse(&bytes);
    }
}

// ---- the local wrap ------------------------------------------------------

#[test]
fn local_wrap_round_trips_with_128_and_256_bit_keys() {
    let kek_id = b"0123456789abcdef";
    for (kek_len, dek_len) in [(32, 32), (16, 16), (16, 32), (32, 16)] {
        let kek = SecretBytes::random(kek_len).expect("kek");
        let dek = SecretBytes::random(dek_len).expect("dek");
        let wrapped = local_wrap::wrap(&dek, &kek, kek_id).expect("wrap");
        // nonce || ciphertext || tag
        assert_eq!(
            STANDARD.decode(&wrapped).expect("base64").len(),
            12 + dek_len + 16
        );
        assert_eq!(
            local_wrap::unwrap(&wrapped, &kek, kek_id).expect("unwrap"),
            dek
        );
    }
}

#[test]
fn local_wrap_refuses_a_wrong_key_aad_or_damage() {
    let kek = SecretBytes::random(32).expect("kek");
    let dek = SecretBytes::random(32).expect("dek");
    let wrapped = local_wrap::wrap(&dek, &kek, b"id-1").expect("wrap");
    let damaged = |e: ParquetKeyError| matches!(e, ParquetKeyError::Damaged(_));
    let other = SecretBytes::random(32).expect("kek");
    assert!(damaged(
        local_wrap::unwrap(&wrapped, &other, b"id-1").expect_err("wrong key")
    ));
    assert!(damaged(
        local_wrap::unwrap(&wrapped, &kek, b"id-2").expect_err("wrong aad")
    ));
    let mut raw = STANDARD.decode(&wrapped).expect("base64");
    for at in [0, 12, raw.len() - 1] {
        raw[at] ^= 1;
        let flipped = STANDARD.encode(&raw);
        assert!(damaged(
            local_wrap::unwrap(&flipped, &kek, b"id-1").expect_err("flipped")
        ));
        raw[at] ^= 1;
    }
    for short in [0, 1, 27] {
        let truncated = STANDARD.encode(&raw[..short]);
        assert!(damaged(
            local_wrap::unwrap(&truncated, &kek, b"id-1").expect_err("short")
        ));
    }
    assert!(damaged(
        local_wrap::unwrap("not base64!", &kek, b"id-1").expect_err("b64")
    ));
    let odd = SecretBytes::random(24).expect("kek");
    assert!(matches!(
        local_wrap::unwrap(&wrapped, &odd, b"id-1").expect_err("24-byte kek"),
        ParquetKeyError::Unsupported(_)
    ));
}

// ---- the factory, against the KMS ----------------------------------------

#[test]
fn new_files_get_256_bit_data_keys_and_key_encryption_keys() {
    let f = Fixture::new();
    let factory = f.factory();
    let key = factory.new_file_key(&f.key_arn).expect("file key");
    assert_eq!(key.dek.len(), DATA_KEY_LEN);
    assert_eq!(DATA_KEY_LEN * 8, 256);
    assert_eq!(KEK_LEN * 8, 256);
    let material = KeyMaterial::parse(key.metadata()).expect("material");
    assert!(material.is_footer_key);
    assert_eq!(material.master_key_id, f.key_arn);
    let Wrapping::Double {
        kek_id,
        wrapped_kek,
        wrapped_dek,
    } = material.wrapping
    else {
        panic!("not double wrapped");
    };
    let kek = kms_wrap::unwrap(&f.handle(), &wrapped_kek, &f.key_arn).expect("kek");
    assert_eq!(kek.len() * 8, 256);
    let kek_id = STANDARD.decode(kek_id).expect("kek id");
    assert_eq!(kek_id.len(), 16);
    let dek = local_wrap::unwrap(&wrapped_dek, &kek, &kek_id).expect("dek");
    assert_eq!(dek.len() * 8, 256);
    assert_eq!(dek, key.dek);
    assert_eq!(
        factory.recover_key(key.metadata()).expect("recover"),
        key.dek
    );
    // Fresh keys and KEK ids for every file.
    let again = factory.new_file_key(&f.key_arn).expect("file key");
    assert_ne!(again.dek, key.dek);
    assert_ne!(again.metadata(), key.metadata());
}

#[test]
fn a_file_round_trips_and_its_kek_is_unwrapped_once_not_per_row_group() {
    let f = Fixture::new();
    let factory = f.factory();
    let encryption = factory
        .new_file_key(&f.key_arn)
        .expect("file key")
        .into_properties()
        .expect("properties");
    let file = write_file(encryption);
    assert_eq!(&file[file.len() - 4..], b"PARE");
    let before = f.decrypt_calls();
    let decryption = factory
        .decryption_properties(options(&f))
        .expect("properties");
    let (row_groups, batches) = read_file(&file, decryption).expect("read");
    assert_eq!(row_groups, 10);
    assert_rows(&batches);
    assert_eq!(
        f.decrypt_calls() - before,
        1,
        "KMS Decrypt calls for one read"
    );
    // Over the account's cache, reading it again costs no KMS call.
    let cached = ParquetKeyFactory::new(Arc::new(CachingKms::new(
        f.handle(),
        Duration::from_secs(600),
    )));
    for _ in 0..3 {
        let decryption = cached
            .decryption_properties(options(&f))
            .expect("properties");
        assert_rows(&read_file(&file, decryption).expect("read").1);
    }
    assert_eq!(
        f.decrypt_calls() - before,
        2,
        "KMS Decrypt calls for 1 + 3 reads"
    );
}

/// parquet-key-management's KMS client as the warehouse had it before
/// (`WarehouseKmsClient`): the same wrap format.
struct OldKmsClient(KmsHandle);

impl KmsClient for OldKmsClient {
    fn wrap_key(
        &self,
        key_bytes: &[u8],
        master_key_identifier: &str,
    ) -> parquet_key_management::errors::Result<String> {
        kms_wrap::wrap(
            &self.0,
            &SecretBytes::from_slice(key_bytes),
            master_key_identifier,
        )
        .map_err(|e| parquet_key_management::errors::Error::General(e.to_string()))
    }

    fn unwrap_key(
        &self,
        wrapped_key: &str,
        master_key_identifier: &str,
    ) -> parquet_key_management::errors::Result<Vec<u8>> {
        kms_wrap::unwrap(&self.0, wrapped_key, master_key_identifier)
            .map(|k| k.expose().to_vec())
            .map_err(|e| parquet_key_management::errors::Error::General(e.to_string()))
    }
}

#[test]
fn files_written_by_parquet_key_management_with_128_bit_keys_keep_reading() {
    let f = Fixture::new();
    let handle = f.handle();
    let old = CryptoFactory::new(move |_: &KmsConnectionInfo| {
        Ok(Arc::new(OldKmsClient(handle.clone())) as KmsClientRef)
    });
    let factory = f.factory();
    for double_wrapping in [true, false] {
        // As project_keys.rs configured it before (double wrapping by default).
        let config = EncryptionConfiguration::builder(f.key_arn.clone())
            .set_double_wrapping(double_wrapping)
            .set_cache_lifetime(Some(Duration::ZERO))
            .build()
            .expect("config");
        let encryption = old
            .file_encryption_properties(Arc::new(KmsConnectionConfig::default()), &config)
            .expect("old properties");
        let material = material_of(&encryption);
        assert_eq!(
            matches!(material.wrapping, Wrapping::Double { .. }),
            double_wrapping
        );
        let metadata = encryption.footer_key_metadata().expect("metadata").clone();
        let file = write_file(encryption);
        // The old keys were 128-bit; the new reader takes them.
        assert_eq!(factory.recover_key(&metadata).expect("recover").len(), 16);
        let decryption = factory
            .decryption_properties(options(&f))
            .expect("properties");
        assert_rows(&read_file(&file, decryption).expect("read").1);
    }
}

#[test]
fn refusals_name_the_project_algorithm_and_key_and_never_a_key() {
    let f = Fixture::new();
    let factory = f.factory();
    let key = factory.new_file_key(&f.key_arn).expect("file key");
    let dek_b64 = STANDARD.encode(key.dek.expose());
    let debug = format!("{key:?} {factory:?}");
    assert!(!debug.contains(&dek_b64) && !debug.contains(&hex::encode(key.dek.expose())));
    let file = write_file(
        factory
            .new_file_key(&f.key_arn)
            .expect("file key")
            .into_properties()
            .expect("properties"),
    );
    f.handle()
        .disable_key(&KeyRequest::new(f.key_arn.clone()))
        .expect("disable");
    let decryption = factory
        .decryption_properties(options(&f))
        .expect("properties");
    let e = read_file(&file, decryption).expect_err("read with a disabled key");
    assert!(
        e.contains("cannot read encrypted project 'p1' (AES256 with key ")
            && e.contains(&f.key_arn)
            && e.contains("Disabled"),
        "{e}"
    );
    let e = factory
        .new_file_key(&f.key_arn)
        .expect_err("write with a disabled key");
    assert!(e.to_string().contains("Disabled"), "{e}");
}

#[test]
fn material_naming_another_master_key_is_refused() {
    let f = Fixture::new();
    let factory = f.factory();
    let key = factory.new_file_key(&f.key_arn).expect("file key");
    let mut material = KeyMaterial::parse(key.metadata()).expect("material");
    material.master_key_id = f.other_key_arn.clone();
    let e = factory
        .recover_key(&material.to_json())
        .expect_err("another master key");
    assert!(matches!(e, ParquetKeyError::WrongMasterKey { .. }), "{e}");
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(48))]

    /// Any one byte of real key material changed: an error or (for bytes
    /// JSON ignores, such as a space turned into another) the same key;
    /// never a panic, never another key.
    #[test]
    fn recovering_from_tampered_material_never_panics(at in 0usize..1000, byte in any::<u8>()) {
        thread_local! {
            static FIXTURE: (Fixture, Vec<u8>, SecretBytes) = {
                let f = Fixture::new();
                let key = f.factory().new_file_key(&f.key_arn).expect("file key");
                let metadata = key.metadata().to_vec();
                let dek = key.dek.duplicate();
                (f, metadata, dek)
            };
        }
        FIXTURE.with(|(f, metadata, dek)| {
            let mut bytes = metadata.clone();
            let at = at % bytes.len();
            bytes[at] = byte;
            if let Ok(recovered) = f.factory().recover_key(&bytes) {
                prop_assert_eq!(&recovered, dek);
            }
            Ok(())
        })?;
    }
}
