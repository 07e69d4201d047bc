//! Decoder throughput: Ethernet/IPv4/TCP (the common case), VLAN + IPv6, and fragments.

use criterion::{black_box, criterion_group, criterion_main, Criterion, Throughput};
use etherparse::PacketBuilder;
use ftptrace::capture::{LinkType, Packet, Timestamp};
use ftptrace::net::decode::{Decoded, Decoder};

fn frame(v6: bool, payload: &[u8]) -> Vec<u8> {
    let mut v = Vec::new();
    if v6 {
        PacketBuilder::ethernet2([2, 0, 0, 0, 0, 1], [2, 0, 0, 0, 0, 2])
            .single_vlan(10.try_into().unwrap())
            .ipv6([1; 16], [2; 16], 64)
            .tcp(40000, 21, 1, 512)
            .ack(1)
            .write(&mut v, payload)
            .unwrap();
    } else {
        PacketBuilder::ethernet2([2, 0, 0, 0, 0, 1], [2, 0, 0, 0, 0, 2])
            .ipv4([10, 0, 0, 1], [10, 0, 0, 2], 64)
            .tcp(40000, 21, 1, 512)
            .ack(1)
            .write(&mut v, payload)
            .unwrap();
    }
    v
}

fn bench(c: &mut Criterion) {
    let payload = vec![b'x'; 1400];
    let mut g = c.benchmark_group("decode");
    g.throughput(Throughput::Elements(1));
    for (name, v6) in [("eth_ipv4_tcp", false), ("vlan_ipv6_tcp", true)] {
        let f = frame(v6, &payload);
        let mut d = Decoder::new();
        g.bench_function(name, |b| {
            b.iter(|| {
                let p = Packet {
                    ts: Timestamp(0),
                    linktype: LinkType::ETHERNET,
                    data: black_box(&f),
                    orig_len: f.len() as u32,
                };
                match d.decode(&p) {
                    Decoded::Tcp(s) => s.payload.len(),
                    _ => 0,
                }
            })
        });
    }
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
