//! The baseline of the runtime's first speed goal (README, "Speed"), as that goal states it:
//! 1,000 nodes, each waking once a simulated second and sending one message a minute (one way,
//! to a server node), for one simulated hour. bench-fleet's goal is to run at least twice as fast as this program, in the
//! same conditions.
//!
//! `cargo run --release --example madsim_baseline -- 1000`

mod common;

use madsim::net::Endpoint;
use madsim::time::{sleep, Duration};
use std::net::SocketAddr;

fn main() {
    common::run_for_an_hour(
        common::nodes_from_args(),
        "a wakeup a second and a message a minute each",
        serve,
        client,
    );
}

async fn serve(addr: SocketAddr) {
    let Ok(endpoint) = Endpoint::bind(addr).await else {
        return;
    };
    while endpoint.recv_from_raw(1).await.is_ok() {}
}

async fn client(addr: SocketAddr, server: SocketAddr) {
    let Ok(endpoint) = Endpoint::bind(addr).await else {
        return;
    };
    let mut seconds = 0u64;
    loop {
        sleep(Duration::from_secs(1)).await;
        seconds += 1;
        if seconds % 60 == 0 {
            let _ = endpoint.send_to_raw(server, 1, Box::new(seconds)).await;
        }
    }
}
