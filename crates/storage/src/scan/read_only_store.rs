//! Object stores that only read: the decrypting store of segmented files and
//! the checking store of plain files serve DataFusion's reads and refuse
//! everything else (tables are written through the warehouse, never through
//! an object store).

/// A `get_opts` answer of a read-only store: `bytes` of `range` of the
/// object `meta`, or (`None`) a HEAD's, whose range is the whole object.
pub(crate) fn get_result(
    meta: object_store::ObjectMeta,
    read: Option<(bytes::Bytes, std::ops::Range<u64>)>,
) -> object_store::GetResult {
    use futures::StreamExt as _;
    let (payload, range) = match read {
        Some((bytes, range)) => (
            futures::stream::once(async move { Ok(bytes) }).boxed(),
            range,
        ),
        None => (futures::stream::empty().boxed(), 0..meta.size),
    };
    object_store::GetResult {
        payload: object_store::GetResultPayload::Stream(payload),
        meta,
        range,
        attributes: Default::default(),
    }
}

/// The refusal of a write, listing, copy or delete by read-only store
/// `store`.
pub(crate) fn refused(store: &'static str, what: &str) -> object_store::Error {
    object_store::Error::NotSupported {
        source: format!("{store} is read-only ({what}); tables write through the warehouse").into(),
    }
}

/// `impl ObjectStore for $ty` with the given `get_opts` (the one method a
/// reader needs) and every other method refused, naming `$store`; and
/// `Display` as `$store`.
macro_rules! read_only_object_store {
    ($ty:ty, $store:expr, { $($get_opts:tt)* }) => {
        impl std::fmt::Display for $ty {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str($store)
            }
        }

        #[async_trait::async_trait]
        impl object_store::ObjectStore for $ty {
            $($get_opts)*

            async fn put_opts(
                &self,
                _location: &object_store::path::Path,
                _payload: object_store::PutPayload,
                _opts: object_store::PutOptions,
            ) -> object_store::Result<object_store::PutResult> {
                Err($crate::scan::read_only_store::refused($store, "put"))
            }

            async fn put_multipart_opts(
                &self,
                _location: &object_store::path::Path,
                _opts: object_store::PutMultipartOptions,
            ) -> object_store::Result<Box<dyn object_store::MultipartUpload>> {
                Err($crate::scan::read_only_store::refused($store, "multipart put"))
            }

            fn delete_stream(
                &self,
                locations: futures::stream::BoxStream<
                    'static,
                    object_store::Result<object_store::path::Path>,
                >,
            ) -> futures::stream::BoxStream<'static, object_store::Result<object_store::path::Path>>
            {
                use futures::StreamExt as _;
                locations
                    .map(|_| Err($crate::scan::read_only_store::refused($store, "delete")))
                    .boxed()
            }

            fn list(
                &self,
                _prefix: Option<&object_store::path::Path>,
            ) -> futures::stream::BoxStream<'static, object_store::Result<object_store::ObjectMeta>>
            {
                use futures::StreamExt as _;
                futures::stream::once(async { Err($crate::scan::read_only_store::refused($store, "list")) })
                    .boxed()
            }

            async fn list_with_delimiter(
                &self,
                _prefix: Option<&object_store::path::Path>,
            ) -> object_store::Result<object_store::ListResult> {
                Err($crate::scan::read_only_store::refused($store, "list"))
            }

            async fn copy_opts(
                &self,
                _from: &object_store::path::Path,
                _to: &object_store::path::Path,
                _options: object_store::CopyOptions,
            ) -> object_store::Result<()> {
                Err($crate::scan::read_only_store::refused($store, "copy"))
            }
        }
    };
}

pub(crate) use read_only_object_store;
