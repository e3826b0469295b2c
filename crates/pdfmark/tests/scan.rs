//! The stretch goal: tracing from scans and a photo of typeset copies.
//! Three pages of a recipient's copy are rasterised at 300 dpi with
//! pdftoppm, degraded (noise, a 0.6° rotation, blur) and read back by
//! Tesseract OCR: the wording names the recipient, and the QR code of the
//! mark gives the copy id. One phone-style photo of a page (200 dpi,
//! rotated 2°, uneven light, noise, JPEG at quality 70) gives the copy id
//! from its QR code; its OCR'd wording is scored and must never accuse
//! anyone else. Needs pdftoppm and tesseract (`scripts/install-test-tools`);
//! without them the test says SKIPPED.

#![allow(clippy::expect_used, clippy::unwrap_used, clippy::panic)]

mod common;

use std::process::Command;

use common::{N, PARAMS};
use custodian_fingerprint::text;
use custodian_pdfmark::scan::{load_gray, ocr, read_qr, ImageLimits};
use custodian_pdfmark::typeset::{parse, plain, typeset, with_plain};
use image::{GrayImage, Luma};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

fn have(tool: &str, arg: &str) -> bool {
    Command::new(tool).arg(arg).output().is_ok()
}

/// Rotates by `deg` about the centre (bilinear, white outside).
fn rotate(img: &GrayImage, deg: f32) -> GrayImage {
    let (w, h) = img.dimensions();
    let (s, c) = deg.to_radians().sin_cos();
    let (cx, cy) = (w as f32 / 2.0, h as f32 / 2.0);
    GrayImage::from_fn(w, h, |x, y| {
        let (dx, dy) = (x as f32 - cx, y as f32 - cy);
        let (sx, sy) = (c * dx + s * dy + cx, -s * dx + c * dy + cy);
        if sx < 0.0 || sy < 0.0 || sx >= (w - 1) as f32 || sy >= (h - 1) as f32 {
            return Luma([255]);
        }
        let (x0, y0) = (sx.floor() as u32, sy.floor() as u32);
        let (fx, fy) = (sx - x0 as f32, sy - y0 as f32);
        let p = |x: u32, y: u32| f32::from(img.get_pixel(x, y).0[0]);
        let v = p(x0, y0) * (1.0 - fx) * (1.0 - fy)
            + p(x0 + 1, y0) * fx * (1.0 - fy)
            + p(x0, y0 + 1) * (1.0 - fx) * fy
            + p(x0 + 1, y0 + 1) * fx * fy;
        Luma([v.round().clamp(0.0, 255.0) as u8])
    })
}

/// Adds noise (±amp) and, for photos, light falling off across the page.
fn noise_and_light(img: &GrayImage, amp: f32, falloff: f32, seed: u64) -> GrayImage {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let (w, h) = img.dimensions();
    GrayImage::from_fn(w, h, |x, y| {
        let light = 1.0 - falloff * (x as f32 / w as f32 + y as f32 / h as f32) / 2.0;
        let v = f32::from(img.get_pixel(x, y).0[0]) * light + rng.gen_range(-amp..=amp);
        Luma([v.round().clamp(0.0, 255.0) as u8])
    })
}

fn png(img: &GrayImage) -> Vec<u8> {
    let mut out = std::io::Cursor::new(Vec::new());
    img.write_to(&mut out, image::ImageFormat::Png).unwrap();
    out.into_inner()
}

fn jpeg(img: &GrayImage, quality: u8) -> Vec<u8> {
    let mut out = Vec::new();
    image::codecs::jpeg::JpegEncoder::new_with_quality(&mut out, quality)
        .encode_image(img)
        .unwrap();
    out
}

fn raster(pdf: &[u8], page: usize, dpi: u32) -> GrayImage {
    let dir = tempfile::tempdir().unwrap();
    let f = dir.path().join("c.pdf");
    std::fs::write(&f, pdf).unwrap();
    let s = Command::new("pdftoppm")
        .args([
            "-gray",
            "-png",
            "-r",
            &dpi.to_string(),
            "-f",
            &page.to_string(),
            "-l",
            &page.to_string(),
        ])
        .arg(&f)
        .arg(dir.path().join("p"))
        .status()
        .unwrap();
    assert!(s.success());
    let file = std::fs::read_dir(dir.path())
        .unwrap()
        .filter_map(Result::ok)
        .find(|e| e.path().extension().is_some_and(|x| x == "png"))
        .unwrap()
        .path();
    load_gray(&std::fs::read(file).unwrap(), &ImageLimits::default()).unwrap()
}

/// Wording sites read from OCR'd text, and who is accused.
fn wording(form: &str, leak: &str, code: &custodian_fingerprint::Code) -> (usize, Vec<u64>) {
    let read = text::read_code(form, leak, code);
    let sites = read.iter().filter(|x| x.is_some()).count();
    let accused = code
        .trace(&read, N, PARAMS.epsilon)
        .iter()
        .map(|a| a.recipient)
        .collect();
    (sites, accused)
}

#[test]
fn scans_and_a_photo_of_a_typeset_copy_name_its_recipient() {
    if !have("pdftoppm", "-v") || !have("tesseract", "--version") {
        eprintln!("SKIPPED: pdftoppm or tesseract is not installed (scripts/install-test-tools)");
        return;
    }
    let blocks = parse(&common::manual());
    let form = plain(&blocks);
    let code = text::code_for(&form, [77; 32], &PARAMS);
    let r = 613u64;
    let mark = common::mark(r);
    let pdf = typeset(
        &with_plain(&blocks, &text::issue(&form, &code, r)),
        "manual",
        &mark,
    )
    .unwrap();
    let limits = ImageLimits::default();
    // Three 300-dpi scans.
    let mut ocr_text = String::new();
    let mut qr = Vec::new();
    for (i, page) in [4usize, 9, 15].into_iter().enumerate() {
        let img = raster(&pdf, page, 300);
        let img = rotate(&img, if i % 2 == 0 { 0.6 } else { -0.6 });
        let img = image::imageops::blur(&img, 0.8);
        let img = noise_and_light(&img, 20.0, 0.0, i as u64);
        let bytes = png(&img);
        qr.extend(read_qr(&load_gray(&bytes, &limits).unwrap()));
        ocr_text.push_str(&ocr(&bytes, &limits).unwrap());
        ocr_text.push('\n');
    }
    assert!(
        qr.contains(&format!("custodian:CP-{r:x}:tag")),
        "QR from scans: {qr:?}"
    );
    let (sites, accused) = wording(&form, &ocr_text, &code);
    eprintln!("3 scans: {sites} wording sites read by OCR; accused {accused:?}");
    assert_eq!(accused, [r], "three scans");
    // One phone-style photo.
    let img = raster(&pdf, 11, 200);
    let img = rotate(&img, 2.0);
    let img = image::imageops::blur(&img, 0.6);
    let img = noise_and_light(&img, 12.0, 0.35, 99);
    let photo = jpeg(&img, 70);
    let qr = read_qr(&load_gray(&photo, &limits).unwrap());
    let t = ocr(&photo, &limits).unwrap();
    let (sites, accused) = wording(&form, &t, &code);
    eprintln!("1 photo: QR {qr:?}; {sites} wording sites read by OCR; accused {accused:?}");
    assert!(accused.iter().all(|a| *a == r), "never an innocent");
    assert!(
        qr.contains(&format!("custodian:CP-{r:x}:tag")) || accused == [r],
        "the photo names its copy one way or the other"
    );
}

#[test]
fn images_are_bounded() {
    let limits = ImageLimits {
        max_width: 100,
        max_height: 100,
        ..ImageLimits::default()
    };
    let big = png(&GrayImage::new(200, 50));
    assert!(load_gray(&big, &limits).is_err());
    assert!(load_gray(b"\x89PNG\r\n\x1a\nnot really", &ImageLimits::default()).is_err());
    let small = png(&GrayImage::from_pixel(50, 50, Luma([255])));
    assert!(read_qr(&load_gray(&small, &limits).unwrap()).is_empty());
}
