//! Criterion bench of the whole trend stage (daily grid from a long-form sales panel, then
//! onset detection) on a seeded panel of 100,000 products x 365 days built from the bundled
//! Complete Journey curves (no network). The panel is generated once, outside the timing.

use criterion::{criterion_group, criterion_main, Criterion};
use crossleak::trend::{detect_onsets, DemandGrid, TrendParams};
use crossleak_eval::trend_eval::{long_form, scale_panel};

fn bench(c: &mut Criterion) {
    let (grid, products) = scale_panel(100_000, 365, 7).expect("bench panel");
    let sales = long_form(&grid, &products);
    drop(grid);
    let params = TrendParams::default();
    let mut group = c.benchmark_group("trend");
    group.sample_size(10);
    group.bench_function("grid_and_onsets_100k_x_365", |b| {
        b.iter(|| {
            let grid = DemandGrid::build(&sales, &products);
            detect_onsets(&grid, &products, &params)
        })
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
