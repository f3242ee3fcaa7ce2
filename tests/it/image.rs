//! Image hashes: the `image_hash` example on generated pictures, and its output carried into a
//! catalog's `image_phash` column.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use crate::example;
use ::image::{ImageFormat, Rgb, RgbImage};
use crossleak::image::{hamming_distance, phash_file};
use crossleak::ingest::{parse_phash, read_catalog, ColumnMap, IngestReport};
use crossleak::TableKind;

fn scratch(name: &str) -> PathBuf {
    let dir =
        std::env::temp_dir().join(format!("crossleak-it-image-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// A disc on a graded background; `flip` mirrors the layout, giving a different picture.
fn picture(w: u32, h: u32, flip: bool) -> RgbImage {
    RgbImage::from_fn(w, h, |x, y| {
        let (mut u, v) = (x as f32 / w as f32, y as f32 / h as f32);
        if flip {
            u = 1.0 - u;
        }
        if (u - 0.3).powi(2) + (v - 0.5).powi(2) < 0.05 {
            Rgb([200, 30, 30])
        } else {
            let g = (60.0 + 180.0 * u * v) as u8;
            Rgb([g, g, g])
        }
    })
}

fn run(args: &[&Path]) -> Output {
    Command::new(example("image_hash"))
        .args(args)
        .output()
        .unwrap()
}

fn stdout(out: &Output) -> String {
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout.clone()).unwrap()
}

#[test]
fn image_hash_example_hashes_compares_and_fails_cleanly() {
    let dir = scratch("example");
    let (a, b, a_jpg) = (
        dir.join("a.png"),
        dir.join("b.png"),
        dir.join("a small.jpg"),
    );
    picture(200, 150, false).save(&a).unwrap();
    picture(200, 150, true).save(&b).unwrap();
    ::image::DynamicImage::ImageRgb8(picture(200, 150, false))
        .thumbnail(120, 90)
        .save_with_format(&a_jpg, ImageFormat::Jpeg)
        .unwrap();

    // One `<hash>  <file>` line per file, in order, as the library computes it.
    let text = stdout(&run(&[&a, &b, &a_jpg]));
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 3, "{text}");
    let mut hashes = Vec::new();
    for (line, file) in lines.iter().zip([&a, &b, &a_jpg]) {
        let (hex, name) = line.split_once("  ").unwrap();
        assert_eq!(name, file.display().to_string());
        assert_eq!(hex.len(), 16, "{line}");
        let h = parse_phash(hex).unwrap();
        assert_eq!(h, phash_file(file).unwrap());
        hashes.push(h);
    }
    assert!(hamming_distance(hashes[0], hashes[2]) <= 10, "{text}");
    assert!(hamming_distance(hashes[0], hashes[1]) >= 20, "{text}");

    // --compare: the two lines, then distance and similarity.
    let compare = Path::new("--compare");
    let text = stdout(&run(&[compare, &a, &a_jpg]));
    let last = text.lines().last().unwrap();
    let d = hamming_distance(hashes[0], hashes[2]);
    assert_eq!(text.lines().count(), 3, "{text}");
    assert_eq!(
        last,
        format!("distance={d} similarity={:.4}", 1.0 - f64::from(d) / 64.0)
    );

    // A bad file: status 2 and one line naming it.
    let not_image = dir.join("listing.jpg");
    std::fs::write(&not_image, "listing_id,title\n").unwrap();
    for bad in [dir.join("missing.png"), not_image] {
        let out = run(&[&a, &bad]);
        assert_eq!(out.status.code(), Some(2));
        let stderr = String::from_utf8(out.stderr).unwrap();
        assert_eq!(stderr.lines().count(), 1, "{stderr}");
        assert!(stderr.contains(&*bad.to_string_lossy()), "{stderr}");
    }
    let out = run(&[compare, &a]);
    assert_eq!(out.status.code(), Some(2));
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn example_hashes_load_as_the_catalog_column() {
    let dir = scratch("catalog");
    let img = dir.join("P1.png");
    picture(64, 64, false).save(&img).unwrap();
    let text = stdout(&run(&[&img]));
    let hex = text.split_whitespace().next().unwrap();
    let csv = dir.join("products.csv");
    std::fs::write(
        &csv,
        format!("product_id,title,image_phash\nP1,Red disc poster,{hex}\nP2,Plain poster,\n"),
    )
    .unwrap();
    let mut report = IngestReport::default();
    let c = read_catalog(&csv, TableKind::Products, &ColumnMap::new(), &mut report).unwrap();
    assert_eq!(c.image_phash, [Some(phash_file(&img).unwrap()), None]);
    std::fs::remove_dir_all(&dir).ok();
}
