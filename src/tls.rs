//! TLS for RTMPS: certificates (default + by SNI) and a non-blocking TLS
//! stream that the driver uses as one more transport.
//!
//! * [`server_config`] reads the PEM files the configuration names and builds
//!   a rustls server configuration with the `ring` provider (never the
//!   process default, so no other crate's provider choice matters). The
//!   default certificate (`tls_cert`/`tls_key`) answers clients that send no
//!   SNI (ffmpeg and OpenSSL send none for an IP address) or an unknown name;
//!   `[[tls_certs]]` entries answer the names they list. Calling it again
//!   (SIGHUP) gives a new configuration for new connections; existing ones
//!   keep theirs.
//! * [`TlsStream`] wraps a non-blocking socket: `read` yields plaintext
//!   (reading and decrypting records as needed, `WouldBlock` when the socket
//!   has no more), `write_vectored` encrypts into rustls's bounded buffer and
//!   pushes records to the socket (`WouldBlock` when that buffer is full, so
//!   the slow-viewer policy sees TLS back-pressure like TCP's). Records left
//!   unsent by a blocked socket go out from [`TlsStream::flush_tls`], which
//!   the driver calls on every writable edge. The zero-copy fan-out ends
//!   here: each viewer's bytes are encrypted (copied) into its own records.

use std::collections::HashMap;
use std::fmt;
use std::io::{self, IoSlice, Read, Write};
use std::path::Path;
use std::sync::Arc;

use rustls::crypto::CryptoProvider;
use rustls::server::{ClientHello, ResolvesServerCert};
use rustls::sign::CertifiedKey;
use rustls::{ClientConnection, Connection, ServerConfig, ServerConnection};
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};

use crate::config::Config;

/// Encrypted bytes rustls may hold for one connection before writes block.
pub const TLS_BUFFER_LIMIT: usize = 256 * 1024;

/// The crypto provider every TLS configuration of ours uses: `ring` (simple
/// to build), chosen explicitly. rustls marks it deprecated only because it
/// lacks post-quantum key exchange, which the RTMPS clients we serve do not
/// offer either.
#[allow(deprecated)]
pub fn provider() -> Arc<CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

/// A certificate/key file that could not be used.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TlsError(pub String);

impl fmt::Display for TlsError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for TlsError {}

/// Read a certificate chain and its private key from PEM files.
pub fn load_key(
    cert: &Path,
    key: &Path,
    provider: &CryptoProvider,
) -> Result<CertifiedKey, TlsError> {
    let chain: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(cert)
        .and_then(|it| it.collect::<Result<_, _>>())
        .map_err(|e| TlsError(format!("{}: {e}", cert.display())))?;
    if chain.is_empty() {
        return Err(TlsError(format!("{}: no certificate", cert.display())));
    }
    let der = PrivateKeyDer::from_pem_file(key)
        .map_err(|e| TlsError(format!("{}: {e}", key.display())))?;
    let signing = provider
        .key_provider
        .load_private_key(der)
        .map_err(|e| TlsError(format!("{}: {e}", key.display())))?;
    let certified = CertifiedKey::new(chain, signing);
    certified.keys_match().map_err(|e| {
        TlsError(format!(
            "{} does not match {}: {e}",
            key.display(),
            cert.display()
        ))
    })?;
    Ok(certified)
}

/// Certificates by SNI name, with a default.
#[derive(Debug)]
struct Certificates {
    default: Arc<CertifiedKey>,
    by_name: HashMap<String, Arc<CertifiedKey>>,
}

impl ResolvesServerCert for Certificates {
    fn resolve(&self, hello: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        let named = hello
            .server_name()
            .and_then(|n| self.by_name.get(&n.to_ascii_lowercase()));
        Some(named.unwrap_or(&self.default).clone())
    }
}

/// The server configuration for `config`'s certificates; `None` when TLS is
/// not configured.
pub fn server_config(config: &Config) -> Result<Option<Arc<ServerConfig>>, TlsError> {
    let (Some(cert), Some(key)) = (&config.tls_cert, &config.tls_key) else {
        return Ok(None);
    };
    let provider = provider();
    let default = Arc::new(load_key(cert, key, &provider)?);
    let mut by_name = HashMap::new();
    for entry in &config.tls_certs {
        let certified = Arc::new(load_key(&entry.cert, &entry.key, &provider)?);
        for name in &entry.names {
            by_name.insert(name.to_ascii_lowercase(), certified.clone());
        }
    }
    let server = ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| TlsError(e.to_string()))?
        .with_no_client_auth()
        .with_cert_resolver(Arc::new(Certificates { default, by_name }));
    Ok(Some(Arc::new(server)))
}

/// A TLS stream over a non-blocking socket (see the module docs): the
/// server side of an accepted connection, or the client side of a relay's
/// outgoing one.
#[derive(Debug)]
pub struct TlsStream<S> {
    pub sock: S,
    conn: Connection,
    /// What went wrong, for the close reason.
    error: Option<String>,
}

impl<S: Read + Write> TlsStream<S> {
    pub fn new(sock: S, config: Arc<ServerConfig>) -> io::Result<TlsStream<S>> {
        let conn = ServerConnection::new(config).map_err(io::Error::other)?;
        Ok(TlsStream::with(sock, Connection::Server(conn)))
    }

    /// The client side, verifying the server as `config` says, for `host`
    /// (also sent as SNI when it is a name).
    pub fn client(
        sock: S,
        config: Arc<rustls::ClientConfig>,
        host: &str,
    ) -> io::Result<TlsStream<S>> {
        let name = rustls_pki_types::ServerName::try_from(host.to_string())
            .map_err(|e| io::Error::new(io::ErrorKind::InvalidInput, format!("{host:?}: {e}")))?;
        let conn = ClientConnection::new(config, name).map_err(io::Error::other)?;
        Ok(TlsStream::with(sock, Connection::Client(conn)))
    }

    fn with(sock: S, mut conn: Connection) -> TlsStream<S> {
        conn.set_buffer_limit(Some(TLS_BUFFER_LIMIT));
        TlsStream {
            sock,
            conn,
            error: None,
        }
    }

    /// The TLS failure that ended the stream, if one did.
    pub fn error(&self) -> Option<&str> {
        self.error.as_deref()
    }

    /// Write pending records until the socket would block.
    pub fn flush_tls(&mut self) -> io::Result<()> {
        while self.conn.wants_write() {
            match self.conn.write_tls(&mut self.sock) {
                Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
                Ok(_) => {}
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
        Ok(())
    }

    /// `flush_tls`, with WouldBlock meaning "later".
    fn push_records(&mut self) -> io::Result<()> {
        match self.flush_tls() {
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => Ok(()),
            other => other,
        }
    }

    fn fail(&mut self, e: rustls::Error) -> io::Error {
        self.error = Some(e.to_string());
        // Send the alert if the socket takes it; the connection closes anyway.
        let _ = self.push_records();
        io::Error::new(io::ErrorKind::InvalidData, e)
    }
}

impl<S: Read + Write> Read for TlsStream<S> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        loop {
            match self.conn.reader().read(buf) {
                Ok(n) => return Ok(n),
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
                Err(e) => return Err(e),
            }
            match self.conn.read_tls(&mut self.sock) {
                Ok(0) => return Ok(0),
                Ok(_) => {}
                Err(e) => return Err(e),
            }
            if let Err(e) = self.conn.process_new_packets() {
                return Err(self.fail(e));
            }
            // Handshake messages (and key updates) go out at once.
            self.push_records()?;
        }
    }
}

impl<S: Read + Write> Write for TlsStream<S> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.write_vectored(&[IoSlice::new(buf)])
    }

    fn write_vectored(&mut self, bufs: &[IoSlice<'_>]) -> io::Result<usize> {
        self.push_records()?;
        let n = self.conn.writer().write_vectored(bufs)?;
        self.push_records()?;
        if n == 0 && bufs.iter().any(|b| !b.is_empty()) {
            return Err(io::ErrorKind::WouldBlock.into());
        }
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.flush_tls()
    }
}

/// A client configuration for `rtmps://` with the given verification.
pub fn client_config(
    verify: &crate::client::url::TlsVerify,
) -> Result<Arc<rustls::ClientConfig>, TlsError> {
    use crate::client::url::TlsVerify;
    let provider = provider();
    let builder = rustls::ClientConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .map_err(|e| TlsError(e.to_string()))?;
    let config = match verify {
        TlsVerify::Insecure => builder
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(AcceptAnyCertificate(provider)))
            .with_no_client_auth(),
        TlsVerify::WebPki => {
            let roots = rustls::RootCertStore {
                roots: webpki_roots::TLS_SERVER_ROOTS.to_vec(),
            };
            builder.with_root_certificates(roots).with_no_client_auth()
        }
        TlsVerify::CaFile(path) => {
            let mut roots = rustls::RootCertStore::empty();
            let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(path)
                .and_then(|it| it.collect::<Result<_, _>>())
                .map_err(|e| TlsError(format!("{}: {e}", path.display())))?;
            for cert in certs {
                roots
                    .add(cert)
                    .map_err(|e| TlsError(format!("{}: {e}", path.display())))?;
            }
            builder.with_root_certificates(roots).with_no_client_auth()
        }
    };
    Ok(Arc::new(config))
}

/// `--insecure`: any certificate is accepted (signatures are still checked,
/// so the handshake itself is sound); for self-signed test servers.
#[derive(Debug)]
struct AcceptAnyCertificate(Arc<CryptoProvider>);

impl rustls::client::danger::ServerCertVerifier for AcceptAnyCertificate {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &rustls_pki_types::ServerName<'_>,
        _ocsp_response: &[u8],
        _now: rustls_pki_types::UnixTime,
    ) -> Result<rustls::client::danger::ServerCertVerified, rustls::Error> {
        Ok(rustls::client::danger::ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &rustls::DigitallySignedStruct,
    ) -> Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &rustls::DigitallySignedStruct,
    ) -> Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<rustls::SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}
