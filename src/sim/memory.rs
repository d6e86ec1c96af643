//! The process's peak memory, for the report (`peak_memory_bytes`, `bytes_per_entity`).
//!
//! Read from Linux's `/proc/self/status` (`VmHWM`, the peak resident set size); 0 where that
//! file does not exist. It is the whole process's peak so far: for `z0sim run`, the run's own
//! (building, simulating and judging included); in a sweep, a swarm or `capacity`, which run
//! many scenarios in one process, it also covers every run before. Like the wall time it
//! differs between two runs of one seed, so it is left out with `--no-timing`.

/// The peak resident set size of this process so far, bytes (0 if unknown).
pub fn peak_resident_bytes() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|status| vm_hwm_bytes(&status))
        .unwrap_or(0)
}

/// `VmHWM` of a `/proc/<pid>/status` text, in bytes.
fn vm_hwm_bytes(status: &str) -> Option<u64> {
    let line = status.lines().find(|line| line.starts_with("VmHWM:"))?;
    let mut words = line.split_whitespace().skip(1);
    let amount: u64 = words.next()?.parse().ok()?;
    let unit = match words.next() {
        Some("kB") => 1_024,
        Some("mB") | Some("MB") => 1_024 * 1_024,
        Some("B") | None => 1,
        Some(_) => return None,
    };
    amount.checked_mul(unit)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_peak_from_a_status_text() {
        let status = "Name:\tz0sim\nVmPeak:\t  900000 kB\nVmHWM:\t  123456 kB\nVmRSS:\t 1000 kB\n";
        assert_eq!(vm_hwm_bytes(status), Some(123_456 * 1_024));
        assert_eq!(vm_hwm_bytes("VmRSS:\t1 kB\n"), None);
        assert_eq!(vm_hwm_bytes("VmHWM:\tlots kB\n"), None);
    }

    #[test]
    fn this_process_has_a_peak_on_linux() {
        if std::path::Path::new("/proc/self/status").exists() {
            assert!(peak_resident_bytes() > 0);
        }
    }
}
