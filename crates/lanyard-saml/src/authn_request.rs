//! AuthnRequest intake: `Unverified` until every check has passed, then `Verified`.
//!
//! Order of checks: decode under size limits, parse under XML limits, verify the
//! signature (query-string signature for HTTP-Redirect, enveloped XML-DSig for
//! HTTP-POST) with keys from our configuration, then Issuer, Destination,
//! IssueInstant window, replay, and the requested ACS endpoint. Nothing in an
//! unverified request is used before its signature (when there is one) holds.

use time::{Duration, OffsetDateTime};

use crate::binding::{decode_base64, inflate_bounded, RedirectParams};
use crate::dsig::{count_signatures, verify_root_signature};
use crate::error::{Error, Result};
use crate::instant;
use crate::keys::{AlgorithmPolicy, Certificate, SignatureAlgorithm};
use crate::metadata::AcsEndpoint;
use crate::ns;
use crate::xml::{self, child, text_of, Limits};

/// The binding a request arrived on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Binding {
    Redirect,
    Post,
}

/// Longest AuthnRequest ID accepted.
pub const MAX_REQUEST_ID: usize = 256;

/// Size limits for request intake.
#[derive(Debug, Clone, Copy)]
pub struct RequestLimits {
    /// Longest accepted RelayState (decoded). The bindings suggest 80 bytes,
    /// but AWS console deep links are longer; 4 KiB keeps echoing it cheap.
    pub max_relay_state: usize,
    /// Largest accepted base64 text of `SAMLRequest`.
    pub max_encoded: usize,
    /// Largest XML after base64 (and inflation for Redirect).
    pub max_xml: usize,
    pub xml: Limits,
}

impl Default for RequestLimits {
    fn default() -> Self {
        RequestLimits {
            max_relay_state: 4096,
            max_encoded: 64 * 1024,
            max_xml: 64 * 1024,
            xml: Limits {
                max_bytes: 64 * 1024,
                max_depth: 16,
                max_nodes: 2_000,
            },
        }
    }
}

#[derive(Debug, Clone)]
struct QuerySignature {
    alg_uri: String,
    signature: String,
    signed_octets: String,
}

/// An AuthnRequest as received. Only [`UnverifiedAuthnRequest::verify`] makes
/// anything in it usable.
#[derive(Debug, Clone)]
pub struct UnverifiedAuthnRequest {
    xml: String,
    limits: Limits,
    binding: Binding,
    relay_state: Option<String>,
    query_signature: Option<QuerySignature>,
}

/// What we know about the SP that the request claims to come from.
#[derive(Debug, Clone, Copy)]
pub struct SpPolicy<'a> {
    pub entity_id: &'a str,
    pub acs: &'a [AcsEndpoint],
    pub certificates: &'a [Certificate],
    pub require_signed_requests: bool,
    pub algorithms: AlgorithmPolicy,
}

/// Everything verification needs besides the request.
pub struct VerifyContext<'a> {
    pub sp: SpPolicy<'a>,
    /// This IdP's SSO URLs that a Destination may name.
    pub sso_urls: &'a [&'a str],
    pub now: OffsetDateTime,
    /// How old an IssueInstant may be.
    pub max_age: Duration,
    /// How far in the future an IssueInstant may be.
    pub clock_skew: Duration,
    /// Returns true when the caller has already seen this request ID.
    pub seen_before: &'a dyn Fn(&str) -> bool,
}

/// A request whose signature (if any), issuer, destination, age, freshness and
/// ACS endpoint have all been checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifiedAuthnRequest {
    pub id: String,
    pub issuer: String,
    pub issue_instant: OffsetDateTime,
    /// The registered ACS URL the response must go to.
    pub acs_url: String,
    pub relay_state: Option<String>,
    pub name_id_format: Option<String>,
    pub force_authn: bool,
    pub is_passive: bool,
    /// The algorithm of the verified signature; `None` for an unsigned request.
    pub signature: Option<SignatureAlgorithm>,
}

impl UnverifiedAuthnRequest {
    /// Reads an HTTP-Redirect request from the raw query string, exactly as sent.
    pub fn from_redirect_query(query: &str, limits: RequestLimits) -> Result<Self> {
        let params = RedirectParams::parse(query)?;
        let req = params
            .saml_request
            .as_ref()
            .ok_or(Error::MissingParameter("SAMLRequest"))?;
        if req.value.len() > limits.max_encoded {
            return Err(Error::TooLarge {
                size: req.value.len(),
                limit: limits.max_encoded,
            });
        }
        let deflated = decode_base64("SAMLRequest", &req.value, limits.max_encoded)?;
        let xml = String::from_utf8(inflate_bounded(&deflated, limits.max_xml)?)
            .map_err(|_| Error::InvalidUtf8)?;
        let query_signature = match (&params.sig_alg, &params.signature) {
            (Some(alg), Some(sig)) => Some(QuerySignature {
                alg_uri: alg.value.clone(),
                signature: sig.value.clone(),
                signed_octets: params.signed_octets().unwrap_or_default(),
            }),
            (None, None) => None,
            _ => return Err(Error::IncompleteQuerySignature),
        };
        let relay_state = params.relay_state.map(|r| r.value);
        check_relay_state(relay_state.as_deref(), limits)?;
        Ok(UnverifiedAuthnRequest {
            xml,
            limits: limits.xml,
            binding: Binding::Redirect,
            relay_state,
            query_signature,
        })
    }

    /// Reads an HTTP-POST request from its form fields.
    pub fn from_post(
        saml_request: &str,
        relay_state: Option<&str>,
        limits: RequestLimits,
    ) -> Result<Self> {
        check_relay_state(relay_state, limits)?;
        if saml_request.len() > limits.max_encoded {
            return Err(Error::TooLarge {
                size: saml_request.len(),
                limit: limits.max_encoded,
            });
        }
        let raw = decode_base64("SAMLRequest", saml_request, limits.max_xml)?;
        let xml = String::from_utf8(raw).map_err(|_| Error::InvalidUtf8)?;
        Ok(UnverifiedAuthnRequest {
            xml,
            limits: limits.xml,
            binding: Binding::Post,
            relay_state: relay_state.map(str::to_owned),
            query_signature: None,
        })
    }

    pub fn binding(&self) -> Binding {
        self.binding
    }

    /// The decoded XML, untrusted (for logging excerpts and tests).
    pub fn xml(&self) -> &str {
        &self.xml
    }

    /// Runs every check and returns the trusted request.
    pub fn verify(self, ctx: &VerifyContext<'_>) -> Result<VerifiedAuthnRequest> {
        let doc = xml::parse(&self.xml, self.limits)?;
        let root = doc.root_element();
        if !root.has_tag_name((ns::SAMLP, "AuthnRequest")) {
            return Err(Error::UnexpectedRoot {
                expected: "samlp:AuthnRequest",
                found: root.tag_name().name().to_owned(),
            });
        }

        let signature = match self.binding {
            Binding::Redirect => {
                if count_signatures(&doc) > 0 {
                    return Err(Error::EmbeddedSignatureInRedirect);
                }
                match &self.query_signature {
                    Some(qs) => Some(verify_query_signature(qs, &ctx.sp)?),
                    None => None,
                }
            }
            Binding::Post => match count_signatures(&doc) {
                0 => None,
                _ => Some(
                    verify_root_signature(&doc, ctx.sp.certificates, ctx.sp.algorithms)?.algorithm,
                ),
            },
        };
        if signature.is_none() && ctx.sp.require_signed_requests {
            return Err(Error::SignatureMissing);
        }

        if root.attribute("Version") != Some("2.0") {
            return Err(Error::UnsupportedVersion);
        }
        let id = root
            .attribute("ID")
            .filter(|v| !v.is_empty())
            .ok_or(Error::MissingAttribute {
                element: "samlp:AuthnRequest",
                attribute: "ID",
            })?;
        // The ID is echoed as InResponseTo and kept in the replay memory:
        // bound it (SAML IDs are xs:ID; real SPs send 20-60 characters).
        if id.len() > MAX_REQUEST_ID {
            return Err(Error::RequestIdTooLong {
                len: id.len(),
                limit: MAX_REQUEST_ID,
            });
        }

        let issuer = child(root, ns::SAML, "Issuer")
            .map(text_of)
            .transpose()?
            .ok_or(Error::MissingElement("saml:Issuer"))?;
        if issuer != ctx.sp.entity_id {
            return Err(Error::IssuerMismatch {
                found: issuer,
                expected: ctx.sp.entity_id.to_owned(),
            });
        }

        match root.attribute("Destination") {
            Some(d) if !ctx.sso_urls.contains(&d) => {
                return Err(Error::DestinationMismatch {
                    found: d.to_owned(),
                });
            }
            None if signature.is_some() => {
                // SAML bindings 3.4.5.2 / 3.5.5.2: a signed request must say where it goes.
                return Err(Error::MissingAttribute {
                    element: "samlp:AuthnRequest",
                    attribute: "Destination",
                });
            }
            _ => {}
        }

        let ii_text = root
            .attribute("IssueInstant")
            .ok_or(Error::MissingAttribute {
                element: "samlp:AuthnRequest",
                attribute: "IssueInstant",
            })?;
        let issue_instant = instant::parse(ii_text)?;
        if ctx.now - issue_instant > ctx.max_age {
            return Err(Error::RequestExpired {
                issue_instant: ii_text.to_owned(),
                max_age_secs: ctx.max_age.whole_seconds(),
            });
        }
        if issue_instant - ctx.now > ctx.clock_skew {
            return Err(Error::RequestFromFuture {
                issue_instant: ii_text.to_owned(),
            });
        }

        if (ctx.seen_before)(id) {
            return Err(Error::Replayed(id.to_owned()));
        }

        if let Some(b) = root.attribute("ProtocolBinding") {
            if b != ns::BINDING_POST {
                return Err(Error::UnsupportedProtocolBinding(b.to_owned()));
            }
        }
        let acs_url = resolve_acs(root, ctx.sp.acs)?;

        let policy = child(root, ns::SAMLP, "NameIDPolicy");
        Ok(VerifiedAuthnRequest {
            id: id.to_owned(),
            issuer,
            issue_instant,
            acs_url,
            relay_state: self.relay_state,
            name_id_format: policy
                .and_then(|p| p.attribute("Format"))
                .map(str::to_owned),
            force_authn: root
                .attribute("ForceAuthn")
                .is_some_and(|v| v == "true" || v == "1"),
            is_passive: root
                .attribute("IsPassive")
                .is_some_and(|v| v == "true" || v == "1"),
            signature,
        })
    }
}

fn check_relay_state(relay_state: Option<&str>, limits: RequestLimits) -> Result<()> {
    match relay_state {
        Some(rs) if rs.len() > limits.max_relay_state => Err(Error::RelayStateTooLong {
            len: rs.len(),
            limit: limits.max_relay_state,
        }),
        _ => Ok(()),
    }
}

fn verify_query_signature(qs: &QuerySignature, sp: &SpPolicy<'_>) -> Result<SignatureAlgorithm> {
    let alg = SignatureAlgorithm::from_uri(&qs.alg_uri)?;
    sp.algorithms.check_signature(alg)?;
    let sig = decode_base64("Signature", &qs.signature, 2048)?;
    if sp
        .certificates
        .iter()
        .any(|c| c.verify(alg, qs.signed_octets.as_bytes(), &sig).is_ok())
    {
        Ok(alg)
    } else {
        Err(Error::BadSignature)
    }
}

/// The ACS URL to answer: the requested URL or index if registered, else the
/// default POST endpoint. Never an unregistered URL.
fn resolve_acs(root: roxmltree::Node<'_, '_>, acs: &[AcsEndpoint]) -> Result<String> {
    let post = || acs.iter().filter(|e| e.binding == ns::BINDING_POST);
    if let Some(url) = root.attribute("AssertionConsumerServiceURL") {
        return post()
            .find(|e| e.location == url)
            .map(|e| e.location.clone())
            .ok_or_else(|| Error::UnregisteredAcsUrl(url.to_owned()));
    }
    if let Some(idx) = root.attribute("AssertionConsumerServiceIndex") {
        let n: u16 = idx.trim().parse().map_err(|_| Error::InvalidAttribute {
            element: "samlp:AuthnRequest",
            attribute: "AssertionConsumerServiceIndex",
            reason: format!("{idx:?} is not an unsigned short"),
        })?;
        return post()
            .find(|e| e.index == Some(n))
            .map(|e| e.location.clone())
            .ok_or(Error::UnregisteredAcsIndex(n));
    }
    post()
        .find(|e| e.is_default)
        .or_else(|| post().next())
        .map(|e| e.location.clone())
        .ok_or(Error::NoAcsEndpoint)
}
