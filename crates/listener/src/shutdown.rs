//! A cloneable shutdown signal: one [`Shutdown`] trigger, any number of [`ShutdownSignal`] listeners.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use tokio::sync::watch;

/// The trigger side. Dropping it also triggers the signal, so a server whose owner vanished stops.
#[derive(Debug)]
pub struct Shutdown {
    sender: watch::Sender<bool>,
    fired: Arc<AtomicBool>,
}

/// The listening side, handed to the accept loop and to every connection task.
#[derive(Debug, Clone)]
pub struct ShutdownSignal {
    receiver: watch::Receiver<bool>,
    /// The same news as the channel, readable without its lock: load loops ask it once per request, from
    /// every thread.
    fired: Arc<AtomicBool>,
}

impl Shutdown {
    /// A new, untriggered signal and its first listener.
    pub fn new() -> (Self, ShutdownSignal) {
        let (sender, receiver) = watch::channel(false);
        let fired = Arc::new(AtomicBool::new(false));
        let signal = ShutdownSignal {
            receiver,
            fired: fired.clone(),
        };
        (Self { sender, fired }, signal)
    }

    /// Tells every listener to stop. Idempotent.
    pub fn trigger(&self) {
        self.fired.store(true, Ordering::Release);
        self.sender.send_replace(true);
    }

    /// Another listener for this trigger.
    pub fn signal(&self) -> ShutdownSignal {
        ShutdownSignal {
            receiver: self.sender.subscribe(),
            fired: self.fired.clone(),
        }
    }
}

impl Drop for Shutdown {
    fn drop(&mut self) {
        // The channel closes with the sender, which wakes `triggered`; `is_triggered` learns it here.
        self.fired.store(true, Ordering::Release);
    }
}

impl ShutdownSignal {
    /// Resolves once the trigger fired (or was dropped).
    pub async fn triggered(&mut self) {
        // An error means the trigger was dropped: that is a shutdown too.
        let _ = self.receiver.wait_for(|stop| *stop).await;
    }

    /// True once the trigger fired (or was dropped).
    pub fn is_triggered(&self) -> bool {
        self.fired.load(Ordering::Acquire)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn every_listener_sees_the_trigger() {
        let (shutdown, mut first) = Shutdown::new();
        let mut second = shutdown.signal();
        assert!(!first.is_triggered());
        shutdown.trigger();
        first.triggered().await;
        second.triggered().await;
        assert!(second.is_triggered());
    }

    #[tokio::test]
    async fn dropping_the_trigger_stops_listeners() {
        let (shutdown, mut signal) = Shutdown::new();
        assert!(!signal.is_triggered());
        drop(shutdown);
        signal.triggered().await;
        assert!(signal.is_triggered());
    }
}
