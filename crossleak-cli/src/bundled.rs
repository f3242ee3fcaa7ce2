//! The bundled synthetic world (`datasets/world`), carried inside the binary so that an
//! installed `crossleak detect` runs it from any folder.

use std::path::{Path, PathBuf};

/// The world's files: inputs and ground truth.
const FILES: [(&str, &[u8]); 6] = [
    (
        "sales.parquet",
        include_bytes!("../../datasets/world/sales.parquet"),
    ),
    (
        "products.csv",
        include_bytes!("../../datasets/world/products.csv"),
    ),
    (
        "catalog.csv",
        include_bytes!("../../datasets/world/catalog.csv"),
    ),
    (
        "truth_alerts.csv",
        include_bytes!("../../datasets/world/truth_alerts.csv"),
    ),
    (
        "truth_sellers.csv",
        include_bytes!("../../datasets/world/truth_sellers.csv"),
    ),
    (
        "truth_onsets.csv",
        include_bytes!("../../datasets/world/truth_onsets.csv"),
    ),
];

/// The bundled world's folder: the source tree's `datasets/world` when the binary runs beside
/// it (so its outputs are those of `cargo run --example detect`, paths included), else the
/// carried files written to a scratch folder that is removed when this is dropped.
pub(crate) struct World {
    dir: PathBuf,
    scratch: bool,
}

impl World {
    /// Finds the source tree's world, or writes the carried files into a new scratch folder.
    pub(crate) fn open() -> std::io::Result<World> {
        let source = Path::new(env!("CARGO_MANIFEST_DIR")).join("../datasets/world");
        if FILES.iter().all(|(name, _)| source.join(name).is_file()) {
            return Ok(World {
                dir: source.canonicalize()?,
                scratch: false,
            });
        }
        let dir = std::env::temp_dir().join(format!("crossleak-world-{}", std::process::id()));
        std::fs::create_dir_all(&dir)?;
        let world = World { dir, scratch: true };
        for (name, bytes) in FILES {
            std::fs::write(world.dir.join(name), bytes)?;
        }
        Ok(world)
    }

    /// The path of one of the world's files.
    pub(crate) fn file(&self, name: &str) -> PathBuf {
        self.dir.join(name)
    }
}

impl Drop for World {
    fn drop(&mut self) {
        if self.scratch {
            std::fs::remove_dir_all(&self.dir).ok();
        }
    }
}
