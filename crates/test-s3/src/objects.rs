//! The server's S3 implementation: `s3s-fs` for every operation, with GET
//! bodies read in large blocks.
//!
//! s3s-fs streams a GET body through tokio's file in 4 KiB reads, each a
//! trip through the blocking pool: about 150-200 MB/s per request on this
//! machine, slower than any S3 service a warehouse would use and so slow
//! that it, not the client, would be what a benchmark measured. Here
//! s3s-fs still answers the GET (authorisation, path checks, range, ETag,
//! metadata) and only its body is replaced by reads of up to 1 MiB of the
//! same byte range.

use std::io;
use std::os::unix::fs::FileExt;
use std::path::PathBuf;
use std::sync::Arc;

use bytes::Bytes;
use s3s::dto::*;
use s3s::{S3, S3Request, S3Response, S3Result, s3_error};
use s3s_fs::FileSystem;

/// Bytes read per block of a GET body.
const BLOCK: u64 = 1 << 20;

/// Objects under `root` (`<root>/<bucket>/<key>`), served by `files`.
pub(crate) struct Objects {
    pub(crate) root: PathBuf,
    pub(crate) files: FileSystem,
}

impl Objects {
    async fn get_object_in_blocks(
        &self,
        req: S3Request<GetObjectInput>,
    ) -> S3Result<S3Response<GetObjectOutput>> {
        let path = self.root.join(&req.input.bucket).join(&req.input.key);
        let mut response = self.files.get_object(req).await?;
        let output = &mut response.output;
        let length = output.content_length.unwrap_or(0);
        let start = match &output.content_range {
            None => 0,
            Some(range) => range_start(range)
                .ok_or_else(|| s3_error!(InternalError, "unreadable content range {range}"))?,
        };
        let (Ok(length), Ok(file)) = (u64::try_from(length), std::fs::File::open(&path)) else {
            return Err(s3_error!(NoSuchKey));
        };
        let state = (Arc::new(file), start, start + length);
        let body = futures::stream::try_unfold(state, |(file, at, end)| async move {
            if at >= end {
                return Ok(None);
            }
            let n = (end - at).min(BLOCK);
            let reading = Arc::clone(&file);
            let block = tokio::task::spawn_blocking(move || {
                let mut buf = vec![0; n as usize];
                reading
                    .read_exact_at(&mut buf, at)
                    .map(|()| Bytes::from(buf))
            })
            .await
            .map_err(io::Error::other)??;
            Ok::<_, io::Error>(Some((block, (file, at + n, end))))
        });
        output.body = Some(StreamingBlob::wrap(body));
        Ok(response)
    }
}

/// The first byte of `bytes FIRST-LAST/LENGTH`.
fn range_start(content_range: &str) -> Option<u64> {
    let spec = content_range.strip_prefix("bytes ")?;
    spec.split('-').next()?.parse().ok()
}

/// `impl S3 for Objects`: GET in blocks, every other operation s3s-fs's.
/// (A macro around the whole impl, so that `async_trait` sees the
/// forwarding methods it generates.)
macro_rules! forward_to_files {
    ($($operation:ident($input:ty) -> $output:ty;)*) => {
        #[async_trait::async_trait]
        impl S3 for Objects {
            async fn get_object(
                &self,
                req: S3Request<GetObjectInput>,
            ) -> S3Result<S3Response<GetObjectOutput>> {
                self.get_object_in_blocks(req).await
            }

            $(
                async fn $operation(&self, req: S3Request<$input>) -> S3Result<S3Response<$output>> {
                    self.files.$operation(req).await
                }
            )*
        }
    };
}

forward_to_files! {
    create_bucket(CreateBucketInput) -> CreateBucketOutput;
    copy_object(CopyObjectInput) -> CopyObjectOutput;
    delete_bucket(DeleteBucketInput) -> DeleteBucketOutput;
    delete_object(DeleteObjectInput) -> DeleteObjectOutput;
    delete_objects(DeleteObjectsInput) -> DeleteObjectsOutput;
    get_bucket_location(GetBucketLocationInput) -> GetBucketLocationOutput;
    head_bucket(HeadBucketInput) -> HeadBucketOutput;
    head_object(HeadObjectInput) -> HeadObjectOutput;
    list_buckets(ListBucketsInput) -> ListBucketsOutput;
    list_objects(ListObjectsInput) -> ListObjectsOutput;
    list_objects_v2(ListObjectsV2Input) -> ListObjectsV2Output;
    put_object(PutObjectInput) -> PutObjectOutput;
    create_multipart_upload(CreateMultipartUploadInput) -> CreateMultipartUploadOutput;
    upload_part(UploadPartInput) -> UploadPartOutput;
    upload_part_copy(UploadPartCopyInput) -> UploadPartCopyOutput;
    list_parts(ListPartsInput) -> ListPartsOutput;
    complete_multipart_upload(CompleteMultipartUploadInput) -> CompleteMultipartUploadOutput;
    abort_multipart_upload(AbortMultipartUploadInput) -> AbortMultipartUploadOutput;
}

#[cfg(test)]
mod tests {
    use super::range_start;

    #[test]
    fn the_start_of_a_content_range() {
        assert_eq!(range_start("bytes 0-9/10"), Some(0));
        assert_eq!(
            range_start("bytes 1048576-2097151/9000000"),
            Some(1_048_576)
        );
        assert_eq!(range_start("items 0-9/10"), None);
        assert_eq!(range_start("bytes x-9/10"), None);
    }
}
