//! Ingest of arbitrary bytes as each input table, as CSV and as Parquet: an error or a table,
//! never a panic, and the row accounting always adds up.
#![no_main]

use std::path::PathBuf;

use crossleak::ingest::{read_catalog, read_sales, ColumnMap, IngestReport, TableKind};
use libfuzzer_sys::fuzz_target;

fn scratch(ext: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("crossleak-fuzz-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir.join(format!("input.{ext}"))
}

fuzz_target!(|data: &[u8]| {
    let columns = ColumnMap::new();
    for ext in ["csv", "parquet"] {
        let path = scratch(ext);
        std::fs::write(&path, data).unwrap();
        let mut report = IngestReport::default();
        let _ = read_sales(&path, &columns, &mut report);
        for kind in [TableKind::Products, TableKind::Catalog] {
            let _ = read_catalog(&path, kind, &columns, &mut report);
        }
        for t in &report.tables {
            assert_eq!(t.rows_read, t.accepted + t.rejected, "{t:?}");
        }
    }
});
