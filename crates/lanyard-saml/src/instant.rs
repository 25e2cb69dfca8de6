//! xs:dateTime in and out. We always write UTC with a `Z` and whole seconds; we
//! read any RFC 3339 form (fractional seconds, offsets) and reject the rest.

use time::format_description::well_known::Rfc3339;
use time::{OffsetDateTime, UtcOffset};

use crate::error::{Error, Result};

/// Formats `t` as `YYYY-MM-DDThh:mm:ssZ` in UTC.
pub fn format(t: OffsetDateTime) -> String {
    let t = t.to_offset(UtcOffset::UTC);
    format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}Z",
        t.year(),
        u8::from(t.month()),
        t.day(),
        t.hour(),
        t.minute(),
        t.second()
    )
}

/// Parses an xs:dateTime that carries a time zone (as SAML requires).
pub fn parse(s: &str) -> Result<OffsetDateTime> {
    OffsetDateTime::parse(s.trim(), &Rfc3339).map_err(|_| Error::InvalidTimestamp(s.to_owned()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_utc_with_z() {
        let t = OffsetDateTime::from_unix_timestamp(1_795_000_000).unwrap();
        assert_eq!(format(t), "2026-11-18T11:06:40Z");
        let shifted = t.to_offset(UtcOffset::from_hms(2, 0, 0).unwrap());
        assert_eq!(format(shifted), "2026-11-18T11:06:40Z");
    }

    #[test]
    fn parses_variants_and_rejects_local_times() {
        assert_eq!(
            parse("2026-11-18T11:06:40Z").unwrap().unix_timestamp(),
            1_795_000_000
        );
        assert_eq!(
            parse("2026-11-18T13:06:40.123+02:00")
                .unwrap()
                .unix_timestamp(),
            1_795_000_000
        );
        assert_eq!(
            parse("2026-11-18T11:06:40").unwrap_err(),
            Error::InvalidTimestamp("2026-11-18T11:06:40".into())
        );
    }
}
