//! SVG to PNG in pure Rust (`resvg` on `tiny-skia`), for the notification's picture. Text is
//! set in DejaVu Sans, bundled in the binary (assets/fonts, with its licence), so no system
//! font or library is needed. Everything is built per call and freed after: the service keeps
//! no renderer in memory between notifications.

/// The bundled font (DejaVu Sans, Bitstream Vera licence: see assets/fonts/LICENSE-DejaVu.txt).
const FONT: &[u8] = include_bytes!("../assets/fonts/DejaVuSans.ttf");
const FAMILY: &str = "DejaVu Sans";

/// Rasterising failed.
#[derive(Debug, thiserror::Error)]
pub enum RasterError {
    /// The SVG did not parse.
    #[error("the chart is not a valid SVG: {0}")]
    Svg(#[from] resvg::usvg::Error),
    /// The picture would be empty or too large.
    #[error("a picture of {0}×{1} pixels cannot be made")]
    Size(u32, u32),
    /// PNG encoding failed.
    #[error("encoding the PNG failed: {0}")]
    Png(String),
}

/// Renders an SVG on a white background at `scale` × its own size and encodes it as PNG.
///
/// # Errors
/// A bad SVG, an empty or huge size, or a failed encoding.
pub fn png(svg: &str, scale: f32) -> Result<Vec<u8>, RasterError> {
    let mut opt = resvg::usvg::Options {
        font_family: FAMILY.to_string(),
        ..resvg::usvg::Options::default()
    };
    let db = opt.fontdb_mut();
    db.load_font_data(FONT.to_vec());
    db.set_sans_serif_family(FAMILY);
    let tree = resvg::usvg::Tree::from_str(svg, &opt)?;
    let size = tree.size();
    let (w, h) = (
        (size.width() * scale).ceil() as u32,
        (size.height() * scale).ceil() as u32,
    );
    if w == 0 || h == 0 || w > 8192 || h > 8192 {
        return Err(RasterError::Size(w, h));
    }
    let mut pixmap = resvg::tiny_skia::Pixmap::new(w, h).ok_or(RasterError::Size(w, h))?;
    pixmap.fill(resvg::tiny_skia::Color::WHITE);
    resvg::render(
        &tree,
        resvg::tiny_skia::Transform::from_scale(scale, scale),
        &mut pixmap.as_mut(),
    );
    pixmap
        .encode_png()
        .map_err(|e| RasterError::Png(e.to_string()))
}
