//! Heap allocations per proxied request, counted by a counting global allocator: `cargo bench --bench
//! allocations`. Client, gateway and origin run in this process on one single-threaded runtime; the client
//! writes a pre-built request and reads the response by its Content-Length on raw sockets, allocating nothing
//! per request. The same requests are sent to the origin directly, so the gateway's own allocations are the
//! difference. It prints counts; it asserts nothing (figures live in benches and bench/compare.sh, not in
//! tests). To see where they come from: `valgrind --tool=dhat` on `badgateway serve gateway` under load.

use std::alloc::{GlobalAlloc, Layout, System};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};

use gateway::{FrontConfig, Gateway};
use origin::{Origin, OriginConfig};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

#[path = "support/response.rs"]
mod response;
use response::complete_response;

/// The system allocator, counting allocations (reallocations included) and their bytes.
struct Counting;

static ALLOCATIONS: AtomicU64 = AtomicU64::new(0);
static BYTES: AtomicU64 = AtomicU64::new(0);

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        ALLOCATIONS.fetch_add(1, Ordering::Relaxed);
        BYTES.fetch_add(layout.size() as u64, Ordering::Relaxed);
        // SAFETY: forwarded unchanged to the system allocator.
        unsafe { System.alloc(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: `ptr` came from `alloc`/`realloc` above, i.e. from the system allocator.
        unsafe { System.dealloc(ptr, layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        ALLOCATIONS.fetch_add(1, Ordering::Relaxed);
        BYTES.fetch_add(new_size as u64, Ordering::Relaxed);
        // SAFETY: forwarded unchanged to the system allocator.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static ALLOCATOR: Counting = Counting;

const BODY_BYTES: usize = 256;
const WARM_UP: u64 = 1_000;
const REQUESTS: u64 = 20_000;

/// Allocations and bytes per request of `REQUESTS` keep-alive GETs to `addr`, after a warm-up on the same
/// connection (pools filled, buffers grown).
async fn per_request(addr: SocketAddr) -> (f64, f64) {
    let mut stream = TcpStream::connect(addr).await.expect("connects");
    stream.set_nodelay(true).expect("nodelay");
    let request = format!("GET / HTTP/1.1\r\nhost: {addr}\r\n\r\n").into_bytes();
    let mut buffer = vec![0u8; 64 * 1024];
    for _ in 0..WARM_UP {
        exchange(&mut stream, &request, &mut buffer).await;
    }
    let (allocations, bytes) = (
        ALLOCATIONS.load(Ordering::Relaxed),
        BYTES.load(Ordering::Relaxed),
    );
    for _ in 0..REQUESTS {
        exchange(&mut stream, &request, &mut buffer).await;
    }
    let allocations = ALLOCATIONS.load(Ordering::Relaxed) - allocations;
    let bytes = BYTES.load(Ordering::Relaxed) - bytes;
    (
        allocations as f64 / REQUESTS as f64,
        bytes as f64 / REQUESTS as f64,
    )
}

/// One request and its whole response (head up to the blank line, then Content-Length bytes).
async fn exchange(stream: &mut TcpStream, request: &[u8], buffer: &mut [u8]) {
    stream.write_all(request).await.expect("writes");
    let mut filled = 0;
    loop {
        let n = stream.read(&mut buffer[filled..]).await.expect("reads");
        assert!(n > 0, "the server closed the connection");
        filled += n;
        if let Some(whole) = complete_response(&buffer[..filled]) {
            assert_eq!(filled, whole, "one response per request");
            return;
        }
    }
}

fn main() {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    runtime.block_on(async {
        let loopback = SocketAddr::from(([127, 0, 0, 1], 0));
        let origin = Origin::start(
            loopback,
            OriginConfig {
                body_bytes: BODY_BYTES,
                ..OriginConfig::default()
            },
        )
        .await
        .expect("origin starts");
        let gateway = Gateway::start(
            loopback,
            vec![origin.local_addr().to_string()],
            FrontConfig {
                max_idle_per_backend: 1024,
                max_requests_per_conn: 0,
                ..FrontConfig::default()
            },
        )
        .await
        .expect("gateway starts");
        let (direct, direct_bytes) = per_request(origin.local_addr()).await;
        let (proxied, proxied_bytes) = per_request(gateway.local_addr()).await;
        println!("allocations per request ({REQUESTS} keep-alive GETs, {BODY_BYTES}-byte body):");
        println!("  client -> origin:            {direct:6.2} ({direct_bytes:.0} bytes)");
        println!("  client -> gateway -> origin: {proxied:6.2} ({proxied_bytes:.0} bytes)");
        println!(
            "  the gateway's own:           {:6.2} ({:.0} bytes)",
            proxied - direct,
            proxied_bytes - direct_bytes
        );
        gateway.stop().await;
        origin.stop().await;
    });
}
