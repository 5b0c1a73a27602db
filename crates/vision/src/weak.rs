//! The "minor first" statistic: the share of a saliency map's mass on weak (near-background) pixels.

/// Pixels with intensity below this are "weak" (background and faint stroke edges).
pub const WEAK_THRESHOLD: f32 = 0.1;

/// Mass shares of a saliency map on weak and on stroke pixels of its image.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct WeakShare {
    /// Σ_{x_j < t} m_j / Σ_j m_j.
    pub weak: f64,
    /// Σ_{x_j ≥ t} m_j / Σ_j m_j = 1 − weak.
    pub stroke: f64,
    /// Fraction of pixels that are weak: the share a uniform map would give (the chance level).
    pub weak_pixels: f64,
}

/// Shares of the non-negative saliency `map` on weak (intensity < `threshold`) and stroke pixels of
/// `image`; `None` when the map has no mass (a share is undefined then).
pub fn weak_share(map: &[f32], image: &[f32], threshold: f32) -> Option<WeakShare> {
    assert_eq!(
        map.len(),
        image.len(),
        "map and image must have the same pixels"
    );
    let mut weak = 0.0f64;
    let mut total = 0.0f64;
    let mut weak_count = 0usize;
    for (&m, &x) in map.iter().zip(image) {
        let m = f64::from(m.max(0.0));
        total += m;
        if x < threshold {
            weak += m;
            weak_count += 1;
        }
    }
    (total > 0.0).then(|| WeakShare {
        weak: weak / total,
        stroke: 1.0 - weak / total,
        weak_pixels: weak_count as f64 / image.len() as f64,
    })
}

/// Mean weak share over a panel (maps and images in the same order, each image `pixels` long),
/// skipping massless maps; `None` if every map is massless.
pub fn panel_weak_share(maps: &[Vec<f32>], images: &[f32], threshold: f32) -> Option<f64> {
    let pixels = images.len() / maps.len().max(1);
    let shares: Vec<f64> = maps
        .iter()
        .zip(images.chunks(pixels.max(1)))
        .filter_map(|(map, image)| weak_share(map, image, threshold).map(|s| s.weak))
        .collect();
    (!shares.is_empty()).then(|| shares.iter().sum::<f64>() / shares.len() as f64)
}

/// A saliency statistic over a whole image set, with massless maps counted, never dropped.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ShareSummary {
    /// Mean over ALL images of the weak share, a massless map counting as weak share 0 (it puts
    /// no mass on weak pixels; dropping it would average over a subset that differs between
    /// optimizers).
    pub mean: f64,
    /// Number of massless maps (counted as 0 in `mean`).
    pub massless: usize,
    /// Number of images.
    pub count: usize,
}

/// [`ShareSummary`] of `maps` (each non-negative, `image.len()` long) over the images they
/// belong to, in the same order.
pub fn share_summary<'a>(
    pairs: impl IntoIterator<Item = (&'a [f32], &'a [f32])>,
    threshold: f32,
) -> ShareSummary {
    let (mut sum, mut massless, mut count) = (0.0, 0usize, 0usize);
    for (map, image) in pairs {
        count += 1;
        match weak_share(map, image, threshold) {
            Some(share) => sum += share.weak,
            None => massless += 1,
        }
    }
    ShareSummary {
        mean: if count > 0 {
            sum / count as f64
        } else {
            f64::NAN
        },
        massless,
        count,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shares_on_a_hand_made_map() {
        // Pixels: two weak (0.0, 0.05), one at the threshold (counts as stroke), one bright.
        let image = [0.0, 0.05, 0.1, 0.9];
        let map = [1.0, 2.0, 3.0, 4.0];
        let share = weak_share(&map, &image, WEAK_THRESHOLD).unwrap();
        assert!((share.weak - 0.3).abs() < 1e-12);
        assert!((share.stroke - 0.7).abs() < 1e-12);
        assert_eq!(share.weak_pixels, 0.5);
        assert!(weak_share(&[0.0; 4], &image, WEAK_THRESHOLD).is_none());
    }

    #[test]
    fn summary_counts_massless_maps_as_zero() {
        let images = [0.0, 1.0, 0.0, 1.0, 0.0, 1.0];
        let maps = [[1.0, 0.0], [1.0, 1.0], [0.0, 0.0]];
        // Shares 1, ½ and (massless) 0 over three images: mean ½, one massless.
        let summary = share_summary(
            maps.iter()
                .zip(images.chunks(2))
                .map(|(m, i)| (m.as_slice(), i)),
            WEAK_THRESHOLD,
        );
        assert_eq!(
            summary,
            ShareSummary {
                mean: 0.5,
                massless: 1,
                count: 3
            }
        );
    }

    #[test]
    fn panel_mean_skips_massless_maps() {
        let images = [0.0, 1.0, 0.0, 1.0, 0.0, 1.0];
        let maps = vec![vec![1.0, 0.0], vec![1.0, 1.0], vec![0.0, 0.0]];
        // Shares 1 and ½; the third map has no mass.
        assert_eq!(panel_weak_share(&maps, &images, WEAK_THRESHOLD), Some(0.75));
    }
}
