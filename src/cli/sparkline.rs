//! Text sparklines: a metric's recent values as `▁▂▄█▆` for `runner status` and
//! `runner baseline show`.

const BARS: [char; 8] = ['▁', '▂', '▃', '▄', '▅', '▆', '▇', '█'];

/// The values, oldest first, as one bar each (the last `width`); empty for fewer than two.
#[must_use]
pub(crate) fn sparkline(values: &[f64], width: usize) -> String {
    let values: Vec<f64> = values.iter().copied().filter(|v| v.is_finite()).collect();
    let values = &values[values.len().saturating_sub(width)..];
    if values.len() < 2 {
        return String::new();
    }
    let lo = values.iter().copied().fold(f64::INFINITY, f64::min);
    let hi = values.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    let span = hi - lo;
    values
        .iter()
        .map(|v| {
            if span == 0.0 {
                BARS[0]
            } else {
                // The bar whose eighth of the span holds the value (0..=7 by construction).
                let eighth = ((v - lo) / span * 7.0).round();
                BARS.iter()
                    .zip(0u8..)
                    .find(|(_, i)| f64::from(*i) >= eighth)
                    .map_or(BARS[7], |(b, _)| *b)
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bars_follow_the_values() {
        assert_eq!(
            sparkline(&[1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0], 20),
            "▁▂▃▄▅▆▇█"
        );
        assert_eq!(sparkline(&[5.0, 5.0, 5.0], 20), "▁▁▁");
        assert_eq!(sparkline(&[1.0, 8.0, 1.0, 8.0], 3), "█▁█");
        assert_eq!(sparkline(&[1.0], 20), "");
        assert_eq!(sparkline(&[1.0, f64::NAN, 2.0], 20), "▁█");
    }
}
