//! The wire: frame encode/decode, and a produce round trip over loopback to a real broker.
//!
//! - `frame/encode_produce/<messages>` and `frame/decode_produce/<messages>`: a Produce of 1 or
//!   100 messages of 100 bytes, to and from bytes (sans-IO, no socket);
//! - `loopback/produce/<strategy>/<batch>`: one connection, request and acknowledgement, against
//!   an embedded broker on 127.0.0.1 (elements are messages).

use criterion::{criterion_group, BenchmarkId, Criterion, Throughput};
use std::time::Duration;
use synclog::broker::{Broker, BrokerConfig};
use synclog::client::Client;
use synclog::protocol::{encode_produce_request, RequestFrame, DEFAULT_MAX_FRAME_BYTES};
use synclog::strategies::{RwLockSync, SemaphoreSync, SyncStrategy};

fn frames(c: &mut Criterion) {
    let payload = [7u8; 100];
    let mut group = c.benchmark_group("frame");
    for n in [1usize, 100] {
        group.throughput(Throughput::Elements(n as u64));
        let messages: Vec<&[u8]> = vec![&payload[..]; n];
        let mut out = Vec::with_capacity(64 * 1024);
        group.bench_with_input(BenchmarkId::new("encode_produce", n), &n, |b, _| {
            b.iter(|| {
                out.clear();
                encode_produce_request(1, "bench-topic", messages.iter().copied(), &mut out).expect("encode");
                out.len()
            })
        });
        let mut encoded = Vec::new();
        encode_produce_request(1, "bench-topic", messages.iter().copied(), &mut encoded).expect("encode");
        group.bench_with_input(BenchmarkId::new("decode_produce", n), &n, |b, _| {
            b.iter(|| RequestFrame::decode(&encoded, DEFAULT_MAX_FRAME_BYTES).expect("decode").1)
        });
    }
    group.finish();
}

fn loopback<S: SyncStrategy>(c: &mut Criterion) {
    let dir = tempfile::tempdir().expect("tempdir");
    let broker = Broker::<S>::bind(BrokerConfig {
        listen: "127.0.0.1:0".parse().expect("addr"),
        data_dir: dir.path().to_path_buf(),
        ..BrokerConfig::default()
    })
    .expect("bind");
    let handle = broker.spawn().expect("spawn");
    let mut client = Client::connect(handle.addr()).expect("connect");
    let payload = [7u8; 100];
    let mut group = c.benchmark_group("loopback/produce");
    for batch in [1usize, 100] {
        group.throughput(Throughput::Elements(batch as u64));
        let messages: Vec<&[u8]> = vec![&payload[..]; batch];
        group.bench_with_input(BenchmarkId::new(S::NAME, batch), &batch, |b, _| {
            b.iter(|| client.produce("bench", messages.iter().copied()).expect("produce"))
        });
    }
    group.finish();
    drop(client);
    handle.shutdown();
}

fn all(c: &mut Criterion) {
    frames(c);
    loopback::<RwLockSync>(c);
    loopback::<SemaphoreSync>(c);
}

criterion_group! {
    name = benches;
    config = Criterion::default()
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(2))
        .sample_size(20);
    targets = all
}
// criterion_main!, plus the bundled font that criterion's plots need (see report::charts).
fn main() {
    synclog::report::charts::register_font();
    benches();
    Criterion::default().configure_from_args().final_summary();
}
