//! TLS to a database server: libpq's `sslmode` and `sslrootcert` URL
//! options, read once for PostgreSQL and MySQL alike, turned into a rustls
//! client configuration (PostgreSQL) or the MySQL client's TLS options,
//! and a failed handshake turned into a message that says what did not
//! verify.
//!
//! Owns the TLS policy only: no connection is made here. rustls with the
//! ring provider, the one already in the dependency tree; no OpenSSL.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use rustls::client::WebPkiServerVerifier;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::{CryptoProvider, WebPkiSupportedAlgorithms};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{CertificateError, ClientConfig, DigitallySignedStruct, RootCertStore};
use table_io::{Result, TableError};

/// How much TLS a connection asks for, with libpq's names and meanings.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(crate) enum SslMode {
    /// Plain TCP.
    Disable,
    /// TLS when the server offers it, plain otherwise; the certificate is
    /// not checked. libpq's default, and so db-export's.
    #[default]
    Prefer,
    /// TLS or no connection; the certificate is not checked (unless
    /// `sslrootcert` is given: then as `VerifyCa`, as libpq does).
    Require,
    /// TLS, the certificate signed by a trusted authority; any host name.
    VerifyCa,
    /// TLS, the certificate signed by a trusted authority and naming the
    /// host of the URL.
    VerifyFull,
}

impl SslMode {
    fn parse(text: &str) -> Option<Self> {
        Some(match text {
            "disable" => Self::Disable,
            "prefer" | "allow" => Self::Prefer,
            "require" => Self::Require,
            "verify-ca" => Self::VerifyCa,
            "verify-full" => Self::VerifyFull,
            _ => return None,
        })
    }

    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Self::Disable => "disable",
            Self::Prefer => "prefer",
            Self::Require => "require",
            Self::VerifyCa => "verify-ca",
            Self::VerifyFull => "verify-full",
        }
    }
}

/// The TLS options of one `--db` URL.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Tls {
    pub(crate) mode: SslMode,
    /// `sslrootcert`: a PEM file of the authorities to trust instead of
    /// the built-in public ones.
    pub(crate) root_cert: Option<PathBuf>,
}

/// What checking the server's certificate means for one [`Tls`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Check {
    /// Encrypt, trust any certificate.
    Nothing,
    /// The chain must lead to a trusted authority.
    Authority,
    /// That, and the certificate must name the host.
    AuthorityAndHost,
}

impl Tls {
    /// Takes `sslmode` and `sslrootcert` out of the query of `url` and
    /// returns them with the URL the driver gets (the rest of the query
    /// kept as it is). `shown` is the URL with its password masked, for
    /// messages.
    pub(crate) fn split_url(url: &str, shown: &str) -> Result<(Self, String)> {
        let Some((base, query)) = url.split_once('?') else {
            return Ok((Self::default(), url.to_string()));
        };
        let mut tls = Self::default();
        let mut kept = Vec::new();
        for pair in query.split('&').filter(|pair| !pair.is_empty()) {
            let (name, value) = pair.split_once('=').unwrap_or((pair, ""));
            let value = percent_decode(value);
            match name {
                "sslmode" => {
                    tls.mode = SslMode::parse(&value).ok_or_else(|| {
                        TableError::usage(format!(
                            "`--db {shown}`: sslmode `{value}` is not one db-export knows"
                        ))
                        .with_hint("use sslmode=disable, prefer (the default), require, verify-ca or verify-full")
                    })?;
                }
                "sslrootcert" => tls.root_cert = Some(PathBuf::from(value)),
                _ => kept.push(pair),
            }
        }
        let rest = if kept.is_empty() {
            base.to_string()
        } else {
            format!("{base}?{}", kept.join("&"))
        };
        Ok((tls, rest))
    }

    fn check(&self) -> Check {
        match (self.mode, &self.root_cert) {
            (SslMode::VerifyFull, _) => Check::AuthorityAndHost,
            (SslMode::VerifyCa, _) | (SslMode::Require, Some(_)) => Check::Authority,
            _ => Check::Nothing,
        }
    }

    /// The rustls configuration of a PostgreSQL connection.
    pub(crate) fn client_config(&self) -> Result<ClientConfig> {
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let builder = ClientConfig::builder_with_provider(provider.clone())
            .with_safe_default_protocol_versions()
            .map_err(|error| {
                TableError::database("cannot set up TLS").caused_by(error.to_string())
            })?;
        let algorithms = provider.signature_verification_algorithms;
        let verifier: Arc<dyn ServerCertVerifier> = match self.check() {
            Check::Nothing => Arc::new(AnyCertificate { algorithms }),
            check => {
                let roots = Arc::new(self.roots()?);
                let webpki = WebPkiServerVerifier::builder_with_provider(roots, provider)
                    .build()
                    .map_err(|error| {
                        TableError::database("cannot set up TLS").caused_by(error.to_string())
                    })?;
                Arc::new(Trusted {
                    webpki,
                    check_host: check == Check::AuthorityAndHost,
                })
            }
        };
        Ok(builder
            .dangerous()
            .with_custom_certificate_verifier(verifier)
            .with_no_client_auth())
    }

    /// The MySQL client's TLS options; `None` for a plain connection.
    pub(crate) fn mysql_opts(&self) -> Result<Option<mysql::SslOpts>> {
        if self.mode == SslMode::Disable {
            return Ok(None);
        }
        let mut opts = mysql::SslOpts::default();
        match self.check() {
            Check::Nothing => opts = opts.with_danger_accept_invalid_certs(true),
            Check::Authority => opts = opts.with_danger_skip_domain_validation(true),
            Check::AuthorityAndHost => {}
        }
        if let Some(path) = &self.root_cert {
            // Read it here, so a bad file is named as such rather than as
            // a failed handshake.
            read_certificates(path)?;
            opts = opts.with_root_cert_path(Some(path.clone()));
        }
        Ok(Some(opts))
    }

    /// The authorities a certificate may lead to: those of `sslrootcert`,
    /// else the public ones built in (Mozilla's list).
    fn roots(&self) -> Result<RootCertStore> {
        let mut roots = RootCertStore::empty();
        match &self.root_cert {
            Some(path) => {
                for certificate in read_certificates(path)? {
                    roots
                        .add(certificate)
                        .map_err(|error| bad_root_file(path).caused_by(error.to_string()))?;
                }
            }
            None => roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned()),
        }
        Ok(roots)
    }
}

fn read_certificates(path: &Path) -> Result<Vec<CertificateDer<'static>>> {
    let bytes = std::fs::read(path)
        .map_err(|error| TableError::io("cannot read the sslrootcert file", path, &error))?;
    let certificates: Vec<CertificateDer<'static>> = CertificateDer::pem_slice_iter(&bytes)
        .collect::<std::result::Result<_, _>>()
        .map_err(|error| bad_root_file(path).caused_by(error.to_string()))?;
    if certificates.is_empty() {
        return Err(bad_root_file(path));
    }
    Ok(certificates)
}

fn bad_root_file(path: &Path) -> TableError {
    TableError::io_message(format!(
        "the sslrootcert file `{}` holds no certificate db-export can read",
        path.display()
    ))
    .with_hint("give a PEM file of the authority's certificate (`-----BEGIN CERTIFICATE-----`)")
}

/// `%XX` escapes decoded; anything else kept.
fn percent_decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = |b: u8| (b as char).to_digit(16);
        match (bytes[i], bytes.get(i + 1), bytes.get(i + 2)) {
            (b'%', Some(&high), Some(&low)) if hex(high).is_some() && hex(low).is_some() => {
                let value = hex(high).unwrap_or(0) * 16 + hex(low).unwrap_or(0);
                out.push(u8::try_from(value).unwrap_or(b'?'));
                i += 3;
            }
            (byte, _, _) => {
                out.push(byte);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// `sslmode=prefer` or `require`: encrypted, whoever the server is. The
/// handshake's signatures are still checked, so the key exchange is sound.
#[derive(Debug)]
struct AnyCertificate {
    algorithms: WebPkiSupportedAlgorithms,
}

impl ServerCertVerifier for AnyCertificate {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp: &[u8],
        _now: UnixTime,
    ) -> std::result::Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> std::result::Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(message, cert, dss, &self.algorithms)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> std::result::Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(message, cert, dss, &self.algorithms)
    }

    fn supported_verify_schemes(&self) -> Vec<rustls::SignatureScheme> {
        self.algorithms.supported_schemes()
    }
}

/// `verify-ca` and `verify-full`: webpki's checks, the host name's only
/// for `verify-full`.
#[derive(Debug)]
struct Trusted {
    webpki: Arc<WebPkiServerVerifier>,
    check_host: bool,
}

impl ServerCertVerifier for Trusted {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp: &[u8],
        now: UnixTime,
    ) -> std::result::Result<ServerCertVerified, rustls::Error> {
        match self
            .webpki
            .verify_server_cert(end_entity, intermediates, server_name, ocsp, now)
        {
            Err(rustls::Error::InvalidCertificate(
                CertificateError::NotValidForName | CertificateError::NotValidForNameContext { .. },
            )) if !self.check_host => Ok(ServerCertVerified::assertion()),
            other => other,
        }
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> std::result::Result<HandshakeSignatureValid, rustls::Error> {
        self.webpki.verify_tls12_signature(message, cert, dss)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> std::result::Result<HandshakeSignatureValid, rustls::Error> {
        self.webpki.verify_tls13_signature(message, cert, dss)
    }

    fn supported_verify_schemes(&self) -> Vec<rustls::SignatureScheme> {
        self.webpki.supported_verify_schemes()
    }
}

/// The rustls error somewhere in `error`'s chain. An `io::Error` hides the
/// error it wraps from `source()`, so it is opened by hand.
fn rustls_error<'a>(error: &'a (dyn std::error::Error + 'static)) -> Option<&'a rustls::Error> {
    let mut current = Some(error);
    while let Some(error) = current {
        if let Some(found) = error.downcast_ref::<rustls::Error>() {
            return Some(found);
        }
        if let Some(inner) = error
            .downcast_ref::<std::io::Error>()
            .and_then(std::io::Error::get_ref)
        {
            let inner: &(dyn std::error::Error + 'static) = inner;
            if let Some(found) = inner.downcast_ref::<rustls::Error>() {
                return Some(found);
            }
            current = inner.source();
        } else {
            current = error.source();
        }
    }
    None
}

/// When `error` is a failed TLS handshake: what failed, worded for the
/// user, as an exit-5 error about the server at `shown` (`server` names
/// its kind, `host` the host of the URL).
pub(crate) fn handshake_failure(
    error: &(dyn std::error::Error + 'static),
    server: &str,
    shown: &str,
    host: &str,
    tls: &Tls,
) -> Option<TableError> {
    let rustls = rustls_error(error)?;
    let root = match &tls.root_cert {
        Some(path) => format!("the authority in sslrootcert `{}`", path.display()),
        None => "the public authorities built into db-export (no sslrootcert given)".to_string(),
    };
    let (what, hint) = match rustls {
        rustls::Error::InvalidCertificate(certificate) => match certificate {
            CertificateError::UnknownIssuer => (
                format!("its certificate is signed by an unknown certificate authority: not by {root}"),
                "pass the PEM file of the authority that signed the server's certificate as sslrootcert=PATH".to_string(),
            ),
            CertificateError::NotValidForName | CertificateError::NotValidForNameContext { .. } => (
                format!("its certificate does not name the host `{host}` (wrong host name)"),
                "connect by a host name the certificate names, or use sslmode=verify-ca to check the authority only".to_string(),
            ),
            CertificateError::Expired | CertificateError::ExpiredContext { .. } => (
                "its certificate has expired".to_string(),
                "renew the server's certificate (and check this machine's clock)".to_string(),
            ),
            CertificateError::NotValidYet | CertificateError::NotValidYetContext { .. } => (
                "its certificate is not valid yet".to_string(),
                "check the clocks of this machine and of the server".to_string(),
            ),
            other => (
                format!("its certificate does not verify ({other:?})"),
                "check the server's certificate, or the authority given as sslrootcert".to_string(),
            ),
        },
        other => (
            format!("the TLS handshake failed: {other}"),
            "check that the server speaks TLS on this port; sslmode=disable connects without it".to_string(),
        ),
    };
    Some(
        TableError::database(format!(
            "the {server} server at {shown} failed the TLS check of sslmode={}: {what}",
            tls.mode.as_str()
        ))
        .with_hint(hint),
    )
}

/// The error for a server that offers no TLS when the URL requires it.
pub(crate) fn not_offered(server: &str, shown: &str, tls: &Tls) -> TableError {
    TableError::database(format!(
        "the {server} server at {shown} does not offer TLS, and sslmode={} requires it",
        tls.mode.as_str()
    ))
    .with_hint("enable TLS on the server (a certificate and its key), or, on a network you trust, use sslmode=prefer or sslmode=disable")
}

/// What to do when a server may accept TLS connections only and the URL
/// says `sslmode=disable`.
pub(crate) const USE_TLS: &str = "drop sslmode=disable (prefer, the default, uses TLS when the server offers it), or better give sslmode=verify-full&sslrootcert=PATH, which also checks the server's certificate";

/// The error for a server that refused a plain-TCP login because it
/// accepts TLS connections only.
pub(crate) fn tls_only(server: &str, shown: &str) -> TableError {
    TableError::database(format!(
        "the {server} server at {shown} accepts TLS connections only, and sslmode=disable connects without TLS"
    ))
    .with_hint(USE_TLS)
}

/// The provider every TLS connection of db-export uses; installed as the
/// process default too, so a driver that asks for the default (the MySQL
/// client does) gets ring.
pub(crate) fn install_provider() {
    let _ = CryptoProvider::install_default(rustls::crypto::ring::default_provider());
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn takes_the_tls_options_out_of_the_url() -> Result<()> {
        let (tls, rest) = Tls::split_url(
            "postgres://u:p@h/db?connect_timeout=5&sslmode=verify-full&sslrootcert=%2Ftmp%2Fca.pem",
            "shown",
        )?;
        assert_eq!(tls.mode, SslMode::VerifyFull);
        assert_eq!(tls.root_cert, Some(PathBuf::from("/tmp/ca.pem")));
        assert_eq!(rest, "postgres://u:p@h/db?connect_timeout=5");
        let (tls, rest) = Tls::split_url("mysql://u:p@h/db?sslmode=require", "shown")?;
        assert_eq!(
            (tls.mode, rest.as_str()),
            (SslMode::Require, "mysql://u:p@h/db")
        );
        assert_eq!(Tls::split_url("mysql://h/db", "s")?.0, Tls::default());
        let error = Tls::split_url("mysql://h/db?sslmode=strict", "mysql://h/db").err();
        assert_eq!(error.map(|e| e.exit_code()), Some(2));
        Ok(())
    }

    #[test]
    fn require_with_a_root_certificate_checks_the_authority_as_libpq_does() {
        let tls = |mode, root: Option<&str>| Tls {
            mode,
            root_cert: root.map(PathBuf::from),
        };
        assert_eq!(tls(SslMode::Require, None).check(), Check::Nothing);
        assert_eq!(
            tls(SslMode::Require, Some("ca.pem")).check(),
            Check::Authority
        );
        assert_eq!(tls(SslMode::VerifyCa, None).check(), Check::Authority);
        assert_eq!(
            tls(SslMode::VerifyFull, None).check(),
            Check::AuthorityAndHost
        );
    }

    #[test]
    fn names_what_failed_in_a_handshake() {
        let tls = Tls {
            mode: SslMode::VerifyFull,
            root_cert: Some(PathBuf::from("ca.pem")),
        };
        for (certificate, said) in [
            (
                CertificateError::UnknownIssuer,
                "unknown certificate authority",
            ),
            (CertificateError::NotValidForName, "wrong host name"),
            (CertificateError::Expired, "has expired"),
        ] {
            let wrapped = std::io::Error::new(
                std::io::ErrorKind::InvalidData,
                rustls::Error::InvalidCertificate(certificate),
            );
            let error = handshake_failure(&wrapped, "MySQL", "mysql://u:***@h/db", "h", &tls);
            let text = error.map(|e| (e.exit_code(), e.to_string()));
            assert!(
                matches!(&text, Some((5, t)) if t.contains(said) && t.contains("sslmode=verify-full")),
                "{text:?}"
            );
        }
        let plain = std::io::Error::other("connection reset");
        assert!(handshake_failure(&plain, "MySQL", "s", "h", &tls).is_none());
    }
}
