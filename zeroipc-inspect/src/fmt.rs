//! Human-readable formatting helpers.

use std::fmt::Write as _;

/// `1536` → `1.5 KiB`.
pub fn bytes(n: u64) -> String {
    const UNITS: [&str; 5] = ["B", "KiB", "MiB", "GiB", "TiB"];
    #[allow(clippy::cast_precision_loss)]
    let mut v = n as f64;
    let mut unit = 0;
    while v >= 1024.0 && unit + 1 < UNITS.len() {
        v /= 1024.0;
        unit += 1;
    }
    if unit == 0 {
        format!("{n} B")
    } else {
        format!("{v:.1} {}", UNITS.get(unit).copied().unwrap_or("?"))
    }
}

/// Seconds → `45s`, `12m`, `3h`, `2d`.
pub fn age(secs: u64) -> String {
    match secs {
        0..60 => format!("{secs}s"),
        60..3600 => format!("{}m", secs / 60),
        3600..86400 => format!("{}h", secs / 3600),
        _ => format!("{}d", secs / 86400),
    }
}

/// A bar of `width` cells filled to `fraction` (clamped to `0..=1`).
pub fn bar(fraction: f64, width: usize) -> String {
    let f = if fraction.is_finite() {
        fraction.clamp(0.0, 1.0)
    } else {
        0.0
    };
    #[allow(
        clippy::cast_possible_truncation,
        clippy::cast_sign_loss,
        clippy::cast_precision_loss
    )]
    let filled = ((f * width as f64).round() as usize).min(width);
    format!("[{}{}]", "#".repeat(filled), ".".repeat(width - filled))
}

/// Whether bytes are printable UTF-8 text (tabs and newlines allowed).
pub fn is_text(b: &[u8]) -> bool {
    std::str::from_utf8(b)
        .is_ok_and(|s| s.chars().all(|c| !c.is_control() || c == '\n' || c == '\t'))
}

/// Bytes as lower-case hex without separators.
pub fn hex(b: &[u8]) -> String {
    let mut s = String::with_capacity(b.len() * 2);
    for x in b {
        let _ = write!(s, "{x:02x}");
    }
    s
}

/// `hexdump -C`-style lines for `data` starting at absolute offset `base`; runs of identical
/// 16-byte lines collapse into one `*` line.
pub fn hexdump(data: &[u8], base: u64) -> Vec<String> {
    let mut out = Vec::new();
    let mut prev: Option<&[u8]> = None;
    let mut squeezed = false;
    for (i, chunk) in data.chunks(16).enumerate() {
        let off = base + (i as u64) * 16;
        if prev == Some(chunk) && chunk.len() == 16 {
            if !squeezed {
                out.push("*".to_owned());
                squeezed = true;
            }
            continue;
        }
        squeezed = false;
        prev = Some(chunk);
        let mut line = format!("{off:08x}  ");
        for j in 0..16 {
            match chunk.get(j) {
                Some(b) => {
                    let _ = write!(line, "{b:02x} ");
                }
                None => line.push_str("   "),
            }
            if j == 7 {
                line.push(' ');
            }
        }
        line.push_str(" |");
        line.extend(chunk.iter().map(|&b| {
            if b.is_ascii_graphic() || b == b' ' {
                char::from(b)
            } else {
                '.'
            }
        }));
        line.push('|');
        out.push(line);
    }
    out.push(format!("{:08x}", base + data.len() as u64));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats() {
        assert_eq!(bytes(512), "512 B");
        assert_eq!(bytes(1536), "1.5 KiB");
        assert_eq!(age(59), "59s");
        assert_eq!(age(7200), "2h");
        assert_eq!(bar(0.5, 4), "[##..]");
        assert_eq!(bar(2.0, 2), "[##]");
        assert!(is_text(b"hello\n"));
        assert!(!is_text(&[0, 1, 2]));
        assert_eq!(hex(&[0xab, 1]), "ab01");
    }

    #[test]
    fn hexdump_squeezes_repeats() {
        let mut data = vec![0u8; 64];
        data[0] = b'A';
        let lines = hexdump(&data, 0x100);
        assert_eq!(lines.len(), 4, "{lines:?}");
        assert!(lines[0].starts_with("00000100  41 00"));
        assert!(lines[0].ends_with("|A...............|"));
        assert_eq!(lines[2], "*");
        assert_eq!(lines[3], "00000140");
    }
}
