//! TLS from PEM files. SDKs such as b24pysdk and the CoMagic SDK hard-code
//! https, so their users point a host name at the gateway; ALPN offers HTTP/2
//! and HTTP/1.1 like the real APIs.

use std::path::Path;
use std::sync::Arc;

use thiserror::Error;

#[derive(Debug, Error)]
pub enum TlsError {
    #[error("{path}: {reason}")]
    File { path: String, reason: String },
    #[error("TLS configuration: {0}")]
    Config(#[from] rustls::Error),
}

fn file_error(path: &Path, reason: impl ToString) -> TlsError {
    TlsError::File {
        path: path.display().to_string(),
        reason: reason.to_string(),
    }
}

pub fn server_config(cert: &Path, key: &Path) -> Result<Arc<rustls::ServerConfig>, TlsError> {
    let cert_pem = std::fs::read(cert).map_err(|error| file_error(cert, error))?;
    let certs = rustls_pemfile::certs(&mut cert_pem.as_slice())
        .collect::<Result<Vec<_>, _>>()
        .map_err(|error| file_error(cert, error))?;
    if certs.is_empty() {
        return Err(file_error(cert, "no certificate in the file"));
    }
    let key_pem = std::fs::read(key).map_err(|error| file_error(key, error))?;
    let private_key = rustls_pemfile::private_key(&mut key_pem.as_slice())
        .map_err(|error| file_error(key, error))?
        .ok_or_else(|| file_error(key, "no private key in the file"))?;
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()?
        .with_no_client_auth()
        .with_single_cert(certs, private_key)?;
    config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    Ok(Arc::new(config))
}
