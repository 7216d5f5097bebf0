//! Scalars resolved as yaml.v3 resolves them: Go's integer syntax, YAML 1.2 floats, booleans, nulls, base64.

#[allow(clippy::wildcard_imports)]
use super::*;

pub(super) enum Resolved<'a> {
    Null,
    Bool(bool),
    Int(i128),
    Float(f64),
    /// A string: the scalar's text, or the bytes of a `!!binary` one.
    Str(Cow<'a, str>),
}

impl Resolved<'_> {
    pub(super) fn tag(&self) -> &'static str {
        match self {
            Self::Null => "!!null",
            Self::Bool(_) => "!!bool",
            Self::Int(_) => "!!int",
            Self::Float(_) => "!!float",
            Self::Str(_) => "!!str",
        }
    }
}

/// The value of a scalar, or why its explicit tag does not fit it.
pub(super) fn resolve(scalar: &Scalar) -> Result<Resolved<'_>, String> {
    let tag = scalar.tag.as_deref();
    // yaml.v3's indicatedString: an explicit !!str, or quotes or a block without a specific tag.
    if tag == Some("!!str") || (matches!(tag, None | Some("!")) && !scalar.plain) {
        return Ok(Resolved::Str(Cow::Borrowed(&scalar.value)));
    }
    match tag {
        None => Ok(resolve_plain(&scalar.value)),
        Some("!!binary") => decode_base64(&scalar.value)
            .map(|text| Resolved::Str(Cow::Owned(text)))
            .ok_or_else(|| "!!binary value contains invalid base64 data".to_owned()),
        Some(tag @ ("!!bool" | "!!int" | "!!float" | "!!null" | "!!timestamp")) => {
            let resolved = resolve_plain(&scalar.value);
            let fits = match (tag, &resolved) {
                ("!!float", Resolved::Int(value)) => return Ok(Resolved::Float(*value as f64)),
                ("!!bool", Resolved::Bool(_))
                | ("!!int", Resolved::Int(_))
                | ("!!float", Resolved::Float(_))
                | ("!!null", Resolved::Null) => true,
                ("!!timestamp", Resolved::Str(text)) => looks_like_timestamp(text),
                _ => false,
            };
            if fits {
                Ok(resolved)
            } else {
                Err(format!(
                    "cannot decode {} `{}` as a {tag}",
                    resolved.tag(),
                    scalar.value
                ))
            }
        }
        // The non-specific `!`, local and other tags leave the text a string.
        Some(_) => Ok(Resolved::Str(Cow::Borrowed(&scalar.value))),
    }
}

/// yaml.v3's resolution of an untagged plain scalar (YAML 1.2 core schema, plus Go's integer
/// syntax: `0x`, `0o`, `0b`, a leading `0` for octal, `_` separators).
pub(super) fn resolve_plain(text: &str) -> Resolved<'_> {
    match text {
        "" | "~" | "null" | "Null" | "NULL" => return Resolved::Null,
        "true" | "True" | "TRUE" => return Resolved::Bool(true),
        "false" | "False" | "FALSE" => return Resolved::Bool(false),
        ".nan" | ".NaN" | ".NAN" => return Resolved::Float(f64::NAN),
        ".inf" | ".Inf" | ".INF" | "+.inf" | "+.Inf" | "+.INF" => {
            return Resolved::Float(f64::INFINITY);
        }
        "-.inf" | "-.Inf" | "-.INF" => return Resolved::Float(f64::NEG_INFINITY),
        _ => {}
    }
    match text.as_bytes().first() {
        Some(b'.') => {
            if let Ok(value) = text.parse::<f64>() {
                return Resolved::Float(value);
            }
        }
        Some(b'0'..=b'9' | b'+' | b'-') => {
            let plain = text.replace('_', "");
            if let Some(value) = go_parse_int(&plain) {
                return Resolved::Int(value);
            }
            if yaml_style_float(&plain)
                && let Ok(value) = plain.parse::<f64>()
            {
                return Resolved::Float(value);
            }
        }
        _ => {}
    }
    Resolved::Str(Cow::Borrowed(text))
}

/// Go's `strconv.ParseInt(text, 0, 64)`, widened to the values `ParseUint` takes.
pub(super) fn go_parse_int(text: &str) -> Option<i128> {
    let (negative, digits) = match text.as_bytes().first()? {
        b'-' => (true, &text[1..]),
        b'+' => (false, &text[1..]),
        _ => (false, text),
    };
    let magnitude = i128::from(go_parse_uint(digits)?);
    Some(if negative { -magnitude } else { magnitude })
}

/// Go's `strconv.ParseUint(text, 0, 64)`: `0b`, `0o` and `0x` prefixes, a leading `0` for octal.
pub(super) fn go_parse_uint(text: &str) -> Option<u64> {
    let (radix, digits) = match text.as_bytes() {
        [] => return None,
        [b'0', prefix, _, ..] if matches!(prefix.to_ascii_lowercase(), b'b' | b'o' | b'x') => {
            let radix = match prefix.to_ascii_lowercase() {
                b'b' => 2,
                b'o' => 8,
                _ => 16,
            };
            (radix, &text[2..])
        }
        [b'0', ..] => (8, &text[1..]),
        _ => (10, text),
    };
    let mut value: u64 = 0;
    for character in digits.chars() {
        let digit = character.to_digit(radix)?;
        value = value
            .checked_mul(u64::from(radix))?
            .checked_add(u64::from(digit))?;
    }
    Some(value)
}

/// yaml.v3's `^[-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?$`.
pub(super) fn yaml_style_float(text: &str) -> bool {
    pub(super) fn digits(text: &str) -> bool {
        !text.is_empty() && text.bytes().all(|byte| byte.is_ascii_digit())
    }
    let unsigned = text.strip_prefix(['+', '-']).unwrap_or(text);
    let (mantissa, exponent) = match unsigned.find(['e', 'E']) {
        Some(index) => (&unsigned[..index], Some(&unsigned[index + 1..])),
        None => (unsigned, None),
    };
    let mantissa = match mantissa.split_once('.') {
        Some(("", fraction)) => digits(fraction),
        Some((whole, fraction)) => digits(whole) && (fraction.is_empty() || digits(fraction)),
        None => digits(mantissa),
    };
    mantissa
        && exponent
            .is_none_or(|exponent| digits(exponent.strip_prefix(['+', '-']).unwrap_or(exponent)))
}

pub(super) fn looks_like_timestamp(text: &str) -> bool {
    let bytes = text.as_bytes();
    bytes.len() > 4 && bytes[..4].iter().all(u8::is_ascii_digit) && bytes[4] == b'-'
}

/// Go's `base64.StdEncoding.DecodeString` (line breaks ignored), as UTF-8 text.
pub(super) fn decode_base64(text: &str) -> Option<String> {
    let mut bytes = Vec::new();
    let (mut bits, mut held, mut length, mut padding) = (0u32, 0u32, 0usize, 0usize);
    for byte in text.bytes().filter(|byte| !matches!(byte, b'\r' | b'\n')) {
        length += 1;
        if byte == b'=' {
            padding += 1;
            continue;
        }
        if padding > 0 {
            return None;
        }
        let value = match byte {
            b'A'..=b'Z' => byte - b'A',
            b'a'..=b'z' => byte - b'a' + 26,
            b'0'..=b'9' => byte - b'0' + 52,
            b'+' => 62,
            b'/' => 63,
            _ => return None,
        };
        bits = (bits << 6) | u32::from(value);
        held += 6;
        if held >= 8 {
            held -= 8;
            bytes.push(u8::try_from((bits >> held) & 0xff).ok()?);
            bits &= (1 << held) - 1;
        }
    }
    if length % 4 != 0 || padding > 2 {
        return None;
    }
    String::from_utf8(bytes).ok()
}

pub(super) fn is_null(node: &YNode) -> bool {
    matches!(&node.content().body, Body::Scalar(scalar) if matches!(resolve(scalar), Ok(Resolved::Null)))
}
