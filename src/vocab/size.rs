//! Byte sizes as written in gates.toml and on the command line (`"5GiB"`, `"500MB"`, `"0"`) and
//! as people read them (`human`).

/// Parse a size: a number and a unit, `B`, `KB`/`KiB`, `MB`/`MiB`, `GB`/`GiB`, `TB`/`TiB`
/// (decimal and binary multiples; case-insensitive; a bare number is bytes).
pub fn parse(text: &str) -> Result<u64, String> {
    let t = text.trim();
    let split = t
        .find(|c: char| !c.is_ascii_digit() && c != '.' && c != '_')
        .unwrap_or(t.len());
    let (number, unit) = t.split_at(split);
    let number = number.replace('_', "");
    let value: f64 = number.parse().map_err(|_| {
        format!("`{text}` is not a size; write for example \"5GiB\", \"500MB\" or \"1024\"")
    })?;
    let multiple: u64 = match unit.trim().to_ascii_lowercase().as_str() {
        "" | "b" => 1,
        "kb" | "k" => 1_000,
        "kib" => 1 << 10,
        "mb" | "m" => 1_000_000,
        "mib" => 1 << 20,
        "gb" | "g" => 1_000_000_000,
        "gib" => 1 << 30,
        "tb" | "t" => 1_000_000_000_000,
        "tib" => 1 << 40,
        other => {
            return Err(format!(
                "unknown unit `{other}` in `{text}`; use B, KB, KiB, MB, MiB, GB, GiB, TB or TiB"
            ));
        }
    };
    #[expect(
        clippy::cast_precision_loss,
        reason = "multiples up to 2^40 are exact in an f64"
    )]
    let bytes = value * multiple as f64;
    if !bytes.is_finite() || bytes >= u64::MAX as f64 {
        return Err(format!("`{text}` is too large"));
    }
    #[expect(
        clippy::cast_possible_truncation,
        clippy::cast_sign_loss,
        reason = "finite, non-negative and below u64::MAX, checked above; fractions of a byte go"
    )]
    Ok(bytes as u64)
}

/// `5.0 GiB`, `12.3 MiB`, `512 B`: binary multiples, one decimal.
#[must_use]
pub fn human(bytes: u64) -> String {
    const UNITS: [&str; 5] = ["KiB", "MiB", "GiB", "TiB", "PiB"];
    if bytes < 1024 {
        return format!("{bytes} B");
    }
    #[expect(
        clippy::cast_precision_loss,
        reason = "one decimal is shown: the lost precision is invisible"
    )]
    let mut value = bytes as f64 / 1024.0;
    let mut unit = 0;
    while value >= 1024.0 && unit + 1 < UNITS.len() {
        value /= 1024.0;
        unit += 1;
    }
    format!("{value:.1} {}", UNITS[unit])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_units() {
        for (text, bytes) in [
            ("5GiB", 5u64 << 30),
            ("5 GiB", 5 << 30),
            ("500MB", 500_000_000),
            ("1.5KiB", 1536),
            ("1024", 1024),
            ("0", 0),
            ("2tb", 2_000_000_000_000),
            ("10_000B", 10_000),
        ] {
            assert_eq!(parse(text), Ok(bytes), "{text}");
        }
        for text in ["", "GiB", "5 parsecs", "-1GiB", "1e400GiB"] {
            assert!(parse(text).is_err(), "{text}");
        }
    }

    #[test]
    fn human_sizes() {
        assert_eq!(human(512), "512 B");
        assert_eq!(human(1536), "1.5 KiB");
        assert_eq!(human(5 << 30), "5.0 GiB");
    }
}
