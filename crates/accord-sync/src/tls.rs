//! The one TLS client configuration of the node: the web PKI roots plus any extra CA
//! certificates, TLS 1.2 and 1.3 with the ring provider, and an optional client certificate for
//! mTLS.

use std::sync::Arc;

use crate::SyncError;

/// Builds the rustls client configuration: `ca` is extra CA certificates (PEM) to trust besides
/// the web PKI roots; `identity` a client certificate chain and its key (PEM) for mTLS. Errors
/// are [`SyncError::Config`] saying which input is unusable.
pub fn client_config(
    ca: Option<&[u8]>,
    identity: Option<(&[u8], &[u8])>,
) -> Result<Arc<rustls::ClientConfig>, SyncError> {
    let config = |m: String| SyncError::Config(m);
    let mut roots = rustls::RootCertStore::empty();
    roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
    if let Some(mut pem) = ca {
        for cert in rustls_pemfile::certs(&mut pem) {
            let cert = cert.map_err(|e| config(format!("CA certificate: {e}")))?;
            roots
                .add(cert)
                .map_err(|e| config(format!("CA certificate: {e}")))?;
        }
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let builder = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| config(e.to_string()))?
        .with_root_certificates(roots);
    let tls = match identity {
        None => builder.with_no_client_auth(),
        Some((mut chain, mut key)) => {
            let chain = rustls_pemfile::certs(&mut chain)
                .collect::<Result<Vec<_>, _>>()
                .map_err(|e| config(format!("client certificate: {e}")))?;
            let key = rustls_pemfile::private_key(&mut key)
                .map_err(|e| config(format!("client key: {e}")))?
                .ok_or_else(|| config("client key: no private key in the file".into()))?;
            builder
                .with_client_auth_cert(chain, key)
                .map_err(|e| config(format!("client certificate: {e}")))?
        }
    };
    Ok(Arc::new(tls))
}
