//! A coarse idle sweep: connections that fall due within one tick window are closed together, at the tick.

use std::time::{Duration, Instant};

use keepalive_proxy::BackConfig;

use crate::support::{GET, RawClient, back_with};

const T: Duration = Duration::from_millis(50);
const TICK: Duration = Duration::from_millis(200);
const CONNECTIONS: u32 = 4;
const STAGGER: Duration = Duration::from_millis(30);

struct Observed {
    sent: Instant,
    idle: Instant,
    closed: Instant,
}

#[tokio::test]
async fn connections_due_in_one_tick_window_close_together_at_the_tick() {
    let (back, origin) = back_with(BackConfig {
        keepalive_timeout: T,
        timer_granularity: TICK,
        ..BackConfig::default()
    })
    .await;
    let epoch = back.started_at();

    // Requests at `window + 20 ms + i × 30 ms - T` make the connections due at 20..110 ms into a tick window:
    // late scheduling only moves them later, and there are 90 ms of slack before the next window.
    let ticks_passed = epoch.elapsed().as_nanos() / TICK.as_nanos();
    let window = epoch + TICK * (u32::try_from(ticks_passed).expect("few ticks") + 1);
    let first = window + Duration::from_millis(20) - T;
    let tick = window + TICK;

    let mut clients = Vec::new();
    for i in 0..CONNECTIONS {
        let mut client = RawClient::connect(back.local_addr()).await;
        clients.push(tokio::spawn(async move {
            tokio::time::sleep_until((first + STAGGER * i).into()).await;
            let sent = Instant::now();
            assert_eq!(client.exchange(GET).await.status(), 200);
            let idle = Instant::now();
            assert_eq!(client.next_read().await.expect("a FIN"), 0);
            Observed {
                sent,
                idle,
                closed: Instant::now(),
            }
        }));
    }
    let mut observed = Vec::new();
    for client in clients {
        observed.push(client.await.expect("client task"));
    }

    for (i, seen) in observed.iter().enumerate() {
        assert!(
            seen.closed >= seen.sent + T,
            "connection {i} closed before its timeout"
        );
        assert!(
            seen.closed >= tick,
            "connection {i} closed {:?} before the sweep tick",
            tick - seen.closed
        );
    }
    let spread = |at: fn(&Observed) -> Instant| {
        let earliest = observed.iter().map(at).min().expect("observations");
        let latest = observed.iter().map(at).max().expect("observations");
        latest - earliest
    };
    let (idle_spread, close_spread) = (spread(|o| o.idle), spread(|o| o.closed));
    assert!(
        close_spread * 4 < idle_spread,
        "closes spread over {close_spread:?}, idle starts over {idle_spread:?}"
    );
    assert_eq!(back.stats().keepalive_timeouts, u64::from(CONNECTIONS));
    back.stop().await;
    origin.stop().await;
}
