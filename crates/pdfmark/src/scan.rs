//! Scans and photographs of pages handed in for tracing (the stretch goal):
//! the QR code of the visible mark (copy id and MAC, when it survived), and
//! the page's text by OCR (Tesseract, Debian's `tesseract-ocr`, run as a
//! separate process with a time limit), which the wording carrier of
//! typeset copies reads. Images are untrusted: decoding is bounded in
//! bytes, pixels and memory.

use std::io::{Read as _, Write as _};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::PdfError;

/// Bounds on an image handed in.
#[derive(Debug, Clone, Copy)]
pub struct ImageLimits {
    pub max_bytes: usize,
    pub max_width: u32,
    pub max_height: u32,
    /// Width × height, checked from the header before decoding.
    pub max_pixels: u64,
    pub max_alloc: u64,
    pub ocr_time: Duration,
}

impl Default for ImageLimits {
    fn default() -> Self {
        ImageLimits {
            max_bytes: 64 << 20,
            max_width: 16_000,
            max_height: 16_000,
            // A 48-megapixel phone photo, or an A4 page at 1,000 dpi.
            max_pixels: 50_000_000,
            max_alloc: 256 << 20,
            ocr_time: Duration::from_secs(120),
        }
    }
}

/// Whether the bytes are a PNG or JPEG image.
pub fn is_image(bytes: &[u8]) -> bool {
    bytes.starts_with(b"\x89PNG\r\n\x1a\n") || bytes.starts_with(&[0xFF, 0xD8, 0xFF])
}

/// Decodes a PNG or JPEG into 8-bit grey, within the limits.
pub fn load_gray(bytes: &[u8], limits: &ImageLimits) -> Result<image::GrayImage, PdfError> {
    if bytes.len() > limits.max_bytes {
        return Err(PdfError::Limit(format!(
            "the image has {} bytes, more than the {} allowed",
            bytes.len(),
            limits.max_bytes
        )));
    }
    let reader = || {
        image::ImageReader::new(std::io::Cursor::new(bytes))
            .with_guessed_format()
            .map_err(|e| PdfError::Parse(format!("not an image: {e}")))
    };
    // The size from the header, before any pixel is decoded.
    let (w, h) = reader()?
        .into_dimensions()
        .map_err(|e| PdfError::Parse(format!("not an image: {e}")))?;
    if w > limits.max_width
        || h > limits.max_height
        || u64::from(w) * u64::from(h) > limits.max_pixels
    {
        return Err(PdfError::Limit(format!(
            "the image is {w} x {h} pixels, more than the {} x {} or {} pixels allowed",
            limits.max_width, limits.max_height, limits.max_pixels
        )));
    }
    let mut reader = reader()?;
    let mut l = image::Limits::default();
    l.max_image_width = Some(limits.max_width);
    l.max_image_height = Some(limits.max_height);
    l.max_alloc = Some(limits.max_alloc);
    reader.limits(l);
    let img = reader
        .decode()
        .map_err(|e| PdfError::Parse(format!("the image does not decode: {e}")))?;
    Ok(img.into_luma8())
}

/// The texts of the QR codes found in the image (tried at full size and,
/// for large scans, at half size too).
pub fn read_qr(img: &image::GrayImage) -> Vec<String> {
    let mut out = Vec::new();
    let try_one = |img: &image::GrayImage, out: &mut Vec<String>| {
        let (w, h) = img.dimensions();
        let mut prepared =
            rqrr::PreparedImage::prepare_from_greyscale(w as usize, h as usize, |x, y| {
                img.get_pixel(x as u32, y as u32).0[0]
            });
        for grid in prepared.detect_grids() {
            if let Ok((_, content)) = grid.decode() {
                if !out.contains(&content) {
                    out.push(content);
                }
            }
        }
    };
    try_one(img, &mut out);
    if out.is_empty() && img.width() > 1600 {
        let half = image::imageops::resize(
            img,
            img.width() / 2,
            img.height() / 2,
            image::imageops::FilterType::Triangle,
        );
        try_one(&half, &mut out);
    }
    out
}

/// The languages Tesseract has of those Custodian's documents use.
fn languages() -> Option<String> {
    let out = Command::new("tesseract")
        .arg("--list-langs")
        .output()
        .ok()?;
    let list = String::from_utf8_lossy(&out.stdout);
    let have: Vec<&str> = ["eng", "jpn"]
        .into_iter()
        .filter(|l| list.lines().any(|x| x.trim() == *l))
        .collect();
    (!have.is_empty()).then(|| have.join("+"))
}

/// The image's text by Tesseract OCR (English and Japanese, as installed),
/// killed after `limits.ocr_time`.
pub fn ocr(bytes: &[u8], limits: &ImageLimits) -> Result<String, PdfError> {
    let langs = languages().ok_or_else(|| {
        PdfError::Ocr(
            "tesseract is not installed (Debian: tesseract-ocr, tesseract-ocr-jpn)".into(),
        )
    })?;
    let mut child = Command::new("tesseract")
        .args(["stdin", "stdout", "-l", &langs])
        // One thread: OpenMP's spinning costs more than it gains here.
        .env("OMP_THREAD_LIMIT", "1")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .map_err(|e| PdfError::Ocr(format!("cannot run tesseract: {e}")))?;
    let mut stdin = child
        .stdin
        .take()
        .ok_or_else(|| PdfError::Ocr("no pipe to tesseract".into()))?;
    let data = bytes.to_vec();
    let writer = std::thread::spawn(move || {
        let _ = stdin.write_all(&data);
    });
    let mut stdout = child
        .stdout
        .take()
        .ok_or_else(|| PdfError::Ocr("no pipe from tesseract".into()))?;
    let reader = std::thread::spawn(move || {
        let mut s = Vec::new();
        let _ = stdout.read_to_end(&mut s);
        s
    });
    let start = Instant::now();
    let status = loop {
        match child.try_wait() {
            Ok(Some(s)) => break s,
            Ok(None) if start.elapsed() > limits.ocr_time => {
                let _ = child.kill();
                let _ = child.wait();
                return Err(PdfError::Limit(format!(
                    "OCR took longer than {:?}",
                    limits.ocr_time
                )));
            }
            Ok(None) => std::thread::sleep(Duration::from_millis(20)),
            Err(e) => return Err(PdfError::Ocr(format!("tesseract: {e}"))),
        }
    };
    let _ = writer.join();
    let text = reader.join().unwrap_or_default();
    if !status.success() {
        return Err(PdfError::Ocr(format!("tesseract failed ({status})")));
    }
    Ok(String::from_utf8_lossy(&text).into_owned())
}
