//! Workload `records`: `connections` sessions are opened before the clock starts and switched
//! to bulk streaming (see [`crate::bulk`]); each writes (and in echo mode reads back) records
//! of `record_size` until the window closes, then checks byte count and CRC-32 against the
//! server's trailer: measures record throughput.

use std::sync::Arc;
use std::time::Duration;

use futures::future::BoxFuture;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::time::Instant;

use super::{Task, Workload};
use crate::bulk::{BulkMode, TrailedStream};
use crate::failure::FailureKind;
use crate::plan::Direction;
use crate::tls::PeerKeyCache;

/// Bytes handed to the TLS stream per write.
const WRITE_BATCH: usize = 64 * 1024;

/// How often a streaming session hands the bytes it moved to the recorder, so that progress
/// and the timeline show the rate as it flows rather than all of it at the session's end.
const COUNT_EVERY: Duration = Duration::from_millis(100);

/// Streaming sessions.
pub(super) struct Records {
    connections: usize,
    /// One pattern buffer for the phase; each write takes the next slice of it.
    data: Arc<[u8]>,
}

impl Records {
    /// `connections` streaming sessions.
    pub(super) fn new(connections: usize) -> Records {
        Records {
            connections,
            data: crate::bulk::pattern(4 * WRITE_BATCH + 4096, 0x51b).into(),
        }
    }
}

impl Workload for Records {
    fn tasks(&self) -> usize {
        self.connections
    }

    fn opens_first(&self) -> bool {
        true
    }

    fn run(self: Arc<Self>, task: Task) -> BoxFuture<'static, ()> {
        Box::pin(async move { self.session(task).await })
    }
}

impl Records {
    /// One bulk session: open and switch to streaming, stream until the window closes, check.
    async fn session(&self, task: Task) {
        let (ctx, rec, data) = (&task.ctx, &task.rec, &self.data);
        let plan = &ctx.plan;
        let id = ctx.next_id();
        let mut keys = PeerKeyCache::default();
        let mode = match plan.direction {
            Direction::Up => BulkMode::Sink,
            Direction::Both => BulkMode::Echo,
        };
        // A stream pipelines: its two ends go on different cores, so the session connects to the
        // server thread beside its own worker's (with one listener, the same one).
        let peer = task.worker + 1;
        let opened = match ctx.establish(peer, &mut keys).await {
            Ok((stream, est)) => {
                rec.record().started().established(&est);
                ctx.client(stream, id).into_bulk(mode, plan.sip_timeout).await
            }
            Err(kind) => {
                rec.record().started();
                Err(kind)
            }
        };
        let (stream, leftover) = match opened {
            Ok((stream, leftover, _)) => (stream, leftover),
            Err(kind) => {
                rec.record().fail(kind);
                task.opening.failed();
                return;
            }
        };
        task.opening.opened();
        let Some(clock) = task.start.clock().await else { return };

        let (mut rd, mut wr) = tokio::io::split(stream);
        // A sink sends nothing back until its trailer, which follows the writer's close: the
        // reader's timeout runs per read in echo mode, and from the writer's end in sink mode.
        let (wrote_tx, wrote_rx) = tokio::sync::watch::channel(false);
        let read_timeout = plan.sip_timeout.max(Duration::from_secs(5));
        // Writes carry several records (rustls cuts them at the record size): fewer system calls,
        // same records on the wire.
        let record = plan.record_size.max(1);
        let size = (WRITE_BATCH / record).max(1) * record;
        let writer = async {
            let written = async {
                let mut sent_crc = crc32fast::Hasher::new();
                // Measured bytes and records not yet handed to the recorder.
                let (mut sent, mut measured_bytes, mut measured_records) = (0u64, 0u64, 0u64);
                let mut counted_at = Instant::now();
                let mut last = Duration::ZERO;
                let mut off = 0usize;
                let span = data.len() - size;
                loop {
                    let now = Instant::now();
                    if ctx.stop.is_set() || clock.over(now) {
                        break;
                    }
                    let chunk = &data[off..off + size];
                    off = (off + 4099) % span.max(1);
                    if let Err(e) = wr.write_all(chunk).await {
                        return Err(crate::tls::classify_io(&e));
                    }
                    sent_crc.update(chunk);
                    sent += size as u64;
                    if clock.measured(now) {
                        measured_bytes += size as u64;
                        measured_records += (size / record) as u64;
                        last = clock.offset(now);
                        if now.saturating_duration_since(counted_at) >= COUNT_EVERY {
                            rec.record().bytes(measured_bytes, 0).records(measured_records);
                            (measured_bytes, measured_records, counted_at) = (0, 0, now);
                        }
                    }
                }
                // close_notify and FIN: the server then sends its trailer.
                let _ = wr.flush().await;
                let _ = wr.shutdown().await;
                Ok((sent, sent_crc.finalize(), measured_bytes, measured_records, last))
            }
            .await;
            // Done or failed: the reader's wait for the trailer starts.
            let _ = wrote_tx.send(true);
            written
        };
        let reader = async {
            let mut stream = TrailedStream::new();
            stream.update(&leftover);
            let mut buf = vec![0u8; 64 * 1024];
            let mut measured_in = 0u64;
            let mut counted_at = Instant::now();
            let mut wrote = wrote_rx;
            loop {
                let read = rd.read(&mut buf);
                let read = match mode {
                    BulkMode::Echo => tokio::time::timeout(read_timeout, read).await.map_err(|_| ()),
                    BulkMode::Sink => tokio::select! {
                        r = read => Ok(r),
                        _ = async {
                            let _ = wrote.wait_for(|done| *done).await;
                            tokio::time::sleep(read_timeout).await;
                        } => Err(()),
                    },
                };
                let n = match read {
                    Err(_) => return Err(FailureKind::SipTimeout),
                    Ok(Ok(0)) => break,
                    Ok(Ok(n)) => n,
                    Ok(Err(e)) if e.kind() == std::io::ErrorKind::UnexpectedEof => break,
                    Ok(Err(e)) => return Err(crate::tls::classify_io(&e)),
                };
                stream.update(&buf[..n]);
                let now = Instant::now();
                if clock.measured(now) {
                    measured_in += n as u64;
                    if now.saturating_duration_since(counted_at) >= COUNT_EVERY {
                        rec.record().bytes(0, measured_in);
                        (measured_in, counted_at) = (0, now);
                    }
                }
            }
            Ok((stream.finish(), measured_in))
        };
        let (written, read) = tokio::join!(writer, reader);
        let mut r = rec.record();
        let outcome = match (written, read) {
            (Err(kind), _) | (_, Err(kind)) => Err(kind),
            (Ok((sent, crc, bytes, records, last)), Ok((trailed, measured_in))) => {
                // What was not counted on the way.
                r.bytes(bytes, measured_in).records(records).completed_at(last);
                match trailed {
                    None => Err(FailureKind::BulkNoTrailer),
                    Some((echoed, echoed_crc, (server_bytes, server_crc))) => {
                        let echo_ok = mode == BulkMode::Sink || (echoed, echoed_crc) == (sent, crc);
                        if (server_bytes, server_crc) == (sent, crc) && echo_ok {
                            Ok(())
                        } else {
                            Err(FailureKind::BulkChecksumMismatch)
                        }
                    }
                }
            }
        };
        match outcome {
            Ok(()) => r.ok(),
            Err(kind) => r.fail(kind),
        };
    }
}
