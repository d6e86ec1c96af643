//! The baseline of issue 3's speed goal, as the issue states it: 1,000 nodes, each waking once a
//! simulated second and sending one message a minute (one way, to a server node), for one
//! simulated hour. bench-fleet's goal is to run at least twice as fast as this program, in the
//! same conditions.
//!
//! `cargo run --release --example madsim_baseline -- 1000`

use madsim::net::Endpoint;
use madsim::runtime::{Handle, Runtime};
use madsim::time::{sleep, Duration};
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
        "{nodes} nodes, a wakeup a second and a message a minute each, 1 simulated hour: {:?} wall",
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
