//! A cluster reading tables in an S3 bucket (a real S3 server on loopback):
//! executors that are principals of their own read the bucket their
//! identity names with their own `AWS_*` settings and no catalog.

mod cluster;
mod sandbox;

use cluster::{
    MARKER, create_project, files_read, files_under, fill, free_port, ok, queries, sql,
    start_principal_cluster,
};
use sandbox::Sandbox;

/// Tables in an S3 bucket (a real S3 server on loopback): executors read
/// them from the bucket the data directory names, with every result equal
/// to the embedded warehouse's, and no object holds an inserted value.
#[test]
fn a_cluster_reads_tables_in_an_s3_bucket() {
    let s3_root = tempfile::tempdir().expect("tempdir");
    let server = sealhouse_test_s3::TestS3::start(s3_root.path(), 0, &["warehouse"])
        .expect("the S3 server starts");
    let mut env = server.client_env();
    env.push(("SEALHOUSE_STORAGE_URL", "s3://warehouse/cluster".to_owned()));
    let sandbox = Sandbox::new().with_env(env);
    for (name, algorithm) in [("aes_p", "AES256"), ("ctr_p", "AESCTR")] {
        create_project(&sandbox, name, algorithm);
        fill(&sandbox, name);
    }
    let mut objects = 0;
    let mut stack = vec![s3_root.path().join("warehouse")];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir)
            .expect("reads")
            .filter_map(Result::ok)
        {
            let path = entry.path();
            if path.is_dir() {
                stack.push(path);
            } else {
                let bytes = std::fs::read(&path).expect("reads");
                assert!(
                    !bytes.windows(MARKER.len()).any(|w| w == MARKER.as_bytes()),
                    "{path:?} holds an inserted value"
                );
                objects += 1;
            }
        }
    }
    assert!(
        objects >= 28,
        "the tables' files are in the bucket: {objects}"
    );
    assert!(
        !sandbox.data().join("tables").exists()
            || files_under(&sandbox.data().join("tables")).is_empty(),
        "no table file on the local disk"
    );

    let scheduler_port = free_port();
    let url = format!("http://127.0.0.1:{scheduler_port}");
    // Executors as their own principals: they read the bucket their
    // identity names with their own AWS_* settings, and no catalog.
    let (cluster, _kms) =
        start_principal_cluster(sandbox.dir.path(), scheduler_port, 2, None, &[], || {
            sandbox.std_command()
        });
    for (name, other) in [("aes_p", "ctr_p"), ("ctr_p", "aes_p")] {
        for query in queries(other) {
            let embedded = ok(&sandbox, name, &query);
            let clustered = sql(&sandbox, Some(&url), name, &query)
                .unwrap_or_else(|e| panic!("{name}: {query} on the cluster: {e}"));
            assert_eq!(clustered, embedded, "{name}: {query}");
        }
    }
    let read = files_read(&cluster[1..]);
    assert_eq!(read["aes_p.events"].len(), 14, "{read:?}");
}
