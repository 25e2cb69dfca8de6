//! Building and signing SAML 2.0 Responses (the IdP's hot path).
//!
//! The document is written directly, already in exclusive canonical form, into
//! two buffers at once: the document itself and its canonical twin. They differ
//! only where exc-c14n drops something we still want in the document (the
//! `xmlns:xs` declaration that gives `xsi:type="xs:string"` its meaning, a prefix
//! used only inside an attribute value). Signing therefore never parses or
//! re-canonicalizes: one digest per signed element, one RSA signature each.
//! `tests/c14n_agreement.rs` proves the canonical twin equals the general
//! canonicalizer's output for every variant; the interop suite proves it against
//! lxml and four independent verifiers.

use base64::Engine as _;
use time::{Duration, OffsetDateTime};

use crate::dsig::signature_element;
use crate::error::{Error, Result};
use crate::instant;
use crate::keys::{SignatureAlgorithm, SigningKey};
use crate::ns;
use crate::xml::{check_chars, escape_attr, escape_text};

/// The subject's name identifier.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NameId {
    pub value: String,
    /// A NameID format URI, e.g. `urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress`.
    pub format: String,
}

/// One `saml:Attribute` with all its values (names are case-sensitive).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Attribute {
    pub name: String,
    /// NameFormat URI; `None` leaves the attribute out.
    pub name_format: Option<String>,
    pub values: Vec<String>,
}

/// Everything an Assertion says. Times are explicit: nothing here reads a clock.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Assertion {
    pub id: String,
    pub issue_instant: OffsetDateTime,
    pub issuer: String,
    pub name_id: NameId,
    /// SubjectConfirmationData/@Recipient: the ACS URL.
    pub recipient: String,
    pub in_response_to: Option<String>,
    pub subject_not_on_or_after: OffsetDateTime,
    pub not_before: OffsetDateTime,
    pub not_on_or_after: OffsetDateTime,
    pub audiences: Vec<String>,
    pub authn_instant: OffsetDateTime,
    pub session_index: String,
    pub session_not_on_or_after: Option<OffsetDateTime>,
    pub authn_context_class_ref: String,
    pub attributes: Vec<Attribute>,
}

/// A successful Response carrying one Assertion.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Response {
    pub id: String,
    pub issue_instant: OffsetDateTime,
    pub destination: String,
    pub issuer: String,
    pub in_response_to: Option<String>,
    pub assertion: Assertion,
}

/// What to sign and how.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SigningOptions {
    pub sign_assertion: bool,
    pub sign_response: bool,
    pub algorithm: SignatureAlgorithm,
}

impl Default for SigningOptions {
    /// Assertion signed with RSA-SHA256: what AWS and strict SPs expect.
    fn default() -> Self {
        SigningOptions {
            sign_assertion: true,
            sign_response: false,
            algorithm: SignatureAlgorithm::RsaSha256,
        }
    }
}

/// Inputs for a single-sign-on response with the usual timing.
#[derive(Debug, Clone)]
pub struct SsoParams {
    pub now: OffsetDateTime,
    pub response_id: String,
    pub assertion_id: String,
    pub session_index: String,
    pub idp_entity_id: String,
    /// The ACS URL: Destination and Recipient.
    pub acs_url: String,
    pub audience: String,
    pub name_id: NameId,
    pub in_response_to: Option<String>,
    pub authn_instant: OffsetDateTime,
    pub session_not_on_or_after: Option<OffsetDateTime>,
    pub attributes: Vec<Attribute>,
}

/// How long an assertion may be redeemed, and how much earlier than `now` it is valid.
pub const VALIDITY: Duration = Duration::minutes(5);
pub const NOT_BEFORE_SKEW: Duration = Duration::seconds(60);

impl Response {
    /// IssueInstant = now, NotBefore = now - 60 s, NotOnOrAfter = now + 5 min
    /// (AWS STS refuses assertions older than 5 minutes).
    pub fn for_sso(p: SsoParams) -> Self {
        let assertion = Assertion {
            id: p.assertion_id,
            issue_instant: p.now,
            issuer: p.idp_entity_id.clone(),
            name_id: p.name_id,
            recipient: p.acs_url.clone(),
            in_response_to: p.in_response_to.clone(),
            subject_not_on_or_after: p.now + VALIDITY,
            not_before: p.now - NOT_BEFORE_SKEW,
            not_on_or_after: p.now + VALIDITY,
            audiences: vec![p.audience],
            authn_instant: p.authn_instant,
            session_index: p.session_index,
            session_not_on_or_after: p.session_not_on_or_after,
            authn_context_class_ref: ns::AC_PASSWORD_PROTECTED.to_owned(),
            attributes: p.attributes,
        };
        Response {
            id: p.response_id,
            issue_instant: p.now,
            destination: p.acs_url,
            issuer: p.idp_entity_id,
            in_response_to: p.in_response_to,
            assertion,
        }
    }

    /// Writes and signs the response.
    pub fn sign(&self, key: &SigningKey, opts: SigningOptions) -> Result<SignedResponse> {
        if !opts.sign_assertion && !opts.sign_response {
            return Err(Error::NothingSigned);
        }
        self.validate()?;
        let cert_b64 = key.certificate().to_base64();
        let mut w = Twin::with_capacity(4096);
        let a = &self.assertion;

        w.both("<samlp:Response xmlns:samlp=\"");
        w.both(ns::SAMLP);
        w.both("\"");
        w.attr("Destination", &self.destination);
        w.attr("ID", &self.id);
        if let Some(irt) = &self.in_response_to {
            w.attr("InResponseTo", irt);
        }
        w.attr("IssueInstant", &instant::format(self.issue_instant));
        w.both(" Version=\"2.0\"><saml:Issuer xmlns:saml=\"");
        w.both(ns::SAML);
        w.both("\">");
        w.text(&self.issuer);
        w.both("</saml:Issuer>");
        let response_sig_at = w.mark();
        w.both("<samlp:Status><samlp:StatusCode Value=\"");
        w.both(ns::STATUS_SUCCESS);
        w.both("\"></samlp:StatusCode></samlp:Status>");

        let assertion_start = w.mark();
        w.both("<saml:Assertion xmlns:saml=\"");
        w.both(ns::SAML);
        w.both("\"");
        w.attr("ID", &a.id);
        w.attr("IssueInstant", &instant::format(a.issue_instant));
        w.both(" Version=\"2.0\"><saml:Issuer>");
        w.text(&a.issuer);
        w.both("</saml:Issuer>");
        let assertion_sig_at = w.mark();
        write_assertion_body(&mut w, a);
        w.both("</saml:Assertion>");
        let assertion_end = w.mark();
        w.both("</samlp:Response>");

        let mut assertion_c14n = None;
        if opts.sign_assertion {
            let canonical = w
                .c14n
                .get(assertion_start.c14n..assertion_end.c14n)
                .unwrap_or_default();
            let sig = signature_element(key, &cert_b64, opts.algorithm, &a.id, canonical)?;
            assertion_c14n = Some(canonical.to_owned());
            w.insert(assertion_sig_at, &sig);
        }
        let mut response_c14n = None;
        if opts.sign_response {
            let sig = signature_element(key, &cert_b64, opts.algorithm, &self.id, &w.c14n)?;
            response_c14n = Some(std::mem::take(&mut w.c14n));
            w.doc.insert_str(response_sig_at.doc, &sig);
        }
        Ok(SignedResponse {
            xml: w.doc,
            assertion_c14n,
            response_c14n,
        })
    }

    fn validate(&self) -> Result<()> {
        let a = &self.assertion;
        for (field, value) in [("Response ID", &self.id), ("Assertion ID", &a.id)] {
            check_id(field, value)?;
        }
        for irt in [&self.in_response_to, &a.in_response_to]
            .into_iter()
            .flatten()
        {
            check_chars("InResponseTo", irt)?;
        }
        for (field, value) in [
            ("Destination", &self.destination),
            ("Issuer", &self.issuer),
            ("Assertion Issuer", &a.issuer),
            ("NameID", &a.name_id.value),
            ("NameID Format", &a.name_id.format),
            ("Recipient", &a.recipient),
            ("SessionIndex", &a.session_index),
            ("AuthnContextClassRef", &a.authn_context_class_ref),
        ] {
            check_required(field, value)?;
        }
        if a.audiences.is_empty() {
            return Err(Error::EmptyField("Audience"));
        }
        for aud in &a.audiences {
            check_chars("Audience", aud)?;
        }
        for attr in &a.attributes {
            if attr.name.is_empty() {
                return Err(Error::EmptyField("Attribute Name"));
            }
            check_chars("Attribute Name", &attr.name)?;
            if let Some(f) = &attr.name_format {
                check_chars("Attribute NameFormat", f)?;
            }
            for v in &attr.values {
                check_chars(&attr.name, v)?;
            }
        }
        Ok(())
    }
}

/// A Response that carries no assertion, only why not: a top-level status
/// (`Requester` or `Responder`) with an optional second-level one (e.g.
/// `NoPassive`) and message. It answers a request, so `InResponseTo` is
/// required, and the whole Response is signed (there is no assertion to
/// sign).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StatusResponse {
    pub id: String,
    pub issue_instant: OffsetDateTime,
    pub destination: String,
    pub issuer: String,
    pub in_response_to: String,
    /// A top-level status code URI (`ns::STATUS_REQUESTER`, ...).
    pub status: String,
    /// A second-level status code URI (`ns::STATUS_NO_PASSIVE`, ...).
    pub sub_status: Option<String>,
    pub message: Option<String>,
}

impl StatusResponse {
    /// Writes and signs the Response (enveloped signature after Issuer).
    pub fn sign(&self, key: &SigningKey, algorithm: SignatureAlgorithm) -> Result<SignedResponse> {
        check_id("Response ID", &self.id)?;
        for (field, value) in [
            ("Destination", &self.destination),
            ("Issuer", &self.issuer),
            ("InResponseTo", &self.in_response_to),
            ("StatusCode", &self.status),
        ] {
            check_required(field, value)?;
        }
        for (field, value) in [
            ("StatusCode", &self.sub_status),
            ("StatusMessage", &self.message),
        ] {
            if let Some(v) = value {
                check_chars(field, v)?;
            }
        }
        let cert_b64 = key.certificate().to_base64();
        let mut w = Twin::with_capacity(1024);
        w.both("<samlp:Response xmlns:samlp=\"");
        w.both(ns::SAMLP);
        w.both("\"");
        w.attr("Destination", &self.destination);
        w.attr("ID", &self.id);
        w.attr("InResponseTo", &self.in_response_to);
        w.attr("IssueInstant", &instant::format(self.issue_instant));
        w.both(" Version=\"2.0\"><saml:Issuer xmlns:saml=\"");
        w.both(ns::SAML);
        w.both("\">");
        w.text(&self.issuer);
        w.both("</saml:Issuer>");
        let sig_at = w.mark();
        w.both("<samlp:Status><samlp:StatusCode");
        w.attr("Value", &self.status);
        w.both(">");
        if let Some(sub) = &self.sub_status {
            w.both("<samlp:StatusCode");
            w.attr("Value", sub);
            w.both("></samlp:StatusCode>");
        }
        w.both("</samlp:StatusCode>");
        if let Some(message) = &self.message {
            w.both("<samlp:StatusMessage>");
            w.text(message);
            w.both("</samlp:StatusMessage>");
        }
        w.both("</samlp:Status></samlp:Response>");
        let sig = signature_element(key, &cert_b64, algorithm, &self.id, &w.c14n)?;
        let response_c14n = Some(std::mem::take(&mut w.c14n));
        w.doc.insert_str(sig_at.doc, &sig);
        Ok(SignedResponse {
            xml: w.doc,
            assertion_c14n: None,
            response_c14n,
        })
    }
}

/// What Lanyard sends to an ACS: a response with an assertion, or one
/// that only says why there is none.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outgoing {
    Assertion(Box<Response>),
    Status(Box<StatusResponse>),
}

impl Outgoing {
    /// Signs as `opts` says; a status response is signed whole, with
    /// `opts.algorithm`.
    pub fn sign(&self, key: &SigningKey, opts: SigningOptions) -> Result<SignedResponse> {
        match self {
            Outgoing::Assertion(r) => r.sign(key, opts),
            Outgoing::Status(s) => s.sign(key, opts.algorithm),
        }
    }

    /// The Response's ID.
    pub fn id(&self) -> &str {
        match self {
            Outgoing::Assertion(r) => &r.id,
            Outgoing::Status(s) => &s.id,
        }
    }
}

fn write_assertion_body(w: &mut Twin, a: &Assertion) {
    w.both("<saml:Subject><saml:NameID");
    w.attr("Format", &a.name_id.format);
    w.both(">");
    w.text(&a.name_id.value);
    w.both("</saml:NameID><saml:SubjectConfirmation Method=\"");
    w.both(ns::CM_BEARER);
    w.both("\"><saml:SubjectConfirmationData");
    if let Some(irt) = &a.in_response_to {
        w.attr("InResponseTo", irt);
    }
    w.attr("NotOnOrAfter", &instant::format(a.subject_not_on_or_after));
    w.attr("Recipient", &a.recipient);
    w.both("></saml:SubjectConfirmationData></saml:SubjectConfirmation></saml:Subject><saml:Conditions");
    w.attr("NotBefore", &instant::format(a.not_before));
    w.attr("NotOnOrAfter", &instant::format(a.not_on_or_after));
    w.both("><saml:AudienceRestriction>");
    for aud in &a.audiences {
        w.both("<saml:Audience>");
        w.text(aud);
        w.both("</saml:Audience>");
    }
    w.both("</saml:AudienceRestriction></saml:Conditions><saml:AuthnStatement");
    w.attr("AuthnInstant", &instant::format(a.authn_instant));
    w.attr("SessionIndex", &a.session_index);
    if let Some(t) = a.session_not_on_or_after {
        w.attr("SessionNotOnOrAfter", &instant::format(t));
    }
    w.both("><saml:AuthnContext><saml:AuthnContextClassRef>");
    w.text(&a.authn_context_class_ref);
    w.both("</saml:AuthnContextClassRef></saml:AuthnContext></saml:AuthnStatement>");
    if a.attributes.is_empty() {
        return;
    }
    w.both("<saml:AttributeStatement>");
    for attr in &a.attributes {
        w.both("<saml:Attribute");
        w.attr("Name", &attr.name);
        if let Some(f) = &attr.name_format {
            w.attr("NameFormat", f);
        }
        w.both(">");
        for v in &attr.values {
            // exc-c14n drops xmlns:xs (only used inside an attribute value), so
            // it goes to the document alone.
            w.both("<saml:AttributeValue");
            w.doc_only(" xmlns:xs=\"");
            w.doc_only(ns::XS);
            w.doc_only("\"");
            w.both(" xmlns:xsi=\"");
            w.both(ns::XSI);
            w.both("\" xsi:type=\"xs:string\">");
            w.text(v);
            w.both("</saml:AttributeValue>");
        }
        w.both("</saml:Attribute>");
    }
    w.both("</saml:AttributeStatement>");
}

/// A field that must have a value XML can carry.
fn check_required(field: &'static str, value: &str) -> Result<()> {
    if value.is_empty() {
        return Err(Error::EmptyField(field));
    }
    check_chars(field, value)
}

/// IDs go unescaped into `Reference/@URI`, so they must be NCNames.
fn check_id(field: &'static str, id: &str) -> Result<()> {
    let mut chars = id.chars();
    let ok_first = chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_');
    if ok_first && chars.all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.')) {
        Ok(())
    } else {
        Err(Error::InvalidAttribute {
            element: field,
            attribute: "ID",
            reason: format!("{id:?} is not an NCName of ASCII letters, digits, '_', '-', '.'"),
        })
    }
}

/// A random SAML ID: `_` and 32 hex digits (the caller supplies the randomness).
pub fn new_id(random: [u8; 16]) -> String {
    let mut s = String::with_capacity(33);
    s.push('_');
    for b in random {
        s.push(char::from(
            HEX.get(usize::from(b >> 4)).copied().unwrap_or(b'0'),
        ));
        s.push(char::from(
            HEX.get(usize::from(b & 15)).copied().unwrap_or(b'0'),
        ));
    }
    s
}
const HEX: &[u8; 16] = b"0123456789abcdef";

/// A signed response, with the canonical bytes that were digested (for tests
/// and the interop suite).
#[derive(Debug, Clone)]
pub struct SignedResponse {
    pub xml: String,
    pub assertion_c14n: Option<String>,
    pub response_c14n: Option<String>,
}

impl SignedResponse {
    /// The `SAMLResponse` form value for the HTTP-POST binding.
    pub fn to_base64(&self) -> String {
        base64::engine::general_purpose::STANDARD.encode(&self.xml)
    }
}

/// A position in both buffers.
#[derive(Debug, Clone, Copy)]
struct Mark {
    doc: usize,
    c14n: usize,
}

/// The document and its canonical twin, written together.
struct Twin {
    doc: String,
    c14n: String,
}

impl Twin {
    fn with_capacity(n: usize) -> Self {
        Twin {
            doc: String::with_capacity(n),
            c14n: String::with_capacity(n),
        }
    }
    fn both(&mut self, s: &str) {
        self.doc.push_str(s);
        self.c14n.push_str(s);
    }
    fn doc_only(&mut self, s: &str) {
        self.doc.push_str(s);
    }
    fn text(&mut self, s: &str) {
        escape_text(&mut self.doc, s);
        escape_text(&mut self.c14n, s);
    }
    fn attr(&mut self, name: &str, value: &str) {
        self.both(" ");
        self.both(name);
        self.both("=\"");
        escape_attr(&mut self.doc, value);
        escape_attr(&mut self.c14n, value);
        self.both("\"");
    }
    fn mark(&self) -> Mark {
        Mark {
            doc: self.doc.len(),
            c14n: self.c14n.len(),
        }
    }
    fn insert(&mut self, at: Mark, s: &str) {
        self.doc.insert_str(at.doc, s);
        self.c14n.insert_str(at.c14n, s);
    }
}
