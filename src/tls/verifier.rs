//! The one rustls certificate verifier of this tool. Every decision is WebPKI's, over the roots
//! it is given; on top of that it can, as each user configures it:
//!
//! - **record** the chain as served and the verdict: after a failed handshake rustls gives back
//!   only the error, which does not say which certificate expired or what the leaf covers
//!   (`tls::fetch_verified_chain_via`, doctor's anonymous GETs);
//! - **also ask the public roots** whether the chain verifies against them alone: IAM uses a
//!   provider's thumbprints only for hosts whose chain does not lead to a publicly trusted root
//!   (PROTOCOL.md §4; doctor);
//! - **accept the kubeconfig's own certificate**, as kubectl does: a server presenting one of the
//!   CA bundle's certificates byte for byte, even a CA:TRUE one (`CaUsedAsEndEntity` for
//!   webpki), as long as it is valid now and for the server name (`source::client`).
//!
//! None of these weakens verification: the handshake signatures are always checked by WebPKI,
//! and the only certificate accepted that WebPKI refuses is one the user put in the trust
//! bundle, checked for its validity period and the server name.

use std::sync::{Arc, Mutex};

use tokio_rustls::rustls::client::danger::{
    HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier,
};
use tokio_rustls::rustls::client::{VerifierBuilderError, WebPkiServerVerifier};
use tokio_rustls::rustls::crypto::CryptoProvider;
use tokio_rustls::rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use tokio_rustls::rustls::{
    self, CertificateError, DigitallySignedStruct, RootCertStore, SignatureScheme,
};

/// What the verifier saw of a handshake (when recording).
#[derive(Debug)]
pub struct Seen {
    /// The chain as served, leaf first (not the verified path).
    pub served: Vec<CertificateDer<'static>>,
    /// The verdict given to rustls.
    pub verdict: Result<(), rustls::Error>,
    /// The chain verified and also verifies against the public roots alone; false when the
    /// public roots were not asked (see [`Verifier::also_public`]).
    pub publicly_trusted: bool,
}

/// A verifier that delegates every decision to WebPKI, configured as the module documentation
/// describes. Built with [`Verifier::new`]; nothing recorded, no other question asked, no
/// exception made unless asked for.
#[derive(Debug)]
pub struct Verifier {
    webpki: Arc<WebPkiServerVerifier>,
    public: Option<Arc<WebPkiServerVerifier>>,
    own_certificates: Vec<CertificateDer<'static>>,
    record: bool,
    seen: Mutex<Option<Seen>>,
}

impl Verifier {
    /// WebPKI over `roots`.
    pub fn new(
        roots: RootCertStore,
        provider: Arc<CryptoProvider>,
    ) -> Result<Verifier, VerifierBuilderError> {
        let webpki =
            WebPkiServerVerifier::builder_with_provider(Arc::new(roots), provider).build()?;
        Ok(Verifier {
            webpki,
            public: None,
            own_certificates: Vec::new(),
            record: false,
            seen: Mutex::new(None),
        })
    }

    /// Also records what each handshake served and the verdict, for [`Verifier::take`].
    pub fn recording(self) -> Verifier {
        Verifier {
            record: true,
            ..self
        }
    }

    /// Records too, and asks whether a chain that verified also verifies against `public`
    /// alone. Without public roots (an empty store, or one WebPKI cannot use) the answer is no.
    pub fn also_public(self, public: RootCertStore, provider: Arc<CryptoProvider>) -> Verifier {
        let public = if public.is_empty() {
            None
        } else {
            WebPkiServerVerifier::builder_with_provider(Arc::new(public), provider)
                .build()
                .ok()
        };
        Verifier {
            public,
            ..self.recording()
        }
    }

    /// Also accepts a server presenting one of `bundle`'s certificates, byte for byte, when
    /// WebPKI refuses it only because of what it is (a CA certificate as an end entity), as long
    /// as it is within its validity period and valid for the server name.
    pub fn accepting_own_certificates(self, bundle: Vec<CertificateDer<'static>>) -> Verifier {
        Verifier {
            own_certificates: bundle,
            ..self
        }
    }

    /// The same configuration with nothing seen yet: one per handshake whose chain is read back.
    pub fn fresh(&self) -> Verifier {
        Verifier {
            webpki: self.webpki.clone(),
            public: self.public.clone(),
            own_certificates: self.own_certificates.clone(),
            record: self.record,
            seen: Mutex::new(None),
        }
    }

    /// What the last handshake served, once; `None` when not recording or nothing was served.
    pub fn take(&self) -> Option<Seen> {
        self.seen.lock().ok().and_then(|mut seen| seen.take())
    }

    /// The presented certificate is valid now and for `server_name` (it is one of the bundle's).
    fn own_certificate(
        &self,
        end_entity: &CertificateDer<'_>,
        server_name: &ServerName<'_>,
        now: UnixTime,
    ) -> Result<(), rustls::Error> {
        let invalid = |e: CertificateError| rustls::Error::InvalidCertificate(e);
        let (_, parsed) = x509_parser::parse_x509_certificate(end_entity)
            .map_err(|_| invalid(CertificateError::BadEncoding))?;
        let now_asn1 = i64::try_from(now.as_secs())
            .ok()
            .and_then(|secs| x509_parser::time::ASN1Time::from_timestamp(secs).ok())
            .ok_or(invalid(CertificateError::BadEncoding))?;
        if now_asn1 < parsed.validity().not_before {
            return Err(invalid(CertificateError::NotValidYet));
        }
        if now_asn1 > parsed.validity().not_after {
            return Err(invalid(CertificateError::Expired));
        }
        webpki::EndEntityCert::try_from(end_entity)
            .map_err(|_| invalid(CertificateError::BadEncoding))?
            .verify_is_valid_for_subject_name(server_name)
            .map_err(|_| invalid(CertificateError::NotValidForName))
    }
}

impl ServerCertVerifier for Verifier {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp_response: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        let verdict = match self.webpki.verify_server_cert(
            end_entity,
            intermediates,
            server_name,
            ocsp_response,
            now,
        ) {
            Err(refused)
                if self
                    .own_certificates
                    .iter()
                    .any(|c| c.as_ref() == end_entity.as_ref()) =>
            {
                // Only a certificate that webpki refuses because it is a CA gets here; a
                // failure of the pinned checks says why that certificate is not acceptable.
                self.own_certificate(end_entity, server_name, now)
                    .map(|()| ServerCertVerified::assertion())
                    .map_err(|pinned| match pinned {
                        rustls::Error::InvalidCertificate(CertificateError::BadEncoding) => refused,
                        other => other,
                    })
            }
            verdict => verdict,
        };
        if self.record {
            let publicly_trusted = verdict.is_ok()
                && self.public.as_ref().is_some_and(|public| {
                    public
                        .verify_server_cert(
                            end_entity,
                            intermediates,
                            server_name,
                            ocsp_response,
                            now,
                        )
                        .is_ok()
                });
            let served = std::iter::once(end_entity)
                .chain(intermediates)
                .map(|c| c.clone().into_owned())
                .collect();
            if let Ok(mut seen) = self.seen.lock() {
                *seen = Some(Seen {
                    served,
                    verdict: verdict.as_ref().map(|_| ()).map_err(Clone::clone),
                    publicly_trusted,
                });
            }
        }
        verdict
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.webpki.verify_tls12_signature(message, cert, dss)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.webpki.verify_tls13_signature(message, cert, dss)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.webpki.supported_verify_schemes()
    }
}
