//! Live capture from a network interface through libpcap (cargo feature `live`), stoppable by a flag.

use super::{CaptureError, CaptureErrorKind, LinkType, Packet, PacketSource, Timestamp};
use std::io;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

/// Read timeout: how often a blocked read wakes up to look at the stop flag.
const READ_TIMEOUT_MS: i32 = 100;

/// Counters from libpcap.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct LiveStats {
    /// Packets received by the filter.
    pub received: u64,
    /// Packets dropped because the buffer was full (capture loss).
    pub dropped: u64,
    /// Packets dropped by the interface or its driver.
    pub if_dropped: u64,
}

/// A live capture on one interface.
pub struct LiveSource {
    iface: String,
    cap: pcap::Capture<pcap::Active>,
    linktype: LinkType,
    nanos: bool,
    stop: Arc<AtomicBool>,
    /// Copy of the last packet (reused: no allocation once warmed up).
    data: Vec<u8>,
    ts: Timestamp,
    orig_len: u32,
    packets: u64,
    bytes: u64,
}

fn pcap_err(iface: &str, offset: u64, packet: u64, e: pcap::Error) -> CaptureError {
    CaptureError {
        path: iface.to_string(),
        offset,
        packet,
        kind: CaptureErrorKind::Io(io::Error::other(e.to_string())),
    }
}

impl LiveSource {
    /// Open `iface` for capture with an optional BPF filter and snap length (0 or
    /// negative: 262144). Needs capture privileges.
    pub fn open(
        iface: &str,
        bpf_filter: Option<&str>,
        snaplen: i32,
    ) -> Result<LiveSource, CaptureError> {
        let err = |e| pcap_err(iface, 0, 1, e);
        let snaplen = if snaplen <= 0 { 262_144 } else { snaplen };
        let inactive = pcap::Capture::from_device(iface)
            .map_err(err)?
            .snaplen(snaplen)
            .promisc(true)
            .timeout(READ_TIMEOUT_MS)
            .buffer_size(16 << 20);
        // Linux delivers nanosecond timestamps when asked; elsewhere keep microseconds.
        let nanos = cfg!(target_os = "linux");
        let inactive = if nanos {
            inactive.precision(pcap::Precision::Nano)
        } else {
            inactive
        };
        let mut cap = inactive.open().map_err(err)?;
        if let Some(f) = bpf_filter {
            cap.filter(f, true).map_err(err)?;
        }
        let linktype = LinkType(cap.get_datalink().0 as u32);
        Ok(LiveSource {
            iface: iface.to_string(),
            cap,
            linktype,
            nanos,
            stop: Arc::new(AtomicBool::new(false)),
            data: Vec::with_capacity(snaplen as usize),
            ts: Timestamp(0),
            orig_len: 0,
            packets: 0,
            bytes: 0,
        })
    }

    /// Set this flag (from a signal handler thread, say) to end the capture: the next
    /// `next_packet` returns `Ok(None)` within about 100 ms.
    pub fn stop_handle(&self) -> Arc<AtomicBool> {
        Arc::clone(&self.stop)
    }

    /// The interface's link type.
    pub fn linktype(&self) -> LinkType {
        self.linktype
    }

    /// Packets received and dropped, as libpcap counts them.
    pub fn stats(&mut self) -> Result<LiveStats, CaptureError> {
        let s = self
            .cap
            .stats()
            .map_err(|e| pcap_err(&self.iface, self.bytes.max(1), self.packets + 1, e))?;
        Ok(LiveStats {
            received: s.received as u64,
            dropped: s.dropped as u64,
            if_dropped: s.if_dropped as u64,
        })
    }
}

impl PacketSource for LiveSource {
    fn next_packet(&mut self) -> Result<Option<Packet<'_>>, CaptureError> {
        loop {
            if self.stop.load(Ordering::Relaxed) {
                return Ok(None);
            }
            match self.cap.next_packet() {
                Ok(p) => {
                    // time_t / suseconds_t are narrower than i64 on some platforms.
                    #[allow(clippy::unnecessary_cast)]
                    let (secs, frac) = (p.header.ts.tv_sec as i64, p.header.ts.tv_usec as i64);
                    let nanos = if self.nanos { frac } else { frac * 1000 };
                    self.ts = Timestamp(secs.saturating_mul(1_000_000_000).saturating_add(nanos));
                    self.orig_len = p.header.len;
                    self.data.clear();
                    self.data.extend_from_slice(p.data);
                    break;
                }
                Err(pcap::Error::TimeoutExpired) => continue,
                Err(pcap::Error::NoMorePackets) => return Ok(None),
                Err(e) => {
                    // Offset 0 would read as "unreadable": report bytes seen, at least 1.
                    return Err(pcap_err(
                        &self.iface,
                        self.bytes.max(1),
                        self.packets + 1,
                        e,
                    ));
                }
            }
        }
        self.packets += 1;
        self.bytes += self.data.len() as u64;
        Ok(Some(Packet {
            ts: self.ts,
            linktype: self.linktype,
            data: &self.data,
            orig_len: self.orig_len,
        }))
    }

    fn ts_digits(&self) -> u8 {
        if self.nanos {
            9
        } else {
            6
        }
    }

    fn progress(&self) -> (u64, Option<u64>) {
        (self.bytes, None)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::UdpSocket;
    use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

    /// Needs capture rights on `lo` (root): skipped with a note otherwise.
    #[test]
    fn loopback_capture_and_stop() {
        let mut src = match LiveSource::open("lo", Some("udp and dst port 45999"), 0) {
            Ok(s) => s,
            Err(e) => {
                eprintln!("skipping live test: {e}");
                return;
            }
        };
        let stop = src.stop_handle();
        let sender = std::thread::spawn(|| {
            let s = UdpSocket::bind("127.0.0.1:0").unwrap();
            for _ in 0..50 {
                let _ = s.send_to(b"ftptrace-live-test", "127.0.0.1:45999");
                std::thread::sleep(Duration::from_millis(20));
            }
        });
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap()
            .as_secs() as i64;
        let p = src.next_packet().unwrap().unwrap();
        assert!(p.data.ends_with(b"ftptrace-live-test"));
        assert!((p.ts.secs() - now).abs() < 60);
        assert_eq!(p.orig_len as usize, p.data.len());
        let stats = src.stats().unwrap();
        assert!(stats.received >= 1);
        stop.store(true, Ordering::Relaxed);
        let t = Instant::now();
        assert!(src.next_packet().unwrap().is_none());
        assert!(t.elapsed() < Duration::from_secs(1));
        sender.join().unwrap();
    }

    #[test]
    fn bad_interface_is_unreadable() {
        let e = LiveSource::open("no-such-iface0", None, 0).err().unwrap();
        assert!(e.is_unreadable());
        assert!(e.to_string().starts_with("no-such-iface0: "), "{e}");
    }
}
