//! What the two madsim yardsticks (`madsim_baseline`, `madsim_floor`) share: one server node
//! and N client nodes on a fresh thread and a seeded runtime, for one simulated hour, timed.

use madsim::runtime::{Handle, Runtime};
use madsim::time::{sleep, Duration};
use std::future::Future;
use std::net::SocketAddr;

/// The server's address.
pub const SERVER: ([u8; 4], u16) = ([10, 0, 0, 1], 1);

/// The node count from the first argument (default 1,000).
pub fn nodes_from_args() -> usize {
    std::env::args()
        .nth(1)
        .and_then(|arg| arg.parse().ok())
        .unwrap_or(1_000)
        .clamp(1, 60_000)
}

/// Runs `serve` on a server node and `client(own address, server)` on `nodes` client nodes for
/// one simulated hour on a fresh thread; prints `what` with the wall time.
pub fn run_for_an_hour<S, SF, C, CF>(nodes: usize, what: &str, serve: S, client: C)
where
    S: Fn(SocketAddr) -> SF + Send + Sync + Copy + 'static,
    SF: Future<Output = ()> + 'static,
    C: Fn(SocketAddr, SocketAddr) -> CF + Send + Sync + Copy + 'static,
    CF: Future<Output = ()> + 'static,
{
    let wall = std::time::Instant::now();
    let run = std::thread::spawn(move || {
        let runtime = Runtime::with_seed_and_config(1, madsim::Config::default());
        runtime.block_on(async move {
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
        });
    });
    if run.join().is_err() {
        eprintln!("the simulation panicked");
        std::process::exit(1);
    }
    println!(
        "{nodes} nodes, {what}, 1 simulated hour: {:?} wall",
        wall.elapsed()
    );
}
