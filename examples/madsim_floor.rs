//! The floor madsim itself puts under bench-fleet: N nodes that each, every 30 simulated
//! seconds, send one request to a server node and await its reply (with a 5 s timeout, as every
//! z0sim call has), for one simulated hour. That is the message pattern of 1,000 entities
//! emitting two SDK facts a minute, with none of z0sim's work.
//!
//! `cargo run --release --example madsim_floor -- 1000`

mod common;

use madsim::net::Endpoint;
use madsim::time::{sleep, timeout, Duration};
use std::net::SocketAddr;

fn main() {
    common::run_for_an_hour(
        common::nodes_from_args(),
        "one request/reply every 30 s each",
        serve,
        client,
    );
}

async fn serve(addr: SocketAddr) {
    let Ok(endpoint) = Endpoint::bind(addr).await else {
        return;
    };
    while let Ok((payload, from)) = endpoint.recv_from_raw(1).await {
        if let Ok(reply_tag) = payload.downcast::<u64>() {
            let _ = endpoint.send_to_raw(from, *reply_tag, Box::new(())).await;
        }
    }
}

async fn client(addr: SocketAddr, server: SocketAddr) {
    let Ok(endpoint) = Endpoint::bind(addr).await else {
        return;
    };
    let mut reply_tag = 100u64;
    loop {
        sleep(Duration::from_secs(30)).await;
        reply_tag += 1;
        let _ = endpoint.send_to_raw(server, 1, Box::new(reply_tag)).await;
        let _ = timeout(Duration::from_secs(5), endpoint.recv_from_raw(reply_tag)).await;
    }
}
