//! One direction of a relayed connection: a pump that reads from one socket and replays what it read on the
//! other, `latency` later, keeping the order of data, FIN and RST.
//!
//! The pump owns neither socket and decides nothing about the connection as a whole: it reports how its
//! direction ended ([`PumpEnd`]) and the caller (`connection`) tears both sockets down. Fault decisions live in
//! `fault`.
//!
//! Shape: a reader pushes `(deliver_at, Event)` onto a queue; a writer pops events in order, sleeps until
//! `deliver_at` (on `precise_timer`, so a crossing takes its latency to a fraction of a millisecond, not
//! tokio's rounded-up millisecond ticks) and performs them. Because the FIN and the RST are events in the same queue as the data, they
//! cross the link with the same latency and never overtake data sent before them.
//!
//! Limit: a reader stops at its source's FIN. An RST that the source sends *after* its FIN is not read (Linux
//! returns 0, not ECONNRESET, once a FIN was received); it surfaces only if the opposite pump writes to that
//! socket again, as [`PumpEnd::DestinationFailed`]. The peer has already seen the FIN by then, as it would
//! without the link.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use timeline::Segment;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::sync::{OwnedSemaphorePermit, Semaphore, mpsc};

use crate::recording::PumpLog;

/// Largest chunk read at once.
const CHUNK_BYTES: usize = 16 * 1024;

/// Bytes one direction may hold in flight (read, not yet written). Like a TCP window: it bounds the memory of a
/// connection whose receiver stalls, and caps one connection's throughput at `IN_FLIGHT_BYTES / latency`
/// (40 MB/s at 100 ms), far above what the scenarios push.
const IN_FLIGHT_BYTES: usize = 4 * 1024 * 1024;

/// What the reader saw, replayed by the writer.
#[derive(Debug)]
enum Event {
    /// Bytes, with the share of the in-flight budget they hold until written.
    Data(Vec<u8>, OwnedSemaphorePermit),
    /// The source sent its FIN (read returned 0).
    Fin,
    /// Reading the source failed: it reset (ECONNRESET) or broke in another way.
    Reset,
}

/// How one direction ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum PumpEnd {
    /// The source's FIN was delivered to the destination as a FIN.
    Finished,
    /// The source reset and the reset is due at the destination now.
    Reset,
    /// Writing to the destination failed: the destination is gone. The source has not been told yet.
    DestinationFailed,
    /// The first data arrived while a reset injection was armed; nothing was relayed.
    InjectReset,
}

/// How the reader half of a pump stopped.
enum ReadEnd {
    /// Its last event (FIN or RST) is queued, or the writer is gone.
    Queued,
    /// Armed injection: data arrived and was not queued.
    InjectReset,
}

/// Which sockets of a connection a write found broken, shared by its two pumps.
///
/// Linux reports an RST once: when a write to a socket takes the error (ECONNRESET or EPIPE), the next read
/// of that socket returns 0 as if the peer had sent a FIN. The pump reading that socket must relay an RST
/// then, not a FIN, or the far end would see a polite close where the near end reset.
#[derive(Debug, Default)]
pub(crate) struct Broken(AtomicBool);

impl Broken {
    fn mark(&self) {
        self.0.store(true, Ordering::Release);
    }

    fn is_marked(&self) -> bool {
        self.0.load(Ordering::Acquire)
    }
}

/// Relays `source` to `destination` with `latency` until the source's FIN or RST has been delivered, writing
/// fails, or (if `reset_on_first_data`) the source sends its first bytes. `source_broken` is marked by the
/// opposite pump when its write to the source's socket failed; this pump marks `destination_broken` when its
/// write fails. What it delivers goes into `log` (nothing when the log is off).
pub(crate) async fn pump<R, W>(
    source: R,
    destination: W,
    latency: Duration,
    reset_on_first_data: bool,
    (source_broken, destination_broken): (&Broken, &Broken),
    log: PumpLog<'_>,
) -> PumpEnd
where
    R: AsyncRead + Unpin,
    W: AsyncWrite + Unpin,
{
    let (queue, events) = mpsc::unbounded_channel();
    let reader = read_side(source, queue, latency, reset_on_first_data, source_broken);
    let writer = write_side(destination, events, destination_broken, log);
    tokio::pin!(reader, writer);
    tokio::select! {
        biased;
        end = &mut writer => end,
        read_end = &mut reader => match read_end {
            ReadEnd::InjectReset => PumpEnd::InjectReset,
            ReadEnd::Queued => writer.await,
        },
    }
}

async fn read_side<R>(
    mut source: R,
    queue: mpsc::UnboundedSender<(Instant, Event)>,
    latency: Duration,
    reset_on_first_data: bool,
    source_broken: &Broken,
) -> ReadEnd
where
    R: AsyncRead + Unpin,
{
    // The queue is unbounded in events but bounded in bytes by this budget: once it is spent the reader stops
    // reading and the kernel's receive buffer and TCP flow control push back on the sender.
    let budget = Arc::new(Semaphore::new(IN_FLIGHT_BYTES));
    let mut buffer = vec![0u8; CHUNK_BYTES];
    loop {
        let (event, last) = match source.read(&mut buffer).await {
            Ok(0) if source_broken.is_marked() => (Event::Reset, true),
            Ok(0) => (Event::Fin, true),
            Ok(_) if reset_on_first_data => return ReadEnd::InjectReset,
            Ok(read) => {
                // `read` <= CHUNK_BYTES, so the conversion and the acquisition always fit the budget.
                let Ok(permit) = Arc::clone(&budget).acquire_many_owned(read as u32).await else {
                    return ReadEnd::Queued;
                };
                (Event::Data(buffer[..read].to_vec(), permit), false)
            }
            Err(error) => {
                tracing::trace!(%error, "relay source read failed; relaying a reset");
                (Event::Reset, true)
            }
        };
        if queue.send((Instant::now() + latency, event)).is_err() || last {
            return ReadEnd::Queued;
        }
    }
}

async fn write_side<W>(
    mut destination: W,
    mut events: mpsc::UnboundedReceiver<(Instant, Event)>,
    destination_broken: &Broken,
    mut log: PumpLog<'_>,
) -> PumpEnd
where
    W: AsyncWrite + Unpin,
{
    while let Some((deliver_at, event)) = events.recv().await {
        // Past deadlines (a backlog of chunks) cost nothing; a due one lands within a fraction of a millisecond
        // rather than at tokio's next millisecond tick (see `precise_timer`).
        if deliver_at > Instant::now() {
            precise_timer::sleep_until(deliver_at).await;
        }
        // Taken before the write: a write that wakes the peer may be preempted before it returns.
        let delivering = Instant::now();
        match event {
            Event::Data(bytes, permit) => {
                if let Err(error) = destination.write_all(&bytes).await {
                    tracing::trace!(%error, "relay destination write failed");
                    destination_broken.mark();
                    return PumpEnd::DestinationFailed;
                }
                log.delivered(deliver_at, delivering, Segment::Data, bytes.len());
                drop(permit);
            }
            Event::Fin => {
                return match destination.shutdown().await {
                    Ok(()) => {
                        log.delivered(deliver_at, delivering, Segment::Fin, 0);
                        PumpEnd::Finished
                    }
                    Err(error) => {
                        tracing::trace!(%error, "relay destination shutdown failed");
                        destination_broken.mark();
                        PumpEnd::DestinationFailed
                    }
                };
            }
            Event::Reset => {
                log.delivered(deliver_at, delivering, Segment::Rst, 0);
                return PumpEnd::Reset;
            }
        }
    }
    // The reader always queues a last event before it lets go of the queue, except when it injects a reset, and
    // then `pump` no longer polls the writer: this end is not observed.
    PumpEnd::Finished
}
