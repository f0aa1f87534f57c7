//! The executor's Arrow Flight service: serves its sealed shuffle files to
//! other executors and the coordinator, opened on the way out. It answers
//! the two requests Ballista's shuffle reader and client make (`do_get`
//! with a partition ticket, and the `IO_BLOCK_TRANSPORT` action) and
//! nothing else.

use std::fs::File;
use std::io::{BufReader, Read};
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;

use arrow_flight::encode::FlightDataEncoderBuilder;
use arrow_flight::error::FlightError;
use arrow_flight::flight_service_server::{FlightService, FlightServiceServer};
use arrow_flight::{
    Action, ActionType, Criteria, Empty, FlightData, FlightDescriptor, FlightInfo,
    HandshakeRequest, HandshakeResponse, PollInfo, PutResult, SchemaResult, Ticket,
};
use ballista_core::error::BallistaError;
use ballista_core::execution_plans::create_shuffle_path;
use ballista_core::serde::decode_protobuf;
use ballista_core::serde::scheduler::Action as BallistaAction;
use ballista_core::utils::{GrpcServerConfig, create_grpc_server};
use ballista_executor::shutdown::Shutdown;
use datafusion::arrow::error::ArrowError;
use datafusion::arrow::ipc::CompressionType;
use datafusion::arrow::ipc::reader::StreamReader;
use datafusion::arrow::ipc::writer::IpcWriteOptions;
use datafusion::arrow::record_batch::RecordBatch;
use futures::{Stream, TryStreamExt};
use tokio::sync::mpsc;
use tonic::{Request, Response, Status, Streaming};

use super::sealed_file::{CHUNK, OpeningReader, ShuffleSecret};
use crate::ClusterTls;

type Boxed<T> = Pin<Box<dyn Stream<Item = Result<T, Status>> + Send + 'static>>;

/// Serves one executor's sealed shuffle files.
#[derive(Debug, Clone)]
pub(crate) struct SealedFlightService {
    work_dir: String,
    secret: Arc<ShuffleSecret>,
}

/// One shuffle file asked for.
struct Wanted {
    path: std::path::PathBuf,
    name: String,
    job_id: String,
}

impl SealedFlightService {
    pub(crate) fn new(work_dir: String, secret: Arc<ShuffleSecret>) -> Self {
        Self { work_dir, secret }
    }

    /// The file a request names, checked.
    fn wanted(&self, body: &[u8]) -> Result<Wanted, Status> {
        let action = decode_protobuf(body).map_err(|e| {
            Status::invalid_argument(format!("not a shuffle partition ticket: {e}"))
        })?;
        let BallistaAction::FetchPartition {
            job_id,
            stage_id,
            partition_id,
            file_id,
            is_sort_shuffle,
            ..
        } = action;
        if is_sort_shuffle {
            return Err(Status::unimplemented(
                "sort-based shuffle files are not written on a Sealhouse cluster",
            ));
        }
        // A job id becomes a directory name: nothing that leaves the work
        // directory.
        if job_id.as_str().is_empty()
            || !job_id
                .as_str()
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        {
            return Err(Status::invalid_argument("not a job id"));
        }
        let path = create_shuffle_path(
            &self.work_dir,
            &job_id,
            stage_id,
            partition_id,
            file_id,
            false,
        )
        .map_err(|e| Status::invalid_argument(e.to_string()))?;
        let name = super::file_name(&job_id, stage_id, partition_id, file_id)
            .map_err(|e| Status::invalid_argument(e.to_string()))?;
        Ok(Wanted {
            path,
            name,
            job_id: job_id.as_str().to_owned(),
        })
    }

    /// The file, opening as it is read.
    fn open(&self, wanted: &Wanted) -> Result<OpeningReader<BufReader<File>>, Status> {
        let file = File::open(&wanted.path).map_err(|e| {
            Status::not_found(format!(
                "shuffle file {} cannot be opened: {e}",
                wanted.name
            ))
        })?;
        OpeningReader::new(
            BufReader::new(file),
            self.secret.job_cipher(&wanted.job_id),
            wanted.name.clone(),
        )
        .map_err(|e| Status::data_loss(e.to_string()))
    }
}

#[tonic::async_trait]
impl FlightService for SealedFlightService {
    type HandshakeStream = Boxed<HandshakeResponse>;
    type ListFlightsStream = Boxed<FlightInfo>;
    type DoGetStream = Boxed<FlightData>;
    type DoPutStream = Boxed<PutResult>;
    type DoActionStream = Boxed<arrow_flight::Result>;
    type ListActionsStream = Boxed<ActionType>;
    type DoExchangeStream = Boxed<FlightData>;

    /// The partition's batches, decoded from the opened file and sent as
    /// Flight data.
    async fn do_get(
        &self,
        request: Request<Ticket>,
    ) -> Result<Response<Self::DoGetStream>, Status> {
        let wanted = self.wanted(&request.into_inner().ticket)?;
        let reader = StreamReader::try_new(self.open(&wanted)?, None).map_err(|e| {
            Status::data_loss(match e {
                ArrowError::IoError(message, _) => message,
                other => format!("shuffle file {}: {other}", wanted.name),
            })
        })?;
        let schema = reader.schema();
        let (tx, rx) = mpsc::channel::<Result<RecordBatch, FlightError>>(2);
        tokio::task::spawn_blocking(move || {
            for batch in reader {
                if tx.blocking_send(batch.map_err(FlightError::from)).is_err() {
                    return;
                }
            }
        });
        let batches = futures::stream::unfold(rx, |mut rx| async move {
            rx.recv().await.map(|item| (item, rx))
        });
        let options = IpcWriteOptions::default()
            .try_with_compression(Some(CompressionType::LZ4_FRAME))
            .map_err(|e| Status::internal(e.to_string()))?;
        let data = FlightDataEncoderBuilder::new()
            .with_schema(schema)
            .with_options(options)
            .build(batches)
            .map_err(|e| Status::internal(e.to_string()));
        Ok(Response::new(Box::pin(data)))
    }

    /// `IO_BLOCK_TRANSPORT`: the partition's IPC stream bytes, opened.
    async fn do_action(
        &self,
        request: Request<Action>,
    ) -> Result<Response<Self::DoActionStream>, Status> {
        let action = request.into_inner();
        if action.r#type != "IO_BLOCK_TRANSPORT" {
            return Err(Status::unimplemented(format!(
                "action {} is not served here",
                action.r#type
            )));
        }
        let wanted = self.wanted(&action.body)?;
        let mut reader = self.open(&wanted)?;
        let (tx, rx) = mpsc::channel::<Result<arrow_flight::Result, Status>>(2);
        tokio::task::spawn_blocking(move || {
            loop {
                let mut block = vec![0u8; CHUNK];
                let item = match read_full(&mut reader, &mut block) {
                    Ok(0) => return,
                    Ok(n) => {
                        block.truncate(n);
                        Ok(arrow_flight::Result { body: block.into() })
                    }
                    Err(e) => Err(Status::data_loss(e.to_string())),
                };
                let failed = item.is_err();
                if tx.blocking_send(item).is_err() || failed {
                    return;
                }
            }
        });
        let blocks = futures::stream::unfold(rx, |mut rx| async move {
            rx.recv().await.map(|item| (item, rx))
        });
        Ok(Response::new(Box::pin(blocks)))
    }

    async fn handshake(
        &self,
        _request: Request<Streaming<HandshakeRequest>>,
    ) -> Result<Response<Self::HandshakeStream>, Status> {
        Err(unserved("handshake"))
    }

    async fn list_flights(
        &self,
        _request: Request<Criteria>,
    ) -> Result<Response<Self::ListFlightsStream>, Status> {
        Err(unserved("list_flights"))
    }

    async fn get_flight_info(
        &self,
        _request: Request<FlightDescriptor>,
    ) -> Result<Response<FlightInfo>, Status> {
        Err(unserved("get_flight_info"))
    }

    async fn poll_flight_info(
        &self,
        _request: Request<FlightDescriptor>,
    ) -> Result<Response<PollInfo>, Status> {
        Err(unserved("poll_flight_info"))
    }

    async fn get_schema(
        &self,
        _request: Request<FlightDescriptor>,
    ) -> Result<Response<SchemaResult>, Status> {
        Err(unserved("get_schema"))
    }

    async fn do_put(
        &self,
        _request: Request<Streaming<FlightData>>,
    ) -> Result<Response<Self::DoPutStream>, Status> {
        Err(unserved("do_put"))
    }

    async fn do_exchange(
        &self,
        _request: Request<Streaming<FlightData>>,
    ) -> Result<Response<Self::DoExchangeStream>, Status> {
        Err(unserved("do_exchange"))
    }

    async fn list_actions(
        &self,
        _request: Request<Empty>,
    ) -> Result<Response<Self::ListActionsStream>, Status> {
        let actions = [Ok(ActionType {
            r#type: "IO_BLOCK_TRANSPORT".to_owned(),
            description: "a shuffle partition's Arrow IPC stream".to_owned(),
        })];
        Ok(Response::new(Box::pin(futures::stream::iter(actions))))
    }
}

fn unserved(what: &str) -> Status {
    Status::unimplemented(format!("{what} is not served by a Sealhouse executor"))
}

/// Reads until `buf` is full or the reader ends.
fn read_full(reader: &mut impl Read, buf: &mut [u8]) -> std::io::Result<usize> {
    let mut filled = 0;
    while filled < buf.len() {
        match reader.read(&mut buf[filled..])? {
            0 => break,
            n => filled += n,
        }
    }
    Ok(filled)
}

/// Starts the service as Ballista starts its own (the executor process
/// calls this with its work directory and address), over TLS with `tls`.
pub(crate) fn serve(
    secret: Arc<ShuffleSecret>,
    max_message_size: usize,
    tls: Option<Arc<ClusterTls>>,
) -> impl Fn(
    String,
    SocketAddr,
    Shutdown,
    GrpcServerConfig,
) -> tokio::task::JoinHandle<Result<(), BallistaError>>
+ Send
+ Sync {
    move |work_dir, address, mut shutdown, config| {
        let service = SealedFlightService::new(work_dir, Arc::clone(&secret));
        let tls = tls.clone();
        tokio::spawn(async move {
            let mut server = create_grpc_server(&config);
            if let Some(tls) = &tls {
                server = server.tls_config(tls.server()).map_err(|e| {
                    BallistaError::General(format!("the executor's Flight TLS: {e}"))
                })?;
            }
            server
                .add_service(
                    FlightServiceServer::new(service)
                        .max_decoding_message_size(max_message_size)
                        .max_encoding_message_size(max_message_size),
                )
                .serve_with_shutdown(address, shutdown.recv())
                .await
                .map_err(BallistaError::TonicError)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn refuses_job_ids_that_leave_the_work_dir() {
        let service = SealedFlightService::new(
            "/nonexistent".into(),
            Arc::new(ShuffleSecret::generate().unwrap()),
        );
        for bad in ["../x", "a/b", "", ".."] {
            let action = ballista_core::serde::protobuf::Action {
                action_type: Some(
                    ballista_core::serde::protobuf::action::ActionType::FetchPartition(
                        ballista_core::serde::protobuf::FetchPartition {
                            job_id: bad.into(),
                            stage_id: 1,
                            partition_id: 0,
                            host: "127.0.0.1".into(),
                            port: 1,
                            file_id: None,
                            is_sort_shuffle: false,
                        },
                    ),
                ),
                settings: vec![],
            };
            let body = prost::Message::encode_to_vec(&action);
            let e = service
                .do_get(Request::new(Ticket {
                    ticket: body.into(),
                }))
                .await
                .err()
                .unwrap();
            assert_eq!(e.code(), tonic::Code::InvalidArgument, "{bad}: {e}");
        }
    }

    /// Over TLS, the service answers only clients with a certificate of
    /// the cluster CA: plaintext and another CA's certificate are refused
    /// before any request is served.
    #[tokio::test]
    async fn over_tls_only_cluster_members_fetch() {
        use arrow_flight::flight_service_client::FlightServiceClient;
        use tonic::transport::{Certificate, ClientTlsConfig, Endpoint, Identity};

        let dir = tempfile::tempdir().unwrap();
        let names = ["executor".to_owned(), "reader".to_owned()];
        let hosts = ["127.0.0.1".to_owned()];
        crate::generate_certs(&dir.path().join("cluster"), &names, &hosts).unwrap();
        crate::generate_certs(&dir.path().join("other"), &names[1..], &hosts).unwrap();
        let file = |ca: &str, name: &str| dir.path().join(ca).join(name);
        let tls = Arc::new(
            ClusterTls::load(
                &file("cluster", "ca.pem"),
                &file("cluster", "executor.pem"),
                &file("cluster", "executor.key"),
            )
            .unwrap(),
        );
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let address: SocketAddr = format!("127.0.0.1:{port}").parse().unwrap();
        let notifier = ballista_executor::shutdown::ShutdownNotifier::new();
        let start = serve(
            Arc::new(ShuffleSecret::generate().unwrap()),
            1 << 20,
            Some(tls),
        );
        let server = start(
            dir.path().to_str().unwrap().to_owned(),
            address,
            notifier.subscribe_for_shutdown(),
            GrpcServerConfig::default(),
        );
        let ticket = {
            let action = ballista_core::serde::protobuf::Action {
                action_type: Some(
                    ballista_core::serde::protobuf::action::ActionType::FetchPartition(
                        ballista_core::serde::protobuf::FetchPartition {
                            job_id: "nojob".into(),
                            stage_id: 1,
                            partition_id: 0,
                            host: "127.0.0.1".into(),
                            port: port.into(),
                            file_id: None,
                            is_sort_shuffle: false,
                        },
                    ),
                ),
                settings: vec![],
            };
            Ticket {
                ticket: prost::Message::encode_to_vec(&action).into(),
            }
        };
        let pem = |ca: &str, name: &str| std::fs::read(file(ca, name)).unwrap();
        let fetch = |endpoint: Endpoint| {
            let ticket = ticket.clone();
            async move {
                let channel = endpoint.connect().await.map_err(|e| e.to_string())?;
                FlightServiceClient::new(channel)
                    .do_get(ticket)
                    .await
                    .map(|_| ())
                    .map_err(|status| format!("{:?}: {}", status.code(), status.message()))
            }
        };
        let secure = |ca: &str, name: &str| {
            Endpoint::from_shared(format!("https://127.0.0.1:{port}"))
                .unwrap()
                .tls_config(
                    ClientTlsConfig::new()
                        .ca_certificate(Certificate::from_pem(pem("cluster", "ca.pem")))
                        .identity(Identity::from_pem(
                            pem(ca, &format!("{name}.pem")),
                            pem(ca, &format!("{name}.key")),
                        )),
                )
                .unwrap()
        };

        // A member: the request is served (the partition does not exist),
        // once the server listens.
        let mut member = String::new();
        for _ in 0..100 {
            member = fetch(secure("cluster", "reader")).await.unwrap_err();
            if member.starts_with("NotFound") {
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        }
        assert!(member.starts_with("NotFound"), "{member}");
        // Another CA's certificate, or none: nothing is served.
        let other = fetch(secure("other", "reader")).await.unwrap_err();
        assert!(!other.starts_with("NotFound"), "{other}");
        let plain = fetch(Endpoint::from_shared(format!("http://127.0.0.1:{port}")).unwrap())
            .await
            .unwrap_err();
        assert!(!plain.starts_with("NotFound"), "{plain}");
        drop(notifier);
        server.abort();
    }
}
