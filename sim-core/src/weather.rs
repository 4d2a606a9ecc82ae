//! Weather as the sensors feel it: how far rain and snow let light through (extinction), the
//! visibility that leaves a camera, and the range that leaves a lidar whose pulse crosses the air
//! twice. Published coefficients, no fitted constants of our own (docs/scenario-language.md,
//! "Environment").

use scenario_dsl::model::{Precipitation, PrecipitationKind};

/// dB per neper-ish: 10·log10(e), to turn an attenuation in dB into an extinction coefficient.
const DB_PER_UNIT: f64 = 4.342_944_819;
/// Koschmieder's constant: visibility = 3.912 / extinction at a 2 % contrast threshold.
const KOSCHMIEDER: f64 = 3.912;
/// The lidar's wavelength, nm (905 nm is the common automotive one).
const LIDAR_NM: f64 = 905.0;
/// The camera's wavelength, nm (the middle of the visible band).
const CAMERA_NM: f64 = 550.0;

/// Extinction of light at `nm` nanometres by the precipitation, 1/m. Rain: 1.076·R^0.67 dB/km
/// (Carbonneau's relation, used in free-space-optics link budgets; drops are far larger than the
/// wavelength, so it holds for visible and near-infrared light alike). Dry snow: a·S^1.38 dB/km
/// with a = 5.42e-5·λ + 5.4958776 (Al Naboulsi et al.'s snow model for optical links, as ITU-R
/// reports it), S in mm/h of melted water.
pub fn extinction(p: &Precipitation<f64>, nm: f64) -> f64 {
    let db_per_km = match p.kind {
        PrecipitationKind::Rain => 1.076 * libm::pow(p.intensity, 0.67),
        PrecipitationKind::Snow => (5.42e-5 * nm + 5.495_877_6) * libm::pow(p.intensity, 1.38),
    };
    db_per_km / DB_PER_UNIT / 1000.0
}

/// The meteorological visibility the precipitation leaves a camera, metres.
pub fn camera_visibility(p: &Precipitation<f64>) -> f64 {
    KOSCHMIEDER / extinction(p, CAMERA_NM).max(1e-12)
}

/// The range a lidar that reaches `clear` metres in clear air keeps in the precipitation, metres.
/// A diffuse target's return falls as exp(-2σR)/R², so the new range R solves
/// R²·exp(2σR) = clear², that is R = clear·exp(-σR) (a fixed point the iteration reaches in a few
/// steps, as σR stays well under 1 at any range a car's lidar has).
pub fn lidar_range(clear: f64, p: &Precipitation<f64>) -> f64 {
    let sigma = extinction(p, LIDAR_NM);
    let mut r = clear;
    for _ in 0..50 {
        r = clear * libm::exp(-sigma * r);
    }
    r
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(kind: PrecipitationKind, intensity: f64) -> Precipitation<f64> {
        Precipitation { kind, intensity }
    }

    #[test]
    fn heavy_rain_shortens_a_60_m_lidar_by_a_few_metres_and_heavy_snow_by_a_third() {
        // 25 mm/h: 9.30 dB/km, 2.14e-3 /m; 60 m becomes 53.5 m; the camera sees 1.83 km.
        let rain = p(PrecipitationKind::Rain, 25.0);
        assert!((lidar_range(60.0, &rain) - 53.5).abs() < 0.1, "{}", lidar_range(60.0, &rain));
        assert!((camera_visibility(&rain) - 1827.0).abs() < 5.0, "{}", camera_visibility(&rain));
        // 5 mm/h of snow: 51.1 dB/km at 905 nm; 60 m becomes about 38 m; the camera sees 333 m.
        let snow = p(PrecipitationKind::Snow, 5.0);
        assert!((lidar_range(60.0, &snow) - 38.3).abs() < 0.5, "{}", lidar_range(60.0, &snow));
        assert!((camera_visibility(&snow) - 333.0).abs() < 5.0, "{}", camera_visibility(&snow));
    }
}
