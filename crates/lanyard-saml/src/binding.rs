//! The transport encodings of SAML bindings: base64, raw DEFLATE with a bound,
//! and raw query-string handling for the HTTP-Redirect binding.

use std::io::Read;

use base64::Engine as _;

use crate::error::{Error, Result};

/// Decodes standard base64, ignoring ASCII whitespace (line-wrapped POST bodies).
pub fn decode_base64(field: &'static str, s: &str, max_decoded: usize) -> Result<Vec<u8>> {
    let clean: String = s.chars().filter(|c| !c.is_ascii_whitespace()).collect();
    if clean.len() / 4 * 3 > max_decoded + 3 {
        return Err(Error::TooLarge {
            size: clean.len() / 4 * 3,
            limit: max_decoded,
        });
    }
    base64::engine::general_purpose::STANDARD
        .decode(clean)
        .map_err(|_| Error::InvalidBase64 { field })
}

/// Inflates raw DEFLATE (RFC 1951) data, stopping as soon as the output would
/// exceed `limit` bytes: a deflate bomb costs at most `limit` bytes of memory.
pub fn inflate_bounded(data: &[u8], limit: usize) -> Result<Vec<u8>> {
    let decoder = flate2::read::DeflateDecoder::new(data);
    let mut out = Vec::with_capacity(limit.min(data.len().saturating_mul(4)));
    let cap = u64::try_from(limit).unwrap_or(u64::MAX).saturating_add(1);
    decoder
        .take(cap)
        .read_to_end(&mut out)
        .map_err(|_| Error::InvalidDeflate)?;
    if out.len() > limit {
        return Err(Error::InflateTooLarge { limit });
    }
    Ok(out)
}

/// Deflates (for tests and for building redirect URLs to SPs).
pub fn deflate(data: &[u8]) -> Vec<u8> {
    use std::io::Write;
    let mut enc = flate2::write::DeflateEncoder::new(Vec::new(), flate2::Compression::default());
    // Writing into a Vec cannot fail.
    let _ = enc.write_all(data);
    enc.finish().unwrap_or_default()
}

/// A query parameter as it appeared on the wire, and decoded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RawParam<'q> {
    pub raw: &'q str,
    pub value: String,
}

/// The parameters of an HTTP-Redirect binding query string.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct RedirectParams<'q> {
    pub saml_request: Option<RawParam<'q>>,
    pub relay_state: Option<RawParam<'q>>,
    pub sig_alg: Option<RawParam<'q>>,
    pub signature: Option<RawParam<'q>>,
}

impl<'q> RedirectParams<'q> {
    /// Splits a raw query string. Each SAML parameter may appear once; other
    /// parameters are ignored.
    pub fn parse(query: &'q str) -> Result<Self> {
        let mut p = RedirectParams::default();
        for pair in query.split('&').filter(|s| !s.is_empty()) {
            let (name, raw) = pair.split_once('=').unwrap_or((pair, ""));
            let (slot, label) = match name {
                "SAMLRequest" => (&mut p.saml_request, "SAMLRequest"),
                "RelayState" => (&mut p.relay_state, "RelayState"),
                "SigAlg" => (&mut p.sig_alg, "SigAlg"),
                "Signature" => (&mut p.signature, "Signature"),
                _ => continue,
            };
            if slot.is_some() {
                return Err(Error::DuplicateParameter(label));
            }
            let value = percent_decode(raw).ok_or(Error::MalformedQuery(label))?;
            *slot = Some(RawParam { raw, value });
        }
        Ok(p)
    }

    /// The octets the SP signed: the raw (still URL-encoded) parameters exactly as
    /// sent, in the order the binding prescribes.
    pub fn signed_octets(&self) -> Option<String> {
        let req = self.saml_request.as_ref()?;
        let alg = self.sig_alg.as_ref()?;
        let mut s = format!("SAMLRequest={}", req.raw);
        if let Some(rs) = &self.relay_state {
            s.push_str("&RelayState=");
            s.push_str(rs.raw);
        }
        s.push_str("&SigAlg=");
        s.push_str(alg.raw);
        Some(s)
    }
}

/// Decodes `application/x-www-form-urlencoded` text (`+` is a space). Returns
/// `None` for bad escapes or invalid UTF-8.
pub fn percent_decode(s: &str) -> Option<String> {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while let Some(&b) = bytes.get(i) {
        match b {
            b'+' => out.push(b' '),
            b'%' => {
                let hi = hex_val(*bytes.get(i + 1)?)?;
                let lo = hex_val(*bytes.get(i + 2)?)?;
                out.push(hi << 4 | lo);
                i += 2;
            }
            _ => out.push(b),
        }
        i += 1;
    }
    String::from_utf8(out).ok()
}

/// Percent-encodes everything but unreserved characters (RFC 3986).
pub fn percent_encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len() * 3 / 2);
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

fn hex_val(b: u8) -> Option<u8> {
    match b {
        b'0'..=b'9' => Some(b - b'0'),
        b'a'..=b'f' => Some(b - b'a' + 10),
        b'A'..=b'F' => Some(b - b'A' + 10),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn inflate_round_trip_and_bomb_is_bounded() {
        let data = b"<samlp:AuthnRequest/>".repeat(10);
        assert_eq!(inflate_bounded(&deflate(&data), 1000).unwrap(), data);
        let bomb = deflate(&vec![b'a'; 10 * 1024 * 1024]);
        assert!(bomb.len() < 20_000);
        assert_eq!(
            inflate_bounded(&bomb, 64 * 1024).unwrap_err(),
            Error::InflateTooLarge { limit: 64 * 1024 }
        );
        assert_eq!(
            inflate_bounded(b"\xff\xff\xff garbage", 1000).unwrap_err(),
            Error::InvalidDeflate
        );
        let truncated = &deflate(&data)[..5];
        assert_eq!(
            inflate_bounded(truncated, 1000).unwrap_err(),
            Error::InvalidDeflate
        );
    }

    #[test]
    fn base64_rejects_garbage_and_truncation() {
        assert_eq!(
            decode_base64("SAMLRequest", "aGVsbG8=", 100).unwrap(),
            b"hello"
        );
        assert_eq!(
            decode_base64("SAMLRequest", "aGVs\nbG8=", 100).unwrap(),
            b"hello"
        );
        assert_eq!(
            decode_base64("SAMLRequest", "aGVsbG8", 100).unwrap_err(),
            Error::InvalidBase64 {
                field: "SAMLRequest"
            }
        );
        assert_eq!(
            decode_base64("SAMLResponse", &"A".repeat(400), 100).unwrap_err(),
            Error::TooLarge {
                size: 300,
                limit: 100
            }
        );
    }

    #[test]
    fn query_keeps_raw_values_and_rejects_duplicates() {
        let q = "SAMLRequest=a%2Bb&RelayState=%2Fx%3Fy%3D1&SigAlg=s&Signature=z&other=1";
        let p = RedirectParams::parse(q).unwrap();
        assert_eq!(p.saml_request.as_ref().unwrap().value, "a+b");
        assert_eq!(p.relay_state.as_ref().unwrap().value, "/x?y=1");
        assert_eq!(
            p.signed_octets().unwrap(),
            "SAMLRequest=a%2Bb&RelayState=%2Fx%3Fy%3D1&SigAlg=s"
        );
        assert_eq!(
            RedirectParams::parse("SAMLRequest=a&SAMLRequest=b").unwrap_err(),
            Error::DuplicateParameter("SAMLRequest")
        );
        assert_eq!(
            RedirectParams::parse("SAMLRequest=%zz").unwrap_err(),
            Error::MalformedQuery("SAMLRequest")
        );
        assert_eq!(percent_decode("a+b%20c"), Some("a b c".into()));
        assert_eq!(percent_encode("/a b?=&"), "%2Fa%20b%3F%3D%26");
    }
}
