//! The one error type of the protocol crate.
//!
//! Every variant names the exact rule that was broken, so that the web layer can
//! show it to an admin (or log it) without guessing. Messages never contain key
//! material; they may contain short excerpts of the offending input (IDs, URLs).

use thiserror::Error;

/// Everything that can go wrong while building, parsing or verifying SAML.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum Error {
    // ---- input size and XML well-formedness -------------------------------------
    #[error("input is {size} bytes, larger than the limit of {limit} bytes")]
    TooLarge { size: usize, limit: usize },
    #[error("XML nesting is deeper than the limit of {limit} levels")]
    TooDeep { limit: usize },
    #[error("XML has more than {limit} nodes")]
    TooManyNodes { limit: u32 },
    #[error("XML must not contain a DTD or entity declarations")]
    DtdForbidden,
    #[error("malformed XML: {0}")]
    MalformedXml(String),
    #[error("a value for {field} contains a character that XML 1.0 cannot carry (U+{code:04X})")]
    InvalidXmlChar { field: String, code: u32 },

    // ---- encodings -------------------------------------------------------------
    #[error("invalid base64 in {field}")]
    InvalidBase64 { field: &'static str },
    #[error("DEFLATE data is invalid or truncated")]
    InvalidDeflate,
    #[error("inflated message exceeds the limit of {limit} bytes")]
    InflateTooLarge { limit: usize },
    #[error("message is not valid UTF-8")]
    InvalidUtf8,
    #[error("query parameter {0} is malformed")]
    MalformedQuery(&'static str),
    #[error("query parameter {0} appears more than once")]
    DuplicateParameter(&'static str),
    #[error("RelayState is {len} bytes, longer than the limit of {limit} bytes")]
    RelayStateTooLong { len: usize, limit: usize },
    #[error("the request ID is {len} characters long; at most {limit} are accepted")]
    RequestIdTooLong { len: usize, limit: usize },
    #[error("required parameter {0} is missing")]
    MissingParameter(&'static str),

    // ---- document structure ----------------------------------------------------
    #[error("expected root element {expected}, found {found}")]
    UnexpectedRoot {
        expected: &'static str,
        found: String,
    },
    #[error("element {element} lacks required attribute {attribute}")]
    MissingAttribute {
        element: &'static str,
        attribute: &'static str,
    },
    #[error("attribute {attribute} of {element} is invalid: {reason}")]
    InvalidAttribute {
        element: &'static str,
        attribute: &'static str,
        reason: String,
    },
    #[error("element {0} is missing")]
    MissingElement(&'static str),
    #[error("SAML Version must be 2.0")]
    UnsupportedVersion,
    #[error("ID {0:?} is used by more than one element")]
    DuplicateId(String),

    // ---- XML signatures --------------------------------------------------------
    #[error("the message is not signed, but a signature is required")]
    SignatureMissing,
    #[error("the message carries {0} signatures; exactly one, on the root element, is allowed")]
    UnexpectedSignatureCount(usize),
    #[error("the signature must be a direct child of the root element")]
    SignatureNotOnRoot,
    #[error("the signature must have exactly one Reference, found {0}")]
    ReferenceCount(usize),
    #[error(
        "the signature Reference URI {found:?} does not point at the root element ID {expected:?}"
    )]
    ReferenceNotRoot { found: String, expected: String },
    #[error("signature algorithm {0} is not allowed")]
    DisallowedSignatureAlgorithm(String),
    #[error("digest algorithm {0} is not allowed")]
    DisallowedDigestAlgorithm(String),
    #[error("canonicalization algorithm {0} is not allowed")]
    DisallowedCanonicalization(String),
    #[error("transform {0} is not allowed")]
    DisallowedTransform(String),
    #[error("digest of the signed element does not match DigestValue (the element was modified)")]
    DigestMismatch,
    #[error("signature value does not verify with any configured certificate")]
    BadSignature,
    #[error("the redirect-binding message must not carry an XML signature")]
    EmbeddedSignatureInRedirect,
    #[error("SigAlg is present without Signature, or Signature without SigAlg")]
    IncompleteQuerySignature,

    // ---- keys and certificates -------------------------------------------------
    #[error("invalid private key: {0}")]
    InvalidKey(String),
    #[error("invalid certificate: {0}")]
    InvalidCertificate(String),
    #[error("RSA key is {bits} bits; at least {min} bits are required")]
    KeyTooSmall { bits: usize, min: usize },
    #[error("the private key does not match the certificate")]
    KeyCertificateMismatch,
    #[error("signing failed")]
    SigningFailed,

    // ---- request checks ---------------------------------------------------------
    #[error("Issuer {found:?} is not the expected SP entity ID {expected:?}")]
    IssuerMismatch { found: String, expected: String },
    #[error("Destination {found:?} is not an SSO URL of this IdP")]
    DestinationMismatch { found: String },
    #[error("IssueInstant {issue_instant} is more than {max_age_secs} s old")]
    RequestExpired {
        issue_instant: String,
        max_age_secs: i64,
    },
    #[error("IssueInstant {issue_instant} is in the future beyond the allowed clock skew")]
    RequestFromFuture { issue_instant: String },
    #[error("invalid timestamp {0:?} (expected xs:dateTime in UTC)")]
    InvalidTimestamp(String),
    #[error("AssertionConsumerServiceURL {0:?} is not a registered ACS URL of this application")]
    UnregisteredAcsUrl(String),
    #[error("AssertionConsumerServiceIndex {0} is not a registered ACS index of this application")]
    UnregisteredAcsIndex(u16),
    #[error("the application has no ACS URL for the HTTP-POST binding")]
    NoAcsEndpoint,
    #[error("ProtocolBinding {0} is not supported; only HTTP-POST responses are sent")]
    UnsupportedProtocolBinding(String),
    #[error("request ID {0:?} was already used (replay)")]
    Replayed(String),

    // ---- response checks (SP side) ------------------------------------------------
    #[error("the response status is {0}, not Success")]
    ResponseStatus(String),
    #[error("the response must carry exactly one Assertion, found {0}")]
    AssertionCount(usize),
    #[error("encrypted assertions are not supported by this verifier")]
    EncryptedAssertion,
    #[error("neither the Assertion nor the Response is signed")]
    UnsignedAssertion,
    #[error("a signature sits where none is allowed (only on the Response and on the Assertion)")]
    MisplacedSignature,
    #[error("Audience {found:?} does not include {expected:?}")]
    AudienceMismatch {
        found: Vec<String>,
        expected: String,
    },
    #[error("Recipient {found:?} is not the ACS URL {expected:?}")]
    RecipientMismatch { found: String, expected: String },
    #[error("InResponseTo {found:?} does not answer request {expected:?}")]
    InResponseToMismatch {
        found: Option<String>,
        expected: Option<String>,
    },
    #[error("the assertion is not valid before {0}")]
    NotYetValid(String),
    #[error("the assertion expired at {0}")]
    Expired(String),
    #[error("the response was issued at {issue_instant}, more than {max_age_secs} s ago")]
    IssuedTooLongAgo {
        issue_instant: String,
        max_age_secs: i64,
    },
    #[error("exactly one bearer SubjectConfirmation is required, found {0}")]
    SubjectConfirmationCount(usize),

    // ---- building ----------------------------------------------------------------
    #[error("{0} must not be empty")]
    EmptyField(&'static str),
    #[error("nothing to sign: neither the Assertion nor the Response is set to be signed")]
    NothingSigned,
}

/// Result alias of this crate.
pub type Result<T> = std::result::Result<T, Error>;
