//! The node's secrets in its data directory: the keys it generates on first use (paging cursors,
//! pseudonyms, ledger checkpoints, provenance) and a development TLS certificate. Secret files
//! are created with mode 0600 and never overwritten.

use std::io::Write;
use std::path::Path;

use crate::error::{NodeError, Result};

/// The key that authenticates paging cursors.
pub const CURSOR_KEY_FILE: &str = "secrets/cursor.key";
/// The master key each agreement's pseudonymisation key is derived from.
pub const PSEUDONYM_KEY_FILE: &str = "secrets/pseudonym.key";
/// The node's Ed25519 signing key (seed): it signs the ledger's checkpoints.
pub const NODE_KEY_FILE: &str = "secrets/node.key";
/// The node's Ed25519 provenance key (seed): it signs the objects this node originates or redacts.
pub const SIGNING_KEY_FILE: &str = "secrets/signing.key";

/// Every key a node generates on first use.
pub const GENERATED: [&str; 4] = [
    CURSOR_KEY_FILE,
    PSEUDONYM_KEY_FILE,
    NODE_KEY_FILE,
    SIGNING_KEY_FILE,
];

/// Writes a file only its owner can read (mode 0600), creating its directory; refuses to
/// replace an existing file.
pub fn write_private(path: &Path, bytes: &[u8]) -> Result<()> {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).map_err(NodeError::io(dir))?;
    }
    let mut opts = std::fs::OpenOptions::new();
    opts.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut opts, 0o600);
    let mut f = opts.open(path).map_err(NodeError::io(path))?;
    f.write_all(bytes)
        .and_then(|()| f.sync_all())
        .map_err(NodeError::io(path))
}

/// 32 random bytes.
pub fn random_key() -> Result<[u8; 32]> {
    let mut bytes = [0u8; 32];
    getrandom::fill(&mut bytes).map_err(|e| NodeError::Internal(format!("no randomness: {e}")))?;
    Ok(bytes)
}

/// Creates each generated key of `dir` that does not exist yet.
pub fn ensure_keys(dir: &Path) -> Result<()> {
    for file in GENERATED {
        let key = dir.join(file);
        if !key.exists() {
            write_private(&key, hex::encode(random_key()?).as_bytes())?;
        }
    }
    Ok(())
}

/// Reads a 32-byte key kept as hex.
pub fn read_key(path: &Path) -> Result<[u8; 32]> {
    let text = std::fs::read_to_string(path).map_err(NodeError::io(path))?;
    let mut key = [0u8; 32];
    hex::decode_to_slice(text.trim(), &mut key)
        .map_err(|e| NodeError::Corrupt(format!("{}: not a 32-byte hex key: {e}", path.display())))?;
    Ok(key)
}

/// Writes a development certificate for `names` (DNS names or IP addresses): a leaf signed by a
/// throw-away CA whose certificate is written to `ca_path` for clients to trust, and whose key
/// is discarded. The leaf key file gets mode 0600.
pub fn write_dev_certificate(
    cert_path: &Path,
    key_path: &Path,
    ca_path: &Path,
    names: &[String],
) -> Result<()> {
    use rcgen::{
        BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, KeyPair, KeyUsagePurpose,
    };
    let generate = |e: rcgen::Error| NodeError::Internal(format!("certificate generation: {e}"));
    let mut ca_params = CertificateParams::new(Vec::<String>::new()).map_err(generate)?;
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Constrained(0));
    ca_params
        .distinguished_name
        .push(DnType::CommonName, "Accord development CA");
    ca_params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
    let ca_key = KeyPair::generate().map_err(generate)?;
    let ca = ca_params.self_signed(&ca_key).map_err(generate)?;
    let mut leaf_params = CertificateParams::new(names.to_vec()).map_err(generate)?;
    leaf_params.distinguished_name.push(
        DnType::CommonName,
        names.first().map_or("localhost", String::as_str),
    );
    leaf_params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
    leaf_params.key_usages = vec![
        KeyUsagePurpose::DigitalSignature,
        KeyUsagePurpose::KeyEncipherment,
    ];
    let leaf_key = KeyPair::generate().map_err(generate)?;
    let leaf = leaf_params.signed_by(&leaf_key, &ca, &ca_key).map_err(generate)?;
    let write = |path: &Path, text: &str, mode: u32| -> Result<()> {
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).map_err(NodeError::io(dir))?;
        }
        let mut opts = std::fs::OpenOptions::new();
        opts.write(true).create(true).truncate(true);
        #[cfg(unix)]
        std::os::unix::fs::OpenOptionsExt::mode(&mut opts, mode);
        let mut f = opts.open(path).map_err(NodeError::io(path))?;
        f.write_all(text.as_bytes())
            .and_then(|()| f.sync_all())
            .map_err(NodeError::io(path))
    };
    write(key_path, &leaf_key.serialize_pem(), 0o600)?;
    write(cert_path, &format!("{}{}", leaf.pem(), ca.pem()), 0o644)?;
    write(ca_path, &ca.pem(), 0o644)
}
