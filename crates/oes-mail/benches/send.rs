//! Delivery throughput of each transport, SMTP against the in-crate sink over loopback TCP.
//!
//! `cargo bench -p oes-mail --bench send`

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use futures::future::join_all;
use oes_mail::{Email, Mailer, sink::SmtpSink};

fn email(i: usize) -> Email {
    Email::new(
        "OES <no-reply@oes.example>",
        "student@example.com",
        format!("Verify your email #{i}"),
        "<p>Hello Ada, please <a href=\"https://oes.example/verify?token=abc\">verify</a>.</p>",
        "Hello Ada, please verify: https://oes.example/verify?token=abc",
    )
    .expect("valid addresses")
}

fn send(c: &mut Criterion) {
    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    let sink = runtime.block_on(SmtpSink::start()).expect("sink");
    let smtp =
        runtime.block_on(async { Mailer::from_url(Some(&sink.url()), "unused").expect("mailer") });
    let dir = tempfile::tempdir().expect("tempdir");
    let file = Mailer::file(dir.path());
    let memory = Mailer::memory();

    let mut group = c.benchmark_group("send");
    for concurrency in [1usize, 10, 50] {
        group.throughput(Throughput::Elements(concurrency as u64));
        for (name, mailer) in [("smtp", &smtp), ("file", &file), ("memory", &memory)] {
            group.bench_with_input(
                BenchmarkId::new(name, concurrency),
                &concurrency,
                |b, &n| {
                    b.to_async(&runtime).iter(|| async move {
                        let results =
                            join_all((0..n).map(|i| async move { mailer.send(&email(i)).await }))
                                .await;
                        for result in results {
                            result.expect("sent");
                        }
                    })
                },
            );
        }
        if let Some(outbox) = memory.memory_outbox() {
            outbox.take();
        }
    }
    group.finish();
}

criterion_group!(benches, send);
criterion_main!(benches);
