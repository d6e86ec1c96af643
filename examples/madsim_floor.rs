//! The floor madsim itself puts under bench-fleet: N nodes that each, every 30 simulated
//! seconds, send one request to a server node and await its reply (with a 5 s timeout, as every
//! z0sim call has), for one simulated hour. That is the message pattern of 1,000 entities
//! emitting two SDK facts a minute, with none of z0sim's work.
//!
//! `cargo run --release --example madsim_floor -- 1000`

use madsim::net::Endpoint;
use madsim::runtime::{Handle, Runtime};
use madsim::time::{sleep, timeout, Duration};
use std::net::SocketAddr;

const SERVER: ([u8; 4], u16) = ([10, 0, 0, 1], 1);

fn main() {
    let nodes: usize = std::env::args()
        .nth(1)
        .and_then(|arg| arg.parse().ok())
        .unwrap_or(1_000)
        .clamp(1, 60_000);
    let wall = std::time::Instant::now();
    let run = std::thread::spawn(move || {
        let runtime = Runtime::with_seed_and_config(1, madsim::Config::default());
        runtime.block_on(simulate(nodes));
    });
    if run.join().is_err() {
        eprintln!("the simulation panicked");
        std::process::exit(1);
    }
    println!(
        "{nodes} nodes, one request/reply every 30 s each, 1 simulated hour: {:?} wall",
        wall.elapsed()
    );
}

async fn simulate(nodes: usize) {
    let handle = Handle::current();
    let server = SocketAddr::from(SERVER);
    handle
        .create_node()
        .ip(server.ip())
        .init(move || serve(server))
        .build();
    for index in 0..nodes {
        let ip = [10, 1, (index >> 8) as u8, index as u8];
        handle
            .create_node()
            .ip(ip.into())
            .init(move || client(SocketAddr::from((ip, 1)), server))
            .build();
    }
    sleep(Duration::from_secs(3_600)).await;
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
