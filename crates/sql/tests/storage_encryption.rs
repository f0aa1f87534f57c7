//! Project storage encryption end to end against the embedded identity
//! service and KMS: for each algorithm no stored byte holds the data and SQL
//! returns it intact; AES256's key sizes; a flipped byte fails the read;
//! encrypting a project that holds data, then rewriting it; and the
//! immutability of the setting. Who may set it and the keys' rules are in
//! `storage_encryption_keys.rs`.

// Test code: a failed unwrap is a failed test.
#![allow(clippy::unwrap_used)]

mod common;
mod storage_world;

use sealhouse_kms::KmsData;
use storage_world::*;

fn every_algorithm_hides_the_values_on_disk_and_sql_returns_them_intact(backend: Backend) {
    let w = World::on(backend);
    let mut s = w.root_session();
    // Control: an unencrypted project's files do hold the values, so the
    // search below can find them.
    s.ok("CREATE PROJECT plain");
    s.ok("USE plain");
    s.ok(CREATE_T);
    s.insert_marked("t", 1, 1000);
    assert!(
        w.data_files()
            .iter()
            .any(|(_, bytes)| contains(bytes, MARKER.as_bytes())),
        "the control project's file should hold the marker in clear"
    );
    s.ok("DROP TABLE t");
    for (i, algorithm) in StorageAlgorithm::ALL.into_iter().enumerate() {
        for key in ["DEFAULT".to_owned(), w.key_arn.clone()] {
            let project = format!("p{i}_{}", if key == "DEFAULT" { "default" } else { "byok" });
            let message = s.ok(&format!(
                "CREATE PROJECT {project} ENCRYPTION ALGORITHM {algorithm} KEY '{key}'"
            ));
            assert!(message.contains(algorithm.name()), "{message}");
            assert_eq!(
                message.contains("RC4 is insecure"),
                algorithm == StorageAlgorithm::Rc4,
                "{message}"
            );
            s.ok(&format!("USE {project}"));
            s.ok(CREATE_T);
            s.insert_marked("t", 1, 1000);
            s.insert_marked("t", 1001, 500);
            assert_eq!(
                s.check("t"),
                ("1500".into(), "1125750".into(), "1500".into()),
                "{project}"
            );
            // A filtered read and a projection read other byte ranges.
            let r = s.rows("SELECT note FROM t WHERE id = 1234");
            assert_eq!(text(&r, 0, 0), format!("{MARKER}-1234"));
            let files = w.table_files(&project, "t");
            assert_eq!(files.len(), 2);
            assert!(files.iter().all(|f| f.encryption == Some(algorithm)));
            assert_eq!(s.property(&project, "algorithm"), algorithm.name());
            assert_eq!(s.property(&project, "unencrypted_files"), "0");
        }
    }
    for (path, bytes) in w.data_files() {
        if path.to_string_lossy().contains("/plain/") {
            continue;
        }
        assert!(
            !contains(&bytes, MARKER.as_bytes()),
            "{} holds the inserted values in clear",
            path.display()
        );
    }
}

/// A key retriever that unwraps PKMT1 key material on its own — KMS Decrypt
/// of `wrappedKEK`, then AES-GCM of `wrappedDEK` under the KEK with the KEK
/// id as AAD, as the Parquet key tools do — and records the key sizes. It
/// shares no code with the warehouse's reader.
struct OwnUnwrap {
    kms: sealhouse_kms::KmsHandle,
    master_key: String,
    /// (KEK length, DEK length) of each key metadata parquet asked for.
    sizes: std::sync::Mutex<Vec<(usize, usize)>>,
}

impl parquet::encryption::decrypt::KeyRetriever for OwnUnwrap {
    fn retrieve_key(&self, key_metadata: &[u8]) -> parquet::errors::Result<Vec<u8>> {
        use base64::Engine;
        let b64 = |v: &serde_json::Value| {
            base64::engine::general_purpose::STANDARD
                .decode(v.as_str().unwrap())
                .unwrap()
        };
        let material: serde_json::Value = serde_json::from_slice(key_metadata).unwrap();
        assert_eq!(material["keyMaterialType"], "PKMT1", "{material}");
        assert_eq!(material["internalStorage"], true, "{material}");
        assert_eq!(material["isFooterKey"], true, "{material}");
        assert_eq!(material["doubleWrapping"], true, "{material}");
        assert_eq!(material["masterKeyID"], self.master_key.as_str());
        let kek = self
            .kms
            .decrypt(&sealhouse_kms::api::DecryptRequest {
                ciphertext_blob: b64(&material["wrappedKEK"]),
                encryption_context: EncryptionContext::new(),
            })
            .unwrap()
            .plaintext;
        let kek_id = b64(&material["keyEncryptionKeyID"]);
        let mut wrapped_dek = b64(&material["wrappedDEK"]);
        let algorithm = match kek.len() {
            16 => &ring::aead::AES_128_GCM,
            _ => &ring::aead::AES_256_GCM,
        };
        let key = ring::aead::LessSafeKey::new(
            ring::aead::UnboundKey::new(algorithm, kek.expose()).unwrap(),
        );
        let (nonce, sealed) = wrapped_dek.split_at_mut(12);
        let nonce = ring::aead::Nonce::try_assume_unique_for_key(nonce).unwrap();
        let dek = key
            .open_in_place(nonce, ring::aead::Aad::from(&kek_id), sealed)
            .unwrap()
            .to_vec();
        self.sizes.lock().unwrap().push((kek.len(), dek.len()));
        Ok(dek)
    }
}

/// An AES256 file of a project whose CMK is `key_arn`, opened with
/// [`OwnUnwrap`] as the CMK's account: its metadata (page indexes too), its
/// rows, and the (KEK, DEK) lengths its key material held.
fn open_aes256_file(
    w: &World,
    path: &Path,
    key_arn: &str,
) -> (
    Arc<parquet::file::metadata::ParquetMetaData>,
    usize,
    Vec<(usize, usize)>,
) {
    let key_account = key_arn.split(':').nth(3).unwrap();
    let retriever = Arc::new(OwnUnwrap {
        kms: w.kms.as_principal(root(key_account)),
        master_key: key_arn.to_owned(),
        sizes: Default::default(),
    });
    let properties = parquet::encryption::decrypt::FileDecryptionProperties::with_key_retriever(
        Arc::clone(&retriever) as _,
    )
    .build()
    .unwrap();
    let builder =
        parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder::try_new_with_options(
            std::fs::File::open(path).unwrap(),
            parquet::arrow::arrow_reader::ArrowReaderOptions::new()
                .with_file_decryption_properties(properties)
                .with_page_index_policy(parquet::file::metadata::PageIndexPolicy::Required),
        )
        .unwrap();
    let metadata = Arc::clone(builder.metadata());
    let rows = builder
        .build()
        .unwrap()
        .map(|b| b.unwrap().num_rows())
        .sum();
    let sizes = retriever.sizes.lock().unwrap().clone();
    (metadata, rows, sizes)
}

#[test]
fn aes256_files_have_256_bit_data_keys_and_key_encryption_keys() {
    let w = World::new();
    let mut s = w.session(root(A), Duration::from_secs(600));
    s.ok(&format!(
        "CREATE PROJECT sizes ENCRYPTION ALGORITHM AES256 KEY '{}'",
        w.key_arn
    ));
    s.ok("USE sizes");
    s.ok(CREATE_T);
    s.insert_marked("t", 1, 500);
    s.insert_marked("t", 501, 500);
    let files = w.table_files("sizes", "t");
    assert_eq!(files.len(), 2);
    for file in files {
        // The DEK unwrapped by hand is the file's key: the file reads with it.
        let (_, rows, sizes) = open_aes256_file(&w, &w.file_path(&file), &w.key_arn);
        assert_eq!(rows, 500);
        assert!(!sizes.is_empty());
        for (kek, dek) in sizes {
            assert_eq!(
                (kek * 8, dek * 8),
                (256, 256),
                "{}: KEK and DEK bits",
                w.file_path(&file).display()
            );
        }
    }
    // And SQL reads them.
    assert_eq!(
        s.check("t"),
        ("1000".into(), "500500".into(), "1000".into())
    );
}

/// Scans hand BINARY on as views (no copy per value) and inserts write
/// those without a conversion, yet every file still records BINARY as its
/// Arrow type, which is what pyarrow and other readers see, and the values
/// read back intact: written from a function's result, from a scan, plain
/// and AES256.
#[test]
fn byte_and_text_columns_keep_their_types_in_the_files_whatever_the_scans_read_them_as() {
    let w = World::new();
    let mut s = w.session(root(A), Duration::from_secs(600));
    s.ok(&format!(
        "CREATE PROJECT sealed ENCRYPTION ALGORITHM AES256 KEY '{}'",
        w.key_arn
    ));
    // 40-byte prefixes: longer than a view holds inline.
    let value = "CAST(concat(repeat('v', 40), CAST(id AS STRING)) AS BINARY)";
    // Text of 200 bytes a value is read as views, short text as offsets.
    let wide = "lpad(CAST(id AS STRING), 200, 'w')";
    for project in ["default", "sealed"] {
        s.ok(&format!("USE {project}"));
        s.ok("CREATE TABLE b (id BIGINT, c BINARY, t STRING, n STRING)");
        s.ok(&format!(
            "INSERT INTO b SELECT id, {value}, {wide}, CAST(id AS STRING) AS n \
             FROM (SELECT value AS id FROM range(1000))"
        ));
        s.ok("CREATE TABLE copied AS SELECT * FROM b");
        s.ok("INSERT INTO copied SELECT id + 1000, c, t, n FROM b");
        for table in ["b", "copied"] {
            for file in w.table_files(project, table) {
                let path = w.file_path(&file);
                let metadata = if project == "sealed" {
                    open_aes256_file(&w, &path, &w.key_arn).0
                } else {
                    let builder =
                        parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder::try_new(
                            std::fs::File::open(&path).unwrap(),
                        )
                        .unwrap();
                    Arc::clone(builder.metadata())
                };
                let file_metadata = metadata.file_metadata();
                let schema = parquet::arrow::parquet_to_arrow_schema(
                    file_metadata.schema_descr(),
                    file_metadata.key_value_metadata(),
                )
                .unwrap();
                for (column, stored) in [
                    ("c", arrow::datatypes::DataType::Binary),
                    ("t", arrow::datatypes::DataType::Utf8),
                    ("n", arrow::datatypes::DataType::Utf8),
                ] {
                    assert_eq!(
                        schema.field_with_name(column).unwrap().data_type(),
                        &stored,
                        "{column} in {}",
                        path.display()
                    );
                }
            }
            let r = s.rows(&format!(
                "SELECT arrow_typeof(c), arrow_typeof(t), arrow_typeof(n) FROM {table} LIMIT 1"
            ));
            assert_eq!(
                (text(&r, 0, 0), text(&r, 0, 1), text(&r, 0, 2)),
                ("BinaryView".into(), "Utf8View".into(), "Utf8".into()),
                "{project}.{table}"
            );
        }
        let r = s.rows(&format!(
            "SELECT count(*), sum(CASE WHEN t = {wide} AND n = CAST(id AS STRING) THEN 1 ELSE 0 END) \
             FROM copied"
        ));
        assert_eq!(
            (text(&r, 0, 0), text(&r, 0, 1)),
            ("2000".into(), "1000".into())
        );
        let r = s.rows(&format!(
            "SELECT count(*), sum(CASE WHEN c = {value} THEN 1 ELSE 0 END) FROM b"
        ));
        assert_eq!(
            (text(&r, 0, 0), text(&r, 0, 1)),
            ("1000".into(), "1000".into())
        );
        let r = s.rows(
            "SELECT count(*), \
             sum(CASE WHEN c = CAST(concat(repeat('v', 40), CAST(id % 1000 AS STRING)) AS BINARY) \
             THEN 1 ELSE 0 END) FROM copied",
        );
        assert_eq!(
            (text(&r, 0, 0), text(&r, 0, 1)),
            ("2000".into(), "2000".into())
        );
    }
}

fn a_flipped_byte_in_any_encrypted_file_fails_the_read(backend: Backend) {
    let w = World::on(backend);
    let mut s = w.root_session();
    for algorithm in StorageAlgorithm::ALL {
        let project = format!("flip_{}", algorithm.name().to_lowercase());
        s.ok(&format!(
            "CREATE PROJECT {project} ENCRYPTION ALGORITHM {algorithm}"
        ));
        s.ok(&format!("USE {project}"));
        s.ok(CREATE_T);
        s.insert_marked("t", 1, 3000);
        let expected = s.check("t");
        let file = w.table_files(&project, "t").remove(0);
        let original = std::fs::read(w.file_path(&file)).unwrap();
        let len = original.len();
        // Where an AES256 file's offset indexes lie. Readers take page
        // indexes as optional (DataFusion asks parquet for
        // `PageIndexPolicy::Optional`), and parquet drops them all when one
        // fails to authenticate: the query runs without page pruning and
        // gives the right rows, with no error. So a flip there need not be
        // detected, only harmless (docs/storage-encryption.md, "Integrity").
        let unread: Vec<std::ops::Range<usize>> = if algorithm == StorageAlgorithm::Aes256 {
            let key_arn = s.property(&project, "key_arn");
            let (metadata, _, _) = open_aes256_file(&w, &w.file_path(&file), &key_arn);
            metadata
                .row_groups()
                .iter()
                .flat_map(|rg| rg.columns())
                .filter_map(|c| Some((c.offset_index_offset()?, c.offset_index_length()?)))
                .map(|(at, n)| at as usize..at as usize + n as usize)
                .collect()
        } else {
            Vec::new()
        };
        // The first and last 40 bytes (magic, header, footer) and 60
        // positions spread over the rest.
        let mut positions: Vec<usize> = (0..40).chain(len - 40..len).collect();
        positions.extend((0..60).map(|k| 40 + k * (len - 80) / 60));
        // A full scan, and a filtered one that also reads the page index
        // (a scan without a predicate never reads those bytes).
        let queries = [
            "SELECT count(*), sum(id), \
             sum(CASE WHEN note = concat('sealhouse-plaintext-marker-', CAST(id AS STRING)) \
             THEN 1 ELSE 0 END) FROM t",
            "SELECT count(*), sum(id), min(note) FROM t WHERE id > 2000",
        ];
        let unmodified: Vec<String> = queries
            .iter()
            .map(|q| format!("{:?}", s.rows(q).batches))
            .collect();
        for &at in &positions {
            let mut bytes = original.clone();
            bytes[at] ^= 0x01;
            std::fs::write(w.file_path(&file), &bytes).unwrap();
            let mut detected = false;
            for (query, unmodified) in queries.iter().zip(&unmodified) {
                match s.try_sql(query) {
                    Err(_) => detected = true,
                    // Never wrong rows.
                    Ok(StatementOutput::Rows(r)) => assert_eq!(
                        &format!("{:?}", r.batches),
                        unmodified,
                        "{algorithm}: flipping byte {at} of {len} changed the rows of {query}"
                    ),
                    Ok(other) => panic!("{query}: {other:?}"),
                }
            }
            assert!(
                detected || unread.iter().any(|r| r.contains(&at)),
                "{algorithm}: flipping byte {at} of {len} was not detected (unmodified: \
                 {expected:?}); around: {:?}",
                String::from_utf8_lossy(&original[at - 100..(at + 60).min(len)])
            );
        }
        std::fs::write(w.file_path(&file), &original).unwrap();
        assert_eq!(s.check("t"), expected, "{algorithm} after restoring");
    }
}

fn a_project_encrypted_after_it_held_data_reads_both_and_rewrite_encrypts_everything(
    backend: Backend,
) {
    let w = World::on(backend);
    let mut s = w.root_session();
    s.ok("CREATE PROJECT later");
    s.ok("USE later");
    s.ok(CREATE_T);
    s.ok("CREATE TABLE u (id BIGINT, note STRING)");
    s.insert_marked("t", 1, 700);
    s.insert_marked("u", 1, 10);
    assert_eq!(s.property("later", "storage_encryption"), "disabled");
    let message = s.ok("ALTER PROJECT later ENABLE ENCRYPTION ALGORITHM AESCTR");
    assert!(message.contains("REWRITE PROJECT later"), "{message}");
    s.insert_marked("t", 701, 300);
    assert_eq!(
        s.check("t"),
        ("1000".into(), "500500".into(), "1000".into())
    );
    let kinds: Vec<_> = w
        .table_files("later", "t")
        .iter()
        .map(|f| f.encryption)
        .collect();
    assert_eq!(kinds, vec![None, Some(StorageAlgorithm::AesCtr)]);
    assert_eq!(s.property("later", "unencrypted_files"), "2");

    // One table, then the whole project.
    let message = s.ok("REWRITE TABLE t");
    assert!(
        message.contains("rewrote 1 files of 1 tables (700 rows)"),
        "{message}"
    );
    assert_eq!(s.property("later", "unencrypted_files"), "1");
    let message = s.ok("REWRITE PROJECT later");
    assert!(
        message.contains("rewrote 1 files of 1 tables (10 rows)"),
        "{message}"
    );
    assert_eq!(s.property("later", "unencrypted_files"), "0");
    assert_eq!(
        s.check("t"),
        ("1000".into(), "500500".into(), "1000".into())
    );
    assert_eq!(s.check("u"), ("10".into(), "55".into(), "10".into()));
    for table in ["t", "u"] {
        assert!(
            w.table_files("later", table)
                .iter()
                .all(|f| f.encryption == Some(StorageAlgorithm::AesCtr))
        );
    }
    for (path, bytes) in w.data_files() {
        assert!(
            !contains(&bytes, MARKER.as_bytes()),
            "{} still holds values in clear after REWRITE",
            path.display()
        );
    }
    // Nothing left to do.
    let message = s.ok("REWRITE PROJECT later");
    assert!(message.contains("rewrote 0 files"), "{message}");
    // Rewriting an unencrypted project says what to do.
    s.ok("CREATE PROJECT never");
    let e = s.error("REWRITE PROJECT never");
    assert!(e.contains("ALTER PROJECT never ENABLE ENCRYPTION"), "{e}");
}

#[test]
fn storage_encryption_cannot_be_disabled_or_changed_once_set() {
    let w = World::new();
    let mut s = w.root_session();
    s.ok("CREATE PROJECT fixed ENCRYPTION ALGORITHM AES256");
    let arn = s.property("fixed", "key_arn");
    let e = s.error("ALTER PROJECT fixed DISABLE ENCRYPTION");
    assert!(e.contains("cannot be disabled once enabled"), "{e}");
    for change in [
        "ALTER PROJECT fixed ENABLE ENCRYPTION ALGORITHM AESCTR".to_owned(),
        "ALTER PROJECT fixed ENABLE ENCRYPTION ALGORITHM AES256".to_owned(),
        format!("ALTER PROJECT fixed ENABLE ENCRYPTION KEY '{}'", w.key_arn),
    ] {
        let e = s.error(&change);
        assert!(
            e.contains("cannot be disabled, and its algorithm and key cannot be changed"),
            "{change}: {e}"
        );
    }
    assert_eq!(s.property("fixed", "algorithm"), "AES256");
    assert_eq!(s.property("fixed", "key_arn"), arn);
    // Enabled later, then fixed just the same.
    s.ok("CREATE PROJECT open");
    let e = s.error("ALTER PROJECT open DISABLE ENCRYPTION");
    assert!(e.contains("nothing to disable"), "{e}");
    s.ok("ALTER PROJECT open ENABLE ENCRYPTION ALGORITHM RC4");
    let e = s.error("ALTER PROJECT open ENABLE ENCRYPTION ALGORITHM AES256");
    assert!(e.contains("already has storage encryption (RC4"), "{e}");
    assert_eq!(s.property("open", "algorithm"), "RC4");
    assert!(s.property("open", "warning").contains("RC4 is insecure"));
    // Bad clauses say what is expected.
    let e = s.error("CREATE PROJECT x ENCRYPTION ALGORITHM DES");
    assert!(e.contains("AES256, AESCTR or RC4"), "{e}");
    let e = s.error("CREATE PROJECT x ENCRYPTION KEY 'not-an-arn'");
    assert!(e.contains("is not a KMS key ARN"), "{e}");
    assert!(w.catalog.project("x").is_err());
}

on_both_backends!(
    every_algorithm_hides_the_values_on_disk_and_sql_returns_them_intact,
    a_flipped_byte_in_any_encrypted_file_fails_the_read,
    a_project_encrypted_after_it_held_data_reads_both_and_rewrite_encrypts_everything,
);
