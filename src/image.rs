//! Perceptual hashes of product images, for the optional `image_phash` catalog column.
//!
//! This step runs before [`ingest`](crate::ingest): it turns image files into the 64-bit hashes
//! that the `products` and `catalog` tables carry as 16 hex digits, and
//! [`features`](crate::matching::features) compares two of them by [`similarity`].
//!
//! # The hash
//!
//! The hash is a DCT perceptual hash ("pHash"), computed by the `image_hasher` crate: the
//! image is converted to grey, resized to 16 x 16 pixels, transformed by a 2-D discrete cosine
//! transform, and the 8 x 8 lowest-frequency coefficients are compared with their median, one
//! bit each. Coefficient (row 0, column 0) is the most significant bit, row-major from there.
//!
//! DCT with a median threshold is chosen over the plain mean and gradient hashes because the
//! low frequencies keep an image's broad layout and drop its fine detail, and the median
//! comparison is unchanged by brightness or contrast shifts (they move the average level or
//! scale all coefficients alike). So the usual differences between a listing photo and its copy
//! (re-encoding, resizing, a lighter or darker export) change few bits, while a different
//! picture changes about half of them.
//!
//! Hashes are comparable only with hashes made the same way: other tools' "pHash" values
//! differ in resize size and bit order, so hash both catalogs with [`phash_file`] (or the
//! `image_hash` example).
//!
//! PNG, JPEG and WebP files are read; other formats are an error naming the file.
//!
//! ```
//! use crossleak::image::{phash_image, similarity, to_hex, DynamicImage};
//! use crossleak::ingest::parse_phash;
//!
//! // A horizontal ramp, and the same ramp at half the size.
//! let ramp = DynamicImage::ImageLuma8(image::GrayImage::from_fn(64, 48, |x, _| {
//!     image::Luma([(x * 4) as u8])
//! }));
//! let small = ramp.thumbnail(32, 24);
//! let (a, b) = (phash_image(&ramp), phash_image(&small));
//! assert!(similarity(a, b) > 0.9);
//! // The catalog column holds 16 hex digits.
//! assert_eq!(parse_phash(&to_hex(a)), Some(a));
//! ```

use std::path::Path;
use std::sync::OnceLock;

use image_hasher::{BitOrder, HashAlg, Hasher, HasherConfig};

use crate::error::{Error, Result};

/// The `image` crate's decoded image type, which [`phash_image`] takes.
pub use ::image::DynamicImage;

/// Bits in a hash.
pub const HASH_BITS: u32 = 64;

/// The one hasher configuration (see the module docs), built once: planning the DCT is the
/// costly part of setting it up.
fn hasher() -> &'static Hasher<[u8; 8]> {
    static HASHER: OnceLock<Hasher<[u8; 8]>> = OnceLock::new();
    HASHER.get_or_init(|| {
        HasherConfig::with_bytes_type::<[u8; 8]>()
            .hash_size(8, 8)
            .hash_alg(HashAlg::Median)
            .preproc_dct()
            .bit_order(BitOrder::MsbFirst)
            .to_hasher()
    })
}

/// The 64-bit perceptual hash of a decoded image (see the module docs for the method).
///
/// Any colour type and bit depth is accepted (it is converted to 8-bit grey first); alpha is
/// dropped. An image with no pixels hashes to 0.
pub fn phash_image(img: &DynamicImage) -> u64 {
    if img.width() == 0 || img.height() == 0 {
        return 0;
    }
    u64::from_be_bytes(hasher().hash_image(img).into_inner())
}

/// Reads an image file (PNG, JPEG or WebP, recognised by its content, else by its extension)
/// and returns its 64-bit perceptual hash.
///
/// # Errors
///
/// [`Error::Io`] when the file cannot be opened or read (missing, a directory, no permission);
/// [`Error::Image`] when it is not an image, is in another format, is corrupt, has no pixels
/// or is too large to decode. Both name the file.
///
/// ```no_run
/// # fn main() -> crossleak::Result<()> {
/// let hash = crossleak::image::phash_file("photos/P123.jpg".as_ref())?;
/// println!("{}", crossleak::image::to_hex(hash));
/// # Ok(())
/// # }
/// ```
pub fn phash_file(path: &Path) -> Result<u64> {
    let img = ::image::ImageReader::open(path)
        .and_then(|r| r.with_guessed_format())
        .map_err(|e| Error::io(path, e))?
        .decode()
        .map_err(|e| image_error(path, e))?;
    if img.width() == 0 || img.height() == 0 {
        return Err(Error::Image {
            path: path.into(),
            reason: "the image has no pixels".into(),
        });
    }
    Ok(phash_image(&img))
}

fn image_error(path: &Path, e: ::image::ImageError) -> Error {
    use ::image::ImageError as E;
    let reason = match e {
        // The reader hit the end of the data early: the file is cut short, not unreadable.
        E::IoError(source) if source.kind() == std::io::ErrorKind::UnexpectedEof => {
            "the image data ends early (truncated file?)".to_string()
        }
        E::IoError(source) => return Error::io(path, source),
        E::Unsupported(e) => format!("not a PNG, JPEG or WebP image ({e})"),
        E::Decoding(e) => format!("cannot decode the image ({e})"),
        E::Limits(e) => format!("the image is too large to decode ({e})"),
        other => other.to_string(),
    };
    Error::Image {
        path: path.into(),
        reason,
    }
}

/// A hash as 16 lower-case hex digits, the form the `image_phash` column takes (and
/// [`parse_phash`](crate::ingest::parse_phash) reads).
///
/// ```
/// assert_eq!(crossleak::image::to_hex(255), "00000000000000ff");
/// ```
pub fn to_hex(hash: u64) -> String {
    format!("{hash:016x}")
}

/// The number of bits in which two hashes differ, 0 to 64.
pub fn hamming_distance(a: u64, b: u64) -> u32 {
    (a ^ b).count_ones()
}

/// Hash similarity in `[0, 1]`: 1 - Hamming distance / 64, so 1.0 means identical hashes and
/// about 0.5 unrelated images.
///
/// ```
/// use crossleak::image::similarity;
/// assert_eq!(similarity(0, 0), 1.0);
/// assert_eq!(similarity(0, u64::MAX), 0.0);
/// assert_eq!(similarity(0, 0xffff_ffff), 0.5);
/// ```
pub fn similarity(a: u64, b: u64) -> f64 {
    1.0 - f64::from(hamming_distance(a, b)) / f64::from(HASH_BITS)
}

#[cfg(test)]
mod tests {
    use super::*;
    use ::image::{ImageFormat, Rgb, RgbImage};
    use std::io::Cursor;
    use std::path::PathBuf;

    /// A product-photo-like test picture: a lit background with a round object and a label,
    /// laid out by `variant` (0 and 1 are different pictures).
    fn picture(w: u32, h: u32, variant: u32) -> DynamicImage {
        let (wf, hf) = (w as f32, h as f32);
        DynamicImage::ImageRgb8(RgbImage::from_fn(w, h, |x, y| {
            let (u, v) = (x as f32 / wf, y as f32 / hf);
            let (cx, cy, bg) = match variant {
                0 => (0.35, 0.4, 200.0 - 80.0 * v),
                _ => (0.7, 0.65, 120.0 + 100.0 * u),
            };
            let r2 = (u - cx).powi(2) + (v - cy).powi(2);
            let label = match variant {
                0 => (0.6..0.9).contains(&u) && (0.15..0.35).contains(&v),
                _ => (0.1..0.3).contains(&u) && (0.1..0.9).contains(&v),
            };
            if r2 < 0.04 {
                Rgb([30, 60, 160])
            } else if label {
                Rgb([250, 240, 40])
            } else {
                let g = bg as u8;
                Rgb([g, g, g.saturating_sub(20)])
            }
        }))
    }

    fn reencode(img: &DynamicImage, format: ImageFormat) -> DynamicImage {
        let mut bytes = Cursor::new(Vec::new());
        img.write_to(&mut bytes, format).unwrap();
        ::image::load_from_memory(bytes.get_ref()).unwrap()
    }

    fn scratch(name: &str) -> PathBuf {
        let dir =
            std::env::temp_dir().join(format!("crossleak-image-{}-{name}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        dir
    }

    #[test]
    fn same_picture_gives_near_hashes() {
        let a = picture(240, 200, 0);
        let h = phash_image(&a);
        let near = [
            ("jpeg", reencode(&a, ImageFormat::Jpeg)),
            ("png", reencode(&a, ImageFormat::Png)),
            (
                "smaller",
                a.resize_exact(180, 150, ::image::imageops::Triangle),
            ),
            (
                "larger",
                a.resize_exact(300, 250, ::image::imageops::CatmullRom),
            ),
            ("brighter", a.brighten(25)),
            ("darker", a.brighten(-25)),
            ("contrast", a.adjust_contrast(15.0)),
            ("grey", DynamicImage::ImageLuma8(a.to_luma8())),
        ];
        for (what, img) in near {
            let d = hamming_distance(h, phash_image(&img));
            assert!(d <= 10, "{what}: distance {d}");
        }
        // Lossless re-encoding changes nothing.
        assert_eq!(phash_image(&reencode(&a, ImageFormat::Png)), h);
    }

    #[test]
    fn different_pictures_give_far_hashes() {
        let a = phash_image(&picture(240, 200, 0));
        let b = phash_image(&picture(240, 200, 1));
        let d = hamming_distance(a, b);
        assert!(d >= 20, "distance {d}");
    }

    #[test]
    fn hex_round_trips_through_the_catalog_parser() {
        let h = phash_image(&picture(120, 100, 1));
        for v in [0, 1, 255, u64::MAX, 0x0123_4567_89ab_cdef, h] {
            let s = to_hex(v);
            assert_eq!(s.len(), 16);
            assert_eq!(s, s.to_lowercase());
            assert_eq!(crate::ingest::parse_phash(&s), Some(v));
        }
    }

    #[test]
    fn files_hash_like_the_decoded_image() {
        let dir = scratch("files");
        let img = picture(160, 120, 0);
        for (file, format) in [
            ("a.png", ImageFormat::Png),
            ("a.webp", ImageFormat::WebP),
            // Content decides over a misleading extension.
            ("png-named.jpg", ImageFormat::Png),
        ] {
            let p = dir.join(file);
            img.save_with_format(&p, format).unwrap();
            assert_eq!(phash_file(&p).unwrap(), phash_image(&img), "{file}");
        }
        let p = dir.join("a.jpg");
        img.save_with_format(&p, ImageFormat::Jpeg).unwrap();
        let d = hamming_distance(phash_file(&p).unwrap(), phash_image(&img));
        assert!(d <= 10, "jpeg file: distance {d}");
        std::fs::remove_dir_all(&dir).ok();
    }

    #[test]
    fn bad_files_are_errors_naming_the_path() {
        let dir = scratch("bad");
        let text = dir.join("listing.png");
        std::fs::write(&text, "product_id,title\nP1,Mug\n").unwrap();
        let unknown = dir.join("notes.txt");
        std::fs::write(&unknown, "not an image").unwrap();
        let truncated = dir.join("cut.png");
        let mut png = Cursor::new(Vec::new());
        picture(64, 64, 0)
            .write_to(&mut png, ImageFormat::Png)
            .unwrap();
        std::fs::write(&truncated, &png.get_ref()[..png.get_ref().len() / 2]).unwrap();
        let gif = dir.join("a.gif");
        std::fs::write(&gif, b"GIF89a\x01\x00\x01\x00\x00\x00\x00;").unwrap();
        let empty = dir.join("empty.jpg");
        std::fs::write(&empty, b"").unwrap();
        for p in [&text, &unknown, &truncated, &gif, &empty] {
            let e = phash_file(p).unwrap_err();
            assert!(matches!(e, Error::Image { .. }), "{}: {e:?}", p.display());
            assert!(e.to_string().contains(&*p.to_string_lossy()), "{e}");
        }
        let missing = dir.join("missing.png");
        let e = phash_file(&missing).unwrap_err();
        assert!(matches!(e, Error::Io { .. }), "{e:?}");
        assert!(e.to_string().contains("missing.png"), "{e}");
        let e = phash_file(&dir).unwrap_err();
        assert!(e.to_string().contains(&*dir.to_string_lossy()), "{e}");
        std::fs::remove_dir_all(&dir).ok();
    }

    #[test]
    fn empty_image_hashes_to_zero() {
        assert_eq!(phash_image(&DynamicImage::new_rgb8(0, 0)), 0);
        assert_eq!(phash_image(&DynamicImage::new_rgb8(5, 0)), 0);
        // A single pixel is hashed without trouble.
        let _ = phash_image(&DynamicImage::new_rgb8(1, 1));
    }
}
