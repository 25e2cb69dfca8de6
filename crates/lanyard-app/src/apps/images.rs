//! Portal images: what an uploaded application image must be before it is
//! stored and served from our origin.
//!
//! The format is taken from the bytes (never from the client's Content-Type
//! or file name), must be PNG, JPEG or WebP, and the whole image is decoded
//! under limits: a file that merely starts like a PNG, a decompression bomb,
//! or an SVG with script in it is refused. Decoding is CPU work, so callers
//! run [`check_image`] on the blocking pool.

use std::io::Cursor;

use image::{ImageFormat, ImageReader, Limits};
use lanyard_core::application::{Application, ImageInfo};
use lanyard_core::{AppId, Error, Result};

use lanyard_core::audit::AuditAction;

use super::target;
use crate::Writer;

/// Largest accepted upload.
pub const MAX_IMAGE_BYTES: usize = 512 * 1024;
/// Largest accepted width and height.
pub const MAX_IMAGE_SIDE: u32 = 2048;

/// Checks `bytes` by decoding them; returns what to store with them.
pub fn check_image(bytes: &[u8]) -> Result<ImageInfo> {
    if bytes.is_empty() {
        return Err(Error::invalid("image", "is empty"));
    }
    if bytes.len() > MAX_IMAGE_BYTES {
        return Err(Error::invalid(
            "image",
            format!(
                "is {} bytes; the limit is {} KiB",
                bytes.len(),
                MAX_IMAGE_BYTES / 1024
            ),
        ));
    }
    let format = image::guess_format(bytes).map_err(|_| {
        Error::invalid(
            "image",
            "is not a PNG, JPEG or WebP image (unrecognised format)",
        )
    })?;
    let content_type = match format {
        ImageFormat::Png => "image/png",
        ImageFormat::Jpeg => "image/jpeg",
        ImageFormat::WebP => "image/webp",
        other => {
            return Err(Error::invalid(
                "image",
                format!("is {other:?}; only PNG, JPEG and WebP are accepted"),
            ))
        }
    };
    let mut limits = Limits::default();
    limits.max_image_width = Some(MAX_IMAGE_SIDE);
    limits.max_image_height = Some(MAX_IMAGE_SIDE);
    limits.max_alloc = Some(64 * 1024 * 1024);
    let mut reader = ImageReader::with_format(Cursor::new(bytes), format);
    reader.limits(limits);
    let decoded = reader.decode().map_err(|e| {
        Error::invalid(
            "image",
            format!(
                "cannot be decoded as {content_type} (at most {MAX_IMAGE_SIDE}x{MAX_IMAGE_SIDE} pixels): {e}"
            ),
        )
    })?;
    if decoded.width() == 0 || decoded.height() == 0 {
        return Err(Error::invalid("image", "has no pixels"));
    }
    let digest = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, bytes);
    Ok(ImageInfo {
        content_type: content_type.to_owned(),
        sha256: digest.as_ref().iter().map(|b| format!("{b:02x}")).collect(),
        size: bytes.len() as i64,
    })
}

/// [`check_image`] on the blocking pool; the bytes come back with their
/// facts.
pub(crate) async fn checked(bytes: Vec<u8>) -> Result<(ImageInfo, Vec<u8>)> {
    tokio::task::spawn_blocking(move || check_image(&bytes).map(|info| (info, bytes)))
        .await
        .map_err(|e| Error::Store(format!("image check task failed: {e}")))?
}

/// Sets `id`'s user portal image after checking it (format sniffed from
/// the bytes, fully decoded, size and dimension limits), off the async
/// threads.
pub async fn set(w: &Writer, id: AppId, bytes: Vec<u8>) -> Result<Application> {
    let (info, bytes) = checked(bytes).await?;
    let mut work = w.begin().await?;
    let app = work
        .set_app_image(id, Some((&info, &bytes)), w.now())
        .await?;
    work.record(
        AuditAction::ApplicationSetImage,
        target(id),
        &serde_json::json!(info),
    );
    work.commit().await?;
    Ok(app)
}

/// Removes `id`'s user portal image.
pub async fn remove(w: &Writer, id: AppId) -> Result<Application> {
    let mut work = w.begin().await?;
    let app = work.set_app_image(id, None, w.now()).await?;
    work.record(
        AuditAction::ApplicationDeleteImage,
        target(id),
        &serde_json::json!({}),
    );
    work.commit().await?;
    Ok(app)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn encode(w: u32, h: u32, format: ImageFormat) -> Vec<u8> {
        let mut out = Cursor::new(Vec::new());
        image::RgbImage::new(w, h)
            .write_to(&mut out, format)
            .unwrap();
        out.into_inner()
    }

    fn msg(b: &[u8]) -> String {
        match check_image(b) {
            Err(Error::Invalid(f)) => f["image"].clone(),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn real_png_and_jpeg_are_accepted() {
        let png = encode(3, 2, ImageFormat::Png);
        let info = check_image(&png).unwrap();
        assert_eq!(info.content_type, "image/png");
        assert_eq!(info.size, png.len() as i64);
        assert_eq!(info.sha256.len(), 64);
        let jpeg = encode(8, 8, ImageFormat::Jpeg);
        assert_eq!(check_image(&jpeg).unwrap().content_type, "image/jpeg");
    }

    #[test]
    fn bad_images_are_refused_with_the_reason() {
        assert_eq!(msg(b""), "is empty");
        let svg = b"<svg xmlns='http://www.w3.org/2000/svg'><script>alert(1)</script></svg>";
        assert!(msg(svg).starts_with("is not a PNG, JPEG or WebP"));
        assert!(msg(b"GIF89a\x01\x00\x01\x00").contains("only PNG, JPEG and WebP"));
        // A PNG signature followed by garbage: refused by the decoder.
        let mut truncated = encode(3, 2, ImageFormat::Png);
        truncated.truncate(40);
        assert!(msg(&truncated).starts_with("cannot be decoded as image/png"));
        // Small file, huge canvas: refused before allocating it.
        let wide = encode(MAX_IMAGE_SIDE + 1, 1, ImageFormat::Png);
        assert!(wide.len() < MAX_IMAGE_BYTES);
        assert!(
            msg(&wide).starts_with("cannot be decoded"),
            "{}",
            msg(&wide)
        );
        assert!(msg(&vec![0u8; MAX_IMAGE_BYTES + 1]).contains("the limit is 512 KiB"));
    }
}
