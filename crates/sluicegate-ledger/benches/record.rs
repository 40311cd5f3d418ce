//! Cost of recording one read (evidence bundle + query audit, one transaction) in a WAL ledger,
//! durable (the default) and relaxed.
//!
//! Run: `cargo bench -p sluicegate-ledger --bench record`

#![allow(clippy::unwrap_used, clippy::expect_used)]

use criterion::{Criterion, criterion_group, criterion_main};
use serde_json::json;
use sluicegate_core::call::TrustedContext;
use sluicegate_core::config::{Provider, validate};
use sluicegate_core::evidence::record_read;
use sluicegate_core::secrets;
use sluicegate_ledger::{Durability, Ledger};

fn bench(c: &mut Criterion) {
    let doc = json!({
        "version": 1, "mode": "review",
        "sources": {"app": {"engine": "sqlite", "read_url_env": "APP_URL"}},
        "trusted_context": {"provider": "environment"},
        "capabilities": [{
            "name": "billing.inspect_invoice", "kind": "read", "source": "app",
            "target": {"schema": "main", "table": "invoices", "primary_key": "id", "tenant_key": "tenant_id"},
            "args": {"invoice_id": {"type": "string"}}, "lookup": {"id_from_arg": "invoice_id"},
            "visible_columns": ["id", "customer_name", "status", "late_fee_cents", "waiver_reason", "updated_at"]
        }]
    });
    let config = validate(&doc).1.unwrap();
    let cap = &config.capabilities[0];
    let ctx = TrustedContext {
        tenant_id: "acme".into(),
        principal: "bench".into(),
        provenance: Provider::Environment,
    };
    let row = json!({"id": "INV-3001", "customer_name": "Acme Robotics", "status": "overdue", "late_fee_cents": 5500,
        "waiver_reason": null, "updated_at": "2026-06-20T14:31:08.000Z", "tenant_id": "acme"});
    let row = row.as_object().unwrap().clone();
    let dir = tempfile::tempdir().unwrap();
    let ledger = Ledger::open(&dir.path().join("bench.db")).unwrap();
    let mut n = 0u64;
    c.bench_function("build_read_records", |b| {
        b.iter(|| {
            record_read(
                cap,
                &ctx,
                &row,
                1,
                &json!("INV-3001"),
                "2026-06-20T14:31:09.000Z",
            )
        })
    });
    let probe = record_read(
        cap,
        &ctx,
        &row,
        1,
        &json!("INV-3001"),
        "2026-06-20T14:31:09.000Z",
    );
    c.bench_function("secret_scan", |b| {
        b.iter(|| {
            // What the ledger scans before recording a read.
            secrets::scan(&probe.bundle.payload, "evidence_bundle.payload").unwrap();
            secrets::scan_list(&probe.bundle.items, "evidence_bundle.items").unwrap();
            secrets::scan(&probe.audit.payload, "query_audit").unwrap();
        })
    });
    // One caller at a time: the durable default pays a whole fsync per record (under
    // concurrent load one fsync covers a group); relaxed shows the write without it.
    let relaxed = Ledger::open_with(&dir.path().join("relaxed.db"), Durability::Relaxed).unwrap();
    for (name, ledger) in [("record_read", &ledger), ("record_read_relaxed", &relaxed)] {
        c.bench_function(name, |b| {
            b.iter(|| {
                n += 1;
                let at = format!("2026-06-20T14:31:09.{n:09}Z");
                let read = record_read(cap, &ctx, &row, 1, &json!("INV-3001"), &at);
                ledger.record_read(read.bundle, read.audit).wait().unwrap();
            })
        });
    }
}

criterion_group!(benches, bench);
criterion_main!(benches);
