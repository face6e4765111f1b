//! AMF0 byte helpers for finalising a recording: find and patch the 8-byte
//! number of a property (`duration`, `filesize`) inside an `onMetaData`
//! script tag body, in place.

// ---------------------------------------------------------------------------
// AMF0 byte helpers for finalising a recording
// ---------------------------------------------------------------------------

/// Byte offset, inside a script tag body, of the 8-byte big-endian f64 of the
/// AMF0 number property named `key` (e.g. `duration`, `filesize`), so a
/// recorder can patch it in place. `None` if absent, if `key` is longer than
/// 65535 bytes, or if fewer than 8 bytes follow the number marker.
///
/// The usual shape (`string name, ECMA array or object`) is walked value by
/// value, so a *string value* spelling the key cannot be mistaken for it;
/// only top-level properties of that array/object match. If the body has
/// another shape or a value this walker does not know, it falls back to
/// scanning the bytes for the property-name encoding (u16 length, name,
/// number marker 0x00) and returns the first hit.
pub fn find_number_property(body: &[u8], key: &str) -> Option<usize> {
    let name = key.as_bytes();
    u16::try_from(name.len()).ok()?;
    match walk_for_number(body, name) {
        Walk::Found(off) => Some(off),
        Walk::Absent => None,
        Walk::Unknown => scan_for_number(body, name),
    }
}

enum Walk {
    Found(usize),
    Absent,
    Unknown,
}

/// Nesting cap for skipping AMF0 values while walking a script body.
const AMF0_WALK_DEPTH: u8 = 16;

fn walk_for_number(body: &[u8], name: &[u8]) -> Walk {
    // String marker, u16 length, name (e.g. "onMetaData").
    let Some(pos) = (|| {
        if *body.first()? != 0x02 {
            return None;
        }
        let n = usize::from(u16::from_be_bytes([*body.get(1)?, *body.get(2)?]));
        Some(3 + n)
    })() else {
        return Walk::Unknown;
    };
    let mut pos = match body.get(pos) {
        Some(0x08) => pos + 5, // ECMA array: marker, u32 count (advisory)
        Some(0x03) => pos + 1, // object
        _ => return Walk::Unknown,
    };
    loop {
        let Some(len) = body.get(pos..pos + 2) else {
            return Walk::Unknown;
        };
        let len = usize::from(u16::from_be_bytes([len[0], len[1]]));
        if len == 0 && body.get(pos + 2) == Some(&0x09) {
            return Walk::Absent;
        }
        let Some(prop) = body.get(pos + 2..pos + 2 + len) else {
            return Walk::Unknown;
        };
        let value = pos + 2 + len;
        if prop == name && body.get(value) == Some(&0x00) {
            return if body.len() >= value + 9 {
                Walk::Found(value + 1)
            } else {
                Walk::Absent
            };
        }
        match skip_amf0_value(body, value, AMF0_WALK_DEPTH) {
            Some(next) => pos = next,
            None => return Walk::Unknown,
        }
    }
}

/// Position after the AMF0 value starting at `pos`; `None` if cut short,
/// too deep, or of a type this walker does not skip.
fn skip_amf0_value(body: &[u8], pos: usize, depth: u8) -> Option<usize> {
    let depth = depth.checked_sub(1)?;
    let u16_at = |p: usize| -> Option<usize> {
        Some(usize::from(u16::from_be_bytes([
            *body.get(p)?,
            *body.get(p + 1)?,
        ])))
    };
    let u32_at = |p: usize| -> Option<usize> {
        let s = body.get(p..p.checked_add(4)?)?;
        usize::try_from(u32::from_be_bytes([s[0], s[1], s[2], s[3]])).ok()
    };
    let end = match *body.get(pos)? {
        0x00 => pos + 9,                                  // number
        0x01 => pos + 2,                                  // boolean
        0x02 => pos + 3 + u16_at(pos + 1)?,               // string
        0x05 | 0x06 => pos + 1,                           // null, undefined
        0x07 => pos + 3,                                  // reference
        0x0B => pos + 11,                                 // date
        0x0C => (pos + 5).checked_add(u32_at(pos + 1)?)?, // long string
        marker @ (0x03 | 0x08) => {
            // Object / ECMA array: properties until an empty name + 0x09.
            let mut p = if marker == 0x08 { pos + 5 } else { pos + 1 };
            loop {
                let len = u16_at(p)?;
                if len == 0 && *body.get(p + 2)? == 0x09 {
                    break p + 3;
                }
                p = skip_amf0_value(body, p + 2 + len, depth)?;
            }
        }
        0x0A => {
            // Strict array: u32 count, then values.
            let count = u32_at(pos + 1)?;
            let mut p = pos + 5;
            for _ in 0..count {
                p = skip_amf0_value(body, p, depth)?;
            }
            p
        }
        _ => return None,
    };
    (end <= body.len()).then_some(end)
}

/// The plain byte scan: first `u16 len, name, 0x00` followed by 8 bytes.
fn scan_for_number(body: &[u8], name: &[u8]) -> Option<usize> {
    let len = u16::try_from(name.len()).ok()?.to_be_bytes();
    let needle_len = 2 + name.len() + 1;
    if body.len() < needle_len + 8 {
        return None;
    }
    (0..=body.len() - needle_len - 8)
        .find(|&i| {
            body[i..i + 2] == len
                && &body[i + 2..i + 2 + name.len()] == name
                && body[i + 2 + name.len()] == 0x00
        })
        .map(|i| i + needle_len)
}

/// Overwrites the AMF0 number property `key` in a script tag body with
/// `value`. Returns false (and changes nothing) if the property is absent.
pub fn patch_number_property(body: &mut [u8], key: &str, value: f64) -> bool {
    match find_number_property(body, key) {
        Some(off) => {
            body[off..off + 8].copy_from_slice(&value.to_be_bytes());
            true
        }
        None => false,
    }
}
