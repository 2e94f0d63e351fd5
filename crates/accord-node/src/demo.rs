//! Demo data shipped inside the binary: the OASIS STIX 2.1 example bundles and MITRE ATT&CK for
//! ICS 18.1 (licences in `crates/accord-node/demo/`), and the Accord handling extension-definition, so
//! that `accord up` works on any machine.

/// (file name, contents) of every demo document.
pub const DOCUMENTS: &[(&str, &[u8])] = &[
    (
        "examples/indicator-for-c2-ip-address.json",
        include_bytes!("../demo/examples/indicator-for-c2-ip-address.json"),
    ),
    (
        "examples/indicator-to-campaign-relationship.json",
        include_bytes!("../demo/examples/indicator-to-campaign-relationship.json"),
    ),
    (
        "examples/indicators-for-C2-with-COA.json",
        include_bytes!("../demo/examples/indicators-for-C2-with-COA.json"),
    ),
    (
        "examples/infrastructure.json",
        include_bytes!("../demo/examples/infrastructure.json"),
    ),
    (
        "examples/interop-objectmarking-test.json",
        include_bytes!("../demo/examples/interop-objectmarking-test.json"),
    ),
    (
        "examples/malicious-email-indicator-with-attachment.json",
        include_bytes!("../demo/examples/malicious-email-indicator-with-attachment.json"),
    ),
    (
        "examples/threat-reports_apt1.json",
        include_bytes!("../demo/examples/threat-reports_apt1.json"),
    ),
    (
        "examples/threat-reports_poisonivy.json",
        include_bytes!("../demo/examples/threat-reports_poisonivy.json"),
    ),
    (
        "accord/accord-handling.json",
        include_bytes!("../../accord-policy/extension/accord-handling.json"),
    ),
    (
        "attack/ics-attack-18.1.json",
        include_bytes!("../demo/attack/ics-attack-18.1.json"),
    ),
];

/// Writes the demo documents under `dir` (so the ordinary import path reads them) and returns their paths.
pub fn write_to(dir: &std::path::Path) -> std::io::Result<Vec<std::path::PathBuf>> {
    let mut out = Vec::new();
    for (name, bytes) in DOCUMENTS {
        let path = dir.join(name);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent)?;
        }
        std::fs::write(&path, bytes)?;
        out.push(path);
    }
    Ok(out)
}

/// What [`up`] set up.
#[derive(Debug)]
pub struct Demo {
    pub node: crate::Node,
    pub import: crate::ingest::import::ImportSummary,
    pub collections: Vec<accord_store::CollectionInfo>,
    /// A fresh credential for the first declared principal, if there is one.
    pub credential: Option<crate::access::IssuedToken>,
    /// Demo credentials issued by an earlier `up`, now revoked (their secrets were not kept).
    pub replaced: Vec<String>,
    pub ledger_key: accord_ledger::VerifierKey,
}

/// The description demo credentials carry, so that the next `up` finds them.
const DEMO_CREDENTIAL: &str = "demo credential issued by accord up";

/// Brings up a demo node in `dir`: initialises it if needed, imports the demo data (through the
/// ordinary import path; a second run finds it all present), and issues a demo credential,
/// revoking the one an earlier run issued.
pub fn up(dir: &std::path::Path, progress: &dyn crate::ingest::import::Progress) -> crate::Result<Demo> {
    if !dir.join(crate::config::CONFIG_FILE).exists() {
        crate::Node::init(dir)?;
    }
    let node = crate::Node::open(dir)?;
    let demo_dir = dir.join("demo");
    let paths = write_to(&demo_dir).map_err(crate::NodeError::io(&demo_dir))?;
    let sources: Vec<crate::ingest::sources::Source> = paths
        .into_iter()
        .map(crate::ingest::sources::Source::File)
        .collect();
    let opts = crate::ingest::import::ImportOptions {
        collection: node.collection_id(Some("demo"))?,
        strict: false,
        max_object_bytes: node.config().limits.max_object_bytes,
        from_partner: None,
    };
    let import = crate::ingest::import::import(&node, &sources, &opts, progress)?;
    let mut replaced = Vec::new();
    for t in node.tokens()? {
        if t.description.as_deref() == Some(DEMO_CREDENTIAL)
            && t.revoked_at.is_none()
            && node.revoke_token(&t.id)?
        {
            replaced.push(t.id);
        }
    }
    let principal = node.config().principals.first().map(|p| p.name.clone());
    let credential = principal
        .map(|p| node.issue_token(&p, Some(DEMO_CREDENTIAL.into())))
        .transpose()?;
    Ok(Demo {
        collections: node.collections()?,
        ledger_key: node.ledger_key()?,
        node,
        import,
        credential,
        replaced,
    })
}
