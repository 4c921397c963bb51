//! Heap bytes per idle client keep-alive connection, exact: `cargo bench --bench idle_memory`. A counting global
//! allocator keeps the live bytes (allocated − freed) and the live blocks of every size. The gateway and its
//! origin run in this process (the gateway with two worker threads, as `bench/compare.sh` runs it); the clients
//! are blocking `std` sockets on the main thread, which allocate nothing per connection. After one warm-up
//! request, `CONNECTIONS` clients each send one request, read the response and stay open; the live heap is read
//! once every connection is idle, and again after it was idle past `client_park_after`. The difference from the
//! baseline, divided by the connections, is what one idle connection holds on the heap (the kernel's socket
//! buffers and the allocator's own retention are not in it: that is what RSS adds). It prints the figures and
//! the block sizes that make them up; it asserts nothing (figures live in benches and bench/compare.sh).

use std::alloc::{GlobalAlloc, Layout, System};
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::atomic::{AtomicI64, Ordering};
use std::time::Duration;

use gateway::{FrontConfig, Gateway};
use origin::{Origin, OriginConfig};

#[path = "support/response.rs"]
mod response;
use response::complete_response;

/// Blocks up to this size are counted per exact size; larger ones in the last slot.
const SIZES: usize = 64 * 1024;

/// The system allocator, counting live bytes and live blocks per size.
struct Counting;

static LIVE_BYTES: AtomicI64 = AtomicI64::new(0);
static LIVE_BLOCKS: [AtomicI64; SIZES + 1] = [const { AtomicI64::new(0) }; SIZES + 1];

fn slot(size: usize) -> &'static AtomicI64 {
    &LIVE_BLOCKS[size.min(SIZES)]
}

fn counted_alloc(size: usize) {
    LIVE_BYTES.fetch_add(size as i64, Ordering::Relaxed);
    slot(size).fetch_add(1, Ordering::Relaxed);
}

fn counted_free(size: usize) {
    LIVE_BYTES.fetch_sub(size as i64, Ordering::Relaxed);
    slot(size).fetch_sub(1, Ordering::Relaxed);
}

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        // SAFETY: forwarded unchanged to the system allocator.
        let ptr = unsafe { System.alloc(layout) };
        if !ptr.is_null() {
            counted_alloc(layout.size());
        }
        ptr
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        // SAFETY: forwarded unchanged to the system allocator.
        let ptr = unsafe { System.alloc_zeroed(layout) };
        if !ptr.is_null() {
            counted_alloc(layout.size());
        }
        ptr
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        counted_free(layout.size());
        // SAFETY: `ptr` came from this allocator, i.e. from the system allocator, with `layout`.
        unsafe { System.dealloc(ptr, layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        // SAFETY: forwarded unchanged to the system allocator.
        let new = unsafe { System.realloc(ptr, layout, new_size) };
        if !new.is_null() {
            counted_free(layout.size());
            counted_alloc(new_size);
        }
        new
    }
}

#[global_allocator]
static ALLOCATOR: Counting = Counting;

const CONNECTIONS: usize = 1_000;
const BODY_BYTES: usize = 256;

/// The live heap: bytes, and blocks per size.
struct Snapshot {
    bytes: i64,
    blocks: Vec<i64>,
}

/// A snapshot's storage, allocated before the baseline is read so that the snapshots do not count themselves.
fn empty() -> Snapshot {
    Snapshot {
        bytes: 0,
        blocks: vec![0; SIZES + 1],
    }
}

fn snapshot(into: &mut Snapshot) {
    into.bytes = LIVE_BYTES.load(Ordering::Relaxed);
    for (slot, count) in into.blocks.iter_mut().zip(&LIVE_BLOCKS) {
        *slot = count.load(Ordering::Relaxed);
    }
}

/// Prints bytes per connection since `base`, and the block sizes that hold at least 8 bytes of it per connection
/// (a block every connection holds shows as 1.00 ×; a fraction is a shared block that grew with the count).
fn report(label: &str, base: &Snapshot, now: &Snapshot, connections: usize) {
    let per = (now.bytes - base.bytes) as f64 / connections as f64;
    println!("  {label}: {per:8.1} heap bytes per connection");
    let mut held: Vec<(usize, f64)> = now
        .blocks
        .iter()
        .zip(&base.blocks)
        .enumerate()
        .map(|(size, (now, base))| (size, (now - base) as f64 / connections as f64))
        .filter(|(size, per)| *size as f64 * per.abs() >= 8.0)
        .collect();
    held.sort_by(|a, b| (b.0 as f64 * b.1).total_cmp(&(a.0 as f64 * a.1)));
    for (size, count) in held {
        let size_label = if size == SIZES {
            format!("> {SIZES}")
        } else {
            size.to_string()
        };
        println!("      {count:5.2} × {size_label:>7} bytes");
    }
}

/// One GET on `stream` and its whole response (head up to the blank line, then Content-Length bytes).
fn exchange(stream: &mut TcpStream, request: &[u8], buffer: &mut [u8]) {
    stream.write_all(request).expect("writes");
    let mut filled = 0;
    loop {
        let n = stream.read(&mut buffer[filled..]).expect("reads");
        assert!(n > 0, "the server closed the connection");
        filled += n;
        if complete_response(&buffer[..filled]).is_some() {
            return;
        }
    }
}

/// Opens `CONNECTIONS` keep-alive connections to `addr` with one request each, and reports the heap they hold
/// idle, at once and after `settle`.
fn measure(label: &str, addr: SocketAddr, settle: Duration) {
    let request = format!("GET / HTTP/1.1\r\nhost: {addr}\r\n\r\n").into_bytes();
    let mut buffer = vec![0u8; 64 * 1024];
    let mut held = Vec::with_capacity(CONNECTIONS);
    // Warm-up: the upstream pool holds its connection, lazily built state exists.
    let mut warm = TcpStream::connect(addr).expect("connects");
    exchange(&mut warm, &request, &mut buffer);
    drop(warm);
    std::thread::sleep(Duration::from_millis(300));
    let (mut base, mut idle, mut settled) = (empty(), empty(), empty());
    snapshot(&mut base);
    for _ in 0..CONNECTIONS {
        let mut stream = TcpStream::connect(addr).expect("connects");
        stream.set_nodelay(true).expect("nodelay");
        exchange(&mut stream, &request, &mut buffer);
        held.push(stream);
    }
    std::thread::sleep(Duration::from_millis(50));
    snapshot(&mut idle);
    std::thread::sleep(settle);
    snapshot(&mut settled);
    println!("{label} ({CONNECTIONS} idle keep-alive connections, one request each):");
    report("idle at once", &base, &idle, CONNECTIONS);
    let label = format!("idle {settle:?}");
    report(&label, &base, &settled, CONNECTIONS);
    drop(held);
    std::thread::sleep(Duration::from_millis(300));
}

fn main() {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .expect("runtime");
    let loopback = SocketAddr::from(([127, 0, 0, 1], 0));
    let origin = runtime
        .block_on(Origin::start(
            loopback,
            OriginConfig {
                body_bytes: BODY_BYTES,
                ..OriginConfig::default()
            },
        ))
        .expect("origin starts");
    let start = |park_after: Duration| {
        runtime
            .block_on(Gateway::start(
                loopback,
                vec![origin.local_addr().to_string()],
                FrontConfig {
                    max_idle_per_backend: 1024,
                    worker_threads: 2,
                    client_park_after: park_after,
                    ..FrontConfig::default()
                },
            ))
            .expect("gateway starts")
    };
    let parking = start(Duration::from_millis(250));
    measure(
        "gateway, client_park_after 250 ms",
        parking.local_addr(),
        Duration::from_secs(1),
    );
    runtime.block_on(parking.stop());
    let unparked = start(Duration::ZERO);
    measure(
        "gateway, never parked",
        unparked.local_addr(),
        Duration::from_millis(300),
    );
    runtime.block_on(unparked.stop());
    measure_pool(&runtime, origin.local_addr());
    runtime.block_on(origin.stop());
}

/// The heap one idle pooled upstream connection holds, before and after it parks.
fn measure_pool(runtime: &tokio::runtime::Runtime, origin: SocketAddr) {
    let park_after = Duration::from_millis(250);
    let pool = runtime.block_on(async {
        gateway::bench_api::BenchPool::parking(CONNECTIONS, Duration::from_secs(3600), park_after)
    });
    // Warm-up: one connection opened and parked, so lazily built state exists before the baseline.
    runtime.block_on(pool.fill(origin, 1));
    std::thread::sleep(park_after + Duration::from_millis(300));
    let (mut base, mut idle, mut parked) = (empty(), empty(), empty());
    snapshot(&mut base);
    runtime.block_on(pool.fill(origin, CONNECTIONS));
    std::thread::sleep(Duration::from_millis(50));
    snapshot(&mut idle);
    std::thread::sleep(park_after + Duration::from_millis(300));
    snapshot(&mut parked);
    println!(
        "upstream pool, upstream_park_after 250 ms ({CONNECTIONS} idle pooled connections, {} parked):",
        pool.parked() - 1
    );
    report("idle at once", &base, &idle, CONNECTIONS);
    report("parked", &base, &parked, CONNECTIONS);
    runtime.block_on(async { pool.close() });
}
